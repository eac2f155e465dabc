#!/usr/bin/env bats
# Key rotation from home: make rotate (bin/link --rotate, the gateway's
# rotate verb over the forced command), the link client taking the new
# keys on SIGHUP without a restart, a visitor's HTTPS requests during it,
# the old keys refused after it, and linkgate rotate killed after each of
# its steps.
#
#   ${T}i visitor ── bridge ── ${T}g gateway (make setup/gateway, sshd)
#                          ├── ${T}h1 home: nginx app, link client (Caddy,
#                          │            TLS_INTERNAL), make rotate
#                          └── ${T}h2 a home that kept the old keys

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	net_down
	net_up
	gateway_make_up h1
	home_app h1
	home_link h1 rot.example.test 127.0.0.1:9080 EXPIRES=1h >/dev/null
	home_client h1 rot.example.test KEEPALIVE=2 TLS_INTERNAL=1
	ssh-keygen -q -t ed25519 -N '' -C other@home -f "$WORK/other"
	gw_make authorize KEY="$WORK/other.pub" NAME=other DOMAINS=example.test
}

teardown_file() {
	load common
	load lib/net
	net_down
}

setup() {
	load common
	load lib/net
	D=$WORK/root/var/lib/linkgate
	ENV=$WORK/h1/rot.example.test.env
	HOME_ROTATE=(ip netns exec "${T}h1" env SSH_KEY="$WORK/key-h1"
		KNOWN_HOSTS="$WORK/known_hosts" SSH_OPTS="-o LogLevel=ERROR"
		LINK_DIR="$WORK/h1" GATEWAY="root@$GATEWAY" FQDN=rot.example.test
		make -s -C "$REPO" rotate)
}

field() {
	"$HELPERS/record" get "$D/links/$1" "$2"
}

# tunnel_ips: the home's tunnel addresses, as wg show allowed-ips prints
# the peer that holds them: IPv4, and IPv6 from the gateway's IPV6_POOL
# and the link's index (whether or not its home speaks IPv6).
tunnel_ips() {
	local p
	p=$(sed -n 's/^IPV6_POOL=\(.*\)::\/48$/\1/p' "$WORK/root/etc/linkgate/gateway.conf")
	echo "$(field rot.example.test TUNNEL_CLIENT)/32 $p:$(printf %x "$(field rot.example.test INDEX)")::1:2/128"
}

env_get() {
	sed -n "s/^$1=//p" "$ENV"
}

# https_ok: one visitor request over HTTPS on a fresh connection.
https_ok() {
	ip netns exec "${T}i" curl -sfk -o /dev/null --max-time 1 \
		--resolve "rot.example.test:443:$GATEWAY" https://rot.example.test/
}

# visit_at LOG: one visitor request over HTTPS on a fresh connection (3 s
# at most), logged as a line "START ok|fail END" (nanoseconds).
visit_at() {
	local t r
	t=$(date +%s%N)
	if ip netns exec "${T}i" curl -sfk -o /dev/null --max-time 3 \
		--resolve "rot.example.test:443:$GATEWAY" https://rot.example.test/; then
		r=ok
	else
		r=fail
	fi
	echo "$t $r $(date +%s%N)" >>"$1"
}

# visitor_loop FILE: a new visitor request every 50 ms, each on its own,
# until FILE.stop exists (at most 600): many visitors, so that one
# request that waits (see the rotation test) does not hold back the
# others.
visitor_loop() {
	local i=0
	while [ ! -e "$1.stop" ] && [ "$i" -lt 600 ]; do
		visit_at "$1" &
		sleep 0.05
		i=$((i + 1))
	done
	wait
}

# home_rotate: make rotate at home h1 (HOME_ROTATE: the command, for a
# test that runs it under another).
home_rotate() {
	"${HOME_ROTATE[@]}"
}

