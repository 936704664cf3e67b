#!/usr/bin/env python3
"""Encoding speed of HF tokenizers (Rust) on the texts bench/bench_tokenizer.c uses, printed as
the same JSON lines ("impl":"hf"), single thread (RAYON_NUM_THREADS=1), one text at a time and
as one encode_batch call.  With --check IDS_FILE (written by SRL_BENCH_IDS=FILE
build/bench/bench_tokenizer) it compares our ids with HF's on every text instead.

Usage: python3 scripts/bench_tokenizers_hf.py [--check IDS_FILE] [SHARED_DIR]"""
import gzip
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixtures import gpt2_hf, tok512_hf  # noqa: E402


def read_texts(shared):
    alpaca, hh = [], []
    with open(os.path.join(shared, "data", "alpaca", "alpaca_5000.json"), encoding="utf-8") as f:
        for row in json.load(f):
            for k in ("instruction", "input", "output"):
                if row.get(k):
                    alpaca.append(row[k])
    with gzip.open(os.path.join(shared, "data", "hh-rlhf", "helpful-base", "test.jsonl.gz"),
                   "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            for k in ("chosen", "rejected"):
                if row.get(k):
                    hh.append(row[k])
    return alpaca, hh


def bench(tok, name, data, texts):
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    for mode in ("one-by-one", "batch"):
        best, n_tok = 1e30, 0
        for _ in range(3):
            t0 = time.perf_counter()
            if mode == "batch":
                encs = tok.encode_batch(texts, add_special_tokens=False)
            else:
                encs = [tok.encode(t, add_special_tokens=False) for t in texts]
            dt = time.perf_counter() - t0
            best = min(best, dt)
            n_tok = sum(len(e.ids) for e in encs)
        print(json.dumps({"bench": "tokenizer", "impl": "hf", "tokenizer": name, "data": data,
                          "mode": mode, "threads": 1, "texts": len(texts), "mb": round(mb, 3),
                          "tokens": n_tok, "seconds": round(best, 4),
                          "mb_per_s": round(mb / best, 2), "tokens_per_s": round(n_tok / best)}),
              flush=True)


def main():
    args = sys.argv[1:]
    check = None
    if args and args[0] == "--check":
        check, args = args[1], args[2:]
    here = os.path.dirname(os.path.abspath(__file__))
    shared = args[0] if args else os.environ.get("SAFERLHF_SHARED",
                                                 os.path.join(here, "..", "..", "shared"))
    alpaca, hh = read_texts(shared)
    toks = [("gpt2", gpt2_hf(shared)), ("tok512", tok512_hf(shared))]
    if check:
        with open(check) as f:
            ours = [line.split() for line in f]
        k, bad, total = 0, 0, 0
        for name, tok in toks:
            for data, texts in (("alpaca", alpaca), ("hh-rlhf", hh)):
                for t in texts:
                    ids = [str(i) for i in tok.encode(t, add_special_tokens=False).ids]
                    if ids != ours[k]:
                        bad += 1
                        if bad < 4:
                            print("differs (%s, %s): %r" % (name, data, t[:80]))
                    k += 1
                    total += 1
        print("%d of %d texts differ from HF" % (bad, total))
        sys.exit(1 if bad else 0)
    for name, tok in toks:
        for data, texts in (("alpaca", alpaca), ("hh-rlhf", hh)):
            bench(tok, name, data, texts)


if __name__ == "__main__":
    main()
