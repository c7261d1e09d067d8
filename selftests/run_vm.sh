#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# ipsec_rs QEMU selftest runner. Boots the given kernel once per test under
# software emulation, runs the test inside the guest on the host's own
# userspace (shared read-only over 9p), and prints kselftest TAP.
#
#   selftests/run_vm.sh [--kernel KDIR] [--ko MODULE.ko] [--timeout S] [--kvm] [--keep]
#                       [--icount SHIFT] [--expect-fault CLASS] [--qemu-arg ARG] [-j N]
#                       [--smp N] ['TEST[:ARGS] [expect=CLASS] [timeout=S] [cost=S] [smp=N] [exclusive]' ...]
#
# Guests run concurrently: -j N at once (default $IPSEC_RS_VM_JOBS, else the
# number of host cores), the most expensive first (cost=, else timeout=), an
# `exclusive` entry alone. Each test's TAP block is printed whole when its
# guest ends (numbered in the order they end), and the run closes with a
# table of every guest's wall time and result, the total wall time against
# the guest time summed, the failed lines repeated, and
# "selftests: N passed, N failed, N skipped". Each guest has its own time
# limit: a hung guest is killed alone.
#
# --smp N: virtual CPUs a guest has (default $IPSEC_RS_VM_SMP, else 2); an
# entry's smp= overrides it for that test. A guest has $IPSEC_RS_VM_MEM MiB
# of memory (default 512: kmemleak's scans and the boot take ~12% less than
# with 1024); an entry's mem= overrides it.
#
# TEST is a script under selftests/ (default: every selftests/*.sh listed in
# selftests/TESTS). ARGS, after a colon, are passed to it (commas become
# spaces). A test passes when its script exits 0 *and* the referee finds
# nothing in the guest's kernel log and kmemleak reports: any WARNING, BUG,
# Oops, atomic-sleep, lockdep, KASAN or RCU report, Rust panic, or leak
# fails it, and the offending excerpt is printed after the TAP line.
# Exit 4 from a test is a skip; the runner exits 0 if all passed or skipped,
# 1 otherwise.
#
# --icount SHIFT: the guest's clock counts executed instructions (each
# 2^SHIFT ns; QEMU's -icount, one host thread) instead of following the
# host's: timings inside the guest measure instructions executed, immune to
# the host's load (benchmarks).
#
# --qemu-arg ARG: one more argument for QEMU (repeatable), for example
# '-plugin' 'file=selftests/tools/tbcount.so,out=/tmp/tb.txt' (insn_profile.sh).
#
# --expect-fault CLASS inverts the referee for the canary self-test: the test
# passes only if the referee reports exactly CLASS (or "none": nothing).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${IPSEC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipsec_rs}
KDIR=$CACHE/kernel-debug
TIMEOUT=${IPSEC_RS_VM_TIMEOUT:-900}
ACCEL="-accel tcg -cpu max"
KEEP=0
KO=""
EXPECT=""
MEM=${IPSEC_RS_VM_MEM:-512}
SMP=${IPSEC_RS_VM_SMP:-2}
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
	-h | --help) sed -n '3,39p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

BZIMAGE=$KDIR/arch/x86/boot/bzImage
[ -f "$BZIMAGE" ] || skip_all "no kernel image at $BZIMAGE (run 'make setup')"
command -v qemu-system-x86_64 >/dev/null || skip_all "qemu-system-x86_64 not installed (run 'make setup')"
[ -x /bin/busybox ] || skip_all "/bin/busybox (busybox-static) not installed (run 'make setup')"
[ -r /dev/kvm ] || [ "$ACCEL" = "-accel tcg -cpu max" ] || skip_all "--kvm given but /dev/kvm is not usable"

# What the referee expects of this kernel: a debug kernel must show that its
# checkers are on, so a runner that booted the wrong kernel fails.
DEBUG_KERNEL=0
grep -q '^CONFIG_PROVE_LOCKING=y' "$KDIR/.config" 2>/dev/null && DEBUG_KERNEL=1
BOOT_LINES=()
if [ $DEBUG_KERNEL -eq 1 ]; then
	BOOT_LINES+=("Lock dependency validator" "kmemleak: Kernel memory leak detector initialized")
	grep -q '^CONFIG_KASAN=y' "$KDIR/.config" && BOOT_LINES+=("KernelAddressSanitizer initialized")
