#!/bin/sh
# bench.sh -- run every benchmark binary and print its JSON lines on stdout.
# Usage: scripts/bench.sh [BUILD_DIR]      (run from the repository root; `make bench` does)
# Each build/bench/bench_* prints one JSON object per line on stdout and progress on stderr.
# A benchmark that fails is reported as {"bench":NAME,"error":"exit status N"} and the others
# still run; the script exits non-zero if any failed.  Benchmarks never assert a time.
build=${1:-build}
# the tools run with OpenMP's passive wait policy unless one is set (tool_init): so do the
# benchmarks (bench_omp_wait sets each policy itself)
[ -n "$OMP_WAIT_POLICY" ] || [ -n "$GOMP_SPINCOUNT" ] || export OMP_WAIT_POLICY=passive
status=0
found=0
for b in "$build"/bench/bench_*; do
    [ -x "$b" ] || continue
    case "$b" in *.d|*.o) continue ;; esac
    found=1
    name=$(basename "$b")
    echo "bench.sh: running $name" >&2
    "$b"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        printf '{"bench":"%s","error":"exit status %d"}\n' "$name" "$rc"
        status=1
    fi
done
[ "$found" -eq 1 ] || echo "bench.sh: no benchmarks in $build/bench" >&2
# data-parallel training: 1 rank against 2 under mpirun (scripts/bench-dist.sh)
echo "bench.sh: running bench-dist.sh" >&2
scripts/bench-dist.sh "$build" || status=1
# GPT-2 training on Debian's OpenMP build of OpenBLAS against the pthreads one
echo "bench.sh: running bench-openblas.sh" >&2
scripts/bench-openblas.sh "$build" || status=1
exit $status
