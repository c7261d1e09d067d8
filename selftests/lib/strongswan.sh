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
RSD=${RSD:-$IPSEC_RS_REPO/userspace/target/debug/ipsec-rsd}
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
# file log in $SWAN_DIR/NETNS/charon.log.
swan_strongswan_conf() {
	cat >"$SWAN_DIR/$1/strongswan.conf" <<-CONF
	charon {
	  load_modular = yes
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
# mode, DPD off, nothing started automatically.
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
	        remote_ts = $5
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
