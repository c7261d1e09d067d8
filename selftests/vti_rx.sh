#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The receive path for a vti tunnel's SAs: a's and b's vti7 (input and
# output key 7) over 192.0.2.1 <-> .2, inner 10.7.0.1 <-> 10.7.0.2, b's
# receive path on. vti claims its endpoints' ESP ahead of the module's
# handler; the module's observer above vti takes the packets of the
# tunnel's SAs (looked up with the input key as the mark) and hands the
# inner packet on as vti does: through the inbound policy check with the
# input key as the mark (the underlay's disable_policy applies, as it is
# the packet's device then), scrubbed, on the tunnel (its counters, its
# rx_errors for what is dropped). Each outcome is compared with XFRM's own,
# the receive path off. Then a second tunnel, vti8 from a's 192.0.2.3,
# whose SAs in b share SPI and destination with vti7's and differ by mark
# (and key) only: each packet is told apart by the tunnel it arrives from;
# and an SA of the tunnel's that the module leaves to XFRM (GMAC), whose
# packets go on to vti. Last, a vti6 tunnel through the module, and an
# unknown SPI reported with the receive path on.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping socat sha256sum python3
require_tool
trap 'topo_cleanup' EXIT

topo_two_routers
require_link_kind vti CONFIG_NET_IPVTI local 198.51.100.8 remote 198.51.100.9
ktap_plan

check "vti7 in a" vti_side a 192.0.2.1 192.0.2.2 10.7.0.1 10.7.0.2 7001 7002
check "vti7 in b" vti_side b 192.0.2.2 192.0.2.1 10.7.0.2 10.7.0.1 7002 7001
check "insmod" load_module

dev_stat() { ip netns exec b cat /sys/class/net/$1/statistics/$2; }
ping5() { ip netns exec a ping -q -c 5 -i 0.1 -W 1 10.7.0.2 >/dev/null; }
nopols() { xfrm_stat b XfrmInNoPols; }
# b's inbound policy: mark 7 (vti7's), or 8 (another tunnel's).
in_policy_mark() {
	ip -n b xfrm policy update src 0.0.0.0/0 dst 0.0.0.0/0 dir in mark $1 \
		tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel &&
	ip -n b xfrm policy del src 0.0.0.0/0 dst 0.0.0.0/0 dir in mark $((15 - $1))
}

# cases WHO: the same cases with the receive path as it is; WHO names it.
# Sets R_<case> to what each case counted, for the comparison with XFRM.
cases() {
	who=$1
	mark_counters; rx0=$(dev_stat vti7 rx_packets)
	check "$who: pings over vti7" ping5
	snap b
	R_ping="decap=$(delta decap_ok) passed=$(delta passed_to_xfrm) dev_rx=$(($(dev_stat vti7 rx_packets) - rx0))"
	diag "$who: pings: $R_ping"
	check_eq "$who: the tunnel counted the 5 packets" "$(($(dev_stat vti7 rx_packets) - rx0))" 5

	# Another tunnel's inbound policy: the packets fail the check with
	# vti7's key as the mark (XfrmInNoPols), no reply, each counted in
	# the tunnel's rx_errors.
	check "$who: b's inbound policy moved to mark 8" in_policy_mark 8
	mark_counters; np0=$(nopols); err0=$(dev_stat vti7 rx_errors)
	check "$who: no reply with the policy of another mark" sh -c "! ip netns exec a ping -q -c 3 -i 0.1 -W 1 10.7.0.2 >/dev/null"
	snap b
	R_policy="nopols=$(($(nopols) - np0)) rx_errors=$(($(dev_stat vti7 rx_errors) - err0))"
	R_policy_module=$(delta policy_dropped)
	check_eq "$who: each failed the inbound policy check (XfrmInNoPols), counted by the tunnel" \
		"$R_policy" "nopols=3 rx_errors=3"
	# disable_policy on the underlay (the packet's device at the check).
	ip netns exec b sysctl -qw net.ipv4.conf.vb.disable_policy=1
	check "$who: replies with disable_policy on b's veth" ping5
	ip netns exec b sysctl -qw net.ipv4.conf.vb.disable_policy=0
	check "$who: b's inbound policy back on mark 7" in_policy_mark 7

	tunnel_down_case "$who" vti7 10.7.0.2 10.7.0.1
	tunnel_bulk_case "$who" 10.7.0.2 10.7.0.1
}

# 1. The receive path on: the module decapsulates.
check "receive path on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on
cases "module"
check_eq "module: the pings decapsulated by the module, onto the tunnel" "$R_ping" "decap=5 passed=0 dev_rx=5"
check_eq "module: the policy refusals counted as policy_dropped" "$R_policy_module" 3
check_eq "module: tunnel down: neither decapsulated nor handed on" "$R_down" "decap=0 passed=0"
check "module: the bulk transfers decapsulated by the module ($R_bulk)" test "$R_bulk" -gt 1000
M_policy=$R_policy
sa_view_module 0x7001 1000

# 2. The same with XFRM decapsulating: the outcomes the module matched.
check "receive path off in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx off
cases "XFRM"
check_eq "XFRM: the pings onto the tunnel, none by the module" "$R_ping" "decap=0 passed=0 dev_rx=5"
check_eq "XFRM: the same inbound policy failures as with the module" "$R_policy" "$M_policy"

