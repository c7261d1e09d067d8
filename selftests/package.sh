#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The tools' Debian package, installed as an operator would on a router
# (dpkg -i, into the guest's throwaway root): its files where Debian puts
# them, the unit accepted by systemd's own checker, and ipsec-rsd started the
# way the installed unit starts it (its ExecStartPre and ExecStart, read from
# the unit, with the example configuration in /etc/ipsec-rs): subscribed to
# the module's events, logging one, stopped by SIGTERM as systemd stops it;
# then removed. The package is built by `make test-vm` (scripts/mkdeb with
# the debug build: out/deb-test/). The guest has no systemd as PID 1 (no
# cgroups in the test kernels), so `systemctl start` itself is not run.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd dpkg dpkg-query ip python3
require_tool
DEB=$(ls "$IPSEC_RS_REPO"/out/deb-test/ipsec-rs_*_amd64.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || die "no package in out/deb-test (make test-vm builds it)"
UNIT=/lib/systemd/system/ipsec-rsd.service
# dpkg wants ldconfig and start-stop-daemon on PATH.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
# logged CMD...: CMD's status; its output, indented, when it fails.
logged() {
	"$@" >/tmp/cmd.log 2>&1 && return 0
	sed 's/^/#   /' /tmp/cmd.log | tail -20
	return 1
}
trap 'kill $RSD_PID 2>/dev/null; topo_cleanup' EXIT

# dpkg's database: the host's lists the files of its ~940 packages, which
# dpkg reads and indexes on every call (measured under TCG: 150 s for
# `dpkg -i`, ~47 s for each later call). The package goes into a database
# of the guest's own (DPKG_ADMINDIR, honoured by dpkg and dpkg-query) with
# the host's package status, so its dependencies are checked against what
# is installed, and an empty file list for every package;
# selftests/host/deb_files.sh checks on the host, natively, that none of its
# files belongs to another package.
DPKG_ADMINDIR=/tmp/dpkg
export DPKG_ADMINDIR
mkdir -p $DPKG_ADMINDIR/info $DPKG_ADMINDIR/updates $DPKG_ADMINDIR/triggers
for f in status arch diversions statoverride; do
	[ -f /var/lib/dpkg/$f ] && cp /var/lib/dpkg/$f $DPKG_ADMINDIR/
done
for p in $(dpkg-query -W -f='${binary:Package}\n'); do : >"$DPKG_ADMINDIR/info/$p.list"; done

ktap_plan
# The guest's root is an overlay whose upper layer (tmpfs without xattrs)
# cannot rename a directory (EXDEV), and dpkg makes each new directory as
# NAME.dpkg-new and renames it: the package's directories are made first,
# dpkg then only renames files (measured: rename(2) of a new directory in
# /etc fails there, of a file works).
dpkg-deb -c "$DEB" | awk '$1 ~ /^d/ { sub(/^\./, "", $6); print $6 }' | xargs mkdir -p
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

# The daemon as the unit starts it, in router b of the two-router lab.
topo_two_routers
check "insmod (invalid-SPI detection on by default)" load_module
cp /usr/share/doc/ipsec-rs/examples/ipsec-rsd.toml.example /etc/ipsec-rs/ipsec-rsd.toml
pre=$(sed -n 's/^ExecStartPre=//p' $UNIT)
start=$(sed -n 's/^ExecStart=//p' $UNIT)
diag "ExecStartPre=$pre"
diag "ExecStart=$start"
check "the unit has an ExecStartPre and an ExecStart" test -n "$pre" -a -n "$start"
check "the unit's ExecStartPre (configuration check) succeeds" logged sh -c "$pre"
# shellcheck disable=SC2086
ip netns exec b $start >/tmp/rsd.log 2>&1 &
RSD_PID=$!
_i=0
while [ $_i -lt 100 ] && ! grep -q subscribed /tmp/rsd.log; do sleep 0.1; _i=$((_i + 1)); done
check "ipsec-rsd, started by the unit's ExecStart, subscribed to the module's events" grep -q subscribed /tmp/rsd.log
# An unknown SPI from a: the example configuration has recovery off, so
# the daemon logs the event as skipped.
ip netns exec a $INJECT 192.0.2.2 --spi 0xbadf00d --seq 1 >/dev/null
_i=0
while [ $_i -lt 50 ] && ! grep -q "spi=0xbadf00d.*skipped" /tmp/rsd.log; do sleep 0.1; _i=$((_i + 1)); done
check "the daemon logged the invalid-SPI event (recovery off: skipped)" grep -q "spi=0xbadf00d.*skipped" /tmp/rsd.log
kill -TERM $RSD_PID
wait $RSD_PID
check_eq "SIGTERM (systemctl stop) ends it cleanly" $? 0
RSD_PID=""
sed 's/^/#   /' /tmp/rsd.log | tail -5

check "dpkg -r ipsec-rs" logged dpkg -r ipsec-rs
check "binaries and units gone" sh -c "! test -e /usr/sbin/ipsec-rsd && ! test -e $UNIT"
check "rmmod" rmmod ipsec_rs
ktap_finish
