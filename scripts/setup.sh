#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# ipsec_rs set-up: installs what the project needs on a Debian 12 machine and
# builds the project's kernels, caching every expensive artefact outside the
# clone, keyed by its inputs.
#
#   scripts/setup.sh [toolchain|all|KERNEL...]   (default: all)
#   KERNEL: debug, perf, debug-7.3, perf-7.3, debug-uml or debug-uml-7.3;
#   several build at once
#
# debug and perf are 6.12 LTS kernels (Debian trixie's linux-source-6.12);
# debug-7.3 and perf-7.3 the same flavours of 7.3 (trixie-backports'
# linux-source-7.3), built from the same configuration fragments;
# debug-uml the 6.12 debug kernel as User-Mode Linux (ARCH=um: the kernel
# as a host process, at native speed, for the functional selftests), and
# debug-uml-7.3 the 7.3 one.
#
# Cache root: $IPSEC_RS_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/ipsec_rs.
#   apt/                private APT state for Debian trixie (nothing from trixie
#                       is installed into the system: packages are extracted)
#   src/linux-<ver>/    the kernel sources (Debian linux-source-6.12, -7.3)
#   rust-src-<ver>/     the Rust library source matching `rustc` exactly
#   bindgen-<ver>/      bindgen-cli, built with cargo
#   libreswan-<ver>/    Debian 12's libreswan, extracted for the selftests (not
#                       installed: it conflicts with the strongSwan packages)
#   kbuild/<flavour>-<key>/   kernel build trees (O=), key = hash of inputs
#   kernel-<flavour>    symlink to the current 6.12 build tree of that flavour
#   7.3/                the same for the 7.3 kernels (kbuild/, kernel-<flavour>),
#                       and the fragments generated for them (build_series)
#   uml/, uml-7.3/      the same for the User-Mode Linux builds of 6.12 and 7.3
#   toolchain.mk        make variables for the top-level Makefile
#
# Environment knobs:
#   IPSEC_RS_KVER       Debian version of linux-source-6.12 (pinned below);
#                       if the mirror no longer has it, the newest 6.12.x is used
#                       with a warning and caches are keyed by what was used.
#   IPSEC_RS_KVER_7_3   the same for linux-source-7.3
#   IPSEC_RS_JOBS       parallel jobs for the kernel build (default: nproc+1)
#   IPSEC_RS_FLAVOURS   the kernels `all` builds (default: "debug perf")
#   DEBIAN_MIRROR       default http://deb.debian.org/debian
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${IPSEC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipsec_rs}
# The kernel series the project builds, each a Debian source package
# (linux-source-<series>) at a pinned version.
declare -A KVER_PIN=([6.12]=${IPSEC_RS_KVER:-6.12.117-1} [7.3]=${IPSEC_RS_KVER_7_3:-7.3.4-1~bpo13+1})
# The LLVM each series is built with (and its modules, and bindgen's
# libclang): 7.3 needs clang >= 17.
declare -A LLVM_OF=([6.12]=16 [7.3]=19)
# A build of another architecture from a series' source: its name, its
# source series and its ARCH (uml: the 6.12 source as User-Mode Linux;
# uml-7.3: the 7.3 source as User-Mode Linux).
declare -A SOURCE_OF=([uml]=6.12 [uml-7.3]=7.3)
declare -A ARCH_OF=([uml]=um [uml-7.3]=um)
# C flags a series' kernel is built with beyond its source's own (KCFLAGS;
# written into its generated fragment, so part of its cache key).
# uml-7.3: UML builds its C with -mcmodel=large, and LLVM 17 and later (7.3
# is built with 19) then put every object in .ldata/.lbss, which UML's linker
# script leaves outside _sdata.._edata and __bss_start..__bss_stop, where
# lockdep's static_obj() looks for static lock keys: at boot it took
# rcu_lock_key for a non-static key ("bad unlock balance" in
# is_module_address, lockdep off) and a process later ran with a preemption
# count left raised ("sleeping function called from invalid context" in
# every guest). With an unreachable large-data threshold the objects stay in
# .data and .bss, as with LLVM 16 for the 6.12 build (the vDSO, built with
# the default code model, would take the threshold for an error).
declare -A KCFLAGS_OF=([uml-7.3]="-mlarge-data-threshold=2147483647 -Wno-unused-command-line-argument")
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BINDGEN_VER=0.72.1
# The 6.12 kernels' LLVM (build_kernel's; build_series sets the series' own).
LLVM_VER=${LLVM_OF[6.12]}
JOBS=${IPSEC_RS_JOBS:-$(($(nproc) + 1))}

