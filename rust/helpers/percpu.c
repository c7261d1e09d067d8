// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of per-CPU
 * counters and slots (linux/percpu.h).
 */
#include <linux/percpu.h>
#include <linux/cpumask.h>
#include <linux/slab.h>
#include <linux/error-injection.h>
#include "helpers.h"

void __percpu *ipsec_rs_alloc_percpu_u64(size_t n)
{
	return __alloc_percpu(n * sizeof(u64), sizeof(u64));
}
ALLOW_ERROR_INJECTION(ipsec_rs_alloc_percpu_u64, NULL);

void ipsec_rs_pcpu_add(u64 __percpu *base, size_t idx, u64 v)
{
	this_cpu_add(base[idx], v);
}

u64 ipsec_rs_pcpu_read(u64 __percpu *base, size_t idx)
{
	return this_cpu_read(base[idx]);
}

void ipsec_rs_pcpu_write(u64 __percpu *base, size_t idx, u64 v)
{
	this_cpu_write(base[idx], v);
}

u64 ipsec_rs_pcpu_sum(u64 __percpu *base, size_t idx)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu_ptr(base, cpu)[idx]);
	return sum;
}

void * __percpu *ipsec_rs_alloc_percpu_ptr(void)
{
	return alloc_percpu(void *);
}
ALLOW_ERROR_INJECTION(ipsec_rs_alloc_percpu_ptr, NULL);

void *ipsec_rs_pcpu_xchg_ptr(void * __percpu *slot, void *p)
{
	return this_cpu_xchg(*slot, p);
}

void *ipsec_rs_pcpu_take_ptr(void * __percpu *slot, int cpu)
{
	return xchg(per_cpu_ptr(slot, cpu), NULL);
}

/* The next possible CPU after @prev (-1: the first); nr_cpu_ids or more
 * past the last. */
unsigned int ipsec_rs_next_possible_cpu(int prev)
{
	return cpumask_next(prev, cpu_possible_mask);
}

/* nr_cpu_ids (a constant where NR_CPUS is 1, a variable otherwise). */
unsigned int ipsec_rs_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}
