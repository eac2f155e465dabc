/* record: the one owner of the link records. Writes them (atomically,
 * keeping keys it does not know, upgrading a version 1 record to the
 * current version), reads and validates them, and prints their fields as
 * KEY=value lines for the scripts, with the names and addresses a link
 * index derives. Nothing else parses a record by hand. */
#include "linkrec.h"

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: record show [-p PREFIX] FILE\n"
		"       record get [-p PREFIX] FILE KEY\n"
		"       record list [-p PREFIX -o OUT_DIR] DIR\n"
		"       record set [-t TMPDIR] FILE KEY=value...\n"
		"       record derive PREFIX VETH_POOL TUNNEL_POOL INDEX\n"
		"       record lifetime [--] DURATION\n"
		"       record expiry [--] EXPIRES NOW\n"
		"       record publish [-w LOW-HIGH] [-r PORT,...] [--] LIST\n"
		"\n"
		"show    validates a record and prints every field as KEY=value\n"
		"        lines (optional fields at their defaults); with -p, also\n"
		"        the link's namespace and interface names (NS, VETH_GW,\n"
		"        VETH_LINK, WG)\n"
		"get     prints the value of one such key\n"
		"list    one line per file in DIR: ok<tab>NAME<tab>INDEX<tab>PORT,\n"
		"        or corrupt<tab>NAME for a record that cannot be read\n"
		"        (the reason goes to stderr); with -p and -o, each ok line\n"
		"        ends with the link's namespace, and what show -p PREFIX\n"
		"        prints for each record goes to OUT_DIR/r.NAME\n"
		"set     creates or updates the record FILE (named after its link)\n"
		"        with the given fields, in the current version, keeping\n"
		"        unknown keys; written to a temporary file in TMPDIR\n"
		"        (default FILE's folder), synced, renamed over FILE\n"
		"derive  prints the names and addresses link INDEX gets: NS,\n"
		"        VETH_GW, VETH_LINK, WG, VETH_GATEWAY_ADDR, VETH_LINK_ADDR,\n"
		"        TUNNEL_GATEWAY, TUNNEL_CLIENT\n"
		"lifetime  prints the seconds of DURATION: 1-9 digits and s, m, h\n"
		"        or d (90d, 12h, 30m), at most 3650 days\n"
		"expiry  prints when a link made at NOW (seconds since the epoch)\n"
		"        with EXPIRES (a DURATION, or a date YYYY-MM-DD: 00:00 UTC)\n"
		"        expires, a tab, and its lifetime (0 for a date)\n"
		"publish prints the canonical form of a list of raw ports\n"
		"        (none, or PROTO:PORT[:HOME_PORT],...: tcp or udp, at most\n"
		"        16; an empty line for none); -w refuses public ports in\n"
		"        the WireGuard range LOW-HIGH, -r those of a list\n"
		"\n"
		"Exit: 0 ok, 1 refused or failed (corrupt record, bad value),\n"
		"2 usage (also an unknown key).\n");
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Loads path and checks that its NAME is its file name. */
static int load_named(const char *path, struct record *r, struct buf *extra,
		      char *why, size_t whylen)
{
	if (record_load(path, r, extra, why, whylen) < 0)
		return -1;
	if (strcmp(r->name, base_name(path))) {
		snprintf(why, whylen, "NAME is not the file name");
		return -1;
	}
	return 0;
}

static void prefix_check(const char *prefix)
{
	char shown[72];

	if (prefix && !prefix_valid(prefix))
		errx(EXIT_USAGE, "bad prefix '%s': 1-6 of a-z, 0-9",
		     printable(prefix, shown, sizeof(shown)));
}

static int cmd_show(const char *prefix, const char *path)
{
	struct record r;
	struct buf out = { 0 };
	char why[160], shown[72];

	prefix_check(prefix);
	if (load_named(path, &r, NULL, why, sizeof(why)) < 0)
		errx(EXIT_REFUSED, "record %s is corrupt (%s)",
		     printable(path, shown, sizeof(shown)), why);
	if (record_show(&r, prefix, &out) < 0)
		err(EXIT_REFUSED, "show");
	fwrite(out.data, 1, out.len, stdout);
	buf_free(&out);
	return 0;
}

