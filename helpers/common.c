#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
/* The sanitizer builds (make check-build) run under sshd's forced command
 * too, where no ASAN_OPTIONS arrives: a report must never look like a
 * refusal (exit 1), so the exit codes test/run sets are built in. */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *__asan_default_options(void)
{
	return "exitcode=86:abort_on_error=0:detect_leaks=1";
}

const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1:exitcode=87";
}
#endif

const char *host_check(const char *in, size_t len, char *out)
{
	size_t i, label = 0;
	int labels = 1, letter_in_last = 0;

	if (len == 0)
		return "empty name";
	if (len > HOST_MAX)
		return "longer than 253 characters";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0)
				return "empty label";
			if (out[i - 1] == '-')
				return "label ends with '-'";
			labels++;
			label = 0;
			letter_in_last = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   c == '-') {
			if (c == '-' && label == 0)
				return "label starts with '-'";
			if (++label > LABEL_MAX)
				return "label longer than 63 characters";
			if (c >= 'a' && c <= 'z')
				letter_in_last = 1;
		} else {
			return "character outside a-z, 0-9, '-', '.'";
		}
		out[i] = (char)c;
	}
	out[len] = '\0';
	if (label == 0)
		return "empty label";
	if (out[len - 1] == '-')
		return "label ends with '-'";
	if (labels < 2)
		return "needs at least two labels";
	if (!letter_in_last)
		return "last label has no letter";
	return NULL;
}

const char *ip6_check(const char *in, size_t len, int public, char *out)
{
	static const unsigned char zero[16];
	unsigned char a[16];
	char copy[IP6_MAX + 1];
	size_t i;

	if (len == 0)
		return "empty address";
	if (len > IP6_MAX)
		return "longer than 45 characters";
	for (i = 0; i < len; i++) {
		char c = in[i];

		if (c == '%')
			return "a zone id (%...) names an interface of one "
			       "machine; not accepted";
		if (c == '[' || c == ']')
			return "brackets go around the address only before "
			       ":PORT, once";
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return "character outside 0-9, a-f, ':', '.'";
	}
	memcpy(copy, in, len);
	copy[len] = '\0';
	if (inet_pton(AF_INET6, copy, a) != 1)
		return "not an IPv6 address";
	if (!memcmp(a, zero, 16))
		return "the unspecified address";
	if (a[0] == 0xff)
		return "a multicast address";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "a link-local address (fe80::/10) needs a zone id";
	if (!memcmp(a, zero, 10) && a[10] == 0xff && a[11] == 0xff)
		return "an IPv4-mapped address (::ffff:a.b.c.d): write the "
		       "IPv4 address";
	if (!memcmp(a, zero, 15) && a[15] == 1) {
		if (public)
			return "the loopback address: another machine cannot "
			       "reach it";
	} else if (!memcmp(a, zero, 12)) {
		return "an IPv4-compatible address (::a.b.c.d, deprecated): "
		       "write the IPv4 address";
	}
	if (!inet_ntop(AF_INET6, a, out, IP6_MAX + 1))
		return "not an IPv6 address";
	return NULL;
}

const char *printable(const char *s, char *out, size_t n)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < n; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
	if (s[i] && n > 4)
		memcpy(out + n - 4, "...", 4);
	return out;
}

int parse_ulong(const char *s, unsigned long min, unsigned long max,
		unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	if (s[0] == '0' && s[1] != '\0')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int write_atomic(const char *dir, const char *name, const void *buf,
		 size_t len, mode_t mode)
{
	return write_atomic_via(NULL, dir, name, buf, len, mode);
}

int write_atomic_via(const char *tmpdir, const char *dir, const char *name,
		     const void *buf, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	const char *p = buf;
	int fd, saved, n;

	/* Beside the target, the temporary name adds 8 bytes to name; in a
	 * folder of its own it is fixed, so a 253-byte name stays within the
	 * 255-byte limit on file names. */
	if (tmpdir)
		n = snprintf(tmp, sizeof(tmp), "%s/.write.XXXXXX", tmpdir);
	else
		n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name);
	if (n < 0 || (size_t)n >= sizeof(tmp) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >=
		    sizeof(dst)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, dst) < 0)
		goto fail;
	return fsync_dir(dir);
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->cap - b->len <= n) {
		size_t cap = b->cap ? b->cap : 4096;
		char *d;

		while (cap - b->len <= n) {
			if (cap > SIZE_MAX / 2) {
				errno = ENOMEM;
				return -1;
			}
			cap *= 2;
		}
		d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	/* Every caller prints bounded, validated fields. */
	if (n < 0 || (size_t)n >= sizeof(small)) {
		errno = EOVERFLOW;
		return -1;
	}
	return buf_add(b, small, (size_t)n);
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int read_file(const char *path, size_t max, struct buf *b)
{
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	ssize_t n;
	int saved;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	b->len = 0;
	if (buf_add(b, "", 0) < 0)
		goto fail;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (b->len + (size_t)n > max) {
			errno = EFBIG;
			goto fail;
		}
		if (buf_add(b, chunk, (size_t)n) < 0)
			goto fail;
	}
	close(fd);
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
