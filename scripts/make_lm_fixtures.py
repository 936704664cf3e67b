#!/usr/bin/env python3
"""make_lm_fixtures.py -- reference packing and causal-LM loss for pretraining
(saferlhf-sft --objective lm), for tests/unit/test_packing.c and tests/cli/pretrain.sh.

What lib/packing.c must do, written independently here with HF tokenizers and transformers:
  document  = the record's text fields present, in the order of FIELDS, joined with "\\n\\n"
              (a list value: its strings or its messages' contents); a JSON string record is
              its own text; a plain-text file splits at blank lines (lines keep their "\\n",
              the document's trailing newlines are dropped)
  stream    = for each document: tok.encode(text).ids (the post-processor's BOS) + [EOS]
  window i  = stream[i * (T - 1) : i * (T - 1) + T]   for i < (len(stream) - 1) // (T - 1)
  loss      = LlamaForCausalLM(input_ids=windows, labels=windows).loss  (token mean)

Inputs (written here, from the demo data): tests/ref/lm/corpus.jsonl (Alpaca, {prompt,
response}, a PKU-SafeRLHF pair, an HH pair, {messages}, a string record, a null field) and
tests/ref/lm/corpus.txt (paragraphs split by one or more blank lines); the tokenizer
tests/ref/sft/tok_bos (<s> added as BOS, </s> the EOS); a random tiny Llama (tests/ref/lm/model,
vocabulary 386 to hold both specials).
Writes tests/ref/lm/expected.json: {"T", "stream", "n_docs", "batch_loss" (windows 0..3),
"all_loss" (token mean over every window)}.
Usage: python3 scripts/make_lm_fixtures.py   (needs torch, transformers, tokenizers)
"""
import json
import os

import torch
from tokenizers import Tokenizer
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "ref", "lm")
FIELDS = ["text", "prompt", "instruction", "input", "output", "response", "response_0",
          "response_1", "chosen", "rejected", "messages"]
T = 24


def corpus_records():
    demo = [json.loads(l) for l in open(os.path.join(ROOT, "tests", "data", "sft_demo.jsonl"))]
    recs = demo[:6]
    recs.append({"prompt": "How do I pick a lock?", "response_0": "I cannot help with that.",
                 "response_1": "Use a tension wrench and a pick.", "safer_response_id": 0,
                 "is_response_0_safe": True, "is_response_1_safe": False})
    recs.append({"chosen": "\n\nHuman: What is 2 plus 2?\n\nAssistant: 4.",
                 "rejected": "\n\nHuman: What is 2 plus 2?\n\nAssistant: 5."})
    recs.append({"messages": [{"role": "user", "content": "Say moon."},
                              {"role": "assistant", "content": "moon"}]})
    recs.append("A plain string record: the sea is blue.")
    recs.append({"instruction": "Name a color.", "input": "", "output": "Red.", "text": None})
    return recs


def record_text(r):
    if isinstance(r, str):
        return r
    parts = []
    for f in FIELDS:
        v = r.get(f)
        if v is None:
            continue
        for s in (v if isinstance(v, list) else [v]):
            s = s["content"] if isinstance(s, dict) else s
            if s:
                parts.append(s)
    return "\n\n".join(parts)


PLAIN = ("The first paragraph of a plain text file.\nIt has two lines.\n\n\n"
         "A second paragraph after two blank lines.\n  \n"
         "Third, after a line of spaces.\n")


def plain_docs(text):
    docs, cur = [], ""
    for line in text.splitlines(keepends=True):
        if line.strip() == "":
            if cur.rstrip("\r\n"):
                docs.append(cur.rstrip("\r\n"))
            cur = ""
        else:
            cur += line
    if cur.rstrip("\r\n"):
        docs.append(cur.rstrip("\r\n"))
    return docs


def main():
    os.makedirs(OUT, exist_ok=True)
    recs = corpus_records()
    with open(os.path.join(OUT, "corpus.jsonl"), "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    with open(os.path.join(OUT, "corpus.txt"), "w") as f:
        f.write(PLAIN)
    tok = Tokenizer.from_file(os.path.join(ROOT, "tests", "ref", "sft", "tok_bos",
                                           "tokenizer.json"))
    eos = tok.token_to_id("</s>")
    docs = [record_text(r) for r in recs] + plain_docs(PLAIN)
    stream = []
    for d in docs:
        stream += tok.encode(d).ids + [eos]
    n = (len(stream) - 1) // (T - 1)
    windows = torch.tensor([stream[i * (T - 1):i * (T - 1) + T] for i in range(n)])

    torch.manual_seed(7)
    cfg = LlamaConfig(vocab_size=386, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                      tie_word_embeddings=True, bos_token_id=384, eos_token_id=385,
                      rms_norm_eps=1e-5)
    model = LlamaForCausalLM(cfg).float().eval()
    with torch.no_grad():
        for p in model.parameters():  # a wider spread than the 0.02 init: the loss then
            p.normal_(0, 0.5)         # depends on every weight, not ~ln(V) everywhere
    model.save_pretrained(os.path.join(OUT, "model"))
    with torch.no_grad():
        batch_loss = model(input_ids=windows[:4], labels=windows[:4]).loss.item()
        all_loss = model(input_ids=windows, labels=windows).loss.item()
    json.dump({"T": T, "n_docs": len(docs), "stream": stream, "n_windows": n,
               "batch_loss": batch_loss, "all_loss": all_loss},
              open(os.path.join(OUT, "expected.json"), "w"))
    print(f"{len(docs)} documents, {len(stream)} tokens, {n} windows of {T}; "
          f"loss {batch_loss:.6f} (windows 0-3), {all_loss:.6f} (all)")


if __name__ == "__main__":
    main()
