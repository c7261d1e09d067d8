#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The vendor guide's invalid-SPI recovery scenario with strongSwan:
#
#   h1 (198.51.100.10) -- A (198.51.100.1 | 192.0.2.1) ==IKE/ESP== B (192.0.2.2 | 203.0.113.1) -- h2 (203.0.113.10)
#
# One charon per router (PSK, aes128-sha256-modp2048, ESP aes128gcm16, DPD
# off); A initiates, host 1 pings host 2 through the tunnel. Router B
# "reboots": its charon is killed with SIGKILL (no Delete reaches A), a new
# charon is started with the configuration loaded but nothing initiated, and
# B's XFRM states and policies are flushed. A keeps its IKE SA and keeps
# sending on the stale SPI while host 1 keeps pinging.
#
#   on:  ipsec-rsd runs on B with A as a static peer: B logs the invalid-SPI
#        line, the daemon initiates (INITIAL_CONTACT makes A drop its stale
#        SAs), new SAs come up and traffic flows again within 5 s of the
#        first lost packet; the number of lost packets is printed.
#   off: ipsec-rsd runs with recovery disabled: it logs the events as
#        skipped, and the black hole persists for at least 60 s.
#
# Argument: on, off, or nothing for both.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
. "$IPSEC_RS_REPO/selftests/lib/strongswan.sh"
require_swan_lab
MODES=${1:-on off}
IV=0.2			# ping interval
HEAL_MAX=5		# seconds from the first lost packet to traffic flowing
HOLE_MIN=60		# seconds the black hole must last without recovery

cleanup() {
	[ -n "${RSD_PID:-}" ] && kill "$RSD_PID" 2>/dev/null
	[ -n "${PING_PID:-}" ] && kill "$PING_PID" 2>/dev/null
	swan_stop a; swan_stop b
	for n in a b h1 h2; do ip netns del $n 2>/dev/null; done
	true
}
trap cleanup EXIT
now() { date +%s.%N; }
no_child_b() { ! swan_child_up b; }
show() { sed 's/^/#   /' "$@"; }

ktap_plan
topo_two_routers
topo_hosts_behind_routers
check "insmod" load_module

