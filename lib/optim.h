/* optim.h -- AdamW over parameter arenas, global-norm gradient clipping, HF learning-rate
 * schedules, and optimiser state files.
 *
 * AdamW is torch.optim.AdamW: at step t (1-based), for every element
 *     p -= lr * wd * p                                   (decoupled decay, decay ranges only)
 *     m  = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
 *     p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)
 * The moments m and v are one arena each, the same size and layout as the model's parameter
 * arena, on the same backend; the per-element loop is the backend's adamw_step_scaled slot
 * (adamw_step where a backend has no fused one).  Weight
 * decay is applied to the views not flagged no_decay (norms and biases are flagged by the
 * model).
 *
 * A training step (one process; the trainers call srl_optim_dist_step, which does the same):
 *     float lr = srl_lr_at(&sched, opt->step);           // HF LambdaLR value for this step
 *     double norm;
 *     srl_optim_clip_step(opt, m->params, m->grads, 1.0, lr, &norm);
 * which is clip_grad_norm_ then optimizer.step(), in two sweeps over memory: the global norm,
 * then one AdamW pass reading the gradient scaled by the clipping factor (the backend's
 * adamw_step_scaled slot) -- bitwise the same parameters and moments as scaling the gradients
 * in place first and stepping (the previous three passes, kept behind o->unfused).
 */
#ifndef SRL_OPTIM_H
#define SRL_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "model.h"

// --- AdamW -----------------------------------------------------------------------------------

struct srl_adamw_hparams {
    float beta1;        /* [0.9] */
    float beta2;        /* [0.95], Safe RLHF's value (torch's default is 0.999) */
    float eps;          /* [1e-8] */
    float weight_decay; /* [0.0]; applied to views without no_decay */
};

/* Fill *hp with the defaults above. */
void srl_adamw_defaults(struct srl_adamw_hparams *hp);

struct srl_optim {
    struct srl_adamw_hparams hp;
    const struct srl_backend *be;
    size_t n;                     /* arena size in floats */
    size_t lo, hi;                /* the part of the arena whose moments this rank holds:
                                   * [0, n), or its ZeRO-1 shard (srl_optim_shard) */
    float *m, *v;                 /* (hi - lo) first and second moments, on be */
    int64_t step;                 /* completed steps (torch's state["step"]) */
    struct srl_param_view *views; /* own copy of the model's view table */
    size_t n_views;
    bool unfused;                 /* [false] true: clip by scaling the gradients in place, then
                                   * step, with the backend's reference AdamW loop (the previous
                                   * implementation: bench_train's baseline) */
};

/* A new optimiser for an arena of n floats described by views (offsets and numel inside
 * [0, n); names are used by the state files), moments zero and step 0.  Returns 0 and *out
 * (free with srl_optim_free()) or SRL_EINVAL / SRL_ENOMEM. */
int srl_optim_new(const struct srl_backend *be, size_t n, const struct srl_param_view *views,
                  size_t n_views, const struct srl_adamw_hparams *hp, struct srl_optim **out);
/* The same for a model's parameter arena and views. */
int srl_optim_for_model(const struct srl_model *m, const struct srl_adamw_hparams *hp,
                        struct srl_optim **out);
void srl_optim_free(struct srl_optim *o); /* NULL is a no-op */

/* ZeRO-1: keep only this rank's shard of the moments (lib/dist.h's shards), so the optimiser
 * state per rank falls by the rank count.  Call before srl_optim_load; the moments are zero.
 * With one rank nothing changes.  Returns 0 or SRL_ENOMEM. */
int srl_optim_shard(struct srl_optim *o);
/* Bytes of optimiser state this rank holds (both moments). */
size_t srl_optim_state_bytes(const struct srl_optim *o);

/* The data-parallel step every trainer takes after its backward passes.  grads (n) hold this
 * rank's gradient sum; they are summed over the ranks (all-reduce, or with a sharded o a
 * reduce-scatter into the shard), multiplied by scale, clipped to max_norm by the global L2
 * norm (returned in *norm; <= 0: measured only; the factor folded into the AdamW pass as in
 * srl_optim_clip_step, grads left unclipped), then one AdamW step with lr; a sharded o
 * all-gathers the updated parameters.  One rank: scale, clip and step exactly as before.
 * A non-finite norm returns SRL_ENUMERIC on every rank, nothing updated. */
int srl_optim_dist_step(struct srl_optim *o, float *params, float *grads, float scale,
                        double max_norm, float lr, double *norm);
/* The same step for grads already summed over the ranks (an unsharded o; the all-reduce was
 * overlapped with the backward: srl_dist_overlap_end in lib/dist.h). */
int srl_optim_summed_step(struct srl_optim *o, float *params, float *grads, float scale,
                          double max_norm, float lr, double *norm);

