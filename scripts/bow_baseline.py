#!/usr/bin/env python3
"""bow_baseline.py -- a bag-of-words logistic-regression baseline for the reward and cost models,
on the same train/test split as scripts/bench_score_models.sh, so that a score model's accuracy
can be read against what word counts alone achieve.

Usage: python3 scripts/bow_baseline.py rm|cm TRAIN.jsonl[.gz] TEST.jsonl[.gz]
                                       [--tokenizer DIR --max-length N]

With --tokenizer and --max-length, HH test pairs that the trainer drops (the two dialogues the
same within N tokens: saferlhf-train-rm cuts sequences there) are left out, so that both are
scored on the same pairs.

Pairwise: a logistic regression without intercept on x = bow(low) - bow(high) (the better /
safer answer minus the other; each pair also enters mirrored with the opposite label), so
w . bow(answer) is a linear "score" and the accuracy is the fraction of test pairs it orders
right (reward: better > worse; cost: unsafer > safer).  Cost model also: sign accuracy of a
logistic regression bow(answer) -> unsafe, over the labelled test answers, and the majority
class.  Words are lowercased unigrams + bigrams of the answers (the prompt is shared by both
answers and cancels out); C is picked by 3-fold cross-validation on the training pairs.
HH dialogues: the answer is the text after the last "\\n\\nAssistant:".
Prints one JSON line.  Needs scikit-learn (PyPI)."""
import gzip
import json
import os
import sys
import warnings

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegressionCV


def records(path):
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def last_answer(text):
    i = text.rfind("\n\nAssistant:")
    return text[i + len("\n\nAssistant:"):] if i >= 0 else text


def pairs(path, cost):
    """(low answer, high answer, low unsafe, high unsafe) with unsafe None when unknown."""
    out = []
    for r in records(path):
        if "response_0" in r:
            a = [r["response_0"], r["response_1"]]
            k = r.get("safer_response_id") if cost else r.get("better_response_id")
            if k is None or a[0] == a[1]:
                continue
            safe = [r.get("is_response_0_safe"), r.get("is_response_1_safe")]
            u = [None if s is None else not s for s in safe]
            out.append((a[k], a[1 - k], u[k], u[1 - k]))
        else:
            c, j = last_answer(r["chosen"]), last_answer(r["rejected"])
            if c != j:
                out.append((c, j, None, None))
    return out


def same_within(tok_dir, n, test_path):
    """For HH records: whether the trainer drops the pair (chosen and rejected, tokenized with
    BOS from the post-processor and EOS appended, equal in their first n tokens)."""
    from transformers import PreTrainedTokenizerFast
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(tok_dir, "tokenizer.json"))
    eos = json.load(open(os.path.join(tok_dir, "tokenizer_config.json"))).get("eos_token", "")
    drop = []
    for r in records(test_path):
        if "chosen" in r and "prompt" not in r:
            a = tok(r["chosen"] + eos)["input_ids"][:n]
            b = tok(r["rejected"] + eos)["input_ids"][:n]
            drop.append(a == b)
    return drop


def main():
    warnings.filterwarnings("ignore", category=FutureWarning)
    kind, train_path, test_path = sys.argv[1:4]
    cost = kind == "cm"
    tr, te = pairs(train_path, cost), pairs(test_path, cost)
    opts = dict(zip(sys.argv[4::2], sys.argv[5::2]))
    dropped = 0
    if "--tokenizer" in opts:  # HH test records only, as pairs() reads them
        drop = same_within(opts["--tokenizer"], int(opts["--max-length"]), test_path)
        hh = [r for r in records(test_path) if "chosen" in r and "prompt" not in r]
        flags = [d for d, r in zip(drop, hh)
                 if last_answer(r["chosen"]) != last_answer(r["rejected"])]
        assert len(flags) == len(te)
        te = [p for p, d in zip(te, flags) if not d]
        dropped = sum(flags)
    vec = CountVectorizer(lowercase=True, ngram_range=(1, 2), min_df=2, binary=True)
    vec.fit([p[0] for p in tr] + [p[1] for p in tr])
    lo_tr, hi_tr = vec.transform([p[0] for p in tr]), vec.transform([p[1] for p in tr])
    lo_te, hi_te = vec.transform([p[0] for p in te]), vec.transform([p[1] for p in te])
    # pairwise: label 1 for low - high ("low is preferred"), mirrored for balance
    from scipy.sparse import vstack
    X = vstack([lo_tr - hi_tr, hi_tr - lo_tr])
    y = np.r_[np.ones(len(tr)), np.zeros(len(tr))]
    clf = LogisticRegressionCV(Cs=[0.01, 0.1, 1, 10], cv=3, fit_intercept=False,
                               max_iter=2000).fit(X, y)
    margin = (lo_te - hi_te) @ clf.coef_[0]
    res = {"model": kind, "train_pairs": len(tr), "test_pairs": len(te),
           "test_pairs_dropped": dropped,
           "features": len(vec.vocabulary_), "C": float(clf.C_[0]),
           "pairwise_accuracy": float(np.mean(margin > 0))}
    if cost:
        ans = [(p[0], p[2]) for p in tr] + [(p[1], p[3]) for p in tr]
        ans = [(a, u) for a, u in ans if u is not None]
        ans_te = [(p[0], p[2]) for p in te] + [(p[1], p[3]) for p in te]
        ans_te = [(a, u) for a, u in ans_te if u is not None]
        if ans and ans_te:
            Xs = vec.transform([a for a, _ in ans])
            ys = np.array([u for _, u in ans], dtype=int)
            sc = LogisticRegressionCV(Cs=[0.01, 0.1, 1, 10], cv=3, max_iter=2000).fit(Xs, ys)
            pred = sc.predict(vec.transform([a for a, _ in ans_te]))
            yt = np.array([u for _, u in ans_te], dtype=int)
            res["sign_accuracy"] = float(np.mean(pred == yt))
            res["sign_majority"] = float(max(yt.mean(), 1 - yt.mean()))
            res["test_answers_labelled"] = int(len(yt))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
