/* routemap: reads the link records and renders nginx's route maps (http
 * upstreams, http Host map, stream SNI map); also validates host names and
 * reads fields of a record for the scripts, so nothing parses records by
 * hand. */
#include "common.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#define RECORD_MAX 65536
#define LINE_MAX_LEN 1024
#define KEEPALIVE 16

/* The link record: one file per link, KEY=value lines, '#' comments.
 * Unknown keys are ignored; every known key must appear exactly once. */
struct record {
	char name[HOST_MAX + 1];
	unsigned long index, port, mtu, created, wildcard;
	char client_key[45], gateway_key[45];
	char veth_gateway[16], veth_link[16];
	char tunnel_gateway[16], tunnel_client[16];
	char owner[65];
};

enum field_kind { F_HOST, F_NUM, F_KEY, F_ADDR, F_OWNER };

struct field {
	const char *key;
	enum field_kind kind;
	size_t off, size;
	unsigned long min, max;
};

#define STR(k, kind, m) { k, kind, offsetof(struct record, m), \
			  sizeof(((struct record *)0)->m), 0, 0 }
#define NUM(k, m, lo, hi) { k, F_NUM, offsetof(struct record, m), \
			    sizeof(unsigned long), lo, hi }

static const struct field fields[] = {
	STR("NAME", F_HOST, name),
	NUM("INDEX", index, 1, 65535),
	NUM("PORT", port, 1, 65535),
	STR("CLIENT_KEY", F_KEY, client_key),
	STR("GATEWAY_KEY", F_KEY, gateway_key),
	STR("VETH_GATEWAY", F_ADDR, veth_gateway),
	STR("VETH_LINK", F_ADDR, veth_link),
	STR("TUNNEL_GATEWAY", F_ADDR, tunnel_gateway),
	STR("TUNNEL_CLIENT", F_ADDR, tunnel_client),
	NUM("WILDCARD", wildcard, 0, 1),
	NUM("MTU", mtu, 1280, 9000),
	STR("OWNER", F_OWNER, owner),
	NUM("CREATED", created, 0, 1UL << 40),
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: routemap render RECORDS_DIR OUT_DIR\n"
		"       routemap host NAME\n"
		"       routemap get RECORD_FILE KEY...\n"
		"\n"
		"render  reads every link record in RECORDS_DIR and writes\n"
		"        http-upstreams.conf, http-map.conf and stream-map.conf\n"
		"        into OUT_DIR; corrupt records are reported and left out\n"
		"host    validates a host name and prints it in lower case\n"
		"get     validates a record and prints the values of KEYs,\n"
		"        separated by tabs\n"
		"\n"
		"Exit: 0 ok, 1 refused or failed, 2 usage.\n");
}

