#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Invalid SPI: an ESP packet whose SPI has no SA (IPv4, IPv6, UDP-encapsulated)
# is dropped and produces exactly one event with every field right, one log
# line, and counters that move by one; IKE and keepalives on port 4500 pass;
# a repeat of the same flow is suppressed; and the vendor guide's black hole
# (an SA deleted on the receiver while the sender keeps using it) produces
# events while traffic on other SAs is untouched.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping python3
require_tool
trap 'kill $MONITOR_PID $ENCAP_PID_b 2>/dev/null; topo_cleanup' EXIT

ktap_plan
topo_two_routers
xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 || die "cannot install SAs"
xfrm_tunnel_gcm6 || die "cannot install IPv6 SAs"

check "insmod" load_module
# One event per flow per hour: under TCG a minute of guest time passes
# quickly, and this test must not depend on the clock.
check "set a one-hour log interval" ip netns exec b "$IPSEC_RS_TOOL" set global --log-interval-ms 3600000
cookie_b=$(netns_cookie b)
ifindex_b=$(ip -n b -o link show vb | cut -d: -f1)
ev=/tmp/events.json
check "monitor subscribed in b" monitor_start b $ev
dmesg -c >/dev/null

# 1. IPv4 ESP, unknown SPI 0xdead, seq 7.
ip netns exec a $INJECT 192.0.2.2 --spi 0xdead --seq 7 >/dev/null
sleep 1
e=$(grep '"spi":57005' $ev)
check_eq "one event for IPv4 SPI 0xdead" "$(grep -c '"spi":57005' $ev)" 1
check_eq "event family" "$(echo "$e" | jfield family)" ipv4
check_eq "event saddr" "$(echo "$e" | jfield saddr)" 192.0.2.1
check_eq "event daddr" "$(echo "$e" | jfield daddr)" 192.0.2.2
check_eq "event proto" "$(echo "$e" | jfield proto)" 50
check_eq "event seq" "$(echo "$e" | jfield seq)" 7
check_eq "event ifindex" "$(echo "$e" | jfield ifindex)" "$ifindex_b"
check_eq "event netns cookie" "$(echo "$e" | jfield netns_cookie)" "$cookie_b"
check_eq "event suppressed" "$(echo "$e" | jfield suppressed)" 0
check_eq "event has no UDP ports" "$(echo "$e" | jfield encap_sport)" null
snap b
check_eq "one log line" "$(dmesg | grep -c "RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid spi for destaddr=192.0.2.2, prot=50, spi=0xdead(57005), srcaddr=192.0.2.1")" 1
check_eq "invalid_spi_v4 counter" "$(cnt invalid_spi_v4)" 1
check_eq "events_sent counter" "$(cnt events_sent)" 1

# 2. IPv6.
ip netns exec a $INJECT 2001:db8::2 --spi 0xbeef --seq 9 >/dev/null
sleep 1
e=$(grep '"spi":48879' $ev)
check_eq "one event for IPv6 SPI 0xbeef" "$(grep -c '"spi":48879' $ev)" 1
check_eq "IPv6 event family" "$(echo "$e" | jfield family)" ipv6
check_eq "IPv6 event saddr" "$(echo "$e" | jfield saddr)" 2001:db8::1
check_eq "IPv6 event daddr" "$(echo "$e" | jfield daddr)" 2001:db8::2
snap b
check_eq "IPv6 log line" "$(dmesg | grep -c 'destaddr=2001:db8::2, prot=50, spi=0xbeef(48879), srcaddr=2001:db8::1')" 1
check_eq "invalid_spi_v6 counter" "$(cnt invalid_spi_v6)" 1

