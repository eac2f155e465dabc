#!/usr/bin/env bats
# The link client at home, run natively from the .env that make link wrote:
# WireGuard, Caddy (internal CA here; ACME is the end-to-end suite's), basic
# auth, FORWARD_ONLY with and without PROXY protocol, wildcards, signals;
# a link with IPv6 tunnel addresses, against a plain WireGuard peer
# (${T}p6 in ${T}i) standing in for a gateway with IPv6.
#
#   visitor ── ${T}i bridge ── ${T}g gateway (nginx, sshd, link namespaces)
#   ${T}p6 (peer6_up)       ├── ${T}h1 home1: apps on 127.0.0.1, clients
#                           └── ${T}h2 home2: the wildcard link's client

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
	for h in h1 h2; do
		echo_app "$h" 127.0.0.1 "app-$h" 9080 9443
	done
	tls_app
	new_link app1.example.test h1 127.0.0.1:9080
	new_link app2.example.test h1 127.0.0.1:9080
	new_link fwd.example.test h1 127.0.0.1:9080
	new_link app3.example.test h2 127.0.0.1:9080 --wildcard \
		--allow 'x.app3.example.test,*.u.app3.example.test'
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

teardown() {
	for f in "$WORK"/client-*.pid; do
		[ -f "$f" ] || continue
		kill -TERM "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
	sleep 0.5
}

# tls_app: an nginx at home1 that ends TLS itself, reads PROXY protocol on
# 9444 and not on 9445, and answers with the address it learnt.
tls_app() {
	mkdir -p "$WORK/tlsapp"
	cat >"$WORK/tlsapp/nginx.conf" <<-CONF
	pid $WORK/tlsapp-nginx.pid;
	error_log $WORK/tlsapp/error.log;
	events {}
	http {
		access_log off;
		server {
			listen 127.0.0.1:9444 ssl proxy_protocol;
			ssl_certificate $WORK/app.crt;
			ssl_certificate_key $WORK/app.key;
			return 200 "tlsapp pp=\$proxy_protocol_addr peer=\$remote_addr\n";
		}
		server {
			listen 127.0.0.1:9445 ssl;
			ssl_certificate $WORK/app.crt;
			ssl_certificate_key $WORK/app.key;
			return 200 "tlsapp peer=\$remote_addr\n";
		}
	}
	CONF
	ip netns exec "${T}h1" nginx -e "$WORK/tlsapp/error.log" -p "$WORK/tlsapp" \
		-c "$WORK/tlsapp/nginx.conf"
}

# new_link FQDN HOME EXPOSE [OPTIONS]: make link from HOME, as alice.
new_link() {
	ip netns exec "$T$2" env SSH_KEY="$WORK/alice" \
		KNOWN_HOSTS="$WORK/known_hosts" SSH_OPTS="-o LogLevel=ERROR" \
		LINK_DIR="$WORK" "$REPO/bin/link" "root@$GATEWAY" "$1" "$3" \
		"${@:4}" >/dev/null
}

# client FQDN HOME [VAR=value...]: starts the link client for FQDN at HOME
# and waits until the gateway reaches its health path.
client() {
	local name=$1 home=$2
	shift 2
	ip netns exec "$T$home" env DATA_DIR="$WORK/data-$name" "$@" \
		"$REPO/client/link-client" --env-file "$WORK/$name.env" \
		>"$WORK/client-$name.log" 2>&1 &
	echo $! >"$WORK/client-$name.pid"
	wait_for 100 healthy "$name"
}

# https FQDN [CURL OPTIONS]: the visitor's HTTPS request, verified against
# the internal CA root of the client that serves FQDN.
https() {
	local name=$1 ca
	shift
	for ca in "$WORK"/data-*/caddy/pki/authorities/local/root.crt; do break; done
	ip netns exec "${T}i" curl -sS --max-time 5 --cacert "$ca" \
		--resolve "$name:443:$GATEWAY" "$@" "https://$name/"
}

