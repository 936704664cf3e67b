/* dataset.c -- tokenizing conversations with prompt masks, and SFT example sets. */
#include "dataset.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "srl.h"

const char *srl_tokenizer_eos_string(const struct srl_tokenizer *tok)
{
    int eos = srl_tokenizer_eos_id(tok);
    const char *s = eos >= 0 ? srl_tokenizer_token(tok, eos) : NULL;
    return s ? s : "";
}

/* Number of tokens of len bytes of text (with special tokens), or a negative SRL_E*. */
static int count_tokens(const struct srl_tokenizer *tok, const char *text, size_t len)
{
    int *ids = NULL;
    int n = srl_tokenizer_encode(tok, text, len, 1, &ids);
    free(ids);
    return n;
}

/* A growing string. */
struct sbuf {
    char *s;
    size_t len, cap;
};

static int sb_add(struct sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) return SRL_ENOMEM;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
    return 0;
}

int srl_tokenize_conv(const struct srl_tokenizer *tok, const struct srl_template *t,
                      const char *const *turns, size_t n, bool last_only, int max_length,
                      int32_t **ids_out, uint8_t **train_out, bool *truncated)
{
    const char *eos = srl_tokenizer_eos_string(tok);
    const char *end = srl_template_answer_end(t, eos);
    const char *between = t->eos_between_turns ? end : "";
    struct sbuf b = { 0 };
    int *ids = NULL, rc = SRL_EINVAL, len = 0;
    /* spans[2k], spans[2k+1]: token range of answer k (answer + its terminator) */
    int *spans = NULL;
    uint8_t *train = NULL;
    *ids_out = NULL;
    *train_out = NULL;
    *truncated = false;
    if (n == 0 || n % 2 != 0) return SRL_EINVAL;
    if (!(spans = calloc(n, sizeof *spans))) return SRL_ENOMEM;
    /* Render turn by turn: the text through user turn k ends with the assistant cue; the text
     * through answer k adds the answer and its terminator.  Token counts of these prefixes are
     * the span boundaries (the reference tokenizes the growing text the same way). */
    if ((rc = sb_add(&b, t->begin)) < 0) goto out;
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 0) {
            if ((rc = sb_add(&b, t->user_pre)) < 0 || (rc = sb_add(&b, turns[i])) < 0 ||
                (rc = sb_add(&b, t->user_post)) < 0)
                goto out;
        } else {
            if ((rc = sb_add(&b, turns[i])) < 0 || (rc = sb_add(&b, i + 1 == n ? end : between))
                < 0)
                goto out;
        }
        bool need = !last_only || i + 2 >= n; /* boundaries of the trained answers */
        if (need && i + 1 < n) {
            int c = count_tokens(tok, b.s, b.len);
            if (c < 0) {
                rc = c;
                goto out;
            }
            spans[i] = c;
        }
    }
    if ((len = srl_tokenizer_encode(tok, b.s, b.len, 1, &ids)) < 0) {
        rc = len;
        goto out;
    }
    spans[n - 1] = len;
    if (max_length > 0 && len > max_length) {
        len = max_length;
        *truncated = true;
    }
    rc = SRL_ENOMEM;
    if (!(train = calloc(len ? len : 1, 1))) goto out;
    for (size_t k = last_only ? n - 2 : 0; k < n; k += 2) {
        int lo = spans[k], hi = spans[k + 1];
        for (int j = lo; j < hi && j < len; j++) train[j] = 1;
    }
    int32_t *out = malloc(sizeof *out * (len ? len : 1));
    if (!out) goto out;
    for (int j = 0; j < len; j++) out[j] = ids[j];
    *ids_out = out;
    *train_out = train;
    train = NULL;
    rc = len;
out:
    free(train);
    free(spans);
    free(ids);
    free(b.s);
    return rc;
}

// --- SFT sets --------------------------------------------------------------------------------

int srl_sft_append(struct srl_sft_set *s, const int32_t *ids, const uint8_t *train, size_t len,
                   long line)
{
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        size_t *st = realloc(s->start, (cap + 1) * sizeof *st);
        if (!st) return SRL_ENOMEM;
        s->start = st;
        long *ln = realloc(s->line, cap * sizeof *ln);
        if (!ln) return SRL_ENOMEM;
        s->line = ln;
        if (s->n == 0) s->start[0] = 0;
        s->cap = cap;
    }
    if (s->n_tokens + len > s->cap_tokens) {
        size_t cap = (s->n_tokens + len) * 2 + 4096;
        int32_t *ip = realloc(s->ids, cap * sizeof *ip);
        if (!ip) return SRL_ENOMEM;
        s->ids = ip;
        uint8_t *tp = realloc(s->train, cap);
        if (!tp) return SRL_ENOMEM;
        s->train = tp;
        s->cap_tokens = cap;
    }
    memcpy(s->ids + s->n_tokens, ids, len * sizeof *ids);
    memcpy(s->train + s->n_tokens, train, len);
    s->n_tokens += len;
    s->line[s->n] = line;
    s->start[++s->n] = s->n_tokens;
    return 0;
}

