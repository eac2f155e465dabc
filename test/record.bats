#!/usr/bin/env bats
# The record helper's command line: the one owner of the link records.

setup() {
	load common
	D="$BATS_TEST_TMPDIR/links"
	TMPD="$BATS_TEST_TMPDIR/tmp"
	mkdir -p "$D" "$TMPD"
	KA=YCu3ZIu3EJNsSc5kBlDFZDK6NdK0U/wiNWiMCyjZwnA=
	KB=sJQMQ4f3kFh0u01GP/tQb8EFpKg8tNcBmR7wrcLVS1g=
}

record() { "$HELPERS/record" "$@"; }

# v1 NAME: a version 1 record, exactly as main's record_write wrote it.
v1() {
	printf '%s\n' "NAME=$1" INDEX=3 PORT=40003 "CLIENT_KEY=$KA" \
		"GATEWAY_KEY=$KB" VETH_GATEWAY=198.18.0.13 VETH_LINK=198.18.0.14 \
		TUNNEL_GATEWAY=198.19.0.13 TUNNEL_CLIENT=198.19.0.14 WILDCARD=0 \
		MTU=1380 OWNER=alice CREATED=1700000000 >"$D/$1"
}

new() {
	record set -t "$TMPD" "$D/$1" "NAME=$1" INDEX=3 PORT=40003 \
		"CLIENT_KEY=$KA" "GATEWAY_KEY=$KB" VETH_GATEWAY_ADDR=198.18.0.13 \
		VETH_LINK_ADDR=198.18.0.14 TUNNEL_GATEWAY=198.19.0.13 \
		TUNNEL_CLIENT=198.19.0.14 "${@:2}"
}

@test "set writes a version 2 record that show prints with its defaults and derived names" {
	run -0 new a.example.com
	run -0 record show -p lg "$D/a.example.com"
	assert_line --index 0 VERSION=2
	assert_line NAME=a.example.com
	assert_line VETH_LINK_ADDR=198.18.0.14
	assert_line MTU=1380
	assert_line OWNER=root
	assert_line WILDCARD=0
	assert_line NS=lgn3
	assert_line VETH_LINK=lgl3
	assert_line WG=lgw3
	run -0 stat -c %a "$D/a.example.com"
	assert_output 600
	run -0 find "$TMPD" -type f
	assert_output ""
}

@test "a version 1 record is read, and rewritten as version 2 by the next set, unknown keys kept" {
	v1 a.example.com
	echo 'FUTURE=from a newer linkgate' >>"$D/a.example.com"
	run -0 record get "$D/a.example.com" VETH_LINK_ADDR
	assert_output 198.18.0.14
	run -0 record get "$D/a.example.com" VERSION
	assert_output 1
	run -0 record set "$D/a.example.com" MTU=1420
	run -0 cat "$D/a.example.com"
	assert_line --index 0 VERSION=2
	assert_line VETH_GATEWAY_ADDR=198.18.0.13
	assert_line OWNER=alice
	assert_line MTU=1420
	assert_line 'FUTURE=from a newer linkgate'
	refute_line --partial 'VETH_LINK='
}

@test "set refuses bad values, unknown keys, missing fields and a name that is not the file's, leaving the file as it was" {
	run -0 new a.example.com
	before=$(md5sum <"$D/a.example.com")
	run -1 record set "$D/a.example.com" MTU=99
	assert_output "record: MTU: bad number '99'"
	run -1 record set "$D/a.example.com" 'OWNER=a b'
	run -1 record set "$D/a.example.com" NAME=b.example.com
	assert_output --partial "NAME is not the file name"
	run -2 record set "$D/a.example.com" FUTURE=1
	assert_output --partial "unknown record key 'FUTURE'"
	run -2 record set "$D/a.example.com" MTU
	assert_equal "$(md5sum <"$D/a.example.com")" "$before"
	run -1 record set "$D/b.example.com" NAME=b.example.com INDEX=1
	assert_output --partial "PORT is missing"
	[ ! -e "$D/b.example.com" ]
}

@test "set refuses to rewrite a corrupt record" {
	v1 a.example.com
	echo 'INDEX=4' >>"$D/a.example.com"
	before=$(md5sum <"$D/a.example.com")
	run -1 record set "$D/a.example.com" MTU=1400
	assert_output --partial "INDEX appears twice); not rewritten"
	assert_equal "$(md5sum <"$D/a.example.com")" "$before"
}

@test "show refuses a corrupt record and a record under another name" {
	v1 a.example.com
	cp "$D/a.example.com" "$D/b.example.com"
	run -1 record show "$D/b.example.com"
	assert_output --partial "NAME is not the file name"
	sed -i 's/^PORT=.*/PORT=65536/' "$D/a.example.com"
	run -1 record show "$D/a.example.com"
	assert_output --partial "PORT: bad number"
	run -2 record get "$D/b.example.com"
}