@test "with TLS_INTERNAL, https returns the app's page and the app sees the visitor in X-Forwarded-For" {
	client app1.example.test h1 TLS_INTERNAL=1
	run -0 https app1.example.test
	assert_output --partial "home=app-h1 peer=127.0.0.1 xff=$VISITOR host=app1.example.test"
}

@test "http redirects to https without Caddy's own port, and the health path answers on http" {
	client app1.example.test h1 TLS_INTERNAL=1
	run -0 ip netns exec "${T}i" curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' \
		--max-time 5 -H 'Host: app1.example.test' "http://$GATEWAY/a?b=1"
	assert_output "308 https://app1.example.test/a?b=1"
	run -0 ip netns exec "${T}i" curl -sS --max-time 5 -H 'Host: app1.example.test' \
		"http://$GATEWAY/.well-known/gateway/health"
	assert_output OK
}

@test "BASIC_AUTH gives 401 without and 200 with credentials; the health path needs none" {
	client app1.example.test h1 TLS_INTERNAL=1 BASIC_AUTH=alice:s3cret
	run -0 https app1.example.test -o /dev/null -w '%{http_code}'
	assert_output 401
	run -0 https app1.example.test -u alice:s3cret
	assert_output --partial "home=app-h1"
	run -0 https app1.example.test -u alice:wrong -o /dev/null -w '%{http_code}'
	assert_output 401
	run -0 ip netns exec "${T}i" curl -sS --max-time 5 -k \
		--resolve "app1.example.test:443:$GATEWAY" https://app1.example.test/.well-known/gateway/health
	assert_output OK
}

@test "CADDY_TLS_PROXY with CADDY_TLS_INSECURE speaks TLS to a self-signed app" {
	sed 's/^EXPOSE=.*/EXPOSE=127.0.0.1:9443/' "$WORK/app2.example.test.env" \
		>"$WORK/app2tls.env"
	ip netns exec "${T}h1" env DATA_DIR="$WORK/data-app2tls" TLS_INTERNAL=1 \
		CADDY_TLS_PROXY=1 CADDY_TLS_INSECURE=1 "$REPO/client/link-client" \
		--env-file "$WORK/app2tls.env" >"$WORK/client-app2tls.log" 2>&1 &
	echo $! >"$WORK/client-app2tls.pid"
	wait_for 100 healthy app2.example.test
	run -0 ip netns exec "${T}i" curl -sS -k --max-time 5 \
		--resolve "app2.example.test:443:$GATEWAY" https://app2.example.test/
	assert_output --partial "home=app-h1 peer=127.0.0.1 xff=$VISITOR host=app2.example.test"
}

@test "FORWARD_ONLY: an HTTP app gets the visitor in X-Forwarded-For from the gateway" {
	client fwd.example.test h1 FORWARD_ONLY=1 EXPOSE_HTTPS=127.0.0.1:9445
	run -0 visit fwd.example.test http
	assert_output --partial "home=app-h1 peer=127.0.0.1 xff=$VISITOR "
	run -0 visit fwd.example.test https
	assert_output "tlsapp peer=127.0.0.1"
}

@test "FORWARD_ONLY with FORWARD_PROXY_PROTOCOL=1: a TLS app learns the visitor's address" {
	client fwd.example.test h1 FORWARD_ONLY=1 EXPOSE_HTTPS=127.0.0.1:9444 \
		FORWARD_PROXY_PROTOCOL=1
	run -0 visit fwd.example.test https
	assert_output "tlsapp pp=$VISITOR peer=127.0.0.1"
}

@test "FORWARD_ONLY forwards to a name from /etc/hosts, which nginx's resolver does not read" {
	grep -qE '^127\.0\.0\.1[[:space:]].*\<localhost\>' /etc/hosts
	sed 's/^EXPOSE=.*/EXPOSE=localhost:9080/' "$WORK/fwd.example.test.env" \
		>"$WORK/fwdhosts.env"
	ip netns exec "${T}h1" env DATA_DIR="$WORK/data-fwdhosts" FORWARD_ONLY=1 \
		EXPOSE_HTTPS=localhost:9445 "$REPO/client/link-client" \
		--env-file "$WORK/fwdhosts.env" >"$WORK/client-fwdhosts.log" 2>&1 &
	echo $! >"$WORK/client-fwdhosts.pid"
	wait_for 100 healthy fwd.example.test
	run -0 visit fwd.example.test http
	assert_output --partial "home=app-h1 peer=127.0.0.1 xff=$VISITOR "
	run -0 visit fwd.example.test https
	assert_output "tlsapp peer=127.0.0.1"
}

