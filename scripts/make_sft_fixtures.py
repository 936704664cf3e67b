#!/usr/bin/env python3
"""make_sft_fixtures.py -- reference SFT tokenization and training for tests/unit/test_dataset.c
and tests/unit/test_trainer.c.

Computes what safe-rlhf's SupervisedDataset does (datasets/supervised.py), with HF tokenizers:
  single answer:  text = prompt + answer + eos; labels = ids; labels[:len(tok(prompt))] = -100
  dialogue:       text grows turn by turn (user turns end with the assistant cue, answers with
                  eos); offsets = token counts after each turn; the spans [offsets[2k],
                  offsets[2k+1]) are masked (every user part), every answer + eos trained
Both go through one generic renderer with the template strings of lib/template.c.

Writes tests/ref/sft/cases.jsonl: {"tokenizer", "template", "turns", "max_length", "ids",
"labels"} and tests/ref/sft/tok_bos/ (the demo tokenizer plus <s> </s> and a BOS template).

Also a reference SFT run (tests/ref/sft/train/): a tiny random Llama (model/), the first 8
demo records (train8.jsonl), and 4 optimiser steps the way safe-rlhf trains (HF causal-LM loss
with labels, right padding, gradient accumulation 2 with loss / 2, clip_grad_norm_, AdamW betas
(0.9, 0.95) with Safe RLHF's no-decay groups, get_cosine_schedule_with_warmup): per-step loss,
grad norm and lr in steps.json, the weights after the run in final.safetensors.  The micro-
batches are what lib/batching.h makes of 8 examples with batch size 4: one sorting window, so
the 4 shortest (by length, then index) and the 4 longest, whatever the seed.
Usage: python3 scripts/make_sft_fixtures.py   (after scripts/make_sft_demo.py)
"""
import json
import os

from tokenizers import Tokenizer, processors

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "ref", "sft")

# name: (begin, user_pre, user_post, answer_end or None for eos, eos_between_turns)
TEMPLATES = {
    "saferlhf": ("BEGINNING OF CONVERSATION: ", "USER: ", " ASSISTANT:", None, True),
    "hh": ("", "\n\nHuman: ", "\n\nAssistant:", None, False),
    "alpaca": ("Below is an instruction that describes a task. Write a response that "
               "appropriately completes the request.\n\n", "### Instruction:\n",
               "\n\n### Response:\n", None, False),
    "raw": ("", "", "", None, False),
}


def reference(tok, eos, template, turns, max_length):
    begin, upre, upost, aend, between_eos = TEMPLATES[template]
    end = aend if aend is not None else eos
    between = end if between_eos else ""
    text, offsets = begin, [0]
    for i, t in enumerate(turns):
        if i % 2 == 0:
            text += upre + t + upost
        else:
            text += t + (end if i + 1 == len(turns) else between)
        offsets.append(len(tok.encode(text).ids))
    ids = tok.encode(text).ids
    labels = list(ids)
    for b, e in zip(offsets[0::2], offsets[1::2]):
        for j in range(b, min(e, len(labels))):
            labels[j] = -100
    if max_length:
        ids, labels = ids[:max_length], labels[:max_length]
    return ids, labels


CASES = [
    ("saferlhf", ["What is 3 plus 4?", " 3 plus 4 is 7."], 0),
    ("saferlhf", ["What is 3 plus 4?", "3 plus 4 is 7."], 0),
    ("saferlhf", ["Say hello to Ada.", "Hello, Ada!", "What color is the sky?",
                  "The sky is blue."], 0),
    ("hh", ["How do I make a weapon?", " I cannot help with that.", "Why not?",
            " Because it could hurt people."], 0),
    ("alpaca", ["Repeat the word cat three times.", "cat cat cat."], 0),
    ("raw", ["Once upon a time", " there was a cat."], 0),
    ("saferlhf", ["What color is the snow?", "The snow is white, as everyone knows."], 16),
    ("saferlhf", ["", ""], 0),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    demo_dir = os.path.join(ROOT, "tests", "data", "sft_demo_tokenizer")
    demo = Tokenizer.from_file(os.path.join(demo_dir, "tokenizer.json"))
    bos = Tokenizer.from_file(os.path.join(demo_dir, "tokenizer.json"))
    bos.add_special_tokens(["<s>", "</s>"])
    bos.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", bos.token_to_id("<s>"))])
    bdir = os.path.join(OUT, "tok_bos")
    os.makedirs(bdir, exist_ok=True)
    bos.save(os.path.join(bdir, "tokenizer.json"))
    with open(os.path.join(bdir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>",
                   "eos_token": "</s>", "add_bos_token": False}, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "cases.jsonl"), "w") as f:
        for name, tok, eos in (("demo", demo, "<|endoftext|>"), ("bos", bos, "</s>")):
            for template, turns, max_length in CASES:
                ids, labels = reference(tok, eos, template, turns, max_length)
                f.write(json.dumps({"tokenizer": name, "template": template, "turns": turns,
                                    "max_length": max_length, "ids": ids,
                                    "labels": labels}) + "\n")


