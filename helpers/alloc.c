/* alloc: hands out a UDP port and a small link index per link name, under
 * an exclusive lock, in one state file replaced atomically. */
#include "common.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STATE_FILE "alloc.state"
#define LOCK_FILE "alloc.lock"
#define STATE_HEADER "linkgate-alloc 1\n"
#define STATE_MAX (16u << 20)

struct resv {
	char name[HOST_MAX + 1];
	unsigned long port, index;
};

/* The reservations, and bitmaps of the ports and indexes they hold (so
 * that parsing and allocating stay linear: with 10,000 links, pairwise
 * checks took 0.3 s per call). */
struct state {
	struct resv *r;
	size_t n;
	unsigned char port_used[65536 / 8], index_used[65536 / 8];
};

static int bit_get(const unsigned char *map, unsigned long i)
{
	return map[i / 8] >> (i % 8) & 1;
}

static void bit_set(unsigned char *map, unsigned long i)
{
	map[i / 8] |= (unsigned char)(1u << (i % 8));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct resv *)a)->name,
		      ((const struct resv *)b)->name);
}

struct opts {
	const char *dir;
	unsigned long low, high, max_index, wait;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: alloc [options] allocate NAME\n"
		"       alloc [options] release NAME\n"
		"       alloc [options] list\n"
		"\n"
		"Hands out a UDP port and a link index per link name. allocate\n"
		"prints \"PORT<tab>INDEX\" (the same again for a name that already\n"
		"holds a reservation); list prints \"NAME<tab>PORT<tab>INDEX\".\n"
		"\n"
		"  -d DIR        state directory (env ALLOC_DIR)\n"
		"  -p LOW-HIGH   port range (env ALLOC_PORTS; default the\n"
		"                kernel's ip_local_port_range)\n"
		"  -n MAX        highest link index, from 1 (env ALLOC_MAX_INDEX;\n"
		"                default 16383)\n"
		"  -w SECONDS    how long to wait for the lock (env ALLOC_WAIT;\n"
		"                default 60)\n"
		"\n"
		"Exit: 0 ok, 1 refused or failed, 2 usage, 3 no free port or index,\n"
		"75 lock not obtained in time.\n");
}

static int parse_range(const char *s, unsigned long *low, unsigned long *high)
{
	char a[8], b[8];
	const char *sep = strpbrk(s, "-\t ");
	size_t la, lb;

	if (!sep)
		return -1;
	la = (size_t)(sep - s);
	lb = strlen(sep + 1);
	if (la == 0 || la >= sizeof(a) || lb == 0 || lb >= sizeof(b))
		return -1;
	memcpy(a, s, la);
	a[la] = '\0';
	memcpy(b, sep + 1, lb + 1);
	if (parse_ulong(a, 1, 65535, low) < 0 ||
	    parse_ulong(b, 1, 65535, high) < 0 || *low > *high)
		return -1;
	return 0;
}

static int kernel_range(unsigned long *low, unsigned long *high)
{
	struct buf b = { 0 };
	int r = -1;

	if (read_file("/proc/sys/net/ipv4/ip_local_port_range", 64, &b) == 0) {
		if (b.len > 0 && b.data[b.len - 1] == '\n')
			b.data[--b.len] = '\0';
		r = parse_range(b.data, low, high);
	}
	buf_free(&b);
	return r;
}

