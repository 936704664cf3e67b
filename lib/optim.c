/* optim.c -- AdamW over arenas, gradient clipping, HF LR schedules, optimizer.safetensors. */
#include "optim.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "safetensors.h"
#include "srl.h"

// --- AdamW -----------------------------------------------------------------------------------

void srl_adamw_defaults(struct srl_adamw_hparams *hp)
{
    hp->beta1 = 0.9f;
    hp->beta2 = 0.95f;
    hp->eps = 1e-8f;
    hp->weight_decay = 0.0f;
}

int srl_optim_new(const struct srl_backend *be, size_t n, const struct srl_param_view *views,
                  size_t n_views, const struct srl_adamw_hparams *hp, struct srl_optim **out)
{
    struct srl_optim *o = NULL;
    *out = NULL;
    if (!be || !hp || (n_views && !views)) {
        srl_log_error("optimiser: missing backend, views or hyper-parameters");
        return SRL_EINVAL;
    }
    if (!(hp->beta1 >= 0.0f && hp->beta1 < 1.0f) || !(hp->beta2 >= 0.0f && hp->beta2 < 1.0f) ||
        !(hp->eps >= 0.0f) || !(hp->weight_decay >= 0.0f) || !isfinite(hp->eps) ||
        !isfinite(hp->weight_decay)) {
        srl_log_error("optimiser: invalid AdamW hyper-parameters (betas %g %g, eps %g, "
                      "weight decay %g)", hp->beta1, hp->beta2, hp->eps, hp->weight_decay);
        return SRL_EINVAL;
    }
    for (size_t i = 0; i < n_views; i++) {
        if (views[i].offset > n || views[i].numel > n - views[i].offset) {
            srl_log_error("optimiser: view '%s' [%zu, +%zu) outside the arena of %zu",
                          views[i].name, views[i].offset, views[i].numel, n);
            return SRL_EINVAL;
        }
    }
    if (!(o = calloc(1, sizeof *o)))
        goto nomem;
    o->hp = *hp;
    o->be = be;
    o->n = n;
    o->lo = 0;
    o->hi = n;
    o->n_views = n_views;
    if (n_views && !(o->views = malloc(n_views * sizeof *o->views)))
        goto nomem;
    if (n_views)
        memcpy(o->views, views, n_views * sizeof *views);
    size_t bytes = (n ? n : 1) * sizeof(float);
    if (!(o->m = be->alloc(bytes)) || !(o->v = be->alloc(bytes)))
        goto nomem;
    *out = o;
    return 0;
nomem:
    srl_log_error("optimiser: out of memory for the moments of %zu parameters", n);
    srl_optim_free(o);
    return SRL_ENOMEM;
}

int srl_optim_for_model(const struct srl_model *m, const struct srl_adamw_hparams *hp,
                        struct srl_optim **out)
{
    return srl_optim_new(m->be, m->n_params, m->views, m->n_views, hp, out);
}

void srl_optim_free(struct srl_optim *o)
{
    if (!o)
        return;
    if (o->be) {
        o->be->free(o->m);
        o->be->free(o->v);
    }
    free(o->views);
    free(o);
}

void srl_optim_reset(struct srl_optim *o)
{
    o->be->memset0(o->m, (o->hi - o->lo) * sizeof(float));
    o->be->memset0(o->v, (o->hi - o->lo) * sizeof(float));
    o->step = 0;
}

int srl_optim_shard(struct srl_optim *o)
{
    size_t lo = srl_dist_shard_lo(o->n, srl_dist_rank()),
           hi = srl_dist_shard_lo(o->n, srl_dist_rank() + 1);
    if (lo == o->lo && hi == o->hi) return 0;
    size_t bytes = (hi > lo ? hi - lo : 1) * sizeof(float);
    float *m = o->be->alloc(bytes), *v = m ? o->be->alloc(bytes) : NULL;
    if (!v) {
        o->be->free(m);
        srl_log_error("optimiser: out of memory for a shard of %zu moments", hi - lo);
        return SRL_ENOMEM;
    }
    o->be->free(o->m);
    o->be->free(o->v);
    o->m = m, o->v = v, o->lo = lo, o->hi = hi;
    return 0;
}

size_t srl_optim_state_bytes(const struct srl_optim *o)
{
    return 2 * (o->hi - o->lo) * sizeof(float);
}

