#!/usr/bin/env python3
"""make_io_fixtures.py -- write the safetensors fixtures under tests/ref/io/ with the reference
`safetensors` package (and torch for the dtype rounding), and check that a file written by OUR
writer loads in Python.

Usage: python3 scripts/make_io_fixtures.py [--check-ours]   (from the repository root)

Files written:
  tests/ref/io/mixed.safetensors     F32/BF16/F16/F64/I32/I64/U8/BOOL tensors with known values
                                     (special values: +-inf, nan, -0, f16 subnormals, f16 max)
  tests/ref/io/rounding.safetensors  "src" F32 values and torch's own BF16/F16 rounding of them
  tests/ref/io/sharded/              model.safetensors.index.json + two shards (HF layout)

--check-ours runs build/tests/test_safetensors --write-for-python DIR (the C writer) and
loads the result with safetensors.torch.load_file, asserting the values; and
build/tests/test_config --save-for-python DIR (srl_config_save of every tests/ref/configs
fixture, as an LM and as a score model), instantiating each with transformers on the meta
device: the class, num_labels, dtype and parameter count must match.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

OUT = "tests/ref/io"
inf, nan = float("inf"), float("nan")


def mixed():
    t = {
        "a.f32": torch.tensor([[0.0, 1.0, -2.5], [3.25, 1e-8, -1e30]], dtype=torch.float32),
        "b.bf16": torch.tensor([1.0, -0.5, inf, -inf, nan, 3.0e38, 2.0 ** -130, -0.0],
                               dtype=torch.bfloat16),
        # 2^-24 (smallest subnormal), 3*2^-24, 2^-14 - 2^-24 (largest subnormal),
        # 2^-14 (smallest normal), 65504 (max), inf, -inf, nan, -0, 0.333251953125
        "c.f16": torch.tensor([2.0 ** -24, 3 * 2.0 ** -24, 2.0 ** -14 - 2.0 ** -24, 2.0 ** -14,
                               65504.0, inf, -inf, nan, -0.0, 0.333251953125],
                              dtype=torch.float16).reshape(2, 5),
        "d.f64": torch.tensor([0.1, -7.0], dtype=torch.float64),
        "e.i32": torch.tensor([-3, 0, 2147483647], dtype=torch.int32),
        "f.i64": torch.tensor([[5], [-6]], dtype=torch.int64),
        "g.u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "h.bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(42.0, dtype=torch.float32),
        "empty": torch.zeros((0, 3), dtype=torch.float32),
    }
    save_file(t, os.path.join(OUT, "mixed.safetensors"), metadata={"format": "pt"})


def rounding():
    g = torch.Generator().manual_seed(0)
    src = torch.cat([
        torch.randn(200, generator=g) * 10.0,
        torch.randn(50, generator=g) * 1e-6,            # f16 subnormal range
        torch.randn(50, generator=g) * 1e4,
        # exact ties for bf16 (low 16 bits 0x8000) and f16, overflow boundaries
        torch.tensor([1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11,
                      65519.0, 65520.0, 70000.0, -65520.0, 2.0 ** -25, 3 * 2.0 ** -26,
                      2.0 ** -26, 3.3895313892515355e38, 1e-45, -1e-45]),
    ]).to(torch.float32)
    t = {"src": src, "bf16": src.to(torch.bfloat16), "f16": src.to(torch.float16)}
    save_file(t, os.path.join(OUT, "rounding.safetensors"))
    return src


def sharded():
    d = os.path.join(OUT, "sharded")
    os.makedirs(d, exist_ok=True)
    s1 = {"model.embed_tokens.weight": torch.arange(6, dtype=torch.float32).reshape(3, 2),
          "model.norm.weight": torch.tensor([1.0, 2.0], dtype=torch.float32)}
    s2 = {"lm_head.weight": torch.tensor([[0.5, -0.5]], dtype=torch.bfloat16)}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    save_file(s1, os.path.join(d, names[0]), metadata={"format": "pt"})
    save_file(s2, os.path.join(d, names[1]), metadata={"format": "pt"})
    wm = {k: names[0] for k in s1}
    wm.update({k: names[1] for k in s2})
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 36}, "weight_map": dict(sorted(wm.items()))}, f,
                  indent=2)
        f.write("\n")


def check_ours():
    """Load what the C writer writes (see test_safetensors.c write_for_python)."""
    exe = "build/tests/test_safetensors"
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([exe, "--write-for-python", d], check=True)
        x = torch.tensor([1.0, -2.0, 0.1, 65519.0, 1e-7, inf, -inf, nan, 1.0 + 2.0 ** -8])
        for dt, tdt in (("f32", torch.float32), ("bf16", torch.bfloat16), ("f16", torch.float16)):
            got = load_file(os.path.join(d, f"ours_{dt}.safetensors"))
            assert sorted(got) == ["m.scalar", "m.x", "z.mat"], sorted(got)
            assert got["m.x"].dtype == tdt, got["m.x"].dtype
            # bit-exact except NaN payloads (torch writes a bf16 NaN as 0xffff, we as 0x7fc0)
            torch.testing.assert_close(got["m.x"].float(), x.to(tdt).float(), rtol=0, atol=0,
                                       equal_nan=True)
            assert torch.isnan(got["m.x"][7])
            assert got["z.mat"].shape == (2, 3)
            assert torch.equal(got["z.mat"].float(),
                               torch.arange(6, dtype=torch.float32).reshape(2, 3))
            assert got["m.scalar"].shape == () and got["m.scalar"].item() == 3.0
            with open(os.path.join(d, f"ours_{dt}.safetensors"), "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                assert n % 8 == 0, n
        print("python reads our writer's files: ok (f32, bf16, f16)")


PARAMS = {"tinyllama-1.1b": 1100048384, "llama-3-8b": 8030261248, "smollm-135m": 134515008,
          "qwen2-0.5b": 494032768, "gpt2": 124439808, "llama-reward": 29037568}


def check_configs():
    """transformers loads what srl_config_save writes."""
    import warnings
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["build/tests/test_config", "--save-for-python", d], check=True)
        for name in sorted(os.listdir(d)):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                c = AutoConfig.from_pretrained(os.path.join(d, name))
            score = name.endswith("-score") or name == "llama-reward"
            cls = AutoModelForSequenceClassification if score else AutoModelForCausalLM
            with torch.device("meta"):
                m = cls.from_config(c)
            n = sum(p.numel() for p in m.parameters())
            base = name.replace("-score", "")
            want = PARAMS[base]
            if score and base != "llama-reward":  # LM head replaced by a (1, hidden) score
                want += c.hidden_size if c.tie_word_embeddings else \
                    c.hidden_size - c.vocab_size * c.hidden_size
            assert n == want, (name, n, want)
            assert (c.num_labels == 1) if score else True, (name, c.num_labels)
            assert type(m).__name__.endswith("ForSequenceClassification" if score else
                                             ("LMHeadModel" if base == "gpt2" else "ForCausalLM"))
        print(f"transformers loads srl_config_save output: ok ({len(os.listdir(d))} configs)")


def main():
    os.makedirs(OUT, exist_ok=True)
    mixed()
    rounding()
    sharded()
    print("wrote", OUT)
    if "--check-ours" in sys.argv:
        check_ours()
        check_configs()


if __name__ == "__main__":
    main()
