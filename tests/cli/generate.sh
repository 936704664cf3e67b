#!/bin/sh
# generate.sh -- saferlhf-generate: usage errors (exit 2), and with stories260K from ../shared:
# the greedy 200-token golden output of llama2.c's run.c through the tool, batched == one at a
# time (greedy and seeded sampling), seeded repeatability, samples per prompt, the prompt
# schemas, stop strings, prompt truncation, log-probabilities, bad records (FILE:LINE, exit 1).
# Run from the repository root; prints PASS/FAIL/SKIP lines.
suite=generate
. "$(dirname "$0")/lib.sh"
gen=$bin/saferlhf-generate
conv=$bin/saferlhf-convert
need_built "$gen" "$conv"
differ() { ! cmp -s "$1" "$2"; }
status() { # status WANT NAME COMMAND...: PASS when the command exits with WANT
    want=$1 name=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq "$want" ]; then ok "$name"; else bad "$name (exit $rc, want $want)"; fi
}

# --- usage errors ---------------------------------------------------------------------------
status 2 "no model exits 2" "$gen" -
status 2 "bad --top-p exits 2" "$gen" -m x --top-p 1.5
status 2 "bad --temperature exits 2" "$gen" -m x --temperature -1
status 2 "bad --max-new-tokens exits 2" "$gen" -m x --max-new-tokens 0
status 2 "unknown --template exits 2" "$gen" -m x --template nope
status 2 "two inputs exit 2" "$gen" -m x a b
status 1 "missing model directory exits 1" "$gen" -m "$tmp/none" /dev/null

model=$shared/models/stories260K/stories260K.bin
want=$shared/models/stories260K/expected_run_c_t0_n200.txt
if [ ! -f "$model" ] || [ ! -f "$want" ]; then
    echo "SKIP generate stories260K: $model absent"
    exit 0
fi
m=$tmp/s260k
"$conv" llama2c "$model" "$shared/models/stories260K/tok512.bin" -o "$m" || bad "convert"

# --- the golden output: run.c -t 0 -n 200 (its final newline is run.c's, not a token) -------
esc=$(awk 'BEGIN { ORS = "" } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); if (NR > 1) print "\\n";
           print }' "$want")
tail='"prompt_tokens":1,"response_tokens":200,"finish_reason":"length"'
printf '{"prompt":"","response":"%s",%s}\n' "$esc" "$tail" >"$tmp/golden"
printf '{"prompt":""}\n' | "$gen" --threads 1 -m "$m" --template raw --greedy --max-new-tokens 200 \
    >"$tmp/g" 2>"$tmp/err"
check "stories260K greedy 200 tokens = run.c output" cmp -s "$tmp/g" "$tmp/golden"
printf '{"prompt":""}\n' | "$gen" --threads 1 -m "$m" --raw-prompt --greedy --max-new-tokens 200 \
    -o "$tmp/g2" 2>"$tmp/err"
check "--raw-prompt and -o" cmp -s "$tmp/g2" "$tmp/golden"

# --- batched == single -----------------------------------------------------------------------
cat >"$tmp/p.jsonl" <<'EOF'
{"prompt":"Once upon a time","id":1}
{"prompt":"Lily and Ben went to the park. They saw a big dog","id":2}
{"instruction":"The cat","input":"sat","id":3}
{"messages":[{"role":"system","content":"Tom"},{"role":"user","content":"was happy"}],"id":4}
{"prompt":["A","B","C"],"id":5}
EOF
run() {
    "$gen" --threads 1 -m "$m" --template raw --max-new-tokens 40 "$@" "$tmp/p.jsonl" 2>"$tmp/err"
}
run --greedy -b 1 >"$tmp/b1"
run --greedy -b 4 >"$tmp/b4"
check "greedy: batch 4 = batch 1" cmp -s "$tmp/b1" "$tmp/b4"
check "5 records, input order" [ "$(grep -o '"id":[0-9]' "$tmp/b1" | tr -d '\n')" = \
    '"id":1"id":2"id":3"id":4"id":5' ]
