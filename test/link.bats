#!/usr/bin/env bats
# make link from home over real ssh to a namespace-hosted gateway: the
# .env file (with the IPv6 tunnel pair of a gateway with IPv6), the
# compose snippet, the wg-quick file, and bad input.
#
#   visitor ── ${T}i bridge ── ${T}g gateway (nginx, sshd, link namespaces)
#                           └── ${T}h1 home: make link, wg-quick, echo app

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
}

teardown_file() {
	load common
	load lib/net
	net_down
}

# The IPv6-only home's test changes PUBLIC_HOST and starts a client:
# both are undone whether it passed or not.
teardown() {
	local pid
	if [ -f "$WORK/client6.pid" ]; then
		pid=$(cat "$WORK/client6.pid")
		kill -TERM "$pid" 2>/dev/null || true
		wait_for 50 bash -c "! kill -0 $pid 2>/dev/null" || true
		rm -f "$WORK/client6.pid"
	fi
	rm -f "$REPO/7"
	if [ -f "$WORK/gateway.conf.v4" ]; then
		mv "$WORK/gateway.conf.v4" "$WORK/root/etc/linkgate/gateway.conf"
	fi
}

setup() {
	load common
	load lib/net
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUT"
}

# make_link ARGS: `make link` from home1 as alice, files into $OUT.
make_link() {
	ip netns exec "${T}h1" make -s -C "$REPO" link "$@" \
		"GATEWAY=root@$GATEWAY" SSH_KEY="$WORK/alice" \
		KNOWN_HOSTS="$WORK/known_hosts" SSH_OPTS="-o LogLevel=ERROR" \
		LINK_DIR="$OUT"
}

@test "make link writes a 0600 .env with the link's values and prints a snippet" {
	run -0 make_link FQDN=one.example.test EXPOSE=app:80
	assert_line '  link-one-example-test:'
	assert_line "      - \"$OUT/one.example.test.env:/etc/linkgate/link.env:ro\""
	assert_line '    command: ["--env-file", "/etc/linkgate/link.env"]'
	refute_output --partial env_file
	assert_output --partial "NET_ADMIN"
	assert_output --partial "/dev/net/tun"
	assert_output --partial "restart: unless-stopped"
	refute_output --partial "PRIVKEY"
	f=$OUT/one.example.test.env
	assert_equal "$(stat -c %a "$f")" 600
	run -0 cat "$f"
	assert_line LINK_DOMAIN=one.example.test
	assert_line EXPOSE=app:80
	assert_line --regexp '^GATEWAY_ENDPOINT=10\.77\.0\.2:470[0-9][0-9]$'
	assert_line LINK_MTU=1380
	assert_line LINK_WILDCARD=0
	run -0 find "$OUT" -mindepth 1 ! -name one.example.test.env
	assert_output ""
}

@test "the snippet names the .env and the certificates by absolute path, whatever the folder given" {
	mkdir -p "$OUT/compose"
	run -0 ip netns exec "${T}h1" env -C "$OUT" SSH_KEY="$WORK/alice" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" "$REPO/bin/link" "root@$GATEWAY" \
		rel.example.test app:80 --dir compose
	assert_line "      - \"$OUT/compose/rel.example.test.env:/etc/linkgate/link.env:ro\""
	assert_line "      - \"$OUT/compose/rel.example.test.data:/data\""
	[ -f "$OUT/compose/rel.example.test.env" ]
}

@test "the snippet's service is named after the link, one name per FQDN, with nothing at the top level" {
	run -0 --separate-stderr make_link FQDN=a-b.example.test EXPOSE=app:80
	assert_line '  link-a--b-example-test:'
	# Every line is indented (a service under services:) or a comment.
	run -1 grep -vE '^(  |#|$)' <<<"$output"
	run -0 make_link FQDN=a.b.example.test EXPOSE=app:80
	assert_line '  link-a-b-example-test:'
	refute_output --partial 'link-data'
}

@test "a LINK_DIR a compose file cannot name plainly is refused before calling the gateway" {
	mkdir -p "$OUT/a:b"
	run -2 ip netns exec "${T}h1" make -s -C "$REPO" link FQDN=colon.example.test \
		EXPOSE=app:80 "GATEWAY=root@$GATEWAY" SSH_KEY="$WORK/alice" \
		KNOWN_HOSTS="$WORK/known_hosts" LINK_DIR="$OUT/a:b"
	assert_output --partial "the snippet cannot name this directory"
	[ -z "$(ls -A "$OUT/a:b")" ]
	[ ! -e "$WORK/root/var/lib/linkgate/links/colon.example.test" ]
}

