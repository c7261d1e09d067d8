#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Churn under traffic, with the module's receive path and invalid-SPI
# detection on (module parameters: every new namespace starts with them):
# 1. namespace pairs created and destroyed while ESP (valid SAs and unknown
#    SPIs) flows into them: the module's per-namespace state made and torn
#    down with packets in flight;
# 2. SAs rekeyed (new SPIs, same selectors, the old ones deleted) as fast as
#    `ip xfrm` goes, and the receive path switched off and on, while a bulk
#    TCP transfer runs through the module: its content checked end to end;
# 3. the replay window across hand-overs: a packet accepted by the module
#    is not accepted again by XFRM after `--rx off`, nor one accepted by
#    XFRM by the module after `--rx on`, nor one of an SA after its rekey
#    (its SPI is gone: an unknown SPI).
# The runner's referee watches it all; rmmod at the end.
#
#   churn.sh [PAIRS]    (default 200 namespace pairs; more than 10: a
#                        multiple of 10, made 10 at a time)
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping socat sha256sum python3
require_tool
FLOOD=$IPSEC_RS_REPO/selftests/tools/esp_flood
[ -x "$FLOOD" ] || die "selftests/tools/esp_flood not built"
PAIRS=${1:-200}
BATCH=10
[ "$PAIRS" -lt $BATCH ] && BATCH=$PAIRS
trap 'kill $RCV_PID $REKEY_PID $UDP_PID 2>/dev/null; ip -all netns del 2>/dev/null' EXIT
CRAFT="python3 $IPSEC_RS_REPO/selftests/lib/esp_craft.py"

ktap_plan
check "insmod rx_enable=1 invalid_spi_enable=1" load_module rx_enable=1 invalid_spi_enable=1

