#!/bin/sh
# run.sh -- run every unit-test binary and CLI test script, print the totals.
# Usage: tests/run.sh [BUILD_DIR]   (run from the repository root)
# Each test prints PASS/FAIL/SKIP lines; a binary that crashes or exits non-zero without a
# FAIL line counts as one failure.  The last line is "N passed, N failed, N skipped".
build=${1:-build}
pass=0 fail=0 skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$build"/tests/test_* tests/cli/*.sh; do
    [ -x "$t" ] || continue
    case "$t" in *.d|*.o) continue ;; esac
    echo "== $t"
    "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $t: exited with status $rc"
        f=1
    fi
    pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
