#!/usr/bin/env bats
# Health checks: linkgate health (the command linkgate-health.timer runs,
# run here directly: systemd is not PID 1), its per-link results read by
# status and status --json, the Prometheus textfile checked by promtool
# and scraped by a real node_exporter, per-key status over ssh, the
# bound on parallel probes, the link client's down and up lines, and
# that nothing of visitors is stored by default.
#
#   ${T}i visitor ── bridge ──┬── ${T}g gateway: nginx, sshd, node_exporter
#                             │     on 127.0.0.1:9100 of its namespace
#                             ├── ${T}h1 up.example.test (echo app, peer 1),
#                             │          down.example.test (peer 2, taken
#                             │          down and up), cl.example.test
#                             │          (the link client, FORWARD_ONLY)
#                             └── ${T}h2 noapp.example.test (peer 3, no
#                                        app), alice's and bob's links,
#                                        dead1-4 (peers 11-14)

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	net_down
	net_up
	gw_conf
	# Short probes, two at a time, the metrics in the test's folder.
	printf '%s\n' HEALTH_TIMEOUT=1 HEALTH_JOBS=2 "METRICS_DIR=$WORK/metrics" \
		>>"$WORK/root/etc/linkgate/gateway.conf"
	gw setup >/dev/null
	gw start >/dev/null
	sshd_up
	# The certificate every echo app serves: for up.example.test only,
	# 5 days left.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 5 -subj /CN=up.example.test \
		-addext subjectAltName=DNS:up.example.test \
		-keyout "$WORK/app.key" -out "$WORK/app.crt" 2>/dev/null
	link_home up.example.test h1 1
	link_home down.example.test h1 2
	link_peer noapp.example.test h2 3
	key_link alice a.example.test h2 4
	key_link bob b.bob.example.org h2 5
	for n in 1 2 3 4 5; do
		wait_for 50 handshaken "$n" || {
			echo "# peer $n: no handshake: $(ip netns exec "$T$(peer_home "$n")" wg show "${T}c$n" 2>&1 | tr '\n' ' ')" >&3
			return 1
		}
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

# link_peer NAME HOME N: adds link N at the gateway (as root) and brings
# up its WireGuard peer at HOME, with no app behind it.
link_peer() {
	umask 077
	wg genkey >"$WORK/c$3.key"
	gw add "$1" "$(wg pubkey <"$WORK/c$3.key")" >"$WORK/add$3.out"
	IFS=$'\t' read -r _ gwpub endpoint client _ _ <"$WORK/add$3.out"
	home_peer "$2" "$3" "$WORK/c$3.key" "$gwpub" "$endpoint" "$client"
}

# key_link WHO NAME HOME N: link N added over ssh by WHO, its peer and an
# echo app at HOME.
key_link() {
	umask 077
	wg genkey >"$WORK/c$4.key"
	ssh_as "$1" add "$2" "$(wg pubkey <"$WORK/c$4.key")" >"$WORK/add$4.out"
	IFS=$'\t' read -r _ gwpub endpoint client _ _ <"$WORK/add$4.out"
	home_peer "$3" "$4" "$WORK/c$4.key" "$gwpub" "$endpoint" "$client"
	echo_app "$3" "$client" "$2"
}

# handshaken N: home peer N has a handshake with the gateway; if not, a
# ping through the tunnel (the link namespace answers it) starts one.
handshaken() {
	local home client gwaddr t
	home=$(peer_home "$1")
	t=$(ip netns exec "$T$home" wg show "${T}c$1" latest-handshakes | cut -f2)
	[ "${t:-0}" -gt 0 ] && return 0
	IFS=$'\t' read -r _ _ _ client gwaddr _ <"$WORK/add$1.out"
	ip netns exec "$T$home" ping -q -c 1 -W 1 -I "$client" "$gwaddr" >/dev/null 2>&1 || :
	return 1
}

# peer_home N: the home of peer N (as setup_file placed them).
peer_home() {
	case $1 in 1 | 2) echo h1 ;; *) echo h2 ;; esac
}

# home_down N, home_up N: peer N's tunnel interface at home down (the
# home is gone for the gateway: nothing answers through the tunnel) and
# up again, with the route its policy rule uses.
home_down() {
	ip -n "$T$(peer_home "$1")" link set "${T}c$1" down
}
home_up() {
	local ns
	ns=$T$(peer_home "$1")
	ip -n "$ns" link set "${T}c$1" up
	ip -n "$ns" route replace default dev "${T}c$1" table $((200 + $1))
}

