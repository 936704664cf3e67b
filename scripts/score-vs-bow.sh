#!/bin/sh
# score-vs-bow.sh -- a cost model and a reward model fine-tuned from a base checkpoint, beside
# the bag-of-words baseline (scripts/bow_baseline.py) on the same held-out pairs, with 95%
# intervals.
#
#   scripts/score-vs-bow.sh BASE_DIR OUT_DIR       (repository root, after make)
#
# Cost model: the PKU-SafeRLHF safety pairs split by prompt.  Every pair whose prompt is one of
#   the prompts of safety-pairs-test.jsonl is held out, whole prompts at a time; the pairs of the
#   other prompts train (the script checks that no prompt is on both sides and says how many of
#   each).  scripts/pretrain-base.sh keeps these prompts out of the pretraining corpus too.
# Reward model: HH-RLHF helpful-base test, every 5th record held out (as bench_score_models.sh).
# Figures: CM pairwise accuracy (the unsafer answer costs more), CM sign accuracy (cost > 0
# exactly for the unsafe answers, over both answers of every held-out pair), RM pairwise
# accuracy (better > worse); the baseline's on the same pairs (the HH pairs the trainer drops
# as ties within RM_MAXLEN tokens are dropped there too); Wilson 95% intervals.
# Knobs (environment): CM_STEPS [400], CM_MAXLEN [512: 43% of the PKU pairs were cut at 192],
# RM_STEPS [150], RM_MAXLEN [256], BATCH [16], LR [5e-4], WARMUP [0.03], EXTRA (more trainer
# options, e.g. "--regularization 0.01"), THREADS [1 each, the two models trained at once],
# PYTHON [python3: with scikit-learn and transformers for the baseline], SCRATCH=1 (also the
# same config from random weights: what the pretraining adds), RM=0 (the cost model only),
# CM_EXTRA_DATA (more safety preferences for the CM, e.g. ../shared/data/hh-rlhf/harmless-base/
# test.jsonl.gz: {chosen, rejected} with chosen the safer, no safety labels, so only the
# preference term; pairs whose first human turn is a held-out PKU prompt are left out, 15 of
# harmless-base test; the baseline trains on them too).
# Writes OUT_DIR/report.json ({"cm": ..., "rm": ..., "baseline": ...}) and prints a table.
set -e
base=${1:?usage: scripts/score-vs-bow.sh BASE_DIR OUT_DIR}
out=${2:?usage: scripts/score-vs-bow.sh BASE_DIR OUT_DIR}
bin=${BUILD:-build}/bin
shared=${SAFERLHF_SHARED:-../shared}
py=${PYTHON:-python3}
pku=$shared/data/pku-saferlhf
hh=$shared/data/hh-rlhf/helpful-base/test.jsonl.gz
for f in "$pku/safety-pairs-train.jsonl" "$pku/safety-pairs-test.jsonl" "$hh" \
         "$base/config.json"; do
    [ -r "$f" ] || { echo "score-vs-bow: missing $f" >&2; exit 1; }
done
mkdir -p "$out"
flags="--batch-size ${BATCH:-16} --lr ${LR:-5e-4} --warmup-ratio ${WARMUP:-0.03}
       --skip-bad-records --threads ${THREADS:-1} -q ${EXTRA:-}"

