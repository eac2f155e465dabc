/* libFuzzer target: the route line check (route_line in routes.c, behind
 * "routes write" and "routes sync"). The input is split at its first three
 * spaces into NAME INDEX ADDRESS WILDCARD (the last field keeps any further
 * spaces); a line it accepts must be exactly "link_INDEX ADDRESS:443
 * WILDCARD\n" with the fields as given, each valid by the rules checked
 * here apart from the helper's own code: NAME a host name in lower case,
 * INDEX decimal 1-65535 without leading zeros, ADDRESS a dotted quad in
 * its usual form, WILDCARD 0 or 1. Anything else aborts. */
#define main routes_main
#include <arpa/inet.h>
#include "../../helpers/routes.c"
#undef main

/* Labels of 1-63 of a-z, 0-9, '-' (not at either end) joined by dots, at
 * least two, the last with a letter, at most 253 bytes in all. */
static int name_ok(const char *s)
{
	size_t len = strlen(s), labels = 0;
	const char *p = s;

	if (len == 0 || len > 253)
		return 0;
	for (;;) {
		size_t n = strcspn(p, ".");
		int letter = 0;
		size_t i;

		if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
			return 0;
		for (i = 0; i < n; i++) {
			char c = p[i];

			if (c >= 'a' && c <= 'z')
				letter = 1;
			else if (!(c >= '0' && c <= '9') && c != '-')
				return 0;
		}
		labels++;
		if (p[n] == '\0')
			return labels >= 2 && letter;
		p += n + 1;
	}
}

/* Decimal digits only, no leading zero, value in [lo, hi]. */
static int number_ok(const char *s, size_t len, unsigned long lo,
		     unsigned long hi)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= lo && v <= hi;
}

static int addr_ok(const char *s)
{
	int part;

	for (part = 0; part < 4; part++) {
		size_t n = strcspn(s, ".");

		if (!number_ok(s, n, 0, 255))
			return 0;
		s += n;
		if (part < 3) {
			if (*s != '.')
				return 0;
			s++;
		}
	}
	return *s == '\0';
}

/* An IPv6 address in the form inet_ntop prints (parsed and printed back):
 * nothing else may reach a route file's fourth field. */
static int addr6_ok(const char *s)
{
	unsigned char bin[16];
	char back[INET6_ADDRSTRLEN];

	return strlen(s) < sizeof(back) && inet_pton(AF_INET6, s, bin) == 1 &&
	       inet_ntop(AF_INET6, bin, back, sizeof(back)) && !strcmp(back, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *f[4], *p, *a6, out[128], want[700];
	int k;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	p = copy;
	for (k = 0; k < 3; k++) {
		char *sp = memchr(p, ' ', size - (size_t)(p - copy));

		if (!sp) {
			free(copy);
			return 0;
		}
		*sp = '\0';
		f[k] = p;
		p = sp + 1;
	}
	f[3] = p;
	/* A fifth field, after one more space: the IPv6 address. */
	a6 = strchr(p, ' ');
	if (a6)
		*a6++ = '\0';
	if (route_line(f[0], f[1], f[2], f[3], a6, out, sizeof(out)) == NULL) {
		if (!name_ok(f[0]) || !number_ok(f[1], strlen(f[1]), 1, 65535) ||
		    !addr_ok(f[2]) || (strcmp(f[3], "0") && strcmp(f[3], "1")) ||
		    (a6 && !addr6_ok(a6)))
			abort();
		snprintf(want, sizeof(want), "link_%s %s:443 %s%s%s%s\n", f[1],
			 f[2], f[3], a6 ? " [" : "", a6 ? a6 : "",
			 a6 ? "]:443" : "");
		if (strcmp(out, want))
			abort();
	}
	free(copy);
	return 0;
}