@test "make rotate gives new keys, keeps name, index, port and addresses; the client takes them on SIGHUP; visitors see at most one second without answers" {
	local log=$WORK/visits gap
	local -A old
	cp "$ENV" "$WORK/old.env"
	for k in INDEX PORT TUNNEL_CLIENT TUNNEL_GATEWAY VETH_LINK_ADDR GATEWAY_KEY EXPIRES; do
		old[$k]=$(field rot.example.test "$k")
	done
	pid=$(cat "$WORK/client-rot.example.test.pid")
	ino=$(stat -c %i "$ENV")
	run -0 wait_for 100 https_ok
	visitor_loop "$log" &
	loop=$!
	sleep 1
	t0=$(date +%s%N)
	run -0 home_rotate
	t1=$(date +%s%N)
	assert_output --partial "told the link client (pid $pid)"
	assert_output --partial "the new keys have shaken hands"
	sleep 3
	touch "$log.stop"
	wait "$loop"
	for k in INDEX PORT TUNNEL_CLIENT TUNNEL_GATEWAY VETH_LINK_ADDR; do
		assert_equal "$(field rot.example.test "$k")" "${old[$k]}"
	done
	[ "$(field rot.example.test GATEWAY_KEY)" != "${old[GATEWAY_KEY]}" ]
	assert_equal "$(field rot.example.test GATEWAY_KEY)" "$(env_get GATEWAY_LINK_WG_PUBKEY)"
	assert_equal "$(field rot.example.test CLIENT_KEY)" \
		"$(env_get GATEWAY_CLIENT_WG_PRIVKEY | wg pubkey)"
	[ "$(field rot.example.test EXPIRES)" -ge "${old[EXPIRES]}" ]
	[ "$(field rot.example.test ROTATED)" -ge $((t0 / 1000000000)) ]
	run -0 gw list --json
	# shellcheck disable=SC2016 # jq's variable, not the shell's
	run -0 jq -e --argjson r "$(field rot.example.test ROTATED)" \
		'.links[] | select(.name == "rot.example.test") | .rotated == $r' <<<"$output"
	# Every other line of the .env as it was; the backup gone after the
	# handshake.
	assert_equal "$(grep -v -e '^GATEWAY_CLIENT_WG_PRIVKEY=' -e '^GATEWAY_LINK_WG_PUBKEY=' "$ENV")" \
		"$(grep -v -e '^GATEWAY_CLIENT_WG_PRIVKEY=' -e '^GATEWAY_LINK_WG_PUBKEY=' "$WORK/old.env")"
	[ ! -e "$ENV.bak" ] && [ ! -e "$ENV.new" ]
	run -0 stat -c %a "$ENV"
	assert_output 600
	# Written in place: a container's mount of the file sees the new one.
	assert_equal "$(stat -c %i "$ENV")" "$ino"
	# The same client process, never restarted.
	kill -0 "$pid"
	run -0 grep -c 'SIGHUP: new keys' "$WORK/client-rot.example.test.log"
	# The longest time between two answers (by when they came), and the
	# slowest request; no failure from 1 s after make rotate returned.
	gap=$(awk '$2 == "ok" { print $3 }' "$log" | sort -n |
		awk '{ if (last && $1 - last > max) max = $1 - last; last = $1 }
		END { printf "%d", max / 1000000 }')
	slow=$(awk '$2 == "ok" && $3 - $1 > max { max = $3 - $1 } END { printf "%d", max / 1000000 }' "$log")
	late=$(awk -v t="$((t1 + 1000000000))" '$1 > t && $2 == "fail"' "$log" | wc -l)
	echo "# make rotate took $(((t1 - t0) / 1000000)) ms; $(wc -l <"$log") HTTPS requests, $(grep -c fail "$log") failed, longest gap between answers $gap ms, slowest request $slow ms, failures after: $late" >&3
	[ "$(grep -c ' ok ' "$log")" -gt 10 ]
	assert_equal "$late" 0
	# The issue's bound, asserted although it is a time: 20 rotations
	# here (2 cores, shared) gave gaps of 73 to 146 ms with this visitor
	# (20 more, a request every 20 ms: 108 to 307 ms), so 1 s is far
	# from the noise. Only a request whose TCP handshake with the home spans the
	# cut waits longer (about 1 s, in 1 of 20 rotations): the home's
	# SYN-ACK, sent on the old session, is dropped by the gateway's new
	# key, and TCP sends it again after its initial 1 s timeout.
	# Requests started meanwhile are answered, so visitors do not see
	# that second without answers.
	[ "$gap" -le 1000 ]
}

@test "a home that kept the old keys cannot shake hands with the gateway, and the gateway holds only the new peer" {
	[ -f "$WORK/old.env" ] || skip "needs the rotation test before it"
	idx=$(field rot.example.test INDEX)
	sed -n 's/^GATEWAY_CLIENT_WG_PRIVKEY=//p' "$WORK/old.env" >"$WORK/old.key"
	chmod 600 "$WORK/old.key"
	home_peer h2 7 "$WORK/old.key" "$(sed -n 's/^GATEWAY_LINK_WG_PUBKEY=//p' "$WORK/old.env")" \
		"$(sed -n 's/^GATEWAY_ENDPOINT=//p' "$WORK/old.env")" "$(field rot.example.test TUNNEL_CLIENT)"
	ip netns exec "${T}h2" ping -c 3 -i 0.5 -W 1 "$(field rot.example.test TUNNEL_GATEWAY)" \
		>/dev/null 2>&1 || true
	run -0 ip netns exec "${T}h2" wg show "${T}c7" latest-handshakes
	assert_output --regexp $'\t0$'
	run -0 wg show "${GWPREFIX}w$idx" peers
	assert_output "$(field rot.example.test CLIENT_KEY)"
	ip -n "${T}h2" link del "${T}c7"
	run -0 https_ok
}

@test "a bad .env on SIGHUP changes nothing: the client keeps its keys and says so; the same .env again is noticed" {
	pid=$(cat "$WORK/client-rot.example.test.pid")
	cp "$ENV" "$WORK/good.env"
	# shellcheck disable=SC2016 # shell syntax the client must refuse
	echo 'EXPOSE=$(id)' >>"$ENV"
	kill -HUP "$pid"
	run -0 wait_for 50 grep -q "SIGHUP: $ENV refused" "$WORK/client-rot.example.test.log"
	cp "$WORK/good.env" "$ENV"
	kill -HUP "$pid"
	run -0 wait_for 50 grep -q "SIGHUP: the keys and endpoint in $ENV are the running ones" \
		"$WORK/client-rot.example.test.log"
	kill -0 "$pid"
	run -0 https_ok
}

@test "a SIGHUP whose new endpoint name does not resolve keeps the client running on its old keys and endpoint, and says so" {
	local pid log=$WORK/client-rot.example.test.log n port
	pid=$(cat "$WORK/client-rot.example.test.pid")
	cp "$ENV" "$WORK/good.env"
	port=$(env_get GATEWAY_ENDPOINT)
	port=${port##*:}
	sed -i "s/^GATEWAY_ENDPOINT=.*/GATEWAY_ENDPOINT=nosuch.invalid:$port/" "$ENV"
	kill -HUP "$pid"
	run -0 wait_for 100 grep -q "link-client: SIGHUP: the gateway endpoint nosuch.invalid:$port cannot be set" "$log"
	run -0 grep -q "the running keys and endpoint are kept" "$log"
	kill -0 "$pid"
	run -0 https_ok
	n=$(grep -c 'are the running ones' "$log")
	cp "$WORK/good.env" "$ENV"
	kill -HUP "$pid"
	run -0 wait_for 50 bash -c "[ \$(grep -c 'are the running ones' '$log') -gt $n ]"
	kill -0 "$pid"
	run -0 https_ok
}

# held_wg PID: stops (SIGSTOP) the wg command that link client PID runs
# in the foreground, once one runs (5 s at most), and prints its pid: the
# client's reload is then held inside that command.
held_wg() {
	local n=250 w
	while [ "$n" -gt 0 ]; do
		w=$(pgrep -P "$1" -x wg) && kill -STOP "$w" && echo "$w" && return 0
		sleep 0.02
		n=$((n - 1))
	done
	return 1
}

@test "a SIGHUP that comes while the client reloads is handled after that reload, with the .env written meanwhile" {
	local pid log=$WORK/client-rot.example.test.log idx gwk new_priv new_c port w n
	pid=$(cat "$WORK/client-rot.example.test.pid")
	idx=$(field rot.example.test INDEX)
	gwk=$(field rot.example.test GATEWAY_KEY)
	new_priv=$(wg genkey)
	new_c=$(printf '%s\n' "$new_priv" | wg pubkey)
	run -0 gw add rot.example.test "$new_c" --replace
	cp "$ENV" "$WORK/good.env"
	port=$(env_get GATEWAY_ENDPOINT)
	port=${port##*:}
	# The first reload reads an endpoint that does not resolve, and is
	# held in the wg call that tries it.
	sed -i "s/^GATEWAY_ENDPOINT=.*/GATEWAY_ENDPOINT=nosuch.invalid:$port/" "$ENV"
	n=$(grep -c 'cannot be set' "$log" || true)
	kill -HUP "$pid"
	w=$(held_wg "$pid")
	cp "$WORK/good.env" "$ENV"
	sighup_env "$new_priv" "$gwk"
	kill -CONT "$w"
	run -0 wait_for 100 bash -c "[ \$(grep -c 'cannot be set' '$log') -gt $n ]"
	run -0 wait_for 100 bash -c "[ \"\$(wg show ${GWPREFIX}w$idx peers)\" = '$new_c' ]"
	kill -0 "$pid"
	run -0 wait_for 50 https_ok
}

@test "on SIGHUP with new keys the client stops its old prober before it changes the peer" {
	local pid gwk new_priv new_c tr=$WORK/hup.trace st kill_at set_at n
	local log=$WORK/client-rot.example.test.log
	pid=$(cat "$WORK/client-rot.example.test.pid")
	gwk=$(field rot.example.test GATEWAY_KEY)
	new_priv=$(wg genkey)
	new_c=$(printf '%s\n' "$new_priv" | wg pubkey)
	run -0 gw add rot.example.test "$new_c" --replace
	strace -f -qq -e trace=execve,kill -e signal=none -o "$tr" -p "$pid" &
	st=$!
	run -0 wait_for 50 bash -c "! grep -q '^TracerPid:[[:space:]]*0\$' /proc/$pid/status"
	n=$(grep -c 'SIGHUP: new keys' "$log")
	sighup_env "$new_priv" "$gwk"
	run -0 wait_for 100 bash -c "[ \$(grep -c 'SIGHUP: new keys' '$log') -gt $n ]"
	kill "$st"
	wait "$st" || true
	# The prober's end (SIGTERM from the client) and the first wg set of
	# the reload, by line in the trace.
	kill_at=$(grep -n "^$pid  *kill([0-9]*, SIGTERM)" "$tr" | head -n 1 | cut -d: -f1)
	set_at=$(grep -n 'execve("[^"]*wg", \["wg", "set"' "$tr" | head -n 1 | cut -d: -f1)
	[ -n "$kill_at" ] && [ -n "$set_at" ] || fail "no SIGTERM or no wg set in the trace: $(cat "$tr")"
	[ "$kill_at" -lt "$set_at" ] || fail "wg set (line $set_at) before the prober's SIGTERM (line $kill_at)"
	run -0 wait_for 50 https_ok
}

# prober_ping PID: the pid of the ping that link client PID's prober has
# just started (it waits for one to begin: 10 s at most).
prober_ping() {
	local n=500 pr p seen=0
	while [ "$n" -gt 0 ]; do
		pr=$(pgrep -P "$1" -x link-client | head -n 1)
		p=$(pgrep -P "${pr:-0}" -x ping) || p=
		if [ -z "$p" ]; then seen=1; elif [ "$seen" = 1 ]; then echo "$p"; return 0; fi
		sleep 0.02
		n=$((n - 1))
	done
	return 1
}

@test "a SIGHUP while the prober waits for a ping on a link that is down ends that ping at once: the new keys do not wait for it" {
	local pid new_priv new_c tr=$WORK/hup-down.trace st ping n
	local log=$WORK/client-rot.example.test.log
	pid=$(cat "$WORK/client-rot.example.test.pid")
	new_priv=$(wg genkey)
	new_c=$(printf '%s\n' "$new_priv" | wg pubkey)
	# The gateway rotates; the home's keys no longer shake hands, so
	# each of the prober's pings waits 2 s for an answer.
	run -0 gw rotate rot.example.test "$new_c"
	ping=$(prober_ping "$pid")
	strace -f -qq -e trace=kill -e signal=none -o "$tr" -p "$pid" &
	st=$!
	run -0 wait_for 50 bash -c "! grep -q '^TracerPid:[[:space:]]*0\$' /proc/$pid/status"
	n=$(grep -c 'SIGHUP: new keys' "$log")
	sighup_env "$new_priv" "$(field rot.example.test GATEWAY_KEY)"
	run -0 wait_for 100 bash -c "[ \$(grep -c 'SIGHUP: new keys' '$log') -gt $n ]"
	kill "$st"
	wait "$st" || true
	grep -q "^$pid  *kill($ping, SIGTERM)" "$tr" ||
		fail "the prober's ping $ping was not ended: $(cat "$tr")"
	run -0 wait_for 100 https_ok
}

@test "rotate is refused for another key's link, with a bad key or the current key, and changes nothing" {
	before=$(state_sum)
	run -1 ssh_as other rotate rot.example.test "$(wg genkey | wg pubkey)"
	assert_output "linkgate: rot.example.test belongs to another key"
	run -1 gw rotate rot.example.test "$(field rot.example.test CLIENT_KEY)"
	assert_output "linkgate: rot.example.test: the new client key is the link's current one"
	run -1 gw rotate rot.example.test notakey
	assert_output --partial "linkgate: bad client key"
	run -1 gw rotate none.example.test "$(wg genkey | wg pubkey)"
	assert_output "linkgate: none.example.test: no such link"
	run -2 gw rotate rot.example.test
	run -1 ssh_as other rotate rot.example.test
	assert_output "linkgate: refused: usage: rotate FQDN CLIENT_PUBKEY [--resume]"
	assert_equal "$(state_sum)" "$before"
	run -0 https_ok
}

@test "a rotation whose answer never reached the home is undone by make rotate again" {
	local t0
	# The gateway rotates (as if the answer were lost on the way): the
	# home's keys no longer shake hands.
	run -0 gw rotate rot.example.test "$(wg genkey | wg pubkey)"
	if wait_for 10 https_ok; then fail "the home still serves with keys the gateway dropped"; fi
	t0=$(date +%s%N)
	run -0 home_rotate
	assert_output --partial "the new keys have shaken hands"
	run -0 wait_for 100 https_ok
	echo "# a lost rotation: served again $((($(date +%s%N) - t0) / 1000000)) ms after make rotate started" >&3
	assert_equal "$(field rot.example.test CLIENT_KEY)" \
		"$(env_get GATEWAY_CLIENT_WG_PRIVKEY | wg pubkey)"
}

@test "make rotate whose LINK_DIR holds a copy of the .env rewrites the file the running link client reads, and says so" {
	local copy=$WORK/h1copy before
	mkdir -p "$copy"
	cp "$ENV" "$copy/rot.example.test.env"
	before=$(cat "$copy/rot.example.test.env")
	run -0 ip netns exec "${T}h1" env SSH_KEY="$WORK/key-h1" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$copy" GATEWAY="root@$GATEWAY" \
		FQDN=rot.example.test make -s -C "$REPO" rotate
	assert_output --partial "reads $ENV: that file gets the new keys ($copy/rot.example.test.env is left as it is)"
	assert_output --partial "the new keys have shaken hands"
	assert_equal "$(cat "$copy/rot.example.test.env")" "$before"
	assert_equal "$(field rot.example.test CLIENT_KEY)" \
		"$(env_get GATEWAY_CLIENT_WG_PRIVKEY | wg pubkey)"
	run -0 wait_for 50 https_ok
}

@test "make rotate whose link client ends just before its SIGHUP says that no client runs here, exits 0, and prints nothing of kill" {
	local pid
	pid=$(cat "$WORK/client-rot.example.test.pid")
	# kill(2) answers as for a process gone since its pid file was read.
	run -0 strace -f -qq -o /dev/null -e trace=kill -e inject=kill:error=ESRCH "${HOME_ROTATE[@]}"
	assert_output --partial "no link client of rot.example.test runs here"
	refute_output --partial "No such process"
	refute_output --partial "kill:"
	kill -HUP "$pid"
	run -0 wait_for 100 https_ok
}

# sighup_env PRIV GWPUB: the home's .env with these keys (written by the
# shell: a key never in a command's arguments), and the client told.
sighup_env() {
	local line
	while IFS= read -r line; do
		case $line in
		GATEWAY_CLIENT_WG_PRIVKEY=*) printf 'GATEWAY_CLIENT_WG_PRIVKEY=%s\n' "$1" ;;
		GATEWAY_LINK_WG_PUBKEY=*) printf 'GATEWAY_LINK_WG_PUBKEY=%s\n' "$2" ;;
		*) printf '%s\n' "$line" ;;
		esac
	done <"$ENV" >"$ENV.new"
	mv "$ENV.new" "$ENV"
	kill -HUP "$(cat "$WORK/client-rot.example.test.pid")"
}

