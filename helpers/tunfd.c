/* tunfd: runs a program (wireguard-go) in the calling network namespace
 * with a TUN interface of another namespace open on fd 3.
 *
 *   tunfd NETNS_PATH IFNAME PROGRAM [ARG...]
 *
 * Opens the calling namespace (/proc/self/ns/net) and NETNS_PATH (a
 * /run/netns file), enters NETNS_PATH, opens /dev/net/tun there and
 * attaches to the TUN interface IFNAME (made beforehand and persistent:
 * linkgate's tun_make; a missing one would be made, and go with the
 * program), returns to the calling namespace, puts the TUN file on fd 3,
 * sets WG_TUN_FD=3 and executes PROGRAM with its arguments (PATH
 * searched). A TUN device belongs to the namespace it was attached in,
 * whoever holds it later.
 *
 * Why: wireguard-go takes such a file instead of making its own interface
 * (main.go, ENV_WG_TUN_FD; it sets the file non-blocking itself), so its
 * UDP and UAPI sockets stay in the calling (host) namespace while its
 * interface, and every netlink event about that interface, are in the
 * link's. Each wireguard-go listens to the link events of the namespace
 * it runs in, so 1,000 of them in one namespace all woke on each new
 * interface there, and a cold start grew with the square of its links.
 *
 * The flags are wireguard-go's own (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR,
 * 0x5001, tun/tun_linux.go CreateTUN): it reads them back (TUNGETIFF) and
 * uses the virtio header for its offloads and for its "is the interface
 * up" check. It also looks the interface up by name in its own namespace
 * (index, MTU), so one of that name must exist there too (tun_make's
 * stand-in).
 *
 * Exit: PROGRAM's own (tunfd becomes it); 1 NETNS_PATH, the TUN
 * interface or PROGRAM could not be opened ("tunfd: what: why" on
 * stderr; the calling namespace is never left changed); 2 usage, or
 * IFNAME empty or of IFNAMSIZ (16) bytes or more. */
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

/* The descriptor wireguard-go's daemon mode itself passes on (main.go). */
#define TUN_FD 3

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tunfd NETNS_PATH IFNAME PROGRAM [ARG...]\n"
		"\n"
		"Runs PROGRAM in this network namespace with IFNAME, a TUN\n"
		"interface of the namespace NETNS_PATH, open on fd 3 and\n"
		"WG_TUN_FD=3 in its environment (for wireguard-go).\n"
		"\n"
		"Exit: PROGRAM's, or 1 failed, 2 usage.\n");
}

/* tun_attach: the TUN file of interface name (len bytes, 0 < len <
 * IFNAMSIZ), attached while in the namespace of ns_fd (ns_shown: its
 * path as messages print it); the process is
 * back in home_fd's namespace when this returns. Returns the descriptor,
 * or exits 1 with a message. */
static int tun_attach(int ns_fd, const char *ns_shown, int home_fd,
		      const char *name, size_t len)
{
	struct ifreq ifr;
	int fd, saved = 0;
	char shown[IFNAMSIZ + 4];

	if (setns(ns_fd, CLONE_NEWNET) != 0) {
		/* EINVAL: the file is not a network namespace (a plain file,
		 * another kind of namespace). */
		if (errno == EINVAL)
			errx(EXIT_REFUSED, "%s: not a network namespace",
			     ns_shown);
		err(EXIT_REFUSED, "entering the link namespace");
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
	} else {
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, name, len);
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
		if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
			saved = errno;
			close(fd);
			fd = -1;
		}
	}
	/* Back before any message or exit: nothing else runs in the link's. */
	if (setns(home_fd, CLONE_NEWNET) != 0)
		err(EXIT_REFUSED, "returning to the calling namespace");
	if (fd < 0) {
		errno = saved;
		err(EXIT_REFUSED, "TUN interface %s",
		    printable(name, shown, sizeof(shown)));
	}
	return fd;
}

int main(int argc, char **argv)
{
	int home_fd, ns_fd, fd;
	size_t len;
	char shown[72];

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (argc < 4) {
		usage(stderr);
		return EXIT_USAGE;
	}
	len = strnlen(argv[2], IFNAMSIZ);
	if (len == 0 || len >= IFNAMSIZ)
		errx(EXIT_USAGE, "bad interface name '%s': 1 to %d bytes",
		     printable(argv[2], shown, sizeof(shown)), IFNAMSIZ - 1);
	home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home_fd < 0)
		err(EXIT_REFUSED, "/proc/self/ns/net");
	ns_fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (ns_fd < 0)
		err(EXIT_REFUSED, "%s", printable(argv[1], shown, sizeof(shown)));
	fd = tun_attach(ns_fd, printable(argv[1], shown, sizeof(shown)), home_fd,
			argv[2], len);
	close(ns_fd);
	close(home_fd);
	if (fd != TUN_FD) {
		/* dup2's copy is open across exec (no FD_CLOEXEC). */
		if (dup2(fd, TUN_FD) != TUN_FD)
			err(EXIT_REFUSED, "fd %d", TUN_FD);
		close(fd);
	} else if (fcntl(fd, F_SETFD, 0) != 0) {
		err(EXIT_REFUSED, "fd %d", TUN_FD);
	}
	if (setenv("WG_TUN_FD", "3", 1) != 0)
		err(EXIT_REFUSED, "WG_TUN_FD");
	execvp(argv[3], argv + 3);
	err(EXIT_REFUSED, "%s", printable(argv[3], shown, sizeof(shown)));
}
