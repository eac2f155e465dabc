#!/usr/bin/env bats
# Per-key quotas: make authorize LINKS=N, add refused beyond it (exit 3)
# under the gateway lock and before anything is allocated, list showing
# each key's use. Links without homes: nothing here needs traffic.
#
#   ${T}i bridge ── ${T}g gateway: nginx, sshd with the forced command
#                └── ${T}h1 home: ssh as carol (LINKS=2), dave (default)

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
	for who in carol dave; do
		ssh-keygen -q -t ed25519 -N '' -C "$who@home" -f "$WORK/$who"
	done
	gw_make authorize KEY="$WORK/carol.pub" NAME=carol DOMAINS=example.test LINKS=2
	gw_make authorize KEY="$WORK/dave.pub" NAME=dave DOMAINS=example.test
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

# add WHO NAME: add NAME over ssh as WHO with a fresh client key.
add() {
	ssh_as "$1" add "$2" "$(wg genkey | wg pubkey)"
}

# carol_links: the names of carol's links, sorted, on one line.
carol_links() {
	gw list | awk '$4 == "carol" { print $1 }' | sort | tr '\n' ' '
}

@test "make authorize stores LINKS with the key's DOMAINS and ADMIN; bad values, admin keys with LINKS and the name root are refused" {
	run -0 cat "$WORK/root/etc/linkgate/keys/carol"
	assert_output "$(printf 'DOMAINS=example.test\nADMIN=0\nLINKS=2')"
	run -0 cat "$WORK/root/etc/linkgate/keys/dave"
	refute_output --partial LINKS
	for bad in abc -1 65536 007 '2;id'; do
		run -2 gw_make authorize KEY="$WORK/dave.pub" NAME=erin LINKS="$bad"
		assert_output --partial "bad LINKS"
	done
	run -1 gw authorize "$WORK/dave.pub" erin "" --admin --links 3
	assert_output "linkgate: LINKS does not apply to an admin key (no limit)"
	run -1 gw authorize "$WORK/dave.pub" root
	assert_output --partial "bad key name 'root'"
	[ ! -e "$WORK/root/etc/linkgate/keys/erin" ] && [ ! -e "$WORK/root/etc/linkgate/keys/root" ]
}

