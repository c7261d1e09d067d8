#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the ipsec_rs selftests (sourced). kselftest conventions:
# TAP on stdout, exit 0 pass / 1 fail / 4 skip.

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4
_ktap_n=0
_ktap_failed=0
# 1 from a failure until the next result: diag's lines then go into the
# closing summary too.
_ktap_after_fail=0

# ktap_plan [N]: without N the plan is printed at the end (TAP 13 allows it).
_ktap_deferred=0
ktap_plan() {
	echo "TAP version 13"
	if [ -n "${1:-}" ]; then echo "1..$1"; else _ktap_deferred=1; fi
}
# _ktap_time N DESCRIPTION: in a guest, the result's time since boot goes to
# times.txt in the run directory ("SECONDS N DESCRIPTION"): where a test's
# guest time goes, step by step (read, not cut: no process per result).
_ktap_time() {
	[ -n "${IPSEC_RS_OUT:-}" ] && [ -d "$IPSEC_RS_OUT" ] || return 0
	read -r _up _rest </proc/uptime
	echo "$_up ${IPSEC_RS_TEST:-?} $*" >>"$IPSEC_RS_OUT/times.txt"
}
ok() { _ktap_n=$((_ktap_n + 1)); _ktap_after_fail=0; _ktap_time $_ktap_n "$*"; echo "ok $_ktap_n $*"; }
not_ok() {
	_ktap_n=$((_ktap_n + 1)); _ktap_failed=$((_ktap_failed + 1)); _ktap_after_fail=1
	_ktap_time $_ktap_n "not ok: $*"
	echo "not ok $_ktap_n $*"
	# Repeated by ktap_finish, with the diagnostics printed right after
	# it: a CI log that shows only its tail still names what failed and
	# what the test saw then.
	_ktap_failures="${_ktap_failures:-}#   not ok $_ktap_n $*
"
}
# check DESCRIPTION COMMAND...: one TAP line from a command's status.
check() {
	_d=$1; shift
	if "$@"; then ok "$_d"; else not_ok "$_d"; fi
}
# check_eq DESCRIPTION GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1 ($2)"; else not_ok "$1: got '$2', want '$3'"; fi
}
diag() {
	echo "# $*"
	[ $_ktap_after_fail -eq 1 ] && _ktap_failures="$_ktap_failures#     $*
"
	return 0
}
ktap_finish() {
	[ $_ktap_deferred -eq 1 ] && echo "1..$_ktap_n"
	if [ $_ktap_failed -eq 0 ]; then exit $KSFT_PASS; fi
	_ktap_after_fail=0
	diag "$_ktap_failed failed:"
	printf '%s' "$_ktap_failures"
	exit $KSFT_FAIL
}
skip_test() { echo "1..0 # SKIP $*"; exit $KSFT_SKIP; }
die() { echo "Bail out! $*"; exit $KSFT_FAIL; }

require_root() { [ "$(id -u)" -eq 0 ] || skip_test "needs root"; }
require_cmd() { for c; do command -v "$c" >/dev/null 2>&1 || skip_test "needs $c"; done; }

IPSEC_RS_KO=${IPSEC_RS_KO:-$IPSEC_RS_REPO/ipsec_rs.ko}
# dpkg's database of a guest's own, where deb_install.sh installs the
# packages for the running kernel (lib/dpkg.sh).
IPSEC_RS_DPKG_DB=/tmp/dpkg-modules
# load_module [PARAM...]: the module loaded: with modprobe when its package
# is installed for the running kernel (deb_install.sh, earlier in a group),
# as a router loads it; else the module built for this kernel, by path.
load_module() {
	if [ -f "$IPSEC_RS_DPKG_DB/info/ipsec-rs-modules-$(uname -r).list" ] &&
		[ "$(modinfo -n ipsec_rs 2>/dev/null)" = "/lib/modules/$(uname -r)/updates/ipsec_rs.ko" ]; then
		echo "# modprobe ipsec_rs $* (the installed package's module)"
		modprobe ipsec_rs "$@"
		return
	fi
	[ -f "$IPSEC_RS_KO" ] || die "module not built: $IPSEC_RS_KO"
	insmod "$IPSEC_RS_KO" "$@"
}
unload_module() { rmmod ipsec_rs; }
module_loaded() { grep -q '^ipsec_rs ' /proc/modules; }

