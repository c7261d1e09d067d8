#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Benchmark (make bench, perf kernel, the host's clock, two virtual CPUs):
# what an invalid-SPI flood does to the throughput of a valid SA (issue 21,
# item 4).
#
#   bench_flood.sh [N [REPS]]
#       N valid packets per run (default 20000), REPS repetitions (default 3)
#
# A valid SA a -> b (tunnel-mode rfc4106(gcm(aes)), 64-byte inner UDP
# payloads, lib/decap_traffic.sh's traffic) is sent by
# selftests/tools/esp_blast pinned to CPU 0; veth hands each frame to b's
# stack on the sending CPU, so b decapsulates it there. The flood:
# selftests/tools/esp_flood pinned to CPU 1, ESP with random SPIs from
# random spoofed sources of 198.18.0.0/15 to b's address, as fast as it can
# send, without end (killed after the run; its socket bypasses a's
# policies, so it is not encapsulated in the valid SA); b receives it on
# CPU 1, as a router whose NIC spreads flows over its queues receives a
# flood on other
# CPUs than a given SA's (a flood on the SA's own CPU takes that CPU's time
# in proportion to its rate, whatever each packet costs). So what the
# flood can take from the valid SA is what the two CPUs share: locks,
# counters, the invalid-SPI flow table and rate limiter, events to a
# listener (ipsec-rs monitor subscribed in b), log lines.
#
# Runs, per repetition (a fresh SA each; the order alternating):
#   plain, plain+flood    XFRM decapsulates (ipsec_rs not loaded); the
#                         flood is dropped by XFRM (XfrmInNoStates)
#   module, module+flood  ipsec_rs loaded, receive path and invalid-SPI
#                         detection on: it decapsulates the SA and detects,
#                         counts, rate-limits and reports the flood
# Every run must deliver all N packets by the right path; the flood runs
# must have received at least 1,000 flood packets in b during the valid
# SA's run (its rate is printed: b's XfrmInNoStates, which the module
# counts too, over the run). Printed: the valid SA's packets/s per mode
# (median), with the flood over without, and the target: module+flood at
# least 0.80 x module. On QEMU's software emulation with the host's clock:
# run it on an otherwise idle host (make bench does).
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3 awk sort taskset
require_tool
. "$IPSEC_RS_REPO/selftests/lib/decap_traffic.sh"
FLOOD=$IPSEC_RS_REPO/selftests/tools/esp_flood
decap_require
[ -x "$FLOOD" ] || skip_test "needs $FLOOD (make -C selftests/tools)"
decap_require_cpus 2
FLOOD_PID= MON=
trap 'kill $FLOOD_PID $MON 2>/dev/null; rm -f /tmp/bench_flood_*; topo_cleanup' EXIT

N=${1:-20000}
REPS=${2:-3}
RES=/tmp/bench_flood_results	# lines: MODE NS FLOOD_PPS REPETITION

ktap_plan
decap_setup
made=$(decap_make "$N" 64 /tmp/bench_flood_valid.bin)
check_eq "$N valid packets made" "$made" "$N"
: >$RES