# field NAME KEY: KEY of NAME's stored health result.
field() {
	sed -n "s/^$2=//p" "$WORK/root/var/lib/linkgate/health/$1"
}

# json NAME FILTER: FILTER applied to NAME's object in gw status --json.
json() {
	gw status --json | jq -r --arg n "$1" ".links[] | select(.name == \$n) | $2"
}

@test "a health round records an up link with its handshake, bytes, health path and certificate" {
	run -0 gw health
	assert_output --regexp '^health: 5 links, 4 up, 1 down, in [0-9.]+ s$'
	[ "$(field up.example.test STATE)" = up ]
	[ "$(field up.example.test TUNNEL)" = up ]
	[ "$(field up.example.test HTTP)" = 200 ]
	[ "$(field up.example.test HANDSHAKE)" -gt $(($(date +%s) - 60)) ]
	[ "$(field up.example.test RX)" -gt 0 ]
	[ "$(field up.example.test TLS)" = ok ]
	[ "$(field up.example.test TLS_NAME)" = yes ]
	run -0 json up.example.test '.tls.days_left, .tls.issuer, .tls.name_match'
	assert_output "$(printf '4\nCN = up.example.test\ntrue')"
	# The same certificate served for another name does not match it.
	run -0 json a.example.test '.tls.name_match'
	assert_output false
}

@test "a link whose home app does not listen is down with the reason the gateway sees" {
	gw health >/dev/null
	[ "$(field noapp.example.test STATE)" = down ]
	[ "$(field noapp.example.test TUNNEL)" = up ]
	assert_equal "$(field noapp.example.test REASON)" "health path: connection refused"
}

@test "status shows one link up and one down from the stored results, and --json matches the table" {
	gw health >/dev/null
	run -0 gw status
	assert_line --index 0 --regexp '^NAME +TUNNEL +HANDSHAKE +RX +TX +STATE +SINCE +CHECKED +TLS +DAYS +HOME +MTU +IF_MTU +EXPIRES +REASON$'
	assert_line --regexp '^up\.example\.test +up +[0-9]+s +[0-9]+ +[0-9]+ +up +20[0-9-]+T[0-9:]+Z +[0-9]+s +ok +4 +yes +1380 +1376 +never$'
	assert_line --regexp '^noapp\.example\.test +up +[0-9]+s .* down .* no +1380 +1376 +never +health path: connection refused$'
	gw status --json >"$WORK/status.json"
	run -0 jq -e '.links | length == 5' "$WORK/status.json"
	# Each link's fields in the table's order: the two must agree.
	jq -r '.links[] | [.name, .tunnel, .state, (.tls.days_left // "-"),
		(if .home then "yes" else "no" end), .mtu, .if_mtu] | join(" ")' \
		"$WORK/status.json" | sort >"$WORK/from-json"
	gw status | awk 'NR > 1 { print $1, $2, $6, $10, $11, $12, $13 }' | sort \
		>"$WORK/from-table"
	diff "$WORK/from-table" "$WORK/from-json"
	run -0 jq -r '.links[] | select(.name == "noapp.example.test") | .reason' "$WORK/status.json"
	assert_output "health path: connection refused"
}

@test "status answers from the last results without probing; --probe checks now" {
	gw health >/dev/null
	home_down 1
	run -0 gw status up.example.test
	assert_line --index 1 --regexp '^up\.example\.test +up .* up '
	run -0 gw status --probe up.example.test
	assert_line --index 1 --regexp '^up\.example\.test +up .* down .* health path: no answer in 1 s$'
	home_up 1
	wait_for 50 gw_probe_up up.example.test
}

# gw_probe_up NAME: status --probe finds NAME up.
gw_probe_up() {
	gw status --probe "$1" | awk -v n="$1" '$1 == n && $6 == "up" { f = 1 } END { exit !f }'
}