run --temperature 0.9 --top-k 20 --top-p 0.9 --repetition-penalty 1.1 --seed 3 -b 1 >"$tmp/s1"
run --temperature 0.9 --top-k 20 --top-p 0.9 --repetition-penalty 1.1 --seed 3 -b 3 >"$tmp/s3"
run --temperature 0.9 --top-k 20 --top-p 0.9 --repetition-penalty 1.1 --seed 3 -b 3 >"$tmp/s3b"
run --temperature 0.9 --top-k 20 --top-p 0.9 --repetition-penalty 1.1 --seed 4 -b 3 >"$tmp/s4"
check "sampling: batch 3 = batch 1 (same seed)" cmp -s "$tmp/s1" "$tmp/s3"
check "sampling: the same seed repeats" cmp -s "$tmp/s3" "$tmp/s3b"
check "sampling: another seed differs" differ "$tmp/s3" "$tmp/s4"
check "sampling differs from greedy" differ "$tmp/s3" "$tmp/b1"

# --- samples per prompt: record order, then sample order; 2 samples differ --------------------
run -n 2 --seed 1 -b 3 >"$tmp/n2"
check "-n 2: 10 lines with sample 0,1 per record" [ "$(grep -o '"id":[0-9].*"sample":[0-9]' \
    "$tmp/n2" | sed 's/"id":\([0-9]\).*"sample":\([0-9]\)/\1\2/' | tr -d '\n')" = \
    "10112021303140415051" ]
check "-n 2: the two samples differ" [ "$(sed -n 1p "$tmp/n2" | sed 's/"sample".*//')" != \
    "$(sed -n 2p "$tmp/n2" | sed 's/"sample".*//')" ]

# --- schemas: Alpaca and messages render as documented ---------------------------------------
printf '{"prompt":"The cat sat"}\n{"prompt":"Tom\\n\\nwas happy"}\n' |
    "$gen" --threads 1 -m "$m" --template raw --greedy --max-new-tokens 40 2>"$tmp/err" \
    >"$tmp/direct"
a=$(sed -n 3p "$tmp/b1" | sed 's/.*"response"/"response"/')
b=$(sed -n 1p "$tmp/direct" | sed 's/.*"response"/"response"/')
check "instruction + ' ' + input" [ "$a" = "$b" ]
a=$(sed -n 4p "$tmp/b1" | sed 's/.*"response"/"response"/')
b=$(sed -n 2p "$tmp/direct" | sed 's/.*"response"/"response"/')
check "system message + blank line + user turn" [ "$a" = "$b" ]

printf '%s\n' '{"chosen":"\n\nHuman: Lily had a\n\nAssistant: ball\n\nHuman: One day"}' \
    '{"prompt":"\n\nHuman: Lily had a\n\nAssistant: ball\n\nHuman: One day\n\nAssistant:"}' |
    "$gen" --threads 1 -m "$m" --template raw --greedy --max-new-tokens 20 2>"$tmp/err" >"$tmp/hh"
a=$(sed -n 1p "$tmp/hh" | sed 's/.*"response"/"response"/')
b=$(sed -n 2p "$tmp/hh" | sed 's/.*"response"/"response"/')
check "an HH dialogue renders with the hh template" [ -n "$a" -a "$a" = "$b" ]

# --- stop strings, truncation, log-probs ---------------------------------------------------------
printf '{"prompt":""}\n' | "$gen" --threads 1 -m "$m" --raw-prompt --greedy --stop Lily \
    --stop "zzz" >"$tmp/stop" 2>"$tmp/err"
want='"response":"Once upon a time, there was a little girl named ","prompt_tokens":1,'
check "--stop: cut before the string, finish_reason stop" grep -q \
    "$want"'"response_tokens":[0-9]*,"finish_reason":"stop"' "$tmp/stop"
printf '{"prompt":"Lily and Ben went to the park"}\n' |
    "$gen" --threads 1 -m "$m" --raw-prompt --greedy --max-new-tokens 5 --max-prompt-tokens 3 \
    >"$tmp/trunc" 2>"$tmp/err"
