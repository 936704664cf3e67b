/* test_ppo.c -- the PPO-Lagrangian step (lib/ppo.h) and the multiplier (lib/lagrange.h):
 * hand-computed GAE on ragged rows, the lambda update rules, and one complete update against
 * the PyTorch fixture tests/ref/rlhf/ppo (scripts/make_rlhf_reference.py): KL-shaped rewards
 * and costs, both GAEs, lambda, the combined advantages, the actor loss through our Llama
 * (log-probs, dL/dlogp, parameter gradients), the critic losses through our score model. */
#include <jansson.h>
#include <stdint.h>

#include "backend.h"
#include "lagrange.h"
#include "model.h"
#include "ppo.h"
#include "safetensors.h"
#include "srl.h"
#include "test.h"
#include "test_ref.h"

#define PPO_DIR "tests/ref/rlhf/ppo"

// --- GAE and the losses by hand --------------------------------------------------------------

/* Two rows of different response lengths (gamma 1, lambda 0.5), worked out on paper:
 * row 0: start 1, mask 1 1 1 0, V 9 1 2 7, r 9 0 1 5:
 *   t=3 masked: A=0; t=2: d = 1 + 0 - 2 = -1, A = -1, G = 1; t=1: d = 0 + 2 - 1 = 1,
 *   A = 1 + 0.5(-1) = 0.5, G = 1.5; t=0 before start: 0.
 * row 1: start 0, mask 1 1 0 0, V 1 3 4 4, r 0.5 2 8 8:
 *   t=1: d = 2 - 3 = -1, A = -1, G = 2; t=0: d = 0.5 + 3 - 1 = 2.5, A = 2.5 - 0.5 = 2, G = 3.
 * Without the mask, row 1 would see r=8 and V=4 past its end. */
static void test_gae_ragged(void)
{
    float V[8] = {9, 1, 2, 7, 1, 3, 4, 4}, r[8] = {9, 0, 1, 5, 0.5f, 2, 8, 8};
    float M[8] = {1, 1, 1, 0, 1, 1, 0, 0}, adv[8], ret[8];
    int start[2] = {1, 0};
    REQUIRE(srl_ppo_gae(V, r, M, start, 2, 4, 1.0f, 0.5f, adv, ret) == 0);
    float want_a[8] = {0, 0.5f, -1, 0, 2, -1, 0, 0}, want_g[8] = {0, 1.5f, 1, 0, 3, 2, 0, 0};
    test_close("gae advantages", adv, want_a, 8, 1e-6f, 0);
    test_close("gae returns", ret, want_g, 8, 1e-6f, 0);
    /* gamma < 1 on row 1: t=1: A = -1; t=0: d = 0.5 + 0.9*3 - 1 = 2.2, A = 2.2 + 0.45(-1) */
    REQUIRE(srl_ppo_gae(V, r, M, start, 2, 4, 0.9f, 0.5f, adv, ret) == 0);
    EXPECT(fabsf(adv[4] - 1.75f) < 1e-6f && fabsf(ret[4] - 2.75f) < 1e-6f, "%g %g", adv[4],
           ret[4]);
    /* a width one wider with the extra column masked gives the same numbers */
    float V5[10] = {9, 1, 2, 7, 100, 1, 3, 4, 4, -100}, r5[10] = {9, 0, 1, 5, 50, .5f, 2, 8, 8, 9};
    float M5[10] = {1, 1, 1, 0, 0, 1, 1, 0, 0, 0}, a5[10], g5[10];
    REQUIRE(srl_ppo_gae(V5, r5, M5, start, 2, 5, 1.0f, 0.5f, a5, g5) == 0);
    EXPECT(a5[1] == 0.5f && a5[2] == -1 && a5[5] == 2 && g5[6] == 2 && a5[4] == 0 && a5[9] == 0);
    int bad[2] = {1, 4};
    EXPECT(srl_ppo_gae(V, r, M, bad, 2, 4, 1.0f, 0.5f, adv, ret) == SRL_EINVAL);
}

static void test_shape_and_end(void)
{
    float M[8] = {1, 1, 1, 0, 0, 1, 1, 1}, lp[8], ref[8], out[8];
    float score[2] = {100, -2};
    int start[2] = {1, 1}, end[2];
    for (int i = 0; i < 8; i++)
        lp[i] = -1.0f - 0.1f * i, ref[i] = -1.0f;
    REQUIRE(srl_ppo_end_index(M, start, 2, 4, end) == 0);
    EXPECT(end[0] == 2 && end[1] == 3);
    REQUIRE(srl_ppo_shape_rewards(lp, ref, score, end, start, 2, 4, 0.5f, 50.0f, SRL_PPO_REWARD,
                                  out) == 0);
    EXPECT(fabsf(out[1] - 0.05f) < 1e-6f, "-beta k = -0.5 * -0.1: %g", out[1]);
    EXPECT(out[2] == 50.0f, "the end reward 100 + 0.1 is clamped: %g", out[2]);
    EXPECT(fabsf(out[7] - (-2 + 0.35f)) < 1e-6f, "%g", out[7]);
    REQUIRE(srl_ppo_shape_rewards(lp, ref, score, end, start, 2, 4, 0.5f, 0.0f, SRL_PPO_COST,
                                  out) == 0);
    EXPECT(fabsf(out[1] + 0.05f) < 1e-6f && fabsf(out[2] - 99.9f) < 1e-4f, "%g %g", out[1],
           out[2]);
    float none[4] = {1, 1, 0, 0};
    int s1[1] = {2};
    EXPECT(srl_ppo_end_index(none, s1, 1, 4, end) == SRL_EINVAL, "no response token");
}

