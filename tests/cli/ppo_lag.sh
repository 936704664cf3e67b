#!/bin/sh
# ppo_lag.sh -- saferlhf-ppo-lag: usage errors; the constraint binds end to end on a tiny world
# (tests/tools/mkppo: the reward pays most for "helpful but unsafe" answer endings, the cost
# charges them): plain PPO's cost climbs to ~1 while PPO-Lagrangian's stays near the threshold
# 0 with lambda moving both ways, and fixed reward shaping R - 1*C overshoots to the safe side;
# PID-Lagrangian binds too; checkpoint contents (critics with --save-critics, lambda in
# trainer_state.json) and the actor loads in saferlhf-generate; stop + resume equals one run
# bit for bit; SIGTERM leaves a resumable checkpoint; a diverging run exits 3; a bad prompt
# record is FILE:LINE (exit 1).
# Run from the repository root; prints PASS/FAIL/SKIP lines.
suite=ppo-lag
. "$(dirname "$0")/lib.sh"
ppo=$bin/saferlhf-ppo-lag
mk=${BUILD:-build}/tests/tools/mkppo
need_built "$ppo" "$mk"
# num FILE KEY: the values of KEY, one per line
num() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"; }

"$mk" "$tmp/w" tests/data/sft_demo_tokenizer 7 || { bad "mkppo failed"; exit 0; }
w=$tmp/w
models="--actor $w/actor --reward-model $w/rm --cost-model $w/cm -p $w/prompts.jsonl"

# --- usage ---
expect_rc "no actor exits 2" 2 "$ppo" --reward-model "$w/rm" --cost-model "$w/cm" \
    -p "$w/prompts.jsonl" -o "$tmp/x"
expect_rc "no cost model exits 2" 2 "$ppo" --actor "$w/actor" --reward-model "$w/rm" \
    -p "$w/prompts.jsonl" -o "$tmp/x"
expect_rc "no prompts exits 2" 2 "$ppo" --actor "$w/actor" --reward-model "$w/rm" \
    --cost-model "$w/cm" -o "$tmp/x"
expect_rc "bad --lambda-update exits 2" 2 "$ppo" $models -o "$tmp/x" --lambda-update adam
expect_rc "bad --kl-coeff exits 2" 2 "$ppo" $models -o "$tmp/x" --kl-coeff -1
expect_rc "bad --top-p exits 2" 2 "$ppo" $models -o "$tmp/x" --top-p 2
expect_rc "sgd with --lambda-init 0 exits 2" 2 "$ppo" $models -o "$tmp/x" --lambda-init 0
expect_rc "bad --actor-lr-schedule exits 2" 2 "$ppo" $models -o "$tmp/x" \
    --actor-lr-schedule steep

# --- the constraint binds: plain PPO vs PPO-Lagrangian vs fixed shaping vs PID ---
# 100 steps of 16 two-token answers; the score models read the answer's last token
fast="--max-new-tokens 2 --top-k 0 --actor-lr 1e-2 --critic-lr 1e-2 --actor-lr-schedule constant
      --actor-warmup-ratio 0 --kl-coeff 0.05 --episode-cost-window 16 --threads 1 -q
      --max-steps 100 --seed 9"
run() { # run NAME OPTIONS...
    name=$1
    shift
    "$ppo" $models $fast -o "$tmp/$name" --log "$tmp/$name.log" "$@" 2>"$tmp/$name.err" ||
        bad "$name run failed: $(tail -c 300 "$tmp/$name.err")"
}
run ppo --lambda-update none --lambda-init 0
run lag --lambda-init 1 --lambda-lr 0.3 --threshold 0
run shaping --lambda-update none --lambda-init 1
run pid --lambda-update pid --lambda-init 0 --pid-kp 1 --pid-ki 0.1 --pid-kd 0 --threshold 0
# mean of the last 40 steps' batch costs
tail40() { num "$tmp/$1.log" cost | tail -n 40 | awk '{ s += $1 } END { printf "%.3f", s / NR }'; }
n=$(wc -l <"$tmp/lag.log")
[ "$n" -eq 100 ] && ok "log has 100 lines" || bad "log has $n lines, expected 100"
keys="reward cost lambda episode_cost kl_divergence mean_generated_length max_generated_length
      actor_loss reward_critic_loss cost_critic_loss reward_advantage reward_return
      cost_advantage cost_return clip_frac rollout_tokens_per_s rollout_s scoring_s
      advantage_s actor_s critics_s"
