/* routes: writes what nginx's routes.js reads at connection time: one
 * route file per link (named after the link, replaced by rename, so a
 * worker reads the old or the new one, never half of one), and the
 * upstream blocks link_1 ... link_MAX, declared once at nginx's start.
 *
 * A route file is one line "link_INDEX ADDRESS:443 WILDCARD\n": the
 * upstream block for :80, the link side of the veth for :443, 1 when the
 * link also serves every name under its own; a link whose home speaks
 * IPv6 (record HOME6=1) has a fourth field, " [ADDRESS6]:443", the link
 * side of the veth's IPv6, where nginx sends its IPv6 visitors. Its values are checked here
 * and written as given (the record helper derives them from the index);
 * routes.js does no arithmetic on them. */
#include "common.h"
#include "linkrec.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_MAX 65535
#define KEEPALIVE 16
#define SYNC_LINE_MAX 512

static void usage(FILE *f)
{
	fprintf(f,
		"usage: routes write DIR NAME INDEX ADDRESS WILDCARD [ADDRESS6]\n"
		"       routes remove DIR NAME\n"
		"       routes sync DIR\n"
		"       routes upstreams VETH_POOL MAX FILE\n"
		"\n"
		"write      writes DIR/NAME: \"link_INDEX ADDRESS:443 WILDCARD\"\n"
		"           (INDEX 1-65535, ADDRESS an IPv4 address, WILDCARD 0\n"
		"           or 1), with \" [ADDRESS6]:443\" when ADDRESS6 (an\n"
		"           IPv6 address, canonical) is given; replaced by rename\n"
		"remove     removes DIR/NAME (no error when it is absent)\n"
		"sync       reads lines \"NAME INDEX ADDRESS WILDCARD [ADDRESS6]\"\n"
		"           on stdin,\n"
		"           writes each route that differs and removes every\n"
		"           other route file in DIR\n"
		"upstreams  writes FILE with nginx upstream blocks link_1 to\n"
		"           link_MAX, each to address 2 of its index's /30 in\n"
		"           VETH_POOL (A.B.C.D/LEN) on port 80, with keep-alive\n"
		"\n"
		"Exit: 0 ok, 1 refused or failed, 2 usage.\n");
}

/* Checks one route's fields and formats its line into out (size n).
 * Returns NULL, or what is wrong. */
static const char *route_line(const char *name, const char *index,
			      const char *addr, const char *wildcard,
			      const char *addr6, char *out, size_t n)
{
	char norm[HOST_MAX + 1], v6[INET6_ADDRSTRLEN + 8] = "";
	unsigned char bin[16];
	unsigned long idx, wild;

	if (host_check(name, strlen(name), norm) || strcmp(norm, name))
		return "bad link name";
	if (parse_ulong(index, 1, INDEX_MAX, &idx))
		return "bad index (1-65535)";
	if (!valid_addr(addr))
		return "bad address";
	if (parse_ulong(wildcard, 0, 1, &wild))
		return "bad wildcard flag (0 or 1)";
	if (addr6) {
		/* Canonical (what inet_ntop prints back), so a route file
		 * compares equal to the one it replaces. */
		if (strlen(addr6) >= INET6_ADDRSTRLEN ||
		    inet_pton(AF_INET6, addr6, bin) != 1 ||
		    !inet_ntop(AF_INET6, bin, v6 + 2, INET6_ADDRSTRLEN) ||
		    strcmp(v6 + 2, addr6))
			return "bad IPv6 address";
		snprintf(v6, sizeof(v6), " [%s]:443", addr6);
	}
	if ((size_t)snprintf(out, n, "link_%lu %s:443 %lu%s\n", idx, addr,
			     wild, v6) >= n)
		return "route too long";
	return NULL;
}

/* Replaces dir/name with data. The temporary name is short: a 253-byte
 * link name plus a suffix would pass the 255-byte limit of a file name.
 * No fsync: route files are derived from the records and rewritten by
 * every make gateway (a real install keeps them in /run). */