# synced_rename TRACE FILE: TRACE (strace -y of fsync and rename) shows
# FILE written as a state file: a temporary file beside it synced, then
# renamed over FILE, then FILE's folder synced.
synced_rename() {
	awk -v f="$2" '
		BEGIN { d = f; sub(/\/[^\/]*$/, "", d); b = substr(f, length(d) + 2) }
		/ fsync\(/ && match($0, /<[^>]*>/) {
			p = substr($0, RSTART + 1, RLENGTH - 2)
			if (index(p, d "/." b ".") == 1) tmp = p
			else if (p == d && renamed) ok = 1
		}
		/ rename/ && / = 0$/ && tmp != "" && index($0, "\"" tmp "\"") && index($0, "\"" f "\"") { renamed = 1 }
		END { exit !ok }' "$1"
}

@test "make authorize replaces authorized_keys and the key's settings file by a synced temporary file, a rename and a sync of the folder" {
	local trace=$WORK/authorize.trace
	run -0 nsenter --net="/run/netns/${T}g" env LINKGATE_ROOT="$WORK/root" \
		strace -f -y -qq -e trace=fsync,rename,renameat,renameat2 -e signal=none \
		-o "$trace" "$REPO/gateway/linkgate" authorize "$WORK/dave.pub" dave example.test
	run -0 synced_rename "$trace" "$WORK/root/root/.ssh/authorized_keys"
	run -0 synced_rename "$trace" "$WORK/root/etc/linkgate/keys/dave"
	run -0 cat "$WORK/root/etc/linkgate/keys/dave"
	assert_output "$(printf 'DOMAINS=example.test\nADMIN=0')"
	run -0 stat -c %a "$WORK/root/root/.ssh/authorized_keys" "$WORK/root/etc/linkgate/keys/dave"
	assert_output "$(printf '600\n600')"
	run -0 ssh_as dave list
}

@test "a key at its quota cannot add (exit 3, nothing changed) and another key still can" {
	run -0 add carol c1.example.test
	run -0 add carol c2.example.test
	before=$(state_sum)
	run -3 add carol c3.example.test
	assert_output "linkgate: key carol owns 2 of its 2 links (LINKS=2): remove one, or ask the gateway's admin for more (make authorize ... LINKS=N)"
	assert_equal "$(state_sum)" "$before"
	run -0 tail -n 1 "$WORK/root/var/log/linkgate/requests.log"
	assert_output --regexp ' key=carol verb=add name=c3.example.test result=3$'
	run -0 add dave d1.example.test
	run -0 ssh_as carol remove c2.example.test
	run -0 add carol c3.example.test
	assert_equal "$(carol_links)" "c1.example.test c3.example.test "
}

@test "two adds at once by a key with one link left: exactly one wins, the other gets exit 3" {
	for round in 1 2 3; do
		[ "$(carol_links | wc -w)" -eq 2 ]
		ssh_as carol remove c3.example.test >/dev/null
		add carol "r$round-a.example.test" >"$WORK/race-a" 2>&1 &
		a=$!
		add carol "r$round-b.example.test" >"$WORK/race-b" 2>&1 &
		b=$!
		sa=0 sb=0
		wait "$a" || sa=$?
		wait "$b" || sb=$?
		echo "# round $round: exit $sa and $sb" >&3
		[ "$((sa + sb))" -eq 3 ] && [ "$sa" -ne "$sb" ]
		grep -q 'owns 2 of its 2 links' "$WORK/race-a" "$WORK/race-b"
		[ "$(carol_links | wc -w)" -eq 2 ]
		winner=$(carol_links | tr ' ' '\n' | grep "^r$round-")
		ssh_as carol remove "$winner" >/dev/null
		add carol c3.example.test >/dev/null
	done
}

@test "list shows a key its own use, and an admin and the console every key's" {
	run -0 ssh_as carol list
	assert_line --regexp '^carol +2 +2$'
	refute_line --regexp '^dave '
	run -0 ssh_as dave list
	assert_line --regexp '^dave +1 +10$'
	refute_line --regexp '^carol '
	run -0 ssh_as admin list
	assert_line --regexp '^carol +2 +2$'
	assert_line --regexp '^dave +1 +10$'
	assert_line --regexp '^admin +0 +no limit$'
	run -0 ssh_as carol list --json
	assert_output --partial '"keys":[{"key":"carol","links":2,"max":2}]}'
	run -0 gw list --json
	assert_output --partial '{"key":"admin","links":0,"max":null}'
}

@test "links made before the use index existed count against their key's quota" {
	rm -rf "$WORK/root/var/lib/linkgate/owners"
	run -3 add carol c4.example.test
	assert_output --partial "owns 2 of its 2 links"
	[ -f "$WORK/root/var/lib/linkgate/owners/carol/links/c1.example.test" ]
}

@test "the first add by a key before the use index exists keeps its own client key, MTU and wildcard" {
	rm -rf "$WORK/root/var/lib/linkgate/owners"
	key=$(wg genkey | wg pubkey)
	run -0 ssh_as dave add w.d.example.test "$key" --mtu 1300 --wildcard
	f=$WORK/root/var/lib/linkgate/links/w.d.example.test
	assert_equal "$("$HELPERS/record" get "$f" CLIENT_KEY)" "$key"
	assert_equal "$("$HELPERS/record" get "$f" MTU)" 1300
	assert_equal "$("$HELPERS/record" get "$f" WILDCARD)" 1
	run -0 ssh_as dave remove w.d.example.test
}

@test "an index entry left by an add cut short is not counted" {
	: >"$WORK/root/var/lib/linkgate/owners/dave/links/ghost.example.test"
	run -0 ssh_as dave list
	assert_line --regexp '^dave +1 +10$'
	run -0 add dave d2.example.test
	[ ! -e "$WORK/root/var/lib/linkgate/owners/dave/links/ghost.example.test" ]
}