# The control tool built from userspace/ (host build, shared over 9p; in an
# arm64 guest, the one cross-built for it by make tools-arm64).
case $(uname -m) in
aarch64) IPSEC_RS_BIN=${IPSEC_RS_BIN:-$IPSEC_RS_REPO/userspace/target/aarch64-unknown-linux-gnu/debug} ;;
*) IPSEC_RS_BIN=${IPSEC_RS_BIN:-$IPSEC_RS_REPO/userspace/target/debug} ;;
esac
IPSEC_RS_TOOL=${IPSEC_RS_TOOL:-$IPSEC_RS_BIN/ipsec-rs}
require_tool() { [ -x "$IPSEC_RS_TOOL" ] || die "control tool not built: $IPSEC_RS_TOOL"; }
# stat NETNS NAME: one counter of the module in a namespace ("" = init netns).
stat() {
	if [ -n "$1" ]; then
		ip netns exec "$1" "$IPSEC_RS_TOOL" stats --json | json_get "$2"
	else
		"$IPSEC_RS_TOOL" stats --json | json_get "$2"
	fi
}
# json_get KEY: an integer member of the one-line JSON object on stdin
# (sed, not python: starting python over 9p under TCG costs seconds).
json_get() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
# snap NETNS: read all counters of a namespace once (each tool start costs
# seconds under TCG); then `cnt NAME` reads one from the snapshot.
snap() { SNAP=$(ip netns exec "$1" "$IPSEC_RS_TOOL" stats --json); }
cnt() { echo "$SNAP" | json_get "$1"; }

# esp_seen / esp_outcomes (after snap): the ESP packets the module saw in
# the namespace, and what became of them; equal while its receive path is
# on (Documentation/admin-guide.rst: every packet in exactly one outcome).
esp_seen() { echo $(( $(cnt esp_v4) + $(cnt esp_v6) + $(cnt udp_encap_v4) + $(cnt udp_encap_v6) )); }
esp_outcomes() {
	echo $(( $(cnt decap_ok) + $(cnt passed_to_xfrm) + $(cnt invalid_spi_v4) + $(cnt invalid_spi_v6) +
		$(cnt auth_failed) + $(cnt replay_dropped) + $(cnt replay_too_old) + $(cnt malformed) +
		$(cnt bad_padding) + $(cnt sa_unusable) + $(cnt rx_errors) + $(cnt bad_inner) ))
}

# Two routers, "a" and "b", joined by a veth link with documentation
# addresses (they never leave the guest):
#   a: 192.0.2.1/24, 2001:db8::1/64   <-veth->   b: 192.0.2.2/24, 2001:db8::2/64
topo_two_routers() {
	ip netns add a && ip netns add b || die "cannot create namespaces"
	ip link add va netns a type veth peer name vb netns b
	for n in a b; do ip -n $n link set lo up; done
	ip -n a addr add 192.0.2.1/24 dev va
	ip -n b addr add 192.0.2.2/24 dev vb
	ip -n a addr add 2001:db8::1/64 dev va nodad
	ip -n b addr add 2001:db8::2/64 dev vb nodad
	ip -n a link set va up
	ip -n b link set vb up
}
topo_cleanup() { ip netns del a 2>/dev/null; ip netns del b 2>/dev/null; true; }
# veth_gro on|off: GRO on b's veth. veth receives through NAPI (and so GRO)
# only frames its peer may hand it that way: with TSO on the sending veth,
# only socket-owned skbs to a device with GRO forwarding; so TSO goes off
# on a's veth while GRO is on (needs ethtool).
veth_gro() {
	ip netns exec b ethtool -K vb gro "$1" || return 1
	if [ "$1" = on ]; then _tso=off; else _tso=on; fi
	ip netns exec a ethtool -K va tso $_tso
}
# offload_ko 4|6: the kernel's esp4_offload / esp6_offload module file in
# its build tree (IPSEC_RS_KBUILD, from the runner).
offload_ko() { echo "${IPSEC_RS_KBUILD:-/nonexistent}/net/ipv$1/esp$1_offload.ko"; }
# rmmod_retry MODULE: rmmod, retried for 5 s (a deleted SA's last
# reference, which may pin esp4_offload, goes in XFRM's deferred state
# destruction).
rmmod_retry() {
	_i=0
	until rmmod "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -lt 50 ] || { rmmod "$1"; return 1; }
		sleep 0.1
	done
}

