/* test_model_ref.c -- the transformer and the optimiser against PyTorch/transformers.
 *
 * Each tests/ref/<model>/ directory (scripts/make_reference.py) is a real HF checkpoint plus
 * ref.safetensors: a batch (input_ids, targets, loss_mask), the float64 logits, loss and
 * gradients at the stored weights, and the parameters after a few training steps (masked
 * token-mean cross-entropy, clip_grad_norm_, AdamW with decay on the decay views only, an HF
 * cosine schedule).  We load the directory through srl_model_load(), repeat the computation
 * and compare every tensor; errors are printed per tensor group (max abs / max rel) next to
 * torch's own float32 error against the same reference (ref.json). */
#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>

#include "backend.h"
#include "model.h"
#include "optim.h"
#include "safetensors.h"
#include "srl.h"
#include "test.h"

#define REF_DIR "tests/ref"

// --- per-group error accounting ---------------------------------------------------------------

enum group { G_EMBED, G_ATTN, G_MLP, G_NORM, G_HEAD, N_GROUPS };
static const char *const group_names[N_GROUPS] = {"embeddings", "attention", "mlp", "norms",
                                                  "lm_head"};

static enum group group_of(const char *name)
{
    if (strstr(name, "lm_head"))
        return G_HEAD;
    if (strstr(name, "norm") || strstr(name, ".ln_"))
        return G_NORM;
    if (strstr(name, "attn"))
        return G_ATTN;
    if (strstr(name, "mlp"))
        return G_MLP;
    return G_EMBED;
}

struct errs {
    double max_abs[N_GROUPS], max_rel[N_GROUPS]; /* rel: |a-b| / max|b| of the tensor */
    size_t n[N_GROUPS], bad[N_GROUPS];
};

/* Compare a tensor with its reference: |a-b| <= atol*scale + rtol*|b| where scale = max|b|
 * (gradients and updates are judged relative to their tensor's magnitude).  flat (optional,
 * same length) marks elements whose tolerance is loose_atol instead.  Returns mismatches. */
static size_t compare(struct errs *e, const char *name, const float *a, const float *b,
                      size_t n, double atol, double rtol, const unsigned char *flat,
                      double loose_atol)
{
    enum group g = group_of(name);
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(b[i]));
    if (scale == 0.0)
        scale = 1.0;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double tol = flat && flat[i] ? loose_atol : atol * scale + rtol * fabs(b[i]);
        if (!(d <= tol)) {
            if (!bad)
                first = i;
            bad++;
        }
        if (flat && flat[i])
            continue; /* reported separately: they only bound the noise */
        if (d > e->max_abs[g])
            e->max_abs[g] = d;
        if (d / scale > e->max_rel[g])
            e->max_rel[g] = d / scale;
    }
    e->n[g] += n;
    e->bad[g] += bad;
    if (bad)
        printf("  %s: %zu of %zu differ, first at [%zu]: %.8g vs %.8g (scale %.3g)\n", name, bad,
               n, first, (double)a[first], (double)b[first], scale);
    return bad;
}

static void print_errs(const char *what, const struct errs *e)
{
    for (int g = 0; g < N_GROUPS; g++) {
        if (!e->n[g])
            continue;
        printf("  %-7s %-11s n=%-7zu max_abs=%.3e max_rel=%.3e%s\n", what, group_names[g], e->n[g],
               e->max_abs[g], e->max_rel[g], e->bad[g] ? "  MISMATCH" : "");
        if (e->bad[g])
            test_failed_now = 1;
    }
}

// --- fixture access ---------------------------------------------------------------------------

struct fixture {
    char dir[256];
    json_t *meta;
    struct srl_st_file *ref;
    int B, T;
    int32_t *tokens, *targets;
    float *mask;
};

static void fixture_close(struct fixture *f)
{
    json_decref(f->meta);
    srl_st_close(f->ref);
    free(f->tokens);
    free(f->targets);
    free(f->mask);
    memset(f, 0, sizeof *f);
}

/* A new fp32 copy of reference tensor name (numel checked when want_n > 0); NULL if absent. */
static float *ref_tensor(const struct fixture *f, const char *name, size_t want_n)
{
    const struct srl_st_tensor *t = srl_st_find(f->ref, name);
    if (!t || (want_n && t->numel != want_n)) {
        printf("  %s: reference tensor %s %s\n", f->dir, name, t ? "has the wrong size" :
               "is missing");
        return NULL;
    }
    float *x = malloc(t->numel * sizeof *x);
    if (x && srl_st_to_f32(t, x) < 0) {
        free(x);
        return NULL;
    }
    return x;
}

