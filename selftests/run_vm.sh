#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# ipsec_rs selftest runner. Boots a kernel once per test, on one of two
# substrates: User-Mode Linux (the kernel as a host process, at native
# speed: the functional tests) or QEMU under software emulation (several
# CPUs, x86 hardware, other kernels, benchmarks). Runs the test inside the
# guest on the host's own userspace (shared read-only: hostfs under UML, 9p
# under QEMU), and prints kselftest TAP.
#
#   selftests/run_vm.sh [--kernel KDIR] [--ko MODULE.ko] [--timeout S] [--kvm] [--keep]
#                       [--icount SHIFT] [--expect-fault CLASS] [--qemu-arg ARG]
#                       [-j|--jobs N] [--smp N] [-h|--help]
#                       ['TEST[:ARGS] [expect=CLASS] [timeout=S] [cost=S] [smp=N]
#                        [mem=MiB] [kernel=SERIES] [exclusive]' ...]
#
# Guests run concurrently: -j N QEMU guests of one vCPU at once (default
# $IPSEC_RS_VM_JOBS, else the number of host cores), or twice as many UML
# ones (of 2 x N shares, a QEMU guest takes two a vCPU, a UML guest one),
# the most machine first (cost= x shares; cost=,
# else timeout=), smaller ones beside a waiting big one only where they
# delay it by nothing, an `exclusive` entry alone. Each test's TAP block is
# printed whole when its guest ends (numbered in the order they end), and the run closes with a
# table of every guest's wall time and result, the total wall time against
# the guest time summed, the failed lines repeated, and
# "selftests: N passed, N failed, N skipped". Each guest has its own time
# limit: a hung guest is killed alone.
#
# A group, TEST[:ARGS]+TEST[:ARGS]+..., runs its tests one after the other
# in one boot (the guest unloads every module and deletes every namespace
# between them), saving a boot and its kmemleak scans (~10 s each) for
# short tests; its TAP nests each test's, and the referee judges the boot
# as a whole.
#
# Each guest's CPU time (the UML or QEMU process's, user + system) is in the
# closing table.
#
# Which kernel a test boots: an entry's kernel=SERIES, else --kernel KDIR,
# else the User-Mode Linux debug kernel (kernel=uml). The series:
#   uml            the 6.12 debug kernel built as User-Mode Linux
#                  ($CACHE/uml/kernel-debug, module out/build-uml/); one CPU
#   uml-7.3        the 7.3 debug kernel built as User-Mode Linux
#                  ($CACHE/uml-7.3/kernel-debug, out/build-uml-7.3/); one CPU
#   6.12           the 6.12 debug kernel under QEMU ($CACHE/kernel-debug, the
#                  module `make` builds in the tree)
#   7.3            the 7.3 debug kernel under QEMU ($CACHE/7.3/kernel-debug,
#                  out/build-7.3/)
#   stock-RELEASE  a distribution's own kernel, unmodified, under QEMU
#                  (Debian's 7.3.4+deb13-amd64: `make stock-module` fetches
#                  it and builds the module for it), its 9p and overlayfs
#                  modules loaded from the initramfs and its other modules
#                  the guest's /lib/modules; no debugging checks. An arm64
#                  release (7.3.4+deb13-arm64) boots in qemu-system-aarch64
#                  (virt machine) on a root of Debian's arm64 packages
#                  (scripts/stock-module makes it), the repository, the
#                  kernel's modules and the tools' build shared at their
#                  host paths
# A test's lines say "[SERIES]"; the same test may be listed for several.
# --kernel KDIR: a QEMU kernel tree (bzImage), or a UML one (CONFIG_UML),
# for the entries without kernel=; --ko: the module for it.
#
# --smp N: virtual CPUs a QEMU guest has (default $IPSEC_RS_VM_SMP, else 1);
# an entry's smp= overrides it for that test (UML is uniprocessor: an entry
# asking it for more fails). A guest has $IPSEC_RS_VM_MEM MiB of memory
# (default 512); an entry's mem= overrides it.
#
# TEST is a script under selftests/ (default: every selftests/*.sh listed in
# selftests/TESTS). ARGS, after a colon, are passed to it (commas become
# spaces); an entry listed N times runs N times, each run apart (hunting a
# flake under load). A test passes when its script exits 0 *and* the referee finds
# nothing in the guest's kernel log and kmemleak reports: any WARNING, BUG,
# Oops, atomic-sleep, lockdep, KASAN or RCU report, Rust panic, or leak
# fails it, and the offending excerpt is printed after the TAP line.
# Exit 4 from a test is a skip; the runner exits 0 if all passed or skipped,
# 1 otherwise.
#
# --icount SHIFT: a QEMU guest's clock counts executed instructions (each
# 2^SHIFT ns; QEMU's -icount, one host thread) instead of following the
# host's: timings inside the guest measure instructions executed, immune to
# the host's load (benchmarks).
#
# --qemu-arg ARG: one more argument for QEMU (repeatable), for example
# '-plugin' 'file=selftests/tools/tbcount.so,out=/tmp/tb.txt' (insn_profile.sh).
#
# --kvm: QEMU with KVM instead of software emulation (where /dev/kvm works).
# --keep: keep each run's merged kernel log (kernel-all.txt).
# --timeout S: each guest's time limit (default 900 s; an entry's timeout=).
#
# --expect-fault CLASS inverts the referee for the canary self-test: the test
# passes only if the referee reports exactly CLASS (or "none": nothing).
#
# -j N, --jobs N: N single-vCPU QEMU guests' worth at once (see above).
# -h, --help: print this text and exit.
#
# Environment (defaults; an option or entry field named beside one overrides it):
#   IPSEC_RS_CACHE          the cache (${XDG_CACHE_HOME:-$HOME/.cache}/ipsec_rs)
#   IPSEC_RS_RESULTS        where the tests' run directories go (out/selftests)
#   IPSEC_RS_VM_TIMEOUT     a guest's time limit, s (--timeout; 900)
#   IPSEC_RS_VM_BOOT_LIMIT  s until a guest not yet at its test is rebooted (240)
#   IPSEC_RS_VM_JOBS        guests at once (-j; the number of host cores)
#   IPSEC_RS_VM_MEM         a guest's memory, MiB (an entry's mem=; 512)
#   IPSEC_RS_VM_SMP         a QEMU guest's vCPUs (--smp, an entry's smp=; 1)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${IPSEC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipsec_rs}
KDIR=""
TIMEOUT=${IPSEC_RS_VM_TIMEOUT:-900}
# A guest that has not started its test this long after it started is hung
# and booted again (twice at most). Boots take 2 s on UML, 15-40 s under TCG.
BOOT_LIMIT=${IPSEC_RS_VM_BOOT_LIMIT:-240}
ACCEL="-accel tcg -cpu max"
KEEP=0
KO=""
EXPECT=""
MEM=${IPSEC_RS_VM_MEM:-512}
SMP=${IPSEC_RS_VM_SMP:-1}
JOBS=${IPSEC_RS_VM_JOBS:-$(nproc)}
TESTS=()
QEMU_EXTRA=()