/* Actor and critic gradients against central differences; masked mean per row then batch. */
static void test_losses_finite_differences(void)
{
    enum { B = 2, T = 5 };
    float lp[B * T], old[B * T], adv[B * T], M[B * T] = {0, 1, 1, 1, 0, 0, 0, 1, 1, 1};
    float v[B * T], vo[B * T], ret[B * T], g[B * T], loss, lpl, lmi;
    int start[B] = {1, 2};
    for (int i = 0; i < B * T; i++) {
        old[i] = -1.0f - 0.1f * (i % 3);
        lp[i] = old[i] + 0.09f * (float)((i * 5) % 7 - 3); /* ratios 0.76 .. 1.31 */
        adv[i] = (i % 2 ? 1.0f : -0.7f) * (1 + 0.1f * i);
        vo[i] = 0.2f * i;
        v[i] = vo[i] + 0.4f * (float)((i * 3) % 5 - 2);   /* some beyond the 0.5 clip */
        ret[i] = 0.5f - 0.15f * i;
    }
    double err = 0;
    REQUIRE(srl_ppo_actor_loss(lp, old, adv, M, start, B, T, 0.2f, &loss, g, NULL) == 0);
    for (int i = 0; i < B * T; i++) {
        float keep = lp[i];
        lp[i] = keep + 1e-3f;
        srl_ppo_actor_loss(lp, old, adv, M, start, B, T, 0.2f, &lpl, (float[B * T]){0}, NULL);
        lp[i] = keep - 1e-3f;
        srl_ppo_actor_loss(lp, old, adv, M, start, B, T, 0.2f, &lmi, (float[B * T]){0}, NULL);
        lp[i] = keep;
        err = fmax(err, fabs((lpl - lmi) / 2e-3 - g[i]));
    }
    printf("  actor loss finite differences: max abs err %.2e\n", err);
    EXPECT(err < 1e-3, "%g", err);
    /* the loss by hand: rows weigh 1/2 each, row 0 over 3 columns, row 1 over 3 */
    double want = 0;
    for (int i = 0; i < B * T; i++) {
        int b = i / T, t = i % T;
        if (t < start[b] || !M[i])
            continue;
        double rho = exp(lp[i] - old[i]), c = fmin(fmax(rho, 0.8), 1.2);
        want -= fmin(adv[i] * rho, adv[i] * c) / 3 / 2;
    }
    EXPECT(fabs(loss - want) < 1e-6, "%g vs %g", loss, want);
    err = 0;
    REQUIRE(srl_ppo_critic_loss(v, vo, ret, M, start, B, T, 0.5f, &loss, g) == 0);
    for (int i = 0; i < B * T; i++) {
        float keep = v[i];
        v[i] = keep + 1e-3f;
        srl_ppo_critic_loss(v, vo, ret, M, start, B, T, 0.5f, &lpl, (float[B * T]){0});
        v[i] = keep - 1e-3f;
        srl_ppo_critic_loss(v, vo, ret, M, start, B, T, 0.5f, &lmi, (float[B * T]){0});
        v[i] = keep;
        err = fmax(err, fabs((lpl - lmi) / 2e-3 - g[i]));
    }
    printf("  critic loss finite differences: max abs err %.2e\n", err);
    EXPECT(err < 1e-3, "%g", err);
    double mm = srl_ppo_masked_mean(ret, M, start, B, T);
    double want_mm = ((ret[1] + ret[2] + ret[3]) / 3 + (ret[7] + ret[8] + ret[9]) / 3) / 2;
    EXPECT(fabs(mm - want_mm) < 1e-6, "%g vs %g", mm, want_mm);
    float zero[B * T] = {0};
    EXPECT(srl_ppo_actor_loss(lp, old, adv, zero, start, B, T, 0.2f, &loss, g, NULL)
           == SRL_EINVAL);
}

// --- the Lagrange multiplier -----------------------------------------------------------------

static void lag_opts(struct srl_lagrange_opts *o, enum srl_lambda_update u)
{
    srl_lagrange_defaults(o);
    o->update = u;
}

