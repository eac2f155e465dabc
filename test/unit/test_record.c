/* Native tests of the link record: versions, defaults, unknown keys,
 * corrupt records, the format written, derived addresses, and the record
 * command's set. */
#define main record_main
#include "../../helpers/record.c"
#undef main
#include "check.h"

#include <sys/stat.h>

#define KEY_A "YCu3ZIu3EJNsSc5kBlDFZDK6NdK0U/wiNWiMCyjZwnA="
#define KEY_B "sJQMQ4f3kFh0u01GP/tQb8EFpKg8tNcBmR7wrcLVS1g="

/* A version 1 record exactly as linkgate's record_write wrote it. */
static const char v1[] =
	"NAME=app.example.com\nINDEX=3\nPORT=40003\nCLIENT_KEY=" KEY_A "\n"
	"GATEWAY_KEY=" KEY_B "\nVETH_GATEWAY=198.18.0.13\n"
	"VETH_LINK=198.18.0.14\nTUNNEL_GATEWAY=198.19.0.13\n"
	"TUNNEL_CLIENT=198.19.0.14\nWILDCARD=1\nMTU=1420\nOWNER=alice\n"
	"CREATED=1700000000\n";

static const char v2_min[] =
	"VERSION=2\nNAME=app.example.com\nINDEX=3\nPORT=40003\n"
	"CLIENT_KEY=" KEY_A "\nGATEWAY_KEY=" KEY_B "\n"
	"VETH_GATEWAY_ADDR=198.18.0.13\nVETH_LINK_ADDR=198.18.0.14\n"
	"TUNNEL_GATEWAY=198.19.0.13\nTUNNEL_CLIENT=198.19.0.14\n";

static int parse(const char *text, struct record *r, struct buf *extra,
		 char *why)
{
	char copy[4096];

	snprintf(copy, sizeof(copy), "%s", text);
	return record_parse(copy, strlen(copy), r, extra, why, 160);
}

TEST(a_version_1_record_reads_with_its_old_key_names)
{
	struct record r;
	char why[160];

	check(!parse(v1, &r, NULL, why));
	check(r.version == 1 && r.index == 3 && r.wildcard == 1 &&
	      r.mtu == 1420 && !strcmp(r.veth_link, "198.18.0.14") &&
	      !strcmp(r.veth_gateway, "198.18.0.13") &&
	      !strcmp(r.owner, "alice"));
}

TEST(a_version_2_record_does_not_take_the_old_key_names)
{
	struct record r;
	struct buf extra = { 0 };
	char text[2048], why[160];

	/* In version 2 VETH_LINK is no field: it is kept as an unknown key,
	 * and VETH_LINK_ADDR is then missing. */
	snprintf(text, sizeof(text), "VERSION=2\n%s", v1);
	check(parse(text, &r, &extra, why) == -1);
	check(strstr(why, "VETH_GATEWAY_ADDR is missing") != NULL);
	buf_free(&extra);
}

TEST(optional_fields_take_their_defaults)
{
	struct record r;
	char why[160];

	check(!parse(v2_min, &r, NULL, why));
	check(r.version == 2 && r.wildcard == 0 && r.mtu == 1380 &&
	      !strcmp(r.owner, "root") && r.created == 0);
}

TEST(an_empty_optional_value_is_refused_not_defaulted)
{
	struct record r;
	char text[2048], why[160];

	snprintf(text, sizeof(text), "%sMTU=\n", v2_min);
	check(parse(text, &r, NULL, why) == -1 && strstr(why, "MTU"));
	snprintf(text, sizeof(text), "%sOWNER=\n", v2_min);
	check(parse(text, &r, NULL, why) == -1 && strstr(why, "OWNER"));
}

TEST(unknown_keys_are_kept_in_order_and_rewritten)
{
	struct record r, again;
	struct buf extra = { 0 }, out = { 0 }, extra2 = { 0 };
	char text[2048], why[160];

	snprintf(text, sizeof(text), "%sFUTURE_B=2\n# note\nFUTURE_A=x y=z\n"
		 "EMPTY=\n", v2_min);
	check(!parse(text, &r, &extra, why));
	check(!strcmp(extra.data, "FUTURE_B=2\nFUTURE_A=x y=z\nEMPTY=\n"));
	check(!record_format(&r, &extra, &out));
	check(strstr(out.data, "PUBLISH=\nHOME6=0\nPREV_HOME6=0\nFUTURE_B=2\n"
			       "FUTURE_A=x y=z\n"
			       "EMPTY=\n") != NULL);
	check(!parse(out.data, &again, &extra2, why));
	check(!strcmp(extra2.data, extra.data));
	buf_free(&extra);
	buf_free(&extra2);
	buf_free(&out);
}

