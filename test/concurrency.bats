#!/usr/bin/env bats
# Concurrency at the gateway: 50 link creations and removals at once over
# ssh, a race for one name, and add/remove churn while a visitor loads a
# steady link. sshd's MaxStartups is raised in the test gateway (its
# default drops connections at random beyond 10 unauthenticated ones).

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR GWPORTS=47000-47199
	gateway_up
	link_home keep.example.test h1 1
	for i in $(seq 50); do
		wg genkey | wg pubkey >"$WORK/k$i.pub"
	done
}

teardown_file() {
	load common
	load lib/net
	net_down
}

setup() {
	load common
	load lib/net
}

# maps_watch: until $WORK/stop exists (at most 60 s), checks that the live
# nginx configuration always passes nginx -t; failures go to maps.bad.
maps_watch() {
	local n=0
	: >"$WORK/maps.bad"
	while [ ! -e "$WORK/stop" ] && [ "$n" -lt 600 ]; do
		nginx_t >>"$WORK/maps.bad" 2>&1 || echo "nginx -t failed" >>"$WORK/maps.bad"
		n=$((n + 1))
		sleep 0.1
	done
}

# links_list: NAME PORT INDEX of every link in the allocator's state.
links_list() {
	"$HELPERS/alloc" -d "$WORK/root/var/lib/linkgate" list
}

@test "50 links created at once over ssh all succeed, with distinct ports and indexes, and nginx never sees a half-written map" {
	rm -f "$WORK/stop"
	maps_watch &
	watcher=$!
	# The PIDs are kept from $!: bash drops a finished job from `jobs -p`
	# while it starts the next ones, but wait still knows its status.
	pids=()
	for i in $(seq 50); do
		ssh_as alice "add c$i.example.test $(cat "$WORK/k$i.pub")" \
			>"$WORK/add$i.out" 2>&1 &
		pids+=($!)
	done
	ok=0
	for job in "${pids[@]}"; do
		wait "$job" && ok=$((ok + 1))
	done
	touch "$WORK/stop"
	wait "$watcher"
	echo "# $ok of 50 concurrent creations succeeded" >&3
	assert_equal "$ok" 50
	run -0 cat "$WORK/maps.bad"
	assert_output ""
	made=("$WORK"/root/var/lib/linkgate/links/c[0-9]*.example.test)
	assert_equal "${#made[@]}" 50
	assert_equal "$(links_list | cut -f2 | sort -u | wc -l)" 51
	assert_equal "$(links_list | cut -f3 | sort -u | wc -l)" 51
	made=("$WORK"/root/run/linkgate/routes/c[0-9]*.example.test)
	assert_equal "${#made[@]}" 50
	run -0 nginx_t
	# Each routes into its own tunnel (no home behind it: 000, not 404).
	run -0 bash -c "seq 50 | xargs -P 50 -I{} ip netns exec ${T}i curl -s -o /dev/null \
		-w '%{http_code}\n' --max-time 2 -H 'Host: c{}.example.test' http://$GATEWAY/ | sort | uniq -c"
	assert_output --regexp '^ *50 000$'
}

@test "50 links removed at once over ssh leave only the steady link" {
	pids=()
	for i in $(seq 50); do
		ssh_as alice "remove c$i.example.test" >"$WORK/remove$i.out" 2>&1 &
		pids+=($!)
	done
	ok=0
	for job in "${pids[@]}"; do
		wait "$job" && ok=$((ok + 1))
	done
	[ "$ok" -eq 50 ] || fail "$(grep -hv '^removed' "$WORK"/remove*.out)"
	run -0 links_list
	assert_output --regexp '^keep\.example\.test	[0-9]+	1$'
	run -0 bash -c "ip netns list | grep -c '^${GWPREFIX}n'"
	assert_output 1
	run -0 visit keep.example.test http
	assert_output --partial "home=keep.example.test "
}

@test "two creations of the same name at once: exactly one wins, the other gets 'already exists'" {
	ssh_as alice "add twin.example.test $(cat "$WORK/k1.pub")" >"$WORK/twin1" 2>&1 &
	a=$!
	ssh_as alice "add twin.example.test $(cat "$WORK/k2.pub")" >"$WORK/twin2" 2>&1 &
	b=$!
	sa=0 sb=0
	wait "$a" || sa=$?
	wait "$b" || sb=$?
	assert_equal "$(( (sa == 0) + (sb == 0) ))" 1
	run -0 cat "$WORK/twin1" "$WORK/twin2"
	assert_output --partial "twin.example.test already exists"
	run -0 gw remove twin.example.test
}

@test "add/remove churn of other links never fails a visitor's request to a steady link" {
	secs=${CHURN_SECONDS:-30}
	rm -f "$WORK/stop" "$WORK"/codes.*
	# Four visitors, each a fresh connection per request, so that a reload
	# closing idle keep-alive connections cannot hide or fake a failure:
	# every answer that is not 200 (000: no answer) is a failed request.
	for v in 1 2 3 4; do
		(
			n=0
			while [ ! -e "$WORK/stop" ] && [ "$n" -lt 100000 ]; do
				ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}\n' \
					--max-time 5 -H 'Host: keep.example.test' "http://$GATEWAY/" \
					>>"$WORK/codes.$v"
				n=$((n + 1))
			done
		) &
	done
	end=$((SECONDS + secs)) churns=0
	while [ "$SECONDS" -lt "$end" ]; do
		gw add churn.example.test "$(cat "$WORK/k3.pub")" >/dev/null
		gw remove churn.example.test >/dev/null
		churns=$((churns + 1))
	done
	touch "$WORK/stop"
	wait
	total=$(cat "$WORK"/codes.* | wc -l)
	bad=$(cat "$WORK"/codes.* | grep -vc '^200$' || true)
	echo "# churn: $churns add+remove cycles in ${secs} s; $total requests, $bad failed" >&3
	[ "$churns" -ge 5 ]
	[ "$total" -ge 100 ]
	assert_equal "$bad" 0
}
