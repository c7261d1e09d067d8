#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Outbound DF bit and fragmentation on route-based tunnels, on the wire:
# the configuration guide's VTI note (the tunnel's MTU decides whether a
# packet is fragmented before or after encryption) and the DF modes set on
# the tunnel's interface, with a vti and then with an XFRM interface:
#
#   h1 198.51.100.10 -- a ==tun1: ESP, veth MTU 1400== b -- h2 203.0.113.x
#   (host links: MTU 4000)
#
# The tunnel (vti key 7, or XFRM interface if_id 7) carries h1 <-> h2 by
# route; its SAs (AES-GCM-128, SPI 0x1000 a->b) fit 1346 bytes of inner
# packet in the link's MTU. A 2028-byte inner packet (ping -s 2000) does
# not fit; a 1228-byte one (ping -s 1200) does. Cases (lib/df_wire.sh):
#
# 1. Nothing configured, the tunnel's MTU 1300: a packet bigger than it is
#    fragmented before the tunnel, i.e. before encryption (two ESP packets),
#    or refused with ICMP fragmentation-needed MTU 1300 if its DF bit is set.
# 2. The tunnel's MTU 4000, bigger than the link's: with DF clear the
#    packet is encrypted whole and fragmented after encryption; with DF set
#    the driver refuses it (ICMP MTU 1346).
# 3. The module engaged (pre-fragmentation on globally): the tunnel's MTU
#    still decides (after encryption); DF set / clear on the tunnel's
#    interface sets / clears the outer DF bit of packets that fit; a
#    setting on the egress veth does not apply to the tunnel's SAs; for the
#    XFRM interface's (unmarked) SA, an SA override wins over the tunnel's.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
. "$IPSEC_RS_REPO/selftests/lib/df_wire.sh"
require_root
require_cmd ip ping tcpdump awk
require_tool
trap wire_cleanup EXIT
GCM="rfc4106(gcm(aes))"

wire_setup
require_link_kind vti CONFIG_NET_IPVTI local 198.51.100.8 remote 198.51.100.9
ktap_plan
# The subnets go through the tunnel, not the plain link.
ip -n a route del 203.0.113.0/24
ip -n b route del 198.51.100.0/24
check "insmod" load_module
A="ip netns exec a $IPSEC_RS_TOOL"

# tunnel KIND: tun1 of KIND (vti, xfrm) in a and b, its SAs and policies
# (mark 7 or if_id 7), the subnets routed through it.
tunnel() {
	case $1 in
	vti) sel="mark 7" mark="mark 7" ;;
	xfrm) sel="if_id 7" mark="" ;;
	esac
	for n in a b; do
		ip -n $n xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode tunnel \
			$sel aead "$GCM" $KEY_AB 128 || return 1
		ip -n $n xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2000 mode tunnel \
			$sel aead "$GCM" $KEY_BA 128 || return 1
	done
	side $1 a 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24 &&
		side $1 b 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24
}
# side KIND NETNS LOCAL REMOTE LOCAL_NET REMOTE_NET
side() {
	case $1 in
	vti) ip -n $2 link add tun1 type vti local $3 remote $4 ikey 7 okey 7 || return 1 ;;
	xfrm) ip -n $2 link add tun1 type xfrm dev v$2 if_id 7 || return 1 ;;
	esac
	ip -n $2 link set tun1 up
	ip -n $2 xfrm policy add src $5 dst $6 dir out $sel tmpl src $3 dst $4 proto esp mode tunnel &&
		ip -n $2 xfrm policy add src $6 dst $5 dir in $sel tmpl src $4 dst $3 proto esp mode tunnel &&
		ip -n $2 xfrm policy add src $6 dst $5 dir fwd $sel tmpl src $4 dst $3 proto esp mode tunnel &&
		ip -n $2 route add $6 dev tun1
}
untunnel() {
	for n in a b; do
		ip -n $n link del tun1
		ip -n $n xfrm state flush
		ip -n $n xfrm policy flush
	done
}

# run KIND BASE: cases BASE+1.. with a tunnel of KIND.
run() {
	check "$1: tunnel up" tunnel $1
	ip -n a link set tun1 mtu 1300
	wire_send $(($2 + 1)) dont $BIG	# 1: tunnel MTU 1300
	wire_send $(($2 + 2)) do $BIG
	ip -n a link set tun1 mtu 4000
	wire_send $(($2 + 3)) dont $BIG	# 2: tunnel MTU 4000
	wire_send $(($2 + 4)) do $BIG
	snap a
	eval "DEFAULT_$1=\"$(cnt frag_before_enc)/$(cnt frag_after_enc)/$(cnt df_dropped)\""
	$A set global --prefrag on	# 3: the module engaged
	wire_send $(($2 + 5)) dont $BIG
	$A set if tun1 --df-mode set
	wire_send $(($2 + 6)) dont $FIT
	wire_send $(($2 + 7)) dont $BIG
	$A set if tun1 --df-mode clear
	wire_send $(($2 + 8)) do $FIT
	$A set if tun1
	$A set if va --df-mode set
	wire_send $(($2 + 9)) dont $FIT
	$A set if va
	if [ $1 = xfrm ]; then
		$A set if tun1 --df-mode clear
		$A set sa 192.0.2.2 0x1000 --df-mode set
		wire_send $(($2 + 10)) dont $FIT
		$A set sa 192.0.2.2 0x1000
		$A set if tun1
	fi
	$A set global --prefrag off
	snap a
	eval "AFTER_$1=\"$(cnt frag_after_enc)\""
	check_eq "$1: b decrypted every ESP packet a sent (SPI 0x1000)" \
		"$(xfrm_packets b 0x1000 192.0.2.1 192.0.2.2 $mark)" "$3"
	untunnel
}

wire_capture_start
run vti 0 8	# ESP packets: case 1 pre-fragmented into 2, cases 3, 5-9 one each
run xfrm 20 9	# and case 10
wire_capture_end

for k in vti:0 xfrm:20; do
	kind=${k%:*} base=${k#*:}
	wire_expect $((base + 1)) "$kind, tunnel MTU 1300, inner DF 0, too big" before
	wire_expect $((base + 2)) "$kind, tunnel MTU 1300, inner DF 1, too big" drop 1300
	wire_expect $((base + 3)) "$kind, tunnel MTU 4000, inner DF 0, too big" after
	wire_expect $((base + 4)) "$kind, tunnel MTU 4000, inner DF 1, too big: the driver refuses it" drop $INNER_MTU
	wire_expect $((base + 5)) "$kind, prefrag on globally: the tunnel's MTU still decides" after
	wire_expect $((base + 6)) "$kind, df set on the tunnel, inner DF 0, fits" fit 1
	wire_expect $((base + 7)) "$kind, df set on the tunnel, inner DF 0, too big" after
	wire_expect $((base + 8)) "$kind, df clear on the tunnel, inner DF 1, fits" fit 0
	wire_expect $((base + 9)) "$kind, df set on the egress veth: not the tunnel's" fit 0
done
wire_expect 30 "xfrm, SA df set over the tunnel's clear" fit 1
check_eq "vti: nothing configured, the module counted nothing" "$DEFAULT_vti" "0/0/0"
# After encryption, counted while engaged: cases 5 and 7 of each.
check_eq "the module counted the 4 packets fragmented after encryption" "$AFTER_xfrm" 4
check_eq "nothing fragmented before encryption by the module" "$(cnt frag_before_enc)" 0
check_eq "no outbound errors" "$(cnt out_errors)" 0

check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