while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KDIR=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--smp) SMP=$2; shift 2 ;;
	--kvm) ACCEL="-accel kvm -cpu host"; shift ;;
	--icount) ACCEL="-accel tcg -cpu max -icount shift=$2,sleep=off"; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--ko) KO=$(readlink -f "$2"); shift 2 ;;
	--expect-fault) EXPECT=$2; shift 2 ;;
	--qemu-arg) QEMU_EXTRA+=("$2"); shift 2 ;;
	-j | --jobs) JOBS=$2; shift 2 ;;
	-h | --help) sed -n '3,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) TESTS+=("$1"); shift ;;
	esac
done
if [ ${#TESTS[@]} -eq 0 ]; then
	mapfile -t TESTS < <(grep -Ev '^#|^$' "$ROOT/selftests/TESTS")
fi

say() { printf '%s\n' "$*"; }
skip_all() {
	say "TAP version 13"; say "1..0 # SKIP $*"
	printf '\n*** SKIP: %s ***\n\n' "$*" >&2
	exit 4
}

# is_uml KDIR: the tree is a User-Mode Linux kernel.
is_uml() { grep -qs '^CONFIG_UML=y' "$1/.config"; }

# The kernel of the entries without kernel=: --kernel's (UML or QEMU), else
# the UML debug kernel.
DEFAULT_SERIES=""
[ -n "$KDIR" ] || DEFAULT_SERIES=uml
command -v qemu-system-x86_64 >/dev/null || QEMU_MISSING="qemu-system-x86_64 not installed (run 'make setup')"
command -v qemu-system-aarch64 >/dev/null || QEMU_ARM64_MISSING="qemu-system-aarch64 not installed (run 'make setup')"
[ -x /bin/busybox ] || skip_all "/bin/busybox (busybox-static) not installed (run 'make setup')"
[ -r /dev/kvm ] || [ "$ACCEL" = "-accel tcg -cpu max" ] || skip_all "--kvm given but /dev/kvm is not usable"

# What the referee expects of a kernel: a debug kernel must show that its
# checkers are on, so a runner that booted the wrong kernel fails.
# boot_lines KDIR: sets BOOT_LINES for that kernel.
boot_lines() {
	BOOT_LINES=()
	if grep -q '^CONFIG_PROVE_LOCKING=y' "$1/.config" 2>/dev/null; then
		BOOT_LINES+=("Lock dependency validator" "kmemleak: Kernel memory leak detector initialized")
		# (UML's KASAN says nothing at boot: the oob_read canary proves
		# it there.)
		grep -q '^CONFIG_KASAN=y' "$1/.config" && ! is_uml "$1" &&
			BOOT_LINES+=("KernelAddressSanitizer initialized")
	fi
}

# opt ENTRY NAME [DEFAULT]: the value of the entry's option NAME=, else
# DEFAULT.
opt() {
	local v
	v=$(sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1 ")
	echo "${v:-${3:-}}"
}

# entry_id ENTRY: TEST[:ARGS], with "@SERIES" for an entry with kernel=:
# names its run directory and its lines.
entry_id() {
	local k r
	k=$(series_of "$1")
	r=$(opt "$1" run)
	echo "${1%% *}${k:+@$k}${r:+~$r}"
}

# series_of ENTRY: the kernel series it boots (empty: --kernel's).
series_of() {
	opt "$1" kernel "$DEFAULT_SERIES"
}

# kdir_of SERIES: that series' kernel tree (empty: --kernel's).
kdir_of() {
	case $1 in
	"") echo "$KDIR" ;;
	stock-*) echo "$CACHE/stock/headers-${1#stock-}/usr/src/linux-headers-${1#stock-}" ;;
	6.12) echo "$CACHE/kernel-debug" ;;
	*) echo "$CACHE/$1/kernel-debug" ;;
	esac
}

