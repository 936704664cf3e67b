#!/usr/bin/env python3
"""Write tests/ref/tokenizers/: token-id fixtures from Hugging Face `tokenizers` for
tests/unit/test_tokenizer*.c.  Each NAME.jsonl row is {"text", "ids", "decoded"}.

  gpt2.jsonl      HF's BPE from ../shared/tokenizers/gpt2/{encoder.json,vocab.bpe} with ByteLevel
                  (as GPT2TokenizerFast); its 2 MB tokenizer.json is not committed: the test
                  converts encoder.json + vocab.bpe itself
  tok512/         tokenizer.json as transformers converts stories260K/tok512.model
  tok512.jsonl    ids without special tokens; "sp": the sentencepiece package's own ids
  llama3/         a small byte-level BPE with the Llama 3 Split pattern, trained on corpus.jsonl
  qwen2/          the same with Qwen2's pipeline (NFC normalizer, \\p{N} pattern)
  llama2/         tok512 with Llama 2's Prepend + Replace normalizer
  metaspace_first/  tok512 with Metaspace prepend_scheme first, split
  added/          train_hf plus added tokens with lstrip / rstrip / single_word, non-special ones
  digits/, digit_runs_prefix/  train_hf with Digits pre-tokenizers, ByteLevel add_prefix_space
  train_hf/       HF BpeTrainer on corpus.jsonl (GPT-2 pre-tokenisation, vocab 600)
  corpus.jsonl    the training texts
  train_alpaca_merges.txt  HF BpeTrainer's merges on the ../shared Alpaca texts, vocab 4000

Usage: python3 scripts/make_tokenizer_fixtures.py [SHARED_DIR]
       python3 scripts/make_tokenizer_fixtures.py --check-ours DIR KIND [SHARED_DIR]
         (KIND gpt2|tok512|train) loads a tokenizer.json written by our C converters or trainer
         with HF tokenizers and AutoTokenizer and compares ids with the reference."""
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "ref", "tokenizers")


