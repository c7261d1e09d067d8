#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The vendor guide's invalid-SPI recovery scenario with libreswan on the
# router that loses its SAs:
#
#   h1 (198.51.100.10) -- A (198.51.100.1 | 192.0.2.1) ==IKE/ESP== B (192.0.2.2 | 203.0.113.1) -- h2 (203.0.113.10)
#
# A runs strongSwan's charon (as in recovery.sh), B runs pluto (libreswan
# 4.10, extracted into the cache by `make setup`; see lib/libreswan.sh) with
# initial-contact=yes. PSK, aes128-sha256-modp2048, ESP AES-GCM-16 128, DPD
# off; A initiates. ipsec-rsd runs on B with the libreswan back end and A as
# its static peer. Three black holes, one daemon process:
#
#   1. reboot: pluto killed with SIGKILL, B's XFRM states and policies
#      flushed, pluto started again (connection loaded, nothing
#      initiated); host 1 pings throughout;
#   2. pluto restarted, not yet listening: as 1, but pluto only starts 4 s
#      after the wipe; the daemon's first tries get whack's exit 33 and
#      must be retried;
#   3. connection not loaded: pluto is up at once but without the
#      connection, which is added 4 s later; the daemon gets
#      `021 no connection named` (exit 0 with --asynchronous) and must retry.
#
# Each time: the daemon acts, its recovery reports done only with an
# established IKE SA and Child SA and INITIAL_CONTACT sent, traffic flows
# again, A dropped the stale SA (charon logs the INITIAL_CONTACT), B has a
# new Child SA.
#
# Arguments (none: the test above, as in TESTS); these must FAIL, they show
# that the checks catch a black hole that stays:
#   nodaemon  scenario 1 with the daemon stopped before the reboot;
#   noic      scenario 1 with B's connection lacking initial-contact=yes
#             (the daemon warns at start-up; pluto sends no INITIAL_CONTACT,
#             A keeps its stale SA).
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
. "$IPSEC_RS_REPO/selftests/lib/strongswan.sh"
. "$IPSEC_RS_REPO/selftests/lib/libreswan.sh"
require_swan_lab
require_libreswan
MODE=${1:-all}
case $MODE in all | nodaemon | noic) ;; *) die "unknown mode '$MODE' (nodaemon, noic)" ;; esac
IV=0.2		# ping interval
HEAL_MAX=10	# 1: seconds from pluto listening again to traffic flowing
LATE=4		# 2, 3: seconds before pluto / the connection appears
LATE_MAX=60	# 2, 3: seconds to wait for traffic (pluto's start-up self-tests
		# take 10-15 s under TCG)

cleanup() {
	[ -n "${RSD_PID:-}" ] && kill "$RSD_PID" 2>/dev/null
	[ -n "${PING_PID:-}" ] && kill "$PING_PID" 2>/dev/null
	swan_stop a; pluto_stop b
	for n in a b h1 h2; do ip netns del $n 2>/dev/null; done
	true
}
trap cleanup EXIT
ic_conf() { [ "$MODE" = noic ] || echo initial-contact=yes; }
# b_wipe: B loses pluto (no Delete reaches A) and its XFRM states and
# policies. Prints the time.
b_wipe() {
	pluto_crash b
	ip -n b xfrm state flush
	ip -n b xfrm policy flush
	date +%s.%N
}
# a_got_initial_contact N: charon on A destroyed the old IKE SA on an
# INITIAL_CONTACT at least N times.
a_got_initial_contact() { test "$(grep -c 'received INITIAL_CONTACT' "$SWAN_DIR/a/charon.log")" -ge "$1"; }
# heal STEP SPI N: host 1 pings until a reply comes back (each request on
# the stale SPI is an invalid-SPI event on B), then the checks of a healed
# black hole; N: the number of the recovery in the daemon's log.
heal() {
	heal_ping "$1" "$LATE_MAX"
	rsd_settle "$3"
	check "$1: recovery done, with INITIAL_CONTACT" \
		sh -c "grep 'recovery towards 192.0.2.1 done' '$SWAN_DIR/rsd.log' | sed -n '$3p' | grep -q 'INITIAL_CONTACT sent'"
	check "$1: A dropped the stale SA $2" a_dropped "$2"
	check "$1: A's charon got the INITIAL_CONTACT" a_got_initial_contact "$3"
	check "$1: B (pluto) has a new Child SA" pluto_child_up b
}

