// SPDX-License-Identifier: GPL-2.0
/*
 * esp_blast: send pre-built Ethernet frames as fast as possible from an
 * AF_PACKET socket, in sendmmsg() batches, and time how long the receiver
 * takes to take them all in (test tool of the ipsec_rs benchmarks; the
 * frames come from selftests/lib/esp_craft.py --out: a 2-byte big-endian
 * length, then the frame).
 *
 *   esp_blast [-s NETNS_FILE] [-p PORT] [-6] [-w] [-o] DEV FRAMES
 *
 * Started in the receiver's network namespace:
 *   -p PORT  binds a UDP socket to PORT there with a socket filter that drops
 *            every datagram, so decapsulated packets reach UDP (XFRM policy
 *            check, checksum) and are dropped at the socket, where the
 *            kernel counts them (Udp InErrors in /proc/net/snmp) without
 *            queueing, waking anyone or sending an ICMP error;
 *   -6       the UDP socket is IPv6 (IPV6_V6ONLY), for IPv6 inner packets:
 *            counted in Udp6InErrors (/proc/net/snmp6);
 *   -s FILE  then switches to the sender's namespace (e.g. /run/netns/a)
 *            where DEV is;
 *   -w       after sending, waits until the receiver's Udp InErrors rose
 *            by the number of frames (or stopped rising for 3 s): the time
 *            reported is then the receiver's, not only the sender's;
 *   -o       rewrites every destination MAC to a foreign unicast address,
 *            so the receiving veth drops the frames as "other host" right
 *            at IP input: the cost of sending and of the veth alone (the
 *            floor of the other runs).
 *
 * Prints one line of key=value: frames, sent, send_ns (first send to last),
 * done_ns (first send to the last packet counted, with -w), counted (the
 * InErrors rise, Udp6InErrors with -6), csum_errors (the InCsumErrors rise), rcv_drops (softnet
 * backlog drops, /proc/net/softnet_stat). Exit 0 if every frame was sent
 * (and, with -w, counted), 1 otherwise, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The Udp line of an open /proc/net/snmp: InErrors and InCsumErrors. */
static int udp_errors(int fd, unsigned long long *in_errors, unsigned long long *csum_errors)
{
	char buf[8192], *names, *vals, *sn, *sv, *n, *v;
	ssize_t len = pread(fd, buf, sizeof(buf) - 1, 0);
	int found = 0;

	if (len <= 0)
		return -1;
	buf[len] = 0;
	/* Two lines "Udp: names..." then "Udp: values...". */
	names = strstr(buf, "\nUdp: ");
	if (!names)
		return -1;
	vals = strstr(names + 1, "\nUdp: ");
	if (!vals)
		return -1;
	names += 6;
	vals += 6;
	*strchrnul(names, '\n') = 0;
	*strchrnul(vals, '\n') = 0;
	for (n = strtok_r(names, " ", &sn), v = strtok_r(vals, " ", &sv); n && v;
	     n = strtok_r(NULL, " ", &sn), v = strtok_r(NULL, " ", &sv)) {
		if (!strcmp(n, "InErrors")) {
			*in_errors = strtoull(v, NULL, 10);
			found |= 1;
		} else if (!strcmp(n, "InCsumErrors")) {
			*csum_errors = strtoull(v, NULL, 10);
			found |= 2;
		}
	}
	return found == 3 ? 0 : -1;
}

/* The same from an open /proc/net/snmp6 (one "Name value" a line):
 * Udp6InErrors and Udp6InCsumErrors. */
static int udp6_errors(int fd, unsigned long long *in_errors, unsigned long long *csum_errors)
{
	char buf[16384], *line, *sl, name[64];
	ssize_t len = pread(fd, buf, sizeof(buf) - 1, 0);
	unsigned long long v;
	int found = 0;

	if (len <= 0)
		return -1;
	buf[len] = 0;
	for (line = strtok_r(buf, "\n", &sl); line; line = strtok_r(NULL, "\n", &sl)) {
		if (sscanf(line, "%63s %llu", name, &v) != 2)
			continue;
		if (!strcmp(name, "Udp6InErrors")) {
			*in_errors = v;
			found |= 1;
		} else if (!strcmp(name, "Udp6InCsumErrors")) {
			*csum_errors = v;
			found |= 2;
		}
	}
	return found == 3 ? 0 : -1;
}

/* Udp InErrors and InCsumErrors of the family the sink uses. */
static int sink_errors(int fd, int v6, unsigned long long *in_errors, unsigned long long *csum_errors)
{
	return v6 ? udp6_errors(fd, in_errors, csum_errors) : udp_errors(fd, in_errors, csum_errors);
}

