#!/usr/bin/env bats
# Links that share one gateway: changes never reload nginx nor cut another
# link's connections; caps per link and per visitor; large headers on :80.
#
#   ${T}i visitor 10.77.0.1 (+ 10.77.0.101-106 as more visitors; fd77::106-108
#         and fd78::1 for the IPv6 cap)
#   ${T}g gateway: nginx, sshd, the links
#   ${T}h1 home1: stream.example.test   streams.py serve (SSE, WebSocket)
#                 echo.example.test     echo.py (wildcard link)
#   ${T}h2 home2: silent.example.test   streams.py silent (accepts, mute)
#                 mute.example.test     the same, for the per-visitor cap
# bob's key adds and removes links under bob.example.org meanwhile.

setup_file() {
	load common
	load lib/net
	# Room for bob's 100 links beside this suite's own.
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR GWPORTS=47000-47199
	gateway_up
	stream_home stream.example.test h1 1 serve
	echo_home echo.example.test h1 2 --wildcard
	stream_home silent.example.test h2 3 silent
	stream_home mute.example.test h2 5 silent
	for i in 101 102 103 104 105 106; do
		ip -n "${T}i" addr add "10.77.0.$i/24" dev br0
	done
	# fd78::1 is another /64: the gateway's default route leads back.
	for a in fd77::106/64 fd77::107/64 fd77::108/64 fd78::1/64; do
		ip -n "${T}i" addr add "$a" dev br0 nodad
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

# A test that failed before its own kill leaves its visitors' held
# connections behind, and they would count toward the next test's caps.
teardown() {
	local f
	for f in "$WORK"/hold*.pid; do
		[ -e "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null || :
		rm -f "$f"
	done
}

# stream_home NAME HOME N serve|silent: link N at the gateway (as root),
# its peer at HOME and streams.py there in that mode.
stream_home() {
	umask 077
	wg genkey >"$WORK/c$3.key"
	gw add "$1" "$(wg pubkey <"$WORK/c$3.key")" >"$WORK/add$3.out"
	IFS=$'\t' read -r _ gwpub endpoint client _ _ <"$WORK/add$3.out"
	home_peer "$2" "$3" "$WORK/c$3.key" "$gwpub" "$endpoint" "$client"
	[ -f "$WORK/app.crt" ] || openssl req -x509 -newkey ec \
		-pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=app -keyout "$WORK/app.key" -out "$WORK/app.crt" 2>/dev/null
	if [ "$4" = serve ]; then
		ip netns exec "$T$2" python3 "$REPO/test/apps/streams.py" serve \
			"$client" "$WORK/app.crt" "$WORK/app.key" >"$WORK/app-$1.log" 2>&1 &
	else
		ip netns exec "$T$2" python3 "$REPO/test/apps/streams.py" silent \
			"$client" >"$WORK/app-$1.log" 2>&1 &
	fi
	echo $! >"$WORK/app-$1.pid"
	wait_for 50 grep -q ready "$WORK/app-$1.log"
}

# echo_home NAME HOME N OPTIONS...: link_home with options for add.
echo_home() {
	umask 077
	wg genkey >"$WORK/c$3.key"
	gw add "$1" "$(wg pubkey <"$WORK/c$3.key")" "${@:4}" >"$WORK/add$3.out"
	IFS=$'\t' read -r _ gwpub endpoint client _ _ <"$WORK/add$3.out"
	home_peer "$2" "$3" "$WORK/c$3.key" "$gwpub" "$endpoint" "$client"
	echo_app "$2" "$client" "$1"
}

# nginx_pids: nginx's master and worker PIDs, sorted, on one line.
nginx_pids() {
	local master
	master=$(cat "$WORK/root/run/linkgate/nginx.pid")
	{ echo "$master"; pgrep -P "$master"; } | sort -n | tr '\n' ' '
}

# pids_differ PIDS: whether nginx's PIDs are no longer PIDS.
pids_differ() {
	[ "$(nginx_pids)" != "$1" ]
}

# watch_start ID KIND PORT TLS: a visitor's stream to stream.example.test.
watch_start() {
	ip netns exec "${T}i" env GATEWAY="$GATEWAY" python3 \
		"$REPO/test/apps/streams.py" watch "$2" stream.example.test "$3" "$4" \
		>"$WORK/watch-$1.log" 2>&1 &
	echo $! >"$WORK/watch-$1.pid"
}

# events ID: the last event a watcher received (0 for none).
events() {
	grep -E '^[0-9]+$' "$WORK/watch-$1.log" | tail -n 1 | grep . || echo 0
}

# has_events ID N: whether a watcher has received N events.
has_events() {
	[ "$(events "$1")" -ge "$2" ]
}

# watch_stop ID: stops a watcher and prints its verdict: "stopped
# events=N" when its one connection delivered events 1..N in order.
watch_stop() {
	kill -TERM "$(cat "$WORK/watch-$1.pid")"
	wait_for 50 grep -q '^stopped' "$WORK/watch-$1.log"
	grep -v '^[0-9]*$' "$WORK/watch-$1.log"
}

# sni NAME: a TLS handshake to :443 with NAME as the SNI, as sent; prints
# the certificate subject the home answered with, if any.
sni() {
	ip netns exec "${T}i" timeout 5 openssl s_client -connect "$GATEWAY:443" \
		-servername "$1" </dev/null 2>&1 | grep -m1 '^subject=' || true
}

# count_ok NAME SCHEME N: how many of N requests to NAME got an answer
# from its home.
count_ok() {
	local i ok=0
	for ((i = 0; i < $3; i++)); do
		if visit "$1" "$2" | grep -q "^home=$1"; then ok=$((ok + 1)); fi
	done
	echo "$ok"
}

@test "four streams on one link keep their connection and every event for 90 s while another key adds and removes 100 links, and nginx is never reloaded" {
	local before after i id key start held hups
	before=$(nginx_pids)
	hups=$(grep -c 'kill -HUP' "$WORK/root/var/log/linkgate/gateway.log" || true)
	watch_start ws80 ws 80 0
	watch_start sse80 sse 80 0
	watch_start ws443 ws 443 1
	watch_start sse443 sse 443 1
	for id in ws80 sse80 ws443 sse443; do
		wait_for 100 has_events "$id" 2 || { cat "$WORK/watch-$id.log"; false; }
	done
	start=$SECONDS
	key=$(wg genkey | wg pubkey)
	# 100 links added, then removed: 200 changes by bob's key over ssh
	# (bob's quota raised for it, and set back after).
	gw authorize "$WORK/bob.pub" bob bob.example.org --links 100 >/dev/null
	for ((i = 1; i <= 100; i++)); do
		ssh_as bob add "l$i.bob.example.org" "$key" >/dev/null ||
			{ echo "add $i failed"; false; }
	done
	[ "$(gw list --json | grep -o '"name"' | wc -l)" -eq 104 ]
	for ((i = 1; i <= 100; i++)); do
		ssh_as bob remove "l$i.bob.example.org" >/dev/null
	done
	gw authorize "$WORK/bob.pub" bob bob.example.org >/dev/null
	# Held for at least 90 s in all: past the 60 s after which a reload
	# with the former worker_shutdown_timeout cut every stream.
	while [ $((SECONDS - start)) -lt 90 ]; do sleep 1; done
	held=$((SECONDS - start))
	echo "# streams held ${held} s" >&3
	after=$(nginx_pids)
	[ "$before" = "$after" ]
	for id in ws80 sse80 ws443 sse443; do
		# One event a second since the start, none missing (the
		# watcher checks the order and that its one connection stayed).
		[ "$(events "$id")" -ge "$held" ]
		run -0 watch_stop "$id"
		assert_output "stopped events=$(events "$id")"
	done
	[ "$(grep -c 'kill -HUP' "$WORK/root/var/log/linkgate/gateway.log" || true)" = "$hups" ]
}

@test "a change of the gateway's settings reloads nginx, and the old workers keep serving a held stream" {
	local before conf=$WORK/root/etc/linkgate/gateway.conf n
	watch_start ws443b ws 443 1
	wait_for 100 has_events ws443b 2
	before=$(nginx_pids)
	cp "$conf" "$conf.orig"
	echo "VISITOR_CONNS=300" >>"$conf"
	gw start >/dev/null
	mv "$conf.orig" "$conf"
	# The master starts new workers once it has handled the signal.
	wait_for 100 pids_differ "$before"
	grep -q 'limit_conn visitor 300;' "$WORK/root/var/lib/linkgate/nginx/nginx.conf"
	n=$(events ws443b)
	sleep 4
	[ "$(events ws443b)" -ge $((n + 3)) ]
	run -0 watch_stop ws443b
	assert_output "stopped events=$(events ws443b)"
	gw start >/dev/null
}

# silent_refused: the silent link answers a new visitor on :80 with 502
# within 2 s (its link namespace refuses the connection to the home).
silent_refused() {
	[ "$(ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 2 --resolve "silent.example.test:80:$GATEWAY" \
		http://silent.example.test/)" = 502 ]
}

@test "a silent home held at its link's cap (1024) leaves another link answering every request on :80 and :443" {
	local sources=10.77.0.101,10.77.0.102,10.77.0.103,10.77.0.104,10.77.0.105
	# 1,200 visitor connections from five addresses (240 each, under the
	# per-visitor cap of 256), more than the link's cap of 1,024.
	ip netns exec "${T}i" env GATEWAY="$GATEWAY" python3 \
		"$REPO/test/apps/streams.py" hold http silent.example.test 80 600 \
		"$sources" >"$WORK/hold80.log" 2>&1 &
	echo $! >"$WORK/hold80.pid"
	ip netns exec "${T}i" env GATEWAY="$GATEWAY" python3 \
		"$REPO/test/apps/streams.py" hold tls silent.example.test 443 600 \
		"$sources" >"$WORK/hold443.log" 2>&1 &
	echo $! >"$WORK/hold443.pid"
	wait_for 300 grep -q held "$WORK/hold80.log"
	wait_for 300 grep -q held "$WORK/hold443.log"
	# The home got its cap's worth, no more.
	# (The home takes them as the tunnel brings them: over 30 s on a
	# loaded machine.)
	wait_for 900 grep -q 'accepted 1000' "$WORK/app-silent.example.test.log"
	run ! grep -q 'accepted 1100' "$WORK/app-silent.example.test.log"
	# The silent link itself refuses more (:80 answers 502 at once) once
	# the last of its cap's connections reached the home (1,000 above
	# is a line of the home's every 100).
	wait_for 100 silent_refused
	[ "$(count_ok echo.example.test http 50)" -eq 50 ]
	[ "$(count_ok echo.example.test https 50)" -eq 50 ]
	kill "$(cat "$WORK/hold80.pid")" "$(cat "$WORK/hold443.pid")"
}

@test "a visitor over its cap (256) is refused, another visitor is still served" {
	ip netns exec "${T}i" env GATEWAY="$GATEWAY" python3 \
		"$REPO/test/apps/streams.py" hold http mute.example.test 80 300 \
		10.77.0.106 >"$WORK/holdv.log" 2>&1 &
	echo $! >"$WORK/holdv.pid"
	wait_for 300 grep -q held "$WORK/holdv.log"
	# (A link of its own: the silent one is still at its cap, since its
	# home never closes the connections the last test left.)
	run -0 grep -o 'held [0-9]*' "$WORK/holdv.log"
	[ "$output" = "held 256" ]
	# Refused by the gateway's kernel (a reset: curl's exit 7), before
	# nginx's own limit_conn (429) is reached.
	run -7 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 --interface 10.77.0.106 \
		--resolve "echo.example.test:80:$GATEWAY" http://echo.example.test/
	[ "$output" = 000 ]
	[ "$(count_ok echo.example.test http 5)" -eq 5 ]
	kill "$(cat "$WORK/holdv.pid")"
}

@test "idle keep-alive connections count toward a visitor's cap (256) on :80, and another visitor is still served" {
	ip netns exec "${T}i" env GATEWAY="$GATEWAY" python3 \
		"$REPO/test/apps/streams.py" hold idle echo.example.test 80 300 \
		10.77.0.104 >"$WORK/holdi.log" 2>&1 &
	echo $! >"$WORK/holdi.pid"
	wait_for 300 grep -q held "$WORK/holdi.log"
	run -0 grep -o 'held [0-9]*' "$WORK/holdi.log"
	[ "$output" = "held 256" ]
	run -7 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 --interface 10.77.0.104 \
		--resolve "echo.example.test:80:$GATEWAY" http://echo.example.test/
	[ "$output" = 000 ]
	[ "$(count_ok echo.example.test http 5)" -eq 5 ]
	kill "$(cat "$WORK/holdi.pid")"
}

@test "an admin's cap of 100 on one link refuses its 101st connection, survives make gateway, and 0 gives back the gateway's cap" {
	local rec="$WORK/root/var/lib/linkgate/links/capped.example.test"
	stream_home capped.example.test h2 6 silent
	run -0 gw limit capped.example.test --conns 100
	assert_output "capped.example.test: at most 100 connections"
	run -0 "$HELPERS/record" get "$rec" CONNS
	assert_output 100
	# The reconciler compares the link's firewall with its own cap.
	run -0 gw start
	refute_output --partial capped.example.test
	# 250 connections from two visitors: the home gets 100 of them.
	ip netns exec "${T}i" env GATEWAY="$GATEWAY" python3 \
		"$REPO/test/apps/streams.py" hold http capped.example.test 80 250 \
		10.77.0.101,10.77.0.102 >"$WORK/holdc.log" 2>&1 &
	echo $! >"$WORK/holdc.pid"
	wait_for 300 grep -q held "$WORK/holdc.log"
	wait_for 300 grep -q 'accepted 100' "$WORK/app-capped.example.test.log"
	# Time for any connection past the cap to reach the home (none may).
	sleep 2
	run ! grep -q 'accepted 200' "$WORK/app-capped.example.test.log"
	run -0 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 --resolve "capped.example.test:80:$GATEWAY" \
		http://capped.example.test/
	[ "$output" = 502 ]
	[ "$(count_ok echo.example.test http 20)" -eq 20 ]
	# Back to LINK_CONNS (1024): held connections stay, new ones pass.
	run -0 gw limit capped.example.test --conns 0
	assert_output --partial "(the gateway's LINK_CONNS)"
	ip netns exec "${T}i" env GATEWAY="$GATEWAY" python3 \
		"$REPO/test/apps/streams.py" hold http capped.example.test 80 150 \
		10.77.0.103 >"$WORK/holdc2.log" 2>&1 &
	echo $! >"$WORK/holdc2.pid"
	wait_for 300 grep -q held "$WORK/holdc2.log"
	wait_for 300 grep -q 'accepted 200' "$WORK/app-capped.example.test.log"
	kill "$(cat "$WORK/holdc.pid")" "$(cat "$WORK/holdc2.pid")"
	# The link stays: a later link given its index would meet this home's
	# peer and app on its tunnel address.
}

@test "a cap other than a number of connections is refused with exit 1, and a bad call is a usage error" {
	local before v
	before=$(cat "$WORK/root/var/lib/linkgate/links/echo.example.test")
	for v in -1 100001 1e3 010 '' abc 99999999999999999999; do
		run -1 gw limit echo.example.test --conns "$v"
		assert_output --partial "bad --conns"
	done
	run -2 gw limit echo.example.test 10
	run -1 gw limit nosuch.example.test --conns 10
	assert_output --partial "no such link"
	[ "$(cat "$WORK/root/var/lib/linkgate/links/echo.example.test")" = "$before" ]
}

# v6_cap_holds KIND NAME COUNT: COUNT connections of KIND (streams.py
# hold: http, a request in progress; idle, answered keep-alive) to NAME
# on :80 from two addresses of one /64 are held at its cap (256); a third
# address of that /64 is refused by the gateway's kernel, as an IPv4
# visitor is (a reset), and a visitor of another /64 is served.
v6_cap_holds() {
	ip netns exec "${T}i" env GATEWAY="$GATEWAY6" python3 \
		"$REPO/test/apps/streams.py" hold "$1" "$2" 80 "$3" \
		fd77::106,fd77::107 >"$WORK/holdv6-$1.log" 2>&1 &
	echo $! >"$WORK/holdv6-$1.pid"
	wait_for 300 grep -q held "$WORK/holdv6-$1.log"
	run -0 grep -o 'held [0-9]*' "$WORK/holdv6-$1.log"
	[ "$output" = "held 256" ]
	run -7 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 --interface fd77::108 \
		--resolve "echo.example.test:80:[$GATEWAY6]" http://echo.example.test/
	[ "$output" = 000 ]
	run -0 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 --interface fd78::1 \
		--resolve "echo.example.test:80:[$GATEWAY6]" http://echo.example.test/
	[ "$output" = 200 ]
	kill "$(cat "$WORK/holdv6-$1.pid")"
}

@test "an IPv6 visitor's cap (256) counts its whole /64, and a visitor of another /64 is still served" {
	# 300 connections from two addresses of one /64: 150 each, under a
	# per-address cap, over the /64's.
	v6_cap_holds http mute.example.test 300
}

@test "idle keep-alive connections of an IPv6 visitor's /64 count toward its cap (256) on :80, and another /64 is still served" {
	v6_cap_holds idle echo.example.test 400
}

@test ":80 passes a 16 KB header line, 64 KB of headers and a 16 KB response header" {
	local line big i hdrs=()
	line=$(head -c 16384 /dev/zero | tr '\0' a)
	run -0 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 --resolve "echo.example.test:80:$GATEWAY" \
		-H "Cookie: $line" http://echo.example.test/
	[ "$output" = 200 ]
	for i in 1 2 3 4 5 6 7 8; do hdrs+=(-H "X-Big-$i: ${line:0:8192}"); done
	run -0 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 --resolve "echo.example.test:80:$GATEWAY" \
		"${hdrs[@]}" http://echo.example.test/
	[ "$output" = 200 ]
	run -0 ip netns exec "${T}i" curl -s -D - -o /dev/null --max-time 5 \
		--resolve "echo.example.test:80:$GATEWAY" \
		http://echo.example.test/big-header/16384
	assert_line --partial "200"
	big=$(printf '%s\n' "$output" | grep '^X-Big:' | tr -d '\r')
	[ "${#big}" -eq $((16384 + 7)) ]
}

@test "route lookups fold case and a trailing dot, serve wildcard names up to 8 labels below, and refuse bad names" {
	run -0 visit ECHO.Example.TEST.
	assert_output --partial "home=echo.example.test"
	run -0 visit a.b.c.d.e.f.g.h.echo.example.test
	assert_output --partial "home=echo.example.test"
	run -0 visit a.b.c.d.e.f.g.h.i.echo.example.test
	assert_output "no such link"
	run -0 visit x.echo.example.test https
	assert_output --partial "home=echo.example.test"
	# Not a wildcard link: no names below it.
	run -0 visit x.stream.example.test
	assert_output "no such link"
	run -0 visit nothing.example.test
	assert_output "no such link"
	run -0 ip netns exec "${T}i" curl -s --max-time 3 -H 'Host: x..y' \
		-o /dev/null -w '%{http_code}' "http://$GATEWAY/"
	[ "$output" = 400 ]
}

@test "a link that is not a wildcard one hides a wildcard link above it from the names below it, as in DNS" {
	gw add inner.echo.example.test "$(wg genkey | wg pubkey)" >/dev/null
	run -0 visit x.inner.echo.example.test
	assert_output "no such link"
	run -0 visit x.other.echo.example.test
	assert_output --partial "home=echo.example.test"
	gw remove inner.echo.example.test >/dev/null
	run -0 visit x.inner.echo.example.test
	assert_output --partial "home=echo.example.test"
}

@test "an SNI that climbs out of the route folder reaches no file: the connection closes" {
	local planted=$WORK/root/run/linkgate/planted.example.test
	# A valid route one folder up, for a name routes.js must never build.
	cp "$WORK/root/run/linkgate/routes/echo.example.test" "$planted"
	chmod 0644 "$planted"
	run -0 sni ECHO.Example.TEST
	assert_output --partial "CN = app"
	run sni ../planted.example.test
	refute_output --partial "CN = app"
	run sni echo.example.test/../echo.example.test
	refute_output --partial "CN = app"
	rm -f "$planted"
}

@test "removing a link ends nginx's connections to it at once" {
	local veth
	stream_home gone.example.test h2 4 serve
	veth=$("$HELPERS/record" get "$WORK/root/var/lib/linkgate/links/gone.example.test" VETH_LINK_ADDR)
	ip netns exec "${T}i" env GATEWAY="$GATEWAY" python3 \
		"$REPO/test/apps/streams.py" watch ws gone.example.test 80 0 \
		>"$WORK/watch-gone.log" 2>&1 &
	echo $! >"$WORK/watch-gone.pid"
	wait_for 100 has_events gone 2
	run -0 ip netns exec "${T}g" ss -Htn dst "$veth"
	refute_output ""
	gw remove gone.example.test >/dev/null
	run -0 ip netns exec "${T}g" ss -Htn dst "$veth"
	assert_output ""
	wait_for 20 grep -q '^failed: connection closed' "$WORK/watch-gone.log"
}

@test "on :80, twenty visitors' requests to one link reuse nginx's kept-alive connections to it" {
	local veth req
	veth=$("$HELPERS/record" get "$WORK/root/var/lib/linkgate/links/stream.example.test" VETH_LINK_ADDR)
	# (Not i: bats's run changes it.)
	for req in $(seq 20); do
		[ "$(visit stream.example.test http /ka)" = ok ] ||
			fail "request $req got no answer"
	done
	# None closed (a closed one waits in TIME-WAIT here), and fewer open
	# than requests.
	run -0 ip netns exec "${T}g" ss -Htn state time-wait dst "$veth"
	assert_output ""
	run -0 bash -c "ip netns exec ${T}g ss -Htn state established dst $veth | wc -l"
	[ "$output" -ge 1 ] && [ "$output" -lt 20 ]
}
