/* ppo_step.c -- the phases of one PPO-Lagrangian rollout batch: generation, scoring with the
 * frozen models and the critics, and the optimiser steps (see ppo_trainer.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist.h"
#include "ppo_trainer_internal.h"
#include "srl.h"

void srl_ppo_batch_free(struct srl_ppo_batch *b)
{
    if (!b) return;
    for (int i = 0; b->seqs && i < b->cap_N; i++)
        srl_gen_seq_clear(&b->seqs[i]);
    free(b->seqs);
    free(b->tokens), free(b->pos), free(b->targets), free(b->start), free(b->len);
    free(b->mask), free(b->old_lp), free(b->ref_lp), free(b->vr), free(b->vc), free(b->R);
    free(b->C), free(b->end), free(b->rew), free(b->cst), free(b->radv), free(b->rret);
    free(b->cadv), free(b->cret), free(b->adv), free(b->lp), free(b->grad);
    memset(b, 0, sizeof *b);
}

/* Room for N rows of sequences (kept across batches). */
static int reserve_rows(struct srl_ppo_batch *b, int N)
{
    if (N <= b->cap_N) return 0;
    struct srl_gen_seq *s = realloc(b->seqs, (size_t)N * sizeof *s);
    if (!s) return SRL_ENOMEM;
    memset(s + b->cap_N, 0, (size_t)(N - b->cap_N) * sizeof *s);
    b->seqs = s;
    int *p[3] = {NULL, NULL, NULL};
    float *f[2] = {NULL, NULL};
    for (int k = 0; k < 3; k++) p[k] = malloc((size_t)N * sizeof(int));
    for (int k = 0; k < 2; k++) f[k] = malloc((size_t)N * sizeof(float));
    if (!p[0] || !p[1] || !p[2] || !f[0] || !f[1]) {
        free(p[0]), free(p[1]), free(p[2]), free(f[0]), free(f[1]);
        b->cap_N = N; /* seqs grew; the rest is retried next time */
        b->cap_L = 0;
        return SRL_ENOMEM;
    }
    free(b->start), free(b->len), free(b->end), free(b->R), free(b->C);
    b->start = p[0], b->len = p[1], b->end = p[2], b->R = f[0], b->C = f[1];
    b->cap_N = N;
    b->cap_L = 0; /* the (N,L) arrays are sized for the old N */
    return 0;
}

/* Room for (cap_N, L) cells: sized for the most rows reserved, not this batch's N, so a full
 * batch after a short one (the end of an epoch) fits whenever L does. */
static int reserve_cells(struct srl_ppo_batch *b, int L)
{
    if (L <= b->cap_L) return 0;
    size_t n = (size_t)b->cap_N * (size_t)L;
    int32_t **ip[3] = {&b->tokens, &b->pos, &b->targets};
    float **fp[13] = {&b->mask, &b->old_lp, &b->ref_lp, &b->vr, &b->vc, &b->rew, &b->cst,
                      &b->radv, &b->rret, &b->cadv, &b->cret, &b->adv, &b->lp};
    for (int k = 0; k < 3; k++) {
        free(*ip[k]);
        if (!(*ip[k] = malloc(n * sizeof(int32_t)))) goto oom;
    }
    for (int k = 0; k < 13; k++) {
        free(*fp[k]);
        if (!(*fp[k] = malloc(n * sizeof(float)))) goto oom;
    }
    free(b->grad);
    if (!(b->grad = malloc(n * sizeof(float)))) goto oom;
    b->cap_L = L;
    return 0;
oom:
    b->cap_L = 0;
    return SRL_ENOMEM;
}