/* Sum of the "dropped" column (the 2nd) of /proc/net/softnet_stat. */
static unsigned long long softnet_drops(void)
{
	unsigned long long sum = 0;
	unsigned int processed, dropped;
	char line[512];
	FILE *f = fopen("/proc/net/softnet_stat", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%x %x", &processed, &dropped) == 2)
			sum += dropped;
	fclose(f);
	return sum;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-s NETNS_FILE] [-p PORT] [-6] [-w] [-o] DEV FRAMES\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	static struct mmsghdr msgs[BATCH];
	static struct iovec iov[BATCH];
	unsigned long long err0 = 0, csum0 = 0, err1 = 0, csum1 = 0, drops0, drops1;
	const char *netns = NULL, *dev, *path;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	size_t cap = 1 << 20, len = 0, nframes = 0, sent = 0, off;
	uint8_t *buf, **frame;
	uint16_t *flen;
	uint64_t t0, t_sent, t_done;
	int opt, port = 0, v6 = 0, wait_rx = 0, otherhost = 0, snmp = -1, fd, one = 1;
	FILE *f;

	while ((opt = getopt(argc, argv, "s:p:6wo")) != -1) {
		switch (opt) {
		case 's': netns = optarg; break;
		case 'p': port = atoi(optarg); break;
		case '6': v6 = 1; break;
		case 'w': wait_rx = 1; break;
		case 'o': otherhost = 1; break;
		default: usage(argv[0]);
		}
	}
	if (argc - optind != 2 || (wait_rx && !port))
		usage(argv[0]);
	dev = argv[optind];
	path = argv[optind + 1];

	/* The frames, all in memory before the clock starts. */
	f = fopen(path, "rb");
	buf = malloc(cap);
	if (!f || !buf) {
		perror("esp_blast: frames");
		return 2;
	}
	for (;;) {
		size_t r;

		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf) {
				perror("esp_blast: realloc");
				return 2;
			}
		}
		r = fread(buf + len, 1, cap - len, f);
		if (!r)
			break;
		len += r;
	}
	fclose(f);
	for (off = 0; off + 2 <= len; off += 2 + ((buf[off] << 8) | buf[off + 1]))
		nframes++;
	if (off != len || !nframes) {
		fprintf(stderr, "esp_blast: %s is not a list of length-prefixed frames\n", path);
		return 2;
	}
	frame = calloc(nframes, sizeof(*frame));
	flen = calloc(nframes, sizeof(*flen));
	if (!frame || !flen) {
		perror("esp_blast: calloc");
		return 2;
	}
	for (off = 0, nframes = 0; off < len; off += 2 + flen[nframes++]) {
		flen[nframes] = (buf[off] << 8) | buf[off + 1];
		frame[nframes] = buf + off + 2;
		if (flen[nframes] < ETH_HLEN) {
			fprintf(stderr, "esp_blast: frame %zu too short\n", nframes);
			return 2;
		}
		if (otherhost)	/* locally administered, never vb's */
			memcpy(frame[nframes], "\x02\x00\x5e\x10\x00\x01", ETH_ALEN);
	}

	/* Receiver side, in the namespace we were started in. */
	if (port) {
		/* cBPF "ret #0": drop everything that reaches the socket. */
		struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
		struct sock_fprog prog = { .len = 1, .filter = &drop };
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
		int u = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);

		if (u < 0 || setsockopt(u, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
		    (v6 && setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
		    (v6 ? bind(u, (struct sockaddr *)&sin6, sizeof(sin6)) :
			  bind(u, (struct sockaddr *)&sin, sizeof(sin)))) {
			perror("esp_blast: UDP sink");
			return 2;
		}
		/* Kept open (and the socket alive) until we exit. */
		snmp = open(v6 ? "/proc/self/net/snmp6" : "/proc/self/net/snmp", O_RDONLY);
		if (snmp < 0 || sink_errors(snmp, v6, &err0, &csum0)) {
			fprintf(stderr, "esp_blast: cannot read the UDP InErrors counter from /proc/net/snmp%s\n", v6 ? "6" : "");
			return 2;
		}
	}
	drops0 = softnet_drops();	/* per CPU, not per namespace */
	if (netns) {
		int nfd = open(netns, O_RDONLY);

		if (nfd < 0 || setns(nfd, CLONE_NEWNET)) {
			perror("esp_blast: setns");
			return 2;
		}
		close(nfd);
	}

	fd = socket(AF_PACKET, SOCK_RAW, 0);	/* protocol 0: sends only */
	sll.sll_ifindex = if_nametoindex(dev);
	if (fd < 0 || !sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		perror("esp_blast: AF_PACKET socket on DEV");
		return 2;
	}
	/* Straight to the driver (veth has no queue anyway). */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));

	t0 = now_ns();
	while (sent < nframes) {
		int n = nframes - sent < BATCH ? (int)(nframes - sent) : BATCH, r;

		for (int i = 0; i < n; i++) {
			iov[i].iov_base = frame[sent + i];
			iov[i].iov_len = flen[sent + i];
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
				continue;	/* the socket's buffer: retry */
			perror("esp_blast: sendmmsg");
			break;
		}
		sent += r;
	}
	t_sent = now_ns();
	t_done = t_sent;
	if (port) {
		uint64_t last_change = t_sent;
		unsigned long long prev = 0;

		for (;;) {
			if (sink_errors(snmp, v6, &err1, &csum1))
				break;
			t_done = now_ns();
			if (!wait_rx || err1 - err0 >= nframes)
				break;
			if (err1 != prev) {
				prev = err1;
				last_change = t_done;
			} else if (t_done - last_change > 3000000000ULL) {
				break;
			}
			sched_yield();
		}
	}
	drops1 = softnet_drops();
	printf("frames=%zu sent=%zu send_ns=%llu done_ns=%llu counted=%llu csum_errors=%llu rcv_drops=%llu\n",
	       nframes, sent, (unsigned long long)(t_sent - t0), (unsigned long long)(t_done - t0),
	       err1 - err0, csum1 - csum0, drops1 - drops0);
	if (sent != nframes)
		return 1;
	if (wait_rx && err1 - err0 != nframes)
		return 1;
	return 0;
}
