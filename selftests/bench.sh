#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Benchmark (make bench, perf kernel): ESP round trips through an XFRM
# tunnel (rfc4106(gcm(aes)), tunnel mode) with and without ipsec_rs loaded,
# at 64-, 512- and 1400-byte payloads, in the same boot. The module is
# loaded with its defaults: it counts inbound ESP and checks SPIs in its ESP
# handler (one SA lookup) and leaves decapsulation to XFRM, so the ratio is
# the cost of its presence on XFRM's path (bench_decap.sh compares the
# decapsulation itself).
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping
trap topo_cleanup EXIT
N=${1:-20000}

topo_two_routers
xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 || die "cannot install SAs"
run() {	# payload -> round trips per second (ping -f, N packets)
	s=$(date +%s%N)
	ip netns exec a ping -q -f -c "$N" -s "$1" -W 1 192.0.2.2 >/dev/null 2>&1
	e=$(date +%s%N)
	echo $(( N * 1000000000 / (e - s) ))
}
ktap_plan
ip netns exec a ping -q -c 100 -f 192.0.2.2 >/dev/null 2>&1	# warm up
echo "# payload  xfrm-only rt/s  with-ipsec_rs rt/s  ratio  (ESP packets/s = 2 x rt/s)"
for size in 64 512 1400; do
	base=$(run $size)
	load_module || die "insmod failed"
	with=$(run $size)
	unload_module
	ratio=$(awk -v a="$with" -v b="$base" 'BEGIN { printf "%.3f", a / b }')
	bits=$(awk -v r="$with" -v s="$size" 'BEGIN { printf "%.1f", r * 2 * (s + 28) * 8 / 1e6 }')
	echo "# $size B     $base            $with               $ratio  (${bits} Mbit/s inner, both ways)"
	check "bench $size B ran" test "$base" -gt 0 -a "$with" -gt 0
done
ktap_finish
