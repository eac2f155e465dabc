#!/usr/bin/env bats
# The client image as people run it: built from client/Dockerfile (base
# and image cached in /var/cache/linkgate-test), loaded into a dockerd in
# home1, and run by docker-compose 1.29 from a compose file made of an app,
# the user's own top-level volumes and networks, and two snippets exactly
# as make link printed them; an override file adds only pebble's ACME
# settings and the second link's FORWARD_ONLY.
#
#   ${T}i visitor, pebble ── bridge ──┬── ${T}g gateway (make setup, make gateway)
#                                     └── ${T}h1 home1: dockerd (nsenter --net)
#                                          compose network 172.30.77.0/24:
#                                          app (nginx :8000), link-my--app-...
#                                          (Caddy), link-fwd-... (FORWARD_ONLY)
#   host namespace: a dockerd with no network of its own builds the image.

A=my-app.example.test
F=fwd.example.test

setup_file() {
	load common
	load lib/net
	load lib/docker
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	docker_down
	net_down
	image=$(client_image_tar)
	net_up
	acme_up
	gateway_make_up h1
	# The home's nameserver refuses (nothing on the visitor's :53): names
	# compose does not know fail at once instead of timing out.
	dockerd_start h1 h1 --dns "$VISITOR"
	dk h1 load -q -i "$image" >/dev/null
	echo "# linkgate/client:latest: $(dk h1 image ls --format '{{.Size}}' linkgate/client:latest)" >&3
	home_link h1 "$A" app:8000 >"$WORK/snippet-a"
	home_link h1 "$F" app:8000 >"$WORK/snippet-f"
	compose_write
	dc up -d
	within 90 served "$A"
	within 30 forwarded "$F"
}

teardown_file() {
	load common
	load lib/net
	load lib/docker
	[ ! -S "$WORK/dockerd-h1/docker.sock" ] || dc down -t 5 >/dev/null 2>&1 || true
	docker_down
	net_down
}

setup() {
	load common
	load lib/net
	load lib/docker
}

teardown() {
	# Whatever a test's outcome, the next one finds the app up and no
	# squatter on its old address.
	dk h1 rm -f "${T}squatter" >/dev/null 2>&1 || true
	[ -n "$(cid app 2>/dev/null)" ] || dc up -d app >/dev/null 2>&1 || true
}

# service SNIPPET: the service name a snippet's first service line names.
service() {
	sed -n 's/^  \([^ #][^:]*\):$/\1/p' "$1" | head -n 1
}

# compose_write: the compose file (an app answering with what it saw, a
# volume and a network of the user's own, both snippets pasted below
# services: as printed) and the override with pebble's settings.
compose_write() {
	local sa sf d=$WORK/compose
	mkdir -p "$d" "$WORK/app" "$WORK/squatter"
	for who in app squatter; do
		cat >"$WORK/$who/nginx.conf" <<-CONF
		daemon off;
		pid /tmp/nginx.pid;
		error_log stderr;
		events {}
		http {
			access_log off;
			server {
				listen 8000;
				return 200 "$who peer=\$remote_addr xff=\$http_x_forwarded_for host=\$host\n";
			}
		}
		CONF
	done
	{
		echo 'version: "3.7"'
		echo 'services:'
		echo '  app:'
		echo '    image: linkgate/client:latest'
		echo '    entrypoint: ["nginx", "-c", "/app/nginx.conf"]'
		echo '    volumes:'
		echo "      - \"$WORK/app:/app:ro\""
		echo '      - app-logs:/var/log/app'
		sed '/^#/d' "$WORK/snippet-a"
		sed '/^#/d' "$WORK/snippet-f"
		echo 'volumes:'
		echo '  app-logs:'
		echo 'networks:'
		echo '  default:'
		echo '    ipam:'
		echo '      config:'
		echo '        - subnet: 172.30.77.0/24'
	} >"$d/docker-compose.yml"
	sa=$(service "$WORK/snippet-a")
	sf=$(service "$WORK/snippet-f")
	cat >"$d/docker-compose.override.yml" <<-YAML
	version: "3.7"
	services:
	  $sa:
	    environment:
	      ACME_CA: "$ACME_DIR"
	      ACME_CA_ROOT: /etc/linkgate/pebble.crt
	    volumes:
	      - "$WORK/pebble.crt:/etc/linkgate/pebble.crt:ro"
	  $sf:
	    environment:
	      FORWARD_ONLY: "1"
	YAML
}

