#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The traffic of the decapsulation measurements (sourced after lib.sh by
# bench_decap.sh and insn_profile.sh, so that both measure the same thing):
# two routers, one tunnel-mode rfc4106(gcm(aes)) SA pair, and pre-built ESP
# packets a -> b that selftests/tools/esp_blast sends as fast as it can.
# IPv4 outside and inside, or IPv6 after `decap_family 6`.

DECAP_SPI=0x1000
DECAP_BLAST=$IPSEC_RS_REPO/selftests/tools/esp_blast
DECAP_SRC=192.0.2.1 DECAP_DST=192.0.2.2 DECAP_V6=
# The kernel's ESP GRO module of the family (=m in distribution kernels),
# and its file (lib.sh's offload_ko).
DECAP_OFFLOAD=esp4_offload DECAP_OFFLOAD_KO=$(offload_ko 4)

# decap_family 4|6: the family of the SA and of the packets, outer and
# inner (before decap_setup).
decap_family() {
	case $1 in
	4) ;;
	6)
		DECAP_SRC=2001:db8::1 DECAP_DST=2001:db8::2 DECAP_V6=1
		DECAP_OFFLOAD=esp6_offload DECAP_OFFLOAD_KO=$(offload_ko 6)
		;;
	*) die "decap_family: 4 or 6, not '$1'" ;;
	esac
}

# decap_require: a SKIP, saying why, unless esp_blast, python3's
# cryptography (esp_craft.py) and the module are there.
decap_require() {
	[ -x "$DECAP_BLAST" ] || skip_test "needs $DECAP_BLAST (make -C selftests/tools)"
	python3 -c 'import cryptography' 2>/dev/null || skip_test "needs python3-cryptography"
	[ -f "$IPSEC_RS_KO" ] || skip_test "module not built: $IPSEC_RS_KO"
}

# decap_require_cpus N: a SKIP, saying why, with fewer than N CPUs (a
# QEMU guest with smp=N: UML has one).
decap_require_cpus() {
	[ "$(nproc)" -ge "$1" ] || skip_test "needs $1 CPUs (a QEMU guest with smp=$1)"
}

# decap_setup: the namespaces and the SAs; sets DECAP_MAC_B.
decap_setup() {
	topo_two_routers
	xfrm_tunnel_gcm $DECAP_SRC $DECAP_DST $DECAP_SPI || die "cannot install SAs"
	DECAP_MAC_B=$(ip -n b -o link show vb | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
}

# decap_make N SIZE FILE [esn]: N valid packets (sequence numbers 1..N)
# with SIZE-byte inner UDP payloads to port 7777, written to FILE; prints N.
# "esn": for an ESN SA (the high half, 0, in the ICV).
decap_make() {
	ip netns exec a python3 "$IPSEC_RS_REPO/selftests/lib/esp_craft.py" --dev va \
		--dst-mac "$DECAP_MAC_B" --src $DECAP_SRC --dst $DECAP_DST --spi $DECAP_SPI \
		--key "$KEY_AB" --seq "1-$1" --size "$2" --inner-dport 7777 --out "$3" \
		${4:+--esn-hi 0}
}

# decap_new_sa [esn|xfrmi|vti]: b's inbound SA replaced by the same one, so
# that both XFRM's and the module's anti-replay state start afresh: window
# 32, as a peer would ask; "esn": ESN with a 1,024-packet window, as
# routers configure larger windows (XFRM's bitmap mode); "xfrmi": the SA
# of b's XFRM interface (decap_xfrmi), window 32; "vti": the SA of b's
# vti tunnel (mark 7, decap_vti on), window 32. b's vti exists only for
# the vti runs: it would claim every other run's packets too.
decap_new_sa() {
	decap_del_sa
	case ${1:-} in
	vti) decap_vti on || return 1 ;;
	*) decap_vti off ;;
	esac
	case ${1:-} in
	esn) set -- replay-window 1024 flag esn ;;
	xfrmi) set -- replay-window 32 if_id 9 ;;
	vti) set -- replay-window 32 mark 7 ;;
	*) set -- replay-window 32 ;;
	esac
	ip -n b xfrm state add src $DECAP_SRC dst $DECAP_DST proto esp spi $DECAP_SPI mode tunnel \
		"$@" aead 'rfc4106(gcm(aes))' "$KEY_AB" 128
}

