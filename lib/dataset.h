/* dataset.h -- training records (SFT, preference, prompt) read from JSONL/JSON files and
 * tokenized into compact examples.
 *
 * Files stream through lib/jsonl.h one record at a time; only the token ids (int32) and a
 * one-byte "trained" flag per token are kept, so a few-MB dataset costs a few MB.  Every record
 * error is "FILE:LINE: what is wrong"; with skip_bad the record is counted and skipped.
 *
 * Record schemas (DESIGN.md "Data"):
 *   SFT         {prompt, response}            prompt a string or a list of turns [u1, a1, .., un]
 *               {instruction, input, output}  Alpaca: user turn = instruction + " " + input when
 *                                             input is non-empty (as the reference's alpaca set)
 *               {messages: [{role, content}]} every assistant turn is trained, the rest masked;
 *                                             a system message goes before the first user turn
 *                                             (its content + "\n\n" + the user turn)
 *               {dialogue: [u1, a1, ...]}     the reference's dialogue sample
 *               {chosen} or {text}            an HH dialogue "\n\nHuman: ..\n\nAssistant: .."
 *                                             (rendered with the "hh" template whatever the
 *                                             run's template: its markers define the text)
 *   Preference  PKU-SafeRLHF {prompt, response_0, response_1, better_response_id,
 *               safer_response_id, is_response_0_safe, is_response_1_safe} (each label optional,
 *               at least one of better/safer required); {prompt, chosen, rejected};
 *               HH {chosen, rejected} (the shared dialogue prefix is the prompt)
 *   Prompt      lib/prompt.h's schemas ({prompt} string or list of turns, {instruction, input},
 *               {messages}), and HH dialogues {chosen}/{text} (their final answer dropped)
 *
 * HH dialogues split at role changes: "\n\nHuman:" starts a user turn, "\n\nAssistant:" an
 * assistant turn (a repeated marker of the same role stays inside the turn).  The user turn
 * drops the one space after "Human:" (the hh template writes it back); the assistant's text
 * keeps its leading space, so rendering gives back the original text exactly.
 *
 * Tokenization (srl_tokenize_conv) is the reference's (safe-rlhf datasets/supervised.py):
 *     text   = render(turns before the answer) + answer + answer_end     (answer_end = EOS)
 *     labels = ids, with [0, len(tokenize(render(prompt)))) masked
 * BOS comes from the tokenizer's post-processor (add_special_tokens=True).  Dialogues mask every
 * span from the end of an answer to the end of the next user turn's assistant cue, each span end
 * found by tokenizing the growing text.  Off-by-one risk noted by the reference: the prompt's
 * length comes from tokenizing the prompt ALONE, so if the tokenizer merges across the
 * prompt/answer boundary (a byte-level BPE merging "ASSISTANT:" with the answer's first
 * characters) one answer token is masked or one prompt token trained.  The templates end the
 * prompt on ":" or "\n" and answers usually start with a space, which keeps the boundary clean
 * for the tokenizers we ship; we replicate rather than "fix" it, for parity. */
#ifndef SRL_DATASET_H
#define SRL_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonl.h"
#include "template.h"
#include "tokenizer.h"

// --- conversations from records --------------------------------------------------------------

/* n turns [u1, a1, u2, ...] (user turns at even indices).  hh: the record was an HH dialogue and
 * must be rendered with the "hh" template. */
struct srl_conv {
    char **turns;
    size_t n;
    bool hh;
};
void srl_conv_free(struct srl_conv *c); /* frees the turns; NULL-safe; c itself is not freed */

/* An SFT record -> conversation with an even number of turns (ends with an answer).  WHERE
 * ("FILE:LINE") prefixes the logged error.  Returns 0 or SRL_EFORMAT. */
int srl_record_sft(const struct srl_json *rec, const char *where, struct srl_conv *c);

/* A prompt record -> conversation with an odd number of turns (ends with a user turn):
 * srl_prompt_turns() of lib/prompt.h, plus HH dialogues (the final answer, if any, dropped). */
int srl_record_prompt(const struct srl_json *rec, const char *where, struct srl_conv *c);

/* The tokens of a prompt record: srl_record_prompt rendered with template t (with "hh" for an
 * HH dialogue when hh is set), encoded with BOS and left-truncated to max tokens (max <= 0: no
 * limit).  Returns how many tokens *ids (malloc'ed) holds, with *truncated (may be NULL) how
 * many were cut, or SRL_E* (a prompt of no tokens is SRL_EFORMAT, logged with WHERE). */
int srl_record_prompt_ids(const struct srl_json *rec, const char *where,
                          const struct srl_tokenizer *tok, const struct srl_template *t, bool hh,
                          int max, int32_t **ids, int *truncated);