static int fixture_open(struct fixture *f, const char *name)
{
    char path[512];
    json_error_t jerr;
    int err = 0;
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s/%s", REF_DIR, name);
    snprintf(path, sizeof path, "%s/ref.json", f->dir);
    if (!(f->meta = json_load_file(path, 0, &jerr))) {
        printf("  %s: %s\n", path, jerr.text);
        return -1;
    }
    snprintf(path, sizeof path, "%s/ref.safetensors", f->dir);
    if (!(f->ref = srl_st_open(path, &err)))
        return -1;
    f->B = (int)json_integer_value(json_object_get(f->meta, "B"));
    f->T = (int)json_integer_value(json_object_get(f->meta, "T"));
    size_t N = (size_t)f->B * f->T;
    float *ids = ref_tensor(f, "input_ids", N), *tg = ref_tensor(f, "targets", N);
    f->mask = ref_tensor(f, "loss_mask", N);
    f->tokens = malloc(N * sizeof(int32_t));
    f->targets = malloc(N * sizeof(int32_t));
    int ok = ids && tg && f->mask && f->tokens && f->targets;
    for (size_t i = 0; ok && i < N; i++) {
        f->tokens[i] = (int32_t)ids[i];
        f->targets[i] = (int32_t)tg[i];
    }
    free(ids);
    free(tg);
    return ok ? 0 : -1;
}

static double meta_num(const struct fixture *f, const char *key)
{
    return json_number_value(json_object_get(f->meta, key));
}

static double meta_at(const struct fixture *f, const char *key, size_t i)
{
    return json_number_value(json_array_get(json_object_get(f->meta, key), i));
}

// --- the checks -------------------------------------------------------------------------------

/* The model's views are exactly the HF parameters, with the reference's no-decay split. */
static void check_views(const struct fixture *f, const struct srl_model *m)
{
    json_t *params = json_object_get(f->meta, "params"), *nd = json_object_get(f->meta,
                                                                               "no_decay");
    EXPECT(m->n_views == json_array_size(params), "%s: %zu views, reference has %zu", f->dir,
           m->n_views, json_array_size(params));
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p) {
        const char *name = json_string_value(p);
        const struct srl_param_view *v = srl_model_find(m, name);
        EXPECT(v != NULL, "%s: no view %s", f->dir, name);
        if (!v)
            continue;
        bool want_nd = false;
        size_t k;
        json_t *q;
        json_array_foreach(nd, k, q) want_nd |= strcmp(json_string_value(q), name) == 0;
        EXPECT(v->no_decay == want_nd, "%s: %s no_decay %d", f->dir, name, v->no_decay);
    }
}

/* Forward, loss and backward at the stored weights. */
static void check_forward_backward(const struct fixture *f, struct srl_model *m)
{
    size_t N = (size_t)f->B * f->T, V = (size_t)m->cfg.vocab_size;
    float loss = 0.0f;
    REQUIRE(srl_model_zero_grad(m) == 0);
    REQUIRE(srl_model_forward(m, f->tokens, NULL, f->B, f->T) == 0);
    float *want = ref_tensor(f, "logits", N * V);
    REQUIRE(want);
    char what[300];
    snprintf(what, sizeof what, "%s logits", f->dir);
    test_close(what, m->logits, want, N * V, 1e-5f, 1e-4f);
    free(want);
    REQUIRE(srl_model_loss(m, f->targets, f->mask, &loss) == 0);
    REQUIRE((want = ref_tensor(f, "loss", 1)));
    snprintf(what, sizeof what, "%s loss", f->dir);
    test_close(what, &loss, want, 1, 1e-6f, 1e-5f);
    free(want);
    REQUIRE(srl_model_backward(m) == 0);
    struct errs e = {0};
    for (size_t i = 0; i < m->n_views; i++) {
        const struct srl_param_view *v = &m->views[i];
        char name[SRL_PARAM_NAME_MAX + 8];
        snprintf(name, sizeof name, "grad.%s", v->name);
        float *g = ref_tensor(f, name, v->numel);
        EXPECT(g != NULL);
        if (g)
            compare(&e, v->name, m->grads + v->offset, g, v->numel, 1e-5, 1e-4, NULL, 0);
        free(g);
    }
    print_errs("grad", &e);
}

