/* ppo_trainer.c -- the PPO-Lagrangian run: models, prompts, PTX data, the loop over rollout
 * batches, logs, progress, checkpoints and resume (see ppo_trainer.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dist.h"
#include "fileio.h"
#include "jsonl.h"
#include "ppo_trainer_internal.h"
#include "prompt.h"
#include "srl.h"

void srl_ppo_train_opts_default(struct srl_ppo_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_prompt_length = 128;
    o->max_new_tokens = 128;
    o->sample = (struct srl_sampler_params)SRL_SAMPLER_PARAMS_INIT;
    /* HF's GenerationConfig default, active in the reference (reference quirk 4) */
    o->sample.top_k = 50;
    o->num_return_sequences = 1;
    o->rollout_batch_size = 16;
    o->ppo_epochs = 1;
    o->minibatches = 1;
    o->actor_lr = 1e-5;
    o->critic_lr = 5e-6;
    o->actor_schedule = SRL_LR_COSINE;
    o->critic_schedule = SRL_LR_CONSTANT;
    o->actor_warmup_ratio = 0.03;
    o->critic_warmup_ratio = 0.03;
    o->actor_weight_decay = 0.01;
    o->critic_weight_decay = 0.0;
    srl_adamw_defaults(&o->adam);
    o->clip_grad = 1.0;
    srl_ppo_defaults(&o->ppo);
    srl_lagrange_defaults(&o->lag);
    o->ptx_coeff = 16.0;
    o->epochs = 1;
    o->seed = 1234;
}

// --- setup -----------------------------------------------------------------------------------

static int load(const struct srl_ppo_train_opts *o, const char *dir, const char *what,
                enum srl_head head, struct srl_model **m)
{
    int rc = srl_model_load_flags(dir, srl_backend_cpu(), o->load_flags, m);
    if (rc < 0) {
        srl_log_error("cannot load the %s '%s'", what, dir);
        return rc;
    }
    if ((*m)->cfg.head != head) {
        srl_log_error("'%s': the %s must be a %s model", dir, what,
                      head == SRL_HEAD_LM ? "causal LM" : "score (ForSequenceClassification)");
        return SRL_EINVAL;
    }
    return 0;
}

static int load_models(struct srl_ppo_run *r)
{
    const struct srl_ppo_train_opts *o = r->o;
    const char *rc_dir = o->reward_critic ? o->reward_critic : o->reward_model;
    const char *cc_dir = o->cost_critic ? o->cost_critic : o->cost_model;
    char *rsub = NULL, *csub = NULL;
    int rc;
    if (o->resume) {
        rsub = srl_path_join(o->resume, "reward_critic");
        csub = srl_path_join(o->resume, "cost_critic");
        if (!rsub || !csub) {
            rc = SRL_ENOMEM;
            goto out;
        }
        rc_dir = rsub, cc_dir = csub;
        if (access(rsub, F_OK) != 0 || access(csub, F_OK) != 0) {
            srl_log_error("'%s' holds no critics: a final checkpoint written without "
                          "--save-critics cannot be resumed", o->resume);
            rc = SRL_EINVAL;
            goto out;
        }
    }
    if ((rc = load(o, o->resume ? o->resume : o->actor, "actor", SRL_HEAD_LM, &r->actor)) < 0 ||
        (rc = load(o, o->ref_model ? o->ref_model : o->actor, "reference model", SRL_HEAD_LM,
                   &r->ref)) < 0 ||
        (rc = load(o, o->reward_model, "reward model", SRL_HEAD_SCORE, &r->rm)) < 0 ||
        (rc = load(o, o->cost_model, "cost model", SRL_HEAD_SCORE, &r->cm)) < 0 ||
        (rc = load(o, rc_dir, "reward critic", SRL_HEAD_SCORE, &r->rcrit)) < 0 ||
        (rc = load(o, cc_dir, "cost critic", SRL_HEAD_SCORE, &r->ccrit)) < 0)
        goto out;
    /* the log-probs of the response tokens only: the LM head skips the prompts and padding */
    srl_model_set_sparse_head(r->actor, !o->dense_head);
    srl_model_set_sparse_head(r->ref, !o->dense_head);
    struct srl_model *ms[5] = {r->ref, r->rm, r->cm, r->rcrit, r->ccrit};
    const char *names[5] = {"reference model", "reward model", "cost model", "reward critic",
                            "cost critic"};
    for (int k = 0; k < 5; k++)
        if (ms[k]->cfg.vocab_size != r->actor->cfg.vocab_size) {
            srl_log_error("the %s has %d tokens but the actor %d: every model must use the "
                          "actor's tokenizer", names[k], ms[k]->cfg.vocab_size,
                          r->actor->cfg.vocab_size);
            rc = SRL_EINVAL;
            goto out;
        }
out:
    free(rsub);
    free(csub);
    return rc;
}

