#!/bin/sh
# sft.sh -- saferlhf-sft: usage errors, a from-scratch run on the demo data whose loss falls,
# checkpoint contents, resume equality (N + N steps through --stop-after/--resume = 2N steps),
# SIGTERM leaves a resumable checkpoint, a diverging run exits 3 with the previous checkpoint
# intact, bad records FILE:LINE (exit 1) and --skip-bad-records, and the real SFT files of
# ../shared load (one step on stories260K; SKIP when absent).
# Run from the repository root; prints PASS/FAIL/SKIP lines.
suite=sft
. "$(dirname "$0")/lib.sh"
sft=$bin/saferlhf-sft
conv=$bin/saferlhf-convert
need_built "$sft"

data=tests/data/sft_demo.jsonl
scratch="--init-config tests/data/sft_tiny_config.json --tokenizer tests/data/sft_demo_tokenizer"
common="$scratch -d $data --batch-size 8 --lr 3e-3 --threads 2 -q"

# --- usage ---
expect_rc "no output exits 2" 2 "$sft" $scratch -d "$data"
expect_rc "no data exits 2" 2 "$sft" $scratch -o "$tmp/x"
expect_rc "-m with --init-config exits 2" 2 "$sft" -m a $scratch -d "$data" -o "$tmp/x"
expect_rc "bad --lr exits 2" 2 "$sft" $common -o "$tmp/x" --lr abc
expect_rc "bad --eval-split exits 2" 2 "$sft" $common -o "$tmp/x" --eval-split 1.5
expect_rc "unknown --template exits 2" 2 "$sft" $common -o "$tmp/x" --template nope
expect_rc "bad --lr-schedule exits 2" 2 "$sft" $common -o "$tmp/x" --lr-schedule steep
expect_rc "bad --max-length exits 2" 2 "$sft" $common -o "$tmp/x" --max-length 1

# --- a model too large for the memory (a 4 GB address-space limit): one line, exit 1 ---
sed 's/"hidden_size": 32/"hidden_size": 65536/; s/"intermediate_size": 64/"intermediate_size": 65536/' \
    tests/data/sft_tiny_config.json >"$tmp/huge_config.json"
# (not under make asan: AddressSanitizer reserves terabytes of address space for itself)
if [ -n "$ASAN_OPTIONS" ]; then
    echo "SKIP $suite a model larger than memory: under AddressSanitizer"
else
    (ulimit -v 4000000 && exec "$sft" --init-config "$tmp/huge_config.json" \
        --tokenizer tests/data/sft_demo_tokenizer -d "$data" -o "$tmp/huge" -q) 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q 'cannot allocate' "$tmp/err" &&
        [ ! -e "$tmp/huge" ]; then ok "a model larger than memory: one line, exit 1, no output"
    else bad "a model larger than memory: exit $rc, $(cat "$tmp/err")"; fi
fi

# --- a from-scratch run whose loss falls ---
expect_rc "40 steps from scratch exit 0" 0 "$sft" $common -o "$tmp/run" --max-steps 40 \
    --log "$tmp/run.log" --eval-split 0.1 --eval-every 20
n=$(wc -l <"$tmp/run.log")
[ "$n" -eq 40 ] && ok "log has 40 lines" || bad "log has $n lines, expected 40"
awk -F'"loss":' '{ split($2, a, ","); l[NR] = a[1] }
    END { for (i = 1; i <= 10; i++) { f += l[i]; t += l[NR - 10 + i] }
          f /= 10; t /= 10; printf "first-10 mean %.3f, last-10 mean %.3f\n", f, t
          exit !(t < f - 0.8) }' "$tmp/run.log" >"$tmp/means"
if [ $? -eq 0 ]; then ok "loss falls: $(cat "$tmp/means")"; else
    bad "loss does not fall by 0.8: $(cat "$tmp/means")"; fi
grep -q '"eval_loss"' "$tmp/run.log" && [ "$(grep -c '"eval_loss"' "$tmp/run.log")" -eq 2 ] &&
    ok "eval_loss logged at steps 20 and 40" || bad "eval_loss not logged twice"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json \
    generation_config.json optimizer.safetensors trainer_state.json; do
    [ -s "$tmp/run/$f" ] || bad "checkpoint lacks $f"
done
grep -q '"template": *"saferlhf"' "$tmp/run/config.json" && ok "template recorded in config" ||
    bad "config.json lacks saferlhf.template"
grep -q '"complete":true' "$tmp/run/trainer_state.json" &&
    grep -q '"step":40,' "$tmp/run/trainer_state.json" && ok "trainer_state complete at step 40" ||
    bad "trainer_state: $(cat "$tmp/run/trainer_state.json")"
cmp -s "$tmp/run/tokenizer.json" tests/data/sft_demo_tokenizer/tokenizer.json &&
    ok "tokenizer copied" || bad "tokenizer.json differs from the source"