static int valid_key(const char *v)
{
	size_t i;

	if (strlen(v) != 44 || v[43] != '=')
		return 0;
	for (i = 0; i < 43; i++)
		if (!((v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= 'a' && v[i] <= 'z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '+' ||
		      v[i] == '/'))
			return 0;
	return 1;
}

static int valid_addr(const char *v)
{
	struct in_addr a;
	char again[INET_ADDRSTRLEN];

	return inet_pton(AF_INET, v, &a) == 1 &&
	       inet_ntop(AF_INET, &a, again, sizeof(again)) &&
	       !strcmp(again, v);
}

static int valid_owner(const char *v)
{
	size_t i, n = strlen(v);

	if (n == 0 || n > 64 || v[0] == '-' || v[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
		      (v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '-' ||
		      v[i] == '_' || v[i] == '.'))
			return 0;
	return 1;
}

static const char *field_set(struct record *r, const struct field *f,
			     const char *v)
{
	char *dst = (char *)r + f->off;
	char norm[HOST_MAX + 1];
	int ok = 0;

	switch (f->kind) {
	case F_NUM:
		return parse_ulong(v, f->min, f->max, (unsigned long *)dst)
			       ? "bad number"
			       : NULL;
	case F_HOST:
		ok = !host_check(v, strlen(v), norm) && !strcmp(norm, v);
		break;
	case F_KEY:
		ok = valid_key(v);
		break;
	case F_ADDR:
		ok = valid_addr(v);
		break;
	case F_OWNER:
		ok = valid_owner(v);
		break;
	}
	if (!ok || strlen(v) >= f->size)
		return "bad value";
	memcpy(dst, v, strlen(v) + 1);
	return NULL;
}

/* Parses a record held in data (modified in place). On failure writes the
 * reason, naming the line, to why. */
static int record_parse(char *data, size_t len, struct record *r, char *why,
			size_t whylen)
{
	unsigned char seen[NFIELDS] = { 0 };
	char *p = data, *end = data + len;
	size_t line = 0, i;

	memset(r, 0, sizeof(*r));
	if (memchr(data, '\0', len)) {
		snprintf(why, whylen, "contains a NUL byte");
		return -1;
	}
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *eq, *k;
		const char *bad = NULL;

		line++;
		if (!nl) {
			snprintf(why, whylen, "line %zu is truncated", line);
			return -1;
		}
		*nl = '\0';
		if ((size_t)(nl - p) > LINE_MAX_LEN) {
			snprintf(why, whylen, "line %zu is too long", line);
			return -1;
		}
		if (*p == '#')
			goto next;
		eq = strchr(p, '=');
		if (!eq || eq == p) {
			snprintf(why, whylen, "line %zu is not KEY=value", line);
			return -1;
		}
		*eq = '\0';
		for (k = p; *k; k++)
			if (!((*k >= 'A' && *k <= 'Z') || *k == '_' ||
			      (*k >= '0' && *k <= '9'))) {
				snprintf(why, whylen, "line %zu has a bad key",
					 line);
				return -1;
			}
		for (i = 0; i < NFIELDS; i++)
			if (!strcmp(fields[i].key, p))
				break;
		if (i == NFIELDS)
			goto next; /* unknown keys: forward compatibility */
		if (seen[i]++) {
			snprintf(why, whylen, "%s appears twice", p);
			return -1;
		}
		bad = field_set(r, &fields[i], eq + 1);
		if (bad) {
			snprintf(why, whylen, "%s: %s", p, bad);
			return -1;
		}
next:
		p = nl + 1;
	}
	for (i = 0; i < NFIELDS; i++)
		if (!seen[i]) {
			snprintf(why, whylen, "%s is missing", fields[i].key);
			return -1;
		}
	return 0;
}

static int record_load(const char *path, struct record *r, char *why,
		       size_t whylen)
{
	struct buf b = { 0 };
	int ret;

	if (read_file(path, RECORD_MAX, &b) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		buf_free(&b);
		return -1;
	}
	ret = record_parse(b.data, b.len, r, why, whylen);
	buf_free(&b);
	return ret;
}

static int by_name_index(const void *a, const void *b)
{
	const struct record *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return (x->index > y->index) - (x->index < y->index);
}

static int by_index(const void *a, const void *b)
{
	const struct record *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

/* Loads every record in dir. Returns the array, its length in *n. */
static struct record *records_load(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct record *rs = NULL;
	size_t cap = 0;
	char path[PATH_MAX], why[160], shown[72];

	if (!d)
		err(EXIT_REFUSED, "%s", dir);
	*n = 0;
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     e->d_name) >= sizeof(path))
			continue;
		if (*n == cap) {
			struct record *grown;

			cap = cap ? cap * 2 : 64;
			grown = realloc(rs, cap * sizeof(*rs));
			if (!grown)
				err(EXIT_REFUSED, "records");
			rs = grown;
		}
		if (record_load(path, &rs[*n], why, sizeof(why)) < 0) {
			warnx("record %s is corrupt (%s); left out",
			      printable(path, shown, sizeof(shown)), why);
			continue;
		}
		(*n)++;
	}
	if (errno)
		err(EXIT_REFUSED, "%s", dir);
	closedir(d);
	return rs;
}

/* Leaves out a record whose name or index an earlier one already holds:
 * a duplicate map key or upstream would fail `nginx -t` for every link. */