static int read_prompts(struct srl_ppo_run *r, int max)
{
    size_t cap = 0, cap_tok = 0, ntok = 0;
    int rc = 0, err;
    for (int f = 0; rc == 0 && f < r->o->n_prompts; f++) {
        struct srl_jsonl *j = srl_prompts_open(r->o->prompts[f], r->o->prompt_field, &err);
        struct srl_json *rec = NULL;
        if (!j) return err;
        while (rc == 0 && (err = srl_prompts_next(j, &rec)) == 0) {
            char where[512];
            int32_t *ids = NULL;
            snprintf(where, sizeof where, "%s:%ld", srl_jsonl_path(j), srl_jsonl_line(j));
            int n = srl_record_prompt_ids(rec, where, r->tok, r->tmpl, true, max, &ids, NULL);
            srl_json_decref(rec);
            if (n < 0) {
                rc = n;
                break;
            }
            if (r->n_prompts + 2 > cap) {
                cap = cap ? 2 * cap : 256;
                size_t *s = realloc(r->pstart, cap * sizeof *s), *l;
                if (s) r->pstart = s;
                if (!s || !(l = realloc(r->plens, cap * sizeof *l))) {
                    free(ids);
                    rc = SRL_ENOMEM;
                    break;
                }
                r->plens = l;
            }
            if (ntok + (size_t)n > cap_tok) {
                cap_tok = 2 * (ntok + (size_t)n) + 4096;
                int32_t *p = realloc(r->pids, cap_tok * sizeof *p);
                if (!p) {
                    free(ids);
                    rc = SRL_ENOMEM;
                    break;
                }
                r->pids = p;
            }
            memcpy(r->pids + ntok, ids, (size_t)n * sizeof *ids);
            free(ids);
            r->pstart[r->n_prompts] = ntok;
            r->plens[r->n_prompts++] = (size_t)n;
            ntok += (size_t)n;
        }
        if (rc == 0 && err != SRL_EOF) rc = err;
        srl_jsonl_close(j);
    }
    if (rc == 0 && r->n_prompts == 0) {
        srl_log_error("no prompts");
        rc = SRL_EINVAL;
    }
    return rc;
}

