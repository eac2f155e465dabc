/* libFuzzer target: the record parser never accepts a record whose
 * rendered map lines could carry nginx syntax. */
#define main routemap_main
#include "../../helpers/routemap.c"
#undef main

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), why[160];
	struct record r;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (record_parse(copy, size, &r, why, sizeof(why)) == 0 &&
	    (strpbrk(r.name, " ;{}\"'$\\\n\t") || strpbrk(r.veth_link, " ;{}")))
		abort();
	free(copy);
	return 0;
}
