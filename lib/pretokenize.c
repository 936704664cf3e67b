/* pretokenize.c -- GPT-2, Llama 3 and Qwen2 pre-tokenizer patterns as scanners.
 *
 * Each function returns the length of the leftmost-first match at the start of the text,
 * trying the alternatives of the pattern in order, as the regex engine would. */
#include "pretokenize.h"

#include <stdint.h>
#include <string.h>

#include "unicode.h"

static const char gpt2_re[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char llama3_re[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char qwen2_re[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

int srl_pretok_pattern_of(const char *regex)
{
    if (!strcmp(regex, gpt2_re))
        return SRL_PRETOK_GPT2;
    if (!strcmp(regex, llama3_re))
        return SRL_PRETOK_LLAMA3;
    if (!strcmp(regex, qwen2_re))
        return SRL_PRETOK_QWEN2;
    /* GPT-2's pattern as some tokenizer.json files spell it, with \s+(?!\S) first */
    return 0;
}

const char *srl_pretok_regex(enum srl_pretok_pattern p)
{
    switch (p) {
    case SRL_PRETOK_GPT2: return gpt2_re;
    case SRL_PRETOK_LLAMA3: return llama3_re;
    case SRL_PRETOK_QWEN2: return qwen2_re;
    }
    return NULL;
}

/* Class and byte length of the character at s[i] (i < n). */
static inline int cls_at(const char *s, size_t n, size_t i, uint32_t *cp, int *len)
{
    const unsigned char *u = (const unsigned char *)s + i;
    if (u[0] < 0x80) {
        *cp = u[0];
        *len = 1;
    } else {
        *len = srl_utf8_decode(u, n - i, cp);
    }
    return srl_uc_class(*cp);
}

/* End of the run of characters of class c starting at i (at most max characters). */
static size_t run_end(const char *s, size_t n, size_t i, int c, size_t max)
{
    uint32_t cp;
    int len;
    size_t k = 0;
    while (i < n && k < max && cls_at(s, n, i, &cp, &len) == c) {
        i += (size_t)len;
        k++;
    }
    return i;
}

static size_t contraction(const char *s, size_t n, int fold)
{
    if (n < 2 || s[0] != '\'')
        return 0;
    char a = s[1], b = n > 2 ? s[2] : 0;
    if (fold) {
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

/* \s+(?!\S) then \s+ at a whitespace character. */
static size_t space_tail(const char *s, size_t n)
{
    uint32_t cp;
    int len;
    size_t i = 0, last = 0;
    while (i < n && cls_at(s, n, i, &cp, &len) == SRL_UC_SPACE) {
        last = i;
        i += (size_t)len;
    }
    if (i == n || last == 0)
        return i;
    return last;
}

static size_t next_gpt2(const char *s, size_t n)
{
    uint32_t cp;
    int len, c;
    size_t k = contraction(s, n, 0), j;

    if (k)
        return k;
    j = s[0] == ' ' && n > 1 ? 1 : 0;
    c = cls_at(s, n, j, &cp, &len);
    if (c == SRL_UC_LETTER || c == SRL_UC_NUMBER || c == SRL_UC_OTHER)
        return run_end(s, n, j, c, SIZE_MAX);
    /* s[0] is whitespace (a space followed by whitespace included) */
    return space_tail(s, n);
}

static size_t next_llama3(const char *s, size_t n, size_t max_digits)
{
    uint32_t cp, cp1;
    int len, len1, c, c1;
    size_t k = contraction(s, n, 1), j;

    if (k)
        return k;
    c = cls_at(s, n, 0, &cp, &len);
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (c == SRL_UC_LETTER)
        return run_end(s, n, 0, SRL_UC_LETTER, SIZE_MAX);
    if (c != SRL_UC_NUMBER && cp != '\r' && cp != '\n' && (size_t)len < n &&
        cls_at(s, n, (size_t)len, &cp1, &len1) == SRL_UC_LETTER)
        return run_end(s, n, (size_t)len, SRL_UC_LETTER, SIZE_MAX);
    /* \p{N}{1,3} */
    if (c == SRL_UC_NUMBER)
        return run_end(s, n, 0, SRL_UC_NUMBER, max_digits);
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    j = s[0] == ' ' && n > 1 ? 1 : 0;
    c1 = j ? cls_at(s, n, j, &cp1, &len1) : c;
    if (c1 == SRL_UC_OTHER) {
        j = run_end(s, n, j, SRL_UC_OTHER, SIZE_MAX);
        while (j < n && (s[j] == '\r' || s[j] == '\n'))
            j++;
        return j;
    }
    /* \s*[\r\n]+ */
    size_t i = 0, nl = SIZE_MAX;
    while (i < n && cls_at(s, n, i, &cp, &len) == SRL_UC_SPACE) {
        if (cp == '\r' || cp == '\n')
            nl = i;
        i += (size_t)len;
    }
    if (nl != SIZE_MAX)
        return nl + 1;
    return space_tail(s, n);
}

size_t srl_pretok_next(enum srl_pretok_pattern p, const char *s, size_t n)
{
    switch (p) {
    case SRL_PRETOK_GPT2: return next_gpt2(s, n);
    case SRL_PRETOK_LLAMA3: return next_llama3(s, n, 3);
    case SRL_PRETOK_QWEN2: return next_llama3(s, n, SIZE_MAX);
    }
    return n;
}
