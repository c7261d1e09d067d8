#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel validates every request of the family by policy: for each
# command, a malformed attribute (wrong length, wrong type, value out of
# range, unknown number, an attribute on a command that takes none) is
# rejected before the module sees it, with an extended-ACK message and the
# offset of the bad attribute, and a rejected SET changes nothing. The
# policies come from the core's attribute tables (checked against the YAML
# spec on the host), so these cases also pin that the tables reached the
# kernel.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd python3
require_tool
RAW="python3 $IPSEC_RS_REPO/selftests/lib/nl_raw.py"

# Command numbers (core/src/nl/abi.rs, cmd).
GET_STATS=1 GET_CONFIG=2 SET_CONFIG=3 SA_GET=4 SA_SET=5 IF_GET=6 IF_SET=7 SA_STATE_GET=9

# reject NAME WANT_MSG WANT_ATTR CMD [--dump] ATTRS...: the request fails with
# a non-zero errno, the extended ACK's message WANT_MSG, and its offset on the
# attribute numbered WANT_ATTR. accept NAME CMD [--dump] ATTRS...: it succeeds.
# Both queue the request; `run_batch` sends the queue in order through one
# nl_raw.py (a Python start costs seconds under TCG) and checks each answer.
Q=/tmp/nl-policy
: >$Q.req; : >$Q.want
reject() {
	printf '%s|%s|%s\n' "$1" "$2" "$3" >>$Q.want
	shift 3
	echo "$*" >>$Q.req
}
accept() {
	printf '%s||\n' "$1" >>$Q.want
	shift
	echo "$*" >>$Q.req
}
run_batch() {
	$RAW --batch <$Q.req >$Q.out
	n=0
	while IFS='|' read -r name want_msg want_attr; do
		n=$((n + 1))
		out=$(sed -n "${n}p" $Q.out)
		err=$(echo "$out" | jfield errno)
		if [ -z "$want_attr" ]; then
			check_eq "$name" "$err" 0
			continue
		fi
		msg=$(echo "$out" | jfield msg)
		bad=$(echo "$out" | jfield bad_attr)
		if [ -n "$err" ] && [ "$err" != 0 ] && [ "$msg" = "$want_msg" ] && [ "$bad" = "$want_attr" ]; then
			ok "$name: errno $err, '$msg', attribute $bad"
		else
			not_ok "$name: got '$out'; want errno != 0, msg '$want_msg', bad_attr $want_attr"
		fi
	done <$Q.want
	: >$Q.req; : >$Q.want
}

ktap_plan
check "insmod" load_module
conf() { "$IPSEC_RS_TOOL" show global --json; }
before=$(conf)

# Commands that take no attribute.
reject "GET_STATS with an attribute" "Attribute failed policy validation" 1 $GET_STATS 1:u32:0
reject "GET_CONFIG with an attribute" "Unknown attribute type" 9 $GET_CONFIG 9:u32:64
accept "GET_STATS without attributes" $GET_STATS
# SET_CONFIG: the config set.
reject "SET_CONFIG: u32 sent as u16" "invalid attribute length" 9 $SET_CONFIG 9:u16:64
reject "SET_CONFIG: u8 sent as u32" "invalid attribute length" 13 $SET_CONFIG 13:u32:1
reject "SET_CONFIG: window below 32" "integer out of range" 9 $SET_CONFIG 9:u32:16
reject "SET_CONFIG: window above 2^20" "integer out of range" 9 $SET_CONFIG 9:u32:2097152
reject "SET_CONFIG: flag 2" "integer out of range" 13 $SET_CONFIG 13:u8:2
reject "SET_CONFIG: df-mode 0" "integer out of range" 11 $SET_CONFIG 11:u8:0
reject "SET_CONFIG: df-mode 4" "integer out of range" 11 $SET_CONFIG 11:u8:4
reject "SET_CONFIG: prefrag 3" "integer out of range" 12 $SET_CONFIG 12:u8:3
reject "SET_CONFIG: unknown attribute 15" "Unknown attribute type" 15 $SET_CONFIG 15:u8:1
reject "SET_CONFIG: nested flag on a u32" "NLA_F_NESTED not expected" 9 $SET_CONFIG n9:u32:64
reject "SET_CONFIG: a good attribute, then a bad one" "integer out of range" 11 \
	$SET_CONFIG 9:u32:4096 13:u8:1 11:u8:7
run_batch
check_eq "a rejected SET_CONFIG changed nothing" "$(conf)" "$before"
accept "SET_CONFIG in range" $SET_CONFIG 9:u32:4096
run_batch
check "and it took effect" sh -c "$IPSEC_RS_TOOL show global --json | grep -q '\"replay_window\":4096'"
# SA_GET / SA_SET: the sa set (AF_INET 2; daddr 192.0.2.2).
reject "SA_GET: daddr of 3 bytes" "binary attribute size out of range" 2 $SA_GET 1:u16:2 2:hex:c00002 3:u32:0x1000
reject "SA_GET: daddr of 17 bytes" "binary attribute size out of range" 2 \
	$SA_GET 1:u16:10 2:hex:20010db8000000000000000000000002ff 3:u32:0x1000
reject "SA_GET: spi as u64" "invalid attribute length" 3 $SA_GET 1:u16:2 2:hex:c0000202 3:u64:0x1000
reject "SA_GET dump: unknown attribute 9" "Unknown attribute type" 9 $SA_GET --dump 9:u32:1
reject "SA_SET: window above 2^20" "integer out of range" 5 \
	$SA_SET 1:u16:2 2:hex:c0000202 3:u32:0x1000 5:u32:2097152
reject "SA_SET: replay-disabled 2" "integer out of range" 6 \
	$SA_SET 1:u16:2 2:hex:c0000202 3:u32:0x1000 6:u8:2
reject "SA_SET: family as u8" "invalid attribute length" 1 $SA_SET 1:u8:2 2:hex:c0000202 3:u32:0x1000
# IF_GET / IF_SET: the iface set.
reject "IF_GET: ifindex as u16" "invalid attribute length" 1 $IF_GET 1:u16:1
reject "IF_SET: df-mode 9" "integer out of range" 2 $IF_SET 1:u32:1 2:u8:9
reject "IF_SET: unknown attribute 4" "Unknown attribute type" 4 $IF_SET 1:u32:1 4:u8:1
accept "IF_GET dump without attributes" $IF_GET --dump
# SA_STATE_GET: the sa-state set.
reject "SA_STATE_GET: spi as u16" "invalid attribute length" 3 $SA_STATE_GET 1:u16:2 2:hex:c0000202 3:u16:1
reject "SA_STATE_GET: mode 3" "integer out of range" 5 $SA_STATE_GET 1:u16:2 2:hex:c0000202 3:u32:1 5:u8:3
reject "SA_STATE_GET: daddr of 2 bytes" "binary attribute size out of range" 2 $SA_STATE_GET 1:u16:2 2:hex:c000 3:u32:1
reject "SA_STATE_GET dump: unknown attribute 20" "Unknown attribute type" 20 $SA_STATE_GET --dump 20:u32:1
accept "SA_STATE_GET dump without attributes" $SA_STATE_GET --dump
run_batch
check "rmmod" unload_module
ktap_finish
