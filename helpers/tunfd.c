/* tunfd: runs a program (wireguard-go) in the calling network namespace
 * with a TUN interface that lives in another one.
 *
 *   tunfd NETNS_PATH IFNAME PROGRAM [ARG...]
 *
 * Enters the namespace NETNS_PATH (a /run/netns file), opens /dev/net/tun
 * there and attaches to the interface IFNAME (made beforehand, persistent:
 * tun_make; a missing one is made, not persistent), returns to the
 * calling namespace and executes PROGRAM with the TUN file on fd 3 and
 * WG_TUN_FD=3 in its environment. wireguard-go takes such a file instead
 * of making its own interface (main.go: ENV_WG_TUN_FD), so its UDP and
 * UAPI sockets stay in the calling (host) namespace while its interface,
 * and every netlink event about it, are in the link's: a wireguard-go
 * listens to every link event of the namespace it runs in, and 1,000 of
 * them in one namespace all woke on each new interface (a cold start grew
 * faster than its links).
 *
 * The flags are wireguard-go's own (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR,
 * tun/tun_linux.go, 0.0.20230223): it reads them back with TUNGETIFF and
 * uses the virtio header for its offloads. wireguard-go looks the
 * interface up by name in its own namespace too (its index, its MTU): a
 * stand-in of the same name must exist there (tun_make).
 *
 * Exit: PROGRAM's own status (it replaces tunfd); 1 the namespace, the
 * TUN device or PROGRAM could not be opened; 2 usage. */
#define _GNU_SOURCE
#include "common.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TUN_FD 3

static void usage(FILE *f)
{
	fprintf(f, "usage: tunfd NETNS_PATH IFNAME PROGRAM [ARG...]\n"
		   "Runs PROGRAM with IFNAME, a TUN interface of the network\n"
		   "namespace NETNS_PATH, open on fd 3 (WG_TUN_FD=3).\n");
}

/* tun_open: the TUN file of IFNAME (name_len bytes, checked by the
 * caller), opened in the namespace whose file is ns_fd; the calling
 * thread is back in home_fd's namespace when it returns. Returns the
 * file descriptor, or exits 1 with a message. */
static int tun_open(int ns_fd, int home_fd, const char *name, size_t name_len)
{
	struct ifreq ifr;
	int fd, saved;

	if (setns(ns_fd, CLONE_NEWNET) != 0)
		err(EXIT_REFUSED, "entering the link namespace");
	/* The device belongs to the namespace of whoever opens it. */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	saved = errno;
	if (fd >= 0) {
		memset(&ifr, 0, sizeof ifr);
		memcpy(ifr.ifr_name, name, name_len);
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
		if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
			saved = errno;
			close(fd);
			fd = -1;
		}
	}
	/* Back before any error exit: nothing else may run in the link's. */
	if (setns(home_fd, CLONE_NEWNET) != 0)
		err(EXIT_REFUSED, "returning to the calling namespace");
	if (fd < 0) {
		errno = saved;
		err(EXIT_REFUSED, "%s: TUN interface", name);
	}
	return fd;
}

int main(int argc, char **argv)
{
	int home_fd, ns_fd, fd;
	size_t len;

	if (argc < 4) {
		usage(stderr);
		return EXIT_USAGE;
	}
	len = strnlen(argv[2], IFNAMSIZ);
	if (len == 0 || len >= IFNAMSIZ) {
		warnx("%s interface name: 1 to %d bytes", len ? "too long" : "empty",
		      IFNAMSIZ - 1);
		return EXIT_USAGE;
	}
	home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home_fd < 0)
		err(EXIT_REFUSED, "/proc/self/ns/net");
	ns_fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (ns_fd < 0)
		err(EXIT_REFUSED, "%s", argv[1]);
	fd = tun_open(ns_fd, home_fd, argv[2], len);
	close(ns_fd);
	close(home_fd);
	if (fd == TUN_FD) {
		if (fcntl(fd, F_SETFD, 0) != 0)
			err(EXIT_REFUSED, "fd %d", TUN_FD);
	} else {
		/* dup2 leaves the new descriptor open across exec. */
		if (dup2(fd, TUN_FD) != TUN_FD)
			err(EXIT_REFUSED, "fd %d", TUN_FD);
		close(fd);
	}
	if (setenv("WG_TUN_FD", "3", 1) != 0)
		err(EXIT_REFUSED, "WG_TUN_FD");
	execvp(argv[3], argv + 3);
	err(EXIT_REFUSED, "%s", argv[3]);
}
