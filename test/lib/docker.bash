# Docker for the tests (bash; loaded by test/docker.bats after lib/net):
# private dockerd instances, the debian:12-slim base made with debootstrap,
# and the client image built from client/Dockerfile, both cached.
# Needs REPO, WORK and T. Every dockerd here has its own socket, data and
# exec roots, pid file, cgroup parent and containerd namespace under $WORK
# (or /run/$T-*), so it never touches a system docker.
#
# Facts (DESIGN.md, checked here): dockerd runs in a test namespace when
# started with `nsenter --net=` (`ip netns exec` remounts /sys and dockerd
# fails: "Devices cgroup isn't mounted"); Docker Hub is out of reach, so the
# base image comes from debootstrap and the machine's apt mirror; a dockerd
# inside a home namespace has no route to the mirror, so the image is built
# by a dockerd in the host namespace with no bridge, no iptables and no
# sysctl changes, then moved with docker save / docker load.

# docker.io's client: another `docker` may come first in PATH.
DOCKER=/usr/bin/docker
CACHE=${LINKGATE_TEST_CACHE:-/var/cache/linkgate-test}

# Paths dockerd 20.10 creates outside its roots whatever its options; the
# ones it creates are removed again by docker_shared_restore.
DOCKER_SHARED="/etc/docker/key.json /run/docker/plugins /run/docker \
/run/containerd/s /run/containerd"

docker_shared_note() {
	local p
	[ -f "$WORK/docker-shared" ] && return 0
	for p in $DOCKER_SHARED; do
		[ ! -e "$p" ] || echo "$p"
	done >"$WORK/docker-shared"
}

docker_shared_restore() {
	local p
	[ -f "$WORK/docker-shared" ] || return 0
	for p in $DOCKER_SHARED; do
		grep -qx "$p" "$WORK/docker-shared" && continue
		if [ -d "$p" ]; then rmdir "$p" 2>/dev/null || true; else rm -f "$p"; fi
	done
	rm -f "$WORK/docker-shared"
}

# umount_under DIR: unmounts everything mounted below DIR, deepest first
# (dockerd leaves its netns file mounted; a failed debootstrap its /proc).
umount_under() {
	awk -v d="$1/" 'substr($5, 1, length(d)) == d { print $5 }' \
		/proc/self/mountinfo | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
}

# dockerd_start NAME [NETNS [OPTIONS]]: a private dockerd, in the host
# namespace (no bridge, no iptables, no sysctls: it only builds) or in test
# namespace $T$NETNS with dockerd OPTIONS; waits (at most 30 s) until it
# answers.
dockerd_start() {
	local name=$1 ns=${2:-} d=$WORK/dockerd-$1 x=/run/$T-$1
	shift $(($# < 2 ? $# : 2))
	local net=(--bridge=none --iptables=false --ip-forward=false --ip-masq=false)
	local run=()
	mkdir -p "$d" "$x"
	echo '{}' >"$d/daemon.json"
	docker_shared_note
	# In a test namespace, bridges, iptables and sysctls are that
	# namespace's own: the defaults.
	[ -z "$ns" ] || { net=(); run=(nsenter --net="/run/netns/$T$ns"); }
	# The exec root is short: unix socket paths under it must fit 108 bytes.
	"${run[@]}" dockerd --config-file "$d/daemon.json" \
		--data-root "$d/data" --exec-root "$x" --pidfile "$d/dockerd.pid" \
		-H "unix://$d/docker.sock" --cgroup-parent "/$T-$name" \
		--containerd-namespace "$T-$name" \
		--containerd-plugins-namespace "$T-$name-plugins" \
		--log-level warn "${net[@]}" "$@" >"$d/dockerd.log" 2>&1 &
	# nsenter execs dockerd: this is dockerd's PID.
	echo $! >"$d/pid"
	wait_for 300 dk "$name" version >/dev/null 2>&1 || {
		cat "$d/dockerd.log" >&2
		return 1
	}
}

# dk NAME ARGS: docker against dockerd NAME.
dk() {
	local name=$1
	shift
	"$DOCKER" -H "unix://$WORK/dockerd-$name/docker.sock" "$@"
}

# dockerd_stop NAME: stops dockerd NAME by the PID dockerd_start wrote
# (its containerd and containers go with it), at most 30 s, then unmounts what it left and removes its
# cgroups and exec root.
dockerd_stop() {
	local name=$1 d=$WORK/dockerd-$1 pid c
	if [ -f "$d/pid" ]; then
		pid=$(cat "$d/pid")
		kill "$pid" 2>/dev/null || true
		wait_for 300 eval "! kill -0 $pid 2>/dev/null" ||
			kill -9 "$pid" 2>/dev/null || true
		rm -f "$d/pid"
	fi
	umount_under "/run/$T-$name"
	umount_under "$d"
	rm -rf "/run/$T-$name"
	for c in /sys/fs/cgroup/*/"$T-$name" /sys/fs/cgroup/"$T-$name"; do
		[ ! -d "$c" ] || rmdir "$c" 2>/dev/null || true
	done
}

# docker_down: every dockerd of this test stopped, shared paths restored.
docker_down() {
	local d
	for d in "$WORK"/dockerd-*; do
		[ -d "$d" ] && dockerd_stop "${d##*/dockerd-}"
	done
	docker_shared_restore
	return 0
}

# cache_lock: holds $CACHE/lock (flock, fd 9) for the rest of the caller's
# use of the cache, at most 15 minutes (another run may be building).
cache_lock() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/lock"
	flock -w 900 9
}

