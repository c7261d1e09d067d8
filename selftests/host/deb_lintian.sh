#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lintian's verdict on packages of scripts/mkdeb, one line each: no error
# (E:) and no warning (W:); its informational tags are not counted. make
# test-vm runs it on every package it builds (the tools for amd64 and
# arm64, the DKMS source, each kernel's module package).
#
#   selftests/host/deb_lintian.sh DEB...
#
# TAP; exit 0 pass, 1 fail, 4 skip (no lintian).
set -uo pipefail

[ $# -gt 0 ] || { echo "usage: deb_lintian.sh DEB..." >&2; exit 1; }
echo "TAP version 13"
if ! command -v lintian >/dev/null; then
	echo "1..0 # SKIP no lintian"
	printf '\n*** SKIP: deb_lintian.sh: no lintian (make setup installs it) ***\n\n' >&2
	exit 4
fi
echo "1..$#"
# (One lintian run a package: its lines name the package but not the
# architecture, and the tools' packages share their name.)
n=0 failed=0
for deb in "$@"; do
	n=$((n + 1))
	mine=$(lintian --tag-display-limit 0 "$deb" 2>/dev/null | grep -E '^[EW]: ' || true)
	if [ -z "$mine" ]; then
		echo "ok $n $(basename "$deb"): lintian: no error, no warning"
	else
		echo "not ok $n $(basename "$deb"): lintian:"
		sed 's/^/#   /' <<<"$mine"
		failed=1
	fi
done
exit $failed
