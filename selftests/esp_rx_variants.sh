#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The module's inbound ESP path beyond plain AES-GCM: UDP-encapsulated ESP
# (RFC 3948), AES-CBC + HMAC-SHA-256, ESN across the 2^32 boundary (both
# algorithms), SA lifetime limits (expire events), transport mode, per-SA
# anti-replay settings, and an SA it does not handle (HMAC-SHA-512) left to
# XFRM and counted. XFRM in namespace a is the sender where a
# real peer is needed; selftests/lib/esp_craft.py otherwise.
#
#   esp_rx_variants.sh [unique | no-udp]
# "unique" (selftests/TESTS) leaves out what esp_rx_matrix.sh covers.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping python3 socat sha256sum
require_tool
trap 'kill $ENCAP_PID_a $ENCAP_PID_b $MON $RCV_PID 2>/dev/null; topo_cleanup' EXIT

CRAFT="python3 $IPSEC_RS_REPO/selftests/lib/esp_craft.py"
ENC_AB=0x000102030405060708090a0b0c0d0e0f
AUTH_AB=0x202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f
ENC_BA=0x101112131415161718191a1b1c1d1e1f
AUTH_BA=0x303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f

policies() {
	ip -n a xfrm policy add src $1 dst $2 dir out tmpl src $1 dst $2 proto esp mode tunnel
	ip -n a xfrm policy add src $2 dst $1 dir in tmpl src $2 dst $1 proto esp mode tunnel
	ip -n b xfrm policy add src $2 dst $1 dir out tmpl src $2 dst $1 proto esp mode tunnel
	ip -n b xfrm policy add src $1 dst $2 dir in tmpl src $1 dst $2 proto esp mode tunnel
}
flush() { for n in a b; do ip -n $n xfrm state flush; ip -n $n xfrm policy flush; done; }
# Argument "unique": only what esp_rx_matrix.sh does not cover (sections 3,
# 4, 6 and 7: ESN, lifetime limits, an unhandled algorithm, per-SA replay
# settings, and section 9, the NAT-T mapping report), for CI; "no-udp":
# everything but sections 8 and 9.
ARG=${1:-}
covered() { [ "$ARG" = unique ]; }
ktap_plan
topo_two_routers
mac_b=$(ip -n b -o link show vb | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
craft4() { ip netns exec a $CRAFT --dev va --dst-mac "$mac_b" --src 192.0.2.1 --dst 192.0.2.2 "$@" >/dev/null; }
check "insmod" load_module
check "receive path on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on

if ! covered; then
# 2. AES-CBC + HMAC-SHA-256, IPv4 and IPv6, real traffic and a forged ICV.
for pair in "192.0.2.1 192.0.2.2 0x1200 0x2200" "2001:db8::1 2001:db8::2 0x1300 0x2300"; do
	set -- $pair
	for n in a b; do
		ip -n $n xfrm state add src $1 dst $2 proto esp spi $3 mode tunnel replay-window 32 \
			enc 'cbc(aes)' $ENC_AB auth-trunc 'hmac(sha256)' $AUTH_AB 128
		ip -n $n xfrm state add src $2 dst $1 proto esp spi $4 mode tunnel replay-window 32 \
			enc 'cbc(aes)' $ENC_BA auth-trunc 'hmac(sha256)' $AUTH_BA 128
	done
	policies $1 $2
done
mark_counters
check "ping a -> b, AES-CBC/HMAC-SHA-256, IPv4" ip netns exec a ping -q -c 10 -i 0.05 -W 2 192.0.2.2
check "ping a -> b, AES-CBC/HMAC-SHA-256, IPv6" ip netns exec a ping -q -c 10 -i 0.05 -W 2 2001:db8::2
check "1400-byte ping, AES-CBC/HMAC-SHA-256" ip netns exec a ping -q -c 5 -i 0.05 -W 2 -s 1400 192.0.2.2
snap b
check_eq "CBC/HMAC packets decapsulated by the module" "$(delta decap_ok)" 25
check_eq "XFRM did not decrypt them" "$(xfrm_seq 0x1200 192.0.2.1 192.0.2.2)/$(xfrm_seq 0x1300 2001:db8::1 2001:db8::2)" 0x0/0x0
mark_counters
craft4 --alg cbc-sha256 --key $ENC_AB --auth-key $AUTH_AB --spi 0x1200 \
	--pkt seq=5000 --pkt seq=5001,corrupt-icv --pkt seq=5002,bad-pad
sleep 0.5; snap b
check_eq "crafted CBC/HMAC: accepted / ICV failure / bad padding" "$(delta decap_ok)/$(delta auth_failed)/$(delta bad_padding)" 1/1/1
flush
fi

# 3. ESN: the high 32 bits are inferred across 2^32 and authenticated.
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1400 mode tunnel \
	flag esn replay-window 128 aead 'rfc4106(gcm(aes))' $KEY_AB 128
ip -n b xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir in tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel
mark_counters
craft4 --key $KEY_AB --spi 0x1400 --pkt seq=200,esn-hi=0 --pkt seq=0xfffffff0,esn-hi=0 \
	--pkt seq=5,esn-hi=1 --pkt seq=0xfffffff8,esn-hi=0 --pkt seq=5,esn-hi=1 --pkt seq=6,esn-hi=0
sleep 0.5; snap b
check_eq "ESN: 4 accepted across 2^32 (one reordered back)" "$(delta decap_ok)" 4
check_eq "ESN: the replayed one dropped" "$(delta replay_dropped)" 1
check_eq "ESN: wrong high bits fail authentication" "$(delta auth_failed)" 1
flush
# The same with AES-CBC + HMAC-SHA-256: esp4 builds echainiv(authencesn(...)),
# whose child authenticates the high bits after the payload.
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1410 mode tunnel \
	flag esn replay-window 128 enc 'cbc(aes)' $ENC_AB auth-trunc 'hmac(sha256)' $AUTH_AB 128
ip -n b xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir in tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel
mark_counters
craft4 --alg cbc-sha256 --key $ENC_AB --auth-key $AUTH_AB --spi 0x1410 --pkt seq=200,esn-hi=0 \
	--pkt seq=0xfffffff0,esn-hi=0 --pkt seq=5,esn-hi=1 --pkt seq=0xfffffff8,esn-hi=0 \
	--pkt seq=5,esn-hi=1 --pkt seq=6,esn-hi=0
sleep 0.5; snap b
check_eq "ESN, CBC/HMAC: accepted / replayed / wrong high bits" \
	"$(delta decap_ok)/$(delta replay_dropped)/$(delta auth_failed)" 4/1/1
flush

# 4. Lifetime limits: soft and hard packet limits fire expire events.
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1500 mode tunnel \
	aead 'rfc4106(gcm(aes))' $KEY_AB 128 limit packet-soft 3 limit packet-hard 6
ip -n b xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir in tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel
ip -n b xfrm monitor expire >/tmp/expire.txt 2>&1 &
MON=$!
sleep 0.5
mark_counters
craft4 --key $KEY_AB --spi 0x1500 --seq 1,2,3,4,5,6,7,8
sleep 1
snap b
kill $MON 2>/dev/null
check "soft expire event" grep -q 'hard 0' /tmp/expire.txt
check "hard expire event" grep -q 'hard 1' /tmp/expire.txt
check_eq "packets past the hard limit dropped" "$(delta decap_ok)" 6
check_eq "hard-expired SA deleted" "$(ip -n b xfrm state list spi 0x1500 | grep -c spi)" 0
flush
# A hard byte limit is passed by less than one packet: checked and accounted
# in one step, while below it. Inner packets of 128 bytes (UDP payload 100)
# against 320 bytes: 0, 128, 256 below, the third ends at 384.
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1501 mode tunnel \
	aead 'rfc4106(gcm(aes))' $KEY_AB 128 limit byte-hard 320
ip -n b xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir in tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel
mark_counters
craft4 --key $KEY_AB --spi 0x1501 --size 100 --seq 1,2,3,4,5
sleep 1
snap b
check_eq "hard byte limit 320, packets of 128: decapsulated" "$(delta decap_ok)" 3
check "... the packet after it dropped as expired" sh -c "[ $(delta sa_unusable) -ge 1 ]"
flush

# A CPU's memory of the last SA it found (sa::Last) does not outlive the
# SA: deleted, and replaced under the same SPI and destination by one with
# a mark the packets do not carry, XFRM finds no SA for them; nor may the
# module (not decapsulated, not dropped as the old SA's).
sa_1502() { ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1502 mode tunnel "$@" \
	aead 'rfc4106(gcm(aes))' $KEY_AB 128; }
sa_1502
ip -n b xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir in tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel
mark_counters
craft4 --key $KEY_AB --spi 0x1502 --seq 1,2,3
sleep 0.5
snap b
check_eq "SA 0x1502: decapsulated" "$(delta decap_ok)" 3
ip -n b xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1502
check "SA 0x1502 replaced by one marked 7/0xff" sa_1502 mark 7 mask 0xff
mark_counters
n0=$(xfrm_stat b XfrmInNoStates)
craft4 --key $KEY_AB --spi 0x1502 --seq 4,5
sleep 0.5
snap b
check_eq "unmarked packets for it: decap_ok/sa_unusable/XfrmInNoStates moved by" \
	"$(delta decap_ok)/$(delta sa_unusable)/$(($(xfrm_stat b XfrmInNoStates) - n0))" 0/0/2
flush

if ! covered; then
# 5. Transport mode (IPv4 and IPv6), decapsulated by the module.
for pair in "192.0.2.1 192.0.2.2 0x1600 0x2600" "2001:db8::1 2001:db8::2 0x1700 0x2700"; do
	set -- $pair
	for n in a b; do
		ip -n $n xfrm state add src $1 dst $2 proto esp spi $3 mode transport replay-window 32 \
			aead 'rfc4106(gcm(aes))' $KEY_AB 128
		ip -n $n xfrm state add src $2 dst $1 proto esp spi $4 mode transport replay-window 32 \
			aead 'rfc4106(gcm(aes))' $KEY_BA 128
	done
	ip -n a xfrm policy add src $1 dst $2 dir out tmpl proto esp mode transport
	ip -n b xfrm policy add src $1 dst $2 dir in tmpl proto esp mode transport
	ip -n b xfrm policy add src $2 dst $1 dir out tmpl proto esp mode transport
	ip -n a xfrm policy add src $2 dst $1 dir in tmpl proto esp mode transport
done
mark_counters
check "ping a -> b, transport mode, IPv4" ip netns exec a ping -q -c 5 -i 0.05 -W 2 192.0.2.2
check "ping a -> b, transport mode, IPv6" ip netns exec a ping -q -c 5 -i 0.05 -W 2 2001:db8::2
check "bulk TCP a -> b, transport mode (100 kB, content checked)" bulk_tcp a b 192.0.2.2 5003 100000
snap b
check "transport-mode packets decapsulated by the module" [ "$(delta decap_ok)" -ge 10 ]
check_eq "XFRM did not decrypt them" "$(xfrm_seq 0x1600 192.0.2.1 192.0.2.2)/$(xfrm_seq 0x1700 2001:db8::1 2001:db8::2)" 0x0/0x0
flush
fi

# 6. An algorithm the module does not handle (HMAC-SHA-512) is left to XFRM, counted.
for n in a b; do
	ip -n $n xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1800 mode tunnel \
		enc 'cbc(aes)' $ENC_AB auth-trunc 'hmac(sha512)' ${AUTH_AB}${AUTH_AB#0x} 256
	ip -n $n xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2800 mode tunnel \
		enc 'cbc(aes)' $ENC_BA auth-trunc 'hmac(sha512)' ${AUTH_BA}${AUTH_BA#0x} 256
done
policies 192.0.2.1 192.0.2.2
mark_counters
check "ping a -> b, HMAC-SHA-512 (XFRM decapsulates)" ip netns exec a ping -q -c 5 -i 0.05 -W 2 192.0.2.2
snap b
check_eq "HMAC-SHA-512 packets passed to XFRM" "$(delta passed_to_xfrm)" 5
check_eq "and not decapsulated by the module" "$(delta decap_ok)" 0
flush

# 7. Per-SA anti-replay settings (ipsec-rs set sa) override the global ones.
for spi in 0x1900 0x1a00; do
	ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi $spi mode tunnel \
		aead 'rfc4106(gcm(aes))' $KEY_AB 128
done
ip -n b xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir in tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel
check "per-SA anti-replay off" ip netns exec b "$IPSEC_RS_TOOL" set sa 192.0.2.2 0x1900 --replay-window off
check "per-SA window 1024" ip netns exec b "$IPSEC_RS_TOOL" set sa 192.0.2.2 0x1a00 --replay-window 1024
mark_counters
craft4 --key $KEY_AB --pkt spi=0x1900,seq=5 --pkt spi=0x1900,seq=5 --pkt spi=0x1a00,seq=2000 --pkt spi=0x1a00,seq=1000
sleep 0.5; snap b
check_eq "replay off: a repeated packet accepted; window 1024: 1000 back accepted" "$(delta decap_ok)/$(delta replay_dropped)/$(delta replay_too_old)" 4/0/0
flush

# 8. UDP-encapsulated ESP (NAT-T), AES-GCM, IPv4 (argument no-udp skips it).
if [ "$ARG" != no-udp ] && ! covered; then
check "UDP_ENCAP_ESPINUDP socket ready in a" encap_socket a
check "UDP_ENCAP_ESPINUDP socket ready in b" encap_socket b
for n in a b; do
	ip -n $n xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1100 mode tunnel replay-window 32 \
		aead 'rfc4106(gcm(aes))' $KEY_AB 128 encap espinudp 4500 4500 0.0.0.0
	ip -n $n xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2100 mode tunnel replay-window 32 \
		aead 'rfc4106(gcm(aes))' $KEY_BA 128 encap espinudp 4500 4500 0.0.0.0
done
# The tunnel policies would also match the ESP-in-UDP datagrams themselves,
# which UDP checks before handing them to the encapsulation socket: let
# them through, as IKE daemons do for their port-4500 socket (encap_socket
# let those to port 4500 through).
for n in a b; do
	ip -n $n xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 proto udp sport 4500 dir in priority 10
done
ip -n a xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir out priority 100 tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel
ip -n a xfrm policy add src 192.0.2.2 dst 192.0.2.1 dir in priority 100 tmpl src 192.0.2.2 dst 192.0.2.1 proto esp mode tunnel
ip -n b xfrm policy add src 192.0.2.2 dst 192.0.2.1 dir out priority 100 tmpl src 192.0.2.2 dst 192.0.2.1 proto esp mode tunnel
ip -n b xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir in priority 100 tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel
mark_counters
check "ping a -> b, UDP-encapsulated" ip netns exec a ping -q -c 10 -i 0.05 -W 2 192.0.2.2
snap b
diag "b counters: $SNAP"
diag "b xfrm_stat: $(ip netns exec b awk '$2 != 0 { printf "%s=%s ", $1, $2 }' /proc/net/xfrm_stat)"
diag "a xfrm_stat: $(ip netns exec a awk '$2 != 0 { printf "%s=%s ", $1, $2 }' /proc/net/xfrm_stat)"
check_eq "UDP-encapsulated packets decapsulated by the module" "$(delta decap_ok)" 10
check_eq "counted as UDP-encapsulated ESP" "$(delta udp_encap_v4)" 10
check_eq "XFRM did not decrypt them (replay seq unmoved)" "$(xfrm_seq 0x1100 192.0.2.1 192.0.2.2)" 0x0
check_eq "SA lifetime counts them" "$(xfrm_packets b 0x1100 192.0.2.1 192.0.2.2)" 10
check "bulk TCP a -> b, UDP-encapsulated (200 kB, content checked)" bulk_tcp a b 192.0.2.2 5001 200000
mark_counters
craft4 --key $KEY_AB --spi 0x1100 --seq 100000,100000 --udp 4500:4500
sleep 0.5; snap b
check_eq "crafted UDP-encapsulated packet accepted, replay dropped" "$(delta decap_ok)/$(delta replay_dropped)" 1/1
flush
fi

# 9. NAT traversal's mapping report (esp_rx_matrix.sh sends no packet from
# another port, so this runs with "unique" too; argument no-udp skips it):
# an authenticated UDP-encapsulated packet from another source address or
# port than the SA's is reported to the key manager (XFRM_MSG_MAPPING, as
# esp4 reports it), once a packet; one from the SA's own is not.
if [ "$ARG" != no-udp ]; then
# Section 8's socket, if it ran.
[ -n "${ENCAP_PID_b:-}" ] && kill -0 "$ENCAP_PID_b" 2>/dev/null || check "UDP_ENCAP_ESPINUDP socket ready in b" encap_socket b
natt_bypass b
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1101 mode tunnel replay-window 32 \
	aead 'rfc4106(gcm(aes))' $KEY_AB 128 encap espinudp 4500 4500 0.0.0.0
ip -n b xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir in priority 100 tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel
ip netns exec b ip xfrm monitor >/tmp/xfrm_mon_b.out 2>&1 &
MON=$!
sleep 0.5
mark_counters
craft4 --key $KEY_AB --spi 0x1101 --seq 1,2 --udp 4500:4500
craft4 --key $KEY_AB --spi 0x1101 --seq 3,4 --udp 4501:4500
ip netns exec a $CRAFT --dev va --dst-mac "$mac_b" --src 192.0.2.3 --dst 192.0.2.2 --key $KEY_AB --spi 0x1101 --seq 5 --udp 4500:4500 >/dev/null
sleep 0.5; snap b
kill $MON; wait $MON 2>/dev/null; MON=
diag "xfrm monitor in b: $(grep -i mapping /tmp/xfrm_mon_b.out | head -3 | tr '\n' ' ')"
check_eq "NAT-T: from the SA's address and port and from new ones, all decapsulated by the module" "$(delta decap_ok)/$(delta udp_encap_v4)" 5/5
check_eq "NAT-T: a mapping change reported for each packet from a new port or address only" \
	"$(grep -c 'Mapping change' /tmp/xfrm_mon_b.out)/$(grep -c 'Mapping change 192.0.2.1:4500 -> 192.0.2.1:4501' /tmp/xfrm_mon_b.out)/$(grep -c 'Mapping change 192.0.2.1:4500 -> 192.0.2.3:4500' /tmp/xfrm_mon_b.out)" 3/2/1
flush
fi

check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
