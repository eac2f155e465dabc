/* keys: WireGuard key pairs with libsodium (X25519), and strict parsing of
 * keys that arrive as input. */
#include "common.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_LEN 32
#define KEY_B64_LEN 44 /* base64 of 32 bytes, with its one '=' */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: keys genkey FILE   new private key into FILE (created\n"
		"                          0600, never overwritten); prints the\n"
		"                          public key\n"
		"       keys pubkey        private key on stdin, public key out\n"
		"       keys check [KEY]   validate KEY (or stdin): 44 characters\n"
		"                          of base64 that decode to 32 bytes\n"
		"\n"
		"Exit: 0 ok, 1 refused or failed, 2 usage.\n");
}

/* Decodes exactly one key: 44 base64 characters, canonical, 32 bytes. */
static const char *key_parse(const char *s, size_t len,
			     unsigned char key[KEY_LEN])
{
	char again[KEY_B64_LEN + 1];
	const char *end = NULL;
	size_t n = 0;

	if (len != KEY_B64_LEN)
		return "not 44 characters";
	if (memchr(s, '\0', len))
		return "contains a NUL byte";
	if (sodium_base642bin(key, KEY_LEN, s, len, NULL, &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + len || n != KEY_LEN)
		return "not base64 of 32 bytes";
	/* Reject the non-canonical spellings of the same 32 bytes. */
	sodium_bin2base64(again, sizeof(again), key, KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	if (memcmp(again, s, KEY_B64_LEN) != 0) {
		sodium_memzero(key, KEY_LEN);
		return "not canonical base64";
	}
	return NULL;
}

/* Reads a key from fd: the key, optionally followed by one newline. */
static const char *key_read(int fd, unsigned char key[KEY_LEN])
{
	char in[KEY_B64_LEN + 2];
	size_t len = 0;
	const char *why;

	while (len < sizeof(in)) {
		ssize_t n = read(fd, in + len, sizeof(in) - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return "cannot read standard input";
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == sizeof(in))
		return "not 44 characters";
	if (len == KEY_B64_LEN + 1) {
		if (in[KEY_B64_LEN] != '\n')
			return "not 44 characters";
		len--;
	}
	why = key_parse(in, len, key);
	sodium_memzero(in, sizeof(in));
	return why;
}

static void print_public(const unsigned char priv[KEY_LEN])
{
	unsigned char pub[KEY_LEN];
	char b64[KEY_B64_LEN + 1];

	if (crypto_scalarmult_curve25519_base(pub, priv) != 0)
		errx(EXIT_REFUSED, "cannot derive a public key");
	sodium_bin2base64(b64, sizeof(b64), pub, KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	printf("%s\n", b64);
}

static int cmd_genkey(const char *path)
{
	unsigned char priv[KEY_LEN];
	char b64[KEY_B64_LEN + 2];
	size_t len;
	int fd;

	umask(077);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		err(EXIT_REFUSED, "%s", path);
	randombytes_buf(priv, sizeof(priv));
	/* Clamp as WireGuard does, so the file matches `wg genkey`. */
	priv[0] &= 248;
	priv[31] = (unsigned char)((priv[31] & 127) | 64);
	sodium_bin2base64(b64, sizeof(b64), priv, KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	len = strlen(b64);
	b64[len++] = '\n';
	if (write(fd, b64, len) != (ssize_t)len || fsync(fd) < 0 ||
	    close(fd) < 0) {
		int saved = errno;

		unlink(path);
		errno = saved;
		err(EXIT_REFUSED, "%s", path);
	}
	sodium_memzero(b64, sizeof(b64));
	print_public(priv);
	sodium_memzero(priv, sizeof(priv));
	return 0;
}

static int cmd_pubkey(void)
{
	unsigned char priv[KEY_LEN];
	const char *why = key_read(STDIN_FILENO, priv);

	if (why)
		errx(EXIT_REFUSED, "bad private key: %s", why);
	print_public(priv);
	sodium_memzero(priv, sizeof(priv));
	return 0;
}

static int cmd_check(const char *arg)
{
	unsigned char key[KEY_LEN];
	const char *why;
	char shown[72];

	why = arg ? key_parse(arg, strlen(arg), key)
		  : key_read(STDIN_FILENO, key);
	if (why && arg)
		errx(EXIT_REFUSED, "bad key '%s': %s",
		     printable(arg, shown, sizeof(shown)), why);
	if (why)
		errx(EXIT_REFUSED, "bad key: %s", why);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (sodium_init() < 0)
		errx(EXIT_REFUSED, "libsodium failed to start");
	if (argc == 3 && !strcmp(argv[1], "genkey"))
		return cmd_genkey(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "pubkey"))
		return cmd_pubkey();
	if ((argc == 2 || argc == 3) && !strcmp(argv[1], "check"))
		return cmd_check(argc == 3 ? argv[2] : NULL);
	usage(stderr);
	return EXIT_USAGE;
}
