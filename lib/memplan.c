/* memplan.c -- memory per rank of a training run (see memplan.h). */
#include "memplan.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "config.h"
#include "dist.h"
#include "fileio.h"
#include "model_internal.h"
#include "srl.h"

int srl_model_shape_load(const char *path, int head, struct srl_model **out)
{
    struct stat st;
    struct srl_config cfg;
    bool dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    char *file = dir ? srl_path_join(path, "config.json") : NULL;
    int rc = dir && !file ? SRL_ENOMEM : srl_config_load(dir ? file : path, &cfg);
    free(file);
    if (rc < 0) return rc;
    if (head >= 0) {
        cfg.head = (enum srl_head)head;
        cfg.num_labels = 1;
    }
    return (*out = srl_model_new(&cfg, NULL, &rc)) ? 0 : rc;
}

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
        if (2 * n * f > p->checkpoint) p->checkpoint = 2 * n * f;
    }
    double act = batch > 0 && len > 0 ? (double)srl_model_act_floats(shape, batch, len) * f : 0;
    p->activations += act; /* each model keeps its own arena */
    if (kv_rows > 0 && kv_len > 0) {
        const struct srl_model_layout *ly = shape->layout;
        p->kv_cache += 2.0 * ly->L * kv_rows * (double)kv_len * ly->KVD * f +
                       (double)kv_rows * kv_len * sizeof(int);
    }
}

int srl_ppo_mem_plan(const struct srl_ppo_train_opts *o, struct srl_mem_plan *p)
{
    const char *paths[6] = {o->actor, o->ref_model ? o->ref_model : o->actor, o->reward_model,
                            o->cost_model, o->reward_critic ? o->reward_critic : o->reward_model,
                            o->cost_critic ? o->cost_critic : o->cost_model};
    const int heads[6] = {-1, -1, SRL_HEAD_SCORE, SRL_HEAD_SCORE, SRL_HEAD_SCORE,
                          SRL_HEAD_SCORE};
    const bool trained[6] = {true, false, false, false, true, true};
    int ranks = p->ranks > 0 ? p->ranks : 1;
    int rows = (o->rollout_batch_size * o->num_return_sequences + ranks - 1) / ranks;
    int len = o->max_prompt_length + o->max_new_tokens;
    for (int k = 0; k < 6; k++) {
        struct srl_model *m = NULL;
        int rc = srl_model_shape_load(paths[k], heads[k], &m);
        if (rc < 0) return rc;
        int L = len < m->cfg.max_position_embeddings ? len : m->cfg.max_position_embeddings;
        /* every model's forward over the rank's rows (scoring); generation by the actor */
        srl_mem_plan_add(p, m, trained[k], rows, L, k == 0 ? rows : 0, L);
        srl_model_free(m);
    }
    return 0;
}

double srl_mem_plan_total(const struct srl_mem_plan *p)
{
    return p->params + p->grads + p->moments + p->activations + p->kv_cache + p->checkpoint;
}

void srl_mem_plan_print(FILE *fp, const struct srl_mem_plan *p, const char *what)
{
    const double mib = 1048576.0;
    fprintf(fp, "memory per rank of %s: %d rank%s, ZeRO stage %d\n", what, p->ranks,
            p->ranks == 1 ? "" : "s", p->zero_stage);
    const char *k[] = {"parameters", "gradients", "moments", "activations", "kv_cache",
                       "checkpoint", "total"};
    double v[] = {p->params, p->grads, p->moments, p->activations, p->kv_cache, p->checkpoint,
                  srl_mem_plan_total(p)};
    for (int i = 0; i < 7; i++)
        fprintf(fp, "  %-12s %14.3f MiB\n", k[i], v[i] / mib);
}
