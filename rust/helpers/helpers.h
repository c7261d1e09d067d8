/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Forwarders for the `static inline` kernel functions and macros that the
 * wrappers of rust/ need: bindgen cannot bind those. One C file per kernel
 * subsystem (skbuff.c, xfrm.c, genetlink.c, aead.c, percpu.c, ...), as the
 * kernel lays out its own rust/helpers/. Each function forwards to one
 * inline or macro, or makes the stores of one static kernel function the
 * module cannot call; none branches (scripts/check-layers): the Rust side
 * owns every decision, and the Rust wrappers document the contracts.
 */
#ifndef IPSEC_RS_HELPERS_H
#define IPSEC_RS_HELPERS_H

#include <linux/types.h>
#include <net/genetlink.h>
#include <net/ip.h>
#include <linux/xfrm.h>
#include <crypto/aead.h>
#include <net/netns/generic.h>
#include <net/gro.h>

/* Where the fields the receive path reads for every packet lie, so that
 * Rust reads them in place instead of calling a shim for each: bindgen
 * evaluates these enumerators, so they follow each kernel's layout; their
 * types are asserted in skbuff.c, net.c and gro.c (`rust/skb.rs`, `rust/xfrm.rs` read them). */
enum {
	IPSEC_RS_OFF_SKB_DEV = offsetof(struct sk_buff, dev),
	IPSEC_RS_OFF_SKB_NETWORK_HEADER = offsetof(struct sk_buff, network_header),
	IPSEC_RS_OFF_SKB_MARK = offsetof(struct sk_buff, mark),
	IPSEC_RS_OFF_DEV_NET = offsetof(struct net_device, nd_net),
	IPSEC_RS_OFF_NET_GEN = offsetof(struct net, gen),
	IPSEC_RS_OFF_NET_GENERIC_PTR = offsetof(struct net_generic, ptr),
	/* The byte of skb->pkt_type (a bitfield; PKT_TYPE_MAX masks it). */
	IPSEC_RS_OFF_SKB_PKT_TYPE = PKT_TYPE_OFFSET,
	IPSEC_RS_PKT_TYPE_MASK = PKT_TYPE_MAX,
	/* NAPI_GRO_CB(skb) is skb->cb: skb_gro_offset() and the protocol. */
	IPSEC_RS_OFF_GRO_DATA_OFFSET = offsetof(struct napi_gro_cb, data_offset),
	IPSEC_RS_OFF_GRO_PROTO = offsetof(struct napi_gro_cb, proto),
};

/* Constants bindgen cannot see through (function-like macros such as BIT()). */
enum {
	IPSEC_RS_GENL_MCAST_CAP_NET_ADMIN = GENL_MCAST_CAP_NET_ADMIN,
	IPSEC_RS_IPSKB_FORWARDED = IPSKB_FORWARDED,
	IPSEC_RS_IPSKB_XFRM_TRANSFORMED = IPSKB_XFRM_TRANSFORMED,
	IPSEC_RS_XFRM_MODE_TUNNEL = XFRM_MODE_TUNNEL,
	IPSEC_RS_IP_DF = IP_DF,
	IPSEC_RS_IFF_UP = IFF_UP,
	IPSEC_RS_CRYPTO_ALG_INSTANCE = CRYPTO_ALG_INSTANCE,
};

/* Allocation flags (gfp_t) the wrappers pass to the kernel. */
enum {
	IPSEC_RS_GFP_ATOMIC = (__force unsigned int)GFP_ATOMIC,
	IPSEC_RS_GFP_KERNEL = (__force unsigned int)GFP_KERNEL,
};

struct sk_buff;
struct net;
struct genl_family;
struct genl_info;
struct netlink_ext_ack;
struct xfrm_state;
struct sock;
struct netlink_callback;
struct genl_dumpit_info;
struct net_device;
typedef struct spinlock spinlock_t;

struct module *ipsec_rs_this_module(void);
void *ipsec_rs_net_generic(const struct net *net, unsigned int id);
void ipsec_rs_for_each_net(void (*f)(struct net *net, void *arg), void *arg);
u64 ipsec_rs_net_cookie(const struct net *net);

void __percpu *ipsec_rs_alloc_percpu_u64(size_t n);
void ipsec_rs_pcpu_add(u64 __percpu *base, size_t idx, u64 v);
u64 ipsec_rs_pcpu_read(u64 __percpu *base, size_t idx);
void ipsec_rs_pcpu_write(u64 __percpu *base, size_t idx, u64 v);
u64 ipsec_rs_pcpu_sum(u64 __percpu *base, size_t idx);

