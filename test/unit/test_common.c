/* Native tests of the shared helpers: host names, numbers, atomic writes. */
#include "common.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *host(const char *in, char *out)
{
	return host_check(in, strlen(in), out);
}

TEST(valid_names_are_folded_to_lower_case)
{
	char out[HOST_MAX + 1];

	check(!host("App.Example.COM", out) && !strcmp(out, "app.example.com"));
	check(!host("xn--bcher-kva.example", out));
	check(!host("123.example.com", out));
	check(!host("a-b.c-d.example", out));
	check(!host("a.b1", out));
}

TEST(label_and_name_limits_are_exact)
{
	char in[300], out[HOST_MAX + 1];

	memset(in, 'a', 63);
	strcpy(in + 63, ".example");
	check(!host(in, out));
	memset(in, 'a', 64);
	strcpy(in + 64, ".example");
	check(host(in, out) != NULL);
	/* 253 characters: 3 labels of 63, one of 61, dots between. */
	memset(in, 'a', 253);
	in[63] = in[127] = in[191] = '.';
	in[253] = '\0';
	check(!host(in, out) && strlen(out) == 253);
	in[253] = 'a';
	in[254] = '\0';
	check(host(in, out) != NULL);
}

TEST(hostile_names_are_refused)
{
	static const char *bad[] = {
		"", ".", "example", "a..b.com", ".a.com", "a.com.", "-a.com",
		"a-.com", "a.-b.com", "a.b-.com", "a b.com", "a;b.com",
		"a}.com", "a{.com", "a\".com", "a'.com", "$a.com", "a\t.com",
		"a\n.com", "*.a.com", "a.*.com", "10.0.0.1", "a.123",
		"caf\xc3\xa9.com", "a_b.com", "a/b.com", "..", "a.com/",
		"default", "hostnames", "include", "a\\.com",
	};
	char out[HOST_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check(host(bad[i], out) != NULL);
	check(host_check("a\0b.com", 7, out) != NULL);
}

TEST(numbers_are_parsed_strictly)
{
	unsigned long v = 0;

	check(!parse_ulong("0", 0, 10, &v) && v == 0);
	check(!parse_ulong("65535", 1, 65535, &v) && v == 65535);
	check(parse_ulong("65536", 1, 65535, &v) < 0);
	check(parse_ulong("-1", 0, 65535, &v) < 0);
	check(parse_ulong("+1", 0, 65535, &v) < 0);
	check(parse_ulong(" 1", 0, 65535, &v) < 0);
	check(parse_ulong("1 ", 0, 65535, &v) < 0);
	check(parse_ulong("01", 0, 65535, &v) < 0);
	check(parse_ulong("", 0, 65535, &v) < 0);
	check(parse_ulong("99999999999999999999999", 0, 65535, &v) < 0);
}

TEST(atomic_write_replaces_the_file_with_its_mode)
{
	char dir[] = "/tmp/linkgate-test.XXXXXX", path[64];
	struct buf b = { 0 };
	struct stat st;

	check(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/f", dir);
	check(!write_atomic(dir, "f", "one\n", 4, 0600));
	check(!write_atomic(dir, "f", "two\n", 4, 0640));
	check(!read_file(path, 100, &b) && b.len == 4 &&
	      !strcmp(b.data, "two\n"));
	check(!stat(path, &st) && (st.st_mode & 0777) == 0640);
	check(read_file(path, 3, &b) < 0);
	buf_free(&b);
	unlink(path);
	check(!rmdir(dir)); /* no temp file was left beside it */
}

TEST(printable_hides_control_bytes_and_cuts_long_values)
{
	char out[8];

	check(!strcmp(printable("a\nb", out, sizeof(out)), "a?b"));
	check(!strcmp(printable("abcdefghij", out, sizeof(out)), "abcd..."));
}

static const char *ip6(const char *in, int public, char *out)
{
	return ip6_check(in, strlen(in), public, out);
}

TEST(ipv6_addresses_are_printed_in_canonical_form)
{
	char out[IP6_MAX + 1];

	check(!ip6("2001:DB8:0:0:0:0:0:1", 1, out) &&
	      !strcmp(out, "2001:db8::1"));
	check(!ip6("fd77::2", 1, out) && !strcmp(out, "fd77::2"));
	check(!ip6("::1", 0, out) && !strcmp(out, "::1"));
	check(!ip6("64:ff9b::192.0.2.1", 1, out) &&
	      !strcmp(out, "64:ff9b::c000:201"));
	check(!ip6("2001:0db8:0000:0000:0000:0000:0000:0001", 1, out) &&
	      !strcmp(out, "2001:db8::1"));
}

TEST(ipv6_forms_that_name_no_reachable_host_are_refused)
{
	char out[IP6_MAX + 1];
	const char *bad[] = { "", "::", "::1%lo", "fe80::1%eth0", "fe80::1",
			      "febf::1", "ff02::1", "::ffff:192.0.2.1",
			      "::ffff:c000:201", "::192.0.2.1", "[::1]",
			      "[2001:db8::1]", "2001:db8::1]", "2001:db8:::1",
			      "2001:db8::1::2", "1:2:3:4:5:6:7:8:9", "2001:db8::g",
			      "2001:db8::1 ", " 2001:db8::1", "192.0.2.1",
			      "2001:db8::1/64",
			      "0000:0000:0000:0000:0000:0000:0000:00001" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		check(ip6(bad[i], 0, out) != NULL);
	check(ip6("::1", 1, out) != NULL);
	/* A NUL inside the given length is not the end of the address. */
	check(ip6_check("::1\0x", 5, 0, out) != NULL);
}

int main(void)
{
	run(valid_names_are_folded_to_lower_case);
	run(label_and_name_limits_are_exact);
	run(hostile_names_are_refused);
	run(numbers_are_parsed_strictly);
	run(atomic_write_replaces_the_file_with_its_mode);
	run(printable_hides_control_bytes_and_cuts_long_values);
	run(ipv6_addresses_are_printed_in_canonical_form);
	run(ipv6_forms_that_name_no_reachable_host_are_refused);
	return check_failed_any();
}
