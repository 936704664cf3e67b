/* test_optim.c -- AdamW, clipping, LR schedules and state files against torch/transformers
 * values in tests/ref/optim/optim.json (written by scripts/make_reference.py). */
#include <jansson.h>
#include <omp.h>
#include <stdint.h>

#include "backend.h"
#include "optim.h"
#include "srl.h"
#include "test.h"

#define OPTIM_JSON "tests/ref/optim/optim.json"

static json_t *load_fixture(void)
{
    json_error_t err;
    json_t *root = json_load_file(OPTIM_JSON, 0, &err);
    if (!root)
        printf("  %s: %s (line %d)\n", OPTIM_JSON, err.text, err.line);
    return root;
}

static void json_floats(const json_t *arr, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)json_number_value(json_array_get(arr, i));
}

static void test_schedules(void)
{
    json_t *root = load_fixture();
    REQUIRE(root, "cannot read the fixture");
    json_t *sched = json_object_get(root, "schedules");
    size_t i, n_checked = 0;
    json_t *s;
    EXPECT(json_array_size(sched) >= 16, "only %zu schedules", json_array_size(sched));
    json_array_foreach(sched, i, s) {
        const char *name = json_string_value(json_object_get(s, "name"));
        int64_t warmup = json_integer_value(json_object_get(s, "warmup"));
        int64_t total = json_integer_value(json_object_get(s, "total"));
        json_t *vals = json_object_get(s, "values");
        enum srl_lr_kind kind;
        EXPECT(srl_lr_kind_parse(name, &kind) == 0, "unknown schedule %s", name);
        EXPECT(strcmp(srl_lr_kind_name(kind), name) == 0, "%s", name);
        for (size_t k = 0; k < json_array_size(vals); k++) {
            double want = json_number_value(json_array_get(vals, k));
            double got = srl_lr_lambda(kind, (int64_t)k, warmup, total);
            EXPECT(fabs(got - want) <= 1e-12, "%s warmup %lld total %lld step %zu: %.17g vs %.17g",
                   name, (long long)warmup, (long long)total, k, got, want);
            n_checked++;
        }
    }
    EXPECT(n_checked > 100, "%zu values", n_checked);
    struct srl_lr_schedule sc = {SRL_LR_COSINE, 2e-5, 3, 10};
    EXPECT(fabs(srl_lr_at(&sc, 1) - 2e-5 / 3) < 1e-18);
    enum srl_lr_kind k;
    EXPECT(srl_lr_kind_parse("cosine_with_restarts", &k) == SRL_EINVAL);
    EXPECT(strcmp(srl_lr_kind_name((enum srl_lr_kind)42), "unknown") == 0);
    json_decref(root);
}

/* The fixture's parameter: [0, n_decay) decays, [n_decay, n) does not. */
static int make_optim(size_t n, size_t n_decay, const struct srl_adamw_hparams *hp,
                      struct srl_optim **o)
{
    struct srl_param_view views[2] = {
        {.name = "a.weight", .ndim = 1, .shape = {(int64_t)n_decay}, .offset = 0,
         .numel = n_decay, .no_decay = false},
        {.name = "a.bias", .ndim = 1, .shape = {(int64_t)(n - n_decay)}, .offset = n_decay,
         .numel = n - n_decay, .no_decay = true},
    };
    return srl_optim_new(srl_backend_cpu(), n, views, 2, hp, o);
}

/* The fixture through the previous path (clip_grad_norm_ in place, then the reference loop) when
 * unfused, else through srl_optim_clip_step (the clipping factor folded into the AdamW pass). */