const void *ipsec_rs_skb_header_pointer(const struct sk_buff *skb, int offset,
					int len, void *buffer);
unsigned int ipsec_rs_jiffies_to_msecs(unsigned long j);
int ipsec_rs_skb_network_offset(const struct sk_buff *skb);
void ipsec_rs_kfree_skb(struct sk_buff *skb);

struct sk_buff *ipsec_rs_genlmsg_new(size_t payload, gfp_t flags);
void ipsec_rs_genlmsg_end(struct sk_buff *skb, void *hdr);
int ipsec_rs_genlmsg_reply(struct sk_buff *skb, struct genl_info *info);
int ipsec_rs_genlmsg_multicast_netns(const struct genl_family *family,
				     struct net *net, struct sk_buff *skb,
				     unsigned int group);
struct net *ipsec_rs_genl_info_net(const struct genl_info *info);
const void *ipsec_rs_genl_info_payload(const struct genl_info *info, int *len);
void ipsec_rs_extack_msg(struct netlink_ext_ack *extack, const char *msg);

struct lock_class_key;
void ipsec_rs_spin_lock_init(spinlock_t *lock, const char *name,
			     struct lock_class_key *key);
void ipsec_rs_spin_lock_bh(spinlock_t *lock);
void ipsec_rs_spin_unlock_bh(spinlock_t *lock);

void ipsec_rs_xfrm_state_put(struct xfrm_state *x);

struct module;
bool ipsec_rs_gro_pull(struct sk_buff *skb, unsigned int offset);
void ipsec_rs_gro_flush(struct sk_buff *skb);
const char *ipsec_rs_module_name(const struct module *mod);

/* Receive path (ipsec_rs/esp_*.rs, decap.rs through rust/{skb,xfrm,aead}.rs). */
struct crypto_aead;
struct aead_request;
struct scatterlist;
struct iphdr;
struct ipv6hdr;

bool ipsec_rs_pskb_may_pull(struct sk_buff *skb, unsigned int len);
int ipsec_rs_pskb_trim(struct sk_buff *skb, unsigned int len);
int ipsec_rs_skb_unclone_atomic(struct sk_buff *skb);
void ipsec_rs_skb_reset_network_header(struct sk_buff *skb);
void ipsec_rs_skb_mac_header_rebuild(struct sk_buff *skb);
u16 ipsec_rs_skb_mac_len(const struct sk_buff *skb);
void ipsec_rs_skb_set_eth_proto(struct sk_buff *skb, __be16 proto);
void ipsec_rs_skb_set_protocol(struct sk_buff *skb, __be16 proto);
int ipsec_rs_skb_iif(const struct sk_buff *skb);
bool ipsec_rs_skb_valid_dst(const struct sk_buff *skb);
void ipsec_rs_skb_dst_drop(struct sk_buff *skb);
bool ipsec_rs_netif_elide_gro(const struct net_device *dev);
void ipsec_rs_skb_csum_none(struct sk_buff *skb);
void *ipsec_rs___skb_push(struct sk_buff *skb, unsigned int len);
void ipsec_rs_skb_reset_transport_header(struct sk_buff *skb);
void ipsec_rs_skb_set_mark(struct sk_buff *skb, u32 mark);
void ipsec_rs_nf_reset_ct(struct sk_buff *skb);
void ipsec_rs_dev_put(struct net_device *dev);
void ipsec_rs_dev_hold(struct net_device *dev);
void *ipsec_rs_netdev_priv(const struct net_device *dev);
int ipsec_rs_ip_ecn_set_ce(struct iphdr *iph);
int ipsec_rs_ip6_ecn_set_ce(struct sk_buff *skb, struct ipv6hdr *iph);
void ipsec_rs_ipv4_copy_dscp(unsigned int dscp, struct iphdr *inner);
void ipsec_rs_ipv6_copy_dscp(unsigned int dscp, struct ipv6hdr *inner);

void ipsec_rs_skb_set_network_header(struct sk_buff *skb, int offset);
void ipsec_rs_skb_csum_unnecessary(struct sk_buff *skb);
void ipsec_rs_xfrm_mode_skb_cb_set_protocol(struct sk_buff *skb, u8 proto);
void ipsec_rs_rcu_read_lock(void);
void ipsec_rs_rcu_read_unlock(void);
void ipsec_rs_xfrm_state_hold(struct xfrm_state *x);
void ipsec_rs_xfrm_inc_stats(struct net *net, int field);
void ipsec_rs_spin_lock(spinlock_t *lock);
void ipsec_rs_spin_unlock(spinlock_t *lock);