# 1. Namespace pairs, BATCH at a time: made (veth, addresses, a GCM SA pair
# and policies), traffic started into the receiving side (pings through
# the tunnel, unknown SPIs), destroyed at once with the packets in flight.
SA_PAIR="xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode tunnel aead rfc4106(gcm(aes)) $KEY_AB 128
xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2000 mode tunnel aead rfc4106(gcm(aes)) $KEY_BA 128"
# pair_up N: namespaces caN (sender, 192.0.2.1) and cbN (192.0.2.2).
pair_up() {
	ip netns add ca$1 && ip netns add cb$1 || return 1
	ip -n ca$1 link add v type veth peer name v netns cb$1
	for _s in a:1:2 b:2:1; do
		_n=c${_s%%:*}$1 _me=192.0.2.$(echo $_s | cut -d: -f2) _peer=192.0.2.${_s##*:}
		ip -n $_n -batch - <<-EOF
		link set lo up
		link set v up
		addr add $_me/24 dev v
		$SA_PAIR
		xfrm policy add src $_me dst $_peer dir out tmpl src $_me dst $_peer proto esp mode tunnel
		xfrm policy add src $_peer dst $_me dir in tmpl src $_peer dst $_me proto esp mode tunnel
		EOF
	done
	# The unknown-SPI flood goes out as it is, not through the tunnel.
	ip -n ca$1 xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 proto esp dir out priority 5
}
made=0 decap=0 missed=0
t0=$(cut -d. -f1 /proc/uptime)
i=0
while [ $i -lt $PAIRS ]; do
	j=0 pids=""
	while [ $j -lt $BATCH ]; do
		n=$((i + j))
		pair_up $n && made=$((made + 1))
		ip netns exec ca$n ping -q -c 20 -i 0.01 -W 1 192.0.2.2 >/dev/null 2>&1 &
		pids="$pids $!"
		ip netns exec ca$n "$FLOOD" 192.0.2.2 198.18.0.0/15 50 >/dev/null 2>&1 &
		pids="$pids $!"
		j=$((j + 1))
	done
	# One pair of the batch: its counters while traffic flows (the module
	# took the traffic of a namespace it never was told about).
	sleep 0.3
	s=$(ip netns exec cb$i "$IPSEC_RS_TOOL" stats --json 2>/dev/null)
	v=$(echo "$s" | json_get decap_ok); decap=$((decap + ${v:-0}))
	v=$(echo "$s" | json_get invalid_spi_v4); missed=$((missed + ${v:-0}))
	# Destroyed with packets in flight (the senders die with their namespace).
	j=0
	while [ $j -lt $BATCH ]; do
		ip netns del ca$((i + j)); ip netns del cb$((i + j))
		j=$((j + 1))
	done
	wait $pids 2>/dev/null
	i=$((i + BATCH))
done
diag "pairs made $made in $(( $(cut -d. -f1 /proc/uptime) - t0 )) s; in one pair a batch: decap_ok $decap, invalid SPIs $missed"
check_eq "$PAIRS namespace pairs made and destroyed" "$made" "$PAIRS"
check "the module decapsulated in namespaces made after load, with no set" test "$decap" -gt 0
check "and saw the unknown SPIs there" test "$missed" -gt 0
check_eq "no namespace left" "$(ip netns list | grep -c '^c[ab][0-9]')" 0
check "kernel log clean after the namespace churn" kernel_log_clean

t0=$(cut -d. -f1 /proc/uptime)
# 2. Rekeying and toggling under a bulk transfer.
topo_two_routers
check "GCM tunnel a <-> b" xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 0x100 0x200
ip -n a xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 proto esp dir out priority 5
# rekey N: the SA pair with SPIs 0x100+N / 0x200+N replaces N-1's in both
# namespaces: inbound first, then outbound, then the old ones deleted (as
# an IKE daemon does).
rekey() {
	_o=$(($1 - 1))
	for n in b a; do
		ip -n $n -batch - <<-EOF || return 1
		xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi $((0x100 + $1)) mode tunnel aead rfc4106(gcm(aes)) $KEY_AB 128
		xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi $((0x200 + $1)) mode tunnel aead rfc4106(gcm(aes)) $KEY_BA 128
		EOF
	done
	for n in a b; do
		ip -n $n -batch - <<-EOF || return 1
		xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi $((0x100 + _o))
		xfrm state delete src 192.0.2.2 dst 192.0.2.1 proto esp spi $((0x200 + _o))
		EOF
	done
}
rm -f /tmp/rekey.stop /tmp/rekey.log
echo 0 >/tmp/transfers.started
REKEYS=10
# started_at_least N: waits (10 s at most) until N transfers have started,
# so that the rekeys fall among the transfers however fast the kernel runs
# (a UML guest rekeys ten times within one transfer under QEMU's pace).
started_at_least() {
	_w=0
	while [ "$(cat /tmp/transfers.started)" -lt "$1" ] && [ $_w -lt 200 ]; do
		sleep 0.05
		_w=$((_w + 1))
	done
}
(
	k=1
	while [ $k -le $REKEYS ]; do
		started_at_least $(((k + 1) / 2))
		rekey $k && echo "rekey $k" >>/tmp/rekey.log || echo "rekey $k failed" >>/tmp/rekey.log
		if [ $((k % 3)) -eq 0 ]; then
			ip netns exec b "$IPSEC_RS_TOOL" set global --rx off && ip netns exec b "$IPSEC_RS_TOOL" set global --rx on &&
				echo toggle >>/tmp/rekey.log
		fi
		k=$((k + 1))
	done
	touch /tmp/rekey.stop
) &
REKEY_PID=$!
snap b; ok0=$(cnt decap_ok)
# Transfers of 1 MB back to back, each checked, for as long as the rekeying
# lasts.
transfers=0 bad=0
while [ ! -f /tmp/rekey.stop ]; do
	echo $((transfers + 1)) >/tmp/transfers.started
	bulk_tcp a b 192.0.2.2 $((5001 + transfers % 100)) 1000000 || { bad=$((bad + 1)); diag "transfer $transfers damaged or failed"; }
	transfers=$((transfers + 1))
done
wait $REKEY_PID
snap b
diag "rekeys $(grep -c '^rekey [0-9]*$' /tmp/rekey.log) (failed $(grep -c failed /tmp/rekey.log)), rx toggles $(grep -c toggle /tmp/rekey.log), 1 MB transfers $transfers, decap_ok +$(( $(cnt decap_ok) - ok0 )), passed_to_xfrm $(cnt passed_to_xfrm), sa_unusable $(cnt sa_unusable), invalid_spi_v4 $(cnt invalid_spi_v4)"
check_eq "$REKEYS rekeys under the transfers, none failed" "$(grep -c '^rekey [0-9]*$' /tmp/rekey.log)" $REKEYS
check_eq "the receive path toggled 3 times under them" "$(grep -c toggle /tmp/rekey.log)" 3
check "transfers ran meanwhile" test "$transfers" -ge 2
check_eq "every transfer arrived whole (sha256)" "$bad" 0
diag "rekeying part: $(( $(cut -d. -f1 /proc/uptime) - t0 )) s"
check "the module decapsulated most of it" test "$(( $(cnt decap_ok) - ok0 ))" -gt 1000

# 3. Replay across hand-overs, with hand-made packets on an SA of b alone.
mac_b=$(ip -n b -o link show vb | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
craft() { ip netns exec a $CRAFT --dev va --dst-mac "$mac_b" --src 192.0.2.1 --dst 192.0.2.2 --key $KEY_AB "$@" >/dev/null; }
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x7000 mode tunnel \
	replay-window 32 aead 'rfc4106(gcm(aes))' $KEY_AB 128
ip netns exec b socat -u UDP-RECV:7777 OPEN:/tmp/udp.txt,creat,trunc &
UDP_PID=$!
_i=0
while [ $_i -lt 100 ] && ! ip netns exec b grep -qi ':1E61 ' /proc/net/udp; do sleep 0.2; _i=$((_i + 1)); done
check "receive path on" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on
mark_counters
craft --spi 0x7000 --seq 1,2,3
sleep 0.5; snap b
check_eq "module: 1, 2, 3 accepted" "$(delta decap_ok)" 3
check "receive path off (XFRM takes the SA back)" ip netns exec b "$IPSEC_RS_TOOL" set global --rx off
craft --spi 0x7000 --seq 2,4
sleep 0.5
check_eq "XFRM: 2 rejected as a replay of the module's, 4 accepted" \
	"$(ip -n b -s xfrm state get src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x7000 | sed -n 's/.*replay-window [0-9]* replay \([0-9]*\) .*/\1/p')/$(grep -o 'hello [0-9]*' /tmp/udp.txt | grep -c '^hello 4$')" "1/1"
check "receive path on (the module takes the SA over)" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on
mark_counters
craft --spi 0x7000 --seq 4,3,5
sleep 0.5; snap b
check_eq "module: 4 (XFRM's) and 3 (its own) rejected as replays, 5 accepted" "$(delta replay_dropped)/$(delta decap_ok)" 2/1
# Rekey: 0x7001 replaces 0x7000; 0x7000's packets are then unknown SPIs.
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x7001 mode tunnel \
	replay-window 32 aead 'rfc4106(gcm(aes))' $KEY_AB 128
ip -n b xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x7000
mark_counters
craft --spi 0x7000 --seq 5,6
craft --spi 0x7001 --seq 1 --payload rekeyed
sleep 0.5; snap b
check_eq "after the rekey: the old SA's packets are unknown SPIs, the new SA's accepted" "$(delta invalid_spi_v4)/$(delta decap_ok)" 2/1
kill $UDP_PID 2>/dev/null; wait $UDP_PID 2>/dev/null
check_eq "each sequence number delivered once (duplicates/old SA's/new SA's)" \
	"$(grep -o 'hello [0-9]*' /tmp/udp.txt | sort | uniq -d | wc -l)/$(grep -o 'hello [0-9]*' /tmp/udp.txt | wc -l)/$(grep -o 'rekeyed [0-9]*' /tmp/udp.txt | wc -l)" "0/5/1"

check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
