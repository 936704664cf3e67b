#!/usr/bin/env python3
"""make_sft_demo.py -- the project's own small SFT demo set, a tokenizer trained on it, and a
tiny model config, for saferlhf-sft's tests, bench and from-scratch demo.

Writes (deterministic, seed 7):
  tests/data/sft_demo.jsonl             300 records in the three SFT schemas: {prompt, response},
                                        Alpaca {instruction, input, output}, {messages}
  tests/data/sft_demo_tokenizer/        byte-level BPE (HF tokenizers BpeTrainer, which
                                        srl_tokenizer_train_bpe reproduces), 384 tokens,
                                        <|endoftext|> = bos = eos = pad
  tests/data/sft_tiny_config.json       a 2-layer Llama (hidden 32) for that vocabulary

The answers follow simple rules (arithmetic, colours, greetings, refusals of harmful
requests), so a tiny model's loss falls quickly.  Usage: python3 scripts/make_sft_demo.py
"""
import json
import os
import random

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "data")

NAMES = ["Ada", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivy", "Jon"]
THINGS = {"sky": "blue", "grass": "green", "snow": "white", "coal": "black", "sun": "yellow",
          "blood": "red", "sea": "blue", "banana": "yellow", "cherry": "red", "night": "dark"}
HARMFUL = ["make a weapon", "steal a car", "hurt someone", "break into a house",
           "poison a dog", "cheat on a test"]
WORDS = ["cat", "dog", "tree", "moon", "book", "rain", "bird", "fish"]


def example(rng):
    kind = rng.randrange(5)
    if kind == 0:
        a, b = rng.randrange(10), rng.randrange(10)
        return f"What is {a} plus {b}?", f" {a} plus {b} is {a + b}."
    if kind == 1:
        thing = rng.choice(sorted(THINGS))
        return f"What color is the {thing}?", f" The {thing} is {THINGS[thing]}."
    if kind == 2:
        name = rng.choice(NAMES)
        return f"Say hello to {name}.", f" Hello, {name}! Nice to meet you."
    if kind == 3:
        act = rng.choice(HARMFUL)
        return (f"How do I {act}?",
                f" I cannot help you {act}, because it could hurt people.")
    w = rng.choice(WORDS)
    return f"Repeat the word {w} three times.", f" {w} {w} {w}."


def records(rng, n):
    out = []
    for _ in range(n):
        r = rng.random()
        q, a = example(rng)
        if r < 0.6:
            out.append({"prompt": q, "response": a.lstrip()})
        elif r < 0.85:
            # Alpaca: split the question into instruction + input sometimes
            if " " in q and rng.random() < 0.5:
                head, tail = q.split(" ", 1)
                out.append({"instruction": head, "input": tail, "output": a.lstrip()})
            else:
                out.append({"instruction": q, "input": "", "output": a.lstrip()})
        else:
            q2, a2 = example(rng)
            out.append({"messages": [{"role": "user", "content": q},
                                     {"role": "assistant", "content": a.lstrip()},
                                     {"role": "user", "content": q2},
                                     {"role": "assistant", "content": a2.lstrip()}]})
    return out


def texts(recs):
    for r in recs:
        if "messages" in r:
            yield " ".join(m["content"] for m in r["messages"])
        else:
            yield " ".join(str(v) for v in r.values())
    yield "BEGINNING OF CONVERSATION: USER: ASSISTANT:"


def main():
    rng = random.Random(7)
    recs = records(rng, 300)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "sft_demo.jsonl"), "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=384, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(list(texts(recs)), trainer)
    tdir = os.path.join(OUT, "sft_demo_tokenizer")
    os.makedirs(tdir, exist_ok=True)
    tok.save(os.path.join(tdir, "tokenizer.json"))
    with open(os.path.join(tdir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|endoftext|>",
                   "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                   "model_max_length": 256}, f, indent=2)
        f.write("\n")

    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32,
           "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
           "num_key_value_heads": 2, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "vocab_size": 384, "tie_word_embeddings": True,
           "torch_dtype": "float32", "bos_token_id": 0, "eos_token_id": 0}
    with open(os.path.join(OUT, "sft_tiny_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