static void test_lambda_sgd(void)
{
    struct srl_lagrange_opts o;
    struct srl_lagrange lag;
    lag_opts(&o, SRL_LAMBDA_SGD);
    o.window = 4;
    o.threshold = 0.5;
    REQUIRE(srl_lagrange_init(&lag, &o) == 0);
    EXPECT(lag.lambda == 1.0);
    float c1[2] = {1.5f, 2.5f};
    REQUIRE(srl_lagrange_update(&lag, c1, 2) == 0);
    /* J_C = 2, above the threshold: log lambda = 0 + 0.1 * 1 * 1.5 */
    EXPECT(fabs(lag.log_lambda - 0.15) < 1e-12 && lag.lambda > 1.0, "%g", lag.log_lambda);
    float c2[4] = {-1, -1, -1, -1};
    REQUIRE(srl_lagrange_update(&lag, c2, 4) == 0); /* window now holds only the -1s */
    EXPECT(srl_lagrange_window_mean(&lag) == -1.0);
    double want = 0.15 + 0.1 * exp(0.15) * (-1.5);
    EXPECT(fabs(lag.log_lambda - want) < 1e-12 && lag.lambda < exp(0.15), "%g", lag.log_lambda);
    /* lambda_max holds */
    float big[1] = {1000};
    for (int i = 0; i < 5; i++)
        REQUIRE(srl_lagrange_update(&lag, big, 1) == 0);
    EXPECT(fabs(lag.lambda - 5.0) < 1e-12, "%g", lag.lambda);
    EXPECT(lag.steps == 7);
    srl_lagrange_free(&lag);

    /* the delay: no update before update_delay steps */
    o.update_delay = 3;
    REQUIRE(srl_lagrange_init(&lag, &o) == 0);
    for (int i = 0; i < 3; i++) {
        REQUIRE(srl_lagrange_update(&lag, c1, 2) == 0);
        EXPECT(lag.lambda == 1.0, "step %d: %g", i, lag.lambda);
    }
    REQUIRE(srl_lagrange_update(&lag, c1, 2) == 0);
    EXPECT(lag.lambda > 1.0);
    srl_lagrange_free(&lag);

    /* none: lambda is a constant (0 = plain PPO, K = fixed shaping) */
    lag_opts(&o, SRL_LAMBDA_NONE);
    o.lambda_init = 0.0;
    REQUIRE(srl_lagrange_init(&lag, &o) == 0);
    REQUIRE(srl_lagrange_update(&lag, big, 1) == 0);
    EXPECT(lag.lambda == 0.0 && lag.last_cost == 1000.0);
    srl_lagrange_free(&lag);
    /* invalid options */
    lag_opts(&o, SRL_LAMBDA_SGD);
    o.lambda_init = 0.0;
    EXPECT(srl_lagrange_init(&lag, &o) == SRL_EINVAL, "sgd needs lambda > 0");
    lag_opts(&o, SRL_LAMBDA_SGD);
    o.window = 0;
    EXPECT(srl_lagrange_init(&lag, &o) == SRL_EINVAL);
    lag_opts(&o, SRL_LAMBDA_SGD);
    REQUIRE(srl_lagrange_init(&lag, &o) == 0);
    EXPECT(srl_lagrange_update(&lag, NULL, 0) == SRL_EINVAL, "empty window");
    float nan[1] = {NAN};
    EXPECT(srl_lagrange_update(&lag, nan, 1) == SRL_ENUMERIC);
    srl_lagrange_free(&lag);
    enum srl_lambda_update u;
    EXPECT(srl_lambda_update_parse("pid", &u) == 0 && u == SRL_LAMBDA_PID);
    EXPECT(srl_lambda_update_parse("adam", &u) == SRL_EINVAL);
}

