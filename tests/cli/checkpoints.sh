#!/bin/sh
# checkpoints.sh -- a checkpoint is never lost and nothing that is not ours is deleted:
# kill -9 of saferlhf-sft before each file-system step of its save (tests/shim/kill_at.so) and
# the next --resume run ends with the weights of an uninterrupted run, bitwise, with no
# OUT.tmp.N / OUT.old.N left; a kill between the two renames (no OUT at all) is recovered with
# a message; the leftovers of killed runs are removed by the next; -o refuses a directory holding files
# saferlhf did not write (a user's notes.txt beside a config.json) and keeps them.
# Run from the repository root; prints PASS/FAIL/SKIP lines.
suite=checkpoints
. "$(dirname "$0")/lib.sh"
sft=$bin/saferlhf-sft
shim=${BUILD:-build}/tests/shim/kill_at.so
need_built "$sft" "$shim"
# under make asan the shim is preloaded before the sanitizer's runtime: allow it
[ -n "$ASAN_OPTIONS" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
shim=$(cd "$(dirname "$shim")" && pwd)/$(basename "$shim")

scratch="--init-config tests/data/sft_tiny_config.json --tokenizer tests/data/sft_demo_tokenizer"
r="-d tests/data/sft_demo.jsonl --batch-size 8 --lr 3e-3 --threads 1 -q --max-steps 6"
leftovers() { ls -d "$1".tmp.* "$1".old.* 2>/dev/null; }

# the reference: 6 steps in one run; the base: stopped after 3 (a resumable checkpoint)
"$sft" $scratch $r -o "$tmp/ref" 2>"$tmp/err" || bad "reference run: $(cat "$tmp/err")"
"$sft" $scratch $r -o "$tmp/base" --stop-after 3 2>"$tmp/err" || bad "base run: $(cat "$tmp/err")"

# --- kill -9 before each step of the final save of a resumed run ---
rm -rf "$tmp/run"
cp -a "$tmp/base" "$tmp/run"
SRL_KILL_LOG=$tmp/steps LD_PRELOAD=$shim "$sft" --resume "$tmp/run" -o "$tmp/run" $r \
    2>"$tmp/err" || bad "counting run: $(cat "$tmp/err")"
# fsync changes no name: a kill before it leaves what a kill before the next step leaves
grep -v ' fsync ' "$tmp/steps" | cut -d' ' -f1 >"$tmp/kill_points"
echo $(($(tail -1 "$tmp/steps" | cut -d' ' -f1) + 1)) >>"$tmp/kill_points" # after the last
n=0 failed=0
for k in $(cat "$tmp/kill_points"); do
    n=$((n + 1))
    rm -rf "$tmp/run" "$tmp"/run.tmp.* "$tmp"/run.old.*
    cp -a "$tmp/base" "$tmp/run"
    SRL_KILL_AT=$k LD_PRELOAD=$shim "$sft" --resume "$tmp/run" -o "$tmp/run" $r 2>/dev/null
    killed=$?
    step=$(sed -n "s|^$k ||p" "$tmp/steps" | sed "s|$tmp/||g")
    "$sft" --resume "$tmp/run" -o "$tmp/run" $r 2>"$tmp/err"
    rc=$?
    if [ $rc -ne 0 ] || ! cmp -s "$tmp/ref/model.safetensors" "$tmp/run/model.safetensors" ||
        [ -n "$(leftovers "$tmp/run")" ]; then
        bad "killed (status $killed) before step $k (${step:-none, after the last}): resume \
exit $rc, $(cmp "$tmp/ref/model.safetensors" "$tmp/run/model.safetensors" 2>&1), left: \
$(leftovers "$tmp/run" | sed "s|$tmp/||g" | tr '\n' ' ') $(tail -c 300 "$tmp/err")"
        failed=$((failed + 1))
    fi
done
[ $failed -eq 0 ] && ok "kill -9 at each of $n save steps: the resumed run's weights equal an \
uninterrupted run's, bitwise, nothing left behind"

# --- killed between the two renames: no OUT, only OUT.old.N and OUT.tmp.N ---
k=$(grep -n "rename $tmp/run.tmp.[0-9]* -> $tmp/run\$" "$tmp/steps" | cut -d' ' -f1 | cut -d: -f2)
rm -rf "$tmp/run" "$tmp"/run.tmp.* "$tmp"/run.old.*
cp -a "$tmp/base" "$tmp/run"
SRL_KILL_AT=$k LD_PRELOAD=$shim "$sft" --resume "$tmp/run" -o "$tmp/run" $r 2>/dev/null
if [ ! -e "$tmp/run" ] && [ -n "$(ls -d "$tmp"/run.old.*)" ] && [ -n "$(ls -d "$tmp"/run.tmp.*)" ]
then
    "$sft" --resume "$tmp/run" -o "$tmp/run" $r -v 2>"$tmp/err"
    rc=$?
    [ $rc -eq 0 ] && grep -q "run: restored from '.*run.tmp.[0-9]*'" "$tmp/err" &&
        cmp -s "$tmp/ref/model.safetensors" "$tmp/run/model.safetensors" &&
        ok "a kill between the renames: --resume restores OUT and says so" ||
        bad "a kill between the renames: exit $rc $(tail -c 300 "$tmp/err")"
else
    bad "the kill at step $k did not leave OUT.old.N and OUT.tmp.N without OUT"
fi

# --- leftovers of runs killed while writing are removed by the next run ---
rm -rf "$tmp/run" "$tmp"/run.tmp.* "$tmp"/run.old.*
cp -a "$tmp/base" "$tmp/run"
k=$(grep -m1 -n "rename .*model.safetensors.tmp" "$tmp/steps" | cut -d: -f1) # mid-save
i=0
while [ $i -lt 20 ]; do
    SRL_KILL_AT=$k LD_PRELOAD=$shim "$sft" --resume "$tmp/run" -o "$tmp/run" $r 2>/dev/null
    i=$((i + 1))
done
before=$(leftovers "$tmp/run" | wc -l)
"$sft" --resume "$tmp/run" -o "$tmp/run" $r 2>/dev/null
after=$(leftovers "$tmp/run" | wc -l)
[ "$before" -le 1 ] && [ "$after" -eq 0 ] &&
    ok "20 runs killed mid-save leave $before temporary (the last one's); the next run none" ||
    bad "leftovers: $before after 20 kills, $after after the next run"

# --- never delete what is not ours ---
mkdir "$tmp/mine"
cp "$tmp/ref/config.json" "$tmp/mine/config.json"
echo "my notes" >"$tmp/mine/notes.txt"
expect_rc "-o DIR holding notes.txt beside config.json exits 1" 1 "$sft" $scratch $r \
    -o "$tmp/mine" --max-steps 1
grep -q "notes.txt" "$tmp/err" && [ "$(cat "$tmp/mine/notes.txt")" = "my notes" ] &&
    [ -z "$(leftovers "$tmp/mine")" ] &&
    ok "the refusal names notes.txt and the directory is untouched" ||
    bad "refusal: $(cat "$tmp/err") $(ls "$tmp/mine")"
echo "more notes" >"$tmp/ref/notes.txt"
expect_rc "-o over our own checkpoint with a file added to it exits 1" 1 "$sft" $scratch $r \
    -o "$tmp/ref" --max-steps 1
check "the added file is kept" [ -f "$tmp/ref/notes.txt" ]