TEST(raw_port_lists_are_parsed_strictly_into_one_canonical_form)
{
	struct publish_rules rules = { .wg_low = 47000, .wg_high = 47099,
				       .reserved = { 22 }, .nreserved = 1 };
	struct record r;
	char out[PUBLISH_TEXT_MAX + 1], why[160], text[2048];
	static const char *const bad[] = {
		"", "tcp:0", "tcp:65536", "tcp:1-2", "tcp:01", "TCP:1", "sctp:1",
		"tcp:1,tcp:1", "tcp:80", "udp:443", "tcp:22", "udp:47000",
		"tcp:47099", "tcp:1:8080", "tcp:1:8443", "tcp:1:8081", "tcp:1:",
		"tcp::1", ",tcp:1", "tcp:1,", "tcp:1,,udp:1", "tcp:1 ", "tcp:1:2:3",
	};
	size_t i;

	check(!publish_parse("tcp:2222:22,udp:27015", &rules, out));
	check(!strcmp(out, "tcp:2222:22,udp:27015:27015"));
	check(!publish_parse("tcp:53,udp:53", &rules, out));
	check(!publish_parse("none", &rules, out) && out[0] == '\0');
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check(publish_parse(bad[i], &rules, out) != NULL);
	/* 16 entries at most, each canonical one fits the record. */
	check(!publish_parse("udp:60001,udp:60002,udp:60003,udp:60004,"
			     "udp:60005,udp:60006,udp:60007,udp:60008,"
			     "udp:60009,udp:60010,udp:60011,udp:60012,"
			     "udp:60013,udp:60014,udp:60015,udp:60016",
			     NULL, out));
	check(strlen(out) == 16 * 15 + 15);
	check(publish_parse("udp:1,udp:2,udp:3,udp:4,udp:5,udp:6,udp:7,udp:8,"
			    "udp:9,udp:10,udp:11,udp:12,udp:13,udp:14,udp:15,"
			    "udp:16,udp:17", NULL, out) != NULL);
	/* In a record: only the canonical form. */
	snprintf(text, sizeof(text), "%sPUBLISH=tcp:2222:22\n", v2_min);
	check(!parse(text, &r, NULL, why) && !strcmp(r.publish, "tcp:2222:22"));
	snprintf(text, sizeof(text), "%sPUBLISH=tcp:2222\n", v2_min);
	check(parse(text, &r, NULL, why) == -1 && strstr(why, "PUBLISH"));
	snprintf(text, sizeof(text), "%sPUBLISH=none\n", v2_min);
	check(parse(text, &r, NULL, why) == -1);
}

TEST(a_version_1_record_is_written_as_version_2)
{
	struct record r, again;
	struct buf out = { 0 };
	char why[160];

	check(!parse(v1, &r, NULL, why));
	check(!record_format(&r, NULL, &out));
	check(!strncmp(out.data, "VERSION=2\nNAME=app.example.com\n", 31));
	check(strstr(out.data, "\nVETH_LINK_ADDR=198.18.0.14\n") != NULL);
	check(strstr(out.data, "\nVETH_LINK=") == NULL);
	check(!parse(out.data, &again, NULL, why));
	check(again.version == 2 && again.mtu == 1420 && again.wildcard == 1);
	buf_free(&out);
}

TEST(newer_or_bad_versions_are_refused)
{
	struct record r;
	char text[2048], why[160];

	snprintf(text, sizeof(text), "%s", v2_min);
	memcpy(text, "VERSION=3", 9);
	check(parse(text, &r, NULL, why) == -1 && strstr(why, "newer"));
	memcpy(text, "VERSION=0", 9);
	check(parse(text, &r, NULL, why) == -1);
	snprintf(text, sizeof(text), "%sVERSION=2\n", v2_min);
	check(parse(text, &r, NULL, why) == -1 && strstr(why, "twice"));
}

TEST(corrupt_records_are_refused)
{
	/* One edit of v1 each: a bad value of each kind, a key twice, a
	 * required key missing, a key in lower case, a line without '=' or
	 * without a key. */
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
		{ "WILDCARD=1", "WILDCARD=2" },
		{ "MTU=1420", "MTU=100" },
		{ "OWNER=alice", "OWNER=al ice" },
		{ "CLIENT_KEY=Y", "CLIENT_KEY=;" },
		{ "INDEX=3\n", "INDEX=3\nINDEX=4\n" },
		{ "INDEX=3\n", "" },
		{ "INDEX=3\n", "index=3\n" },
		{ "INDEX=3\n", "INDEX 3\n" },
		{ "INDEX=3\n", "=3\n" },
	};
	struct record r;
	char text[2048], why[160];
	size_t i;

	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *at = strstr(v1, edits[i].from);

		check(at != NULL);
		if (!at)
			continue;
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - v1), v1,
			 edits[i].to, at + strlen(edits[i].from));
		check(parse(text, &r, NULL, why) == -1);
	}
	check(!parse(v1, &r, NULL, why));
	snprintf(text, sizeof(text), "%s", v1);
	text[strlen(text) - 1] = '\0'; /* no final newline */
	check(parse(text, &r, NULL, why) == -1 && strstr(why, "truncated"));
}

