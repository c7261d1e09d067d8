// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of AEAD transforms
 * (crypto/aead.h).
 */
#include <crypto/aead.h>
#include <crypto/algapi.h>
#include <crypto/internal/geniv.h>
#include "helpers.h"

/* The flags of @tfm's algorithm (CRYPTO_ALG_*). */
u32 ipsec_rs_crypto_aead_alg_flags(struct crypto_aead *tfm)
{
	return crypto_aead_tfm(tfm)->__crt_alg->cra_flags;
}

/* The template of the instance @tfm's algorithm is (when its flags have
 * CRYPTO_ALG_INSTANCE), or NULL. */
struct crypto_template *ipsec_rs_crypto_aead_instance_tmpl(struct crypto_aead *tfm)
{
	return crypto_tfm_alg_instance(crypto_aead_tfm(tfm))->tmpl;
}

/* A template's name. */
const char *ipsec_rs_crypto_tmpl_name(const struct crypto_template *tmpl)
{
	return tmpl->name;
}

/* The child of an IV generator instance (aead_geniv_alloc()'s context). */
struct crypto_aead *ipsec_rs_aead_geniv_ctx_child(struct crypto_aead *tfm)
{
	return ((struct aead_geniv_ctx *)crypto_aead_ctx(tfm))->child;
}

unsigned int ipsec_rs_crypto_aead_ivsize(struct crypto_aead *tfm)
{
	return crypto_aead_ivsize(tfm);
}

unsigned int ipsec_rs_crypto_aead_authsize(struct crypto_aead *tfm)
{
	return crypto_aead_authsize(tfm);
}

unsigned int ipsec_rs_crypto_aead_reqsize(struct crypto_aead *tfm)
{
	return crypto_aead_reqsize(tfm);
}

unsigned int ipsec_rs_crypto_aead_alignmask(struct crypto_aead *tfm)
{
	return crypto_aead_alignmask(tfm);
}

unsigned int ipsec_rs_crypto_tfm_ctx_alignment(void)
{
	return crypto_tfm_ctx_alignment();
}