@test "status --probe while a check holds the health lock is refused at once as busy (exit 75), and status without --probe still answers" {
	local lock=$WORK/root/var/lib/linkgate/health.lock before
	before=$(field up.example.test CHECKED)
	# The holder is the process that has the lock (exec): killing it
	# frees the lock.
	bash -c 'exec 9>>"$1" && flock 9 && exec sleep 30' _ "$lock" 3>&- &
	holder=$!
	run -0 wait_for 50 bash -c "! flock -n '$lock' true"
	run -75 gw status --probe up.example.test
	assert_output "linkgate: busy: a health check runs now; try again, or status without --probe for the last results"
	run -75 ssh_as alice status --probe a.example.test
	assert_output --partial "linkgate: busy: a health check runs now"
	assert_equal "$(field up.example.test CHECKED)" "$before"
	run -0 gw status up.example.test
	assert_line --index 1 --regexp '^up\.example\.test '
	kill "$holder"
	wait "$holder" || :
	run -0 gw status --probe up.example.test
}

@test "a home that goes down is found down with its reason, and its since stays while it is down" {
	gw health >/dev/null
	[ "$(field down.example.test STATE)" = up ]
	home_down 2
	gw health >/dev/null
	[ "$(field down.example.test STATE)" = down ]
	assert_equal "$(field down.example.test REASON)" "health path: no answer in 1 s"
	since=$(field down.example.test SINCE)
	checked=$(field down.example.test CHECKED)
	sleep 1
	gw health >/dev/null
	[ "$(field down.example.test STATE)" = down ]
	[ "$(field down.example.test CHECKED)" -gt "$checked" ]
	assert_equal "$(field down.example.test SINCE)" "$since"
	run -0 grep -x 'linkgate_link_up{link="down.example.test",owner="root"} 0' "$WORK/metrics/linkgate.prom"
	run -0 grep -x "linkgate_link_state_since_timestamp_seconds{link=\"down.example.test\",owner=\"root\"} $since" \
		"$WORK/metrics/linkgate.prom"
}

@test "a home that comes back is found up at the next round, with a new since and metric" {
	[ "$(field down.example.test STATE)" = down ]
	since=$(field down.example.test SINCE)
	home_up 2
	wait_for 50 handshaken 2
	sleep 1
	gw health >/dev/null
	[ "$(field down.example.test STATE)" = up ]
	[ "$(field down.example.test SINCE)" -gt "$since" ]
	run -0 grep -x 'linkgate_link_up{link="down.example.test",owner="root"} 1' "$WORK/metrics/linkgate.prom"
}

@test "the metrics textfile passes promtool check metrics" {
	gw health >/dev/null
	run -0 promtool check metrics <"$WORK/metrics/linkgate.prom"
	assert_output ""
	for m in linkgate_link_up linkgate_link_handshake_age_seconds \
		linkgate_link_receive_bytes_total linkgate_link_transmit_bytes_total \
		linkgate_link_probe_duration_seconds \
		linkgate_link_certificate_expiry_timestamp_seconds linkgate_link_connections \
		linkgate_key_links linkgate_key_links_max linkgate_links linkgate_nginx_up \
		linkgate_reconcile_duration_seconds linkgate_reconcile_errors_total \
		linkgate_health_round_duration_seconds; do
		grep -q "^# TYPE $m " "$WORK/metrics/linkgate.prom" || fail "no $m"
	done
	run -0 grep -x 'linkgate_key_links{key="alice"} 1' "$WORK/metrics/linkgate.prom"
	run -0 grep -x 'linkgate_key_links_max{key="bob"} 10' "$WORK/metrics/linkgate.prom"
	run -0 grep -x 'linkgate_links 5' "$WORK/metrics/linkgate.prom"
	run -0 grep -x 'linkgate_nginx_up 1' "$WORK/metrics/linkgate.prom"
	# The file is replaced whole: no temporary file stays beside it.
	run -0 ls -A "$WORK/metrics"
	assert_output linkgate.prom
}

@test "node_exporter's textfile collector serves the link metrics" {
	gw health >/dev/null
	ip netns exec "${T}g" prometheus-node-exporter \
		--web.listen-address=127.0.0.1:9100 --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$WORK/metrics" \
		>"$WORK/node-exporter.log" 2>&1 &
	echo $! >"$WORK/node-exporter.pid"
	wait_for 50 ip netns exec "${T}g" curl -sf -o "$WORK/scrape" http://127.0.0.1:9100/metrics
	run -0 grep -x 'linkgate_link_up{link="up.example.test",owner="root"} 1' "$WORK/scrape"
	run -0 grep -x 'linkgate_link_up{link="noapp.example.test",owner="root"} 0' "$WORK/scrape"
	run -0 grep -x 'node_textfile_scrape_error 0' "$WORK/scrape"
	kill "$(cat "$WORK/node-exporter.pid")"
	rm -f "$WORK/node-exporter.pid"
}