/* Split an HH dialogue text into turns (must start with "\n\nHuman:", leading whitespace
 * aside).  Returns 0 or SRL_EFORMAT (logged with WHERE). */
int srl_hh_split(const char *text, const char *where, struct srl_conv *c);

/* A preference pair: the shared prompt (odd number of turns) and two answers.  Labels are -1
 * when the record does not give them. */
struct srl_pref {
    struct srl_conv prompt;
    char *answer[2];
    int better;     /* 0 or 1: which answer is more helpful; -1 unknown */
    int safer;      /* 0 or 1: which answer is safer; -1 unknown */
    int is_safe[2]; /* 1 safe, 0 unsafe, -1 unknown */
};
void srl_pref_free(struct srl_pref *p); /* NULL-safe */

/* A preference record -> *p.  Checks: fields present and strings, ids 0 or 1, flags booleans,
 * safety flags consistent with safer_response_id (the safer answer cannot be the unsafe one of
 * a safe/unsafe pair).  {chosen, rejected} sets better = 0.  Returns 0, SRL_PREF_IDENTICAL
 * when the two answers are the same text (real data has such pairs -- 34 in the HH-RLHF test
 * splits; they carry no preference, so callers count and skip them; *p is left empty), or
 * SRL_EFORMAT (logged as "WHERE: what is wrong"). */
#define SRL_PREF_IDENTICAL 1
int srl_record_pref(const struct srl_json *rec, const char *where, struct srl_pref *p);

// --- tokenization ----------------------------------------------------------------------------

/* Tokenize turns[0..n) (n even: the last is the answer) rendered with template t.  train[i] is
 * 1 for tokens of trained answers (every answer, or only the last when last_only) and their
 * answer_end, 0 elsewhere (BOS, template text, user turns).  max_length > 0 keeps the first
 * max_length tokens (*truncated says whether any were cut).  Returns the token count and sets
 * *ids and *train (new arrays, free()), or a negative SRL_E*. */
int srl_tokenize_conv(const struct srl_tokenizer *tok, const struct srl_template *t,
                      const char *const *turns, size_t n, bool last_only, int max_length,
                      int32_t **ids, uint8_t **train, bool *truncated);

/* The tokenizer's EOS string ("" when it has none; borrowed). */
const char *srl_tokenizer_eos_string(const struct srl_tokenizer *tok);

// --- SFT example sets ------------------------------------------------------------------------

/* Examples stored back to back: example i is ids[start[i] .. start[i+1]) with the same range
 * of train.  Zero-initialise, fill with srl_sft_read(), free with srl_sft_set_free(). */
struct srl_sft_set {
    int32_t *ids;      /* (n_tokens) */
    uint8_t *train;    /* (n_tokens) 1 = trained target token */
    size_t *start;     /* (n + 1) */
    long *line;        /* (n) source line of each example */
    size_t n, n_tokens;
    size_t cap, cap_tokens;
    size_t n_records;  /* records read (all files) */
    size_t n_truncated; /* examples cut to max_length */
    size_t n_skipped;  /* bad records skipped (skip_bad) */
    size_t n_dropped;  /* examples left with no trained token after truncation (not kept) */
    size_t n_hh;       /* examples read that were HH dialogues (rendered with "hh") */
};

struct srl_sft_opts {
    const struct srl_tokenizer *tok;
    const struct srl_template *tmpl; /* for non-HH records */
    int max_length;                  /* 0: no limit */
    bool skip_bad;                   /* count and skip bad records instead of failing */
};

/* Append the examples of PATH ("-" stdin; JSONL, JSON array, .gz).  Returns 0 or SRL_E*
 * (a bad record: SRL_EFORMAT, logged "FILE:LINE: ..."). */
int srl_sft_read(struct srl_sft_set *s, const char *path, const struct srl_sft_opts *o);
/* Append one tokenized example (copies). */
int srl_sft_append(struct srl_sft_set *s, const int32_t *ids, const uint8_t *train, size_t len,
                   long line);
static inline size_t srl_sft_len(const struct srl_sft_set *s, size_t i)
{
    return s->start[i + 1] - s->start[i];
}
/* The eval side of a seeded split of n items: a mask of n bytes (free() it), 1 for the
 * round(ratio * n) items (all, at most) that come first in a Fisher-Yates shuffle; NULL when out
 * of memory.  The same n, ratio and seed choose the same items. */
uint8_t *srl_split_mask(size_t n, double ratio, uint64_t seed);
/* Move round(ratio * n) examples chosen by srl_split_mask into *eval (zero-initialised),
 * keeping both sets in their original order.  Returns 0 or SRL_E*. */
int srl_sft_split(struct srl_sft_set *s, double ratio, uint64_t seed, struct srl_sft_set *eval);
void srl_sft_set_free(struct srl_sft_set *s);

#endif
