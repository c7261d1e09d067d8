#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The packages for the running kernel and architecture (ipsec-rs-modules-
# <release> and the tools, ipsec-rs_<version>_<arch>; scripts/mkdeb, which
# make test-vm runs for each module it has), installed as an operator would
# on a router: dpkg -i, then `modprobe ipsec_rs` without a path, its
# parameter from /etc/modprobe.d/. First a control: the module package
# without depmod in its postinst must leave modprobe unable to find the
# module (the check that would fail a package that forgot it). The
# packages stay installed: the group's next tests load the module as a
# router does, with modprobe (lib.sh's load_module), and deb_remove.sh,
# last, removes them.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
. "$IPSEC_RS_REPO/selftests/lib/dpkg.sh"
require_root
require_cmd dpkg dpkg-deb dpkg-query modprobe modinfo
REL=$(uname -r)
ARCH=$(dpkg --print-architecture)
DEB=$(ls "$IPSEC_RS_REPO"/out/deb-test/ipsec-rs-modules-"$REL"_*_"$ARCH".deb 2>/dev/null | head -1)
[ -n "$DEB" ] || skip_test "no ipsec-rs-modules-$REL package in out/deb-test (make test-vm builds one for each module it has)"
TOOLS=$(ls "$IPSEC_RS_REPO"/out/deb-test/ipsec-rs_*_"$ARCH".deb 2>/dev/null | head -1)
[ -n "$TOOLS" ] || skip_test "no $ARCH tools package in out/deb-test (make test-vm; make tools-arm64 for arm64)"
PKG=ipsec-rs-modules-$REL
trap 'rm -f /etc/modprobe.d/ipsec_rs.conf; modprobe -r ipsec_rs 2>/dev/null; true' EXIT

# dpkg's database of the guest's own (lib/dpkg.sh), in which the running
# kernel's package is installed: it is, in this guest, though not on the
# host.
dpkg_guest_db "$IPSEC_RS_DPKG_DB"
printf '\nPackage: linux-image-%s\nStatus: install ok installed\nPriority: optional\nSection: kernel\nMaintainer: Debian Kernel Team <debian-kernel@lists.debian.org>\nArchitecture: %s\nVersion: %s\nDescription: the running kernel\n' \
	"$REL" "$ARCH" "$REL" >>$DPKG_ADMINDIR/status
: >"$DPKG_ADMINDIR/info/linux-image-$REL.list"

ktap_plan
dpkg_make_dirs "$DEB"
dpkg_make_dirs "$TOOLS"

# The control: postinst without depmod.
rm -rf /tmp/broken && dpkg-deb -R "$DEB" /tmp/broken &&
	sed -i 's/^\(\s*\)depmod -a .*/\1:/' /tmp/broken/DEBIAN/postinst &&
	dpkg-deb --root-owner-group -b /tmp/broken /tmp/broken.deb >/dev/null ||
	die "cannot make the control package"
check "control: dpkg -i the package with no depmod in its postinst" logged dpkg -i /tmp/broken.deb
check "control: modprobe ipsec_rs then fails (not in modules.dep)" sh -c '! modprobe ipsec_rs 2>/dev/null'

# The real package over it, with the tools (dpkg -i of the same version
# configures again; under TCG each dpkg call reads every package's status:
# ~50 s in the amd64 guest, on the host's ~940).
check "dpkg -i $(basename "$DEB") $(basename "$TOOLS")" logged dpkg -i "$DEB" "$TOOLS"
check "dpkg lists $PKG as installed" sh -c "dpkg-query -W -f='\${Status}' $PKG | grep -q 'install ok installed'"
check "dpkg lists ipsec-rs:$ARCH as installed" sh -c "dpkg-query -W -f='\${Status}' ipsec-rs:$ARCH | grep -q 'install ok installed'"
check "depmod ran: modules.dep lists updates/ipsec_rs.ko" grep -q "^updates/ipsec_rs.ko:" /lib/modules/"$REL"/modules.dep
echo "options ipsec_rs rx_gro=1" >/etc/modprobe.d/ipsec_rs.conf
check_eq "modprobe resolves ipsec_rs to the package's file" "$(modinfo -n ipsec_rs 2>&1)" \
	"/lib/modules/$REL/updates/ipsec_rs.ko"
check "modprobe ipsec_rs (no path)" logged modprobe ipsec_rs
check "... loaded" test -d /sys/module/ipsec_rs
check_eq "rx_gro from /etc/modprobe.d/ipsec_rs.conf" "$(cat /sys/module/ipsec_rs/parameters/rx_gro 2>/dev/null)" 1
check "the package's /usr/sbin/ipsec-rs runs here: ipsec-rs stats" logged /usr/sbin/ipsec-rs stats
check "modprobe -r ipsec_rs" logged modprobe -r ipsec_rs
ktap_finish