int srl_ppo_rollout(struct srl_ppo_run *r, const size_t *idx, size_t n, uint64_t first_stream)
{
    const struct srl_ppo_train_opts *o = r->o;
    struct srl_ppo_batch *b = &r->b;
    int K = o->num_return_sequences, P = (int)n, N = P * K, rc;
    double t0 = srl_seconds();
    if ((rc = reserve_rows(b, N)) < 0) return rc;
    for (int i = 0; i < b->cap_N; i++)
        srl_gen_seq_clear(&b->seqs[i]);
    /* sample-major rows: minibatches = num_return_sequences gives the reference's micro-batches
     * (one sample of every prompt each) */
    for (int j = 0; j < K; j++)
        for (int i = 0; i < P; i++) {
            struct srl_gen_seq *s = &b->seqs[j * P + i];
            s->prompt = r->pids + r->pstart[idx[i]];
            s->prompt_len = (int)r->plens[idx[i]];
            s->stream = first_stream + (uint64_t)i * (uint64_t)K + (uint64_t)j;
        }
    if ((rc = srl_generate(r->actor, &r->gp, b->seqs, N)) < 0) return rc;
    int L = 0;
    double ntok = 0;
    for (int i = 0; i < N; i++) {
        struct srl_gen_seq *s = &b->seqs[i];
        if (s->prompt_len + s->n_tokens > r->max_len) { /* a scoring model has fewer positions */
            s->n_tokens = r->max_len - s->prompt_len;
            s->finish = SRL_FINISH_LENGTH;
        }
        int len = s->prompt_len + s->n_tokens;
        if (s->n_tokens <= 0) {
            srl_log_error("a rollout produced no response token (the prompt fills the model)");
            return SRL_EINVAL;
        }
        L = len > L ? len : L;
        ntok += b->seqs[i].n_tokens;
    }
    if ((rc = reserve_cells(b, L)) < 0) return rc;
    b->N = N, b->L = L;
    for (int i = 0; i < N; i++) {
        const struct srl_gen_seq *s = &b->seqs[i];
        int pl = s->prompt_len, len = pl + s->n_tokens;
        size_t row = (size_t)i * (size_t)L;
        b->start[i] = pl - 1;
        b->len[i] = len;
        for (int t = 0; t < L; t++) {
            int32_t tk = t < pl ? s->prompt[t] : t < len ? s->tokens[t - pl] : r->pad_id;
            b->tokens[row + t] = tk;
            b->pos[row + t] = t < len ? t : -1;
            /* targets of the response tokens only (positions start .. len-2) */
            b->targets[row + t] = t >= pl - 1 && t + 1 < len ? s->tokens[t + 1 - pl] : -1;
            b->mask[row + t] = t + 1 < len ? 1.0f : 0.0f;
            b->old_lp[row + t] = t >= pl - 1 && t + 1 < len ? s->logp_raw[t + 1 - pl] : 0.0f;
        }
    }
    r->tm.rollout += srl_seconds() - t0;
    r->tm.rollout_tokens += ntok;
    r->tm.rows = N, r->tm.cols = L;
    return 0;
}

/* End scores: the score at each row's last real token. */
static int end_scores(struct srl_model *m, const struct srl_ppo_batch *b, float *out)
{
    int rc = srl_model_forward(m, b->tokens, b->pos, b->N, b->L);
    if (rc < 0) return rc;
    for (int i = 0; i < b->N; i++)
        out[i] = m->scores[(size_t)i * b->L + b->len[i] - 1];
    return 0;
}

int srl_ppo_score(struct srl_ppo_run *r)
{
    struct srl_ppo_batch *b = &r->b;
    size_t n = (size_t)b->N * (size_t)b->L;
    double t0 = srl_seconds();
    int rc;
    if ((rc = srl_model_forward(r->ref, b->tokens, b->pos, b->N, b->L)) < 0 ||
        (rc = srl_model_logprobs(r->ref, b->targets, b->ref_lp)) < 0)
        return rc;
    if ((rc = end_scores(r->rm, b, b->R)) < 0 || (rc = end_scores(r->cm, b, b->C)) < 0)
        return rc;
    if ((rc = srl_model_forward(r->rcrit, b->tokens, b->pos, b->N, b->L)) < 0) return rc;
    memcpy(b->vr, r->rcrit->scores, n * sizeof(float));
    if ((rc = srl_model_forward(r->ccrit, b->tokens, b->pos, b->N, b->L)) < 0) return rc;
    memcpy(b->vc, r->ccrit->scores, n * sizeof(float));
    b->critics_fresh = true;
    r->tm.scoring += srl_seconds() - t0;
    return 0;
}