/* Order prompts by their tokens, then by index (qsort_r context: the run). */
static int cmp_prompt(const void *a, const void *b, void *ctx)
{
    const struct srl_ppo_run *r = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    size_t li = r->plens[i], lj = r->plens[j];
    int c = memcmp(r->pids + r->pstart[i], r->pids + r->pstart[j],
                   (li < lj ? li : lj) * sizeof(int32_t));
    if (c) return c;
    if (li != lj) return li < lj ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Drop repeated prompts, keeping the last occurrence of each (the reference's
 * PromptOnlyDataset); the others keep their order.  Returns how many were dropped, or
 * SRL_ENOMEM. */
static long dedup_prompts(struct srl_ppo_run *r)
{
    size_t n = r->n_prompts, *idx = malloc(n * sizeof *idx), k = 0;
    unsigned char *drop = calloc(n, 1);
    if (!idx || !drop) {
        free(idx), free(drop);
        return SRL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, n, sizeof *idx, cmp_prompt, r);
    for (size_t i = 0; i + 1 < n; i++) {
        size_t a = idx[i], b = idx[i + 1];
        if (r->plens[a] == r->plens[b] &&
            !memcmp(r->pids + r->pstart[a], r->pids + r->pstart[b],
                    r->plens[a] * sizeof(int32_t)))
            drop[a] = 1; /* a < b: an earlier copy */
    }
    for (size_t i = 0; i < n; i++)
        if (!drop[i]) {
            r->pstart[k] = r->pstart[i];
            r->plens[k++] = r->plens[i];
        }
    r->n_prompts = k;
    free(idx), free(drop);
    return (long)(n - k);
}

static int read_ptx(struct srl_ppo_run *r, int max_len)
{
    struct srl_sft_opts so = {r->tok, r->tmpl, max_len, false};
    int rc;
    for (int i = 0; i < r->o->n_ptx; i++)
        if ((rc = srl_sft_read(&r->ptx, r->o->ptx[i], &so)) < 0) return rc;
    if (r->o->n_ptx && r->ptx.n == 0) {
        srl_log_error("no PTX examples");
        return SRL_EINVAL;
    }
    if (r->ptx.n) return srl_lm_task_init(&r->ptx_task, &r->ptx, NULL, r->pad_id, 1);
    return 0;
}

// --- checkpoints -----------------------------------------------------------------------------

/* A critic's directory in the checkpoint (rank 0: tmp; the others: tmp NULL, they only take
 * part in gathering sharded moments). */
static int save_critic(struct srl_ppo_run *r, const char *tmp, const char *name,
                       struct srl_model *m, struct srl_optim *opt)
{
    if (!tmp) return srl_optim_save(opt, NULL);
    char *dir = srl_path_join(tmp, name), *q = NULL, *data = NULL;
    char *p = dir ? srl_path_join(dir, "optimizer.safetensors") : NULL;
    size_t len;
    int rc = p ? 0 : SRL_ENOMEM;
    if (rc == 0 && mkdir(dir, 0777) != 0) {
        srl_log_error("cannot create '%s'", dir);
        rc = SRL_EIO;
    }
    if (rc == 0) rc = srl_model_save(m, dir, SRL_DTYPE_F32);
    /* the moments even after a failure: other ranks may be sending their shards */
    int rc2 = srl_optim_save(opt, rc == 0 ? p : NULL);
    if (rc == 0) rc = rc2;
    if (rc < 0) goto out;
    rc = SRL_ENOMEM;
    if (!(q = srl_path_join(r->tr.tokenizer_dir, "tokenizer.json"))) goto out;
    free(p);
    if (!(p = srl_path_join(dir, "tokenizer.json"))) goto out;
    if ((rc = srl_read_file(q, &data, &len)) == 0) rc = srl_write_file_atomic(p, data, len);
out:
    free(dir), free(p), free(q), free(data);
    return rc;
}

/* trainer_state.json "user": the multiplier, the rollout count, the PTX position. */
static int put_user_state(struct srl_ppo_run *r)
{
    struct srl_lagrange_state ls;
    srl_lagrange_get_state(&r->lag, &ls);
    struct srl_json *u = r->tr.st.user, *l = srl_json_new_object(), *w = srl_json_new_array();
    int rc = l && w ? 0 : SRL_ENOMEM;
    for (int i = 0; rc == 0 && i < ls.win_len; i++)
        rc = srl_json_array_append(w, srl_json_new_number(ls.window[i]));
    const char *k[] = {"log_lambda", "lambda", "last_cost", "pid_i", "pid_p", "pid_cost",
                       "pid_cost_prev"};
    double v[] = {ls.log_lambda, ls.lambda, ls.last_cost, ls.pid_i, ls.pid_p, ls.pid_cost,
                  ls.pid_cost_prev};
    for (int i = 0; rc == 0 && i < 7; i++)
        rc = isfinite(v[i]) ? srl_json_object_set_number(l, k[i], v[i])
                            : srl_json_object_set_null(l, k[i]);
    if (rc == 0) rc = srl_json_object_set_integer(l, "steps", ls.steps);
    if (rc == 0) rc = srl_json_object_set_bool(l, "pid_have_prev", ls.pid_have_prev != 0);
    if (rc == 0) rc = srl_json_object_set_string(l, "update",
                                                 srl_lambda_update_name(r->o->lag.update));
    if (rc == 0) {
        rc = srl_json_object_set(l, "window", w);
        w = NULL;
    }
    if (rc == 0) {
        rc = srl_json_object_set(u, "lagrange", l);
        l = NULL;
    }
    if (rc == 0) rc = srl_json_object_set_integer(u, "rollouts", r->rollouts);
    if (rc == 0) rc = srl_json_object_set_integer(u, "ptx_epoch", r->ptx_epoch);
    if (rc == 0) rc = srl_json_object_set_integer(u, "ptx_batch", r->ptx_batch);
    srl_json_decref(l);
    srl_json_decref(w);
    return rc;
}

static double num_or_nan(const struct srl_json *o, const char *k)
{
    const struct srl_json *v = srl_json_get(o, k);
    return srl_json_is_number(v) ? srl_json_number(v) : NAN;
}

static int get_user_state(struct srl_ppo_run *r)
{
    const struct srl_json *u = r->tr.st.user, *l = srl_json_get(u, "lagrange");
    const struct srl_json *w = srl_json_get(l, "window");
    if (!srl_json_is_object(l) || !srl_json_is_array(w)) {
        srl_log_error("%s: trainer_state.json has no multiplier state (not a saferlhf-ppo-lag "
                      "checkpoint?)", r->o->resume);
        return SRL_EFORMAT;
    }
    struct srl_lagrange_state ls = {0};
    size_t n = srl_json_array_size(w);
    float *win = malloc((n ? n : 1) * sizeof *win);
    if (!win) return SRL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        win[i] = (float)srl_json_number(srl_json_array_at(w, i));
    ls.log_lambda = num_or_nan(l, "log_lambda");
    ls.lambda = num_or_nan(l, "lambda");
    ls.last_cost = num_or_nan(l, "last_cost");
    ls.pid_i = num_or_nan(l, "pid_i");
    ls.pid_p = num_or_nan(l, "pid_p");
    ls.pid_cost = num_or_nan(l, "pid_cost");
    ls.pid_cost_prev = num_or_nan(l, "pid_cost_prev");
    ls.steps = srl_json_integer(srl_json_get(l, "steps"));
    ls.pid_have_prev = srl_json_boolean(srl_json_get(l, "pid_have_prev"));
    ls.win_len = (int)n;
    ls.window = win;
    int rc = srl_lagrange_set_state(&r->lag, &ls);
    free(win);
    if (rc < 0) return rc;
    r->rollouts = srl_json_integer(srl_json_get(u, "rollouts"));
    r->ptx_epoch = srl_json_integer(srl_json_get(u, "ptx_epoch"));
    r->ptx_batch = srl_json_integer(srl_json_get(u, "ptx_batch"));
    const char *bad = r->rollouts < 0 || r->rollouts > r->tr.st.step ? "rollouts"
                    : r->ptx_epoch < 0 || r->ptx_epoch > r->tr.st.step ? "ptx_epoch"
                    : r->ptx_batch < 0 ? "ptx_batch" : NULL;
    if (bad) {
        srl_log_error("%s: trainer_state.json: \"user\".\"%s\" is out of range", r->o->resume,
                      bad);
        return SRL_EFORMAT;
    }
    return 0;
}

static int save_extra(void *ctx, const char *tmp, bool complete)
{
    struct srl_ppo_run *r = ctx;
    int rc;
    if (complete && !r->o->save_critics) return 0;
    if ((rc = save_critic(r, tmp, "reward_critic", r->rcrit, r->ropt)) < 0) return rc;
    return save_critic(r, tmp, "cost_critic", r->ccrit, r->copt);
}

static int save(struct srl_ppo_run *r, bool complete)
{
    int rc = put_user_state(r);
    if (rc == 0) rc = srl_trainer_save(&r->tr, r->o->output, complete);
    return rc;
}

static int critic_optim(struct srl_ppo_run *r, struct srl_model *m, const char *sub,
                        struct srl_optim **opt)
{
    struct srl_adamw_hparams hp = r->o->adam;
    hp.weight_decay = (float)r->o->critic_weight_decay;
    int rc = srl_optim_for_model(m, &hp, opt);
    if (rc < 0) return rc;
    srl_optim_use_safe_rlhf_groups(*opt);
    if (r->o->zero_stage >= 1 && (rc = srl_optim_shard(*opt)) < 0) return rc;
    if (!r->o->resume) return 0;
    char *d = srl_path_join(r->o->resume, sub), *p = d ? srl_path_join(d, "optimizer.safetensors")
                                                       : NULL;
    rc = p ? srl_optim_load(*opt, p) : SRL_ENOMEM;
    free(d);
    free(p);
    if (rc == 0 && (*opt)->step != r->tr.st.step) {
        srl_log_error("%s: the %s optimiser is at step %lld, the actor at %lld", r->o->resume,
                      sub, (long long)(*opt)->step, (long long)r->tr.st.step);
        rc = SRL_EFORMAT;
    }
    return rc;
}

// --- progress --------------------------------------------------------------------------------

static void progress(struct srl_ppo_run *r, const struct srl_json *m, double tok_s)
{
    if (r->o->quiet) return;
    double tn = srl_seconds();
    int64_t step = r->tr.st.step;
    bool last = step >= r->total_steps;
    if (!last && step != r->tr.start_step + 1 && tn - r->t_progress < (r->tty ? 0.1 : 10.0))
        return;
    r->t_progress = tn;
    fprintf(stderr, "%s%s: step %lld/%lld reward %.4g cost %.4g lambda %.4g kl %.3g "
                    "len %.1f %.0f tok/s%s",
            r->tty ? "\r" : "", srl_log_get_prog(), (long long)step, (long long)r->total_steps,
            srl_json_number(srl_json_get(m, "reward")), srl_json_number(srl_json_get(m, "cost")),
            r->lag.lambda, srl_json_number(srl_json_get(m, "kl_divergence")),
            srl_json_number(srl_json_get(m, "mean_generated_length")), tok_s,
            r->tty && !last ? "\033[K" : "\n");
    r->progress_open = r->tty && !last;
    fflush(stderr);
}

static void progress_break(struct srl_ppo_run *r)
{
    if (r->progress_open) fputc('\n', stderr);
    r->progress_open = false;
}

static int log_step(struct srl_ppo_run *r, struct srl_json *m, double tok_s)
{
    int rc = srl_json_object_set_integer(m, "step", r->tr.st.step);
    if (rc == 0) rc = srl_json_object_set_integer(m, "epoch", r->tr.st.epoch);
    if (rc == 0) rc = srl_json_object_set_integer(m, "rollout", r->rollouts);
    if (rc == 0) rc = srl_json_object_set_number(m, "rollout_tokens_per_s", tok_s);
    /* seconds of each phase since the last line (rollout and scoring on a batch's first step) */
    const struct srl_ppo_timing *a = &r->tm, *b = &r->tm_logged;
    const char *k[6] = {"rollout_s", "scoring_s", "advantage_s", "actor_s", "ptx_s", "critics_s"};
    double v[6] = {a->rollout - b->rollout, a->scoring - b->scoring, a->advantage - b->advantage,
                   a->actor - b->actor, a->ptx - b->ptx, a->critics - b->critics};
    for (int i = 0; rc == 0 && i < 6; i++)
        rc = srl_json_object_set_number(m, k[i], v[i]);
    r->tm_logged = r->tm;
    if (rc == 0 && r->tr.log && (srl_json_dump(m, r->tr.log) < 0 || fflush(r->tr.log) != 0)) {
        srl_log_error("cannot write the log '%s'", r->o->log_path);
        rc = SRL_EIO;
    }
    return rc;
}

// --- the loop --------------------------------------------------------------------------------

/* One rollout batch: generate, score, then ppo_epochs x minibatches optimiser steps. */
static int rollout_batch(struct srl_ppo_run *r, const size_t *idx, size_t n, uint64_t stream)
{
    const struct srl_ppo_train_opts *o = r->o;
    double t0 = r->tm.rollout, tok0 = r->tm.rollout_tokens;
    int rc;
    /* this rank's contiguous part of the prompts; streams by global prompt slot */
    size_t R = (size_t)srl_dist_size(), q = (size_t)srl_dist_rank(), a = n * q / R,
           z = n * (q + 1) / R;
    r->b.N = 0;
    r->b.N_all = (int)n * o->num_return_sequences;
    if (z > a) {
        rc = srl_ppo_rollout(r, idx + a, z - a, stream + a * (uint64_t)o->num_return_sequences);
        if (rc == 0) rc = srl_ppo_score(r);
    } else {
        rc = 0;
        r->b.critics_fresh = false;
    }
    if ((rc = srl_dist_agree(rc)) < 0 || (rc = srl_ppo_push_costs(r)) < 0) return rc;
    double dt = r->tm.rollout - t0, tok_s = dt > 0 ? (r->tm.rollout_tokens - tok0) / dt : 0;
    int N = r->b.N, N_all = r->b.N_all, M = o->minibatches < N_all ? o->minibatches : N_all;
    for (int e = 0; e < o->ppo_epochs; e++)
        for (int k = 0; k < M; k++) {
            if (r->tr.st.step >= r->total_steps) return 0;
            struct srl_json *m = srl_json_new_object();
            if (!m) return SRL_ENOMEM;
            rc = srl_ppo_update(r, (int)((int64_t)N * k / M), (int)((int64_t)N * (k + 1) / M),
                                m);
            if (rc == 0) rc = srl_dist_agree(log_step(r, m, tok_s));
            if (rc == 0) progress(r, m, tok_s);
            srl_json_decref(m);
            if (rc < 0) return rc;
        }
    return 0;
}

static int run_loop(struct srl_ppo_run *r)
{
    const struct srl_ppo_train_opts *o = r->o;
    struct srl_train_state *st = &r->tr.st;
    int rc;
    r->tr.start_step = st->step;
    r->t_start = r->t_progress = srl_seconds();
    while (st->step < r->total_steps) {
        if (r->plan_epoch != st->epoch) {
            srl_batch_plan_free(&r->plan);
            if ((rc = srl_batch_plan_make(&r->plan, r->plens, r->n_prompts,
                                          o->rollout_batch_size, 0, st->seed, st->epoch)) < 0)
                return rc;
            r->plan_epoch = st->epoch;
        }
        if (st->batch >= (int64_t)r->plan.n_batches) {
            st->epoch++;
            st->batch = 0;
            continue;
        }
        size_t k = (size_t)st->batch, lo = r->plan.first[k], hi = r->plan.first[k + 1];
        /* RNG streams: one per (prompt slot, sample) of the whole run */
        uint64_t stream = (uint64_t)r->rollouts * (uint64_t)o->rollout_batch_size *
                          (uint64_t)o->num_return_sequences;
        if ((rc = rollout_batch(r, r->plan.order + lo, hi - lo, stream)) < 0) {
            progress_break(r);
            return rc;
        }
        r->rollouts++;
        st->batch++;
        if (st->batch >= (int64_t)r->plan.n_batches) {
            st->epoch++;
            st->batch = 0;
        }
        if (st->step >= r->total_steps) break;
        int sig = srl_trainer_signal_agreed();
        bool stop = o->stop_after > 0 && st->step - r->tr.start_step >= o->stop_after;
        bool due = o->save_every > 0 &&
                   st->step / o->save_every != (st->step - r->steps_per_rollout) / o->save_every;
        if (sig || stop || due) {
            progress_break(r);
            if ((rc = save(r, false)) < 0) return rc;
            srl_log_info("step %lld: checkpoint written to %s", (long long)st->step, o->output);
            if (sig) {
                srl_log_warning("caught signal %d: a resumable checkpoint of step %lld is in %s",
                                sig, (long long)st->step, o->output);
                return SRL_TRAIN_INTERRUPTED;
            }
            if (stop) return SRL_TRAIN_STOPPED;
        }
    }
    progress_break(r);
    return save(r, true);
}

static int setup(struct srl_ppo_run *r)
{
    const struct srl_ppo_train_opts *o = r->o;
    int rc, err = 0;
    const char *tok_dir = o->resume ? o->resume : o->actor;
    /* a save killed between its two renames left no checkpoint at --resume: put it back */
    if (o->resume && (rc = srl_dir_recover(o->resume)) < 0) return rc;
    if (!(r->tok = srl_tokenizer_load(tok_dir, &err))) {
        srl_log_error("cannot load the tokenizer of '%s'", tok_dir);
        return err < 0 ? err : SRL_EIO;
    }
    if ((rc = load_models(r)) < 0) return rc;
    if (srl_tokenizer_vocab_size(r->tok) > r->actor->cfg.vocab_size) {
        srl_log_error("the tokenizer has %d tokens but the actor only %d",
                      srl_tokenizer_vocab_size(r->tok), r->actor->cfg.vocab_size);
        return SRL_EINVAL;
    }
    struct srl_config *ac = &r->actor->cfg;
    const char *tname = o->template_name ? o->template_name
                        : ac->template_name[0] ? ac->template_name : "saferlhf";
    if (!(r->tmpl = srl_template_find(tname))) {
        srl_log_error("the checkpoint's template '%s' is unknown", tname);
        return SRL_EINVAL;
    }
    snprintf(ac->template_name, sizeof ac->template_name, "%s", tname);
    /* every model must hold prompt + response positions */
    int maxpos = ac->max_position_embeddings;
    struct srl_model *ms[5] = {r->ref, r->rm, r->cm, r->rcrit, r->ccrit};
    for (int k = 0; k < 5; k++)
        if (ms[k]->cfg.max_position_embeddings < maxpos)
            maxpos = ms[k]->cfg.max_position_embeddings;
    int max_prompt = o->max_prompt_length < maxpos - 1 ? o->max_prompt_length : maxpos - 1;
    r->pad_id = srl_tokenizer_pad_id(r->tok);
    if (r->pad_id < 0) r->pad_id = srl_tokenizer_eos_id(r->tok) >= 0 ? srl_tokenizer_eos_id(r->tok)
                                                                      : 0;
    if ((rc = read_prompts(r, max_prompt)) < 0) return rc;
    long dups = dedup_prompts(r);
    if (dups < 0) return (int)dups;
    if (dups > 0) srl_log_info("%ld repeated prompts dropped (the last copy kept)", dups);
    if ((rc = read_ptx(r, maxpos)) < 0) return rc;
    r->gp.sample = o->sample;
    r->gp.max_new_tokens = o->max_new_tokens;
    r->gp.eos_id = srl_tokenizer_eos_id(r->tok) >= 0 ? srl_tokenizer_eos_id(r->tok)
                                                     : ac->eos_token_id;
    r->gp.tok = r->tok;
    r->gp.seed = o->seed;
    r->gp.logprobs = true;
    /* the actor's generation stops at its own positions; the rollout cuts responses to the
     * smallest max_position_embeddings of the six models */
    r->max_len = maxpos;

    struct srl_train_opts to;
    srl_train_opts_default(&to);
    to.lr = o->actor_lr;
    to.schedule = o->actor_schedule;
    to.warmup_ratio = o->actor_warmup_ratio;
    to.adam = o->adam;
    to.adam.weight_decay = (float)o->actor_weight_decay;
    to.clip = o->clip_grad;
    to.seed = o->seed;
    to.log_path = o->log_path;
    to.output = o->output;
    to.quiet = o->quiet;
    to.zero_stage = o->zero_stage;
    if ((rc = srl_trainer_init(&r->tr, &to, r->actor, tok_dir, o->resume)) < 0) return rc;
    r->tr.save_extra = save_extra;
    r->tr.save_extra_ctx = r;
    if ((rc = srl_lagrange_init(&r->lag, &o->lag)) < 0) return rc;
    if (o->resume && (rc = get_user_state(r)) < 0) return rc;
    if ((rc = critic_optim(r, r->rcrit, "reward_critic", &r->ropt)) < 0 ||
        (rc = critic_optim(r, r->ccrit, "cost_critic", &r->copt)) < 0)
        return rc;

    int64_t per_epoch = (int64_t)((r->n_prompts + (size_t)o->rollout_batch_size - 1) /
                                  (size_t)o->rollout_batch_size);
    int64_t N = (int64_t)o->rollout_batch_size * o->num_return_sequences;
    r->steps_per_rollout = (int64_t)o->ppo_epochs * (o->minibatches < N ? o->minibatches : N);
    r->total_steps = o->max_steps > 0 ? o->max_steps : per_epoch * o->epochs *
                                                           r->steps_per_rollout;
    if (r->tr.st.step > 0 && r->tr.st.total_steps != r->total_steps)
        srl_log_warning("the checkpoint was planned for %lld steps, this run for %lld: the "
                        "learning-rate schedules change", (long long)r->tr.st.total_steps,
                        (long long)r->total_steps);
    r->tr.st.total_steps = r->total_steps;
    r->tr.st.examples = (int64_t)r->n_prompts;
    struct srl_lr_schedule *sc[2] = {&r->asched, &r->csched};
    double lr[2] = {o->actor_lr, o->critic_lr}, wr[2] = {o->actor_warmup_ratio,
                                                         o->critic_warmup_ratio};
    enum srl_lr_kind kind[2] = {o->actor_schedule, o->critic_schedule};
    for (int k = 0; k < 2; k++) {
        sc[k]->kind = kind[k];
        sc[k]->peak_lr = lr[k];
        sc[k]->total_steps = r->total_steps;
        sc[k]->warmup_steps = (int64_t)(wr[k] * (double)r->total_steps);
    }
    r->plan_epoch = r->ptx_plan_epoch = -1;
    r->ptx_B = 0;
    r->tty = isatty(STDERR_FILENO);
    srl_log_info("%zu prompts, %lld steps of %d sequences (%lld per rollout batch), lambda %s "
                 "from %g%s", r->n_prompts, (long long)r->total_steps,
                 (int)(N / (r->steps_per_rollout / o->ppo_epochs)),
                 (long long)r->steps_per_rollout, srl_lambda_update_name(o->lag.update),
                 r->lag.lambda, r->ptx.n ? ", with PTX" : "");
    return 0;
}

int srl_ppo_train(const struct srl_ppo_train_opts *o, struct srl_ppo_timing *timing)
{
    struct srl_ppo_run *r = calloc(1, sizeof *r);
    if (!r) return SRL_ENOMEM;
    r->o = o;
    int rc = setup(r);
    if (rc == 0) rc = run_loop(r);
    if (timing) *timing = r->tm;
    srl_trainer_free(&r->tr);
    srl_optim_free(r->ropt);
    srl_optim_free(r->copt);
    srl_lagrange_free(&r->lag);
    srl_ppo_batch_free(&r->b);
    srl_batch_plan_free(&r->plan);
    srl_batch_plan_free(&r->ptx_plan);
    srl_lm_task_free(&r->ptx_task);
    srl_sft_set_free(&r->ptx);
    struct srl_model *ms[6] = {r->actor, r->ref, r->rm, r->cm, r->rcrit, r->ccrit};
    for (int k = 0; k < 6; k++)
        srl_model_free(ms[k]);
    srl_tokenizer_free(r->tok);
    free(r->pids), free(r->pstart), free(r->plens);
    free(r);
    return rc;
}
