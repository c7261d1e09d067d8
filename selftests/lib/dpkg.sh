#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Installing Debian packages inside a guest (sourced after lib.sh, by
# package.sh and deb_install.sh).

# dpkg wants ldconfig and start-stop-daemon on PATH.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# logged CMD...: CMD's status; its output, indented, when it fails.
logged() {
	"$@" >/tmp/cmd.log 2>&1 && return 0
	sed 's/^/#   /' /tmp/cmd.log | tail -20
	return 1
}

# dpkg_guest_db DIR: dpkg's database for this guest, in DIR. The host's
# lists the files of its ~940 packages, which dpkg reads and indexes on
# every call (measured under TCG: 150 s for `dpkg -i`, ~47 s for each later
# call). The packages go into a database of the guest's own (DPKG_ADMINDIR,
# honoured by dpkg and dpkg-query) with the host's package status, so
# their dependencies are checked against what is installed, and an empty
# file list for every package; selftests/host/deb_files.sh checks on the
# host, natively, that none of the tools' files belongs to another package.
dpkg_guest_db() {
	DPKG_ADMINDIR=$1
	export DPKG_ADMINDIR
	mkdir -p "$DPKG_ADMINDIR/info" "$DPKG_ADMINDIR/updates" "$DPKG_ADMINDIR/triggers"
	for _f in status arch diversions statoverride; do
		[ -f /var/lib/dpkg/$_f ] && cp /var/lib/dpkg/$_f "$DPKG_ADMINDIR/"
	done
	for _p in $(dpkg-query -W -f='${binary:Package}\n'); do : >"$DPKG_ADMINDIR/info/$_p.list"; done
}

# dpkg_make_dirs DEB: the package's directories made before `dpkg -i`. The
# guest's root is an overlay whose upper layer (tmpfs without xattrs)
# cannot rename a directory (EXDEV), and dpkg makes each new directory as
# NAME.dpkg-new and renames it: with the directories there, dpkg only
# renames files (measured: rename(2) of a new directory in /etc fails
# there, of a file works).
dpkg_make_dirs() {
	dpkg-deb -c "$1" | awk '$1 ~ /^d/ { sub(/^\./, "", $6); print $6 }' | xargs mkdir -p
}