static int cmd_get(const char *prefix, const char *path, const char *key)
{
	struct record r;
	char why[160], shown[72], v[FIELD_TEXT_MAX];

	prefix_check(prefix);
	if (load_named(path, &r, NULL, why, sizeof(why)) < 0)
		errx(EXIT_REFUSED, "record %s is corrupt (%s)",
		     printable(path, shown, sizeof(shown)), why);
	if (record_field(&r, prefix, key, v, sizeof(v)) < 0)
		errx(EXIT_USAGE, "unknown record key '%s'",
		     printable(key, shown, sizeof(shown)));
	printf("%s\n", v);
	return 0;
}

/* Writes what show prints for r to out/r.NAME. */
static void show_to(const struct record *r, const char *prefix,
		    const char *out)
{
	char path[PATH_MAX];
	struct buf b = { 0 };
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/r.%s", out, r->name) >=
	    sizeof(path))
		errx(EXIT_REFUSED, "%s: path too long", out);
	f = fopen(path, "w");
	if (!f || record_show(r, prefix, &b) < 0 ||
	    fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0)
		err(EXIT_REFUSED, "%s", path);
	buf_free(&b);
}

static int cmd_list(const char *prefix, const char *out, const char *dir)
{
	DIR *d;
	struct dirent *e;
	char path[PATH_MAX], why[160], shown[72], norm[HOST_MAX + 1];
	struct record r;

	prefix_check(prefix);
	if (!!prefix != !!out)
		errx(EXIT_USAGE, "list: -p and -o go together");
	d = opendir(dir);
	if (!d)
		err(EXIT_REFUSED, "%s", dir);
	while ((errno = 0, e = readdir(d)) != NULL) {
		const char *n = e->d_name;

		if (n[0] == '.')
			continue;
		/* Only linkgate writes here; a foreign name is no link. */
		if (host_check(n, strlen(n), norm) || strcmp(norm, n)) {
			warnx("%s/%s is not a link record; ignored",
			      dir, printable(n, shown, sizeof(shown)));
			continue;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, n) >=
			    sizeof(path) ||
		    load_named(path, &r, NULL, why, sizeof(why)) < 0) {
			warnx("record %s is corrupt (%s)", n, why);
			printf("corrupt\t%s\n", n);
			continue;
		}
		if (out)
			show_to(&r, prefix, out);
		printf("ok\t%s\t%lu\t%lu", r.name, r.index, r.port);
		if (prefix)
			printf("\t%sn%lu", prefix, r.index);
		putchar('\n');
	}
	if (errno)
		err(EXIT_REFUSED, "%s", dir);
	closedir(d);
	return 0;
}

