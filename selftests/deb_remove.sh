#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The packages deb_install.sh installed earlier in the group, removed with
# dpkg -r: depmod again on removal, after which modprobe no longer finds
# the module.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
. "$IPSEC_RS_REPO/selftests/lib/dpkg.sh"
require_root
require_cmd dpkg dpkg-query modprobe
REL=$(uname -r)
ARCH=$(dpkg --print-architecture)
PKG=ipsec-rs-modules-$REL
DPKG_ADMINDIR=$IPSEC_RS_DPKG_DB
export DPKG_ADMINDIR
dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'install ok installed' ||
	skip_test "$PKG is not installed (deb_install.sh, earlier in the group, installs it)"

ktap_plan
check "dpkg -r $PKG ipsec-rs" logged dpkg -r "$PKG" ipsec-rs:"$ARCH"
check "depmod ran on removal: modules.dep no longer lists it" \
	sh -c "! grep -q 'updates/ipsec_rs.ko' /lib/modules/$REL/modules.dep"
check "the module file is gone" test ! -e "/lib/modules/$REL/updates/ipsec_rs.ko"
check "modprobe ipsec_rs fails" sh -c '! modprobe ipsec_rs 2>/dev/null'
check "the tools are gone" test ! -e /usr/sbin/ipsec-rs
ktap_finish