# An entry listed again (the same test on the same kernel, run=K from its
# second listing on) gets a run directory of its own: repeats of one test in
# one run, to hunt a flake under load.
declare -A SEEN=()
for i in "${!TESTS[@]}"; do
	id=$(entry_id "${TESTS[$i]}")
	SEEN[$id]=$((${SEEN[$id]:-0} + 1))
	[ "${SEEN[$id]}" -gt 1 ] && TESTS[$i]="${TESTS[$i]} run=${SEEN[$id]}"
done
unset SEEN

# pack_initrd OUT DIR [BEFORE]: DIR as a gzipped newc archive (after the
# archive BEFORE, if given: the kernel unpacks them in turn) into OUT,
# through a file of its own renamed into place (two runners, or two guests,
# may build the same one at once); DIR removed.
pack_initrd() {
	local out=$1 dir=$2 before=${3:-} tmp
	mkdir -p "$(dirname "$out")"
	tmp=$(mktemp "$out.XXXXXX")
	{ [ -z "$before" ] || cat "$before"; (cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1); } >"$tmp" &&
		mv "$tmp" "$out"
	rm -rf "$dir" "$tmp"
}

# initrd_key BUSYBOX: what an initramfs of ours with that static busybox is
# cached by (its content). initrd_base DIR BUSYBOX: its files, in DIR.
initrd_key() { cat "$1" "$ROOT/selftests/lib/initramfs-init" | sha256sum | cut -c1-16; }
initrd_base() {
	mkdir -p "$1/bin" && cp "$2" "$1/bin/busybox" &&
		install -m755 "$ROOT/selftests/lib/initramfs-init" "$1/init"
}

# The initramfs: the host's static busybox and our /init, cached by content.
initrd_key=$(initrd_key /bin/busybox)
INITRD=$CACHE/initramfs-$initrd_key.cpio.gz
if [ ! -f "$INITRD" ]; then
	t=$(mktemp -d)
	initrd_base "$t" /bin/busybox
	pack_initrd "$INITRD" "$t"
fi

# stock_initrd RELEASE [ROOT]: the initramfs for a distribution kernel
# (kernel=stock-RELEASE): ours followed by a second archive with the modules
# the guest needs before it can mount the host's root (9p, overlayfs), in
# /m with their loading order (initramfs-init loads them). Cached. A guest
# of another architecture: one archive, with ROOT's busybox (the guest's
# architecture's) in place of the host's.
stock_initrd() {
	local rel=$1 groot=${2:-} mods out t m f key=$initrd_key before=$INITRD
	mods=$CACHE/stock/image-$rel/usr/lib/modules/$rel
	[ -z "$groot" ] || key=$(initrd_key "$groot/usr/bin/busybox")
	out=$CACHE/stock/initramfs-$key-$rel.cpio.gz
	if [ ! -f "$out" ]; then
		t=$(mktemp -d)
		mkdir -p "$t/m"
		if [ -n "$groot" ]; then
			initrd_base "$t" "$groot/usr/bin/busybox"
			before=""
		fi
		for m in netfs 9pnet 9pnet_virtio 9p overlay; do
			f=$(find "$mods/kernel" -name "$m.ko*" | head -1)
			[ -n "$f" ] || { rm -rf "$t"; return 1; }
			case $f in *.xz) xz -dc "$f" ;; *.zst) zstd -dcq "$f" ;; *) cat "$f" ;; esac >"$t/m/$m.ko"
			echo "$m" >>"$t/m/order"
		done
		pack_initrd "$out" "$t" "$before"
	fi
	echo "$out"
}

RESULTS=${IPSEC_RS_RESULTS:-$ROOT/out/selftests}
mkdir -p "$RESULTS"

# The referee: classes of kernel reports, each a regular expression.
declare -A FAULTS=(
	[warning]='WARNING:'
	[bug]='BUG:|kernel BUG at'
	[oops]='Oops'
	[atomic_sleep]='sleeping function called from invalid context|scheduling while atomic'
	[lockdep]='possible circular locking|inconsistent lock state|possible recursive locking|suspicious RCU usage|WARNING: lock held when returning|bad unlock balance|Invalid wait context'
	[kasan]='KASAN:'
	[rust_panic]='rust_panic|panicked at'
	[kmemleak]='unreferenced object'
)
# Precedence when one fault prints several kinds of lines (a KASAN report is
# also a "BUG:"; an atomic-sleep report is printed as a "BUG:" too).
FAULT_ORDER=(kasan atomic_sleep lockdep rust_panic kmemleak oops bug warning)
# Any class's report: the boot's check and the excerpts.
FAULTS_RE=$(IFS='|'; echo "${FAULTS[*]}")

classify() {	# $1: directory of one run -> prints the fault classes found
	local d=$1 f found=()
	cat "$d"/dmesg.txt "$d"/console.log 2>/dev/null >"$d/kernel-all.txt"
	cat "$d"/kmemleak-*.txt 2>/dev/null >>"$d/kernel-all.txt"
	for f in "${FAULT_ORDER[@]}"; do
		grep -Eq "${FAULTS[$f]}" "$d/kernel-all.txt" && found+=("$f")
	done
	# A KASAN report prints "BUG: KASAN:"; an atomic sleep "BUG: sleeping";
	# lockdep reports start with "WARNING: possible ..." : report the
	# specific class alone when the generic lines are only its headers.
	local generic_extra=0
	if printf '%s\n' "${found[@]}" | grep -qE '^(kasan|atomic_sleep|lockdep)$'; then
		# (Captured, not `| grep -q`: under pipefail an early-exiting
		# grep -q would fail the pipeline on SIGPIPE.)
		local others
		others=$(grep -E 'BUG:|WARNING:' "$d/kernel-all.txt" |
			grep -Ev "KASAN:|sleeping function|scheduling while atomic|possible circular|inconsistent lock|possible recursive|suspicious RCU|lock held when|bad unlock|Invalid wait context")
		[ -n "$others" ] && generic_extra=1
		if [ $generic_extra -eq 0 ]; then
			local keep=()
			for f in "${found[@]}"; do
				case $f in bug | warning) ;; *) keep+=("$f") ;; esac
			done
			found=("${keep[@]}")
		fi
	fi
	printf '%s\n' "${found[@]}" | sed '/^$/d' | sort -u | paste -sd, -
}