@test "show refuses a record with a NUL byte or without its final newline" {
	v1 a.example.com
	printf 'FUTURE=x\0y\n' >>"$D/a.example.com"
	run -1 record show "$D/a.example.com"
	assert_output "record: record $D/a.example.com is corrupt (contains a NUL byte)"
	v1 b.example.com
	printf 'FUTURE=x' >>"$D/b.example.com"
	run -1 record show "$D/b.example.com"
	assert_output "record: record $D/b.example.com is corrupt (line 14 is truncated)"
}

@test "every hostile name in the corpus is refused as a record's NAME" {
	v1 a.example.com
	n=0
	while IFS= read -r line; do
		case $line in '#'*) continue ;; esac
		# NUL bytes and newlines too: the file holds the bytes.
		{ printf 'NAME=%b\n' "$line"; tail -n +2 "$D/a.example.com"; } \
			>"$D/hostile"
		run -1 record show "$D/hostile"
		assert_output --partial "is corrupt ("
		refute_output --partial "NAME is not the file name"
		n=$((n + 1))
	done <"$REPO/test/corpus/bad-hosts"
	[ "$n" -ge 60 ]
}

@test "list prints one line per record, corrupt ones named" {
	v1 a.example.com
	new c.example.com
	printf 'NAME=b.example.com\n' >"$D/b.example.com"
	touch "$D/not a name"
	run -0 record list "$D"
	assert_line "$(printf 'ok\ta.example.com\t3\t40003')"
	assert_line "$(printf 'ok\tc.example.com\t3\t40003')"
	assert_line "$(printf 'corrupt\tb.example.com')"
	assert_line --partial "record b.example.com is corrupt (INDEX is missing)"
	assert_line --partial "is not a link record; ignored"
	mkdir "$BATS_TEST_TMPDIR/out"
	run -0 record list -p lg -o "$BATS_TEST_TMPDIR/out" "$D"
	assert_line "$(printf 'ok\ta.example.com\t3\t40003\tlgn3')"
	run -0 cat "$BATS_TEST_TMPDIR/out/r.a.example.com"
	assert_line NS=lgn3
	assert_line VETH_LINK_ADDR=198.18.0.14
	[ ! -e "$BATS_TEST_TMPDIR/out/r.b.example.com" ]
	run -2 record list -p lg "$D"
}

@test "derive prints the names and addresses of an index" {
	run -0 record derive lg 198.18.0.0/16 198.19.0.0/16 64
	assert_output "$(printf '%s\n' NS=lgn64 VETH_GW=lgg64 VETH_LINK=lgl64 WG=lgw64 \
		VETH_GATEWAY_ADDR=198.18.1.1 VETH_LINK_ADDR=198.18.1.2 \
		TUNNEL_GATEWAY=198.19.1.1 TUNNEL_CLIENT=198.19.1.2)"
	run -1 record derive lg 10.0.0.0/28 198.19.0.0/16 4
	assert_output --partial "index outside the pool"
	run -2 record derive 'l;g' 198.18.0.0/16 198.19.0.0/16 1
	run -2 record derive lg 198.18.0.0/16 198.19.0.0/16 0
}

@test "a 253-character name is written through the temporary folder" {
	l=$(printf '%063d' 0 | tr 0 a)
	name="$l.$l.$l.$(printf '%061d' 0 | tr 0 b)"
	run -0 new "$name"
	run -0 record get "$D/$name" NAME
	assert_output "$name"
}

@test "a set that cannot write says why and leaves the old record" {
	run -0 new a.example.com
	before=$(md5sum <"$D/a.example.com")
	run -1 record set -t "$BATS_TEST_TMPDIR/none" "$D/a.example.com" MTU=1400
	assert_output "record: $D/a.example.com: No such file or directory"
	assert_equal "$(md5sum <"$D/a.example.com")" "$before"
}

@test "lifetime and expiry print seconds, and refuse zero, negative, huge and garbage with exit 1" {
	run -0 record lifetime -- 90d
	assert_output 7776000
	run -0 record expiry -- 12h 1796083200
	assert_output $'1796126400\t43200'
	run -0 record expiry -- 2026-12-02 1796083200
	assert_output $'1796169600\t0'
	for bad in 0 0d -1d 3651d 1w 2026-11-30 2027-02-29 x -- -p; do
		run -1 record expiry -- "$bad" 1796083200
		assert_output --partial "record: bad expiry '$bad'"
	done
	run -1 record lifetime -- 2026-12-02
	run -2 record expiry -- 1d
}

@test "bad arguments are usage errors" {
	run -2 record
	run -2 record show
	run -2 record frob x
	run -2 record list "$D" extra
	run -0 record --help
	assert_output --partial "usage: record"
}