fi

# The initramfs: a static busybox and our /init, cached by content.
initrd_key=$(cat /bin/busybox "$ROOT/selftests/lib/initramfs-init" | sha256sum | cut -c1-16)
INITRD=$CACHE/initramfs-$initrd_key.cpio.gz
if [ ! -f "$INITRD" ]; then
	t=$(mktemp -d)
	mkdir -p "$t/bin" && cp /bin/busybox "$t/bin/busybox"
	install -m755 "$ROOT/selftests/lib/initramfs-init" "$t/init"
	mkdir -p "$CACHE"
	(cd "$t" && find . | cpio -o -H newc --quiet | gzip -1) >"$INITRD.tmp" && mv "$INITRD.tmp" "$INITRD"
	rm -rf "$t"
fi

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
	local d=$1 pat
	pat=$(IFS='|'; echo "${FAULTS[*]}")
	grep -En -B3 -A25 "$pat" "$d/kernel-all.txt" | head -80 | sed 's/^/#   /'
}

# run_one INDEX ENTRY: boots one guest for one TESTS entry and leaves, in its
# run directory, `tap` (the lines to print: the test's own TAP indented, then
# the result line without its number, then any excerpt) and `result`
# ("ok"/"not ok"/"skip", wall seconds, spec). Runs in the background beside
# other guests; prints nothing itself, so no two guests' lines interleave.
run_one() {
	local entry=$1 spec name args tag d start attempt qrc rc faults reason secs
	local EXPECT_THIS TIMEOUT_THIS SMP_THIS MEM_THIS allpat want line
	spec=${entry%% *}
	EXPECT_THIS=$EXPECT
	case " $entry " in *" expect="*) EXPECT_THIS=$(sed -n 's/.* expect=\([^ ]*\).*/\1/p' <<<" $entry ") ;; esac
	TIMEOUT_THIS=$TIMEOUT
	case " $entry " in *" timeout="*) TIMEOUT_THIS=$(sed -n 's/.* timeout=\([0-9]*\).*/\1/p' <<<" $entry ") ;; esac
	SMP_THIS=$SMP
	case " $entry " in *" smp="*) SMP_THIS=$(sed -n 's/.* smp=\([0-9]*\).*/\1/p' <<<" $entry ") ;; esac
	MEM_THIS=$MEM
	case " $entry " in *" mem="*) MEM_THIS=$(sed -n 's/.* mem=\([0-9]*\).*/\1/p' <<<" $entry ") ;; esac
	name=${spec%%:*}
	args=""
	[ "$spec" != "$name" ] && args=${spec#*:}
	d=$(run_dir "$spec")
	rm -rf "$d" && mkdir -p "$d"
	finish() {	# STATUS SECS DESCRIPTION...: the result line and record
		local st=$1 sec=$2
		shift 2
		printf '%s\t%s\t%s\n' "$st" "$sec" "$spec" >"$d/result"
		if [ "$st" = "not ok" ]; then
			printf 'not ok %%N%% %s\n' "$*" >>"$d/tap"
		else
			printf 'ok %%N%% %s\n' "$*" >>"$d/tap"
		fi
	}
	if [ ! -f "$ROOT/selftests/$name" ]; then
		finish "not ok" 0 "$spec # no such test selftests/$name"
		return
	fi
	start=$(date +%s)
	for attempt in 1 2 3; do
	rm -f "$d"/*.txt "$d/rc" "$d/test.log"
	# shellcheck disable=SC2086
	timeout -k 10 "$TIMEOUT_THIS" qemu-system-x86_64 $ACCEL -m "$MEM_THIS" -smp "$SMP_THIS" \
		"${QEMU_EXTRA[@]}" -display none -no-reboot -monitor none -serial "file:$d/console.log" \
		-kernel "$BZIMAGE" -initrd "$INITRD" \
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$d,mount_tag=ipsecout,security_model=none,multidevs=remap" \
		-append "console=ttyS0 panic=-1 loglevel=4 log_buf_len=8M kmemleak=on ipsecrs_repo=$ROOT ipsecrs_ksrc=$(readlink -f "$KDIR/source" 2>/dev/null) ipsecrs_test=$name ipsecrs_args=$args ipsecrs_ko=$KO" \
		</dev/null >"$d/qemu.log" 2>&1 &
	# (The runner kills the guest through this if it is itself stopped.)
	echo $! >"$d/guest.pid"
	wait $!
	qrc=$?
	rm -f "$d/guest.pid"
	# A kernel report already in the log before the test started is not
	# the test's, and it may have switched lockdep off for this boot, so
	# this boot cannot referee: boot again (seen under TCG: a KASAN
	# report from an interrupt during identify_boot_cpu, 1 boot in ~10).
	allpat=$(IFS='|'; echo "${FAULTS[*]}")
	if [ -f "$d/dmesg-boot.txt" ] && grep -Eq "$allpat" "$d/dmesg-boot.txt"; then
		{
			say "# $spec: kernel report during boot, before the test (attempt $attempt):"
			grep -E -m3 "$allpat" "$d/dmesg-boot.txt" | sed 's/^/#   /'
		} >>"$d/tap"
		mv "$d/dmesg-boot.txt" "$d/dmesg-boot-failed-$attempt.log"
		[ $attempt -lt 3 ] && { say "# rebooting" >>"$d/tap"; continue; }
		echo "boot-time kernel report on 3 boots" >"$d/boot-failed"
	fi
	break
	done
	secs=$(($(date +%s) - start))
	rc=$(cat "$d/rc" 2>/dev/null || echo "")
	faults=$(classify "$d")
	reason=""
	if [ -f "$d/boot-failed" ]; then
		reason="the kernel reported a fault while booting, on 3 boots"
	elif [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
		reason="guest timed out after ${TIMEOUT_THIS}s"
	elif [ -z "$rc" ]; then
		reason="guest died before the test finished (qemu rc=$qrc)"
	fi
	if [ -z "$reason" ]; then
		for line in "${BOOT_LINES[@]}"; do
			# (grep on the files: `cat | grep -q` fails under pipefail
			# when grep stops early and cat gets SIGPIPE.)
			grep -qsF "$line" "$d/dmesg-boot.txt" "$d/dmesg.txt" || reason="booted the wrong kernel: no '$line' in the log"
		done
	fi
	# The test's own TAP lines, indented as kselftest nests them.
	sed 's/^/# /' "$d/test.log" 2>/dev/null >>"$d/tap"
	if [ -n "$EXPECT_THIS" ]; then
		want=$EXPECT_THIS; [ "$want" = none ] && want=""
		if [ -z "$reason" ] && [ "$faults" = "$want" ]; then
			finish ok "$secs" "$spec # referee reported '${faults:-none}' as expected (${secs}s)"
		else
			finish "not ok" "$secs" "$spec # referee reported '${faults:-none}', expected '$EXPECT_THIS' ${reason:+($reason)}"
			excerpt "$d" >>"$d/tap"
		fi
	elif [ -n "$reason" ]; then
		finish "not ok" "$secs" "$spec # $reason"
		tail -30 "$d/console.log" 2>/dev/null | sed 's/^/#   /' >>"$d/tap"
		[ -n "$faults" ] && excerpt "$d" >>"$d/tap"
	elif [ -n "$faults" ]; then
		finish "not ok" "$secs" "$spec # kernel reported: $faults (test rc=$rc)"
		excerpt "$d" >>"$d/tap"
	elif [ "$rc" = 4 ]; then
		finish skip "$secs" "$spec # SKIP (${secs}s) $(grep -m1 -i 'skip' "$d/test.log" | cut -c1-120)"
	elif [ "$rc" = 0 ]; then
		finish ok "$secs" "$spec (${secs}s)"
	else
		finish "not ok" "$secs" "$spec # test exited $rc (${secs}s)"
	fi
	[ $KEEP -eq 1 ] || rm -f "$d/kernel-all.txt"
}

run_dir() { echo "$RESULTS/$(echo "$1" | tr -c 'A-Za-z0-9_.-' '_')"; }

# The schedule: longest first (cost= in TESTS, measured guest seconds; an
# entry without one counts as its timeout, so an unknown test starts early
# rather than last), as many guests at once as JOBS. An `exclusive` entry
# (a benchmark) runs alone: it waits for the guests before it to finish and
# nothing starts beside it.
cost_of() {
	local e=" $1 " c
	c=$(sed -n 's/.* cost=\([0-9]*\).*/\1/p' <<<"$e")
	[ -n "$c" ] || c=$(sed -n 's/.* timeout=\([0-9]*\).*/\1/p' <<<"$e")
	echo "${c:-$TIMEOUT}"
}
ORDER=()
while read -r _ i; do ORDER+=("$i"); done < <(
	for i in "${!TESTS[@]}"; do echo "$(cost_of "${TESTS[$i]}") $i"; done | sort -k1,1nr -k2,2n)