[ -z "$(ls -d "$tmp"/run.tmp.* "$tmp"/run.old.* 2>/dev/null)" ] &&
    ok "no temporary directories left" ||
    bad "temporary directories left behind"
# fine-tune the result further with -m (the checkpoint's template is kept)
expect_rc "-m from the trained checkpoint" 0 "$sft" -m "$tmp/run" -d "$data" -o "$tmp/run2" \
    --max-steps 2 --batch-size 4 -q

# --- resume equality: 24 steps == 10 (stopped) + 14 (resumed), across an epoch boundary ---
# 270 examples / 8 = 34 micro-batches, 17 steps per epoch with --grad-accum 2
rs="--max-steps 24 --grad-accum 2 --eval-split 0.1 --eval-every 8"
"$sft" $common -o "$tmp/full" $rs --log "$tmp/full.log" 2>"$tmp/err" || bad "full run failed"
"$sft" $common -o "$tmp/part" $rs --log "$tmp/part.log" --stop-after 10 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] && grep -q '"complete":false' "$tmp/part/trainer_state.json" &&
    ok "--stop-after 10 exits 0 with an incomplete checkpoint" ||
    bad "--stop-after: exit $rc $(cat "$tmp/err")"
"$sft" --resume "$tmp/part" -d "$data" -o "$tmp/part" --batch-size 8 --lr 3e-3 --threads 2 \
    -q $rs --log "$tmp/part.log" 2>"$tmp/err" || bad "resume failed: $(cat "$tmp/err")"
strip() { sed 's/,"tokens_per_s":[^,}]*//' "$1"; }
strip "$tmp/full.log" >"$tmp/a"
strip "$tmp/part.log" >"$tmp/b"
if [ "$(wc -l <"$tmp/a")" -eq 24 ] && cmp -s "$tmp/a" "$tmp/b"; then
    ok "resumed run gives identical log lines (24 steps, loss/lr/grad_norm/eval_loss)"
else
    bad "resume differs: $(diff "$tmp/a" "$tmp/b" | head -4)"
fi
cmp -s "$tmp/full/model.safetensors" "$tmp/part/model.safetensors" &&
    ok "resumed weights bitwise equal" || bad "resumed weights differ"
# a trainer_state.json with a field out of range is refused, naming the field
cp -r "$tmp/part" "$tmp/badstate"
sed 's/"batch": *[0-9]*/"batch": -5/' "$tmp/part/trainer_state.json" \
    >"$tmp/badstate/trainer_state.json"
expect_rc "resume from \"batch\": -5 exits 1" 1 "$sft" --resume "$tmp/badstate" -d "$data" \
    -o "$tmp/badstate" --batch-size 8 --threads 2 -q $rs
grep -q 'trainer_state.json: "batch" is out of range' "$tmp/err" && ok "the error names the field" ||
    bad "bad batch: $(cat "$tmp/err")"

