/* trainer.c -- the shared training loop: steps, logging, progress, signals (see trainer.h). */
#include "trainer.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dist.h"
#include "fileio.h"
#include "srl.h"

// --- signals ---------------------------------------------------------------------------------

static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
    caught_signal = sig;
    signal(sig, SIG_DFL); /* a second signal kills */
}

void srl_trainer_catch_signals(void)
{
    caught_signal = 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
}

int srl_trainer_signal(void) { return (int)caught_signal; }

int srl_trainer_signal_agreed(void)
{
    double sig = (double)caught_signal;
    return srl_dist_allreduce_max_f64(&sig, 1) < 0 ? SIGTERM : (int)sig;
}

// --- setup -----------------------------------------------------------------------------------

void srl_train_opts_default(struct srl_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 1;
    o->batch_size = 16;
    o->grad_accum = 1;
    o->lr = 2e-5;
    o->schedule = SRL_LR_COSINE;
    o->warmup_steps = -1;
    srl_adamw_defaults(&o->adam);
    o->clip = 1.0;
    o->seed = 1234;
    o->save_dtype = SRL_DTYPE_F32;
    o->overlap_comm = 1;
}

int64_t srl_trainer_steps_per_epoch(const struct srl_train_opts *o, size_t n)
{
    int64_t nb = (int64_t)((n + (size_t)o->batch_size - 1) / (size_t)o->batch_size);
    return (nb + o->grad_accum - 1) / o->grad_accum;
}

void srl_trainer_free(struct srl_trainer *t)
{
    if (!t) return;
    srl_optim_free(t->optim);
    srl_dist_overlap_free(t->overlap);
    if (t->log) srl_atomic_commit(&t->log_file);
    srl_json_decref(t->st.user);
    srl_batch_plan_free(&t->plan);
    memset(t, 0, sizeof *t);
}

/* The buckets of the overlapped all-reduce, from the model's grad marks. */
static int overlap_new(struct srl_trainer *t)
{
    size_t *marks = malloc(((size_t)t->model->cfg.num_hidden_layers + 1) * sizeof *marks);
    if (!marks) return SRL_ENOMEM;
    int n = srl_model_grad_marks(t->model, marks);
    int rc = srl_dist_overlap_new(&t->overlap, marks, n, t->model->n_params);
    free(marks);
    return rc;
}

int srl_trainer_init(struct srl_trainer *t, const struct srl_train_opts *opts,
                     struct srl_model *m, const char *tokenizer_dir, const char *resume_dir)
{
    int rc;
    memset(t, 0, sizeof *t);
    t->opts = *opts;
    t->model = m;
    t->tokenizer_dir = tokenizer_dir;
    t->plan_epoch = -1;
    t->st.seed = opts->seed;
    srl_rng_seed(&t->st.rng, opts->seed);
    if (!(t->st.user = srl_json_new_object())) return SRL_ENOMEM;
    if ((rc = srl_optim_for_model(m, &opts->adam, &t->optim)) < 0) goto fail;
    srl_optim_use_safe_rlhf_groups(t->optim); /* the reference's weight-decay groups */
    if (opts->zero_stage >= 1 && (rc = srl_optim_shard(t->optim)) < 0) goto fail;
    if (opts->overlap_comm && opts->zero_stage == 0 && strcmp(m->be->name, "cpu") == 0 &&
        (rc = overlap_new(t)) < 0)
        goto fail;
    if (!srl_dist_is_root()) { /* rank 0 alone reports and writes */
        t->opts.quiet = true;
        t->opts.log_path = NULL;
    }
    if (srl_dist_size() > 1)
        srl_log_info("%d ranks (%s), ZeRO stage %d: optimiser state %zu bytes per rank",
                     srl_dist_size(), srl_dist_kind(), opts->zero_stage,
                     srl_optim_state_bytes(t->optim));
    if (resume_dir) {
        char *p = srl_path_join(resume_dir, "optimizer.safetensors");
        rc = p ? srl_optim_load(t->optim, p) : SRL_ENOMEM;
        free(p);
        if (rc < 0 || (rc = srl_train_state_load(&t->st, resume_dir)) < 0) goto fail;
        if (t->st.step != t->optim->step) {
            srl_log_error("%s: trainer state at step %lld but the optimiser at %lld",
                          resume_dir, (long long)t->st.step, (long long)t->optim->step);
            rc = SRL_EFORMAT;
            goto fail;
        }
        if (t->st.seed != opts->seed)
            srl_log_info("resuming with the checkpoint's data seed %llu",
                         (unsigned long long)t->st.seed);
    }
    if (t->opts.log_path) {
        if ((rc = srl_output_append(&t->log_file, t->opts.log_path)) < 0)
            srl_log_error("cannot open the log '%s' for appending", t->opts.log_path);
        else
            t->log = t->log_file.fp;
    }
    if ((rc = srl_dist_agree(rc)) < 0) goto fail;
    t->tty = isatty(STDERR_FILENO);
    return 0;
fail:
    srl_trainer_free(t);
    return rc;
}

