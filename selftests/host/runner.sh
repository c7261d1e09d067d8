#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The selftest runner's own bookkeeping, checked on the host in seconds:
# which substrate, test, arguments, kernel and module each kind of TESTS
# entry hands its guest, and how the runner judges what the guest leaves
# behind. QEMU and the User-Mode Linux kernel are replaced by stand-ins
# that boot nothing: each reads the runner's command line and writes, into
# the run directory (QEMU's share "ipsecout", UML's ipsecrs_out=), what a
# guest would (test.log, dmesg.txt, rc), echoing what it was given. A group
# or a kernel=SERIES entry that reaches the guest wrongly (CI once ran its
# three 7.3 entries as "no such test selftests/[7.3]") fails here before
# any boot.
#
#   selftests/host/runner.sh        (make test-host runs it)
#
# TAP; exit 0 pass, 1 fail.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The runner copies the host's static busybox into every initramfs it makes,
# stand-in QEMU or not: without it every case below would only see the
# runner's own SKIP.
if [ ! -x /bin/busybox ]; then
	why="/bin/busybox (busybox-static) not installed (run 'make setup')"
	printf 'TAP version 13\n1..0 # SKIP %s\n' "$why"
	printf '\n*** SKIP: %s: %s ***\n\n' "$0" "$why" >&2
	exit 4
fi
T=$(mktemp -d /tmp/ipsec_rs-runner.XXXXXX)
trap 'rm -rf "$T"' EXIT

# A repository of the runner and named tests, and a cache with three
# kernels (6.12 and 7.3 for QEMU, 6.12 as UML), none of them real.
mkdir -p "$T/repo/selftests/lib" "$T/repo/out/build-7.3" "$T/repo/out/build-uml" "$T/bin" \
	"$T/cache/kernel-debug/arch/x86/boot" "$T/cache/7.3/kernel-debug/arch/x86/boot" \
	"$T/cache/uml/kernel-debug"
cp "$ROOT/selftests/run_vm.sh" "$T/repo/selftests/"
cp "$ROOT/selftests/lib/initramfs-init" "$T/repo/selftests/lib/"
for t in alpha.sh beta.sh warns.sh fails.sh skips.sh sleeps.sh naps.sh napa.sh napb.sh napu.sh; do echo : >"$T/repo/selftests/$t"; done
printf '%s\n' '# comment' 'alpha.sh cost=5' 'beta.sh:x,y kernel=7.3 cost=4' >"$T/repo/selftests/TESTS"
for k in "$T/cache/kernel-debug" "$T/cache/7.3/kernel-debug"; do
	echo "bzImage of $k" >"$k/arch/x86/boot/bzImage"
	echo 'CONFIG_RUST=y' >"$k/.config"
done
echo ko >"$T/repo/out/build-7.3/ipsec_rs.ko"
echo ko >"$T/repo/out/build-uml/ipsec_rs.ko"
echo ko >"$T/repo/ipsec_rs.ko"
printf 'CONFIG_RUST=y\nCONFIG_UML=y\n' >"$T/cache/uml/kernel-debug/.config"
# A distribution kernel "R" as scripts/stock-module leaves it: vmlinuz,
# the modules (stand-ins), headers' .config, the module built for it.
SM=$T/cache/stock/image-R/usr/lib/modules/R
mkdir -p "$SM/kernel" "$T/cache/stock/headers-R/usr/src/linux-headers-R" "$T/repo/out/build-stock-R"
echo "bzImage of stock R" >"$SM/vmlinuz"
for m in netfs 9pnet 9pnet_virtio 9p overlay; do echo "module $m" >"$SM/kernel/$m.ko"; done
echo 'CONFIG_RUST=y' >"$T/cache/stock/headers-R/usr/src/linux-headers-R/.config"
echo ko >"$T/repo/out/build-stock-R/ipsec_rs.ko"

