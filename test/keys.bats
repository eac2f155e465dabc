#!/usr/bin/env bats
# The keys helper's command line: generation, derivation, validation.

setup() {
	load common
}

keys() { "$HELPERS/keys" "$@"; }

@test "genkey writes a 0600 private key and prints its public key" {
	run -0 keys genkey "$BATS_TEST_TMPDIR/k"
	assert_equal "$(stat -c %a "$BATS_TEST_TMPDIR/k")" 600
	assert_equal "$output" "$(wg pubkey <"$BATS_TEST_TMPDIR/k")"
}

@test "genkey never overwrites an existing file or follows a symlink" {
	echo keep >"$BATS_TEST_TMPDIR/k"
	run -1 keys genkey "$BATS_TEST_TMPDIR/k"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/k")" keep
	ln -s "$BATS_TEST_TMPDIR/target" "$BATS_TEST_TMPDIR/link"
	run -1 keys genkey "$BATS_TEST_TMPDIR/link"
	[ ! -e "$BATS_TEST_TMPDIR/target" ]
}

@test "generated private keys are clamped like wg genkey" {
	keys genkey "$BATS_TEST_TMPDIR/k" >/dev/null
	first=$(base64 -d <"$BATS_TEST_TMPDIR/k" | od -An -tu1 -N1 | tr -d ' ')
	last=$(base64 -d <"$BATS_TEST_TMPDIR/k" | od -An -tu1 -j31 | tr -d ' ')
	assert_equal $((first & 7)) 0
	assert_equal $((last & 192)) 64
}

@test "pubkey derives what wg pubkey derives" {
	priv=$(wg genkey)
	run -0 keys pubkey <<<"$priv"
	assert_output "$(wg pubkey <<<"$priv")"
}

@test "check accepts a key from wg genkey, as argument and on stdin" {
	k=$(wg genkey)
	run -0 keys check "$k"
	run -0 keys check <<<"$k"
	printf '%s' "$k" | keys check
}

@test "check refuses bad keys with a clear message" {
	k=$(wg genkey)
	run -1 keys check "${k%?}"
	assert_output --partial "not 44 characters"
	run -1 keys check "${k}A"
	run -1 keys check "$k
"
	run -1 keys check ""
	run -1 keys check "${k%??}!="
	assert_output --partial "not base64"
	run -1 keys check "${k%???}
A="
	printf '%s\n\n' "$k" >"$BATS_TEST_TMPDIR/in"
	run -1 keys check <"$BATS_TEST_TMPDIR/in"
	run -1 keys check </dev/null
}

@test "unknown subcommands are usage errors" {
	run -2 keys frob
	run -2 keys
	run -0 keys --help
	assert_output --partial "usage: keys"
}
