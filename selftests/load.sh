#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The module loads, registers its generic-netlink family (with its multicast
# group) in every namespace, unloads leaving nothing behind, and reloads.
# In a guest, first: the kernel brought up every CPU the runner gave it
# (the suite's concurrency between CPUs, under the referee, depends on it).
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd genl ip

family_listed() { $1 genl ctrl get name ipsec_rs >/tmp/genl.out 2>&1; }

ktap_plan 10
if [ -n "${IPSEC_RS_SMP:-}" ]; then
	check_eq "CPUs online: as many as the runner gave the guest (-smp $IPSEC_RS_SMP)" "$(nproc)" "$IPSEC_RS_SMP"
else
	ok "CPUs online # SKIP not in a guest of the runner"
fi
check "load ipsec_rs" load_module
check "module listed in /proc/modules" module_loaded
check "genetlink family ipsec_rs registered" family_listed ""
check "family has the multicast group 'events'" grep -q 'events' /tmp/genl.out
ip netns add other
check "family visible from another network namespace" family_listed "ip netns exec other"
ip netns del other
check "rmmod ipsec_rs" unload_module
check "family gone after rmmod" sh -c '! genl ctrl get name ipsec_rs >/dev/null 2>&1'
check "load again" load_module
check "rmmod again" unload_module
ktap_finish
