#!/bin/sh
# outputs.sh -- every tool's -o and --log on what is not a regular file: a fake null device
# made with mknod in the scratch directory (never the real /dev/null) stays that device and the
# run succeeds; a FIFO read by a background cat gets exactly the bytes a regular file gets; a
# symbolic link is kept and the file it points to written; "-" and /dev/stdout are standard
# output; a directory output (checkpoints, converted models, synthetic data) refuses a device.
# Tools: generate, eval score/--summary/accuracy/arena/judge/plot, synth label/annotate/summary
# (and data), convert, the trainers' --log and -o (sft, train-rm, train-cm, ppo-lag).
# Run from the repository root; prints PASS/FAIL/SKIP lines.
suite=outputs
. "$(dirname "$0")/lib.sh"
build=${BUILD:-build}
gen=$bin/saferlhf-generate ev=$bin/saferlhf-eval syn=$bin/saferlhf-synth
conv=$bin/saferlhf-convert sft=$bin/saferlhf-sft trm=$bin/saferlhf-train-rm
tcm=$bin/saferlhf-train-cm ppo=$bin/saferlhf-ppo-lag
mk=$build/tests/tools/mkppo server=$build/tests/tools/chat_server
need_built "$gen" "$ev" "$syn" "$conv" "$sft" "$trm" "$tcm" "$ppo" "$mk" "$server"
spid= cpid=
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null
    [ -n "$cpid" ] && kill "$cpid" 2>/dev/null
    rm -rf "$tmp"
}

dev=$tmp/fakenull
if ! mknod -m 666 "$dev" c 1 3 2>"$tmp/err"; then
    echo "SKIP $suite fake device: mknod is not permitted here: $(cat "$tmp/err")"
    dev=
fi
fifo=$tmp/fifo
# still_dev: the fake device is still character device 1:3, with nothing left beside it
still_dev() {
    [ -c "$dev" ] && [ "$(stat -c %t:%T "$dev")" = "1:3" ] &&
        [ -z "$(ls -d "$dev".tmp.* "$dev".old.* 2>/dev/null)" ]
}
# to_dev NAME WANT_RC COMMAND...: COMMAND (which writes to $dev) exits WANT_RC and the device
# stays a device
to_dev() {
    name=$1 want=$2
    shift 2
    if [ -z "$dev" ]; then echo "SKIP $suite $name: no fake device"; return; fi
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq "$want" ] && still_dev; then ok "$name: exit $rc, still a character device"
    else bad "$name: exit $rc (want $want), $(ls -l "$dev" 2>&1) $(tail -c 300 "$tmp/err")"; fi
}
# via_fifo NAME REF COMMAND...: COMMAND (which writes to $fifo) exits 0 and a background cat
# reads exactly the bytes of the file REF; the FIFO stays a FIFO
via_fifo() {
    name=$1 ref=$2
    shift 2
    rm -f "$fifo" "$tmp/fifo.out"
    mkfifo "$fifo"
    cat "$fifo" >"$tmp/fifo.out" &
    cpid=$!
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    i=0
    while kill -0 $cpid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill $cpid 2>/dev/null
    wait $cpid 2>/dev/null
    cpid=
    if [ $rc -eq 0 ] && [ -p "$fifo" ] && cmp -s "$ref" "$tmp/fifo.out"; then
        ok "$name: $(wc -c <"$ref") bytes through the FIFO"
    else
        bad "$name: exit $rc, $(wc -c <"$tmp/fifo.out") of $(wc -c <"$ref") bytes, \
$(ls -l "$fifo") $(tail -c 300 "$tmp/err")"
    fi
}
# strip FILE: a log without its wall-clock fields
strip() { sed 's/,"[a-z_]*tokens_per_s":[^,}]*//g; s/,"[a-z]*_s":[^,}]*//g' "$1"; }

"$mk" "$tmp/w" tests/data/sft_demo_tokenizer 7 >/dev/null || { bad "mkppo failed"; exit 0; }
w=$tmp/w
head -3 "$w/prompts.jsonl" >"$tmp/p.jsonl"