# 3. Two tunnels, one SPI and destination in b, told apart by mark: vti8
# from a's 192.0.2.3, SAs 0x7001 / 0x7002 again with mark 8 and another
# key (a packet decrypted with the other tunnel's SA would fail its ICV).
KEY_8=0x$(printf '%040d' 8)
check "vti8 in a" vti_side a 192.0.2.3 192.0.2.2 10.8.0.1 10.8.0.2 7001 7002 8 $KEY_8
check "vti8 in b" vti_side b 192.0.2.2 192.0.2.3 10.8.0.2 10.8.0.1 7002 7001 8 $KEY_8
# two WHO: pings over both tunnels; each tunnel and each SA counts its own.
two() {
	mark_counters
	r7=$(dev_stat vti7 rx_packets) r8=$(dev_stat vti8 rx_packets)
	l7=$(xfrm_packets b 0x7001 192.0.2.1 192.0.2.2 mark 7)
	l8=$(xfrm_packets b 0x7001 192.0.2.3 192.0.2.2 mark 8)
	check "$1: pings over vti7" ping5
	check "$1: pings over vti8" sh -c "ip netns exec a ping -q -c 4 -i 0.1 -W 1 10.8.0.2 >/dev/null"
	snap b
	check_eq "$1: each tunnel received its own (vti7/vti8)" \
		"$(($(dev_stat vti7 rx_packets) - r7))/$(($(dev_stat vti8 rx_packets) - r8))" "5/4"
	check_eq "$1: each SA counted its own (mark 7/mark 8)" \
		"$(($(xfrm_packets b 0x7001 192.0.2.1 192.0.2.2 mark 7) - l7))/$(($(xfrm_packets b 0x7001 192.0.2.3 192.0.2.2 mark 8) - l8))" "5/4"
	R_two="decap=$(delta decap_ok) auth_failed=$(delta auth_failed)"
}
check "receive path on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on
two "module"
check_eq "module: both tunnels decapsulated by the module, no ICV failure" "$R_two" "decap=9 auth_failed=0"
check "receive path off in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx off
two "XFRM"
check_eq "XFRM: none by the module" "$R_two" "decap=0 auth_failed=0"

# 4. An SA of the tunnel's the module does not decapsulate (GMAC,
# rfc4543): handed on to vti, counted as passed to XFRM; traffic flows.
for n in a b; do
	ip -n $n xfrm state del src 192.0.2.3 dst 192.0.2.2 proto esp spi 0x7001 mark 8
	ip -n $n xfrm state add src 192.0.2.3 dst 192.0.2.2 proto esp spi 0x7001 mode tunnel mark 8 \
		aead 'rfc4543(gcm(aes))' $KEY_8 128
done
check "receive path on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on
mark_counters; r8=$(dev_stat vti8 rx_packets)
check "GMAC SA: pings over vti8" sh -c "ip netns exec a ping -q -c 4 -i 0.1 -W 1 10.8.0.2 >/dev/null"
snap b
check_eq "GMAC SA: handed to vti, counted as passed to XFRM, onto the tunnel" \
	"decap=$(delta decap_ok) passed=$(delta passed_to_xfrm) dev_rx=$(($(dev_stat vti8 rx_packets) - r8))" \
	"decap=0 passed=4 dev_rx=4"
check_eq "b's tunnels: receive errors only from the policy cases (vti7/vti8)" \
	"$(dev_stat vti7 rx_errors)/$(dev_stat vti8 rx_errors)" "6/0"

# 5. vti6: a's and b's vti66 (key 6) over 2001:db8::1 <-> ::2, inner
# 2001:db8:66::1 <-> ::2: the same path for IPv6 (vti6_input(),
# vti6_rcv_cb()).
check "vti66 in a" vti_pair a vti6 vti66 6 2001:db8::1 2001:db8::2 2001:db8:66::1/128 2001:db8:66::2/128 6601 6602
check "vti66 in b" vti_pair b vti6 vti66 6 2001:db8::2 2001:db8::1 2001:db8:66::2/128 2001:db8:66::1/128 6602 6601
mark_counters; r6=$(dev_stat vti66 rx_packets)
check "vti6: pings over vti66" sh -c "ip netns exec a ping -q -c 5 -i 0.1 -W 1 2001:db8:66::2 >/dev/null"
check "vti6: 20 pings of 1200 bytes, the data checked by ping" \
	sh -c "ip netns exec a ping -q -c 20 -i 0.05 -s 1200 -W 1 2001:db8:66::2 >/dev/null"
snap b
check_eq "vti6: decapsulated by the module, none passed to XFRM, onto the tunnel" \
	"decap=$(delta decap_ok) passed=$(delta passed_to_xfrm) dev_rx=$(($(dev_stat vti66 rx_packets) - r6))" \
	"decap=25 passed=0 dev_rx=25"
check_eq "vti6: no receive errors" "$(dev_stat vti66 rx_errors)" 0

# 6. An unknown SPI between vti7's endpoints with the receive path on: the
# receive path's own lookup (with the tunnel's key) finds no SA; reported,
# counted by XFRM and by the tunnel, as vti would have.
mark_counters; ns0=$(xfrm_stat b XfrmInNoStates); err0=$(dev_stat vti7 rx_errors)
ip netns exec a $INJECT 192.0.2.2 --spi 0xdead --seq 1 >/dev/null
sleep 0.5; snap b
check_eq "unknown SPI on vti7, receive path on: reported, XfrmInNoStates, the tunnel's rx_errors" \
	"invalid=$(delta invalid_spi_v4) nostates=$(($(xfrm_stat b XfrmInNoStates) - ns0)) rx_errors=$(($(dev_stat vti7 rx_errors) - err0))" \
	"invalid=1 nostates=1 rx_errors=1"

check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