# --- SIGTERM mid-run ---
"$sft" $common -o "$tmp/sig" --max-steps 100000 --log "$tmp/sig.log" 2>"$tmp/sig.err" &
pid=$!
i=0
while [ $i -lt 300 ] && [ "$(cat "$tmp/sig.log" 2>/dev/null | wc -l)" -lt 3 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -TERM $pid
wait $pid
rc=$?
steps=$(wc -l <"$tmp/sig.log")
if [ $rc -eq 143 ] && grep -q '"complete":false' "$tmp/sig/trainer_state.json" &&
    grep -q "\"step\":$steps," "$tmp/sig/trainer_state.json"; then
    ok "SIGTERM: exit 143, resumable checkpoint at step $steps"
else
    bad "SIGTERM: exit $rc, steps $steps, $(cat "$tmp/sig/trainer_state.json" 2>&1)"
fi
expect_rc "resume after SIGTERM runs to the end" 0 "$sft" --resume "$tmp/sig" -d "$data" \
    -o "$tmp/sig" --batch-size 8 -q --max-steps $((steps + 2))
grep -q "\"step\":$((steps + 2))," "$tmp/sig/trainer_state.json" &&
    ok "resumed to step $((steps + 2))" ||
    bad "after resume: $(cat "$tmp/sig/trainer_state.json")"

# --- divergence: exit 3, the last good checkpoint untouched ---
"$sft" $common -o "$tmp/nan" --max-steps 6 --lr 1e30 --lr-schedule constant --save-every 1 \
    2>"$tmp/err"
rc=$?
if [ $rc -eq 3 ] && grep -q "not finite" "$tmp/err" && [ -s "$tmp/nan/model.safetensors" ] &&
    grep -q '"complete":false' "$tmp/nan/trainer_state.json"; then
    step=$(sed 's/.*"step":\([0-9]*\).*/\1/' "$tmp/nan/trainer_state.json")
    ok "diverging run exits 3 and keeps the checkpoint of step $step"
else
    bad "diverging run: exit $rc: $(head -c 200 "$tmp/err")"
fi

# --- bad data ---
head -2 "$data" >"$tmp/bad.jsonl"
echo '{"prompt": "no response here"}' >>"$tmp/bad.jsonl"
echo 'not json' >>"$tmp/bad.jsonl"
echo '{"prompt": 3, "response": "x"}' >>"$tmp/bad.jsonl"
echo '{"prompt": "hi", "response": null}' >>"$tmp/bad.jsonl"
sed -n 3,6p "$data" >>"$tmp/bad.jsonl"
expect_rc "bad record exits 1" 1 "$sft" $scratch -d "$tmp/bad.jsonl" -o "$tmp/badrun" -q
grep -q "bad.jsonl:3: " "$tmp/err" && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
    ok "the error is one line naming FILE:LINE" || bad "not one FILE:LINE line: $(cat "$tmp/err")"
expect_rc "--skip-bad-records exits 0" 0 "$sft" $scratch -d "$tmp/bad.jsonl" -o "$tmp/badrun" \
    --skip-bad-records --max-steps 1 --batch-size 2
grep -q "4 bad records skipped" "$tmp/err" && grep -q "6 training examples" "$tmp/err" &&
    ok "skipped records counted" || bad "summary: $(cat "$tmp/err")"
expect_rc "missing data file exits 1" 1 "$sft" $scratch -d "$tmp/none.jsonl" -o "$tmp/badrun"
mkdir -p "$tmp/notckpt" && touch "$tmp/notckpt/precious"
expect_rc "refuses to replace a non-checkpoint directory" 1 "$sft" $common -o "$tmp/notckpt" \
    --max-steps 1
[ -f "$tmp/notckpt/precious" ] && ok "non-checkpoint directory untouched" || bad "precious gone"

# the toy-demo path: a tokenizer trained on the data, then a model from scratch
if "$conv" train-tokenizer "$data" --vocab-size 384 -o "$tmp/tok" -q 2>"$tmp/err"; then
    expect_rc "from scratch with a tokenizer trained by saferlhf-convert" 0 "$sft" \
        --init-config tests/data/sft_tiny_config.json --tokenizer "$tmp/tok" -d "$data" \
        -o "$tmp/toy" --max-steps 2 --batch-size 4 -q
    expect_rc "a vocabulary larger than the config's is refused" 1 "$sft" \
        --init-config tests/data/sft_tiny_config.json --tokenizer tests/ref/sft/tok_bos \
        -d "$data" -o "$tmp/toy2" --max-steps 1 -q
else
    echo "SKIP sft train-tokenizer: $(head -c 200 "$tmp/err")"
fi

# all-HH data records the hh template
for q in "What is 2 plus 2?" "Say hello." "What color is the sky?"; do
    printf '{"chosen": "\\n\\nHuman: %s\\n\\nAssistant: I do not know."}\n' "$q"
done >"$tmp/hh.jsonl"
expect_rc "HH dialogues train" 0 "$sft" $scratch -d "$tmp/hh.jsonl" -o "$tmp/hh" --max-steps 1 -q
grep -q '"template": *"hh"' "$tmp/hh/config.json" && ok "all-HH data records the hh template" ||
    bad "HH run recorded: $(grep -A1 saferlhf "$tmp/hh/config.json")"

# truncation is counted
"$sft" $scratch -d "$data" -o "$tmp/tr" --max-steps 1 --max-length 40 2>"$tmp/err"
grep -Eq "; [1-9][0-9]* truncated to 40 tokens" "$tmp/err" && ok "truncation counted" ||
    bad "truncation: $(cat "$tmp/err")"

# --- real files from ../shared ---
s260=$shared/models/stories260K
if [ ! -f "$s260/stories260K.bin" ] || [ ! -x "$conv" ]; then
    echo "SKIP sft real data: $s260 or saferlhf-convert absent"
    exit 0
fi
"$conv" -q llama2c "$s260/stories260K.bin" "$s260/tok512.bin" -o "$tmp/s260" ||
    bad "cannot convert stories260K"
for f in "$shared/data/alpaca/alpaca_5000.json" "$shared"/data/sft/*.json \
    "$shared/data/hh-rlhf/helpful-base/test.jsonl.gz"; do
    [ -f "$f" ] || { echo "SKIP sft real data: $f absent"; continue; }
    name=$(basename "$f")
    "$sft" -m "$tmp/s260" -d "$f" -o "$tmp/real" --max-steps 1 --batch-size 2 \
        --threads 2 2>"$tmp/err"
    rc=$?
    summary=$(grep -o '^[^;]*' "$tmp/err" | head -1 | sed 's/.*: //')
    if [ $rc -eq 0 ]; then ok "loads $name ($summary)"
    else bad "$name: exit $rc: $(head -c 300 "$tmp/err")"; fi
done
exit 0