# grace_holds INDEX OLD NEW: rot.example.test is in its grace period
# after a replace by NEW: the record names NEW and keeps OLD, and the
# gateway's interface gives the tunnel address to OLD and none to NEW.
grace_holds() {
	assert_equal "$(field rot.example.test CLIENT_KEY)" "$3"
	assert_equal "$(field rot.example.test PREV_CLIENT_KEY)" "$2"
	run -0 wg show "${GWPREFIX}w$1" allowed-ips
	assert_line "$2	$(tunnel_ips)"
	assert_line "$3	(none)"
}

@test "add --replace: the old key serves until the new one shakes hands, then the address moves to the new key and the old peer goes" {
	local idx old_c gwk new_priv new_c t0 t1
	idx=$(field rot.example.test INDEX)
	old_c=$(field rot.example.test CLIENT_KEY)
	gwk=$(field rot.example.test GATEWAY_KEY)
	new_priv=$(wg genkey)
	new_c=$(printf '%s\n' "$new_priv" | wg pubkey)
	run -0 gw add rot.example.test "$new_c" --replace
	grace_holds "$idx" "$old_c" "$new_c"
	run -0 https_ok
	# make gateway takes the grace period as it is.
	run -0 gw start
	refute_output --partial repairing
	t0=$(date +%s%N)
	sighup_env "$new_priv" "$gwk"
	run -0 wait_for 100 bash -c "[ \"\$(wg show ${GWPREFIX}w$idx peers)\" = '$new_c' ]"
	run -0 wait_for 50 https_ok
	t1=$(date +%s%N)
	assert_equal "$(field rot.example.test PREV_CLIENT_KEY)" ""
	run -0 wg show "${GWPREFIX}w$idx" allowed-ips
	assert_output "$new_c	$(tunnel_ips)"
	echo "# replace: served by the new key $(((t1 - t0) / 1000000)) ms after the home took it" >&3
}

