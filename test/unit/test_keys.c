/* Native tests of the key parser and derivation, checked against wg(8). */
#define main keys_main
#include "../../helpers/keys.c"
#undef main
#include "check.h"

static const char *parse(const char *s, unsigned char key[KEY_LEN])
{
	return key_parse(s, strlen(s), key);
}

/* Runs `wg pubkey` on a private key; returns 0 and the output in pub. */
static int wg_pubkey(const char *priv, char pub[KEY_B64_LEN + 2])
{
	char cmd[128];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "echo '%s' | wg pubkey", priv);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(pub, 1, KEY_B64_LEN + 1, p);
	pub[n] = '\0';
	return pclose(p) == 0 && n == KEY_B64_LEN + 1 ? 0 : -1;
}

TEST(derived_public_keys_match_wg_pubkey_for_100_random_keys)
{
	unsigned char priv[KEY_LEN], pub[KEY_LEN];
	char b64[KEY_B64_LEN + 1], mine[KEY_B64_LEN + 2], theirs[KEY_B64_LEN + 2];
	int i;

	for (i = 0; i < 100; i++) {
		randombytes_buf(priv, sizeof(priv));
		sodium_bin2base64(b64, sizeof(b64), priv, KEY_LEN,
				  sodium_base64_VARIANT_ORIGINAL);
		check(crypto_scalarmult_curve25519_base(pub, priv) == 0);
		sodium_bin2base64(mine, sizeof(mine), pub, KEY_LEN,
				  sodium_base64_VARIANT_ORIGINAL);
		strcat(mine, "\n");
		check(!wg_pubkey(b64, theirs));
		check(!strcmp(mine, theirs));
	}
}

TEST(keys_from_wg_genkey_are_accepted)
{
	unsigned char key[KEY_LEN];
	char line[64];
	FILE *p = popen("for i in 1 2 3 4 5 6 7 8 9 10; do wg genkey; done",
			"r");
	int n = 0;

	check(p != NULL);
	while (p && fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		check(parse(line, key) == NULL);
		n++;
	}
	check(p && pclose(p) == 0);
	check(n == 10);
}

TEST(bad_keys_are_refused)
{
	static const char *bad[] = {
		"",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA =",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n=",
		"AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-A=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_A=",
	};
	unsigned char key[KEY_LEN];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check(parse(bad[i], key) != NULL);
	check(key_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\0A=", 44,
			key) != NULL);
	check(parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", key) ==
	      NULL);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	run(derived_public_keys_match_wg_pubkey_for_100_random_keys);
	run(keys_from_wg_genkey_are_accepted);
	run(bad_keys_are_refused);
	return check_failed_any();
}
