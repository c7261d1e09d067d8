// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of generic netlink
 * messages, requests and dumps.
 */
#include <net/genetlink.h>
#include <net/sock.h>
#include <linux/error-injection.h>
#include "helpers.h"

struct sk_buff *ipsec_rs_genlmsg_new(size_t payload, gfp_t flags)
{
	return genlmsg_new(payload, flags);
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

/* NL_SET_ERR_MSG() on a non-NULL @extack: the macro wants a literal; ours
 * are static strings from Rust. */
void ipsec_rs_extack_msg(struct netlink_ext_ack *extack, const char *msg)
{
	extack->_msg = msg;
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
