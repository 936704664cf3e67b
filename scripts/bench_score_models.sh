#!/bin/sh
# bench_score_models.sh -- score models on real data, next to chance and a bag-of-words baseline.
#
#   scripts/bench_score_models.sh [OUT_DIR]        (repository root; after make)
#
# Cost model: PKU-SafeRLHF safety-pairs-train.jsonl -> safety-pairs-test.jsonl (split by prompt
# upstream): pairwise accuracy (unsafer costs more) and sign accuracy (cost > 0 <=> unsafe).
# Reward model: HH-RLHF helpful-base test.jsonl.gz, every 5th record held out (the same split
# for the baseline): pairwise accuracy (better scores higher).
# Each from scratch: a byte-level BPE tokenizer trained on the training split
# (saferlhf-convert train-tokenizer, 2048 tokens with <pad>) and a tiny Llama (MODEL_CONFIG,
# default below); with STORIES=1 also from the converted stories260K checkpoint.  Then
# scripts/bow_baseline.py on the same splits when python3 has scikit-learn.
# Prints one JSON line per run: {"bench": "score", "model", "data", "steps", "seconds",
# "eval_accuracy", "eval_accuracy_sign", ...}.  Knobs (environment): CM_STEPS [400] and
# CM_MAXLEN [192] (PKU answers are short), RM_STEPS [120] and RM_MAXLEN [512] (HH dialogues
# are long: a pair cut before its answers differ is dropped), BATCH [16], LR [1e-3],
# THREADS [all], STORIES [0].  About 13 + 8 minutes on 2 idle cores (from scratch).
set -e
bin=${BUILD:-build}/bin
shared=${SAFERLHF_SHARED:-../shared}
out=${1:-/tmp/bench_score}
batch=${BATCH:-16}
lr=${LR:-1e-3}
threads=${THREADS:+--threads $THREADS}
pku=$shared/data/pku-saferlhf
hh=$shared/data/hh-rlhf/helpful-base/test.jsonl.gz
if [ ! -f "$pku/safety-pairs-train.jsonl" ] || [ ! -f "$hh" ]; then
    echo "bench_score_models: $shared/data absent" >&2
    exit 0
fi
mkdir -p "$out"
zcat "$hh" | awk 'NR % 5 != 0' >"$out/hh-train.jsonl"
zcat "$hh" | awk 'NR % 5 == 0' >"$out/hh-test.jsonl"

cfg=$out/config.json
if [ -n "$MODEL_CONFIG" ]; then cp "$MODEL_CONFIG" "$cfg"; else
    cat >"$cfg" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 96,
 "intermediate_size": 256, "num_hidden_layers": 3, "num_attention_heads": 4,
 "num_key_value_heads": 4, "max_position_embeddings": 512, "rms_norm_eps": 1e-05,
 "rope_theta": 10000.0, "vocab_size": 2048, "tie_word_embeddings": true,
 "torch_dtype": "float32"}
EOF
fi

# run NAME TOOL TRAIN TEST MODEL_ARGS...: train, then print the last eval line as JSON
run() {
    name=$1 tool=$2 train=$3 test=$4
    shift 4
    case $tool in
    *cm) steps=${CM_STEPS:-400} maxlen=${CM_MAXLEN:-192} every=100 ;;
    *) steps=${RM_STEPS:-120} maxlen=${RM_MAXLEN:-512} every=40 ;;
    esac
    rm -f "$out/$name.log"
    t0=$(date +%s)
    "$bin/$tool" "$@" -d "$train" --eval-data "$test" -o "$out/$name" --max-steps "$steps" \
        --batch-size "$batch" --lr "$lr" --max-length "$maxlen" --eval-every "$every" \
        --skip-bad-records --log "$out/$name.log" $threads -q 2>"$out/$name.err"
    t1=$(date +%s)
    head="\"bench\":\"score\",\"model\":\"$name\",\"data\":\"$(basename "$train")\""
    summary=$(grep ' records: ' "$out/$name.err" | sed 's/^[^:]*: //; s/"//g')
    head="$head,\"pairs\":\"$summary\""
    grep '"eval_accuracy"' "$out/$name.log" | tail -1 |
        sed "s/^{/{$head,\"seconds\":$((t1 - t0)),/"
}

"$bin/saferlhf-convert" train-tokenizer "$pku/safety-pairs-train.jsonl" --vocab-size 2048 \
    --special '<|endoftext|>' --special '<pad>' -o "$out/tok-pku" -q
"$bin/saferlhf-convert" train-tokenizer "$out/hh-train.jsonl" --vocab-size 2048 \
    --special '<|endoftext|>' --special '<pad>' -o "$out/tok-hh" -q
run cm-scratch saferlhf-train-cm "$pku/safety-pairs-train.jsonl" "$pku/safety-pairs-test.jsonl" \
    --init-config "$cfg" --tokenizer "$out/tok-pku"
run rm-scratch saferlhf-train-rm "$out/hh-train.jsonl" "$out/hh-test.jsonl" \
    --init-config "$cfg" --tokenizer "$out/tok-hh"

s260=$shared/models/stories260K
if [ "${STORIES:-0}" = 1 ] && [ -f "$s260/stories260K.bin" ]; then
    "$bin/saferlhf-convert" -q llama2c "$s260/stories260K.bin" "$s260/tok512.bin" -o "$out/s260"
    run cm-stories260K saferlhf-train-cm "$pku/safety-pairs-train.jsonl" \
        "$pku/safety-pairs-test.jsonl" -m "$out/s260"
    run rm-stories260K saferlhf-train-rm "$out/hh-train.jsonl" "$out/hh-test.jsonl" \
        -m "$out/s260"
fi

echo '{"bench":"score","model":"chance","eval_accuracy":0.5,"eval_accuracy_sign":0.5}'
if python3 -c 'import sklearn' 2>/dev/null; then
    python3 scripts/bow_baseline.py cm "$pku/safety-pairs-train.jsonl" \
        "$pku/safety-pairs-test.jsonl"
    python3 scripts/bow_baseline.py rm "$out/hh-train.jsonl" "$out/hh-test.jsonl" \
        --tokenizer "$out/tok-hh" --max-length "${RM_MAXLEN:-512}"
else
    echo "bench_score_models: no scikit-learn: bag-of-words baseline skipped" >&2
fi