size_t srl_optim_use_safe_rlhf_groups(struct srl_optim *o)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n_views; i++) {
        char low[SRL_PARAM_NAME_MAX];
        const char *name = o->views[i].name;
        size_t k = 0;
        for (; name[k] && k + 1 < sizeof low; k++)
            low[k] = (char)tolower((unsigned char)name[k]);
        low[k] = '\0';
        o->views[i].no_decay = strstr(low, "bias") || strstr(low, "layernorm.weight");
        n += o->views[i].no_decay;
    }
    return n;
}

/* g (n) *= s, through the backend's slot when it has one */
static void scale_in_place(const struct srl_backend *be, float *g, float s, size_t n)
{
    if (be->scale) {
        be->scale(g, s, n);
    } else {
        for (size_t i = 0; i < n; i++)
            g[i] *= s;
    }
}

int srl_optim_step_scaled(struct srl_optim *o, float *params, float *grads, float lr,
                          float gscale)
{
    if (!(lr >= 0.0f) || !isfinite(lr)) {
        srl_log_error("optimiser: invalid learning rate %g", lr);
        return SRL_EINVAL;
    }
    o->step++;
    double t = (double)o->step;
    float bc1 = (float)(1.0 - pow((double)o->hp.beta1, t));
    float bc2 = (float)(1.0 - pow((double)o->hp.beta2, t));
    // a backend without AdamW slots works in host memory: the CPU backend's loop
    const struct srl_backend *be = o->be->adamw_step ? o->be : srl_backend_cpu();
    // Runs of adjacent views with the same decay flag go to the backend as one call, cut to
    // the shard [lo, hi) this rank updates (the whole arena without ZeRO).
    size_t i = 0;
    while (i < o->n_views) {
        const struct srl_param_view *a = &o->views[i];
        size_t off = a->offset, len = a->numel, j = i + 1;
        while (j < o->n_views && o->views[j].no_decay == a->no_decay &&
               o->views[j].offset == off + len) {
            len += o->views[j].numel;
            j++;
        }
        size_t s = off > o->lo ? off : o->lo, e = off + len < o->hi ? off + len : o->hi;
        float wd = a->no_decay ? 0.0f : o->hp.weight_decay;
        float *p = params + s, *m = o->m + (s - o->lo), *v = o->v + (s - o->lo);
        if (s >= e) {
        } else if (be->adamw_step_scaled && !o->unfused) { /* one pass, g scaled as read */
            be->adamw_step_scaled(p, grads + s, m, v, e - s, lr, o->hp.beta1, o->hp.beta2,
                                  o->hp.eps, wd, bc1, bc2, gscale);
        } else {
            if (gscale != 1.0f) /* the previous two passes: scale g in place, then step */
                scale_in_place(be, grads + s, gscale, e - s);
            be->adamw_step(p, grads + s, m, v, e - s, lr, o->hp.beta1, o->hp.beta2, o->hp.eps,
                           wd, bc1, bc2);
        }
        i = j;
    }
    return 0;
}

int srl_optim_step(struct srl_optim *o, float *params, const float *grads, float lr)
{
    return srl_optim_step_scaled(o, params, (float *)grads, lr, 1.0f); /* never written */
}

// --- gradient clipping -----------------------------------------------------------------------

double srl_grad_norm(const struct srl_backend *be, const float *g, size_t n)
{
    double s = 0.0;
    if (be->sumsq) {
        s = be->sumsq(g, n);
    } else {
        for (size_t i = 0; i < n; i++)
            s += (double)g[i] * g[i];
    }
    return sqrt(s);
}

float srl_clip_coef(double norm, double max_norm)
{
    if (!isfinite(norm) || max_norm <= 0.0)
        return 1.0f;
    double coef = max_norm / (norm + 1e-6);
    return coef < 1.0 ? (float)coef : 1.0f;
}

double srl_clip_grad_norm(const struct srl_backend *be, float *g, size_t n, double max_norm)
{
    double norm = srl_grad_norm(be, g, n);
    float coef = srl_clip_coef(norm, max_norm);
    if (coef != 1.0f)
        scale_in_place(be, g, coef, n);
    return norm;
}

int srl_optim_clip_step(struct srl_optim *o, float *params, float *grads, double max_norm,
                        float lr, double *norm)
{
    if (o->unfused) { /* the previous path: clip in place, then step */
        *norm = srl_clip_grad_norm(o->be, grads, o->n, max_norm);
        return isfinite(*norm) ? srl_optim_step(o, params, grads, lr) : SRL_ENUMERIC;
    }
    *norm = srl_grad_norm(o->be, grads, o->n);
    if (!isfinite(*norm))
        return SRL_ENUMERIC;
    return srl_optim_step_scaled(o, params, grads, lr, srl_clip_coef(*norm, max_norm));
}

