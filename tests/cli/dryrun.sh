#!/bin/sh
# dryrun.sh -- --dry-run's memory plan: its format and arithmetic (ZeRO-1 divides the moments
# by the ranks; a 7B-sized config is planned without loading anything), and its figures against
# the measured peak resident memory: the growth of peak RSS from a tiny model to a Llama d256
# L4 trained on the same data and batches is within 15% of the growth of the planned total.
# Run from the repository root; prints PASS/FAIL/SKIP lines.
suite=dryrun
. "$(dirname "$0")/lib.sh"
sft=$bin/saferlhf-sft
need_built "$sft" "$bin/saferlhf-train-rm" "$bin/saferlhf-ppo-lag"
tok=tests/data/sft_demo_tokenizer
data=tests/data/sft_demo.jsonl
# plan FILE KEY: the MiB of KEY in a --dry-run output
plan() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# a Llama d256 L4 (vocabulary 384) and a Llama-2-7B-shaped config (32 layers, hidden 4096)
d256=tests/data/llama_d256_config.json
b7=tests/data/llama7b_config.json

common="--tokenizer $tok -d $data -o $tmp/x --batch-size 8 --max-length 64 --threads 1"

# --- the plan's arithmetic ---
expect_rc "7B plan on 8 ranks with ZeRO-1 exits 0" 0 "$sft" --init-config "$b7" \
    $common --dry-run=8 --zero 1
cp "$tmp/out" "$tmp/7b8"
"$sft" --init-config "$b7" $common --dry-run=8 >"$tmp/7b8z0" 2>&1
p=$(plan "$tmp/7b8" parameters) m1=$(plan "$tmp/7b8" moments) m0=$(plan "$tmp/7b8z0" moments)
# 6.74e9 parameters: 25,705 MiB of float32; the moments 2 x that, / 8 ranks with ZeRO-1
awk -v p="$p" -v a="$m1" -v b="$m0" 'BEGIN { exit !(p > 25600 && p < 25800 && b > 2 * p - 1 &&
    b < 2 * p + 1 && a > b / 8 - 1 && a < b / 8 + 1) }' &&
    ok "7B: parameters $p MiB, moments $m0 MiB, $m1 MiB per rank with ZeRO-1 on 8" ||
    bad "7B plan: parameters $p, moments $m0 / $m1: $(cat "$tmp/7b8")"
grep -q '^  total' "$tmp/7b8" && grep -q 'activations' "$tmp/7b8" && ok "plan lists the parts" ||
    bad "plan format: $(cat "$tmp/7b8")"
[ ! -e "$tmp/x" ] && ok "--dry-run writes nothing" || bad "--dry-run wrote $tmp/x"
"$bin/saferlhf-train-rm" --init-config "$d256" $common --dry-run >"$tmp/rmplan" 2>&1 &&
    grep -q 'sequences' "$tmp/rmplan" && ok "train-rm --dry-run (pairs: 2 x batch rows)" ||
    bad "train-rm --dry-run: $(cat "$tmp/rmplan")"
mk=${BUILD:-build}/tests/tools/mkppo
if [ -x "$mk" ] && "$mk" "$tmp/w" "$tok" 7 >/dev/null; then
    "$bin/saferlhf-ppo-lag" --actor "$tmp/w/actor" --reward-model "$tmp/w/rm" \
        --cost-model "$tmp/w/cm" --dry-run=2 --zero 1 >"$tmp/ppoplan" 2>&1
    kv=$(plan "$tmp/ppoplan" kv_cache) g=$(plan "$tmp/ppoplan" gradients)
    p=$(plan "$tmp/ppoplan" parameters)
    # six models' parameters, three trained (actor, two critics): gradients half the parameters
    # here (mkppo's six models have the same shape but the critics' heads)
    awk -v kv="$kv" -v g="$g" -v p="$p" '
        BEGIN { exit !(kv > 0 && g > 0.45 * p && g < 0.55 * p) }' &&
        ok "ppo-lag --dry-run: 6 models, 3 trained, a KV cache" ||
        bad "ppo-lag --dry-run: $(cat "$tmp/ppoplan")"
fi

# --- against the measured peak resident memory ---
run_rss() { # run_rss CONFIG: peak RSS in MiB of 8 steps (from the -v report)
    "$sft" --init-config "$1" $common -o "$tmp/r" --max-steps 8 -v 2>&1 |
        sed -n 's/.*peak resident memory \([0-9.]*\) MiB.*/\1/p'
}
"$sft" --init-config tests/data/sft_tiny_config.json $common --dry-run >"$tmp/tiny.plan"
"$sft" --init-config "$d256" $common --dry-run >"$tmp/d256.plan"
r0=$(run_rss tests/data/sft_tiny_config.json) r1=$(run_rss "$d256")
t0=$(plan "$tmp/tiny.plan" total) t1=$(plan "$tmp/d256.plan" total)
msg="peak RSS $r0 -> $r1 MiB, plan $t0 -> $t1 MiB"
if [ -n "$ASAN_OPTIONS" ]; then # (make asan: the sanitizer's own memory is in the RSS)
    echo "SKIP $suite plan vs measured under AddressSanitizer ($msg)"
else awk -v r0="$r0" -v r1="$r1" -v t0="$t0" -v t1="$t1" 'BEGIN {
    d = r1 - r0; e = t1 - t0; exit !(r0 > 0 && e > 0 && d > 0.85 * e && d < 1.15 * e) }' &&
    ok "the plan's growth matches the measured ($msg)" || bad "plan vs measured: $msg"
fi