/* The reference's training steps (same batch each step), then the parameters. */
static void check_training(const struct fixture *f, struct srl_model *m)
{
    struct srl_adamw_hparams hp;
    struct srl_optim *o = NULL;
    struct srl_lr_schedule sched;
    int steps = (int)meta_num(f, "steps");
    double sum_lr = 0.0, max_norm = meta_num(f, "max_grad_norm");
    size_t N = (size_t)f->B * f->T;
    srl_adamw_defaults(&hp);
    hp.beta1 = (float)meta_at(f, "betas", 0);
    hp.beta2 = (float)meta_at(f, "betas", 1);
    hp.eps = (float)meta_num(f, "eps");
    hp.weight_decay = (float)meta_num(f, "weight_decay");
    REQUIRE(srl_lr_kind_parse(json_string_value(json_object_get(f->meta, "schedule")),
                              &sched.kind) == 0);
    sched.peak_lr = meta_num(f, "lr");
    sched.warmup_steps = (int64_t)meta_num(f, "warmup_steps");
    sched.total_steps = (int64_t)meta_num(f, "total_steps");
    REQUIRE(steps > 0 && steps < 100);
    REQUIRE(srl_optim_for_model(m, &hp, &o) == 0);

    // which elements ever get a nonzero gradient (see "flat" below)
    unsigned char *flat = calloc(m->n_params, 1), *touched = calloc(m->n_params, 1);
    if (!flat || !touched) {
        free(flat), free(touched), srl_optim_free(o);
        REQUIRE(0, "out of memory");
    }
    for (int s = 0; s < steps; s++) {
        float loss = 0.0f;
        if (srl_model_zero_grad(m) < 0 || srl_model_forward(m, f->tokens, NULL, f->B, f->T) < 0 ||
            srl_model_loss(m, f->targets, f->mask, &loss) < 0 || srl_model_backward(m) < 0) {
            EXPECT(0, "%s: training step %d failed", f->dir, s);
            break;
        }
        for (size_t i = 0; i < m->n_params; i++)
            touched[i] |= m->grads[i] != 0.0f;
        double norm = srl_clip_grad_norm(m->be, m->grads, m->n_params, max_norm);
        double lr = srl_lr_at(&sched, o->step);
        double want_loss = meta_at(f, "step_losses", s), want_norm = meta_at(f, "grad_norms", s);
        double want_lr = meta_at(f, "lrs", s);
        EXPECT(fabs(loss - want_loss) <= 2e-5 * fabs(want_loss), "%s step %d loss %.8g vs %.8g",
               f->dir, s, loss, want_loss);
        EXPECT(fabs(norm - want_norm) <= 1e-4 * want_norm, "%s step %d grad norm %.8g vs %.8g",
               f->dir, s, norm, want_norm);
        EXPECT(fabs(lr - want_lr) <= 1e-12, "%s step %d lr %.10g vs %.10g", f->dir, s, lr, want_lr);
        printf("  step %d: loss %.6f (ref %.6f) grad norm %.6f (ref %.6f)%s lr %.4g\n", s, loss,
               want_loss, norm, want_norm, norm > max_norm ? " clipped" : "", lr);
        EXPECT(srl_optim_step(o, m->params, m->grads, (float)lr) == 0);
        sum_lr += lr;
    }
    EXPECT(json_array_size(json_object_get(f->meta, "clipped_steps")) > 0,
           "the fixture never clips");
    (void)N;

    /* Adam normalises each gradient element, so an element whose true gradient is at the
     * float32 noise level (e.g. GPT-2's key biases: softmax is shift-invariant, so their
     * gradient is exactly zero in exact arithmetic) moves by up to ~lr per step in a random
     * direction in ANY float32 implementation, torch's included.  Such elements (|g| below
     * 1e-5 of the tensor's largest in the reference, and nonzero here at some step: an
     * embedding row no token uses has exactly zero gradients and only decays) are only held
     * to that bound. */
    struct errs e = {0};
    size_t n_flat = 0;
    for (size_t i = 0; i < m->n_views; i++) {
        const struct srl_param_view *v = &m->views[i];
        char name[SRL_PARAM_NAME_MAX + 8];
        snprintf(name, sizeof name, "grad.%s", v->name);
        float *g0 = ref_tensor(f, name, v->numel), gmax = 0.0f;
        for (size_t k = 0; g0 && k < v->numel; k++)
            gmax = fmaxf(gmax, fabsf(g0[k]));
        for (size_t k = 0; g0 && k < v->numel; k++) {
            flat[v->offset + k] = touched[v->offset + k] && fabsf(g0[k]) < 1e-5f * gmax;
            n_flat += flat[v->offset + k];
        }
        free(g0);
        snprintf(name, sizeof name, "final.%s", v->name);
        float *p = ref_tensor(f, name, v->numel);
        EXPECT(p != NULL);
        if (p)
            compare(&e, v->name, m->params + v->offset, p, v->numel, 5e-5, 1e-4,
                    flat + v->offset, 3.0 * sum_lr);
        free(p);
    }
    printf("  (%zu of %zu parameters have a noise-level gradient; bound %.3g)\n", n_flat,
           m->n_params, 3.0 * sum_lr);
    print_errs("param", &e);
    free(flat);
    free(touched);
    srl_optim_free(o);
}

static int make_tmpdir(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "/tmp/srl_test_model_%s_XXXXXX", tag);
    return mkdtemp(buf) ? 0 : -1;
}