# xfrm_tunnel_gcm SRC_A DST_B [SPI_AB SPI_BA]: an ESP tunnel-mode SA pair
# and policies between a and b, AES-GCM-128 (rfc4106); SPIs default to
# 0x1000 (a->b) and 0x2000 (b->a). xfrm_tunnel_gcm6: the IPv6 pair
# 2001:db8::1 <-> 2001:db8::2 with SPIs 0x3000 and 0x4000.
KEY_AB=0x0102030405060708090a0b0c0d0e0f1011121314
KEY_BA=0x1112131415161718191a1b1c1d1e1f2021222324
xfrm_tunnel_gcm6() { xfrm_tunnel_gcm 2001:db8::1 2001:db8::2 0x3000 0x4000; }
# xfrm_tunnel_gcm A B [SPI_AB [SPI_BA [STATE_OPTION...]]]: GCM tunnel SAs
# and policies between routers a (A) and b (B); options go to every state.
xfrm_tunnel_gcm() {
	_a=$1 _b=$2 _sab=${3:-0x1000} _sba=${4:-0x2000}
	if [ $# -ge 4 ]; then shift 4; else set --; fi
	for n in a b; do
		ip -n $n xfrm state add src $_a dst $_b proto esp spi $_sab mode tunnel \
			"$@" aead 'rfc4106(gcm(aes))' $KEY_AB 128 || return 1
		ip -n $n xfrm state add src $_b dst $_a proto esp spi $_sba mode tunnel \
			"$@" aead 'rfc4106(gcm(aes))' $KEY_BA 128 || return 1
	done
	ip -n a xfrm policy add src $_a dst $_b dir out tmpl src $_a dst $_b proto esp mode tunnel
	ip -n a xfrm policy add src $_b dst $_a dir in tmpl src $_b dst $_a proto esp mode tunnel
	ip -n b xfrm policy add src $_b dst $_a dir out tmpl src $_b dst $_a proto esp mode tunnel
	ip -n b xfrm policy add src $_a dst $_b dir in tmpl src $_a dst $_b proto esp mode tunnel
}

# xfrm_seq SPI SRC DST: XFRM's anti-replay "seq" of an SA in b.
xfrm_seq() {
	ip -n b -s xfrm state get src "$2" dst "$3" proto esp spi "$1" |
		sed -n 's/.*anti-replay context: seq \(0x[0-9a-f]*\),.*/\1/p'
}

# xfrm_packets NETNS SPI SRC DST [mark M]: the packet count of an SA, from
# `ip -s xfrm state`.
xfrm_packets() {
	_n=$1 _spi=$2 _src=$3 _dst=$4
	shift 4
	ip -n "$_n" -s xfrm state get src "$_src" dst "$_dst" proto esp spi "$_spi" "$@" 2>/dev/null |
		sed -n '/lifetime current:/{n;s/.*, *\([0-9]*\)(packets).*/\1/p}'
}

# xfrm_stat NETNS NAME: XFRM's statistic NAME in NETNS (/proc/net/xfrm_stat).
xfrm_stat() { ip netns exec "$1" awk -v n="$2" '$1 == n { print $2 }' /proc/net/xfrm_stat; }

# scan_kernel_log: a splat in the kernel log so far (the runner judges the
# whole log after the test too; this lets a test fail at the right step).
kernel_log_clean() { ! dmesg | grep -Eq 'WARNING:|BUG:|Oops|KASAN:|panicked at'; }

# jfield KEY: a member of a one-line JSON object on stdin, unquoted
# ("null" for null).
jfield() { sed -n "s/.*\"$1\":\\(\"[^\"]*\"\\|[^,}]*\\).*/\\1/p" | tr -d '"'; }

# netns_cookie NETNS: the namespace's cookie (SO_NETNS_COOKIE), as the
# module reports it in events.
netns_cookie() {
	ip netns exec "$1" python3 -c 'import socket,struct; s=socket.socket(); print(struct.unpack("Q", s.getsockopt(socket.SOL_SOCKET, 71, 8))[0])'
}

INJECT="python3 $IPSEC_RS_REPO/selftests/lib/esp_inject.py"

# monitor_start NETNS FILE [args]: `ipsec-rs monitor --json` in the
# background, returning once it has subscribed.
monitor_start() {
	_ns=$1 _f=$2; shift 2
	ip netns exec "$_ns" "$IPSEC_RS_TOOL" monitor --json "$@" >"$_f" 2>"$_f.err" &
	MONITOR_PID=$!
	wait_for "$_f.err" listening
}

# topo_hosts_behind_routers: after topo_two_routers, a host behind each router
# and forwarding between them:
#   h1 198.51.100.10 -- a 198.51.100.1 | b 203.0.113.1 -- h2 203.0.113.10
topo_hosts_behind_routers() {
	for h in h1 h2; do ip netns add $h; ip -n $h link set lo up; done
	ip link add eth0 netns h1 type veth peer name lan netns a
	ip link add eth0 netns h2 type veth peer name lan netns b
	ip -n h1 addr add 198.51.100.10/24 dev eth0; ip -n h1 link set eth0 up
	ip -n a addr add 198.51.100.1/24 dev lan; ip -n a link set lan up
	ip -n h2 addr add 203.0.113.10/24 dev eth0; ip -n h2 link set eth0 up
	ip -n b addr add 203.0.113.1/24 dev lan; ip -n b link set lan up
	ip -n h1 route add default via 198.51.100.1
	ip -n h2 route add default via 203.0.113.1
	for n in a b; do ip netns exec $n sysctl -qw net.ipv4.ip_forward=1; done
	ip -n a route add 203.0.113.0/24 via 192.0.2.2
	ip -n b route add 198.51.100.0/24 via 192.0.2.1
}

# xfrm_tunnel_subnets: after topo_hosts_behind_routers, a tunnel-mode ESP SA
# pair between the routers (AES-GCM-128; SPI 0x1000 a->b, 0x2000 b->a,
# reqid 1) and the policies that send h1 <-> h2 traffic through it.
xfrm_tunnel_subnets() {
	for n in a b; do
		ip -n $n xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 reqid 1 \
			mode tunnel aead 'rfc4106(gcm(aes))' $KEY_AB 128 || return 1
		ip -n $n xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2000 reqid 1 \
			mode tunnel aead 'rfc4106(gcm(aes))' $KEY_BA 128 || return 1
	done
	_l=198.51.100.0/24 _r=203.0.113.0/24
	ip -n a xfrm policy add src $_l dst $_r dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 1 mode tunnel &&
	ip -n a xfrm policy add src $_r dst $_l dir fwd tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 1 mode tunnel &&
	ip -n a xfrm policy add src $_r dst $_l dir in tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 1 mode tunnel &&
	ip -n b xfrm policy add src $_r dst $_l dir out tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 1 mode tunnel &&
	ip -n b xfrm policy add src $_l dst $_r dir fwd tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 1 mode tunnel &&
	ip -n b xfrm policy add src $_l dst $_r dir in tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 1 mode tunnel
}

# xfrmi_side NETNS LOCAL REMOTE INNER PEER_INNER SPI_OUT SPI_IN: the XFRM
# interface ipsec9 (if_id 9) over the namespace's veth end (v$NETNS, which
# gets LOCAL/24), INNER/32 to PEER_INNER/32 on it, an rfc4106(gcm(aes))
# tunnel-mode SA pair LOCAL <-> REMOTE with if_id 9 (SPIs in hex digits) and
# its policies for any address.
xfrmi_side() {
	ip -n $1 addr add $2/24 dev v$1
	ip -n $1 link add ipsec9 type xfrm dev v$1 if_id 9 || return 1
	ip -n $1 link set ipsec9 up
	ip -n $1 addr add $4/32 peer $5/32 dev ipsec9
	ip -n $1 xfrm state add src $2 dst $3 proto esp spi 0x$6 mode tunnel if_id 9 \
		aead 'rfc4106(gcm(aes))' $KEY_AB 128 || return 1
	ip -n $1 xfrm state add src $3 dst $2 proto esp spi 0x$7 mode tunnel if_id 9 \
		aead 'rfc4106(gcm(aes))' $KEY_AB 128 || return 1
	ip -n $1 xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir out if_id 9 tmpl src $2 dst $3 proto esp mode tunnel
	ip -n $1 xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir in if_id 9 tmpl src $3 dst $2 proto esp mode tunnel
}

# vti_pair NETNS TYPE NAME KEY LOCAL REMOTE INNER PEER_INNER SPI_OUT SPI_IN:
# a vti (TYPE vti, IPv4) or vti6 tunnel with ikey = okey = mark = KEY, its
# SAs and policies (SPIs in hex digits).
vti_pair() {
	ip -n $1 link add $3 type $2 local $5 remote $6 ikey $4 okey $4 || return 1
	# Up first: IPv6 adds the route to a peer address added while the
	# link was down only for the local address when it comes up.
	ip -n $1 link set $3 up
	ip -n $1 addr add $7 peer $8 dev $3 $([ $2 = vti6 ] && echo nodad)
	ip -n $1 xfrm state add src $5 dst $6 proto esp spi 0x$9 mode tunnel mark $4 aead 'rfc4106(gcm(aes))' $KEY_AB 128 || return 1
	ip -n $1 xfrm state add src $6 dst $5 proto esp spi 0x${10} mode tunnel mark $4 aead 'rfc4106(gcm(aes))' $KEY_AB 128 || return 1
	# Selectors of the inner addresses only: IPv6's own traffic on the
	# tunnel (router solicitations, MLD from its link-local address) is
	# not encrypted, so the ESP counted is the pings'.
	ip -n $1 xfrm policy add src $7 dst $8 dir out mark $4 tmpl src $5 dst $6 proto esp mode tunnel
	ip -n $1 xfrm policy add src $8 dst $7 dir in mark $4 tmpl src $6 dst $5 proto esp mode tunnel
}
# require_link_kind KIND CONFIG ARGS...: skips the test (before its plan)
# unless namespace a can make a device of KIND (ARGS: its parameters).
require_link_kind() {
	_kind=$1 _cfg=$2
	shift 2
	ip -n a link add probe0 type $_kind "$@" 2>/dev/null ||
		skip_test "kernel without $_kind devices ($_cfg)"
	ip -n a link del probe0
}

# vti_side NETNS LOCAL REMOTE INNER PEER_INNER SPI_OUT SPI_IN [KEY [AEAD_KEY]]:
# the vti tunnel vti$KEY (input and output key KEY, default 7) LOCAL ->
# REMOTE over the namespace's veth end (v$NETNS, which gets LOCAL/24),
# INNER/32 to PEER_INNER/32 on it, an rfc4106(gcm(aes)) tunnel-mode SA pair
# LOCAL <-> REMOTE with mark KEY (SPIs in hex digits; AEAD_KEY default
# $KEY_AB) and its policies for any address with that mark.
vti_side() {
	_k=${8:-7} _key=${9:-$KEY_AB}
	ip -n $1 addr replace $2/24 dev v$1
	ip -n $1 link add vti$_k type vti local $2 remote $3 ikey $_k okey $_k || return 1
	ip -n $1 addr add $4/32 peer $5/32 dev vti$_k
	ip -n $1 link set vti$_k up
	ip -n $1 xfrm state add src $2 dst $3 proto esp spi 0x$6 mode tunnel mark $_k \
		aead 'rfc4106(gcm(aes))' $_key 128 || return 1
	ip -n $1 xfrm state add src $3 dst $2 proto esp spi 0x$7 mode tunnel mark $_k \
		aead 'rfc4106(gcm(aes))' $_key 128 || return 1
	ip -n $1 xfrm policy add dir out mark $_k tmpl src $2 dst $3 proto esp mode tunnel
	ip -n $1 xfrm policy add dir in mark $_k tmpl src $3 dst $2 proto esp mode tunnel
}

# The receive-path tests of route-based tunnels (xfrmi_rx.sh, vti_rx.sh):
# the same cases on an XFRM interface and on a vti, between a and b, b's
# side receiving.
#
# tunnel_down_case WHO DEV INNER PEER_INNER: b's tunnel DEV down, a pings
# b's INNER: no reply; R_down says what the module counted; DEV up again
# (its address INNER/32 peer PEER_INNER/32 back) and pinging.
tunnel_down_case() {
	mark_counters
	ip -n b link set $2 down
	check "$1: no reply with b's $2 down" sh -c "! ip netns exec a ping -q -c 3 -i 0.1 -W 1 $3 >/dev/null"
	snap b
	R_down="decap=$(delta decap_ok) passed=$(delta passed_to_xfrm)"
	diag "$1: $2 down: $R_down"
	ip -n b link set $2 up
	ip -n b addr add $3/32 peer $4/32 dev $2 2>/dev/null
	check "$1: pings again with $2 up" sh -c "ip netns exec a ping -q -c 5 -i 0.1 -W 1 $3 >/dev/null"
}
# tunnel_bulk_case WHO INNER_B INNER_A: 4 MiB of TCP each way through the
# tunnel, checked by hash; R_bulk: what the module decapsulated in b.
tunnel_bulk_case() {
	mark_counters
	check "$1: 4 MiB from a to b, intact" bulk_tcp a b $2 5009 4194304
	check "$1: 4 MiB from b to a, intact (b receives the acks)" bulk_tcp b a $3 5010 4194304
	snap b
	R_bulk=$(delta decap_ok)
	diag "$1: bulk: decapsulated by the module $R_bulk, handed to XFRM $(delta passed_to_xfrm)"
}
# sa_view_module SPI MIN: b's per-SA view shows its inbound SA SPI as
# decapsulated by the module, with more than MIN packets.
sa_view_module() {
	ip netns exec b "$IPSEC_RS_TOOL" show sas --json >/tmp/sas.json
	check_eq "per-SA view: b's inbound SA $1 decapsulated by the module" \
		"$(python3 -c 'import json, sys; print([s["handler"] for s in json.load(open("/tmp/sas.json")) if s["spi"] == int(sys.argv[1], 16)])' $1)" "['module']"
	_n=$(python3 -c 'import json, sys; print([s["decap_ok"] for s in json.load(open("/tmp/sas.json")) if s["spi"] == int(sys.argv[1], 16)][0])' $1)
	check "per-SA view: its decapsulated count is the module's ($_n)" test "$_n" -gt $2
}

# wait_listen NETNS PORT: until a TCP listener is up (socat starts slowly under TCG).
wait_listen() {
	_i=0
	while [ $_i -lt 100 ] && ! ip netns exec "$1" cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -qi ":$(printf '%04X' "$2") .* 0A "; do
		sleep 0.2; _i=$((_i + 1))
	done
}
# wait_for FILE PATTERN: until FILE has a line matching PATTERN (tcpdump and
# `ipsec-rs monitor` say "listening" on stderr once they are), 10 s at most;
# false if it has none then.
wait_for() {
	_i=0
	while [ $_i -lt 100 ] && ! grep -q "$2" "$1"; do sleep 0.1; _i=$((_i + 1)); done
	grep -q "$2" "$1"
}
# wait_rcv: the receiver (pid in RCV_PID) ends with the connection; never wait forever.
wait_rcv() {
	_i=0
	while [ $_i -lt 300 ] && kill -0 $RCV_PID 2>/dev/null; do sleep 0.2; _i=$((_i + 1)); done
	kill $RCV_PID 2>/dev/null; wait $RCV_PID 2>/dev/null
}
# bulk_tcp FROM TO ADDR PORT BYTES: BYTES of random data sent over TCP from
# namespace FROM to ADDR:PORT (IPv4, or IPv6 if ADDR has a colon) in
# namespace TO; true if they arrived whole (sha256 of both ends), else a
# diag line says which step failed.
bulk_tcp() {
	case $3 in
	*:*) _listen=TCP6-LISTEN _to="TCP6:[$3]" ;;
	*) _listen=TCP-LISTEN _to="TCP:$3" ;;
	esac
	head -c "$5" /dev/urandom >/tmp/bulk-tx.bin
	ip netns exec "$2" socat -u "$_listen":"$4",reuseaddr OPEN:/tmp/bulk-rx.bin,creat,trunc &
	RCV_PID=$!
	wait_listen "$2" "$4"
	ip netns exec "$1" socat -u OPEN:/tmp/bulk-tx.bin "$_to":"$4",connect-timeout=10,retry=10,interval=1 ||
		{ kill $RCV_PID 2>/dev/null; diag "bulk_tcp: sending $1 -> $3 port $4 failed"; return 1; }
	wait_rcv
	[ "$(sha256sum </tmp/bulk-rx.bin)" = "$(sha256sum </tmp/bulk-tx.bin)" ] ||
		{ diag "bulk_tcp: $3 port $4 received $(wc -c 2>/dev/null </tmp/bulk-rx.bin || echo 0) of $5 bytes, not the data sent"; return 1; }
}
# mark_counters / delta NAME: how much module counter NAME moved in router b
# since the last mark_counters (receive-path tests).
# encap_socket NETNS: UDP sockets on port 4500 (IPv4, and IPv6 only) with
# UDP_ENCAP_ESPINUDP in NETNS, as an IKE daemon has (what routes
# UDP-encapsulated ESP to XFRM's handlers), and natt_bypass. Waits up to
# 30 s for them; the sockets' process id is in ENCAP_PID_<NETNS>. Fails if
# they did not come up.
encap_socket() {
	ip netns exec "$1" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 4500))
s.setsockopt(socket.IPPROTO_UDP, 100, 2)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s6.bind(("::", 4500))
s6.setsockopt(socket.IPPROTO_UDP, 100, 2)
print("ready", flush=True)
time.sleep(3600)' >/tmp/encap_$1.out &
	eval "ENCAP_PID_$1=$!"
	natt_bypass "$1"
	_i=0
	while [ $_i -lt 150 ] && ! grep -q ready /tmp/encap_$1.out 2>/dev/null; do
		sleep 0.2; _i=$((_i + 1))
	done
	grep -q ready /tmp/encap_$1.out
}
# natt_bypass NETNS: inbound policies letting datagrams to port 4500 through
# (UDP checks policy before the encapsulation socket sees them, and tunnel
# or transport policies between the same addresses, if they have a lower
# priority than these (a higher number), would match them).
natt_bypass() {
	ip -n "$1" -batch - <<-EOF
	xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 proto udp dport 4500 dir in priority 10
	xfrm policy add src ::/0 dst ::/0 proto udp dport 4500 dir in priority 10
	EOF
}

mark_counters() { snap b; BASE=$SNAP; }
delta() { echo $(( $(cnt "$1") - $(echo "$BASE" | json_get "$1") )); }
