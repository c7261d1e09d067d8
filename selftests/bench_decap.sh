#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Benchmark (make bench, perf kernel): inbound ESP decapsulation, the
# module's receive path against XFRM, for the same SA and the same packets,
# in one boot. `make bench` runs it on a guest whose clock counts
# instructions (run_vm.sh --icount 1): deterministic times, see
# Documentation/testing.rst.
#
#   bench_decap.sh [N [REPS [profile]]]
#       N packets per run (default 40000), REPS repetitions of every run
#       (default 5); "profile" or "profile=SIZE": afterwards, ten more xfrm
#       and ten module runs at SIZE bytes (default 64) under `perf record -a
#       -e cpu-clock`, and the top symbols of each.
#
# The traffic is made once, before any measurement: for 64-, 512- and
# 1400-byte inner UDP payloads, N valid tunnel-mode rfc4106(gcm(aes)) ESP
# packets a -> b with sequence numbers 1..N (selftests/lib/esp_craft.py
# --out). selftests/tools/esp_blast sends them as fast as it can from an
# AF_PACKET socket on a's veth; veth hands every frame to b's stack in the
# sender's own softirq, so the time a run takes is the sender's cost plus
# b's. In b the decapsulated datagrams reach a UDP socket whose filter drops
# them (after XFRM's policy check and the checksum), counted by the kernel;
# esp_blast stops the clock when all N are counted. Runs, back to back for
# each size and repetition, plain first in odd repetitions and last in even
# ones, xfrm and module in alternating order (the SA is replaced before each
# run, so the anti-replay window starts empty):
#   floor   the same frames to a foreign MAC: b drops them at IP input
#           (sending and veth only; subtracted below)
#   plain   XFRM decapsulates, ipsec_rs not loaded
#   xfrm    XFRM decapsulates, ipsec_rs loaded with its receive path off
#   module  ipsec_rs's receive path decapsulates (ipsec-rs set global --rx on)
# Every run must have delivered all N packets, and the right path must have
# done it (XFRM's anti-replay seq reaches N, or the module's decap_ok rises
# by N and XFRM's seq stays 0), else the run fails and its numbers are not
# used. The table gives medians: packets/s and inner payload bit/s over
# the whole run, and "rx pps" = N / (run time - floor time), the receiver's
# own rate; the ratios are module/plain and module/xfrm of rx pps. Target:
# module/plain >= 1.0 at every size.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3 awk sort
require_tool
. "$IPSEC_RS_REPO/selftests/lib/decap_traffic.sh"
[ -x "$DECAP_BLAST" ] || skip_test "needs $DECAP_BLAST (make -C selftests/tools)"
python3 -c 'import cryptography' 2>/dev/null || skip_test "needs python3-cryptography"
[ -f "$IPSEC_RS_KO" ] || skip_test "module not built: $IPSEC_RS_KO"
trap 'rm -f /tmp/bench_decap_*; topo_cleanup' EXIT

N=${1:-40000}
REPS=${2:-5}
PROFILE=${3:-}
SIZES="64 512 1400"
RES=/tmp/bench_decap_results	# lines: SIZE MODE NS REPETITION

ktap_plan
decap_setup

for size in $SIZES; do
	t=$(date +%s)
	made=$(decap_make "$N" "$size" "/tmp/bench_decap_$size.bin")
	check_eq "$N packets of $size bytes made ($(($(date +%s) - t)) s)" "$made" "$N"
done

xfrm_seq() {
	ip -n b -s xfrm state get src 192.0.2.1 dst 192.0.2.2 proto esp spi $DECAP_SPI |
		sed -n 's/.*anti-replay context: seq \(0x[0-9a-f]*\),.*/\1/p'
}
kv() { echo "$OUT" | sed -n "s/.* $1=\([0-9]*\).*/\1/p;s/^$1=\([0-9]*\).*/\1/p"; }
nhex=$(printf '0x%x' "$N")
ms() { echo $(( $(kv done_ns) / 1000000 )); }

