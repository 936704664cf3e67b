/* scorer.c -- batched end scores of (prompt, answer) pairs under a score model. */
#include "scorer.h"

#include <stdlib.h>
#include <string.h>

#include "batching.h"
#include "score_loss.h"
#include "srl.h"

int srl_scorer_load(const char *dir, const struct srl_backend *be, int batch_size,
                    int max_length, unsigned load_flags, struct srl_scorer **out)
{
    int err = 0;
    *out = NULL;
    struct srl_scorer *sc = calloc(1, sizeof *sc);
    if (!sc) return SRL_ENOMEM;
    if ((err = srl_model_load_flags(dir, be, load_flags, &sc->model)) < 0) goto fail;
    if (sc->model->cfg.head != SRL_HEAD_SCORE) {
        srl_log_error("%s: not a score model (architectures[0] is %s, expected "
                      "*ForSequenceClassification)", dir, sc->model->cfg.architecture);
        err = SRL_EINVAL;
        goto fail;
    }
    if (!(sc->tok = srl_tokenizer_load(dir, &err))) {
        srl_log_error("%s: cannot load the tokenizer: %s", dir, srl_strerror(err));
        goto fail;
    }
    const char *tname = sc->model->cfg.template_name[0] ? sc->model->cfg.template_name
                                                        : "saferlhf";
    if (!(sc->tmpl = srl_template_find(tname))) {
        srl_log_error("%s: unknown prompt template \"%s\" (known: %s)", dir, tname,
                      srl_template_names());
        err = SRL_EFORMAT;
        goto fail;
    }
    sc->is_cost = strcmp(sc->model->cfg.score_type, "cost") == 0;
    sc->batch_size = batch_size > 0 ? batch_size : 8;
    int maxpos = sc->model->cfg.max_position_embeddings;
    sc->max_length = max_length > 0 && (maxpos <= 0 || max_length < maxpos) ? max_length : maxpos;
    sc->pad_id = srl_tokenizer_pad_id(sc->tok);
    if (sc->pad_id < 0) sc->pad_id = srl_tokenizer_eos_id(sc->tok);
    if (sc->pad_id < 0) sc->pad_id = 0;
    *out = sc;
    return 0;
fail:
    srl_scorer_free(sc);
    return err < 0 ? err : SRL_EINVAL;
}

void srl_scorer_free(struct srl_scorer *sc)
{
    if (!sc) return;
    srl_model_free(sc->model);
    srl_tokenizer_free(sc->tok);
    free(sc);
}

int srl_scorer_tokens(const struct srl_scorer *sc, const struct srl_conv *p, const char *answer,
                      int32_t **ids, bool *truncated)
{
    const char **turns = malloc((p->n + 1) * sizeof *turns);
    if (!turns) return SRL_ENOMEM;
    for (size_t t = 0; t < p->n; t++) turns[t] = p->turns[t];
    turns[p->n] = answer;
    const struct srl_template *t = p->hh ? srl_template_find("hh") : sc->tmpl;
    uint8_t *train = NULL;
    bool cut = false;
    int n = srl_tokenize_conv(sc->tok, t, turns, p->n + 1, true, sc->max_length, ids, &train,
                              &cut);
    free(turns);
    free(train);
    if (truncated) *truncated = cut;
    return n;
}

int srl_scorer_score(struct srl_scorer *sc, const struct srl_conv *prompts,
                     const char *const *answers, size_t n, float *scores)
{
    if (n == 0) return 0;
    int rc = 0;
    int32_t **ids = calloc(n, sizeof *ids);
    size_t *len = calloc(n, sizeof *len);
    struct srl_batch_plan plan = { 0 };
    int32_t *tokens = NULL, *pos = NULL;
    int *end = NULL;
    float *host = NULL, *out = NULL;
    if (!ids || !len) {
        rc = SRL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        bool cut = false;
        int k = srl_scorer_tokens(sc, &prompts[i], answers[i], &ids[i], &cut);
        sc->n_truncated += cut;
        if (k <= 0) {
            if (k == 0) srl_log_error("an empty sequence cannot be scored");
            rc = k < 0 ? k : SRL_EINVAL;
            goto out;
        }
        len[i] = (size_t)k;
    }
    if ((rc = srl_batch_plan_sorted(&plan, len, n, sc->batch_size)) < 0) goto out;
    size_t maxT = 0;
    for (size_t i = 0; i < n; i++) maxT = len[i] > maxT ? len[i] : maxT;
    size_t cap = (size_t)sc->batch_size * maxT;
    tokens = malloc(cap * sizeof *tokens);
    pos = malloc(cap * sizeof *pos);
    host = malloc(cap * sizeof *host);
    end = malloc((size_t)sc->batch_size * sizeof *end);
    out = malloc((size_t)sc->batch_size * sizeof *out);
    if (!tokens || !pos || !host || !end || !out) {
        rc = SRL_ENOMEM;
        goto out;
    }
    const struct srl_backend *be = sc->model->be;
    for (size_t b = 0; b < plan.n_batches; b++) {
        const size_t *idx = plan.order + plan.first[b];
        int B = (int)(plan.first[b + 1] - plan.first[b]), T = 0;
        for (int r = 0; r < B; r++) T = (int)len[idx[r]] > T ? (int)len[idx[r]] : T;
        for (int r = 0; r < B; r++) {
            size_t L = len[idx[r]];
            for (int t = 0; t < T; t++) {
                tokens[(size_t)r * T + t] = (size_t)t < L ? ids[idx[r]][t] : sc->pad_id;
                pos[(size_t)r * T + t] = (size_t)t < L ? t : -1; /* right padding */
            }
            end[r] = (int)L - 1;
        }
        if ((rc = srl_model_forward(sc->model, tokens, pos, B, T)) < 0) goto out;
        if ((rc = be->download(host, sc->model->scores, (size_t)B * T * sizeof *host)) < 0)
            goto out;
        srl_score_gather_end(host, end, B, T, out);
        for (int r = 0; r < B; r++) scores[idx[r]] = out[r];
    }
out:
    if (rc == SRL_ENOMEM) srl_log_error("out of memory while scoring");
    for (size_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(len);
    srl_batch_plan_free(&plan);
    free(tokens);
    free(pos);
    free(host);
    free(end);
    free(out);
    return rc;
}
