#!/bin/sh
# real_files.sh -- real files as found (issue 11), with stories260K and the data in ../shared:
# saferlhf-generate reads the safety-tuned-llamas layout {"instructions": [...]} (built here from
# the Safe RLHF red-team prompts), JSON arrays of strings and --field, and says what a file is
# when it is not JSON Lines; saferlhf-eval accuracy skips (--skip-bad-records) and counts by
# reason an HH record whose rejected dialogue ends with a Human turn, reports the pairs tied by
# --max-length truncation apart (n_tied), and agrees with saferlhf-train-rm --eval-data;
# saferlhf-ppo-lag reads the same prompt files.
# Run from the repository root; prints PASS/FAIL/SKIP lines.
suite=real_files
. "$(dirname "$0")/lib.sh"
gen=$bin/saferlhf-generate
need_built "$gen" "$bin/saferlhf-convert" "$bin/saferlhf-eval" "$bin/saferlhf-train-rm" \
    "$bin/saferlhf-ppo-lag"
model=$shared/models/stories260K/stories260K.bin
problems=$shared/data/eval-prompts/safe-rlhf-problems.json
hh=$shared/data/hh-rlhf/helpful-base/test.jsonl.gz
for f in "$model" "$problems" "$hh"; do
    if [ ! -f "$f" ]; then
        echo "SKIP real_files: $f absent"
        exit 0
    fi
done
m=$tmp/s260k
"$bin/saferlhf-convert" -q llama2c "$model" "$shared/models/stories260K/tok512.bin" -o "$m" ||
    bad "convert"
num() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"; } # num KEY FILE: a number of a JSON line

# --- prompt files ----------------------------------------------------------------------------
# the 83 red-team prompts as JSON strings (the file keeps one "prompt" per line), then as
# JSON Lines records, a JSON array of strings and the safety-tuned-llamas object layouts
sed -n 's/^ *"prompt": \(".*"\),$/\1/p' "$problems" >"$tmp/strings"
check "83 red-team prompts extracted" test "$(wc -l <"$tmp/strings")" -eq 83
sed 's/^/{"prompt": /; s/$/}/' "$tmp/strings" >"$tmp/p.jsonl"
{ echo '['; sed '$!s/$/,/' "$tmp/strings"; echo ']'; } >"$tmp/strings.json"
{ echo '{'; echo '  "instructions": ['; sed '$!s/$/,/; s/^/    /' "$tmp/strings"; echo '  ]'
  echo '}'; } >"$tmp/stl.json"
{ printf '{"instructions": ['; paste -sd, "$tmp/strings" | tr -d '\n'; echo ']}'; } \
    >"$tmp/stl1.json"
gzip -c "$tmp/stl.json" >"$tmp/stl.json.gz"
run() { "$gen" -q --threads 1 -m "$m" --template raw --greedy --max-new-tokens 4 "$@"; }
run "$tmp/p.jsonl" >"$tmp/want" 2>"$tmp/err" || bad "generate on JSON Lines: $(cat "$tmp/err")"
check "83 generations from JSON Lines" test "$(wc -l <"$tmp/want")" -eq 83
for f in strings.json stl.json stl1.json stl.json.gz; do
    run "$tmp/$f" >"$tmp/got" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 0 ] && cmp -s "$tmp/got" "$tmp/want"; then ok "$f: the same 83 generations"
    else bad "$f: exit $rc, $(wc -l <"$tmp/got") lines: $(head -c 300 "$tmp/err")"; fi
done
# two lists: --field chooses, without it the error names them
{ echo '{'; echo ' "outputs": ["x", "y"],'; echo ' "instructions": ['
  sed '$!s/$/,/' "$tmp/strings"; echo ' ]'; echo '}'; } >"$tmp/two.json"
run --field instructions "$tmp/two.json" >"$tmp/got" 2>"$tmp/err"
check "--field instructions: the same 83 generations" cmp -s "$tmp/got" "$tmp/want"
expect_rc "two lists without --field exit 1" 1 run "$tmp/two.json"
check "the error says what the file holds" grep -q \
    "two.json:1: a JSON object with 2 lists of records (\"outputs\", \"instructions\")" "$tmp/err"
expect_rc "--field on a JSON Lines file exits 1" 1 run --field instructions "$tmp/p.jsonl"
check "and says it is JSON Lines" grep -q "p.jsonl:1: JSON Lines records, not one JSON object" \
    "$tmp/err"
printf '{\n  "name": "x",\n  "n": 3\n}\n' >"$tmp/obj.json"
expect_rc "an object with no list exits 1" 1 run "$tmp/obj.json"
check "the error says it is a JSON object, not invalid JSON" grep -q \
    "obj.json:1: a JSON object with no list of records or strings" "$tmp/err"