int srl_ppo_push_costs(struct srl_ppo_run *r)
{
    struct srl_ppo_batch *b = &r->b;
    size_t n_all = (size_t)b->N;
    float *all = b->C;
    int rc = 0;
    if (srl_dist_size() > 1) { /* every rank's costs, in rank order: the same window on all */
        if (!(all = malloc(((size_t)b->N_all + 1) * sizeof *all))) return SRL_ENOMEM;
        rc = srl_dist_allgatherv(b->C, (size_t)b->N, all, &n_all);
    }
    if (rc == 0 && (rc = srl_lagrange_push(&r->lag, all, (int)n_all)) < 0)
        srl_log_error("a cost model score is not finite");
    if (all != b->C) free(all);
    return rc;
}

/* The value-clipped critic step on rows [lo, lo + B) of this rank (B may be 0: it still takes
 * part in the step); the gradient weighs the rows as one batch of all ranks' rows (w). */
static int critic_step(struct srl_ppo_run *r, struct srl_model *m, struct srl_optim *opt,
                       const float *old_v, const float *ret, int lo, int B, float w, double lr,
                       float *loss, double *value)
{
    struct srl_ppo_batch *b = &r->b;
    size_t off = (size_t)lo * (size_t)b->L;
    int rc = srl_model_zero_grad(m);
    double norm;
    /* the first step on the whole batch reuses the scoring forward (same weights, same rows:
     * its activations are what backward needs) */
    bool fresh = b->critics_fresh && lo == 0 && B == b->N;
    *loss = 0;
    *value = 0;
    if (rc == 0 && B > 0) {
        if (!fresh) rc = srl_model_forward(m, b->tokens + off, b->pos + off, B, b->L);
        if (rc == 0) {
            *value = srl_ppo_masked_mean(m->scores, b->mask + off, b->start + lo, B, b->L);
            rc = srl_ppo_critic_loss(m->scores, old_v + off, ret, b->mask + off, b->start + lo,
                                     B, b->L, r->o->ppo.clip_range_value, loss, b->grad);
        }
        if (rc == 0) rc = srl_model_backward_score(m, b->grad);
        if (rc == 0 && w != 1.0f) m->be->scale(m->grads, w, m->n_params);
    }
    if ((rc = srl_dist_agree(rc)) < 0) return rc;
    return srl_optim_dist_step(opt, m->params, m->grads, 1.0f, r->o->clip_grad, (float)lr,
                               &norm);
}

/* The PTX term: the next batch of the SFT mix, its gradient added to the actor's. */
static int ptx_step(struct srl_ppo_run *r, int B, double *loss)
{
    size_t ntok;
    int rc;
    if (r->ptx_plan_epoch != r->ptx_epoch) {
        srl_batch_plan_free(&r->ptx_plan);
        if ((rc = srl_batch_plan_make(&r->ptx_plan, r->ptx_task.lengths, r->ptx.n, B, 0,
                                      r->o->seed ^ 0x9e3779b97f4a7c15ull, r->ptx_epoch)) < 0)
            return rc;
        r->ptx_plan_epoch = r->ptx_epoch;
    }
    if (r->ptx_batch >= (int64_t)r->ptx_plan.n_batches) { /* resumed past other PTX data */
        r->ptx_epoch++;
        r->ptx_batch = 0;
        return ptx_step(r, B, loss);
    }
    size_t k = (size_t)r->ptx_batch, lo = r->ptx_plan.first[k], hi = r->ptx_plan.first[k + 1];
    /* ranks split the batch (rows lo..hi) as they split the rollout rows */
    size_t n = hi - lo, a = lo + n * (size_t)srl_dist_rank() / (size_t)srl_dist_size(),
           z = lo + n * (size_t)(srl_dist_rank() + 1) / (size_t)srl_dist_size();
    *loss = 0;
    rc = z > a ? r->ptx_task.task.micro_step(r->ptx_task.task.ctx, r->actor,
                                             r->ptx_plan.order + a, z - a, loss, &ntok)
               : 0;
    if (++r->ptx_batch >= (int64_t)r->ptx_plan.n_batches) {
        r->ptx_epoch++;
        r->ptx_batch = 0;
    }
    return rc;
}

