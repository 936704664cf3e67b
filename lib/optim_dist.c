/* optim_dist.c -- the optimiser step of data-parallel training: gradient collectives, global
 * clipping, AdamW on this rank's part, parameters gathered back (see srl_optim_dist_step in
 * optim.h). */
#include <math.h>

#include "dist.h"
#include "optim.h"
#include "srl.h"

/* The step after the collective: grads summed (this rank's shard of them when sharded). */
static int summed_step(struct srl_optim *o, float *params, float *grads, float scale,
                       double max_norm, float lr, double *norm)
{
    const struct srl_backend *be = o->be;
    bool sharded = o->hi - o->lo != o->n;
    size_t lo = o->lo, len = o->hi - o->lo;
    int rc;
    if (scale != 1.0f) be->scale(grads + lo, scale, len);
    if (!sharded) {
        *norm = srl_grad_norm(be, grads, o->n);
    } else { /* the global norm from every shard's sum of squares */
        double ss = srl_grad_norm(be, grads + lo, len);
        ss *= ss;
        if ((rc = srl_dist_allreduce_f64(&ss, 1)) < 0) return rc;
        *norm = sqrt(ss);
    }
    if (!isfinite(*norm)) return SRL_ENUMERIC;
    /* the clipping factor folded into the AdamW pass */
    if ((rc = srl_optim_step_scaled(o, params, grads, lr, srl_clip_coef(*norm, max_norm))) < 0)
        return rc;
    return sharded ? srl_dist_agree(srl_dist_allgather(be, params, o->n)) : 0;
}

int srl_optim_dist_step(struct srl_optim *o, float *params, float *grads, float scale,
                        double max_norm, float lr, double *norm)
{
    int rc = o->hi - o->lo != o->n ? srl_dist_reduce_scatter_sum(o->be, grads, o->n)
                                   : srl_dist_allreduce_sum(o->be, grads, o->n);
    if ((rc = srl_dist_agree(rc)) < 0) return rc;
    return summed_step(o, params, grads, scale, max_norm, lr, norm);
}

int srl_optim_summed_step(struct srl_optim *o, float *params, float *grads, float scale,
                          double max_norm, float lr, double *norm)
{
    if (o->hi - o->lo != o->n) {
        srl_log_error("srl_optim_summed_step: a sharded optimiser needs the reduce-scatter");
        return SRL_EINVAL;
    }
    return summed_step(o, params, grads, scale, max_norm, lr, norm);
}
