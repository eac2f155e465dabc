/* The link record: its parser and writer, used by the record helper (the
 * record's one owner: writes, reads, validates, prints it). The format is
 * described once, in README.md ("The link record"). */
#ifndef LINKGATE_LINKREC_H
#define LINKGATE_LINKREC_H

#include "common.h"

#include <stddef.h>

#define RECORD_MAX 65536
#define RECORD_LINE_MAX 1024
#define RECORD_VERSION 2
#define OWNER_MAX 64
#define ADDR_MAX 16
#define WG_KEY_LEN 44
/* Raw ports a link publishes (README, "Raw ports"): at most PUBLISH_MAX
 * entries, each at most "tcp:65535:65535" (15 characters), with commas. */
#define PUBLISH_MAX 16
#define PUBLISH_TEXT_MAX (PUBLISH_MAX * 16)
/* The longest value of a field as text (PUBLISH's), with its NUL. */
#define FIELD_TEXT_MAX (PUBLISH_TEXT_MAX + 1)

struct record {
	unsigned long version;	/* as read: 1 when the record had none */
	unsigned long set;	/* bit i: field i was read or set */
	char name[HOST_MAX + 1];
	unsigned long index, port, mtu, created, wildcard;
	unsigned long conns;	/* the link's connection cap; 0: LINK_CONNS */
	unsigned long expires, lifetime, rotated, prev_until;
	unsigned long home6;	/* 1: the home speaks IPv6 (add --ipv6) */
	unsigned long prev_home6;	/* home6 of prev_client_key's home */
	char client_key[WG_KEY_LEN + 1], gateway_key[WG_KEY_LEN + 1];
	char prev_client_key[WG_KEY_LEN + 1];
	char veth_gateway[ADDR_MAX], veth_link[ADDR_MAX];
	char tunnel_gateway[ADDR_MAX], tunnel_client[ADDR_MAX];
	char owner[OWNER_MAX + 1];
	char publish[PUBLISH_TEXT_MAX + 1];	/* canonical; "" none */
};

/* Parses a record held in data (modified in place). Lines with unknown
 * keys are appended to extra as "KEY=value\n" (extra may be NULL). On
 * failure writes the reason, naming the key or line, to why and returns
 * -1. */
int record_parse(char *data, size_t len, struct record *r, struct buf *extra,
		 char *why, size_t whylen);

/* Reads and parses the record file at path (at most RECORD_MAX bytes). */
int record_load(const char *path, struct record *r, struct buf *extra,
		char *why, size_t whylen);

/* Sets one field from its text, by key (v2 names). Returns NULL, or
 * "unknown key" or the reason the value is bad. */
const char *record_set(struct record *r, const char *key, const char *value);

/* Whether every required field has been set; names the first missing one
 * in *missing otherwise. r must come from record_parse or record_init. */
int record_complete(const struct record *r, const char **missing);

/* An empty record: optional fields at their defaults, nothing required
 * set yet. */
void record_init(struct record *r);

/* Appends the record in its current format (VERSION=2, the known keys in
 * a fixed order, then extra as it is) to out. */
int record_format(const struct record *r, const struct buf *extra,
		  struct buf *out);

/* Appends every field as "KEY=value\n" to out, the derived names of the
 * link's namespace and interfaces too when prefix is not NULL. */
int record_show(const struct record *r, const char *prefix, struct buf *out);

/* Writes the value of one field (or a derived name, with prefix) to out.
 * Returns 0, or -1 for an unknown key. */
int record_field(const struct record *r, const char *prefix, const char *key,
		 char *out, size_t n);

/* Address n (1 or 2) of link index's /30 in pool ("A.B.C.D/LEN", LEN
 * 8-28), written to out (ADDR_MAX bytes). Returns NULL, or the reason the
 * pool is bad or too small for the index. */
const char *pool_addr(const char *pool, unsigned long index, int n, char *out);

/* Whether v is an IPv4 address in its one dotted-quad form (no leading
 * zeros, four parts): 1 or 0. */
int valid_addr(const char *v);

/* The longest lifetime a link or a key's MAX_LIFETIME may have: 3650
 * days (ten years), in seconds. Beyond it a value is a mistake. */
#define LIFETIME_MAX 315360000UL

/* Parses a duration: a number without leading zeros, 1 to 9 digits, and
 * one unit, s, m, h or d (90d, 12h, 30m), from 1 s to LIFETIME_MAX.
 * Writes the seconds to *secs. Returns NULL, or the reason it is bad. */
const char *duration_parse(const char *s, unsigned long *secs);

/* Parses an expiry: a duration from now (seconds since the epoch), or a
 * date YYYY-MM-DD (00:00 UTC of that day) after now and at most
 * LIFETIME_MAX ahead. Writes the time it expires to *at and the duration
 * (0 for a date) to *lifetime. Returns NULL, or the reason. */
const char *expiry_parse(const char *s, unsigned long now, unsigned long *at,
			 unsigned long *lifetime);

/* What a gateway refuses as a public raw port beyond the fixed rules of
 * publish_parse: its WireGuard port range (wg_low-wg_high; 0-0 none) and
 * a list of reserved ports (the ssh port, ports the host serves). */
struct publish_rules {
	unsigned long wg_low, wg_high;
	unsigned long reserved[64];
	size_t nreserved;
};

/* Parses a list of raw ports: "none", or up to PUBLISH_MAX entries
 * PROTO:PORT[:HOME_PORT] separated by single commas (PROTO tcp or udp,
 * lower case; ports 1-65535 without leading zeros; the home port
 * defaults to the public one), at most PUBLISH_TEXT_MAX characters.
 * Refused: a protocol and public port twice, public ports 80 and 443,
 * home ports 8080, 8081 and 8443 (the link client's own on the tunnel
 * address), and with rules (may be NULL) a public port in its WireGuard
 * range or reserved list. Writes the canonical form (every entry with
 * its home port, in the order given; "" for none) to out
 * (PUBLISH_TEXT_MAX + 1 bytes). Returns NULL, or the reason. */
const char *publish_parse(const char *s, const struct publish_rules *rules,
			  char *out);

/* Whether a gateway name prefix is valid: 1-6 of a-z, 0-9 (so
 * "<prefix>n65535" fits the kernel's 15-byte interface names). */
int prefix_valid(const char *prefix);

#endif
