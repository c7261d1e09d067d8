#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The module loads, registers its generic-netlink family (with its multicast
# group) in every namespace, unloads leaving nothing behind, and reloads.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd genl ip

family_listed() { $1 genl ctrl get name ipsec_rs >/tmp/genl.out 2>&1; }

ktap_plan 9
check "insmod ipsec_rs" load_module
check "module listed in /proc/modules" module_loaded
check "genetlink family ipsec_rs registered" family_listed ""
check "family has the multicast group 'events'" grep -q 'events' /tmp/genl.out
ip netns add other
check "family visible from another network namespace" family_listed "ip netns exec other"
ip netns del other
check "rmmod ipsec_rs" unload_module
check "family gone after rmmod" sh -c '! genl ctrl get name ipsec_rs >/dev/null 2>&1'
check "insmod again" load_module
check "rmmod again" unload_module
ktap_finish