static int cmd_set(const char *tmpdir, const char *path, int n, char **kv)
{
	struct record r;
	struct buf extra = { 0 }, out = { 0 };
	char why[160], shown[72], dir[PATH_MAX];
	const char *name = base_name(path), *missing;
	size_t dlen = (size_t)(name - path);
	int i;

	if (dlen == 0) {
		memcpy(dir, ".", 2);
	} else if (dlen >= sizeof(dir)) {
		errx(EXIT_USAGE, "path too long");
	} else {
		memcpy(dir, path, dlen - 1);
		dir[dlen - 1] = '\0';
		if (dlen == 1)
			memcpy(dir, "/", 2);
	}
	if (access(path, F_OK) == 0) {
		if (load_named(path, &r, &extra, why, sizeof(why)) < 0)
			errx(EXIT_REFUSED, "record %s is corrupt (%s); not "
			     "rewritten", printable(path, shown, sizeof(shown)),
			     why);
	} else if (errno == ENOENT) {
		record_init(&r);
	} else {
		err(EXIT_REFUSED, "%s", printable(path, shown, sizeof(shown)));
	}
	/* Every argument is checked before anything is written. */
	for (i = 0; i < n; i++) {
		char *eq = strchr(kv[i], '='), key[32];
		const char *bad;

		if (!eq || eq == kv[i] || (size_t)(eq - kv[i]) >= sizeof(key))
			errx(EXIT_USAGE, "'%s' is not KEY=value",
			     printable(kv[i], shown, sizeof(shown)));
		memcpy(key, kv[i], (size_t)(eq - kv[i]));
		key[eq - kv[i]] = '\0';
		bad = record_set(&r, key, eq + 1);
		if (bad && !strcmp(bad, "unknown key"))
			errx(EXIT_USAGE, "unknown record key '%s'",
			     printable(key, shown, sizeof(shown)));
		if (bad)
			errx(EXIT_REFUSED, "%s: %s '%s'", key, bad,
			     printable(eq + 1, shown, sizeof(shown)));
	}
	if (!record_complete(&r, &missing))
		errx(EXIT_REFUSED, "record %s: %s is missing",
		     printable(name, shown, sizeof(shown)), missing);
	if (strcmp(r.name, name))
		errx(EXIT_REFUSED, "record %s: NAME is not the file name",
		     printable(name, shown, sizeof(shown)));
	if (record_format(&r, &extra, &out) < 0)
		err(EXIT_REFUSED, "record");
	if (out.len > RECORD_MAX)
		errx(EXIT_REFUSED, "record %s would be too large", name);
	if (write_atomic_via(tmpdir, dir, name, out.data, out.len, 0600) < 0)
		err(EXIT_REFUSED, "%s", printable(path, shown, sizeof(shown)));
	buf_free(&extra);
	buf_free(&out);
	return 0;
}

static int cmd_derive(char **argv)
{
	const char *prefix = argv[0], *pools[2] = { argv[1], argv[2] };
	static const char *const keys[2][2] = {
		{ "VETH_GATEWAY_ADDR", "VETH_LINK_ADDR" },
		{ "TUNNEL_GATEWAY", "TUNNEL_CLIENT" },
	};
	char a[ADDR_MAX], shown[72];
	unsigned long index;
	const char *why;
	int p, n;

	prefix_check(prefix);
	if (parse_ulong(argv[3], 1, 65535, &index))
		errx(EXIT_USAGE, "bad index '%s' (1-65535)",
		     printable(argv[3], shown, sizeof(shown)));
	printf("NS=%sn%lu\nVETH_GW=%sg%lu\nVETH_LINK=%sl%lu\nWG=%sw%lu\n",
	       prefix, index, prefix, index, prefix, index, prefix, index);
	for (p = 0; p < 2; p++)
		for (n = 1; n <= 2; n++) {
			why = pool_addr(pools[p], index, n, a);
			if (why)
				errx(EXIT_REFUSED, "pool %s: %s",
				     printable(pools[p], shown, sizeof(shown)),
				     why);
			printf("%s=%s\n", keys[p][n - 1], a);
		}
	return 0;
}

static int cmd_lifetime(const char *spec)
{
	char shown[72];
	unsigned long secs;
	const char *why = duration_parse(spec, &secs);

	if (why)
		errx(EXIT_REFUSED, "bad duration '%s': %s (like 90d, 12h, 30m)",
		     printable(spec, shown, sizeof(shown)), why);
	printf("%lu\n", secs);
	return 0;
}

/* The gateway's rules for publish: -w LOW-HIGH and -r PORT,PORT,... */
static void rules_parse(const char *wg, const char *reserved,
			struct publish_rules *r)
{
	char buf[64 * 6 + 1], shown[72], *dash, *tok, *save;

