# lib.sh -- what the CLI test scripts share.  Sourced (not run: it is not executable, so
# tests/run.sh skips it) after setting suite, the name on the PASS/FAIL lines; expect_rc also
# needs tmp, a scratch directory.
ok() { echo "PASS $suite $1"; }
bad() { echo "FAIL $suite $1"; }
check() { # check NAME COMMAND...: PASS when the command succeeds
    name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
expect_rc() { # expect_rc NAME WANT COMMAND...: PASS when the command exits with WANT
    name=$1 want=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$name"; else
        bad "$name: exit $rc, expected $want: $(tail -c 400 "$tmp/err")"; fi
}