check "--max-prompt-tokens 3" grep -q '"prompt_tokens":3,.*"truncated_prompt_tokens":[1-9]' \
    "$tmp/trunc"
printf '{"prompt":"Once"}\n' | "$gen" --threads 1 -m "$m" --raw-prompt --max-new-tokens 7 \
    --logprobs --temperature 0.5 >"$tmp/lp" 2>"$tmp/err"
n_ids=$(sed 's/.*"token_ids":\[\([^]]*\)\].*/\1/' "$tmp/lp" | tr ',' '\n' | grep -c .)
n_lp=$(sed 's/.*"logprobs":\[\([^]]*\)\].*/\1/' "$tmp/lp" | tr ',' '\n' | grep -c '^-')
n_raw=$(sed 's/.*"raw_logprobs":\[\([^]]*\)\].*/\1/' "$tmp/lp" | tr ',' '\n' | grep -c '^-')
check "--logprobs: 7 ids, 7 negative logprobs and raw_logprobs" \
    [ "$n_ids $n_lp $n_raw" = "7 7 7" ]

# --- bad data: FILE:LINE and exit 1 ------------------------------------------------------------
printf '{"prompt":"a"}\n{"text":"x"}\n' >"$tmp/bad.jsonl"
status 1 "a record without a prompt exits 1" "$gen" --threads 1 -m "$m" --greedy "$tmp/bad.jsonl"
check "... saying FILE:LINE: no prompt field" grep -q \
    "bad.jsonl:2: no prompt field (expected prompt, instruction or messages)" "$tmp/err"
printf '{"prompt":"a"}\n\n{"prompt": oops}\n' >"$tmp/bad2.jsonl"
status 1 "invalid JSON exits 1" "$gen" --threads 1 -m "$m" --greedy "$tmp/bad2.jsonl"
check "... saying FILE:LINE" grep -q "bad2.jsonl:3:" "$tmp/err"
printf '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n' \
    >"$tmp/bad3.jsonl"
status 1 "messages ending with the assistant exit 1" "$gen" --threads 1 -m "$m" "$tmp/bad3.jsonl"
check "... saying FILE:LINE" grep -q "bad3.jsonl:1: .*user turn" "$tmp/err"
awk 'BEGIN { printf "{\"prompt\":\""; for (i = 0; i < 600; i++) printf "Lily "; print "\"}" }' \
    >"$tmp/long.jsonl"
status 1 "a prompt longer than the model's positions exits 1" "$gen" --threads 1 -m "$m" \
    -o "$tmp/long.out" "$tmp/long.jsonl"
check "... saying FILE:LINE" grep -q "long.jsonl:1: a prompt of [0-9]* tokens" "$tmp/err"
check "... leaving no -o file behind" [ -z "$(ls "$tmp" | grep long.out)" ]
"$gen" --threads 1 -m "$m" --raw-prompt --greedy --max-prompt-tokens 500 --max-new-tokens 100 \
    "$tmp/long.jsonl" >"$tmp/long.out" 2>"$tmp/err"
check "... fits with --max-prompt-tokens; the positions end it (length)" grep -q \
    '"prompt_tokens":500,"response_tokens":12,"finish_reason":"length","truncated_prompt_tokens":' \
    "$tmp/long.out"

# --- NaN weights: exit 3, nothing printed (garbage was printed with exit 0) -----------------
cp -r "$m" "$tmp/nan"
st=$tmp/nan/model.safetensors
size=$(wc -c <"$st")
head -c 1024 /dev/zero | tr '\0' '\377' | # 0xffffffff is a NaN as F32, BF16 and F16
    dd of="$st" bs=1 seek=$((size - 1024)) conv=notrunc 2>/dev/null
printf '{"prompt":"Once"}\n' >"$tmp/once.jsonl"
status 3 "NaN weights exit 3" "$gen" --threads 1 -m "$tmp/nan" --greedy --max-new-tokens 4 \
    "$tmp/once.jsonl"
check "... saying the logits are not finite, printing nothing" \
    sh -c "grep -q 'logits are not finite' '$tmp/err' && [ ! -s '$tmp/out' ]"
exit 0
