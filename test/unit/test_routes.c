/* Native tests of the route lines and upstream addresses routes.js reads. */
#define main routes_main
#include "../../helpers/routes.c"
#undef main
#include "check.h"

TEST(a_route_line_holds_the_upstream_the_address_and_the_flag)
{
	char out[128];

	check(!route_line("app.example.com", "7", "198.18.0.30", "1", NULL, out,
			  sizeof(out)));
	check(!strcmp(out, "link_7 198.18.0.30:443 1\n"));
}

TEST(bad_route_fields_are_refused)
{
	char out[128];

	check(route_line("../x", "7", "198.18.0.30", "0", NULL, out, sizeof(out)));
	check(route_line("App.example.com", "7", "198.18.0.30", "0", NULL, out,
			 sizeof(out)));
	check(route_line("a.example.com", "0", "198.18.0.30", "0", NULL, out,
			 sizeof(out)));
	check(route_line("a.example.com", "65536", "198.18.0.30", "0", NULL, out,
			 sizeof(out)));
	check(route_line("a.example.com", "7x", "198.18.0.30", "0", NULL, out,
			 sizeof(out)));
	check(route_line("a.example.com", "7", "198.18.0.300", "0", NULL, out,
			 sizeof(out)));
	check(route_line("a.example.com", "7", "198.18.0.030", "0", NULL, out,
			 sizeof(out)));
	check(route_line("a.example.com", "7", "198.18.0.30", "2", NULL, out,
			 sizeof(out)));
}

TEST(a_link_whose_home_speaks_ipv6_has_its_ipv6_address_in_the_route)
{
	char out[128];

	check(!route_line("app.example.com", "7", "198.18.0.30", "1",
			  "fd12:3456:789a:7::2", out, sizeof(out)));
	check(!strcmp(out, "link_7 198.18.0.30:443 1 [fd12:3456:789a:7::2]:443\n"));
}

TEST(a_bad_or_non_canonical_ipv6_route_address_is_refused)
{
	char out[128];

	check(route_line("a.example.com", "7", "198.18.0.30", "0",
			 "fd12:3456:789a:7:0::2", out, sizeof(out)));
	check(route_line("a.example.com", "7", "198.18.0.30", "0",
			 "FD12::2", out, sizeof(out)));
	check(route_line("a.example.com", "7", "198.18.0.30", "0",
			 "[fd12::2]", out, sizeof(out)));
	check(route_line("a.example.com", "7", "198.18.0.30", "0",
			 "fe80::1%eth0", out, sizeof(out)));
	check(route_line("a.example.com", "7", "198.18.0.30", "0",
			 "198.18.0.30", out, sizeof(out)));
	check(route_line("a.example.com", "7", "198.18.0.30", "0", "", out,
			 sizeof(out)));
}

/* The same address gateway/lib.sh's pool_addr gives the link's veth end
 * (POOL base + INDEX * 4 + 2). */
TEST(the_upstream_address_is_the_link_end_of_the_index_s_veth)
{
	char a[ADDR_MAX];

	check(!veth_link_addr("198.18.0.0/16", 1, a, sizeof(a)));
	check(!strcmp(a, "198.18.0.6"));
	check(!veth_link_addr("198.18.0.0/16", 16383, a, sizeof(a)));
	check(!strcmp(a, "198.18.255.254"));
	check(!veth_link_addr("10.200.7.9/16", 64, a, sizeof(a)));
	check(!strcmp(a, "10.200.1.2"));
	check(veth_link_addr("198.18.0.0/16", 16384, a, sizeof(a)));
	check(veth_link_addr("198.18.0.0/30", 1, a, sizeof(a)));
	check(veth_link_addr("198.18.0.0", 1, a, sizeof(a)));
	check(veth_link_addr("198.18.0.0/", 1, a, sizeof(a)));
}

TEST(a_route_is_replaced_whole_and_compared)
{
	char dir[] = "/tmp/test_routes.XXXXXX", path[PATH_MAX];
	struct buf b = { 0 };

	check(mkdtemp(dir) != NULL);
	check(!route_put(dir, "a.example.com", "link_1 198.18.0.6:443 0\n"));
	check(route_same(dir, "a.example.com", "link_1 198.18.0.6:443 0\n"));
	check(!route_same(dir, "a.example.com", "link_2 198.18.0.10:443 0\n"));
	check(!route_put(dir, "a.example.com", "link_2 198.18.0.10:443 0\n"));
	snprintf(path, sizeof(path), "%s/a.example.com", dir);
	check(!read_file(path, 256, &b));
	check(!strcmp(b.data, "link_2 198.18.0.10:443 0\n"));
	buf_free(&b);
	unlink(path);
	rmdir(dir);
}

/* A route file of the right content that nobody may read (a chmod by
 * hand) is not the same: sync writes it again with mode 0644. */
TEST(a_route_file_of_another_mode_differs)
{
	char dir[] = "/tmp/test_routes.XXXXXX", path[PATH_MAX];
	struct stat st;

	check(mkdtemp(dir) != NULL);
	check(!route_put(dir, "a.example.com", "link_1 198.18.0.6:443 0\n"));
	snprintf(path, sizeof(path), "%s/a.example.com", dir);
	check(!chmod(path, 0600));
	check(!route_same(dir, "a.example.com", "link_1 198.18.0.6:443 0\n"));
	check(!route_put(dir, "a.example.com", "link_1 198.18.0.6:443 0\n"));
	check(!stat(path, &st) && (st.st_mode & 07777) == 0644);
	check(route_same(dir, "a.example.com", "link_1 198.18.0.6:443 0\n"));
	unlink(path);
	rmdir(dir);
}

/* 253 bytes plus a temporary suffix would pass the 255-byte name limit. */
TEST(a_253_character_name_gets_its_route)
{
	char dir[] = "/tmp/test_routes.XXXXXX", name[HOST_MAX + 1], out[128];
	char path[PATH_MAX];

	memset(name, 'a', 253);
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	check(mkdtemp(dir) != NULL);
	check(!route_line(name, "1", "198.18.0.6", "0", NULL, out, sizeof(out)));
	check(!route_put(dir, name, out));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	check(access(path, R_OK) == 0);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	run(a_route_line_holds_the_upstream_the_address_and_the_flag);
	run(bad_route_fields_are_refused);
	run(a_link_whose_home_speaks_ipv6_has_its_ipv6_address_in_the_route);
	run(a_bad_or_non_canonical_ipv6_route_address_is_refused);
	run(the_upstream_address_is_the_link_end_of_the_index_s_veth);
	run(a_route_is_replaced_whole_and_compared);
	run(a_route_file_of_another_mode_differs);
	run(a_253_character_name_gets_its_route);
	return check_failed_any();
}
