#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The module's Debian package for the running kernel (ipsec-rs-modules-
# <release>, scripts/mkdeb; make test-vm builds one for each module it
# has), installed as an operator would on a router: dpkg -i, then
# `modprobe ipsec_rs` without a path, its parameter from /etc/modprobe.d/;
# removed with dpkg -r. First a control: the same package without depmod in
# its postinst must leave modprobe unable to find the module (the check
# that would fail a package that forgot it). The group's other tests then
# load the same module by path (insmod), as on every kernel.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
. "$IPSEC_RS_REPO/selftests/lib/dpkg.sh"
require_root
require_cmd dpkg dpkg-deb dpkg-query modprobe modinfo
REL=$(uname -r)
DEB=$(ls "$IPSEC_RS_REPO"/out/deb-test/ipsec-rs-modules-"$REL"_*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || skip_test "no ipsec-rs-modules-$REL package in out/deb-test (make test-vm builds one for each module it has)"
PKG=ipsec-rs-modules-$REL
trap 'rm -f /etc/modprobe.d/ipsec_rs.conf; modprobe -r ipsec_rs 2>/dev/null; true' EXIT

# dpkg's database of the guest's own (lib/dpkg.sh), in which the running
# kernel's package is installed: it is, in this guest, though not on the
# host.
dpkg_guest_db /tmp/dpkg-modules
printf '\nPackage: linux-image-%s\nStatus: install ok installed\nPriority: optional\nSection: kernel\nMaintainer: Debian Kernel Team <debian-kernel@lists.debian.org>\nArchitecture: amd64\nVersion: %s\nDescription: the running kernel\n' \
	"$REL" "$REL" >>$DPKG_ADMINDIR/status
: >"$DPKG_ADMINDIR/info/linux-image-$REL.list"

ktap_plan
dpkg_make_dirs "$DEB"

# The control: postinst without depmod.
rm -rf /tmp/broken && dpkg-deb -R "$DEB" /tmp/broken &&
	sed -i 's/^\(\s*\)depmod -a .*/\1:/' /tmp/broken/DEBIAN/postinst &&
	dpkg-deb --root-owner-group -b /tmp/broken /tmp/broken.deb >/dev/null ||
	die "cannot make the control package"
check "control: dpkg -i the package with no depmod in its postinst" logged dpkg -i /tmp/broken.deb
check "control: modprobe ipsec_rs then fails (not in modules.dep)" sh -c '! modprobe ipsec_rs 2>/dev/null'

# The real package over it (dpkg -i of the same version configures again:
# under TCG each dpkg call reads ~940 packages' status, ~50 s).
check "dpkg -i $(basename "$DEB")" logged dpkg -i "$DEB"
check "dpkg lists $PKG as installed" sh -c "dpkg-query -W -f='\${Status}' $PKG | grep -q 'install ok installed'"
check "depmod ran: modules.dep lists updates/ipsec_rs.ko" grep -q "^updates/ipsec_rs.ko:" /lib/modules/"$REL"/modules.dep
echo "options ipsec_rs rx_gro=1" >/etc/modprobe.d/ipsec_rs.conf
check_eq "modprobe resolves ipsec_rs to the package's file" "$(modinfo -n ipsec_rs 2>&1)" \
	"/lib/modules/$REL/updates/ipsec_rs.ko"
check "modprobe ipsec_rs (no path)" logged modprobe ipsec_rs
check "... loaded" test -d /sys/module/ipsec_rs
check_eq "rx_gro from /etc/modprobe.d/ipsec_rs.conf" "$(cat /sys/module/ipsec_rs/parameters/rx_gro 2>/dev/null)" 1
check "modprobe -r ipsec_rs" logged modprobe -r ipsec_rs
check "dpkg -r $PKG" logged dpkg -r "$PKG"
check "depmod ran on removal: modules.dep no longer lists it" \
	sh -c "! grep -q 'updates/ipsec_rs.ko' /lib/modules/$REL/modules.dep"
ktap_finish
