#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# strongSwan helpers of the ipsec_rs selftests (sourced after lib.sh).
#
# Each router runs its own charon in its network namespace and in a private
# mount namespace with a tmpfs on /run (charon's pid file and VICI socket
# live there). The mount namespace belongs to a long-lived holder process,
# not to charon, so a restarted charon (and ipsec-rsd, which talks to it
# over /run/charon.vici) find the same /run.

CHARON=${CHARON:-/usr/lib/ipsec/charon}
SWAN_DIR=${SWAN_DIR:-/tmp/swan}
RSD=${RSD:-$IPSEC_RS_BIN/ipsec-rsd}
require_swan() {
	require_cmd swanctl unshare nsenter
	[ -x "$CHARON" ] || skip_test "needs strongSwan's charon ($CHARON)"
}

# swan_ns NETNS: start the holder of NETNS's mount namespace.
swan_ns() {
	mkdir -p "$SWAN_DIR/$1"
	# ip netns exec, unshare and sh all exec: $! ends up being sleep.
	ip netns exec "$1" unshare -m --propagation private \
		sh -c 'mount -t tmpfs swanrun /run && exec sleep 100000' &
	echo $! >"$SWAN_DIR/$1/holder"
	_i=0
	while [ $_i -lt 50 ] && ! grep -q swanrun "/proc/$!/mountinfo" 2>/dev/null; do
		sleep 0.1; _i=$((_i + 1))
	done
	grep -q swanrun "/proc/$!/mountinfo"
}
# swan_in NETNS CMD...: run CMD in NETNS's network and mount namespaces,
# with NETNS's strongswan.conf. Never background swan_in itself (`&` on a
# function forks a subshell, and $! would not be CMD's pid): use
# `nsenter -t "$(swan_holder NETNS)" -m -n -- CMD &`, which execs CMD.
swan_holder() { cat "$SWAN_DIR/$1/holder"; }
swan_in() {
	_n=$1; shift
	STRONGSWAN_CONF="$SWAN_DIR/$_n/strongswan.conf" nsenter -t "$(swan_holder "$_n")" -m -n -- "$@"
}