static void test_lambda_pid(void)
{
    struct srl_lagrange_opts o;
    struct srl_lagrange lag;
    float above[1] = {2.0f}, below[1] = {-3.0f};
    /* integral only: lambda grows by ki * (J_C - threshold) per step */
    lag_opts(&o, SRL_LAMBDA_PID);
    o.window = 1;
    o.lambda_init = 0.0;
    o.kp = o.kd = 0.0;
    o.ki = 0.1;
    o.threshold = 1.0;
    REQUIRE(srl_lagrange_init(&lag, &o) == 0);
    for (int i = 1; i <= 3; i++) {
        REQUIRE(srl_lagrange_update(&lag, above, 1) == 0);
        EXPECT(fabs(lag.lambda - 0.1 * i) < 1e-12, "step %d: %g", i, lag.lambda);
    }
    /* below the threshold the integral drains but never goes negative */
    for (int i = 0; i < 5; i++)
        REQUIRE(srl_lagrange_update(&lag, below, 1) == 0);
    EXPECT(lag.lambda == 0.0 && lag.pid_i == 0.0, "%g %g", lag.lambda, lag.pid_i);
    REQUIRE(srl_lagrange_update(&lag, above, 1) == 0);
    EXPECT(fabs(lag.lambda - 0.1) < 1e-12, "no wind-up below zero: %g", lag.lambda);
    srl_lagrange_free(&lag);

    /* proportional: never negative lambda */
    lag_opts(&o, SRL_LAMBDA_PID);
    o.window = 1;
    o.lambda_init = 0.0;
    o.ki = o.kd = 0.0;
    o.kp = 2.0;
    REQUIRE(srl_lagrange_init(&lag, &o) == 0);
    REQUIRE(srl_lagrange_update(&lag, below, 1) == 0);
    EXPECT(lag.lambda == 0.0, "%g", lag.lambda);
    REQUIRE(srl_lagrange_update(&lag, above, 1) == 0);
    EXPECT(lag.lambda == 4.0, "%g", lag.lambda);
    srl_lagrange_free(&lag);

    /* derivative on the cost: only a rise counts */
    lag_opts(&o, SRL_LAMBDA_PID);
    o.window = 1;
    o.lambda_init = 0.0;
    o.kp = o.ki = 0.0;
    o.kd = 1.0;
    o.threshold = 100.0; /* far above: P and I would be negative */
    REQUIRE(srl_lagrange_init(&lag, &o) == 0);
    float c[4] = {1.0f, 3.0f, 3.5f, 2.0f};
    double want[4] = {0.0, 2.0, 0.5, 0.0};
    for (int i = 0; i < 4; i++) {
        REQUIRE(srl_lagrange_update(&lag, c + i, 1) == 0);
        EXPECT(fabs(lag.lambda - want[i]) < 1e-12, "step %d: %g", i, lag.lambda);
    }
    srl_lagrange_free(&lag);

    /* lambda_max caps the PID output too; the default gains start at lambda_init */
    lag_opts(&o, SRL_LAMBDA_PID);
    o.lambda_max = 1.5;
    REQUIRE(srl_lagrange_init(&lag, &o) == 0);
    EXPECT(lag.lambda == 1.0);
    float huge[1] = {1000.0f};
    REQUIRE(srl_lagrange_update(&lag, huge, 1) == 0);
    EXPECT(lag.lambda == 1.5, "%g", lag.lambda);
    srl_lagrange_free(&lag);
}

/* get_state / set_state resume exactly (window order included). */
static void test_lambda_state(void)
{
    struct srl_lagrange_opts o;
    struct srl_lagrange a, b;
    struct srl_lagrange_state st;
    for (int u = 0; u < 2; u++) {
        lag_opts(&o, u ? SRL_LAMBDA_PID : SRL_LAMBDA_SGD);
        o.window = 5;
        o.pid_ema_p = 0.5;
        o.pid_ema_d = 0.3;
        REQUIRE(srl_lagrange_init(&a, &o) == 0);
        REQUIRE(srl_lagrange_init(&b, &o) == 0);
        float c[3];
        for (int i = 0; i < 4; i++) {
            c[0] = 0.3f * i, c[1] = -0.5f, c[2] = 1.0f / (i + 1);
            REQUIRE(srl_lagrange_update(&a, c, 3) == 0);
        }
        srl_lagrange_get_state(&a, &st);
        EXPECT(st.win_len == 5 && st.window[4] == c[2] && st.steps == 4);
        REQUIRE(srl_lagrange_set_state(&b, &st) == 0);
        for (int i = 0; i < 3; i++) {
            c[0] = 2.0f - i, c[1] = 0.1f * i, c[2] = -0.2f;
            REQUIRE(srl_lagrange_update(&a, c, 3) == 0);
            REQUIRE(srl_lagrange_update(&b, c, 3) == 0);
            EXPECT(a.lambda == b.lambda && a.steps == b.steps, "%s step %d: %.17g vs %.17g",
                   srl_lambda_update_name(o.update), i, a.lambda, b.lambda);
        }
        srl_lagrange_free(&a);
        srl_lagrange_free(&b);
    }
}

// --- the PyTorch fixture ---------------------------------------------------------------------

struct ppo_fix {
    json_t *meta;
    struct srl_st_file *ref;
    int B, L, S, T; /* T = L - 1 */
};

static float *fx(const struct ppo_fix *f, const char *name, size_t n)
{
    return test_ref_get(f->ref, name, n);
}

static double fnum(const struct ppo_fix *f, const char *k)
{
    return json_number_value(json_object_get(f->meta, k));
}

/* Compare x (B,T) from column c0 on with ref (B,T-c0) (the reference's [:, start:] slices). */
static void close_cols(const char *what, const float *x, const float *ref, int B, int T, int c0,
                       float atol, float rtol)
{
    int W = T - c0;
    float *tmp = malloc((size_t)B * W * sizeof *tmp);
    if (!tmp)
        return;
    for (int b = 0; b < B; b++)
        memcpy(tmp + (size_t)b * W, x + (size_t)b * T + c0, W * sizeof *tmp);
    test_close(what, tmp, ref, (size_t)B * W, atol, rtol);
    free(tmp);
}

