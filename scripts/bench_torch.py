#!/usr/bin/env python3
"""bench_torch.py -- the PyTorch side of `make bench`'s CUDA numbers: GPT-2 124M training
tokens/s and MFU (bf16 autocast, torch.compile, SDPA flash attention, fused AdamW) for
B = 8, 16, 32 at T = 1024, and generation tokens/s with a KV cache (transformers' GPT-2,
greedy, 128 new tokens) for batches of 1, 16 and 128.  Prints JSON lines shaped like
tests/cuda/bench_cuda.c's, so the two can be read side by side.

Model FLOPs per token as bench/bench_train.c counts them: 6 * N_mm + 6 * L * T * d, N_mm the
parameters used in matrix products (GPT-2: all but wpe; the tied wte counts once, as the head).
mfu_nominal is against the card's dense bf16 datasheet peak when the card is known.

Usage: scripts/bench_torch.py [--quick] [--device cuda|cpu] [--batches 8,16,32] [--tiny]
(--tiny: a 2-layer model, for a smoke test of the script on a CPU.)"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, nh):
        super().__init__()
        self.nh = nh
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, C // self.nh).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, V=50257, P=1024, L=12, d=768, nh=12):
        super().__init__()
        self.wte = nn.Embedding(V, d)
        self.wpe = nn.Embedding(P, d)
        self.h = nn.ModuleList(Block(d, nh) for _ in range(L))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, V, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as GPT-2
        self.L, self.d, self.P = L, d, P
        for n, p in self.named_parameters():  # GPT-2's initialisation
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)
            elif n.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for blk in self.h:
            x = blk(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.view(-1),
                               ignore_index=-1)


def nominal_peak(name):
    if any(s in name for s in ("H100", "H200", "GH200")):
        return 756e12 if "PCIe" in name else 989e12
    if "A100" in name:
        return 312e12
    return 0.0


def sync(dev):
    if dev == "cuda":
        torch.cuda.synchronize()


def bench_train(args, dev, name):
    cfg = dict(L=2, d=128, nh=4, V=1000, P=256) if args.tiny else {}
    T = 64 if args.tiny else 1024
    torch.manual_seed(0)
    model = GPT(**cfg).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    n_mm = n_params - model.wpe.weight.numel()
    flops_per_token = 6 * n_mm + 6 * model.L * T * model.d
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.0,
                            fused=dev == "cuda")
    step_model = torch.compile(model) if dev == "cuda" else model
    V = model.wte.weight.shape[0]
    for B in args.batches:
        try:
            idx = torch.randint(0, V, (B, T + 1), device=dev)
            x, y = idx[:, :-1].contiguous(), idx[:, 1:].contiguous()
            steps = 2 if args.quick else 10
            times = []
            for s in range(steps + 3):  # three warm-up steps (compilation)
                t0 = time.perf_counter()
                with torch.autocast(device_type=dev, dtype=torch.bfloat16):
                    loss = step_model(x, y)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                sync(dev)
                if s >= 3:
                    times.append(time.perf_counter() - t0)
            step = sorted(times)[len(times) // 2]
            tps = B * T / step
            rec = {"bench": "torch_train", "model": "gpt2-124M" if not args.tiny else "tiny",
                   "device": name, "math": "bf16-autocast", "B": B, "T": T, "params": n_params,
                   "tokens_per_s": round(tps), "step_s": round(step, 4),
                   "loss": round(loss.item(), 4), "torch": torch.__version__}
            peak = nominal_peak(name)
            if peak:
                rec["mfu_nominal"] = round(flops_per_token * tps / peak, 4)
            print(json.dumps(rec), flush=True)
        except torch.cuda.OutOfMemoryError:
            print(json.dumps({"bench": "torch_train", "B": B, "T": T, "error": "out of memory"}),
                  flush=True)
            torch.cuda.empty_cache()
    del model, opt, step_model


def bench_generate(args, dev, name):
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        print(json.dumps({"bench": "torch_generate", "skipped": "no transformers"}), flush=True)
        return
    cfg = GPT2Config(n_layer=2, n_embd=128, n_head=4, vocab_size=1000, bos_token_id=0,
                     eos_token_id=0) if args.tiny \
        else GPT2Config()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(cfg).to(dev).eval()
    if dev == "cuda":
        model = model.to(torch.bfloat16)
    P, NEW = 64, 32 if args.quick else 128
    for B in (1, 16, 128):
        idx = torch.randint(0, cfg.vocab_size, (B, P), device=dev)
        mask = torch.ones_like(idx)
        with torch.no_grad():
            model.generate(idx, attention_mask=mask, max_new_tokens=4, min_new_tokens=4,
                           do_sample=False, pad_token_id=0)  # warm-up
            sync(dev)
            t0 = time.perf_counter()
            model.generate(idx, attention_mask=mask, max_new_tokens=NEW, min_new_tokens=NEW,
                           do_sample=False, pad_token_id=0)
            sync(dev)
            dt = time.perf_counter() - t0
        print(json.dumps({"bench": "torch_generate", "model": "gpt2-124M" if not args.tiny
                          else "tiny", "device": name, "dtype": str(next(model.parameters()).dtype),
                          "B": B, "prompt": P, "new_tokens": NEW,
                          "tokens_per_s": round(B * NEW / dt, 1)}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batches", default="8,16,32")
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    dev = args.device
    if dev == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"bench": "torch", "skipped": "no CUDA device"}))
        return 0
    if dev == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        name = torch.cuda.get_device_name(0)
    else:
        name = "cpu"
    bench_train(args, dev, name)
    bench_generate(args, dev, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
