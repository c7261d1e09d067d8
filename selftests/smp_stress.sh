#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# One SA decapsulated by two CPUs at once (the SMP group: QEMU, two vCPUs;
# User-Mode Linux has one CPU).
#
#   smp_stress.sh [N [ROUNDS]]
#       N packets a stream (default 20000), ROUNDS churn rounds (default 6;
#       each with a stream of N / 10 packets, at least 500, sent in a loop)
#
# 1. Exactness. b's inbound SA (tunnel-mode rfc4106(gcm(aes))), the
#    module's window 65,536 (wider than N); two selftests/tools/esp_blast,
#    pinned to CPU 0 and CPU 1 and started together, each send the same N
#    packets (sequence numbers 1..N), so every number reaches b twice, once
#    on each CPU, most of them at the same moment (veth: each CPU
#    decapsulates what it sends). Exactly one of each pair may pass: b's
#    UDP receives exactly N, decap_ok rises by N, the SA's replay drops by N,
#    XFRM's lifetime count of the SA is N. A window or a per-SA count
#    updated outside the SA's lock lets duplicates through or loses counts.
#    Then on a fresh SA with windows of 1,024 and 32, narrower than N: a
#    number the other CPU's window has left behind is dropped as too old,
#    so fewer than N may pass, but never a number twice, and every packet
#    is delivered, replayed or too old.
# 2. Churn. For ROUNDS rounds, both CPUs send the stream in a loop while
#    process context deletes the SA and adds it again, resizes the module's
#    window (64, 1,024, 65,536, 4,096), and unloads the module and loads it
#    again with the receive path on (rounds 2, 4, ...), all under the
#    traffic. (Not switching the receive path off: off, ESP of a known SA
#    goes to XFRM uncounted, outside the identity below.) After each round,
#    the traffic stopped: every ESP packet the module saw in b is counted
#    in exactly one outcome counter (the identity fault_inject.sh asserts).
# The runner's referee (KASAN, lockdep, atomic sleep, kmemleak after
# unload) judges the whole run.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3 taskset awk
require_tool
. "$IPSEC_RS_REPO/selftests/lib/decap_traffic.sh"
decap_require
decap_require_cpus 2
LOOPS=
trap 'touch /tmp/smp_stress_stop; kill $LOOPS 2>/dev/null; rm -f /tmp/smp_stress_*; topo_cleanup' EXIT

N=${1:-20000}
ROUNDS=${2:-6}

ktap_plan
decap_setup
check_eq "$N valid packets made" "$(decap_make "$N" 64 /tmp/smp_stress.bin)" "$N"
CHURN_N=$((N / 10 < 500 ? 500 : N / 10))
check_eq "$CHURN_N valid packets made for the churn" "$(decap_make "$CHURN_N" 64 /tmp/smp_stress_churn.bin)" "$CHURN_N"
check "insmod, receive path on" load_module rx_enable=1
check_eq "receive path on in b" "$(ip netns exec b "$IPSEC_RS_TOOL" show global --json | grep -o '"rx_enable":true')" '"rx_enable":true'

# blast CPU: the stream from CPU, once /tmp/smp_stress_go exists (both
# senders spin until then, so that they start together).
blast() {
	ip netns exec b taskset -c "$1" sh -c 'while [ ! -e /tmp/smp_stress_go ]; do :; done; exec "$0" -s /run/netns/a va "$1"' \
		"$DECAP_BLAST" /tmp/smp_stress.bin >/dev/null 2>&1
}
# both: the stream sent by both CPUs at once; waits for both.
both() {
	rm -f /tmp/smp_stress_go
	blast 0 &
	_b0=$!
	blast 1 &
	_b1=$!
	sleep 0.2
	touch /tmp/smp_stress_go
	wait $_b0 $_b1
	sleep 1
}
# sa_window W: b's SA afresh, the module's window W for it.
sa_window() {
	decap_new_sa &&
		ip netns exec b "$IPSEC_RS_TOOL" set sa $DECAP_DST $DECAP_SPI --replay-window "$1"
}

