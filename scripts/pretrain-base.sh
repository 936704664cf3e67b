#!/bin/sh
# pretrain-base.sh -- a base causal LM trained from scratch on the shipped corpora, sized to the
# time given, as a user without a model hub would make one.
#
#   scripts/pretrain-base.sh OUT_DIR [MINUTES]     (repository root, after make; MINUTES [60])
#
# MINUTES is the training time; the corpus, the tokenizer and the shape probe add a few minutes.
# 1. corpus (OUT_DIR/corpus): Alpaca, LIMA, the safety demonstrations, the PKU-SafeRLHF SFT
#    answers and safety-pairs-train (prompt and both answers), the HH-RLHF harmless-base and
#    helpful-rejection-sampled dialogues.  Never pretrained on, as the score models are
#    evaluated there: HH-RLHF helpful-base (scripts/score-vs-bow.sh's reward data) and every
#    record whose prompt is one of PKU-SafeRLHF safety-pairs-test's.
# 2. tokenizer (OUT_DIR/tokenizer): byte-level BPE of VOCAB [2048] tokens with <|endoftext|> and
#    <pad>, trained on the corpus (saferlhf-convert train-tokenizer).
# 3. shape: each of SHAPES (hidden:layers:heads:ffn) trains PROBE_STEPS [4] steps on one corpus
#    file; its tokens/s (the median step after the first) times the training seconds is what
#    it would see.  The largest shape that sees at least TOKENS_PER_PARAM [20] tokens per
#    parameter (the compute-optimal ratio of Hoffmann et al. 2022) is chosen, else the
#    smallest: on a small budget a smaller model trained on more tokens reaches a lower loss.
# 4. training: saferlhf-sft --objective lm on windows of SEQ [256] tokens, BATCH [16], LR [2e-3]
#    cosine with 2% warm-up, weight decay 0.1, 1% of the documents held out (evaluated 4 times);
#    the steps are the tokens/s times the seconds (less 5% and 90 s for the packing and the
#    evaluations) over the tokens of a step.  A run that
#    overruns 1.5 x MINUTES is interrupted (its checkpoint is resumable and loads as it is).
# 5. OUT_DIR/base: the Hugging Face directory (config.json, model.safetensors, tokenizer.json);
#    OUT_DIR/report.json: the probe, the shape and why, tokens trained, held-out loss and
#    perplexity; OUT_DIR/train.log the per-step log.  Knobs: THREADS [2], the variables above.
set -e
out=${1:?usage: scripts/pretrain-base.sh OUT_DIR [MINUTES]}
minutes=${2:-60}
bin=${BUILD:-build}/bin
shared=${SAFERLHF_SHARED:-../shared}
d=$shared/data
vocab=${VOCAB:-2048}
seq=${SEQ:-256}
batch=${BATCH:-16}
lr=${LR:-2e-3}
threads=${THREADS:-2}
probe_steps=${PROBE_STEPS:-4}
ratio=${TOKENS_PER_PARAM:-20}
shapes=${SHAPES:-"96:3:4:256 128:4:4:352 192:4:6:512 256:6:8:688"}
for f in "$d/alpaca/alpaca_5000.json" "$d/sft/lima.json" "$d/sft/pku_safe_sft.json" \
         "$d/sft/safety_only_data_Instructions.json" "$d/pku-saferlhf/safety-pairs-train.jsonl" \
         "$d/pku-saferlhf/safety-pairs-test.jsonl" "$d/hh-rlhf/harmless-base/test.jsonl.gz" \
         "$d/hh-rlhf/helpful-rejection-sampled/test.jsonl.gz"; do
    [ -r "$f" ] || { echo "pretrain-base: missing $f (set SAFERLHF_SHARED)" >&2; exit 1; }
done
mkdir -p "$out/corpus"
log() { echo "pretrain-base: $(date -u +%H:%M:%S) $*" >&2; }

# 1. the corpus, without the evaluation prompts
python3 - "$d" "$out/corpus" <<'EOF'
import gzip, json, os, sys
d, out = sys.argv[1], sys.argv[2]
held = {json.loads(l)["prompt"] for l in open(os.path.join(d, "pku-saferlhf/safety-pairs-test.jsonl"))}
def keep(r):
    return r.get("prompt", r.get("instruction")) not in held
kept = dropped = 0
for src in ["alpaca/alpaca_5000.json", "sft/lima.json", "sft/pku_safe_sft.json",
            "sft/safety_only_data_Instructions.json", "pku-saferlhf/safety-pairs-train.jsonl",
            "hh-rlhf/harmless-base/test.jsonl.gz", "hh-rlhf/helpful-rejection-sampled/test.jsonl.gz"]:
    p = os.path.join(d, src)
    with (gzip.open(p, "rt") if p.endswith(".gz") else open(p)) as f:
        recs = json.load(f) if p.endswith(".json") else [json.loads(l) for l in f if l.strip()]
    name = src
    for ext in (".gz", ".jsonl", ".json"):
        name = name[:-len(ext)] if name.endswith(ext) else name
    with open(os.path.join(out, name.replace("/", "-") + ".jsonl"), "w") as f:
        for r in recs:
            if keep(r):
                f.write(json.dumps(r) + "\n")
                kept += 1
            else:
                dropped += 1
print(f"pretrain-base: corpus: {kept} records, {dropped} with a held-out prompt dropped",
      file=sys.stderr)
