#!/usr/bin/env bats
# Links that expire: add --expires (make link EXPIRES=), a key's
# MAX_LIFETIME (make authorize), linkgate expire (what
# linkgate-expire.timer runs) removing expired links, the expiry in list
# and status with a warning before it, and make revoke LINKS=remove.
# Hostile durations through every entry point.
#
#   ${T}i bridge ── ${T}g gateway: nginx, sshd with the forced command
#                └── ${T}h1 home: ssh as alice, erin (MAX_LIFETIME=1h), make link

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
	link_home keep.example.test h1 1
	ssh-keygen -q -t ed25519 -N '' -C erin@home -f "$WORK/erin"
	gw_make authorize KEY="$WORK/erin.pub" NAME=erin DOMAINS=example.test \
		MAX_LIFETIME=1h
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
	D=$WORK/root/var/lib/linkgate
}

# field NAME KEY: a field of link NAME's record.
field() {
	"$HELPERS/record" get "$D/links/$1" "$2"
}

# cases FILE: the corpus's cases, \x escapes expanded, one a line (as
# hostile.bats reads them; a case with a newline keeps it as \036).
each() {
	local line
	CASE=()
	while IFS= read -r line; do
		case $line in '#'* | '') continue ;; esac
		CASE+=("$(printf '%b' "$line")")
	done <"$REPO/test/corpus/$1"
}

# requests_count: the lines of the gateway's requests log (none before
# the first ssh request).
requests_count() {
	local f=$WORK/root/var/log/linkgate/requests.log
	if [ -f "$f" ]; then wc -l <"$f"; else echo 0; fi
}

make_link() {
	mkdir -p "$WORK/out"
	ip netns exec "${T}h1" env SSH_KEY="$WORK/alice" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$WORK/out" GATEWAY="root@$GATEWAY" \
		"$@" make -s -C "$REPO" link
}

@test "add --expires 90d records the expiry and the lifetime; list and status show it" {
	now=$(date +%s)
	run -0 gw add e90.example.test "$KEY" --expires 90d
	exp=$(field e90.example.test EXPIRES)
	[ "$exp" -ge $((now + 90 * 86400)) ] && [ "$exp" -le $((now + 90 * 86400 + 5)) ]
	assert_equal "$(field e90.example.test LIFETIME)" 7776000
	run -0 gw list
	assert_line --regexp "^e90\.example\.test .* $(date -u -d "@$exp" +%Y-%m-%dT%H:%MZ)\$"
	assert_line --regexp '^keep\.example\.test .* never$'
	run -0 gw list --json
	assert_output --partial "\"name\":\"e90.example.test\""
	assert_output --partial "\"expires\":$exp,"
	assert_output --regexp '"name":"keep.example.test"[^}]*"expires":null'
	run -0 gw status e90.example.test
	assert_line --index 0 --regexp ' IF_MTU +EXPIRES +REASON$'
	assert_line --index 1 --regexp '^e90\.example\.test +- .* (89|90)d$'
	run -0 gw status --json e90.example.test
	# shellcheck disable=SC2016 # jq's variable, not the shell's
	run -0 jq -e --argjson e "$exp" '.links[0].expires == $e and .links[0].expiry_warning == false' <<<"$output"
	run -0 gw remove e90.example.test
}

@test "a date as EXPIRES ends the link at 00:00 UTC of that day, with no lifetime to renew" {
	day=$(date -u -d '+20 days' +%Y-%m-%d)
	run -0 gw add date.example.test "$KEY" --expires "$day"
	assert_equal "$(field date.example.test EXPIRES)" "$(date -u -d "$day 00:00" +%s)"
	assert_equal "$(field date.example.test LIFETIME)" 0
	run -0 gw remove date.example.test
}