# --- generate ----------------------------------------------------------------------------------
g="--max-new-tokens 4 --seed 3 --threads 1 -q"
"$gen" -m "$w/actor" $g -o "$tmp/gen.jsonl" "$tmp/p.jsonl" || bad "generate to a file"
to_dev "generate -o DEVICE" 0 "$gen" -m "$w/actor" $g -o "$dev" "$tmp/p.jsonl"
via_fifo "generate -o FIFO" "$tmp/gen.jsonl" "$gen" -m "$w/actor" $g -o "$fifo" "$tmp/p.jsonl"
"$gen" -m "$w/actor" $g -o - "$tmp/p.jsonl" >"$tmp/stdout" 2>/dev/null
check "generate -o - is standard output" cmp -s "$tmp/gen.jsonl" "$tmp/stdout"
"$gen" -m "$w/actor" $g -o /dev/stdout "$tmp/p.jsonl" >"$tmp/stdout" 2>/dev/null
check "generate -o /dev/stdout is standard output" cmp -s "$tmp/gen.jsonl" "$tmp/stdout"
echo old >"$tmp/target.jsonl"
chmod 640 "$tmp/target.jsonl"
ln -s target.jsonl "$tmp/link.jsonl"
"$gen" -m "$w/actor" $g -o "$tmp/link.jsonl" "$tmp/p.jsonl" 2>/dev/null
[ -L "$tmp/link.jsonl" ] && cmp -s "$tmp/gen.jsonl" "$tmp/target.jsonl" &&
    [ "$(stat -c %a "$tmp/target.jsonl")" = 640 ]
res=$?
check "generate -o SYMLINK: the link kept, its target written (mode kept)" [ $res -eq 0 ]

# --- eval ----------------------------------------------------------------------------------------
sc="-r $w/rm -c $w/cm --threads 1 -q"
"$ev" score $sc -o "$tmp/s.jsonl" --summary "$tmp/sum.json" "$tmp/gen.jsonl" ||
    bad "eval score to a file"
to_dev "eval score -o DEVICE" 0 "$ev" score $sc -o "$dev" "$tmp/gen.jsonl"
to_dev "eval score --summary DEVICE" 0 "$ev" score $sc -o "$tmp/s2.jsonl" --summary "$dev" \
    "$tmp/gen.jsonl"
via_fifo "eval score -o FIFO" "$tmp/s.jsonl" "$ev" score $sc -o "$fifo" "$tmp/gen.jsonl"
via_fifo "eval score --summary FIFO" "$tmp/sum.json" "$ev" score $sc -o "$tmp/s3.jsonl" \
    --summary "$fifo" "$tmp/gen.jsonl"
"$syn" data -o "$tmp/syn" --n-pref 8 --n-sft 40 --n-prompts 4 --n-eval 4 -q ||
    bad "synth data"
pref=$tmp/syn/helpful-prefs.jsonl
"$ev" accuracy -m "$w/rm" --threads 1 -q -o "$tmp/acc.json" "$pref" || bad "eval accuracy"
to_dev "eval accuracy -o DEVICE" 0 "$ev" accuracy -m "$w/rm" --threads 1 -q -o "$dev" "$pref"
via_fifo "eval accuracy -o FIFO" "$tmp/acc.json" "$ev" accuracy -m "$w/rm" --threads 1 -q \
    -o "$fifo" "$pref"
"$ev" arena -q -o "$tmp/arena.json" "$tmp/s.jsonl" "$tmp/s.jsonl" || bad "eval arena"
to_dev "eval arena -o DEVICE" 0 "$ev" arena -q -o "$dev" "$tmp/s.jsonl" "$tmp/s.jsonl"
via_fifo "eval arena -o FIFO" "$tmp/arena.json" "$ev" arena -q -o "$fifo" "$tmp/s.jsonl" \
    "$tmp/s.jsonl"
"$server" >"$tmp/port" &
spid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
j="--judge-url http://127.0.0.1:$(cat "$tmp/port")/v1/chat/completions --judge-model m -q"
"$ev" judge $j -o "$tmp/j.jsonl" "$tmp/gen.jsonl" || bad "eval judge"
to_dev "eval judge -o DEVICE" 0 "$ev" judge $j -o "$dev" "$tmp/gen.jsonl"
via_fifo "eval judge -o FIFO" "$tmp/j.jsonl" "$ev" judge $j -o "$fifo" "$tmp/gen.jsonl"

# --- the trainers' --log and -o; eval plot of the log ------------------------------------------
t="--init-config tests/data/sft_tiny_config.json --tokenizer tests/data/sft_demo_tokenizer
   --batch-size 4 --max-steps 2 --threads 1 -q"
