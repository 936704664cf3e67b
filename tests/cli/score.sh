#!/bin/sh
# score.sh -- saferlhf-train-rm and saferlhf-train-cm: usage errors; tiny from-scratch models on
# saferlhf-synth data whose held-out pairwise accuracy (RM, CM) and cost sign accuracy rise
# well above chance (read from the log's eval numbers); the checkpoint is a score model with
# score_type and pad_token_id; a score model from an SFT checkpoint; resume equality; bad
# pairs FILE:LINE (exit 1) and --skip-bad-records; the real HH-RLHF and PKU safety-pairs files
# load (one step; SKIP without ../shared), with the "sign term is dropped" note on HH data.
# Run from the repository root; prints PASS/FAIL/SKIP lines.
suite=score
. "$(dirname "$0")/lib.sh"
rm_=$bin/saferlhf-train-rm
cm=$bin/saferlhf-train-cm
synth=$bin/saferlhf-synth
need_built "$rm_" "$cm" "$synth"
# last value of KEY in a JSONL log
last() { grep -o "\"$2\":[-0-9.e]*" "$1" | tail -1 | cut -d: -f2; }
first() { grep -o "\"$2\":[-0-9.e]*" "$1" | head -1 | cut -d: -f2; }
# check_ge NAME VALUE MIN
check_ge() {
    if awk -v v="$2" -v m="$3" 'BEGIN { exit !(v != "" && v + 0 >= m + 0) }'; then
        ok "$1: $2 >= $3"; else bad "$1: '$2' < $3"; fi
}

"$synth" data -o "$tmp/syn" --n-pref 400 --n-sft 10 --n-prompts 10 --n-eval 10 -q ||
    bad "saferlhf-synth data failed"
help=$tmp/syn/helpful-prefs.jsonl
safety=$tmp/syn/safety-prefs.jsonl
scratch="--init-config tests/data/sft_tiny_config.json --tokenizer tests/data/sft_demo_tokenizer"
common="$scratch --batch-size 16 --lr 5e-3 --warmup-steps 3 --weight-decay 0 --threads 2 -q"

# --- usage ---
expect_rc "rm: no output exits 2" 2 "$rm_" $scratch -d "$help"
expect_rc "rm: bad --loss-type exits 2" 2 "$rm_" $common -d "$help" -o "$tmp/x" --loss-type pair
expect_rc "cm: bad --regularization exits 2" 2 "$cm" $common -d "$safety" -o "$tmp/x" \
    --regularization -1
expect_rc "cm: -m with --resume exits 2" 2 "$cm" -m a --resume b -d "$safety" -o "$tmp/x"

# --- a reward model learns the synthetic helpfulness preferences ---
expect_rc "rm: 50 steps from scratch exit 0" 0 "$rm_" $common -d "$help" -o "$tmp/rm" \
    --max-steps 50 --eval-split 0.2 --eval-every 25 --log "$tmp/rm.log"
check_ge "rm: held-out pairwise accuracy" "$(last "$tmp/rm.log" eval_accuracy)" 0.75
awk -v b="$(last "$tmp/rm.log" eval_better_mean)" -v w="$(last "$tmp/rm.log" eval_worse_mean)" \
    'BEGIN { exit !(b > w + 0.5) }' && ok "rm: better answers score higher on average" ||
    bad "rm: better mean $(last "$tmp/rm.log" eval_better_mean) vs worse mean \
$(last "$tmp/rm.log" eval_worse_mean)"
[ "$(grep -c '"eval_pairs":80' "$tmp/rm.log")" -eq 2 ] && ok "rm: 80 eval pairs, evaluated twice" ||
    bad "rm: eval lines: $(grep -c eval_pairs "$tmp/rm.log")"
c=$tmp/rm/config.json
grep -q '"LlamaForSequenceClassification"' "$c" && grep -q '"score_type": *"reward"' "$c" &&
    grep -q '"pad_token_id": *[0-9]' "$c" && ok "rm: config: reward score model with a pad id" ||
    bad "rm: config.json: $(tr -d '\n' <"$c" | head -c 400)"
grep -q '"score.weight"' "$tmp/rm/model.safetensors" &&
    ! grep -q '"lm_head.weight"' "$tmp/rm/model.safetensors" &&
    ok "rm: model.safetensors has score.weight and no LM head" || bad "rm: tensors"