@test "every hostile duration is refused by linkgate add, over ssh and by make link, and nothing changes" {
	each bad-durations
	[ "${#CASE[@]}" -ge 70 ]
	before=$(state_sum)
	# No ssh request yet: the log may not exist.
	requests=$(requests_count)
	for v in "${CASE[@]}"; do
		run gw add hd.example.test "$KEY" --expires "$v"
		[ "$status" -eq 1 ] || fail "add: status $status for '$v': $output"
		assert_output --regexp '^linkgate: bad expiry'
		run make_link FQDN=hd.example.test EXPOSE=app:80 EXPIRES="$v"
		[ "$status" -eq 2 ] || fail "make link: status $status for '$v': $output"
		assert_output --regexp '^link: bad EXPIRES'
	done
	# make link asked the gateway nothing.
	assert_equal "$(requests_count)" "$requests"
	for v in "${CASE[@]}"; do
		run ssh_as alice "add hd.example.test $KEY --expires $v"
		[ "$status" -eq 1 ] || fail "ssh: status $status for '$v': $output"
		assert_output --regexp '^linkgate: '
	done
	assert_equal "$(state_sum)" "$before"
	run -0 find "$WORK/out" -type f
	assert_output ""
	run -0 nginx_t
	run -0 visit keep.example.test http
	assert_output --partial "home=keep.example.test "
}

@test "make authorize stores MAX_LIFETIME in seconds beside LINKS; hostile durations are refused and change nothing" {
	run -0 cat "$WORK/root/etc/linkgate/keys/erin"
	assert_output "$(printf 'DOMAINS=example.test\nADMIN=0\nMAX_LIFETIME=3600')"
	each bad-durations
	for v in "${CASE[@]}"; do
		run gw authorize "$WORK/erin.pub" erin example.test --max-lifetime "$v"
		[ "$status" -eq 1 ] || fail "status $status for '$v': $output"
		assert_output --regexp '^linkgate: bad MAX_LIFETIME'
	done
	run -0 cat "$WORK/root/etc/linkgate/keys/erin"
	assert_output "$(printf 'DOMAINS=example.test\nADMIN=0\nMAX_LIFETIME=3600')"
}

@test "a key's MAX_LIFETIME is its links' default expiry, and a later EXPIRES is refused" {
	now=$(date +%s)
	run -0 ssh_as erin add m1.example.test "$KEY"
	exp=$(field m1.example.test EXPIRES)
	[ "$exp" -ge $((now + 3600)) ] && [ "$exp" -le $((now + 3605)) ]
	run -0 ssh_as erin add m2.example.test "$KEY" --expires 30m
	exp=$(field m2.example.test EXPIRES)
	[ "$exp" -le $((now + 1805)) ]
	before=$(state_sum)
	run -1 ssh_as erin add m3.example.test "$KEY" --expires 2h
	assert_output "linkgate: expiry 2h is beyond key erin's MAX_LIFETIME of 1h"
	assert_equal "$(state_sum)" "$before"
	# Another key's links are not capped.
	run -0 ssh_as alice add m4.example.test "$KEY"
	assert_equal "$(field m4.example.test EXPIRES)" 0
	for n in m1 m2 m4; do run -0 gw remove "$n.example.test"; done
}

@test "make authorize with MAX_LIFETIME caps the key's existing links at once, and never lengthens an earlier expiry" {
	ssh-keygen -q -t ed25519 -N '' -C jack@home -f "$WORK/jack"
	gw_make authorize KEY="$WORK/jack.pub" NAME=jack DOMAINS=example.test
	run -0 ssh_as jack add j1.example.test "$KEY"
	run -0 ssh_as jack add j2.example.test "$KEY" --expires 10m
	run -0 ssh_as alice add j3.example.test "$KEY"
	short=$(field j2.example.test EXPIRES)
	now=$(date +%s)
	run -0 gw_make authorize KEY="$WORK/jack.pub" NAME=jack DOMAINS=example.test MAX_LIFETIME=1h
	assert_line --regexp '^j1\.example\.test: now expires [0-9-]+T[0-9:]+Z \(MAX_LIFETIME of jack\)$'
	refute_line --partial j2.example.test
	exp=$(field j1.example.test EXPIRES)
	[ "$exp" -ge $((now + 3600)) ] && [ "$exp" -le $((now + 3605)) ]
	assert_equal "$(field j1.example.test LIFETIME)" 3600
	assert_equal "$(field j2.example.test EXPIRES)" "$short"
	assert_equal "$(field j3.example.test EXPIRES)" 0
	for n in j1 j2 j3; do run -0 gw remove "$n.example.test"; done
	gw revoke jack >/dev/null
}