/* Every parameter gradient against the fixture (tolerance relative to the tensor's max). */
static void check_grads(const struct ppo_fix *f, struct srl_model *m, const char *prefix)
{
    double max_abs = 0, max_rel = 0;
    size_t n_el = 0, n_bad = 0;
    for (size_t k = 0; k < m->n_views; k++) {
        const struct srl_param_view *v = &m->views[k];
        char key[160];
        snprintf(key, sizeof key, "%s.grad.%s", prefix, v->name);
        float *w = fx(f, key, v->numel);
        EXPECT(w != NULL, "no reference %s", key);
        if (!w)
            continue;
        double scale = 1e-30;
        for (size_t i = 0; i < v->numel; i++)
            scale = fmax(scale, fabs(w[i]));
        for (size_t i = 0; i < v->numel; i++) {
            double d = fabs((double)m->grads[v->offset + i] - w[i]);
            max_abs = fmax(max_abs, d);
            max_rel = fmax(max_rel, d / scale);
            if (!(d <= 1e-4 * scale + 1e-3 * fabs(w[i])) && !n_bad++)
                printf("  %s[%zu]: %.8g vs %.8g\n", key, i, (double)m->grads[v->offset + i],
                       (double)w[i]);
        }
        n_el += v->numel;
        free(w);
    }
    printf("  %-6s grads of %zu tensors n=%-6zu max_abs=%.3e max_rel(/max|ref|)=%.3e%s\n",
           prefix, m->n_views, n_el, max_abs, max_rel, n_bad ? "  MISMATCH" : "");
    EXPECT(n_bad == 0, "%s: %zu gradient elements differ", prefix, n_bad);
}

/* The lambda trajectories: three steps (the first inside the delay) and the run to lambda_max. */
static double check_lambda(const struct ppo_fix *f, const float *cost)
{
    struct srl_lagrange_opts o;
    struct srl_lagrange lag;
    srl_lagrange_defaults(&o);
    o.lambda_init = fnum(f, "lambda_init");
    o.lambda_lr = fnum(f, "lambda_lr");
    o.lambda_max = fnum(f, "lambda_max");
    o.update_delay = (int64_t)fnum(f, "delay");
    o.window = (int)fnum(f, "window");
    o.threshold = fnum(f, "threshold");
    double lambda = NAN;
    float jc[8], ll[8];
    for (int run = 0; run < 2; run++) {
        json_t *hist = json_object_get(f->meta, run ? "probe_costs" : "history");
        int n = (int)json_array_size(hist) + !run;
        if (n > 8 || srl_lagrange_init(&lag, &o) < 0) {
            EXPECT(0, "lagrange setup");
            return NAN;
        }
        for (int k = 0; k < n; k++) {
            float c[8];
            int nc = 4;
            if (k < (int)json_array_size(hist)) {
                json_t *row = json_array_get(hist, k);
                nc = (int)json_array_size(row);
                for (int i = 0; i < nc && i < 8; i++)
                    c[i] = (float)json_number_value(json_array_get(row, i));
            } else {
                memcpy(c, cost, 4 * sizeof *c);
            }
            EXPECT(srl_lagrange_update(&lag, c, nc) == 0);
            jc[k] = (float)lag.last_cost;
            ll[k] = (float)lag.log_lambda;
        }
        float *wj = fx(f, run ? "probe.jc" : "lag.jc", n);
        float *wl = fx(f, run ? "probe.log_lambda" : "lag.log_lambda", n);
        if (wj && wl) {
            test_close(run ? "lambda probe J_C" : "lambda J_C", jc, wj, n, 1e-6f, 1e-6f);
            test_close(run ? "lambda probe log_lambda (hits max)" : "lambda log_lambda", ll, wl,
                       n, 1e-6f, 1e-6f);
        }
        if (!run)
            lambda = lag.lambda;
        free(wj), free(wl);
        srl_lagrange_free(&lag);
    }
    return lambda;
}

/* srl_ppo_targets() repeats the steps above (same advantages, bit for bit) and logs the
 * reference's metrics; without a cost it is plain PPO (adv = A_R). */
