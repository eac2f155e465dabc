/* libFuzzer target: rendering a record set split from the input never
 * produces a map line other than "<tab>name value;". */
#define main routemap_main
#include "../../helpers/routemap.c"
#undef main

#include <stdint.h>

static void check_lines(const char *text)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');

		if (!nl)
			abort();
		if (*p == '\t' && nl[-1] != ';' && nl[-1] != '{')
			abort();
		if (memchr(p, '"', (size_t)(nl - p)) &&
		    strncmp(p, "\tdefault \"\";", 12) != 0)
			abort();
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record rs[4];
	struct buf ups = { 0 }, hmap = { 0 }, smap = { 0 };
	char *copy = malloc(size + 1), *p, why[160];
	size_t n = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* Records are separated by a form feed. */
	for (p = copy; p && n < 4;) {
		char *ff = memchr(p, '\f', size - (size_t)(p - copy));
		size_t len = ff ? (size_t)(ff - p) : strlen(p);

		if (ff)
			*ff = '\0';
		if (record_parse(p, len, &rs[n], NULL, why, sizeof(why)) == 0)
			n++;
		p = ff ? ff + 1 : NULL;
	}
	n = records_dedupe(rs, n);
	if (render(rs, n, &ups, &hmap, &smap) == 0) {
		check_lines(hmap.data);
		check_lines(smap.data);
		check_lines(ups.data);
	}
	buf_free(&ups);
	buf_free(&hmap);
	buf_free(&smap);
	free(copy);
	return 0;
}
