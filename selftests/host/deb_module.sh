#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A module package of scripts/mkdeb (ipsec-rs-modules-<release>), checked on
# the host: the module where modprobe finds it for that release, the
# dependency on that release's kernel package, the maintainer scripts
# running depmod for that release on installation and removal (run with a
# depmod that records its arguments). make test-vm runs it on a package of
# the UML module it builds (lintian's verdict: deb_lintian.sh).
#
#   selftests/host/deb_module.sh DEB RELEASE
#
# TAP; exit 0 pass, 1 fail, 4 skip (no dpkg).
set -uo pipefail

DEB=${1:?usage: deb_module.sh DEB RELEASE}
REL=${2:?usage: deb_module.sh DEB RELEASE}
echo "TAP version 13"
command -v dpkg-deb >/dev/null || { echo "1..0 # SKIP no dpkg"; printf '\n*** SKIP: deb_module.sh: no dpkg ***\n\n' >&2; exit 4; }
echo "1..6"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n $*"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }

X=$(mktemp -d)
trap 'rm -rf "$X"' EXIT
dpkg-deb -x "$DEB" "$X/root" && dpkg-deb -e "$DEB" "$X/ctl"
check "the module in /lib/modules/$REL/updates/" test -f "$X/root/lib/modules/$REL/updates/ipsec_rs.ko"
check "Depends: linux-image-$REL" grep -qx "Depends: linux-image-$REL" "$X/ctl/control"

# The maintainer scripts with a depmod that logs its arguments.
mkdir -p "$X/bin"
printf '#!/bin/sh\necho "$*" >>"%s/depmod.log"\n' "$X" >"$X/bin/depmod"
chmod 755 "$X/bin/depmod"
# The scripts' /lib/modules/ is a directory of ours (postrm looks for the
# release's).
for f in postinst postrm; do
	sed "s|/lib/modules/|$X/lib/modules/|g" "$X/ctl/$f" >"$X/$f"
done
run() { : >"$X/depmod.log"; PATH="$X/bin:$PATH" sh -e "$X/$1" "$2" && cat "$X/depmod.log"; }
check "postinst configure: depmod -a $REL" test "$(run postinst configure)" = "-a $REL"
mkdir -p "$X/lib/modules/$REL"
check "postrm remove, the kernel there: depmod -a $REL" test "$(run postrm remove)" = "-a $REL"
check "postrm upgrade: no depmod" test -z "$(run postrm upgrade)"
rmdir "$X/lib/modules/$REL"
check "postrm purge, the kernel gone: no depmod" test -z "$(run postrm purge)"

exit $failed
