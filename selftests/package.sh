#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The tools' Debian package, installed as an operator would on a router
# (dpkg -i, into the guest's throwaway root): its files where Debian puts
# them, the unit accepted by systemd's own checker, and ipsec-rsd started by
# systemd under the installed unit (`systemctl start`): refused without a
# configuration, started with the example one in /etc/ipsec-rs, sandboxed
# as the unit says, subscribed to the module's events and logging one in
# its journal, restarted when killed, stopped cleanly; then removed. The
# package is built by `make test-vm` (scripts/mkdeb with the debug build:
# out/deb-test/).
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
. "$IPSEC_RS_REPO/selftests/lib/dpkg.sh"
require_root
require_cmd dpkg dpkg-query ip python3 unshare nsenter pgrep systemctl journalctl /lib/systemd/systemd
require_tool
DEB=$(ls "$IPSEC_RS_REPO"/out/deb-test/ipsec-rs_*_amd64.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || die "no package in out/deb-test (make test-vm builds it)"
UNIT=/lib/systemd/system/ipsec-rsd.service
trap '[ -n "${SD_PID:-}" ] && kill -KILL $SD_PID; topo_cleanup' EXIT

dpkg_guest_db /tmp/dpkg

ktap_plan
dpkg_make_dirs "$DEB"
check "dpkg -i $(basename "$DEB")" logged dpkg -i "$DEB"
check "dpkg lists ipsec-rs as installed" sh -c "dpkg-query -W -f='\${Status}' ipsec-rs | grep -q 'install ok installed'"
for f in /usr/sbin/ipsec-rs /usr/sbin/ipsec-rsd; do
	check "$f installed, executable" test -x $f
done
for f in $UNIT /lib/systemd/system/ipsec-rs-metrics.service /lib/systemd/system/ipsec-rs-metrics.timer \
	/usr/share/doc/ipsec-rs/examples/ipsec-rsd.toml.example /usr/share/doc/ipsec-rs/recovery.rst; do
	check "$f installed" test -f $f
done
check "/etc/ipsec-rs is the package's, no configuration shipped (the unit waits for one)" \
	sh -c "dpkg -S /etc/ipsec-rs | grep -q '^ipsec-rs:' && ! test -e /etc/ipsec-rs/ipsec-rsd.toml"
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify accepts the installed units" logged systemd-analyze verify $UNIT \
		/lib/systemd/system/ipsec-rs-metrics.service /lib/systemd/system/ipsec-rs-metrics.timer
else
	ok "systemd-analyze verify # SKIP no systemd-analyze on this host"
fi

# The daemon under its unit, started by systemd: systemd is the manager of a
# container in router b of the two-router lab (PID 1 of a PID namespace of
# its own, in b's network namespace), as on a router where the guest's PID 1
# is not systemd. Its mount namespace has its own /run, /tmp and /var/tmp
# (systemd-tmpfiles, run by sysinit.target, would otherwise clean the
# guest's), a read-only /sys (no udev in a container) and cgroup2.
topo_two_routers
check "insmod (invalid-SPI detection on by default)" load_module
SD_SETUP='mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /var/tmp &&
mount -t cgroup2 cgroup2 /sys/fs/cgroup && mount -o remount,bind,ro /sys &&
mkdir -p /run/systemd/system && printf "[Unit]\nDescription=ipsec_rs selftest container\n" >/run/systemd/system/ipsecrs-test.target &&
exec env container=ipsecrs-test /lib/systemd/systemd --unit=ipsecrs-test.target'
ip netns exec b unshare --pid --fork --mount-proc --propagation private sh -c "$SD_SETUP" >/tmp/systemd.log 2>&1 &
UNSHARE_PID=$!
SD_PID=""
_i=0
while [ $_i -lt 100 ] && [ -z "$SD_PID" ]; do
	sleep 0.2; _i=$((_i + 1))
	SD_PID=$(pgrep -P $UNSHARE_PID -x systemd)
done
# sd CMD...: CMD inside the container (its mount and PID namespaces, b's network).
sd() { nsenter -t "$SD_PID" -m -p -n "$@"; }
# Its bus (the private socket systemctl talks to) comes up a few seconds
# after it starts under TCG; then its start-up job finishes.
_i=0
while [ -n "$SD_PID" ] && [ $_i -lt 300 ] && ! sd test -S /run/systemd/private; do sleep 0.2; _i=$((_i + 1)); done
state=$( [ -n "$SD_PID" ] && sd timeout 120 systemctl is-system-running --wait 2>&1)
check_eq "systemd manages a container in router b" "$state" running
[ "$state" = running ] || { sed 's/^/#   /' /tmp/systemd.log | tail -20; die "no systemd to start the unit"; }
prop() { sd systemctl show -p "$1" --value ipsec-rsd; }
sd systemctl start ipsec-rsd
check_eq "without /etc/ipsec-rs/ipsec-rsd.toml the unit does not start (ConditionPathExists)" \
	"$(prop ConditionResult)/$(prop ActiveState)" no/inactive
cp /usr/share/doc/ipsec-rs/examples/ipsec-rsd.toml.example /etc/ipsec-rs/ipsec-rsd.toml
check "systemctl start ipsec-rsd (its ExecStartPre checks the configuration)" logged sd systemctl start ipsec-rsd
check_eq "the unit is active" "$(prop ActiveState)/$(prop SubState)" active/running
journal() { sd journalctl -q -u ipsec-rsd; }
journal_has() {	# PATTERN: the unit's journal shows it within 10 s
	_i=0
	while [ $_i -lt 50 ] && ! journal | grep -q "$1"; do sleep 0.2; _i=$((_i + 1)); done
	journal | grep -q "$1"
}
journal_lacks() { ! journal | grep -q "$1"; }
check "ipsec-rsd subscribed to the module's events (its journal)" journal_has subscribed
# The sandbox the unit asks for, seen on the daemon (its PID in the guest's
# namespace): no new privileges, CAP_NET_ADMIN (12) bounded in, CAP_SYS_ADMIN
# (21) out, /usr read-only (ProtectSystem=strict; the guest's own /usr is
# writable).
RSD=$(pgrep -x ipsec-rsd | head -1)
capbnd=$(awk '/^CapBnd:/ { print $2 }' /proc/$RSD/status)
check_eq "sandbox: NoNewPrivs" "$(awk '/^NoNewPrivs:/ { print $2 }' /proc/$RSD/status)" 1
check_eq "sandbox: capability bounding set has CAP_NET_ADMIN, not CAP_SYS_ADMIN" \
	"$(( (0x$capbnd >> 12) & 1 ))/$(( (0x$capbnd >> 21) & 1 ))" 1/0
check "sandbox: /usr read-only for the daemon, writable outside" \
	sh -c "! nsenter -t $RSD -m touch /usr/ipsecrs-probe 2>/dev/null && touch /usr/ipsecrs-probe && rm /usr/ipsecrs-probe"
# An unknown SPI from a: the example configuration has recovery off, so
# the daemon logs the event as skipped.
ip netns exec a $INJECT 192.0.2.2 --spi 0xbadf00d --seq 1 >/dev/null
check "the daemon logged the invalid-SPI event (recovery off: skipped)" journal_has "spi=0xbadf00d.*skipped"
# Restart=on-failure: killed, it is started again (RestartSec=2).
sd systemctl kill -s KILL ipsec-rsd
# (One systemctl a look, each ~1 s under TCG; 30 s at most. Sorted: the
# order of show's values is its own.)
restarted() { sd systemctl show -p NRestarts -p ActiveState --value ipsec-rsd | LC_ALL=C sort | paste -sd/; }
_end=$(($(date +%s) + 30))
while [ "$(date +%s)" -lt $_end ] && [ "$(restarted)" != 1/active ]; do sleep 0.5; done
check_eq "killed, systemd restarts it (Restart=on-failure)" "$(restarted)" 1/active
check "systemctl stop ipsec-rsd" logged sd systemctl stop ipsec-rsd
check_eq "stopped, with the result success" "$(prop Result)/$(prop ActiveState)" success/inactive
# SIGTERM handled, not died of: the daemon logged its counters on the way
# out, and systemd saw no death by signal 15.
check "SIGTERM handled: the daemon logged its exit" journal_has "exiting; ipsec-rsd stats"
check "SIGTERM handled: not killed by it" journal_lacks "code=killed, status=15"
journal | tail -5 | sed 's/^/#   /'
kill -KILL "$SD_PID"
wait $UNSHARE_PID 2>/dev/null
SD_PID=""

check "dpkg -r ipsec-rs" logged dpkg -r ipsec-rs
check "binaries and units gone" sh -c "! test -e /usr/sbin/ipsec-rsd && ! test -e $UNIT"
check "rmmod" rmmod ipsec_rs
ktap_finish