@test "add --replace starts a link's lifetime again" {
	run -0 gw add rn.example.test "$KEY" --expires 1h
	first=$(field rn.example.test EXPIRES)
	sleep 1.1
	run -0 gw add rn.example.test "$(wg genkey | wg pubkey)" --replace
	[ "$(field rn.example.test EXPIRES)" -gt "$first" ]
	assert_equal "$(field rn.example.test LIFETIME)" 3600
	run -0 gw remove rn.example.test
}

@test "add --replace with the link's own client key does not renew its lifetime, nor lengthen it past MAX_LIFETIME; a new key does" {
	local first k2 now
	run -0 ssh_as erin add ro.example.test "$KEY"
	first=$(field ro.example.test EXPIRES)
	sleep 1.1
	run -0 ssh_as erin add ro.example.test "$KEY" --replace
	assert_equal "$(field ro.example.test EXPIRES)" "$first"
	before=$(state_sum)
	run -1 ssh_as erin add ro.example.test "$KEY" --replace --expires 1h
	assert_output --partial "linkgate: ro.example.test: expiry 1h is later than the link's"
	assert_equal "$(state_sum)" "$before"
	run -0 ssh_as erin add ro.example.test "$KEY" --replace --expires 10m
	[ "$(field ro.example.test EXPIRES)" -lt "$first" ]
	k2=$(wg genkey | wg pubkey)
	now=$(date +%s)
	run -0 ssh_as erin add ro.example.test "$k2" --replace
	exp=$(field ro.example.test EXPIRES)
	[ "$exp" -ge $((now + 600)) ] && [ "$exp" -le $((now + 605)) ]
	run -0 gw remove ro.example.test
}

@test "status marks a link within EXPIRY_WARN and warns on stderr; a bad EXPIRY_WARN is refused" {
	run -0 gw add w.example.test "$KEY" --expires 6d
	run -0 gw status --probe w.example.test
	assert_line --regexp '^w\.example\.test +up .* [56]d! '
	assert_line --regexp '^linkgate: warning: w\.example\.test expires [0-9-]+T[0-9:]+Z \(in [56]d\): renew it'
	conf=$WORK/root/etc/linkgate/gateway.conf
	cp "$conf" "$WORK/conf.saved"
	echo EXPIRY_WARN=1d >>"$conf"
	run -0 gw status --probe w.example.test
	assert_line --regexp '^w\.example\.test +up .* [56]d '
	refute_output --partial warning
	for bad in 0d -1d 1w 3651d x; do
		cp "$WORK/conf.saved" "$conf"
		echo "EXPIRY_WARN=$bad" >>"$conf"
		run -1 gw status w.example.test
		assert_output --partial "bad EXPIRY_WARN '$bad'"
	done
	cp "$WORK/conf.saved" "$conf"
	run -0 gw remove w.example.test
}

@test "a KEY_GRACE or EXPIRY_WARN beyond 3650 days is refused when the settings are read, whatever the command" {
	conf=$WORK/root/etc/linkgate/gateway.conf
	cp "$conf" "$WORK/conf.saved"
	for setting in KEY_GRACE EXPIRY_WARN; do
		for bad in 3651d 999999999d 87601h; do
			cp "$WORK/conf.saved" "$conf"
			echo "$setting=$bad" >>"$conf"
			run -1 gw list
			assert_output "linkgate: bad $setting '$bad': a duration like 7d, 12h or 30m, at most 3650d"
		done
	done
	cp "$WORK/conf.saved" "$conf"
	echo KEY_GRACE=3650d >>"$conf"
	run -0 gw list
	cp "$WORK/conf.saved" "$conf"
}

@test "the metrics textfile gives each expiring link its expiry and warning, and a link that never expires neither" {
	run -0 gw add m3.example.test "$KEY" --expires 3d
	run -0 gw add m30.example.test "$KEY" --expires 30d
	exp=$(field m3.example.test EXPIRES)
	run -0 gw status --probe m3.example.test
	prom=$WORK/root/var/lib/prometheus/node-exporter/linkgate.prom
	run -0 grep -x "linkgate_link_expiry_timestamp_seconds{link=\"m3.example.test\",owner=\"root\"} $exp" "$prom"
	run -0 grep -x 'linkgate_link_expiry_warning{link="m3.example.test",owner="root"} 1' "$prom"
	run -0 grep -x 'linkgate_link_expiry_warning{link="m30.example.test",owner="root"} 0' "$prom"
	run -1 grep -F 'link="keep.example.test"' <(grep '^linkgate_link_expiry' "$prom")
	run -0 promtool check metrics <"$prom"
	run -0 gw remove m3.example.test
	run -0 gw remove m30.example.test
}

