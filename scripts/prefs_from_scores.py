#!/usr/bin/env python3
"""prefs_from_scores.py -- PKU-SafeRLHF preference records from scored answer pairs: the
stand-in annotator of scripts/pipeline.mk (ANNOTATOR=scores), no better than the reward and cost
models that scored them.

Usage: python3 scripts/prefs_from_scores.py SCORED.jsonl > PREFS.jsonl
SCORED.jsonl: saferlhf-eval score output of saferlhf-generate -n 2 (two records per prompt, in
order, each with "prompt", "response", "reward", "cost").  Each pair becomes {prompt, response_0,
response_1, better_response_id (the higher reward), safer_response_id (the lower cost),
is_response_0_safe, is_response_1_safe (cost <= 0)}; the answer of a tie is 0.
"""
import json
import sys


def main():
    recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    if len(recs) % 2:
        sys.exit(f"{sys.argv[1]}: {len(recs)} records, expected pairs")
    for a, b in zip(recs[0::2], recs[1::2]):
        if a["prompt"] != b["prompt"]:
            sys.exit(f"{sys.argv[1]}: a pair of two prompts: {a['prompt'][:40]!r}")
        print(json.dumps({"prompt": a["prompt"], "response_0": a["response"],
                          "response_1": b["response"],
                          "better_response_id": int(b["reward"] > a["reward"]),
                          "safer_response_id": int(b["cost"] < a["cost"]),
                          "is_response_0_safe": a["cost"] <= 0,
                          "is_response_1_safe": b["cost"] <= 0}))


if __name__ == "__main__":
    main()
