#!/bin/sh
# mpi.sh -- the trainers under mpirun -np 2 on this machine (loopback, shared memory): SFT,
# pretraining (--objective lm) and RM/CM on 2 ranks equal the single-process run with the same
# global batch (--grad-accum 2 micro-batches of --batch-size: one per rank) to float tolerance,
# only rank 0 logs and writes,
# a run resumes with another rank count (2 ranks stopped, 1 rank resumed, and the reverse) to
# the uninterrupted run's weights; --zero 1 halves the optimiser state per rank and trains the
# same weights (bitwise without clipping); the all-reduce overlapped with the backward gives
# the same sums as after it; the library's collectives (test_dist); PPO-Lag on 2
# ranks holds one lambda on both, equal to the 1-rank run's.  SKIP when the tools are built
# without MPI (make MPI=0) or mpirun is absent.  Run from the repository root; prints
# PASS/FAIL/SKIP lines.
suite=mpi
. "$(dirname "$0")/lib.sh"
sft=$bin/saferlhf-sft
stdiff=${BUILD:-build}/tests/tools/stdiff
need_built "$sft" "$stdiff"
if ! command -v mpirun >/dev/null || ! ldd "$sft" | grep -q libmpi; then
    echo "SKIP $suite: no mpirun, or the tools are built without MPI (make MPI=0)"
    exit 0
fi
# as root in a container on 2 cores: allow root, more ranks than cores, shared memory only
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# (timeout: a rank that never reaches a collective must fail the test, not hang it)
mpi2="timeout 300 mpirun -np 2 --oversubscribe --bind-to none --mca btl self,vader"

# same NAME A B: the weights of two checkpoints agree to float tolerance
same() {
    if out=$("$stdiff" "$2/model.safetensors" "$3/model.safetensors" 2e-6 1e-4); then
        ok "$1 ($out)"; else bad "$1: $out"; fi
}

data=tests/data/sft_demo.jsonl
scratch="--init-config tests/data/sft_tiny_config.json --tokenizer tests/data/sft_demo_tokenizer"
common="$scratch -d $data --batch-size 8 --grad-accum 2 --lr 3e-3 --threads 1 -q --max-steps 6"

# --- pretraining (--objective lm): every rank packs the corpus; 2 ranks = 1 rank ---
lm="--objective lm --init-config tests/ref/lm/model/config.json --tokenizer tests/ref/sft/tok_bos
    -d tests/ref/lm/corpus.jsonl -d tests/ref/lm/corpus.txt --max-length 24 --batch-size 2
    --grad-accum 2 --lr 3e-3 --threads 1 -q --max-steps 4"
expect_rc "lm: 1 rank exits 0" 0 "$sft" $lm -o "$tmp/lm1"
expect_rc "lm: 2 ranks exit 0" 0 $mpi2 "$sft" $lm -o "$tmp/lm2"
same "lm: 2 ranks = 1 rank" "$tmp/lm1" "$tmp/lm2"

# --- SFT: 2 ranks against 1 ---
expect_rc "sft: 1 rank exits 0" 0 "$sft" $common -o "$tmp/one" --log "$tmp/one.log"
expect_rc "sft: 2 ranks exit 0" 0 $mpi2 "$sft" $common -o "$tmp/two" --log "$tmp/two.log"
same "sft: 2 ranks = 1 rank" "$tmp/one" "$tmp/two"
n=$(wc -l <"$tmp/two.log")
[ "$n" -eq 6 ] && ok "sft: one log line per step (rank 0 alone writes)" ||
    bad "sft: the 2-rank log has $n lines, expected 6"
# the loss of every step: the same global batch, the same loss (the first step bitwise)
if paste -d' ' "$tmp/one.log" "$tmp/two.log" | awk -F'"loss":' '
    { split($2, a, ","); split($3, b, ","); d = a[1] - b[1]; if (d < 0) d = -d
      if (NR == 1 && d != 0) exit 1; if (d > 1e-5) exit 1 }'; then
    ok "sft: per-step losses equal"; else bad "sft: per-step losses differ"; fi
grep -q '"allreduce_s"' "$tmp/two.log" && ok "sft: the log has the all-reduce time" ||
    bad "sft: no allreduce_s in the 2-rank log"
# rank 1 says nothing on stderr (rank 0 reports)
$mpi2 "$sft" $common -o "$tmp/two_v" >"$tmp/v.out" 2>"$tmp/v.err"
grep -q 'rank 1' "$tmp/v.err" && bad "sft: rank 1 writes to stderr: $(head -3 "$tmp/v.err")" ||
    ok "sft: rank 1 is quiet"