static int route_put(const char *dir, const char *name, const char *data)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	size_t len = strlen(data);
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.r.XXXXXX", dir) >=
		    sizeof(tmp) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >=
		    sizeof(dst)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	/* nginx's workers run as nobody: readable by all. */
	if (write(fd, data, len) != (ssize_t)len || fchmod(fd, 0644) < 0) {
		int saved = errno ? errno : EIO;

		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, dst) < 0) {
		int saved = errno;

		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

/* Whether dir/name is a regular file of mode 0644 holding exactly data. */
static int route_same(const char *dir, const char *name, const char *data)
{
	char path[PATH_MAX];
	struct buf b = { 0 };
	struct stat st;
	int same;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return 0;
	/* The mode counts too: a route file nginx's workers (nobody) cannot
	 * read is a link down (a chmod by hand). */
	same = lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       (st.st_mode & 07777) == 0644 && read_file(path, 256, &b) == 0 &&
	       b.len == strlen(data) && !memcmp(b.data, data, b.len);
	buf_free(&b);
	return same;
}

static int cmd_write(const char *dir, const char *name, const char *index,
		     const char *addr, const char *wildcard, const char *addr6)
{
	char line[128], shown[72];
	const char *why = route_line(name, index, addr, wildcard, addr6, line,
				     sizeof(line));

	if (why)
		errx(EXIT_REFUSED, "%s: %s", printable(name, shown,
						       sizeof(shown)), why);
	if (route_put(dir, name, line) < 0)
		err(EXIT_REFUSED, "%s/%s", dir, name);
	return 0;
}

static int cmd_remove(const char *dir, const char *name)
{
	char path[PATH_MAX], norm[HOST_MAX + 1], shown[72];

	if (host_check(name, strlen(name), norm) || strcmp(norm, name))
		errx(EXIT_REFUSED, "bad link name '%s'",
		     printable(name, shown, sizeof(shown)));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		errx(EXIT_REFUSED, "%s: path too long", dir);
	if (unlink(path) < 0 && errno != ENOENT)
		err(EXIT_REFUSED, "%s", path);
	return 0;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sync: every valid line on stdin becomes a route file; a bad line is
 * reported and its name left out (exit 1 at the end); route files of
 * names not given are removed. */
static int cmd_sync(const char *dir)
{
	char line[SYNC_LINE_MAX + 2], out[128], shown[72];
	char **names = NULL;
	size_t n = 0, cap = 0, lineno = 0;
	int bad = 0;
	DIR *d;
	struct dirent *e;

	while (fgets(line, sizeof(line), stdin)) {
		char *f[6], *save = NULL, *p = line;
		const char *why;
		int k = 0;

		lineno++;
		if (!strchr(line, '\n') && !feof(stdin)) {
			warnx("line %zu is too long", lineno);
			return EXIT_REFUSED;
		}
		line[strcspn(line, "\n")] = '\0';
		while (k < 6 && (f[k] = strtok_r(p, " ", &save)) != NULL) {
			p = NULL;
			k++;
		}
		if (k != 4 && k != 5) {
			warnx("line %zu: not NAME INDEX ADDRESS WILDCARD [ADDRESS6]",
			      lineno);
			bad = 1;
			continue;
		}
		why = route_line(f[0], f[1], f[2], f[3], k == 5 ? f[4] : NULL,
				 out, sizeof(out));
		if (why) {
			warnx("%s: %s; left out",
			      printable(f[0], shown, sizeof(shown)), why);
			bad = 1;
			continue;
		}
		if (n == cap) {
			char **grown;

			cap = cap ? cap * 2 : 256;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown)
				err(EXIT_REFUSED, "routes");
			names = grown;
		}
		names[n] = strdup(f[0]);
		if (!names[n])
			err(EXIT_REFUSED, "routes");
		n++;
		if (!route_same(dir, f[0], out) && route_put(dir, f[0], out) < 0)
			err(EXIT_REFUSED, "%s/%s", dir, f[0]);
	}
	if (ferror(stdin))
		err(EXIT_REFUSED, "stdin");
	if (n)
		qsort(names, n, sizeof(*names), by_str);
	d = opendir(dir);
	if (!d)
		err(EXIT_REFUSED, "%s", dir);
	while ((errno = 0, e = readdir(d)) != NULL) {
		char *key = e->d_name, path[PATH_MAX];

		if (!strcmp(key, ".") || !strcmp(key, ".."))
			continue;
		if (n && bsearch(&key, names, n, sizeof(*names), by_str))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) <
			    sizeof(path) &&
		    unlink(path) < 0 && errno != ENOENT)
			err(EXIT_REFUSED, "%s", path);
	}
	if (errno)
		err(EXIT_REFUSED, "%s", dir);
	closedir(d);
	while (n)
		free(names[--n]);
	free(names);
	return bad ? EXIT_REFUSED : 0;
}

/* The link side of index's veth: address 2 of its /30 in pool, by the
 * record helper's own arithmetic (pool_addr in linkrec.c), so a route and
 * a record never disagree. out holds n >= ADDR_MAX bytes. Returns NULL or
 * what is wrong. */
static const char *veth_link_addr(const char *pool, unsigned long index,
				  char *out, size_t n)
{
	if (n < ADDR_MAX)
		return "buffer too small";
	return pool_addr(pool, index, 2, out);
}

static int cmd_upstreams(const char *pool, const char *max, const char *file)
{
	unsigned long m, i;
	struct buf b = { 0 };
	char addr[ADDR_MAX], dir[PATH_MAX], shown[72];
	const char *why, *slash = strrchr(file, '/');

	if (parse_ulong(max, 1, INDEX_MAX, &m))
		errx(EXIT_REFUSED, "bad MAX '%s': 1-65535",
		     printable(max, shown, sizeof(shown)));
	if (buf_printf(&b, "# generated by routes: do not edit\n") < 0)
		err(EXIT_REFUSED, "upstreams");
	for (i = 1; i <= m; i++) {
		why = veth_link_addr(pool, i, addr, sizeof(addr));
		if (why)
			errx(EXIT_REFUSED, "%s: %s",
			     printable(pool, shown, sizeof(shown)), why);
		if (buf_printf(&b, "upstream link_%lu {\n\tserver %s:80;\n"
				   "\tkeepalive %d;\n}\n",
			       i, addr, KEEPALIVE) < 0)
			err(EXIT_REFUSED, "upstreams");
	}
	if (!slash)
		strcpy(dir, ".");
	else if ((size_t)(slash - file) < sizeof(dir)) {
		memcpy(dir, file, (size_t)(slash - file));
		dir[slash - file] = '\0';
	} else
		errx(EXIT_REFUSED, "%s: path too long", file);
	if (write_atomic(dir[0] ? dir : "/", slash ? slash + 1 : file, b.data,
			 b.len, 0644) < 0)
		err(EXIT_REFUSED, "%s", file);
	buf_free(&b);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if ((argc == 7 || argc == 8) && !strcmp(argv[1], "write"))
		return cmd_write(argv[2], argv[3], argv[4], argv[5], argv[6],
				 argc == 8 ? argv[7] : NULL);
	if (argc == 4 && !strcmp(argv[1], "remove"))
		return cmd_remove(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "sync"))
		return cmd_sync(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "upstreams"))
		return cmd_upstreams(argv[2], argv[3], argv[4]);
	usage(stderr);
	return EXIT_USAGE;
}