ktap_plan
topo_two_routers
topo_hosts_behind_routers
check "insmod" load_module

# The lab: charon on A, pluto on B, A initiates.
t=$(now)
rm -rf "$SWAN_DIR"; mkdir -p "$SWAN_DIR/a" "$SWAN_DIR/b"
swan_conf a 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24
# shellcheck disable=SC2046
pluto_conf b 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24 $(ic_conf)
swan_ns a && charon_start a && swan_load a >/dev/null || die "charon on A did not start"
ok "charon on A started, connection loaded"
pluto_ns b || { show "$SWAN_DIR/b/initnss.log"; die "no mount namespace with libreswan for B"; }
pluto_start b || { tail -20 "$SWAN_DIR/b/pluto.log" | show; die "pluto on B did not start"; }
ok "pluto on B started ($LIBRESWAN)"
check "pluto on B has connection 'peer'" pluto_loaded b
swan_in a swanctl --initiate --child net --timeout 30 >"$SWAN_DIR/a/initiate.log" 2>&1
both_up() { swan_child_up a && pluto_child_up b; }
check "A (charon) and B (pluto) have the CHILD_SA" both_up
diag "SAs up in $(awk "BEGIN{printf \"%.1f\", $(now) - $t}") s"
check "host 1 reaches host 2 through the tunnel" \
	ip netns exec h1 ping -q -c 3 -i $IV -W 2 203.0.113.10

cat >"$SWAN_DIR/rsd.toml" <<-EOF
	[recovery]
	enabled = true
	backend = "libreswan"
	per_peer_limit = 10
	global_limit = 10
	retry_secs = 60
	stats_interval_secs = 0
	[libreswan]
	ipsec = "/usr/sbin/ipsec"
	timeout_secs = 20
	[[peer]]
	address = "192.0.2.1"
	connection = "peer"
EOF
check "ipsec-rsd --check-config" sh -c "'$RSD' --check-config -c '$SWAN_DIR/rsd.toml' >/dev/null"
check "ipsec-rsd subscribed to the module's events" rsd_start
check "the daemon's start-up check found initial-contact=yes" \
	rsd_wait_log 1 "connection 'peer' loaded in pluto, initial-contact=yes" 10
check "no initial-contact warning" sh -c "! grep -q 'lacks initial-contact=yes' '$SWAN_DIR/rsd.log'"
if [ "$MODE" = nodaemon ]; then
	kill "$RSD_PID"; wait "$RSD_PID" 2>/dev/null; RSD_PID=
	diag "nodaemon: ipsec-rsd stopped"
fi

# 1. Reboot: host 1 pings throughout.
old_spi=$(stale_spi)
diag "1: A sends on SPI $old_spi"
ip netns exec h1 ping -D -i $IV -W 1 -c 100000 203.0.113.10 >"$SWAN_DIR/ping.txt" 2>&1 &
PING_PID=$!
sleep 3
dmesg -c >/dev/null
wipe=$(b_wipe)
pluto_start b || not_ok "1: pluto restarted on B"
ready=$(now)
diag "1: B rebooted at $wipe: pluto restarted (connection loaded, nothing initiated), XFRM flushed; pluto answering after $(awk "BEGIN{printf \"%.1f\", $ready - $wipe}") s"
sleep 20
kill -INT $PING_PID; wait $PING_PID; PING_PID=
tail -2 "$SWAN_DIR/ping.txt" | sed 's/^/# /'
check "1: B logged the invalid-SPI line for A's stale SA" \
	sh -c "dmesg | grep -q 'RECVD_PKT_INV_SPI: decaps: rec.d IPSEC packet has invalid spi for destaddr=192.0.2.2, prot=50, spi=$old_spi(.*), srcaddr=192.0.2.1'"
set -- $(ping_analyse "$SWAN_DIR/ping.txt" $IV)
lost=$1 heal=$2 back=$4
after=none
[ "$back" != - ] && after=$(awk "BEGIN{printf \"%.2f\", $back - $ready}")
echo "# RESULT libreswan recovery: $lost packets lost, traffic flowed again ${heal} s after the first lost packet, ${after} s after pluto answered"
if [ "$after" != none ] && awk "BEGIN{exit !($after <= $HEAL_MAX)}"; then
	ok "1: traffic flows again within $HEAL_MAX s of pluto answering ($after s; $heal s, $lost packets lost in all)"