@test "a key sees only its own links in status and status --json over ssh" {
	gw health >/dev/null
	run -0 ssh_as bob status
	assert_line --regexp '^b\.bob\.example\.org +up '
	[ "${#lines[@]}" -eq 2 ]
	run -0 ssh_as bob status --json
	assert_equal "$(echo "$output" | jq -r '[.links[].name] | join(" ")')" b.bob.example.org
	run -1 ssh_as bob status a.example.test
	assert_output "linkgate: a.example.test belongs to another key"
	run -1 ssh_as bob status --probe a.example.test
	assert_output "linkgate: a.example.test belongs to another key"
	run -0 ssh_as admin status --json
	run -0 jq -e '.links | length == 5' <<<"$output"
}

@test "a key probes its own link now over ssh, and the forced command refuses other options" {
	rm -f "$WORK/root/var/lib/linkgate/health/a.example.test"
	run -0 ssh_as alice status --probe --json a.example.test
	assert_equal "$(echo "$output" | jq -r '.links[0].state')" up
	[ -f "$WORK/root/var/lib/linkgate/health/a.example.test" ]
	run -1 ssh_as alice status --probe --probe
	assert_output --partial "option '--probe' repeated"
	run -1 ssh_as alice status --all
	assert_output --partial "unknown option '--all'"
}

@test "make links shows the key's links with their health" {
	gw health >/dev/null
	run -0 ip netns exec "${T}h1" env SSH_KEY="$WORK/bob" KNOWN_HOSTS="$WORK/known_hosts" \
		GATEWAY="root@$GATEWAY" make -s -C "$REPO" links
	assert_line --regexp '^b\.bob\.example\.org +up +[0-9]+s .* up '
	refute_output --partial a.example.test
}

