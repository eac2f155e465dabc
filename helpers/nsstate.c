/* nsstate: what make gateway needs to know of each link namespace, read in
 * one process for all of them (two process spawns a link, ip and nft,
 * cost ~4 ms each here: 4 s at 1,000 links). For each namespace NS it
 * enters /run/netns/NS and writes OUT_DIR/n.NS with lines
 *
 *   link NAME up=0|1 lower=0|1 oper=up|down|lowerlayerdown|unknown|other
 *        mtu=N
 *   addr NAME A.B.C.D/LEN
 *   addr NAME IPV6/LEN  (global scope only: no link-local fe80::)
 *   route default via A.B.C.D dev NAME
 *   route default via IPV6 dev NAME
 *   forward 0|1
 *   forward6 0|1
 *   conntrack N         (connections tracked, when conntrack is loaded)
 *   nft LINE            (each line of "nft list table inet TABLE")
 *
 * read from rtnetlink, /proc/sys/net/ipv4/ip_forward,
 * /proc/sys/net/ipv6/conf/all/forwarding (when the kernel has IPv6),
 * /proc/sys/net/netfilter/nf_conntrack_count (per namespace: the
 * connections nginx has open to the link, and the probes') and libnftables. A
 * namespace that does not exist gets no file. Exit: 0 ok, 1 failed,
 * 2 usage. */
#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NS_IFACES_MAX 64
/* RFC 2863 operational states, as linux/if.h numbers them (that header
 * clashes with net/if.h). */
#define OPER_UNKNOWN 0
#define OPER_DOWN 2
#define OPER_LOWERLAYERDOWN 3
#define OPER_UP 6
#define FLAG_LOWER_UP 0x10000 /* IFF_LOWER_UP, also from linux/if.h */

struct iface {
	int index;
	char name[IFNAMSIZ];
};

struct nsinfo {
	struct iface ifs[NS_IFACES_MAX];
	size_t n;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: nsstate OUT_DIR TABLE NS...\n"
		   "Writes OUT_DIR/n.NS for each link namespace NS: its links,\n"
		   "addresses, default routes, forwarding and the nftables\n"
		   "table inet TABLE (see the comment at the top of nsstate.c).\n"
		   "Exit: 0 ok, 1 failed, 2 usage.\n");
}

static const char *if_name(const struct nsinfo *ns, int index)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		if (ns->ifs[i].index == index)
			return ns->ifs[i].name;
	return "?";
}

/* Sends one dump request of type on fd and hands each answer to fn. */
static int dump(int fd, int type, int family, struct nsinfo *ns, FILE *out,
		void (*fn)(struct nlmsghdr *, struct nsinfo *, FILE *))
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
	} req = { { NLMSG_LENGTH(sizeof(struct rtgenmsg)), (unsigned short)type,
		    NLM_F_REQUEST | NLM_F_DUMP, 1, 0 }, { (unsigned char)family } };
	static char buf[65536];

	if (send(fd, &req, sizeof(req), 0) < 0)
		return -1;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;
		size_t len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		len = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				errno = EPROTO;
				return -1;
			}
			fn(h, ns, out);
		}
	}
}

static void on_link(struct nlmsghdr *h, struct nsinfo *ns, FILE *out)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)IFLA_PAYLOAD(h);
	struct rtattr *a;
	const char *name = NULL, *oper = "other";
	unsigned mtu = 0;

	for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME && RTA_PAYLOAD(a) <= IFNAMSIZ)
			name = RTA_DATA(a);
		else if (a->rta_type == IFLA_MTU && RTA_PAYLOAD(a) >= 4)
			memcpy(&mtu, RTA_DATA(a), 4);
		else if (a->rta_type == IFLA_OPERSTATE && RTA_PAYLOAD(a) >= 1) {
			unsigned char s = *(unsigned char *)RTA_DATA(a);

			oper = s == OPER_UP ? "up"
			     : s == OPER_DOWN ? "down"
			     : s == OPER_LOWERLAYERDOWN ? "lowerlayerdown"
			     : s == OPER_UNKNOWN ? "unknown" : "other";
		}
	}
	if (!name || !memchr(name, '\0', IFNAMSIZ))
		return;
	if (ns->n < NS_IFACES_MAX) {
		ns->ifs[ns->n].index = ifi->ifi_index;
		memcpy(ns->ifs[ns->n].name, name, strlen(name) + 1);
		ns->n++;
	}
	fprintf(out, "link %s up=%d lower=%d oper=%s mtu=%u\n", name,
		!!(ifi->ifi_flags & IFF_UP), !!(ifi->ifi_flags & FLAG_LOWER_UP),
		oper, mtu);
}

static void on_addr(struct nlmsghdr *h, struct nsinfo *ns, FILE *out)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	int len = (int)IFA_PAYLOAD(h);
	struct rtattr *a;
	char ip[INET6_ADDRSTRLEN];
	/* IPv4 names its own address IFA_LOCAL; IPv6 only IFA_ADDRESS. */
	int type = ifa->ifa_family == AF_INET ? IFA_LOCAL : IFA_ADDRESS;
	unsigned size = ifa->ifa_family == AF_INET ? 4 : 16;

	if (ifa->ifa_family != AF_INET &&
	    (ifa->ifa_family != AF_INET6 || ifa->ifa_scope != RT_SCOPE_UNIVERSE))
		return;
	for (a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == type && RTA_PAYLOAD(a) == size &&
		    inet_ntop(ifa->ifa_family, RTA_DATA(a), ip, sizeof(ip)))
			fprintf(out, "addr %s %s/%u\n",
				if_name(ns, (int)ifa->ifa_index), ip,
				ifa->ifa_prefixlen);
}