DEB_PACKAGES=(
	# C/LLVM toolchain for a Rust-enabled kernel: make LLVM=-16 for 6.12,
	# LLVM=-19 for 7.3 (which wants clang >= 17; Debian 12 has 19 in main)
	clang-16 lld-16 llvm-16 libclang-16-dev flex bison bc libelf-dev libssl-dev
	clang-19 lld-19 llvm-19 libclang-19-dev
	cpio xz-utils make git patch
	# QEMU lab: software-emulated guest running the host's userspace over 9p
	qemu-system-x86 busybox-static
	# the arm64 guest (Debian's stock arm64 kernel under qemu-system-aarch64)
	# and the linker of the tools cross-built for it
	qemu-system-arm gcc-aarch64-linux-gnu
	# what the selftests run inside the guest
	iproute2 iputils-ping kmod tcpdump python3 python3-yaml python3-jsonschema
	# GRO on a veth for the benchmarks (ethtool -K)
	ethtool
	# the Prometheus text format's reference parser (selftests/sa_view.sh)
	python3-prometheus-client
	# Debian's package checker (selftests/host/deb_module.sh); the tools'
	# manual pages (scripts/mkdeb)
	lintian help2man
	strongswan-charon strongswan-swanctl socat
	# libraries of the extracted libreswan (fetch_libreswan) that strongSwan's
	# packages do not pull in; libnss3-tools: certutil for `ipsec initnss`
	libnss3-tools libldns3 libevent-pthreads-2.1-7 libunbound8 libcurl3-nss
)

# Installed without their recommendations: dkms recommends the distribution's
# kernel headers (Debian 12's 6.1), which the project does not use.
# (selftests/host/dkms.sh builds the module with DKMS.)
DEB_PACKAGES_BARE=(dkms)

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

need_root_for_apt() {
	if [ "$(id -u)" -ne 0 ]; then
		die "missing Debian packages: $* (run as root, or: sudo apt-get install $*)"
	fi
}

# missing_packages PACKAGE...: those not installed.
missing_packages() {
	local p
	for p; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
	done
}

