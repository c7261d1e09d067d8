// SPDX-License-Identifier: GPL-2.0
/*
 * The runtime of the coverage build's SanitizerCoverage (make
 * coverage-module; never part of the normal module).
 *
 * rustc instruments the crate (ipsec_rs/main.o) with LLVM's sancov-module
 * pass: one flag byte a block, set to 1 the first time the block runs, in
 * every context (softirq too: it is a plain store, not KCOV's per-task
 * buffer), and a PC table of (PC, flags) pairs in the same order, bit 0 of
 * flags marking a function's entry block. Flags rather than the 8-bit
 * counters: a counter wraps, and one that ran 256 times would read as never
 * run. LLVM's module constructor (run by
 * the module loader before the module's init, CONFIG_CONSTRUCTORS) hands the
 * two arrays here, their bounds the __start_/__stop_ symbols that
 * selftests/coverage/sancov.lds defines in the module's relocatable link.
 *
 * They are exposed as /sys/module/ipsec_rs/sancov, one fixed-width text
 * record a PC-table entry, in the table's order:
 *
 *	"%016lx %lx %u\n"	absolute PC, flags, reached (0 or 1)
 *
 * Any write to the file clears every flag (coverage from then on). The file
 * lives in the module's own sysfs directory, so the module loader removes it
 * (waiting for readers) before the module's memory goes: the module needs no
 * exit hook of ours. Written for 6.12's struct bin_attribute (the coverage
 * build is for the 6.12 UML debug kernel).
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#define SANCOV_REC 21 /* 16 + 1 + 1 + 1 + 1 + 1: "PC FLAGS HIT\n" */

static u8 *sancov_flags;
static size_t sancov_nflags;
static const unsigned long *sancov_pcs; /* (pc, flags) pairs */
static size_t sancov_npcs;

static ssize_t sancov_read(struct file *file, struct kobject *kobj,
			   struct bin_attribute *attr, char *buf, loff_t off,
			   size_t count)
{
	size_t i = off / SANCOV_REC, skip = off % SANCOV_REC, done = 0;
	char rec[SANCOV_REC + 1];

	while (done < count && i < sancov_npcs) {
		size_t n = min(count - done, (size_t)SANCOV_REC - skip);

		snprintf(rec, sizeof(rec), "%016lx %lx %u\n", sancov_pcs[2 * i],
			 sancov_pcs[2 * i + 1] & 0xf,
			 READ_ONCE(sancov_flags[i]) ? 1 : 0);
		memcpy(buf + done, rec + skip, n);
		done += n;
		skip = 0;
		i++;
	}
	return done;
}

static ssize_t sancov_write(struct file *file, struct kobject *kobj,
			    struct bin_attribute *attr, char *buf, loff_t off,
			    size_t count)
{
	memset(sancov_flags, 0, sancov_nflags);
	return count;
}

static struct bin_attribute sancov_attr =
	__BIN_ATTR(sancov, 0600, sancov_read, sancov_write, 0);

/* The flag bytes (-sanitizer-coverage-inline-bool-flag). */
void __sanitizer_cov_bool_flag_init(u8 *start, u8 *stop);
void __sanitizer_cov_bool_flag_init(u8 *start, u8 *stop)
{
	sancov_flags = start;
	sancov_nflags = stop - start;
}

/*
 * The PC table (-sanitizer-coverage-pc-table), called after the flags'
 * init: the file is made once both are known and agree.
 */
void __sanitizer_cov_pcs_init(const unsigned long *start,
			      const unsigned long *stop);
void __sanitizer_cov_pcs_init(const unsigned long *start,
			      const unsigned long *stop)
{
	int err;

	if (sancov_pcs)
		return;
	sancov_pcs = start;
	sancov_npcs = (stop - start) / 2;
	if (!sancov_npcs || sancov_npcs != sancov_nflags) {
		pr_warn("ipsec_rs: sancov: %zu PC-table entries for %zu flags: no coverage file\n",
			sancov_npcs, sancov_nflags);
		return;
	}
	sancov_attr.size = sancov_npcs * SANCOV_REC;
	err = sysfs_create_bin_file(&THIS_MODULE->mkobj.kobj, &sancov_attr);
	if (err)
		pr_warn("ipsec_rs: sancov: cannot create the coverage file: %d\n", err);
	else
		pr_info("ipsec_rs: sancov: %zu blocks instrumented, /sys/module/ipsec_rs/sancov\n",
			sancov_npcs);
}
