#!/usr/bin/env python3
"""make_reference.py -- write the PyTorch/transformers reference fixtures under tests/ref/.

Usage: python3 scripts/make_reference.py [OUTDIR]     (default tests/ref; run from the repo root)

Needs torch and transformers (PyPI); `make test` never runs this, it reads the committed output.

For each tiny model (tests/ref/<name>/):
  config.json, model.safetensors   a real HF directory written by save_pretrained
  ref.safetensors                  input_ids, targets, loss_mask (F32, (B,T)), logits (B,T,V),
                                   loss (1), grad.<hf name> (the gradient at the initial
                                   parameters), final.<hf name> (parameters after STEPS AdamW
                                   steps), lr (STEPS), grad_norm (STEPS), step_loss (STEPS)
  ref.json                         hyper-parameters, per-step lrs / losses / pre-clip grad norms,
                                   the no-decay parameter names, and torch's own fp32 error
                                   against this reference (a yardstick for the C errors)

The reference is computed in float64 from the stored weights (for the bf16/fp16 copies: from
the rounded weights), then rounded to float32.  Training repeats the same batch each step:
forward, masked token-mean cross-entropy, backward, clip_grad_norm_, AdamW, scheduler.step().

tests/ref/optim/optim.json holds transformers' LR schedules and a small torch.optim.AdamW and
clip_grad_norm_ run for tests/unit/test_optim.c.
"""
import json
import math
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM)
from transformers.optimization import get_scheduler

B, T = 2, 16
VOCAB = 96
PROMPT_LEN = [5, 3]     # tokens of each sequence that are prompt (not trained on)
SEQ_LEN = [16, 12]      # sequence 1 is right-padded from position 12
PAD_ID = 0

HP = dict(lr=1e-2, betas=[0.9, 0.95], eps=1e-8, weight_decay=0.1, max_grad_norm=3.0,
          schedule="cosine", warmup_steps=1, total_steps=5, steps=4)


def llama_config(**kw):
    c = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
             rms_norm_eps=1e-5, rope_theta=1000.0, tie_word_embeddings=False,
             bos_token_id=1, eos_token_id=2, pad_token_id=PAD_ID)
    c.update(kw)
    return c


def build(name):
    if name == "llama_gqa":
        return LlamaForCausalLM(LlamaConfig(**llama_config()))
    if name == "llama_tied":
        return LlamaForCausalLM(LlamaConfig(**llama_config(tie_word_embeddings=True)))
    if name == "qwen2_bias":
        # Qwen2: q/k/v biases, no o_proj bias; a different theta and eps again.
        return Qwen2ForCausalLM(Qwen2Config(**llama_config(rope_theta=50000.0, rms_norm_eps=1e-6,
                                                           max_position_embeddings=128)))
    if name == "gpt2":
        return GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4,
                                          n_positions=64, bos_token_id=VOCAB - 1,
                                          eos_token_id=VOCAB - 1, resid_pdrop=0.0,
                                          embd_pdrop=0.0, attn_pdrop=0.0))
    raise ValueError(name)


def is_norm(name):
    return "norm" in name or ".ln_" in name


def no_decay(name, p):
    """Norm weights and every bias: excluded from weight decay (the model's no_decay flags)."""
    return p.ndim < 2