static int set_num(struct srl_json *m, const char *key, double x)
{
    return isfinite(x) ? srl_json_object_set_number(m, key, x) : srl_json_object_set_null(m, key);
}

/* The metrics of one step on all ranks: kind 'w' values are this rank's means over its B rows
 * (averaged, weighted by rows), 'x' maxima; the others are the same on every rank. */
static int reduce_metrics(double *v, const char *kind, int n, int B, int B_all)
{
    if (srl_dist_size() == 1) return 0;
    double sum[32], mx[32];
    int rc;
    for (int k = 0; k < n; k++) {
        sum[k] = kind[k] == 'w' ? v[k] * B : 0;
        mx[k] = kind[k] == 'x' ? v[k] : 0;
    }
    if ((rc = srl_dist_allreduce_f64(sum, (size_t)n)) < 0 ||
        (rc = srl_dist_allreduce_max_f64(mx, (size_t)n)) < 0)
        return rc;
    for (int k = 0; k < n; k++)
        v[k] = kind[k] == 'w' ? sum[k] / B_all : kind[k] == 'x' ? mx[k] : v[k];
    return 0;
}

int srl_ppo_update(struct srl_ppo_run *r, int lo, int hi, struct srl_json *m)
{
    const struct srl_ppo_train_opts *o = r->o;
    struct srl_ppo_batch *b = &r->b;
    struct srl_model *a = r->actor;
    int B = hi - lo, L = b->L, rc;
    size_t off = (size_t)lo * (size_t)L;
    double t0 = srl_seconds();

    // lambda first (the reference's rl_step), from the window of recent episode costs (the
    // same window on every rank: srl_ppo_push_costs)
    double jc = srl_lagrange_window_mean(&r->lag);
    if ((rc = srl_lagrange_step(&r->lag, jc)) < 0) {
        srl_log_error("the Lagrange multiplier is not finite (episode cost %g)", jc);
        return rc;
    }
    /* this rank's rows of the step's rows on all ranks: its gradients weigh B / B_all */
    double rows[2] = {B, 0};
    for (int i = lo; i < hi; i++)
        rows[1] += b->len[i] - b->start[i] - 1;
    if ((rc = srl_dist_allreduce_f64(rows, 2)) < 0) return rc;
    int B_all = (int)rows[0];
    float w = B_all > 0 && B != B_all ? (float)B / (float)B_all : 1.0f;
    struct srl_ppo_rollout ro = {B, L, b->mask + off, b->start + lo, b->old_lp + off,
                                 b->ref_lp + off, b->R + lo, b->C + lo, b->vr + off,
                                 b->vc + off};
    struct srl_ppo_targets tg = {b->end, b->rew, b->cst, b->radv, b->rret, b->cadv, b->cret,
                                 b->adv};
    struct srl_ppo_rollout_stats st = {0};
    rc = B > 0 ? srl_ppo_targets(&ro, &o->ppo, r->lag.lambda, &tg, &st) : 0;
    double t1 = srl_seconds();
    r->tm.advantage += t1 - t0;

    // actor: clipped surrogate on the combined advantages (+ PTX), one AdamW step
    float aloss = 0;
    struct srl_ppo_actor_stats ast = {0};
    int64_t step = r->tr.st.step;
    if (rc == 0) rc = srl_model_zero_grad(a);
    if (rc == 0 && B > 0) {
        if ((rc = srl_model_forward(a, b->tokens + off, b->pos + off, B, L)) == 0 &&
            (rc = srl_model_logprobs(a, b->targets + off, b->lp)) == 0 &&
            (rc = srl_ppo_actor_loss(b->lp, b->old_lp + off, b->adv, b->mask + off,
                                     b->start + lo, B, L, o->ppo.clip_range_ratio, &aloss,
                                     b->grad, &ast)) == 0)
            rc = srl_model_backward_logprob(a, b->grad);
    }
    double t2 = srl_seconds(), ptx_loss = 0;
    r->tm.actor += t2 - t1;
    if (rc == 0 && r->ptx.n > 0) {
        float c = (float)o->ptx_coeff;
        a->be->scale(a->grads, 1.0f / c, a->n_params);
        if ((rc = ptx_step(r, B_all, &ptx_loss)) == 0) {
            a->be->scale(a->grads, 0.5f * c, a->n_params); /* (g_rl + c g_ptx) / 2 */
            if (!isfinite(ptx_loss)) rc = SRL_ENUMERIC;
        }
    }
    if (rc == 0 && !isfinite(aloss)) {
        srl_log_error("step %lld: the actor loss is not finite", (long long)step + 1);
        rc = SRL_ENUMERIC;
    }
    if (rc == 0 && w != 1.0f) a->be->scale(a->grads, w, a->n_params);
    if ((rc = srl_dist_agree(rc)) < 0) return rc;
    double t3 = srl_seconds();
    r->tm.ptx += t3 - t2;
    double alr = srl_lr_at(&r->asched, step), clr = srl_lr_at(&r->csched, step), norm;
    rc = srl_optim_dist_step(r->tr.optim, a->params, a->grads, 1.0f, o->clip_grad, (float)alr,
                             &norm);
    if (rc == SRL_ENUMERIC)
        srl_log_error("step %lld: the actor gradient norm is not finite", (long long)step + 1);
    if (rc < 0) return rc;
    double t4 = srl_seconds();
    r->tm.actor += t4 - t3;

    // critics, reward then cost
    float rl, cl;
    double rv, cv;
    if ((rc = critic_step(r, r->rcrit, r->ropt, b->vr, b->rret, lo, B, w, clr, &rl, &rv)) < 0 ||
        (rc = critic_step(r, r->ccrit, r->copt, b->vc, b->cret, lo, B, w, clr, &cl, &cv)) < 0) {
        if (rc == SRL_ENUMERIC) srl_log_error("step %lld: a critic's gradient is not finite",
                                              (long long)step + 1);
        return rc;
    }
    b->critics_fresh = false;
    r->tm.critics += srl_seconds() - t4;
    r->tr.st.step++;
    r->tr.st.tokens += rows[1];

    const char *keys[] = {
        "reward", "cost", "lambda", "episode_cost", "kl_divergence", "reward_with_kl_penalty",
        "cost_with_kl_penalty", "mean_generated_length", "max_generated_length", "actor_loss",
        "reward_critic_loss", "cost_critic_loss", "reward_advantage", "reward_return",
        "reward_value", "cost_advantage", "cost_return", "cost_value", "clip_frac", "ratio",
        "approx_kl", "actor_grad_norm", "actor_lr", "critic_lr", "ptx_loss"};
    const char *kind = "ww..wwwwx" "wwwwwwwwwwww" "..." "w"; /* 25 keys */
    double vals[] = {
        st.reward, st.cost, r->lag.lambda, r->lag.last_cost, st.kl_divergence,
        st.reward_with_kl_penalty, st.cost_with_kl_penalty, st.mean_generated_length,
        st.max_generated_length, aloss, rl, cl, st.reward_advantage, st.reward_return, rv,
        st.cost_advantage, st.cost_return, cv, ast.clip_frac, ast.ratio, ast.approx_kl, norm,
        alr, clr, ptx_loss};
    int nv = (int)(sizeof vals / sizeof *vals);
    if ((rc = reduce_metrics(vals, kind, nv, B, B_all)) < 0) return rc;
    /* how far apart the ranks' multipliers are (0: one lambda on all ranks) */
    double lam[2] = {r->lag.lambda, -r->lag.lambda};
    if ((rc = srl_dist_allreduce_max_f64(lam, 2)) < 0) return rc;
    if (!isfinite(vals[10]) || !isfinite(vals[11])) {
        srl_log_error("step %lld: a critic loss is not finite", (long long)step + 1);
        return SRL_ENUMERIC;
    }
    if (!m) return 0;
    for (int k = 0; k < nv; k++) {
        if (k + 1 == nv && r->ptx.n == 0) break;
        if ((rc = set_num(m, keys[k], vals[k])) < 0) return rc;
    }
    if (srl_dist_size() > 1) rc = set_num(m, "lambda_rank_spread", lam[0] + lam[1]);
    return rc;
}