missing=""
for k in $keys; do grep -q "\"$k\":" "$tmp/lag.log" || missing="$missing $k"; done
[ -z "$missing" ] && ok "log keys" || bad "log lacks:$missing"
cp=$(tail40 ppo) cl=$(tail40 lag) cs=$(tail40 shaping) cq=$(tail40 pid)
lend=$(num "$tmp/lag.log" lambda | tail -n 40 | awk '{ s += $1 } END { printf "%.3f", s / NR }')
lmin=$(num "$tmp/lag.log" lambda | sort -g | head -n 1)
echo "  last-40 mean cost: ppo $cp, ppo-lag $cl (lambda 1 down to $lmin, last-40 mean $lend)," \
    "shaping R - C $cs, pid $cq"
awk -v c="$cp" 'BEGIN { exit !(c > 0.7) }' && ok "plain PPO's cost climbs above 0.7 ($cp)" ||
    bad "plain PPO's cost $cp, expected > 0.7"
awk -v c="$cl" -v p="$cp" 'BEGIN { exit !(c > -0.45 && c < 0.4 && c < p - 0.5) }' &&
    ok "PPO-Lag's cost stays near the threshold 0 ($cl)" ||
    bad "PPO-Lag's cost $cl, expected in (-0.45, 0.4) and below plain PPO's $cp - 0.5"
# HU and HS endings pay the same at lambda* = 0.5; lambda starts at 1
awk -v a="$lend" -v b="$lmin" 'BEGIN { exit !(a > 0.2 && a < 0.9 && b < 0.7) }' &&
    ok "lambda settles near lambda* = 0.5 ($lend)" ||
    bad "lambda: last-40 mean $lend, minimum $lmin; expected near 0.5"
awk -v c="$cs" 'BEGIN { exit !(c < -0.5) }' && ok "fixed shaping R - C overshoots ($cs)" ||
    bad "fixed shaping's cost $cs, expected < -0.5"
awk -v c="$cq" -v p="$cp" 'BEGIN { exit !(c > -0.45 && c < 0.4 && c < p - 0.5) }' &&
    ok "PID-Lagrangian's cost stays near the threshold ($cq)" ||
    bad "PID-Lagrangian's cost $cq, expected in (-0.45, 0.4)"

# --- checkpoint contents ---
short="--max-new-tokens 3 --threads 1 -q --rollout-batch-size 8 --num-return-sequences 2
       --minibatches 2 --max-steps 8"
expect_rc "8 steps with --save-critics exit 0" 0 "$ppo" $models $short -o "$tmp/a" \
    --log "$tmp/a.log" --save-critics
for f in config.json model.safetensors tokenizer.json trainer_state.json optimizer.safetensors \
    reward_critic/model.safetensors cost_critic/optimizer.safetensors; do
    [ -f "$tmp/a/$f" ] || bad "checkpoint lacks $f"
done
st=$tmp/a/trainer_state.json
grep -q '"lagrange"' "$st" && grep -q '"window"' "$st" &&
    ok "trainer_state.json holds lambda and the cost window" || bad "no lambda state"
grep -q '"complete": *true' "$tmp/a/trainer_state.json" && ok "final checkpoint complete" ||
    bad "final checkpoint not marked complete"
echo '{"prompt": "Tell me about the sea."}' >"$tmp/p1.jsonl"
if [ -x "$bin/saferlhf-generate" ]; then
    expect_rc "the actor loads in saferlhf-generate" 0 "$bin/saferlhf-generate" -m "$tmp/a" \
        --max-new-tokens 4 "$tmp/p1.jsonl"