# 1. Exactness.
for w in 65536 1024 32; do
	check "fresh SA, module window $w" sa_window $w
	snap b
	_ok=$(cnt decap_ok) _rp=$(cnt replay_dropped) _old=$(cnt replay_too_old) _u=$(decap_udp_in)
	_c0=$(decap_processed 0) _c1=$(decap_processed 1)
	both
	snap b
	p0=$(($(decap_processed 0) - _c0)) p1=$(($(decap_processed 1) - _c1))
	check "window $w: both CPUs took the stream (CPU 0 $p0, CPU 1 $p1 frames)" [ "$p0" -ge "$N" -a "$p1" -ge "$N" ]
	got=$(($(decap_udp_in) - _u))
	ok_n=$(($(cnt decap_ok) - _ok))
	rp=$(($(cnt replay_dropped) - _rp))
	old=$(($(cnt replay_too_old) - _old))
	life=$(xfrm_packets b $DECAP_SPI $DECAP_SRC $DECAP_DST)
	diag "window $w: delivered $got, decap_ok $ok_n, replayed $rp, too old $old, SA lifetime $life"
	if [ "$w" = 65536 ]; then
		check_eq "window $w: each number delivered once (delivered/decap_ok/SA lifetime), the other copy a replay" \
			"$got/$ok_n/$life/$rp" "$N/$N/$N/$N"
	else
		# Numbers behind a window the other CPU moved on are too old:
		# fewer than N may pass, but never a number twice, and every
		# packet is one outcome.
		check "window $w: no number delivered twice ($got of $N)" [ "$got" -le "$N" ]
		check_eq "window $w: delivered = decap_ok = SA lifetime" "$got/$ok_n" "$life/$life"
		check_eq "window $w: every packet delivered, replayed or too old" "$((got + rp + old))" $((2 * N))
	fi
done

# 2. Churn.
# loop CPU: the churn's stream from CPU again and again until
# /tmp/smp_stress_stop.
loop() {
	ip netns exec b taskset -c "$1" sh -c 'while [ ! -e /tmp/smp_stress_stop ]; do "$0" -s /run/netns/a va "$1" || sleep 0.1; done' \
		"$DECAP_BLAST" /tmp/smp_stress_churn.bin >/dev/null 2>&1
}
tool() { ip netns exec b "$IPSEC_RS_TOOL" "$@" >/dev/null; }
r=1
while [ $r -le "$ROUNDS" ]; do
	rm -f /tmp/smp_stress_stop
	loop 0 &
	LOOPS=$!
	loop 1 &
	LOOPS="$LOOPS $!"
	bad=0
	for w in 64 1024 65536 4096; do
		sleep 0.3
		decap_new_sa || bad=$((bad + 1))
		sleep 0.3
		tool set sa $DECAP_DST $DECAP_SPI --replay-window $w || bad=$((bad + 1))
	done
	if [ $((r % 2)) -eq 0 ]; then
		check "round $r: rmmod under traffic" rmmod_retry ipsec_rs
		sleep 0.3
		check "round $r: insmod under traffic, receive path on" load_module rx_enable=1
		sleep 0.5
	fi
	touch /tmp/smp_stress_stop
	# (Not `wait $LOOPS`: a loop's esp_blast runs its file to the end.)
	for p in $LOOPS; do wait "$p"; done
	LOOPS=
	sleep 1
	snap b
	check_eq "round $r: every command succeeded" "$bad" 0
	s=$(esp_seen)
	check "round $r: the module saw ESP ($s packets since it was loaded)" [ "$s" -gt 0 ]
	check_eq "round $r: every packet seen counted in exactly one outcome" "$(esp_outcomes)" "$s"
	r=$((r + 1))
done

# After the churn, the SA decapsulates as before.
check "fresh SA after the churn" sa_window 65536
snap b
_ok=$(cnt decap_ok) _u=$(decap_udp_in)
both
snap b
check_eq "after the churn: each number delivered once" "$(($(decap_udp_in) - _u))/$(($(cnt decap_ok) - _ok))" "$N/$N"
check "rmmod" unload_module
ktap_finish