/* Replace the views' no_decay flags by Safe RLHF's grouping (safe_rlhf/utils.py
 * get_optimizer_grouped_parameters): no decay iff the lower-cased name contains "bias" or
 * "layernorm.weight".  Unlike the model's flags this DECAYS Llama's final model.norm.weight and
 * GPT-2's ln_1/ln_2/ln_f weights.  Returns the number of no-decay views. */
size_t srl_optim_use_safe_rlhf_groups(struct srl_optim *o);

/* One AdamW step with learning rate lr on params (n) given grads (n), both on o->be; increments
 * o->step first, as torch does.  Returns 0, or SRL_EINVAL for a negative or non-finite lr. */
int srl_optim_step(struct srl_optim *o, float *params, const float *grads, float lr);

/* The same step on the gradient grads * gscale (the clipping factor folded into the update):
 * the CPU backend reads grads scaled and leaves them as they are; a backend without the fused
 * slot (or an unfused o) scales grads in place first.  Either way the same bits. */
int srl_optim_step_scaled(struct srl_optim *o, float *params, float *grads, float lr,
                          float gscale);

/* torch.nn.utils.clip_grad_norm_ and one AdamW step: the global norm of grads (n) into *norm,
 * then the step on grads * srl_clip_coef(*norm, max_norm) (max_norm <= 0: no clipping).  A
 * non-finite norm returns SRL_ENUMERIC with nothing updated.  Returns 0 or SRL_E*. */
int srl_optim_clip_step(struct srl_optim *o, float *params, float *grads, double max_norm,
                        float lr, double *norm);

/* Forget the moments and the step count. */
void srl_optim_reset(struct srl_optim *o);

// --- gradient clipping -----------------------------------------------------------------------

/* The global L2 norm of g (n, on be), summed in double in a fixed order (deterministic). */
double srl_grad_norm(const struct srl_backend *be, const float *g, size_t n);

/* The factor clip_grad_norm_ scales the gradients by: min(1, max_norm / (norm + 1e-6)) in
 * float, 1 when max_norm <= 0 or the norm is not finite. */
float srl_clip_coef(double norm, double max_norm);

/* torch.nn.utils.clip_grad_norm_: scale g by min(1, max_norm / (norm + 1e-6)) and return the
 * norm before clipping.  A non-finite norm is returned without touching g (the caller decides:
 * the tools stop with SRL_EXIT_NUMERIC).  max_norm <= 0 only measures. */
double srl_clip_grad_norm(const struct srl_backend *be, float *g, size_t n, double max_norm);

// --- learning-rate schedules (transformers.get_scheduler) ------------------------------------

enum srl_lr_kind {
    SRL_LR_CONSTANT = 0,        /* "constant": always 1 (warm-up ignored) */
    SRL_LR_CONSTANT_WARMUP = 1, /* "constant_with_warmup" */
    SRL_LR_LINEAR = 2,          /* "linear": warm-up, then linear decay to 0 at total */
    SRL_LR_COSINE = 3,          /* "cosine": warm-up, then half a cosine to 0 at total */
};

struct srl_lr_schedule {
    enum srl_lr_kind kind;
    double peak_lr;
    int64_t warmup_steps;
    int64_t total_steps;
};

/* The multiplier HF's LambdaLR applies at optimiser step `step` (0-based: the lr used by the
 * (step+1)-th optimizer.step()), exactly as transformers computes it, quirks included (cosine
 * rises again past total_steps, as HF's does). */
double srl_lr_lambda(enum srl_lr_kind kind, int64_t step, int64_t warmup, int64_t total);
/* peak_lr * srl_lr_lambda(...) */
double srl_lr_at(const struct srl_lr_schedule *s, int64_t step);

/* "constant", "constant_with_warmup", "linear", "cosine" <-> kind.  Parse returns 0 or
 * SRL_EINVAL (nothing logged); name returns "unknown" for a bad value. */
int srl_lr_kind_parse(const char *name, enum srl_lr_kind *kind);
const char *srl_lr_kind_name(enum srl_lr_kind kind);

// --- state files -----------------------------------------------------------------------------

/* Write the moments to PATH (optimizer.safetensors), atomically (a sharded o gathers the shards
 * to rank 0 first: then every rank calls it, and only rank 0's path is used; NULL elsewhere):
 * tensors "<name>.exp_avg" and "<name>.exp_avg_sq" (F32, the view's shape) for every view,
 * metadata {"format": "pt", "optimizer": "adamw", "step": "N", "beta1", "beta2", "eps", "weight_decay"}.
 * Returns 0 or SRL_E*. */
int srl_optim_save(const struct srl_optim *o, const char *path);

/* Read a file written by srl_optim_save() into o (a sharded o keeps its shard: a run can resume
 * with another rank count): every view's moments must be present with
 * the view's element count (the error names what is missing).  Sets o->step from the metadata;
 * hyper-parameters stay as configured.  On failure o is unchanged.  Returns 0 or SRL_E*. */
int srl_optim_load(struct srl_optim *o, const char *path);

#endif