excerpt() {	# $1: run dir
	local d=$1
	grep -En -B3 -A25 "$FAULTS_RE" "$d/kernel-all.txt" | head -80 | sed 's/^/#   /'
}

# run_one ENTRY: boots one guest for one TESTS entry and leaves, in its run
# directory, `tap` (the lines to print: the test's own TAP indented, then
# the result line without its number, then any excerpt) and `result`
# (status "ok"/"not ok"/"skip", wall seconds, label, CPU seconds). Runs in
# the background beside other guests; prints nothing itself, so no two
# guests' lines interleave. Its steps, the functions below, share its
# locals (bash's dynamic scope).
run_one() {
	local entry=$1 spec label name args d start gpid qrc rc faults reason secs cpu=0
	local EXPECT_THIS TIMEOUT_THIS SMP_THIS MEM_THIS BOOT_LINES
	local KDIR_THIS IMAGE_THIS KO_THIS=$KO series INITRD_THIS=$INITRD MODS_THIS="" UML_THIS=0
	local ARCH_THIS=x86_64 GROOT_THIS="" BINDS_THIS=""
	local build_hint="make test-vm builds it"
	prepare_run
	guest_kernel
	boot_lines "$KDIR_THIS"
	can_boot || return 0
	start=$(date +%s)
	boot_until_test
	secs=$(($(date +%s) - start))
	collect_results
	failure_reason
	judge_run
	[ $KEEP -eq 1 ] || rm -f "$d/kernel-all.txt"
}

# prepare_run: the entry's options, names and label; its run directory afresh.
prepare_run() {
	spec=${entry%% *}
	series=$(series_of "$entry")
	EXPECT_THIS=$(opt "$entry" expect "$EXPECT")
	TIMEOUT_THIS=$(opt "$entry" timeout "$TIMEOUT")
	SMP_THIS=$(opt "$entry" smp "$SMP")
	MEM_THIS=$(opt "$entry" mem "$MEM")
	# label: what the lines and the closing table call this entry.
	label=$spec${series:+ [$series]}
	name=${spec%%:*}
	args=""
	[ "$spec" != "$name" ] && args=${spec#*:}
	d=$(run_dir "$(entry_id "$entry")")
	rm -rf "$d" && mkdir -p "$d"
}

# guest_kernel: the entry's kernel tree, image, module, substrate, build hint.
guest_kernel() {
	KDIR_THIS=$(kdir_of "$series")
	case $series in
	stock-*)
		# A distribution's own kernel, as scripts/stock-module fetched
		# it; its modules are the guest's /lib/modules (guest.sh).
		local rel=${series#stock-}
		IMAGE_THIS=$CACHE/stock/image-$rel/usr/lib/modules/$rel/vmlinuz
		KO_THIS=$ROOT/out/build-stock-$rel/ipsec_rs.ko
		MODS_THIS=$CACHE/stock/image-$rel/usr/lib/modules/$rel
		build_hint="make stock-module STOCK_RELEASE=$rel builds them"
		# arm64: its own root; the host directories it needs shared
		# at their paths (the tools' build through the symlink
		# userspace/target, which points into the cache).
		case $rel in
		*-arm64)
			ARCH_THIS=aarch64
			GROOT_THIS=$CACHE/stock/root-arm64
			BINDS_THIS=$ROOT,$MODS_THIS,$(readlink -f "$ROOT/userspace/target")
			;;
		esac
		;;
	6.12)
		KO_THIS=$ROOT/ipsec_rs.ko
		build_hint="make builds them"
		;;
	?*)
		KO_THIS=$ROOT/out/build-$series/ipsec_rs.ko
		build_hint="make check KVER=$series builds them"
		;;
	esac
	# The substrate: a User-Mode Linux tree's kernel is the executable
	# `linux`, a QEMU one's the bzImage.
	if is_uml "$KDIR_THIS"; then
		UML_THIS=1
		IMAGE_THIS=$KDIR_THIS/linux
	elif [ -z "${IMAGE_THIS:-}" ]; then
		IMAGE_THIS=$KDIR_THIS/arch/x86/boot/bzImage
	fi
	[ -n "$KO_THIS" ] || KO_THIS=$ROOT/ipsec_rs.ko
}

