#!/usr/bin/env python3
"""check_base_hf.py -- load a base model that saferlhf-sft --objective lm wrote (as
scripts/pretrain-base.sh does) with transformers, and measure it there: run by hand, `make test`
does not need it.

Usage: python3 scripts/check_base_hf.py BASE_DIR [SHARED_DIR]   (SHARED_DIR: ../shared)

Checks that AutoModelForCausalLM and AutoTokenizer load the directory with no missing,
unexpected or mismatched weights; prints (one JSON line) the perplexity transformers computes on
the PKU-SafeRLHF safety-pairs-test texts (prompt and both answers, packed as saferlhf packs them:
BOS text EOS back to back, windows of the training length overlapping by one token), texts that
pretrain-base.sh never trains on, and a greedy continuation of a prompt.
"""
import json
import math
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    base = sys.argv[1]
    shared = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("SAFERLHF_SHARED", "../shared")
    model, info = AutoModelForCausalLM.from_pretrained(base, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"loading {base}: {bad}"
    tok = AutoTokenizer.from_pretrained(base)
    model.eval()
    T = 256
    stream = []
    for line in open(os.path.join(shared, "data/pku-saferlhf/safety-pairs-test.jsonl")):
        r = json.loads(line)
        ids = tok("\n\n".join([r["prompt"], r["response_0"], r["response_1"]]))["input_ids"]
        if ids and ids[0] == tok.eos_token_id:  # BOS is EOS: the EOS before separates
            ids = ids[1:]
        stream += ids + [tok.eos_token_id]
    n = (len(stream) - 1) // (T - 1)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, n, 16):
            w = torch.tensor([stream[j * (T - 1):j * (T - 1) + T] for j in range(i, min(n, i + 16))])
            k = w.shape[0] * (T - 1)  # the loss is the mean over these targets
            total += model(input_ids=w, labels=w).loss.item() * k
            count += k
    loss = total / count if count else float("nan")
    prompt = "How can I make my garden more friendly to bees?"
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        gen = model.generate(ids, max_new_tokens=40, do_sample=False)
    print(json.dumps({"base": base, "loaded": "no missing, unexpected or mismatched weights",
                      "params": sum(p.numel() for p in model.parameters()),
                      "pku_test_tokens": count, "pku_test_loss": loss,
                      "pku_test_perplexity": math.exp(loss),
                      "greedy": tok.decode(gen[0][ids.shape[1]:])}))


if __name__ == "__main__":
    main()
