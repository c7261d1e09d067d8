#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Invalid SPI on route-based tunnels. vti and vti6 claim the ESP between
# their endpoints ahead of the module's receive path, and XFRM looks its SA
# up with the tunnel's ikey as the mark: the module's observer above vti
# must report an unknown SPI there (counter, log line, event), IPv4 and
# IPv6, plain and UDP-encapsulated, telling apart two vti tunnels whose
# SAs share an SPI and a local address and differ by mark; and keep
# reporting unknown SPIs on an XFRM interface (if_id), which the receive
# path sees. Tunnels made before and after the module loads are watched;
# deleting one (and a namespace holding one) while it is loaded, or after
# it unloaded, does not wait on the module's references.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping python3 timeout
require_tool
trap 'kill $MONITOR_PID $ENCAP_PID_b 2>/dev/null; ip netns del c 2>/dev/null; topo_cleanup' EXIT

topo_two_routers
require_link_kind vti CONFIG_NET_IPVTI local 198.51.100.8 remote 198.51.100.9
require_link_kind vti6 CONFIG_IPV6_VTI local 2001:db8:7::8 remote 2001:db8:7::9
ktap_plan
GCM="rfc4106(gcm(aes))"

# Outer addresses: a has 198.51.100.1 and .3, b has .2; 2001:db8:7::1 / ::2.
ip -n a addr add 198.51.100.1/24 dev va
ip -n a addr add 198.51.100.3/24 dev va
ip -n b addr add 198.51.100.2/24 dev vb
ip -n a addr add 2001:db8:7::1/64 dev va nodad
ip -n b addr add 2001:db8:7::2/64 dev vb nodad

# Before the module loads: vti7 (key 7) and vti6 tunnel v6t8 (key 8).
check "vti7 in a" vti_pair a vti vti7 7 198.51.100.1 198.51.100.2 10.7.0.1/32 10.7.0.2/32 7001 7002
check "vti7 in b" vti_pair b vti vti7 7 198.51.100.2 198.51.100.1 10.7.0.2/32 10.7.0.1/32 7002 7001
check "vti6 tunnel in a" vti_pair a vti6 v6t8 8 2001:db8:7::1 2001:db8:7::2 fd00:8::1/128 fd00:8::2/128 8001 8002
check "vti6 tunnel in b" vti_pair b vti6 v6t8 8 2001:db8:7::2 2001:db8:7::1 fd00:8::2/128 fd00:8::1/128 8002 8001
check "XFRM interface in a" xfrmi_side a 203.0.113.1 203.0.113.2 10.9.0.1 10.9.0.2 9001 9001
check "XFRM interface in b" xfrmi_side b 203.0.113.2 203.0.113.1 10.9.0.2 10.9.0.1 9001 9001

check "insmod" load_module
# A namespace with a vti tunnel, deleted while the module holds the tunnel:
# its clean-up must not wait on the module (checked at the end, after the
# kernel's 10 s warning would have come).
ip netns add c
check "a vti tunnel in namespace c" ip -n c link add vti5 type vti local 192.0.2.99 remote 192.0.2.98 ikey 5
check "namespace c deleted" ip netns del c
c_gone=$(date +%s)
check "invalid-SPI detection on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --invalid-spi on
check "a one-hour log interval in b" ip netns exec b "$IPSEC_RS_TOOL" set global --log-interval-ms 3600000
# After it: vti17 (key 17) from a's second address to the same local
# address in b, whose inbound SA has the same SPI as vti7's (0x7001).
check "vti17 in a" vti_pair a vti vti17 17 198.51.100.3 198.51.100.2 10.17.0.1/32 10.17.0.2/32 7001 7002
check "vti17 in b" vti_pair b vti vti17 17 198.51.100.2 198.51.100.3 10.17.0.2/32 10.17.0.1/32 7002 7001
ev=/tmp/events.json
check "monitor subscribed in b" monitor_start b $ev
dmesg -c >/dev/null

ping_over() { ip netns exec a ping -q -c 3 -i 0.1 -W 2 "$@" >/dev/null; }
mark_counters
check "ping over vti7" ping_over 10.7.0.2
check "ping over vti17" ping_over 10.17.0.2
check "ping over the vti6 tunnel" ping_over fd00:8::2
check "ping over the XFRM interface" ping_over 10.9.0.2
snap b
check_eq "no invalid SPI while every SA is there" "$(( $(delta invalid_spi_v4) + $(delta invalid_spi_v6) ))" 0

