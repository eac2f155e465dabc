/* libFuzzer target: the IPv6 validator never accepts an address with a
 * zone id, brackets or a byte outside hex digits, ':' and '.'; what it
 * prints is canonical (validating it again gives itself) and never runs
 * past its output. */
#include "common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[IP6_MAX + 1], again[IP6_MAX + 1];
	size_t i;

	if (ip6_check((const char *)data, size, 0, out) != NULL)
		return 0;
	if (size > IP6_MAX || strlen(out) > IP6_MAX)
		abort();
	for (i = 0; i < size; i++)
		if (!strchr("0123456789abcdefABCDEF:.", data[i]) || data[i] == 0)
			abort();
	if (ip6_check(out, strlen(out), 0, again) != NULL || strcmp(out, again))
		abort();
	return 0;
}
