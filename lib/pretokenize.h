/* pretokenize.h -- the regular expressions of byte-level BPE pre-tokenizers, hand-coded as
 * scanners (private to lib/).  Each splits UTF-8 text into consecutive pieces exactly as
 * Oniguruma's leftmost-first matching of the pattern does in HF tokenizers. */
#ifndef SRL_PRETOKENIZE_H
#define SRL_PRETOKENIZE_H

#include <stddef.h>

enum srl_pretok_pattern {
    /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    SRL_PRETOK_GPT2 = 1,
    /* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
       \s*[\r\n]+|\s+(?!\S)|\s+ */
    SRL_PRETOK_LLAMA3 = 2,
    /* as LLAMA3 with \p{N} instead of \p{N}{1,3} (Qwen2) */
    SRL_PRETOK_QWEN2 = 3,
};

/* The pattern a Split pre-tokenizer's regex string denotes, or 0 when it is none of these. */
int srl_pretok_pattern_of(const char *regex);

/* The regex string of a pattern (for writing tokenizer.json). */
const char *srl_pretok_regex(enum srl_pretok_pattern p);

/* Length in bytes of the piece starting at s[0] (n >= 1 bytes left); always >= 1. */
size_t srl_pretok_next(enum srl_pretok_pattern p, const char *s, size_t n);

#endif
