#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ESP inside GRO (rx_gro=1) from page fragments: frames written to a tap
# with IFF_NAPI_FRAGS (selftests/lib/esp_gro_frags.py) reach the module's
# GRO entry with nothing but the Ethernet header in the linear area. Valid
# IPv4 and IPv6 packets are taken there and delivered; packets whose outer
# header IP input refuses (an IPv6 frame whose version says 4, martian
# IPv4 sources and destinations, IPv6 multicast and loopback sources) are
# declined to it, and dropped there as without the module: GRO checks none
# of them. (Found by esp_fuzz.sh: seed 21, packet 95,092, its version
# nibble flipped, was delivered by the module and not by XFRM.)
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3
require_tool
[ -c /dev/net/tun ] || skip_test "no /dev/net/tun (CONFIG_TUN)"
trap 'ip netns del r 2>/dev/null' EXIT
ktap_plan

ip netns add r || die "cannot create namespace r"
ip -n r link set lo up
ip -n r addr add 10.2.0.1/32 dev lo
ip -n r addr add fd02::1/128 dev lo nodad
# The outer destinations, on a dummy device (the tap has none).
ip -n r link add d0 type dummy
ip -n r addr add 192.0.2.2/24 dev d0
ip -n r addr add 2001:db8::2/64 dev d0 nodad
ip -n r link set d0 up

check "insmod rx_gro=1" load_module rx_gro=1
check "receive path on" ip netns exec r "$IPSEC_RS_TOOL" set global --rx on
out=$(python3 "$IPSEC_RS_REPO/selftests/lib/esp_gro_frags.py" --ns r --setup 2>&1)
echo "$out" | sed 's/^/# /'
got() { echo "$out" | sed -n "s/^$1 delivered=//p"; }
snap r
check_eq "IPv4 through GRO from page fragments: delivered" "$(got v4)" 1
check_eq "IPv6 through GRO from page fragments: delivered" "$(got v6)" 1
check_eq "... both taken inside GRO" "$(cnt esp_gro)" 2
for c in v6-version-4 v4-src-multicast v4-src-loopback v4-src-zero v4-dst-loopback \
	v6-src-multicast v6-src-loopback; do
	check_eq "$c: not delivered" "$(got $c)" 0
done
check_eq "none of those decapsulated" "$(cnt decap_ok)" 2
check_eq "every ESP packet seen has one outcome" "$(esp_outcomes)" "$(esp_seen)"
check "rmmod" unload_module
ktap_finish