TEST(show_prints_every_field_and_the_derived_names)
{
	struct record r;
	struct buf out = { 0 };
	char why[160], v[64];

	check(!parse(v1, &r, NULL, why));
	check(!record_show(&r, "lg", &out));
	check(strstr(out.data, "VERSION=1\nNAME=app.example.com\n") == out.data);
	check(strstr(out.data, "\nVETH_LINK_ADDR=198.18.0.14\n") != NULL);
	check(strstr(out.data, "\nNS=lgn3\nVETH_GW=lgg3\nVETH_LINK=lgl3\n"
			       "WG=lgw3\n") != NULL);
	check(!record_field(&r, "lg", "WG", v, sizeof(v)) &&
	      !strcmp(v, "lgw3"));
	check(record_field(&r, NULL, "WG", v, sizeof(v)) == -1);
	check(record_field(&r, "lg", "NOPE", v, sizeof(v)) == -1);
	buf_free(&out);
}

TEST(pool_addresses_follow_the_index)
{
	char a[ADDR_MAX];

	check(!pool_addr("198.18.0.0/16", 1, 1, a) && !strcmp(a, "198.18.0.5"));
	check(!pool_addr("198.18.0.0/16", 3, 2, a) && !strcmp(a, "198.18.0.14"));
	check(!pool_addr("198.18.0.0/16", 64, 1, a) && !strcmp(a, "198.18.1.1"));
	/* The pool's own address bits below its length are ignored. */
	check(!pool_addr("10.1.2.3/24", 2, 2, a) && !strcmp(a, "10.1.2.10"));
	check(!pool_addr("10.0.0.0/28", 3, 2, a) && !strcmp(a, "10.0.0.14"));
	check(pool_addr("10.0.0.0/28", 4, 1, a) != NULL);
	check(pool_addr("10.0.0.0/29", 1, 1, a) != NULL);
	check(pool_addr("10.0.0.0/30", 1, 1, a) != NULL);
	check(pool_addr("10.0.0.0", 1, 1, a) != NULL);
	check(pool_addr("10.0.0.01/16", 1, 1, a) != NULL);
	check(pool_addr("10.0.0.0/16", 0, 1, a) != NULL);
	check(pool_addr("10.0.0.0/16", 1, 3, a) != NULL);
}

TEST(set_creates_updates_and_keeps_unknown_keys)
{
	char dir[] = "/tmp/test_record.XXXXXX", path[256], *args[12];
	struct buf b = { 0 };
	struct record r;
	char why[160];
	FILE *f;

	check(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/app.example.com", dir);
	f = fopen(path, "w");
	check(f != NULL);
	if (!f)
		return;
	fprintf(f, "%sFUTURE=kept\n", v1);
	fclose(f);
	args[0] = "MTU=1500";
	check(cmd_set(NULL, path, 1, args) == 0);
	check(read_file(path, RECORD_MAX, &b) == 0);
	check(!strncmp(b.data, "VERSION=2\n", 10));
	check(strstr(b.data, "\nMTU=1500\n") && strstr(b.data, "\nFUTURE=kept\n"));
	check(!record_parse(b.data, b.len, &r, NULL, why, sizeof(why)) &&
	      r.wildcard == 1 && !strcmp(r.owner, "alice"));
	check(unlink(path) == 0);
	check(rmdir(dir) == 0);
	buf_free(&b);
}

TEST(durations_take_one_unit_and_stay_within_ten_years)
{
	unsigned long v = 7;
	static const char *const bad[] = {
		"", "0", "0d", "00d", "01d", "-1d", "+1d", "1", "d", "1w", "1D",
		"1.5d", "1d2h", " 1d", "1d ", "3651d", "87601h", "5256001m",
		"315360001s", "9999999999d", "999999999d", "1e3s", "0x10s",
		"1dd", "1\nd",
	};
	size_t i;

	check(!duration_parse("90d", &v) && v == 90UL * 86400);
	check(!duration_parse("12h", &v) && v == 43200);
	check(!duration_parse("30m", &v) && v == 1800);
	check(!duration_parse("1s", &v) && v == 1);
	check(!duration_parse("3650d", &v) && v == LIFETIME_MAX);
	check(!duration_parse("315360000s", &v) && v == LIFETIME_MAX);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		check(duration_parse(bad[i], &v) != NULL && v == 7);
	}
}

