#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS packaging: `make dkms-source` into a throwaway source tree, `dkms add`
# and `dkms build` in a throwaway DKMS tree (nothing under /usr/src or
# /var/lib/dkms is touched), against each cached kernel tree standing in for
# an installed kernel's /lib/modules/<release>/build: the 6.12 debug tree, and
# a 7.3 one when one is set up (QEMU's, else User-Mode Linux's). Checks that the module DKMS built is for that
# kernel (vermagic) and that dkms.conf carries the tools' version.
#
#   selftests/host/dkms.sh        (make check runs it)
#
# TAP; exit 0 pass, 1 fail, 4 skip (no dkms, no cached kernel).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${IPSEC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipsec_rs}

echo "TAP version 13"
skip() { echo "1..0 # SKIP $*"; printf '\n*** SKIP: dkms.sh: %s ***\n\n' "$*" >&2; exit 4; }
command -v dkms >/dev/null || skip "dkms is not installed (make setup installs it)"
kernels=()
# 7.3: its QEMU tree if set up, else its User-Mode Linux one (make check's;
# the Makefile builds for ARCH=um when the tree's .config says CONFIG_UML).
for k in kernel-debug "7.3/kernel-debug uml-7.3/kernel-debug"; do
	for alt in $k; do
		if [ -f "$CACHE/$alt/Module.symvers" ]; then
			kernels+=("$(readlink -f "$CACHE/$alt")")
			break
		fi
	done
done
[ ${#kernels[@]} -gt 0 ] || skip "no cached kernel tree in $CACHE (run 'make setup' first)"
echo "1..$((1 + 2 * ${#kernels[@]}))"

T=$(mktemp -d /tmp/ipsec_rs-dkms.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n $*"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $*"; }

ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$ROOT/dkms.conf")
cargo_ver=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' "$ROOT/userspace/Cargo.toml")
if [ -n "$ver" ] && [ "$ver" = "$cargo_ver" ]; then
	ok "dkms.conf's version $ver is the tools' version"
else
	nok "dkms.conf's version '$ver' is not the tools' version '$cargo_ver'"
fi

mkdir -p "$T/src" "$T/dkms"
make -s -C "$ROOT" --no-print-directory dkms-source DKMS_SRC="$T/src" >/dev/null &&
	dkms add -m ipsec_rs -v "$ver" --sourcetree "$T/src" --dkmstree "$T/dkms" >"$T/add.log" 2>&1 ||
	{ sed 's/^/#   /' "$T/add.log"; }
for kdir in "${kernels[@]}"; do
	rel=$(cat "$kdir/include/config/kernel.release")
	# DKMS runs make with a clean environment of its own; the toolchain
	# facts come from the set-up's toolchain.mk in IPSEC_RS_CACHE.
	start=$(date +%s)
	if (cd "$T" && IPSEC_RS_CACHE=$CACHE dkms build -m ipsec_rs -v "$ver" -k "$rel" -a x86_64 \
		--kernelsourcedir "$kdir" --sourcetree "$T/src" --dkmstree "$T/dkms" >"$T/build-$rel.log" 2>&1); then
		ok "dkms build against $rel ($kdir) in $(($(date +%s) - start)) s"
	else
		nok "dkms build against $rel ($kdir)"
		tail -20 "$T/build-$rel.log" | sed 's/^/#   /'
		cat "$T/dkms/ipsec_rs/$ver/build/make.log" 2>/dev/null | tail -30 | sed 's/^/#   /'
	fi
	ko=$T/dkms/ipsec_rs/$ver/$rel/x86_64/module/ipsec_rs.ko
	vm=$(modinfo -F vermagic "$ko" 2>/dev/null)
	if [ "${vm%% *}" = "$rel" ]; then
		ok "the module DKMS built is for $rel (vermagic: $vm)"
	else
		nok "the module DKMS built for $rel has vermagic '$vm' ($ko)"
	fi
done
[ $fails -eq 0 ]