# 1. b loses vti7's inbound SA (SPI 0x7001, mark 7); vti17's SA with the
# same SPI and local address (mark 17) stays.
nostates0=$(xfrm_stat b XfrmInNoStates)
ip -n b xfrm state del src 198.51.100.1 dst 198.51.100.2 proto esp spi 0x7001 mark 7
mark_counters
check "ping over vti7 fails" sh -c "! ip netns exec a ping -q -c 3 -i 0.1 -W 1 10.7.0.2 >/dev/null"
check "ping over vti17 still answered" ping_over 10.17.0.2
sleep 0.5
snap b
check_eq "vti7's packets counted as invalid SPIs" "$(delta invalid_spi_v4)" 3
check_eq "and as seen (each seen packet has one outcome)" "$(delta esp_v4)" 3
check_eq "one event for them (rate-limited per flow)" "$(grep -c '"spi":28673' $ev)" 1
e=$(grep '"spi":28673' $ev)
check_eq "event saddr: vti7's remote" "$(echo "$e" | jfield saddr)" 198.51.100.1
check_eq "event daddr" "$(echo "$e" | jfield daddr)" 198.51.100.2
check_eq "event ifindex: the underlay" "$(echo "$e" | jfield ifindex)" "$(ip -n b -o link show vb | cut -d: -f1)"
check_eq "the guide's log line" "$(dmesg | grep -c "RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid spi for destaddr=198.51.100.2, prot=50, spi=0x7001(28673), srcaddr=198.51.100.1")" 1
check_eq "no event from vti17's source" "$(grep -c '"saddr":"198.51.100.3"' $ev)" 0
check_eq "XFRM still dropped them (XfrmInNoStates)" "$(( $(xfrm_stat b XfrmInNoStates) - nostates0 ))" 3
check_eq "vti7 counted them as receive errors" \
	"$(ip netns exec b cat /sys/class/net/vti7/statistics/rx_errors)" 3

# 2. IPv6: b loses the vti6 tunnel's inbound SA (SPI 0x8001, mark 8).
ip -n b xfrm state del src 2001:db8:7::1 dst 2001:db8:7::2 proto esp spi 0x8001 mark 8
mark_counters
check "ping over the vti6 tunnel fails" sh -c "! ip netns exec a ping -q -c 2 -i 0.1 -W 1 fd00:8::2 >/dev/null"
sleep 0.5
snap b
check_eq "vti6 packets counted as invalid SPIs" "$(delta invalid_spi_v6)" 2
e=$(grep '"spi":32769' $ev)
check_eq "one IPv6 event" "$(grep -c '"spi":32769' $ev)" 1
check_eq "IPv6 event family" "$(echo "$e" | jfield family)" ipv6
check_eq "IPv6 event saddr" "$(echo "$e" | jfield saddr)" 2001:db8:7::1
check_eq "IPv6 log line" "$(dmesg | grep -c 'destaddr=2001:db8:7::2, prot=50, spi=0x8001(32769), srcaddr=2001:db8:7::1')" 1

# 3. UDP-encapsulated ESP between vti7's endpoints (an unknown SPI).
check "UDP_ENCAP_ESPINUDP socket in b" encap_socket b
mark_counters
ip netns exec a $INJECT 198.51.100.2 --spi 0x7e57 --seq 5 --udp 4501:4500 >/dev/null
sleep 0.5
snap b
check_eq "UDP-encapsulated: counted" "$(delta invalid_spi_v4)" 1
e=$(grep '"spi":32343' $ev)
check_eq "UDP-encapsulated: event with the ports" "$(echo "$e" | jfield encap_sport):$(echo "$e" | jfield encap_dport)" 4501:4500
check_eq "UDP-encapsulated: log line" "$(dmesg | grep -c 'destaddr=198.51.100.2, prot=17, spi=0x7e57(32343)')" 1

# 4. The XFRM interface: an unknown SPI to its underlay address, reported
# by the receive path's handler, next to the vti ones.
mark_counters
ip netns exec a $INJECT 203.0.113.2 --spi 0x9bad --seq 3 >/dev/null
sleep 0.5
snap b
check_eq "XFRM interface: counted" "$(delta invalid_spi_v4)" 1
check_eq "XFRM interface: one event" "$(grep -c '"spi":39853' $ev)" 1

# 5. Detection off: vti's unknown SPIs are XFRM's alone again.
check "invalid-SPI detection off in b" ip netns exec b "$IPSEC_RS_TOOL" set global --invalid-spi off
mark_counters
ip netns exec a $INJECT 198.51.100.2 --spi 0x7e58 --seq 5 >/dev/null
sleep 0.5
snap b
check_eq "detection off: nothing counted" "$(delta invalid_spi_v4)" 0
check "invalid-SPI detection on again in b" ip netns exec b "$IPSEC_RS_TOOL" set global --invalid-spi on

# 6. A tunnel deleted while the module holds it, and a namespace holding
# one: neither waits for the module (it lets go at unregistration).
# (Namespace c went at the start: its clean-up has had the time since.)
check "vti17 deleted in b" timeout 10 ip -n b link del vti17
mark_counters
ip netns exec a $INJECT 198.51.100.2 --spi 0x7001 --seq 9 >/dev/null
sleep 0.5
snap b
check_eq "vti7 still watched after vti17 went" "$(delta invalid_spi_v4)" 1
check "rmmod" unload_module
check "vti7 deleted after rmmod" timeout 10 ip -n b link del vti7
_left=$(( c_gone + 12 - $(date +%s) ))
[ $_left -gt 0 ] && sleep $_left
check_eq "no device left waiting for a reference" "$(dmesg | grep -c 'waiting for .* to become free')" 0
check "kernel log clean" kernel_log_clean
ktap_finish