# The stand-ins: test.log says what the guest was given; warns.sh,
# fails.sh, skips.sh and sleeps.sh behave as their names say; nap*.sh:N
# note when they start (in $STARTS) and take N seconds. `guest OUT
# CMDLINE KERNEL MEM SMP` is what both do once they have read their
# arguments.
cat >"$T/bin/guest" <<'EOF'
#!/usr/bin/env bash
out=$1 append=$2 kernel=$3 mem=$4 smp=$5	# kernel: what it booted
param() { tr ' ' '\n' <<<"$append" | sed -n "s/^$1=//p"; }
test=$(param ipsecrs_test)
printf 'ok 1 given test=%s args=%s kernel=%s ko=%s%s\n' "$test" "$(param ipsecrs_args)" \
	"$kernel" "$(param ipsecrs_ko)" "$(param ipsecrs_modules | sed 's/^/ modules=/')" >"$out/test.log"
echo "ok 2 given mem=$mem smp=$smp" >>"$out/test.log"
echo 'booted' >"$out/dmesg.txt"
rc=0
case $test in
*warns.sh*) echo 'WARNING: CPU: 0 PID: 1 at somewhere' >>"$out/dmesg.txt" ;;
*fails.sh*) rc=1 ;;
*skips.sh*) rc=4; echo 'ok 3 # SKIP nothing to do' >>"$out/test.log" ;;
*sleeps.sh*) sleep 60 ;;
nap*) a=$(param ipsecrs_args); echo "$(date +%s.%N) $test" >>"$STARTS"; sleep "${a%%[ ,]*}" ;;
esac
echo $rc >"$out/rc"
EOF
cat >"$T/bin/qemu-system-x86_64" <<'EOF'
#!/usr/bin/env bash
out="" append="" kernel="" mem="" smp=""
while [ $# -gt 0 ]; do
	case $1 in
	-virtfs) case $2 in *mount_tag=ipsecout*) out=${2#local,path=}; out=${out%%,*} ;; esac; shift 2 ;;
	-append) append=$2; shift 2 ;;
	-kernel) kernel=$2; shift 2 ;;
	-m) mem=$2; shift 2 ;;
	-smp) smp=$2; shift 2 ;;
	*) shift ;;
	esac
