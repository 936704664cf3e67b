/* trainer_lm.c -- the causal-LM task: SFT and pretraining (packed windows) micro-steps and
 * evaluation loss. */
#include <stdlib.h>
#include <string.h>

#include "packing.h"
#include "srl.h"
#include "trainer.h"

/* Forward, loss and backward on examples idx[0..n) of s. */
static int lm_step_on(struct srl_lm_task *lt, struct srl_model *m, const struct srl_sft_set *s,
                      const size_t *idx, size_t n, double *loss, size_t *tokens)
{
    struct srl_lm_batch *b = &lt->batch;
    float l;
    int rc = srl_lm_batch_fill(b, s, idx, n, lt->pad_id);
    if (rc < 0) return rc;
    /* tokens (B,T) -> logits of the rows with a target and mask (prompts and padding have
     * none: the sparse head skips them); loss over targets (B,T) where mask (B,T) is 1 */
    srl_model_set_sparse_head(m, !lt->dense_head);
    if ((rc = srl_model_forward(m, b->tokens, NULL, b->B, b->T)) < 0) return rc;
    if ((rc = srl_model_loss(m, b->targets, b->mask, &l)) < 0) return rc;
    *loss = l;
    *tokens = b->n_real;
    return srl_model_backward(m);
}

static int lm_micro_step(void *ctx, struct srl_model *m, const size_t *idx, size_t n,
                         double *loss, size_t *tokens)
{
    struct srl_lm_task *lt = ctx;
    return lm_step_on(lt, m, lt->train, idx, n, loss, tokens);
}

/* lt->order = 0, 1, ..., n - 1. */
static int identity_order(struct srl_lm_task *lt, size_t n)
{
    if (n > lt->n_order) {
        size_t *o = realloc(lt->order, n * sizeof *o);
        if (!o) return SRL_ENOMEM;
        lt->order = o;
        for (size_t i = lt->n_order; i < n; i++) o[i] = i;
        lt->n_order = n;
    }
    return 0;
}

static int pack_micro_step(void *ctx, struct srl_model *m, const size_t *idx, size_t n,
                           double *loss, size_t *tokens)
{
    struct srl_lm_task *lt = ctx;
    int rc = srl_pack_windows(lt->pack_train, lt->window_len, idx, n, &lt->windows);
    if (rc == 0) rc = identity_order(lt, n);
    return rc < 0 ? rc : lm_step_on(lt, m, &lt->windows, lt->order, n, loss, tokens);
}

int srl_lm_eval(struct srl_model *m, const struct srl_sft_set *s, int batch_size, int32_t pad_id,
                struct srl_lm_batch *b, double *loss, size_t *n_tokens)
{
    struct srl_batch_plan p;
    size_t *len = malloc((s->n ? s->n : 1) * sizeof *len);
    double sum = 0;
    size_t count = 0;
    int rc = len ? 0 : SRL_ENOMEM;
    for (size_t i = 0; rc == 0 && i < s->n; i++) len[i] = srl_sft_len(s, i);
    if (rc == 0) rc = srl_batch_plan_sorted(&p, len, s->n, batch_size);
    free(len);
    if (rc < 0) return rc;
    srl_model_set_sparse_head(m, true);
    for (size_t k = 0; rc == 0 && k < p.n_batches; k++) {
        float l;
        rc = srl_lm_batch_fill(b, s, p.order + p.first[k], p.first[k + 1] - p.first[k], pad_id);
        if (rc == 0) rc = srl_model_forward(m, b->tokens, NULL, b->B, b->T);
        if (rc == 0 && b->n_trained == 0) continue;
        if (rc == 0) rc = srl_model_loss(m, b->targets, b->mask, &l);
        if (rc == 0) {
            sum += (double)l * (double)b->n_trained; /* token mean over the whole set */
            count += b->n_trained;
        }
    }
    srl_batch_plan_free(&p);
    *loss = count ? sum / (double)count : 0.0;
    *n_tokens = count;
    return rc;
}