@test "a second add --replace within KEY_GRACE gives the newest key the address at its first handshake, and the earlier keys lose it" {
	local idx old_c gwk mid_c new_priv new_c
	idx=$(field rot.example.test INDEX)
	old_c=$(field rot.example.test CLIENT_KEY)
	gwk=$(field rot.example.test GATEWAY_KEY)
	mid_c=$(wg genkey | wg pubkey)
	new_priv=$(wg genkey)
	new_c=$(printf '%s\n' "$new_priv" | wg pubkey)
	run -0 gw add rot.example.test "$mid_c" --replace
	run -0 gw add rot.example.test "$new_c" --replace
	grace_holds "$idx" "$old_c" "$new_c"
	refute_output --partial "$mid_c"
	sighup_env "$new_priv" "$gwk"
	run -0 wait_for 100 bash -c "[ \"\$(wg show ${GWPREFIX}w$idx peers)\" = '$new_c' ]"
	run -0 wg show "${GWPREFIX}w$idx" allowed-ips
	assert_output "$new_c	$(tunnel_ips)"
	assert_equal "$(field rot.example.test PREV_CLIENT_KEY)" ""
	run -0 wait_for 50 https_ok
}

# grace_lapsed: rot.example.test replaced by a new client key NEW_C
# (private key NEW_PRIV) with KEY_GRACE=2s, and those 2 s gone by while
# the home still has the old key (it serves until then); IDX and GWK are
# the link's index and gateway key, for the caller.
grace_lapsed() {
	local conf=$WORK/root/etc/linkgate/gateway.conf
	IDX=$(field rot.example.test INDEX)
	GWK=$(field rot.example.test GATEWAY_KEY)
	NEW_PRIV=$(wg genkey)
	NEW_C=$(printf '%s\n' "$NEW_PRIV" | wg pubkey)
	cp "$conf" "$WORK/conf.saved"
	echo KEY_GRACE=2s >>"$conf"
	run -0 gw add rot.example.test "$NEW_C" --replace
	cp "$WORK/conf.saved" "$conf"
	run -0 https_ok
	sleep 2.5
}