@test "the keys in the .env match what the gateway holds" {
	make_link FQDN=two.example.test EXPOSE=app:80 >/dev/null
	f=$OUT/two.example.test.env
	priv=$(grep ^GATEWAY_CLIENT_WG_PRIVKEY= "$f" | cut -d= -f2-)
	gwpub=$(grep ^GATEWAY_LINK_WG_PUBKEY= "$f" | cut -d= -f2-)
	rec=$WORK/root/var/lib/linkgate/links/two.example.test
	assert_equal "$(grep ^CLIENT_KEY= "$rec" | cut -d= -f2-)" "$(wg pubkey <<<"$priv")"
	assert_equal "$(wg pubkey <"$WORK/root/var/lib/linkgate/keys/two.example.test")" "$gwpub"
	run -1 grep -r "$priv" "$WORK/root"
}

@test "an existing .env is never overwritten without FORCE=1" {
	make_link FQDN=three.example.test EXPOSE=app:80 >/dev/null
	before=$(md5sum <"$OUT/three.example.test.env")
	run -2 make_link FQDN=three.example.test EXPOSE=app:80 REPLACE=1
	assert_output --partial "exists (FORCE=1 to overwrite)"
	assert_equal "$(md5sum <"$OUT/three.example.test.env")" "$before"
	run -0 make_link FQDN=three.example.test EXPOSE=app:80 REPLACE=1 FORCE=1
	assert_not_equal "$(md5sum <"$OUT/three.example.test.env")" "$before"
}

@test "INLINE=1 prints the variables inline" {
	run -0 make_link FQDN=four.example.test EXPOSE=app:80 INLINE=1
	assert_output --partial 'LINK_DOMAIN: "four.example.test"'
	assert_output --partial 'GATEWAY_CLIENT_WG_PRIVKEY: "'
}

