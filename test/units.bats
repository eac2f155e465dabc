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
	verified "$D/linkgate.service" "$D/linkgate-check.service" "$D/linkgate-check.timer"
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
