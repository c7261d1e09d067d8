// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU TCG plugin: executed guest kernel instructions per translated block,
 * for scripts/insn-profile (make insn-profile).
 *
 *   -plugin file=tbcount.so,out=PATH[,trigger=HEXADDR]
 *
 * Writes "vaddr instructions executions" per block of kernel code (guest
 * addresses in the upper half) to PATH when QEMU exits, and a snapshot to
 * PATH.K (K = 0, 1, ...) each time the block starting at HEXADDR (a kernel
 * function's entry, e.g. __x64_sys_sync) runs: the difference of two
 * snapshots is what ran between them. -icount makes QEMU's TCG run one
 * vCPU thread, so the inline counters are not raced.
 *
 * The plugin API is declared here rather than included: Debian's QEMU
 * (7.2) ships the plugin loader but not qemu-plugin.h. These are the
 * version-1 entry points this file uses; QEMU checks qemu_plugin_version.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <stdbool.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
__attribute__((visibility("default"))) int qemu_plugin_version = 1;
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb, enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

struct ent { uint64_t vaddr; uint64_t n; uint64_t execs; };
#define CAP (1u << 22)
static struct ent *tab;
static const char *out = "/tmp/tbcount.txt";
static uint64_t trigger;
static int snaps;
static void dump(const char *path);
static void fire(unsigned int vcpu, void *p)
{
	(void)vcpu;
	(void)p;
	char path[4096];
	snprintf(path, sizeof(path), "%s.%d", out, snaps++);
	dump(path);
}

static struct ent *slot(uint64_t va, uint64_t n)
{
	uint64_t h = (va ^ (n << 48)) * 0x9e3779b97f4a7c15ull;
	for (uint32_t i = h >> 42;; i = (i + 1) & (CAP - 1)) {
		struct ent *e = &tab[i];
		if (e->vaddr == va && e->n == n) return e;
		if (!e->vaddr) { e->vaddr = va; e->n = n; return e; }
	}
}

static void trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t va = qemu_plugin_tb_vaddr(tb), n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	if (va < 0xffff000000000000ull) return; /* kernel only */
	struct ent *e = slot(va, n);
	if (va == trigger)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, fire, QEMU_PLUGIN_CB_NO_REGS, NULL);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &e->execs, 1);
}

static void atexit_cb(qemu_plugin_id_t id, void *p)
{
	(void)id;
	(void)p;
	dump(out);
}

static void dump(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) return;
	for (uint32_t i = 0; i < CAP; i++)
		if (tab[i].vaddr && tab[i].execs)
			fprintf(f, "%llx %llu %llu\n", (unsigned long long)tab[i].vaddr,
				(unsigned long long)tab[i].n, (unsigned long long)tab[i].execs);
	fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4)) out = strdup(argv[i] + 4);
		else if (!strncmp(argv[i], "trigger=", 8)) trigger = strtoull(argv[i] + 8, NULL, 16);
	tab = calloc(CAP, sizeof(*tab));	/* far more blocks than a kernel has */
	if (!tab)
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, trans);
	qemu_plugin_register_atexit_cb(id, atexit_cb, NULL);
	return 0;
}
