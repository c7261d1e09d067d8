#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The tools' package against this machine's dpkg database, natively: no file
# it ships belongs to an installed package (dpkg -i would refuse to
# overwrite it). selftests/package.sh installs the package in a guest with a
# dpkg database of its own (the host's package status, no file lists: reading
# the ~940 lists takes dpkg minutes under TCG), so this is where the check
# against the other packages' files is made; the guest runs on this same
# root file system, so the database is the one it would have read.
#
#   selftests/host/deb_files.sh DEB        (make test-vm runs it on the package it builds)
#
# TAP; exit 0 pass, 1 fail, 4 skip (no dpkg).
set -uo pipefail

DEB=${1:?usage: deb_files.sh DEB}
echo "TAP version 13"
command -v dpkg-deb >/dev/null || { echo "1..0 # SKIP no dpkg"; printf '\n*** SKIP: deb_files.sh: no dpkg ***\n\n' >&2; exit 4; }
echo "1..2"
files=$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }')
n=$(grep -c . <<<"$files")
if [ "$n" -gt 0 ]; then echo "ok 1 $(basename "$DEB") lists $n files"; else echo "not ok 1 $(basename "$DEB") lists no files"; fi
# dpkg -S prints "PACKAGE: PATH" for each path it finds owned (exit 0 if any).
owned=$(dpkg -S $files 2>/dev/null | grep -v '^ipsec-rs:' || true)
if [ -z "$owned" ]; then
	echo "ok 2 none of them belongs to an installed package"
else
	echo "not ok 2 files owned by installed packages:"; sed 's/^/#   /' <<<"$owned"
	exit 1
fi
[ "$n" -gt 0 ]