// --- learning-rate schedules -----------------------------------------------------------------

static const char *const lr_names[] = {"constant", "constant_with_warmup", "linear", "cosine"};

double srl_lr_lambda(enum srl_lr_kind kind, int64_t step, int64_t warmup, int64_t total)
{
    const double pi = 3.14159265358979323846;
    if (kind == SRL_LR_CONSTANT)
        return 1.0;
    if (step < warmup)
        return (double)step / (double)(warmup > 1 ? warmup : 1);
    int64_t span = total - warmup > 1 ? total - warmup : 1;
    switch (kind) {
    case SRL_LR_CONSTANT_WARMUP:
        return 1.0;
    case SRL_LR_LINEAR: {
        double f = (double)(total - step) / (double)span;
        return f > 0.0 ? f : 0.0;
    }
    case SRL_LR_COSINE: {
        // num_cycles 0.5: 0.5 * (1 + cos(pi * 0.5 * 2 * progress)); no clamp of progress
        double progress = (double)(step - warmup) / (double)span;
        double f = 0.5 * (1.0 + cos(pi * 0.5 * 2.0 * progress));
        return f > 0.0 ? f : 0.0;
    }
    default:
        return 1.0;
    }
}

double srl_lr_at(const struct srl_lr_schedule *s, int64_t step)
{
    return s->peak_lr * srl_lr_lambda(s->kind, step, s->warmup_steps, s->total_steps);
}

int srl_lr_kind_parse(const char *name, enum srl_lr_kind *kind)
{
    for (size_t i = 0; i < sizeof lr_names / sizeof lr_names[0]; i++) {
        if (strcmp(name, lr_names[i]) == 0) {
            *kind = (enum srl_lr_kind)i;
            return 0;
        }
    }
    return SRL_EINVAL;
}

const char *srl_lr_kind_name(enum srl_lr_kind kind)
{
    if ((unsigned)kind < sizeof lr_names / sizeof lr_names[0])
        return lr_names[kind];
    return "unknown";
}

// --- state files -----------------------------------------------------------------------------

/* host (2n, rank 0) := both moments of the whole arena, from the shards when sharded. */
static int gather_moments(const struct srl_optim *o, float *host)
{
    size_t len = o->hi - o->lo;
    if (len == o->n)
        return host ? (o->be->download(host, o->m, len * sizeof(float)) < 0 ||
                       o->be->download(host + o->n, o->v, len * sizeof(float)) < 0
                           ? SRL_EIO : 0)
                    : 0;
    float *mine = malloc(2 * (len ? len : 1) * sizeof(float));
    int rc = mine ? 0 : SRL_ENOMEM;
    if (rc == 0 && (o->be->download(mine, o->m, len * sizeof(float)) < 0 ||
                    o->be->download(mine + len, o->v, len * sizeof(float)) < 0))
        rc = SRL_EIO;
    /* every rank takes part, also after a local failure (the others would wait) */
    int rc2 = srl_dist_gather_shards(mine, host, o->n);
    int rc3 = srl_dist_gather_shards(mine + len, host ? host + o->n : NULL, o->n);
    free(mine);
    return rc < 0 ? rc : rc2 < 0 ? rc2 : rc3;
}