# run MODE SIZE: one measured run; records its time in $RES if every
# check passed.
run() {
	_m=$1 _s=$2 _f=/tmp/bench_decap_$2.bin
	decap_new_sa || { not_ok "$_m $_s: cannot replace the SA"; return; }
	if [ "$_m" = floor ]; then
		OUT=$(decap_blast -o "$_f")
		if [ "$(kv sent)/$(kv counted)" = "$N/0" ]; then
			echo "$_s $_m $(kv done_ns) $rep" >>$RES
			ok "$_s B $_m: $N sent, none delivered ($(ms) ms)"
		else
			not_ok "$_s B $_m: $OUT"
		fi
		return
	fi
	OUT=$(decap_blast -w "$_f")
	_seq=$(xfrm_seq)
	_pk=$(xfrm_packets b $DECAP_SPI 192.0.2.1 192.0.2.2)
	_dec=-
	if [ "$_m" != plain ]; then
		_before=$(cnt decap_ok)
		snap b
		_dec=$(( $(cnt decap_ok) - _before ))
	fi
	case $_m in
	module) _want="$N/$N/0/0x0/$N" ;;
	xfrm) _want="$N/$N/0/$nhex/0" ;;
	plain) _want="$N/$N/0/$nhex/-" ;;
	esac
	# delivered / SA lifetime packets / checksum errors / XFRM's replay seq
	# (moves only when XFRM decrypts) / the module's decap_ok rise
	_got="$(kv counted)/$_pk/$(kv csum_errors)/$_seq/$_dec"
	if [ "$_got" = "$_want" ]; then
		echo "$_s $_m $(kv done_ns) $rep" >>$RES
		ok "$_s B $_m: delivered/SA packets/csum errors/XFRM seq/decap_ok $_got ($(ms) ms)"
	else
		not_ok "$_s B $_m: delivered/SA packets/csum errors/XFRM seq/decap_ok got $_got, want $_want ($OUT)"
	fi
	[ "$(kv rcv_drops)" = 0 ] || diag "$_s B $_m: $(kv rcv_drops) backlog drops"
}
rx() { ip netns exec b "$IPSEC_RS_TOOL" set global --rx "$1" >/dev/null; }

: >$RES
# loaded ORDER...: the module loaded, the runs in that order, unloaded.
loaded() {
	load_module || die "insmod failed"
	snap b
	for _l; do
		[ "$_l" = module ] && rx on || rx off
		run "$_l" "$size"
	done
	unload_module || not_ok "rmmod after the $size B runs of repetition $rep"
}
rep=1
while [ $rep -le "$REPS" ]; do
	diag "repetition $rep of $REPS"
	# Each size's four runs back to back, so the ratios within a
	# repetition compare runs seconds apart; the order alternates between
	# repetitions so that neither path always runs first.
	for size in $SIZES; do
		run floor $size
		if [ $((rep % 2)) = 1 ]; then
			run plain $size
			loaded xfrm module
		else
			loaded module xfrm
			run plain $size
		fi
	done
	rep=$((rep + 1))
done

# median SIZE MODE: the median run time in ns ("" if no good run).
median() {
	awk -v s="$1" -v m="$2" '$1 == s && $2 == m { print $3 }' $RES | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
# paired SIZE MODE: for each repetition, the module's receiver rate over
# MODE's, each run's time minus the same repetition's floor; prints
# "median min max r1 r2 ..." (nothing if no repetition has all three runs).
paired() {
	awk -v s="$1" -v m="$2" -v R="$REPS" '$1 == s { t[$2 "," $4] = $3 }
	END {
		n = 0; line = ""
		for (r = 1; r <= R; r++) {
			f = t["floor," r]; a = t[m "," r]; b = t["module," r]
			if (f == "" || a == "" || b == "" || a <= f || b <= f) continue
			v[++n] = (a - f) / (b - f); line = line sprintf(" %.2f", v[n])
		}
		if (!n) exit
		for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
		printf "%.3f %.2f %.2f%s\n", (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2, v[1], v[n], line
	}' $RES
}
diag ""
diag "inbound decapsulation, rfc4106(gcm(aes)) tunnel mode, $N packets per run, median of $REPS"
diag "(pps, Mbit/s: over the whole run, sender included; rx pps: N / (run - floor run))"
diag "size  mode        pps  Mbit/s     rx pps  module/mode (rx pps)"
for size in $SIZES; do
	fl=$(median $size floor)
	for m in floor plain xfrm module; do
		t=$(median $size $m)
		[ -n "$t" ] || { diag "$size  $m  no valid run"; continue; }
		eval "t_$m=$t"
	done
	for m in plain xfrm module; do
		eval "t=\${t_$m:-}"
		[ -n "$t" ] && [ -n "$fl" ] || continue
		awk -v n="$N" -v s="$size" -v m="$m" -v t="$t" -v f="$fl" -v tm="${t_module:-0}" 'BEGIN {
			pps = n * 1e9 / t; rx = (t > f) ? n * 1e9 / (t - f) : 0
			rxm = (tm > f) ? n * 1e9 / (tm - f) : 0
			r = (m == "module" || rx == 0) ? "" : sprintf("%.3f", rxm / rx)
			printf "# %4d  %-6s %8.0f %7.2f %10.0f  %s\n", s, m, pps, pps * s * 8 / 1e6, rx, r
		}'
	done
	[ -n "$fl" ] && awk -v n="$N" -v s="$size" -v f="$fl" 'BEGIN {
		printf "# %4d  floor  %8.0f          (sending and veth alone)\n", s, n * 1e9 / f }'
	# The verdict: ratios paired within each repetition (a size's runs are
	# back to back), less sensitive to the host's load drifting than a
	# ratio of medians.
	p=$(paired $size plain) x=$(paired $size xfrm)
	if [ -n "$p" ]; then
		set -- $p
		verdict="TARGET >= 1.0 MISSED"
		awk -v r="$1" 'BEGIN { exit !(r >= 1.0) }' && verdict="target >= 1.0 met"
		diag "$size B: module/plain (rx, per repetition) median $1 [min $2, max $3]:$(echo "$p" | cut -d' ' -f4-): $verdict"
	fi
	[ -n "$x" ] && set -- $x && diag "$size B: module/xfrm  (rx, per repetition) median $1 [min $2, max $3]:$(echo "$x" | cut -d' ' -f4-)"
	unset t_floor t_plain t_xfrm t_module