cache_unlock() {
	exec 9>&-
}

# image_files: what client/Dockerfile builds from, one path a line.
image_files() {
	(cd "$REPO" && find client/Dockerfile .dockerignore Makefile helpers client \
		templates/Caddyfile templates/forward.conf gateway/deps -type f |
		LC_ALL=C sort -u)
}

# client_image_tar: prints the path of the client image (docker save tar)
# in the cache, making the base and the image first when their inputs
# changed. Keys: the mirror, debootstrap's version and the scripts that
# make the base; the base key and every file the image is built from.
client_image_tar() {
	local mirror base_key image_key base image
	mirror=$("$REPO/gateway/deps" --mirror | cut -f 1)
	[ -n "$mirror" ] || return 1
	base_key=$({
		echo "$mirror"
		dpkg-query -W -f '${Version}\n' debootstrap
		cat "$REPO/client/debian-base"
	} | sha256sum | cut -c1-16)
	image_key=$({
		echo "$base_key"
		(cd "$REPO" && image_files | xargs sha256sum)
	} | sha256sum | cut -c1-16)
	base=$CACHE/debian-12-slim-$base_key.tar
	image=$CACHE/linkgate-client-$image_key.tar
	cache_lock || { echo "docker.bash: $CACHE/lock not obtained" >&2; return 1; }
	if [ ! -f "$image" ]; then
		if [ ! -f "$base" ]; then
			find "$CACHE" -maxdepth 1 -name 'debian-12-slim-*.tar*' -delete
			if ! "$REPO/client/debian-base" "$base" 2>"$WORK/base.log"; then
				cat "$WORK/base.log" >&2
				cache_unlock
				return 1
			fi
		fi
		image_build "$base" "$image" || { cache_unlock; return 1; }
	fi
	cache_unlock
	echo "$image"
}

# image_build BASE_TAR IMAGE_TAR: imports the base as debian:12-slim into a
# host-namespace dockerd, builds client/Dockerfile there (make docker), and
# saves the image; older image tars are removed.
image_build() {
	local ok=0
	dockerd_start build || return 1
	if dk build import "$1" debian:12-slim >/dev/null &&
		dk build build --network host -f "$REPO/client/Dockerfile" \
			-t linkgate/client:latest "$REPO" >"$WORK/build.log" 2>&1 &&
		dk build save -o "$2.tmp" linkgate/client:latest; then
		find "$CACHE" -maxdepth 1 -name 'linkgate-client-*.tar*' \
			! -name "${2##*/}.tmp" -delete
		sync "$2.tmp"
		mv "$2.tmp" "$2"
		ok=1
	fi
	[ "$ok" = 1 ] || { cat "$WORK/build.log" >&2; rm -f "$2.tmp"; }
	dockerd_stop build
	[ "$ok" = 1 ]
}