# a bad element is reported at its own line
sed '3s/^    /    7, /' "$tmp/stl.json" >"$tmp/bad.json"
expect_rc "a number in the list exits 1" 1 run "$tmp/bad.json"
check "at the element's line" grep -q "bad.json:3: record is not a JSON object or string" \
    "$tmp/err"

# --- eval accuracy: bad HH records, ties, agreement with train-rm ----------------------------
# (the reward model trained here also serves saferlhf-ppo-lag's prompt files below)
gzip -dc "$hh" | head -n 200 >"$tmp/hh.jsonl"
# record 7's rejected dialogue ends with a Human turn (two such records are in HH-RLHF
# helpful-online test)
sed '7s/"}$/\\n\\nHuman: And then?"}/' "$tmp/hh.jsonl" >"$tmp/hh_bad.jsonl"
check "the mutation ends a rejected dialogue with a Human turn" \
    grep -q 'Human: And then?"}$' "$tmp/hh_bad.jsonl"
"$bin/saferlhf-train-rm" -q --threads 2 -m "$m" -d "$tmp/hh.jsonl" --eval-data "$tmp/hh.jsonl" \
    --max-length 64 --max-steps 2 --batch-size 32 -o "$tmp/rm" --log "$tmp/rm.log" \
    2>"$tmp/err" || bad "train-rm: $(tail -c 300 "$tmp/err")"
tail -n 1 "$tmp/rm.log" >"$tmp/rm_last"
acc() { "$bin/saferlhf-eval" accuracy -q --threads 2 -m "$tmp/rm" --max-length 64 "$@"; }
expect_rc "eval accuracy stops at the bad record without --skip-bad-records" 1 acc \
    "$tmp/hh_bad.jsonl"
check "naming it" grep -q "hh_bad.jsonl:7: \"rejected\" does not end with an Assistant turn" \
    "$tmp/err"
acc --skip-bad-records "$tmp/hh_bad.jsonl" >"$tmp/acc_bad.json" 2>"$tmp/err"
check "--skip-bad-records: exit 0" test $? -eq 0
check "the bad record counted by reason" grep -q '"skipped_by_reason":{[^}]*"bad_record":1' \
    "$tmp/acc_bad.json"
acc "$tmp/hh.jsonl" >"$tmp/acc.json" 2>"$tmp/err" || bad "eval accuracy: $(cat "$tmp/err")"
n=$(num n "$tmp/acc.json") tied=$(num n_tied "$tmp/acc.json")
check "ties reported apart at --max-length 64 ($tied of $n)" \
    sh -c "[ '${tied:-0}' -gt 0 ] && [ '$tied' -lt '$n' ]"
check "skipping the bad record leaves one pair fewer" \
    test "$(num n "$tmp/acc_bad.json")" -eq $((n - 1))
check "the same tied pairs as train-rm drops" test "$tied" = "$(num eval_pairs_tied "$tmp/rm_last")"
check "the same distinguishable pairs" test $((n - tied)) -eq "$(num eval_pairs "$tmp/rm_last")"
same() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(a != "" && d < 1e-6 && d > -1e-6) }'; }
a1=$(num accuracy "$tmp/acc.json") a2=$(num eval_accuracy "$tmp/rm_last")
check "eval accuracy = train-rm eval_accuracy ($a1, $a2)" same "$a1" "$a2"
w1=$(num accuracy_tie_as_wrong "$tmp/acc.json") w2=$(num eval_accuracy_tie_as_wrong "$tmp/rm_last")
check "tie-as-wrong figures agree ($w1, $w2)" same "$w1" "$w2"
check "tie-as-wrong = accuracy x distinguishable / all" \
    awk -v a="$a1" -v w="$w1" -v n="$n" -v t="$tied" \
    'BEGIN { d = a * (n - t) / n - w; exit !(d < 1e-9 && d > -1e-9) }'

# --- saferlhf-ppo-lag reads its prompts with the same reader ---------------------------------
"$bin/saferlhf-ppo-lag" -v --threads 1 --actor "$m" --reward-model "$tmp/rm" --cost-model "$tmp/rm" \
    -p "$tmp/stl.json" -o "$tmp/ppo" --max-steps 1 --rollout-batch-size 2 --max-new-tokens 4 \
    --log "$tmp/ppo.log" >/dev/null 2>"$tmp/err"
check "ppo-lag trains on the safety-tuned-llamas layout" test "$(wc -l <"$tmp/ppo.log")" -eq 1
