#!/usr/bin/env bats
# Crashes and restarts at the gateway: linkgate killed with SIGKILL after
# every step of add, of remove and of make gateway itself
# (LINKGATE_KILL_AFTER=N, a test-only setting: the command kills itself
# right after its Nth step), nginx, wireguard-go and namespaces killed, a
# full and a read-only state folder. After make gateway, each link is
# whole and serving, or entirely gone.

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
	link_home keep.example.test h1 1
	wg genkey >"$WORK/crash.key"
}

teardown_file() {
	load common
	load lib/net
	umount "$WORK/root/var/log/linkgate" 2>/dev/null || true
	umount "$WORK/root/var/lib/linkgate" 2>/dev/null || true
	net_down
}

setup() {
	load common
	load lib/net
	KEY=$(wg pubkey <"$WORK/crash.key")
	BEFORE=$(state_sum)
	LINKS_BEFORE=$(ip -n "${T}g" -o link show | cut -d: -f2 | sort)
}

# serves NAME: the visitor reaches the home behind NAME (keep.example.test:
# home1's peer 1, which reconnects as the link client would).
serves() {
	run -0 wait_for 100 home_visit h1 1 "$1" http
	assert_output --partial "home=$1 "
}

# absent: nothing of crash.example.test is left anywhere.
absent() {
	assert_equal "$(state_sum)" "$BEFORE"
	assert_equal "$(ip -n "${T}g" -o link show | cut -d: -f2 | sort)" "$LINKS_BEFORE"
}

# present: crash.example.test is whole: record, key, reservation, route
# file, namespace with a healthy tunnel, and nginx routes to it.
present() {
	local d=$WORK/root/var/lib/linkgate index port
	index=$("$HELPERS/record" get "$d/links/crash.example.test" INDEX)
	port=$("$HELPERS/record" get "$d/links/crash.example.test" PORT)
	[ -s "$d/keys/crash.example.test" ]
	grep -q "^crash.example.test	$port	$index" <("$HELPERS/alloc" -d "$d" list)
	grep -qx "link_$index [0-9.]*:443 0" "$WORK/root/run/linkgate/routes/crash.example.test"
	[ -e "/run/netns/${GWPREFIX}n$index" ]
	nsenter --net="/run/netns/${T}g" sysctl -n net.ipv4.ip_local_reserved_ports |
		tr ',' '\n' | awk -F- -v p="$port" '$1 <= p && p <= ($2 ? $2 : $1) { f = 1 }
			END { exit !f }'
	run -0 gw status --probe crash.example.test
	assert_output --regexp 'crash.example.test +up'
	# No home behind it: nginx routes it into the tunnel, where the request
	# waits (000), rather than refusing it (404).
	run ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 1 -H 'Host: crash.example.test' "http://$GATEWAY/"
	assert_output 000
}

# killed_at N COMMAND...: the gateway command, killed after step N.
killed_at() {
	local n=$1
	shift
	export LINKGATE_KILL_AFTER=$n
	run gw "$@"
	unset LINKGATE_KILL_AFTER
}

# repaired N: the command was killed after step N; make gateway must leave
# crash.example.test whole (counted in WHOLE, then removed) or gone.
repaired() {
	[ "$status" -eq 137 ] || fail "step $1: status $status: $output"
	run -0 gw start
	if [ -f "$WORK/root/var/lib/linkgate/links/crash.example.test" ]; then
		present
		WHOLE=$((WHOLE + 1))
		run -0 gw remove crash.example.test
	fi
	absent
}

@test "linkgate add killed after any step: make gateway leaves the link whole or gone" {
	local n points=0
	WHOLE=0
	for n in $(seq 1 100); do
		killed_at "$n" add crash.example.test "$KEY"
		[ "$status" -ne 0 ] || break
		points=$((points + 1))
		repaired "$n"
	done
	[ "$points" -gt 10 ]
	echo "# add: $points kill points, $WHOLE left the link whole, $((points - WHOLE)) gone" >&3
	present
	serves keep.example.test
	run -0 gw remove crash.example.test
}

@test "linkgate remove killed after any step: make gateway leaves the link whole or gone" {
	local n points=0
	WHOLE=0
	for n in $(seq 1 100); do
		run -0 gw add crash.example.test "$KEY"
		killed_at "$n" remove crash.example.test
		[ "$status" -ne 0 ] || break
		points=$((points + 1))
		repaired "$n"
	done
	[ "$points" -gt 5 ]
	echo "# remove: $points kill points, $WHOLE left the link whole, $((points - WHOLE)) gone" >&3
	absent
	serves keep.example.test
}