def fixture_strings():
    s = [
        "", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n\n", " \n ", "a\n\n b", "line1\r\nline2",
        "Hello world", "Hello  world", "Hello   world  ", "  leading", "trailing  ", "mid   spaces",
        "\t\tindented", "tab\tseparated\tvalues", "tab\tend\t", "x    y", "a \t b", "a\t\n\tb",
        "DON'T", "I'm", "you'll", "we've", "they're", "she'd", "it's", "'s", "O'Neil",
        "rock'n'roll", "YOU'LL WE'VE THEY'RE", "it'S", "Don't do that, it's John's.", "''quoted''",
        "12345", "3.14159", "1,000,000", "2024-01-01", "phone: 555-1234", "0", "007",
        "1234567890123",
        "x1y2z3", "v2.0.1-beta", "²³¹", "Ⅻ ⅻ", "٣٤٥", "१२३",
        "def f(x):\n    return x**2\n", "int main(void) { return 0; }", "if (a && b) || c {}",
        "<html><body>hi</body></html>", "x = [1, 2, 3]  # comment",
        "for i in range(10):\n\tprint(i)",
        "SELECT * FROM users WHERE id = 1;", "#include <stdio.h>", "a->b->c", "i++; j--;",
        "naïve café", "Crème brûlée", "Ελληνικά γράμματα", "Русский текст", "日本語のテキスト",
        "中文字符测试", "한국어 문장", "עברית", "العربية", "हिन्दी", "ไทย", "Tiếng Việt",
        "e\u0301", "a\u0308\u0304", "Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356\u032d",
        "\u00e9 vs e\u0301", "\u1e9b\u0323",
        "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸", "I ❤️ NY", "emoji 😀😃😄 run", "🤖 robot", "☃",
        "\u00a0", "a\u00a0b", "a\u3000b", "x\u2028y", "x\u200by", "\ufeffbom", "a\u2003\u2003b",
        "<|endoftext|>", "Hello<|endoftext|>world", "Hello <|endoftext|> world",
        "<|endoftext|><|endoftext|>", "<|endoftext", "a </s> b", "<s>hi</s>", "<unk>", "</s>",
        " </s>", "x</s>y", "<s> <s>", "<|begin_of_text|>hi<|eot_id|>",
        "aaaaaaaaaaaa", "!!!!!!", "....", "----", "====", "......!!!???", "___init___",
        "HELLO World", "iPhone", "McDonald's", "camelCaseIdentifier", "snake_case_name",
        "https://example.com/path?q=1&b=2", "user@example.org", "C:\\Windows\\System32",
        "\u2581already", "\u0120x", "\u2581 \u2581", "<0x41>", "\u00ff\u00fe",
        "Once upon a time, there was a little girl named Lily.",
        "She loved to play outside in the sunshine.",
        "The quick brown fox jumps over the lazy dog.",
        "How do I make a bomb?", "I can't help with that request.",
        "Human: What is the capital of France?\n\nAssistant: Paris.",
        "  Multiple\n\nparagraphs\n\n\nwith   odd   spacing.  ",
        "Mixed: English, Français, Deutsch, 日本語, and 🙂!",
        "¿Dónde está la biblioteca?", "Straße", "ǅemal", "ﬁne ﬂow", "ℌ𝔢𝔩𝔩𝔬",
        "𝓗𝓮𝓵𝓵𝓸", "\U0001F600\U0001F601", "\u0300start", "end\u0300", "\u0000nul",
        "\u0007bell", "\u001b[31mred\u001b[0m", "del\u007f", "\u0085nel",
        # Unicode 15/16 letters and digits (HF's Oniguruma is on 16.0), a 17.0 letter (not yet)
        "a\U0001E030b", "a\U00010D4Ab", "a\U0001E5D0b", "x\U0001CCF0y", "x\U00011F50y",
        "a\U00010940b", "\U0002EBF0\U00031350",
        # for NFC: combining sequences, Hangul jamo, singletons, reordering
        "\u1100\u1161\u11a8", "\u212b \u2126 \u00c5", "a\u0323\u0307 a\u0307\u0323",
        "\u0344 \u0f73", "e\u0301\u0301", "\uac00\u11a8", "\u0958",
    ]
    words = ["the", "Hello", "world", "DON'T", "123", "😀", "中文", "don't", "x", "!?"]
    seps = [" ", "  ", "\t", "\n", " \n", "", "   ", "\n\n"]
    for i, w in enumerate(words):
        for j, sep in enumerate(seps):
            s.append(sep + w + sep + words[(i + j) % len(words)] + sep)
    seen, out = set(), []
    for x in s:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def corpus_texts():
    base = [
        "Once upon a time, there was a little girl named Lily. She loved to play outside.",
        "The sun was shining and the birds were singing in the tall green trees.",
        "Tom and his dog went to the park. They played with a red ball all day long.",
        "Human: How do I bake bread?\n\nAssistant: Mix flour, water, salt and yeast, then bake.",
        "def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n",
        "It's a sunny day! Don't forget your hat, and we'll meet at 10:30.",
        "Safety first: we can't help with dangerous requests, but we're happy to help otherwise.",
        "Numbers like 12345 and 3.14 appear in text; so do dates like 2024-01-01.",
        "THE END. The end? the end...",
    ]
    texts = []
    for k in range(12):
        for i, b in enumerate(base):
            texts.append(b if (k + i) % 3 else b.upper() if k % 2 else b.lower())
    return texts + fixture_strings()


