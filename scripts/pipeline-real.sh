#!/bin/sh
# pipeline-real.sh -- scripts/pipeline.mk on real data, small enough for a 2-core machine:
# the pretrained stories260K (llama2.c, converted to a Hugging Face directory) fine-tuned on
# Alpaca, a reward model on HH-RLHF helpfulness pairs, a cost model on the PKU-SafeRLHF safety
# pairs, PPO-Lagrangian and the two baselines on PKU-SafeRLHF prompts, evaluated on the Safe
# RLHF red-team prompts by the final reward and cost models.  Round 1 only by default: later
# rounds need an annotator (ANNOTATOR=judge with an endpoint, or your own labels).
# Usage: scripts/pipeline-real.sh [VAR=value ...]   (extra variables go to make)
#   SHARED  the data directory [../shared or $SAFERLHF_SHARED]   WORK [out/real]
#   BASE_DIR  a base checkpoint to start from instead of stories260K (the environment), e.g.
#             the base/ of scripts/pretrain-base.sh
set -e
shared=${SAFERLHF_SHARED:-../shared}
work=${WORK:-out/real}
bin=${BIN:-build/bin}
d=$shared/data
for f in "$shared/models/stories260K/stories260K.bin" "$d/sft/lima.json" "$d/alpaca/alpaca_5000.json" \
         "$d/hh-rlhf/helpful-base/test.jsonl.gz" "$d/pku-saferlhf/safety-pairs-train.jsonl" \
         "$d/eval-prompts/safe-rlhf-problems.json"; do
    [ -r "$f" ] || { echo "pipeline-real: missing $f (set SAFERLHF_SHARED)" >&2; exit 1; }
done
mkdir -p "$work"
if [ -n "$BASE_DIR" ]; then
    [ -s "$BASE_DIR/model.safetensors" ] || { echo "pipeline-real: no $BASE_DIR" >&2; exit 1; }
    rm -rf "$work/base" && cp -rp "$BASE_DIR" "$work/base" # times kept: make redoes nothing
elif [ ! -s "$work/base/model.safetensors" ]; then
    "$bin/saferlhf-convert" llama2c "$shared/models/stories260K/stories260K.bin" \
        "$shared/models/stories260K/tok512.model" -o "$work/base" -q
fi
exec make --no-print-directory -f scripts/pipeline.mk BIN="$bin" WORK="$work" \
    BASE="$work/base" ORACLE_EVAL=0 LAST_ROUND=1 MAX_LENGTH=256 THRESHOLD=0 \
    SFT_DATA="$d/alpaca/alpaca_5000.json" \
    RM_DATA="$d/hh-rlhf/helpful-base/test.jsonl.gz" \
    CM_DATA="$d/pku-saferlhf/safety-pairs-train.jsonl" \
    PROMPTS="$d/pku-saferlhf/safety-pairs-train.jsonl" \
    EVAL_PROMPTS="$d/eval-prompts/safe-rlhf-problems.json" \
    PTX_DATA="$d/sft/lima.json" PTX_COEFF=1 \
    SFT_FLAGS="--lr 1e-3 --batch-size 8 --max-steps 150 --warmup-ratio 0.03 --skip-bad-records" \
    SCORE_FLAGS="--lr 5e-4 --batch-size 8 --max-steps 100 --warmup-ratio 0.03 --skip-bad-records" \
    PPO_FLAGS="--max-new-tokens 64 --rollout-batch-size 8 --max-steps 20 --actor-lr 1e-4 --critic-lr 1e-4 --kl-coeff 0.02" \
    EVAL_FLAGS="--temperature 0.7 --max-new-tokens 64" \
    "$@"