@test "FORWARD_ONLY starts while its app's name does not resolve, and visitors get 502" {
	sed 's/^EXPOSE=.*/EXPOSE=app.invalid:9080/' "$WORK/fwd.example.test.env" \
		>"$WORK/fwdnone.env"
	ip netns exec "${T}h1" env DATA_DIR="$WORK/data-fwdnone" FORWARD_ONLY=1 \
		"$REPO/client/link-client" --env-file "$WORK/fwdnone.env" \
		>"$WORK/client-fwdnone.log" 2>&1 &
	pid=$!
	echo "$pid" >"$WORK/client-fwdnone.pid"
	wait_for 50 grep -q 'forwarding :8080' "$WORK/client-fwdnone.log"
	# nginx gives up on the name after its resolver_timeout (5 s).
	run -0 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 20 -H 'Host: fwd.example.test' "http://$GATEWAY/"
	assert_output 502
	kill -0 "$pid"
	run -1 grep -E 'server exited|host not found in upstream' "$WORK/client-fwdnone.log"
}

@test "two links from one home run side by side" {
	client app1.example.test h1 TLS_INTERNAL=1
	client app2.example.test h1 TLS_INTERNAL=1
	run -0 ip netns exec "${T}i" curl -sS -k --max-time 5 \
		--resolve "app1.example.test:443:$GATEWAY" https://app1.example.test/
	assert_output --partial "host=app1.example.test"
	run -0 ip netns exec "${T}i" curl -sS -k --max-time 5 \
		--resolve "app2.example.test:443:$GATEWAY" https://app2.example.test/
	assert_output --partial "host=app2.example.test"
}

# wildcard_https NAME [CURL OPTIONS]: the visitor's HTTPS request for NAME
# to the wildcard link app3, verified against its client's internal CA.
wildcard_https() {
	local name=$1
	shift
	ip netns exec "${T}i" curl -sS --max-time 10 \
		--cacert "$WORK/data-app3.example.test/caddy/pki/authorities/local/root.crt" \
		--resolve "$name:443:$GATEWAY" "$@" "https://$name/"
}

@test "a wildcard link gets certificates for the names LINK_ALLOW allows and for no other name" {
	# Run where '*.u.app3.example.test' would glob to a file: it must not.
	mkdir -p "$WORK/glob"
	touch "$WORK/glob/zz.u.app3.example.test"
	(cd "$WORK/glob" && client app3.example.test h2 TLS_INTERNAL=1)
	for name in app3.example.test x.app3.example.test a.u.app3.example.test b.c.u.app3.example.test; do
		run -0 wildcard_https "$name"
		assert_output --partial "home=app-h2 peer=127.0.0.1 xff=$VISITOR host=$name"
	done
	for name in y.app3.example.test u.app3.example.test; do
		run -35 wildcard_https "$name"
	done
	client_addr=$(grep ^LINK_CLIENT_ADDRESS= "$WORK/app3.example.test.env" | cut -d= -f2)
	run ip netns exec "${T}h2" curl -sS --max-time 10 -k \
		--resolve "evil.example.org:8443:$client_addr" https://evil.example.org:8443/
	[ "$status" -ne 0 ]
	run -0 sh -c "ls \"$WORK/data-app3.example.test/caddy/certificates/local\" | LC_ALL=C sort"
	assert_output "$(printf '%s\n' a.u.app3.example.test app3.example.test \
		b.c.u.app3.example.test x.app3.example.test)"
}

