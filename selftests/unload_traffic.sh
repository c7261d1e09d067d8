#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Unloading the module while ESP traffic flows through its hooks leaves the
# kernel without a warning or oops (the runner's referee checks the log), and
# the tunnel keeps working afterwards.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping
trap topo_cleanup EXIT

ktap_plan
topo_two_routers
xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 || die "cannot install SAs"
check "insmod" load_module
ip netns exec a ping -q -f -c 20000 192.0.2.2 >/tmp/flood.out 2>&1 &
flood=$!
sleep 2
i=0
while [ $i -lt 5 ]; do
	rmmod ipsec_rs || break
	sleep 0.3
	load_module || break
	sleep 0.3
	i=$((i + 1))
done
check_eq "load/unload cycles under traffic" "$i" 5
check "rmmod under traffic" unload_module
kill $flood 2>/dev/null; wait $flood 2>/dev/null
check "tunnel still passes traffic" ip netns exec a ping -q -c 3 -W 2 192.0.2.2
check "kernel log clean" kernel_log_clean
ktap_finish
