#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Benchmark (make bench, perf kernel, instruction clock): how the cost of a
# received packet and the kernel memory of an SA grow with the number of
# SAs installed, for XFRM and for the module's receive path (issue 21,
# item 3).
#
#   bench_scale.sh [N [REPS [K...]]]
#       about N packets per measured run (default 20000), REPS repetitions
#       (default 3), for K SAs in turn (default 1 100 10000).
#
# For each K, b's inbound SAs are replaced by K tunnel-mode
# rfc4106(gcm(aes)) SAs from a (SPIs 0x100000 up, window 32, one key), all
# under the one inbound policy, and traffic is spread over all of them:
# round by round, every SA's packet 1, then every SA's packet 2, ... (M =
# N / K rounds, at least 1; selftests/lib/esp_craft.py --spis), 64-byte
# inner UDP payloads, sent by selftests/tools/esp_blast as bench_decap.sh
# does (lib/decap_traffic.sh). Round 1 is a warm-up, not measured: it makes
# the module's per-SA entries (the first packet of an SA allocates them) and
# touches every SA once, so that the measured rounds 2..M+1 show the cost of
# a packet in steady state. Runs, per repetition (the SAs made afresh for
# each, the order of plain and module alternating):
#   floor   the measured frames to a foreign MAC (sending and veth alone)
#   plain   XFRM decapsulates, ipsec_rs not loaded
#   module  ipsec_rs loaded, its receive path on, decapsulating
# Every run must deliver every packet, by the right path (the module's
# decap_ok rises by all of them and the first and last SAs' XFRM replay
# state does not move; or, plain, those SAs' XFRM seq is at M + 1).
#
# Printed per K (medians): the receiver's time a packet (run less floor,
# over the packets; with the instruction clock, 2 ns are one instruction),
# module/plain, and kernel memory per SA: XFRM's (slab objects in use, from
# /proc/slabinfo, plus vmalloc and per-CPU memory, after installing the K
# SAs less before, over K) and the module's own on top of it (the same
# measure across the warm-up round that makes its entries). Target: the
# module's cost a packet at the largest K at most 1.10 x its cost at the
# smallest. What the instruction clock cannot show: cache misses (QEMU
# models no caches); a router's 10,000 SAs do not fit in its caches, for
# XFRM's state as for the module's entries. See Documentation/testing.rst.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3 awk sort dd od
[ -d /sys/kernel/slab ] || skip_test "needs /sys/kernel/slab (SLUB with sysfs)"
require_tool
. "$IPSEC_RS_REPO/selftests/lib/decap_traffic.sh"
decap_require
[ -r /proc/slabinfo ] || skip_test "needs /proc/slabinfo (CONFIG_SLUB_DEBUG)"
trap 'rm -f /tmp/bench_scale_*; topo_cleanup' EXIT