@test "a wildcard link without LINK_ALLOW gets a certificate for its own name only" {
	grep -v '^LINK_ALLOW=' "$WORK/app3.example.test.env" >"$WORK/app3-own.env"
	ip netns exec "${T}h2" env DATA_DIR="$WORK/data-app3.example.test" TLS_INTERNAL=1 \
		"$REPO/client/link-client" --env-file "$WORK/app3-own.env" \
		>"$WORK/client-app3-own.log" 2>&1 &
	echo $! >"$WORK/client-app3-own.pid"
	wait_for 100 healthy app3.example.test
	run -0 wildcard_https app3.example.test
	assert_output --partial "host=app3.example.test"
	run -35 wildcard_https "new$RANDOM.app3.example.test"
	run -35 wildcard_https "new$RANDOM.u.app3.example.test"
}

@test "a trailing dot in Host on https is redirected to the name without it" {
	client app1.example.test h1 TLS_INTERNAL=1
	run -0 https app1.example.test -H 'Host: app1.example.test.' \
		-o /dev/null -w '%{http_code} %{redirect_url}' --path-as-is --url-query q=1
	assert_output "308 https://app1.example.test/?q=1"
	run -0 https app1.example.test -H 'Host: other.example.test' -o /dev/null -w '%{http_code}'
	assert_output 421
}

@test "on a wildcard link a trailing dot in Host is redirected for its sites and passed on under *. names" {
	client app3.example.test h2 TLS_INTERNAL=1
	run -0 wildcard_https x.app3.example.test -H 'Host: x.app3.example.test.' \
		-o /dev/null -w '%{http_code} %{redirect_url}'
	assert_output "308 https://x.app3.example.test/"
	run -0 wildcard_https a.u.app3.example.test -H 'Host: a.u.app3.example.test.'
	assert_output --partial "home=app-h2 peer=127.0.0.1 xff=$VISITOR host=a.u.app3.example.test."
}

@test "SIGTERM stops the client with status 0 and removes its interface and rule; it starts again cleanly" {
	client app1.example.test h1 TLS_INTERNAL=1
	pid=$(cat "$WORK/client-app1.example.test.pid")
	kill -TERM "$pid"
	wait_for 50 bash -c "! kill -0 $pid 2>/dev/null"
	run -0 grep -c 'link-client: stopped' "$WORK/client-app1.example.test.log"
	run -0 ip -n "${T}h1" rule show
	refute_output --partial "lookup 2"
	run -0 ip -n "${T}h1" -o link show
	refute_output --partial " lk"
	client app1.example.test h1 TLS_INTERNAL=1
	run -0 https app1.example.test
	refute_output --partial "File exists"
	run -1 grep -i 'file exists' "$WORK/client-app1.example.test.log"
}

@test "a bad .env is refused before anything is created" {
	bad=$WORK/bad.env
	sed 's/^EXPOSE=.*/EXPOSE=app;id:80/' "$WORK/app1.example.test.env" >"$bad"
	run -1 ip netns exec "${T}h1" "$REPO/client/link-client" --env-file "$bad"
	assert_output --partial "EXPOSE has characters outside"
	grep -v ^GATEWAY_LINK_WG_PUBKEY= "$WORK/app1.example.test.env" >"$bad"
	run -1 ip netns exec "${T}h1" "$REPO/client/link-client" --env-file "$bad"
	assert_output --partial "GATEWAY_LINK_WG_PUBKEY is not set"
	{ cat "$WORK/app1.example.test.env"; echo PATH=/tmp; } >"$bad"
	run -1 ip netns exec "${T}h1" "$REPO/client/link-client" --env-file "$bad"
	assert_output --partial "unknown setting 'PATH'"
	sed 's/^LINK_MTU=.*/LINK_MTU=99/' "$WORK/app1.example.test.env" >"$bad"
	run -1 ip netns exec "${T}h1" "$REPO/client/link-client" --env-file "$bad"
	# shellcheck disable=SC2016 # hostile on purpose
	{ grep -v ^LINK_ALLOW= "$WORK/app3.example.test.env"; echo 'LINK_ALLOW=$(id).app3.example.test'; } >"$bad"
	run -1 ip netns exec "${T}h1" "$REPO/client/link-client" --env-file "$bad"
	assert_output --partial "LINK_ALLOW has characters outside A-Z a-z 0-9 . , * -"
	{ grep -v ^LINK_ALLOW= "$WORK/app3.example.test.env"; echo 'LINK_ALLOW=*.example.test'; } >"$bad"
	run -1 ip netns exec "${T}h1" "$REPO/client/link-client" --env-file "$bad"
	assert_output "link-client: bad LINK_ALLOW: entry '*.example.test' is not app3.example.test or a name under it"
	{ cat "$WORK/app1.example.test.env"; echo 'LINK_ALLOW=x.app1.example.test'; } >"$bad"
	run -1 ip netns exec "${T}h1" "$REPO/client/link-client" --env-file "$bad"
	assert_output "link-client: LINK_ALLOW needs LINK_WILDCARD=1"
	run -1 ip netns exec "${T}h1" env CERT_INTERVAL=1d "$REPO/client/link-client" \
		--env-file "$WORK/app3.example.test.env"
	assert_output --partial "bad CERT_INTERVAL '1d'"
	run -2 "$REPO/client/link-client" --frob
	run -0 ip -n "${T}h1" -o link show
	refute_output --partial " lk"
}

