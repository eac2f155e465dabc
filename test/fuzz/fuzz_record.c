/* libFuzzer target: the record parser never accepts a record whose name
 * or veth address could carry nginx syntax or split a "routes sync" line,
 * and what it accepts is written back (kept unknown keys included) as a
 * record that parses to the same fields. */
#include "linkrec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), why[160];
	struct record r, again;
	struct buf extra = { 0 }, extra2 = { 0 }, out = { 0 };

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (record_parse(copy, size, &r, &extra, why, sizeof(why)) == 0) {
		if (strpbrk(r.name, " ;{}\"'$\\\n\t") ||
		    strpbrk(r.veth_link, " ;{}"))
			abort();
		if (record_format(&r, &extra, &out) < 0)
			abort();
		if (record_parse(out.data, out.len, &again, &extra2, why,
				 sizeof(why)) < 0)
			abort();
		again.version = r.version;
		again.set = r.set;
		if (memcmp(&again, &r, sizeof(r)) ||
		    extra.len != extra2.len ||
		    (extra.len && memcmp(extra.data, extra2.data, extra.len)))
			abort();
	}
	buf_free(&extra);
	buf_free(&extra2);
	buf_free(&out);
	free(copy);
	return 0;
}
