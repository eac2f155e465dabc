#!/usr/bin/env bats
# Hostile input through the real entry points: the gateway command, the
# ssh forced command over ssh, and make link at home. Every case must be a
# clear refusal with the documented exit code, and after each corpus the
# gateway's state, reserved ports and namespaces are unchanged, nginx -t
# passes and an existing link still serves a visitor. Corpora: test/corpus.

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
	link_home keep.example.test h1 1
	wg genkey | wg pubkey >"$WORK/key.pub"
}

teardown_file() {
	load common
	load lib/net
	net_down
}

setup() {
	load common
	load lib/net
	KEY=$(cat "$WORK/key.pub")
	BEFORE=$(state_sum)
}

# unchanged: the gateway is as before the test, and still serves.
unchanged() {
	assert_equal "$(state_sum)" "$BEFORE"
	run -0 nginx_t
	run -0 visit keep.example.test http
	assert_output --partial "home=keep.example.test peer="
	assert_output --partial " xff=$VISITOR "
}

# cases FILE: the corpus's cases, escapes expanded, one a line. A NUL
# cannot cross exec or ssh (record.bats feeds those to the record
# parser instead), so cases with one are left out here.
cases() {
	local line
	while IFS= read -r line; do
		case $line in '#'* | '' | *'\x00'*) continue ;; esac
		printf '%b' "$line" | tr '\n' '\036'
		printf '\n'
	done <"$REPO/test/corpus/$1"
}

# each FILE: reads the corpus's cases into the array CASE (a case may
# hold a newline, so they are kept apart by record separators).
each() {
	local c
	CASE=()
	while IFS= read -r c; do
		CASE+=("${c//$'\036'/$'\n'}")
	done < <(cases "$1")
}

# refused_all: fails naming every case of BAD (the cases a loop found
# accepted, or refused the wrong way), if there is one: a corpus run
# shows all of them at once, not only the first.
refused_all() {
	[ "${#BAD[@]}" -eq 0 ] ||
		fail "$(printf '%s\n' "${#BAD[@]} cases not refused as they must be:" "${BAD[@]}")"
}

# make_link VAR=value...: make link at home1 as alice, into $WORK/out.
make_link() {
	mkdir -p "$WORK/out"
	ip netns exec "${T}h1" env SSH_KEY="$WORK/alice" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$WORK/out" GATEWAY="root@$GATEWAY" \
		"$@" make -s -C "$REPO" link
}

@test "every hostile host name is refused by linkgate add, with exit 1 and nothing changed" {
	each bad-hosts
	[ "${#CASE[@]}" -ge 150 ]
	for name in "${CASE[@]}"; do
		run gw add "$name" "$KEY"
		[ "$status" -eq 1 ] || fail "status $status for '$name': $output"
		assert_output --regexp '^linkgate: '
	done
	unchanged
}

@test "every hostile host name is refused by the ssh forced command, with exit 1 and nothing changed" {
	each bad-hosts
	for name in "${CASE[@]}"; do
		run ssh_as alice "add $name $KEY"
		[ "$status" -eq 1 ] || fail "status $status for '$name': $output"
		assert_output --regexp '^linkgate: refused: '
	done
	unchanged
}

@test "every hostile host name is refused by make link before any file is written" {
	each bad-hosts
	for name in "${CASE[@]}"; do
		run make_link FQDN="$name" EXPOSE=app:80
		[ "$status" -eq 2 ] || fail "status $status for '$name': $output"
		assert_output --regexp '^link: '
	done
	run -0 find "$WORK/out" -type f
	assert_output ""
	unchanged
}

@test "every key that is not 32 bytes of canonical base64 is refused over ssh and by linkgate add" {
	each bad-keys
	[ "${#CASE[@]}" -ge 40 ]
	for key in "${CASE[@]}"; do
		run gw add k.example.test "$key"
		[ "$status" -eq 1 ] || fail "status $status for '$key': $output"
		assert_output --regexp '^linkgate: bad client key'
		run ssh_as alice "add k.example.test $key"
		[ "$status" -eq 1 ] || fail "ssh status $status for '$key': $output"
	done
	unchanged
}

@test "every hostile host name as an ALLOW entry, alone or as a *. entry after a good one, is refused by make link before the gateway is asked" {
	each bad-hosts
	for name in "${CASE[@]}"; do
		for allow in "$name" "a.w.example.test,*.$name"; do
			run make_link FQDN=w.example.test EXPOSE=app:80 WILDCARD=1 ALLOW="$allow"
			[ "$status" -eq 2 ] || fail "status $status for ALLOW '$allow': $output"
			assert_output --regexp '^link: (bad ALLOW|.*ALLOW)'
		done
	done
	run -0 find "$WORK/out" -type f
	assert_output ""
	unchanged
}

@test "every nonsense EXPOSE is refused by make link, and nothing reaches the gateway" {
	each bad-expose
	[ "${#CASE[@]}" -ge 40 ]
	requests=$(wc -l <"$WORK/root/var/log/linkgate/requests.log")
	BAD=()
	for expose in "${CASE[@]}"; do
		run make_link FQDN=e.example.test EXPOSE="$expose"
		if [ "$status" -ne 2 ] || [[ ! $output =~ ^link:\ bad\ EXPOSE ]]; then
			BAD+=("'$expose': status $status: $output")
		fi
	done
	refused_all
	assert_equal "$(wc -l <"$WORK/root/var/log/linkgate/requests.log")" "$requests"
	run -0 find "$WORK/out" -type f
	assert_output ""
	unchanged
}

@test "every bad option string is refused by linkgate add and over ssh" {
	each bad-options
	[ "${#CASE[@]}" -ge 40 ]
	for opts in "${CASE[@]}"; do
		# shellcheck disable=SC2086 # the words of the option string
		run gw add o.example.test "$KEY" $opts
		[ "$status" -eq 1 ] || [ "$status" -eq 2 ] || fail "status $status for '$opts': $output"
		assert_output --regexp '^linkgate: |^usage: '
		run ssh_as alice "add o.example.test $KEY $opts"
		[ "$status" -eq 1 ] || fail "ssh status $status for '$opts': $output"
	done
	unchanged
}

@test "every hostile ssh command is refused by the forced command with exit 1" {
	each bad-ssh-commands
	[ "${#CASE[@]}" -ge 40 ]
	gw add b.bob.example.org "$KEY" >/dev/null
	BEFORE=$(state_sum)
	for c in "${CASE[@]}"; do
		run ssh_as alice "${c//KEY/$KEY}"
		[ "$status" -eq 1 ] || fail "status $status for '$c': $output"
		assert_output --regexp '^linkgate: '
	done
	unchanged
	gw remove b.bob.example.org >/dev/null
}

@test "unusual but valid names are accepted, upper case folded, and removed again" {
	each good-hosts
	for name in "${CASE[@]}"; do
		run gw add "$name" "$KEY"
		[ "$status" -eq 0 ] || fail "'$name' refused: $output"
		lower=$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]')
		run -0 gw list
		assert_line --regexp "^${lower}[[:space:]]"
		run -0 gw remove "$lower"
	done
	unchanged
}

