#!/bin/sh
# pretrain.sh -- saferlhf-sft --objective lm (pretraining on packed raw text): usage errors, the
# packing summary of the fixture corpus (tests/ref/lm: JSONL + plain text, gzip too), the data
# position in trainer_state.json and resume equality mid-corpus (N + N steps == 2N, bitwise),
# held-out documents logged as eval_loss, --text-field choosing the text, a record without text
# reported as FILE:LINE (exit 1) or skipped, and real files of ../shared packed (SKIP when absent).
# Run from the repository root; prints PASS/FAIL/SKIP lines.
suite=pretrain
. "$(dirname "$0")/lib.sh"
sft=$bin/saferlhf-sft
need_built "$sft"

ref=tests/ref/lm
scratch="--init-config $ref/model/config.json --tokenizer tests/ref/sft/tok_bos"
common="--objective lm $scratch --max-length 24 --batch-size 2 --lr 3e-3 --threads 1 -q"
data="-d $ref/corpus.jsonl -d $ref/corpus.txt"

# --- usage ---
expect_rc "unknown --objective exits 2" 2 "$sft" $common --objective pretrain $data -o "$tmp/x"
expect_rc "--text-field without --objective lm exits 2" 2 "$sft" $scratch $data -o "$tmp/x" \
    --text-field text

# --- the packing summary: 14 documents, 383 tokens, 16 windows of 24 (make_lm_fixtures.py) ---
"$sft" $common $data -o "$tmp/one" --max-steps 1 -v 2>"$tmp/err" >/dev/null
grep -q ': 14 records: 14 documents, 383 tokens, 16 windows of 24 tokens' "$tmp/err" &&
    ok "fixture corpus packs to 14 documents, 383 tokens, 16 windows" ||
    bad "packing summary: $(grep records "$tmp/err")"
gzip -c "$ref/corpus.jsonl" >"$tmp/corpus.jsonl.gz"
gzip -c "$ref/corpus.txt" >"$tmp/corpus.txt.gz"
"$sft" $common -d "$tmp/corpus.jsonl.gz" -d "$tmp/corpus.txt.gz" -o "$tmp/gz" --max-steps 1 -v \
    2>"$tmp/err" >/dev/null
grep -q '14 documents, 383 tokens' "$tmp/err" && ok "gzip-compressed files pack the same" ||
    bad "gzip: $(grep records "$tmp/err")"

# --- resume mid-corpus: 12 steps == 5 (stopped) + 7 (resumed), across the epoch boundary ---
# 16 windows / 2 = 8 steps per epoch
rs="--max-steps 12 --eval-split 0.2 --eval-every 4"
"$sft" $common $data -o "$tmp/full" $rs --log "$tmp/full.log" 2>"$tmp/err" ||
    bad "full run failed: $(cat "$tmp/err")"
"$sft" $common $data -o "$tmp/part" $rs --log "$tmp/part.log" --stop-after 5 2>"$tmp/err"
grep -q '"step":5,"epoch":0,"batch":5,' "$tmp/part/trainer_state.json" &&
    ok "stopped at step 5: the data position (epoch 0, batch 5) in trainer_state.json" ||
    bad "state after --stop-after 5: $(head -c 200 "$tmp/part/trainer_state.json")"
"$sft" --objective lm --resume "$tmp/part" $data -o "$tmp/part" --max-length 24 --batch-size 2 \
    --lr 3e-3 --threads 1 -q $rs --log "$tmp/part.log" 2>"$tmp/err" ||
    bad "resume failed: $(cat "$tmp/err")"
strip() { sed 's/,"tokens_per_s":[^,}]*//' "$1"; }
strip "$tmp/full.log" >"$tmp/a"
strip "$tmp/part.log" >"$tmp/b"
if [ "$(wc -l <"$tmp/a")" -eq 12 ] && cmp -s "$tmp/a" "$tmp/b"; then
    ok "resumed run gives identical log lines (12 steps, loss/lr/grad_norm/eval_loss)"
else
    bad "resume differs: $(diff "$tmp/a" "$tmp/b" | head -4)"
fi
cmp -s "$tmp/full/model.safetensors" "$tmp/part/model.safetensors" &&
    ok "resumed weights bitwise equal" || bad "resumed weights differ"
[ "$(grep -c '"eval_loss"' "$tmp/full.log")" -eq 3 ] &&
    ok "held-out documents evaluated at steps 4, 8 and 12" ||
    bad "eval_loss lines: $(grep -c '"eval_loss"' "$tmp/full.log")"

# --- --text-field: only the outputs make the text ---
"$sft" $common -d "$ref/corpus.jsonl" --text-field output -o "$tmp/tf" --max-steps 1 -v \
    --skip-bad-records 2>"$tmp/err" >/dev/null
grep -q ': 11 records: 3 documents, .*8 bad records skipped' "$tmp/err" &&
    ok "--text-field output: the 3 Alpaca records, the 8 others skipped" ||
    bad "--text-field output: $(grep records "$tmp/err")"

# --- bad records ---
printf '{"text": "one two three four five six seven eight nine ten eleven"}\n{"title": "x"}\n' \
    >"$tmp/bad.jsonl"
expect_rc "a record without text exits 1" 1 "$sft" $common -d "$tmp/bad.jsonl" -o "$tmp/bad" \
    --max-steps 1
grep -q "^saferlhf-sft: $tmp/bad.jsonl:2: the record has none of the text fields" "$tmp/err" &&
    ok "the error names FILE:LINE" || bad "error: $(cat "$tmp/err")"
printf '{"text": "hi"}\n' >"$tmp/short.jsonl"
expect_rc "a corpus shorter than a window exits 1" 1 "$sft" $common -d "$tmp/short.jsonl" \
    -o "$tmp/short"

# --- real files (../shared) ---
pku=$shared/data/pku-saferlhf/full-schema-sample10.jsonl
problems=$shared/data/eval-prompts/safe-rlhf-problems.json
if [ -r "$pku" ] && [ -r "$problems" ]; then
    "$sft" $common -d "$pku" -d "$problems" -o "$tmp/real" --max-steps 2 -v 2>"$tmp/err" \
        >/dev/null
    grep -q ': 93 records: 93 documents' "$tmp/err" &&
        ok "PKU-SafeRLHF full-schema records and the red-team prompts pack (93 documents)" ||
        bad "real files: $(grep -e records -e error "$tmp/err")"
else
    echo "SKIP $suite real files: $shared/data absent"
fi