TEST(an_expiry_is_a_duration_from_now_or_a_future_date)
{
	/* 2026-12-01 00:00:00 UTC */
	const unsigned long now = 1796083200UL;
	unsigned long at = 0, life = 1;

	check(!expiry_parse("90d", now, &at, &life) &&
	      at == now + 90UL * 86400 && life == 90UL * 86400);
	check(!expiry_parse("2026-12-02", now, &at, &life) &&
	      at == now + 86400 && life == 0);
	check(!expiry_parse("2028-02-29", now, &at, &life));
	check(expiry_parse("2027-02-29", now, &at, &life) != NULL);
	check(expiry_parse("2026-13-01", now, &at, &life) != NULL);
	check(expiry_parse("2026-12-00", now, &at, &life) != NULL);
	check(expiry_parse("2026-12-01", now, &at, &life) != NULL);
	check(expiry_parse("2020-01-01", now, &at, &life) != NULL);
	check(expiry_parse("2040-01-01", now, &at, &life) != NULL);
	check(expiry_parse("2026-1-01", now, &at, &life) != NULL);
	check(expiry_parse("2026-12-01T00", now, &at, &life) != NULL);
	check(expiry_parse("-5d", now, &at, &life) != NULL);
	check(expiry_parse("0", now, &at, &life) != NULL);
}

TEST(expiry_fields_default_to_never_and_are_checked)
{
	struct record r;
	char text[2048], why[160];

	check(!parse(v2_min, &r, NULL, why));
	check(r.expires == 0 && r.lifetime == 0 && r.rotated == 0 &&
	      r.prev_client_key[0] == '\0' && r.prev_until == 0);
	snprintf(text, sizeof(text), "%sEXPIRES=1796083200\nLIFETIME=60\n",
		 v2_min);
	check(!parse(text, &r, NULL, why) && r.expires == 1796083200UL &&
	      r.lifetime == 60);
	snprintf(text, sizeof(text), "%sLIFETIME=315360001\n", v2_min);
	check(parse(text, &r, NULL, why) == -1 && strstr(why, "LIFETIME"));
	snprintf(text, sizeof(text), "%sEXPIRES=-1\n", v2_min);
	check(parse(text, &r, NULL, why) == -1 && strstr(why, "EXPIRES"));
	snprintf(text, sizeof(text), "%sPREV_CLIENT_KEY=abc\n", v2_min);
	check(parse(text, &r, NULL, why) == -1 &&
	      strstr(why, "PREV_CLIENT_KEY"));
}

TEST(prev_home6_defaults_to_0_and_is_kept_by_the_format_after_home6)
{
	struct record r, again;
	struct buf out = { 0 };
	char text[2048], why[160];

	/* A record of an older linkgate, in a grace period: no PREV_HOME6. */
	snprintf(text, sizeof(text), "%sHOME6=1\nPREV_CLIENT_KEY=" KEY_B
		 "\nPREV_UNTIL=1796083200\n", v2_min);
	check(!parse(text, &r, NULL, why) && r.home6 == 1 &&
	      r.prev_home6 == 0);
	snprintf(text, sizeof(text), "%sHOME6=0\nPREV_HOME6=1\n", v2_min);
	check(!parse(text, &r, NULL, why) && r.home6 == 0 &&
	      r.prev_home6 == 1);
	check(!record_format(&r, NULL, &out));
	check(strstr(out.data, "\nHOME6=0\nPREV_HOME6=1\n") != NULL);
	check(!parse(out.data, &again, NULL, why) && again.prev_home6 == 1);
	snprintf(text, sizeof(text), "%sPREV_HOME6=2\n", v2_min);
	check(parse(text, &r, NULL, why) == -1 && strstr(why, "PREV_HOME6"));
	snprintf(text, sizeof(text), "%sPREV_HOME6=\n", v2_min);
	check(parse(text, &r, NULL, why) == -1 && strstr(why, "PREV_HOME6"));
	buf_free(&out);
}

int main(void)
{
	run(a_version_1_record_reads_with_its_old_key_names);
	run(a_version_2_record_does_not_take_the_old_key_names);
	run(optional_fields_take_their_defaults);
	run(an_empty_optional_value_is_refused_not_defaulted);
	run(unknown_keys_are_kept_in_order_and_rewritten);
	run(a_version_1_record_is_written_as_version_2);
	run(newer_or_bad_versions_are_refused);
	run(corrupt_records_are_refused);
	run(show_prints_every_field_and_the_derived_names);
	run(pool_addresses_follow_the_index);
	run(set_creates_updates_and_keeps_unknown_keys);
	run(durations_take_one_unit_and_stay_within_ten_years);
	run(an_expiry_is_a_duration_from_now_or_a_future_date);
	run(expiry_fields_default_to_never_and_are_checked);
	run(raw_port_lists_are_parsed_strictly_into_one_canonical_form);
	run(prev_home6_defaults_to_0_and_is_kept_by_the_format_after_home6);
	return check_failed_any();
}