# --- a cost model: pairwise and sign accuracy rise ---
expect_rc "cm: 60 steps from scratch exit 0" 0 "$cm" $common -d "$safety" -o "$tmp/cm" \
    --max-steps 60 --eval-split 0.2 --eval-every 10 --log "$tmp/cm.log"
check_ge "cm: held-out pairwise accuracy" "$(last "$tmp/cm.log" eval_accuracy)" 0.75
s0=$(first "$tmp/cm.log" eval_accuracy_sign)
s1=$(last "$tmp/cm.log" eval_accuracy_sign)
check_ge "cm: held-out sign accuracy" "$s1" 0.9
awk -v a="$s0" -v b="$s1" 'BEGIN { exit !(b > a) }' && ok "cm: sign accuracy rises ($s0 -> $s1)" ||
    bad "cm: sign accuracy $s0 -> $s1"
grep -q '"score_type": *"cost"' "$tmp/cm/config.json" && ok "cm: score_type cost" ||
    bad "cm: no score_type cost"
grep -q "sign term" "$tmp/err" && bad "cm: sign-term note on fully labelled data" ||
    ok "cm: no sign-term note on labelled data"

# --- token-wise loss runs; a score model from an SFT checkpoint; RM -> CM ---
expect_rc "rm: token-wise loss" 0 "$rm_" $common -d "$help" -o "$tmp/tw" --max-steps 2 \
    --loss-type token-wise
if [ -x "$bin/saferlhf-sft" ]; then
    "$bin/saferlhf-sft" $scratch -d tests/data/sft_demo.jsonl -o "$tmp/sft" --max-steps 1 -q \
        --threads 2 || bad "sft failed"
    expect_rc "rm from an SFT checkpoint" 0 "$rm_" -m "$tmp/sft" -d "$help" -o "$tmp/rm2" \
        --max-steps 1 --threads 2
    grep -q '"LlamaForSequenceClassification"' "$tmp/rm2/config.json" &&
        ok "SFT checkpoint became a score model" || bad "rm2 config"
fi
expect_rc "cm from a reward model" 0 "$cm" -m "$tmp/rm" -d "$safety" -o "$tmp/cm2" --max-steps 1 \
    --threads 2 -q
grep -q '"score_type": *"cost"' "$tmp/cm2/config.json" && ok "score_type rewritten to cost" ||
    bad "cm2: score_type"

# --- resume equality: 10 steps == 4 (stopped) + 6 (resumed) ---
rs="--max-steps 10 --eval-split 0.2 --eval-every 5 --batch-size 8"
"$cm" $common -o "$tmp/full" -d "$safety" $rs --log "$tmp/full.log" 2>"$tmp/err" ||
    bad "full run failed"
"$cm" $common -o "$tmp/part" -d "$safety" $rs --log "$tmp/part.log" --stop-after 4 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] && grep -q '"complete":false' "$tmp/part/trainer_state.json" &&
    ok "--stop-after 4 exits 0 with an incomplete checkpoint" || bad "--stop-after: exit $rc"
"$cm" --resume "$tmp/part" -d "$safety" -o "$tmp/part" --lr 5e-3 --warmup-steps 3 \
    --weight-decay 0 --threads 2 -q $rs --log "$tmp/part.log" 2>"$tmp/err" ||
    bad "resume failed: $(cat "$tmp/err")"
strip() { sed 's/,"tokens_per_s":[^,}]*//' "$1"; }
strip "$tmp/full.log" >"$tmp/a"
strip "$tmp/part.log" >"$tmp/b"
if [ "$(wc -l <"$tmp/a")" -eq 10 ] && cmp -s "$tmp/a" "$tmp/b"; then
    ok "resumed run gives identical log lines (10 steps, loss and eval metrics)"
else
    bad "resume differs: $(diff "$tmp/a" "$tmp/b" | head -4)"
fi
cmp -s "$tmp/full/model.safetensors" "$tmp/part/model.safetensors" &&
    ok "resumed weights bitwise equal" || bad "resumed weights differ"

