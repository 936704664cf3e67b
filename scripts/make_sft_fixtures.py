#!/usr/bin/env python3
"""make_sft_fixtures.py -- reference SFT tokenization (ids and labels) for tests/unit/test_dataset.c.

Computes what safe-rlhf's SupervisedDataset does (datasets/supervised.py), with HF tokenizers:
  single answer:  text = prompt + answer + eos; labels = ids; labels[:len(tok(prompt))] = -100
  dialogue:       text grows turn by turn (user turns end with the assistant cue, answers with
                  eos); offsets = token counts after each turn; the spans [offsets[2k],
                  offsets[2k+1]) are masked (every user part), every answer + eos trained
Both go through one generic renderer with the template strings of lib/template.c.

Writes tests/ref/sft/cases.jsonl: {"tokenizer", "template", "turns", "max_length", "ids",
"labels"} and tests/ref/sft/tok_bos/ (the demo tokenizer plus <s> </s> and a BOS template).
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


if __name__ == "__main__":
    main()