@test "make link accepts a host:port gateway and an EXPOSE with a docker service name" {
	run -0 make_link GATEWAY="root@$GATEWAY:22" FQDN=hp.example.test EXPOSE=my_app-1:8080
	run -0 grep -c '^EXPOSE=my_app-1:8080$' "$WORK/out/hp.example.test.env"
	run -0 gw remove hp.example.test
	rm -f "$WORK/out/hp.example.test.env"
	unchanged
}

@test "every hostile GATEWAY, IPv6 forms among them, is refused by make link before ssh, and no file is written" {
	each bad-gateways
	[ "${#CASE[@]}" -ge 40 ]
	requests=$(wc -l <"$WORK/root/var/log/linkgate/requests.log")
	BAD=()
	for g in "${CASE[@]}"; do
		run make_link GATEWAY="$g" FQDN=g.example.test EXPOSE=app:80
		if [ "$status" -ne 2 ] || [[ ! $output =~ ^link:\ bad\ GATEWAY ]]; then
			BAD+=("'$g': status $status: $output")
		fi
	done
	refused_all
	assert_equal "$(wc -l <"$WORK/root/var/log/linkgate/requests.log")" "$requests"
	run -0 find "$WORK/out" -type f
	assert_output ""
	unchanged
}

@test "every unreachable gateway host, IPv6 forms among them, is refused as PUBLIC_HOST with exit 1 and the settings unchanged" {
	each bad-endpoints
	[ "${#CASE[@]}" -ge 25 ]
	conf=$WORK/root/etc/linkgate/gateway.conf
	sum=$(cksum <"$conf")
	cp -p "$conf" "$WORK/gateway.conf.saved"
	BAD=()
	for h in "${CASE[@]}"; do
		run gw setup --public-host "$h"
		if [ "$status" -ne 1 ] || [[ ! $output =~ ^linkgate:\ bad\ public\ host\ \' ]]; then
			BAD+=("'$h': status $status: $(grep PUBLIC_HOST "$conf")")
		fi
	done
	now=$(cksum <"$conf")
	# One wrongly accepted host must not change the rest of the suite.
	cp -p "$WORK/gateway.conf.saved" "$conf"
	refused_all
	assert_equal "$now" "$sum"
	unchanged
}

# env6 ENDPOINT [LINE]: a link .env with that GATEWAY_ENDPOINT (and LINE).
env6() {
	printf '%s\n' LINK_DOMAIN=e6.example.test EXPOSE=127.0.0.1:9080 \
		"GATEWAY_CLIENT_WG_PRIVKEY=$(wg genkey)" "GATEWAY_LINK_WG_PUBKEY=$KEY" \
		"GATEWAY_ENDPOINT=$1" LINK_CLIENT_ADDRESS=198.19.0.6 \
		LINK_GATEWAY_ADDRESS=198.19.0.5 ${2:+"$2"} >"$WORK/e6.env"
}

@test "every unreachable gateway host, IPv6 forms among them, is refused as a .env's GATEWAY_ENDPOINT before anything is created" {
	each bad-endpoints
	# The control: a good IPv6 endpoint passes, and the next check fails.
	env6 '[fd77::2]:51820' LINK_MTU=99
	run -1 ip netns exec "${T}h1" "$REPO/client/link-client" --env-file "$WORK/e6.env"
	assert_output "link-client: bad LINK_MTU '99': 1280-9000"
	BAD=()
	for h in "${CASE[@]}"; do
		case $h in '['*) ep=$h:51820 ;; *:*) ep=[$h]:51820 ;; *) ep=$h:51820 ;; esac
		# A newline ends the value: the rest is a line of its own.
		want="^link-client: (bad GATEWAY_ENDPOINT '|.*GATEWAY_ENDPOINT has characters outside)"
		case $ep in *$'\n'*) want="^link-client: .* line [0-9]+ is not KEY=value" ;; esac
		# The bad LINK_MTU stops a wrongly accepted endpoint right after
		# its check, before any interface is made.
		env6 "$ep" LINK_MTU=99
		run timeout 10 ip netns exec "${T}h1" "$REPO/client/link-client" --env-file "$WORK/e6.env"
		if [ "$status" -ne 1 ] || [[ ! $output =~ $want ]]; then
			BAD+=("'$h': status $status: $output")
		fi
	done
	refused_all
	run -0 ip -n "${T}h1" -o link show
	refute_output --partial " lk"
	unchanged
}