int srl_lm_pack_eval(struct srl_model *m, const struct srl_pack *p, int T, int batch_size,
                     int32_t pad_id, struct srl_sft_set *scratch, struct srl_lm_batch *b,
                     double *loss, size_t *n_tokens)
{
    size_t nw = srl_pack_n_windows(p, T), count = 0;
    size_t *idx = malloc((size_t)(batch_size > 0 ? batch_size : 1) * sizeof *idx);
    double sum = 0;
    int rc = idx ? 0 : SRL_ENOMEM;
    for (size_t w = 0; rc == 0 && w < nw; w += (size_t)batch_size) {
        size_t n = nw - w < (size_t)batch_size ? nw - w : (size_t)batch_size, k;
        double l;
        for (size_t i = 0; i < n; i++) idx[i] = w + i;
        rc = srl_pack_windows(p, T, idx, n, scratch);
        if (rc == 0) rc = srl_lm_eval(m, scratch, batch_size, pad_id, b, &l, &k);
        if (rc == 0) {
            sum += l * (double)k; /* token mean over the whole stream */
            count += k;
        }
    }
    free(idx);
    *loss = count ? sum / (double)count : 0.0;
    *n_tokens = count;
    return rc;
}

static int lm_evaluate(void *ctx, struct srl_model *m, struct srl_json *metrics)
{
    struct srl_lm_task *lt = ctx;
    double loss;
    size_t n;
    int rc = lt->pack_eval
                 ? srl_lm_pack_eval(m, lt->pack_eval, lt->window_len, lt->eval_batch_size,
                                    lt->pad_id, &lt->windows, &lt->batch, &loss, &n)
                 : srl_lm_eval(m, lt->eval, lt->eval_batch_size, lt->pad_id, &lt->batch, &loss,
                               &n);
    if (rc < 0) return rc;
    return srl_json_object_set_number(metrics, "eval_loss", loss) < 0 ? SRL_ENUMERIC : 0;
}

int srl_lm_task_init(struct srl_lm_task *lt, const struct srl_sft_set *train,
                     const struct srl_sft_set *eval, int32_t pad_id, int eval_batch_size)
{
    memset(lt, 0, sizeof *lt);
    lt->train = train;
    lt->eval = eval && eval->n ? eval : NULL;
    lt->pad_id = pad_id;
    lt->eval_batch_size = eval_batch_size > 0 ? eval_batch_size : 16;
    if (!(lt->lengths = malloc((train->n ? train->n : 1) * sizeof *lt->lengths)))
        return SRL_ENOMEM;
    for (size_t i = 0; i < train->n; i++) lt->lengths[i] = srl_sft_len(train, i);
    lt->task.ctx = lt;
    lt->task.n = train->n;
    lt->task.lengths = lt->lengths;
    lt->task.micro_step = lm_micro_step;
    lt->task.evaluate = lt->eval ? lm_evaluate : NULL;
    return 0;
}

int srl_lm_pack_task_init(struct srl_lm_task *lt, const struct srl_pack *train,
                          const struct srl_pack *eval, int T, int32_t pad_id,
                          int eval_batch_size)
{
    size_t n = srl_pack_n_windows(train, T);
    memset(lt, 0, sizeof *lt);
    lt->pack_train = train;
    lt->pack_eval = eval && srl_pack_n_windows(eval, T) ? eval : NULL;
    lt->window_len = T;
    lt->pad_id = pad_id;
    lt->eval_batch_size = eval_batch_size > 0 ? eval_batch_size : 16;
    if (!(lt->lengths = malloc((n ? n : 1) * sizeof *lt->lengths))) return SRL_ENOMEM;
    for (size_t i = 0; i < n; i++) lt->lengths[i] = (size_t)T;
    lt->task.ctx = lt;
    lt->task.n = n;
    lt->task.lengths = lt->lengths;
    lt->task.window = 1; /* one length: a plain shuffle mixes the corpus into every batch */
    lt->task.micro_step = pack_micro_step;
    lt->task.evaluate = lt->pack_eval ? lm_evaluate : NULL;
    return 0;
}

void srl_lm_task_free(struct srl_lm_task *lt)
{
    if (!lt) return;
    free(lt->lengths);
    free(lt->order);
    srl_sft_set_free(&lt->windows);
    srl_lm_batch_free(&lt->batch);
    memset(lt, 0, sizeof *lt);
}