n=0 failed=0 passed=0 skipped=0 guest_secs=0
FAILED_LINES=()
declare -A PID_OF_JOB=()
say "TAP version 13"
say "1..${#TESTS[@]}"
say "# $JOBS guest(s) at once, longest first"
t0=$(date +%s)

report() {	# INDEX: print a finished test's block whole, numbered now
	local d st secs spec line
	d=$(run_dir "${TESTS[$1]%% *}")
	n=$((n + 1))
	if [ -f "$d/result" ]; then
		IFS=$'\t' read -r st secs spec <"$d/result"
	else
		st="not ok" secs=0 spec=${TESTS[$1]%% *}
		printf 'not ok %%N%% %s # the runner lost this test (no result)\n' "$spec" >>"$d/tap"
	fi
	sed "s/%N%/$n/" "$d/tap"
	guest_secs=$((guest_secs + secs))
	case $st in
	ok) passed=$((passed + 1)) ;;
	skip) skipped=$((skipped + 1)); printf '\n*** SKIP: %s ***\n\n' "$spec" >&2 ;;
	*) failed=$((failed + 1)); FAILED_LINES+=("$(grep -m1 '^not ok %N%' "$d/tap" | sed "s/%N%/$n/")") ;;
	esac
	SUMMARY+=("$(printf '%-44s %-7s %6s' "$spec" "$st" "$secs")")
}
SUMMARY=()

