#!/usr/bin/env python3
"""check_convert_hf.py -- load OUR conversion of stories260K with transformers and check that
greedy decoding reproduces llama2.c's own output (run by hand; `make test` does not need it).

Usage: python3 scripts/check_convert_hf.py [CONVERTED_DIR] [SHARED_DIR]
  CONVERTED_DIR  default: a temporary directory written by build/bin/saferlhf-convert
  SHARED_DIR     default: $SAFERLHF_SHARED or ../shared

Checks: no missing / unexpected / mismatched weights when loading; greedy decoding of 200
tokens from BOS (stopping at BOS, as llama2.c's run.c does) decodes to exactly the text of
models/stories260K/expected_run_c_t0_n200.txt (`run stories260K.bin -z tok512.bin -t 0 -n 200`);
the tokenizer re-encodes that text to the generated ids; bf16 conversion loads too.
"""
import os
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def convert(shared, out, tok="tok512.bin", dtype="float32"):
    m = os.path.join(shared, "models/stories260K")
    subprocess.run(["build/bin/saferlhf-convert", "llama2c", os.path.join(m, "stories260K.bin"),
                    os.path.join(m, tok), "-o", out, "--dtype", dtype], check=True)


def check(out, expected, dtype=torch.float32):
    model, info = AutoModelForCausalLM.from_pretrained(out, output_loading_info=True,
                                                       dtype=dtype)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"loading reported problems: {bad}"
    model.eval()
    tok = AutoTokenizer.from_pretrained(out)
    ids = torch.tensor([[1]])
    with torch.no_grad():
        gen = model.generate(ids, max_new_tokens=200, do_sample=False, eos_token_id=1,
                             pad_token_id=0)
    new = gen[0, 1:].tolist()
    text = tok.decode(new, skip_special_tokens=True)
    want = expected[:-1] if expected.endswith("\n") else expected
    if text != want:
        n = next((i for i, (a, b) in enumerate(zip(text, want)) if a != b), min(len(text), len(want)))
        raise AssertionError(f"greedy text differs at char {n}:\n got  {text[n-40:n+40]!r}\n"
                             f" want {want[n-40:n+40]!r}")
    print(f"{out} ({dtype}): {len(new)} greedy tokens reproduce expected_run_c_t0_n200.txt "
          f"({len(text)} chars)")
    return new, tok, want


def main():
    shared = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("SAFERLHF_SHARED", "../shared")
    with open(os.path.join(shared, "models/stories260K/expected_run_c_t0_n200.txt")) as f:
        expected = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tmp, "stories260K")
        if len(sys.argv) <= 1:
            convert(shared, out)
        new, tok, want = check(out, expected)
        enc = tok(want, add_special_tokens=False).input_ids
        print("re-encoding the text gives the generated ids:", enc == new)
        if len(sys.argv) <= 1:
            sp = os.path.join(tmp, "sp")
            convert(shared, sp, tok="tok512.model")
            check(sp, expected)
            bf = os.path.join(tmp, "bf16")
            convert(shared, bf, dtype="bfloat16")
            m = AutoModelForCausalLM.from_pretrained(bf)
            assert m.model.embed_tokens.weight.dtype == torch.bfloat16 or \
                m.config.dtype == torch.bfloat16
            print("bfloat16 conversion loads:", m.config.dtype)
    print("ok")


if __name__ == "__main__":
    main()