@test "a round probes at most HEALTH_JOBS links at once, each for at most HEALTH_TIMEOUT" {
	for n in 11 12 13 14; do
		link_peer "dead$n.example.test" h2 "$n"
	done
	for n in 11 12 13 14; do
		wait_for 50 handshaken "$n"
		home_down "$n"
	done
	gw health >/dev/null
	for n in 11 12 13 14; do
		assert_equal "$(field "dead$n.example.test" REASON)" "health path: no answer in 1 s"
	done
	# Every probe's start and end (ns): no moment has more than
	# HEALTH_JOBS=2 of them running, and two did run at once.
	for f in "$WORK"/root/var/lib/linkgate/health/*; do
		echo "$(sed -n 's/^PROBE_START=//p' "$f") 1"
		echo "$(sed -n 's/^PROBE_END=//p' "$f") -1"
	done | sort -n -k1,1 -k2,2n | awk '{ c += $2; if (c > m) m = c } END { print m }' >"$WORK/overlap"
	assert_equal "$(cat "$WORK/overlap")" 2
	for n in 11 12 13 14; do
		gw remove "dead$n.example.test" >/dev/null
	done
}

@test "a link without a home is down with no handshake yet, and is not probed" {
	gw add nohome.example.test "$(wg genkey | wg pubkey)" >/dev/null
	gw health >/dev/null
	assert_equal "$(field nohome.example.test REASON)" "no handshake with the home yet"
	assert_equal "$(field nohome.example.test HTTP)" ""
	assert_equal "$(field nohome.example.test TLS)" ""
	gw remove nohome.example.test >/dev/null
	gw health >/dev/null
	[ ! -e "$WORK/root/var/lib/linkgate/health/nohome.example.test" ]
	run -1 grep -F nohome.example.test "$WORK/metrics/linkgate.prom"
}

@test "list --json keeps its fields, built by jq" {
	run -0 gw list --json
	run -0 jq -e '.links[] | select(.name == "up.example.test") |
		(.port | type == "number") and .index == 1 and .owner == "root" and
		.wildcard == false and (.client_key | length == 44)' <<<"$output"
	run -0 ssh_as bob list --json
	assert_output --partial '"keys":[{"key":"bob","links":1,"max":10}]}'
}

@test "the link client logs when its link goes down and comes back, with the reason" {
	umask 077
	wg genkey >"$WORK/cl.key"
	gw add cl.example.test "$(wg pubkey <"$WORK/cl.key")" >"$WORK/addcl.out"
	IFS=$'\t' read -r _ gwpub endpoint client gwaddr _ <"$WORK/addcl.out"
	printf '%s\n' LINK_DOMAIN=cl.example.test EXPOSE=127.0.0.1:9080 \
		"GATEWAY_CLIENT_WG_PRIVKEY=$(cat "$WORK/cl.key")" \
		"GATEWAY_LINK_WG_PUBKEY=$gwpub" "GATEWAY_ENDPOINT=$endpoint" \
		"LINK_CLIENT_ADDRESS=$client" "LINK_GATEWAY_ADDRESS=$gwaddr" \
		>"$WORK/cl.env"
	ip netns exec "${T}h1" env FORWARD_ONLY=1 KEEPALIVE=1 LINK_IFNAME="${T}lc" \
		"$REPO/client/link-client" --env-file "$WORK/cl.env" >"$WORK/cl.log" 2>&1 &
	echo $! >"$WORK/cl.pid"
	wait_for 100 grep -q 'forwarding :8080' "$WORK/cl.log"
	idx=$(gw list | awk '$1 == "cl.example.test" { print $3 }')
	# The gateway's end of the tunnel goes down: nothing answers there.
	ip -n "${GWPREFIX}n$idx" link set "${GWPREFIX}w$idx" down
	wait_for 100 grep -q 'link down' "$WORK/cl.log"
	run -0 grep -c 'link-client: link down: no answer from the gateway through the tunnel (last handshake [0-9]* s ago): new handshake$' "$WORK/cl.log"
	assert_output 1
	gw start >/dev/null
	wait_for 100 grep -q 'link up' "$WORK/cl.log"
	run -0 grep -c 'link-client: link up: the gateway answers through the tunnel again, after [0-9]* s down (last handshake [0-9]* s ago)$' "$WORK/cl.log"
	assert_output 1
	kill "$(cat "$WORK/cl.pid")"
	wait_for 50 bash -c "! kill -0 $(cat "$WORK/cl.pid") 2>/dev/null"
	rm -f "$WORK/cl.pid"
	gw remove cl.example.test >/dev/null
}

@test "nothing of visitors is stored by default: no address, no name that is not a link" {
	home_down 2
	run -0 visit up.example.test
	run -0 visit up.example.test https
	run -0 visit no-such-visitor-name.example.test
	# A home that refuses and one that does not answer: nginx errors.
	run -0 visit noapp.example.test
	assert_output --partial 502
	run visit down.example.test
	home_up 2
	run -0 visit a.example.test https
	run -1 grep -rlwF "$VISITOR" "$WORK/root"
	run -1 grep -rlF no-such-visitor-name "$WORK/root"
	[ ! -e "$WORK/root/var/log/linkgate/access.log" ]
}

# logged_visit: a visit to up.example.test/logged-path is in access.log.
logged_visit() {
	visit up.example.test http /logged-path >/dev/null &&
		grep -qF "$VISITOR \"up.example.test\" 200 GET \"/logged-path\"" \
			"$WORK/root/var/log/linkgate/access.log" 2>/dev/null
}

@test "ACCESS_LOG=1 logs each visitor request and nginx's errors with the visitor's address" {
	conf=$WORK/root/etc/linkgate/gateway.conf
	cp "$conf" "$WORK/conf.saved"
	echo ACCESS_LOG=1 >>"$conf"
	gw start >/dev/null
	# Until nginx's new workers (after the reload) take the requests.
	wait_for 50 logged_visit
	run -0 visit up.example.test https
	run -0 visit noapp.example.test
	run -0 grep -F "$VISITOR \"up.example.test\" 200 GET \"/logged-path\"" \
		"$WORK/root/var/log/linkgate/access.log"
	# The :443 connection, from the stream block: bytes each way, time.
	run -0 grep -E "$VISITOR \"up\.example\.test\" 200 [0-9]+ [0-9]+ [0-9.]+$" \
		"$WORK/root/var/log/linkgate/access.log"
	run -0 grep -F "client: $VISITOR" "$WORK/root/var/log/linkgate/nginx-error.log"
	cp "$WORK/conf.saved" "$conf"
	gw start >/dev/null
	rm -f "$WORK/root/var/log/linkgate/access.log"
	: >"$WORK/root/var/log/linkgate/nginx-error.log"
}