@test "make gateway killed after any step while it restores links: the next one leaves every link whole" {
	local n points=0 d=$WORK/root/var/lib/linkgate i
	run -0 gw add crash.example.test "$KEY"
	for n in $(seq 1 100); do
		for i in keep crash; do
			ip netns del "${GWPREFIX}n$("$HELPERS/record" get "$d/links/$i.example.test" INDEX)"
		done
		killed_at "$n" start
		[ "$status" -ne 0 ] || break
		[ "$status" -eq 137 ] || fail "step $n: status $status: $output"
		points=$((points + 1))
		run -0 gw start
		present
		serves keep.example.test
	done
	[ "$points" -gt 10 ]
	echo "# make gateway: $points kill points, every link whole after each" >&3
	run -0 gw remove crash.example.test
	absent
}

@test "make gateway restarts a killed nginx and the visitor is served again" {
	kill "$(cat "$WORK/root/run/linkgate/nginx.pid")"
	wait_for 50 bash -c "! visit keep.example.test http >/dev/null 2>&1"
	run -0 gw start
	serves keep.example.test
}

@test "make gateway restores a link whose wireguard-go was killed" {
	pids=$(link_wg_pids)
	# shellcheck disable=SC2086 # a list of PIDs
	kill -9 $pids
	run -0 gw start
	assert_output --partial "1 links"
	serves keep.example.test
}

@test "make gateway restores a link whose namespace was deleted by hand" {
	ip netns del "${GWPREFIX}n1"
	run -0 gw start
	serves keep.example.test
}

# tiny_state: the gateway's state folder on a 1 MiB tmpfs, filled up.
tiny_state() {
	local d=$WORK/root/var/lib/linkgate
	cp -a "$d" "$WORK/state.copy"
	mount -t tmpfs -o size=1m,mode=0700 lgtiny "$d"
	cp -a "$WORK/state.copy/." "$d/"
	rm -rf "$WORK/state.copy"
}

@test "a full state folder: add fails with a clear error, nothing half-done, the other link serves" {
	tiny_state
	head -c 2M /dev/zero >"$WORK/root/var/lib/linkgate/filler" 2>/dev/null || true
	BEFORE=$(state_sum)
	run gw add full.example.test "$KEY"
	assert_equal "$status" 1
	assert_output --regexp 'linkgate: .*(No space left|failed)'
	absent
	serves keep.example.test
	rm "$WORK/root/var/lib/linkgate/filler"
	run -0 gw start
	run -0 gw add full.example.test "$KEY"
	run -0 gw remove full.example.test
}

@test "a full state folder with the log read-only: remove still removes the whole link (it frees before it writes)" {
	local d=$WORK/root/var/lib/linkgate log=$WORK/root/var/log/linkgate
	mountpoint -q "$d" || tiny_state
	run -0 gw add full.example.test "$KEY"
	head -c 2M /dev/zero >"$d/filler" 2>/dev/null || true
	mount --bind "$log" "$log"
	mount -o remount,ro,bind "$log"
	run gw remove full.example.test
	umount "$log"
	rm "$d/filler"
	assert_equal "$status" 0
	assert_output --partial "removed full.example.test"
	[ ! -e "$d/links/full.example.test" ]
	[ ! -e "$d/keys/full.example.test" ]
	[ ! -e "$WORK/root/run/linkgate/routes/full.example.test" ]
	run -1 grep -q full.example.test <("$HELPERS/alloc" -d "$d" list)
	serves keep.example.test
}

@test "a route file that cannot be removed: remove fails with a clear error and leaves the link whole" {
	local d=$WORK/root/var/lib/linkgate routes=$WORK/root/run/linkgate/routes
	run -0 gw add stuck.example.test "$KEY"
	mount --bind "$routes" "$routes"
	mount -o remount,ro,bind "$routes"
	run gw remove stuck.example.test
	umount "$routes"
	assert_equal "$status" 1
	assert_output --partial "linkgate: removing stuck.example.test failed: its route file stays; the link is left whole"
	[ -f "$d/links/stuck.example.test" ]
	[ -f "$d/keys/stuck.example.test" ]
	[ -f "$routes/stuck.example.test" ]
	run -0 gw status --probe stuck.example.test
	assert_output --regexp 'stuck.example.test +up'
	run -0 gw remove stuck.example.test
	[ ! -e "$routes/stuck.example.test" ]
	serves keep.example.test
}

@test "a read-only state folder: add fails with a clear error, nothing half-done, the other link serves" {
	mountpoint -q "$WORK/root/var/lib/linkgate" || tiny_state
	BEFORE=$(state_sum)
	mount -o remount,ro "$WORK/root/var/lib/linkgate"
	run gw add ro.example.test "$KEY"
	mount -o remount,rw "$WORK/root/var/lib/linkgate"
	assert_equal "$status" 1
	assert_output --regexp 'linkgate: cannot open .*gateway.lock: is .* writable'
	absent
	serves keep.example.test
}
