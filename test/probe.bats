#!/usr/bin/env bats
# The probe helper: a health round's probes, from inside a network
# namespace of the test's own (${NS}) where the homes are on loopback:
#
#   ${NS}: 127.0.0.1 echo app (8080 HTTP, 8443 TLS for t.example.test)
#          127.0.0.2 nothing listens (refused)
#          127.0.0.3 a socket that accepts and never answers (8080)

setup_file() {
	load common
	export NS=lgpr$$ WORK=$BATS_FILE_TMPDIR
	echo "$NS" >"$WORK/ns"
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 3 -subj /CN=t.example.test \
		-addext subjectAltName=DNS:t.example.test \
		-keyout "$WORK/t.key" -out "$WORK/t.crt" 2>/dev/null
	ip netns exec "$NS" python3 "$REPO/test/apps/echo.py" 127.0.0.1 t \
		"$WORK/t.crt" "$WORK/t.key" >"$WORK/echo.log" 2>&1 &
	echo $! >"$WORK/echo.pid"
	ip netns exec "$NS" python3 -c 'import socket, time
s = socket.socket()
s.bind(("127.0.0.3", 8080))
s.listen()
print("ready", flush=True)
time.sleep(120)' >"$WORK/silent.log" 2>&1 &
	echo $! >"$WORK/silent.pid"
	for _ in $(seq 50); do
		grep -q ready "$WORK/echo.log" && grep -q ready "$WORK/silent.log" && return 0
		sleep 0.1
	done
	return 1
}

teardown_file() {
	kill "$(cat "$BATS_FILE_TMPDIR/echo.pid")" "$(cat "$BATS_FILE_TMPDIR/silent.pid")" 2>/dev/null || :

		ip netns del "$(cat "$BATS_FILE_TMPDIR/ns")" 2>/dev/null || :
}

setup() {
	load common
}

probe() { "$HELPERS/probe" "$@"; }

# field LINE N: the Nth tab-separated field of LINE.
field() { printf '%s\n' "$1" | cut -f "$2"; }

@test "a home that answers its health path is up, with its certificate's issuer, expiry and name" {
	run -0 probe -t 2 <<<"t.example.test	$NS	127.0.0.1"
	[ "${#lines[@]}" -eq 1 ]
	line=${lines[0]}
	assert_equal "$(field "$line" 1)" t.example.test
	# Started and ended (ns), in that order, within the last minute.
	[ "$(field "$line" 2)" -le "$(field "$line" 3)" ]
	[ "$(field "$line" 2)" -gt "$((($(date +%s) - 60) * 1000000000))" ]
	assert_equal "$(field "$line" 4)" ""
	assert_equal "$(field "$line" 5)" 200
	[[ "$(field "$line" 6)" =~ ^[0-9]+\.[0-9]{3}$ ]]
	assert_equal "$(field "$line" 7)" ok
	assert_equal "$(field "$line" 8)" "CN = t.example.test"
	assert_equal "$(field "$line" 9)" \
		"$(date -u -d "$(openssl x509 -noout -enddate -in "$WORK/t.crt" | cut -d= -f2)" +%s)"
	assert_equal "$(field "$line" 10)" yes
}

@test "the same certificate served for another name does not match it" {
	run -0 probe <<<"other.example.test	$NS	127.0.0.1"
	assert_equal "$(field "${lines[0]}" 7)" ok
	assert_equal "$(field "${lines[0]}" 10)" no
}

@test "a refused health path, a silent one and a missing namespace are down with their reasons, all probed at once" {
	printf '%s\t%s\t%s\n' r.example.test "$NS" 127.0.0.2 \
		s.example.test "$NS" 127.0.0.3 s2.example.test "$NS" 127.0.0.3 \
		n.example.test lgpr-no-such-ns 127.0.0.1 >"$WORK/in"
	run -0 probe -t 1 -j 4 <"$WORK/in"
	[ "${#lines[@]}" -eq 4 ]
	# Name, reason, HTTP status, TLS.
	printf '%s\n' "${lines[@]}" | cut -f 1,4,5,7 | sort >"$WORK/got"
	printf '%s\t%s\t\t\n' \
		n.example.test "health path: namespace lgpr-no-such-ns: No such file or directory" \
		r.example.test "health path: connection refused" \
		s.example.test "health path: no answer in 1 s" \
		s2.example.test "health path: no answer in 1 s" >"$WORK/want"
	diff -u "$WORK/want" "$WORK/got"
}

@test "JOBS bounds the links probed at once" {
	printf '%s\t%s\t127.0.0.3\n' a.example.test "$NS" b.example.test "$NS" \
		c.example.test "$NS" >"$WORK/in3"
	run -0 probe -t 1 -j 2 <"$WORK/in3"
	# Starts and ends: never more than 2 at once, and 2 did overlap.
	printf '%s\n' "${lines[@]}" | awk -F'\t' '{ print $2, 1; print $3, -1 }' |
		sort -n -k1,1 -k2,2n | awk '{ c += $2; if (c > m) m = c } END { print m }' >"$WORK/overlap"
	assert_equal "$(cat "$WORK/overlap")" 2
}

@test "a bad line is refused before any probe (exit 1), bad options are usage errors (exit 2)" {
	run -1 probe <<<"t.example.test	$NS"
	assert_output "probe: line 1 't.example.test?$NS': not NAME<TAB>NS<TAB>ADDRESS"
	run -1 probe <<<"bad_name	$NS	127.0.0.1"
	assert_output --partial "probe: line 1 "
	run -1 probe <<<"t.example.test	../etc	127.0.0.1"
	assert_output --partial "bad namespace name"
	run -1 probe <<<"t.example.test	$NS	127.0.0.1.5"
	assert_output --partial "bad IPv4 address"
	run -1 probe <<<"t.example.test	$NS	127.0.0.1	fd00::zz"
	assert_output --partial "bad IPv6 address"
	run -2 probe -j 0
	assert_output --partial "bad JOBS '0'"
	run -2 probe -t 61
	assert_output --partial "bad SECONDS '61'"
	run -2 probe extra
	run -0 probe --help
	assert_line --index 0 --partial "usage: probe"
}
