#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Benchmark (make bench, perf kernel): inbound ESP decapsulation, the
# module's receive path against XFRM, for the same SA and the same packets,
# in one boot. `make bench` runs it on a guest whose clock counts
# instructions (run_vm.sh --icount 1): deterministic times, see
# Documentation/testing.rst.
#
#   bench_decap.sh [N [REPS [WORD...]]]
#       N packets per run (default 40000), REPS repetitions of every run
#       (default 5). WORDs: "profile" or "profile=SIZE": afterwards, ten
#       more xfrm and ten module runs at SIZE bytes (default 64) under
#       `perf record -a -e cpu-clock`, and the top symbols of each;
#       "no-esn", "no-gro", "no-xfrmi", "no-vti": without the ESN, the
#       GRO, the XFRM-interface or the vti runs below; "v6":
#       IPv6 outside and inside (2001:db8::1 -> ::2, the UDP sink an IPv6
#       socket, esp6_offload for the xfrm-gro runs; 1360 bytes instead of
#       1400, which would not fit the link) instead of IPv4.
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
# and, as routers run XFRM (issue 21):
#   plain-esn, module-esn   the SA with ESN and a 1,024-packet window
#           (XFRM's bitmap mode), packets made for it; the module not
#           loaded, then decapsulating
#   plain-xfrmi, module-xfrmi   the SA of an XFRM interface (if_id 9, b's
#           interface ipsec9: the decapsulated packets arrive on it and
#           are checked against its policy), the same packets; the
#           module not loaded, then decapsulating (route-based VPNs)
#   plain-vti, module-vti   the SA of a vti tunnel (b's vti7, input key
#           7, the SA's mark: vti claims the packets, XFRM decapsulates
#           them with its receive callback; or the module in vti's place,
#           with the policy check of the tunnel's mark and the scrub), the
#           same packets; the module not loaded, then decapsulating
#   floor-gro, xfrm-gro, module-gro   GRO on b's veth (ethtool -K vb gro
#           on: veth then receives through NAPI and GRO, as a NIC does);
#           xfrm-gro: the kernel's ESP offload module loaded (esp4_offload,
#           esp6_offload with v6; =m in distribution kernels), which takes
#           ESP in GRO (esp4_gro_receive) and decapsulates it there, and
#           ipsec_rs not loaded; module-gro: it not loaded, ipsec_rs loaded
#           with rx_gro=1, taking ESP inside GRO itself (every packet must
#           be counted in esp_gro). (With esp4_offload loaded and rx_gro=0,
#           XFRM takes every packet of a known SA in GRO, before ipsec_rs's
#           handler: the "gro-bypass" run, whose packets must all reach
#           XFRM.)
# Every run must have delivered all N packets, and the right path must have
# done it (XFRM's anti-replay seq reaches N, or the module's decap_ok rises
# by N and XFRM's seq stays 0), else the run fails and its numbers are not
# used. The table gives medians: packets/s and inner payload bit/s over
# the whole run, and "rx pps" = N / (run time - floor time), the receiver's
# own rate (the gro runs less floor-gro); the ratios are module/plain,
# module/xfrm, module-esn/plain-esn, module-xfrmi/plain-xfrmi,
# module-vti/plain-vti and module-gro/xfrm-gro of rx pps. Targets:
# module/plain >= 1.0, module-gro/xfrm-gro >= 1.05, module-esn/plain-esn
# >= 1.0, module-xfrmi/plain-xfrmi >= 1.0 and module-vti/plain-vti >= 1.0
# at every size.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3 awk sort
require_tool
. "$IPSEC_RS_REPO/selftests/lib/decap_traffic.sh"
decap_require
trap 'rm -f /tmp/bench_decap_*; topo_cleanup' EXIT