@test "every good gateway host, IPv6 in any spelling, is accepted as PUBLIC_HOST and kept in its canonical form" {
	each good-endpoints
	[ "${#CASE[@]}" -ge 10 ]
	conf=$WORK/root/etc/linkgate/gateway.conf
	cp -p "$conf" "$WORK/gateway.conf.saved"
	for c in "${CASE[@]}"; do
		read -r h want <<<"$c"
		run gw setup --public-host "$h"
		[ "$status" -eq 0 ] || fail "'$h' refused: $output"
		run -0 grep -Fx "PUBLIC_HOST=$want" "$conf"
	done
	cp -p "$WORK/gateway.conf.saved" "$conf"
	run -0 grep -Fx "PUBLIC_HOST=$GATEWAY" "$conf"
	unchanged
}

@test "every good gateway host, IPv6 in any spelling, passes as a .env's GATEWAY_ENDPOINT" {
	each good-endpoints
	for c in "${CASE[@]}"; do
		read -r h _ <<<"$c"
		case $h in '['*) ep=$h:51820 ;; *:*) ep=[$h]:51820 ;; *) ep=$h:51820 ;; esac
		# LINK_MTU is checked after the endpoint: its refusal shows the
		# endpoint passed.
		env6 "$ep" LINK_MTU=99
		run -1 ip netns exec "${T}h1" "$REPO/client/link-client" --env-file "$WORK/e6.env"
		assert_output "link-client: bad LINK_MTU '99': 1280-9000"
	done
	unchanged
}

@test "make link accepts an IPv6 EXPOSE in any spelling and writes it in canonical form to the .env" {
	each good-expose
	[ "${#CASE[@]}" -ge 5 ]
	for c in "${CASE[@]}"; do
		read -r expose want <<<"$c"
		run make_link FQDN=x6.example.test EXPOSE="$expose"
		[ "$status" -eq 0 ] || fail "'$expose' refused: $output"
		run -0 grep -Fx "EXPOSE=$want" "$WORK/out/x6.example.test.env"
		run -0 gw remove x6.example.test
		rm -f "$WORK/out/x6.example.test.env"
	done
	unchanged
}

@test "make link reaches the gateway over ssh at its IPv6 address in any spelling" {
	each good-gateways
	[ "${#CASE[@]}" -ge 5 ]
	for g in "${CASE[@]}"; do
		run make_link GATEWAY="$g" FQDN=g6.example.test EXPOSE=app:80
		[ "$status" -eq 0 ] || fail "'$g' refused: $output"
		run -0 grep -c '^GATEWAY_ENDPOINT=' "$WORK/out/g6.example.test.env"
		run -0 gw remove g6.example.test
		rm -f "$WORK/out/g6.example.test.env"
	done
	unchanged
}
