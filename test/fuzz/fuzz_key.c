/* libFuzzer target: the key parser accepts only canonical base64 of
 * exactly 32 bytes. */
#define main keys_main
#include "../../helpers/keys.c"
#undef main

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char key[KEY_LEN];
	char again[KEY_B64_LEN + 1];

	if (sodium_init() < 0)
		abort();
	if (key_parse((const char *)data, size, key) != NULL)
		return 0;
	sodium_bin2base64(again, sizeof(again), key, KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	if (size != KEY_B64_LEN || memcmp(again, data, size) != 0)
		abort();
	return 0;
}