# dc ARGS: docker-compose in the compose folder, against home1's dockerd.
dc() {
	(cd "$WORK/compose" && DOCKER_HOST="unix://$WORK/dockerd-h1/docker.sock" \
		docker-compose -p lgtest --ansi never "$@")
}

# cid SNIPPET|app: the container of a link's service, or of the app
# (by compose's labels: the docker client answers faster than compose).
cid() {
	local s=$1
	[ "$s" = app ] || s=$(service "$s")
	dk h1 ps -aq --filter label=com.docker.compose.project=lgtest \
		--filter "label=com.docker.compose.service=$s"
}

# serial NAME: the serial of the certificate the visitor gets for NAME.
serial() {
	ip netns exec "${T}i" openssl s_client -connect "$GATEWAY:443" \
		-servername "$1" -CAfile "$WORK/pebble-root.pem" -verify_return_error \
		</dev/null 2>/dev/null | openssl x509 -noout -serial
}

# served NAME: the visitor's HTTPS request to NAME reaches the app.
served() {
	ip netns exec "${T}i" curl -s --max-time 3 --cacert "$WORK/pebble-root.pem" \
		--resolve "$1:443:$GATEWAY" "https://$1/" | grep -q '^app '
}

# forwarded NAME: the visitor's HTTP request to NAME reaches the app.
forwarded() {
	visit "$1" http 2>/dev/null | grep -q '^app '
}

# within SECONDS COMMAND...: retries COMMAND until it passes, for at most
# SECONDS (wait_for counts tries, and a try here may take seconds).
within() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# since START_NS: milliseconds since START_NS (date +%s%N).
since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

@test "two links pasted into one compose file with the user's own volumes and networks are two services" {
	run -0 dc config --services
	assert_line app
	assert_line link-my--app-example-test
	assert_line link-fwd-example-test
	assert_equal "${#lines[@]}" 3
	run -0 dc config --volumes
	assert_output app-logs
	run -0 dc ps --services --filter status=running
	assert_equal "${#lines[@]}" 3
}

@test "the snippet mounts the link's .env read-only by absolute path and keeps certificates beside it" {
	run -0 cat "$WORK/snippet-a"
	assert_line '    command: ["--env-file", "/etc/linkgate/link.env"]'
	assert_line "      - \"$WORK/h1/$A.env:/etc/linkgate/link.env:ro\""
	assert_line "      - \"$WORK/h1/$A.data:/data\""
	refute_output --partial env_file
	refute_output --regexp '^[a-z]'
	run -0 ls "$WORK/h1/$A.data/caddy/certificates"
	run -2 dk h1 exec "$(cid "$WORK/snippet-a")" sh -c 'echo x >>/etc/linkgate/link.env'
	assert_output --partial 'Read-only file system'
	run -0 dk h1 exec "$(cid "$WORK/snippet-a")" sh -c 'env | grep -c PRIVKEY || true'
	assert_output 0
}

# packages PATTERN...: the image's packages as "name status version" lines.
packages() {
	# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
	dk h1 run --rm --entrypoint dpkg-query linkgate/client:latest \
		-W -f '${Package} ${db:Status-Status} ${Version}\n' "$@"
}

@test "the image has wireguard-go from bookworm-backports and nginx with its stream module" {
	run -0 packages wireguard-go 'nginx*' libnginx-mod-stream
	assert_line --regexp '^wireguard-go installed 0\.0\.20231211'
	assert_line --regexp '^nginx installed 1\.22\.'
	assert_line --regexp '^libnginx-mod-stream installed 1\.22\.'
	refute_line --regexp '^nginx-light installed'
	run -0 dk h1 run --rm --entrypoint sh linkgate/client:latest -c \
		'grep -h bookworm-backports /etc/apt/sources.list.d/*'
	assert_output --partial 'Suites: bookworm-backports'
}

