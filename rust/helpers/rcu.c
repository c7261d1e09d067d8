// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of RCU read-side
 * critical sections.
 */
#include <linux/rcupdate.h>
#include "helpers.h"

void ipsec_rs_rcu_read_lock(void)
{
	rcu_read_lock();
}

void ipsec_rs_rcu_read_unlock(void)
{
	rcu_read_unlock();
}
