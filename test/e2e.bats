#!/usr/bin/env bats
# The whole mission end to end, every part real: a visitor and an ACME CA
# (pebble, with its DNS) on "the internet", a gateway set up with make,
# two homes that make their links over ssh and run the link client.
#
#   app1.example.test  home1  Caddy, certificate from pebble
#   fwd1.example.test  home1  FORWARD_ONLY, PROXY protocol to a TLS app
#   app2.example.test  home2  Caddy, wildcard, certificates on demand
#   fwd2.example.test  home2  FORWARD_ONLY, plain HTTP app
#   app3.example.test  home2  Caddy, wildcard, made by the abuse test
#   app7.example.test  home2  Caddy, wildcard, made by the first account test

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	net_down
	net_up
	acme_up
	gateway_make_up h1 h2
	for h in h1 h2; do
		home_app "$h"
	done
	home_link h1 app1.example.test 127.0.0.1:9080 >/dev/null
	home_link h1 fwd1.example.test 127.0.0.1:9080 >/dev/null
	home_link h2 app2.example.test 127.0.0.1:9080 WILDCARD=1 \
		'ALLOW=*.u.app2.example.test' >/dev/null
	home_link h2 fwd2.example.test 127.0.0.1:9080 >/dev/null
	home_client h1 app1.example.test KEEPALIVE=2
	home_client h1 fwd1.example.test KEEPALIVE=2 FORWARD_ONLY=1 \
		EXPOSE_HTTPS=127.0.0.1:9444 FORWARD_PROXY_PROTOCOL=1
	home_client h2 app2.example.test KEEPALIVE=2
	home_client h2 fwd2.example.test KEEPALIVE=2 FORWARD_ONLY=1 \
		EXPOSE_HTTPS=127.0.0.1:9445
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

# The abuse test's link goes again, whether it passed or not: the tests
# after it count the gateway's links. So do the first account test's link
# and the IPv6 ACME test's, and pebble's DNS gets its IPv4
# answers back.
teardown() {
	local pid name
	if [ -f "$WORK/dns-v6-only" ]; then
		dns_default 4 "$GATEWAY"
		dns_default 6 ""
		rm -f "$WORK/dns-v6-only"
	fi
	for name in app3.example.test app6.example.test app7.example.test; do
		[ -f "$WORK/client-$name.pid" ] || continue
		pid=$(cat "$WORK/client-$name.pid")
		kill -TERM "$pid" 2>/dev/null || true
		wait_for 50 bash -c "! kill -0 $pid 2>/dev/null" || true
		rm -f "$WORK/client-$name.pid"
		gw remove "$name" >/dev/null 2>&1 || true
	done
}

# dns_default 4|6 ADDRESS: the address pebble's DNS answers every A (4)
# or AAAA (6) query with; "" for none.
dns_default() {
	ip netns exec "${T}i" curl -sf --max-time 5 -X POST -d "{\"ip\":\"$2\"}" \
		"http://$VISITOR:8055/set-default-ipv$1"
}

# issuer NAME: the issuer of the certificate the gateway's :443 hands out
# for NAME.
issuer() {
	ip netns exec "${T}i" openssl s_client -connect "$GATEWAY:443" \
		-servername "$1" </dev/null 2>/dev/null | openssl x509 -noout -issuer
}

# recovery NAME CHECK...: waits (at most 30 s) until CHECK passes and
# prints how long it took.
recovery() {
	local name=$1 start end
	shift
	start=$(date +%s%N)
	wait_for 300 "$@" >/dev/null 2>&1 || return 1
	end=$(date +%s%N)
	echo "# $name: visitors served again after $(((end - start) / 1000000)) ms" >&3
}