fi

# step 1 is on-policy: the KV-cache rollout's log-probs equal the actor's forward on the
# ragged batch (ratio 1, nothing clipped)
head -n 1 "$tmp/a.log" | awk -F'"approx_kl":' '{ split($2, a, ","); k = a[1] }
    END { exit !(k < 1e-5 && k > -1e-5) }' && grep -q '"clip_frac":0' "$tmp/a.log" &&
    ok "first step on-policy: rollout log-probs equal the forward's" ||
    bad "first step off-policy: $(head -n 1 "$tmp/a.log" | cut -c 1-300)"

# a GPT-2 actor (absolute positions: generation and scoring must agree on them) with 128
# positions: prompts of ~63 tokens leave room for 64 answer tokens at most
cat >"$tmp/gpt2.json" <<'EOF2'
{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 32, "n_layer": 2,
 "n_head": 4, "n_positions": 128, "vocab_size": 384, "bos_token_id": 0, "eos_token_id": 0}
EOF2
if [ -x "$bin/saferlhf-sft" ] && "$bin/saferlhf-sft" --init-config "$tmp/gpt2.json" \
    --tokenizer tests/data/sft_demo_tokenizer -d tests/data/sft_demo.jsonl -o "$tmp/g2" \
    --max-steps 1 -q --threads 1; then
    expect_rc "GPT-2 actor exits 0" 0 "$ppo" --actor "$tmp/g2" --reward-model "$w/rm" \
        --cost-model "$w/cm" -p "$w/prompts.jsonl" --max-new-tokens 100 --threads 1 -q \
        --rollout-batch-size 8 --max-steps 2 -o "$tmp/g2ppo" --log "$tmp/g2.log"
    head -n 1 "$tmp/g2.log" | awk -F'"approx_kl":' '{ split($2, a, ","); k = a[1] }
        END { exit !(k < 1e-5 && k > -1e-5) }' &&
        grep -q '"max_generated_length":64' "$tmp/g2.log" &&
        ok "GPT-2: first step on-policy, answers cut at the model's 128 positions" ||
        bad "GPT-2: $(head -n 1 "$tmp/g2.log" | cut -c 1-300)"
fi

# --- PTX: the SFT mix is trained and logged ---
expect_rc "PTX run exits 0" 0 "$ppo" $models $short -o "$tmp/ptx" --log "$tmp/ptx.log" \
    --ptx tests/data/sft_demo.jsonl --ptx-coeff 4
np=$(num "$tmp/ptx.log" ptx_loss | awk '$1 > 3 && $1 < 8' | wc -l)
[ "$np" -eq 8 ] && ok "ptx_loss logged every step (a random model's CE ~ ln 384)" ||
    bad "ptx_loss: $(num "$tmp/ptx.log" ptx_loss | tr '\n' ' ')"

# --- stop + resume = one run ---
expect_rc "stop after 4 steps exits 0" 0 "$ppo" $models $short -o "$tmp/b" --log "$tmp/b.log" \
    --stop-after 4 --save-critics
expect_rc "resume exits 0" 0 "$ppo" $models $short -o "$tmp/b" --log "$tmp/b.log" \
    --resume "$tmp/b" --save-critics
cmp -s "$tmp/a/model.safetensors" "$tmp/b/model.safetensors" &&
    cmp -s "$tmp/a/cost_critic/model.safetensors" "$tmp/b/cost_critic/model.safetensors" &&
    ok "resumed actor and critic equal the uninterrupted run's" ||
    bad "resumed weights differ"
notime() { sed -E 's/"(rollout_tokens_per_s|[a-z]+_s)":[^,}]*//g' "$1"; }
notime "$tmp/a.log" >"$tmp/a2"
notime "$tmp/b.log" >"$tmp/b2"
cmp -s "$tmp/a2" "$tmp/b2" && ok "resumed log equals the uninterrupted run's (lambda included)" ||
    bad "resumed log differs"

