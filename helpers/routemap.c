/* routemap: validates a host name (a link's name, a domain of a key's
 * ALLOW list, LINK_DOMAIN) and prints it in lower case, the form every
 * script stores and compares. The check is host_check in common.c, the
 * one the record parser and the routes helper use.
 *
 * Input: NAME as an argument. Output: the lower-case name and a newline
 * on stdout. Exit 0 ok, 1 refused ("routemap: bad host name 'NAME':
 * why" on stderr, NAME with unprintable bytes shown as '?'), 2 usage. */
#include "common.h"

#include <err.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: routemap host NAME\n"
		"       routemap ip6 [--public] ADDRESS\n"
		"\n"
		"host    validates a host name and prints it in lower case\n"
		"ip6     validates an IPv6 address (no brackets, no zone id;\n"
		"        --public: not the loopback either) and prints its\n"
		"        canonical form\n"
		"\n"
		"Exit: 0 ok, 1 refused, 2 usage.\n");
}

static int cmd_host(const char *name)
{
	char norm[HOST_MAX + 1], shown[72];
	const char *why = host_check(name, strlen(name), norm);

	if (why)
		errx(EXIT_REFUSED, "bad host name '%s': %s",
		     printable(name, shown, sizeof(shown)), why);
	printf("%s\n", norm);
	return 0;
}

static int cmd_ip6(const char *addr, int public)
{
	char norm[IP6_MAX + 1], shown[72];
	const char *why = ip6_check(addr, strlen(addr), public, norm);

	if (why)
		errx(EXIT_REFUSED, "bad IPv6 address '%s': %s",
		     printable(addr, shown, sizeof(shown)), why);
	printf("%s\n", norm);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "host"))
		return cmd_host(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "ip6"))
		return cmd_ip6(argv[2], 0);
	if (argc == 4 && !strcmp(argv[1], "ip6") &&
	    !strcmp(argv[2], "--public"))
		return cmd_ip6(argv[3], 1);
	usage(stderr);
	return EXIT_USAGE;
}