def record_turns(r):
    if "messages" in r:
        return [m["content"] for m in r["messages"]]
    if "instruction" in r:
        q = r["instruction"] + (" " + r["input"] if r.get("input") else "")
        return [q, r["output"]]
    return [r["prompt"], r["response"]]


def train_reference():
    import torch
    import transformers
    from safetensors.torch import save_file

    tdir = os.path.join(OUT, "train")
    os.makedirs(os.path.join(tdir, "model"), exist_ok=True)
    demo_dir = os.path.join(ROOT, "tests", "data", "sft_demo_tokenizer")
    tok = Tokenizer.from_file(os.path.join(demo_dir, "tokenizer.json"))
    with open(os.path.join(ROOT, "tests", "data", "sft_demo.jsonl")) as f:
        lines = f.readlines()[:8]
    with open(os.path.join(tdir, "train8.jsonl"), "w") as f:
        f.writelines(lines)
    ex = [reference(tok, "<|endoftext|>", "saferlhf", record_turns(json.loads(ln)), 0)
          for ln in lines]
    order = sorted(range(8), key=lambda i: (len(ex[i][0]), i))
    micro = [order[:4], order[4:]]

    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=384, hidden_size=16, intermediate_size=32,
                                   num_hidden_layers=2, num_attention_heads=2,
                                   num_key_value_heads=1, max_position_embeddings=128,
                                   rms_norm_eps=1e-5, rope_theta=10000.0,
                                   tie_word_embeddings=True, bos_token_id=0, eos_token_id=0,
                                   pad_token_id=None)
    # pad_token_id None: with pad = eos = 0, HF's nn.Embedding(padding_idx=0) would drop the
    # input-side gradient of the EOS row (a training quirk of padding_idx, not of SFT; safe-rlhf
    # adds a separate <pad> token, so it never touches a real token there).
    model = transformers.LlamaForCausalLM(cfg).float()
    with torch.no_grad():  # norms away from 1 so their decay/no-decay grouping shows
        for n, p in model.named_parameters():
            if "norm" in n:
                p.add_(0.1 * torch.randn_like(p))
    model.save_pretrained(os.path.join(tdir, "model"), safe_serialization=True)
    gen = os.path.join(tdir, "model", "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)  # not needed by the test

    wd, lr, clip, steps, warmup = 0.1, 1e-2, 0.5, 4, 2
    decay = [p for n, p in model.named_parameters()
             if not ("bias" in n.lower() or "layernorm.weight" in n.lower())]
    no_decay = [p for n, p in model.named_parameters()
                if "bias" in n.lower() or "layernorm.weight" in n.lower()]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95), eps=1e-8)
    sched = transformers.get_cosine_schedule_with_warmup(opt, warmup, steps)
    log = []
    for step in range(steps):
        opt.zero_grad()
        losses = []
        for mb in micro:
            T = max(len(ex[i][0]) for i in mb)
            ids = torch.zeros(len(mb), T, dtype=torch.long)
            labels = torch.full((len(mb), T), -100, dtype=torch.long)
            att = torch.zeros(len(mb), T, dtype=torch.long)
            for b, i in enumerate(mb):
                n = len(ex[i][0])
                ids[b, :n] = torch.tensor(ex[i][0])
                labels[b, :n] = torch.tensor(ex[i][1])
                att[b, :n] = 1
            loss = model(input_ids=ids, attention_mask=att, labels=labels).loss
            (loss / len(micro)).backward()
            losses.append(loss.item())
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip).item()
        cur_lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        log.append({"step": step + 1, "loss": sum(losses) / len(losses), "grad_norm": norm,
                    "lr": cur_lr})
    with open(os.path.join(tdir, "steps.json"), "w") as f:
        json.dump({"lr": lr, "weight_decay": wd, "clip": clip, "warmup_steps": warmup,
                   "steps": log}, f, indent=1)
        f.write("\n")
    save_file({n: p.detach().contiguous() for n, p in model.named_parameters()},
              os.path.join(tdir, "final.safetensors"))


if __name__ == "__main__":
    main()
    train_reference()