@test "the wg-quick file has a valid interface name and its tunnel works" {
	run -0 make_link FQDN=wq.example.test EXPOSE=app:80 FORMAT=wg-quick
	conf=$(ls "$OUT"/*.conf)
	name=$(basename "$conf" .conf)
	[ "${#name}" -le 15 ]
	run -0 grep -E '^Table = [0-9]+$' "$conf"
	client=$(grep ^LINK_CLIENT_ADDRESS= "$OUT/wq.example.test.env" | cut -d= -f2)
	ip netns exec "${T}h1" env WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go \
		wg-quick up "$conf"
	echo_app h1 "$client" wq.example.test
	wait_for 100 visit wq.example.test https >/dev/null 2>&1
	run -0 visit wq.example.test https
	assert_output --partial "home=wq.example.test peer=$VISITOR "
	# The rest of the home's traffic still leaves by its own route.
	run -0 ip netns exec "${T}h1" ip route get 10.77.0.1
	refute_output --partial "$name"
	ip netns exec "${T}h1" wg-quick down "$conf"
}

@test "make rotate rewrites the wg-quick file with new keys the gateway holds, keeps the old one as .bak, and wg-quick down and up serves again" {
	local conf client rec=$WORK/root/var/lib/linkgate/links/wr.example.test old
	run -0 make_link FQDN=wr.example.test EXPOSE=app:80 FORMAT=wg-quick
	conf=$(ls "$OUT"/*.conf)
	client=$(grep ^LINK_CLIENT_ADDRESS= "$OUT/wr.example.test.env" | cut -d= -f2)
	ip netns exec "${T}h1" env WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go \
		wg-quick up "$conf"
	echo_app h1 "$client" wr.example.test
	run -0 wait_for 100 visit wr.example.test https
	old=$(cat "$conf")
	run -0 ip netns exec "${T}h1" make -s -C "$REPO" rotate "GATEWAY=root@$GATEWAY" \
		FQDN=wr.example.test SSH_KEY="$WORK/alice" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$OUT"
	assert_output --partial "wg-quick down, then up, to use it"
	assert_equal "$(cat "$conf.bak")" "$old"
	[ "$(cat "$conf")" != "$old" ]
	[ "$(stat -c %a "$conf")" = 600 ]
	# The new file's keys are the record's: its private key's public half
	# is the client key, its peer the gateway key.
	assert_equal "$(sed -n 's/^PrivateKey = //p' "$conf" | wg pubkey)" \
		"$("$HELPERS/record" get "$rec" CLIENT_KEY)"
	assert_equal "$(sed -n 's/^PublicKey = //p' "$conf")" \
		"$("$HELPERS/record" get "$rec" GATEWAY_KEY)"
	ip netns exec "${T}h1" wg-quick down "$conf"
	ip netns exec "${T}h1" env WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go \
		wg-quick up "$conf"
	run -0 wait_for 100 visit wr.example.test https
	assert_output --partial "home=wr.example.test peer=$VISITOR "
	ip netns exec "${T}h1" wg-quick down "$conf"
}

@test "make unlink removes the link and make links lists the others" {
	make_link FQDN=five.example.test EXPOSE=app:80 >/dev/null
	run -0 ip netns exec "${T}h1" make -s -C "$REPO" unlink \
		"GATEWAY=root@$GATEWAY" FQDN=five.example.test SSH_KEY="$WORK/alice" \
		KNOWN_HOSTS="$WORK/known_hosts"
	run -0 ip netns exec "${T}h1" make -s -C "$REPO" links \
		"GATEWAY=root@$GATEWAY" SSH_KEY="$WORK/alice" KNOWN_HOSTS="$WORK/known_hosts"
	refute_output --partial five.example.test
	assert_output --partial one.example.test
}

@test "bad FQDN, EXPOSE, MTU and gateways are refused and leave no files" {
	run -2 make_link FQDN= EXPOSE=app:80
	run -2 make_link 'FQDN=a;b.example.test' EXPOSE=app:80
	assert_output --partial "bad host name"
	run -2 make_link FQDN=x.example.test EXPOSE=app
	assert_output --partial "bad EXPOSE"
	run -2 make_link FQDN=x.example.test EXPOSE=app:0
	run -2 make_link FQDN=x.example.test EXPOSE=app:65536
	run -2 make_link FQDN=x.example.test 'EXPOSE=a;b:80'
	run -2 make_link FQDN=x.example.test 'EXPOSE=a"b:80'
	run -2 make_link FQDN=x.example.test EXPOSE=app:80 MTU=99
	run -2 ip netns exec "${T}h1" make -s -C "$REPO" link GATEWAY=nobody \
		FQDN=x.example.test EXPOSE=app:80 LINK_DIR="$OUT"
	run -2 make_link FQDN=outside.example.org EXPOSE=app:80
	assert_output --partial "outside the domains"
	run -2 ip netns exec "${T}h1" make -s -C "$REPO" link GATEWAY=root@10.77.0.9 \
		FQDN=x.example.test EXPOSE=app:80 LINK_DIR="$OUT" SSH_KEY="$WORK/alice" \
		SSH_OPTS="-o ConnectTimeout=2"
	[ -z "$(ls -A "$OUT")" ]
}

@test "ALLOW reaches the .env in lower case and is refused before calling the gateway when bad or without WILDCARD=1" {
	run -0 make_link FQDN=six.example.test EXPOSE=app:80 WILDCARD=1 \
		'ALLOW=A.six.example.test,*.U.six.example.test'
	run -0 grep ^LINK_ALLOW= "$OUT/six.example.test.env"
	assert_output 'LINK_ALLOW=a.six.example.test,*.u.six.example.test'
	run -0 make_link FQDN=seven.example.test EXPOSE=app:80 WILDCARD=1
	assert_output --partial "only seven.example.test gets a certificate; set ALLOW"
	run -1 grep ^LINK_ALLOW= "$OUT/seven.example.test.env"
	rm -f "$OUT"/*
	run -2 make_link FQDN=eight.example.test EXPOSE=app:80 ALLOW=a.eight.example.test
	assert_output --partial "link: ALLOW needs WILDCARD=1"
	run -2 make_link FQDN=eight.example.test EXPOSE=app:80 WILDCARD=1 'ALLOW=*.example.test'
	assert_output --partial "link: bad ALLOW: entry '*.example.test' is not eight.example.test or a name under it"
	run -2 make_link FQDN=eight.example.test EXPOSE=app:80 WILDCARD=1 'ALLOW=a;id.eight.example.test'
	assert_output --partial "has characters outside"
	[ ! -e "$WORK/root/var/lib/linkgate/links/eight.example.test" ]
	[ -z "$(ls -A "$OUT")" ]
}

@test "bin/link refuses with exit 1, and 2 for usage, before calling the gateway" {
	link() { ip netns exec "${T}h1" "$REPO/bin/link" "$@"; }
	# shellcheck disable=SC2016 # hostile on purpose
	run -1 link "root@$GATEWAY" x.example.test 'a$(id):80' --dir "$OUT"
	assert_output "link: bad EXPOSE 'a\$(id):80': bad host 'a\$(id)'"
	# shellcheck disable=SC2016 # hostile on purpose
	run -1 link "root@$GATEWAY" '$(id).example.test' app:80 --dir "$OUT"
	run -1 link 'root@gw;id' x.example.test app:80 --dir "$OUT"
	run -1 link "root@$GATEWAY:99999" x.example.test app:80 --dir "$OUT"
	run -2 link "root@$GATEWAY" x.example.test
	run -2 link "root@$GATEWAY" x.example.test app:80 extra
	run -2 link "root@$GATEWAY" x.example.test app:80 --frob
	run -0 link --help
	[ -z "$(ls -A "$OUT")" ]
}

@test "make link takes an IPv6 gateway in brackets, without a port too, and an IPv6 EXPOSE, kept in canonical form" {
	run -0 ip netns exec "${T}h1" make -s -C "$REPO" link FQDN=b6.example.test \
		'EXPOSE=[0:0::1]:8080' 'GATEWAY=root@[FD77::2]' SSH_KEY="$WORK/alice" \
		KNOWN_HOSTS="$WORK/known_hosts" SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$OUT"
	run -0 grep -E '^(EXPOSE|GATEWAY_ENDPOINT)=' "$OUT/b6.example.test.env"
	assert_line 'EXPOSE=[::1]:8080'
	assert_line --regexp '^GATEWAY_ENDPOINT=10\.77\.0\.2:470[0-9][0-9]$'
	run -0 ip netns exec "${T}h1" make -s -C "$REPO" unlink FQDN=b6.example.test \
		"GATEWAY=root@[$GATEWAY6]:22" SSH_KEY="$WORK/alice" \
		KNOWN_HOSTS="$WORK/known_hosts" SSH_OPTS="-o LogLevel=ERROR"
	[ ! -e "$WORK/root/var/lib/linkgate/links/b6.example.test" ]
}

@test "an IPv6-only home (no IPv4 route to the gateway) makes its link over IPv6 and serves visitors through it" {
	home6_up 7
	# The control: this home has no IPv4 way to the gateway.
	run -2 ip netns exec "${T}h7" ping -c 1 -W 1 "$GATEWAY"
	assert_output --partial "Network is unreachable"
	cp "$WORK/root/etc/linkgate/gateway.conf" "$WORK/gateway.conf.v4"
	sed -i "s/^PUBLIC_HOST=.*/PUBLIC_HOST=[$GATEWAY6]/" "$WORK/root/etc/linkgate/gateway.conf"
	run -0 ip netns exec "${T}h7" make -s -C "$REPO" link FQDN=only6.example.test \
		EXPOSE=127.0.0.1:9080 "GATEWAY=root@[$GATEWAY6]:22" SSH_KEY="$WORK/alice" \
		KNOWN_HOSTS="$WORK/known_hosts" SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$OUT" \
		FORMAT=wg-quick
	run -0 grep -h -E '^(GATEWAY_ENDPOINT=|Endpoint = )' "$OUT/only6.example.test.env" "$OUT"/*.conf
	assert_line --regexp '^GATEWAY_ENDPOINT=\[fd77::2\]:470[0-9][0-9]$'
	assert_line --regexp '^Endpoint = \[fd77::2\]:470[0-9][0-9]$'
	echo_app h7 127.0.0.1 only6.example.test 9080 9443
	ip netns exec "${T}h7" env DATA_DIR="$OUT/data" KEEPALIVE=2 FORWARD_ONLY=1 \
		EXPOSE_HTTPS=127.0.0.1:9443 "$REPO/client/link-client" \
		--env-file "$OUT/only6.example.test.env" >"$WORK/client6.log" 2>&1 &
	echo $! >"$WORK/client6.pid"
	wait_for 100 visit only6.example.test http >/dev/null 2>&1
	run -0 visit only6.example.test http
	assert_output "home=only6.example.test peer=127.0.0.1 xff=$VISITOR host=only6.example.test"
	run -0 visit6 only6.example.test https
	assert_output --partial "home=only6.example.test peer=127.0.0.1 "
	# The tunnel runs over IPv6: the gateway's peer endpoint is the home's.
	idx=$("$HELPERS/record" get "$WORK/root/var/lib/linkgate/links/only6.example.test" INDEX)
	run -0 wg show "${GWPREFIX}w$idx" endpoints
	assert_output --regexp $'\t\\[fd77::7\\]:[0-9]+$'
	run -0 ip netns exec "${T}h7" make -s -C "$REPO" unlink FQDN=only6.example.test \
		"GATEWAY=root@[$GATEWAY6]:22" SSH_KEY="$WORK/alice" \
		KNOWN_HOSTS="$WORK/known_hosts" SSH_OPTS="-o LogLevel=ERROR"
}

@test "setup keeps an IPv6 PUBLIC_HOST in canonical form without brackets and refuses IPv6 forms no home can reach" {
	conf=$WORK/root/etc/linkgate/gateway.conf
	cp "$conf" "$WORK/gateway.conf.v4"
	run -0 gw setup --public-host '[2001:DB8:0::1]'
	run -0 grep ^PUBLIC_HOST= "$conf"
	assert_output PUBLIC_HOST=2001:db8::1
	before=$(cksum <"$conf")
	for bad in '[::1]' '::1' '[fe80::1%eth0]' 'fe80::1' '::ffff:10.77.0.2' \
		'[::ffff:10.77.0.2]' '[2001:db8::1' '2001:db8::1]' '[[2001:db8::1]]' \
		'[2001:db8::1]:51820' '2001:db8:::1' '::' 'ff02::1'; do
		run -1 gw setup --public-host "$bad"
		assert_output --regexp "^linkgate: bad public host '"
		assert_equal "$(cksum <"$conf")" "$before"
	done
}

@test "make setup takes PUBLIC_HOST in brackets, even beside a file name the brackets match as a shell pattern" {
	cp "$WORK/root/etc/linkgate/gateway.conf" "$WORK/gateway.conf.v4"
	# Pasted into the recipe's shell line, [FD77::2] would match "7".
	touch "$REPO/7"
	run -0 gw_make setup 'PUBLIC_HOST=[FD77::2]'
	run -0 grep ^PUBLIC_HOST= "$WORK/root/etc/linkgate/gateway.conf"
	assert_output PUBLIC_HOST=fd77::2
}

@test "make link against a gateway with IPv6 gives a .env with the IPv6 tunnel pair, and the home answers ping6 through the tunnel from the link namespace" {
	local c6 g6 idx ns
	run -0 make_link FQDN=p6.example.test EXPOSE=127.0.0.1:9080
	run -0 grep -c -E '^LINK_(CLIENT|GATEWAY)_ADDRESS6=fd' "$OUT/p6.example.test.env"
	assert_output 2
	c6=$(sed -n 's/^LINK_CLIENT_ADDRESS6=//p' "$OUT/p6.example.test.env")
	g6=$(sed -n 's/^LINK_GATEWAY_ADDRESS6=//p' "$OUT/p6.example.test.env")
	idx=$("$HELPERS/record" get "$WORK/root/var/lib/linkgate/links/p6.example.test" INDEX)
	ns=${GWPREFIX}n$idx
	# The control: the link namespace holds the gateway's end, and no
	# home answers yet.
	run -0 ip -n "$ns" -6 -o addr show
	assert_output --partial "inet6 $g6/"
	run -1 ip netns exec "$ns" ping -6 -n -c 1 -W 1 "$c6"
	ip netns exec "${T}h1" env DATA_DIR="$OUT/data" FORWARD_ONLY=1 \
		"$REPO/client/link-client" --env-file "$OUT/p6.example.test.env" \
		>"$WORK/client6.log" 2>&1 &
	echo $! >"$WORK/client6.pid"
	run -0 wait_for 100 ip netns exec "$ns" ping -6 -n -q -c 1 -W 1 "$c6"
	run -0 ip netns exec "${T}h1" make -s -C "$REPO" unlink FQDN=p6.example.test \
		"GATEWAY=root@$GATEWAY" SSH_KEY="$WORK/alice" \
		KNOWN_HOSTS="$WORK/known_hosts" SSH_OPTS="-o LogLevel=ERROR"
}
