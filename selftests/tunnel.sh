#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Two namespaces joined by veth with XFRM ESP tunnels (rfc4106(gcm(aes)),
# tunnel mode) over IPv4 and IPv6 pass ping in both directions with the
# module loaded, and the module's ESP counters rise by exactly the number of
# ESP packets that arrived, as XFRM counts them per SA (`ip -s xfrm state`).
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping python3
require_tool
trap topo_cleanup EXIT

ktap_plan
topo_two_routers
xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 || die "cannot install IPv4 SAs"
xfrm_tunnel_gcm6 || die "cannot install IPv6 SAs"

check "insmod" load_module
check_eq "counters start at zero in b" "$(stat b esp_v4)" 0

check "ping a -> b over the IPv4 tunnel" ip netns exec a ping -q -c 20 -i 0.05 -W 2 192.0.2.2
check "ping b -> a over the IPv4 tunnel" ip netns exec b ping -q -c 20 -i 0.05 -W 2 192.0.2.1
check "ping a -> b over the IPv6 tunnel" ip netns exec a ping -q -c 20 -i 0.05 -W 2 2001:db8::2
check "ping b -> a over the IPv6 tunnel" ip netns exec b ping -q -c 20 -i 0.05 -W 2 2001:db8::1
# Full-size packets: the hook sees only a copy of the headers, and must
# still classify (and count) ESP datagrams far larger than that copy.
check "1200-byte ping a -> b (IPv4)" ip netns exec a ping -q -c 10 -i 0.05 -W 2 -s 1200 192.0.2.2
check "1200-byte ping a -> b (IPv6)" ip netns exec a ping -q -c 10 -i 0.05 -W 2 -s 1200 2001:db8::2

in_b4=$(xfrm_packets b 0x1000 192.0.2.1 192.0.2.2)
in_a4=$(xfrm_packets a 0x2000 192.0.2.2 192.0.2.1)
in_b6=$(xfrm_packets b 0x3000 2001:db8::1 2001:db8::2)
in_a6=$(xfrm_packets a 0x4000 2001:db8::2 2001:db8::1)
diag "XFRM decapsulated: b v4=$in_b4 a v4=$in_a4 b v6=$in_b6 a v6=$in_a6"
# 20 echo requests one way plus 20 replies the other way, plus 10 large
# requests into b (and 10 large replies into a), reach each side.
check_eq "XFRM counted the IPv4 ESP packets into b" "$in_b4" 50
snap b
check_eq "module esp_v4 in b equals XFRM's count" "$(cnt esp_v4)" "$in_b4"
check_eq "module esp_v6 in b equals XFRM's count" "$(cnt esp_v6)" "$in_b6"
check_eq "nothing in b classified as malformed" "$(cnt malformed)" 0
snap a
check_eq "module esp_v4 in a equals XFRM's count" "$(cnt esp_v4)" "$in_a4"
check_eq "module esp_v6 in a equals XFRM's count" "$(cnt esp_v6)" "$in_a6"
check_eq "no ESP counted in the initial namespace" "$(stat "" esp_v4)" 0
check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
