/* generate.c -- the batched generation loop (see generate.h). */
#include <omp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "srl.h"

const char *srl_finish_name(enum srl_finish f)
{
    switch (f) {
    case SRL_FINISH_EOS: return "eos";
    case SRL_FINISH_STOP: return "stop";
    case SRL_FINISH_LENGTH: return "length";
    default: return "none";
    }
}

void srl_gen_seq_clear(struct srl_gen_seq *s)
{
    if (!s)
        return;
    free(s->tokens);
    free(s->logp);
    free(s->logp_raw);
    s->tokens = NULL;
    s->logp = s->logp_raw = NULL;
    s->n_tokens = 0;
    s->finish = SRL_FINISH_NONE;
}

/* Per-row state while generating. */
struct row {
    int32_t *hist;      /* (prompt_len + max_new) prompt then response */
    char *text;         /* response bytes (only with stop strings) */
    size_t text_len, text_cap;
    struct srl_rng rng;
};

/* Append the bytes of token id to r->text; returns whether a stop string now occurs in it
 * (only occurrences ending inside the new bytes are looked for). */
static int hits_stop(struct row *r, const struct srl_gen_params *p, int id)
{
    char buf[256];
    int n = srl_tokenizer_token_bytes(p->tok, id, buf, sizeof buf);
    if (n < 0)
        return 0;
    if ((size_t)n > sizeof buf)
        n = (int)sizeof buf; /* no real token is this long */
    if (r->text_len + (size_t)n > r->text_cap) {
        size_t cap = 2 * (r->text_cap + (size_t)n) + 64;
        char *t = realloc(r->text, cap);
        if (!t)
            return 0;
        r->text = t;
        r->text_cap = cap;
    }
    memcpy(r->text + r->text_len, buf, (size_t)n);
    r->text_len += (size_t)n;
    for (size_t i = 0; i < p->n_stop; i++) {
        size_t sl = strlen(p->stop[i]);
        if (!sl || sl > r->text_len)
            continue;
        size_t from = r->text_len > sl + (size_t)n - 1 ? r->text_len - sl - (size_t)n + 1 : 0;
        if (memmem(r->text + from, r->text_len - from, p->stop[i], sl))
            return 1;
    }
    return 0;
}

static int check_params(const struct srl_model *m, const struct srl_gen_params *p,
                        const struct srl_gen_seq *seqs, int B)
{
    if (m->cfg.head != SRL_HEAD_LM) {
        srl_log_error("generate: the model has no language-model head");
        return SRL_EINVAL;
    }
    if (B <= 0 || p->max_new_tokens <= 0) {
        srl_log_error("generate: bad batch %d or max new tokens %d", B, p->max_new_tokens);
        return SRL_EINVAL;
    }
    if (p->n_stop && !p->tok) {
        srl_log_error("generate: stop strings need a tokenizer");
        return SRL_EINVAL;
    }
    for (int b = 0; b < B; b++) {
        if (seqs[b].prompt_len <= 0 || !seqs[b].prompt) {
            srl_log_error("generate: sequence %d has an empty prompt", b);
            return SRL_EINVAL;
        }
        if (seqs[b].prompt_len >= m->cfg.max_position_embeddings) {
            srl_log_error("generate: a prompt of %d tokens leaves no room in the model's %d "
                          "positions", seqs[b].prompt_len, m->cfg.max_position_embeddings);
            return SRL_EINVAL;
        }
        for (int t = 0; t < seqs[b].prompt_len; t++)
            if (seqs[b].prompt[t] < 0 || seqs[b].prompt[t] >= m->cfg.vocab_size) {
                srl_log_error("generate: token id %d out of the vocabulary (%d)",
                              seqs[b].prompt[t], m->cfg.vocab_size);
                return SRL_EINVAL;
            }
    }
    return srl_sampler_check(&p->sample);
}

/* Sample the next token of every unfinished row from logits (B,V) and append it. */
static void step_rows(const struct srl_model *m, const struct srl_gen_params *p,
                      struct srl_gen_seq *seqs, struct row *rows, int B, const float *logits,
                      struct srl_sampler *samplers)
{
    int V = m->cfg.vocab_size, maxpos = m->cfg.max_position_embeddings;
    bool greedy = p->sample.temperature == 0.0f;
#pragma omp parallel for schedule(dynamic, 1) if (B > 1)
    for (int b = 0; b < B; b++) {
        struct srl_gen_seq *s = &seqs[b];
        struct row *r = &rows[b];
        if (s->finish != SRL_FINISH_NONE)
            continue;
        struct srl_sampler *sm = &samplers[omp_get_thread_num()];
        float lp = 0, lpr = 0;
        int n = s->n_tokens, len = s->prompt_len + n;
        int id = srl_sample(sm, &p->sample, logits + (size_t)b * V, r->hist, (size_t)len,
                            greedy ? NULL : &r->rng, p->logprobs ? &lp : NULL,
                            p->logprobs ? &lpr : NULL);
        r->hist[len] = id;
        s->tokens[n] = id;
        if (p->logprobs)
            s->logp[n] = lp, s->logp_raw[n] = lpr;
        s->n_tokens = ++n;
        if (id == p->eos_id)
            s->finish = SRL_FINISH_EOS;
        else if (p->n_stop && hits_stop(r, p, id))
            s->finish = SRL_FINISH_STOP;
        else if (n >= p->max_new_tokens || s->prompt_len + n >= maxpos)
            s->finish = SRL_FINISH_LENGTH;
    }
}

