#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ipsec-rsd keeps working through what a production router throws at it,
# in the recovery lab of recovery.sh (strongSwan on routers A and B, hosts
# behind them; the daemon runs on B with A as its static peer), one daemon
# process for the whole test:
#
#   1. B loses only its inbound CHILD_SA while its IKE SA stays up: the
#      daemon must tear the IKE SA down and re-create it (a plain initiate
#      would reuse the IKE SA and leave A's stale CHILD_SA in place);
#   2. the module is unloaded and reloaded under the daemon: it resubscribes
#      and recovers the next black hole, after B rebooted (its charon was
#      restarted while the daemon ran, so the recovery reaches a new charon);
#   3. a flood of invalid-SPI events from spoofed, unconfigured sources
#      while the daemon is stopped overruns its netlink socket (ENOBUFS):
#      it counts the overrun and the skipped events, keeps running, and
#      still recovers a real black hole afterwards.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
. "$IPSEC_RS_REPO/selftests/lib/strongswan.sh"
require_swan_lab
FLOOD="$IPSEC_RS_REPO/selftests/tools/esp_flood"
[ -x "$FLOOD" ] || die "selftests/tools/esp_flood not built (make -C selftests/tools)"
HEAL_MAX=30	# seconds to wait for traffic after a black hole appeared

cleanup() {
	[ -n "${RSD_PID:-}" ] && kill -CONT "$RSD_PID" 2>/dev/null && kill "$RSD_PID" 2>/dev/null
	swan_stop a; swan_stop b
	for n in a b h1 h2; do ip netns del $n 2>/dev/null; done
	true
}
trap cleanup EXIT
# heal STEP SPI: host 1 pings until a reply comes back through new SAs
# (each request on the stale SPI is an invalid-SPI event on B); checks that
# it happened within HEAL_MAX s and that A dropped the stale SA.
heal() {
	heal_ping "$1" "$HEAL_MAX"
	check "$1: A dropped the stale SA $2" a_dropped "$2"
	check "$1: B has a new CHILD_SA" swan_child_up b
}

ktap_plan
topo_two_routers
topo_hosts_behind_routers
check "insmod" load_module
check "A and B started charon, A initiated IKE and CHILD_SA" swan_lab_up
check "host 1 reaches host 2 through the tunnel" tunnel_ping
# Limits wide enough for the three recoveries of this test.
rsd_conf true "per_peer_limit = 10" "global_limit = 10"
check "ipsec-rsd subscribed to the module's events" rsd_start

# 1. Only B's inbound CHILD_SA is gone; charon on B still has the IKE SA
#    and believes the CHILD_SA is installed.
spi=$(stale_spi)
ip -n b xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi "$spi"
diag "1: deleted B's inbound SA $spi, IKE SA kept"
heal "1 (IKE SA kept)" "$spi"
check "1: the daemon terminated the IKE SA before initiating" \
	grep -q 'peer 192.0.2.1: terminating IKE SA' "$SWAN_DIR/rsd.log"
check "1: recovery done" rsd_wait_log 1 'recovery towards 192.0.2.1 done' 10

# 2. The module is reloaded under the daemon.
check "2: rmmod under the daemon" unload_module
check "2: the daemon noticed the module was unloaded" rsd_wait_log 1 'module unloaded' 15
check "2: insmod" load_module
check "2: the daemon resubscribed" rsd_wait_log 2 subscribed 15
spi=$(stale_spi)
b_reboot >/dev/null || not_ok "2: charon restarted on B"
diag "2: B rebooted, A sends on $spi"
heal "2 (module reloaded)" "$spi"
check "2: recovery done" rsd_wait_log 2 'recovery towards 192.0.2.1 done' 10

# 3. ENOBUFS. The module may send an event for every spoofed flow; the
#    daemon is stopped so that its receive buffer overflows.
ip netns exec b "$IPSEC_RS_TOOL" set global --global-rate 100000 --global-burst 100000 \
	--flow-table-size 65536 >/dev/null
snap b; ev0=$(cnt events_sent)
kill -STOP "$RSD_PID"
sent=$(ip netns exec a "$FLOOD" 192.0.2.2 198.18.0.0/15 4000)
snap b; ev1=$(cnt events_sent)
kill -CONT "$RSD_PID"
diag "3: $sent spoofed packets sent, the module sent $((ev1 - ev0)) events while the daemon was stopped"
check "3: the module sent more events than a socket buffer holds" test $((ev1 - ev0)) -ge 1000
check "3: the daemon reported the overrun" rsd_wait_log 1 'ENOBUFS' 15
check "3: the daemon estimated the loss once its backlog was read" \
	rsd_wait_log 1 'events lost to netlink overruns' 30
check "3: the daemon is still running" kill -0 "$RSD_PID"
overruns=$(rsd_stat overruns)
unknown=$(rsd_stat skipped_unknown_peer)
lost=$(rsd_stat events_lost)
diag "3: overruns=$overruns skipped_unknown_peer=$unknown events_lost=$lost"
check "3: overrun counted" test "${overruns:-0}" -ge 1
check "3: lost events estimated" test "${lost:-0}" -ge 1
# Every flood event was either read (and skipped) or lost.
check "3: lost + read = sent ($lost + $unknown vs $((ev1 - ev0)))" \
	awk "BEGIN{d = $lost + $unknown - $((ev1 - ev0)); exit !(d >= -2 && d <= 2)}"
check "3: events from unconfigured sources skipped, not acted on" test "${unknown:-0}" -ge 1
check "3: no recovery started for a spoofed source" \
	sh -c "! grep -q 'recovery towards 198\.1[89]\.' '$SWAN_DIR/rsd.log'"
ip netns exec b "$IPSEC_RS_TOOL" set global --global-rate 10 --global-burst 10 >/dev/null
spi=$(stale_spi)
b_reboot >/dev/null || not_ok "3: charon restarted on B"
heal "3 (after the overrun)" "$spi"
check "3: recovery done" rsd_wait_log 3 'recovery towards 192.0.2.1 done' 10

okd=$(rsd_stat recoveries_ok)
failed=$(rsd_stat recoveries_failed)
check "every black hole was recovered ($okd recoveries)" test "${okd:-0}" -ge 3
check_eq "no recovery failed" "$failed" 0
diag "ipsec-rsd log:"; grep -v 'skipped: unknown peer' "$SWAN_DIR/rsd.log" | show
kill "$RSD_PID"; wait "$RSD_PID" 2>/dev/null; RSD_PID=
cp "$SWAN_DIR/rsd.log" "$IPSEC_RS_OUT/rsd-resilience.log" 2>/dev/null
swan_stop a; swan_stop b
ip -n a xfrm state flush; ip -n b xfrm state flush
check "no kernel splat" kernel_log_clean
check "rmmod" unload_module
ktap_finish