N=${1:-40000}
REPS=${2:-5}
[ $# -ge 2 ] && shift 2 || set --
PROFILE= ESN=1 GRO=1 XFRMI=1 VTI=1 FAMILY=4
for w; do
	case $w in
	profile | profile=*) PROFILE=$w ;;
	no-esn) ESN= ;;
	no-gro) GRO= ;;
	no-xfrmi) XFRMI= ;;
	no-vti) VTI= ;;
	v6) FAMILY=6 ;;
	*) die "unknown argument '$w' (profile[=SIZE], no-esn, no-gro, no-xfrmi, no-vti, v6)" ;;
	esac
done
decap_family $FAMILY
SIZES="64 512 1400"
# Over IPv6 the largest is 1360: a 1400-byte payload in IPv6 in ESP in IPv6
# is some 1,520 bytes, more than the link's 1,500 (1360 fills it).
[ $FAMILY = 4 ] || SIZES="64 512 1360"
if [ -n "$GRO" ]; then
	command -v ethtool >/dev/null || die "the gro runs need ethtool (make setup installs it; no-gro leaves them out)"
	[ -f "$DECAP_OFFLOAD_KO" ] || die "the gro runs need the kernel's $DECAP_OFFLOAD.ko ($DECAP_OFFLOAD_KO: CONFIG_INET${DECAP_V6:+6}_ESP_OFFLOAD=m, the perf kernel has it; no-gro leaves them out)"
fi
RES=/tmp/bench_decap_results	# lines: SIZE MODE NS REPETITION

ktap_plan
decap_setup
[ -z "$XFRMI" ] || check "b's XFRM interface ipsec9 (if_id 9) and its inbound policy" decap_xfrmi

for size in $SIZES; do
	t=$(date +%s)
	made=$(decap_make "$N" "$size" "/tmp/bench_decap_$size.bin")
	check_eq "$N packets of $size bytes made ($(($(date +%s) - t)) s)" "$made" "$N"
	[ -n "$ESN" ] || continue
	made=$(decap_make "$N" "$size" "/tmp/bench_decap_esn_$size.bin" esn)
	check_eq "$N packets of $size bytes for the ESN SA made" "$made" "$N"
done

# xfrm_seq [mark M]: XFRM's highest sequence number received (the low half
# with ESN).
xfrm_seq() {
	ip -n b -s xfrm state get src $DECAP_SRC dst $DECAP_DST proto esp spi $DECAP_SPI "$@" |
		sed -n 's/.*anti-replay context: seq \(0x[0-9a-f]*\),.*/\1/p;s/.* seq-hi 0x[0-9a-f]*, seq \(0x[0-9a-f]*\),.*/\1/p'
}
# napi_pkts: the packets b's veth received through NAPI (all its queues).
napi_pkts() {
	ip netns exec b ethtool -S vb | awk '/rx_queue_[0-9]+_xdp_packets:/ { n += $2 } END { print n + 0 }'
}
# napi_since BEFORE: the NAPI packets since BEFORE, N if there were more (a
# neighbour solicitation or the like crossed the link meanwhile: said).
napi_since() {
	_n=$(($(napi_pkts) - $1))
	[ $_n -gt "$N" ] && diag "$(($_n - N)) other frame(s) through NAPI during the run" >&2 && _n=$N
	echo $_n
}
nhex=$(printf '0x%x' "$N")
ms() { echo $(( $(kv done_ns) / 1000000 )); }