def alpaca_texts(shared):
    """instruction, input and output of each record, the non-empty ones, in file order"""
    with open(os.path.join(shared, "data", "alpaca", "alpaca_5000.json"), encoding="utf-8") as f:
        return [r[k] for r in json.load(f) for k in ("instruction", "input", "output") if r.get(k)]


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def gpt2_hf(shared):
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE
    d = os.path.join(shared, "tokenizers", "gpt2")
    tok = Tokenizer(BPE.from_file(os.path.join(d, "encoder.json"), os.path.join(d, "vocab.bpe")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    return tok


def tok512_hf(shared):
    """transformers' slow->fast conversion of the SentencePiece model."""
    from transformers import AutoTokenizer
    tmp = tempfile.mkdtemp()
    shutil.copy(os.path.join(shared, "models", "stories260K", "tok512.model"),
                os.path.join(tmp, "tokenizer.model"))
    t = AutoTokenizer.from_pretrained(tmp)
    shutil.rmtree(tmp)
    return t.backend_tokenizer


def rows_for(tok, strings, extra=None):
    rows = []
    for s in strings:
        ids = tok.encode(s, add_special_tokens=False).ids
        r = {"text": s, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)}
        if extra:
            r.update(extra(s))
        rows.append(r)
    return rows


def train_llama3(texts):
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers, trainers
    from tokenizers.models import BPE
    pat = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
           "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
    tok = Tokenizer(BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pat), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=700, special_tokens=["<|begin_of_text|>", "<|eot_id|>"],
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             show_progress=False)
    tok.train_from_iterator(texts, tr)
    return tok