done
exec guest "$out" "$append" "$(head -c 200 "$kernel")" "$mem" "$smp"
EOF
# The UML kernel: an executable whose arguments are the kernel's command
# line, the substrate and the results directory among them; "smp" uml.
cat >"$T/cache/uml/kernel-debug/linux" <<'EOF'
#!/usr/bin/env bash
out="" mem="" sub=""
for a; do
	case $a in
	ipsecrs_out=*) out=${a#*=} ;;
	mem=*) mem=${a#mem=} ;;
	ipsecrs_substrate=*) sub=${a#*=} ;;
	esac
done
[ "$sub" = uml ] || { echo "no ipsecrs_substrate=uml" >&2; exit 3; }
exec guest "$out" "$*" "UML $0" "$mem" uml
EOF
chmod +x "$T/bin/guest" "$T/bin/qemu-system-x86_64" "$T/cache/uml/kernel-debug/linux"

run() {	# ENTRY...: the runner on the fake repository, its output in $T/out
	env -u IPSEC_RS_VM_MEM -u IPSEC_RS_VM_SMP -u IPSEC_RS_VM_TIMEOUT -u IPSEC_RS_VM_JOBS \
		PATH=$T/bin:$PATH STARTS=$T/starts IPSEC_RS_CACHE=$T/cache IPSEC_RS_RESULTS=$T/results \
		"$T/repo/selftests/run_vm.sh" -j 2 "$@" >"$T/out" 2>&1
}
n=0 fails=0
check() {	# DESCRIPTION PATTERN: the runner's output has a line matching PATTERN
	n=$((n + 1))
	if grep -Eq -- "$2" "$T/out"; then
		echo "ok $n $1"
	else
		echo "not ok $n $1"; fails=$((fails + 1))
		sed 's/^/#   /' "$T/out" | tail -40
	fi
}

echo "TAP version 13"
echo "1..35"
K612="bzImage of $T/cache/kernel-debug"
K73="bzImage of $T/cache/7.3/kernel-debug"
KUML="UML $T/cache/uml/kernel-debug/linux"
run
rc=$?
check "TESTS read: a plain entry boots the UML kernel with UML's module, no arguments" \
	"^# ok 1 given test=alpha.sh args= kernel=$KUML ko=$T/repo/out/build-uml/ipsec_rs.ko$"
check "... on one CPU, with the default memory" '^# ok 2 given mem=512M smp=uml$'
check "its lines name the substrate" '^ok [0-9] alpha.sh \[uml\] \([0-9]+s\)$'
check "TESTS read: a kernel=7.3 entry boots 7.3's kernel with 7.3's module and its arguments" \
	"^# ok 1 given test=beta.sh args=x,y kernel=$K73 ko=$T/repo/out/build-7.3/ipsec_rs.ko$"
check "its lines name the series" '^ok [0-9] beta.sh:x,y \[7.3\] \([0-9]+s\)$'
check "both pass, the runner says so" '^selftests: 2 passed, 0 failed, 0 skipped$'
n=$((n + 1)); if [ $rc -eq 0 ]; then echo "ok $n runner exits 0"; else echo "not ok $n runner exits $rc"; fails=$((fails + 1)); fi

run 'alpha.sh kernel=6.12 smp=2' 'beta.sh smp=2'
check "kernel=6.12: QEMU's 6.12 kernel with the tree's module, the vCPUs asked for" \
	"^# ok 1 given test=alpha.sh args= kernel=$K612 ko=$T/repo/ipsec_rs.ko$"
check "smp=2 on UML fails, saying why" '^not ok [0-9] beta.sh \[uml\] # smp=2 on User-Mode Linux'
run --kernel "$T/cache/kernel-debug" alpha.sh 'beta.sh kernel=uml'
check "--kernel: the entries without kernel= boot it" "^# ok 1 given test=alpha.sh args= kernel=$K612 ko=$T/repo/ipsec_rs.ko$"
check "... and kernel=uml still UML" "^# ok 1 given test=beta.sh args= kernel=$KUML ko=$T/repo/out/build-uml/ipsec_rs.ko$"

run 'alpha.sh+beta.sh:z kernel=7.3' 'alpha.sh:1+beta.sh'
check "a group on 7.3 goes to the guest whole, on 7.3's kernel" \
	"^# ok 1 given test=alpha.sh\+beta.sh:z args= kernel=$K73 ko=$T/repo/out/build-7.3/ipsec_rs.ko$"
check "a group on the default kernel goes whole" "^# ok 1 given test=alpha.sh:1\+beta.sh args= kernel=$KUML ko=$T/repo/out/build-uml/ipsec_rs.ko$"
check "both groups pass" '^selftests: 2 passed, 0 failed, 0 skipped$'

run 'nosuch.sh' 'alpha.sh+nosuch.sh kernel=7.3' 'alpha.sh kernel=9.9'
check "a missing test fails, named" '^not ok [0-9] nosuch.sh \[uml\] # no such test selftests/nosuch.sh$'
check "a group with a missing test fails, naming it" '^not ok [0-9] alpha.sh\+nosuch.sh \[7.3\] # no such test selftests/nosuch.sh$'
check "a series without its kernel is a SKIP saying why" '^ok [0-9] alpha.sh \[9.9\] # SKIP no 9.9 kernel or module'
check "... and loudly" '^\*\*\* SKIP: alpha.sh \[9.9\] \*\*\*$'

run warns.sh fails.sh skips.sh
check "a kernel WARNING fails a test whose script passed" '^not ok [0-9] warns.sh \[uml\] # kernel reported: warning \(test rc=0\)$'
check "a test exiting 1 fails" '^not ok [0-9] fails.sh \[uml\] # test exited 1'
check "exit 4 is a skip" '^selftests: 0 passed, 2 failed, 1 skipped$'

run 'warns.sh expect=warning' 'alpha.sh expect=warning' 'sleeps.sh timeout=2' 'alpha.sh mem=300 smp=2 kernel=6.12' \
	'beta.sh kernel=6.12' 'alpha.sh:m mem=300'
check "expect=: the fault expected passes" "^ok [0-9] warns.sh \\[uml\\] # referee reported 'warning' as expected"
check "expect=: a clean run fails when a fault was expected" "^not ok [0-9] alpha.sh \\[uml\\] # referee reported 'none', expected 'warning'"
check "timeout=: a guest past its limit is killed and fails" '^not ok [0-9] sleeps.sh \[uml\] # guest timed out after 2s$'
check "mem= and smp= reach QEMU" '^# ok 2 given mem=300 smp=2$'
check "the defaults otherwise (512 MiB, 1 vCPU)" '^# ok 2 given mem=512 smp=1$'
check "mem= reaches UML" '^# ok 2 given mem=300M smp=uml$'
IPSEC_RS_VM_BOOT_LIMIT=1 run 'sleeps.sh timeout=30'
check "a guest that never starts its test is booted again" '^# sleeps.sh \[uml\]: boot hung, no test started after 1s \(attempt 2\)'
check "... and fails after three boots" '^not ok [0-9] sleeps.sh \[uml\] # the boot hung, on 3 boots$'

run 'alpha.sh kernel=stock-R' 'alpha.sh kernel=stock-Q'
check "a distribution's kernel: its vmlinuz, its module, its modules for the guest" \
	"^# ok 1 given test=alpha.sh args= kernel=bzImage of stock R ko=$T/repo/out/build-stock-R/ipsec_rs.ko modules=$SM$"
check "... and it says there is no debug checking there" '^# alpha.sh \[stock-R\]: a distribution.s kernel: no lockdep'
check "a distribution kernel not fetched: a SKIP naming make stock-module" '^ok [0-9] alpha.sh \[stock-Q\] # SKIP .*make stock-module'


# The schedule, on 2 x 2 shares: an SMP guest (4), two single-vCPU QEMU
# guests (2 each) and four UML ones (1 each), all of the same cost but the
# UML ones. The most machine first: the SMP guest, alone; when it ends,
# the QEMU guests, the UML stream not starving the second (it starts
# before the last UML guest does).
started() {	# TEST: seconds from the first start to TEST's
	awk -v t="$1" 'NR == 1 {t0 = $1} $2 == t {printf "%d\n", $1 - t0 + 0.5; exit}' "$T/starts"
}
rm -f "$T/starts"
run 'napa.sh:5 kernel=6.12 cost=5' 'napb.sh:5 kernel=6.12 cost=5' 'napu.sh:3 cost=3' \
	'napu.sh:3,a cost=3' 'napu.sh:3,b cost=3' 'napu.sh:3,c cost=3' 'naps.sh:5 kernel=6.12 smp=2 cost=5'
sort -n -o "$T/starts" "$T/starts"
sed 's/^/# start /' "$T/starts"
last_uml=$(awk 'NR == 1 {t0 = $1} $2 == "napu.sh" {t = $1 - t0} END {printf "%d\n", t + 0.5}' "$T/starts")
n=$((n + 1))
if [ "$(head -1 "$T/starts" | cut -d' ' -f2)" = naps.sh ] && [ "$(started napu.sh)" -ge 4 ]; then
	echo "ok $n the SMP guest starts first, alone"
else
	echo "not ok $n the SMP guest starts first, alone"; fails=$((fails + 1))
fi
n=$((n + 1))
if [ "$(started napa.sh)" -ge 4 ] && [ "$(started napb.sh)" -lt "$last_uml" ]; then
	echo "ok $n the QEMU guests after it, the second before the last UML guest"
else
	echo "not ok $n the QEMU guests after it, the second before the last UML guest"; fails=$((fails + 1))
fi
check "all seven pass" '^selftests: 7 passed, 0 failed, 0 skipped$'

[ $fails -eq 0 ]