/* One record -> one example (or a counted drop). */
static int sft_record(struct srl_sft_set *s, const struct srl_json *rec, const char *where,
                      long line, const struct srl_sft_opts *o, const struct srl_template *hh)
{
    struct srl_conv c;
    int32_t *ids = NULL;
    uint8_t *train = NULL;
    bool trunc;
    int rc = srl_record_sft(rec, where, &c);
    if (rc < 0) return rc;
    int len = srl_tokenize_conv(o->tok, c.hh ? hh : o->tmpl, (const char *const *)c.turns, c.n,
                                false, o->max_length, &ids, &train, &trunc);
    bool was_hh = c.hh;
    srl_conv_free(&c);
    if (len < 0) {
        srl_log_error("%s: cannot tokenize the record", where);
        return len;
    }
    /* a target at position t is token t+1: a trained token at 0 has no target */
    int any = 0;
    for (int j = 1; j < len; j++) any |= train[j];
    if (trunc) s->n_truncated++;
    if (!any) s->n_dropped++;
    else if ((rc = srl_sft_append(s, ids, train, (size_t)len, line)) == 0 && was_hh) s->n_hh++;
    free(ids);
    free(train);
    return rc;
}

int srl_sft_read(struct srl_sft_set *s, const char *path, const struct srl_sft_opts *o)
{
    int err;
    const struct srl_template *hh = srl_template_find("hh");
    struct srl_jsonl *r = srl_jsonl_open(path, &err);
    if (!r) return err;
    struct srl_json *rec;
    char where[1100];
    while (1) {
        err = srl_jsonl_next(r, &rec);
        if (err == SRL_EOF) break;
        if (err == 0) {
            long line = srl_jsonl_line(r);
            snprintf(where, sizeof where, "%s:%ld", path, line);
            s->n_records++;
            err = sft_record(s, rec, where, line, o, hh);
            srl_json_decref(rec);
            if (err == SRL_EFORMAT && o->skip_bad) {
                s->n_skipped++;
                srl_log_error_handled();
                continue;
            }
            if (err < 0) break;
            continue;
        }
        if (err == SRL_EFORMAT && o->skip_bad && srl_jsonl_recoverable(r)) {
            s->n_records++;
            s->n_skipped++;
            srl_log_error_handled();
            continue;
        }
        break;
    }
    srl_jsonl_close(r);
    return err == SRL_EOF ? 0 : err;
}

uint8_t *srl_split_mask(size_t n, double ratio, uint64_t seed)
{
    size_t k = (size_t)(ratio * (double)n + 0.5);
    uint8_t *mask = calloc(n ? n : 1, 1);
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    struct srl_rng rng;
    if (!mask || !perm) {
        free(mask);
        free(perm);
        return NULL;
    }
    if (k > n) k = n;
    srl_rng_seed(&rng, seed ^ 0x5e1f5b117ULL);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)srl_rng_below(&rng, i), t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < k; i++) mask[perm[i]] = 1;
    free(perm);
    return mask;
}

int srl_sft_split(struct srl_sft_set *s, double ratio, uint64_t seed, struct srl_sft_set *eval)
{
    size_t n = s->n;
    struct srl_sft_set keep = { 0 };
    uint8_t *to_eval = srl_split_mask(n, ratio, seed);
    int rc = SRL_ENOMEM;
    if (!to_eval) goto out;
    for (size_t i = 0; i < n; i++) {
        struct srl_sft_set *dst = to_eval[i] ? eval : &keep;
        rc = srl_sft_append(dst, s->ids + s->start[i], s->train + s->start[i], srl_sft_len(s, i),
                            s->line[i]);
        if (rc < 0) goto out;
    }
    keep.n_records = s->n_records;
    keep.n_truncated = s->n_truncated;
    keep.n_skipped = s->n_skipped;
    keep.n_dropped = s->n_dropped;
    keep.n_hh = s->n_hh;
    srl_sft_set_free(s);
    *s = keep;
    memset(&keep, 0, sizeof keep);
    rc = 0;
out:
    srl_sft_set_free(&keep);
    free(to_eval);
    return rc;
}

void srl_sft_set_free(struct srl_sft_set *s)
{
    if (!s) return;
    free(s->ids);
    free(s->train);
    free(s->start);
    free(s->line);
    memset(s, 0, sizeof *s);
}