struct crypto_template;
u32 ipsec_rs_crypto_aead_alg_flags(struct crypto_aead *tfm);
struct crypto_template *ipsec_rs_crypto_aead_instance_tmpl(struct crypto_aead *tfm);
const char *ipsec_rs_crypto_tmpl_name(const struct crypto_template *tmpl);
struct crypto_aead *ipsec_rs_aead_geniv_ctx_child(struct crypto_aead *tfm);
unsigned int ipsec_rs_crypto_aead_ivsize(struct crypto_aead *tfm);
unsigned int ipsec_rs_crypto_aead_authsize(struct crypto_aead *tfm);
unsigned int ipsec_rs_crypto_aead_reqsize(struct crypto_aead *tfm);
unsigned int ipsec_rs_crypto_aead_alignmask(struct crypto_aead *tfm);
unsigned int ipsec_rs_crypto_tfm_ctx_alignment(void);
/* Dumps (netlink_callback). */
struct net *ipsec_rs_dump_net(const struct netlink_callback *cb);
long *ipsec_rs_dump_args(struct netlink_callback *cb);
void *ipsec_rs_dump_put(struct sk_buff *skb, struct netlink_callback *cb,
			const struct genl_family *family, u8 cmd);
unsigned int ipsec_rs_skb_tailroom(const struct sk_buff *skb);
const struct genl_dumpit_info *ipsec_rs_dump_info(struct netlink_callback *cb);

/* Outbound path: skb fields behind bitfields, IPCB() and dst helpers. */
struct dst_entry;
struct dst_entry *ipsec_rs_skb_dst(const struct sk_buff *skb);
struct xfrm_state *ipsec_rs_dst_xfrm(const struct dst_entry *dst);
u32 ipsec_rs_dst_mtu(const struct dst_entry *dst);
u32 ipsec_rs_ip_skb_dst_mtu(struct sock *sk, const struct sk_buff *skb);
bool ipsec_rs_skb_ignore_df(const struct sk_buff *skb);
void ipsec_rs_skb_set_ignore_df(struct sk_buff *skb, bool on);
bool ipsec_rs_skb_is_gso(const struct sk_buff *skb);
u16 ipsec_rs_skb_protocol(const struct sk_buff *skb);
u16 ipsec_rs_ipcb_flags(const struct sk_buff *skb);
u16 ipsec_rs_ipcb_frag_max_size(const struct sk_buff *skb);
void ipsec_rs_ipcb_set_frag_max_size(struct sk_buff *skb, u16 size);
int ipsec_rs_xfrm_output_frag(struct net *net, struct sock *sk, struct sk_buff *skb);

/* struct xfrm_state fields. */
u8 ipsec_rs_xfrm_mode(const struct xfrm_state *x);
u16 ipsec_rs_xfrm_family(const struct xfrm_state *x);
const void *ipsec_rs_xfrm_daddr(const struct xfrm_state *x);
u32 ipsec_rs_xfrm_spi(const struct xfrm_state *x);
u8 ipsec_rs_xfrm_proto(const struct xfrm_state *x);
void * __percpu *ipsec_rs_alloc_percpu_ptr(void);
void *ipsec_rs_pcpu_xchg_ptr(void * __percpu *slot, void *p);
void *ipsec_rs_pcpu_take_ptr(void * __percpu *slot, int cpu);
unsigned int ipsec_rs_next_possible_cpu(int prev);
unsigned int ipsec_rs_nr_cpu_ids(void);
void *ipsec_rs_kmalloc_atomic(size_t size);
/* What decides whether an skb's data can be written in place (one word). */
#define IPSEC_RS_SKB_CLONED 1u
#define IPSEC_RS_SKB_NONLINEAR 2u
#define IPSEC_RS_SKB_FRAG_LIST 4u
#define IPSEC_RS_SKB_SHARED_FRAG 8u
bool ipsec_rs_skb_cloned(const struct sk_buff *skb);
u32 ipsec_rs_skb_layout(const struct sk_buff *skb);
void ipsec_rs_skb_enter_device(struct sk_buff *skb, struct net_device *dev);
void ipsec_rs_skb_enter_scrubbed(struct sk_buff *skb, struct net_device *dev);
bool ipsec_rs_xfrm_policy_check_in(struct sk_buff *skb, unsigned short family);
void ipsec_rs_dev_rx_error(struct net_device *dev);

#endif