# run MODE SIZE: one measured run; records its time in $RES if every
# check passed. LOADED: whether ipsec_rs is loaded (by loaded()).
LOADED=
run() {
	_m=$1 _s=$2 _f=/tmp/bench_decap_$2.bin _sa=
	case $_m in
	*-esn) _f=/tmp/bench_decap_esn_$2.bin _sa=esn ;;
	*-xfrmi) _sa=xfrmi ;;
	*-vti) _sa=vti ;;
	esac
	_mark=
	[ "$_sa" != vti ] || _mark="mark 7"
	decap_new_sa $_sa || { not_ok "$_m $_s: cannot replace the SA"; return; }
	decap_settle
	# The gro runs must have gone through NAPI and GRO (napi_pkts up by N).
	_napi=- _nwant=-
	case $_m in *-gro | gro-*) _napi=$(napi_pkts) _nwant=$N ;; esac
	if [ "${_m%-gro}" = floor ]; then
		OUT=$(decap_blast -o "$_f")
		[ "$_napi" = - ] || _napi=$(napi_since $_napi)
		if [ "$(kv sent)/$(kv counted)/$_napi" = "$N/0/$_nwant" ]; then
			echo "$_s $_m $(kv done_ns) $rep" >>$RES
			ok "$_s B $_m: $N sent, none delivered, through NAPI: $_napi ($(ms) ms)"
		else
			not_ok "$_s B $_m: through NAPI $_napi (want $_nwant): $OUT"
		fi
		return
	fi
	OUT=$(decap_blast -w "$_f")
	[ "$_napi" = - ] || _napi=$(napi_since $_napi)
	_seq=$(xfrm_seq $_mark)
	_pk=$(xfrm_packets b $DECAP_SPI $DECAP_SRC $DECAP_DST $_mark)
	_dec=- _tg=-
	if [ -n "$LOADED" ]; then
		_before=$(cnt decap_ok) _gbefore=$(cnt esp_gro)
		snap b
		_dec=$(( $(cnt decap_ok) - _before )) _tg=$(( $(cnt esp_gro) - _gbefore ))
	fi
	case $_m in
	module-gro) _want="$N/$N/0/0x0/$N/$N" ;;
	module*) _want="$N/$N/0/0x0/$N/0" ;;
	*) [ -n "$LOADED" ] && _want="$N/$N/0/$nhex/0/0" || _want="$N/$N/0/$nhex/-/-" ;;
	esac
	# delivered / SA lifetime packets / checksum errors / XFRM's replay seq
	# (moves only when XFRM decrypts) / the module's decap_ok rise / of
	# them taken inside GRO (esp_gro) / received through NAPI (gro runs)
	_got="$(kv counted)/$_pk/$(kv csum_errors)/$_seq/$_dec/$_tg/$_napi"
	_want=$_want/$_nwant
	if [ "$_got" = "$_want" ]; then
		echo "$_s $_m $(kv done_ns) $rep" >>$RES
		ok "$_s B $_m: delivered/SA packets/csum errors/XFRM seq/decap_ok/esp_gro/NAPI $_got ($(ms) ms)"
	else
		not_ok "$_s B $_m: delivered/SA packets/csum errors/XFRM seq/decap_ok/esp_gro/NAPI got $_got, want $_want ($OUT)"
	fi
	[ "$(kv rcv_drops)" = 0 ] || diag "$_s B $_m: $(kv rcv_drops) backlog drops"
}
rx() { ip netns exec b "$IPSEC_RS_TOOL" set global --rx "$1" >/dev/null; }

: >$RES
# loaded ORDER...: the module loaded (with $LOAD_ARGS), the runs in that
# order, unloaded.
LOAD_ARGS=
loaded() {
	load_module $LOAD_ARGS || die "insmod failed"
	LOADED=1
	snap b
	for _l; do
		case $_l in module*) rx on ;; *) rx off ;; esac
		run "$_l" "$size"
	done
	unload_module || not_ok "rmmod after the $size B runs of repetition $rep"
	LOADED=
}
# offloaded MODE: $DECAP_OFFLOAD loaded for one run, then unloaded (the SA,
# which holds a reference on it, deleted first).
offloaded() {
	insmod "$DECAP_OFFLOAD_KO" || { not_ok "insmod $DECAP_OFFLOAD"; return; }
	run "$1" "$size"
	decap_del_sa
	rmmod_retry $DECAP_OFFLOAD || not_ok "rmmod $DECAP_OFFLOAD after the $size B $1 run"
}
# loaded_gro ORDER...: as loaded, the module taking ESP inside GRO.
loaded_gro() { LOAD_ARGS=rx_gro=1; loaded "$@"; LOAD_ARGS=; }
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
		[ -z "$ESN" ] || in_turn "run plain-esn $size" "loaded module-esn"
		[ -z "$XFRMI" ] || in_turn "run plain-xfrmi $size" "loaded module-xfrmi"
		[ -z "$VTI" ] || in_turn "run plain-vti $size" "loaded module-vti"
		if [ -n "$GRO" ]; then
			# GRO on b's veth (veth_gro also turns TSO off on a's, which
			# changes nothing here: esp_blast's frames are never segmented).
			veth_gro on
			run floor-gro $size
			in_turn "offloaded xfrm-gro" "loaded_gro module-gro"
			veth_gro off
		fi
	done
	rep=$((rep + 1))