// --- output ----------------------------------------------------------------------------------

static void format_eta(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e7) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

static void progress(struct srl_trainer *t, double epoch, double loss, double lr, double norm,
                     const char *extra, bool force)
{
    if (t->opts.quiet) return;
    double tn = srl_seconds();
    bool last = t->st.step >= t->st.total_steps;
    if (!t->tty && !force && !last && t->st.step != t->start_step + 1 &&
        tn - t->t_progress < 10.0)
        return;
    if (t->tty && !force && !last && tn - t->t_progress < 0.1) return;
    t->t_progress = tn;
    int64_t done = t->st.step - t->start_step;
    double per_step = done > 0 ? (tn - t->t_start) / (double)done : 0;
    char eta[32];
    format_eta(per_step * (double)(t->st.total_steps - t->st.step), eta, sizeof eta);
    fprintf(stderr, "%s%s: step %lld/%lld epoch %.2f loss %.4f lr %.3g |g| %.3g %.0f tok/s "
                    "eta %s%s%s",
            t->tty ? "\r" : "", srl_log_get_prog(), (long long)t->st.step,
            (long long)t->st.total_steps, epoch, loss, lr, norm, t->tok_s, eta,
            extra ? extra : "", t->tty ? "\033[K" : "\n");
    t->progress_open = t->tty;
    if (t->tty && last) {
        fputc('\n', stderr);
        t->progress_open = false;
    }
    fflush(stderr);
}

/* End a \r-updated line before other messages. */
static void progress_break(struct srl_trainer *t)
{
    if (t->progress_open) fputc('\n', stderr);
    t->progress_open = false;
}

static int log_step(struct srl_trainer *t, double epoch, double loss, double lr, double norm,
                    size_t tokens, struct srl_json *metrics)
{
    if (!t->log) return 0;
    struct srl_json *o = srl_json_new_object();
    int rc = o ? 0 : SRL_ENOMEM;
    if (rc == 0) rc = srl_json_object_set_integer(o, "step", t->st.step);
    if (rc == 0) rc = srl_json_object_set_number(o, "epoch", epoch);
    if (rc == 0) rc = srl_json_object_set_number(o, "loss", loss);
    if (rc == 0) rc = srl_json_object_set_number(o, "lr", lr);
    if (rc == 0) rc = srl_json_object_set_number(o, "grad_norm", norm);
    if (rc == 0) rc = srl_json_object_set_integer(o, "tokens", (long long)tokens);
    if (rc == 0) rc = srl_json_object_set_number(o, "tokens_per_s", t->tok_s);
    if (rc == 0 && srl_dist_size() > 1)
        rc = srl_json_object_set_number(o, "allreduce_s", t->comm_s);
    if (rc == 0 && srl_dist_size() > 1)
        rc = srl_json_object_set_number(o, "rank_wait_s", t->wait_s);
    for (size_t i = 0; rc == 0 && metrics && i < srl_json_object_size(metrics); i++)
        rc = srl_json_object_set(o, srl_json_object_key_at(metrics, i),
                                 srl_json_incref(srl_json_object_value_at(metrics, i)));
    if (rc == 0 && (srl_json_dump(o, t->log) < 0 || fflush(t->log) != 0)) {
        srl_log_error("cannot write the log '%s'", t->opts.log_path);
        rc = SRL_EIO;
    }
    srl_json_decref(o);
    return rc;
}

// --- the loop --------------------------------------------------------------------------------

static int ensure_plan(struct srl_trainer *t, const struct srl_train_task *task)
{
    if (t->plan_epoch == t->st.epoch) return 0;
    srl_batch_plan_free(&t->plan);
    int rc = srl_batch_plan_make(&t->plan, task->lengths, task->n, t->opts.batch_size,
                                 task->window, t->st.seed, t->st.epoch);
    if (rc < 0) return rc;
    t->plan_epoch = t->st.epoch;
    if (t->st.epoch == 0 || t->st.batch == 0)
        srl_log_info("epoch %lld: %zu batches, padding %.1f%% of %zu tokens",
                     (long long)t->st.epoch, t->plan.n_batches,
                     t->plan.padded_tokens
                         ? 100.0 * (double)(t->plan.padded_tokens - t->plan.real_tokens) /
                               (double)t->plan.padded_tokens
                         : 0.0,
                     t->plan.padded_tokens);
    return 0;
}

