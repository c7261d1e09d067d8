// SPDX-License-Identifier: GPL-2.0
/*
 * One-line forwarders for `static inline` kernel functions (see shims.h).
 * No logic lives here: the Rust side owns every decision.
 *
 * ALLOW_ERROR_INJECTION marks the module's own allocation points, so that
 * fail_function can make them fail; it is empty in a kernel without
 * CONFIG_FUNCTION_ERROR_INJECTION. selftests/fault_inject.sh does not use
 * it (on 6.12 lockdep reports fail_function's kprobe handler itself, see
 * Documentation/testing.rst) and reaches the same points with failslab's
 * call-stack filter.
 */
#include <linux/skbuff.h>
#include <linux/percpu.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/genetlink.h>
#include <net/xfrm.h>
#include <net/inet_ecn.h>
#include <net/dst_metadata.h>
#include <net/netfilter/nf_conntrack.h>
#include <linux/if_ether.h>
#include <linux/etherdevice.h>
#include <crypto/aead.h>
#include <crypto/algapi.h>
#include <crypto/internal/geniv.h>
#include <net/ip.h>
#include <net/dst.h>
#include <linux/rcupdate.h>
#include <net/gro_cells.h>
#include <linux/moduleparam.h>
#include <linux/error-injection.h>
#include <linux/module.h>
#include <net/gro.h>
#include <net/protocol.h>
#include "shims.h"

/* THIS_MODULE (a macro): the module these wrappers are built into. */
struct module *ipsec_rs_this_module(void)
{
	return THIS_MODULE;
}

void *ipsec_rs_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

void ipsec_rs_for_each_net(void (*f)(struct net *net, void *arg), void *arg)
{
	struct net *net;

	down_read(&net_rwsem);
	for_each_net(net)
		f(net, arg);
	up_read(&net_rwsem);
}

u64 ipsec_rs_net_cookie(const struct net *net)
{
	return net->net_cookie;
}

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

const void *ipsec_rs_skb_header_pointer(const struct sk_buff *skb, int offset,
					int len, void *buffer)
{
	return skb_header_pointer(skb, offset, len, buffer);
}

unsigned int ipsec_rs_jiffies_to_msecs(unsigned long j)
{
	return jiffies_to_msecs(j);
}

int ipsec_rs_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
}

void ipsec_rs_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

struct sk_buff *ipsec_rs_genlmsg_new(size_t payload, bool atomic)
{
	return genlmsg_new(payload, atomic ? GFP_ATOMIC : GFP_KERNEL);
}
ALLOW_ERROR_INJECTION(ipsec_rs_genlmsg_new, NULL);

void ipsec_rs_genlmsg_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

int ipsec_rs_genlmsg_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_reply(skb, info);
}

int ipsec_rs_genlmsg_multicast_netns(const struct genl_family *family,
				     struct net *net, struct sk_buff *skb,
				     unsigned int group)
{
	return genlmsg_multicast_netns(family, net, skb, 0, group, GFP_ATOMIC);
}

struct net *ipsec_rs_genl_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

const void *ipsec_rs_genl_info_payload(const struct genl_info *info, int *len)
{
	*len = genlmsg_len(info->genlhdr);
	return genlmsg_data(info->genlhdr);
}

void ipsec_rs_extack_msg(struct netlink_ext_ack *extack, const char *msg)
{
	/* NL_SET_ERR_MSG() wants a literal; ours are static strings from Rust. */
	if (extack)
		extack->_msg = msg;
}

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

void ipsec_rs_xfrm_state_put(struct xfrm_state *x)
{
	xfrm_state_put(x);
}

/* The fields Rust reads at the offsets of shims.h (IPSEC_RS_OFF_*): their
 * types, as rust/skb.rs and rust/xfrm.rs read them. */
static_assert(sizeof_field(struct sk_buff, dev) == sizeof(struct net_device *));
static_assert(sizeof_field(struct sk_buff, network_header) == sizeof(u16));
static_assert(sizeof_field(struct sk_buff, mark) == sizeof(u32));
/* dev_net(): possible_net_t is the namespace pointer itself (CONFIG_NET_NS,
 * which every kernel the module is for has). */
static_assert(sizeof_field(struct net_device, nd_net) == sizeof(struct net *),
	      "CONFIG_NET_NS is needed");