static void adamw_vs_torch(bool unfused)
{
    json_t *root = load_fixture();
    REQUIRE(root, "cannot read the fixture");
    json_t *a = json_object_get(root, "adamw");
    size_t n = json_integer_value(json_object_get(a, "n"));
    size_t n_decay = json_integer_value(json_object_get(a, "n_decay"));
    json_t *lrs = json_object_get(a, "lrs"), *grads = json_object_get(a, "grads");
    json_t *after = json_object_get(a, "params_after"), *norms = json_object_get(a, "grad_norms");
    size_t steps = json_array_size(lrs);
    double max_norm = json_number_value(json_object_get(a, "max_grad_norm"));
    struct srl_adamw_hparams hp;
    srl_adamw_defaults(&hp);
    EXPECT(hp.beta1 == 0.9f && hp.beta2 == 0.95f && hp.eps == 1e-8f && hp.weight_decay == 0.0f);
    hp.beta1 = (float)json_number_value(json_array_get(json_object_get(a, "betas"), 0));
    hp.beta2 = (float)json_number_value(json_array_get(json_object_get(a, "betas"), 1));
    hp.eps = (float)json_number_value(json_object_get(a, "eps"));
    hp.weight_decay = (float)json_number_value(json_object_get(a, "weight_decay"));
    REQUIRE(n == 37 && steps == 5 && n_decay < n, "fixture shape");

    float p[64], g[64], want[64];
    struct srl_optim *o = NULL;
    REQUIRE(make_optim(n, n_decay, &hp, &o) == 0);
    o->unfused = unfused;
    json_floats(json_object_get(a, "p0"), p, n);
    int clipped = 0, unclipped = 0;
    for (size_t s = 0; s < steps; s++) {
        char what[64];
        float lr = (float)json_number_value(json_array_get(lrs, s)), g0[64];
        json_floats(json_array_get(grads, s), g, n);
        memcpy(g0, g, sizeof g0);
        double norm;
        if (unfused) {
            norm = srl_clip_grad_norm(o->be, g, n, max_norm);
            EXPECT(srl_optim_step(o, p, g, lr) == 0);
        } else {
            EXPECT(srl_optim_clip_step(o, p, g, max_norm, lr, &norm) == 0);
            EXPECT(memcmp(g, g0, sizeof g0) == 0, "the fused step left the gradient as it was");
        }
        double want_norm = json_number_value(json_array_get(norms, s));
        EXPECT(fabs(norm - want_norm) <= 1e-6 * want_norm, "step %zu norm %.9g vs %.9g", s, norm,
               want_norm);
        if (want_norm > max_norm)
            clipped++;
        else
            unclipped++;
        EXPECT(o->step == (int64_t)s + 1);
        json_floats(json_array_get(after, s), want, n);
        snprintf(what, sizeof what, "adamw params after step %zu", s + 1);
        test_close(what, p, want, n, 1e-7f, 2e-6f);
    }
    EXPECT(clipped >= 2 && unclipped >= 2, "fixture exercises both clip paths");
    json_floats(json_object_get(a, "m_final"), want, n);
    test_close("adamw exp_avg", o->m, want, n, 1e-9f, 1e-5f);
    json_floats(json_object_get(a, "v_final"), want, n);
    test_close("adamw exp_avg_sq", o->v, want, n, 1e-9f, 1e-5f);
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_optim_step(o, p, g, -1.0f) == SRL_EINVAL);
    EXPECT(srl_optim_step(o, p, g, NAN) == SRL_EINVAL);
    srl_log_set_level(SRL_LOG_WARNING);
    srl_optim_free(o);
    json_decref(root);
}

static void test_adamw_vs_torch(void)
{
    adamw_vs_torch(true);
}

static void test_adamw_fused_vs_torch(void)
{
    adamw_vs_torch(false);
}

/* Three clipped or unclipped steps on an arena of n (views decay / no decay / decay) with `threads`
 * OpenMP threads, unfused or fused; params, moments and norms to out (3n + 3). */
static void three_steps(size_t n, bool unfused, int threads, double *norms, float *out)
{
    struct srl_adamw_hparams hp;
    srl_adamw_defaults(&hp);
    hp.weight_decay = 0.1f;
    size_t a = n / 3, b = n / 2;
    struct srl_param_view views[3] = {
        {.name = "w1", .ndim = 1, .shape = {(int64_t)a}, .offset = 0, .numel = a},
        {.name = "b1", .ndim = 1, .shape = {(int64_t)(b - a)}, .offset = a, .numel = b - a,
         .no_decay = true},
        {.name = "w2", .ndim = 1, .shape = {(int64_t)(n - b)}, .offset = b, .numel = n - b},
    };
    struct srl_optim *o = NULL;
    float *p = out, *g = malloc(n * sizeof *g);
    if (!g || srl_optim_new(srl_backend_cpu(), n, views, 3, &hp, &o) < 0) {
        free(g);
        return;
    }
    o->unfused = unfused;
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    for (size_t i = 0; i < n; i++)
        p[i] = 0.01f * (float)((i * 7) % 101) - 0.5f;
    static const double max_norm[3] = {1.0, 1e6, 0.0}; /* clipped, not clipped, measured only */
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < n; i++)
            g[i] = 1e-3f * (float)(((i + (size_t)s) * 2654435761u) % 2001) - 1.0f;
        srl_optim_clip_step(o, p, g, max_norm[s], 1e-3f, &norms[s]);
    }
    omp_set_num_threads(saved);
    memcpy(out + n, o->m, n * sizeof *out);
    memcpy(out + 2 * n, o->v, n * sizeof *out);
    srl_optim_free(o);
    free(g);
}

/* The fused step is a speed change only: bitwise the parameters, moments and norms of the
 * previous three passes, and bitwise the same for one thread and two. */
