#!/bin/sh
# run.sh -- run every unit-test binary and CLI test script, print the totals.
# Usage: tests/run.sh [BUILD_DIR]   (run from the repository root)
# Each test prints PASS/FAIL/SKIP lines; a binary that crashes or exits non-zero without a
# FAIL line counts as one failure.  The last line is "N passed, N failed, N skipped".
# TEST_JOBS tests run at once (default: the number of CPUs), the longest first; a line per
# finished test goes to stderr as it ends, and every test's output is printed afterwards in
# the usual order.  No test depends on the others or on timing, so the order does not matter.
build=${1:-build}
jobs=${TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
logs=$(mktemp -d /tmp/test_run.XXXXXX)
trap 'rm -rf "$logs"' EXIT

# the list, the known long scripts first so that they do not end the run alone
list=$logs/list
for t in tests/cli/pipeline.sh tests/cli/score.sh tests/cli/sft.sh; do
    [ -x "$t" ] && echo "$t"
done >"$list"
for t in "$build"/tests/test_* tests/cli/*.sh; do
    [ -x "$t" ] || continue
    case "$t" in *.d|*.o) continue ;; esac
    grep -qx "$t" "$list" || echo "$t" >>"$list"
done

# run_one TEST: its output in $logs/N.log, its seconds and exit status in $logs/N.end
export logs
tr '\n' '\0' <"$list" | xargs -0 -n 1 -P "$jobs" sh -c '
    t=$1 key=$(echo "$1" | tr / _)
    start=$(date +%s)
    "$t" >"$logs/$key.log" 2>&1
    rc=$?
    s=$(($(date +%s) - start))
    echo "$rc $s" >"$logs/$key.end"
    echo "run.sh: $t done in $s s (exit $rc)" >&2
' run_one

pass=0 fail=0 skip=0
while read -r t; do
    key=$(echo "$t" | tr / _)
    echo "== $t"
    cat "$logs/$key.log"
    read -r rc s <"$logs/$key.end" || { rc=1 s=0; }
    p=$(grep -c '^PASS ' "$logs/$key.log"); f=$(grep -c '^FAIL ' "$logs/$key.log")
    s_=$(grep -c '^SKIP ' "$logs/$key.log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $t: exited with status $rc"
        f=1
    fi
    echo "== $t: $s s"
    pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s_))
done <"$list"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