# --- a link with IPv6 tunnel addresses ----------------------------------

C4=198.19.250.2 G4=198.19.250.1 C6=fd99:1:2:7::1:2 G6=fd99:1:2:7::1:1
IF6=lk250x2 TABLE6=84002

# peer6_up: a WireGuard peer in the internet namespace standing in for a
# link's end at a gateway with IPv6 (${T}p6: G4 and G6, port 47900,
# allowed IPs C4/32 and C6/128), and $WORK/v6.env, the .env make link
# writes from such a gateway's answer (8 fields). Once per file.
peer6_up() {
	[ -f "$WORK/v6.env" ] && return 0
	(umask 077 && wg genkey >"$WORK/p6.key" && wg genkey >"$WORK/h6.key")
	ip netns exec "${T}i" wireguard-go "${T}p6" >/dev/null 2>&1
	ip netns exec "${T}i" wg set "${T}p6" listen-port 47900 private-key "$WORK/p6.key" \
		peer "$(wg pubkey <"$WORK/h6.key")" allowed-ips "$C4/32,$C6/128"
	ip -n "${T}i" addr add "$G4/32" dev "${T}p6"
	ip -n "${T}i" addr add "$G6/128" dev "${T}p6" nodad
	ip -n "${T}i" link set "${T}p6" up
	ip -n "${T}i" route add "$C4/32" dev "${T}p6"
	ip -n "${T}i" -6 route add "$C6/128" dev "${T}p6"
	printf '%s\n' LINK_DOMAIN=v6.example.test EXPOSE=127.0.0.1:9080 \
		"GATEWAY_CLIENT_WG_PRIVKEY=$(cat "$WORK/h6.key")" \
		"GATEWAY_LINK_WG_PUBKEY=$(wg pubkey <"$WORK/p6.key")" \
		"GATEWAY_ENDPOINT=$VISITOR:47900" "LINK_CLIENT_ADDRESS=$C4" \
		"LINK_GATEWAY_ADDRESS=$G4" "LINK_CLIENT_ADDRESS6=$C6" \
		"LINK_GATEWAY_ADDRESS6=$G6" LINK_MTU=1380 LINK_WILDCARD=0 >"$WORK/v6.env"
}

# client6 ENV [VAR=value...]: the link client at home1 from ENV in the
# background (pid in client-v6.pid), until it serves.
client6() {
	local env=$1
	shift
	ip netns exec "${T}h1" env DATA_DIR="$WORK/data-v6" "$@" \
		"$REPO/client/link-client" --env-file "$env" >"$WORK/client-v6.log" 2>&1 &
	echo $! >"$WORK/client-v6.pid"
	wait_for 100 grep -qE 'caddy serving|forwarding :8080' "$WORK/client-v6.log" ||
		{ cat "$WORK/client-v6.log" >&2; false; }
}