# --- the all-reduce overlapped with the backward (the default) or after it: the same sums ---
# 300 examples in batches of 12: 25 micro-batches, 8 steps of 3 and a last step of 1 (rank 1
# then runs no backward); rank 0 runs 2 micro-batches a step, rank 1 one
acc="$scratch -d $data --batch-size 12 --grad-accum 3 --lr 3e-3 --threads 1 -q --max-steps 9"
expect_rc "sft: 2 ranks --overlap-comm 0" 0 $mpi2 "$sft" $acc -o "$tmp/ov0" --overlap-comm 0
expect_rc "sft: 2 ranks --overlap-comm 1" 0 $mpi2 "$sft" $acc -o "$tmp/ov1" --overlap-comm 1
cmp -s "$tmp/ov0/model.safetensors" "$tmp/ov1/model.safetensors" &&
    ok "sft: the overlapped all-reduce = the one after the backward, bitwise" ||
    bad "sft: --overlap-comm 1 differs: $("$stdiff" "$tmp/ov0/model.safetensors" \
        "$tmp/ov1/model.safetensors")"
expect_rc "sft: 1 rank, the same global batch" 0 "$sft" $acc -o "$tmp/ov_one"
same "sft: 2 ranks overlapped = 1 rank (uneven micro-batches)" "$tmp/ov_one" "$tmp/ov1"

# --- resume with another rank count ---
expect_rc "sft: 2 ranks stop after 3 steps" 0 $mpi2 "$sft" $common -o "$tmp/r21" --stop-after 3
expect_rc "sft: 1 rank resumes" 0 "$sft" --resume "$tmp/r21" -d "$data" --batch-size 8 \
    --grad-accum 2 --lr 3e-3 --threads 1 -q --max-steps 6 -o "$tmp/r21"
same "sft: 2 ranks then 1 = uninterrupted" "$tmp/one" "$tmp/r21"
expect_rc "sft: 1 rank stops after 2 steps" 0 "$sft" $common -o "$tmp/r12" --stop-after 2
expect_rc "sft: 2 ranks resume" 0 $mpi2 "$sft" --resume "$tmp/r12" -d "$data" --batch-size 8 \
    --grad-accum 2 --lr 3e-3 --threads 1 -q --max-steps 6 -o "$tmp/r12"
same "sft: 1 rank then 2 = uninterrupted" "$tmp/one" "$tmp/r12"
grep -q '"step":6,' "$tmp/r12/trainer_state.json" && ok "sft: resumed run ends at step 6" ||
    bad "sft: trainer_state $(cat "$tmp/r12/trainer_state.json")"

# --- ZeRO-1: half the optimiser state per rank, the same training ---
state() { sed -n 's/.*optimiser state \([0-9]*\) bytes per rank.*/\1/p' "$1"; }
expect_rc "sft: 2 ranks --zero 0 -v" 0 $mpi2 "$sft" $common -o "$tmp/z0" --clip 0 -v
s0=$(state "$tmp/err")
expect_rc "sft: 2 ranks --zero 1 -v" 0 $mpi2 "$sft" $common -o "$tmp/z1" --clip 0 --zero 1 -v
s1=$(state "$tmp/err")
awk -v a="$s0" -v b="$s1" 'BEGIN { exit !(a > 0 && b > 0.45 * a && b < 0.55 * a) }' &&
    ok "sft: --zero 1 holds half the optimiser state per rank ($s1 of $s0 bytes)" ||
    bad "sft: optimiser state per rank $s1 bytes with --zero 1, $s0 bytes without"
cmp -s "$tmp/z0/model.safetensors" "$tmp/z1/model.safetensors" &&
    cmp -s "$tmp/z0/optimizer.safetensors" "$tmp/z1/optimizer.safetensors" &&
    ok "sft: --zero 1 = plain data parallelism, bitwise (weights and gathered moments)" ||
    bad "sft: --zero 1 differs: $("$stdiff" "$tmp/z0/model.safetensors" \
        "$tmp/z1/model.safetensors")"
expect_rc "sft: 2 ranks --zero 1 (clipping on)" 0 $mpi2 "$sft" $common -o "$tmp/z1c" --zero 1
same "sft: --zero 1 with clipping = 1 rank" "$tmp/one" "$tmp/z1c"
expect_rc "sft: 2 ranks --zero 1 stop after 3" 0 $mpi2 "$sft" $common -o "$tmp/zr" --zero 1 \
    --stop-after 3
expect_rc "sft: 1 rank resumes the ZeRO-1 run" 0 "$sft" --resume "$tmp/zr" -d "$data" \
    --batch-size 8 --grad-accum 2 --lr 3e-3 --threads 1 -q --max-steps 6 -o "$tmp/zr"
