#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A hard packet limit while two CPUs decapsulate one SA at once (make bench:
# perf kernel, two vCPUs; the selftests' debug guests have one CPU).
#
#   lifetime_smp.sh [N [REPS]]
#       the SA's hard packet limit N (default 20000), REPS repetitions of
#       each path (default 6): each crosses the limit once, and whether
#       packets in flight pass it is a matter of timing, so repetitions
#       count more than packets
#
# b's inbound SA (tunnel-mode rfc4106(gcm(aes)), no anti-replay: XFRM's
# replay-window 0, the module's --replay off, so that the order in which
# the two CPUs take the packets drops none) has "limit packet-hard N"; a
# sends 2N valid packets, the odd sequence numbers by
# selftests/tools/esp_blast pinned to CPU 0 and the even ones by a second
# esp_blast pinned to CPU 1 (veth hands each frame to b's stack on the
# sending CPU: both CPUs decapsulate the SA at the same time; the two
# senders spin until a file appears, so that they start together). Counted:
# the inner datagrams that reached b's UDP.
#
# The module checks the limit and accounts the packet in one critical
# section under the SA's lock, after decryption: exactly N must be
# delivered, every repetition (a check). XFRM checks before decryption and
# accounts after, so packets decrypting on the other CPU when the limit is
# reached can pass it too: its count is printed, not checked.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3 taskset awk
require_tool
. "$IPSEC_RS_REPO/selftests/lib/decap_traffic.sh"
decap_require
decap_require_cpus 2
SECOND=
trap 'kill $SECOND 2>/dev/null; rm -f /tmp/lifetime_smp_*; topo_cleanup' EXIT

N=${1:-20000}
REPS=${2:-6}

ktap_plan
decap_setup
made=$(decap_make $((2 * N)) 64 /tmp/lifetime_smp_all.bin)
check_eq "$((2 * N)) valid packets made" "$made" $((2 * N))
# Odd sequence numbers (records 1, 3, ...) to one file, even to the other.
python3 - /tmp/lifetime_smp_all.bin /tmp/lifetime_smp_odd.bin /tmp/lifetime_smp_even.bin <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read()
out = [open(sys.argv[2], 'wb'), open(sys.argv[3], 'wb')]
i = n = 0
while i < len(data):
    size = int.from_bytes(data[i:i + 2], 'big')
    out[n % 2].write(data[i:i + 2 + size])
    i += 2 + size
    n += 1
EOF

# blast CPU FILE: esp_blast pinned to CPU, sending FILE once /tmp/lifetime_smp_go
# exists (both senders wait for it spinning, so that they start together).
blast() {
	ip netns exec b taskset -c "$1" sh -c 'while [ ! -e /tmp/lifetime_smp_go ]; do :; done; exec "$0" -s /run/netns/a va "$1"' \
		"$DECAP_BLAST" "$2" >/dev/null 2>&1
}
# once MODE: one run on a fresh SA with the hard limit: sets GOT (inner
# datagrams delivered) and ACC0/ACC1 (what each CPU decapsulated: it took
# its own N frames from its backlog, and the decapsulated packets of them
# it accepted re-enter there too).
once() {
	decap_del_sa
	ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi $DECAP_SPI mode tunnel \
		replay-window 0 aead 'rfc4106(gcm(aes))' "$KEY_AB" 128 limit packet-hard "$N" || return 1
	_c0=$(decap_processed 0) _c1=$(decap_processed 1) _u0=$(decap_udp_in)
	rm -f /tmp/lifetime_smp_go
	blast 0 /tmp/lifetime_smp_odd.bin &
	_first=$!
	blast 1 /tmp/lifetime_smp_even.bin &
	SECOND=$!
	sleep 0.2
	touch /tmp/lifetime_smp_go
	wait $_first
	wait $SECOND
	SECOND=
	sleep 1
	GOT=$(($(decap_udp_in) - _u0))
	ACC0=$(($(decap_processed 0) - _c0 - N)) ACC1=$(($(decap_processed 1) - _c1 - N))
}
# run MODE: one repetition: runs until both CPUs decapsulated at least a
# tenth of the limit (the two senders overlapped; a sender that starts late
# finds the limit reached), at most 4 times.
run() {
	[ "$1" = module ] && snap b && _d0=$(cnt decap_ok)
	_try=1
	while :; do
		once "$1" || { not_ok "$1: SA with a hard limit of $N packets"; return; }
		[ "$ACC0" -ge $((N / 10)) ] && [ "$ACC1" -ge $((N / 10)) ] && break
		if [ $_try -ge 4 ]; then
			not_ok "$1, repetition $rep: the CPUs did not both decapsulate in 4 runs (last: $ACC0/$ACC1)"
			return
		fi
		diag "$1, repetition $rep: CPU 0 decapsulated $ACC0, CPU 1 $ACC1: run again"
		_try=$((_try + 1))
		[ "$1" = module ] && snap b && _d0=$(cnt decap_ok)
	done
	if [ "$1" = module ]; then
		snap b
		[ "$GOT" = "$N" ] || diag "module: $(ip netns exec b "$IPSEC_RS_TOOL" stats | tr '\n' ' ')"
		check_eq "module, repetition $rep: delivered/decap_ok rise with a hard limit of $N (CPU 0 decapsulated $ACC0, CPU 1 $ACC1)" \
			"$GOT/$(($(cnt decap_ok) - _d0))" "$N/$N"
	else
		ok "XFRM, repetition $rep: $GOT delivered with a hard limit of $N (CPU 0 decapsulated $ACC0, CPU 1 $ACC1)"
	fi
	echo "$1 $GOT" >>/tmp/lifetime_smp_res
}
: >/tmp/lifetime_smp_res
# repetitions MODE: REPS runs of MODE.
repetitions() {
	rep=1
	while [ $rep -le "$REPS" ]; do
		run "$1"
		rep=$((rep + 1))
	done
}
repetitions plain
check "insmod" load_module
check "receive path on, anti-replay off" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on --replay off
repetitions module
check "rmmod" unload_module
for m in plain module; do
	diag "$m: delivered with a hard limit of $N, per repetition:$(awk -v m=$m '$1 == m { printf " %s", $2 }' /tmp/lifetime_smp_res)"
done
check "kernel log clean" kernel_log_clean
ktap_finish
