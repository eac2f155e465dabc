#!/usr/bin/env bats
# The health helper: the one writer of the health results (health write).

setup() {
	load common
	D=$BATS_TEST_TMPDIR/health
	mkdir -p "$D"
}

health() { "$HELPERS/health" "$@"; }

# result NAME STATE CHECKED [REASON]: one input line.
result() {
	printf 'NAME=%s\tOWNER=root\tSTATE=%s\tCHECKED=%s\tREASON=%s\tHTTP=\n' "$@"
}

@test "a first result is written with SINCE its CHECKED, and the change is printed" {
	run -0 health write "$D" <<<"$(result a.example.test down 100 'no handshake with the home yet')"
	assert_output "$(printf 'a.example.test\t\tdown\tno handshake with the home yet')"
	run -0 cat "$D/a.example.test"
	assert_output "$(printf '%s\n' NAME=a.example.test OWNER=root STATE=down SINCE=100 \
		CHECKED=100 'REASON=no handshake with the home yet' HTTP=)"
	# Nothing but the result stays in the folder.
	run -0 ls -A "$D"
	assert_output a.example.test
	[ "$(stat -c %a "$D/a.example.test")" = 600 ]
}

@test "SINCE stays while the state holds and is the new CHECKED when it changes" {
	health write "$D" <<<"$(result a.example.test down 100 x)" >/dev/null
	run -0 health write "$D" <<<"$(result a.example.test down 200 y)"
	assert_output ""
	run -0 grep -x SINCE=100 "$D/a.example.test"
	run -0 grep -x CHECKED=200 "$D/a.example.test"
	run -0 health write "$D" <<<"$(result a.example.test up 300 '')"
	assert_output "$(printf 'a.example.test\tdown\tup\t')"
	run -0 grep -x SINCE=300 "$D/a.example.test"
}

@test "many links are written in one call, each change printed once" {
	for i in $(seq 50); do result "l$i.example.test" down 100 x; done >"$BATS_TEST_TMPDIR/in"
	run -0 health write "$D" <"$BATS_TEST_TMPDIR/in"
	[ "${#lines[@]}" -eq 50 ]
	[ "$(ls -A "$D" | wc -l)" -eq 50 ]
	run -0 health write "$D" <"$BATS_TEST_TMPDIR/in"
	assert_output ""
}

@test "a bad line is refused on stderr (exit 1) and the others are written" {
	{
		printf 'OWNER=root\tNAME=x.example.test\tSTATE=up\tCHECKED=1\n'
		result b.example.test up 5 ''
		printf 'NAME=c.example.test\tSTATE=up\tCHECKED=1\tSINCE=0\n'
		printf 'NAME=d.example.test\tSTATE=up\n'
		printf 'NAME=../e\tSTATE=up\tCHECKED=1\n'
		printf 'NAME=f.example.test\tSTATE=up\tCHECKED=1\tREASON=\001\n'
		printf 'NAME=g.example.test\tSTATE=up\tCHECKED=1x\n'
		printf 'NAME=h.example.test\tSTATE=up\tCHECKED=1\tX=%05000d\n' 0
	} >"$BATS_TEST_TMPDIR/in"
	run -1 health write "$D" <"$BATS_TEST_TMPDIR/in"
	assert_line "health: line 1 'OWNER=root?NAME=x.example.test?STATE=up?CHECKED=1': NAME= is not first"
	assert_line --partial "health: line 3 'NAME=c.example.test?STATE=up?CHECKED=1?SINCE=0': SINCE is the writer's"
	assert_line --partial "line 4 'NAME=d.example.test?STATE=up': no STATE or CHECKED"
	assert_line --partial "line 5 "
	assert_line --partial "a control character"
	assert_line --partial "bad CHECKED"
	assert_line "health: line 8: longer than 4096 bytes"
	assert_line "$(printf 'b.example.test\t\tup\t')"
	run -0 ls -A "$D"
	assert_output b.example.test
}

@test "usage errors exit 2, a missing folder 1" {
	run -2 health
	run -2 health write
	run -2 health read "$D"
	run -1 health write "$D/none" <<<"$(result a.example.test up 1 '')"
	run -0 health --help
	assert_line --index 0 "usage: health write DIR"
}
