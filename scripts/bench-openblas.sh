#!/bin/sh
# bench-openblas.sh -- GPT-2 124M training (B=4, fused optimiser) on each of Debian's two
# threaded OpenBLAS builds: the pthreads build the tools link against, and the OpenMP build
# (libopenblas0-openmp) loaded in its place through LD_LIBRARY_PATH.  For T = 64 and 256 it
# runs `bench_train --train T` four times, alternating the builds (the machine may be shared),
# and prints each run's "train" line, then one summary line per T:
#   {"bench":"openblas_build","T":..,"pthreads_tokens_per_s":..,"openmp_tokens_per_s":..,
#    "openmp_over_pthreads":..,"pthreads_mfu":..,"openmp_mfu":..}
# best of each build's two runs; each MFU is against the sgemm peak its own process measured.
# Usage: scripts/bench-openblas.sh [BUILD_DIR]; prints a "skipped" line when the OpenMP build
# is not installed.
build=${1:-build}
bench=$build/bench/bench_train
arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
omp_dir=/usr/lib/$arch/openblas-openmp
if [ ! -r "$omp_dir/libopenblas.so.0" ] || [ ! -x "$bench" ]; then
    echo '{"bench":"openblas_build","skipped":"no libopenblas0-openmp or no bench_train"}'
    exit 0
fi
tmp=$(mktemp -d /tmp/bench_openblas.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# field NAME FILE: the best value of a numeric field over FILE's train lines
field() {
    sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2" | sort -g | tail -n 1
}
status=0
for T in 64 256; do
    for round in 1 2; do
        for b in pthreads openmp; do
            echo "bench-openblas: T=$T $b, round $round" >&2
            path=$LD_LIBRARY_PATH
            [ $b = openmp ] && path=$omp_dir${path:+:$path}
            LD_LIBRARY_PATH=$path "$bench" --train $T >"$tmp/line" ||
                { echo "bench-openblas: $b T=$T failed" >&2; status=1; }
            grep "\"openblas\":\"$b\"" "$tmp/line" >>"$tmp/$b.$T" ||
                { echo "bench-openblas: T=$T did not run on the $b build" >&2; status=1; }
            cat "$tmp/line"
        done
    done
    p=$(field tokens_per_s "$tmp/pthreads.$T") o=$(field tokens_per_s "$tmp/openmp.$T")
    [ -n "$p" ] && [ -n "$o" ] || continue
    printf '{"bench":"openblas_build","T":%d,"pthreads_tokens_per_s":%s,' "$T" "$p"
    printf '"openmp_tokens_per_s":%s,"openmp_over_pthreads":%s,' "$o" \
        "$(awk -v a="$o" -v b="$p" 'BEGIN { printf "%.3f", a / b }')"
    printf '"pthreads_mfu":%s,"openmp_mfu":%s}\n' "$(field mfu "$tmp/pthreads.$T")" \
        "$(field mfu "$tmp/openmp.$T")"
done
exit $status