/* Parses the state file strictly; on failure writes the reason to why. */
static int state_parse(char *data, size_t len, struct state *st, char *why,
		       size_t whylen)
{
	size_t hl = strlen(STATE_HEADER), line = 1;
	char *p = data + hl, *end = data + len;

	size_t cap = 0;

	st->r = NULL;
	st->n = 0;
	memset(st->port_used, 0, sizeof(st->port_used));
	memset(st->index_used, 0, sizeof(st->index_used));
	if (len < hl || memcmp(data, STATE_HEADER, hl) != 0) {
		snprintf(why, whylen, "missing header");
		return -1;
	}
	if (memchr(data, '\0', len)) {
		snprintf(why, whylen, "contains a NUL byte");
		return -1;
	}
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *f1, *f2, norm[HOST_MAX + 1];
		struct resv *r, *grown;

		line++;
		if (!nl) {
			snprintf(why, whylen, "line %zu is truncated", line);
			goto fail;
		}
		*nl = '\0';
		f1 = strchr(p, '\t');
		f2 = f1 ? strchr(f1 + 1, '\t') : NULL;
		if (!f2 || strchr(f2 + 1, '\t')) {
			snprintf(why, whylen, "line %zu is malformed", line);
			goto fail;
		}
		*f1++ = '\0';
		*f2++ = '\0';
		if (st->n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(st->r, cap * sizeof(*st->r));
			if (!grown) {
				snprintf(why, whylen, "out of memory");
				goto fail;
			}
			st->r = grown;
		}
		r = &st->r[st->n];
		if (host_check(p, strlen(p), norm) || strcmp(norm, p) != 0 ||
		    parse_ulong(f1, 1, 65535, &r->port) < 0 ||
		    parse_ulong(f2, 1, 65535, &r->index) < 0) {
			snprintf(why, whylen, "line %zu is malformed", line);
			goto fail;
		}
		memcpy(r->name, norm, strlen(norm) + 1);
		if (bit_get(st->port_used, r->port) ||
		    bit_get(st->index_used, r->index)) {
			snprintf(why, whylen, "line %zu duplicates a reservation",
				 line);
			goto fail;
		}
		bit_set(st->port_used, r->port);
		bit_set(st->index_used, r->index);
		st->n++;
		p = nl + 1;
	}
	/* Names: sorted, a duplicate is next to its twin. */
	if (st->n > 1) {
		size_t i;

		qsort(st->r, st->n, sizeof(*st->r), by_name);
		for (i = 1; i < st->n; i++)
			if (!strcmp(st->r[i - 1].name, st->r[i].name)) {
				snprintf(why, whylen,
					 "two reservations for one name");
				goto fail;
			}
	}
	return 0;
fail:
	free(st->r);
	st->r = NULL;
	st->n = 0;
	return -1;
}

static int by_index(const void *a, const void *b)
{
	const struct resv *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

static int state_serialize(struct state *st, struct buf *out)
{
	size_t i;

	if (st->n > 1)
		qsort(st->r, st->n, sizeof(*st->r), by_index);
	if (buf_add(out, STATE_HEADER, strlen(STATE_HEADER)) < 0)
		return -1;
	for (i = 0; i < st->n; i++)
		if (buf_printf(out, "%s\t%lu\t%lu\n", st->r[i].name,
			       st->r[i].port, st->r[i].index) < 0)
			return -1;
	return 0;
}

static void state_load(const char *dir, struct state *st)
{
	char path[4096], why[128];
	struct buf b = { 0 };

	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
	if (read_file(path, STATE_MAX, &b) < 0) {
		if (errno == ENOENT) {
			memset(st, 0, sizeof(*st));
			return;
		}
		err(EXIT_REFUSED, "%s", path);
	}
	if (state_parse(b.data, b.len, st, why, sizeof(why)) < 0)
		errx(EXIT_REFUSED, "%s is corrupt (%s); left as it is", path,
		     why);
	buf_free(&b);
}

static void state_store(const char *dir, struct state *st)
{
	struct buf b = { 0 };

	if (state_serialize(st, &b) < 0 ||
	    write_atomic(dir, STATE_FILE, b.data, b.len, 0600) < 0)
		err(EXIT_REFUSED, "%s/%s", dir, STATE_FILE);
	buf_free(&b);
}

/* The lock file is permanent and never renamed over, so every process
 * locks the same inode. */
static int lock_state(const char *dir, unsigned long wait)
{
	char path[4096];
	struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
	unsigned long tries = wait * 100;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		err(EXIT_REFUSED, "%s", path);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			err(EXIT_REFUSED, "lock %s", path);
		if (tries-- == 0)
			errx(EXIT_LOCKED, "lock %s not obtained in %lu s", path,
			     wait);
		nanosleep(&ten_ms, NULL);
	}
	return fd;
}

static int bound(int family, unsigned long port)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), r, one = 1;

	if (fd < 0)
		return 0; /* no such family here: nothing can hold the port */
	if (family == AF_INET) {
		a4.sin_port = htons((uint16_t)port);
		r = bind(fd, (struct sockaddr *)&a4, sizeof(a4));
	} else {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		a6.sin6_port = htons((uint16_t)port);
		a6.sin6_addr = in6addr_any;
		r = bind(fd, (struct sockaddr *)&a6, sizeof(a6));
	}
	close(fd);
	return r < 0;
}

static int port_taken(const struct state *st, unsigned long port)
{
	return bit_get(st->port_used, port) || bound(AF_INET, port) ||
	       bound(AF_INET6, port);
}

static int index_taken(const struct state *st, unsigned long index)
{
	return bit_get(st->index_used, index);
}