static void test_fused_bitwise(void)
{
    size_t n = 2 * 65536 * 8 + 12345; /* two groups of eight norm chunks, a partial chunk */
    double n_prev[3], n_fused[3], n_one[3];
    float *prev = calloc(3 * n, sizeof *prev), *fused = calloc(3 * n, sizeof *fused);
    float *one = calloc(3 * n, sizeof *one);
    REQUIRE(prev && fused && one, "oom");
    three_steps(n, true, 2, n_prev, prev);
    three_steps(n, false, 2, n_fused, fused);
    three_steps(n, false, 1, n_one, one);
    EXPECT(memcmp(n_prev, n_fused, sizeof n_prev) == 0, "norms %.17g %.17g", n_prev[0],
           n_fused[0]);
    EXPECT(n_prev[0] > 1.0, "the first step clips (norm %g)", n_prev[0]);
    EXPECT(memcmp(prev, fused, n * sizeof *prev) == 0, "parameters differ from the previous path");
    EXPECT(memcmp(prev + n, fused + n, 2 * n * sizeof *prev) == 0, "moments differ");
    EXPECT(memcmp(n_one, n_fused, sizeof n_one) == 0 && memcmp(one, fused, 3 * n * 4) == 0,
           "one thread and two differ");
    // the norm is the sum of 2^16-element chunks, each in index order, in chunk order
    const float *x = prev; /* any data */
    double want = 0.0;
    for (size_t c = 0; c < n; c += 65536) {
        double s = 0.0;
        for (size_t i = c; i < n && i < c + 65536; i++)
            s += (double)x[i] * x[i];
        want += s;
    }
    EXPECT(srl_grad_norm(srl_backend_cpu(), x, n) == sqrt(want), "%.17g vs %.17g",
           srl_grad_norm(srl_backend_cpu(), x, n), sqrt(want));
    free(prev), free(fused), free(one);
}

/* With a zero gradient the Adam term vanishes: only decoupled decay moves the decay range. */
static void test_decay_ranges(void)
{
    struct srl_adamw_hparams hp;
    srl_adamw_defaults(&hp);
    hp.weight_decay = 0.5f;
    struct srl_optim *o = NULL;
    float p[10], g[10] = {0};
    REQUIRE(make_optim(10, 6, &hp, &o) == 0);
    for (int i = 0; i < 10; i++)
        p[i] = 1.0f + i;
    EXPECT(srl_optim_step(o, p, g, 0.1f) == 0);
    for (int i = 0; i < 10; i++) {
        float want = i < 6 ? (1.0f + i) * (1.0f - 0.1f * 0.5f) : 1.0f + i;
        EXPECT(fabsf(p[i] - want) <= 1e-6f * want, "p[%d] = %g, want %g", i, p[i], want);
    }
    srl_optim_free(o);

    struct srl_adamw_hparams bad = hp;
    bad.beta2 = 1.0f;
    o = (struct srl_optim *)1;
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(make_optim(10, 6, &bad, &o) == SRL_EINVAL && o == NULL);
    struct srl_param_view v = {.name = "x", .ndim = 1, .shape = {8}, .offset = 4, .numel = 8};
    EXPECT(srl_optim_new(srl_backend_cpu(), 10, &v, 1, &hp, &o) == SRL_EINVAL);
    srl_log_set_level(SRL_LOG_WARNING);
    srl_optim_free(NULL);
}

static void test_safe_rlhf_groups(void)
{
    static const char *const names[] = {
        "model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.q_proj.bias",
        "model.norm.weight", "model.layers.0.mlp.up_proj.weight", "transformer.h.0.ln_1.weight",
        "transformer.h.0.ln_1.bias", "transformer.h.0.attn.c_attn.bias",
        "model.embed_tokens.weight",
        "model.layers.0.post_attention_layernorm.weight",
    };
    static const bool want[] = {true, true, false, false, false, true, true, false, true};
    struct srl_param_view v[9];
    struct srl_adamw_hparams hp;
    struct srl_optim *o = NULL;
    srl_adamw_defaults(&hp);
    memset(v, 0, sizeof v);
    for (int i = 0; i < 9; i++) {
        snprintf(v[i].name, sizeof v[i].name, "%s", names[i]);
        v[i].ndim = 1, v[i].shape[0] = 1, v[i].offset = (size_t)i, v[i].numel = 1;
        v[i].no_decay = !want[i]; /* the opposite, to see them all replaced */
    }
    REQUIRE(srl_optim_new(srl_backend_cpu(), 9, v, 9, &hp, &o) == 0);
    EXPECT(srl_optim_use_safe_rlhf_groups(o) == 5);
    for (int i = 0; i < 9; i++)
        EXPECT(o->views[i].no_decay == want[i], "%s", names[i]);
    srl_optim_free(o);
}

