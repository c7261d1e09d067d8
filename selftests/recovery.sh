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
#   vti, xfrmi: as on, with the tunnel route-based: the routers route the
#        hosts' subnets into a vti tunnel (ikey = okey = 42, strongSwan's
#        mark_in/mark_out) or an XFRM interface (if_id 42, if_id_in/
#        if_id_out), which stays when B reboots. With vti, A's stale ESP
#        is claimed by vti ahead of the module's receive path: the module's
#        observer above vti reports it.
#
# Arguments: modes (on, off, vti, xfrmi), or nothing for on and off.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
. "$IPSEC_RS_REPO/selftests/lib/strongswan.sh"
require_swan_lab
MODES=${*:-on off}
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
no_child_b() { ! swan_child_up b; }

ktap_plan
topo_two_routers
topo_hosts_behind_routers
check "insmod" load_module

# route_based KIND: A and B route the other's subnet into rb42, a vti
# tunnel (KIND vti) or an XFRM interface (xfrmi) with key / if_id 42, and
# strongSwan's child is bound to it; nothing for KIND "".
route_based() {
	SWAN_ROUTE_BASED= SWAN_CHILD_OPTS=
	[ -n "$1" ] || return 0
	for n in a b; do
		case $n in
		a) l=192.0.2.1 r=192.0.2.2 net=203.0.113.0/24 ;;
		b) l=192.0.2.2 r=192.0.2.1 net=198.51.100.0/24 ;;
		esac
		ip -n $n link del rb42 2>/dev/null
		case $1 in
		vti)
			ip -n $n link add rb42 type vti local $l remote $r ikey 42 okey 42 || return 1
			# Forwarded inner packets carry no mark: vti's own advice.
			ip netns exec $n sysctl -qw net.ipv4.conf.rb42.disable_policy=1 ;;
		xfrmi) ip -n $n link add rb42 type xfrm dev v$n if_id 42 || return 1 ;;
		esac
		ip -n $n link set rb42 up
		ip -n $n route replace $net dev rb42
	done
	SWAN_ROUTE_BASED=1
	case $1 in
	vti) SWAN_CHILD_OPTS=$(printf 'mark_in = 42\n        mark_out = 42') ;;
	xfrmi) SWAN_CHILD_OPTS=$(printf 'if_id_in = 42\n        if_id_out = 42') ;;
	esac
}
# policy_based: back to routes through the other router (modes on, off).
policy_based() {
	SWAN_ROUTE_BASED= SWAN_CHILD_OPTS=
	ip -n a link del rb42 2>/dev/null; ip -n b link del rb42 2>/dev/null
	ip -n a route replace 203.0.113.0/24 via 192.0.2.2
	ip -n b route replace 198.51.100.0/24 via 192.0.2.1
}

# lab_state MODE: what each router holds, for a failure's diagnosis: the
# SAs (with their packet counts), the policies, XFRM's and the module's
# counters, charon A's log since the reboot, the ping's last lines.
lab_state() {
	for n in a b; do
		diag "$1: router $n: ip -s xfrm state / policy, xfrm_stat, module counters:"
		{
			ip -n $n -s xfrm state
			ip -n $n xfrm policy
			ip netns exec $n grep -v ' 0$' /proc/net/xfrm_stat
			ip netns exec $n "$IPSEC_RS_TOOL" stats
		} 2>&1 | show
	done
	diag "$1: charon A log, last 60 lines:"
	tail -60 "$SWAN_DIR/a/charon.log" | show
	diag "$1: ping, last 10 lines:"
	tail -10 "$SWAN_DIR/ping.txt" | show
}

run_mode() {	# $1: on | off | vti | xfrmi
	mode=$1
	case $mode in
	vti | xfrmi) check "$mode: routes into the $mode device rb42, key 42" route_based $mode ;;
	*) policy_based ;;
	esac
	t=$(now)
	check "$mode: A and B started charon, A initiated IKE and CHILD_SA" swan_lab_up
	diag "$mode: SAs up in $(awk "BEGIN{printf \"%.1f\", $(now) - $t}") s"
	check "$mode: host 1 reaches host 2 through the tunnel" \
		ip netns exec h1 ping -q -c 3 -i $IV -W 2 203.0.113.10
	old_spi=$(stale_spi)
	diag "$mode: A sends on SPI $old_spi"

	if [ "$mode" = off ]; then enabled=false; else enabled=true; fi
	rsd_conf $enabled
	check "$mode: ipsec-rsd --check-config" sh -c "'$RSD' --check-config -c '$SWAN_DIR/rsd.toml' >/dev/null"
	check "$mode: ipsec-rsd subscribed to the module's events" rsd_start

	# Host 1 pings continuously; router B reboots meanwhile. The ping is
	# stopped (SIGINT: it prints its summary) a fixed time after the wipe.
	# -c, not -w: with a deadline, iputils ping exits at the first ICMP
	# error (A may answer one while it switches SAs).
	if [ "$mode" != off ]; then dur=20; else dur=$((HOLE_MIN + 5)); fi
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
	[ "$mode" != off ] && ! rsd_settle 1 &&
		diag "$mode: no recovery outcome in ipsec-rsd's log 30 s after the ping"
	kill -USR1 "$RSD_PID"; sleep 0.5
	kill "$RSD_PID"; wait "$RSD_PID" 2>/dev/null; RSD_PID=
	diag "$mode: ipsec-rsd log:"; show "$SWAN_DIR/rsd.log"
	set -- $(ping_analyse "$SWAN_DIR/ping.txt" $IV)
	lost=$1 heal=$2
	if [ "$mode" != off ]; then
		check "$mode: the daemon acted on the event" grep -q 'acted (peer 192.0.2.1, connection peer)' "$SWAN_DIR/rsd.log"
		check "$mode: the recovery completed" grep -q 'recovery towards 192.0.2.1 done' "$SWAN_DIR/rsd.log"
		check "$mode: new CHILD_SA on B" swan_child_up b
		check "$mode: A dropped the stale SA $old_spi" a_dropped $old_spi
		echo "# RESULT recovery $mode: $lost packets lost, traffic flowed again ${heal} s after the first lost packet"
		if [ "$heal" != none ] && awk "BEGIN{exit !($heal <= $HEAL_MAX)}"; then
			ok "$mode: traffic flows again within $HEAL_MAX s ($heal s, $lost packets lost)"
		else
			not_ok "$mode: traffic did not flow again within $HEAL_MAX s (heal: $heal, lost: $lost)"
			lab_state "$mode"
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
	case $m in on | off | vti | xfrmi) run_mode $m ;; *) die "unknown mode '$m' (on, off, vti, xfrmi)" ;; esac
done
check "no kernel splat" kernel_log_clean
check "rmmod" unload_module
ktap_finish