static size_t records_dedupe(struct record *rs, size_t n)
{
	size_t i, j, kept = 0;

	if (n == 0)
		return 0;
	qsort(rs, n, sizeof(*rs), by_name_index);
	for (i = 0; i < n; i++) {
		const char *clash = NULL;

		if (kept && !strcmp(rs[kept - 1].name, rs[i].name))
			clash = "its name";
		for (j = 0; !clash && j < kept; j++)
			if (rs[j].index == rs[i].index)
				clash = "its index";
		if (clash) {
			warnx("record %s (index %lu) duplicates %s of another "
			      "link; left out",
			      rs[i].name, rs[i].index, clash);
			continue;
		}
		rs[kept++] = rs[i];
	}
	return kept;
}

static int render(const struct record *rs, size_t n, struct buf *ups,
		  struct buf *hmap, struct buf *smap)
{
	const char *head = "# generated by routemap: do not edit\n";
	struct record *byidx = malloc((n ? n : 1) * sizeof(*byidx));
	size_t i;
	int r = -1;

	if (!byidx)
		return -1;
	if (n > 0) {
		memcpy(byidx, rs, n * sizeof(*rs));
		qsort(byidx, n, sizeof(*byidx), by_index);
	}
	if (buf_printf(ups, "%s", head) < 0 ||
	    buf_printf(hmap, "%smap $host $link_http {\n\thostnames;\n"
			     "\tdefault \"\";\n", head) < 0 ||
	    buf_printf(smap, "%smap $ssl_preread_server_name $link_stream {\n"
			     "\thostnames;\n\tdefault \"\";\n", head) < 0)
		goto out;
	for (i = 0; i < n; i++)
		if (buf_printf(ups, "upstream link_%lu {\n\tserver %s:80;\n"
				    "\tkeepalive %d;\n}\n",
			       byidx[i].index, byidx[i].veth_link,
			       KEEPALIVE) < 0)
			goto out;
	for (i = 0; i < n; i++) {
		/* ".name" matches the name and every name under it. */
		const char *dot = rs[i].wildcard ? "." : "";

		if (buf_printf(hmap, "\t%s%s link_%lu;\n", dot, rs[i].name,
			       rs[i].index) < 0 ||
		    buf_printf(smap, "\t%s%s %s:443;\n", dot, rs[i].name,
			       rs[i].veth_link) < 0)
			goto out;
	}
	if (buf_printf(hmap, "}\n") < 0 || buf_printf(smap, "}\n") < 0)
		goto out;
	r = 0;
out:
	free(byidx);
	return r;
}

static int cmd_render(const char *dir, const char *out)
{
	struct buf ups = { 0 }, hmap = { 0 }, smap = { 0 };
	struct record *rs;
	size_t n;

	rs = records_load(dir, &n);
	n = records_dedupe(rs, n);
	if (render(rs, n, &ups, &hmap, &smap) < 0)
		err(EXIT_REFUSED, "render");
	if (write_atomic(out, "http-upstreams.conf", ups.data, ups.len,
			 0644) < 0 ||
	    write_atomic(out, "http-map.conf", hmap.data, hmap.len, 0644) < 0 ||
	    write_atomic(out, "stream-map.conf", smap.data, smap.len, 0644) < 0)
		err(EXIT_REFUSED, "%s", out);
	buf_free(&ups);
	buf_free(&hmap);
	buf_free(&smap);
	free(rs);
	return 0;
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

static int cmd_get(const char *path, int nkeys, char **keys)
{
	struct record r;
	char why[160], shown[72];
	int k;

	if (record_load(path, &r, why, sizeof(why)) < 0)
		errx(EXIT_REFUSED, "record %s is corrupt (%s)", path, why);
	for (k = 0; k < nkeys; k++) {
		const struct field *f = NULL;
		size_t i;

		for (i = 0; i < NFIELDS; i++)
			if (!strcmp(fields[i].key, keys[k]))
				f = &fields[i];
		if (!f)
			errx(EXIT_USAGE, "unknown record key '%s'",
			     printable(keys[k], shown, sizeof(shown)));
		if (k)
			putchar('\t');
		if (f->kind == F_NUM)
			printf("%lu", *(unsigned long *)((char *)&r + f->off));
		else
			fputs((char *)&r + f->off, stdout);
	}
	putchar('\n');
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "render"))
		return cmd_render(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "host"))
		return cmd_host(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "get"))
		return cmd_get(argv[2], argc - 3, argv + 3);
	usage(stderr);
	return EXIT_USAGE;
}
