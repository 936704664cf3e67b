/* memplan.c -- memory per rank of a training run (see memplan.h). */
#include "memplan.h"

#include "dist.h"
#include "model_internal.h"

void srl_mem_plan_add(struct srl_mem_plan *p, const struct srl_model *shape, bool trained,
                      int batch, int len, int kv_rows, int kv_len)
{
    double n = (double)shape->n_params, f = sizeof(float);
    p->params += n * f;
    if (trained) {
        p->grads += n * f;
        double part = (double)shape->n_params;
        if (p->zero_stage >= 1 && p->ranks > 1) { /* the largest shard */
            part = 0;
            for (int r = 0; r < p->ranks; r++) {
                double s = (double)(srl_dist_part_lo(shape->n_params, r + 1, p->ranks) -
                                    srl_dist_part_lo(shape->n_params, r, p->ranks));
                part = s > part ? s : part;
            }
        }
        p->moments += 2 * part * f;
    }
    double act = batch > 0 && len > 0 ? (double)srl_model_act_floats(shape, batch, len) * f : 0;
    if (act > p->activations) p->activations = act; /* models run one after another */
    if (kv_rows > 0 && kv_len > 0) {
        const struct srl_model_layout *ly = shape->layout;
        p->kv_cache += 2.0 * ly->L * kv_rows * (double)kv_len * ly->KVD * f +
                       (double)kv_rows * kv_len * sizeof(int);
    }
}

double srl_mem_plan_total(const struct srl_mem_plan *p)
{
    return p->params + p->grads + p->moments + p->activations + p->kv_cache;
}

void srl_mem_plan_print(FILE *fp, const struct srl_mem_plan *p, const char *what)
{
    const double mib = 1048576.0;
    fprintf(fp, "memory per rank of %s: %d rank%s, ZeRO stage %d\n", what, p->ranks,
            p->ranks == 1 ? "" : "s", p->zero_stage);
    const char *k[] = {"parameters", "gradients", "moments", "activations", "kv_cache", "total"};
    double v[] = {p->params, p->grads, p->moments, p->activations, p->kv_cache,
                  srl_mem_plan_total(p)};
    for (int i = 0; i < 6; i++)
        fprintf(fp, "  %-12s %12.1f MiB\n", k[i], v[i] / mib);
}