install_packages() {
	local missing bare
	mapfile -t missing < <(missing_packages "${DEB_PACKAGES[@]}")
	mapfile -t bare < <(missing_packages "${DEB_PACKAGES_BARE[@]}")
	[ ${#missing[@]} -eq 0 ] && [ ${#bare[@]} -eq 0 ] && { log "Debian packages: all present"; return; }
	need_root_for_apt "${missing[@]}" "${bare[@]}"
	log "installing Debian packages: ${missing[*]} ${bare[*]}"
	apt-get update -qq || die "apt-get update failed (is the Debian mirror reachable?)"
	[ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
		die "apt-get install failed for: ${missing[*]}"
	[ ${#bare[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${bare[@]}" >/dev/null || die "apt-get install failed for: ${bare[*]}"
}

# The Rust standard library for aarch64-unknown-linux-gnu, for the tools
# cross-built for arm64 routers (make tools-arm64). Without it (rustup cannot
# reach its server) the set-up goes on: the arm64 packages and guests then
# say SKIP.
rust_arm64_std() {
	local t=aarch64-unknown-linux-gnu
	[ -d "$(rustc --print sysroot)/lib/rustlib/$t/lib" ] && return 0
	command -v rustup >/dev/null && rustup target add "$t" >&2 ||
		log "WARNING: no Rust standard library for $t: the arm64 tools will not build"
}

# A private APT configuration that sees Debian trixie, for downloading (never
# installing) the kernel and Rust library sources.
trixie_apt() {
	local d=$CACHE/apt
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/etc/parts"
	touch "$d/status"
	# Written aside and renamed into place: the set-ups of several kernels
	# run this at once, and an APT reading a file another one has just
	# truncated falls back to the system's sources (bookworm), where the
	# pinned kernel source is missing (seen: "pinned linux-source-6.12
	# 6.12.117-1 is gone" in one of three set-ups started together).
	cat >"$d/apt.conf.$$" <<-EOF
		Dir::Etc::SourceList "$d/etc/sources.list";
		Dir::Etc::SourceParts "$d/etc/parts";
		Dir::State::Lists "$d/lists";
		Dir::Cache "$d/cache";
		Dir::State::status "$d/status";
		APT::Architecture "amd64";
		APT::Architectures { "amd64"; "arm64"; };
		APT::Sandbox::User "root";
	EOF
	cat >"$d/etc/sources.list.$$" <<-EOF
		deb [trusted=yes] $MIRROR trixie main
		deb [trusted=yes] $MIRROR trixie-backports main
	EOF
	mv -f "$d/etc/sources.list.$$" "$d/etc/sources.list"
	mv -f "$d/apt.conf.$$" "$d/apt.conf"
	export APT_CONFIG=$d/apt.conf
	# Refresh the lists at most once a day (and when an architecture's are
	# missing: arm64's, for the stock arm64 kernel, came later).
	if [ -z "$(find "$d/lists" -maxdepth 1 -name '*binary-arm64_Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
		log "refreshing trixie package lists"
		apt-get update -qq || die "cannot read Debian trixie from $MIRROR (network or mirror down?)"
	fi
}

# deb_fetch PACKAGE VERSION DESTDIR: download and extract one package.
deb_fetch() {
	local pkg=$1 ver=$2 dest=$3 tmp
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -qq "$pkg=$ver") ||
		die "cannot download $pkg=$ver from Debian trixie"
	mkdir -p "$dest.tmp"
	dpkg-deb -x "$tmp"/*.deb "$dest.tmp"
	rm -rf "$tmp" "$dest"
	mv "$dest.tmp" "$dest"
}

# fetch_libreswan: Debian 12's libreswan, extracted into
# $CACHE/libreswan-<version>/ for selftests/recovery_libreswan.sh, which puts
# it in place inside its own mount namespace. Installing the package would
# remove strongswan-charon and -starter (the packages conflict). Uses the
# system's own APT sources (bookworm), not the private trixie state.
fetch_libreswan() {
	local ver dest tmp
	ver=$(env -u APT_CONFIG apt-cache policy libreswan 2>/dev/null | awk '/Candidate:/ {print $2}')
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		env -u APT_CONFIG apt-get update -qq || die "apt-get update failed"
		ver=$(env -u APT_CONFIG apt-cache policy libreswan | awk '/Candidate:/ {print $2}')
	fi
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "no libreswan package in the system's APT sources"
	dest=$CACHE/libreswan-$ver
	if [ -x "$dest/usr/libexec/ipsec/pluto" ]; then
		log "libreswan $ver: cached"
		return
	fi
	log "fetching libreswan $ver (extracted, not installed)"
	tmp=$(mktemp -d)
	(cd "$tmp" && env -u APT_CONFIG apt-get download -qq -o APT::Sandbox::User=root "libreswan=$ver") ||
		die "cannot download libreswan=$ver"
	rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
	dpkg-deb -x "$tmp"/libreswan_*.deb "$dest.tmp"
	rm -rf "$tmp" "$dest"
	mv "$dest.tmp" "$dest"
}

# fetch_kernel_source [SERIES]: sets KVER and KSRC (default series 6.12).
fetch_kernel_source() {
	local series=${1:-6.12} pkg avail
	pkg=linux-source-$series
	avail=$(apt-cache madison "$pkg" | awk '{print $3}')
	[ -n "$avail" ] || die "$pkg is not on the Debian mirror (trixie, trixie-backports)"
	if grep -qxF "${KVER_PIN[$series]}" <<<"$avail"; then
		KVER=${KVER_PIN[$series]}
	else
		KVER=$(sort -V <<<"$avail" | tail -1)
		log "WARNING: pinned $pkg ${KVER_PIN[$series]} is gone; using $KVER"
	fi
	KSRC=$CACHE/src/linux-$KVER
	if [ -f "$KSRC/.ipsec_rs_ok" ]; then
		log "kernel source $KVER: cached"
		return
	fi
	log "fetching $pkg $KVER"
	deb_fetch "$pkg" "$KVER" "$CACHE/src/deb-$KVER"
	rm -rf "$KSRC" && mkdir -p "$KSRC"
	tar -C "$KSRC" --strip-components=1 -xJf "$CACHE/src/deb-$KVER/usr/src/$pkg.tar.xz"
	rm -rf "$CACHE/src/deb-$KVER"
	touch "$KSRC/.ipsec_rs_ok"
}

fetch_rust_src() {
	local rv dv
	rv=$(rustc --version | awk '{print $2}')
	RUSTC_VERSION=$rv
	RUST_SRC=$CACHE/rust-src-$rv
	if [ -d "$RUST_SRC/usr/src/rustc-$rv/library/core" ]; then
		log "rust-src $rv: cached"
	else
		dv=$(apt-cache madison rust-src | awk -v v="$rv" '$3 ~ "^"v"\\+" {print $3}' | sort -V | tail -1)
		[ -n "$dv" ] || die "no Debian rust-src matches rustc $rv (the kernel needs the exact library source)"
		log "fetching rust-src $dv for rustc $rv"
		deb_fetch rust-src "$dv" "$RUST_SRC"
	fi
	RUST_LIB_SRC=$RUST_SRC/usr/src/rustc-$rv/library
}

build_bindgen() {
	BINDGEN_DIR=$CACHE/bindgen-$BINDGEN_VER
	if [ -x "$BINDGEN_DIR/bin/bindgen" ]; then
		log "bindgen $BINDGEN_VER: cached"
		return
	fi
	log "building bindgen-cli $BINDGEN_VER (about 3 minutes)"
	LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VER/lib cargo install -q bindgen-cli \
		--version "$BINDGEN_VER" --locked --root "$BINDGEN_DIR" ||
		die "cargo install bindgen-cli $BINDGEN_VER failed (is crates.io reachable?)"
}

write_toolchain_mk() {
	# A temporary file of this run's own (two set-ups at once, say `make`
	# of the debug module while the perf kernel builds, must not take each
	# other's), renamed into place: readers see the old file or the new.
	local tmp
	tmp=$(mktemp "$CACHE/toolchain.mk.XXXXXX")
	cat >"$tmp" <<-EOF
		# Written by scripts/setup.sh; do not edit.
		RUST_LIB_SRC := $RUST_LIB_SRC
		BINDGEN := $BINDGEN_DIR/bin/bindgen
	EOF
	chmod 644 "$tmp"
	mv "$tmp" "$CACHE/toolchain.mk"
}

# KARCH: the ARCH of the build (empty: the host's, x86). build_kernel's
# kernel image goal is x86's bzImage; User-Mode Linux's kernel is the
# executable `linux`. (build_kernel's text is part of every tree's cache key:
# what differs for another ARCH is done here, and the ARCH is in the key
# through its fragment.)
KARCH=
kmake() {
	local a goals=()
	for a in "${@:2}"; do
		[ "$KARCH" = um ] && [ "$a" = bzImage ] && a=linux
		goals+=("$a")
	done
	PATH=$BINDGEN_DIR/bin:$PATH LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VER/lib \
		make -s -C "$KSRC" O="$1" ${KARCH:+ARCH=$KARCH} LLVM=-$LLVM_VER \
		RUST_LIB_SRC="$RUST_LIB_SRC" "${goals[@]}"
}

# Every option of the merged fragments must be in the final .config exactly.
check_config() {
	local out=$1 frag line bad=0
	shift
	for frag in "$@"; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*)
				grep -qxF "$line" "$out/.config" || { log "config lost: $line ($frag)"; bad=1; } ;;
			"# CONFIG_"*" is not set")
				local opt=${line#\# }; opt=${opt%% *}
				if grep -q "^$opt=" "$out/.config"; then log "config not unset: $opt ($frag)"; bad=1; fi ;;
			esac
		done <"$frag"
	done
	[ $bad -eq 0 ] || die "kernel configuration dropped options above (a missing dependency?)"
}

build_kernel() {
	local flavour=$1 frags key out start
	frags=("$ROOT/scripts/kconfig/base.config" "$ROOT/scripts/kconfig/$flavour.config")
	key=$( {
		echo "$KVER"; cat "${frags[@]}"; rustc -vV; clang-$LLVM_VER --version | head -1
		echo "bindgen $BINDGEN_VER"; sed -n '/^build_kernel()/,/^}/p;/^check_config()/,/^}/p' "$0"
	} | sha256sum | cut -c1-16)
	out=$CACHE/kbuild/$flavour-$key
	if [ -f "$out/.ipsec_rs_ok" ]; then
		log "kernel $flavour ($KVER, $key): cached"
	else
		log "building the $flavour kernel $KVER ($key) with $JOBS jobs; 8-15 minutes cold"
		start=$(date +%s)
		rm -rf "$out" && mkdir -p "$out"
		kmake "$out" tinyconfig >/dev/null
		(cd "$out" && KCONFIG_CONFIG=.config "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$out" \
			.config "${frags[@]}" >/dev/null)
		kmake "$out" olddefconfig >/dev/null
		check_config "$out" "${frags[@]}"
		kmake "$out" rustavailable >/dev/null || die "the kernel says Rust is not available"
		kmake "$out" -j"$JOBS" bzImage modules_prepare || die "kernel build failed ($out)"
		# A full build produces Module.symvers, without which modpost rejects
		# every kernel symbol an external module uses.
		kmake "$out" -j"$JOBS" || die "kernel build failed ($out)"
		touch "$out/.ipsec_rs_ok"
		log "kernel $flavour built in $(($(date +%s) - start)) s"
	fi
	# Keep one build per flavour: drop stale trees with other keys.
	find "$CACHE/kbuild" -mindepth 1 -maxdepth 1 -name "$flavour-*" ! -name "$flavour-$key" \
		-exec rm -rf {} + 2>/dev/null || true
	ln -sfn "$out" "$CACHE/kernel-$flavour"
}

# apply_patches SERIES: scripts/patches/SERIES/*.patch applied to the
# source in $KSRC, each once (one already in is left as it is). They touch
# only what that series alone compiles (uml: arch/x86/um of the 6.12 source
# the x86 kernels share), and their contents are part of its cache key.
apply_patches() {
	local p
	for p in "$ROOT"/scripts/patches/"$1"/*.patch; do
		[ -f "$p" ] || continue
		if patch -d "$KSRC" -p1 -R -s -f --dry-run <"$p" >/dev/null 2>&1; then
			continue
		fi
		patch -d "$KSRC" -p1 -s -f -N <"$p" >/dev/null ||
			die "patch ${p##*/} does not apply to $KSRC"
		log "applied ${p##*/} to linux-$KVER"
	done
}

# build_series FLAVOUR SERIES: a kernel of another series than 6.12, made by
# build_kernel as the 6.12 ones are, but from that series' source, with its
# LLVM (uml: 6.12's source and LLVM, ARCH=um; uml-7.3: 7.3's, ARCH=um), in
# $CACHE/SERIES/ (kbuild/<flavour>-<key>, kernel-<flavour>), from
# fragments generated for it in $CACHE/SERIES/fragments/scripts/kconfig/:
# base.config without the options the series' fragments drop (their
# "# drop: CONFIG_X" lines: what the series no longer has, or its
# architecture never had) and with their own options, and the flavour's
# fragment without the dropped options. A series' fragments are
# scripts/kconfig/PART.config for each PART of its name between dashes:
# uml-7.3 is uml.config (the architecture) and 7.3.config (the source).
# (A subshell: KVER, KSRC, ROOT and CACHE stay the 6.12 ones for the caller.)
build_series() (
	local flavour=$1 series=$2 part frags=() gen drop src
	for part in ${series//-/ }; do
		frags+=("$ROOT/scripts/kconfig/$part.config")
	done
	src=${SOURCE_OF[$series]:-$series}
	[ -n "${KVER_PIN[$src]:-}" ] && ls "${frags[@]}" >/dev/null 2>&1 ||
		die "unknown kernel series '$series' (known: ${!KVER_PIN[*]} ${!SOURCE_OF[*]})"
	fetch_kernel_source "$src"
	apply_patches "$series"
	gen=$CACHE/$series/fragments/scripts/kconfig
	mkdir -p "$gen"
	drop=$(sed -n 's/^# drop: \(CONFIG_[A-Z0-9_]*\)$/\1/p' "${frags[@]}" | paste -sd'|' -)
	{
		grep -Ev "^(${drop:-NONE})=" "$ROOT/scripts/kconfig/base.config"
		cat "${frags[@]}" | grep '^CONFIG_\|^# CONFIG_.* is not set$'
		[ -z "${KCFLAGS_OF[$series]:-}" ] || echo "# KCFLAGS=${KCFLAGS_OF[$series]}"
		# The patches: part of the key.
		for p in "$ROOT"/scripts/patches/"$series"/*.patch; do
			[ -f "$p" ] && echo "# patch: ${p##*/} $(sha256sum <"$p" | cut -c1-16)"
		done
	} >"$gen/base.config"
	[ -z "${KCFLAGS_OF[$series]:-}" ] || export KCFLAGS="${KCFLAGS_OF[$series]}"
	grep -Ev "^(${drop:-NONE})=" "$ROOT/scripts/kconfig/$flavour.config" >"$gen/$flavour.config"
	ROOT=$CACHE/$series/fragments CACHE=$CACHE/$series LLVM_VER=${LLVM_OF[$src]} \
		KARCH=${ARCH_OF[$series]:-} build_kernel "$flavour"
)

# build_target TARGET: one of the kernels a target names.
build_target() {
	case "$1" in
	debug | perf) build_kernel "$1" ;;
	debug-* | perf-*) build_series "${1%%-*}" "${1#*-}" ;;
	*) die "unknown target '$1' ($TARGETS)" ;;
	esac
}

# build_targets TARGET...: several kernels at once, each by a set-up of its
# own (the toolchain is in place, so theirs takes seconds), its lines
# prefixed with its name. A kernel build keeps two cores busy only part of
# the time (its Rust crates are one rustc each, its link one process: the
# User-Mode Linux build used 1.26 cores of 2 on average, 17.8 CPU-minutes in
# 14.1 minutes); side by side they fill each other's gaps.
build_targets() {
	local t cmds=()
	[ $# -eq 1 ] && { build_target "$1"; return; }
	for t; do
		cmds+=("$t=$(printf '%q ' "$0" "$t")")
	done
	"$ROOT/scripts/at-once" "${cmds[@]}" || die "kernel build failed (above)"
}

TARGETS="toolchain|debug|perf|all|debug-7.3|perf-7.3|debug-uml|debug-uml-7.3; several kernels build at once"

main() {
	local t
	for t; do
		case "$t" in toolchain | all | debug | perf | debug-* | perf-*) ;; *) die "unknown target '$t' ($TARGETS)" ;; esac
	done
	mkdir -p "$CACHE"
	install_packages
	fetch_libreswan
	trixie_apt
	rust_arm64_std
	fetch_kernel_source
	fetch_rust_src
	build_bindgen
	write_toolchain_mk
	case "${1:-all}" in
	toolchain) [ $# -le 1 ] || die "toolchain is a target of its own" ;;
	all) [ $# -le 1 ] || die "all is a target of its own"
		# shellcheck disable=SC2086
		build_targets ${IPSEC_RS_FLAVOURS:-debug perf} ;;
	*) build_targets "$@" ;;
	esac
	log "done; cache at $CACHE"
}

main "$@"
