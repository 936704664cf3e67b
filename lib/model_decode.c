/* model_decode.c -- incremental forward passes against a KV cache (generation, rollouts).
 *
 * Each call runs the new tokens of every row through the layers once: their keys and values
 * (after RoPE) are appended to the cache of each layer and their queries attend to every
 * cached slot up to their own.  Nothing is kept for backward, so one layer's worth of scratch
 * serves all layers and the residual stream is updated in place. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_internal.h"
#include "srl.h"

struct srl_decode_state {
    float *k, *v;      /* (L,B,cap,KVD) on be */
    int32_t *kpos;     /* (B,cap) positions of the cached slots (< 0: padding) */
    float *arena;      /* scratch for rows_cap rows */
    size_t rows_cap, out_cap;
    float *x, *ln, *mean, *rstd, *qkv, *atty, *fc, *act;
    int32_t *tok, *pos;
};

static void free_cache(struct srl_model *m)
{
    struct srl_decode_state *d = m->dec;
    if (!d)
        return;
    m->be->free(d->k);
    m->be->free(d->v);
    m->be->free(d->kpos);
    m->be->free(d->arena);
    m->be->free(m->dec_out);
    free(d);
    m->dec = NULL;
    m->dec_out = NULL;
    m->cache_B = m->cache_cap = m->cache_len = 0;
}

void srl_model_decode_free(struct srl_model *m)
{
    free_cache(m);
}

int srl_model_cache_reset(struct srl_model *m, int B, int cap)
{
    const struct srl_model_layout *ly = m->layout;
    if (B <= 0 || cap <= 0) {
        srl_log_error("KV cache: bad shape B=%d cap=%d", B, cap);
        return SRL_EINVAL;
    }
    if (m->dec && B == m->cache_B && cap == m->cache_cap) {
        m->cache_len = 0;
        return 0;
    }
    free_cache(m);
    struct srl_decode_state *d = calloc(1, sizeof *d);
    if (!d)
        goto oom;
    m->dec = d;
    // (L, B, cap, KVD) floats each for k and v; saturated, so an absurd size fails to allocate
    size_t rows = srl_size_mul((size_t)B, (size_t)cap);
    size_t bytes = srl_size_mul(srl_size_mul(rows, (size_t)ly->L * ly->KVD), sizeof(float));
    d->k = m->be->alloc(bytes);
    d->v = m->be->alloc(bytes);
    d->kpos = m->be->alloc(srl_size_mul(rows, sizeof(int32_t)));
    if (!d->k || !d->v || !d->kpos)
        goto oom;
    m->cache_B = B;
    m->cache_cap = cap;
    m->cache_len = 0;
    return 0;
oom:
    free_cache(m);
    srl_log_error("out of memory for a KV cache of %d x %d slots", B, cap);
    return SRL_ENOMEM;
}

/* Scratch for N rows and an output of nout floats. */
static int ensure_scratch(struct srl_model *m, size_t N, size_t nout)
{
    struct srl_decode_state *d = m->dec;
    const struct srl_model_layout *ly = m->layout;
    if (N > d->rows_cap) {
        m->be->free(d->arena);
        size_t C = ly->C, per_row = 3 * C + 2 + ly->QKVD + ly->QD + ly->fc_width + ly->F + 2;
        float *p = d->arena = m->be->alloc((N * per_row + 16 * 12) * sizeof(float));
        if (!p) {
            d->rows_cap = 0;
            return SRL_ENOMEM;
        }
#define TAKE(n) (p += (((n) + 15) & ~(size_t)15), p - (((n) + 15) & ~(size_t)15))
        d->x = TAKE(N * C);
        d->ln = TAKE(N * C);
        d->mean = TAKE(N);
        d->rstd = TAKE(N);
        d->qkv = TAKE(N * ly->QKVD);
        d->atty = TAKE(N * ly->QD);
        d->fc = TAKE(N * ((size_t)ly->fc_width > C ? (size_t)ly->fc_width : C));
        d->act = TAKE(N * ly->F);
        d->tok = (int32_t *)TAKE(N);
        d->pos = (int32_t *)TAKE(N);
#undef TAKE
        d->rows_cap = N;
    }
    if (nout > d->out_cap) {
        m->be->free(m->dec_out);
        m->dec_out = m->be->alloc(nout * sizeof(float));
        d->out_cap = m->dec_out ? nout : 0;
        if (!m->dec_out)
            return SRL_ENOMEM;
    }
    return 0;
}