done
check "every mode has a valid run at every size" \
	test "$(awk '$2 != "floor"' $RES | awk '{ print $1, $2 }' | sort -u | wc -l)" -eq 9

# Where the receiver's time goes (the module loaded).
case $PROFILE in
profile) PSIZE=64 ;;
profile=*) PSIZE=${PROFILE#profile=} ;;
*) PSIZE= ;;
esac
if [ -n "$PSIZE" ]; then
	if ! command -v perf >/dev/null 2>&1; then
		diag "SKIP profile: no perf"
	else
		# Under TCG a sample interrupt takes long: without this, the
		# kernel throttles sampling to a few hundred per second.
		sysctl -qw kernel.perf_cpu_time_max_percent=0 kernel.perf_event_max_sample_rate=100000
		check "insmod for the profile" load_module
		snap b
		for m in xfrm module; do
			[ $m = module ] && rx on || rx off
			# Ten runs (each on a fresh SA, decap_new_sa) under one system-wide
			# recording: a few hundred samples each under TCG.
			perf record -q -a -g -e cpu-clock -c 20000 -o /tmp/bench_decap_perf.$m 2>/dev/null &
			perf_pid=$!
			sleep 2
			: >/tmp/bench_decap_out
			i=0
			while [ $i -lt 10 ]; do
				decap_new_sa
				decap_blast -w /tmp/bench_decap_$PSIZE.bin >>/tmp/bench_decap_out 2>&1
				i=$((i + 1))
			done
			kill -INT $perf_pid
			wait $perf_pid
			check_eq "profiled $PSIZE B $m runs delivered every packet" \
				"$(sed -n 's/.* counted=\([0-9]*\).*/\1/p' /tmp/bench_decap_out | sort -u)" "$N"
			diag "profile, $PSIZE B, $m, $(perf report -i /tmp/bench_decap_perf.$m --stdio 2>/dev/null | sed -n 's/^# Samples: \([^ ]*\).*/\1/p' | head -1) samples"
			diag "self time (perf report --no-children --sort sym, top 40):"
			perf report -q -i /tmp/bench_decap_perf.$m --stdio --no-children -g none --sort sym 2>/dev/null |
				grep -v '^$' | head -40 | sed 's/^/#   /'
			if [ -n "${IPSEC_RS_OUT:-}" ]; then
				perf script -i /tmp/bench_decap_perf.$m -F comm,ip,sym,symoff >"$IPSEC_RS_OUT/perf-$PSIZE-$m.stacks" 2>/dev/null
				diag "call stacks of every sample in $IPSEC_RS_OUT/perf-$PSIZE-$m.stacks (scripts/perf-tree)"
			fi
			diag "with callees (perf report --children --sort sym, top 60):"
			perf report -q -i /tmp/bench_decap_perf.$m --stdio --children -g none --sort sym 2>/dev/null |
				grep -v '^$' | head -60 | sed 's/^/#   /'
		done
		check "rmmod after the profile" unload_module
	fi
fi
ktap_finish
