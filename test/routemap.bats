#!/usr/bin/env bats
# The route map renderer's command line, checked with a real nginx -t.

setup() {
	load common
	RECORDS="$BATS_TEST_TMPDIR/links"
	OUT="$BATS_TEST_TMPDIR/out"
	mkdir -p "$RECORDS" "$OUT"
	KEY=YCu3ZIu3EJNsSc5kBlDFZDK6NdK0U/wiNWiMCyjZwnA=
}

routemap() { "$HELPERS/routemap" "$@"; }

# record NAME INDEX [WILDCARD]: writes a valid link record for NAME (in
# version 1, as main's linkgate wrote them).
record() {
	local i=$2
	printf '%s\n' "NAME=$1" "INDEX=$i" "PORT=$((40000 + i))" \
		"CLIENT_KEY=$KEY" "GATEWAY_KEY=$KEY" \
		"VETH_GATEWAY=198.18.$((i * 4 / 256)).$((i * 4 % 256 + 1))" \
		"VETH_LINK=198.18.$((i * 4 / 256)).$((i * 4 % 256 + 2))" \
		"TUNNEL_GATEWAY=198.19.$((i * 4 / 256)).$((i * 4 % 256 + 1))" \
		"TUNNEL_CLIENT=198.19.$((i * 4 / 256)).$((i * 4 % 256 + 2))" \
		"WILDCARD=${3:-0}" MTU=1380 OWNER=alice CREATED=1700000000 \
		>"$RECORDS/$1"
}

# nginx_check: runs nginx -t on a throwaway config that includes the maps.
nginx_check() {
	local d=$BATS_TEST_TMPDIR/nginx
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<-CONF
	load_module /usr/lib/nginx/modules/ngx_stream_module.so;
	pid $d/nginx.pid;
	error_log $d/error.log;
	events {}
	http {
		access_log off;
		map_hash_bucket_size 512;
		include $OUT/http-upstreams.conf;
		include $OUT/http-map.conf;
		server {
			listen 127.0.0.1:18080;
			location / { proxy_pass http://\$link_http; }
		}
	}
	stream {
		map_hash_bucket_size 512;
		include $OUT/stream-map.conf;
		server {
			listen 127.0.0.1:18443;
			ssl_preread on;
			proxy_pass \$link_stream;
		}
	}
	CONF
	nginx -t -q -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
}

@test "three links render to maps that nginx -t accepts" {
	record a.example.com 1
	record b.example.com 2 1
	record c.example.com 3
	run -0 routemap render "$RECORDS" "$OUT"
	run -0 nginx_check
	run -0 cat "$OUT/http-map.conf"
	assert_line "$(printf '\ta.example.com link_1;')"
	assert_line "$(printf '\t.b.example.com link_2;')"
	run -0 cat "$OUT/stream-map.conf"
	assert_line "$(printf '\tc.example.com 198.18.0.14:443;')"
	run -0 grep -c '^upstream link_' "$OUT/http-upstreams.conf"
	assert_output 3
}

@test "a version 1 record and its version 2 form render the same lines" {
	record a.example.com 1
	run -0 routemap render "$RECORDS" "$OUT"
	cat "$OUT"/*.conf >"$BATS_TEST_TMPDIR/v1"
	"$HELPERS/record" set "$RECORDS/a.example.com" MTU=1380
	run -0 grep -c -e '^VERSION=2$' -e '^VETH_LINK_ADDR=' "$RECORDS/a.example.com"
	assert_output 2
	run -0 routemap render "$RECORDS" "$OUT"
	cat "$OUT"/*.conf | cmp - "$BATS_TEST_TMPDIR/v1"
}

@test "a record without its optional fields renders (they have defaults)" {
	record a.example.com 1 1
	sed -i -e '/^MTU=/d' -e '/^OWNER=/d' -e '/^CREATED=/d' "$RECORDS/a.example.com"
	echo 'NEW_FIELD=from a newer linkgate' >>"$RECORDS/a.example.com"
	run -0 routemap render "$RECORDS" "$OUT"
	assert_output ""
	run -0 grep -c '\.a\.example\.com link_1;' "$OUT/http-map.conf"
	run -0 nginx_check
}

@test "no links render to maps that nginx -t accepts" {
	run -0 routemap render "$RECORDS" "$OUT"
	run -0 nginx_check
}

@test "a 253-character name renders and nginx -t accepts it" {
	l=$(printf '%063d' 0 | tr 0 a)
	name="$l.$l.$l.$(printf '%061d' 0 | tr 0 b)"
	assert_equal "${#name}" 253
	record "$name" 1
	run -0 routemap render "$RECORDS" "$OUT"
	run -0 nginx_check
	run -0 grep -c "$name" "$OUT/http-map.conf"
}

@test "rendering is deterministic" {
	for i in 5 3 9 1; do record "l$i.example.com" "$i"; done
	routemap render "$RECORDS" "$OUT"
	cat "$OUT"/*.conf >"$BATS_TEST_TMPDIR/first"
	routemap render "$RECORDS" "$OUT"
	cat "$OUT"/*.conf | cmp - "$BATS_TEST_TMPDIR/first"
}

@test "a corrupt record is reported and the other links still render" {
	record good.example.com 1
	record bad.example.com 2
	sed -i 's/^NAME=.*/NAME=bad.example.com;}/' "$RECORDS/bad.example.com"
	run -0 routemap render "$RECORDS" "$OUT"
	assert_output --partial "bad.example.com is corrupt (NAME: bad value)"
	run -0 nginx_check
	run -1 grep bad "$OUT/http-map.conf"
	run -0 grep -c good.example.com "$OUT/http-map.conf"
}

