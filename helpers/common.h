/* Shared bits of the helpers: exit codes, host-name validation, number
 * parsing and atomic file replacement. */
#ifndef LINKGATE_COMMON_H
#define LINKGATE_COMMON_H

#include <stddef.h>
#include <sys/types.h>

/* The exit-code table every helper and script uses (STYLE.md). */
enum {
	EXIT_REFUSED = 1,	/* bad input, or the operation failed */
	EXIT_USAGE = 2,		/* wrong arguments */
	EXIT_NORESOURCE = 3,	/* port range or index pool exhausted */
	EXIT_LOCKED = 75	/* lock not obtained in time */
};

#define HOST_MAX 253
#define LABEL_MAX 63

/* Checks a host name and writes its lower-case form to out (at least
 * HOST_MAX + 1 bytes). len is the input length, so embedded NULs are seen.
 * Returns NULL when valid, else a short reason. */
const char *host_check(const char *in, size_t len, char *out);

/* An IPv6 address a link may use as an endpoint or service, without
 * brackets: at most 45 characters (INET6_ADDRSTRLEN less its NUL) that
 * inet_pton(3) takes. Refused: a zone id ("%eth0", a local interface:
 * meaningless to another machine), the unspecified address, multicast,
 * link-local (fe80::/10, usable only with a zone), IPv4-mapped and
 * IPv4-compatible addresses (::ffff:a.b.c.d, ::a.b.c.d: written as IPv4
 * everywhere else), and with public set the loopback ::1 (another
 * machine cannot reach a gateway at its own loopback). Writes the
 * canonical form (RFC 5952, inet_ntop: lower case, longest zero run as
 * "::") to out (IP6_MAX + 1 bytes). Returns NULL, or why not. */
#define IP6_MAX 45
const char *ip6_check(const char *in, size_t len, int public, char *out);

/* Parses a decimal number in [min, max] with nothing else around it.
 * Returns 0 on success, -1 otherwise. */
int parse_ulong(const char *s, unsigned long min, unsigned long max,
		unsigned long *out);

/* Replaces dir/name with buf: temp file beside it, write, fsync, rename,
 * fsync of dir. Returns 0, or -1 with errno set. */
int write_atomic(const char *dir, const char *name, const void *buf,
		 size_t len, mode_t mode);

/* The same with the temporary file in tmpdir (on dir's file system). */
int write_atomic_via(const char *tmpdir, const char *dir, const char *name,
		     const void *buf, size_t len, mode_t mode);

/* Copies s into out (size n) for an error message: bytes outside printable
 * ASCII become '?', and long values are cut with "...". */
const char *printable(const char *s, char *out, size_t n);

/* A growable byte buffer for rendering and file reading. */
struct buf {
	char *data;
	size_t len, cap;
};

int buf_add(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

/* Reads a whole regular file of at most max bytes into b (NUL-terminated,
 * len excludes the NUL). Returns 0, or -1 with errno set (EFBIG if large). */
int read_file(const char *path, size_t max, struct buf *b);

#endif
