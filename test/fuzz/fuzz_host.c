/* libFuzzer target: the host-name validator never accepts a name with a
 * byte outside [a-z0-9.-] and never writes past its output. */
#include "common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[HOST_MAX + 1];
	size_t i;

	if (host_check((const char *)data, size, out) != NULL)
		return 0;
	if (strlen(out) != size || size > HOST_MAX)
		abort();
	for (i = 0; i < size; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789.-", out[i]) ||
		    out[i] == '\0')
			abort();
	return 0;
}