@test "https reaches the app with pebble's certificate and the visitor's address in X-Forwarded-For" {
	run -0 visit_tls "$A"
	assert_output --regexp "^app peer=172\.30\.77\.[0-9]+ xff=$VISITOR host=$A\$"
	run -0 serial "$A"
	assert_output --regexp '^serial='
}

@test "on a compose network without IPv6 the Caddy link's container holds its IPv6 tunnel address (the snippet's sysctl), and an IPv6 visitor reaches the app" {
	local c6
	c6=$(sed -n 's/^LINK_CLIENT_ADDRESS6=//p' "$WORK/h1/$A.env")
	[ -n "$c6" ]
	run -0 grep -Fx '      - net.ipv6.conf.all.disable_ipv6=0' "$WORK/snippet-a"
	# The control: the app's container, without that sysctl, has IPv6 off.
	run -0 dk h1 exec "$(cid app)" cat /proc/sys/net/ipv6/conf/all/disable_ipv6
	assert_output 1
	run -0 dk h1 exec "$(cid "$WORK/snippet-a")" ip -6 -o addr show
	assert_output --partial "inet6 $c6/128"
	run -0 within 30 visit_tls6 "$A" -o /dev/null
	run -0 visit_tls6 "$A"
	assert_output --regexp "^app peer=172\.30\.77\.[0-9]+ xff=$VISITOR6 host=$A\$"
}

@test "http to the Caddy link redirects to https" {
	run -0 ip netns exec "${T}i" curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' \
		--max-time 5 -H "Host: $A" "http://$GATEWAY/a?b=1"
	assert_output "308 https://$A/a?b=1"
}

@test "FORWARD_ONLY in the container forwards to the app by its compose name, visitor in X-Forwarded-For" {
	run -0 visit "$F" http
	assert_output --regexp "^app peer=172\.30\.77\.[0-9]+ xff=$VISITOR host=$F\$"
}

@test "new keys from make link REPLACE=1 reach the container at docker restart" {
	old=$(grep ^GATEWAY_CLIENT_WG_PRIVKEY= "$WORK/h1/$A.env")
	home_link h1 "$A" app:8000 REPLACE=1 FORCE=1 >"$WORK/snippet-a2"
	run -0 diff "$WORK/snippet-a" "$WORK/snippet-a2"
	[ "$(grep ^GATEWAY_CLIENT_WG_PRIVKEY= "$WORK/h1/$A.env")" != "$old" ]
	run -0 dk h1 restart "$(cid "$WORK/snippet-a")"
	within 60 served "$A"
	run -0 visit_tls "$A"
	assert_output --partial "xff=$VISITOR host=$A"
}

@test "make rotate's new keys reach the running container by docker-compose kill -s SIGHUP, without a restart" {
	local c started start
	c=$(cid "$WORK/snippet-a")
	started=$(dk h1 inspect -f '{{.State.StartedAt}}' "$c")
	run -0 ip netns exec "${T}h1" env SSH_KEY="$WORK/key-h1" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$WORK/h1" GATEWAY="root@$GATEWAY" \
		FQDN="$A" make -s -C "$REPO" rotate
	# The container's client is not this machine's to signal: make rotate
	# says how, and keeps the backup.
	assert_output --partial "docker-compose kill -s SIGHUP $(service "$WORK/snippet-a")"
	[ -f "$WORK/h1/$A.env.bak" ]
	start=$(date +%s%N)
	run -0 dc kill -s SIGHUP "$(service "$WORK/snippet-a")"
	within 30 served "$A"
	echo "# make rotate, then SIGHUP to the container: serving again $(since "$start") ms after the signal" >&3
	run -0 dk h1 inspect -f '{{.State.StartedAt}} {{.RestartCount}} {{.State.Running}}' "$c"
	assert_output "$started 0 true"
	run -0 dk h1 logs "$c"
	assert_output --partial "SIGHUP: new keys from /etc/linkgate/link.env"
	run -0 visit_tls "$A"
	assert_output --partial "xff=$VISITOR host=$A"
}