/* One optimiser step: grad_accum micro-batches, rank r running those with index r modulo the
 * rank count.  *loss the mean micro-batch loss over all ranks. */
static int train_step(struct srl_trainer *t, const struct srl_train_task *task, double *loss,
                      double *norm, size_t *tokens)
{
    struct srl_model *m = t->model;
    int rc, count = 0;
    double sum[2] = {0, 0}; /* loss sum, tokens of this rank's micro-batches */
    double c0 = srl_dist_comm_seconds(); /* the overlapped all-reduce counts from here */
    *tokens = 0;
    if ((rc = srl_model_zero_grad(m)) < 0) return rc;
    if ((rc = ensure_plan(t, task)) < 0) return rc;
    if (t->st.batch >= (int64_t)t->plan.n_batches) { /* resumed past the end of other data */
        t->st.epoch++;
        t->st.batch = 0;
        if ((rc = ensure_plan(t, task)) < 0) return rc;
    }
    while (count < t->opts.grad_accum && t->st.batch < (int64_t)t->plan.n_batches) {
        size_t b = (size_t)t->st.batch, lo = t->plan.first[b], hi = t->plan.first[b + 1];
        double l;
        size_t ntok;
        if (rc == 0 && count % srl_dist_size() == srl_dist_rank()) {
            /* this rank's last backward of the step sends the gradients as it goes */
            bool last = count + srl_dist_size() >= t->opts.grad_accum ||
                        t->st.batch + srl_dist_size() >= (int64_t)t->plan.n_batches;
            if (t->overlap && last) {
                srl_dist_overlap_begin(t->overlap, m->grads);
                srl_model_set_grad_hook(m, srl_dist_overlap_ready, t->overlap);
            }
            rc = task->micro_step(task->ctx, m, t->plan.order + lo, hi - lo, &l, &ntok);
            srl_model_set_grad_hook(m, NULL, NULL);
            sum[0] += l;
            sum[1] += (double)ntok;
        }
        count++;
        t->st.batch++;
    }
    if (t->st.batch >= (int64_t)t->plan.n_batches) { /* the epoch is over */
        t->st.epoch++;
        t->st.batch = 0;
    }
    if (t->overlap) { /* every rank, with or without a backward in this step */
        int rc2 = srl_dist_overlap_end(t->overlap, m->grads);
        if (rc == 0) rc = rc2;
    }
    if ((rc = srl_dist_agree(rc)) == 0) rc = srl_dist_allreduce_f64(sum, 2);
    if (rc < 0) {
        if (rc == SRL_ENUMERIC) *loss = NAN; /* the model found the loss not finite */
        return rc;
    }
    *loss = count ? sum[0] / count : 0.0;
    *tokens = (size_t)sum[1];
    if (!isfinite(*loss)) return SRL_ENUMERIC;
    double lr = srl_lr_at(&t->sched, t->st.step), w0 = srl_dist_wait_seconds();
    float scale = count > 1 ? 1.0f / (float)count : 1.0f;
    rc = t->overlap ? srl_optim_summed_step(t->optim, m->params, m->grads, scale, t->opts.clip,
                                            (float)lr, norm)
                    : srl_optim_dist_step(t->optim, m->params, m->grads, scale, t->opts.clip,
                                          (float)lr, norm);
    t->comm_s = srl_dist_comm_seconds() - c0;
    t->wait_s = srl_dist_wait_seconds() - w0;
    if (rc < 0) return rc;
    t->st.step++;
    t->st.tokens += (double)*tokens;
    return 0;
}

/* Rank 0 evaluates (the others wait for its verdict: the metrics only go to its log). */
static int evaluate(struct srl_trainer *t, const struct srl_train_task *task,
                    struct srl_json **metrics)
{
    *metrics = NULL;
    if (!task->evaluate) return 0;
    int rc = 0;
    if (srl_dist_is_root()) {
        if (!(*metrics = srl_json_new_object())) rc = SRL_ENOMEM;
        if (rc == 0) rc = task->evaluate(task->ctx, t->model, *metrics);
        struct srl_json *el = srl_json_get(*metrics, "eval_loss");
        if (rc == 0 && el && !isfinite(srl_json_number(el))) rc = SRL_ENUMERIC;
    }
    return srl_dist_agree(rc);
}

