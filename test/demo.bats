#!/usr/bin/env bats
# make demo, as the README tells a new user to run it: it shows a
# visitor's verified HTTPS request, and afterwards nothing of it is left.

setup() {
	load common
	DEMO_DIR=/tmp/linkgate-demo
	INOTIFY=$(cat /proc/sys/fs/inotify/max_user_instances)
}

teardown() {
	make -s -C "$REPO" demo-down >/dev/null 2>&1 || true
}

# leftovers: what the demo could leave behind, one thing per line.
leftovers() {
	ip netns list | grep -E '^(lgdemo|lgdm)' || true
	ls -d "$DEMO_DIR" /var/run/wireguard/lg* 2>/dev/null || true
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
