#!/bin/sh
# ipsec_rs QEMU guest: runs one selftest as PID 1 after switch_root, then
# powers the guest off. Everything the host judges is written to the results
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

kmemleak_report() {	# $1: file to write the report to
	[ -w $kmemleak ] || return 0
	# kmemleak reports an object once it is older than 5 s and a scan found
	# no reference to it: wait, then scan.
	sleep 5
	echo scan >$kmemleak
	cat $kmemleak >"$1"
	stamp "kmemleak scan done ($1)"
}

stamp "ready, kernel $(uname -r)"
cd "$ipsecrs_repo"
export IPSEC_RS_REPO="$ipsecrs_repo" IPSEC_RS_OUT=$OUT
export IPSEC_RS_KO="${ipsecrs_ko:-$ipsecrs_repo/ipsec_rs.ko}" IPSEC_RS_KSRC="$ipsecrs_ksrc"
export IPSEC_RS_CANARY_KO="$ipsecrs_repo/selftests/canary/ipsec_rs_canary.ko"
# shellcheck disable=SC2086
sh "$ipsecrs_repo/selftests/$ipsecrs_test" $(echo "$ipsecrs_args" | tr , ' ') >$OUT/test.log 2>&1 </dev/null &
pid=$!
# Live progress on the console while the test runs.
tail -f $OUT/test.log --pid=$pid 2>/dev/null || $bb tail -f $OUT/test.log &
wait $pid
rc=$?
stamp "test exited $rc"
echo "$rc" >$OUT/rc
# Two scans in all: kmemleak reports an object only when a scan finds it
# unreferenced with the same checksum as the previous scan (measured: with
# one scan after unloading, the leak canaries pass unnoticed).
kmemleak_report $OUT/kmemleak-test.txt
# Unload everything the test left loaded, then look again: a leak that only
# shows at module exit (an unfreed SA extension, an skb) is caught here.
for m in $(cut -d' ' -f1 /proc/modules); do rmmod "$m" 2>>$OUT/rmmod.log; done
kmemleak_report $OUT/kmemleak-rmmod.txt
dmesg >$OUT/dmesg.txt
echo "IPSEC_RS_GUEST_DONE rc=$rc"
sync
$bb reboot -f