/* net_generic(): the RCU-protected array pointer, and its slots. */
static_assert(sizeof_field(struct net, gen) == sizeof(struct net_generic *));
static_assert(sizeof_field(struct net_generic, ptr[0]) == sizeof(void *));

bool ipsec_rs_pskb_may_pull(struct sk_buff *skb, unsigned int len)
{
	return pskb_may_pull(skb, len);
}

void ipsec_rs_skb_csum_none(struct sk_buff *skb)
{
	skb->ip_summed = CHECKSUM_NONE;
}

void *ipsec_rs___skb_push(struct sk_buff *skb, unsigned int len)
{
	return __skb_push(skb, len);
}

void ipsec_rs_skb_reset_transport_header(struct sk_buff *skb)
{
	skb_reset_transport_header(skb);
}

void ipsec_rs_skb_set_mark(struct sk_buff *skb, u32 mark)
{
	skb->mark = mark;
}

void ipsec_rs_nf_reset_ct(struct sk_buff *skb)
{
	nf_reset_ct(skb);
}

void ipsec_rs_dev_put(struct net_device *dev)
{
	dev_put(dev);
}

void ipsec_rs_dev_hold(struct net_device *dev)
{
	dev_hold(dev);
}

void *ipsec_rs_netdev_priv(const struct net_device *dev)
{
	return netdev_priv(dev);
}

int ipsec_rs_ip_ecn_set_ce(struct iphdr *iph)
{
	return IP_ECN_set_ce(iph);
}

int ipsec_rs_ip6_ecn_set_ce(struct sk_buff *skb, struct ipv6hdr *iph)
{
	return IP6_ECN_set_ce(skb, iph);
}

void ipsec_rs_ipv4_copy_dscp(unsigned int dscp, struct iphdr *inner)
{
	ipv4_copy_dscp(dscp, inner);
}

void ipsec_rs_ipv6_copy_dscp(unsigned int dscp, struct ipv6hdr *inner)
{
	ipv6_copy_dscp(dscp, inner);
}

void ipsec_rs_skb_set_network_header(struct sk_buff *skb, int offset)
{
	skb_set_network_header(skb, offset);
}

void ipsec_rs_skb_csum_unnecessary(struct sk_buff *skb)
{
	skb->ip_summed = CHECKSUM_UNNECESSARY;
}

void ipsec_rs_xfrm_mode_skb_cb_set_protocol(struct sk_buff *skb, u8 proto)
{
	XFRM_MODE_SKB_CB(skb)->protocol = proto;
}

void ipsec_rs_rcu_read_lock(void)
{
	rcu_read_lock();
}

void ipsec_rs_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

void ipsec_rs_xfrm_state_hold(struct xfrm_state *x)
{
	xfrm_state_hold(x);
}

void ipsec_rs_xfrm_inc_stats(struct net *net, int field)
{
	XFRM_INC_STATS(net, field);
}

void ipsec_rs_spin_lock(spinlock_t *lock)
{
	spin_lock(lock);
}

void ipsec_rs_spin_unlock(spinlock_t *lock)
{
	spin_unlock(lock);
}

/* The name of the template @tfm is an instance of, or NULL. */
const char *ipsec_rs_aead_template_name(struct crypto_aead *tfm)
{
	struct crypto_tfm *base = crypto_aead_tfm(tfm);
	struct crypto_instance *inst;

	if (!(base->__crt_alg->cra_flags & CRYPTO_ALG_INSTANCE))
		return NULL;
	inst = crypto_tfm_alg_instance(base);
	return inst->tmpl ? inst->tmpl->name : NULL;
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

struct net *ipsec_rs_dump_net(const struct netlink_callback *cb)
{
	return sock_net(cb->skb->sk);
}

long *ipsec_rs_dump_args(struct netlink_callback *cb)
{
	return cb->args;
}

void *ipsec_rs_dump_put(struct sk_buff *skb, struct netlink_callback *cb,
			const struct genl_family *family, u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   family, NLM_F_MULTI, cmd);
}

const struct genl_dumpit_info *ipsec_rs_dump_info(struct netlink_callback *cb)
{
	return genl_dumpit_info(cb);
}

unsigned int ipsec_rs_skb_tailroom(const struct sk_buff *skb)
{
	return skb_tailroom(skb);
}

struct xfrm_state *ipsec_rs_skb_dst_xfrm(const struct sk_buff *skb)
{
	return skb_dst(skb) ? skb_dst(skb)->xfrm : NULL;
}