# decap_xfrmi: b's XFRM interface ipsec9 (if_id 9) over vb, up, with an
# inbound policy of its if_id for the SA's traffic (the inner packets of
# its SA arrive on it and are checked against that policy), reverse-path
# filtering off on it (their sources are routed through vb).
decap_xfrmi() {
	_any=0.0.0.0/0
	[ -z "$DECAP_V6" ] || _any=::/0
	ip -n b link add ipsec9 type xfrm dev vb if_id 9 &&
		ip -n b link set ipsec9 up &&
		ip netns exec b sysctl -qw net.ipv4.conf.ipsec9.rp_filter=0 net.ipv4.conf.all.rp_filter=0 &&
		ip -n b xfrm policy add src $_any dst $_any dir in if_id 9 \
			tmpl src $DECAP_SRC dst $DECAP_DST proto esp mode tunnel
}
# decap_vti on|off: b's vti tunnel vti7 (input key 7) from DECAP_SRC, up,
# reverse-path filtering off on it, and an inbound policy of mark 7 for
# its SA's traffic in place of the plain SA's (after vti's receive the
# packet has no security path left, and the plain policy would match it:
# vti users keep their policies to the tunnel's mark); off: the plain
# set-up again. IPv4 only (vti6 for v6).
DECAP_VTI=
decap_vti() {
	_k=vti _any=0.0.0.0/0
	[ -z "$DECAP_V6" ] || _k=vti6 _any=::/0
	if [ "$1" = on ]; then
		[ -z "$DECAP_VTI" ] || return 0
		ip -n b link add vti7 type $_k local $DECAP_DST remote $DECAP_SRC ikey 7 okey 7 &&
			ip -n b link set vti7 up &&
			ip netns exec b sysctl -qw net.ipv4.conf.vti7.rp_filter=0 net.ipv4.conf.all.rp_filter=0 &&
			ip -n b xfrm policy del src $DECAP_SRC dst $DECAP_DST dir in &&
			ip -n b xfrm policy add src $_any dst $_any dir in mark 7 \
				tmpl src $DECAP_SRC dst $DECAP_DST proto esp mode tunnel &&
			DECAP_VTI=1
	else
		[ -n "$DECAP_VTI" ] || return 0
		ip -n b link del vti7
		ip -n b xfrm policy del src $_any dst $_any dir in mark 7
		ip -n b xfrm policy add src $DECAP_SRC dst $DECAP_DST dir in \
			tmpl src $DECAP_SRC dst $DECAP_DST proto esp mode tunnel
		DECAP_VTI=
	fi
}

# decap_settle: the deferred work of the SA just replaced done before a
# measured run, not inside it. Deleting the old SA queues XFRM's state
# garbage collector (a worker that waits for an RCU grace period) and, with
# the module loaded, the RCU release of its table entry; that work (the
# grace period's kthread, its wake-ups and switches) then fell inside the
# first thousands of packets: ~230 instructions a packet over 3,000
# packets in the module's instruction profile inside GRO (scheduler and
# RCU functions), none of it the packets'. (A grace period from another
# source can still fall inside a run: Documentation/design.rst.)
# One idle second lets it finish (the guest idles, which is also the
# grace period's quiescent state).
decap_settle() {
	sleep 1
}

# decap_del_sa: b's inbound SA deleted (if there is one).
decap_del_sa() {
	ip -n b xfrm state delete src $DECAP_SRC dst $DECAP_DST proto esp spi $DECAP_SPI 2>/dev/null
	ip -n b xfrm state delete src $DECAP_SRC dst $DECAP_DST proto esp spi $DECAP_SPI mark 7 2>/dev/null
	true
}

# decap_blast MODE FILE [CPU]: esp_blast's report of sending FILE a -> b;
# MODE -w waits until b's UDP socket counted every packet, -o sends to a
# foreign MAC (b drops them at IP input). With CPU, esp_blast runs pinned
# to it (veth: b then receives on that CPU).
decap_blast() {
	ip netns exec b ${3:+taskset -c "$3"} "$DECAP_BLAST" -p 7777 ${DECAP_V6:+-6} -s /run/netns/a "$1" va "$2"
}

# decap_processed CPU: packets CPU has taken from its backlog (softnet_stat's
# first column). veth hands a frame to b's stack on the sending CPU, so a
# sender pinned to CPU counts there, and so do the decapsulated packets of
# its frames that b accepted (they re-enter the backlog).
decap_processed() { echo $((0x$(sed -n "$(($1 + 1))s/ .*//p" /proc/net/softnet_stat))); }
# decap_udp_in: inner datagrams that reached b's UDP (InDatagrams + NoPorts
# + InErrors).
decap_udp_in() { ip netns exec b awk '/^Udp:/ && $2 ~ /^[0-9]/ { print $2 + $3 + $4 }' /proc/net/snmp; }

# The benchmarks' shared pieces (bench_decap.sh, bench_scale.sh,
# bench_flood.sh).

# kv KEY: KEY's value in esp_blast's report, $OUT.
kv() { echo "$OUT" | sed -n "s/.* $1=\([0-9]*\).*/\1/p;s/^$1=\([0-9]*\).*/\1/p"; }
# in_turn A B: the commands A then B in odd repetitions ($rep), B then A in
# even ones, so that neither path always runs first.
in_turn() {
	if [ $((rep % 2)) = 1 ]; then $1; $2; else $2; $1; fi
}
# median_of: the median of the numbers on stdin (of the middle two, their
# mean, truncated); nothing for none.
median_of() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
# ratio_summary: of the ratios on stdin (one a line, in repetition order),
# "median min max r1 r2 ..." (the median to three places, the rest to
# two); nothing for none.
ratio_summary() {
	awk '{ v[NR] = $1; line = line sprintf(" %.2f", $1) }
	END {
		n = NR
		if (!n) exit
		for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
		printf "%.3f %.2f %.2f%s\n", (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2, v[1], v[n], line
	}'
}
