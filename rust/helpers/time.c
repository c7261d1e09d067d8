// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of jiffies
 * (linux/jiffies.h).
 */
#include <linux/jiffies.h>
#include "helpers.h"

unsigned int ipsec_rs_jiffies_to_msecs(unsigned long j)
{
	return jiffies_to_msecs(j);
}
