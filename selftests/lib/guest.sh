#!/bin/sh
# ipsec_rs guest (QEMU or User-Mode Linux): runs one selftest (or a group of
# them) as PID 1 after switch_root, then powers the guest off. Everything the host judges is written to the results
# share (/ipsec_rs_out): the test's output and exit status, the kernel log,
# and kmemleak reports after the test and after unloading every module.
# Parameters (kernel command line): ipsecrs_repo, ipsecrs_test, ipsecrs_args.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb
OUT=/ipsec_rs_out
bb=/bin/busybox

# /tmp stays the overlay's (writable, tmpfs-backed): a fresh tmpfs there
# would hide a repository cloned under /tmp on the host.
$bb mount -t tmpfs run /run
$bb mkdir -p /dev/pts /dev/shm /run/netns
$bb mount -t devpts devpts /dev/pts
$bb mount -t tmpfs shm /dev/shm
$bb mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
$bb hostname ipsec-rs-guest
# A distribution's kernel (ipsecrs_modules): its modules, from the host's
# copy of its package, are this guest's /lib/modules/<release>, so the
# kernel's requests (xfrm_user, esp4, the ciphers...) load them.
if [ -n "${ipsecrs_modules:-}" ]; then
	$bb mkdir -p /lib/modules/$(uname -r)
	$bb mount --bind "$ipsecrs_modules" /lib/modules/$(uname -r)
fi
ip link set lo up

dmesg >$OUT/dmesg-boot.txt
kmemleak=/sys/kernel/debug/kmemleak
# Report only what this test leaks: forget whatever boot left behind.
if [ -w $kmemleak ]; then
	echo scan >$kmemleak
	echo clear >$kmemleak
fi
echo "IPSEC_RS_GUEST $(cut -d' ' -f1 /proc/uptime)s: boot leaks cleared"

stamp() { echo "IPSEC_RS_GUEST $(cut -d' ' -f1 /proc/uptime)s: $*"; }

# unload_all: every module loaded (by the test or left by it) unloaded.
unload_all() {
	for m in $(cut -d' ' -f1 /proc/modules); do rmmod "$m" 2>>$OUT/rmmod.log; done
}

kmemleak_report() {	# $1: file to write the report to
	[ -w $kmemleak ] || return 0
	# kmemleak reports an object once it is older than 5 s and a scan found
	# no reference to it: wait, then scan.
	sleep 5
	echo scan >$kmemleak
	cat $kmemleak >"$1"
	stamp "kmemleak scan done ($1)"
}

stamp "ready, kernel $(uname -r), $(nproc) CPUs online"
cd "$ipsecrs_repo"
export IPSEC_RS_REPO="$ipsecrs_repo" IPSEC_RS_OUT=$OUT
export IPSEC_RS_KO="${ipsecrs_ko:-$ipsecrs_repo/ipsec_rs.ko}" IPSEC_RS_KSRC="$ipsecrs_ksrc" IPSEC_RS_KBUILD="$ipsecrs_kbuild"
# The CPUs the runner gave the guest (-smp), for load.sh to check the
# kernel brought them all up.
export IPSEC_RS_SMP="${ipsecrs_smp:-}"
# The test canary built for this kernel beside its module: the tree's
# selftests/canary/ for the module `make` builds, out/build-SERIES/selftests/
# canary/ for another series' (make series-modules).
export IPSEC_RS_CANARY_KO="$(dirname "$IPSEC_RS_KO")/selftests/canary/ipsec_rs_canary.ko"
# run_test TEST ARGS: one selftest (ARGS comma-separated), its output in
# $OUT/test.log, live on the console; its exit status.
run_test() {
	# shellcheck disable=SC2086
	IPSEC_RS_TEST=$1 sh "$ipsecrs_repo/selftests/$1" $(echo "$2" | tr , ' ') >$OUT/test.log 2>&1 </dev/null &
	pid=$!
	tail -f $OUT/test.log --pid=$pid 2>/dev/null || $bb tail -f $OUT/test.log &
	wait $pid
}
case $ipsecrs_test in
*+*)
	# A group (TEST[:ARGS]+...): each test in turn, its TAP nested in the
	# group's; between two, every module unloaded and every namespace
	# deleted. Exit 1 if one failed, 4 if all skipped.
	parts=$(echo "$ipsecrs_test" | tr + ' ')
	{ echo "TAP version 13"; echo "1..$(echo $parts | wc -w)"; } >$OUT/group.log
	i=0 failed=0 skipped=0
	for p in $parts; do
		i=$((i + 1))
		t=${p%%:*} a=""
		[ "$t" != "$p" ] && a=${p#*:}
		stamp "group: $p"
		run_test "$t" "$a"
		r=$?
		sed 's/^/# /' $OUT/test.log >>$OUT/group.log
		case $r in
		0) echo "ok $i $p" >>$OUT/group.log ;;
		4) echo "ok $i $p # SKIP" >>$OUT/group.log; skipped=$((skipped + 1)) ;;
		*) echo "not ok $i $p # exited $r" >>$OUT/group.log; failed=$((failed + 1)) ;;
		esac
		unload_all
		ip -all netns delete 2>/dev/null
	done
	mv $OUT/group.log $OUT/test.log
	rc=0
	[ $skipped -eq $i ] && rc=4
	[ $failed -gt 0 ] && rc=1
	;;
*)
	run_test "$ipsecrs_test" "$ipsecrs_args"
	rc=$?
	;;
esac
stamp "test exited $rc"
echo "$rc" >$OUT/rc
# Two scans in all: kmemleak reports an object only when a scan finds it
# unreferenced with the same checksum as the previous scan (measured: with
# one scan after unloading, the leak canaries pass unnoticed).
kmemleak_report $OUT/kmemleak-test.txt
# Unload everything the test left loaded, then look again: a leak that only
# shows at module exit (an unfreed SA extension, an skb) is caught here.
unload_all
kmemleak_report $OUT/kmemleak-rmmod.txt
dmesg >$OUT/dmesg.txt
echo "IPSEC_RS_GUEST_DONE rc=$rc"
sync
# QEMU runs with -no-reboot: a reboot ends it. UML's reboot would start the
# kernel again; its halt ends the process.
[ "${ipsecrs_substrate:-}" = uml ] && $bb poweroff -f
$bb reboot -f
