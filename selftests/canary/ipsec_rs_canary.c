// SPDX-License-Identifier: GPL-2.0
/*
 * ipsec_rs_canary: a test-only module that commits exactly one of the faults
 * the selftest referee must catch, chosen by the `fault` parameter, so that
 * selftests/canary.sh can prove the referee fails a test that does it.
 *
 *   none              nothing (the referee must pass it)
 *   sleep_in_softirq  a GFP_KERNEL allocation (may sleep) in a timer callback
 *   mutex_in_softirq  a mutex taken in a timer callback
 *   leak_kmalloc      one kmalloc'ed object dropped on the floor
 *   leak_skb          one skb dropped on the floor
 *   abba              two spinlocks taken in both orders (lockdep)
 *   oob_read          one byte read past the end of a kmalloc'ed object (KASAN)
 *
 * NEVER load this outside the selftests' guests (QEMU or User-Mode Linux).
 */
#include <linux/module.h>
#include <linux/timer.h>
#include <linux/slab.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/skbuff.h>
#include <linux/completion.h>

static char *fault = "none";
module_param(fault, charp, 0444);
MODULE_PARM_DESC(fault, "which fault to commit (see the source)");

static struct timer_list canary_timer;
static DECLARE_COMPLETION(timer_done);
static DEFINE_MUTEX(canary_mutex);
static DEFINE_SPINLOCK(lock_a);
static DEFINE_SPINLOCK(lock_b);
static void *leak_sink;

static void canary_timer_fn(struct timer_list *t)
{
	if (!strcmp(fault, "sleep_in_softirq")) {
		kfree(kmalloc(64, GFP_KERNEL));
	} else if (!strcmp(fault, "mutex_in_softirq")) {
		mutex_lock(&canary_mutex);
		mutex_unlock(&canary_mutex);
	}
	complete(&timer_done);
}

static int __init canary_init(void)
{
	pr_info("ipsec_rs_canary: fault=%s\n", fault);
	if (!strcmp(fault, "sleep_in_softirq") || !strcmp(fault, "mutex_in_softirq")) {
		timer_setup(&canary_timer, canary_timer_fn, 0);
		mod_timer(&canary_timer, jiffies + 1);
		wait_for_completion(&timer_done);
		timer_delete_sync(&canary_timer);
	} else if (!strcmp(fault, "leak_kmalloc")) {
		void *p = kmalloc(128, GFP_KERNEL);

		if (p)
			memset(p, 0xa5, 128);
		/* Publish, then forget, so the compiler cannot drop the call. */
		WRITE_ONCE(leak_sink, p);
		WRITE_ONCE(leak_sink, NULL);
	} else if (!strcmp(fault, "leak_skb")) {
		struct sk_buff *skb = alloc_skb(256, GFP_KERNEL);

		if (skb)
			skb_put_zero(skb, 64);
		WRITE_ONCE(leak_sink, skb);
		WRITE_ONCE(leak_sink, NULL);
	} else if (!strcmp(fault, "abba")) {
		spin_lock(&lock_a);
		spin_lock(&lock_b);
		spin_unlock(&lock_b);
		spin_unlock(&lock_a);
		spin_lock(&lock_b);
		spin_lock(&lock_a);
		spin_unlock(&lock_a);
		spin_unlock(&lock_b);
	} else if (!strcmp(fault, "oob_read")) {
		char *p = kmalloc(64, GFP_KERNEL);

		if (p) {
			/* Through READ_ONCE: the compiler may not drop the read. */
			pr_info("ipsec_rs_canary: byte past the end: %d\n", READ_ONCE(p[64]));
			kfree(p);
		}
	} else if (strcmp(fault, "none")) {
		pr_err("ipsec_rs_canary: unknown fault '%s'\n", fault);
		return -EINVAL;
	}
	return 0;
}

static void __exit canary_exit(void)
{
}

module_init(canary_init);
module_exit(canary_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ipsec_rs selftest canary: commits one fault on request (test only)");