static void test_clip(void)
{
    const struct srl_backend *be = srl_backend_cpu();
    float g[4] = {3.0f, 0.0f, -4.0f, 0.0f};
    EXPECT(fabs(srl_grad_norm(be, g, 4) - 5.0) < 1e-12);
    double norm = srl_clip_grad_norm(be, g, 4, 10.0);
    EXPECT(norm == 5.0 && g[0] == 3.0f && g[2] == -4.0f, "no clip below max_norm");
    norm = srl_clip_grad_norm(be, g, 4, 1.0);
    EXPECT(norm == 5.0);
    EXPECT(fabsf(g[0] - (float)(3.0 / (5.0 + 1e-6))) < 1e-7f, "g[0] %g", g[0]);
    EXPECT(fabsf(g[2] + (float)(4.0 / (5.0 + 1e-6))) < 1e-7f, "g[2] %g", g[2]);
    g[1] = NAN;
    norm = srl_clip_grad_norm(be, g, 4, 1.0);
    EXPECT(isnan(norm) && fabsf(g[0] - 0.6f) < 1e-6f, "non-finite norm leaves g alone");
    // the fused step: a non-finite norm updates nothing
    struct srl_adamw_hparams hp;
    struct srl_optim *o = NULL;
    srl_adamw_defaults(&hp);
    REQUIRE(make_optim(4, 2, &hp, &o) == 0);
    float p[4] = {1, 2, 3, 4};
    EXPECT(srl_optim_clip_step(o, p, g, 1.0, 0.1f, &norm) == SRL_ENUMERIC && isnan(norm));
    EXPECT(p[0] == 1 && p[3] == 4 && o->step == 0 && o->m[0] == 0.0f, "nothing updated");
    srl_optim_free(o);
    // a long vector: the double-accumulated norm is exact enough and order-independent
    size_t n = 1000003;
    float *x = malloc(n * sizeof *x);
    REQUIRE(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (i % 2 ? 1e-3f : -1e-3f);
    EXPECT(fabs(srl_grad_norm(be, x, n) - fabs((double)x[0]) * sqrt((double)n)) < 1e-12);
    free(x);
}

static void test_state_roundtrip(void)
{
    struct srl_adamw_hparams hp;
    srl_adamw_defaults(&hp);
    hp.weight_decay = 0.1f;
    struct srl_optim *o = NULL, *o2 = NULL;
    float p[50], p2[50], g[50];
    REQUIRE(make_optim(50, 30, &hp, &o) == 0);
    REQUIRE(make_optim(50, 30, &hp, &o2) == 0);
    for (int i = 0; i < 50; i++)
        p[i] = p2[i] = sinf((float)i);
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 50; i++)
            g[i] = cosf((float)(i * (s + 1)));
        srl_optim_step(o, p, g, 1e-2f);
        srl_optim_step(o2, p2, g, 1e-2f);
    }
    char path[] = "/tmp/srl_test_optim_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    EXPECT(srl_optim_save(o, path) == 0);
    struct srl_optim *o3 = NULL;
    REQUIRE(make_optim(50, 30, &hp, &o3) == 0);
    EXPECT(srl_optim_load(o3, path) == 0);
    EXPECT(o3->step == 3, "step %lld", (long long)o3->step);
    EXPECT(memcmp(o3->m, o->m, sizeof(float) * 50) == 0, "m round trip");
    EXPECT(memcmp(o3->v, o->v, sizeof(float) * 50) == 0, "v round trip");
    // resuming gives the same next step as never stopping
    for (int i = 0; i < 50; i++)
        g[i] = sinf((float)(3 * i));
    srl_optim_step(o2, p2, g, 5e-3f);
    float p3[50];
    memcpy(p3, p, sizeof p);
    srl_optim_step(o3, p3, g, 5e-3f);
    EXPECT(memcmp(p3, p2, sizeof p3) == 0, "resumed step differs");

    // a model with another parameter name: the error names the missing tensor
    struct srl_param_view v = {.name = "other.weight", .ndim = 1, .shape = {50}, .numel = 50};
    struct srl_optim *o4 = NULL;
    REQUIRE(srl_optim_new(srl_backend_cpu(), 50, &v, 1, &hp, &o4) == 0);
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_optim_load(o4, path) == SRL_EFORMAT);
    EXPECT(o4->step == 0);
    EXPECT(srl_optim_load(o4, "/nonexistent/optimizer.safetensors") < 0);
    srl_log_set_level(SRL_LOG_WARNING);
    unlink(path);
    srl_optim_free(o);
    srl_optim_free(o2);
    srl_optim_free(o3);
    srl_optim_free(o4);
}

int main(void)
{
    RUN(test_schedules);
    RUN(test_adamw_vs_torch);
    RUN(test_adamw_fused_vs_torch);
    RUN(test_fused_bitwise);
    RUN(test_decay_ranges);
    RUN(test_safe_rlhf_groups);
    RUN(test_clip);
    RUN(test_state_roundtrip);
    return test_summary();
}