same "sft: ZeRO-1 on 2 ranks then 1 rank = uninterrupted" "$tmp/one" "$tmp/zr"

# --- reward and cost models: 2 ranks against 1 ---
synth=$bin/saferlhf-synth
"$synth" data -o "$tmp/syn" --n-pref 64 --n-sft 4 --n-prompts 4 --n-eval 4 -q ||
    bad "saferlhf-synth data failed"
for kind in rm cm; do
    tool=$bin/saferlhf-train-$kind
    prefs=$tmp/syn/helpful-prefs.jsonl
    [ $kind = cm ] && prefs=$tmp/syn/safety-prefs.jsonl
    opts="$scratch -d $prefs --batch-size 8 --grad-accum 2 --lr 3e-3 --threads 1 -q --max-steps 3"
    expect_rc "$kind: 1 rank exits 0" 0 "$tool" $opts -o "$tmp/${kind}1"
    expect_rc "$kind: 2 ranks exit 0" 0 $mpi2 "$tool" $opts -o "$tmp/${kind}2"
    same "$kind: 2 ranks = 1 rank" "$tmp/${kind}1" "$tmp/${kind}2"
done

# --- the collectives and ZeRO-1 in the library, on 2 ranks ---
out=$($mpi2 ${BUILD:-build}/tests/test_dist 2>&1)
echo "$out" | grep -q '^# 2 ranks' && ! echo "$out" | grep -q '^FAIL' &&
    [ "$(echo "$out" | grep -c '^PASS')" -eq 4 ] && ok "test_dist on 2 ranks" ||
    bad "test_dist on 2 ranks: $(echo "$out" | tail -5)"

# --- PPO-Lagrangian: rollouts split across 2 ranks, one lambda ---
ppo=$bin/saferlhf-ppo-lag
"${BUILD:-build}/tests/tools/mkppo" "$tmp/w" tests/data/sft_demo_tokenizer 7 >/dev/null ||
    bad "mkppo failed"
w=$tmp/w
pp="--actor $w/actor --reward-model $w/rm --cost-model $w/cm -p $w/prompts.jsonl
    --max-new-tokens 2 --top-k 0 --actor-lr 1e-2 --critic-lr 1e-2 --actor-lr-schedule constant
    --actor-warmup-ratio 0 --kl-coeff 0.05 --episode-cost-window 16 --threads 1 -q --seed 9
    --lambda-init 1 --lambda-lr 0.3 --threshold 0"
expect_rc "ppo-lag: 1 rank, 6 steps" 0 "$ppo" $pp --max-steps 6 -o "$tmp/p1" --log "$tmp/p1.log"
expect_rc "ppo-lag: 2 ranks, 6 steps" 0 $mpi2 "$ppo" $pp --max-steps 6 -o "$tmp/p2" \
    --log "$tmp/p2.log"
num() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"; }
l1=$(num "$tmp/p1.log" lambda | tr '\n' ' ') l2=$(num "$tmp/p2.log" lambda | tr '\n' ' ')
[ -n "$l1" ] && [ "$l1" = "$l2" ] && ok "ppo-lag: lambda of every step = the 1-rank value" ||
    bad "ppo-lag: lambda $l2 on 2 ranks, $l1 on 1"
s=$(num "$tmp/p2.log" lambda_rank_spread | sort -u | tr '\n' ' ')
[ "$s" = "0.0 " ] && ok "ppo-lag: both ranks hold the same lambda at every step" ||
    bad "ppo-lag: lambda differs between ranks by '$s'"
r1=$(num "$tmp/p1.log" reward | tr '\n' ' ') r2=$(num "$tmp/p2.log" reward | tr '\n' ' ')
[ "$r1" = "$r2" ] && ok "ppo-lag: the same rewards (samples drawn per prompt, any rank)" ||
    bad "ppo-lag: rewards $r2 on 2 ranks, $r1 on 1"
# the weights after 3 steps (later, AdamW amplifies float noise in near-zero gradients).  The
# rank counts round differently: each rank batches its own rows into a product, so the same
# product can go through sgemm on one rank and the in-place path (2-64 rows, another summation
# order) on two; under ASan's -O1 one weight differed by 6.1e-5
"$ppo" $pp --max-steps 3 -o "$tmp/p1s" >/dev/null 2>&1
$mpi2 "$ppo" $pp --max-steps 3 -o "$tmp/p2s" >/dev/null 2>&1
if out=$("$stdiff" "$tmp/p1s/model.safetensors" "$tmp/p2s/model.safetensors" 1e-4 1e-3); then
    ok "ppo-lag: actor after 3 steps, 2 ranks = 1 rank ($out)"; else
    bad "ppo-lag: actor after 3 steps: $out"; fi
