#!/usr/bin/env python3
"""Random-string parity check of our C tokenizers against HF tokenizers: strings built from
atoms that stress the pre-tokenizer patterns, added tokens, Unicode classes and NFC, encoded
and decoded by `build/bench/bench_tokenizer --encode DIR` and by HF on every tokenizer in
tests/ref/tokenizers (plus GPT-2, converted by our C code from ../shared into a temp dir).

Usage: python3 scripts/fuzz_tokenizers.py [SEED] [N_STRINGS] [SHARED_DIR]"""
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
REF = os.path.join(ROOT, "tests", "ref", "tokenizers")
BIN = os.environ.get("BENCH_TOKENIZER", os.path.join(ROOT, "build", "bench", "bench_tokenizer"))
sys.path.insert(0, HERE)

ATOMS = list("aAzZ09 '\t\n\r.,!?-_()[]{}<>|/\\\"") + [
    " ", "  ", "\u00a0", "\u3000", "\u2028", "\u0301", "\u00e9", "\u00df", "\u0130", "\u017f",
    "\u212a", "\u4e2d", "\u6587", "\U0001F600", "\U0001F44D\U0001F3FD", "\u0663", "\u00b2",
    "\u216b", "\u200b", "\ufeff", "\u2581", "\u0120", "'s", "'T", "'RE", "'ll", "'D", "DON'T",
    "123456", "\r\n", "\n\n", "<|endoftext|>", "</s>", "<s>", "<unk>", "<mask>", "[NEW]", "word",
    "hello world", "<|im_start|>", "<|im_end|>", "<|eot_id|>", "\U0001E5D0", "\U00010940",
    "\u1100\u1161", "\u11a8", "e\u0301", "\x00", "\x85", "\x0b", "\x0c", "the", " the", "ing",
    "ly", "http://x.y/z?q=1", "\u24b6", "\u203f", "\u200d"]


def main():
    from tokenizers import Tokenizer
    from make_tokenizer_fixtures import gpt2_hf
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    shared = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "..", "shared")
    rng = random.Random(seed)
    strs = ["".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 12))) for _ in range(n)]
    toks = {}
    for name in sorted(os.listdir(REF)):
        if os.path.isfile(os.path.join(REF, name, "tokenizer.json")):
            toks[name] = (os.path.join(REF, name),
                          Tokenizer.from_file(os.path.join(REF, name, "tokenizer.json")))
    gdir = tempfile.mkdtemp()  # HF's GPT-2 tokenizer.json, loaded by our C code
    if os.path.exists(os.path.join(shared, "tokenizers", "gpt2", "vocab.bpe")):
        hf = gpt2_hf(shared)
        hf.save(os.path.join(gdir, "tokenizer.json"))
        toks["gpt2"] = (gdir, hf)
    inp = "".join(json.dumps(s) + "\n" for s in strs).encode()
    total = 0
    for name, (path, hf) in toks.items():
        out = subprocess.run([BIN, "--encode", path], input=inp, capture_output=True,
                             check=True).stdout.decode().split("\n")[:-1]
        bad = 0
        for s, line in zip(strs, out):
            ids_s, dec_s = line.split("\t")
            ids = [int(x) for x in ids_s.split()]
            ref = hf.encode(s, add_special_tokens=False).ids
            if ids != ref or json.loads(dec_s) != hf.decode(ref, skip_special_tokens=False):
                bad += 1
                if bad <= 3:
                    print("  %s differs on %r: %s vs HF %s" % (name, s, ids, ref))
        print("%-16s %d strings, %d differ" % (name, len(strs), bad + len(strs) - len(out)))
        total += bad + len(strs) - len(out)
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