	memset(r, 0, sizeof(*r));
	if (wg) {
		if (strlen(wg) >= sizeof(buf))
			errx(EXIT_USAGE, "bad range '%s'",
			     printable(wg, shown, sizeof(shown)));
		strcpy(buf, wg);
		dash = strchr(buf, '-');
		if (!dash)
			errx(EXIT_USAGE, "bad range '%s': LOW-HIGH",
			     printable(wg, shown, sizeof(shown)));
		*dash = '\0';
		if (parse_ulong(buf, 1, 65535, &r->wg_low) ||
		    parse_ulong(dash + 1, r->wg_low, 65535, &r->wg_high))
			errx(EXIT_USAGE, "bad range '%s': LOW-HIGH",
			     printable(wg, shown, sizeof(shown)));
	}
	if (!reserved || !*reserved)
		return;
	if (strlen(reserved) >= sizeof(buf))
		errx(EXIT_USAGE, "reserved list too long");
	strcpy(buf, reserved);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (r->nreserved == sizeof(r->reserved) / sizeof(r->reserved[0]) ||
		    parse_ulong(tok, 1, 65535, &r->reserved[r->nreserved]))
			errx(EXIT_USAGE, "bad reserved port '%s'",
			     printable(tok, shown, sizeof(shown)));
		r->nreserved++;
	}
}

static int cmd_publish(const char *wg, const char *reserved, const char *list)
{
	struct publish_rules rules;
	char out[PUBLISH_TEXT_MAX + 1], shown[72];
	const char *why;

	rules_parse(wg, reserved, &rules);
	why = publish_parse(list, &rules, out);
	if (why)
		errx(EXIT_REFUSED, "bad PUBLISH '%s': %s",
		     printable(list, shown, sizeof(shown)), why);
	printf("%s\n", out);
	return 0;
}

static int cmd_expiry(const char *spec, const char *now_text)
{
	char shown[72];
	unsigned long now, at, lifetime;
	const char *why;

	if (parse_ulong(now_text, 1, 1UL << 40, &now))
		errx(EXIT_USAGE, "bad time '%s'",
		     printable(now_text, shown, sizeof(shown)));
	why = expiry_parse(spec, now, &at, &lifetime);
	if (why)
		errx(EXIT_REFUSED, "bad expiry '%s': %s (a duration like 90d, "
		     "12h, 30m, or a date YYYY-MM-DD)",
		     printable(spec, shown, sizeof(shown)), why);
	printf("%lu\t%lu\n", at, lifetime);
	return 0;
}

int main(int argc, char **argv)
{
	const char *prefix = NULL, *tmpdir = NULL, *out = NULL, *verb;
	const char *wg = NULL, *reserved = NULL;
	int c;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	verb = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "+p:t:o:w:r:")) != -1) {
		switch (c) {
		case 'w': wg = optarg; break;
		case 'r': reserved = optarg; break;
		case 'p': prefix = optarg; break;
		case 't': tmpdir = optarg; break;
		case 'o': out = optarg; break;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (!strcmp(verb, "publish") && argc == 1 && !tmpdir && !prefix && !out)
		return cmd_publish(wg, reserved, argv[0]);
	if (wg || reserved) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(verb, "show") && argc == 1 && !tmpdir && !out)
		return cmd_show(prefix, argv[0]);
	if (!strcmp(verb, "get") && argc == 2 && !tmpdir && !out)
		return cmd_get(prefix, argv[0], argv[1]);
	if (!strcmp(verb, "list") && argc == 1 && !tmpdir)
		return cmd_list(prefix, out, argv[0]);
	if (!strcmp(verb, "set") && argc >= 1 && !prefix && !out)
		return cmd_set(tmpdir, argv[0], argc - 1, argv + 1);
	if (!strcmp(verb, "derive") && argc == 4 && !tmpdir && !prefix && !out)
		return cmd_derive(argv);
	if (!strcmp(verb, "lifetime") && argc == 1 && !tmpdir && !prefix && !out)
		return cmd_lifetime(argv[0]);
	if (!strcmp(verb, "expiry") && argc == 2 && !tmpdir && !prefix && !out)
		return cmd_expiry(argv[0], argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
