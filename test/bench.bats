#!/usr/bin/env bats
# make bench QUICK=1: the benchmark's smoke run. Its figures are not
# compared here (these machines are shared and noisy); what is checked is
# that every row was measured and the table is complete.

setup() {
	load common
}

@test "make bench QUICK=1 measures every row and writes the table" {
	run make -s -C "$REPO" bench QUICK=1
	[ "$status" -eq 0 ] || fail "status $status: $output"
	for row in "direct HTTP" "project HTTP :80" "project HTTPS :443" \
		"project HTTPS :443, visitor over IPv6" \
		"hand-built HTTPS" "ssh -R HTTP" "ssh -R HTTPS" \
		"project link, new connection per request"; do
		# A row of zeros means a tool failed to measure.
		assert_line --regexp "^\| $row.* \| [1-9][0-9]* \[.*"
	done
	# The HTTPS rows again, in turns, for the ratios' targets.
	assert_line --regexp '^\| round 1 \| [1-9][0-9.]* \| [1-9][0-9.]* \| [1-9][0-9.]* \| [0-9.]+ \|'
	assert_line --regexp '^\| project HTTPS req/s >= 0.95x hand-built \(median of the rounds in turns\) \| [0-9.]+ \(target >= 0.95: (met|MISSED)\) \|$'
	assert_line --regexp '^\| through the project.s WireGuard link \| 0?\.?[0-9.]+ '
	assert_line --regexp "^\\| through the project's raw port \\(visitor to home, DNAT only\\) \\| 0?\\.?[0-9.]+ "
	assert_line --regexp "^\\| through the project's raw port \\| [1-9][0-9]* \\| [0-9.]+ \\|"
	assert_line --regexp '^\| make link over ssh \(ms, 3 runs\) \| [1-9]'
	assert_line --regexp '^\| make rotate over ssh \(ms, 2 runs\) \| [1-9]'
	assert_line --regexp '^\| longest gap between a visitor.s HTTPS answers during make rotate \(ms\) \| [1-9]'
	assert_line --regexp '^\| make gateway restoring 10 links from a cold start'
	assert_line --regexp '^\| make gateway on a healthy gateway with 10 links'
	assert_line --regexp '^\| linkgate health, one round over 10 links, every home down \(s; CPU s\) \| [0-9.]+; [0-9.]+ \|$'
	assert_line --regexp '^\| linkgate health, next round over 10 links, every home up \(s; CPU s\) \| [0-9.]+; [0-9.]+ \(10 links, 10 up, 0 down, in [0-9.]+ s\) \|$'
	assert_line --regexp '^\| linkgate health, round over 10 links whose homes just went down \(s; CPU s\) \| [0-9.]+; [0-9.]+ \(10 links, 0 up, 10 down, in [0-9.]+ s\) \|$'
	assert_line --regexp '^\| linkgate health over 1,000 links, every home up, extrapolated from 3 and 10 \(s; CPU s\) \| [0-9.]+; [0-9.]+ \|$'
	assert_line --regexp '^\| linkgate add with 1000 links there \(ms, 3 runs\) \| [1-9]'
	assert_line --regexp '^\| add over ssh \(a key.s request, as make link sends it\) with 1000 links there \(ms, 3 runs\) \| [1-9]'
	assert_line --regexp '^\| add over ssh at 1000 links, as a fraction of 500 ms \| [0-9.]+ \(target <= 1: (met|MISSED)\) \|$'
	run -0 grep -c '(target [<>]= [0-9.]*: \(met\|MISSED\))' \
		"$REPO/bench/results/latest.md"
	assert_output 10
	run -1 bash -c "ip netns list | grep -E '^(lgbn|lgbx)'"
}

@test "make bench ADD_ONLY=1 QUICK=1 measures only the add rows, at the console and over ssh, and leaves nothing behind" {
	run make -s -C "$REPO" bench ADD_ONLY=1 QUICK=1
	[ "$status" -eq 0 ] || fail "status $status: $output"
	assert_line --regexp '^\| linkgate add with 10 links there \(ms, 3 runs\) \| [1-9]'
	assert_line --regexp '^\| add over ssh \(a key.s request, as make link sends it\) with 1000 links there \(ms, 3 runs\) \| [1-9]'
	assert_line --regexp '^\| link add at 1000 links <= 1.25x at 10 \| [0-9.]+ \(target'
	refute_line --partial 'project HTTP'
	run -1 bash -c "ip netns list | grep -E '^(lgbn|lgbx|lgby)'"
	[ ! -e /tmp/linkgate-bench ]
}
