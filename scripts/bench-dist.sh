#!/bin/sh
# bench-dist.sh -- data-parallel SFT throughput on this machine: saferlhf-sft on the demo data
# with a random Llama d256 L4 (vocabulary 384), the same global batch (--batch-size 8
# --grad-accum 2) as 1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread (mpirun,
# shared memory) with the all-reduce after the backward and overlapped with it, and 2 ranks
# with --zero 1.  One JSON line per run on stdout:
#   {"bench":"sft_ranks","model":..,"ranks":..,"threads":..,"zero":..,"overlap":..,"steps":..,
#    "tokens_per_s":..   median over steps of the global batch's tokens / step time (rank 0)
#    "step_s":..         median step time
#    "allreduce_s":..    median time per step moving and summing gradients (2 ranks; when
#                        overlapped, the time in MPI calls during and after the backward,
#                        waiting for the other rank included)
#    "rank_wait_s":..    median time per step waiting for the other rank before that (0
#                        when overlapped: there is no barrier)
#    "allreduce_share":.. allreduce_s / step_s}
# Usage: scripts/bench-dist.sh [BUILD_DIR]; BENCH_QUICK=1 runs fewer steps.  Prints a
# "skipped" line when the tools are built without MPI.
build=${1:-build}
sft=$build/bin/saferlhf-sft
steps=${BENCH_QUICK:+6}
steps=${steps:-30}
if ! command -v mpirun >/dev/null || ! ldd "$sft" 2>/dev/null | grep -q libmpi; then
    echo '{"bench":"sft_ranks","skipped":"built without MPI or no mpirun"}'
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
tmp=$(mktemp -d /tmp/bench_dist.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
common="--init-config tests/data/llama_d256_config.json --tokenizer tests/data/sft_demo_tokenizer
        -d tests/data/sft_demo.jsonl --batch-size 8 --grad-accum 2 --lr 1e-3 -q --max-steps $steps"
# stats LOG: "tokens_per_s step_s allreduce_s rank_wait_s" medians over the steps after the first
stats() {
    awk -F'[:,}]' '
        function med(a, n,   i, j, t) {
            for (i = 2; i <= n; i++)
                for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
                    t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return n ? a[int((n + 1) / 2)] : 0 }
        NR > 1 { for (i = 1; i < NF; i++) { k = $i; gsub(/[{" ]/, "", k); v[k] = $(i + 1) }
                 n++; tps[n] = v["tokens_per_s"]; st[n] = v["tokens"] / v["tokens_per_s"]
                 ar[n] = ("allreduce_s" in v) ? v["allreduce_s"] : 0
                 wt[n] = ("rank_wait_s" in v) ? v["rank_wait_s"] : 0; delete v }
        END { printf "%.1f %.4f %.4f %.4f", med(tps, n), med(st, n), med(ar, n), med(wt, n) }' "$1"
}
run() { # run NAME RANKS THREADS ZERO OVERLAP [mpirun...]
    name=$1 ranks=$2 threads=$3 zero=$4 overlap=$5
    shift 5
    echo "bench-dist: $name" >&2
    zopt=
    [ "$zero" -gt 0 ] && zopt="--zero $zero"
    "$@" "$sft" $common --threads "$threads" $zopt --overlap-comm "$overlap" -o "$tmp/$name" --log "$tmp/$name.log" ||
        { printf '{"bench":"sft_ranks","run":"%s","error":"failed"}\n' "$name"; return; }
    set -- $(stats "$tmp/$name.log")
    share=$(awk -v a="$3" -v s="$2" 'BEGIN { print (s > 0 ? a / s : 0) }')
    printf '{"bench":"sft_ranks","model":"llama-d256-L4-V384","ranks":%d,"threads":%d,' \
        "$ranks" "$threads"
    printf '"zero":%d,"overlap":%d,"steps":%d,"tokens_per_s":%s,"step_s":%s,' \
        "$zero" "$overlap" "$steps" "$1" "$2"
    printf '"allreduce_s":%s,' "$3"
    printf '"rank_wait_s":%s,"allreduce_share":%.3f}\n' "$4" "$share"
}
mpi2="mpirun -np 2 --oversubscribe --bind-to none --mca btl self,vader"
run r1t1 1 1 0 0
run r1t2 1 2 0 0
run r2t1 2 1 0 0 $mpi2
run r2t1o 2 1 0 1 $mpi2
run r2t1z 2 1 1 0 $mpi2
