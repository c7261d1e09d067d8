#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Outbound DF bit and pre-fragmentation (SPEC section 2, the guide's table).
#
#   h1 198.51.100.10 -- a ==ESP (veth, MTU 1000)== b -- h2 203.0.113.10..
#
# Part 1, settings: SA, interface and global scopes through the netlink
# family (read back, errors for unknown SAs and interfaces, CAP_NET_ADMIN,
# stale entries pruned).
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping tcpdump setpriv
require_tool
trap 'for n in a b h1 h2; do ip netns del $n 2>/dev/null; done' EXIT

ktap_plan
topo_two_routers
topo_hosts_behind_routers
xfrm_tunnel_subnets || die "cannot install the SAs"
check "insmod" load_module

A="ip netns exec a $IPSEC_RS_TOOL"

# --- settings ---------------------------------------------------------------
check_eq "no SA overrides at load" "$($A show sa --json)" "[]"
check_eq "no interface overrides at load" "$($A show if --json)" "[]"
check "SA_SET df clear, prefrag on, replay 4096" $A set sa 192.0.2.2 0x1000 --df-mode clear --prefrag on --replay-window 4096
got=$($A show sa 192.0.2.2 0x1000 --json)
check_eq "SA_GET reads them back" \
	"$(echo "$got" | jfield df_mode) $(echo "$got" | jfield prefrag) $(echo "$got" | jfield replay_window)" "clear enabled 4096"
out=$($A set sa 192.0.2.2 0x9999 --df-mode set 2>&1); rc=$?
check_eq "SA_SET on an SA XFRM does not have fails (exit 4)" "$rc" 4
check "... with the module's extended-ACK message" sh -c "echo '$out' | grep -q 'no such SA in XFRM'"
out=$($A show sa 192.0.2.2 0x9999 2>&1); rc=$?
check_eq "SA_GET of an unknown SA fails (exit 4)" "$rc" 4
got=$($A show sa 192.0.2.1 0x2000 --json)
check_eq "SA_GET of an SA without overrides: all inherited" "$(echo "$got" | jfield df_mode)" "null"
check "SA_SET replay off on the other SA" $A set sa 192.0.2.1 0x2000 --replay-window off
check_eq "dump lists both SAs" "$($A show sa --json | grep -o '"spi"' | wc -l)" 2
out=$(ip netns exec a setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$IPSEC_RS_TOOL" set sa 192.0.2.2 0x1000 --df-mode set 2>&1); rc=$?
check_eq "SA_SET without CAP_NET_ADMIN is refused (exit 3)" "$rc" 3
check_eq "... and changed nothing" "$($A show sa 192.0.2.2 0x1000 --json | jfield df_mode)" "clear"
check "SA_SET with no setting removes the entry" $A set sa 192.0.2.1 0x2000
check_eq "dump lists one SA" "$($A show sa --json | grep -o '"spi"' | wc -l)" 1

check "IF_SET va df set" $A set if va --df-mode set
check_eq "IF_GET reads it back" "$($A show if va --json | jfield df_mode)" "set"
out=$($A set if 4242 --df-mode set 2>&1); rc=$?
check_eq "IF_SET on a missing interface fails (exit 4)" "$rc" 4
check "... with the module's extended-ACK message" sh -c "echo '$out' | grep -q 'no such interface'"
check "SET_CONFIG global df set, prefrag on" $A set global --df-mode set --prefrag on
check_eq "global settings read back" "$($A show global --json | jfield df_mode)" "set"

# Stale entries: the SA goes away in XFRM, its overrides go with it.
ip -n a xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x7777 mode tunnel \
	aead 'rfc4106(gcm(aes))' $KEY_AB 128
check "SA_SET on a second SA" $A set sa 192.0.2.2 0x7777 --df-mode copy
ip -n a xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x7777
check_eq "overrides of a deleted SA are pruned" "$($A show sa --json | grep -c 0x7777\\\|30583)" 0
ip -n a link add dummy9 type dummy
check "IF_SET on a second interface" $A set if dummy9 --prefrag off
ip -n a link del dummy9
check_eq "overrides of a deleted interface are pruned" "$($A show if --json | grep -o '"ifindex"' | wc -l)" 1

# Back to the defaults for the traffic tests.
$A set global --df-mode copy --prefrag off
$A set if va
$A set sa 192.0.2.2 0x1000
check_eq "all overrides removed" "$($A show sa --json)$($A show if --json)" "[][]"

check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
