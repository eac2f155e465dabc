#!/usr/bin/env bats
# gateway/deps, the installer behind make deps, setup, demo and bench: it
# finds the Debian mirror in the machine's own apt sources (for the
# bookworm-backports wireguard-go) and counts an old wireguard-go as missing.

setup() {
	load common
	APT=$BATS_TEST_TMPDIR/apt
	mkdir -p "$APT/sources.list.d"
}

@test "the mirror is read from a deb822 sources file, skipping other suites and disabled stanzas" {
	cat >"$APT/sources.list.d/other.sources" <<-EOF
	Types: deb
	URIs: https://packages.example.org/apt
	Suites: nodistro
	Components: main
	EOF
	cat >"$APT/sources.list.d/debian.sources" <<-EOF
	Types: deb
	URIs: http://old.example.net/debian
	Suites: bookworm
	Components: main
	Enabled: no

	Types: deb deb-src
	# a comment inside the stanza
	URIs: http://mirror.example.net/debian
	Suites: bookworm bookworm-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	run -0 env DEPS_APT_DIR="$APT" sh "$REPO/gateway/deps" --mirror
	assert_output "$(printf 'http://mirror.example.net/debian\t/usr/share/keyrings/debian-archive-keyring.gpg')"
}

@test "the mirror is read from a one-line sources.list with options" {
	cat >"$APT/sources.list" <<-EOF
	# deb http://commented.example.net/debian bookworm main
	deb http://security.example.net/debian-security bookworm-security main
	deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example.net/debian bookworm main
	EOF
	run -0 env DEPS_APT_DIR="$APT" sh "$REPO/gateway/deps" --mirror
	assert_output "$(printf 'http://mirror.example.net/debian\t/usr/share/keyrings/debian-archive-keyring.gpg')"
}

@test "a third party's bookworm repository listed first is not taken for Debian's mirror" {
	cat >"$APT/sources.list.d/cloudflare.sources" <<-EOF
	Types: deb
	URIs: https://pkg.cloudflare.example/cloudflared
	Suites: bookworm
	Components: main
	Signed-By: /usr/share/keyrings/cloudflare-main.gpg
	EOF
	cat >"$APT/sources.list" <<-EOF
	deb https://pkgs.tailscale.example/stable/debian/x bookworm main
	deb mirror+file:/etc/apt/mirrors/debian.list bookworm main
	deb http://mirror.example.net/debian bookworm main
	EOF
	run -0 env DEPS_APT_DIR="$APT" sh "$REPO/gateway/deps" --mirror
	assert_output "$(printf 'http://mirror.example.net/debian\t')"
}

@test "a cloud image's mirror+file source with Debian's key is taken" {
	cat >"$APT/sources.list.d/debian.sources" <<-EOF
	Types: deb
	URIs: mirror+file:///etc/apt/mirrors/debian.list
	Suites: bookworm bookworm-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	run -0 env DEPS_APT_DIR="$APT" sh "$REPO/gateway/deps" --mirror
	assert_output --partial 'mirror+file:///etc/apt/mirrors/debian.list'
}

@test "no bookworm mirror in the apt sources is a clear refusal" {
	echo "deb http://security.example.net/debian-security bookworm-security main" \
		>"$APT/sources.list"
	run -1 env DEPS_APT_DIR="$APT" sh "$REPO/gateway/deps" --mirror
	assert_output --partial "deps: no Debian bookworm mirror"
}

@test "the machine's own apt sources name a mirror, and the project names no host" {
	run -0 sh "$REPO/gateway/deps" --mirror
	assert_output --regexp '^https?://'
	run -1 grep -rn 'deb\.debian\.org' "$REPO/gateway" "$REPO/Makefile" "$REPO/client" "$REPO/test/lib"
}

@test "an installed wireguard-go older than the backports version counts as missing" {
	run -0 sh "$REPO/gateway/deps" --missing wireguard-go
	assert_output ""
	run -0 dpkg --compare-versions "$(dpkg-query -W -f '${Version}' wireguard-go)" ge 0.0.20231211~
	run -0 env DEPS_WG_GO_MIN=99 sh "$REPO/gateway/deps" --missing wireguard-go
	assert_output "wireguard-go/bookworm-backports"
}

@test "deps with everything installed changes nothing and is quiet" {
	run -0 sh "$REPO/gateway/deps" --missing nginx wireguard-go bats
	assert_output ""
	run -0 sh "$REPO/gateway/deps" nginx wireguard-go bats
	assert_output ""
}