gone() {
	[ "$(ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 -H "Host: $1" "http://$GATEWAY/")" = 404 ]
}

@test "home1's Caddy gets its certificate from pebble through the gateway, and it verifies against pebble's root" {
	wait_for 100 visit_tls app1.example.test -o /dev/null
	run -0 visit_tls app1.example.test
	assert_output --partial "home=h1 peer=127.0.0.1 xff=$VISITOR host=app1.example.test"
	run -0 issuer app1.example.test
	assert_output --partial Pebble
	run -0 ls "$WORK/data-app1.example.test/caddy/certificates/"
	assert_output --partial "$VISITOR-14000-dir"
}

@test "https to a name under the wildcard link gets an on-demand certificate from pebble" {
	run -0 visit_tls x.u.app2.example.test
	assert_output --partial "home=h2 peer=127.0.0.1 xff=$VISITOR host=x.u.app2.example.test"
	run -0 issuer x.u.app2.example.test
	assert_output --partial Pebble
}

@test "a name outside the wildcard link's domain sent to home2 gets no certificate" {
	addr=$(grep ^LINK_CLIENT_ADDRESS= "$WORK/h2/app2.example.test.env" | cut -d= -f2)
	run ip netns exec "${T}h2" curl -sS -k --max-time 10 \
		--resolve "evil.example.org:8443:$addr" https://evil.example.org:8443/
	[ "$status" -ne 0 ]
	run -1 grep -rl evil.example.org "$WORK/data-app2.example.test/caddy/certificates"
	run -1 grep -c evil.example.org "$WORK/pebble.log"
}

@test "each visitor request lands at its own home and only there, over HTTP and HTTPS" {
	for n in 1 2; do
		tag=only-$n-$RANDOM
		run -0 visit_tls "app$n.example.test" --path-as-is -o /dev/null \
			--url-query "$tag"
		run -0 visit "fwd$n.example.test" http "/?$tag"
		assert_output --partial "home=h$n "
		run -0 grep -c "$tag" "$WORK/app-h$n/access.log"
		assert_output 2
		other=$((3 - n))
		run -1 grep -c "$tag" "$WORK/app-h$other/access.log"
	done
}

@test "the app behind Caddy sees the visitor in X-Forwarded-For over HTTPS" {
	run -0 visit_tls app2.example.test
	assert_output --partial "home=h2 peer=127.0.0.1 xff=$VISITOR "
}

@test "an HTTP app behind FORWARD_ONLY sees the visitor in X-Forwarded-For from the gateway" {
	run -0 visit fwd2.example.test http
	assert_output --partial "home=h2 peer=127.0.0.1 xff=$VISITOR "
}

@test "a TLS app behind FORWARD_ONLY with FORWARD_PROXY_PROTOCOL=1 learns the visitor from PROXY protocol" {
	run -0 visit fwd1.example.test https
	assert_output "home=h1 tls pp=$VISITOR peer=127.0.0.1"
}

@test "the gateway only streams :443 and holds no TLS key or certificate of any app" {
	run -0 grep -c ssl_preread "$WORK/root/var/lib/linkgate/nginx/nginx.conf"
	run -1 grep -rlE 'ssl_certificate|listen[^;]*ssl' "$WORK/root"
	run -1 grep -rlE 'BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)' "$WORK/root"
	run -0 find "$WORK/data-app1.example.test" -name app1.example.test.key
	assert_output --regexp 'app1.example.test.key$'
}

@test "an unknown host gets 404 over HTTP and a closed connection over HTTPS" {
	run -0 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 -H 'Host: nobody.example.test' "http://$GATEWAY/"
	assert_output 404
	run visit_tls nobody.example.test
	[ "$status" -eq 35 ] || [ "$status" -eq 56 ]
}

@test "an IPv6 visitor gets the Caddy link's certificate and its app over :443, and the home sees its own IPv6 address as the peer" {
	run -0 visit_tls6 app1.example.test
	assert_output "home=h1 peer=127.0.0.1 xff=$VISITOR6 host=app1.example.test"
	run -0 grep -c "$VISITOR6" "$WORK/app-h1/access.log"
}

@test "an IPv6 visitor on :80 gets the Caddy link's redirect and its health path" {
	run -0 ip netns exec "${T}i" curl -6 -sS -o /dev/null --max-time 5 \
		-w '%{http_code} %{redirect_url}' -H 'Host: app1.example.test' \
		"http://[$GATEWAY6]/x?y"
	assert_output "308 https://app1.example.test/x?y"
	run -0 ip netns exec "${T}i" curl -6 -sS --max-time 5 \
		-H 'Host: app1.example.test' "http://[$GATEWAY6]/.well-known/gateway/health"
	assert_output OK
}

@test "an IPv6 visitor's HTTP request through a FORWARD_ONLY link reaches its home with the visitor's IPv6 address in X-Forwarded-For" {
	run -0 visit6 fwd2.example.test http /v6
	assert_output "home=h2 peer=127.0.0.1 xff=$VISITOR6 host=fwd2.example.test"
}

@test "an IPv6 visitor's TLS stream through a FORWARD_ONLY link reaches its home's TLS app, which learns the visitor's IPv6 address from PROXY protocol" {
	run -0 visit6 fwd2.example.test https
	assert_output "home=h2 tls peer=127.0.0.1"
	run -0 visit6 fwd1.example.test https
	assert_output "home=h1 tls pp=$VISITOR6 peer=127.0.0.1"
}

@test "an unknown host over IPv6 gets 404 on :80 and a closed connection on :443" {
	run -0 ip netns exec "${T}i" curl -6 -s -o /dev/null -w '%{http_code}' \
		--max-time 5 -H 'Host: nobody.example.test' "http://[$GATEWAY6]/"
	assert_output 404
	run visit_tls6 nobody.example.test
	[ "$status" -eq 35 ] || [ "$status" -eq 56 ]
}

@test "make gateway leaves the host's IPv6 forwarding off and its own IPv6 default route in place" {
	run -0 gw_make gateway
	run -0 ip -n "${T}g" -6 route show default
	assert_output --partial "via $VISITOR6 dev eth0"
	for k in all.forwarding eth0.forwarding; do
		run -0 ip netns exec "${T}g" sysctl -n "net.ipv6.conf.$k"
		assert_output 0
	done
	run -0 ip netns exec "${T}g" ping -6 -c 1 -W 2 "$VISITOR6"
	run -0 visit6 fwd2.example.test http
	assert_output --partial "home=h2 "
}

@test "pebble validating over IPv6 only (no A answers) reaches a new Caddy link at home through the gateway" {
	touch "$WORK/dns-v6-only"
	dns_default 4 ""
	dns_default 6 "$GATEWAY6"
	run -0 grep -c 'Set default IPv4 address for DNS A queries to ""' "$WORK/dns.log"
	home_link h1 app6.example.test 127.0.0.1:9080 >/dev/null
	home_client h1 app6.example.test KEEPALIVE=2
	wait_for 300 visit_tls6 app6.example.test -o /dev/null
	run -0 visit_tls6 app6.example.test
	assert_output --partial "home=h1 peer=127.0.0.1 xff=$VISITOR6 host=app6.example.test"
	run -0 ip netns exec "${T}i" openssl s_client -connect "[$GATEWAY6]:443" \
		-servername app6.example.test </dev/null
	run -0 openssl x509 -noout -issuer <<<"$output"
	assert_output --partial Pebble
}

# orders: how many orders pebble has taken.
orders() {
	grep -c 'Added order' "$WORK/pebble.log" || true
}

# since T0: milliseconds since T0 (date +%s%N).
since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

@test "50 random names under a wildcard link cause no more orders at pebble than its rate limit, and its allowed names get their certificates" {
	home_link h2 app3.example.test 127.0.0.1:9080 WILDCARD=1 \
		'ALLOW=ok.app3.example.test,*.u.app3.example.test' >/dev/null
	t0=$(date +%s%N)
	home_client h2 app3.example.test KEEPALIVE=2
	wait_for 300 visit_tls ok.app3.example.test -o /dev/null
	echo "# allowed names: ok.app3.example.test served with its certificate $(since "$t0") ms after the client started" >&3
	run -0 visit_tls app3.example.test
	assert_output --partial "home=h2 peer=127.0.0.1 xff=$VISITOR host=app3.example.test"
	before=$(orders)
	t0=$(date +%s%N)
	# (An order and its validation through the gateway: more than
	# visit_tls's 10 s on a loaded machine; curl takes the last --max-time.)
	run visit_tls first.u.app3.example.test --max-time 60
	if [ "$status" -ne 0 ]; then
		# What Caddy and pebble said about the name, for the failure's cause.
		grep -i 'first\.u\.app3' "$WORK/client-app3.example.test.log" | tail -n 20
		grep -i 'first\.u\.app3\|error\|invalid' "$WORK/pebble.log" | tail -n 20
	fi
	[ "$status" -eq 0 ]
	assert_output --partial "host=first.u.app3.example.test"
	echo "# allowed names: first.u.app3.example.test got its certificate on demand in $(since "$t0") ms" >&3
	# 25 names outside LINK_ALLOW, 25 under *.u: one more certificate
	# (the default CERT_BURST, 2 a day, less the one above), no orders
	# for the rest.
	for i in $(seq 25); do
		visit_tls "r$i-$RANDOM.app3.example.test" -o /dev/null 2>/dev/null || true
		visit_tls "r$i-$RANDOM.u.app3.example.test" -o /dev/null 2>/dev/null || true
	done
	after=$(orders)
	echo "# 50 random names: $((after - before - 1)) orders at pebble (first.u's aside)" >&3
	[ "$((after - before))" -eq 2 ]
	run -0 sh -c "ls '$WORK/data-app3.example.test/caddy/certificates/'*/ | grep -c '\.u\.app3\.example\.test\$'"
	assert_output 2
	run visit_tls "again-$RANDOM.u.app3.example.test"
	[ "$status" -eq 35 ]
	for name in app3.example.test ok.app3.example.test first.u.app3.example.test; do
		run -0 visit_tls "$name"
		assert_output --partial "host=$name"
	done
}

# accounts: how many ACME accounts pebble holds.
accounts() {
	grep -c 'accounts in memory' "$WORK/pebble.log" || true
}

@test "a wildcard link with LINK_ALLOW names registers one ACME account on a fresh data dir, and every name's order is signed with it" {
	# Caddy 2.6.2 registers an account per certificate obtained at once
	# and may store one account's URL with another's key: pebble then
	# refuses every later order (link-client's first_alone).
	home_link h2 app7.example.test 127.0.0.1:9080 WILDCARD=1 \
		'ALLOW=one.app7.example.test,two.app7.example.test,*.u.app7.example.test' >/dev/null
	before=$(accounts)
	home_client h2 app7.example.test KEEPALIVE=2
	wait_for 300 visit_tls two.app7.example.test -o /dev/null
	[ "$(($(accounts) - before))" -eq 1 ]
	run -0 grep -c "certificate of app7.example.test alone first" \
		"$WORK/client-app7.example.test.log"
	for name in app7.example.test one.app7.example.test two.app7.example.test; do
		run -0 visit_tls "$name"
		assert_output --partial "host=$name"
	done
	# An order after the start, with the account from storage.
	run -0 visit_tls later.u.app7.example.test --max-time 60
	assert_output --partial "host=later.u.app7.example.test"
	[ "$(($(accounts) - before))" -eq 1 ]
}

@test "after nginx and every link process on the gateway are killed, make gateway brings visitors back with nothing done at home" {
	kill "$(cat "$WORK/root/run/linkgate/nginx.pid")"
	pids=$(link_wg_pids)
	[ "$(echo "$pids" | wc -w)" -eq 4 ]
	# shellcheck disable=SC2086 # a list of PIDs
	kill -9 $pids
	run visit_tls app1.example.test
	[ "$status" -ne 0 ]
	run -0 gw_make gateway
	assert_output --partial restoring
	recovery "gateway restart" visit_tls app1.example.test
	run -0 grep -c 'link down: no answer from the gateway through the tunnel' \
		"$WORK/client-app1.example.test.log"
	for n in 1 2; do
		wait_for 300 visit "fwd$n.example.test" http >/dev/null 2>&1
		run -0 visit_tls "app$n.example.test"
		assert_output --partial "home=h$n "
		run -0 visit "fwd$n.example.test" http
		assert_output --partial "home=h$n "
	done
}

@test "a restarted link client serves again with nothing done at the gateway" {
	pid=$(cat "$WORK/client-app1.example.test.pid")
	kill -TERM "$pid"
	wait_for 50 bash -c "! kill -0 $pid 2>/dev/null"
	run visit_tls app1.example.test
	[ "$status" -ne 0 ]
	home_client_start h1 app1.example.test KEEPALIVE=2
	recovery "client restart" visit_tls app1.example.test
	run -0 visit_tls app1.example.test
	assert_output --partial "home=h1 "
}

@test "after make unlink, the link's host gets 404 over HTTP and a closed connection over HTTPS" {
	run -0 ip netns exec "${T}h2" env SSH_KEY="$WORK/key-h2" \
		KNOWN_HOSTS="$WORK/known_hosts" SSH_OPTS="-o LogLevel=ERROR" \
		GATEWAY="root@$GATEWAY" FQDN=app2.example.test make -s -C "$REPO" unlink
	# nginx reloads in the background: the old workers may answer briefly.
	wait_for 50 gone app2.example.test
	run -0 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 -H 'Host: app2.example.test' "http://$GATEWAY/"
	assert_output 404
	run visit_tls app2.example.test
	[ "$status" -eq 35 ] || [ "$status" -eq 56 ]
	run -0 visit fwd2.example.test http
	assert_output --partial "home=h2 "
}