/* NaN or Inf weights give non-finite logits, and sampling from them gives garbage: refuse. */
static int check_finite(const struct srl_gen_seq *seqs, int B, const float *logits, int V)
{
    for (int b = 0; b < B; b++) {
        if (seqs[b].finish != SRL_FINISH_NONE)
            continue; /* a finished row is padding: its logits are not used */
        const float *x = logits + (size_t)b * V;
        float zero = 0.0f; /* x * 0 is NaN for a NaN or infinite x: a vectorised test */
#pragma omp simd reduction(+ : zero)
        for (int i = 0; i < V; i++)
            zero += x[i] * 0.0f;
        if (zero != 0.0f) {
            srl_log_error("the model's logits are not finite (NaN or infinite weights?)");
            return SRL_ENUMERIC;
        }
    }
    return 0;
}

int srl_generate(struct srl_model *m, const struct srl_gen_params *p, struct srl_gen_seq *seqs,
                 int B)
{
    int rc = check_params(m, p, seqs, B);
    if (rc < 0)
        return rc;
    int V = m->cfg.vocab_size, P = 0, nth = omp_get_max_threads();
    for (int b = 0; b < B; b++)
        if (seqs[b].prompt_len > P)
            P = seqs[b].prompt_len;
    int max_new = p->max_new_tokens;
    if (max_new > m->cfg.max_position_embeddings - 1)
        max_new = m->cfg.max_position_embeddings - 1;
    struct row *rows = calloc((size_t)B, sizeof *rows);
    struct srl_sampler *samplers = calloc((size_t)nth, sizeof *samplers);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)B * P);
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)B * P);
    bool on_host = m->be == srl_backend_cpu();
    float *host = on_host ? NULL : malloc(sizeof(float) * (size_t)B * V);
    rc = SRL_ENOMEM;
    if (!rows || !samplers || !tok || !pos || (!on_host && !host))
        goto out;
    for (int t = 0; t < nth; t++)
        if ((rc = srl_sampler_init(&samplers[t], V)) < 0)
            goto out;
    rc = SRL_ENOMEM;
    for (int b = 0; b < B; b++) {
        struct srl_gen_seq *s = &seqs[b];
        srl_gen_seq_clear(s);
        int L = s->prompt_len;
        rows[b].hist = malloc(sizeof(int32_t) * (size_t)(L + max_new));
        s->tokens = malloc(sizeof(int32_t) * (size_t)max_new);
        if (p->logprobs) {
            s->logp = malloc(sizeof(float) * (size_t)max_new);
            s->logp_raw = malloc(sizeof(float) * (size_t)max_new);
        }
        if (!rows[b].hist || !s->tokens || (p->logprobs && (!s->logp || !s->logp_raw)))
            goto out;
        memcpy(rows[b].hist, s->prompt, sizeof(int32_t) * (size_t)L);
        srl_rng_seed(&rows[b].rng, srl_sampler_stream_seed(p->seed, s->stream));
        /* left padding: token 0 at position -1, then the prompt at 0..L-1 */
        for (int t = 0; t < P; t++) {
            int i = t - (P - L);
            tok[(size_t)b * P + t] = i < 0 ? 0 : s->prompt[i];
            pos[(size_t)b * P + t] = i < 0 ? -1 : i;
        }
    }
    int cap = P + max_new; /* a big enough cache of the same batch is reused, not reallocated */
    if (m->cache_B == B && m->cache_cap >= cap)
        cap = m->cache_cap;
    if ((rc = srl_model_cache_reset(m, B, cap)) < 0)
        goto out;
    if ((rc = srl_model_decode(m, tok, pos, P, true)) < 0)
        goto out;
    for (;;) {
        const float *logits = m->dec_out;
        if (!on_host) {
            if ((rc = m->be->download(host, m->dec_out, sizeof(float) * (size_t)B * V)) < 0)
                goto out;
            logits = host;
        }
        if ((rc = check_finite(seqs, B, logits, V)) < 0)
            goto out;
        step_rows(m, p, seqs, rows, B, logits, samplers);
        int live = 0;
        for (int b = 0; b < B; b++) {
            struct srl_gen_seq *s = &seqs[b];
            live += s->finish == SRL_FINISH_NONE;
            tok[b] = s->finish == SRL_FINISH_NONE ? s->tokens[s->n_tokens - 1] : 0;
            pos[b] = s->finish == SRL_FINISH_NONE ? s->prompt_len + s->n_tokens - 1 : -1;
        }
        if (!live)
            break;
        if ((rc = srl_model_decode(m, tok, pos, 1, true)) < 0)
            goto out;
    }
    rc = 0;
out:
    if (rc == SRL_ENOMEM)
        srl_log_error("generate: out of memory for a batch of %d", B);
    if (rc < 0)
        for (int b = 0; b < B; b++)
            srl_gen_seq_clear(&seqs[b]);
    for (int b = 0; rows && b < B; b++) {
        free(rows[b].hist);
        free(rows[b].text);
    }
    for (int t = 0; samplers && t < nth; t++)
        srl_sampler_free(&samplers[t]);
    free(rows);
    free(samplers);
    free(tok);
    free(pos);
    free(host);
    return rc;
}