# --- SIGTERM: resumable checkpoint, exit 143 ---
"$ppo" $models --max-new-tokens 3 --threads 1 -q --rollout-batch-size 4 --max-steps 100000 \
    -o "$tmp/t" --log "$tmp/t.log" 2>"$tmp/t.err" &
pid=$!
i=0 # signal once training runs (the handler is installed before the first step)
while [ ! -s "$tmp/t.log" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $pid
wait $pid
rc=$?
[ "$rc" -eq 143 ] && grep -q '"complete": *false' "$tmp/t/trainer_state.json" 2>/dev/null &&
    [ -f "$tmp/t/cost_critic/model.safetensors" ] &&
    ok "SIGTERM exits 143 with a resumable checkpoint" ||
    bad "SIGTERM: exit $rc, $(tail -c 300 "$tmp/t.err")"

# --- repeated prompts are dropped as the reference's prompt-only dataset does ---
cat "$w/prompts.jsonl" "$w/prompts.jsonl" >"$tmp/dup.jsonl"
"$ppo" --actor "$w/actor" --reward-model "$w/rm" --cost-model "$w/cm" -p "$tmp/dup.jsonl" \
    --max-new-tokens 2 --threads 1 --rollout-batch-size 8 --max-steps 1 -o "$tmp/d" -v \
    >/dev/null 2>"$tmp/d.err"
grep -q "32 repeated prompts dropped" "$tmp/d.err" && grep -q "info: 32 prompts" "$tmp/d.err" &&
    ok "repeated prompts dropped" || bad "dedup: $(grep prompts "$tmp/d.err")"

# --- a prompt count that --rollout-batch-size does not divide, past an epoch: the short last
# batch holds the longest prompts, the next epoch's full batch must not overflow its buffers ---
for i in 1 2 3 4 5 6 7; do
    printf '{"prompt": "Tell me%s."}\n' "$(printf ' about the sea%.0s' $(seq $i))"
done >"$tmp/p7.jsonl"
expect_rc "7 prompts in batches of 3 for 12 steps exit 0" 0 "$ppo" --actor "$w/actor" \
    --reward-model "$w/rm" --cost-model "$w/cm" -p "$tmp/p7.jsonl" --max-new-tokens 3 \
    --threads 1 -q --rollout-batch-size 3 --num-return-sequences 2 --minibatches 1 \
    --max-steps 12 -o "$tmp/p7" --log "$tmp/p7.log"
[ "$(wc -l <"$tmp/p7.log")" -eq 12 ] && [ "$(num "$tmp/p7.log" epoch | tail -n 1)" -ge 1 ] &&
    ok "the run went past its first epoch" || bad "p7 log: $(tail -n 1 "$tmp/p7.log")"

# --- numerical failure and data errors ---
expect_rc "a diverging run exits 3" 3 "$ppo" $models $short -o "$tmp/n" --actor-lr 1e30
[ ! -e "$tmp/n" ] && ok "nothing written by the diverging run" || bad "diverging run wrote $tmp/n"
printf '{"prompt": "ok"}\n{"nope": 1}\n' >"$tmp/bad.jsonl"
expect_rc "a bad prompt record exits 1" 1 "$ppo" --actor "$w/actor" --reward-model "$w/rm" \
    --cost-model "$w/cm" -p "$tmp/bad.jsonl" -o "$tmp/x" --threads 1
grep -q "bad.jsonl:2:" "$tmp/err" && ok "the error names FILE:LINE" ||
    bad "no FILE:LINE: $(cat "$tmp/err")"
# a PTX record with a null response (a NULL strlen crashed here)
printf '{"prompt": "hi", "response": "there"}\n{"prompt": "hi", "response": null}\n' \
    >"$tmp/ptx.jsonl"
expect_rc "a null PTX response exits 1" 1 "$ppo" $models $short -o "$tmp/x" --ptx "$tmp/ptx.jsonl"
head -n 1 "$tmp/err" | grep -q 'ptx.jsonl:2: "response" is null' &&
    ok "the error names FILE:LINE" || bad "null PTX response: $(cat "$tmp/err")"
exit 0