# can_boot: records the result of an entry that cannot boot, and returns 1.
can_boot() {
	local part
	for part in $(tr + ' ' <<<"$spec"); do
		if [ ! -f "$ROOT/selftests/${part%%:*}" ]; then
			finish "not ok" 0 "$label # no such test selftests/${part%%:*}"
			return 1
		fi
	done
	# A group goes to the guest whole (ipsecrs_test), each test with its
	# own arguments.
	case $spec in *+*) name=$spec args="" ;; esac
	if [ ! -f "$IMAGE_THIS" ] || [ ! -f "$KO_THIS" ]; then
		finish skip 0 "$label # SKIP no ${series:-such} kernel or module ($IMAGE_THIS, $KO_THIS: $build_hint)"
		return 1
	fi
	if [ $UML_THIS -eq 1 ] && [ "$SMP_THIS" -gt 1 ]; then
		finish "not ok" 0 "$label # smp=$SMP_THIS on User-Mode Linux, which has one CPU: give the entry a QEMU kernel="
		return 1
	fi
	if [ $UML_THIS -eq 0 ] && [ $ARCH_THIS = x86_64 ] && [ -n "${QEMU_MISSING:-}" ]; then
		finish skip 0 "$label # SKIP $QEMU_MISSING"
		return 1
	fi
	if [ $ARCH_THIS = aarch64 ]; then
		if [ -n "${QEMU_ARM64_MISSING:-}" ]; then
			finish skip 0 "$label # SKIP $QEMU_ARM64_MISSING"
			return 1
		fi
		if [ ! -x "$GROOT_THIS/usr/bin/busybox" ]; then
			finish skip 0 "$label # SKIP no arm64 root in $GROOT_THIS ($build_hint)"
			return 1
		fi
		if [ ! -x "$ROOT/userspace/target/aarch64-unknown-linux-gnu/debug/ipsec-rs" ]; then
			finish skip 0 "$label # SKIP the tools are not built for arm64 (make tools-arm64)"
			return 1
		fi
	fi
	if [ -n "$MODS_THIS" ]; then
		INITRD_THIS=$(stock_initrd "${series#stock-}" "$GROOT_THIS") ||
			{ finish "not ok" 0 "$label # no 9p/overlay modules in $MODS_THIS"; return 1; }
		say "# $label: a distribution's kernel: no lockdep, KASAN or kmemleak to referee here (the debug kernels' runs do)" >>"$d/tap"
	fi
	return 0
}

# finish STATUS SECS DESCRIPTION...: run_one's result line (tap) and record.
finish() {
	local st=$1 sec=$2
	shift 2
	printf '%s\t%s\t%s\t%s\n' "$st" "$sec" "$label" "$cpu" >"$d/result"
	if [ "$st" = "not ok" ]; then
		printf 'not ok %%N%% %s\n' "$*" >>"$d/tap"
	else
		printf 'ok %%N%% %s\n' "$*" >>"$d/tap"
	fi
}

# boot_until_test: boots the guest until a boot reaches its test (3 at most).
boot_until_test() {
	local attempt
	for attempt in 1 2 3; do
		boot_once
		reboot_needed "$attempt" || break
	done
}