done

# The reason module-gro runs without esp4_offload: with it loaded and GRO
# on, XFRM takes every packet of a known SA in GRO (esp4_gro_receive),
# before ipsec_rs's ESP handler sees it, the receive path on or not. The
# gro-bypass run asserts exactly that (XFRM's seq at N, decap_ok still 0).
if [ -n "$GRO" ]; then
	size=64
	veth_gro on
	load_module || die "insmod failed"
	LOADED=1
	snap b
	rx on
	check "gro-bypass: no warning while $DECAP_OFFLOAD was never loaded with the receive path on" \
		sh -c "! dmesg | grep -q 'ipsec_rs: esp._offload .*loaded'"
	rx off
	if insmod "$DECAP_OFFLOAD_KO"; then
		dmesg -c >/dev/null
		rx on
		check "gro-bypass: switching the receive path on warns that $DECAP_OFFLOAD takes ESP first" \
			sh -c "dmesg | grep -q 'ipsec_rs: $DECAP_OFFLOAD is loaded: on devices with GRO on, XFRM decapsulates ESP of known SAs inside GRO'"
		run gro-bypass $size
		check_eq "gro-bypass: the per-SA view says the module never saw the SA" \
			"$(ip netns exec b "$IPSEC_RS_TOOL" show sas --json | python3 -c 'import json, sys
print([s["handler"] for s in json.load(sys.stdin) if s["spi"] == '$DECAP_SPI' and s["daddr"] == "'$DECAP_DST'"])')" \
			"['not-seen']"
		decap_del_sa
		unload_module || not_ok "rmmod after the gro-bypass run"
		rmmod_retry $DECAP_OFFLOAD || not_ok "rmmod $DECAP_OFFLOAD after the gro-bypass run"
	else
		not_ok "insmod $DECAP_OFFLOAD for the gro-bypass run"
		unload_module || not_ok "rmmod after the gro-bypass run"
	fi
	LOADED=
	veth_gro off
fi