static struct resv *find(struct state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (!strcmp(st->r[i].name, name))
			return &st->r[i];
	return NULL;
}

static int cmd_allocate(const struct opts *o, const char *name)
{
	struct state st;
	struct resv *r, *grown;
	unsigned long port, index;
	int lock = lock_state(o->dir, o->wait);

	state_load(o->dir, &st);
	r = find(&st, name);
	if (r) {
		printf("%lu\t%lu\n", r->port, r->index);
		goto out;
	}
	for (index = 1; index <= o->max_index && index_taken(&st, index);
	     index++)
		;
	if (index > o->max_index)
		errx(EXIT_NORESOURCE, "no free link index (1-%lu all in use)",
		     o->max_index);
	for (port = o->low; port <= o->high && port_taken(&st, port); port++)
		;
	if (port > o->high)
		errx(EXIT_NORESOURCE, "no free UDP port in %lu-%lu", o->low,
		     o->high);
	grown = realloc(st.r, (st.n + 1) * sizeof(*st.r));
	if (!grown)
		err(EXIT_REFUSED, "allocate");
	st.r = grown;
	r = &st.r[st.n++];
	memcpy(r->name, name, strlen(name) + 1);
	r->port = port;
	r->index = index;
	state_store(o->dir, &st);
	printf("%lu\t%lu\n", port, index);
out:
	free(st.r);
	close(lock);
	return 0;
}

static int cmd_release(const struct opts *o, const char *name)
{
	struct state st;
	struct resv *r;
	int lock = lock_state(o->dir, o->wait);

	state_load(o->dir, &st);
	r = find(&st, name);
	if (!r)
		errx(EXIT_REFUSED, "%s holds no reservation", name);
	*r = st.r[--st.n];
	state_store(o->dir, &st);
	free(st.r);
	close(lock);
	return 0;
}

static int cmd_list(const struct opts *o)
{
	struct state st;
	size_t i;
	int lock = lock_state(o->dir, o->wait);

	state_load(o->dir, &st);
	close(lock);
	if (st.n > 1)
		qsort(st.r, st.n, sizeof(*st.r), by_index);
	for (i = 0; i < st.n; i++)
		printf("%s\t%lu\t%lu\n", st.r[i].name, st.r[i].port,
		       st.r[i].index);
	free(st.r);
	return 0;
}

static const char *opt_or_env(const char *opt, const char *env)
{
	return opt ? opt : getenv(env);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *ports = NULL, *max = NULL, *wait = NULL;
	char name[HOST_MAX + 1], shown[72];
	const char *why;
	struct opts o;
	int c;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	while ((c = getopt(argc, argv, "+d:p:n:w:")) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'p': ports = optarg; break;
		case 'n': max = optarg; break;
		case 'w': wait = optarg; break;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	o.dir = opt_or_env(dir, "ALLOC_DIR");
	ports = opt_or_env(ports, "ALLOC_PORTS");
	max = opt_or_env(max, "ALLOC_MAX_INDEX");
	wait = opt_or_env(wait, "ALLOC_WAIT");
	if (!o.dir || !*o.dir)
		errx(EXIT_USAGE, "no state directory (-d or ALLOC_DIR)");
	if (ports ? parse_range(ports, &o.low, &o.high) < 0
		  : kernel_range(&o.low, &o.high) < 0)
		errx(EXIT_USAGE, "bad port range '%s'",
		     ports ? ports : "ip_local_port_range");
	o.max_index = 16383;
	if (max && parse_ulong(max, 1, 65535, &o.max_index) < 0)
		errx(EXIT_USAGE, "bad highest index '%s' (1-65535)", max);
	o.wait = 60;
	if (wait && parse_ulong(wait, 0, 86400, &o.wait) < 0)
		errx(EXIT_USAGE, "bad lock wait '%s' (0-86400 s)", wait);

	if (argc == 1 && !strcmp(argv[0], "list"))
		return cmd_list(&o);
	if (argc != 2 ||
	    (strcmp(argv[0], "allocate") && strcmp(argv[0], "release"))) {
		usage(stderr);
		return EXIT_USAGE;
	}
	why = host_check(argv[1], strlen(argv[1]), name);
	if (why)
		errx(EXIT_REFUSED, "bad link name '%s': %s",
		     printable(argv[1], shown, sizeof(shown)), why);
	if (!strcmp(argv[0], "allocate"))
		return cmd_allocate(&o, name);
	return cmd_release(&o, name);
}