# boot_once: boots the guest once, watched (watch_boot); qrc its exit status.
boot_once() {
	local wpid
	rm -f "$d"/*.txt "$d/rc" "$d/test.log" "$d/console.log"
	boot_guest
	# (The runner kills the guest through this if it is itself stopped.)
	echo "$gpid" >"$d/guest.pid"
	watch_boot &
	wpid=$!
	# (Its job status, "Aborted" when a UML guest aborts at power-off after
	# a report, is not the runner's to print: the exit status is judged below.)
	wait "$gpid" 2>/dev/null
	qrc=$?
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	rm -f "$d/guest.pid"
}

# boot_guest: starts run_one's guest in the background, on its substrate;
# the kernel's command line carries the same parameters on both. gpid is
# the guest's process (through timeout, which kills its process group: UML
# runs each guest process as a host process of its own).
boot_guest() {
	local params=(loglevel=4 log_buf_len=8M kmemleak=on ipsecrs_repo="$ROOT"
		ipsecrs_ksrc="$(readlink -f "$KDIR_THIS/source" 2>/dev/null)"
		ipsecrs_kbuild="$(readlink -f "$KDIR_THIS")" ipsecrs_test="$name" ipsecrs_args="$args"
		ipsecrs_smp="$SMP_THIS" ipsecrs_ko="$KO_THIS" ${MODS_THIS:+ipsecrs_modules=$MODS_THIS}
		${BINDS_THIS:+ipsecrs_binds=$BINDS_THIS})
	if [ $UML_THIS -eq 1 ]; then
		boot_uml "${params[@]}"
	else
		boot_qemu "${params[@]}"
	fi
	gpid=$!
}

# boot_uml PARAM...: starts a User-Mode Linux guest, PARAM on its command line.
# The kernel's console is the process's output (kernel messages on stderr,
# /dev/console on stdout), the host's root and the results directory are
# hostfs mounts (initramfs-init). A panic ends the process (UML aborts), so
# no core file of the guest's memory is wanted.
boot_uml() {
	(
		ulimit -c 0
		exec timeout -k 10 "$TIMEOUT_THIS" "$IMAGE_THIS" mem="${MEM_THIS}M" \
			initrd="$INITRD_THIS" con=null con0=null,fd:1 "$@" \
			ipsecrs_substrate=uml ipsecrs_out="$d"
	) </dev/null >"$d/console.log" 2>&1 &
}

# boot_qemu PARAM...: starts a QEMU guest, PARAM on its kernel's command line.
# pci=noacpi: the guest's PCI interrupts from the firmware's PIRQ table,
# ACPI only for finding the CPUs. The debug kernels' ACPI interpreter,
# slowed down by KASAN and lockdep under TCG, times out evaluating the PCI
# interrupt routing (AE_AML_LOOP_TIMEOUT in \_SB.PCI0._PRT) and leaves
# virtio without interrupts (testing.rst). A guest of one vCPU boots with
# acpi=off: the interpreter's initialisation alone took 6.5 s of the 6.12
# debug kernel's 21.5 s to init (initcall_debug); a guest of several needs
# ACPI to find its CPUs (SeaBIOS's MP table lists only the first).
boot_qemu() {
	[ $ARCH_THIS = aarch64 ] && { boot_qemu_arm64 "$@"; return; }
	# shellcheck disable=SC2086
	timeout -k 10 "$TIMEOUT_THIS" qemu-system-x86_64 $ACCEL -m "$MEM_THIS" -smp "$SMP_THIS" \
		"${QEMU_EXTRA[@]}" -display none -no-reboot -monitor none -serial "file:$d/console.log" \
		-kernel "$IMAGE_THIS" -initrd "$INITRD_THIS" \
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$d,mount_tag=ipsecout,security_model=none,multidevs=remap" \
		-append "console=ttyS0 pci=noacpi $([ "$SMP_THIS" -eq 1 ] && echo acpi=off) panic=-1 $*" \
		</dev/null >"$d/qemu.log" 2>&1 &
}

# boot_qemu_arm64 PARAM...: an arm64 guest: QEMU's virt machine (a device
# tree, no firmware: the kernel's Image booted directly), the CPU emulated
# with QEMU's cheaper pointer-authentication algorithm (pauth-impdef; the
# kernel signs return addresses: with the architected QARMA,
# load.sh+tunnel.sh took 36 s of QEMU's CPU against 17 s, 2026-12-08), its
# own root and the host directories of BINDS_THIS as 9p shares. (--kvm and
# --icount are for x86 guests.)
boot_qemu_arm64() {
	local shares=() i=0 p
	for p in $(tr , ' ' <<<"$BINDS_THIS"); do
		shares+=(-virtfs "local,path=$p,mount_tag=bind$i,security_model=none,readonly=on,multidevs=remap")
		i=$((i + 1))
	done
	timeout -k 10 "$TIMEOUT_THIS" qemu-system-aarch64 -machine virt -accel tcg -cpu max,pauth-impdef=on \
		-m "$MEM_THIS" -smp "$SMP_THIS" \
		"${QEMU_EXTRA[@]}" -display none -no-reboot -monitor none -serial "file:$d/console.log" \
		-kernel "$IMAGE_THIS" -initrd "$INITRD_THIS" \
		-virtfs "local,path=$GROOT_THIS,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$d,mount_tag=ipsecout,security_model=none,multidevs=remap" \
		"${shares[@]}" -append "console=ttyAMA0 panic=-1 $*" \
		</dev/null >"$d/qemu.log" 2>&1 &
}

# watch_boot: beside the guest, stops a boot that cannot referee or hangs.
# A kernel report already in the log before the test started is not
# the test's, and it may have switched lockdep off for this boot, so this
# boot cannot referee: boot again (reboot_needed; seen under TCG: a KASAN
# report from an interrupt during identify_boot_cpu, 1 boot in ~10). Such a
# boot is stopped as soon as its boot log is written (the guest says "boot
# leaks cleared" right after), not after a test whose verdict would be
# thrown away: that was minutes of a CI run each time. A boot that has not
# reached its test after BOOT_LIMIT seconds is hung (seen with two vCPUs
# under TCG: a CPU whose timer stopped firing, RCU stall reports every
# 26 s, Documentation/testing.rst): stopped and booted again, rather than
# left to its test's limit.
watch_boot() {
	local t=0
	while kill -0 "$gpid" 2>/dev/null; do
		if grep -qs "boot leaks cleared" "$d/console.log"; then
			boot_reported && kill "$gpid" 2>/dev/null
			return 0
		fi
		if [ $t -ge "$BOOT_LIMIT" ]; then
			echo "no test started after ${BOOT_LIMIT}s" >"$d/boot-hung"
			kill "$gpid" 2>/dev/null
			return 0
		fi
		sleep 1
		t=$((t + 1))
	done
}

# boot_reported: the boot log (written by the guest before its test) has a
# kernel report.
boot_reported() { grep -Eqs "$FAULTS_RE" "$d/dmesg-boot.txt"; }

# reboot_needed ATTEMPT: whether to boot again after a boot that failed.
# A boot that reported a fault or hung before its test is said in tap, and
# booted again (0) unless it was the third (boot-failed); 1: no boot follows.
reboot_needed() {
	local attempt=$1
	if boot_reported; then
		{
			say "# $label: kernel report during boot, before the test (attempt $attempt):"
			grep -E -m3 "$FAULTS_RE" "$d/dmesg-boot.txt" | sed 's/^/#   /'
		} >>"$d/tap"
		mv "$d/dmesg-boot.txt" "$d/dmesg-boot-failed-$attempt.log"
		[ "$attempt" -lt 3 ] && { say "# rebooting" >>"$d/tap"; return 0; }
		echo "the kernel reported a fault while booting, on 3 boots" >"$d/boot-failed"
	elif [ -f "$d/boot-hung" ]; then
		{
			say "# $label: boot hung, $(cat "$d/boot-hung") (attempt $attempt); its last lines:"
			grep -v '^$' "$d/console.log" | tail -3 | sed 's/^/#   /'
		} >>"$d/tap"
		mv "$d/console.log" "$d/console-hung-$attempt.log"
		rm -f "$d/boot-hung"
		[ "$attempt" -lt 3 ] && { say "# rebooting" >>"$d/tap"; return 0; }
		echo "the boot hung, on 3 boots" >"$d/boot-failed"
	fi
	return 1
}

# collect_results: the guests' CPU time (cpu), test's status (rc), faults.
collect_results() {
	# The guests' CPU time: this subshell's children's (QEMU's, through
	# timeout), user + system, in whole seconds. (`times` into a file: in a
	# pipe or $(...) it would run in a child, which has no children.)
	times >"$d/times"
	cpu=$(awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] } printf "%d", n + 0.5 }' "$d/times")
	rc=$(cat "$d/rc" 2>/dev/null || echo "")
	faults=$(classify "$d")
}

# failure_reason: why the run failed, whatever its test said (reason), or "".
failure_reason() {
	local line
	reason=""
	if [ -f "$d/boot-failed" ]; then
		reason="$(cat "$d/boot-failed")"
	elif [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
		reason="guest timed out after ${TIMEOUT_THIS}s"
	elif [ -z "$rc" ]; then
		reason="guest died before the test finished (exit status $qrc)"
	fi
	if [ -z "$reason" ]; then
		for line in "${BOOT_LINES[@]}"; do
			# (grep on the files: `cat | grep -q` fails under pipefail
			# when grep stops early and cat gets SIGPIPE.)
			grep -qsF "$line" "$d/dmesg-boot.txt" "$d/dmesg.txt" || reason="booted the wrong kernel: no '$line' in the log"
		done
	fi
}

# judge_run: the test's TAP, the run's result line and any excerpt, into tap.
judge_run() {
	local want
	# The test's own TAP lines, indented as kselftest nests them.
	sed 's/^/# /' "$d/test.log" 2>/dev/null >>"$d/tap"
	if [ -n "$EXPECT_THIS" ]; then
		want=$EXPECT_THIS; [ "$want" = none ] && want=""
		if [ -z "$reason" ] && [ "$faults" = "$want" ]; then
			finish ok "$secs" "$label # referee reported '${faults:-none}' as expected (${secs}s)"
		else
			finish "not ok" "$secs" "$label # referee reported '${faults:-none}', expected '$EXPECT_THIS' ${reason:+($reason)}"
			excerpt "$d" >>"$d/tap"
		fi
	elif [ -n "$reason" ]; then
		finish "not ok" "$secs" "$label # $reason"
		tail -30 "$d/console.log" 2>/dev/null | sed 's/^/#   /' >>"$d/tap"
		[ -n "$faults" ] && excerpt "$d" >>"$d/tap"
	elif [ -n "$faults" ]; then
		finish "not ok" "$secs" "$label # kernel reported: $faults (test rc=$rc)"
		excerpt "$d" >>"$d/tap"
	elif [ "$rc" = 4 ]; then
		finish skip "$secs" "$label # SKIP (${secs}s) $(grep -m1 -i 'skip' "$d/test.log" | cut -c1-120)"
	elif [ "$rc" = 0 ]; then
		finish ok "$secs" "$label (${secs}s)"
	else
		finish "not ok" "$secs" "$label # test exited $rc (${secs}s)"
	fi
}

run_dir() { echo "$RESULTS/$(echo "$1" | tr -c 'A-Za-z0-9_.-' '_')"; }

# The schedule: by cost (cost= in TESTS, measured guest seconds; an entry
# without one counts as its timeout, so an unknown test starts early rather
# than last) and shares, JOBS single-vCPU QEMU guests' worth at once. An
# `exclusive` entry (a benchmark) runs alone: it waits for the guests
# before it to finish and nothing starts beside it.
cost_of() {
	opt "$1" cost "$(opt "$1" timeout "$TIMEOUT")"
}
# weight_of ENTRY: the entry's share of the machine, of 2 x JOBS: a QEMU
# guest 2 a vCPU (TCG keeps a vCPU's thread busy: 97 % of its wall time in
# CPU), a UML guest 1 (its kernel runs natively and waits much of the time:
# the suite's UML guests used 49 % of their wall time in CPU), so that two
# UML guests run where one QEMU guest would. (The SMP group on 3 shares with
# a UML guest beside it, tried on 2026-12-07, took 725 s and 941 s against
# 597 s alone: its two vCPU threads lose more than the UML guest gains.)
SHARES=$((2 * JOBS))
weight_of() {
	local w
	if is_uml "$(kdir_of "$(series_of "$1")")"; then
		w=1
	else
		w=$((2 * $(opt "$1" smp "$SMP")))
	fi
	echo $((w > SHARES ? SHARES : w))
}
# The order: the most machine first (cost x shares: the SMP group, then the
# single-vCPU QEMU groups, then the UML guests, the longest first).
ORDER=()
while read -r _ i; do ORDER+=("$i"); done < <(
	for i in "${!TESTS[@]}"; do
		echo "$(($(cost_of "${TESTS[$i]}") * $(weight_of "${TESTS[$i]}"))) $i"
	done | sort -k1,1nr -k2,2n)

n=0 failed=0 passed=0 skipped=0 guest_secs=0 cpu_secs=0
FAILED_LINES=()
declare -A PID_OF_JOB=() WEIGHT_OF_JOB=() END_OF_JOB=()
say "TAP version 13"
say "1..${#TESTS[@]}"
say "# $SHARES shares: a QEMU guest 2 a vCPU, a UML guest 1; the most machine first"
t0=$(date +%s)

report() {	# INDEX: print a finished test's block whole, numbered now
	local d st secs spec cpu line
	d=$(run_dir "$(entry_id "${TESTS[$1]}")")
	n=$((n + 1))
	if [ -f "$d/result" ]; then
		IFS=$'\t' read -r st secs spec cpu <"$d/result"
	else
		st="not ok" secs=0 cpu=0 spec=${TESTS[$1]%% *}
		printf 'not ok %%N%% %s # the runner lost this test (no result)\n' "$spec" >>"$d/tap"
	fi
	sed "s/%N%/$n/" "$d/tap"
	guest_secs=$((guest_secs + secs))
	cpu_secs=$((cpu_secs + cpu))
	case $st in
	ok) passed=$((passed + 1)) ;;
	skip) skipped=$((skipped + 1)); printf '\n*** SKIP: %s ***\n\n' "$spec" >&2 ;;
	*)
		failed=$((failed + 1))
		FAILED_LINES+=("$(grep -m1 '^not ok %N%' "$d/tap" | sed "s/%N%/$n/")")
		# And the checks that failed inside it, with the diagnostics
		# after each: a CI log cut to its last lines still says why.
		while IFS= read -r line; do
			FAILED_LINES+=("  $line")
		done < <(awk '/^(# )+not ok / { p = substr($0, 1, index($0, "not ok") - 1) "# "; print; next }
			p != "" && index($0, p) == 1 && substr($0, length(p) + 1) !~ /^(ok |not ok |TAP |1\.\.|# )/ { print; next }
			{ p = "" }' "$d/tap" | head -40)
		;;
	esac
	SUMMARY+=("$(printf '%-44s %-7s %6s %6s' "$spec" "$st" "$secs" "$cpu")")
}
SUMMARY=()

running=0 used=0
# Stopped (Ctrl-C, CI's limit) or failing: no guest outlives the runner.
stop_guests() {
	local e f
	for e in "${TESTS[@]}"; do
		f=$(run_dir "$(entry_id "$e")")/guest.pid
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
}
trap 'stop_guests; exit 130' INT TERM
trap stop_guests EXIT
reap() {	# wait for one guest to finish and report it
	local pid j
	wait -n -p pid
	for j in "${!PID_OF_JOB[@]}"; do
		if [ "${PID_OF_JOB[$j]}" = "$pid" ]; then
			unset "PID_OF_JOB[$j]"
			used=$((used - WEIGHT_OF_JOB[$j]))
			report "$j"
		fi
	done
	running=$((running - 1))
}

# shadow NEED: when the first waiting entry, which needs NEED shares, can
# start by the running guests' costs (SHADOW, seconds since the epoch; a
# guest past its cost counts as ending now), and how many shares are free
# then beyond its need (EXTRA).
shadow() {
	local need=$1 free=$((SHARES - used)) now e j
	now=$(date +%s)
	SHADOW=$now
	while [ $free -lt "$need" ] && read -r e j; do
		free=$((free + WEIGHT_OF_JOB[$j]))
		SHADOW=$e
	done < <(for j in "${!PID_OF_JOB[@]}"; do
		e=${END_OF_JOB[$j]}
		echo "$((e > now ? e : now)) $j"
	done | sort -n)
	EXTRA=$((free - need))
}

# The first waiting entry (in ORDER) starts when it fits in the shares
# left. While it waits, one behind it that fits starts if it delays it by
# nothing (by the costs: it ends before the first could start, or uses
# shares the first will not need then), so that a core is not left idle
# and a big guest is not starved by a stream of small ones (when the SMP
# group ends, the single-vCPU QEMU guest starts before the UML stream). An exclusive entry starts
# alone, never out of turn.
start() {	# K W: start PENDING[K], of weight W
	local i=${PENDING[$1]}
	run_one "${TESTS[$i]}" &
	PID_OF_JOB[$i]=$!
	WEIGHT_OF_JOB[$i]=$2
	END_OF_JOB[$i]=$(($(date +%s) + $(cost_of "${TESTS[$i]}")))
	used=$((used + $2))
	running=$((running + 1))
	unset "PENDING[$1]"
	PENDING=("${PENDING[@]}")
}
is_exclusive() { case " $1 " in *" exclusive "*) return 0 ;; esac; return 1; }
PENDING=("${ORDER[@]}")
while [ ${#PENDING[@]} -gt 0 ]; do
	entry=${TESTS[${PENDING[0]}]}
	if is_exclusive "$entry"; then
		# Nothing starts beside an exclusive test.
		while [ $running -gt 0 ]; do reap; done
		start 0 "$SHARES"
		while [ $running -gt 0 ]; do reap; done
		continue
	fi
	w=$(weight_of "$entry")
	if [ $((used + w)) -le $SHARES ]; then
		start 0 "$w"
		continue
	fi
	shadow "$w"
	started=""
	for k in "${!PENDING[@]}"; do
		[ "$k" -eq 0 ] && continue
		entry=${TESTS[${PENDING[$k]}]}
		is_exclusive "$entry" && continue
		w=$(weight_of "$entry")
		[ $((used + w)) -le $SHARES ] || continue
		if [ $(($(date +%s) + $(cost_of "$entry"))) -le "$SHADOW" ] || [ "$w" -le "$EXTRA" ]; then
			start "$k" "$w"
			started=1
			break
		fi
	done
	[ -n "$started" ] || reap
done
while [ $running -gt 0 ]; do reap; done

wall=$(($(date +%s) - t0))
say "#"
say "# ---- summary: each guest's wall time and QEMU's CPU time (seconds) ----"
say "# $(printf '%-44s %-7s %6s %6s' entry result wall cpu)"
for line in "${SUMMARY[@]}"; do say "# $line"; done
say "# total wall time ${wall}s; guest time summed ${guest_secs}s, CPU ${cpu_secs}s; $JOBS at once$( [ "$wall" -gt 0 ] && awk -v g="$guest_secs" -v w="$wall" 'BEGIN { printf " (x%.2f)", g / w }')"
if [ $failed -gt 0 ]; then
	say "# failed:"
	for line in "${FAILED_LINES[@]}"; do say "# $line"; done
fi
say "# results in $RESULTS"
say "selftests: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