def init_params(model, seed):
    """Large random weights (std 0.2) so logits are far from uniform; norm weights 1 + 0.2 N(0,1)
    and nonzero biases so that a dropped scale or bias changes the result."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g, dtype=torch.float64)
            if is_norm(n) and n.endswith("weight"):
                p.copy_(1.0 + 0.2 * r)
            elif n.endswith("bias"):
                p.copy_(0.2 * r)
            else:
                p.copy_(0.2 * r)


def make_batch(seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (B, T), generator=g)
    targets = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.float64)
    for b in range(B):
        ids[b, SEQ_LEN[b]:] = PAD_ID
        targets[b, :T - 1] = ids[b, 1:]
        # position t predicts token t+1: train on response tokens inside the sequence
        for t in range(T - 1):
            if t + 1 >= PROMPT_LEN[b] and t + 1 < SEQ_LEN[b]:
                mask[b, t] = 1.0
    return ids, targets, mask


def masked_loss(logits, targets, mask):
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                           targets.reshape(-1), reduction="none")
    m = mask.reshape(-1).to(ce.dtype)
    return (ce * m).sum() / m.sum()


def run(model, ids, targets, mask, dtype):
    """Forward/backward at the initial parameters, then HP['steps'] training steps.
    Returns a dict of float64 tensors and per-step lists."""
    model = model.to(dtype)
    params = dict(model.named_parameters())
    groups = [
        {"params": [p for n, p in params.items() if not no_decay(n, p)],
         "weight_decay": HP["weight_decay"]},
        {"params": [p for n, p in params.items() if no_decay(n, p)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=HP["lr"], betas=tuple(HP["betas"]), eps=HP["eps"])
    sched = get_scheduler(HP["schedule"], opt, num_warmup_steps=HP["warmup_steps"],
                          num_training_steps=HP["total_steps"])
    out = {"lr": [], "grad_norm": [], "step_loss": []}
    for step in range(HP["steps"]):
        opt.zero_grad(set_to_none=True)
        logits = model(input_ids=ids).logits
        loss = masked_loss(logits, targets, mask)
        loss.backward()
        if step == 0:
            out["logits"] = logits.detach().double().clone()
            out["loss"] = loss.detach().double().reshape(1).clone()
            out["grads"] = {n: p.grad.detach().double().clone() for n, p in params.items()}
        lr = opt.param_groups[0]["lr"]
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), HP["max_grad_norm"])
        opt.step()
        sched.step()
        out["lr"].append(float(lr))
        out["grad_norm"].append(float(norm))
        out["step_loss"].append(float(loss.detach()))
    out["final"] = {n: p.detach().double().clone() for n, p in params.items()}
    return out


def max_err(a, b):
    d = (a - b).abs()
    return float(d.max()), float((d / (b.abs() + 1e-12)).max())


def write_model(name, outdir, seed, dtype=None, base=None):
    torch.manual_seed(seed)
    if base is None:
        model = build(name)
        init_params(model, seed)
    else:
        model = base
    d = os.path.join(outdir, name if dtype is None else f"{name}_{dtype}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    tdtype = {None: torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    model = model.to(tdtype)
    model.config.dtype = tdtype
    model.save_pretrained(d)
    for f in os.listdir(d):
        if f not in ("config.json", "model.safetensors", "generation_config.json"):
            raise RuntimeError(f"unexpected file {f} written by save_pretrained")
    os.remove(os.path.join(d, "generation_config.json"))
    if name == "qwen2_bias":
        # Hub Qwen2/Llama checkpoints carry transformers-4 keys: exercise that spelling too.
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        cfg["rope_theta"] = cfg.pop("rope_parameters")["rope_theta"]
        cfg["torch_dtype"] = cfg.pop("dtype")
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
            f.write("\n")
    # Reload what was written (checks the v4 spelling loads in transformers too).
    cls = type(model)
    ref_model = cls.from_pretrained(d, dtype=torch.float64)
    if name == "qwen2_bias":
        assert ref_model.config.rope_parameters["rope_theta"] == 50000.0
    ids, targets, mask = make_batch(seed + 1)
    ref = run(ref_model, ids, targets, mask, torch.float64)
    # torch's own float32 run against the float64 reference: the noise floor for the C code
    f32 = run(cls.from_pretrained(d, dtype=torch.float32), ids, targets, mask, torch.float32)
    noise = {"logits": max_err(f32["logits"], ref["logits"]),
             "loss": max_err(f32["loss"], ref["loss"]),
             "grads": max(max_err(f32["grads"][n], g) for n, g in ref["grads"].items()),
             "final": max(max_err(f32["final"][n], p) for n, p in ref["final"].items())}

    tensors = {"input_ids": ids.float(), "targets": targets.float(), "loss_mask": mask.float(),
               "logits": ref["logits"].float(), "loss": ref["loss"].float(),
               "lr": torch.tensor(ref["lr"]).float(),
               "grad_norm": torch.tensor(ref["grad_norm"]).float(),
               "step_loss": torch.tensor(ref["step_loss"]).float()}
    for n, g in ref["grads"].items():
        tensors["grad." + n] = g.float().contiguous()
    for n, p in ref["final"].items():
        tensors["final." + n] = p.float().contiguous()
    save_file(tensors, os.path.join(d, "ref.safetensors"), metadata={"format": "pt"})
    params = dict(ref_model.named_parameters())
    meta = dict(HP)
    meta.update(model=name, dtype=dtype or "fp32", B=B, T=T, prompt_len=PROMPT_LEN,
                seq_len=SEQ_LEN, pad_id=PAD_ID, lrs=ref["lr"], grad_norms=ref["grad_norm"],
                step_losses=ref["step_loss"],
                clipped_steps=[i for i, g in enumerate(ref["grad_norm"])
                               if g > HP["max_grad_norm"]],
                params=sorted(params), no_decay=sorted(n for n, p in params.items()
                                                       if no_decay(n, p)),
                torch_f32_max_abs_rel=noise)
    with open(os.path.join(d, "ref.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"{d}: loss {ref['loss'].item():.6f} grad norms "
          + " ".join(f"{g:.3f}" for g in ref["grad_norm"])
          + f"  torch f32 err: " + ", ".join(f"{k} {v[0]:.1e}" for k, v in noise.items()))
    return model


def write_optim(outdir):
    """Schedules from transformers.get_scheduler and a torch.optim.AdamW run in float32."""
    d = os.path.join(outdir, "optim")
    os.makedirs(d, exist_ok=True)
    sched = []
    dummy = torch.nn.Parameter(torch.zeros(1))
    for name in ("constant", "constant_with_warmup", "linear", "cosine"):
        for warmup, total in ((0, 10), (3, 10), (1, 4), (5, 5)):
            opt = torch.optim.SGD([dummy], lr=1.0)
            s = get_scheduler(name, opt, num_warmup_steps=warmup, num_training_steps=total)
            vals = []
            for _ in range(total + 3):
                vals.append(opt.param_groups[0]["lr"])
                opt.step()
                s.step()
            sched.append(dict(name=name, warmup=warmup, total=total, values=vals))

    g = torch.Generator().manual_seed(7)
    n, n_decay, steps = 37, 23, 5
    p0 = (torch.randn(n, generator=g) * 0.5).float()
    grads = []
    for s in range(steps):
        gr = torch.randn(n, generator=g).float() * (10.0 ** (s - 2))  # 1e-2 ... 1e2
        gr[5] = 0.0                     # an element that never gets a gradient
        grads.append(gr)
    lrs = [0.0, 1e-2, 3e-3, 1e-3, 5e-4]
    betas, eps, wd, clip = (0.9, 0.95), 1e-8, 0.1, 1.0
    p = torch.nn.Parameter(p0.clone())
    # decay on [0, n_decay), none on [n_decay, n): two views of one parameter are not possible
    # in torch, so run two parameters and concatenate
    pa = torch.nn.Parameter(p0[:n_decay].clone())
    pb = torch.nn.Parameter(p0[n_decay:].clone())
    opt = torch.optim.AdamW([{"params": [pa], "weight_decay": wd},
                             {"params": [pb], "weight_decay": 0.0}],
                            lr=lrs[0], betas=betas, eps=eps)
    after, norms = [], []
    for s in range(steps):
        for grp in opt.param_groups:
            grp["lr"] = lrs[s]
        pa.grad = grads[s][:n_decay].clone()
        pb.grad = grads[s][n_decay:].clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_([pa, pb], clip)))
        opt.step()
        after.append(torch.cat([pa.detach(), pb.detach()]).tolist())
    del p
    st = opt.state
    m_final = torch.cat([st[pa]["exp_avg"], st[pb]["exp_avg"]]).tolist()
    v_final = torch.cat([st[pa]["exp_avg_sq"], st[pb]["exp_avg_sq"]]).tolist()
    adamw = dict(n=n, n_decay=n_decay, lrs=lrs, betas=list(betas), eps=eps, weight_decay=wd,
                 max_grad_norm=clip, p0=p0.tolist(), grads=[x.tolist() for x in grads],
                 params_after=after, grad_norms=norms, m_final=m_final, v_final=v_final)
    with open(os.path.join(d, "optim.json"), "w") as f:
        json.dump({"schedules": sched, "adamw": adamw}, f, indent=0)
        f.write("\n")
    print(f"{d}/optim.json: {len(sched)} schedules, AdamW n={n} steps={steps}, "
          f"grad norms " + " ".join(f"{x:.3g}" for x in norms))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/ref"
    os.makedirs(outdir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    write_optim(outdir)
    base = None
    for i, name in enumerate(("llama_gqa", "llama_tied", "qwen2_bias", "gpt2")):
        m = write_model(name, outdir, seed=1000 + 10 * i)
        if name == "llama_gqa":
            base = m
    # bf16 / fp16 copies of llama_gqa: the reference is computed from the rounded weights
    for dt in ("bf16", "fp16"):
        write_model("llama_gqa", outdir, seed=1000, dtype=dt,
                    base=LlamaForCausalLM.from_pretrained(os.path.join(outdir, "llama_gqa"),
                                                          dtype=torch.float32))


if __name__ == "__main__":
    main()