# client6_stop: SIGTERM to client6's client, until it is gone.
client6_stop() {
	local pid
	pid=$(cat "$WORK/client-v6.pid")
	kill -TERM "$pid"
	wait_for 50 bash -c "! kill -0 $pid 2>/dev/null"
	rm -f "$WORK/client-v6.pid"
}

# ping6_home: the peer's ping to the home's IPv6 tunnel address.
ping6_home() {
	ip netns exec "${T}i" ping -6 -n -q -c 1 -W 1 "$C6" >/dev/null 2>&1
}

@test "with IPv6 tunnel addresses the client adds its IPv6 address, route and rule, and the peer's ping6 reaches it through the tunnel" {
	peer6_up
	run -1 ping6_home
	client6 "$WORK/v6.env" FORWARD_ONLY=1
	run -0 ip -n "${T}h1" -6 -o addr show dev "$IF6"
	assert_output --partial "inet6 $C6/128 scope global"
	run -0 ip -n "${T}h1" -6 route show table "$TABLE6"
	assert_output --regexp "^default dev $IF6 "
	run -0 ip -n "${T}h1" -6 rule show
	assert_line --regexp "^[0-9]+:"$'\t'"from $C6 lookup $TABLE6\$"
	run -0 ip netns exec "${T}h1" wg show "$IF6" allowed-ips
	assert_output --regexp $'\t0\\.0\\.0\\.0/0 ::/0$'
	run -0 wait_for 50 ping6_home
	run -0 grep -F "wireguard $IF6 up: $C4 and $C6," "$WORK/client-v6.log"
	client6_stop
}

@test "Caddy answers on both tunnel addresses" {
	peer6_up
	client6 "$WORK/v6.env" TLS_INTERNAL=1
	for a in "$C4" "[$C6]"; do
		wait_for 50 ip netns exec "${T}i" curl -sf -g --max-time 2 -o /dev/null \
			"http://$a:8080/" || true
		run -0 ip netns exec "${T}i" curl -sSf -g --max-time 2 \
			-H 'Host: v6.example.test' "http://$a:8080/.well-known/gateway/health"
		assert_output OK
	done
	run -0 ip netns exec "${T}i" curl -sS -k --max-time 5 \
		--resolve "v6.example.test:8443:[$C6]" https://v6.example.test:8443/
	assert_output --partial "home=app-h1 peer=127.0.0.1 xff=$G6 host=v6.example.test"
	client6_stop
}

@test "FORWARD_ONLY's nginx forwards from both tunnel addresses" {
	peer6_up
	client6 "$WORK/v6.env" FORWARD_ONLY=1 EXPOSE_HTTPS=127.0.0.1:9445
	for a in "$C4" "[$C6]"; do
		wait_for 50 ip netns exec "${T}i" curl -s -g --max-time 2 -o /dev/null \
			"http://$a:8080/" || true
		run -0 ip netns exec "${T}i" curl -sS -g --max-time 2 \
			-H 'Host: v6.example.test' "http://$a:8080/"
		assert_output --partial "home=app-h1 peer=127.0.0.1 "
		run -0 ip netns exec "${T}i" curl -sS -g -k --max-time 2 "https://$a:8443/"
		assert_output "tlsapp peer=127.0.0.1"
	done
	client6_stop
}

@test "SIGTERM removes the IPv6 address, route and rule with the interface" {
	peer6_up
	client6 "$WORK/v6.env" FORWARD_ONLY=1
	run -0 ip -n "${T}h1" -6 rule show
	assert_output --partial "from $C6 lookup $TABLE6"
	client6_stop
	run -0 ip -n "${T}h1" -6 rule show
	refute_output --partial "$C6"
	run -0 ip -n "${T}h1" -6 route show table "$TABLE6"
	assert_output ""
	run -0 ip -n "${T}h1" -6 -o addr show
	refute_output --partial "$C6"
	run -1 ip -n "${T}h1" link show "$IF6"
}

