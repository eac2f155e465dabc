#!/usr/bin/env bats
# TEMPORARY: measures the visitor gap during make rotate, N times.
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
}
teardown_file() {
	load common
	load lib/net
	cp "$WORK"/visits.* /tmp/rot-gapm/ 2>/dev/null || true
	cp "$WORK"/client-*.log /tmp/rot-gapm/ 2>/dev/null || true
	net_down
}
setup() {
	load common
	load lib/net
}
one_req() {
	local t r e w
	t=$(date +%s%N)
	if w=$(ip netns exec "${T}i" curl -sfk -o /dev/null --max-time 3 -w '%{time_connect} %{time_appconnect} %{time_total}' \
		--resolve "rot.example.test:443:$GATEWAY" https://rot.example.test/); then r=ok; else r=fail; fi
	e=$(date +%s%N)
	echo "$t $r $e $w" >>"$1"
}
visitor_loop() {
	local i=0
	while [ ! -e "$1.stop" ] && [ "$i" -lt 2000 ]; do
		one_req "$1" &
		sleep 0.02
		i=$((i + 1))
	done
	wait
}
@test "trace" {
	pid=$(cat "$WORK/client-rot.example.test.pid")
	strace -f -ttt -qq -e trace=execve,kill -e signal=none -o /tmp/rot-gapm/c.trace -p "$pid" &
	st=$!
	sleep 1
	strace -f -ttt -qq -e trace=execve,kill,exit_group -e signal=none -o /tmp/rot-gapm/h.trace ip netns exec "${T}h1" env SSH_KEY="$WORK/key-h1" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$WORK/h1" GATEWAY="root@$GATEWAY" \
		FQDN=rot.example.test make -s -C "$REPO" rotate >/dev/null 2>&1
	sleep 1
	kill $st
	cp $WORK/root/var/log/linkgate/gateway.log /tmp/rot-gapm/ || true
}
@test "measure" {
	mkdir -p /tmp/rot-gapm
	for n in $(seq ${RUNS:-10}); do
		log=$WORK/visits.$n
		visitor_loop "$log" &
		loop=$!
		sleep 1
		t0=$(date +%s%N)
		ip netns exec "${T}h1" env SSH_KEY="$WORK/key-h1" KNOWN_HOSTS="$WORK/known_hosts" \
			SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$WORK/h1" GATEWAY="root@$GATEWAY" \
			FQDN=rot.example.test make -s -C "$REPO" rotate >/dev/null 2>&1
		t1=$(date +%s%N)
		sleep 2
		touch "$log.stop"
		wait "$loop"
		rm -f "$log.stop"
		gs=0
		ge=$(awk '$2 == "ok" { print $3 }' "$log" | sort -n | awk '{ if (last && $1 - last > max) max = $1 - last; last = $1 } END { printf "%d", max / 1000000 }')
		ld=$(awk '$2 == "ok" { if ($3 - $1 > max) max = $3 - $1 } END { printf "%d", max / 1000000 }' "$log")
		echo "# run $n: rotate $(((t1 - t0) / 1000000)) ms; reqs $(wc -l <"$log") fail $(grep -c fail "$log") gap(start) $gs ms gap(end) $ge ms longest ok $ld ms; t0 $t0" >&3
	done
}
