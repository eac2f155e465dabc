#!/usr/bin/env bats
# make demo, as the README tells a new user to run it: it shows a
# visitor's verified HTTPS request, and afterwards nothing of it is left.

setup() {
	load common
	DEMO_DIR=/tmp/linkgate-demo
	INOTIFY=$(cat /proc/sys/fs/inotify/max_user_instances)
}

teardown() {
	if [ -n "${SLEEPER:-}" ]; then kill "$SLEEPER" 2>/dev/null || true; fi
	if [ -n "${PLANTED:-}" ]; then rm -rf "$DEMO_DIR"; fi
	make -s -C "$REPO" demo-down >/dev/null 2>&1 || true
}

# leftovers: what the demo could leave behind, one thing per line.
leftovers() {
	ip netns list | grep -E '^(lgdemo|lgdm)' || true
	ls -d "$DEMO_DIR" /var/run/wireguard/lgdemo* /var/run/wireguard/lgdm* 2>/dev/null || true
	# The brackets keep grep from finding its own command line.
	grep -l 'linkgate[-]demo' /proc/[0-9]*/cmdline 2>/dev/null || true
	find /etc /root/.ssh -newer "$BATS_TEST_TMPDIR/marker" 2>/dev/null || true
	[ "$(cat /proc/sys/fs/inotify/max_user_instances)" = "$INOTIFY" ] ||
		echo "fs.inotify.max_user_instances changed"
}

@test "make demo shows a visitor's HTTPS request verified against pebble and leaves nothing behind" {
	touch "$BATS_TEST_TMPDIR/marker"
	run -0 make -s -C "$REPO" demo
	assert_output --partial "home=h1 peer=127.0.0.1 xff=10.77.0.1 host=app.example.test"
	assert_output --regexp "certificate: issuer=CN ?= ?Pebble Intermediate CA [0-9a-f]+ subject=CN ?= ?app.example.test"
	assert_output --partial "app.example.test.env:/etc/linkgate/link.env:ro"
	assert_output --partial "unknown host: 404"
	run -0 leftovers
	assert_output ""
}

@test "make demo KEEP=1 stays up until make demo-down removes it" {
	touch "$BATS_TEST_TMPDIR/marker"
	run -0 make -s -C "$REPO" demo KEEP=1
	assert_output --partial "make demo-down"
	run -0 ip netns exec lgdemoi curl -sS --max-time 5 \
		--cacert "$DEMO_DIR/pebble-root.pem" \
		--resolve app.example.test:443:10.77.0.2 https://app.example.test/
	assert_output --partial "home=h1 "
	run -0 make -s -C "$REPO" demo-down
	run -0 leftovers
	assert_output ""
}

@test "make demo refuses a folder another user made and acts on nothing read from it" {
	PLANTED=1
	sleep 60 &
	SLEEPER=$!
	mkdir -m 0700 "$DEMO_DIR"
	echo "$SLEEPER" >"$DEMO_DIR/app.pid"
	echo 77 >"$DEMO_DIR/inotify-limit"
	chown -R nobody "$DEMO_DIR"
	run -2 make -s -C "$REPO" demo
	assert_output --partial "$DEMO_DIR: not a folder this user made (owner nobody, mode 700)"
	run -2 make -s -C "$REPO" demo-down
	assert_output --partial "not a folder this user made"
	kill -0 "$SLEEPER"
	assert_equal "$(cat /proc/sys/fs/inotify/max_user_instances)" "$INOTIFY"
	run -0 cat "$DEMO_DIR/app.pid"
}

@test "make demo refuses a symbolic link in place of its folder" {
	PLANTED=1
	ln -s "$BATS_TEST_TMPDIR" "$DEMO_DIR"
	run -2 make -s -C "$REPO" demo
	assert_output --partial "a symbolic link"
	[ -d "$BATS_TEST_TMPDIR" ]
}