N=${1:-20000}
REPS=${2:-3}
[ $# -ge 2 ] && shift 2 || set --
COUNTS=${*:-1 100 10000}
BASE_SPI=$((0x100000))
RES=/tmp/bench_scale_results	# lines: K MODE NS REPETITION
MEM=/tmp/bench_scale_mem	# lines: K WHO BYTES_PER_SA

ktap_plan
decap_setup
: >$RES
: >$MEM

# kmem: kernel memory in use, in bytes: slab objects in use (active objects
# x object size), vmalloc and per-CPU memory. SLUB counts every object of a
# CPU's own slabs as in use: each cache is shrunk first, which gives those
# slabs back to its lists, where their free objects are counted.
kmem() {
	for _s in /sys/kernel/slab/*/shrink; do echo 1 >"$_s"; done 2>/dev/null
	{
		awk 'NR > 2 { s += $2 * $4 } END { printf "%d\n", s }' /proc/slabinfo
		awk '/^(VmallocUsed|Percpu):/ { s += $2 } END { printf "%d\n", s * 1024 }' /proc/meminfo
	} | awk '{ s += $1 } END { printf "%d\n", s }'
}
# flush: b's SAs deleted (its outbound one too: nothing is sent b -> a),
# and freed: XFRM frees deleted states from a work item after a grace
# period.
flush() {
	ip -n b xfrm state flush proto esp
	sleep 2
}
# sas K: K inbound SAs from a added to b (one netlink batch).
sas() {
	awk -v k="$1" -v b="$BASE_SPI" -v key="$KEY_AB" 'BEGIN {
		for (i = 0; i < k; i++)
			printf "xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x%x mode tunnel replay-window 32 aead rfc4106(gcm(aes)) %s 128\n", b + i, key
	}' >/tmp/bench_scale_sas
	ip -n b -batch /tmp/bench_scale_sas
}
# seq_of SPI: XFRM's anti-replay seq of one of the K SAs.
seq_of() { xfrm_seq "$(printf '0x%x' "$1")" 192.0.2.1 192.0.2.2; }
# blast FILE COUNT WHAT: FILE's COUNT packets sent and all delivered.
blast() {
	OUT=$(decap_blast -w "$1")
	[ "$(kv sent)/$(kv counted)/$(kv csum_errors)" = "$2/$2/0" ] && return
	not_ok "$K SAs, $3: sent/delivered/csum errors $(kv sent)/$(kv counted)/$(kv csum_errors), want $2/$2/0 ($OUT)"
	return 1
}

# measured MODE: one run of the measured rounds on K fresh SAs (warm-up
# round first); its time in $RES if every check passed.
measured() {
	_m=$1
	flush
	_mem0=$(kmem)
	sas "$K" || { not_ok "$K SAs, $_m: cannot install them"; return; }
	_mem1=$(kmem)
	[ "$_m" = module ] && snap b && _d0=$(cnt decap_ok)
	blast /tmp/bench_scale_warm "$K" "$_m warm-up round" || return
	_mem2=$(kmem)
	[ "$_m" = module ] && snap b && _d1=$(cnt decap_ok)
	blast /tmp/bench_scale_meas "$MEAS" "$_m" || return
	_lo=$(seq_of $BASE_SPI) _hi=$(seq_of $((BASE_SPI + K - 1)))
	if [ "$_m" = module ]; then
		snap b
		_got="$((_d1 - _d0))/$(($(cnt decap_ok) - _d1))/$_lo/$_hi" _want="$K/$MEAS/0x0/0x0"
	else
		_got="-/-/$_lo/$_hi" _want="-/-/$(printf '0x%x/0x%x' $((M + 1)) $((M + 1)))"
	fi
	if [ "$_got" != "$_want" ]; then
		not_ok "$K SAs, $_m: decap_ok warm-up/measured, first and last SA's XFRM seq: got $_got, want $_want"
		return
	fi
	echo "$K $_m $(kv done_ns) $rep" >>$RES
	echo "$K xfrm $(((_mem1 - _mem0) / K))" >>$MEM
	[ "$_m" = module ] && echo "$K module $(((_mem2 - _mem1) / K))" >>$MEM
	ok "$K SAs, $_m: $MEAS packets delivered by the right path ($(($(kv done_ns) / 1000000)) ms)"
}
plain() { measured plain; }
module() {
	load_module || die "insmod failed"
	ip netns exec b "$IPSEC_RS_TOOL" set global --rx on >/dev/null
	measured module
	unload_module || not_ok "rmmod after the $K-SA module run of repetition $rep"
}

# rounds K: the measured rounds for K SAs, N / K but at least one.
rounds() { echo $(($1 > N ? 1 : N / $1)); }
for K in $COUNTS; do
	M=$(rounds "$K")
	MEAS=$((M * K))
	t=$(date +%s)
	made=$(ip netns exec a python3 "$IPSEC_RS_REPO/selftests/lib/esp_craft.py" --dev va \
		--dst-mac "$DECAP_MAC_B" --src 192.0.2.1 --dst 192.0.2.2 --spi $BASE_SPI --spis "$K" \
		--key "$KEY_AB" --seq "1-$((M + 1))" --size 64 --inner-dport 7777 --out /tmp/bench_scale_all)
	check_eq "$K SAs: $M measured rounds and a warm-up made ($(($(date +%s) - t)) s)" "$made" $(((M + 1) * K))
	# Every frame has the same length: the warm-up round is the first K
	# records of the file, the measured rounds the rest.
	rec=$(od -An -tu1 -N2 /tmp/bench_scale_all | awk '{ print $1 * 256 + $2 + 2 }')
	dd if=/tmp/bench_scale_all of=/tmp/bench_scale_warm bs="$rec" count="$K" status=none
	dd if=/tmp/bench_scale_all of=/tmp/bench_scale_meas bs="$rec" skip="$K" status=none
	rm -f /tmp/bench_scale_all
	rep=1
	while [ $rep -le "$REPS" ]; do
		OUT=$(decap_blast -o /tmp/bench_scale_meas)
		if [ "$(kv sent)/$(kv counted)" = "$MEAS/0" ]; then
			echo "$K floor $(kv done_ns) $rep" >>$RES
		else
			not_ok "$K SAs, floor: $OUT"
		fi
		in_turn plain module
		rep=$((rep + 1))
	done
	flush
	rm -f /tmp/bench_scale_warm /tmp/bench_scale_meas
done

# med K MODE: the median of MODE's run times at K SAs.
med() { awk -v k="$1" -v m="$2" '$1 == k && $2 == m { print $3 }' $RES | median_of; }
# memmed K WHO: the median bytes per SA.
memmed() { awk -v k="$1" -v w="$2" '$1 == k && $2 == w { print $3 }' $MEM | median_of; }
diag ""
diag "scale: 64-byte inner UDP payloads spread round by round over K SAs; receiver's time a"
diag "packet = (run - floor) / packets, median of $REPS (instruction clock: 2 ns an instruction);"
diag "memory a SA: XFRM's state, and the module's own entry on top of it (from 1,000 SAs:"
diag "below, other allocations of the run weigh more than the SAs)"
diag "     K  packets  plain ns/pkt  module ns/pkt  module/plain  XFRM B/SA  module B/SA"
first= last=
for K in $COUNTS; do
	f=$(med "$K" floor) p=$(med "$K" plain) m=$(med "$K" module)
	n=$(($(rounds "$K") * K))
	if [ -z "$f" ] || [ -z "$p" ] || [ -z "$m" ]; then
		diag "$K SAs: no complete set of runs"
		continue
	fi
	# Each path's time a packet, once: the table's line and the verdict's.
	pp=$(awk -v n="$n" -v f="$f" -v p="$p" 'BEGIN { printf "%.3f", (p - f) / n }')
	mp=$(awk -v n="$n" -v f="$f" -v m="$m" 'BEGIN { printf "%.3f", (m - f) / n }')
	diag "$(awk -v k="$K" -v n="$n" -v pp="$pp" -v mp="$mp" -v xm="$(memmed "$K" xfrm)" -v mm="$(memmed "$K" module)" 'BEGIN {
		if (k < 1000) xm = mm = "-"
		printf "%6d %8d %13.1f %14.1f %13.3f %10s %12s", k, n, pp, mp, pp / mp, xm, mm
	}')"
	[ -n "$first" ] || { first=$mp; firstp=$pp; firstk=$K; }
	last=$mp lastp=$pp lastk=$K
done
check "every K has a floor, a plain and a module run" \
	test "$(awk '{ print $1, $2 }' $RES | sort -u | wc -l)" -eq $(($(echo $COUNTS | wc -w) * 3))
if [ -n "$first" ] && [ "$firstk" != "$lastk" ]; then
	v=": TARGET <= 1.10 MISSED"
	awk -v a="$first" -v b="$last" 'BEGIN { exit !(b / a <= 1.10) }' && v=": target <= 1.10 met"
	diag "cost a packet from $firstk to $lastk SAs: module $(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.3f", b / a }') x$v; plain XFRM $(awk -v a="$firstp" -v b="$lastp" 'BEGIN { printf "%.3f", b / a }') x"
fi
ktap_finish
