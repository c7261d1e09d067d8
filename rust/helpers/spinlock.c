// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of spinlocks
 * (linux/spinlock.h).
 */
#include <linux/spinlock.h>
#include "helpers.h"

void ipsec_rs_spin_lock_init(spinlock_t *lock, const char *name,
			     struct lock_class_key *key)
{
#ifdef CONFIG_DEBUG_SPINLOCK
	__raw_spin_lock_init(spinlock_check(lock), name, key, LD_WAIT_CONFIG);
#else
	spin_lock_init(lock);
#endif
}

void ipsec_rs_spin_lock_bh(spinlock_t *lock)
{
	spin_lock_bh(lock);
}

void ipsec_rs_spin_unlock_bh(spinlock_t *lock)
{
	spin_unlock_bh(lock);
}

void ipsec_rs_spin_lock(spinlock_t *lock)
{
	spin_lock(lock);
}

void ipsec_rs_spin_unlock(spinlock_t *lock)
{
	spin_unlock(lock);
}