static void check_targets(const struct ppo_fix *f, const struct srl_ppo_opts *po, double lambda,
                          const float *M, const int *start, const float *old_lp,
                          const float *ref_lp, const float *R, const float *C, const float *ovr,
                          const float *ovc, const float *adv)
{
    int B = f->B, T = f->T;
    size_t n = (size_t)B * T;
    struct srl_ppo_rollout ro = {B, T, M, start, old_lp, ref_lp, R, C, ovr, ovc};
    float *buf = malloc(7 * n * sizeof *buf);
    int *end = malloc(B * sizeof *end);
    if (!buf || !end) {
        free(buf), free(end);
        EXPECT(0, "out of memory");
        return;
    }
    struct srl_ppo_targets tg = {end, buf, buf + n, buf + 2 * n, buf + 3 * n, buf + 4 * n,
                                 buf + 5 * n, buf + 6 * n};
    struct srl_ppo_rollout_stats st;
    EXPECT(srl_ppo_targets(&ro, po, lambda, &tg, &st) == 0);
    EXPECT(memcmp(tg.adv, adv, n * sizeof *adv) == 0, "srl_ppo_targets advantages differ");
    json_t *m = json_object_get(f->meta, "metrics");
    static const char *const keys[11] = {
        "reward", "cost", "reward_with_kl_penalty", "cost_with_kl_penalty", "reward_advantage",
        "reward_return", "cost_advantage", "cost_return", "kl_divergence",
        "mean_generated_length", "max_generated_length"};
    float got[11] = {st.reward, st.cost, st.reward_with_kl_penalty, st.cost_with_kl_penalty,
                     st.reward_advantage, st.reward_return, st.cost_advantage, st.cost_return,
                     st.kl_divergence, st.mean_generated_length, st.max_generated_length};
    float want[11];
    for (int k = 0; k < 11; k++)
        want[k] = (float)json_number_value(json_object_get(m, keys[k]));
    test_close("rl_step metrics (7.11)", got, want, 11, 1e-5f, 1e-5f);
    ro.cost = NULL;
    EXPECT(srl_ppo_targets(&ro, po, lambda, &tg, &st) == 0);
    EXPECT(memcmp(tg.adv, tg.radv, n * sizeof *adv) == 0 && st.cost == 0.0f, "reward only");
    free(buf);
    free(end);
}