int srl_trainer_run(struct srl_trainer *t, const struct srl_train_task *task)
{
    const struct srl_train_opts *o = &t->opts;
    int64_t spe = srl_trainer_steps_per_epoch(o, task->n);
    int64_t total = o->max_steps > 0 ? o->max_steps : spe * o->epochs;
    int rc = 0;
    if (task->n == 0 || spe == 0) {
        srl_log_error("no training examples");
        return SRL_EINVAL;
    }
    if (t->st.step > 0 && t->st.total_steps != total)
        srl_log_warning("the checkpoint was planned for %lld steps, this run for %lld: the "
                        "learning-rate schedule changes", (long long)t->st.total_steps,
                        (long long)total);
    if (t->st.step > 0 && t->st.examples > 0 && t->st.examples != (int64_t)task->n)
        srl_log_warning("the checkpoint was trained on %lld examples, this run has %zu: the data "
                        "order is not the interrupted run's", (long long)t->st.examples, task->n);
    t->st.total_steps = total;
    t->st.examples = (int64_t)task->n;
    t->sched.kind = o->schedule;
    t->sched.peak_lr = o->lr;
    t->sched.total_steps = total;
    t->sched.warmup_steps = o->warmup_steps >= 0 ? o->warmup_steps
                                                 : (int64_t)(o->warmup_ratio * (double)total);
    t->start_step = t->st.step;
    t->t_start = t->t_progress = srl_seconds();
    bool evaluated = false;
    while (t->st.step < total) {
        double loss = 0, norm = NAN, t0 = srl_seconds();
        size_t tokens = 0;
        double lr = srl_lr_at(&t->sched, t->st.step);
        if ((rc = train_step(t, task, &loss, &norm, &tokens)) < 0) {
            progress_break(t);
            if (rc == SRL_ENUMERIC)
                srl_log_error("step %lld: the %s is not finite (%g); stopping, the last "
                              "checkpoint is left as it was", (long long)t->st.step + 1,
                              isfinite(loss) ? "gradient norm" : "loss",
                              isfinite(loss) ? norm : loss);
            return rc;
        }
        double dt = srl_seconds() - t0;
        t->tok_s = dt > 0 ? (double)tokens / dt : 0;
        double epoch = (double)t->st.epoch +
                       (t->plan_epoch == t->st.epoch && t->plan.n_batches
                            ? (double)t->st.batch / (double)t->plan.n_batches : 0.0);
        struct srl_json *metrics = NULL;
        char extra[64] = "";
        evaluated = false;
        if (o->eval_every > 0 && t->st.step % o->eval_every == 0 && t->st.step < total) {
            if ((rc = evaluate(t, task, &metrics)) < 0) {
                srl_json_decref(metrics);
                progress_break(t);
                return rc;
            }
            evaluated = metrics != NULL;
            struct srl_json *el = srl_json_get(metrics, "eval_loss");
            if (el) snprintf(extra, sizeof extra, " eval %.4f", srl_json_number(el));
        }
        if (t->st.step == total && task->evaluate) { /* the final evaluation */
            if ((rc = evaluate(t, task, &metrics)) < 0) {
                srl_json_decref(metrics);
                progress_break(t);
                return rc;
            }
            struct srl_json *el = srl_json_get(metrics, "eval_loss");
            if (el) snprintf(extra, sizeof extra, " eval %.4f", srl_json_number(el));
        }
        rc = srl_dist_agree(log_step(t, epoch, loss, lr, norm, tokens, metrics));
        srl_json_decref(metrics);
        if (rc < 0) return rc;
        progress(t, epoch, loss, lr, norm, extra, evaluated);
        if (t->st.step >= total) break;
        int sig = srl_trainer_signal_agreed();
        bool stop = o->stop_after > 0 && t->st.step - t->start_step >= o->stop_after;
        if (sig || stop || (o->save_every > 0 && t->st.step % o->save_every == 0)) {
            progress_break(t);
            if ((rc = srl_trainer_save(t, o->output, false)) < 0) return rc;
            srl_log_info("step %lld: checkpoint written to %s", (long long)t->st.step,
                         o->output);
            if (sig) {
                srl_log_warning("caught signal %d: a resumable checkpoint of step %lld is in "
                                "%s", sig, (long long)t->st.step, o->output);
                return SRL_TRAIN_INTERRUPTED;
            }
            if (stop) return SRL_TRAIN_STOPPED;
        }
    }
    progress_break(t);
    if ((rc = srl_trainer_save(t, o->output, true)) < 0) return rc;
    return 0;
}