# swan_strongswan_conf NETNS: Debian's configuration plus a timestamped
# file log in $SWAN_DIR/NETNS/charon.log; with $SWAN_ROUTE_BASED set, no
# routes of its own (route-based tunnels: the interfaces route).
swan_strongswan_conf() {
	cat >"$SWAN_DIR/$1/strongswan.conf" <<-CONF
	charon {
	  load_modular = yes${SWAN_ROUTE_BASED:+
	  install_routes = no}
	  plugins {
	    include /etc/strongswan.d/charon/*.conf
	  }
	  filelog {
	    swanlog {
	      path = $SWAN_DIR/$1/charon.log
	      time_format = %H:%M:%S
	      append = yes
	      flush_line = yes
	      default = 1
	    }
	  }
	}
	include /etc/strongswan.d/*.conf
	CONF
}

# charon_start NETNS: start charon there (log appended to
# $SWAN_DIR/NETNS/charon.log) and wait for its VICI socket.
charon_start() {
	_h=$(swan_holder "$1")
	rm -f "/proc/$_h/root/run/charon.vici" "/proc/$_h/root/run/charon.pid"
	[ -f "$SWAN_DIR/$1/strongswan.conf" ] || swan_strongswan_conf "$1"
	STRONGSWAN_CONF="$SWAN_DIR/$1/strongswan.conf" nsenter -t "$_h" -m -n -- \
		"$CHARON" >>"$SWAN_DIR/$1/charon.out" 2>&1 &
	echo $! >"$SWAN_DIR/$1/charon"
	# Ready once the VICI socket exists (polling with swanctl would cost a
	# plugin-loading process start each time under TCG).
	_i=0
	while [ $_i -lt 600 ]; do
		[ -S "/proc/$_h/root/run/charon.vici" ] && return 0
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}
charon_pid() { cat "$SWAN_DIR/$1/charon"; }
# charon_crash NETNS: kill -9 (no Delete is sent: a crash or power loss).
charon_crash() { kill -9 "$(charon_pid "$1")"; wait "$(charon_pid "$1")" 2>/dev/null; true; }
swan_load() { swan_in "$1" swanctl --load-all --file "$SWAN_DIR/$1/swanctl.conf" 2>>"$SWAN_DIR/$1/charon.out"; }

# swan_conf NETNS LOCAL REMOTE LOCAL_TS REMOTE_TS: a PSK connection "peer"
# with child "net": IKE aes128-sha256-modp2048, ESP aes128gcm16, tunnel
# mode, DPD off, nothing started automatically; $SWAN_CHILD_OPTS (lines
# such as "mark_in = 42") added to the child.
swan_conf() {
	cat >"$SWAN_DIR/$1/swanctl.conf" <<-CONF
	connections {
	  peer {
	    version = 2
	    local_addrs = $2
	    remote_addrs = $3
	    proposals = aes128-sha256-modp2048
	    dpd_delay = 0
	    mobike = no
	    local { auth = psk
	            id = $2 }
	    remote { auth = psk
	             id = $3 }
	    children {
	      net {
	        local_ts = $4
	        remote_ts = $5${SWAN_CHILD_OPTS:+
	        $SWAN_CHILD_OPTS}
	        esp_proposals = aes128gcm16
	        mode = tunnel
	        start_action = none
	        dpd_action = none
	      }
	    }
	  }
	}
	secrets {
	  ike-peer {
	    id-1 = $2
	    id-2 = $3
	    secret = "ipsec_rs selftest key, not secret"
	  }
	}
	CONF
}

# swan_child_up NETNS: the CHILD_SA "net" is installed there.
swan_child_up() { swan_in "$1" swanctl --list-sas 2>/dev/null | grep -q 'net:.*INSTALLED'; }

# swan_stop NETNS: kill charon and the holder.
swan_stop() {
	[ -f "$SWAN_DIR/$1/charon" ] && kill -9 "$(charon_pid "$1")" 2>/dev/null
	[ -f "$SWAN_DIR/$1/holder" ] && kill "$(cat "$SWAN_DIR/$1/holder")" 2>/dev/null
	true
}

# ping_analyse FILE INTERVAL: from `ping -D` output, the first gap in the
# replies: prints "LOST HEAL_S LAST_OK_TS FIRST_BACK_TS" where LOST is the
# number of echo requests without reply between the last reply before the
# gap and the first reply after it, HEAL_S the time from the first lost
# request (last reply + INTERVAL) to the first reply after the gap, or
# "LOST none LAST_OK_TS -" if no reply came after the gap.
ping_analyse() {
	sed -n 's/^\[\([0-9.]*\)\].*icmp_seq=\([0-9]*\) .*/\1 \2/p' "$1" | awk -v iv="$2" '
		NR == 1 { pts = $1; pseq = $2; next }
		gap == 0 && $2 > pseq + 1 { gap = 1; lost = $2 - pseq - 1; lts = pts; bts = $1; }
		{ pts = $1; pseq = $2 }
		END {
			if (gap) printf "%d %.2f %s %s\n", lost, bts - lts - iv, lts, bts;
			else printf "%d none %s -\n", 0, pts;
		}'
}

# The A/B recovery lab shared by recovery.sh and rsd_resilience.sh: router A
# (192.0.2.1) protects 198.51.100.0/24, router B (192.0.2.2) 203.0.113.0/24.

# require_swan_lab: skip without root or strongSwan; fail if our tools are
# not built.
require_swan_lab() {
	require_root
	require_cmd ip ping awk
	require_swan
	require_tool
	[ -x "$RSD" ] || die "ipsec-rsd not built: $RSD"
}

# swan_lab_up: fresh $SWAN_DIR, both charons started with the connection
# loaded, A initiates; fails unless both routers have the CHILD_SA.
swan_lab_up() {
	rm -rf "$SWAN_DIR"; mkdir -p "$SWAN_DIR/a" "$SWAN_DIR/b"
	swan_conf a 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24
	swan_conf b 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24
	swan_ns a && swan_ns b || return 1
	charon_start a && charon_start b || return 1
	swan_load a >/dev/null && swan_load b >/dev/null || return 1
	swan_in a swanctl --initiate --child net --timeout 30 >"$SWAN_DIR/a/initiate.log" 2>&1
	swan_child_up a && swan_child_up b
}

# stale_spi: the SPI A sends on towards B, as the module logs it (hex, no
# leading zeros).
stale_spi() {
	_s=$(ip -n a xfrm state | sed -n '/^src 192.0.2.1 dst 192.0.2.2/{n;s/.*spi \(0x[0-9a-f]*\).*/\1/p}' | head -1)
	[ -n "$_s" ] && printf '0x%x' "$_s"
}
# a_has_sa SPI: A still has the outbound SA with SPI.
a_has_sa() { ip -n a xfrm state | grep -q "spi $(printf '0x%08x' "$1") "; }
a_dropped() { ! a_has_sa "$1"; }

# b_reboot: router B loses everything: charon killed (no Delete reaches A)
# and restarted with the configuration loaded but nothing initiated, XFRM
# states and policies flushed. Prints the time the SAs were gone.
b_reboot() {
	charon_crash b
	charon_start b || return 1
	swan_load b >/dev/null
	ip -n b xfrm state flush
	ip -n b xfrm policy flush
	date +%s.%N
}

# rsd_conf ENABLED [RECOVERY_LINE...]: ipsec-rsd's configuration in
# $SWAN_DIR/rsd.toml with A as the one static peer.
rsd_conf() {
	_en=$1; shift
	{
		echo "[recovery]"
		echo "enabled = $_en"
		echo "stats_interval_secs = 0"
		for _l; do echo "$_l"; done
		printf '[vici]\nsocket = "/run/charon.vici"\n'
		printf '[[peer]]\naddress = "192.0.2.1"\nconnection = "peer"\nchild = "net"\n'
	} >"$SWAN_DIR/rsd.toml"
}
# rsd_start: run ipsec-rsd in B's namespaces (pid in RSD_PID, log in
# $SWAN_DIR/rsd.log); fails unless it subscribed within 10 s.
rsd_start() {
	nsenter -t "$(swan_holder b)" -m -n -- "$RSD" -c "$SWAN_DIR/rsd.toml" >"$SWAN_DIR/rsd.log" 2>&1 &
	RSD_PID=$!
	rsd_wait_log 1 subscribed 10
}
# rsd_wait_log N PATTERN SECS: wait until PATTERN is on N lines of the log.
rsd_wait_log() {
	_i=0
	while [ $_i -lt $(($3 * 10)) ]; do
		# The log appears when the daemon's shell has opened it.
		_c=$(grep -c "$2" "$SWAN_DIR/rsd.log" 2>/dev/null)
		[ "${_c:-0}" -ge "$1" ] && return 0
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}
# rsd_settle N: wait (up to 30 s) until the daemon has logged the outcome
# (done or failed) of N recoveries towards A.
rsd_settle() { rsd_wait_log "$1" 'recovery towards 192.0.2.1 \(done\|failed\)' 30; }
# rsd_stat NAME: the daemon's counter NAME from its last stats line (SIGUSR1).
rsd_stat() {
	kill -USR1 "$RSD_PID" && sleep 0.5
	grep 'ipsec-rsd stats:' "$SWAN_DIR/rsd.log" | tail -1 | sed -n "s/.* $1=\([0-9]*\).*/\1/p"
}

# The recovery tests' small helpers (h1 -- A ==IKE/ESP== B -- h2):
# now: wall-clock seconds with nanoseconds; show FILE...: a file as TAP
# diagnostics; tunnel_ping: one ping h1 -> h2 through the tunnel.
now() { date +%s.%N; }
show() { sed 's/^/#   /' "$@"; }
tunnel_ping() { ip netns exec h1 ping -q -c 1 -W 1 203.0.113.10 >/dev/null 2>&1; }
# heal_ping STEP LIMIT: tunnel_ping until a reply comes back, for LIMIT s
# at most; one TAP line: how long it took, or that none came.
heal_ping() {
	_t=$(now) _ok=1
	while awk "BEGIN{exit !($(now) - $_t < $2)}"; do
		tunnel_ping && { _ok=0; break; }
	done
	_dt=$(awk "BEGIN{printf \"%.1f\", $(now) - $_t}")
	if [ $_ok -eq 0 ]; then ok "$1: traffic flows again after $_dt s"
	else not_ok "$1: no traffic within $2 s"; fi
}
