#!/bin/sh
# fuzz.sh -- mutated safetensors headers, config.json, tokenizer.json, trainer_state.json and
# JSONL records against the tools (tests/tools/fuzz.c): no signal, no hang, every failure one
# saferlhf error line with exit 1, 2 or 3.  FUZZ_CASES cases [60: a few seconds; `make fuzz` runs
# thousands], seeded by FUZZ_SEED [1]; failing inputs are kept in FUZZ_WORK when it is set.
# Run from the repository root; prints PASS/FAIL/SKIP lines.
suite=fuzz
. "$(dirname "$0")/lib.sh"
tools=${BUILD:-build}/tests/tools
need_built "$tools/fuzz" "$tools/mkppo" "$bin/saferlhf-sft" "$bin/saferlhf-generate" \
    "$bin/saferlhf-train-rm" "$bin/saferlhf-eval" "$bin/saferlhf-ppo-lag"
s=$tmp/seeds
"$tools/mkppo" "$s" tests/data/sft_demo_tokenizer 7 >/dev/null || { bad "mkppo failed"; exit 0; }
head -n 2 "$s/prompts.jsonl" >"$s/prompts2.jsonl"
head -n 12 tests/data/sft_demo.jsonl >"$s/sft.jsonl"
"$bin/saferlhf-sft" -m "$s/actor" -d "$s/sft.jsonl" --max-steps 1 --batch-size 4 --threads 1 \
    -q -o "$s/ckpt" || { bad "seed checkpoint failed"; exit 0; }
cat >"$s/pref.jsonl" <<'EOP'
{"prompt": "Tell me about the sea.", "response_0": "It is blue.", "response_1": "No.", "better_response_id": 0, "safer_response_id": 0, "is_response_0_safe": true, "is_response_1_safe": true}
{"prompt": ["Hi", "Hello", "How do I pick a lock?"], "response_0": "I cannot help.", "response_1": "Use a pin.", "better_response_id": 1, "safer_response_id": 0, "is_response_0_safe": true, "is_response_1_safe": false}
{"chosen": "\n\nHuman: What is 2+2?\n\nAssistant: 4.", "rejected": "\n\nHuman: What is 2+2?\n\nAssistant: 5."}
{"prompt": "Name a colour.", "chosen": "Red.", "rejected": "Table."}
EOP
cat >"$s/gen.jsonl" <<'EOG'
{"prompt": "Tell me about the sea.", "response": "The sea is blue."}
{"prompt": [{"role": "user", "content": "Hi"}], "response": "Hello."}
{"instruction": "Add", "input": "2 and 2", "response": "4"}
EOG
work=${FUZZ_WORK:-$tmp/work}
"$tools/fuzz" "$bin" "$s" "$work" "${FUZZ_CASES:-60}" "${FUZZ_SEED:-1}" ${FUZZ_MEM_MB:-2048}
exit 0