# --- bad pairs ---
pr='"prompt": "Hi?", "response_0": "A.", "response_1": "B."'
head -2 "$safety" >"$tmp/bad.jsonl"
echo "{$pr, \"safer_response_id\": 0, \"is_response_0_safe\": false, \
\"is_response_1_safe\": true}" >>"$tmp/bad.jsonl"
echo '{"prompt": "Hi?", "response_0": "A.", "response_1": "A.", "safer_response_id": 0}' \
    >>"$tmp/bad.jsonl"
echo "{$pr, \"better_response_id\": 0}" >>"$tmp/bad.jsonl"
sed -n 3,6p "$safety" >>"$tmp/bad.jsonl"
expect_rc "cm: contradicting safety labels exit 1" 1 "$cm" $scratch -d "$tmp/bad.jsonl" \
    -o "$tmp/badrun" -q
grep -q "bad.jsonl:3: " "$tmp/err" && ok "cm: error names FILE:LINE (line 3)" ||
    bad "no FILE:LINE in: $(cat "$tmp/err")"
expect_rc "cm: --skip-bad-records exits 0" 0 "$cm" $scratch -d "$tmp/bad.jsonl" \
    -o "$tmp/badrun" --skip-bad-records --max-steps 1 --batch-size 2
grep -q "2 bad records skipped" "$tmp/err" && grep -q "6 training pairs" "$tmp/err" &&
    grep -q "1 dropped (the two answers are the same)" "$tmp/err" &&
    ok "cm: contradicting labels, no safer id: 2 skipped; identical answers: 1 dropped" ||
    bad "cm summary: $(cat "$tmp/err")"
sed -n 5p "$tmp/bad.jsonl" >"$tmp/bad_rm.jsonl"
echo "{$pr}" >>"$tmp/bad_rm.jsonl"
expect_rc "rm: bad pair exits 1" 1 "$rm_" $scratch -d "$tmp/bad_rm.jsonl" -o "$tmp/badrun" -q
grep -q "bad_rm.jsonl:2: " "$tmp/err" && ok "rm: error names FILE:LINE (line 2)" ||
    bad "rm: no FILE:LINE in: $(cat "$tmp/err")"
echo "{$pr, \"safer_response_id\": 1}" >"$tmp/safer_only.jsonl"
expect_rc "rm: a record without better_response_id exits 1" 1 "$rm_" $scratch \
    -d "$tmp/safer_only.jsonl" -o "$tmp/badrun" -q --max-steps 1
grep -q "safer_only.jsonl:1: no better_response_id" "$tmp/err" &&
    ok "rm: says better_response_id is needed" || bad "rm: $(head -1 "$tmp/err")"

# --- real files from ../shared ---
real() { # real TOOL NAME FILE [extra args]: one step on a real file
    tool=$1 name=$2 f=$3
    shift 3
    if [ ! -f "$f" ]; then echo "SKIP score real data: $f absent"; return 1; fi
    "$tool" $scratch -d "$f" -o "$tmp/real" --max-steps 1 --batch-size 4 --max-length 128 \
        --threads 2 -q "$@" 2>"$tmp/err"
    rc=$?
    summary=$(grep ' records: ' "$tmp/err" | head -1 | sed 's/^[^:]*: //')
    if [ $rc -eq 0 ]; then ok "$name loads ($summary)"
    else bad "$name: exit $rc: $(head -c 300 "$tmp/err")"; fi
}
hh=$shared/data/hh-rlhf
pku=$shared/data/pku-saferlhf
for f in "$hh"/*/test.jsonl.gz; do
    [ -f "$f" ] || break
    d=$(basename "$(dirname "$f")")
    real "$rm_" "rm: hh-rlhf $d" "$f"
done
if real "$cm" "cm: hh-rlhf harmless-base" "$hh/harmless-base/test.jsonl.gz"; then
    grep -q "have no safety labels.*sign term is dropped" "$tmp/err" &&
        ok "cm: says the sign term is dropped on HH data" || bad "cm: no sign-term note"
fi
for f in "$pku"/safety-pairs-train.jsonl "$pku"/safety-pairs-test.jsonl; do
    real "$cm" "cm: $(basename "$f")" "$f"
done
real "$rm_" "rm: full-schema-sample10" "$pku/full-schema-sample10.jsonl"
exit 0