static void test_ppo_fixture(void)
{
    struct ppo_fix f = {0};
    char path[256];
    json_error_t jerr;
    int err = 0;
    snprintf(path, sizeof path, "%s/ref.json", PPO_DIR);
    if (!test_file_exists(path))
        SKIP("%s absent (scripts/make_rlhf_reference.py)", path);
    REQUIRE((f.meta = json_load_file(path, 0, &jerr)), "%s: %s", path, jerr.text);
    snprintf(path, sizeof path, "%s/ref.safetensors", PPO_DIR);
    f.ref = srl_st_open(path, &err);
    f.B = (int)fnum(&f, "B"), f.L = (int)fnum(&f, "L"), f.S = (int)fnum(&f, "S");
    f.T = f.L - 1;
    int B = f.B, L = f.L, T = f.T, s0 = f.S - 1, W = T - s0;
    size_t BL = (size_t)B * L, BT = (size_t)B * T;
    struct srl_model *actor = NULL, *critic = NULL;
    int32_t *tok = malloc(BL * sizeof *tok), *pos = malloc(BL * sizeof *pos);
    int32_t *tgt = malloc(BL * sizeof *tgt);
    int *start = malloc(B * sizeof *start), *end = malloc(B * sizeof *end);
    float *ids = fx(&f, "input_ids", BL), *am = fx(&f, "attention_mask", BL);
    float *old_lp = fx(&f, "old_logp", BT), *ref_lp = fx(&f, "ref_logp", BT);
    float *R = fx(&f, "reward", B), *C = fx(&f, "cost", B);
    float *ovr = fx(&f, "old_rvalues", BT), *ovc = fx(&f, "old_cvalues", BT);
    size_t fbt = BT * sizeof(float);
    float *M = malloc(fbt), *rw = malloc(fbt), *cs = malloc(fbt);
    float *ra = malloc(fbt), *rr = malloc(fbt), *ca = malloc(fbt), *cr = malloc(fbt);
    float *adv = malloc(fbt), *lp = malloc(fbt), *dlp = malloc(fbt);
    float *dlpL = calloc(BL, sizeof(float)), *val = malloc(fbt), *dv = malloc(fbt);
    float *dvL = calloc(BL, sizeof(float)), *want = NULL;
    int ok = f.ref && tok && pos && tgt && start && end && ids && am && old_lp && ref_lp && R &&
             C && ovr && ovc && M && rw && cs && ra && rr && ca && cr && adv && lp && dlp &&
             dlpL && val && dv && dvL;
    if (!ok) {
        EXPECT(0, "fixture setup");
        goto out;
    }
    // tokens, positions as generation gives them (cumsum(mask) - 1; -1 for pads), targets
    for (int b = 0; b < B; b++) {
        int p = 0;
        start[b] = s0;
        for (int t = 0; t < L; t++) {
            size_t i = (size_t)b * L + t;
            tok[i] = (int32_t)ids[i];
            pos[i] = am[i] != 0 ? p++ : -1;
            tgt[i] = t + 1 < L && am[i + 1] != 0 ? (int32_t)ids[i + 1] : -1;
            if (t < T)
                M[(size_t)b * T + t] = am[i + 1];
        }
    }

    // KL-shaped rewards and costs, both GAEs
    struct srl_ppo_opts po;
    srl_ppo_defaults(&po);
    po.kl_coeff = (float)fnum(&f, "kl_coeff");
    po.clip_range_score = (float)fnum(&f, "clip_range_score");
    po.clip_range_ratio = (float)fnum(&f, "clip_range_ratio");
    po.clip_range_value = (float)fnum(&f, "clip_range_value");
    po.gamma = (float)fnum(&f, "gamma");
    po.gae_lambda = (float)fnum(&f, "gae_lambda");
    REQUIRE(srl_ppo_end_index(M, start, B, T, end) == 0);
    REQUIRE(srl_ppo_shape_rewards(old_lp, ref_lp, R, end, start, B, T, po.kl_coeff,
                                  po.clip_range_score, SRL_PPO_REWARD, rw) == 0);
    REQUIRE(srl_ppo_shape_rewards(old_lp, ref_lp, C, end, start, B, T, po.kl_coeff,
                                  po.clip_range_score, SRL_PPO_COST, cs) == 0);
    if ((want = fx(&f, "rewards", BT)))
        test_close("KL-shaped rewards", rw, want, BT, 1e-6f, 1e-5f);
    free(want);
    if ((want = fx(&f, "costs", BT)))
        test_close("KL-shaped costs", cs, want, BT, 1e-6f, 1e-5f);
    free(want);
    REQUIRE(srl_ppo_gae(ovr, rw, M, start, B, T, po.gamma, po.gae_lambda, ra, rr) == 0);
    REQUIRE(srl_ppo_gae(ovc, cs, M, start, B, T, po.gamma, po.gae_lambda, ca, cr) == 0);
    static const char *const gnames[4] = {"radv", "rret", "cadv", "cret"};
    float *gours[4] = {ra, rr, ca, cr};
    for (int k = 0; k < 4; k++) {
        if ((want = fx(&f, gnames[k], (size_t)B * W)))
            close_cols(gnames[k], gours[k], want, B, T, s0, 1e-5f, 1e-5f);
        free(want);
    }

    // lambda, then the combined advantages with it
    double lambda = check_lambda(&f, C);
    EXPECT(fabs(lambda - fnum(&f, "lambda_")) < 1e-6, "lambda %.9g vs %.9g", lambda,
           fnum(&f, "lambda_"));
    srl_ppo_combine_advantages(ra, ca, lambda, BT, adv);
    if ((want = fx(&f, "adv", (size_t)B * W)))
        close_cols("combined advantages", adv, want, B, T, s0, 1e-5f, 1e-5f);
    free(want);

    check_targets(&f, &po, lambda, M, start, old_lp, ref_lp, R, C, ovr, ovc, adv);

    // actor: our log-probs, the loss, dL/dlogp, the parameter gradients
    snprintf(path, sizeof path, "%s/actor", PPO_DIR);
    int rc = srl_model_load(path, srl_backend_cpu(), &actor);
    REQUIRE(rc == 0, "%s: %s", path, srl_strerror(rc));
    REQUIRE(srl_model_zero_grad(actor) == 0);
    REQUIRE(srl_model_forward(actor, tok, pos, B, L) == 0);
    float *lpL = malloc(BL * sizeof *lpL);
    REQUIRE(lpL && srl_model_logprobs(actor, tgt, lpL) == 0);
    for (int b = 0; b < B; b++)
        memcpy(lp + (size_t)b * T, lpL + (size_t)b * L, T * sizeof *lp);
    if ((want = fx(&f, "logp", BT))) {
        for (size_t i = 0; i < BT; i++) /* positions predicting a pad: not compared */
            if (M[i] == 0)
                want[i] = lp[i];
        test_close("actor log-probs", lp, want, BT, 2e-5f, 1e-4f);
    }
    free(want);
    float aloss;
    struct srl_ppo_actor_stats ast;
    REQUIRE(srl_ppo_actor_loss(lp, old_lp, adv, M, start, B, T, po.clip_range_ratio, &aloss, dlp,
                               &ast) == 0);
    float want_al = (float)fnum(&f, "actor_loss");
    test_close("actor loss", &aloss, &want_al, 1, 1e-5f, 1e-5f);
    printf("  actor ratio %.4f clip_frac %.3f approx_kl %.4f\n", ast.ratio, ast.clip_frac,
           ast.approx_kl);
    EXPECT(ast.clip_frac > 0, "the fixture clips some ratios");
    if ((want = fx(&f, "dlogp", BT)))
        test_close("actor dL/dlogp", dlp, want, BT, 1e-6f, 1e-4f);
    free(want);
    for (int b = 0; b < B; b++)
        memcpy(dlpL + (size_t)b * L, dlp + (size_t)b * T, T * sizeof *dlp);
    REQUIRE(srl_model_backward_logprob(actor, dlpL) == 0);
    check_grads(&f, actor, "actor");

    // the same step on width L (our model's layout, last column masked) gives the same loss
    {
        float *ML = calloc(BL, sizeof(float)), *oL = calloc(BL, sizeof(float));
        float *aL = calloc(BL, sizeof(float)), *gL = calloc(BL, sizeof(float));
        int *eL = malloc(B * sizeof *eL);
        if (ML && oL && aL && gL && eL) {
            for (int b = 0; b < B; b++) {
                memcpy(ML + (size_t)b * L, M + (size_t)b * T, T * sizeof(float));
                memcpy(oL + (size_t)b * L, old_lp + (size_t)b * T, T * sizeof(float));
                memcpy(aL + (size_t)b * L, adv + (size_t)b * T, T * sizeof(float));
            }
            float l2;
            EXPECT(srl_ppo_end_index(ML, start, B, L, eL) == 0 && !memcmp(eL, end, B * 4));
            EXPECT(srl_ppo_actor_loss(lpL, oL, aL, ML, start, B, L, po.clip_range_ratio, &l2,
                                      gL, NULL) == 0 && l2 == aloss, "width L: %g vs %g", l2,
                   aloss);
        }
        free(ML), free(oL), free(aL), free(gL), free(eL);
    }
    free(lpL);

    // critics: values from our score model, both losses, the reward critic's gradients
    snprintf(path, sizeof path, "%s/critic", PPO_DIR);
    rc = srl_model_load(path, srl_backend_cpu(), &critic);
    REQUIRE(rc == 0, "%s: %s", path, srl_strerror(rc));
    REQUIRE(srl_model_zero_grad(critic) == 0);
    REQUIRE(srl_model_forward(critic, tok, pos, B, L) == 0);
    for (int b = 0; b < B; b++)
        memcpy(val + (size_t)b * T, critic->scores + (size_t)b * L, T * sizeof *val);
    if ((want = fx(&f, "values", BT))) {
        for (size_t i = 0; i < BT; i++) /* pad positions: not compared */
            if (am[(i / T) * L + i % T] == 0)
                want[i] = val[i];
        test_close("critic values", val, want, BT, 2e-5f, 1e-4f);
    }
    free(want);
    float rv = (float)srl_ppo_masked_mean(val, M, start, B, T);
    float want_rv = (float)json_number_value(json_object_get(json_object_get(f.meta, "metrics"),
                                                             "reward_value"));
    test_close("reward_value (masked mean)", &rv, &want_rv, 1, 1e-5f, 1e-5f);
    float rl, cl, want_rl = (float)fnum(&f, "rcritic_loss"), want_cl = (float)fnum(&f,
                                                                                   "ccritic_loss");
    REQUIRE(srl_ppo_critic_loss(val, ovr, rr, M, start, B, T, po.clip_range_value, &rl, dv)
            == 0);
    test_close("reward critic loss", &rl, &want_rl, 1, 1e-5f, 1e-5f);
    if ((want = fx(&f, "drvalues", BT)))
        test_close("reward critic dL/dvalues", dv, want, BT, 1e-6f, 1e-4f);
    free(want);
    for (int b = 0; b < B; b++)
        memcpy(dvL + (size_t)b * L, dv + (size_t)b * T, T * sizeof *dv);
    REQUIRE(srl_model_backward_score(critic, dvL) == 0);
    check_grads(&f, critic, "critic");
    REQUIRE(srl_ppo_critic_loss(val, ovc, cr, M, start, B, T, po.clip_range_value, &cl, dv)
            == 0);
    test_close("cost critic loss", &cl, &want_cl, 1, 1e-5f, 1e-5f);
    if ((want = fx(&f, "dcvalues", BT)))
        test_close("cost critic dL/dvalues", dv, want, BT, 1e-6f, 1e-4f);
    free(want);
out:
    json_decref(f.meta);
    srl_st_close(f.ref);
    srl_model_free(actor);
    srl_model_free(critic);
    free(tok), free(pos), free(tgt), free(start), free(end), free(ids), free(am), free(old_lp);
    free(ref_lp), free(R), free(C), free(ovr), free(ovc), free(M), free(rw), free(cs), free(ra);
    free(rr), free(ca), free(cr), free(adv), free(lp), free(dlp), free(dlpL), free(val);
    free(dv), free(dvL);
}

int main(void)
{
    srl_log_set_level(SRL_LOG_OFF);
    RUN(test_gae_ragged);
    RUN(test_shape_and_end);
    RUN(test_losses_finite_differences);
    RUN(test_lambda_sgd);
    RUN(test_lambda_pid);
    RUN(test_lambda_state);
    RUN(test_ppo_fixture);
    return test_summary();
}