@test "after KEY_GRACE a home that kept the old client key is refused: linkgate expire drops its peer" {
	grace_lapsed
	run -0 gw expire
	run -0 wg show "${GWPREFIX}w$IDX" peers
	assert_output "$NEW_C"
	assert_equal "$(field rot.example.test PREV_CLIENT_KEY)" ""
	if wait_for 10 https_ok; then fail "the old key still serves"; fi
	run -0 grep -q 'rot.example.test: the new client key shook hands or the grace period ended' \
		"$WORK/root/var/log/linkgate/gateway.log"
	sighup_env "$NEW_PRIV" "$GWK"
	run -0 wait_for 100 https_ok
}

@test "after KEY_GRACE make gateway gives the tunnel address to the new key and drops the old one, before linkgate expire has run" {
	grace_lapsed
	run -0 gw start
	assert_output --partial "repairing rot.example.test: peer"
	run -0 wg show "${GWPREFIX}w$IDX" allowed-ips
	assert_output "$NEW_C	$(tunnel_ips)"
	if wait_for 10 https_ok; then fail "the old key still serves"; fi
	# A second make gateway finds nothing to repair.
	run -0 gw start
	refute_output --partial repairing
	sighup_env "$NEW_PRIV" "$GWK"
	run -0 wait_for 100 https_ok
}