run_mode() {	# $1: on | off
	mode=$1
	t=$(now)
	check "$mode: A and B started charon, A initiated IKE and CHILD_SA" swan_lab_up
	diag "$mode: SAs up in $(awk "BEGIN{printf \"%.1f\", $(now) - $t}") s"
	check "$mode: host 1 reaches host 2 through the tunnel" \
		ip netns exec h1 ping -q -c 3 -i $IV -W 2 203.0.113.10
	old_spi=$(stale_spi)
	diag "$mode: A sends on SPI $old_spi"

	if [ "$mode" = on ]; then enabled=true; else enabled=false; fi
	rsd_conf $enabled
	check "$mode: ipsec-rsd --check-config" sh -c "'$RSD' --check-config -c '$SWAN_DIR/rsd.toml' >/dev/null"
	check "$mode: ipsec-rsd subscribed to the module's events" rsd_start

	# Host 1 pings continuously; router B reboots meanwhile. The ping is
	# stopped (SIGINT: it prints its summary) a fixed time after the wipe.
	# -c, not -w: with a deadline, iputils ping exits at the first ICMP
	# error (A may answer one while it switches SAs).
	if [ "$mode" = on ]; then dur=20; else dur=$((HOLE_MIN + 5)); fi
	ip netns exec h1 ping -D -i $IV -W 1 -c 100000 203.0.113.10 >"$SWAN_DIR/ping.txt" 2>&1 &
	PING_PID=$!
	sleep 3
	dmesg -c >/dev/null
	wipe=$(b_reboot) || not_ok "$mode: charon restarted on B"
	diag "$mode: B rebooted at $wipe: charon restarted (config loaded, nothing initiated), XFRM flushed"
	sleep $dur
	kill -INT $PING_PID
	wait $PING_PID
	end=$(now)
	PING_PID=
	tail -2 "$SWAN_DIR/ping.txt" | sed 's/^/# /'

	check "$mode: B logged the invalid-SPI line for A's stale SA" \
		sh -c "dmesg | grep -q 'RECVD_PKT_INV_SPI: decaps: rec.d IPSEC packet has invalid spi for destaddr=192.0.2.2, prot=50, spi=$old_spi(.*), srcaddr=192.0.2.1'"
	dmesg | grep RECVD_PKT_INV_SPI | sed 's/^/# /'
	# A recovery still running (an initiate charon has not answered yet:
	# the daemon waits up to its vici timeout, 20 s) ends before the
	# daemon is stopped, so its outcome is in the log.
	[ "$mode" = on ] && ! rsd_settle 1 &&
		diag "$mode: no recovery outcome in ipsec-rsd's log 30 s after the ping"
	kill -USR1 "$RSD_PID"; sleep 0.5
	kill "$RSD_PID"; wait "$RSD_PID" 2>/dev/null; RSD_PID=
	diag "$mode: ipsec-rsd log:"; show "$SWAN_DIR/rsd.log"
	set -- $(ping_analyse "$SWAN_DIR/ping.txt" $IV)
	lost=$1 heal=$2
	if [ "$mode" = on ]; then
		check "$mode: the daemon acted on the event" grep -q 'acted (peer 192.0.2.1, connection peer)' "$SWAN_DIR/rsd.log"
		check "$mode: the recovery completed" grep -q 'recovery towards 192.0.2.1 done' "$SWAN_DIR/rsd.log"
		check "$mode: new CHILD_SA on B" swan_child_up b
		check "$mode: A dropped the stale SA $old_spi" a_dropped $old_spi
		echo "# RESULT recovery on: $lost packets lost, traffic flowed again ${heal} s after the first lost packet"
		if [ "$heal" != none ] && awk "BEGIN{exit !($heal <= $HEAL_MAX)}"; then
			ok "$mode: traffic flows again within $HEAL_MAX s ($heal s, $lost packets lost)"
		else
			not_ok "$mode: traffic did not flow again within $HEAL_MAX s (heal: $heal, lost: $lost)"
		fi
		ping_ok_after=$(sed -n 's/^\[\([0-9.]*\)\].*icmp_seq=.*/\1/p' "$SWAN_DIR/ping.txt" | awk -v w="$wipe" '$1 > w + 1' | wc -l)
		check "$mode: replies keep coming after the recovery ($ping_ok_after)" test "$ping_ok_after" -gt 10
	else
		check "$mode: the daemon skipped the event (recovery disabled)" grep -q 'skipped: disabled' "$SWAN_DIR/rsd.log"
		check "$mode: the daemon started no recovery" sh -c "! grep -q 'recovery towards' '$SWAN_DIR/rsd.log'"
		late=$(sed -n 's/^\[\([0-9.]*\)\].*icmp_seq=.*/\1/p' "$SWAN_DIR/ping.txt" | awk -v w="$wipe" '$1 > w + 1' | wc -l)
		hole=$(awk "BEGIN{printf \"%.1f\", $end - $wipe}")
		sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$SWAN_DIR/ping.txt")
		rcvd=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SWAN_DIR/ping.txt")
		echo "# RESULT recovery off: no reply for $hole s after the reboot; $((sent - rcvd)) of $sent packets lost"
		check_eq "$mode: no reply after B's reboot" "$late" 0
		check "$mode: black hole lasted at least $HOLE_MIN s ($hole s)" awk "BEGIN{exit !($hole >= $HOLE_MIN)}"
		check "$mode: B still has no CHILD_SA" no_child_b
		check "$mode: A still has the stale SA $old_spi" a_has_sa $old_spi
	fi
	diag "$mode: charon B log since the reboot:"
	awk '/Starting IKE charon/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' \
		"$SWAN_DIR/b/charon.log" | head -60 | show
	cp "$SWAN_DIR/b/charon.log" "$IPSEC_RS_OUT/charon-b-$mode.log" 2>/dev/null
	cp "$SWAN_DIR/a/charon.log" "$IPSEC_RS_OUT/charon-a-$mode.log" 2>/dev/null
	swan_stop a; swan_stop b
	ip -n a xfrm state flush; ip -n a xfrm policy flush
	ip -n b xfrm state flush; ip -n b xfrm policy flush
	sleep 0.5
}

for m in $MODES; do
	case $m in on | off) run_mode $m ;; *) die "unknown mode '$m' (on, off)" ;; esac
done
check "no kernel splat" kernel_log_clean
check "rmmod" unload_module
ktap_finish
