#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# libreswan helpers of the ipsec_rs selftests (sourced after lib.sh and
# strongswan.sh): router B runs pluto instead of charon.
#
# Debian 12's libreswan conflicts with the strongSwan packages the lab uses,
# so scripts/setup.sh only extracts it into the cache
# ($CACHE/libreswan-<version>/). pluto runs /usr/libexec/ipsec/addconn
# itself and the `ipsec` script looks there too, so B's holder process (see
# swan_ns) puts the extracted files in place inside B's private mount
# namespace: a tmpfs over /usr/libexec with the extracted ipsec/ bound into
# it, the extracted `ipsec` over /usr/sbin/ipsec, and the test's ipsec.conf
# and ipsec.secrets over /etc's. Nothing outside that namespace changes.

# The cache: IPSEC_RS_CACHE, else the one holding the kernel source the
# runner passed (IPSEC_RS_KSRC is $CACHE/src/linux-<version>), else ~/.cache.
ls_find() {
	_c=${IPSEC_RS_CACHE:-}
	if [ -z "$_c" ] && [ -n "${IPSEC_RS_KSRC:-}" ]; then
		case $IPSEC_RS_KSRC in */src/*) _c=${IPSEC_RS_KSRC%/src/*} ;; esac
	fi
	[ -n "$_c" ] || _c=${XDG_CACHE_HOME:-$HOME/.cache}/ipsec_rs
	# The newest extracted version.
	for _d in $(ls -d "$_c"/libreswan-* 2>/dev/null | sort -V -r); do
		[ -x "$_d/usr/libexec/ipsec/pluto" ] && { echo "$_d"; return 0; }
	done
	return 1
}
LIBRESWAN=${LIBRESWAN:-$(ls_find)}
require_libreswan() {
	[ -n "$LIBRESWAN" ] && [ -x "$LIBRESWAN/usr/libexec/ipsec/pluto" ] ||
		skip_test "needs libreswan extracted in the cache (run 'make setup'; looked for \$CACHE/libreswan-*/usr/libexec/ipsec/pluto)"
	require_cmd certutil
}

# pluto_ns NETNS: the holder of NETNS's mount namespace with /run on tmpfs
# and libreswan in place (see above).
pluto_ns() {
	_d=$SWAN_DIR/$1
	mkdir -p "$_d/nss"
	touch "$_d/ipsec.conf" "$_d/ipsec.secrets"
	ip netns exec "$1" unshare -m --propagation private sh -c '
		mount -t tmpfs swanrun /run && mkdir -p /run/pluto &&
		mount -t tmpfs lsexec /usr/libexec && mkdir /usr/libexec/ipsec &&
		mount --bind "$0/usr/libexec/ipsec" /usr/libexec/ipsec &&
		mount --bind "$0/usr/sbin/ipsec" /usr/sbin/ipsec &&
		mount --bind "$1/ipsec.conf" /etc/ipsec.conf &&
		mount --bind "$1/ipsec.secrets" /etc/ipsec.secrets &&
		exec sleep 100000' "$LIBRESWAN" "$_d" &
	echo $! >"$_d/holder"
	_i=0
	while [ $_i -lt 50 ] && ! grep -q ' /etc/ipsec.secrets ' "/proc/$!/mountinfo" 2>/dev/null; do
		sleep 0.1; _i=$((_i + 1))
	done
	grep -q ' /etc/ipsec.secrets ' "/proc/$!/mountinfo" &&
		swan_in "$1" ipsec initnss --nssdir "$_d/nss" >"$_d/initnss.log" 2>&1
}

# pluto_conf NETNS LOCAL REMOTE LOCAL_TS REMOTE_TS [EXTRA...]: connection
# "peer" as swan_conf writes it for charon (PSK, aes128-sha256-modp2048, ESP
# AES-GCM-16 128, tunnel, DPD off, auto=add: loaded, not initiated) plus
# one `key=value` line per EXTRA (initial-contact=yes, auto=ignore, ...).
# No updown script: pluto installs the XFRM states and policies itself, the
# lab has its routes, and `ipsec _updown` (a 970-line shell script) took
# 17-30 s per Child SA under TCG, stalling IKE_AUTH into retransmissions.
pluto_conf() {
	_d=$SWAN_DIR/$1 _l=$2 _r=$3 _lts=$4 _rts=$5
	shift 5
	{
		printf 'config setup\n\tlogtime=yes\n\tlogappend=yes\n\n'
		printf 'conn peer\n\tikev2=yes\n\tauthby=secret\n\ttype=tunnel\n'
		printf '\tleft=%s\n\tleftid=%s\n\tleftsubnet=%s\n' "$_l" "$_l" "$_lts"
		printf '\tright=%s\n\trightid=%s\n\trightsubnet=%s\n' "$_r" "$_r" "$_rts"
		printf '\tike=aes128-sha2_256-modp2048\n\tesp=aes_gcm128\n'
		printf '\tfragmentation=no\n\tmobike=no\n\trekey=no\n\tpfs=no\n'
		printf '\tleftupdown=%%disabled\n'
		_auto=auto=add
		for _x; do case $_x in auto=*) _auto=$_x ;; *) printf '\t%s\n' "$_x" ;; esac; done
		printf '\t%s\n' "$_auto"
	} >"$_d/ipsec.conf"
	echo "$_l $_r : PSK \"ipsec_rs selftest key, not secret\"" >"$_d/ipsec.secrets"
}

# pluto_start NETNS: start pluto there (log appended to
# $SWAN_DIR/NETNS/pluto.log) and wait until its control socket answers.
pluto_start() {
	_h=$(swan_holder "$1") _d=$SWAN_DIR/$1
	rm -f "/proc/$_h/root/run/pluto/pluto.ctl" "/proc/$_h/root/run/pluto/pluto.pid"
	nsenter -t "$_h" -m -n -- /usr/libexec/ipsec/pluto --config /etc/ipsec.conf \
		--nofork --stderrlog --nssdir "$_d/nss" --secretsfile /etc/ipsec.secrets \
		>>"$_d/pluto.log" 2>&1 &
	echo $! >"$_d/pluto"
	_i=0
	while [ $_i -lt 300 ]; do
		[ -S "/proc/$_h/root/run/pluto/pluto.ctl" ] &&
			swan_in "$1" ipsec whack --status >/dev/null 2>&1 && return 0
		sleep 0.2; _i=$((_i + 1))
	done
	return 1
}
pluto_pid() { cat "$SWAN_DIR/$1/pluto"; }
# pluto_crash NETNS: kill -9 (no Delete is sent).
pluto_crash() { kill -9 "$(pluto_pid "$1")" 2>/dev/null; wait "$(pluto_pid "$1")" 2>/dev/null; true; }
# pluto_child_up NETNS: pluto has an established Child SA of "peer".
pluto_child_up() { swan_in "$1" ipsec whack --trafficstatus 2>/dev/null | grep -q '"peer"'; }
# pluto_loaded NETNS: the connection "peer" is loaded.
pluto_loaded() { swan_in "$1" ipsec whack --status 2>/dev/null | grep -q '"peer":'; }
pluto_stop() {
	[ -f "$SWAN_DIR/$1/pluto" ] && kill -9 "$(pluto_pid "$1")" 2>/dev/null
	[ -f "$SWAN_DIR/$1/holder" ] && kill "$(cat "$SWAN_DIR/$1/holder")" 2>/dev/null
	true
}
