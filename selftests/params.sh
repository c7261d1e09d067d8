#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Module parameters set the configuration new namespaces start with (and
# init_net's at load): a namespace created after `insmod ipsec_rs.ko
# rx_enable=1 ...` decapsulates with no `ipsec-rs set`; per-namespace
# settings still override; /sys/module/ipsec_rs/parameters/ shows the
# effective values (defaults written back); invalid values refuse the load
# with a message naming the parameter.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping
require_tool
trap 'topo_cleanup; ip netns del c 2>/dev/null' EXIT
P=/sys/module/ipsec_rs/parameters
params() { echo "$(cat $P/rx_enable)/$(cat $P/invalid_spi_enable)/$(cat $P/replay_window)/$(cat $P/replay_disabled)"; }
# cfg [NETNS]: "rx_enable/invalid_spi_enable/replay_window/replay_disabled" of a namespace.
cfg() {
	if [ -n "${1:-}" ]; then j=$(ip netns exec "$1" "$IPSEC_RS_TOOL" show global --json); else j=$("$IPSEC_RS_TOOL" show global --json); fi
	echo "$(echo "$j" | jfield rx_enable)/$(echo "$j" | jfield invalid_spi_enable)/$(echo "$j" | jfield replay_window)/$(echo "$j" | jfield replay_disabled)"
}
# refused ARGS... MESSAGE: insmod fails and the kernel log names why.
refused() {
	msg=$1; shift
	dmesg -c >/dev/null
	if load_module "$@" 2>/dev/null; then unload_module; return 1; fi
	dmesg | grep -qF "$msg"
}

ktap_plan
check "replay_window=7 refused, named" refused "parameter replay_window=7 refused" replay_window=7
check "rx_enable=2 refused, named" refused "parameter rx_enable=2 refused" rx_enable=2
check "replay_window with replay_disabled=1 refused" refused "exclude each other" replay_window=4096 replay_disabled=1
check_eq "nothing left loaded after refusals" "$(grep -c '^ipsec_rs ' /proc/modules)" 0

check "insmod without parameters" load_module
check_eq "defaults written back to sysfs" "$(params)" "0/1/64/0"
check_eq "init_net starts with the defaults" "$(cfg)" "false/true/64/false"
check "rmmod" unload_module

check "insmod rx_enable=1 invalid_spi_enable=0 replay_window=4096" \
	load_module rx_enable=1 invalid_spi_enable=0 replay_window=4096
check_eq "parameters in sysfs" "$(params)" "1/0/4096/0"
check "parameters read-only" sh -c "! echo 0 2>/dev/null >$P/rx_enable"
check_eq "init_net configured by the parameters" "$(cfg)" "true/false/4096/false"
topo_two_routers
check_eq "namespace created after load configured by them" "$(cfg b)" "true/false/4096/false"
xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 || die "cannot install SAs"
check "ping a -> b through the tunnel" ip netns exec a ping -q -c 10 -i 0.1 -W 2 192.0.2.2
snap b
dec=$(cnt decap_ok)
check "b decapsulated with no ipsec-rs set (decap_ok $dec >= 10)" test "${dec:-0}" -ge 10
check "per-namespace setting overrides: rx off in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx off
check_eq "b now" "$(cfg b)" "false/false/4096/false"
ip netns add c
check_eq "a namespace created later still starts from the parameters" "$(cfg c)" "true/false/4096/false"
ip netns del c
topo_cleanup
check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