# the splits: PKU by prompt, HH every 5th record
cat "$pku/safety-pairs-train.jsonl" "$pku/safety-pairs-test.jsonl" >"$out/pku-all.jsonl"
"$py" - "$pku/safety-pairs-test.jsonl" "$out/pku-all.jsonl" "$out" <<'EOF'
import json, sys
held = {json.loads(l)["prompt"] for l in open(sys.argv[1])}
recs = [json.loads(l) for l in open(sys.argv[2])]
tr = [r for r in recs if r["prompt"] not in held]
te = [r for r in recs if r["prompt"] in held]
assert not {r["prompt"] for r in tr} & {r["prompt"] for r in te}
for name, rs in (("cm-train", tr), ("cm-test", te)):
    with open(f"{sys.argv[3]}/{name}.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rs)
print(f"score-vs-bow: PKU-SafeRLHF split by prompt: {len({r['prompt'] for r in tr})} prompts "
      f"({len(tr)} pairs) train, {len(held)} prompts ({len(te)} pairs) held out",
      file=sys.stderr)
EOF
# the extra CM pairs, less those whose first human turn is a held-out prompt
if [ -n "${CM_EXTRA_DATA:-}" ]; then
    "$py" - "$out/cm-test.jsonl" "$CM_EXTRA_DATA" "$out/cm-train.jsonl" <<'EOF'
import gzip, json, sys
norm = lambda t: " ".join(t.lower().split())
held = {norm(json.loads(l)["prompt"]) for l in open(sys.argv[1])}
path = sys.argv[2]
recs = [json.loads(l) for l in (gzip.open(path, "rt") if path.endswith(".gz") else open(path))]
first = lambda r: norm(r["prompt"] if "prompt" in r else
                       r["chosen"].split("\n\nHuman:", 1)[-1].split("\n\nAssistant:", 1)[0])
keep = [r for r in recs if first(r) not in held]
with open(sys.argv[3], "a") as f:
    f.writelines(json.dumps(r) + "\n" for r in keep)
print(f"score-vs-bow: {len(keep)} extra CM pairs ({len(recs) - len(keep)} left out: their "
      f"first human turn is a held-out prompt)", file=sys.stderr)
EOF
fi
zcat "$hh" | awk 'NR % 5 != 0' >"$out/rm-train.jsonl"
zcat "$hh" | awk 'NR % 5 == 0' >"$out/rm-test.jsonl"

# train NAME TOOL KIND MODEL_ARGS...: fine-tune, eval on the held-out pairs at the end
train() {
    name=$1 tool=$2 kind=$3
    shift 3
    if [ "$kind" = cm ]; then steps=${CM_STEPS:-400} len=${CM_MAXLEN:-512}; else
        steps=${RM_STEPS:-150} len=${RM_MAXLEN:-256}; fi
    rm -f "$out/$name.log"
    "$bin/$tool" "$@" -d "$out/$kind-train.jsonl" --eval-data "$out/$kind-test.jsonl" \
        -o "$out/$name" --max-steps "$steps" --max-length "$len" \
        --eval-every "$((steps / 2))" --log "$out/$name.log" $flags 2>"$out/$name.err"
}
t0=$(date +%s)
train cm saferlhf-train-cm cm -m "$base" &
cm_pid=$!
[ "${RM:-1}" = 0 ] || train rm saferlhf-train-rm rm -m "$base" ||
    { echo "score-vs-bow: rm failed" >&2; cat "$out/rm.err" >&2; }
wait "$cm_pid" || { echo "score-vs-bow: cm failed" >&2; cat "$out/cm.err" >&2; }
if [ "${SCRATCH:-0}" = 1 ]; then
    cp "$base/config.json" "$out/scratch-config.json"
    train cm-scratch saferlhf-train-cm cm --init-config "$out/scratch-config.json" \
        --tokenizer "$base" &
    cm_pid=$!
    [ "${RM:-1}" = 0 ] || train rm-scratch saferlhf-train-rm rm \
        --init-config "$out/scratch-config.json" --tokenizer "$base" || true
    wait "$cm_pid" || true
fi
t1=$(date +%s)

"$py" scripts/bow_baseline.py cm "$out/cm-train.jsonl" "$out/cm-test.jsonl" >"$out/bow-cm.json"
[ "${RM:-1}" = 0 ] ||
    "$py" scripts/bow_baseline.py rm "$out/rm-train.jsonl" "$out/rm-test.jsonl" \
        --tokenizer "$base" --max-length "${RM_MAXLEN:-256}" >"$out/bow-rm.json"

"$py" - "$out" "$((t1 - t0))" <<'EOF'
import json, math, os, sys
out, secs = sys.argv[1], int(sys.argv[2])

def wilson(p, n, z=1.96):
    if not n:
        return [None, None]
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(c - h, 4), round(c + h, 4)]

def last_eval(name):
    p = os.path.join(out, name + ".log")
    if not os.path.exists(p):
        return None
    ev = [json.loads(l) for l in open(p) if '"eval_accuracy"' in l]
    return ev[-1] if ev else None

rep, rows = {"seconds": secs}, []
for name in ("cm", "rm", "cm-scratch", "rm-scratch"):
    e = last_eval(name)
    if not e:
        continue
    n = e["eval_pairs"]
    r = {"steps": e["step"], "pairs": n, "accuracy": e["eval_accuracy"],
         "accuracy_ci95": wilson(e["eval_accuracy"], n)}
    if "eval_accuracy_sign" in e:
        r["sign_accuracy"] = e["eval_accuracy_sign"]
        r["sign_accuracy_ci95"] = wilson(e["eval_accuracy_sign"], 2 * n)
    rep[name] = r
for kind in ("cm", "rm"):
    if not os.path.exists(os.path.join(out, f"bow-{kind}.json")):
        continue
    b = json.load(open(os.path.join(out, f"bow-{kind}.json")))
    b["pairwise_accuracy_ci95"] = wilson(b["pairwise_accuracy"], b["test_pairs"])
    if "sign_accuracy" in b:
        b["sign_accuracy_ci95"] = wilson(b["sign_accuracy"], b["test_answers_labelled"])
    rep["bow-" + kind] = b
json.dump(rep, open(os.path.join(out, "report.json"), "w"), indent=1)

def cell(v, ci):
    return f"{100 * v:5.1f} [{100 * ci[0]:4.1f}, {100 * ci[1]:4.1f}]" if v is not None else "-"

print(f"{'model':<22}{'pairs':>6}  {'pairwise % [95% CI]':<22}  {'sign % [95% CI]':<22}")
for name, label in (("cm", "CM (pretrained base)"), ("cm-scratch", "CM (random init)"),
                    ("bow-cm", "CM bag-of-words")):
    r = rep.get(name)
    if not r:
        continue
    if name.startswith("bow"):
        print(f"{label:<22}{r['test_pairs']:>6}  {cell(r['pairwise_accuracy'], r['pairwise_accuracy_ci95']):<22}  "
              f"{cell(r.get('sign_accuracy'), r.get('sign_accuracy_ci95', [0, 0])):<22}")
    else:
        print(f"{label:<22}{r['pairs']:>6}  {cell(r['accuracy'], r['accuracy_ci95']):<22}  "
              f"{cell(r.get('sign_accuracy'), r.get('sign_accuracy_ci95', [0, 0])):<22}")
for name, label in (("rm", "RM (pretrained base)"), ("rm-scratch", "RM (random init)"),
                    ("bow-rm", "RM bag-of-words")):
    r = rep.get(name)
    if not r:
        continue
    acc, ci, n = ((r["pairwise_accuracy"], r["pairwise_accuracy_ci95"], r["test_pairs"])
                  if name.startswith("bow") else (r["accuracy"], r["accuracy_ci95"], r["pairs"]))
    print(f"{label:<22}{n:>6}  {cell(acc, ci):<22}")
EOF
