/* Native tests of the record parser, duplicate handling and rendering. */
#define main routemap_main
#include "../../helpers/routemap.c"
#undef main
#include "check.h"

#define KEY_A "YCu3ZIu3EJNsSc5kBlDFZDK6NdK0U/wiNWiMCyjZwnA="
#define KEY_B "sJQMQ4f3kFh0u01GP/tQb8EFpKg8tNcBmR7wrcLVS1g="

static void record_text(char *out, size_t n, const char *name,
			unsigned idx, int wildcard)
{
	snprintf(out, n,
		 "NAME=%s\nINDEX=%u\nPORT=%u\nCLIENT_KEY=" KEY_A "\n"
		 "GATEWAY_KEY=" KEY_B "\nVETH_GATEWAY=198.18.0.%u\n"
		 "VETH_LINK=198.18.0.%u\nTUNNEL_GATEWAY=198.19.0.%u\n"
		 "TUNNEL_CLIENT=198.19.0.%u\nWILDCARD=%d\nMTU=1380\n"
		 "OWNER=alice\nCREATED=1700000000\n",
		 name, idx, 40000 + idx, idx * 4 + 1, idx * 4 + 2,
		 idx * 4 + 1, idx * 4 + 2, wildcard);
}

static const char *parse_text(char *text)
{
	static char why[160];
	struct record r;

	return record_parse(text, strlen(text), &r, NULL, why, sizeof(why)) ? why
								       : NULL;
}

TEST(a_complete_record_parses_and_unknown_keys_are_ignored)
{
	char text[1024], why[160];
	struct record r;

	record_text(text, sizeof(text), "app.example.com", 3, 1);
	strcat(text, "# a comment\nFUTURE_KEY=anything at all\n");
	check(!record_parse(text, strlen(text), &r, NULL, why, sizeof(why)));
	check(!strcmp(r.name, "app.example.com") && r.index == 3 &&
	      r.wildcard == 1 && !strcmp(r.veth_link, "198.18.0.14"));
}

TEST(corrupt_records_are_refused)
{
	static const struct {
		const char *from, *to;
	} edits[] = {
		{ "NAME=app.example.com", "NAME=app.example.com;" },
		{ "NAME=app.example.com", "NAME=App.example.com" },
		{ "NAME=app.example.com", "NAME=app.example.com }" },
		{ "INDEX=3", "INDEX=0" },
		{ "INDEX=3", "INDEX=3x" },
		{ "PORT=40003", "PORT=65536" },
		{ "VETH_LINK=198.18.0.14", "VETH_LINK=198.18.0.14;" },
		{ "VETH_LINK=198.18.0.14", "VETH_LINK=198.18.0.014" },
		{ "VETH_LINK=198.18.0.14", "VETH_LINK=unix:/x" },
		{ "WILDCARD=0", "WILDCARD=2" },
		{ "MTU=1380", "MTU=100" },
		{ "OWNER=alice", "OWNER=al ice" },
		{ "CLIENT_KEY=Y", "CLIENT_KEY=;" },
		{ "INDEX=3\n", "INDEX=3\nINDEX=4\n" },
		{ "NAME=", "VERSION=9\nNAME=" },
		{ "INDEX=3\n", "" },
		{ "INDEX=3\n", "index=3\n" },
		{ "INDEX=3\n", "INDEX 3\n" },
		{ "INDEX=3\n", "=3\n" },
	};
	char text[1024], out[1100];
	size_t i;

	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *at;

		record_text(text, sizeof(text), "app.example.com", 3, 0);
		at = strstr(text, edits[i].from);
		check(at != NULL);
		if (!at)
			continue;
		snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - text), text,
			 edits[i].to, at + strlen(edits[i].from));
		check(parse_text(out) != NULL);
	}
	record_text(text, sizeof(text), "app.example.com", 3, 0);
	text[strlen(text) - 1] = '\0'; /* truncated: no final newline */
	check(parse_text(text) != NULL);
}

TEST(duplicate_names_keep_the_lower_index)
{
	struct record rs[3];
	char text[1024], why[160];

	record_text(text, sizeof(text), "b.example.com", 7, 0);
	check(!record_parse(text, strlen(text), &rs[0], NULL, why, sizeof(why)));
	record_text(text, sizeof(text), "b.example.com", 2, 0);
	check(!record_parse(text, strlen(text), &rs[1], NULL, why, sizeof(why)));
	record_text(text, sizeof(text), "a.example.com", 2, 0);
	check(!record_parse(text, strlen(text), &rs[2], NULL, why, sizeof(why)));
	/* a.example.com sorts first and holds index 2, so b.example.com's
	 * index-2 record is left out and its index-7 record stays. */
	check(records_dedupe(rs, 3) == 2);
	check(!strcmp(rs[0].name, "a.example.com"));
	check(!strcmp(rs[1].name, "b.example.com") && rs[1].index == 7);
}

TEST(rendering_is_sorted_and_marks_wildcards)
{
	struct record rs[2];
	struct buf ups = { 0 }, hmap = { 0 }, smap = { 0 };
	char text[1024], why[160];

	record_text(text, sizeof(text), "b.example.com", 1, 1);
	check(!record_parse(text, strlen(text), &rs[0], NULL, why, sizeof(why)));
	record_text(text, sizeof(text), "a.example.com", 2, 0);
	check(!record_parse(text, strlen(text), &rs[1], NULL, why, sizeof(why)));
	check(records_dedupe(rs, 2) == 2);
	check(!render(rs, 2, &ups, &hmap, &smap));
	check(strstr(hmap.data, "\ta.example.com link_2;\n"
				"\t.b.example.com link_1;\n") != NULL);
	check(strstr(smap.data, "\ta.example.com 198.18.0.10:443;\n") != NULL);
	check(strstr(ups.data, "upstream link_1 {\n\tserver 198.18.0.6:80;\n") <
	      strstr(ups.data, "upstream link_2 {"));
	buf_free(&ups);
	buf_free(&hmap);
	buf_free(&smap);
}

int main(void)
{
	run(a_complete_record_parses_and_unknown_keys_are_ignored);
	run(corrupt_records_are_refused);
	run(duplicate_names_keep_the_lower_index);
	run(rendering_is_sorted_and_marks_wildcards);
	return check_failed_any();
}