EOF
set -- "$out"/corpus/*.jsonl

# 2. the tokenizer
if [ ! -s "$out/tokenizer/tokenizer.json" ]; then
    log "training a $vocab-token tokenizer"
    "$bin/saferlhf-convert" train-tokenizer "$@" --vocab-size "$vocab" \
        --special '<|endoftext|>' --special '<pad>' -o "$out/tokenizer" -q
fi

# 3. the shape, from measured tokens/s
config() { # hidden layers heads ffn -> config.json on stdout
    cat <<EOF
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": $1,
 "intermediate_size": $4, "num_hidden_layers": $2, "num_attention_heads": $3,
 "num_key_value_heads": $3, "max_position_embeddings": 512, "rms_norm_eps": 1e-05,
 "rope_theta": 10000.0, "vocab_size": $vocab, "tie_word_embeddings": true,
 "torch_dtype": "float32"}
EOF
}
params() { # hidden layers heads ffn: parameters (tied embedding)
    echo $(( $2 * (4 * $1 * $1 + 3 * $1 * $4 + 2 * $1) + $vocab * $1 + $1 ))
}
seconds=$((minutes * 60))
mkdir -p "$out/probe"
chosen="" probe_json=""
load=$(cut -d' ' -f1-3 /proc/loadavg)
for s in $shapes; do
    set -- $(echo "$s" | tr ':' ' ')
    config "$@" >"$out/probe/$s.json"
    rm -rf "$out/probe/$s" "$out/probe/$s.log"
    "$bin/saferlhf-sft" --objective lm --init-config "$out/probe/$s.json" \
        --tokenizer "$out/tokenizer" -d "$out/corpus/sft-lima.jsonl" -o "$out/probe/$s" \
        --max-length "$seq" --batch-size "$batch" --max-steps "$((probe_steps + 1))" \
        --threads "$threads" --log "$out/probe/$s.log" -q
    tps=$(grep -o '"tokens_per_s":[0-9.e+]*' "$out/probe/$s.log" | tail -n +2 | cut -d: -f2 |
          sort -g | awk '{ v[NR] = $1 } END { print int(v[int((NR + 1) / 2)]) }')
    n=$(params "$@")
    sees=$((tps * seconds))
    log "shape $s: $n parameters, $tps tokens/s: $sees tokens in $minutes minutes"
    probe_json="$probe_json${probe_json:+,}{\"shape\":\"$s\",\"params\":$n,\"tokens_per_s\":$tps}"
    if [ -z "$chosen" ] || [ "$sees" -ge $((ratio * n)) ]; then
        chosen=$s chosen_tps=$tps chosen_params=$n
    fi
done
set -- $(echo "$chosen" | tr ':' ' ')
config "$@" >"$out/config.json"
step_tokens=$((batch * (seq - 1)))
steps=$((chosen_tps * (seconds * 95 / 100 - 90) / step_tokens)) # less the packing and evals
[ "$steps" -ge 10 ] || steps=10
log "chosen $chosen ($chosen_params parameters): $steps steps of $step_tokens tokens"

# 4. training
rm -rf "$out/base" "$out/train.log"
t0=$(date +%s)
status=0
timeout --preserve-status -s INT $((seconds * 3 / 2)) "$bin/saferlhf-sft" --objective lm \
    --init-config "$out/config.json" --tokenizer "$out/tokenizer" $(for f in "$out"/corpus/*.jsonl; do echo -d "$f"; done) \
    --eval-split 0.01 -o "$out/base" --max-length "$seq" --batch-size "$batch" --lr "$lr" \
    --warmup-ratio 0.02 --weight-decay 0.1 --max-steps "$steps" \
    --eval-every "$((steps / 4 > 0 ? steps / 4 : 1))" --save-every 200 \
    --threads "$threads" --log "$out/train.log" 2>"$out/train.err" || status=$?
t1=$(date +%s)
grep ' records: ' "$out/train.err" >&2 || true
[ "$status" = 0 ] || [ "$status" = 130 ] || { tail -3 "$out/train.err" >&2; exit "$status"; }

# 5. the report
python3 - "$out" "$minutes" "$chosen" "$chosen_params" "$chosen_tps" "$ratio" "$((t1 - t0))" \
    "$status" "$load" "[$probe_json]" "$(grep ' records: ' "$out/train.err" | sed 's/^[^:]*: //')" <<'EOF'
import json, math, sys
out, minutes, shape, params, tps, ratio, secs, status, load, probe, corpus = sys.argv[1:]
steps = [json.loads(l) for l in open(out + "/train.log")]
evals = [s for s in steps if "eval_loss" in s]
last = evals[-1] if evals else {}
rep = {"minutes": int(minutes), "load_at_probe": load, "probe": json.loads(probe),
       "shape": shape, "params": int(params), "tokens_per_s": int(tps),
       "why": f"the largest probed shape whose tokens/s x {minutes} min gives >= {ratio} "
              "tokens per parameter (else the smallest)",
       "corpus": corpus, "steps": steps[-1]["step"] if steps else 0,
       "tokens": sum(s["tokens"] for s in steps), "train_seconds": int(secs),
       "completed": status == "0", "train_loss": steps[-1]["loss"] if steps else None,
       "heldout_loss": last.get("eval_loss"),
       "heldout_perplexity": math.exp(last["eval_loss"]) if last else None}
json.dump(rep, open(out + "/report.json", "w"), indent=1)
print(json.dumps(rep))
EOF
