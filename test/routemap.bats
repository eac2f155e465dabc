#!/usr/bin/env bats
# The host-name check's command line (routemap host), which every script
# validates a host name with.

setup() {
	load common
}

routemap() { "$HELPERS/routemap" "$@"; }

@test "every hostile name in the corpus is refused" {
	n=0
	while IFS= read -r line; do
		case $line in '#'*) continue ;; esac
		# A NUL cannot cross exec: the name ends there (record.bats
		# gives the whole bytes to the record parser).
		printf -v name '%b' "$line"
		run -1 routemap host "$name"
		assert_output --partial "bad host name"
		n=$((n + 1))
	done <"$REPO/test/corpus/bad-hosts"
	run -1 routemap host ""
	assert_output "routemap: bad host name '': empty name"
	[ "$n" -ge 60 ]
}

@test "host folds upper case and accepts unusual valid names" {
	run -0 routemap host App.EXAMPLE.com
	assert_output app.example.com
	run -0 routemap host xn--bcher-kva.example
	assert_output xn--bcher-kva.example
	run -0 routemap host 123.example.com
	assert_output 123.example.com
}

@test "ip6 prints an IPv6 address in canonical form and refuses zone ids, brackets, mapped and link-local ones" {
	run -0 routemap ip6 '2001:DB8:0:0::1'
	assert_output 2001:db8::1
	run -0 routemap ip6 ::1
	assert_output ::1
	run -1 routemap ip6 --public ::1
	assert_output --partial "the loopback address"
	for bad in 'fe80::1%eth0' '[::1]' '::ffff:10.0.0.1' 'fe80::1' '::' 'ff02::1' \
		'2001:db8:::1' ''; do
		run -1 routemap ip6 "$bad"
		assert_output --regexp "^routemap: bad IPv6 address '"
	done
	run -2 routemap ip6 --frob ::1
	run -2 routemap ip6
}

@test "bad arguments are usage errors" {
	run -2 routemap
	run -2 routemap host
	run -2 routemap host a.example.com b.example.com
	run -2 routemap render "$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR"
	assert_output --partial "usage: routemap host NAME"
	run -0 routemap --help
	assert_output --partial "usage: routemap"
}