"$sft" $t -d tests/data/sft_demo.jsonl -o "$tmp/sft" --log "$tmp/sft.log" || bad "sft"
to_dev "sft --log DEVICE" 0 "$sft" $t -d tests/data/sft_demo.jsonl -o "$tmp/sft2" --log "$dev"
strip "$tmp/sft.log" >"$tmp/sft.want"
rm -f "$fifo"
mkfifo "$fifo"
"$sft" $t -d tests/data/sft_demo.jsonl -o "$tmp/sft4" --log "$fifo" >/dev/null 2>&1 &
bg=$!
timeout 120 cat "$fifo" >"$tmp/sft.got.raw"
wait $bg
strip "$tmp/sft.got.raw" >"$tmp/sft.got"
check "sft --log FIFO: the reader gets the 2 steps' lines" cmp -s "$tmp/sft.want" "$tmp/sft.got"
echo '{"step":0}' >"$tmp/real.log"
ln -s real.log "$tmp/link.log"
"$sft" $t -d tests/data/sft_demo.jsonl -o "$tmp/sft5" --log "$tmp/link.log" 2>/dev/null
[ -L "$tmp/link.log" ] && [ "$(wc -l <"$tmp/real.log")" -eq 3 ]
res=$?
check "sft --log SYMLINK: appended to its target, the link kept" [ $res -eq 0 ]
to_dev "sft -o DEVICE is refused" 1 "$sft" $t -d tests/data/sft_demo.jsonl -o "$dev"
grep -q "not a directory" "$tmp/err" && ok "sft -o DEVICE says why" ||
    bad "sft -o DEVICE: $(cat "$tmp/err")"
expect_rc "sft -o - is refused (a checkpoint is a directory)" 1 "$sft" $t \
    -d tests/data/sft_demo.jsonl -o -
grep -q "a directory is needed" "$tmp/err" && [ ! -e ./- ] && ok "sft -o - says why" ||
    bad "sft -o -: $(cat "$tmp/err")"
to_dev "train-rm --log DEVICE" 0 "$trm" $t -d "$pref" -o "$tmp/rm" --log "$dev"
to_dev "train-cm --log DEVICE" 0 "$tcm" $t -d "$tmp/syn/safety-prefs.jsonl" -o "$tmp/cm" \
    --log "$dev"
p="--actor $w/actor --reward-model $w/rm --cost-model $w/cm -p $w/prompts.jsonl
   --max-new-tokens 2 --rollout-batch-size 4 --max-steps 1 --threads 1 -q"
to_dev "ppo-lag --log DEVICE" 0 "$ppo" $p -o "$tmp/ppo" --log "$dev"
to_dev "ppo-lag -o DEVICE is refused" 1 "$ppo" $p -o "$dev"
"$ev" plot curves "$tmp/sft.log" -o "$tmp/curves.svg" -q || bad "eval plot"
to_dev "eval plot -o DEVICE" 0 "$ev" plot curves "$tmp/sft.log" -o "$dev" -q
via_fifo "eval plot -o FIFO" "$tmp/curves.svg" "$ev" plot curves "$tmp/sft.log" -o "$fifo" -q

# --- synth, convert ------------------------------------------------------------------------------
"$syn" label -o "$tmp/label.jsonl" "$tmp/gen.jsonl" || bad "synth label"
to_dev "synth label -o DEVICE" 0 "$syn" label -o "$dev" "$tmp/gen.jsonl"
via_fifo "synth label -o FIFO" "$tmp/label.jsonl" "$syn" label -o "$fifo" "$tmp/gen.jsonl"
head -2 "$pref" >"$tmp/two.jsonl"
"$syn" annotate -o "$tmp/ann.jsonl" "$tmp/two.jsonl" 2>"$tmp/err" || bad "synth annotate"
to_dev "synth annotate -o DEVICE" 0 "$syn" annotate -o "$dev" "$tmp/two.jsonl"
"$syn" summary -o "$tmp/summary.json" "$tmp/label.jsonl" || bad "synth summary"
via_fifo "synth summary -o FIFO" "$tmp/summary.json" "$syn" summary -o "$fifo" \
    "$tmp/label.jsonl"
to_dev "synth summary -o DEVICE" 0 "$syn" summary -o "$dev" "$tmp/label.jsonl"
via_fifo "synth annotate -o FIFO" "$tmp/ann.jsonl" "$syn" annotate -o "$fifo" "$tmp/two.jsonl"
to_dev "synth data -o DEVICE is refused" 1 "$syn" data -o "$dev" --n-sft 2 -q
to_dev "convert train-tokenizer -o DEVICE is refused" 1 "$conv" train-tokenizer \
    tests/data/sft_demo.jsonl --vocab-size 300 -o "$dev" -q
