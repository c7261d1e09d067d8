#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The module's own inbound ESP path (tunnel mode, rfc4106(gcm(aes))), with
# Linux XFRM in namespace a as the sender and b as the receiver:
# - ping (IPv4, IPv6) and a bulk TCP transfer, content checked end to end;
# - the module did the work: its decap_ok moves, XFRM's replay state of the
#   SA does not (XFRM advances it for every packet it decrypts), and the SA's
#   lifetime counters (ip -s xfrm state) count our packets;
# - hand-made packets (selftests/lib/esp_craft.py, the same keys): replays,
#   too-old packets, reordering within the window, a 65536 window that
#   accepts what a 64 window rejects, corrupted ICVs, truncated packets and
#   bad padding are dropped and counted, and the window does not advance on
#   a packet that failed authentication;
# - deleting and re-adding SAs under traffic, and unloading the module under
#   traffic, leave a clean kernel and XFRM's replay state raised to ours.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping python3 socat sha256sum
require_tool
trap 'kill $RCV_PID $FLOOD 2>/dev/null; topo_cleanup' EXIT

CRAFT="python3 $IPSEC_RS_REPO/selftests/lib/esp_craft.py"

# sa_pair SRC DST SPI_AB SPI_BA [extra state options]: tunnel-mode GCM SAs
# with replay-window 32 (so that XFRM, if it decrypted, would advance its
# anti-replay context), and policies.
sa_pair() {
	_sa_a=$1 _sa_b=$2 _sa_ab=$3 _sa_ba=$4; shift 4
	xfrm_tunnel_gcm $_sa_a $_sa_b $_sa_ab $_sa_ba replay-window 32 "$@"
}
mac_b=""
craft4() { ip netns exec a $CRAFT --dev va --dst-mac "$mac_b" --src 192.0.2.1 --dst 192.0.2.2 --key $KEY_AB "$@" >/dev/null; }
craft6() { ip netns exec a $CRAFT --dev va --dst-mac "$mac_b" --src 2001:db8::1 --dst 2001:db8::2 --key $KEY_AB "$@" >/dev/null; }

