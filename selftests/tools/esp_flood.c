// SPDX-License-Identifier: GPL-2.0
/*
 * esp_flood: send COUNT ESP packets with random SPIs (>= 256) from random
 * source addresses of NET/LEN to DST, through an IP_HDRINCL raw socket, in
 * sendmmsg() batches (test tool of the ipsec_rs selftests; a Python loop is
 * far too slow under QEMU's software emulation).
 *
 *   esp_flood DST NET/LEN COUNT [SEED]
 *
 * The socket has its own outbound policy with no template (bypass): the
 * flood leaves as crafted, never through an IPsec policy the sending
 * namespace has towards DST (its IP_HDRINCL flows carry the route's
 * source address, which a tunnel's selector matches).
 *
 * Prints the number of packets the kernel accepted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define PAYLOAD 16

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: plenty for test traffic. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

int main(int argc, char **argv)
{
	static uint8_t pkts[BATCH][sizeof(struct iphdr) + 8 + PAYLOAD];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct xfrm_userpolicy_info bypass;
	struct in_addr net;
	unsigned long count, sent = 0;
	uint32_t base, span;
	char *slash;
	int fd, one = 1, len;

	if (argc < 4) {
		fprintf(stderr, "usage: %s DST NET/LEN COUNT [SEED]\n", argv[0]);
		return 2;
	}
	slash = strchr(argv[2], '/');
	if (!slash || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "esp_flood: bad address\n");
		return 2;
	}
	*slash = 0;
	len = atoi(slash + 1);
	if (inet_pton(AF_INET, argv[2], &net) != 1 || len < 1 || len > 32) {
		fprintf(stderr, "esp_flood: bad network\n");
		return 2;
	}
	base = ntohl(net.s_addr);
	span = len == 32 ? 1 : 1u << (32 - len);
	count = strtoul(argv[3], NULL, 0);
	rng_state = argc > 4 ? strtoull(argv[4], NULL, 0) : 0x1F5EC0DEULL;

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one))) {
		perror("esp_flood: raw socket");
		return 1;
	}
	memset(&bypass, 0, sizeof(bypass));
	bypass.sel.family = AF_INET;
	bypass.lft.soft_byte_limit = bypass.lft.hard_byte_limit = XFRM_INF;
	bypass.lft.soft_packet_limit = bypass.lft.hard_packet_limit = XFRM_INF;
	bypass.dir = XFRM_POLICY_OUT;
	bypass.action = XFRM_POLICY_ALLOW;
	if (setsockopt(fd, IPPROTO_IP, IP_XFRM_POLICY, &bypass, sizeof(bypass))) {
		perror("esp_flood: bypass policy");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		struct iphdr *ip = (struct iphdr *)pkts[i];

		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_ESP;
		ip->tot_len = htons(sizeof(pkts[i]));
		ip->daddr = dst.sin_addr.s_addr;
		iov[i].iov_base = pkts[i];
		iov[i].iov_len = sizeof(pkts[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &dst;
		msgs[i].msg_hdr.msg_namelen = sizeof(dst);
	}
	while (sent < count) {
		int n = count - sent < BATCH ? (int)(count - sent) : BATCH, r;

		for (int i = 0; i < n; i++) {
			struct iphdr *ip = (struct iphdr *)pkts[i];
			uint32_t spi = 256 + rnd() % (0xffffffffu - 256);
			uint32_t seq = htonl((uint32_t)(sent + i + 1));

			ip->saddr = htonl(base + rnd() % span);
			spi = htonl(spi);
			memcpy(pkts[i] + sizeof(*ip), &spi, 4);
			memcpy(pkts[i] + sizeof(*ip) + 4, &seq, 4);
		}
		r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			perror("esp_flood: sendmmsg");
			break;
		}
		sent += r;
	}
	printf("%lu\n", sent);
	return sent == count ? 0 : 1;
}
