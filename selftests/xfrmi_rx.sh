#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The receive path for an XFRM interface's SAs: a's and b's XFRM interface
# ipsec9 (if_id 9) over 203.0.113.1 <-> .2, inner 10.9.0.1 <-> 10.9.0.2,
# b's receive path on. The module decapsulates b's inbound SA 0x9001 and
# hands the inner packet on as XFRM does: on the interface (its counters,
# its disable_policy), through the inbound policy check that the
# interface's if_id implies; and hands a packet to XFRM when the interface
# cannot take it (down). Each outcome is compared with XFRM's own, the
# receive path off.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping socat sha256sum python3
require_tool
trap 'topo_cleanup' EXIT

topo_two_routers
require_link_kind xfrm CONFIG_XFRM_INTERFACE if_id 99
ktap_plan
GCM="rfc4106(gcm(aes))"

check "XFRM interface in a" xfrmi_side a 203.0.113.1 203.0.113.2 10.9.0.1 10.9.0.2 9001 9002
check "XFRM interface in b" xfrmi_side b 203.0.113.2 203.0.113.1 10.9.0.2 10.9.0.1 9002 9001
check "insmod" load_module

rx_packets() { ip netns exec b cat /sys/class/net/ipsec9/statistics/rx_packets; }
ping5() { ip netns exec a ping -q -c 5 -i 0.1 -W 1 10.9.0.2 >/dev/null; }
nopols() { xfrm_stat b XfrmInNoPols; }
# b's inbound policy: if_id 9, or another interface's (10).
in_policy_if_id() {
	ip -n b xfrm policy update src 0.0.0.0/0 dst 0.0.0.0/0 dir in if_id $1 \
		tmpl src 203.0.113.1 dst 203.0.113.2 proto esp mode tunnel &&
	{ [ $1 = 9 ] || ip -n b xfrm policy del src 0.0.0.0/0 dst 0.0.0.0/0 dir in if_id 9; } &&
	{ [ $1 = 10 ] || ip -n b xfrm policy del src 0.0.0.0/0 dst 0.0.0.0/0 dir in if_id 10 2>/dev/null || true; }
}

# cases WHO: the same cases with the receive path as it is; WHO names it.
# Sets R_<case> to what each case counted, for the comparison with XFRM.
cases() {
	who=$1
	mark_counters; rx0=$(rx_packets); np0=$(nopols)
	check "$who: pings over the XFRM interface" ping5
	snap b
	R_ping="decap=$(delta decap_ok) passed=$(delta passed_to_xfrm) dev_rx=$(($(rx_packets) - rx0)) nopols=$(($(nopols) - np0))"
	diag "$who: pings: $R_ping"
	check_eq "$who: the interface counted the 5 packets" "$(($(rx_packets) - rx0))" 5

	# Another interface's inbound policy: the packets fail the check on
	# the interface's if_id (XfrmInNoPols), no reply.
	check "$who: b's inbound policy moved to if_id 10" in_policy_if_id 10
	np0=$(nopols)
	check "$who: no reply with the policy on another interface" sh -c "! ip netns exec a ping -q -c 3 -i 0.1 -W 1 10.9.0.2 >/dev/null"
	R_policy=$(($(nopols) - np0))
	check_eq "$who: each failed the inbound policy check (XfrmInNoPols)" "$R_policy" 3
	# disable_policy on the interface: the check is skipped for what
	# arrives on it.
	ip netns exec b sysctl -qw net.ipv4.conf.ipsec9.disable_policy=1
	check "$who: replies with disable_policy on the interface" ping5
	ip netns exec b sysctl -qw net.ipv4.conf.ipsec9.disable_policy=0
	check "$who: b's inbound policy back on if_id 9" in_policy_if_id 9

	tunnel_down_case "$who" ipsec9 10.9.0.2 10.9.0.1
	tunnel_bulk_case "$who" 10.9.0.2 10.9.0.1
}

# 1. The receive path on: the module decapsulates.
check "receive path on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on
cases "module"
check_eq "module: the pings decapsulated by the module, onto the interface" "$R_ping" "decap=5 passed=0 dev_rx=5 nopols=0"
check_eq "module: interface down: handed to XFRM, not decapsulated" "$R_down" "decap=0 passed=3"
check "module: the bulk transfers decapsulated by the module ($R_bulk)" test "$R_bulk" -gt 1000
M_policy=$R_policy
sa_view_module 0x9001 1000
check_eq "b's interface: no receive errors" "$(ip netns exec b cat /sys/class/net/ipsec9/statistics/rx_errors)" 0

# 2. The same with XFRM decapsulating: the outcomes the module matched.
check "receive path off in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx off
cases "XFRM"
check_eq "XFRM: the pings onto the interface, none by the module" "$R_ping" "decap=0 passed=0 dev_rx=5 nopols=0"
check_eq "XFRM: the same inbound policy failures as with the module" "$R_policy" "$M_policy"

check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