def train_qwen2(texts):
    """Qwen2's pipeline: NFC, the Qwen2 Split pattern (\\p{N} one digit at a time), ByteLevel."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, trainers
    from tokenizers.models import BPE
    pat = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
           "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
    tok = Tokenizer(BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pat), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=700, special_tokens=["<|endoftext|>", "<|im_start|>",
                                                            "<|im_end|>"],
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             show_progress=False)
    tok.train_from_iterator(texts, tr)
    return tok


def variants(t512, trained):
    """Pipelines other Hub tokenizers use, on the tok512 and trained models."""
    from tokenizers import AddedToken, Tokenizer, normalizers, pre_tokenizers
    out = {}
    # Llama 2 / TinyLlama (transformers 4 legacy LlamaTokenizerFast): Prepend + Replace
    t = Tokenizer.from_str(t512.to_str())
    t.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                         normalizers.Replace(" ", "\u2581")])
    t.pre_tokenizer = None
    out["llama2"] = t
    # Mistral-style Metaspace: prepend to the first segment only, split at each U+2581
    t = Tokenizer.from_str(t512.to_str())
    t.normalizer = None
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first",
                                               split=True)
    out["metaspace_first"] = t
    # added tokens with lstrip / rstrip / single_word, and a non-special one
    t = Tokenizer.from_str(trained.to_str())
    t.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=True),
                          AddedToken("<|im_start|>"), AddedToken("<|im_end|>", rstrip=True)])
    t.add_tokens([AddedToken("[NEW]"), AddedToken("word", single_word=True),
                  AddedToken("hello world")])
    out["added"] = t
    # SmolLM-style: single digits before ByteLevel; digit runs; ByteLevel with add_prefix_space
    t = Tokenizer.from_str(trained.to_str())
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False)])
    out["digits"] = t
    t = Tokenizer.from_str(trained.to_str())
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=False),
                                               pre_tokenizers.ByteLevel(add_prefix_space=True)])
    out["digit_runs_prefix"] = t
    return out


def added_strings():
    return ["a <mask> b", "a<mask>b", "a  <mask>  b", "\t<mask>\n", "<mask>", " <mask>",
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", "x<|im_end|>   y",
            "[NEW]", "a[NEW]b", " [NEW] ", "word", "a word b", "swordfish", "word_", "(word)",
            "words word", "hello world", "hello  world", "say hello world!", "<mask>[NEW]word",
            "<|im_end|><mask>", "9\u0301word", "\u00b2word", "word\u0301", "\u24b6word",
            "word\u200d", "\u2160word", "\u0663word", "\u203fword"]


def train_gpt2_style(texts, vocab_size=600):
    from tokenizers import Tokenizer, decoders, pre_tokenizers, trainers
    from tokenizers.models import BPE
    tok = Tokenizer(BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             show_progress=False)
    tok.train_from_iterator(texts, tr)
    return tok


def check_ours(path, kind, shared):
    from tokenizers import Tokenizer
    ours = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
    strings = fixture_strings()
    if kind == "gpt2":
        ref = gpt2_hf(shared)
    elif kind == "tok512":
        ref = tok512_hf(shared)
    else:
        ref = Tokenizer.from_file(os.path.join(OUT, "train_hf", "tokenizer.json"))
        strings = strings + corpus_texts()
    bad = 0
    for s in strings:
        a = ours.encode(s, add_special_tokens=False).ids
        b = ref.encode(s, add_special_tokens=False).ids
        if a != b:
            bad += 1
            if bad < 5:
                print("differs:", repr(s), a, b)
    print("%s: %d of %d strings differ between ours and HF" % (kind, bad, len(strings)))
    if kind in ("gpt2", "tok512", "train"):
        import warnings
        from transformers import AutoTokenizer
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            t = AutoTokenizer.from_pretrained(path)
        print("AutoTokenizer: %s, %d warnings, %r" % (type(t).__name__, len(w),
                                                     t("Hello world").input_ids))
        for s in strings:
            a = t(s, add_special_tokens=False).input_ids
            if a != ref.encode(s, add_special_tokens=False).ids:
                bad += 1
                if bad < 5:
                    print("AutoTokenizer differs:", repr(s), a)
        print("%s: %d strings differ (with AutoTokenizer)" % (kind, bad))
    return bad


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--check-ours":
        shared = sys.argv[4] if len(sys.argv) > 4 else os.path.join(HERE, "..", "..", "shared")
        sys.exit(1 if check_ours(sys.argv[2], sys.argv[3], shared) else 0)
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared")
    strings = fixture_strings()
    os.makedirs(OUT, exist_ok=True)
    print("%d fixture strings" % len(strings))

    write_jsonl(os.path.join(OUT, "gpt2.jsonl"), rows_for(gpt2_hf(shared), strings))

    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(
        model_file=os.path.join(shared, "models", "stories260K", "tok512.model"))
    t512 = tok512_hf(shared)
    os.makedirs(os.path.join(OUT, "tok512"), exist_ok=True)
    t512.save(os.path.join(OUT, "tok512", "tokenizer.json"))
    rows = rows_for(t512, strings, lambda s: {"sp": sp.encode(s)})
    same = sum(r["ids"] == r["sp"] for r in rows)
    print("tok512: HF == sentencepiece on %d of %d strings" % (same, len(rows)))
    for r in rows:
        if r["ids"] != r["sp"]:
            print("  differs from sentencepiece:", repr(r["text"]))
    write_jsonl(os.path.join(OUT, "tok512.jsonl"), rows)

    corpus = corpus_texts()
    write_jsonl(os.path.join(OUT, "corpus.jsonl"), [{"text": t} for t in corpus])
    l3 = train_llama3(corpus)
    os.makedirs(os.path.join(OUT, "llama3"), exist_ok=True)
    l3.save(os.path.join(OUT, "llama3", "tokenizer.json"))
    write_jsonl(os.path.join(OUT, "llama3.jsonl"), rows_for(l3, strings))

    q2 = train_qwen2(corpus)
    os.makedirs(os.path.join(OUT, "qwen2"), exist_ok=True)
    q2.save(os.path.join(OUT, "qwen2", "tokenizer.json"))
    write_jsonl(os.path.join(OUT, "qwen2.jsonl"), rows_for(q2, strings))

    tr = train_gpt2_style(corpus)
    os.makedirs(os.path.join(OUT, "train_hf"), exist_ok=True)
    tr.save(os.path.join(OUT, "train_hf", "tokenizer.json"))
    write_jsonl(os.path.join(OUT, "train_hf.jsonl"), rows_for(tr, strings))

    for name, t in variants(t512, tr).items():
        os.makedirs(os.path.join(OUT, name), exist_ok=True)
        t.save(os.path.join(OUT, name, "tokenizer.json"))
        write_jsonl(os.path.join(OUT, name + ".jsonl"), rows_for(t, strings + added_strings()))
    # HF BpeTrainer on the Alpaca texts (../shared), vocab 4000: the test trains on the same
    alpaca = alpaca_texts(shared)
    ta = json.loads(train_gpt2_style(alpaca, 4000).to_str())["model"]["merges"]
    with open(os.path.join(OUT, "train_alpaca_merges.txt"), "w", encoding="utf-8") as f:
        for m in ta:
            f.write((m if isinstance(m, str) else " ".join(m)) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