@test "docker restart of a link serves again" {
	c=$(cid "$WORK/snippet-a")
	start=$(date +%s%N)
	run -0 dk h1 restart "$c"
	within 60 served "$A"
	echo "# docker restart to serving again: $(since "$start") ms" >&3
	run -0 dk h1 inspect -f '{{.RestartCount}} {{.State.Running}}' "$c"
	assert_output "0 true"
}

@test "FORWARD_ONLY follows the app to its new address when the old one goes to another container" {
	old=$(dk h1 inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(cid app)")
	run -0 dc rm -s -f app
	run -0 dk h1 run -d --name "${T}squatter" --network lgtest_default --ip "$old" \
		-v "$WORK/squatter:/app:ro" --entrypoint nginx linkgate/client:latest \
		-c /app/nginx.conf
	run -0 dc up -d app
	new=$(dk h1 inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(cid app)")
	[ -n "$new" ] && [ "$new" != "$old" ]
	within 20 forwarded "$F"
	for _ in 1 2 3; do
		run -0 visit "$F" http
		assert_output --regexp "^app peer="
	done
}

@test "a FORWARD_ONLY link started before its app exists stays up, and serves once the app is there" {
	run -0 dc rm -s -f app
	c=$(cid "$WORK/snippet-f")
	exits=$(dk h1 logs "$c" 2>&1 | grep -c 'server exited' || true)
	start=$(date +%s)
	run -0 dk h1 restart "$c"
	# nginx at home gives up on the name after its resolver_timeout (5 s).
	run -0 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 20 -H "Host: $F" "http://$GATEWAY/"
	assert_output 502
	# Long enough for a client that cannot start to have failed (the C
	# library gives up on a name after 5 s, twice).
	while [ $(($(date +%s) - start)) -lt 12 ]; do sleep 1; done
	run -0 dk h1 inspect -f '{{.RestartCount}} {{.State.Running}}' "$c"
	assert_output "0 true"
	run -0 dk h1 logs "$c"
	assert_equal "$(grep -c 'server exited' <<<"$output" || true)" "$exits"
	run -0 dc up -d app
	start=$(date +%s%N)
	within 30 forwarded "$F"
	echo "# app up to served through FORWARD_ONLY: $(since "$start") ms" >&3
	run -0 visit "$F" http
	assert_output --regexp "^app peer="
	run -0 dk h1 inspect -f '{{.RestartCount}}' "$c"
	assert_output 0
}

@test "docker stop ends the link client with status 0 and its WireGuard interface removed" {
	c=$(cid "$WORK/snippet-a")
	run -0 dk h1 exec "$c" ip -o link show
	assert_output --regexp ' lk[0-9]+x[0-9]+: '
	run -0 dk h1 exec "$c" ip rule show
	assert_output --regexp 'from 198\.1[89]\.[0-9.]+ lookup [0-9]+'
	# Status 0, not 137: the client stopped on SIGTERM by itself, before
	# docker's 10 s grace ran out and it would have been killed.
	run -0 dk h1 stop "$c"
	run -0 dk h1 inspect -f '{{.State.ExitCode}} {{.State.OOMKilled}}' "$c"
	assert_output "0 false"
	run -0 dk h1 logs --tail 3 "$c"
	assert_output --partial "link-client: stopped"
	# wireguard-go's socket stays behind unless the client removed the
	# interface (a killed client leaves it).
	rm -rf "$WORK/wg-run"
	dk h1 cp "$c:/run/wireguard" "$WORK/wg-run"
	run -0 find "$WORK/wg-run" -name '*.sock'
	assert_output ""
	run -0 dk h1 start "$c"
	within 60 served "$A"
}

@test "the certificate stays across docker-compose down and up" {
	before=$(serial "$A")
	issued=$(grep -c 'Issued certificate' "$WORK/pebble.log" || true)
	run -0 dc down -t 10
	run -0 dk h1 ps -aq
	assert_output ""
	run -0 dc up -d
	within 60 served "$A"
	run -0 serial "$A"
	assert_output "$before"
	run -0 grep -c 'Issued certificate' "$WORK/pebble.log"
	assert_output "$issued"
}
