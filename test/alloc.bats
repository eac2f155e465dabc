#!/usr/bin/env bats
# The allocator's command line: ports, indexes, locking, corrupt state.

setup() {
	load common
	export ALLOC_DIR="$BATS_TEST_TMPDIR/state"
	mkdir -p "$ALLOC_DIR"
	export ALLOC_PORTS=47000-47099
}

alloc() { "$HELPERS/alloc" "$@"; }

@test "allocate prints a port and an index" {
	run -0 alloc allocate app.example.com
	assert_output "$(printf '47000\t1')"
}

@test "allocating the same name again returns the same reservation" {
	run -0 alloc allocate app.example.com
	first=$output
	alloc allocate other.example.com
	run -0 alloc allocate App.Example.com
	assert_equal "$output" "$first"
}

@test "50 concurrent allocations get 50 distinct ports and indexes" {
	for i in $(seq 1 50); do
		alloc allocate "link$i.example.com" >"$BATS_TEST_TMPDIR/out$i" &
	done
	wait
	cat "$BATS_TEST_TMPDIR"/out* >"$BATS_TEST_TMPDIR/all"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/all")" 50
	assert_equal "$(cut -f1 "$BATS_TEST_TMPDIR/all" | sort -u | wc -l)" 50
	assert_equal "$(cut -f2 "$BATS_TEST_TMPDIR/all" | sort -u | wc -l)" 50
	assert_equal "$(cut -f2 "$BATS_TEST_TMPDIR/all" | sort -n | tail -1)" 50
	run -0 alloc list
	assert_equal "${#lines[@]}" 50
}

@test "release frees the index and port for the next allocation" {
	alloc allocate a.example.com
	alloc allocate b.example.com
	run -0 alloc release a.example.com
	run -0 alloc list
	assert_output "$(printf 'b.example.com\t47001\t2')"
	run -0 alloc allocate c.example.com
	assert_output "$(printf '47000\t1')"
}

@test "releasing a name without a reservation is refused" {
	run -1 alloc release nothing.example.com
	assert_output --partial "holds no reservation"
}

@test "a port some process has bound is skipped" {
	python3 -c 'import socket,time,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("0.0.0.0",47000))
print("bound",flush=True); time.sleep(10)' >"$BATS_TEST_TMPDIR/py" &
	pid=$!
	for _ in $(seq 1 50); do grep -q bound "$BATS_TEST_TMPDIR/py" && break; sleep 0.1; done
	run -0 alloc allocate app.example.com
	kill "$pid"
	assert_output "$(printf '47001\t1')"
}

@test "an exhausted port range exits 3 with a clear message" {
	export ALLOC_PORTS=47000-47001
	alloc allocate a.example.com
	alloc allocate b.example.com
	run -3 alloc allocate c.example.com
	assert_output --partial "no free UDP port in 47000-47001"
}

@test "an exhausted index pool exits 3" {
	alloc -n 1 allocate a.example.com
	run -3 alloc -n 1 allocate b.example.com
	assert_output --partial "no free link index"
}

@test "a lock held by another process exits 75 after the wait" {
	exec 9>"$ALLOC_DIR/alloc.lock"
	flock 9
	run -75 alloc -w 1 allocate a.example.com
	exec 9>&-
	assert_output --partial "not obtained"
}

@test "a truncated state file is reported and left as it is" {
	alloc allocate a.example.com
	alloc allocate b.example.com
	head -c -3 "$ALLOC_DIR/alloc.state" >"$BATS_TEST_TMPDIR/t"
	cp "$BATS_TEST_TMPDIR/t" "$ALLOC_DIR/alloc.state"
	run -1 alloc allocate c.example.com
	assert_output --partial "is corrupt (line 3 is truncated)"
	cmp "$BATS_TEST_TMPDIR/t" "$ALLOC_DIR/alloc.state"
}

@test "a corrupt state file is reported and left as it is" {
	printf 'garbage\n' >"$ALLOC_DIR/alloc.state"
	run -1 alloc allocate a.example.com
	assert_output --partial "is corrupt (missing header)"
	assert_equal "$(cat "$ALLOC_DIR/alloc.state")" garbage
}

@test "bad names, ranges and arguments are refused with the right code" {
	run -1 alloc allocate 'a;b.example.com'
	assert_output --partial "bad link name 'a;b.example.com'"
	run -2 alloc -p 0-10 allocate a.example.com
	run -2 alloc -p 50-40 allocate a.example.com
	run -2 alloc frobnicate a.example.com
	run -2 alloc allocate
	run -2 alloc -n 0 list
	ALLOC_DIR="" run -2 alloc list
	assert_equal "$(ls "$ALLOC_DIR")" ""
}

@test "the state file is replaced, never written in place" {
	alloc allocate a.example.com
	ino=$(stat -c %i "$ALLOC_DIR/alloc.state")
	alloc allocate b.example.com
	assert_not_equal "$(stat -c %i "$ALLOC_DIR/alloc.state")" "$ino"
	assert_equal "$(stat -c %a "$ALLOC_DIR/alloc.state")" 600
	run ls -A "$ALLOC_DIR"
	assert_output "$(printf 'alloc.lock\nalloc.state')"
}

@test "--help prints usage and exits 0" {
	run -0 alloc --help
	assert_output --partial "usage: alloc"
}
