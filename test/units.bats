#!/usr/bin/env bats
# The systemd units the project installs, as setup and make install render
# them, checked with systemd-analyze verify (systemd need not run here).

setup() {
	load common
	D=$BATS_TEST_TMPDIR/units
	mkdir -p "$D"
}

# verified UNIT...: systemd-analyze verify passes with nothing to say.
verified() {
	run -0 systemd-analyze verify "$@"
	assert_output ""
}

@test "linkgate setup's units pass systemd-analyze verify without a warning" {
	run -0 "$REPO/gateway/linkgate" units "$D"
	verified "$D/linkgate.service" "$D/linkgate-check.service" "$D/linkgate-check.timer" \
		"$D/linkgate-health.service" "$D/linkgate-health.timer" \
		"$D/linkgate-expire.service" "$D/linkgate-expire.timer"
}

@test "the health timer runs linkgate health every HEALTH_INTERVAL seconds, 30 by default" {
	"$REPO/gateway/linkgate" units "$D"
	run -0 grep -x "ExecStart=$REPO/gateway/linkgate health" "$D/linkgate-health.service"
	run -0 grep -x 'OnUnitInactiveSec=30s' "$D/linkgate-health.timer"
	run -0 grep -x 'AccuracySec=1s' "$D/linkgate-health.timer"
	mkdir -p "$BATS_TEST_TMPDIR/root/etc/linkgate"
	echo HEALTH_INTERVAL=45 >"$BATS_TEST_TMPDIR/root/etc/linkgate/gateway.conf"
	LINKGATE_ROOT=$BATS_TEST_TMPDIR/root "$REPO/gateway/linkgate" units "$D"
	run -0 grep -x 'OnUnitInactiveSec=45s' "$D/linkgate-health.timer"
	verified "$D/linkgate-health.service" "$D/linkgate-health.timer"
	echo HEALTH_INTERVAL=2 >"$BATS_TEST_TMPDIR/root/etc/linkgate/gateway.conf"
	LINKGATE_ROOT=$BATS_TEST_TMPDIR/root run -1 "$REPO/gateway/linkgate" units "$D"
	assert_output "linkgate: bad HEALTH_INTERVAL '2': 5-86400"
}

@test "the expiry timer runs linkgate expire every minute, also when the gateway unit is stopped" {
	"$REPO/gateway/linkgate" units "$D"
	run -0 grep -x "ExecStart=$REPO/gateway/linkgate expire" "$D/linkgate-expire.service"
	run -0 grep -x 'OnUnitInactiveSec=1min' "$D/linkgate-expire.timer"
	run -1 grep -E '^(Requisite|Requires|BindsTo)=' "$D/linkgate-expire.service"
	run -0 grep -x 'WantedBy=timers.target' "$D/linkgate-expire.timer"
}

@test "the gateway unit leaves its daemons to linkgate down, and never uses KillMode=none" {
	"$REPO/gateway/linkgate" units "$D"
	run -0 grep -x 'KillMode=process' "$D/linkgate.service"
	run -0 grep -x "ExecStop=$REPO/gateway/linkgate down" "$D/linkgate.service"
	run -0 grep -x "ExecReload=$REPO/gateway/linkgate start" "$D/linkgate.service"
	run -1 grep -r 'KillMode=none' "$REPO/templates"
}

@test "the link client's unit, as make install renders it, passes systemd-analyze verify" {
	sed "s|@LINK_CLIENT@|$REPO/client/link-client|" \
		"$REPO/templates/link-client@.service" >"$D/link-client@app.example.com.service"
	verified "$D/link-client@app.example.com.service"
}