static void on_route(struct nlmsghdr *h, struct nsinfo *ns, FILE *out)
{
	struct rtmsg *rt = NLMSG_DATA(h);
	int len = (int)RTM_PAYLOAD(h);
	struct rtattr *a;
	char gw[INET6_ADDRSTRLEN] = "";
	unsigned size = rt->rtm_family == AF_INET ? 4 : 16;
	int oif = 0;

	if ((rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6) ||
	    rt->rtm_dst_len != 0 || rt->rtm_table != RT_TABLE_MAIN ||
	    rt->rtm_type != RTN_UNICAST)
		return;
	for (a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == size)
			inet_ntop(rt->rtm_family, RTA_DATA(a), gw, sizeof(gw));
		else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
			memcpy(&oif, RTA_DATA(a), 4);
	}
	if (gw[0])
		fprintf(out, "route default via %s dev %s\n", gw,
			if_name(ns, oif));
}

static void nft_table(const char *table, FILE *out)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	char cmdline[64];
	const char *p;

	if (!ctx)
		return;
	snprintf(cmdline, sizeof(cmdline), "list table inet %s", table);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, cmdline) == 0) {
		for (p = nft_ctx_get_output_buffer(ctx); p && *p;) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);

			fprintf(out, "nft %.*s\n", (int)n, p);
			p += n + (nl ? 1 : 0);
		}
	}
	nft_ctx_free(ctx);
}

/* Enters ns and writes what it finds to out. */
/* conntrack_count: "conntrack N" from the current namespace's
 * nf_conntrack_count (opened after setns), a decimal of at most 10
 * digits; nothing when conntrack is not loaded there. */
static void conntrack_count(FILE *out)
{
	char v[16];
	ssize_t n;
	size_t i;
	int fd;

	fd = open("/proc/sys/net/netfilter/nf_conntrack_count", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, v, sizeof(v) - 1);
	close(fd);
	if (n <= 0)
		return;
	v[n] = '\0';
	for (i = 0; v[i] >= '0' && v[i] <= '9'; i++)
		;
	if (i == 0 || i > 10 || (v[i] != '\n' && v[i] != '\0'))
		return;
	v[i] = '\0';
	fprintf(out, "conntrack %s\n", v);
}

static int ns_read(const char *ns_name, const char *table, FILE *out)
{
	char path[PATH_MAX];
	struct nsinfo ns = { .n = 0 };
	int nsfd, fd, fwd, ipv6;
	char v[8] = "";

	snprintf(path, sizeof(path), "/run/netns/%s", ns_name);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return errno == ENOENT ? 1 : -1;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		close(nsfd);
		return -1;
	}
	close(nsfd);
	ipv6 = access("/proc/net/if_inet6", F_OK) == 0;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	if (dump(fd, RTM_GETLINK, AF_UNSPEC, &ns, out, on_link) < 0 ||
	    dump(fd, RTM_GETADDR, AF_INET, &ns, out, on_addr) < 0 ||
	    dump(fd, RTM_GETROUTE, AF_INET, &ns, out, on_route) < 0 ||
	    (ipv6 && (dump(fd, RTM_GETADDR, AF_INET6, &ns, out, on_addr) < 0 ||
		      dump(fd, RTM_GETROUTE, AF_INET6, &ns, out, on_route) < 0))) {
		close(fd);
		return -1;
	}
	close(fd);
	/* Opened after setns: /proc/sys/net is the current namespace's. */
	fwd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
	if (fwd >= 0) {
		if (read(fwd, v, sizeof(v) - 1) > 0)
			fprintf(out, "forward %c\n", v[0]);
		close(fwd);
	}
	fwd = open("/proc/sys/net/ipv6/conf/all/forwarding", O_RDONLY | O_CLOEXEC);
	if (fwd >= 0) {
		if (read(fwd, v, sizeof(v) - 1) > 0)
			fprintf(out, "forward6 %c\n", v[0]);
		close(fwd);
	}
	conntrack_count(out);
	nft_table(table, out);
	return 0;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], shown[72];
	int i, status = 0;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strlen(argv[2]) > 32 || strspn(argv[2], "abcdefghijklmnopqrstuvwxyz"
					   "0123456789") != strlen(argv[2]))
		errx(EXIT_USAGE, "bad table name '%s'",
		     printable(argv[2], shown, sizeof(shown)));
	for (i = 3; i < argc; i++) {
		FILE *out;
		char *data = NULL;
		size_t len = 0;
		int r;

		if (strchr(argv[i], '/') || argv[i][0] == '.' ||
		    strlen(argv[i]) > 64) {
			warnx("bad namespace name '%s'",
			      printable(argv[i], shown, sizeof(shown)));
			status = EXIT_REFUSED;
			continue;
		}
		out = open_memstream(&data, &len);
		if (!out)
			err(EXIT_REFUSED, "memory");
		r = ns_read(argv[i], argv[2], out);
		fclose(out);
		if (r < 0) {
			warn("namespace %s", argv[i]);
			status = EXIT_REFUSED;
		} else if (r == 0) {
			/* A snapshot, rebuilt by every run: no fsync. */
			snprintf(path, sizeof(path), "%s/n.%s", argv[1], argv[i]);
			out = fopen(path, "w");
			if (!out || fwrite(data, 1, len, out) != len ||
			    fclose(out) != 0)
				err(EXIT_REFUSED, "%s", path);
		}
		free(data);
	}
	return status;
}