# The flood's packets into b: b's XfrmInNoStates (XFRM's count of packets
# for no SA; the module counts the ones it drops there too).
nhex=$(printf '0x%x' "$N")
# flood_start / flood_stop: esp_flood on CPU 1, sending until stopped.
flood_start() {
	ip netns exec a taskset -c 1 "$FLOOD" 192.0.2.2 198.18.0.0/15 4000000000 "$rep" >/dev/null &
	FLOOD_PID=$!
	# Let it reach its rate before the measured run.
	sleep 1
}
flood_stop() {
	kill "$FLOOD_PID" 2>/dev/null
	wait "$FLOOD_PID" 2>/dev/null
	FLOOD_PID=
}
# run MODE: one run of the valid SA's N packets (MODE ending in +flood:
# under the flood); its time in $RES if every check passed.
run() {
	_m=$1
	decap_new_sa || { not_ok "$_m: cannot replace the SA"; return; }
	decap_settle
	case $_m in *+flood) flood_start ;; esac
	[ -n "$LOADED" ] && snap b && _d0=$(cnt decap_ok)
	_n0=$(xfrm_stat b XfrmInNoStates)
	OUT=$(decap_blast -w /tmp/bench_flood_valid.bin 0)
	_n1=$(xfrm_stat b XfrmInNoStates)
	case $_m in *+flood) flood_stop ;; esac
	_fl=$((_n1 - _n0))
	_seq=$(xfrm_seq $DECAP_SPI 192.0.2.1 192.0.2.2)
	if [ -n "$LOADED" ]; then
		snap b
		_got="$(kv counted)/$(($(cnt decap_ok) - _d0))/$_seq" _want="$N/$N/0x0"
	else
		_got="$(kv counted)/-/$_seq" _want="$N/-/$nhex"
	fi
	case $_m in
	*+flood)
		if [ "$_fl" -lt 1000 ]; then
			not_ok "$_m: only $_fl flood packets reached b during the run"
			return
		fi
		;;
	esac
	if [ "$_got" != "$_want" ]; then
		not_ok "$_m: delivered/decap_ok rise/XFRM seq got $_got, want $_want ($OUT)"
		return
	fi
	_pps=$(awk -v f="$_fl" -v t="$(kv done_ns)" 'BEGIN { printf "%d", f * 1e9 / t }')
	echo "$_m $(kv done_ns) $_pps $rep" >>$RES
	ok "$_m: $N delivered by the right path in $(($(kv done_ns) / 1000000)) ms; flood into b: $_fl packets ($_pps/s)"
}
LOADED=
plain() { run plain; run plain+flood; }
module() {
	load_module || die "insmod failed"
	LOADED=1
	ip netns exec b "$IPSEC_RS_TOOL" set global --rx on --invalid-spi on >/dev/null ||
		not_ok "receive path and invalid-SPI detection on"
	monitor_start b /tmp/bench_flood_events.json || not_ok "monitor subscribed in b"
	MON=$MONITOR_PID
	in_turn "run module" "run module+flood"
	kill $MON 2>/dev/null
	wait $MON 2>/dev/null
	MON=
	snap b
	diag "module: $(cnt invalid_spi_v4) invalid SPIs detected, $(cnt events_sent) events sent, $(cnt suppressed_flow) + $(cnt suppressed_global) suppressed by the limits, $(grep -c '"event"' /tmp/bench_flood_events.json) received"
	unload_module || not_ok "rmmod after repetition $rep"
	LOADED=
}
rep=1
while [ $rep -le "$REPS" ]; do
	diag "repetition $rep of $REPS"
	in_turn plain module
	rep=$((rep + 1))
done

# med MODE COLUMN: the median of a column (2: time, 3: flood rate).
med() { awk -v m="$1" -v c="$2" '$1 == m { print $c }' $RES | median_of; }
# paired MODE: per repetition, MODE's rate under the flood over its rate
# without (the two runs of a repetition are seconds apart); prints "median
# min max r1 r2 ..." (nothing without a complete pair).
paired() {
	awk -v m="$1" -v R="$REPS" '{ t[$1 "," $4] = $2 }
	END {
		for (r = 1; r <= R; r++) {
			a = t[m "," r]; b = t[m "+flood," r]
			if (a != "" && b != "") printf "%.12g\n", a / b
		}
	}' $RES | ratio_summary
}
diag ""
diag "a valid SA's throughput under an invalid-SPI flood ($N packets of 64 B on CPU 0, the flood on"
diag "CPU 1), medians of $REPS; with/without: paired within each repetition"
diag "mode            valid pps   flood pps into b"
for m in plain plain+flood module module+flood; do
	t=$(med $m 2)
	[ -n "$t" ] || continue
	awk -v m="$m" -v n="$N" -v t="$t" -v f="$(med $m 3)" 'BEGIN {
		printf "# %-14s %10.0f %18s\n", m, n * 1e9 / t, (m ~ /flood/) ? f : "" }'
done
for m in plain module; do
	p=$(paired $m)
	[ -n "$p" ] || { diag "$m: no repetition with both runs"; continue; }
	set -- $p
	v=
	if [ $m = module ]; then
		v=": TARGET >= 0.80 MISSED"
		awk -v r="$1" 'BEGIN { exit !(r >= 0.80) }' && v=": target >= 0.80 met"
	fi
	r=$1 lo=$2 hi=$3
	shift 3
	diag "$m: the valid SA's rate with the flood / without (per repetition) median $r [min $lo, max $hi]: $*$v"
done
check "every mode has a valid run" test "$(awk '{ print $1 }' $RES | sort -u | wc -l)" -eq 4
ktap_finish