@test "linkgate rotate killed after any step: make gateway leaves the link on the old or the new keys, and that home is served" {
	local n points=0 news=0 old_c old_g new_priv new_c c g idx
	idx=$(field rot.example.test INDEX)
	for n in $(seq 1 30); do
		old_c=$(field rot.example.test CLIENT_KEY)
		old_g=$(field rot.example.test GATEWAY_KEY)
		new_priv=$(wg genkey)
		new_c=$(printf '%s\n' "$new_priv" | wg pubkey)
		export LINKGATE_KILL_AFTER=$n
		run gw rotate rot.example.test "$new_c"
		unset LINKGATE_KILL_AFTER
		[ "$status" -eq 0 ] && break
		[ "$status" -eq 137 ] || fail "step $n: status $status: $output"
		points=$((points + 1))
		run -0 gw start
		c=$(field rot.example.test CLIENT_KEY)
		g=$(field rot.example.test GATEWAY_KEY)
		if [ "$c" = "$new_c" ]; then
			[ "$g" != "$old_g" ] || fail "step $n: new client key with the old gateway key"
			news=$((news + 1))
			sighup_env "$new_priv" "$g"
		else
			assert_equal "$c" "$old_c"
			assert_equal "$g" "$old_g"
		fi
		# The key file, the interface and the record agree.
		assert_equal "$("$HELPERS/keys" pubkey <"$D/keys/rot.example.test")" "$g"
		[ ! -e "$D/keys/rot.example.test.next" ]
		run -0 wg show "${GWPREFIX}w$idx" public-key
		assert_output "$g"
		run -0 wg show "${GWPREFIX}w$idx" peers
		assert_output "$c"
		run -0 wait_for 100 https_ok
	done
	[ "$status" -eq 0 ] || fail "rotate never finished in 30 steps"
	[ "$points" -ge 3 ]
	sighup_env "$new_priv" "$(field rot.example.test GATEWAY_KEY)"
	run -0 wait_for 100 https_ok
	echo "# rotate: $points kill points, $news left the new keys, $((points - news)) the old" >&3
}

