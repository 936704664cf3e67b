/* model_io.c -- load and save a model as an HF checkpoint directory (config.json +
 * model.safetensors), tensor by tensor through the named views of the parameter arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "model.h"
#include "safetensors.h"
#include "srl.h"

/* HF buffers and aliases that are not parameters of our model. */
static bool ignorable(const char *name)
{
    size_t n = strlen(name);
    static const char *suffix[] = { "rotary_emb.inv_freq", ".attn.bias", ".attn.masked_bias" };
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        size_t k = strlen(suffix[i]);
        if (n >= k && !strcmp(name + n - k, suffix[i]))
            return true;
    }
    return false;
}

/* The file's tensor for a view: its own name, or for GPT-2 the name without "transformer."
 * (the original OpenAI checkpoints on the Hub are stored that way). */
static const struct srl_st_tensor *find_tensor(const struct srl_st_set *s, const char *name)
{
    const struct srl_st_tensor *t = srl_st_set_find(s, name);
    if (!t && !strncmp(name, "transformer.", 12))
        t = srl_st_set_find(s, name + 12);
    return t;
}

static bool known_name(const struct srl_model *m, const char *name)
{
    if (srl_model_find(m, name))
        return true;
    char buf[SRL_PARAM_NAME_MAX + 16];
    snprintf(buf, sizeof buf, "transformer.%s", name);
    if (m->cfg.arch == SRL_ARCH_GPT2 && srl_model_find(m, buf))
        return true;
    // a tied checkpoint may still carry the alias; a score model started from an LM drops it
    return (m->cfg.tie_word_embeddings || m->cfg.head == SRL_HEAD_SCORE) &&
           !strcmp(name, "lm_head.weight");
}

int srl_model_load_weights(struct srl_model *m, const char *dir, unsigned flags)
{
    int err = 0;
    struct srl_st_set *set = srl_st_set_open(dir, &err);
    if (!set)
        return err ? err : SRL_EIO;
    bool host = !strcmp(m->be->name, "cpu");
    float *tmp = NULL;
    int rc = 0;
    for (size_t i = 0; i < m->n_views; i++) {
        const struct srl_param_view *v = &m->views[i];
        const struct srl_st_tensor *t = find_tensor(set, v->name);
        if (!t) {
            if ((flags & SRL_LOAD_ALLOW_MISSING_HEAD) && !strcmp(v->name, "score.weight")) {
                srl_log_info("%s: no score.weight: keeping its initial values", dir);
                continue;
            }
            srl_log_error("%s: missing tensor %s", dir, v->name);
            rc = SRL_EFORMAT;
            goto out;
        }
        bool same = t->ndim == v->ndim && t->numel == v->numel;
        for (int d = 0; same && d < v->ndim; d++)
            same = t->shape[d] == v->shape[d];
        if (!same) {
            char want[64], got[64];
            snprintf(want, sizeof want, "(%lld%s%lld)", (long long)v->shape[0],
                     v->ndim > 1 ? "," : "", v->ndim > 1 ? (long long)v->shape[1] : 0LL);
            if (v->ndim == 1)
                snprintf(want, sizeof want, "(%lld)", (long long)v->shape[0]);
            int k = snprintf(got, sizeof got, "(");
            for (int d = 0; d < t->ndim && k < (int)sizeof got - 24; d++)
                k += snprintf(got + k, sizeof got - k, "%s%lld", d ? "," : "",
                              (long long)t->shape[d]);
            snprintf(got + k, sizeof got - k, ")");
            srl_log_error("%s: tensor %s has shape %s, the config needs %s", dir, v->name, got,
                          want);
            rc = SRL_EFORMAT;
            goto out;
        }
        if (t->dtype != SRL_DTYPE_F32 && t->dtype != SRL_DTYPE_BF16 &&
            t->dtype != SRL_DTYPE_F16 && t->dtype != SRL_DTYPE_F64) {
            srl_log_error("%s: tensor %s is stored as %s, not as a floating-point type", dir,
                          v->name, srl_dtype_name(t->dtype));
            rc = SRL_EFORMAT;
            goto out;
        }
        float *dst = m->params + v->offset;
        if (!host) {
            free(tmp);
            tmp = malloc(sizeof(float) * v->numel);
            if (!tmp) {
                rc = SRL_ENOMEM;
                goto out;
            }
            dst = tmp;
        }
        if ((rc = srl_st_to_f32(t, dst)) < 0)
            goto out;
        if (!host && (rc = m->be->upload(m->params + v->offset, tmp, sizeof(float) * v->numel)))
            goto out;
    }
    for (size_t i = 0; i < srl_st_set_count(set); i++) {
        const char *name = srl_st_set_get(set, i)->name;
        if (known_name(m, name) || ignorable(name))
            continue;
        if (flags & SRL_LOAD_ALLOW_EXTRA) {
            srl_log_warning("%s: ignoring unexpected tensor %s", dir, name);
            continue;
        }
        srl_log_error("%s: unexpected tensor %s (config.json describes no such weight; "
                      "--allow-extra-tensors ignores it)", dir, name);
        rc = SRL_EFORMAT;
        goto out;
    }
out:
    free(tmp);
    srl_st_set_close(set);
    return rc;
}

int srl_model_load(const char *dir, const struct srl_backend *be, struct srl_model **out)
{
    return srl_model_load_flags(dir, be, 0, out);
}

int srl_model_load_flags(const char *dir, const struct srl_backend *be, unsigned flags,
                         struct srl_model **out)
{
    struct srl_config cfg;
    *out = NULL;
    char *path = srl_path_join(dir, "config.json");
    if (!path)
        return SRL_ENOMEM;
    int rc = srl_config_load(path, &cfg);
    free(path);
    if (rc < 0)
        return rc;
    struct srl_model *m = srl_model_new(&cfg, be, &rc);
    if (!m)
        return rc;
    if ((rc = srl_model_load_weights(m, dir, flags)) < 0) {
        srl_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int srl_model_save(const struct srl_model *m, const char *dir, enum srl_dtype dtype)
{
    int rc = 0;
    bool host = !strcmp(m->be->name, "cpu");
    float *hbuf = NULL;
    struct srl_st_entry *e = calloc(m->n_views, sizeof *e);
    char *cpath = srl_path_join(dir, "config.json");
    char *wpath = srl_path_join(dir, "model.safetensors");
    if (!e || !cpath || !wpath) {
        rc = SRL_ENOMEM;
        goto out;
    }
    const float *base = m->params;
    if (!host) {
        if (!(hbuf = malloc(sizeof(float) * m->n_params))) {
            rc = SRL_ENOMEM;
            goto out;
        }
        if ((rc = m->be->download(hbuf, m->params, sizeof(float) * m->n_params)) < 0)
            goto out;
        base = hbuf;
    }
    for (size_t i = 0; i < m->n_views; i++) {
        const struct srl_param_view *v = &m->views[i];
        e[i].name = v->name;
        e[i].ndim = v->ndim;
        for (int d = 0; d < v->ndim; d++)
            e[i].shape[d] = v->shape[d];
        e[i].data = base + v->offset;
    }
    struct srl_config cfg = m->cfg;
    cfg.dtype = dtype;
    if ((rc = srl_config_save(&cfg, cpath)) < 0)
        goto out;
    rc = srl_st_write(wpath, e, m->n_views, dtype, "{\"format\":\"pt\"}");
out:
    if (rc == SRL_ENOMEM)
        srl_log_error("out of memory saving the model to %s", dir);
    free(e);
    free(cpath);
    free(wpath);
    free(hbuf);
    return rc;
}