int srl_model_decode(struct srl_model *m, const int32_t *tokens, const int32_t *pos, int T,
                     bool last_only)
{
    const struct srl_backend *be = m->be;
    const struct srl_model_layout *ly = m->layout;
    struct srl_decode_state *d = m->dec;
    if (!d || T <= 0 || m->cache_len + T > m->cache_cap) {
        srl_log_error("decode: %s (T=%d, %d of %d slots used)",
                      d ? "the KV cache is full" : "no KV cache (srl_model_cache_reset)", T,
                      m->cache_len, m->cache_cap);
        return SRL_EINVAL;
    }
    int B = m->cache_B, N = B * T, C = ly->C, start = m->cache_len, cap = m->cache_cap;
    int32_t *hpos = malloc(sizeof(int32_t) * N);
    if (!hpos)
        return SRL_ENOMEM;
    for (int n = 0; n < N; n++) {
        hpos[n] = pos ? pos[n] : start + n % T;
        if (tokens[n] < 0 || tokens[n] >= ly->V ||
            (ly->wpe != NONE && hpos[n] >= m->cfg.max_position_embeddings)) {
            srl_log_error("decode: token %d at position %d is outside the vocabulary (%d) or "
                          "the positions (%d)", tokens[n], hpos[n], ly->V,
                          m->cfg.max_position_embeddings);
            free(hpos);
            return SRL_EINVAL;
        }
    }
    int R = last_only ? B : N; // rows that reach the head
    size_t head = m->cfg.head == SRL_HEAD_SCORE ? 1 : (size_t)ly->V;
    int rc = ensure_scratch(m, N, (size_t)R * head);
    if (rc < 0) {
        free(hpos);
        srl_log_error("out of memory decoding %d x %d tokens", B, T);
        return rc;
    }
    if ((rc = be->upload(d->tok, tokens, sizeof(int32_t) * N)) == 0)
        rc = be->upload(d->pos, hpos, sizeof(int32_t) * N);
    for (int b = 0; rc == 0 && b < B; b++)
        rc = be->upload(d->kpos + (size_t)b * cap + start, hpos + (size_t)b * T,
                        sizeof(int32_t) * T);
    free(hpos);
    if (rc < 0)
        return rc;

    // x (N,C): embeddings, then the residual stream updated in place layer by layer
    be->embedding_fwd(d->x, d->tok, d->pos, m->params + ly->wte,
                      ly->wpe != NONE ? m->params + ly->wpe : NULL, N, C);
    float scale = 1.0f / sqrtf((float)ly->D);
    for (int l = 0; l < ly->L; l++) {
        const struct srl_layer_params *p = &ly->layer[l];
        float *kc = d->k + (size_t)l * B * cap * ly->KVD, *vc = d->v + (kc - d->k);
        srl_model_norm_fwd(m, d->ln, d->mean, d->rstd, d->x, p->ln1_w, p->ln1_b, N);
        srl_model_linear_fwd(m, d->qkv, ly->QKVD, d->ln, C, p->wqkv, p->bqkv, N, C, ly->QKVD,
                             0.0f);
        float *q = d->qkv, *k = q + ly->QD, *v = k + ly->KVD;
        if (m->cfg.arch == SRL_ARCH_LLAMA) {
            be->rope_fwd(q, d->pos, N, ly->QKVD, ly->NH, ly->D, m->cfg.rope_theta);
            be->rope_fwd(k, d->pos, N, ly->QKVD, ly->KVH, ly->D, m->cfg.rope_theta);
        }
        // append k, v (B,T,KVD) to the cache (B,cap,KVD) at slot start
        for (int n = 0; n < N; n++) {
            size_t slot = ((size_t)(n / T) * cap + start + n % T) * ly->KVD;
            be->copy(kc + slot, k + (size_t)n * ly->QKVD, sizeof(float) * ly->KVD);
            be->copy(vc + slot, v + (size_t)n * ly->QKVD, sizeof(float) * ly->KVD);
        }
        be->attention_fwd_kv(d->atty, q, kc, vc, d->kpos, B, T, start, cap, ly->NH, ly->KVH,
                             ly->D, ly->QKVD, scale);
        srl_model_linear_fwd(m, d->x, C, d->atty, ly->QD, p->wo, p->bo, N, ly->QD, C, 1.0f);
        srl_model_norm_fwd(m, d->ln, d->mean, d->rstd, d->x, p->ln2_w, p->ln2_b, N);
        srl_model_linear_fwd(m, d->fc, ly->fc_width, d->ln, C, p->w1, p->b1, N, C,
                             ly->fc_width, 0.0f);
        if (m->cfg.arch == SRL_ARCH_LLAMA)
            be->swiglu_fwd(d->act, d->fc, N, ly->F);
        else
            be->gelu_fwd(d->act, d->fc, (size_t)N * ly->F);
        srl_model_linear_fwd(m, d->x, C, d->act, ly->F, p->w2, p->b2, N, ly->F, C, 1.0f);
    }
    // the head sees every new row, or only the last of each sequence
    const float *fin = d->x;
    if (last_only) {
        for (int b = 0; b < B; b++)
            be->copy(d->fc + (size_t)b * C, d->x + ((size_t)b * T + T - 1) * C,
                     sizeof(float) * C);
        fin = d->fc;
    }
    srl_model_norm_fwd(m, d->ln, d->mean, d->rstd, fin, ly->lnf_w, ly->lnf_b, R);
    be->matmul(m->dec_out, d->ln, m->params + ly->head_w, R, (int)head, C, false, true, C, C,
               (int)head, 1.0f, 0.0f);
    m->cache_len += T;
    return 0;
}