static void rm_dir(const char *dir)
{
    char path[600];
    const char *files[] = {"config.json", "model.safetensors", "generation_config.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Save in dtype, reload, and compare: exact for fp32, the rounded values for bf16. */
static void check_roundtrip(struct srl_model *m, enum srl_dtype dtype)
{
    char dir[256];
    struct srl_model *m2 = NULL;
    REQUIRE(make_tmpdir(dir, sizeof dir, srl_dtype_name(dtype)) == 0);
    EXPECT(srl_model_save(m, dir, dtype) == 0, "save %s", srl_dtype_name(dtype));
    EXPECT(srl_model_load(dir, srl_backend_cpu(), &m2) == 0, "reload %s", srl_dtype_name(dtype));
    if (m2) {
        EXPECT(m2->n_params == m->n_params && m2->n_views == m->n_views);
        EXPECT(m2->cfg.arch == m->cfg.arch && m2->cfg.hidden_size == m->cfg.hidden_size &&
               m2->cfg.num_key_value_heads == m->cfg.num_key_value_heads &&
               m2->cfg.rope_theta == m->cfg.rope_theta &&
               m2->cfg.norm_eps == m->cfg.norm_eps &&
               m2->cfg.tie_word_embeddings == m->cfg.tie_word_embeddings &&
               m2->cfg.attention_bias == m->cfg.attention_bias && m2->cfg.dtype == dtype,
               "config round trip");
        size_t bad = 0;
        for (size_t i = 0; m2->n_params == m->n_params && i < m->n_params; i++) {
            float want = m->params[i];
            if (dtype == SRL_DTYPE_BF16)
                want = srl_bf16_to_f32(srl_f32_to_bf16(want));
            else if (dtype == SRL_DTYPE_F16)
                want = srl_f16_to_f32(srl_f32_to_f16(want));
            bad += memcmp(&m2->params[i], &want, sizeof want) != 0;
        }
        EXPECT(bad == 0, "%zu parameters differ after a %s round trip", bad,
               srl_dtype_name(dtype));
        printf("  save/load %-8s %zu parameters, %zu differ from the %s values\n",
               srl_dtype_name(dtype), m->n_params, bad,
               dtype == SRL_DTYPE_F32 ? "exact" : "rounded");
    }
    srl_model_free(m2);
    rm_dir(dir);
}

static void run_fixture(const char *name, bool roundtrip)
{
    struct fixture f;
    struct srl_model *m = NULL;
    char probe[300];
    snprintf(probe, sizeof probe, "%s/%s/ref.safetensors", REF_DIR, name);
    if (!test_file_exists(probe))
        SKIP("%s not found (run scripts/make_reference.py)", probe);
    if (fixture_open(&f, name) < 0) {
        EXPECT(0, "cannot read fixture %s", name);
        fixture_close(&f);
        return;
    }
    json_t *noise = json_object_get(f.meta, "torch_f32_max_abs_rel");
    printf("  torch fp32 vs reference (max abs): logits %.1e loss %.1e grads %.1e params %.1e\n",
           json_number_value(json_array_get(json_object_get(noise, "logits"), 0)),
           json_number_value(json_array_get(json_object_get(noise, "loss"), 0)),
           json_number_value(json_array_get(json_object_get(noise, "grads"), 0)),
           json_number_value(json_array_get(json_object_get(noise, "final"), 0)));
    int rc = srl_model_load(f.dir, srl_backend_cpu(), &m);
    EXPECT(rc == 0, "srl_model_load(%s): %s", f.dir, srl_strerror(rc));
    if (rc == 0) {
        check_views(&f, m);
        check_forward_backward(&f, m);
        if (roundtrip) {
            check_roundtrip(m, SRL_DTYPE_F32);
            check_roundtrip(m, SRL_DTYPE_BF16);
        }
        check_training(&f, m);
    }
    srl_model_free(m);
    fixture_close(&f);
}

static void test_llama_gqa(void) { run_fixture("llama_gqa", true); }
static void test_llama_tied(void) { run_fixture("llama_tied", true); }
static void test_qwen2_bias(void) { run_fixture("qwen2_bias", true); }
static void test_gpt2(void) { run_fixture("gpt2", true); }
static void test_llama_gqa_bf16(void) { run_fixture("llama_gqa_bf16", false); }
static void test_llama_gqa_fp16(void) { run_fixture("llama_gqa_fp16", false); }

int main(void)
{
    RUN(test_llama_gqa);
    RUN(test_llama_tied);
    RUN(test_qwen2_bias);
    RUN(test_gpt2);
    RUN(test_llama_gqa_bf16);
    RUN(test_llama_gqa_fp16);
    return test_summary();
}
