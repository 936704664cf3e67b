/* batching.c -- length-bucketed batch plans and padded LM batches (see batching.h). */
#include "batching.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "srl.h"

static void shuffle(size_t *a, size_t n, struct srl_rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)srl_rng_below(r, i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static int plan_alloc(struct srl_batch_plan *p, size_t n, int batch_size)
{
    memset(p, 0, sizeof *p);
    if (batch_size <= 0) return SRL_EINVAL;
    p->n = n;
    p->n_batches = (n + (size_t)batch_size - 1) / (size_t)batch_size;
    p->order = malloc((n ? n : 1) * sizeof *p->order);
    p->first = malloc((p->n_batches + 1) * sizeof *p->first);
    if (!p->order || !p->first) {
        srl_batch_plan_free(p);
        return SRL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) p->order[i] = i;
    return 0;
}

/* Batch boundaries and padding totals for p->order cut into batches of batch_size. */
static void plan_finish(struct srl_batch_plan *p, const size_t *lengths, int batch_size)
{
    p->real_tokens = p->padded_tokens = 0;
    for (size_t b = 0; b < p->n_batches; b++) {
        size_t lo = b * (size_t)batch_size, hi = lo + (size_t)batch_size, T = 0;
        if (hi > p->n) hi = p->n;
        p->first[b] = lo;
        for (size_t i = lo; i < hi; i++) {
            size_t len = lengths[p->order[i]];
            p->real_tokens += len;
            if (len > T) T = len;
        }
        p->padded_tokens += T * (hi - lo);
    }
    p->first[p->n_batches] = p->n;
}

/* Sort a[0..n) by (length, index): keys (length << 32 | index) sort as plain integers. */
static int sort_range(size_t *a, size_t n, const size_t *lengths)
{
    uint64_t *key = malloc((n ? n : 1) * sizeof *key);
    if (!key) return SRL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = lengths[a[i]] > 0xffffffffu ? 0xffffffffu : lengths[a[i]];
        key[i] = len << 32 | (uint64_t)a[i];
    }
    qsort(key, n, sizeof *key, cmp_u64);
    for (size_t i = 0; i < n; i++) a[i] = (size_t)(key[i] & 0xffffffffu);
    free(key);
    return 0;
}

int srl_batch_plan_make(struct srl_batch_plan *p, const size_t *lengths, size_t n,
                        int batch_size, int window, uint64_t seed, int64_t epoch)
{
    int rc = plan_alloc(p, n, batch_size);
    if (rc < 0) return rc;
    if (n >= 0xffffffffu) {
        srl_batch_plan_free(p);
        return SRL_EINVAL;
    }
    struct srl_rng r;
    srl_rng_seed(&r, seed * 0x9e3779b97f4a7c15ULL + (uint64_t)epoch + 1);
    shuffle(p->order, n, &r);
    size_t w = (size_t)(window > 0 ? window : SRL_BATCH_WINDOW) * (size_t)batch_size;
    for (size_t lo = 0; lo < n; lo += w) {
        if (sort_range(p->order + lo, lo + w < n ? w : n - lo, lengths) < 0) {
            srl_batch_plan_free(p);
            return SRL_ENOMEM;
        }
    }
    size_t nb = p->n_batches, full = n / (size_t)batch_size;
    size_t *perm = malloc((nb ? nb : 1) * sizeof *perm), *tmp = malloc((n ? n : 1) * sizeof
                                                                        *tmp);
    if (!perm || !tmp) {
        free(perm);
        free(tmp);
        srl_batch_plan_free(p);
        return SRL_ENOMEM;
    }
    /* the short batch is whichever holds the tail of the sorted windows: keep it last */
    for (size_t b = 0; b < nb; b++) perm[b] = b;
    shuffle(perm, full, &r);
    size_t k = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t lo = perm[b] * (size_t)batch_size, hi = lo + (size_t)batch_size;
        if (hi > n) hi = n;
        for (size_t i = lo; i < hi; i++) tmp[k++] = p->order[i];
    }
    memcpy(p->order, tmp, n * sizeof *tmp);
    free(perm);
    free(tmp);
    plan_finish(p, lengths, batch_size);
    return 0;
}

int srl_batch_plan_sorted(struct srl_batch_plan *p, const size_t *lengths, size_t n,
                          int batch_size)
{
    int rc = plan_alloc(p, n, batch_size);
    if (rc < 0) return rc;
    if (sort_range(p->order, n, lengths) < 0) {
        srl_batch_plan_free(p);
        return SRL_ENOMEM;
    }
    plan_finish(p, lengths, batch_size);
    return 0;
}

void srl_batch_plan_free(struct srl_batch_plan *p)
{
    if (!p) return;
    free(p->order);
    free(p->first);
    memset(p, 0, sizeof *p);
}

int srl_lm_batch_fill(struct srl_lm_batch *b, const struct srl_sft_set *s, const size_t *idx,
                      size_t n, int32_t pad_id)
{
    size_t T = 1;
    for (size_t i = 0; i < n; i++)
        if (srl_sft_len(s, idx[i]) > T) T = srl_sft_len(s, idx[i]);
    size_t need = n * T;
    if (need > b->cap) {
        int32_t *tk = realloc(b->tokens, need * sizeof *tk);
        if (tk) b->tokens = tk;
        int32_t *tg = realloc(b->targets, need * sizeof *tg);
        if (tg) b->targets = tg;
        float *mk = realloc(b->mask, need * sizeof *mk);
        if (mk) b->mask = mk;
        if (!tk || !tg || !mk) return SRL_ENOMEM;
        b->cap = need;
    }
    b->B = (int)n;
    b->T = (int)T;
    b->n_real = b->n_trained = 0;
    for (size_t i = 0; i < n; i++) {
        const int32_t *ids = s->ids + s->start[idx[i]];
        const uint8_t *tr = s->train + s->start[idx[i]];
        size_t len = srl_sft_len(s, idx[i]);
        int32_t *tok = b->tokens + i * T, *tgt = b->targets + i * T;
        float *m = b->mask + i * T;
        for (size_t t = 0; t < T; t++) {
            tok[t] = t < len ? ids[t] : pad_id;
            int has = t + 1 < len;
            tgt[t] = has ? ids[t + 1] : -1;
            m[t] = has && tr[t + 1] ? 1.0f : 0.0f;
            b->n_trained += has && tr[t + 1];
        }
        b->n_real += len;
    }
    return 0;
}

void srl_lm_batch_free(struct srl_lm_batch *b)
{
    if (!b) return;
    free(b->tokens);
    free(b->targets);
    free(b->mask);
    memset(b, 0, sizeof *b);
}