else
	not_ok "1: traffic did not flow again within $HEAL_MAX s of pluto answering ($after s; heal: $heal, lost: $lost)"
fi
late=$(sed -n 's/^\[\([0-9.]*\)\].*icmp_seq=.*/\1/p' "$SWAN_DIR/ping.txt" | awk -v w="$wipe" '$1 > w + 1' | wc -l)
check "1: replies keep coming after the recovery ($late)" test "$late" -gt 10
check "1: the daemon acted on the event" grep -q 'acted (peer 192.0.2.1, connection peer)' "$SWAN_DIR/rsd.log"
rsd_settle 1
check "1: recovery done, with INITIAL_CONTACT" \
	sh -c "grep 'recovery towards 192.0.2.1 done' '$SWAN_DIR/rsd.log' | head -1 | grep -q 'INITIAL_CONTACT sent'"
check "1: the daemon did not whack --crash a restarted pluto" sh -c "! grep -q 'whack --crash' '$SWAN_DIR/rsd.log'"
check "1: A dropped the stale SA $old_spi" a_dropped "$old_spi"
check "1: A's charon got the INITIAL_CONTACT" a_got_initial_contact 1
check "1: B (pluto) has a new Child SA" pluto_child_up b

if [ "$MODE" = all ]; then
	# 2. pluto restarted, not yet listening.
	spi=$(stale_spi)
	b_wipe >/dev/null
	(sleep $LATE; pluto_start b) &
	late_pid=$!
	diag "2: B rebooted, pluto starts in $LATE s; A sends on $spi"
	heal "2 (pluto not yet listening)" "$spi" 2
	wait $late_pid
	check "2: the daemon retried while pluto was not running" \
		sh -c "grep -q 'pluto is not running.*retrying in 1 s' '$SWAN_DIR/rsd.log'"

	# 3. Connection not loaded: pluto up at once, the connection added later.
	spi=$(stale_spi)
	b_wipe >/dev/null
	# shellcheck disable=SC2046
	pluto_conf b 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24 $(ic_conf) auto=ignore
	pluto_start b || not_ok "3: pluto restarted on B"
	not_loaded() { ! pluto_loaded b; }
	check "3: pluto runs without connection 'peer'" not_loaded
	# shellcheck disable=SC2046
	pluto_conf b 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24 $(ic_conf)
	(sleep $LATE; swan_in b ipsec auto --add peer >"$SWAN_DIR/b/add.log" 2>&1) &
	late_pid=$!
	diag "3: B rebooted without the connection, added in $LATE s; A sends on $spi"
	heal "3 (connection not loaded)" "$spi" 3
	wait $late_pid
	check "3: the daemon retried while the connection was not loaded" \
		sh -c "grep -q \"connection 'peer' is not loaded in pluto (021 no connection named .peer.); retrying in 1 s\" '$SWAN_DIR/rsd.log'"
fi

if [ -n "${RSD_PID:-}" ]; then
	kill -USR1 "$RSD_PID"; sleep 0.5
	kill "$RSD_PID"; wait "$RSD_PID" 2>/dev/null; RSD_PID=
fi
failed=$(grep 'ipsec-rsd stats:' "$SWAN_DIR/rsd.log" | tail -1 | sed -n 's/.* recoveries_failed=\([0-9]*\).*/\1/p')
check_eq "no recovery failed" "${failed:-?}" 0
diag "ipsec-rsd log:"; show "$SWAN_DIR/rsd.log"
diag "pluto B log (last 40 lines):"; grep -v netlink_expire "$SWAN_DIR/b/pluto.log" | tail -40 | show
diag "charon A, INITIAL_CONTACT and deletes:"
grep -E 'INITIAL_CONTACT|deleting|destroying' "$SWAN_DIR/a/charon.log" | head -20 | show
cp "$SWAN_DIR/rsd.log" "$IPSEC_RS_OUT/rsd-libreswan-$MODE.log" 2>/dev/null
cp "$SWAN_DIR/b/pluto.log" "$IPSEC_RS_OUT/pluto-b-$MODE.log" 2>/dev/null
cp "$SWAN_DIR/a/charon.log" "$IPSEC_RS_OUT/charon-a-$MODE.log" 2>/dev/null
swan_stop a; pluto_stop b
ip -n a xfrm state flush; ip -n a xfrm policy flush
ip -n b xfrm state flush; ip -n b xfrm policy flush
check "no kernel splat" kernel_log_clean
check "rmmod" unload_module
ktap_finish