u32 ipsec_rs_skb_dst_mtu(const struct sk_buff *skb)
{
	return skb_dst(skb) ? dst_mtu(skb_dst(skb)) : 0;
}

u32 ipsec_rs_ip_skb_dst_mtu(struct sock *sk, const struct sk_buff *skb)
{
	return skb_dst(skb) ? ip_skb_dst_mtu(sk, skb) : 0;
}

bool ipsec_rs_skb_ignore_df(const struct sk_buff *skb)
{
	return skb->ignore_df;
}

void ipsec_rs_skb_set_ignore_df(struct sk_buff *skb, bool on)
{
	skb->ignore_df = on;
}

bool ipsec_rs_skb_is_gso(const struct sk_buff *skb)
{
	return skb_is_gso(skb);
}

u16 ipsec_rs_skb_protocol(const struct sk_buff *skb)
{
	return ntohs(skb->protocol);
}

u16 ipsec_rs_ipcb_flags(const struct sk_buff *skb)
{
	return IPCB(skb)->flags;
}

u16 ipsec_rs_ipcb_frag_max_size(const struct sk_buff *skb)
{
	return IPCB(skb)->frag_max_size;
}

void ipsec_rs_ipcb_set_frag_max_size(struct sk_buff *skb, u16 size)
{
	IPCB(skb)->frag_max_size = size;
}

/* ip_do_fragment()'s output for pre-fragmented packets: each fragment goes
 * on where xfrm4_output()'s POST_ROUTING hook would have sent the packet. */
int ipsec_rs_xfrm_output_frag(struct net *net, struct sock *sk, struct sk_buff *skb)
{
	return xfrm_output(sk, skb);
}

u8 ipsec_rs_xfrm_mode(const struct xfrm_state *x)
{
	return x->props.mode;
}

u16 ipsec_rs_xfrm_family(const struct xfrm_state *x)
{
	return x->props.family;
}

const void *ipsec_rs_xfrm_daddr(const struct xfrm_state *x)
{
	return &x->id.daddr;
}

u32 ipsec_rs_xfrm_spi(const struct xfrm_state *x)
{
	return ntohl(x->id.spi);
}

