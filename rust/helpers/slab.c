// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of atomic
 * allocations (linux/slab.h).
 */
#include <linux/slab.h>
#include <linux/error-injection.h>
#include "helpers.h"

/*
 * ALLOW_ERROR_INJECTION marks the module's own allocation points here, in
 * percpu.c and in genetlink.c, so that fail_function can make them fail; it
 * is empty in a kernel without CONFIG_FUNCTION_ERROR_INJECTION.
 * selftests/fault_inject.sh does not use it (on 6.12 lockdep reports
 * fail_function's kprobe handler itself, see Documentation/testing.rst) and
 * reaches the same points with failslab's call-stack filter.
 */

void *ipsec_rs_kmalloc_atomic(size_t size)
{
	return kmalloc(size, GFP_ATOMIC);
}
ALLOW_ERROR_INJECTION(ipsec_rs_kmalloc_atomic, NULL);