@test "after kill -9 the next client removes the IPv6 rule and route left behind and makes one of each" {
	peer6_up
	client6 "$WORK/v6.env" FORWARD_ONLY=1
	kill -9 "$(cat "$WORK/client-v6.pid")"
	run -0 ip -n "${T}h1" -6 rule show
	assert_output --partial "from $C6 lookup $TABLE6"
	client6 "$WORK/v6.env" FORWARD_ONLY=1
	run -0 grep -F "removing $IF6, left by an earlier run" "$WORK/client-v6.log"
	assert_equal "$(ip -n "${T}h1" -6 rule show | grep -c "from $C6 lookup $TABLE6\$")" 1
	assert_equal "$(ip -n "${T}h1" -6 route show table "$TABLE6" | grep -c '^default ')" 1
	run -0 wait_for 50 ping6_home
	client6_stop
}

@test "an old .env without IPv6 keys makes no IPv6 address, route or rule, and its peer gets 0.0.0.0/0 only" {
	peer6_up
	grep -v '^LINK_[A-Z]*_ADDRESS6=' "$WORK/v6.env" >"$WORK/v4.env"
	client6 "$WORK/v4.env" FORWARD_ONLY=1
	run -0 ip netns exec "${T}h1" wg show "$IF6" allowed-ips
	assert_output --regexp $'\t0\\.0\\.0\\.0/0$'
	run -0 ip -n "${T}h1" -6 -o addr show dev "$IF6"
	refute_output --partial "scope global"
	run -0 ip -n "${T}h1" -6 route show table "$TABLE6"
	assert_output ""
	run -0 ip -n "${T}h1" rule show
	assert_output --partial "from $C4 lookup $TABLE6"
	run -0 ip -n "${T}h1" -6 rule show
	refute_output --partial "lookup $TABLE6"
	run -1 ping6_home
	client6_stop
}

@test "a .env with one IPv6 key, or IPv6 addresses that are not one link's pair, is refused before anything is made" {
	peer6_up
	bad() {
		grep -v '^LINK_[A-Z]*_ADDRESS6=' "$WORK/v6.env" >"$WORK/bad6.env"
		printf '%s\n' "$@" >>"$WORK/bad6.env"
		ip netns exec "${T}h1" "$REPO/client/link-client" --env-file "$WORK/bad6.env"
	}
	run -1 bad "LINK_CLIENT_ADDRESS6=$C6"
	assert_output "link-client: LINK_CLIENT_ADDRESS6 and LINK_GATEWAY_ADDRESS6 go together: set both or neither"
	run -1 bad "LINK_GATEWAY_ADDRESS6=$G6"
	assert_output --partial "go together"
	for pair in fd99:1:2:7::1:2/fd99:1:2:7::2:1 fd99:1:2:7::1:4/fd99:1:2:7::1:3 \
		2001:db8::2/2001:db8::1 FD99:1:2:7::1:2/fd99:1:2:7::1:1 "$C6/$C6" \
		"$C6/126/$G6" fe80::2/fe80::1 ::ffff:10.0.0.2/::ffff:10.0.0.1; do
		run -1 bad "LINK_CLIENT_ADDRESS6=${pair%/*}" "LINK_GATEWAY_ADDRESS6=${pair##*/}"
		assert_output --partial "are not one link's IPv6 pair"
	done
	run -0 ip -n "${T}h1" -o link show
	refute_output --partial " lk"
}

@test "where IPv6 is off, a client with IPv6 tunnel addresses stops with a message naming the sysctl and makes nothing" {
	peer6_up
	ip netns add "${T}n6"
	ip netns exec "${T}n6" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	# The control: IPv6 is off there.
	run -2 ip -n "${T}n6" -6 addr add fd99::1/128 dev lo
	run -1 ip netns exec "${T}n6" "$REPO/client/link-client" --env-file "$WORK/v6.env"
	ip netns del "${T}n6"
	assert_output --partial "link-client: cannot add the link's IPv6 address $C6: IPv6 is switched off here"
	assert_output --partial "net.ipv6.conf.all.disable_ipv6=0"
	refute_output --partial "wireguard $IF6 up"
}