@test "two records with one name: the lower index wins" {
	record dup.example.com 4
	record dup.example.com 2
	mv "$RECORDS/dup.example.com" "$RECORDS/copy"
	record dup.example.com 4
	run -0 routemap render "$RECORDS" "$OUT"
	assert_output --partial "(index 4) duplicates its name"
	run -0 nginx_check
	run -0 grep dup "$OUT/http-map.conf"
	assert_output "$(printf '\tdup.example.com link_2;')"
}

@test "records with NUL bytes or no final newline are left out" {
	record a.example.com 1
	record b.example.com 2
	printf 'NAME=x\0y\n' >>"$RECORDS/a.example.com"
	printf 'OWNER=bob' >>"$RECORDS/b.example.com"
	run -0 routemap render "$RECORDS" "$OUT"
	assert_output --partial "contains a NUL byte"
	assert_output --partial "truncated"
	run -1 grep " link_[0-9]" "$OUT/http-map.conf"
}

@test "10,000 links render well within a second" {
	for i in $(seq 1 10000); do
		record "l$i.example.com" "$i"
	done
	start=$(date +%s%N)
	run -0 routemap render "$RECORDS" "$OUT"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	echo "# rendered 10,000 links in $ms ms" >&3
	run -0 grep -c " link_[0-9]" "$OUT/http-map.conf"
	assert_output 10000
	run -0 nginx_check
}

@test "every hostile name in the corpus is refused and never rendered" {
	n=0
	while IFS= read -r line; do
		case $line in '#'*) continue ;; esac
		printf -v name '%b' "$line"
		run -1 routemap host "$name"
		assert_output --partial "bad host name"
		printf 'NAME=%b\n' "$line" >"$RECORDS/hostile$n"
		n=$((n + 1))
	done <"$REPO/test/corpus/bad-hosts"
	run -1 routemap host ""
	[ "$n" -ge 60 ]
	record fine.example.com 1
	run -0 routemap render "$RECORDS" "$OUT"
	run -0 grep -c ' link_[0-9]' "$OUT/http-map.conf"
	assert_output 1
	run -0 nginx_check
}

@test "host folds upper case and accepts unusual valid names" {
	run -0 routemap host App.EXAMPLE.com
	assert_output app.example.com
	run -0 routemap host xn--bcher-kva.example
	run -0 routemap host 123.example.com
}

@test "ip6 prints an IPv6 address in canonical form and refuses zone ids, brackets, mapped and link-local ones" {
	run -0 routemap ip6 '2001:DB8:0:0::1'
	assert_output 2001:db8::1
	run -0 routemap ip6 ::1
	assert_output ::1
	run -1 routemap ip6 --public ::1
	assert_output --partial "the loopback address"
	for bad in 'fe80::1%eth0' '[::1]' '::ffff:10.0.0.1' 'fe80::1' '::' 'ff02::1' \
		'2001:db8:::1' ''; do
		run -1 routemap ip6 "$bad"
		assert_output --regexp "^routemap: bad IPv6 address '"
	done
	run -2 routemap ip6 --frob ::1
	run -2 routemap ip6
}

@test "bad arguments are usage errors" {
	run -2 routemap
	run -2 routemap render "$RECORDS"
	run -1 routemap render "$BATS_TEST_TMPDIR/none" "$OUT"
	run -0 routemap --help
	assert_output --partial "usage: routemap"
}