running=0
# Stopped (Ctrl-C, CI's limit) or failing: no guest outlives the runner.
stop_guests() {
	local e f
	for e in "${TESTS[@]}"; do
		f=$(run_dir "${e%% *}")/guest.pid
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
			report "$j"
		fi
	done
	running=$((running - 1))
}
for i in "${ORDER[@]}"; do
	entry=${TESTS[$i]}
	exclusive=0
	case " $entry " in *" exclusive "*) exclusive=1 ;; esac
	limit=$JOBS
	[ $exclusive -eq 1 ] && limit=1
	while [ $running -ge "$limit" ]; do reap; done
	run_one "$entry" &
	PID_OF_JOB[$i]=$!
	running=$((running + 1))
	# Nothing starts beside an exclusive test.
	[ $exclusive -eq 1 ] && while [ $running -gt 0 ]; do reap; done
done
while [ $running -gt 0 ]; do reap; done

wall=$(($(date +%s) - t0))
say "#"
say "# ---- summary: each guest's wall time (seconds) ----"
for line in "${SUMMARY[@]}"; do say "# $line"; done
say "# total wall time ${wall}s; guest time summed ${guest_secs}s; $JOBS at once$( [ "$wall" -gt 0 ] && awk -v g="$guest_secs" -v w="$wall" 'BEGIN { printf " (x%.2f)", g / w }')"
if [ $failed -gt 0 ]; then
	say "# failed:"
	for line in "${FAILED_LINES[@]}"; do say "# $line"; done
fi
say "# results in $RESULTS"
say "selftests: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