# median SIZE MODE: the median run time in ns ("" if no good run).
median() {
	awk -v s="$1" -v m="$2" '$1 == s && $2 == m { print $3 }' $RES | median_of
}
# paired SIZE NUM DEN FLOOR: for each repetition, NUM's receiver rate over
# DEN's, each run's time minus the same repetition's FLOOR run; prints
# "median min max r1 r2 ..." (nothing if no repetition has all three runs).
paired() {
	awk -v s="$1" -v num="$2" -v den="$3" -v fl="$4" -v R="$REPS" '$1 == s { t[$2 "," $4] = $3 }
	END {
		for (r = 1; r <= R; r++) {
			f = t[fl "," r]; a = t[den "," r]; b = t[num "," r]
			if (f == "" || a == "" || b == "" || a <= f || b <= f) continue
			printf "%.12g\n", (a - f) / (b - f)
		}
	}' $RES | ratio_summary
}
# row SIZE MODE FLOOR [NUM]: MODE's table line (medians), rx pps less
# FLOOR's median; with NUM, NUM's rx pps over MODE's.
row() {
	_t=$(median $1 $2) _fl=$(median $1 $3) _tn=${4:+$(median $1 $4)}
	[ -n "$_t" ] || { diag "$1  $2  no valid run"; return; }
	awk -v n="$N" -v s="$1" -v m="$2" -v t="$_t" -v f="${_fl:-0}" -v tn="${_tn:-0}" 'BEGIN {
		pps = n * 1e9 / t; rx = (t > f && f > 0) ? n * 1e9 / (t - f) : 0
		rxn = (tn > f && f > 0) ? n * 1e9 / (tn - f) : 0
		r = (rx == 0 || rxn == 0) ? "" : sprintf("%.3f", rxn / rx)
		printf "# %4d  %-12s %8.0f %7.2f %10.0f  %s\n", s, m, pps, pps * s * 8 / 1e6, rx, r
	}'
}
# verdict SIZE NUM DEN FLOOR TARGET: the paired ratio NUM/DEN, with the
# target's verdict (TARGET "-": none).
verdict() {
	_p=$(paired $1 $2 $3 $4)
	[ -n "$_p" ] || { diag "$1 B: $2/$3: no repetition with all three runs"; return; }
	set -- "$@" $_p
	_v=
	if [ "$5" != - ]; then
		_v=": TARGET >= $5 MISSED"
		awk -v r="$6" -v t="$5" 'BEGIN { exit !(r >= t) }' && _v=": target >= $5 met"
	fi
	diag "$1 B: $2/$3 (rx, per repetition) median $6 [min $7, max $8]:$(echo "$_p" | cut -d' ' -f4-)$_v"
}
diag ""
diag "inbound decapsulation, IPv$FAMILY, rfc4106(gcm(aes)) tunnel mode, $N packets per run, median of $REPS"
diag "(pps, Mbit/s: over the whole run, sender included; rx pps: N / (run - its floor run);"
diag " last column: the module's rx pps over the mode's, module-esn's for plain-esn, module-xfrmi's for"
diag " plain-xfrmi, module-vti's for plain-vti, module-gro's for xfrm-gro)"
diag "size  mode              pps  Mbit/s     rx pps  module/mode"
for size in $SIZES; do
	row $size plain floor module
	row $size xfrm floor module
	row $size module floor
	if [ -n "$ESN" ]; then
		row $size plain-esn floor module-esn
		row $size module-esn floor
	fi
	if [ -n "$XFRMI" ]; then
		row $size plain-xfrmi floor module-xfrmi
		row $size module-xfrmi floor
	fi
	if [ -n "$VTI" ]; then
		row $size plain-vti floor module-vti
		row $size module-vti floor
	fi
	if [ -n "$GRO" ]; then
		row $size xfrm-gro floor-gro module-gro
		row $size module-gro floor-gro
	fi
	for fl in floor ${GRO:+floor-gro}; do
		_t=$(median $size $fl)
		[ -n "$_t" ] && awk -v n="$N" -v s="$size" -v f="$_t" -v m="$fl" 'BEGIN {
			printf "# %4d  %-12s %8.0f          (sending and veth alone)\n", s, m, n * 1e9 / f }'
	done
	# The verdicts: ratios paired within each repetition (a size's runs
	# are back to back), less sensitive to the host's load drifting than a
	# ratio of medians.
	verdict $size module plain floor 1.0
	verdict $size module xfrm floor -
	[ -z "$ESN" ] || verdict $size module-esn plain-esn floor 1.0
	[ -z "$XFRMI" ] || verdict $size module-xfrmi plain-xfrmi floor 1.0
	[ -z "$VTI" ] || verdict $size module-vti plain-vti floor 1.0
	[ -z "$GRO" ] || verdict $size module-gro xfrm-gro floor-gro 1.05
done
modes=3
[ -z "$ESN" ] || modes=$((modes + 2))
[ -z "$XFRMI" ] || modes=$((modes + 2))
[ -z "$VTI" ] || modes=$((modes + 2))
[ -z "$GRO" ] || modes=$((modes + 2))
check "every mode has a valid run at every size" \
	test "$(awk '$2 !~ /^floor|bypass/' $RES | awk '{ print $1, $2 }' | sort -u | wc -l)" -eq $(($(echo $SIZES | wc -w) * modes))

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
