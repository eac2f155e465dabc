/* The link record: parsing, validation, formatting and the values derived
 * from it. See linkrec.h; the format is described in README.md. */
#include "linkrec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum field_kind { F_HOST, F_NUM, F_KEY, F_OKEY, F_ADDR, F_OWNER, F_PUBLISH };

struct field {
	const char *key;
	const char *v1_key;	/* its name in a version 1 record */
	enum field_kind kind;
	size_t off, size;
	unsigned long min, max;
	int required;
	const char *dflt;	/* the value an optional field defaults to */
};

#define STR(k, v1, kind, m, req, d) { k, v1, kind, \
	offsetof(struct record, m), sizeof(((struct record *)0)->m), 0, 0, \
	req, d }
#define NUM(k, m, lo, hi, req, d) { k, NULL, F_NUM, \
	offsetof(struct record, m), sizeof(unsigned long), lo, hi, req, d }

/* The order is the order of a written record. */
static const struct field fields[] = {
	STR("NAME", NULL, F_HOST, name, 1, NULL),
	NUM("INDEX", index, 1, 65535, 1, NULL),
	NUM("PORT", port, 1, 65535, 1, NULL),
	STR("CLIENT_KEY", NULL, F_KEY, client_key, 1, NULL),
	STR("GATEWAY_KEY", NULL, F_KEY, gateway_key, 1, NULL),
	STR("VETH_GATEWAY_ADDR", "VETH_GATEWAY", F_ADDR, veth_gateway, 1, NULL),
	STR("VETH_LINK_ADDR", "VETH_LINK", F_ADDR, veth_link, 1, NULL),
	STR("TUNNEL_GATEWAY", NULL, F_ADDR, tunnel_gateway, 1, NULL),
	STR("TUNNEL_CLIENT", NULL, F_ADDR, tunnel_client, 1, NULL),
	NUM("WILDCARD", wildcard, 0, 1, 0, "0"),
	NUM("MTU", mtu, 1280, 9000, 0, "1380"),
	STR("OWNER", NULL, F_OWNER, owner, 0, "root"),
	NUM("CREATED", created, 0, 1UL << 40, 0, "0"),
	/* An admin's cap on the link's concurrent connections (linkgate
	 * limit); 0 means the gateway's LINK_CONNS. */
	NUM("CONNS", conns, 0, 100000, 0, "0"),
	/* Expiry and rotation (README, "The link record"). */
	NUM("EXPIRES", expires, 0, 1UL << 40, 0, "0"),
	NUM("LIFETIME", lifetime, 0, LIFETIME_MAX, 0, "0"),
	NUM("ROTATED", rotated, 0, 1UL << 40, 0, "0"),
	STR("PREV_CLIENT_KEY", NULL, F_OKEY, prev_client_key, 0, ""),
	NUM("PREV_UNTIL", prev_until, 0, 1UL << 40, 0, "0"),
	/* Raw ports (README, "Raw ports"): canonical, "" none. */
	STR("PUBLISH", NULL, F_PUBLISH, publish, 0, ""),
	/* 1 once the home said it speaks IPv6 (add --ipv6): its IPv6
	 * visitors then reach it over the link's IPv6 tunnel address. */
	NUM("HOME6", home6, 0, 1, 0, "0"),
	/* HOME6 of the home of PREV_CLIENT_KEY, which holds the tunnel
	 * address in a grace period: its IPv6 visitors' route follows it
	 * until the new key takes over. 0 (IPv4, which every home answers)
	 * in a record of an older linkgate. */
	NUM("PREV_HOME6", prev_home6, 0, 1, 0, "0"),
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static int valid_wg_key(const char *v)
{
	size_t i;

	if (strlen(v) != WG_KEY_LEN || v[43] != '=')
		return 0;
	for (i = 0; i < 43; i++)
		if (!((v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= 'a' && v[i] <= 'z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '+' ||
		      v[i] == '/'))
			return 0;
	return 1;
}

int valid_addr(const char *v)
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

	if (n == 0 || n > OWNER_MAX || v[0] == '-' || v[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
		      (v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '-' ||
		      v[i] == '_' || v[i] == '.'))
			return 0;
	return 1;
}

const char *duration_parse(const char *s, unsigned long *secs)
{
	static const struct { char unit; unsigned long secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char num[10];
	size_t n = strlen(s), i;
	unsigned long v;

	if (n < 2 || n - 1 >= sizeof(num))
		return "not a number (1-9 digits) and a unit (s, m, h or d)";
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (s[n - 1] == units[i].unit)
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		return "not a number (1-9 digits) and a unit (s, m, h or d)";
	memcpy(num, s, n - 1);
	num[n - 1] = '\0';
	if (parse_ulong(num, 0, 999999999UL, &v))
		return "not a number (1-9 digits) and a unit (s, m, h or d)";
	if (v == 0)
		return "zero";
	/* 999999999 d does not fit: compare before multiplying. */
	if (v > LIFETIME_MAX / units[i].secs)
		return "longer than 3650 days";
	*secs = v * units[i].secs;
	return NULL;
}

/* A date YYYY-MM-DD that exists, as seconds since the epoch (UTC). */
static const char *date_parse(const char *s, unsigned long *at)
{
	struct tm tm = { 0 }, back;
	time_t t;
	int i, year, mon, mday;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return "not a date YYYY-MM-DD";
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return "not a date YYYY-MM-DD";
	tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 +
		     (s[2] - '0') * 10 + (s[3] - '0') - 1900;
	tm.tm_mon = (s[5] - '0') * 10 + (s[6] - '0') - 1;
	tm.tm_mday = (s[8] - '0') * 10 + (s[9] - '0');
	year = tm.tm_year;
	mon = tm.tm_mon;
	mday = tm.tm_mday;
	t = timegm(&tm);
	/* timegm folds 2027-02-30 into March: a date must come back as it
	 * was written. */
	if (t < 0 || !gmtime_r(&t, &back) || back.tm_year != year ||
	    back.tm_mon != mon || back.tm_mday != mday)
		return "no such date";
	*at = (unsigned long)t;
	return NULL;
}

const char *expiry_parse(const char *s, unsigned long now, unsigned long *at,
			 unsigned long *lifetime)
{
	const char *why;
	unsigned long v;

	if (strchr(s, '-')) {
		why = date_parse(s, &v);
		if (why)
			return why;
		if (v <= now)
			return "in the past";
		if (v - now > LIFETIME_MAX)
			return "more than 3650 days ahead";
		*at = v;
		*lifetime = 0;
		return NULL;
	}
	why = duration_parse(s, &v);
	if (why)
		return why;
	*at = now + v;
	*lifetime = v;
	return NULL;
}

/* One port of a raw-port entry: n bytes at s, 1-65535, no leading zero. */
static int publish_port(const char *s, size_t n, unsigned long *port)
{
	char num[6];

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	return parse_ulong(num, 1, 65535, port);
}

const char *publish_parse(const char *s, const struct publish_rules *rules,
			  char *out)
{
	static char why[160];
	/* Bit (proto * 65536 + port): taken already in this list. */
	static unsigned char seen[2 * 65536 / 8];
	const char *p = s, *end;
	size_t len = strlen(s), i, n = 0, used = 0;

	out[0] = '\0';
	if (!strcmp(s, "none"))
		return NULL;
	if (len == 0)
		return "empty (none for no ports)";
	if (len > PUBLISH_TEXT_MAX)
		return "too long";
	memset(seen, 0, sizeof(seen));
	for (;;) {
		const char *c1, *c2, *comma;
		unsigned long pub, home;
		int proto;
		size_t elen;

		comma = strchr(p, ',');
		end = comma ? comma : s + len;
		elen = (size_t)(end - p);
		if (elen == 0)
			return "an empty entry (separate entries by one comma)";
		if (++n > PUBLISH_MAX) {
			snprintf(why, sizeof(why), "more than %d entries",
				 PUBLISH_MAX);
			return why;
		}
		if (elen > 4 && !memcmp(p, "tcp:", 4))
			proto = 0;
		else if (elen > 4 && !memcmp(p, "udp:", 4))
			proto = 1;
		else
			return "an entry is not tcp:PORT[:HOME_PORT] or "
			       "udp:PORT[:HOME_PORT]";
		c1 = p + 3;
		c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
		if (publish_port(c1 + 1, (size_t)((c2 ? c2 : end) - c1 - 1),
				 &pub) < 0)
			return "a port is not a number from 1 to 65535";
		home = pub;
		if (c2 && publish_port(c2 + 1, (size_t)(end - c2 - 1),
				       &home) < 0)
			return "a port is not a number from 1 to 65535";
		if (seen[(proto * 65536 + pub) / 8] & (1 << (pub % 8))) {
			snprintf(why, sizeof(why), "%s port %lu given twice",
				 proto ? "udp" : "tcp", pub);
			return why;
		}
		seen[(proto * 65536 + pub) / 8] |= (unsigned char)(1 << (pub % 8));
		if (pub == 80 || pub == 443) {
			snprintf(why, sizeof(why), "port %lu is the gateway's "
				 "own (HTTP and HTTPS)", pub);
			return why;
		}
		if (home == 8080 || home == 8081 || home == 8443) {
			snprintf(why, sizeof(why), "home port %lu is the link "
				 "client's own on the tunnel address", home);
			return why;
		}
		if (rules && rules->wg_high && pub >= rules->wg_low &&
		    pub <= rules->wg_high) {
			snprintf(why, sizeof(why), "port %lu is in the "
				 "gateway's WireGuard port range %lu-%lu "
				 "(its admin may shrink it: PORTS in "
				 "gateway.conf)", pub, rules->wg_low,
				 rules->wg_high);
			return why;
		}
		for (i = 0; rules && i < rules->nreserved; i++)
			if (rules->reserved[i] == pub) {
				snprintf(why, sizeof(why), "port %lu is "
					 "reserved on this gateway", pub);
				return why;
			}
		used += (size_t)snprintf(out + used, PUBLISH_TEXT_MAX + 1 - used,
					 "%s%s:%lu:%lu", used ? "," : "",
					 proto ? "udp" : "tcp", pub, home);
		if (!comma)
			break;
		p = comma + 1;
	}
	return NULL;
}

int prefix_valid(const char *prefix)
{
	size_t i, n = strlen(prefix);

	if (n == 0 || n > 6)
		return 0;
	for (i = 0; i < n; i++)
		if (!((prefix[i] >= 'a' && prefix[i] <= 'z') ||
		      (prefix[i] >= '0' && prefix[i] <= '9')))
			return 0;
	return 1;
}

static const char *field_value_set(struct record *r, size_t i, const char *v)
{
	const struct field *f = &fields[i];
	char *dst = (char *)r + f->off;
	char norm[FIELD_TEXT_MAX];
	size_t len = strlen(v);
	int ok = 0;

	switch (f->kind) {
	case F_NUM:
		if (parse_ulong(v, f->min, f->max, (unsigned long *)dst))
			return "bad number";
		r->set |= 1UL << i;
		return NULL;
	case F_HOST:
		ok = !host_check(v, len, norm) && !strcmp(norm, v);
		break;
	case F_KEY:
		ok = valid_wg_key(v);
		break;
	case F_OKEY:
		ok = len == 0 || valid_wg_key(v);
		break;
	case F_ADDR:
		ok = valid_addr(v);
		break;
	case F_OWNER:
		ok = valid_owner(v);
		break;
	case F_PUBLISH:
		/* Stored in canonical form only; "" is none. */
		ok = len == 0 || (len <= PUBLISH_TEXT_MAX && strcmp(v, "none") &&
				  !publish_parse(v, NULL, norm) &&
				  !strcmp(norm, v));
		break;
	}
	if (!ok || len >= f->size)
		return "bad value";
	memcpy(dst, v, len + 1);
	r->set |= 1UL << i;
	return NULL;
}

void record_init(struct record *r)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	r->version = RECORD_VERSION;
	for (i = 0; i < NFIELDS; i++)
		if (fields[i].dflt)
			field_value_set(r, i, fields[i].dflt);
	r->set = 0;
}

const char *record_set(struct record *r, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (!strcmp(fields[i].key, key))
			return field_value_set(r, i, value);
	return "unknown key";
}

int record_complete(const struct record *r, const char **missing)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (fields[i].required && !(r->set & (1UL << i))) {
			*missing = fields[i].key;
			return 0;
		}
	return 1;
}

static int key_chars_ok(const char *k)
{
	for (; *k; k++)
		if (!((*k >= 'A' && *k <= 'Z') || *k == '_' ||
		      (*k >= '0' && *k <= '9')))
			return 0;
	return 1;
}

/* The version a record declares: 1 without a VERSION line. */
static int version_scan(const char *data, size_t len, unsigned long *v,
			char *why, size_t whylen)
{
	const char *p = data, *end = data + len;
	char num[12];

	*v = 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (n > 8 && !memcmp(p, "VERSION=", 8)) {
			if (n - 8 >= sizeof(num)) {
				snprintf(why, whylen, "VERSION: bad number");
				return -1;
			}
			memcpy(num, p + 8, n - 8);
			num[n - 8] = '\0';
			if (parse_ulong(num, 1, 1000, v)) {
				snprintf(why, whylen, "VERSION: bad number");
				return -1;
			}
			if (*v > RECORD_VERSION) {
				snprintf(why, whylen,
					 "VERSION %lu is newer than this "
					 "linkgate (%d)", *v, RECORD_VERSION);
				return -1;
			}
			return 0;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}

int record_parse(char *data, size_t len, struct record *r, struct buf *extra,
		 char *why, size_t whylen)
{
	char *p = data, *end = data + len;
	size_t line = 0, i;
	int version_seen = 0;
	const char *missing;

	record_init(r);
	if (memchr(data, '\0', len)) {
		snprintf(why, whylen, "contains a NUL byte");
		return -1;
	}
	if (version_scan(data, len, &r->version, why, whylen) < 0)
		return -1;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;
		const char *bad;

		line++;
		if (!nl) {
			snprintf(why, whylen, "line %zu is truncated", line);
			return -1;
		}
		*nl = '\0';
		if ((size_t)(nl - p) > RECORD_LINE_MAX) {
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
		if (!key_chars_ok(p)) {
			snprintf(why, whylen, "line %zu has a bad key", line);
			return -1;
		}
		if (!strcmp(p, "VERSION")) {
			if (version_seen++) {
				snprintf(why, whylen, "VERSION appears twice");
				return -1;
			}
			goto next;
		}
		for (i = 0; i < NFIELDS; i++)
			if (!strcmp(fields[i].key, p) ||
			    (r->version == 1 && fields[i].v1_key &&
			     !strcmp(fields[i].v1_key, p)))
				break;
		if (i == NFIELDS) {
			/* Unknown keys are kept: a newer linkgate's fields. */
			if (extra && (buf_add(extra, p, strlen(p)) < 0 ||
				      buf_add(extra, "=", 1) < 0 ||
				      buf_add(extra, eq + 1, strlen(eq + 1)) < 0 ||
				      buf_add(extra, "\n", 1) < 0)) {
				snprintf(why, whylen, "out of memory");
				return -1;
			}
			goto next;
		}
		if (r->set & (1UL << i)) {
			snprintf(why, whylen, "%s appears twice", p);
			return -1;
		}
		bad = field_value_set(r, i, eq + 1);
		if (bad) {
			snprintf(why, whylen, "%s: %s", p, bad);
			return -1;
		}
next:
		p = nl + 1;
	}
	if (!record_complete(r, &missing)) {
		snprintf(why, whylen, "%s is missing", missing);
		return -1;
	}
	return 0;
}

int record_load(const char *path, struct record *r, struct buf *extra,
		char *why, size_t whylen)
{
	struct buf b = { 0 };
	int ret;

	if (read_file(path, RECORD_MAX, &b) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		buf_free(&b);
		return -1;
	}
	ret = record_parse(b.data, b.len, r, extra, why, whylen);
	buf_free(&b);
	return ret;
}

static void field_text(const struct record *r, size_t i, char *out, size_t n)
{
	const struct field *f = &fields[i];
	const char *src = (const char *)r + f->off;

	if (f->kind == F_NUM)
		snprintf(out, n, "%lu", *(const unsigned long *)src);
	else
		snprintf(out, n, "%s", src);
}

int record_format(const struct record *r, const struct buf *extra,
		  struct buf *out)
{
	char v[FIELD_TEXT_MAX];
	size_t i;

	if (buf_printf(out, "VERSION=%d\n", RECORD_VERSION) < 0)
		return -1;
	for (i = 0; i < NFIELDS; i++) {
		field_text(r, i, v, sizeof(v));
		if (buf_printf(out, "%s=%s\n", fields[i].key, v) < 0)
			return -1;
	}
	if (extra && extra->len && buf_add(out, extra->data, extra->len) < 0)
		return -1;
	return 0;
}

/* The names a link index gives its namespace and interfaces. */
static const char *const derived[] = { "NS", "VETH_GW", "VETH_LINK", "WG" };
static const char derived_letter[] = { 'n', 'g', 'l', 'w' };

int record_field(const struct record *r, const char *prefix, const char *key,
		 char *out, size_t n)
{
	size_t i;

	if (!strcmp(key, "VERSION")) {
		snprintf(out, n, "%lu", r->version);
		return 0;
	}
	for (i = 0; i < NFIELDS; i++)
		if (!strcmp(fields[i].key, key)) {
			field_text(r, i, out, n);
			return 0;
		}
	for (i = 0; prefix && i < sizeof(derived) / sizeof(derived[0]); i++)
		if (!strcmp(derived[i], key)) {
			snprintf(out, n, "%s%c%lu", prefix, derived_letter[i],
				 r->index);
			return 0;
		}
	return -1;
}

int record_show(const struct record *r, const char *prefix, struct buf *out)
{
	char v[FIELD_TEXT_MAX];
	size_t i;

	if (buf_printf(out, "VERSION=%lu\n", r->version) < 0)
		return -1;
	for (i = 0; i < NFIELDS; i++) {
		field_text(r, i, v, sizeof(v));
		if (buf_printf(out, "%s=%s\n", fields[i].key, v) < 0)
			return -1;
	}
	for (i = 0; prefix && i < sizeof(derived) / sizeof(derived[0]); i++)
		if (buf_printf(out, "%s=%s%c%lu\n", derived[i], prefix,
			       derived_letter[i], r->index) < 0)
			return -1;
	return 0;
}

const char *pool_addr(const char *pool, unsigned long index, int n, char *out)
{
	char a[ADDR_MAX];
	const char *slash = strchr(pool, '/');
	unsigned long len;
	struct in_addr in;
	uint32_t base, size;

	if (!slash || (size_t)(slash - pool) >= sizeof(a))
		return "not ADDRESS/LENGTH";
	memcpy(a, pool, (size_t)(slash - pool));
	a[slash - pool] = '\0';
	if (!valid_addr(a) || inet_pton(AF_INET, a, &in) != 1 ||
	    parse_ulong(slash + 1, 8, 28, &len))
		return "not ADDRESS/LENGTH with LENGTH 8-28";
	if (index < 1 || n < 1 || n > 2)
		return "bad index";
	size = (uint32_t)1 << (32 - len);
	/* A /30 per link, index 0 left out (its network is the pool's). */
	if (index > size / 4 - 1)
		return "index outside the pool";
	base = ntohl(in.s_addr) & ~(size - 1);
	in.s_addr = htonl(base + (uint32_t)index * 4 + (uint32_t)n);
	if (!inet_ntop(AF_INET, &in, out, ADDR_MAX))
		return "bad address";
	return NULL;
}