@test "make rotate killed after any step at home: the next make rotate finishes it on the keys the gateway took, and leaves no temp file" {
	local n points=0 resumed=0 orphans=0 g0 g1 pend c
	for n in $(seq 1 20); do
		g0=$(field rot.example.test GATEWAY_KEY)
		export LINK_KILL_AFTER=$n
		run home_rotate
		unset LINK_KILL_AFTER
		[ "$status" -eq 0 ] && break
		[ "$status" -eq 2 ] && [[ $output == *Killed* ]] || fail "step $n: status $status: $output"
		points=$((points + 1))
		if compgen -G "$WORK/h1/.rot.example.test.key.*" >/dev/null; then orphans=$((orphans + 1)); fi
		g1=$(field rot.example.test GATEWAY_KEY)
		pend=
		[ ! -f "$ENV.rotating" ] || pend=$(wg pubkey <"$ENV.rotating")
		run -0 home_rotate
		if [ -n "$pend" ]; then
			assert_output --partial "resuming a make rotate cut short"
			assert_equal "$(field rot.example.test CLIENT_KEY)" "$pend"
			# Taken by the gateway before the kill: not rotated again.
			if [ "$g1" != "$g0" ]; then
				assert_equal "$(field rot.example.test GATEWAY_KEY)" "$g1"
				resumed=$((resumed + 1))
			fi
		fi
		assert_output --partial "the new keys have shaken hands"
		! compgen -G "$WORK/h1/.rot.example.test.key.*" || fail "step $n: temp files left"
		[ ! -e "$ENV.new" ] && [ ! -e "$ENV.rotating" ] && [ ! -e "$ENV.bak" ]
		# The .env holds the keys the gateway has.
		c=$(sed -n 's/^GATEWAY_CLIENT_WG_PRIVKEY=//p' "$ENV" | wg pubkey)
		assert_equal "$c" "$(field rot.example.test CLIENT_KEY)"
		assert_equal "$(env_get GATEWAY_LINK_WG_PUBKEY)" "$(field rot.example.test GATEWAY_KEY)"
		run -0 wait_for 100 https_ok
	done
	[ "$status" -eq 0 ] || fail "make rotate never finished in 20 steps"
	[ "$points" -ge 6 ] && [ "$resumed" -ge 3 ] && [ "$orphans" -ge 1 ]
	run -0 wait_for 100 https_ok
	echo "# make rotate at home: $points kill points, $resumed resumed after the gateway had switched, $orphans left temp files (removed by the next run)" >&3
}