@test "list --json gives rotated as null until a rotation and expires as null for a link that never expires" {
	run -0 gw list --json
	run -0 jq -e '.links[] | select(.name == "keep.example.test") | .expires == null and .rotated == null' <<<"$output"
}

@test "an expired link that linkgate expire has not yet removed cannot be renewed by add --replace nor rotated, and nothing changes" {
	local exp i=0 before
	run -0 gw add gone.example.test "$KEY" --expires 2s
	exp=$(field gone.example.test EXPIRES)
	while [ "$(date +%s)" -le "$exp" ] && [ "$i" -lt 50 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	before=$(state_sum)
	run -1 gw add gone.example.test "$(wg genkey | wg pubkey)" --replace
	assert_output --regexp '^linkgate: gone\.example\.test: expired at [0-9-]+T[0-9:]+Z, to be removed by the next linkgate expire: add it again after that$'
	run -1 gw rotate gone.example.test "$(wg genkey | wg pubkey)"
	assert_output --partial "linkgate: gone.example.test: expired at "
	assert_equal "$(state_sum)" "$before"
	assert_equal "$(field gone.example.test EXPIRES)" "$exp"
	run -0 gw expire
	assert_line 'removed gone.example.test'
}

@test "linkgate expire removes an expired link with a home, logs it, and frees its port and index for the next link" {
	umask 077
	wg genkey >"$WORK/c9.key"
	run -0 gw add short.example.test "$(wg pubkey <"$WORK/c9.key")" --expires 8s
	IFS=$'\t' read -r _ gwpub endpoint client _ _ <<<"$output"
	home_peer h1 9 "$WORK/c9.key" "$gwpub" "$endpoint" "$client"
	echo_app h1 "$client" short.example.test
	run -0 wait_for 50 visit short.example.test http
	idx=$(field short.example.test INDEX)
	port=$(field short.example.test PORT)
	# Not yet: nothing happens, and no lock is taken (held here).
	(
		exec 9>>"$D/gateway.lock"
		flock 9
		LINKGATE_LOCK_WAIT=1 gw expire
	)
	[ -f "$D/links/short.example.test" ]
	exp=$(field short.example.test EXPIRES)
	i=0
	while [ "$(date +%s)" -le "$exp" ] && [ "$i" -lt 100 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	run -0 gw expire
	assert_line --regexp '^expired short\.example\.test at [0-9-]+T[0-9:]+Z$'
	assert_line 'removed short.example.test'
	[ ! -e "$D/links/short.example.test" ] && [ ! -e "$D/keys/short.example.test" ]
	[ ! -e "/run/netns/${GWPREFIX}n$idx" ]
	run -1 grep -q short.example.test <("$HELPERS/alloc" -d "$D" list)
	run -1 grep -qw "$port" <(nsenter --net="/run/netns/${T}g" sysctl -n net.ipv4.ip_local_reserved_ports | tr ',' '\n')
	run -0 grep -q 'expired short.example.test at' "$WORK/root/var/log/linkgate/gateway.log"
	run -0 grep -q ' verb=expire name=short.example.test result=0$' "$WORK/root/var/log/linkgate/requests.log"
	run -0 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		-H 'Host: short.example.test' "http://$GATEWAY/"
	assert_output 404
	run -0 gw expire
	assert_output ""
	# The freed index and port go to the next link.
	run -0 gw add next.example.test "$KEY"
	assert_equal "$(field next.example.test INDEX)" "$idx"
	assert_equal "$(field next.example.test PORT)" "$port"
	run -0 gw remove next.example.test
	ip netns exec "${T}h1" ip link del "${T}c9"
	kill "$(cat "$WORK/app-short.example.test.pid")"
	run -0 visit keep.example.test http
}

@test "an expiry survives make gateway restoring the link, and make link EXPIRES reaches the record" {
	run -0 make_link FQDN=ml.example.test EXPOSE=app:80 EXPIRES=12h
	exp=$(field ml.example.test EXPIRES)
	idx=$(field ml.example.test INDEX)
	[ "$exp" -gt $(($(date +%s) + 43000)) ]
	ip netns del "${GWPREFIX}n$idx"
	run -0 gw start
	assert_equal "$(field ml.example.test EXPIRES)" "$exp"
	assert_equal "$(field ml.example.test LIFETIME)" 43200
	run -0 gw status --probe ml.example.test
	assert_line --regexp '^ml\.example\.test +up .* (11|12)h!( |$)'
	run -0 gw remove ml.example.test
	rm -f "$WORK/out/ml.example.test.env"
}

@test "make revoke LINKS=remove removes the key's links and no other; without it they stay" {
	ssh-keygen -q -t ed25519 -N '' -C fred@home -f "$WORK/fred"
	gw_make authorize KEY="$WORK/fred.pub" NAME=fred DOMAINS=example.test
	run -0 ssh_as fred add f1.example.test "$KEY"
	run -0 ssh_as fred add f2.example.test "$KEY"
	run -0 ssh_as alice add a1.example.test "$KEY"
	idx=$(field f1.example.test INDEX)
	run -2 gw revoke fred --links frob
	run -0 gw_make revoke NAME=fred LINKS=remove
	assert_line 'removed f1.example.test'
	assert_line 'removed f2.example.test'
	assert_line 'revoked fred'
	[ ! -e "$D/links/f1.example.test" ] && [ ! -e "$D/links/f2.example.test" ]
	[ ! -e "/run/netns/${GWPREFIX}n$idx" ]
	[ ! -e "$WORK/root/etc/linkgate/keys/fred" ] && [ ! -e "$D/owners/fred" ]
	run -1 grep -q 'linkgate:fred$' "$WORK/root/root/.ssh/authorized_keys"
	run -255 ssh_as fred list
	[ -f "$D/links/a1.example.test" ]
	# Without LINKS=remove, the links stay (handed to root).
	gw_make authorize KEY="$WORK/fred.pub" NAME=fred DOMAINS=example.test
	run -0 ssh_as fred add f3.example.test "$KEY"
	run -0 gw_make revoke NAME=fred
	[ -f "$D/links/f3.example.test" ]
	run -0 gw remove f3.example.test
	run -0 gw remove a1.example.test
}

@test "make revoke LINKS=remove names a record it cannot read on stderr and exits 1, and still removes the key's links" {
	ssh-keygen -q -t ed25519 -N '' -C hank@home -f "$WORK/hank"
	gw_make authorize KEY="$WORK/hank.pub" NAME=hank DOMAINS=example.test
	run -0 ssh_as hank add h1.example.test "$KEY"
	printf 'VERSION=99\n' >"$D/links/unread.example.test"
	run -1 gw revoke hank --links remove
	assert_line 'removed h1.example.test'
	assert_line --partial 'linkgate: revoked hank, but these records could not be read'
	assert_line --partial ' unread.example.test '
	refute_line 'revoked hank'
	[ ! -e "$D/links/h1.example.test" ] && [ -f "$D/links/unread.example.test" ]
	[ ! -e "$WORK/root/etc/linkgate/keys/hank" ]
	run -255 ssh_as hank list
	rm -f "$D/links/unread.example.test"
}

@test "make revoke without LINKS=remove hands the key's links to root, so a key authorized again under that name does not get them" {
	ssh-keygen -q -t ed25519 -N '' -C ivy@home -f "$WORK/ivy"
	gw_make authorize KEY="$WORK/ivy.pub" NAME=ivy DOMAINS=example.test LINKS=1
	run -0 ssh_as ivy add i1.example.test "$KEY"
	run -0 gw_make revoke NAME=ivy
	assert_line 'i1.example.test: now owned by root'
	assert_equal "$(field i1.example.test OWNER)" root
	ssh-keygen -q -t ed25519 -N '' -C ivy2@home -f "$WORK/ivy2"
	gw_make authorize KEY="$WORK/ivy2.pub" NAME=ivy DOMAINS=example.test LINKS=1
	run -1 ssh_as ivy2 remove i1.example.test
	assert_output 'linkgate: i1.example.test belongs to another key'
	run -0 ssh_as ivy2 add i2.example.test "$KEY"
	assert_equal "$(field i2.example.test OWNER)" ivy
	run -0 gw remove i1.example.test
	run -0 gw remove i2.example.test
}
