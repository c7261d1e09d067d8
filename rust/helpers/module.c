// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of THIS_MODULE and
 * struct module.
 */
#include <linux/module.h>
#include "helpers.h"

/* THIS_MODULE (a macro): the module these wrappers are built into. */
struct module *ipsec_rs_this_module(void)
{
	return THIS_MODULE;
}

/* A module's name (module notifiers). */
const char *ipsec_rs_module_name(const struct module *mod)
{
	return mod->name;
}
