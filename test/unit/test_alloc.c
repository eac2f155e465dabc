/* Native tests of the allocator's state parser, serializer and search. */
#define main alloc_main
#include "../../helpers/alloc.c"
#undef main
#include "check.h"

static int parse(const char *text, struct state *st)
{
	char buf[1024], why[128];

	snprintf(buf, sizeof(buf), "%s", text);
	return state_parse(buf, strlen(buf), st, why, sizeof(why));
}

TEST(a_well_formed_state_parses)
{
	struct state st;

	check(!parse(STATE_HEADER "a.example\t40000\t1\nb.example\t40001\t2\n",
		     &st));
	check(st.n == 2 && st.r[1].port == 40001 && st.r[1].index == 2);
	free(st.r);
	check(!parse(STATE_HEADER, &st) && st.n == 0);
}

TEST(corrupt_states_are_refused)
{
	static const char *bad[] = {
		"",
		"linkgate-alloc 2\n",
		STATE_HEADER "a.example\t40000\t1",
		STATE_HEADER "a.example\t40000\n",
		STATE_HEADER "a.example\t40000\t1\t9\n",
		STATE_HEADER "A.example\t40000\t1\n",
		STATE_HEADER "a.example\t0\t1\n",
		STATE_HEADER "a.example\t40000\t0\n",
		STATE_HEADER "a.example\t65536\t1\n",
		STATE_HEADER "a.example\t4x\t1\n",
		STATE_HEADER "a.example\t40000\t1\na.example\t40001\t2\n",
		STATE_HEADER "a.example\t40000\t1\nb.example\t40000\t2\n",
		STATE_HEADER "a.example\t40000\t1\nb.example\t40001\t1\n",
		STATE_HEADER "\n",
	};
	struct state st;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &st);

		check(r < 0);
		if (r < 0)
			check(st.r == NULL && st.n == 0);
	}
}

TEST(serialized_state_parses_back_sorted_by_index)
{
	struct resv r[2] = { { "b.example", 40001, 2 },
			     { "a.example", 40000, 1 } };
	struct state st = { .r = r, .n = 2 }, back;
	struct buf b = { 0 };
	char why[128];

	check(!state_serialize(&st, &b));
	check(!strcmp(b.data, STATE_HEADER "a.example\t40000\t1\n"
					   "b.example\t40001\t2\n"));
	check(!state_parse(b.data, b.len, &back, why, sizeof(why)));
	check(back.n == 2 && !strcmp(back.r[0].name, "a.example"));
	free(back.r);
	buf_free(&b);
}

TEST(port_ranges_parse_strictly)
{
	unsigned long lo, hi;

	check(!parse_range("40000-40009", &lo, &hi) && lo == 40000 &&
	      hi == 40009);
	check(!parse_range("32768\t60999", &lo, &hi) && hi == 60999);
	check(parse_range("40009-40000", &lo, &hi) < 0);
	check(parse_range("0-10", &lo, &hi) < 0);
	check(parse_range("1-65536", &lo, &hi) < 0);
	check(parse_range("40000", &lo, &hi) < 0);
	check(parse_range("-", &lo, &hi) < 0);
	check(!kernel_range(&lo, &hi) && lo <= hi);
}

/* 10,000 reservations parse; a repeated name, port or index anywhere
 * among them is refused. */
TEST(a_state_with_a_repeated_name_port_or_index_is_refused)
{
	static const char *twins[] = { "z.example.com\t7\t5000\n",
				       "z.example.com\t20500\t20500\n",
				       "a9.example.com\t7\t20500\n" };
	struct buf b = { 0 };
	struct state st;
	char why[128];
	size_t i, k;

	for (k = 0; k <= 3; k++) {
		buf_free(&b);
		check(!buf_printf(&b, "%s", STATE_HEADER));
		for (i = 1; i <= 10000; i++)
			check(!buf_printf(&b, "a%zu.example.com\t%zu\t%zu\n", i,
					  20000 + i, i));
		if (k < 3)
			check(!buf_printf(&b, "%s", twins[k]));
		if (k < 3) {
			check(state_parse(b.data, b.len, &st, why,
					  sizeof(why)) < 0);
		} else {
			check(!state_parse(b.data, b.len, &st, why,
					   sizeof(why)));
			check(st.n == 10000 && index_taken(&st, 10000) &&
			      !index_taken(&st, 10001));
			free(st.r);
		}
	}
	buf_free(&b);
}

TEST(a_bound_udp_port_counts_as_taken)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	struct state st;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&st, 0, sizeof(st));

	check(fd >= 0);
	check(!bind(fd, (struct sockaddr *)&a, sizeof(a)));
	check(!getsockname(fd, (struct sockaddr *)&a, &len));
	check(port_taken(&st, ntohs(a.sin_port)));
	close(fd);
	check(!port_taken(&st, ntohs(a.sin_port)));
}

int main(void)
{
	run(a_well_formed_state_parses);
	run(corrupt_states_are_refused);
	run(serialized_state_parses_back_sorted_by_index);
	run(port_ranges_parse_strictly);
	run(a_state_with_a_repeated_name_port_or_index_is_refused);
	run(a_bound_udp_port_counts_as_taken);
	return check_failed_any();
}