# 3. UDP-encapsulated (RFC 3948) from port 4501 to 4500, which reaches the
# ESP handlers through an IKE daemon's encapsulation socket.
check "UDP_ENCAP_ESPINUDP socket in b" encap_socket b
ip netns exec a $INJECT 192.0.2.2 --spi 0xcafe --seq 11 --udp 4501:4500 >/dev/null
sleep 1
e=$(grep '"spi":51966' $ev)
check_eq "one event for UDP-encapsulated SPI 0xcafe" "$(grep -c '"spi":51966' $ev)" 1
check_eq "encap event proto" "$(echo "$e" | jfield proto)" 17
check_eq "encap event sport" "$(echo "$e" | jfield encap_sport)" 4501
check_eq "encap event dport" "$(echo "$e" | jfield encap_dport)" 4500
snap b
check_eq "encap log line" "$(dmesg | grep -c 'prot=17, spi=0xcafe(51966)')" 1
check_eq "invalid_spi_v4 counter counts UDP-encapsulated" "$(cnt invalid_spi_v4)" 2

# 4. IKE (non-ESP marker) and NAT keepalives are passed on, not reported;
# counted only while NAT-T accounting is on (its hooks registered).
natt() {
	ip netns exec a $INJECT 192.0.2.2 --udp 4502:4500 --raw 00000000aabbccdd >/dev/null
	ip netns exec a $INJECT 192.0.2.2 --udp 4503:4500 --raw ff >/dev/null
	sleep 1
	snap b
}
natt
check_eq "NAT-T accounting off: IKE not counted" "$(cnt ike_passed)" 0
check "NAT-T accounting on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --natt-accounting on
natt
check_eq "IKE counted as passed" "$(cnt ike_passed)" 1
check_eq "keepalive counted as passed" "$(cnt nat_keepalive)" 1
check "NAT-T accounting off in b" ip netns exec b "$IPSEC_RS_TOOL" set global --natt-accounting off
natt
check_eq "NAT-T accounting off again: nothing more counted" "$(cnt ike_passed)/$(cnt nat_keepalive)" 1/1
check_eq "no event for IKE or keepalive" "$(wc -l <$ev)" 3

# 5. The same flow again within the minute: suppressed, no event, no log.
ip netns exec a $INJECT 192.0.2.2 --spi 0xdead --seq 8 >/dev/null
sleep 1
snap b
check_eq "repeat of a flow suppressed" "$(cnt suppressed_flow)" 1
check_eq "no second event for the flow" "$(grep -c '"spi":57005' $ev)" 1

# 6. The black hole: b loses the SA a sends on (0x1000); a keeps sending.
ip -n b xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000
check "ping into the black hole fails" sh -c '! ip netns exec a ping -q -c 3 -i 0.2 -W 1 192.0.2.2'
check_eq "one event for the lost SA 0x1000" "$(grep -c '"spi":4096' $ev)" 1
check_eq "log line for the lost SA" "$(dmesg | grep -c 'spi=0x1000(4096), srcaddr=192.0.2.1')" 1
snap b
check_eq "the other packets of the flow suppressed" "$(cnt suppressed_flow)" 3
check "traffic on the IPv6 SAs is untouched" ip netns exec a ping -q -c 3 -i 0.2 -W 2 2001:db8::2
snap b
v4=$(cnt invalid_spi_v4); v6=$(cnt invalid_spi_v6); sent=$(cnt events_sent)
sf=$(cnt suppressed_flow); sg=$(cnt suppressed_global)
check_eq "nothing suppressed globally" "$sg" 0
check_eq "misses = events + suppressed" "$((v4 + v6))" "$((sent + sf + sg))"
check_eq "every event had a listener" "$(cnt events_unheard)/$(cnt events_lost)" 0/0

# 7. Nobody listening: the event is sent, and counted as unheard. (Over
# IPv6: a's IPv4 tunnel would carry the packet inside the SA b just lost.)
kill $MONITOR_PID 2>/dev/null
wait $MONITOR_PID 2>/dev/null
ip netns exec a $INJECT 2001:db8::2 --spi 0xf00d --seq 1 >/dev/null
sleep 1
snap b
check_eq "event without a listener sent" "$(cnt events_sent)" "$((sent + 1))"
check_eq "and counted as unheard" "$(cnt events_unheard)/$(cnt events_lost)" 1/0
check "the module's settings are readable" sh -c "ip netns exec b $IPSEC_RS_TOOL show global --json | grep -q '\"log_interval_ms\":3600000'"
check "rmmod" unload_module
ktap_finish