u8 ipsec_rs_xfrm_proto(const struct xfrm_state *x)
{
	return x->id.proto;
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

/* The next possible CPU after @prev (-1: the first), or -1 past the last. */
int ipsec_rs_next_possible_cpu(int prev)
{
	unsigned int cpu = cpumask_next(prev, cpu_possible_mask);

	return cpu < nr_cpu_ids ? (int)cpu : -1;
}

void *ipsec_rs_kmalloc_atomic(size_t size)
{
	return kmalloc(size, GFP_ATOMIC);
}
ALLOW_ERROR_INJECTION(ipsec_rs_kmalloc_atomic, NULL);

/* What decides whether an skb's data can be written in place, packed in one
 * word (IPSEC_RS_SKB_*; the number of page fragments above bit 8). A linear
 * skb (no data outside the head) has no fragments, no frag list and no
 * shared page to describe. */
u32 ipsec_rs_skb_layout(const struct sk_buff *skb)
{
	u32 l = skb_cloned(skb) ? IPSEC_RS_SKB_CLONED : 0;

	if (!skb_is_nonlinear(skb))
		return l;
	return l | IPSEC_RS_SKB_NONLINEAR |
	       (skb_has_frag_list(skb) ? IPSEC_RS_SKB_FRAG_LIST : 0) |
	       (skb_has_shared_frag(skb) ? IPSEC_RS_SKB_SHARED_FRAG : 0) |
	       ((u32)skb_shinfo(skb)->nr_frags << 8);
}

/* The decapsulated tunnel-mode packet becomes the inner one (as
 * xfrm4/6_remove_tunnel_encap and xfrm_input do): protocol, inner header
 * linear and private, network and MAC headers reset. */
bool ipsec_rs_skb_become_inner(struct sk_buff *skb, __be16 proto, unsigned int hlen)
{
	skb->protocol = proto;
	if (!pskb_may_pull(skb, hlen))
		return false;
	if (skb_unclone(skb, GFP_ATOMIC))
		return false;
	skb_reset_network_header(skb);
	skb_mac_header_rebuild(skb);
	if (skb->mac_len)
		eth_hdr(skb)->h_proto = skb->protocol;
	return true;
}

/* pskb_trim() to @len, then skb_pull_rcsum() of @hdr linear bytes. */
bool ipsec_rs_skb_trim_pull(struct sk_buff *skb, unsigned int len, unsigned int hdr)
{
	if (pskb_trim(skb, len))
		return false;
	if (hdr > skb_headlen(skb) || !skb_pull_rcsum(skb, hdr))
		return false;
	skb_reset_transport_header(skb);
	return true;
}

/* Conntrack entry and route (unless a metadata dst) dropped, as xfrm_input
 * does before handing a decapsulated packet on; returns netif_elide_gro() of
 * the receiving device (read here so that the hand-over is one call). */
bool ipsec_rs_skb_drop_dst_ct(struct sk_buff *skb)
{
	nf_reset_ct(skb);
	if (skb_valid_dst(skb))
		skb_dst_drop(skb);
	return netif_elide_gro(skb->dev);
}

/* A decapsulated packet received on tunnel device dev in its own namespace:
 * the stores xfrmi_scrub_packet() makes (route and conntrack are dropped on
 * delivery, ipsec_rs_skb_drop_dst_ct), the device, and its receive
 * statistics (dev_sw_netstats_rx_add(), as the tunnel drivers count). */
void ipsec_rs_skb_enter_device(struct sk_buff *skb, struct net_device *dev)
{
	skb_clear_tstamp(skb);
	skb->pkt_type = PACKET_HOST;
	skb->skb_iif = 0;
	skb->ignore_df = 0;
	nf_reset_trace(skb);
	skb->dev = dev;
	dev_sw_netstats_rx_add(dev, skb->len);
}

/*
 * Makes tunnel device @dev, in the packet's namespace, the device the
 * decapsulated packet arrives on, as vti_rcv_cb() and vti6_rcv_cb() do for
 * a tunnel of the packet's own namespace: the packet scrubbed
 * (skb_scrub_packet(), which also drops its security path), then counted
 * in the device's receive statistics.
 */
void ipsec_rs_skb_enter_scrubbed(struct sk_buff *skb, struct net_device *dev)
{
	skb_scrub_packet(skb, false);
	skb->dev = dev;
	dev_sw_netstats_rx_add(dev, skb->len);
}

/* XFRM's inbound policy check of a received packet (static inline). */
bool ipsec_rs_xfrm_policy_check_in(struct sk_buff *skb, unsigned short family)
{
	return xfrm_policy_check(NULL, XFRM_POLICY_IN, skb, family);
}

/* A receive error of a tunnel device, as vti counts one (DEV_STATS_INC). */
void ipsec_rs_dev_rx_error(struct net_device *dev)
{
	DEV_STATS_INC(dev, rx_errors);
	DEV_STATS_INC(dev, rx_dropped);
}

/* The receiving device, held (dev_hold). */
struct net_device *ipsec_rs_skb_dev_hold(struct sk_buff *skb)
{
	dev_hold(skb->dev);
	return skb->dev;
}

/* The interface a received packet is on (as a LOCAL_IN hook's state->in). */
int ipsec_rs_skb_ifindex(const struct sk_buff *skb)
{
	return skb->dev ? skb->dev->ifindex : skb->skb_iif;
}

/* GRO's control block as rust/gro.rs reads it in place (shims.h). */
static_assert(sizeof_field(struct napi_gro_cb, data_offset) == sizeof(int));
static_assert(sizeof_field(struct napi_gro_cb, proto) == sizeof(u16));
static_assert(sizeof(struct napi_gro_cb) <= sizeof_field(struct sk_buff, cb));

/* skb->data moved to the protocol header (@offset bytes on, pulled into the
 * linear head), as the protocols' gro_receive callbacks do. */
bool ipsec_rs_gro_pull(struct sk_buff *skb, unsigned int offset)
{
	return pskb_pull(skb, offset) != NULL;
}

/* A packet a gro_receive callback does not take: skb->data back by @pushed
 * bytes, and the packet out of GRO (it goes up the stack as received). */
void ipsec_rs_gro_decline(struct sk_buff *skb, unsigned int pushed)
{
	if (pushed)
		skb_push(skb, pushed);
	NAPI_GRO_CB(skb)->same_flow = 0;
	NAPI_GRO_CB(skb)->flush = 1;
}

/* A module's name (module notifiers). */
const char *ipsec_rs_module_name(const struct module *mod)
{
	return mod->name;
}
