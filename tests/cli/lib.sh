# lib.sh -- what the CLI test scripts share.  Sourced (not run: it is not executable, so
# tests/run.sh skips it) after setting suite, the name on the PASS/FAIL lines.  It sets bin (the
# built tools), shared (the real data, maybe absent) and tmp (a scratch directory removed on
# exit, by cleanup(), which a script may extend).  Run from the repository root.
bin=${BUILD:-build}/bin
shared=${SAFERLHF_SHARED:-../shared}
tmp=$(mktemp -d "/tmp/test_$suite.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
export LC_ALL=C
# the tools run themselves again with OMP_WAIT_POLICY=passive when no policy is set (tool_init):
# set it here so that the hundreds of tool runs of the suite do not each load twice
[ -n "$OMP_WAIT_POLICY$GOMP_SPINCOUNT" ] || export OMP_WAIT_POLICY=passive

need_built() { # need_built FILE...: SKIP the whole suite unless every FILE is built
    for f in "$@"; do
        if [ ! -x "$f" ]; then
            echo "SKIP $suite: $f not built"
            exit 0
        fi
    done
}
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
