/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C shims for the `static inline` kernel functions and macros that ipsec_rs
 * needs: bindgen cannot bind those. Each is one line forwarding to the
 * inline; the Rust wrappers in this directory document their contracts.
 */
#ifndef IPSEC_RS_SHIMS_H
#define IPSEC_RS_SHIMS_H

#include <linux/types.h>
#include <net/genetlink.h>

/* Constants bindgen cannot see through (function-like macros such as BIT()). */
enum {
	IPSEC_RS_GENL_MCAST_CAP_NET_ADMIN = GENL_MCAST_CAP_NET_ADMIN,
};

struct sk_buff;
struct net;
struct genl_family;
struct genl_info;
struct netlink_ext_ack;
struct xfrm_state;
typedef struct spinlock spinlock_t;

void *ipsec_rs_net_generic(const struct net *net, unsigned int id);
u64 ipsec_rs_net_cookie(const struct net *net);

void __percpu *ipsec_rs_alloc_percpu_u64(size_t n);
void ipsec_rs_pcpu_add(u64 __percpu *base, size_t idx, u64 v);
u64 ipsec_rs_pcpu_sum(u64 __percpu *base, size_t idx);

const void *ipsec_rs_skb_header_pointer(const struct sk_buff *skb, int offset,
					int len, void *buffer);
int ipsec_rs_skb_network_offset(const struct sk_buff *skb);
void ipsec_rs_kfree_skb(struct sk_buff *skb);

struct sk_buff *ipsec_rs_genlmsg_new(size_t payload, bool atomic);
void ipsec_rs_genlmsg_end(struct sk_buff *skb, void *hdr);
int ipsec_rs_genlmsg_reply(struct sk_buff *skb, struct genl_info *info);
int ipsec_rs_genlmsg_multicast_netns(const struct genl_family *family,
				     struct net *net, struct sk_buff *skb,
				     unsigned int group);
struct net *ipsec_rs_genl_info_net(const struct genl_info *info);
const void *ipsec_rs_genl_info_payload(const struct genl_info *info, int *len);
void ipsec_rs_extack_msg(struct netlink_ext_ack *extack, const char *msg);

void ipsec_rs_spin_lock_init(spinlock_t *lock);
void ipsec_rs_spin_lock_bh(spinlock_t *lock);
void ipsec_rs_spin_unlock_bh(spinlock_t *lock);

u32 ipsec_rs_skb_mark(const struct sk_buff *skb);
void ipsec_rs_xfrm_state_put(struct xfrm_state *x);

#endif
