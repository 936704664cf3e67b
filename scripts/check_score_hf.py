#!/usr/bin/env python3
"""check_score_hf.py -- load a score model that saferlhf-train-rm/-cm WROTE with transformers and
check that it scores as our trainer did (by hand; `make test` cannot run Python).

Usage: python3 scripts/check_score_hf.py CKPT PAIRS.jsonl LOG.jsonl [--eval BIN]
                                         [--max-length N (the run's, default 512)]

CKPT is the checkpoint, PAIRS.jsonl the file the run evaluated on (--eval-data, PKU-SafeRLHF or
{prompt, chosen, rejected} records with a string prompt), LOG.jsonl its --log.  The script
renders every answer as the trainer does (the checkpoint's template, the answer, the
tokenizer's EOS; BOS from the tokenizer's post-processor), scores all of them in padded batches
with AutoModelForSequenceClassification (HF's own pooling at the last non-pad token), and
compares the pairwise accuracy and the mean scores of both sides with the last eval line of the
log.  With --eval BIN (saferlhf-eval) it also compares every single score with
`saferlhf-eval score`.  Prints the numbers; exits 1 on a mismatch beyond 1e-4.
Needs torch and transformers (PyPI)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast

TEMPLATES = {  # lib/template.c: begin, user_pre, user_post
    "saferlhf": ("BEGINNING OF CONVERSATION: ", "USER: ", " ASSISTANT:"),
    "hh": ("", "\n\nHuman: ", "\n\nAssistant:"),
    "raw": ("", "", ""),
}


def pairs(path, cost):
    """(prompt, low answer, high answer); HH dialogues: prompt None, the whole texts."""
    for line in open(path):
        r = json.loads(line)
        if "response_0" in r:
            a = [r["response_0"], r["response_1"]]
            low = r["safer_response_id"] if cost else r["better_response_id"]
            yield r["prompt"], a[low], a[1 - low]
        elif r["chosen"] != r["rejected"]:  # identical: skipped by --skip-bad-records
            yield r.get("prompt"), r["chosen"], r["rejected"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("pairs")
    ap.add_argument("log")
    ap.add_argument("--eval", help="saferlhf-eval binary: compare every score too")
    ap.add_argument("--max-length", type=int, default=512)
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.ckpt, "config.json")))
    sr = cfg.get("saferlhf", {})
    cost = sr.get("score_type") == "cost"
    begin, pre, post = TEMPLATES[sr.get("template", "saferlhf")]
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(a.ckpt, "tokenizer.json"))
    tcfg = json.load(open(os.path.join(a.ckpt, "tokenizer_config.json")))
    eos = tcfg.get("eos_token") or ""
    eos = eos if isinstance(eos, str) else eos.get("content", "")
    model = AutoModelForSequenceClassification.from_pretrained(a.ckpt, dtype=torch.float32)
    model.eval()
    pad = model.config.pad_token_id
    print(f"{a.ckpt}: {type(model).__name__}, num_labels {model.config.num_labels}, "
          f"pad_token_id {pad}, score_type {sr.get('score_type')}")

    P, ids = [], []
    for prompt, lo, hi in pairs(a.pairs, cost):
        # an HH dialogue renders back to its own text with the hh template
        head = "" if prompt is None else begin + pre + prompt + post
        x = [tok(head + t + eos)["input_ids"][: a.max_length] for t in (lo, hi)]
        if x[0] == x[1]:  # the same within max_length: the trainer drops the pair
            continue
        P.append((prompt, lo, hi))
        ids += x
    scores = []
    with torch.no_grad():
        for i in range(0, len(ids), 32):
            batch = ids[i:i + 32]
            T = max(len(x) for x in batch)
            x = torch.tensor([s + [pad] * (T - len(s)) for s in batch])
            m = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in batch])
            scores += model(input_ids=x, attention_mask=m).logits.squeeze(-1).tolist()
    lo, hi = scores[0::2], scores[1::2]
    n = len(P)
    if cost:  # low = safer, high = unsafer
        acc = sum(h > l for l, h in zip(lo, hi)) / n
        hf = {"eval_accuracy": acc, "eval_safer_mean": sum(lo) / n,
              "eval_unsafer_mean": sum(hi) / n}
    else:     # low = better, high = worse
        acc = sum(l > h for l, h in zip(lo, hi)) / n
        hf = {"eval_accuracy": acc, "eval_better_mean": sum(lo) / n,
              "eval_worse_mean": sum(hi) / n}
    last = [json.loads(l) for l in open(a.log) if '"eval_accuracy"' in l][-1]
    worst = 0.0
    print(f"{n} pairs ({2 * n} sequences), log step {last['step']}:")
    for k, v in hf.items():
        d = abs(v - last[k])
        worst = max(worst, d)
        print(f"  {k:20s} transformers {v:+.6f}  saferlhf log {last[k]:+.6f}  |diff| {d:.2e}")
    if a.eval and any(p is None for p, _, _ in P):
        print("  (HH dialogues: no per-sequence comparison with saferlhf-eval score)")
    elif a.eval:
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for prompt, l, h in P:
                for ans in (l, h):
                    f.write(json.dumps({"prompt": prompt, "response": ans}) + "\n")
        flag = "-c" if cost else "-r"
        out = subprocess.run([a.eval, "score", flag, a.ckpt, f.name, "-q", "--max-length",
                              str(a.max_length)], check=True, capture_output=True,
                             text=True).stdout
        os.unlink(f.name)
        ours = [json.loads(l)["cost" if cost else "reward"] for l in out.splitlines()]
        d = max(abs(x - y) for x, y in zip(ours, scores))
        worst = max(worst, d)
        print(f"  per-sequence scores vs saferlhf-eval score: max |diff| {d:.2e} over "
              f"{len(ours)} sequences")
    ok = worst < 1e-4
    print("OK" if ok else "MISMATCH", f"(max |diff| {worst:.2e})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