ktap_plan
topo_two_routers
sa_pair 192.0.2.1 192.0.2.2 0x1000 0x2000 || die "cannot install IPv4 SAs"
sa_pair 2001:db8::1 2001:db8::2 0x3000 0x4000 || die "cannot install IPv6 SAs"
mac_b=$(cat /sys/class/net/vb/address 2>/dev/null || ip -n b -o link show vb | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')

check "insmod" load_module
check "receive path off by default" sh -c "ip netns exec b $IPSEC_RS_TOOL show global --json | grep -q '\"rx_enable\":false'"
check "receive path on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on

# 1. Real traffic from XFRM.
check "ping a -> b over IPv4" ip netns exec a ping -q -c 20 -i 0.05 -W 2 192.0.2.2
check "ping a -> b over IPv6" ip netns exec a ping -q -c 20 -i 0.05 -W 2 2001:db8::2
check "1200-byte ping a -> b over IPv4" ip netns exec a ping -q -c 5 -i 0.05 -W 2 -s 1200 192.0.2.2
snap b
in4=$(xfrm_packets b 0x1000 192.0.2.1 192.0.2.2)
in6=$(xfrm_packets b 0x3000 2001:db8::1 2001:db8::2)
check_eq "SA lifetime counts our IPv4 packets" "$in4" 25
check_eq "SA lifetime counts our IPv6 packets" "$in6" 20
check_eq "decap_ok counts every packet" "$(cnt decap_ok)" 45
check_eq "XFRM did not decrypt (its IPv4 replay seq unmoved)" "$(xfrm_seq 0x1000 192.0.2.1 192.0.2.2)" 0x0
check_eq "XFRM did not decrypt (its IPv6 replay seq unmoved)" "$(xfrm_seq 0x3000 2001:db8::1 2001:db8::2)" 0x0
check_eq "nothing left to XFRM" "$(cnt passed_to_xfrm)" 0

check "bulk TCP a -> b over IPv4 (300 kB, content checked)" bulk_tcp a b 192.0.2.2 5001 300000
check "bulk TCP a -> b over IPv6 (300 kB, content checked)" bulk_tcp a b 2001:db8::2 5002 300000
snap b
check_eq "no auth failures or replays on real traffic" "$(cnt auth_failed)/$(cnt replay_dropped)/$(cnt replay_too_old)" 0/0/0
diag "decap_ok after bulk: $(cnt decap_ok)"

# 2. Hand-made packets on a fresh SA pair (XFRM's sender never uses 0x5000).
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5000 mode tunnel \
	aead 'rfc4106(gcm(aes))' $KEY_AB 128
ip netns exec b socat -u UDP-RECV:7777 OPEN:/tmp/udp.txt,creat,append &
RCV_PID=$!
_i=0
while [ $_i -lt 100 ] && ! ip netns exec b grep -qi ':1E61 ' /proc/net/udp; do sleep 0.2; _i=$((_i + 1)); done
mark_counters
# One batch, in order: 100 ok; 100 replay; 36 too old (top 100, window 64);
# 90, 80, 37 reordered within the window, ok; 1000 with a corrupted ICV;
# 150 ok (it would be too old had the forged 1000 advanced the window);
# 151 truncated; 152 bad padding; 153 with a wrong next header; 154 padded
# 48 bytes beyond the block, ok; 155 the same with its first padding byte
# wrong; 156 a dummy packet (next header 59), dropped before the window
# moves (as esp4 drops it: found by esp_fuzz.sh), so that 156 itself, next,
# is ok; 157 cut to 4 bytes of ESP (shorter than its header: seen and
# malformed, found by esp_fuzz.sh's counter identity).
craft4 --spi 0x5000 --pkt seq=100 --pkt seq=100 --pkt seq=36 --pkt seq=90 --pkt seq=80 --pkt seq=37 \
	--pkt seq=1000,corrupt-icv --pkt seq=150 --pkt seq=151,truncate=20 --pkt seq=152,bad-pad \
	--pkt seq=153,next-header=17 --pkt seq=154,long-pad --pkt seq=155,long-pad,bad-pad \
	--pkt seq=156,next-header=59 --pkt seq=156 --pkt seq=157,truncate=4
sleep 1; snap b
check_eq "crafted packets accepted (in order, reordered within the window, long padding, after a dummy)" "$(delta decap_ok)" 7
check_eq "replayed packet dropped as replay" "$(delta replay_dropped)" 1
check_eq "packet left of the 64 window dropped as too old" "$(delta replay_too_old)" 1
check_eq "corrupted ICV dropped and counted" "$(delta auth_failed)" 1
check_eq "truncated packets (in the payload, in the ESP header) dropped and counted" "$(delta malformed)" 2
_out=0
for _c in decap_ok passed_to_xfrm invalid_spi_v4 auth_failed replay_dropped replay_too_old \
	malformed bad_padding sa_unusable rx_errors bad_inner; do
	_out=$((_out + $(delta $_c)))
done
check_eq "each of the 16 crafted packets seen once, with one outcome" "$(delta esp_v4)/$_out" 16/16
check_eq "bad padding (in the last byte, in the first of a long padding) dropped and counted" "$(delta bad_padding)" 2
check_eq "wrong next header and dummy packet dropped and counted" "$(delta bad_inner)" 2
kill $RCV_PID 2>/dev/null; wait $RCV_PID 2>/dev/null
check_eq "exactly the accepted packets reached the UDP socket" "$(grep -o 'hello [0-9]*' /tmp/udp.txt | tr '\n' ' ')" "hello 100 hello 90 hello 80 hello 37 hello 150 hello 154 hello 156 "
check "replay log line" sh -c "dmesg | grep -q 'CRYPTO-4-PKT_REPLAY_ERR: decrypt: replay check failed connection id='"
check_eq "XFRM's per-SA replay statistic" "$(ip -n b -s xfrm state get src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5000 | sed -n 's/.*replay-window \([0-9]*\) replay \([0-9]*\) failed \([0-9]*\).*/\1 \2 \3/p')" "1 1 1"

# 3. Window 65536 vs 64: the same reordering (60,000 back) on two SAs.
check "default window 65536" ip netns exec b "$IPSEC_RS_TOOL" set global --replay-window 65536
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x6000 mode tunnel \
	aead 'rfc4106(gcm(aes))' $KEY_AB 128
mark_counters
craft4 --pkt spi=0x6000,seq=70000 --pkt spi=0x6000,seq=10000 --pkt spi=0x5000,seq=70000 --pkt spi=0x5000,seq=10000
sleep 0.5; snap b
check_eq "65536 window accepts 60000 back, 64 window rejects it" "$(delta decap_ok)/$(delta replay_too_old)" 3/1

# 4. IPv6 crafted replay.
ip -n b xfrm state add src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x7000 mode tunnel \
	aead 'rfc4106(gcm(aes))' $KEY_AB 128
mark_counters
craft6 --spi 0x7000 --seq 5,5
sleep 0.5; snap b
check_eq "IPv6 crafted packet accepted, its replay dropped" "$(delta decap_ok)/$(delta replay_dropped)" 1/1

# 5. SA deletion and re-adding under traffic, then unload under traffic.
ip netns exec a ping -q -f -c 30000 192.0.2.2 >/tmp/flood.out 2>&1 &
FLOOD=$!
sleep 1
i=0
while [ $i -lt 3 ]; do
	ip -n b xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 || break
	sleep 0.3
	ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode tunnel \
		replay-window 32 aead 'rfc4106(gcm(aes))' $KEY_AB 128 || break
	sleep 0.3
	i=$((i + 1))
done
check_eq "SA deleted and re-added 3 times under traffic" "$i" 3
snap b
top=$(cnt decap_ok)
check "rmmod under traffic" unload_module
kill $FLOOD 2>/dev/null; wait $FLOOD 2>/dev/null
check "XFRM's replay state raised on unload" sh -c "[ \"\$(ip -n b -s xfrm state get src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 | sed -n 's/.*anti-replay context: seq \(0x[0-9a-f]*\),.*/\1/p')\" != 0x0 ]"
check "tunnel works through XFRM after unload" ip netns exec a ping -q -c 3 -W 2 192.0.2.2
check "kernel log clean" kernel_log_clean
ktap_finish