int srl_optim_save(const struct srl_optim *o, const char *path)
{
    int rc = SRL_ENOMEM;
    size_t nv = o->n_views;
    if (!path) /* another rank's part of a rank-0 save */
        return o->hi - o->lo == o->n ? 0 : gather_moments(o, NULL);
    float *host = malloc(2 * (o->n ? o->n : 1) * sizeof(float));
    struct srl_st_entry *e = calloc(2 * (nv ? nv : 1), sizeof *e);
    char *names = malloc(2 * (nv ? nv : 1) * (SRL_PARAM_NAME_MAX + 16));
    if (!host || !e || !names) {
        srl_log_error("%s: out of memory", path);
        if (o->hi - o->lo != o->n) gather_moments(o, NULL); /* the other ranks wait for it */
        goto out;
    }
    if ((rc = gather_moments(o, host)) < 0) {
        srl_log_error("%s: cannot read the optimiser moments from the device", path);
        goto out;
    }
    for (size_t i = 0; i < nv; i++) {
        const struct srl_param_view *w = &o->views[i];
        for (int k = 0; k < 2; k++) {
            struct srl_st_entry *t = &e[2 * i + k];
            char *name = names + (2 * i + k) * (SRL_PARAM_NAME_MAX + 16);
            snprintf(name, SRL_PARAM_NAME_MAX + 16, "%s.%s", w->name,
                     k ? "exp_avg_sq" : "exp_avg");
            t->name = name;
            t->ndim = w->ndim;
            for (int d = 0; d < w->ndim && d < SRL_ST_MAX_DIMS; d++)
                t->shape[d] = w->shape[d];
            t->data = host + (k ? o->n : 0) + w->offset;
        }
    }
    char meta[512];
    snprintf(meta, sizeof meta,
             "{\"format\": \"pt\", \"optimizer\": \"adamw\", \"step\": \"%" PRId64 "\", "
             "\"beta1\": \"%.9g\", \"beta2\": \"%.9g\", \"eps\": \"%.9g\", "
             "\"weight_decay\": \"%.9g\"}",
             o->step, o->hp.beta1, o->hp.beta2, o->hp.eps, o->hp.weight_decay);
    rc = srl_st_write(path, e, 2 * nv, SRL_DTYPE_F32, meta);
out:
    free(names);
    free(e);
    free(host);
    return rc;
}

/* The "step" entry of a safetensors file's __metadata__ (the reader does not expose it). */
static int read_step(const char *path, int64_t *step)
{
    FILE *fp = fopen(path, "rb");
    unsigned char len8[8];
    char *hdr = NULL;
    json_t *root = NULL;
    int rc = SRL_EFORMAT;
    if (!fp) {
        srl_log_error("%s: %s", path, strerror(errno));
        return SRL_EIO;
    }
    if (fread(len8, 1, 8, fp) != 8)
        goto bad;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--)
        len = (len << 8) | len8[i];
    if (len == 0 || len > (100u << 20) || !(hdr = malloc(len)))
        goto bad;
    if (fread(hdr, 1, len, fp) != len)
        goto bad;
    json_error_t jerr;
    root = json_loadb(hdr, len, 0, &jerr);
    json_t *meta = root ? json_object_get(root, "__metadata__") : NULL;
    const char *s = json_string_value(json_object_get(meta, "step"));
    char *end;
    long long v = s ? strtoll(s, &end, 10) : -1;
    if (!s || *end || end == s || v < 0) {
        srl_log_error("%s: no valid \"step\" in the metadata (not an optimiser state file?)",
                      path);
        goto out;
    }
    *step = v;
    rc = 0;
    goto out;
bad:
    srl_log_error("%s: not a safetensors file (bad header)", path);
out:
    json_decref(root);
    free(hdr);
    fclose(fp);
    return rc;
}

int srl_optim_load(struct srl_optim *o, const char *path)
{
    int err = 0, rc;
    int64_t step;
    float *host = NULL;
    struct srl_st_file *f = srl_st_open(path, &err);
    if (!f)
        return err ? err : SRL_EIO;
    if ((rc = read_step(path, &step)) < 0)
        goto out;
    if (!(host = calloc(2 * (o->n ? o->n : 1), sizeof(float)))) {
        srl_log_error("%s: out of memory", path);
        rc = SRL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < o->n_views; i++) {
        const struct srl_param_view *w = &o->views[i];
        for (int k = 0; k < 2; k++) {
            char name[SRL_PARAM_NAME_MAX + 16];
            snprintf(name, sizeof name, "%s.%s", w->name, k ? "exp_avg_sq" : "exp_avg");
            const struct srl_st_tensor *t = srl_st_find(f, name);
            if (!t) {
                srl_log_error("%s: tensor %s is missing", path, name);
                rc = SRL_EFORMAT;
                goto out;
            }
            if (t->numel != w->numel) {
                srl_log_error("%s: tensor %s has %zu elements, the model's %s has %zu", path,
                              name, t->numel, w->name, w->numel);
                rc = SRL_EFORMAT;
                goto out;
            }
            if ((rc = srl_st_to_f32(t, host + (k ? o->n : 0) + w->offset)) < 0)
                goto out;
        }
    }
    size_t len = o->hi - o->lo;
    if ((rc = o->be->upload(o->m, host + o->lo, len * sizeof(float))) < 0 ||
        (rc = o->be->upload(o->v, host + o->n + o->lo, len * sizeof(float))) < 0) {
        srl_log_error("%s: cannot copy the optimiser moments to the device", path);
        goto out;
    }
    o->step = step;
    rc = 0;
out:
    free(host);
    srl_st_close(f);
    return rc;
}
