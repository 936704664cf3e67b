/* test_backend_cpu.c -- every CPU op against a naive loop or finite differences, and the whole
 * model's gradients (Llama and GPT-2, LM and score heads) against finite differences. */
#include <omp.h>
#include <stdint.h>

#include <sys/stat.h>

#include "backend.h"
#include "backend_cpu_internal.h"
#include "fileio.h"
#include "llama2c.h"
#include "model.h"
#include "rng.h"
#include "safetensors.h"
#include "srl.h"
#include "test.h"
#include "tokenizer.h"

static const struct srl_backend *be;
static struct srl_rng rng;

static float *randv(size_t n, float sd)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(sd * srl_rng_normal(&rng));
    return p;
}

static double dotd(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* Central differences of f() with respect to `count` random entries of x (n) (all of them when
 * n <= count), compared with g.  Passes when |g - fd| <= atol + rtol*|fd| everywhere. */
static int fd_check(const char *what, float *x, size_t n, const float *g, double (*f)(void *),
                    void *ctx, float eps, double atol, double rtol, size_t count)
{
    double worst = 0;
    int ok = 1;
    for (size_t j = 0; j < (n <= count ? n : count); j++) {
        size_t i = n <= count ? j : (size_t)srl_rng_below(&rng, n);
        float x0 = x[i];
        x[i] = x0 + eps;
        double fp = f(ctx);
        x[i] = x0 - eps;
        double fm = f(ctx);
        x[i] = x0;
        double fd = (fp - fm) / (2.0 * eps);
        double err = fabs(fd - g[i]);
        if (err > worst)
            worst = err;
        if (!(err <= atol + rtol * fabs(fd))) {
            if (ok)
                printf("  %s[%zu]: analytic %.6g vs numeric %.6g\n", what, i, g[i], fd);
            ok = 0;
        }
    }
    printf("  %-40s fd max_abs=%.3e%s\n", what, worst, ok ? "" : "  MISMATCH");
    if (!ok)
        test_failed_now = 1;
    return ok;
}

// --- matmul ----------------------------------------------------------------------------------

static void check_matmul(int M, int N, int K)
{
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            // stored shapes with padded leading dimensions
            int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
            int lda = ac + 3, ldb = bc + 2, ldc = N + 1;
            float *A = randv((size_t)ar * lda, 1), *B = randv((size_t)br * ldb, 1);
            float *C = randv((size_t)M * ldc, 1), *ref = malloc(sizeof(float) * M * ldc);
            memcpy(ref, C, sizeof(float) * M * ldc);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += (double)(ta ? A[k * lda + i] : A[i * lda + k]) *
                             (tb ? B[j * ldb + k] : B[k * ldb + j]);
                    ref[i * ldc + j] = (float)(0.5 * s + 0.25 * ref[i * ldc + j]);
                }
            be->matmul(C, A, B, M, N, K, ta, tb, lda, ldb, ldc, 0.5f, 0.25f);
            char what[64];
            snprintf(what, sizeof what, "matmul %dx%dx%d ta=%d tb=%d", M, N, K, ta, tb);
            // float sums of K unit-variance products drift like sqrt(K) ulps of their terms
            test_close(what, C, ref, (size_t)M * ldc, fmaxf(1e-5f, 1e-5f * sqrtf(K / 16.0f)),
                       1e-4f);
            free(A), free(B), free(C), free(ref);
        }
    }
}

static void test_matmul_transposes(void)
{
    check_matmul(7, 5, 9);
    check_matmul(1, 45, 13);     // one row: the sgemv path, one thread for a small B
    check_matmul(1, 301, 260);   // split over threads
    check_matmul(130, 70, 120);  // large enough to be split over threads
    // 2-64 rows against B (ta=0 tb=1: a decoding step): B read in place (the portable loop
    // too), odd row counts, N not a multiple of 3, K not a multiple of 8 and in two blocks of
    // up to 512 (beta applied once); 65 rows go through sgemm
    for (int portable = 0; portable < 2; portable++) {
        srl_cpu_small_m_portable = portable;
        check_matmul(3, 1030, 1021);
        check_matmul(15, 1030, 1021);
        check_matmul(64, 37, 600);
        srl_cpu_small_m_portable = false;
    }
    check_matmul(65, 37, 600);
}

/* The small-row path: the same bits on one thread and two and whatever the rows around a row,
 * and beta 0 never reads C. */
static void test_matmul_small_m(void)
{
    int M = 7, N = 2051, K = 1027; /* two blocks of K */
    float *A = randv((size_t)M * K, 1), *B = randv((size_t)N * K, 1);
    float *C[3];
    for (int c = 0; c < 3; c++) {
        C[c] = malloc(sizeof(float) * M * N);
        for (size_t i = 0; i < (size_t)M * N; i++)
            C[c][i] = NAN;
    }
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    be->matmul(C[0], A, B, M, N, K, false, true, K, K, N, 1.0f, 0.0f);
    omp_set_num_threads(2);
    be->matmul(C[1], A, B, M, N, K, false, true, K, K, N, 1.0f, 0.0f);
    // rows 1-5 alone: tiles of 4 and 1 rows where the 7 rows had 4 and 3
    be->matmul(C[2] + N, A + K, B, 5, N, K, false, true, K, K, N, 1.0f, 0.0f);
    omp_set_num_threads(saved);
    EXPECT(memcmp(C[0], C[1], sizeof(float) * M * N) == 0, "one thread and two differ");
    EXPECT(memcmp(C[1] + N, C[2] + N, sizeof(float) * 5 * N) == 0,
           "a row's sums depend on the rows beside it");
    int finite = 1;
    for (size_t i = 0; i < (size_t)M * N; i++)
        finite &= isfinite(C[0][i]) != 0;
    EXPECT(finite, "beta 0 read the NaNs in C");
    EXPECT(fabs(C[0][N + 7] - dotd(A + K, B + (size_t)7 * K, (size_t)K)) < 1e-4, "C[1][7]");
    // K = 0: no products, C = beta C (as sgemm)
    float c0 = C[0][5];
    be->matmul(C[0], A, B, 3, N, 0, false, true, K, K, N, 1.0f, 0.5f);
    EXPECT(C[0][5] == 0.5f * c0, "K = 0 gave %g for %g", C[0][5], 0.5f * c0);
    for (int c = 0; c < 3; c++)
        free(C[c]);
    free(A), free(B);
}

// --- norms -----------------------------------------------------------------------------------

struct norm_ctx {
    int N, C, layer;
    float *inp, *w, *b, *out, *mean, *rstd, *R;
};

static double norm_loss(void *p)
{
    struct norm_ctx *c = p;
    if (c->layer)
        be->layernorm_fwd(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C, 1e-5f);
    else
        be->rmsnorm_fwd(c->out, c->rstd, c->inp, c->w, c->N, c->C, 1e-6f);
    return dotd(c->out, c->R, (size_t)c->N * c->C);
}

static void check_norm(int layer)
{
    struct norm_ctx c = { .N = 6, .C = 33, .layer = layer };
    size_t nc = (size_t)c.N * c.C;
    c.inp = randv(nc, 1.5f), c.w = randv(c.C, 1), c.b = randv(c.C, 1), c.R = randv(nc, 1);
    for (size_t i = 0; i < nc; i++)
        c.inp[i] += 0.7f; // nonzero mean
    c.out = malloc(sizeof(float) * nc), c.mean = malloc(sizeof(float) * c.N);
    c.rstd = malloc(sizeof(float) * c.N);
    norm_loss(&c);
    // forward against a naive double loop
    float *ref = malloc(sizeof(float) * nc);
    for (int n = 0; n < c.N; n++) {
        const float *x = c.inp + (size_t)n * c.C;
        double m = 0, v = 0;
        for (int i = 0; i < c.C; i++)
            m += x[i];
        m = layer ? m / c.C : 0;
        for (int i = 0; i < c.C; i++)
            v += (x[i] - m) * (x[i] - m);
        double r = 1.0 / sqrt(v / c.C + (layer ? 1e-5 : 1e-6));
        for (int i = 0; i < c.C; i++)
            ref[n * c.C + i] = (float)((x[i] - m) * r * c.w[i] + (layer ? c.b[i] : 0));
    }
    test_close(layer ? "layernorm fwd" : "rmsnorm fwd", c.out, ref, nc, 1e-5f, 1e-5f);
    // backward: dinp overwrite and accumulate, dw, db
    float *dinp = calloc(nc, sizeof(float)), *dw = calloc(c.C, sizeof(float));
    float *db = calloc(c.C, sizeof(float)), *dinp2 = malloc(sizeof(float) * nc);
    if (layer)
        be->layernorm_bwd(dinp, dw, db, c.R, c.inp, c.w, c.mean, c.rstd, c.N, c.C, false);
    else
        be->rmsnorm_bwd(dinp, dw, c.R, c.inp, c.w, c.rstd, c.N, c.C, false);
    fd_check("norm dinp", c.inp, nc, dinp, norm_loss, &c, 1e-3f, 2e-3, 2e-3, 60);
    fd_check("norm dw", c.w, c.C, dw, norm_loss, &c, 1e-3f, 2e-3, 2e-3, 33);
    if (layer)
        fd_check("norm db", c.b, c.C, db, norm_loss, &c, 1e-3f, 2e-3, 2e-3, 33);
    for (size_t i = 0; i < nc; i++)
        dinp2[i] = 1.0f;
    norm_loss(&c);
    if (layer)
        be->layernorm_bwd(dinp2, dw, db, c.R, c.inp, c.w, c.mean, c.rstd, c.N, c.C, true);
    else
        be->rmsnorm_bwd(dinp2, dw, c.R, c.inp, c.w, c.rstd, c.N, c.C, true);
    for (size_t i = 0; i < nc; i++)
        dinp2[i] -= 1.0f;
    test_close("norm dinp accumulate", dinp2, dinp, nc, 1e-6f, 1e-5f);
    free(c.inp), free(c.w), free(c.b), free(c.R), free(c.out), free(c.mean), free(c.rstd);
    free(ref), free(dinp), free(dw), free(db), free(dinp2);
}

/* vexpf on the edges: NaN stays NaN (it was a left shift of a negative int, UBSan's report in
 * `make asan`), the infinities go to 0 and up, and ordinary values are within 2 ulp of expf. */
static void test_vexpf_edges(void)
{
    volatile float nan = NAN, inf = INFINITY;
    EXPECT(isnan(vexpf(nan)), "vexpf(NaN) is NaN");
    EXPECT(vexpf(-inf) == 0.0f, "vexpf(-inf) = 0");
    EXPECT(vexpf(inf) > 1e38f, "vexpf(inf) overflows upwards");
    float worst = 0;
    for (float x = -87.0f; x < 88.0f; x += 0.37f) {
        float rel = fabsf(vexpf(x) - expf(x)) / expf(x);
        worst = rel > worst ? rel : worst;
    }
    EXPECT(worst < 3e-7f, "vexpf within 2 ulp of expf (worst relative error %g)", worst);
}

static void test_rmsnorm(void)
{
    check_norm(0);
}

static void test_layernorm(void)
{
    check_norm(1);
}

// --- rope ------------------------------------------------------------------------------------

static void test_rope(void)
{
    int N = 5, H = 3, D = 8, ld = H * D + 4;
    float theta = 500.0f;
    int32_t pos[5] = { 0, 1, 7, 100, -1 };
    float *x = randv((size_t)N * ld, 1), *x0 = malloc(sizeof(float) * N * ld);
    float *ref = malloc(sizeof(float) * N * ld);
    memcpy(x0, x, sizeof(float) * N * ld);
    memcpy(ref, x, sizeof(float) * N * ld);
    // HF: q*cos + rotate_half(q)*sin, rotate_half(x) = [-x2, x1], freqs repeated twice
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < D; i++) {
                int j = i % (D / 2);
                double p = pos[n] < 0 ? 0 : pos[n];
                double ang = p * pow(theta, -2.0 * j / D);
                const float *xh = x0 + n * ld + h * D;
                double rot = i < D / 2 ? -xh[i + D / 2] : xh[i - D / 2];
                ref[n * ld + h * D + i] = (float)(xh[i] * cos(ang) + rot * sin(ang));
            }
    be->rope_fwd(x, pos, N, ld, H, D, theta);
    test_close("rope fwd", x, ref, (size_t)N * ld, 2e-5f, 1e-4f);
    be->rope_bwd(x, pos, N, ld, H, D, theta); // the inverse rotation restores the input
    test_close("rope bwd = inverse", x, x0, (size_t)N * ld, 1e-5f, 1e-5f);
    free(x), free(x0), free(ref);
}

// --- attention -------------------------------------------------------------------------------

struct attn_ctx {
    int B, T, NH, KVH, D, ld;
    const int32_t *pos;
    float *qkv, *out, *att, *R;
};

static double attn_loss(void *p)
{
    struct attn_ctx *c = p;
    float *q = c->qkv, *k = q + c->NH * c->D, *v = k + c->KVH * c->D;
    be->attention_fwd(c->out, c->att, q, k, v, c->pos, c->B, c->T, c->NH, c->KVH, c->D, c->ld,
                      c->ld, 1.0f / sqrtf((float)c->D));
    return dotd(c->out, c->R, (size_t)c->B * c->T * c->NH * c->D);
}

static void check_attention(const int32_t *pos, int T, const char *what)
{
    struct attn_ctx c = { .B = 2, .T = T, .NH = 4, .KVH = 2, .D = 6, .pos = pos };
    c.ld = (c.NH + 2 * c.KVH) * c.D + 2;
    size_t N = (size_t)c.B * c.T, no = N * c.NH * c.D;
    c.qkv = randv(N * c.ld, 1), c.R = randv(no, 1), c.out = malloc(sizeof(float) * no);
    c.att = malloc(sizeof(float) * c.B * c.NH * c.T * c.T);
    attn_loss(&c);
    // naive reference in double
    float *ref = calloc(no, sizeof(float));
    int qd = c.NH * c.D, kd = c.KVH * c.D;
    for (int b = 0; b < c.B; b++)
        for (int h = 0; h < c.NH; h++)
            for (int t = 0; t < c.T; t++) {
                const int32_t *pb = pos ? pos + b * c.T : NULL;
                if (pb && pb[t] < 0)
                    continue;
                double w[200], mx = -1e300, sum = 0;
                int kh = h / (c.NH / c.KVH);
                const float *q = c.qkv + (size_t)(b * c.T + t) * c.ld + h * c.D;
                for (int s = 0; s <= t; s++) {
                    const float *k = c.qkv + (size_t)(b * c.T + s) * c.ld + qd + kh * c.D;
                    w[s] = (pb && pb[s] < 0) ? -INFINITY : dotd(q, k, c.D) / sqrt(c.D);
                    mx = w[s] > mx ? w[s] : mx;
                }
                for (int s = 0; s <= t; s++)
                    sum += (w[s] = exp(w[s] - mx));
                for (int i = 0; i < c.D; i++) {
                    double o = 0;
                    for (int s = 0; s <= t; s++)
                        o += w[s] / sum *
                             c.qkv[(size_t)(b * c.T + s) * c.ld + qd + kd + kh * c.D + i];
                    ref[(size_t)(b * c.T + t) * qd + h * c.D + i] = (float)o;
                }
            }
    test_close(what, c.out, ref, no, 1e-5f, 1e-4f);
    float *dqkv = malloc(sizeof(float) * N * c.ld);
    float *datt = malloc(sizeof(float) * c.B * c.NH * c.T * c.T);
    for (size_t i = 0; i < N * c.ld; i++)
        dqkv[i] = 123.0f; // everything but the padding columns must be overwritten
    float *q = c.qkv, *k = q + qd, *v = k + kd;
    be->attention_bwd(dqkv, dqkv + qd, dqkv + qd + kd, datt, c.R, c.att, q, k, v, c.B, c.T,
                      c.NH, c.KVH, c.D, c.ld, c.ld, 1.0f / sqrtf((float)c.D));
    for (size_t n = 0; n < N; n++)
        dqkv[n * c.ld + c.ld - 1] = dqkv[n * c.ld + c.ld - 2] = 0.0f;
    fd_check("attention dqkv", c.qkv, N * c.ld, dqkv, attn_loss, &c, T > 64 ? 1e-2f : 1e-3f,
             2e-3, 2e-3, 200);
    free(c.qkv), free(c.R), free(c.out), free(c.att), free(ref), free(dqkv), free(datt);
}

static void test_attention(void)
{
    check_attention(NULL, 5, "attention fwd (GQA)");
    check_attention(NULL, 150, "attention fwd (T=150, causal blocks)");
}

static void test_attention_padding(void)
{
    // left padding in the first row, none in the second
    int32_t pos[10] = { -1, -1, 0, 1, 2, 0, 1, 2, 3, 4 };
    check_attention(pos, 5, "attention fwd (padding)");
}

// --- activations -----------------------------------------------------------------------------

struct act_ctx {
    int N, F, gelu;
    float *inp, *out, *R;
};

static double act_loss(void *p)
{
    struct act_ctx *c = p;
    if (c->gelu)
        be->gelu_fwd(c->out, c->inp, (size_t)c->N * c->F);
    else
        be->swiglu_fwd(c->out, c->inp, c->N, c->F);
    return dotd(c->out, c->R, (size_t)c->N * c->F);
}

static void test_swiglu_gelu(void)
{
    for (int gelu = 0; gelu < 2; gelu++) {
        struct act_ctx c = { .N = 4, .F = 10, .gelu = gelu };
        size_t nin = (size_t)c.N * c.F * (gelu ? 1 : 2), nout = (size_t)c.N * c.F;
        c.inp = randv(nin, 2), c.R = randv(nout, 1), c.out = malloc(sizeof(float) * nout);
        act_loss(&c);
        float *ref = malloc(sizeof(float) * nout), *din = malloc(sizeof(float) * nin);
        for (int n = 0; n < c.N; n++)
            for (int i = 0; i < c.F; i++) {
                double r;
                if (gelu) {
                    double x = c.inp[n * c.F + i];
                    r = 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
                } else {
                    double g = c.inp[n * 2 * c.F + i], u = c.inp[n * 2 * c.F + c.F + i];
                    r = g / (1 + exp(-g)) * u;
                }
                ref[n * c.F + i] = (float)r;
            }
        test_close(gelu ? "gelu fwd" : "swiglu fwd", c.out, ref, nout, 1e-6f, 1e-5f);
        if (gelu)
            be->gelu_bwd(din, c.R, c.inp, nin);
        else
            be->swiglu_bwd(din, c.R, c.inp, c.N, c.F);
        fd_check(gelu ? "gelu bwd" : "swiglu bwd", c.inp, nin, din, act_loss, &c, 1e-3f, 1e-3,
                 2e-3, 80);
        free(c.inp), free(c.R), free(c.out), free(ref), free(din);
    }
    float one = 1.0f, g;
    be->gelu_fwd(&g, &one, 1);
    EXPECT(fabsf(g - 0.8411920f) < 1e-6f, "gelu_new(1) = %.8f", g);
    // extreme inputs saturate cleanly (the vectorised exp clamps its argument)
    float x[8] = { -1e10f, -100, -30, -1e-8f, 0, 3e-8f, 50, 1e10f }, o[8], gu[16], s[8];
    be->gelu_fwd(o, x, 8);
    for (int i = 0; i < 8; i++) {
        double r = 0.5 * x[i] * (1 + tanh(sqrt(2 / M_PI) * (x[i] + 0.044715 * x[i] * x[i] * x[i])));
        EXPECT(fabs(o[i] - r) <= 1e-6 * fabs(r) + 1e-12, "gelu(%g) = %g, not %g", x[i], o[i], r);
    }
    for (int i = 0; i < 8; i++)
        gu[i] = x[i], gu[8 + i] = 2.0f;
    be->swiglu_fwd(s, gu, 1, 8);
    for (int i = 0; i < 8; i++) {
        double r = 2.0 * x[i] / (1 + exp(-(double)x[i]));
        EXPECT(fabs(s[i] - r) <= 1e-6 * fabs(r) + 1e-30, "swiglu(%g) = %g, not %g", x[i], s[i], r);
    }
}

// --- embeddings and biases -------------------------------------------------------------------

static void test_embedding_bias(void)
{
    int N = 6, C = 5, V = 4;
    int32_t tok[6] = { 1, 3, 1, 0, 1, 2 }, pos[6] = { 0, 1, 2, 0, 1, -1 };
    float *wte = randv((size_t)V * C, 1), *wpe = randv((size_t)3 * C, 1);
    float *out = malloc(sizeof(float) * N * C), *g = randv((size_t)N * C, 1);
    be->embedding_fwd(out, tok, pos, wte, wpe, N, C);
    float ref[30], dwte[20] = { 0 }, dwpe[15] = { 0 }, rdwte[20] = { 0 }, rdwpe[15] = { 0 };
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            int p = pos[n] < 0 ? 0 : pos[n];
            ref[n * C + c] = wte[tok[n] * C + c] + wpe[p * C + c];
            rdwte[tok[n] * C + c] += g[n * C + c];
            rdwpe[p * C + c] += g[n * C + c];
        }
    test_close("embedding fwd", out, ref, (size_t)N * C, 0, 0);
    be->embedding_bwd(dwte, dwpe, g, tok, pos, N, C);
    test_close("embedding dwte", dwte, rdwte, 20, 1e-6f, 1e-6f);
    test_close("embedding dwpe", dwpe, rdwpe, 15, 1e-6f, 1e-6f);
    float db[5] = { 1, 1, 1, 1, 1 }, rdb[5] = { 1, 1, 1, 1, 1 };
    be->bias_bwd(db, g, N, 4, C); // 4 of 5 columns, row stride 5
    for (int n = 0; n < N; n++)
        for (int c = 0; c < 4; c++)
            rdb[c] += g[n * C + c];
    test_close("bias dbias", db, rdb, 5, 1e-6f, 1e-6f);
    free(wte), free(wpe), free(out), free(g);
}

// --- log-probabilities / cross-entropy -------------------------------------------------------

struct lp_ctx {
    int N, V;
    float *logits, *logp, *lse, *dlogp;
    int32_t *tgt;
};

static double lp_loss(void *p)
{
    struct lp_ctx *c = p;
    be->logprob_fwd(c->logp, c->lse, c->logits, c->tgt, c->N, c->V);
    return dotd(c->logp, c->dlogp, c->N);
}

static void test_logprob(void)
{
    struct lp_ctx c = { .N = 5, .V = 11 };
    int32_t tgt[5] = { 3, 0, 10, -1, 7 };
    c.tgt = tgt;
    c.logits = randv((size_t)c.N * c.V, 3), c.dlogp = randv(c.N, 1);
    c.dlogp[1] = 0.0f;
    c.logp = malloc(sizeof(float) * c.N), c.lse = malloc(sizeof(float) * c.N);
    lp_loss(&c);
    float ref[5];
    for (int n = 0; n < c.N; n++) {
        double s = 0;
        for (int i = 0; i < c.V; i++)
            s += exp(c.logits[n * c.V + i]);
        ref[n] = tgt[n] < 0 ? 0.0f : (float)(c.logits[n * c.V + tgt[n]] - log(s));
    }
    test_close("logprob fwd", c.logp, ref, c.N, 1e-5f, 1e-5f);
    float *saved = malloc(sizeof(float) * c.N * c.V), *d = malloc(sizeof(float) * c.N * c.V);
    memcpy(saved, c.logits, sizeof(float) * c.N * c.V);
    memcpy(d, c.logits, sizeof(float) * c.N * c.V);
    be->logprob_bwd(d, c.dlogp, c.lse, c.tgt, c.N, c.V);
    fd_check("logprob dlogits", c.logits, (size_t)c.N * c.V, d, lp_loss, &c, 1e-2f, 1e-3, 2e-3,
             55);
    // rows with dlogp 0 or no target are zero
    for (int i = 0; i < c.V; i++)
        EXPECT(d[1 * c.V + i] == 0.0f && d[3 * c.V + i] == 0.0f, "row not zeroed at %d", i);
    free(c.logits), free(c.dlogp), free(c.logp), free(c.lse), free(saved), free(d);
}

static void test_reductions_adamw(void)
{
    float *x = randv(200000, 1);
    double ref = 0;
    for (size_t i = 0; i < 200000; i++)
        ref += (double)x[i] * x[i];
    double s = be->sumsq(x, 200000);
    EXPECT(fabs(s - ref) < 1e-9 * ref, "sumsq %.17g vs %.17g", s, ref);
    // one AdamW step from zero moments moves each parameter by about lr (sign of g)
    float p[3] = { 1, 1, 1 }, g[3] = { 0.5f, -2, 0 }, m[3] = { 0 }, v[3] = { 0 };
    be->adamw_step(p, g, m, v, 3, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1 - 0.9f, 1 - 0.999f);
    EXPECT(fabsf(p[0] - 0.9f) < 1e-5f && fabsf(p[1] - 1.1f) < 1e-5f && p[2] == 1.0f,
           "adamw %g %g %g", p[0], p[1], p[2]);
    free(x);
}

// --- whole model -----------------------------------------------------------------------------

static struct srl_config tiny_config(enum srl_arch arch)
{
    struct srl_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.head = SRL_HEAD_LM;
    c.vocab_size = 23;
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = arch == SRL_ARCH_LLAMA ? 2 : 4;
    c.head_dim = arch == SRL_ARCH_LLAMA ? 6 : 4; // Llama: head_dim != hidden/heads
    c.max_position_embeddings = 32;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tie_word_embeddings = arch == SRL_ARCH_GPT2;
    c.attention_bias = arch == SRL_ARCH_LLAMA;
    c.attention_out_bias = arch == SRL_ARCH_LLAMA;
    c.mlp_bias = arch == SRL_ARCH_LLAMA;
    c.num_labels = 1;
    c.bos_token_id = c.eos_token_id = c.pad_token_id = -1;
    return c;
}

enum { MB = 2, MT = 7 };

struct model_ctx {
    struct srl_model *m;
    int32_t tok[MB * MT], tgt[MB * MT], pos[MB * MT];
    float mask[MB * MT], R[MB * MT];
    bool use_pos;
};

static double model_loss(void *p)
{
    struct model_ctx *c = p;
    float loss = 0;
    srl_model_forward(c->m, c->tok, c->use_pos ? c->pos : NULL, MB, MT);
    if (c->m->cfg.head == SRL_HEAD_SCORE)
        return dotd(c->m->scores, c->R, MB * MT);
    srl_model_loss(c->m, c->tgt, c->mask, &loss);
    return loss;
}

static void model_backward(struct model_ctx *c)
{
    srl_model_zero_grad(c->m);
    model_loss(c);
    if (c->m->cfg.head == SRL_HEAD_SCORE)
        srl_model_backward_score(c->m, c->R);
    else
        srl_model_backward(c->m);
}

static void setup_ctx(struct model_ctx *c, const struct srl_config *cfg, uint64_t seed)
{
    int err;
    memset(c, 0, sizeof *c);
    c->m = srl_model_new(cfg, be, &err);
    if (!c->m)
        return;
    srl_model_init_random(c->m, seed);
    // larger weights than the HF init so that every gradient is well above float noise
    for (size_t i = 0; i < c->m->n_views; i++) {
        const struct srl_param_view *v = &c->m->views[i];
        for (size_t j = 0; j < v->numel; j++)
            c->m->params[v->offset + j] = v->no_decay
                ? c->m->params[v->offset + j] + 0.1f * (float)srl_rng_normal(&rng)
                : 10.0f * c->m->params[v->offset + j];
    }
    for (int n = 0; n < MB * MT; n++) {
        c->tok[n] = (int32_t)srl_rng_below(&rng, cfg->vocab_size);
        c->tgt[n] = (int32_t)srl_rng_below(&rng, cfg->vocab_size);
        c->mask[n] = n % MT >= 2 ? 1.0f : 0.0f;
        c->R[n] = (float)srl_rng_normal(&rng);
        c->pos[n] = n % MT;
    }
    c->tgt[MT - 1] = -1;
}

static void check_model(struct srl_config cfg, const char *what)
{
    struct model_ctx c;
    setup_ctx(&c, &cfg, 7);
    REQUIRE(c.m, "model_new failed");
    model_backward(&c);
    // every parameter tensor: its largest-gradient entry and two random ones
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < c.m->n_views; i++) {
        const struct srl_param_view *v = &c.m->views[i];
        float *g = c.m->grads + v->offset, *p = c.m->params + v->offset;
        size_t best = 0;
        for (size_t j = 0; j < v->numel; j++)
            if (fabsf(g[j]) > fabsf(g[best]))
                best = j;
        size_t idx[3] = { best, srl_rng_below(&rng, v->numel), srl_rng_below(&rng, v->numel) };
        for (int r = 0; r < 3; r++) {
            float x0 = p[idx[r]], eps = 3e-3f;
            p[idx[r]] = x0 + eps;
            double fp = model_loss(&c);
            p[idx[r]] = x0 - eps;
            double fm = model_loss(&c);
            p[idx[r]] = x0;
            double fd = (fp - fm) / (2 * eps), err = fabs(fd - g[idx[r]]);
            worst = err > worst ? err : worst;
            if (!(err <= 2e-3 + 3e-2 * fabs(fd))) {
                printf("  %s %s[%zu]: analytic %.6g vs numeric %.6g\n", what, v->name, idx[r],
                       g[idx[r]], fd);
                bad++;
            }
        }
    }
    printf("  %-40s %zu tensors, fd max_abs=%.3e\n", what, c.m->n_views, worst);
    EXPECT(bad == 0, "%d gradient entries differ", bad);
    srl_model_free(c.m);
}

static void test_model_grad_llama(void)
{
    check_model(tiny_config(SRL_ARCH_LLAMA), "llama (GQA, biases, untied)");
}

static void test_model_grad_llama_tied(void)
{
    struct srl_config cfg = tiny_config(SRL_ARCH_LLAMA);
    cfg.tie_word_embeddings = true;
    cfg.attention_bias = cfg.attention_out_bias = cfg.mlp_bias = false;
    cfg.head_dim = 0; // hidden / heads
    check_model(cfg, "llama (tied, no bias)");
}

static void test_model_grad_gpt2(void)
{
    check_model(tiny_config(SRL_ARCH_GPT2), "gpt2");
}

static void test_model_grad_score(void)
{
    struct srl_config cfg = tiny_config(SRL_ARCH_LLAMA);
    cfg.head = SRL_HEAD_SCORE;
    check_model(cfg, "llama score head");
    cfg = tiny_config(SRL_ARCH_GPT2);
    cfg.head = SRL_HEAD_SCORE;
    check_model(cfg, "gpt2 score head");
}

static void test_model_views(void)
{
    struct srl_config cfg = tiny_config(SRL_ARCH_LLAMA);
    int err;
    struct srl_model *m = srl_model_new(&cfg, be, &err);
    REQUIRE(m, "model_new");
    const struct srl_param_view *v = srl_model_find(m, "model.layers.1.self_attn.k_proj.weight");
    REQUIRE(v, "k_proj view");
    EXPECT(v->ndim == 2 && v->shape[0] == 12 && v->shape[1] == 16, "k_proj shape");
    EXPECT(srl_model_find(m, "lm_head.weight") != NULL, "untied lm_head");
    EXPECT(srl_model_find(m, "model.layers.0.input_layernorm.weight")->no_decay, "no_decay");
    size_t total = 0;
    for (size_t i = 0; i < m->n_views; i++)
        total += m->views[i].numel;
    EXPECT(total == m->n_params, "views cover the arena: %zu vs %zu", total, m->n_params);
    srl_model_free(m);
    cfg = tiny_config(SRL_ARCH_GPT2);
    m = srl_model_new(&cfg, be, &err);
    REQUIRE(m, "model_new gpt2");
    v = srl_model_find(m, "transformer.h.0.attn.c_attn.weight");
    REQUIRE(v, "c_attn view");
    EXPECT(v->shape[0] == 16 && v->shape[1] == 48, "c_attn is (in,out)");
    EXPECT(srl_model_find(m, "lm_head.weight") == NULL, "gpt2 tied");
    srl_model_free(m);
}

static void test_model_padding_and_mask(void)
{
    // left padding: a row's real tokens give the same logits as the unpadded row
    struct srl_config cfg = tiny_config(SRL_ARCH_LLAMA);
    struct model_ctx c;
    setup_ctx(&c, &cfg, 3);
    REQUIRE(c.m, "model_new");
    int V = cfg.vocab_size;
    int32_t tok[MB * MT], pos[MB * MT];
    for (int t = 0; t < MT; t++) {
        tok[t] = tok[MT + t] = c.tok[t];
        pos[t] = t, pos[MT + t] = t - 2;
    }
    for (int t = 0; t < 2; t++)
        tok[MT + t] = 0; // padding
    for (int t = 2; t < MT; t++)
        tok[MT + t] = c.tok[t - 2];
    REQUIRE(srl_model_forward(c.m, tok, pos, MB, MT) == 0, "forward");
    test_close("left-padded logits", c.m->logits + (size_t)(MT + 2) * V, c.m->logits,
               (size_t)(MT - 2) * V, 1e-5f, 1e-4f);
    // the loss is the mask-weighted token mean of -logp
    float logp[MB * MT], loss;
    REQUIRE(srl_model_logprobs(c.m, c.tgt, logp) == 0, "logprobs");
    REQUIRE(srl_model_loss(c.m, c.tgt, c.mask, &loss) == 0, "loss");
    double s = 0, w = 0;
    for (int n = 0; n < MB * MT; n++)
        if (c.tgt[n] >= 0) {
            s -= c.mask[n] * logp[n];
            w += c.mask[n];
        }
    EXPECT(fabs(loss - s / w) < 1e-5, "loss %g vs %g", loss, s / w);
    // backward consumes the logits: a second backward or log-prob needs a new forward
    EXPECT(srl_model_backward(c.m) == 0, "backward");
    EXPECT(srl_model_backward(c.m) == SRL_EINVAL, "second backward refused");
    EXPECT(srl_model_logprobs(c.m, c.tgt, logp) == SRL_EINVAL, "logprobs after backward");
    REQUIRE(srl_model_forward(c.m, c.tok, NULL, MB, MT) == 0, "forward");
    EXPECT(srl_model_backward(c.m) == SRL_EINVAL, "backward without a loss refused");
    EXPECT(srl_model_logprobs(c.m, c.tgt, logp) == 0, "logprobs");
    float dl[MB * MT] = { 0.5f };
    EXPECT(srl_model_backward_logprob(c.m, dl) == 0, "backward of log-probs");
    // a smaller shape after a larger one reuses the buffers; a larger one reallocates them
    float *ref = malloc(sizeof(float) * MT * V);
    REQUIRE(srl_model_forward(c.m, c.tok, NULL, 1, MT) == 0, "forward 1xT");
    memcpy(ref, c.m->logits, sizeof(float) * MT * V);
    REQUIRE(srl_model_forward(c.m, c.tok, NULL, 1, 3) == 0, "forward 1x3");
    test_close("shorter sequence, reused buffers", c.m->logits, ref, (size_t)3 * V, 1e-5f, 1e-4f);
    int32_t big[3 * 2 * MT];
    for (int i = 0; i < 3 * 2 * MT; i++)
        big[i] = c.tok[i % MT];
    REQUIRE(srl_model_forward(c.m, big, NULL, 3, 2 * MT) == 0, "forward 3x2T");
    test_close("longer sequence, new buffers", c.m->logits + (size_t)2 * 2 * MT * V, ref,
               (size_t)MT * V, 1e-5f, 1e-4f);
    free(ref);
    int32_t bad[MB * MT];
    memcpy(bad, c.tok, sizeof bad);
    bad[3] = V;
    EXPECT(srl_model_forward(c.m, bad, NULL, MB, MT) == SRL_EINVAL, "bad token rejected");
    srl_model_free(c.m);
}

/* Two identical contexts: the same weights and data (the second replays the RNG). */
static void setup_twins(struct model_ctx *a, struct model_ctx *b, const struct srl_config *cfg,
                        uint64_t seed)
{
    struct srl_rng save = rng;
    setup_ctx(a, cfg, seed);
    rng = save;
    setup_ctx(b, cfg, seed);
}

static void test_model_determinism(void)
{
    for (int arch = 0; arch < 2; arch++) {
        struct srl_config cfg = tiny_config(arch);
        struct model_ctx a, b;
        setup_twins(&a, &b, &cfg, 11);
        REQUIRE(a.m && b.m, "model_new");
        EXPECT(!memcmp(a.m->params, b.m->params, a.m->n_params * sizeof(float)), "same init");
        model_backward(&a);
        model_backward(&b);
        model_backward(&b); // a second step on the same model: zero_grad then the same sums
        EXPECT(!memcmp(a.m->grads, b.m->grads, a.m->n_params * sizeof(float)),
               "grads differ between runs (arch %d)", arch);
        srl_model_free(a.m);
        srl_model_free(b.m);
    }
}

/* The sparse LM head (srl_model_set_sparse_head) gives the dense head's log-probabilities,
 * loss and gradients, for the loss (rows with a target and mask) and for log-probs with an
 * upstream gradient (rows with a target). */
static void test_model_sparse_head(void)
{
    for (int arch = 0; arch < 2; arch++) {
        struct srl_config cfg = tiny_config(arch);
        struct model_ctx a, b;
        setup_twins(&a, &b, &cfg, 13);
        REQUIRE(a.m && b.m, "model_new");
        srl_model_set_sparse_head(b.m, true);
        int N = MB * MT;
        model_backward(&a);
        model_backward(&b);
        EXPECT(b.m->n_head > 0 && b.m->n_head < N, "the loss ran the head on %d of %d rows",
               b.m->n_head, N);
        float la, lb;
        REQUIRE(srl_model_loss(a.m, a.tgt, a.mask, &la) == SRL_EINVAL, "loss after backward");
        test_close(arch ? "sparse head loss grads (gpt2)" : "sparse head loss grads (llama)",
                   b.m->grads, a.m->grads, b.m->n_params, 1e-6f, 1e-5f);
        REQUIRE(srl_model_forward(a.m, a.tok, NULL, MB, MT) == 0 &&
                srl_model_forward(b.m, b.tok, NULL, MB, MT) == 0, "forward");
        REQUIRE(srl_model_loss(a.m, a.tgt, a.mask, &la) == 0 &&
                srl_model_loss(b.m, b.tgt, b.mask, &lb) == 0, "loss");
        EXPECT(fabsf(la - lb) <= 1e-6f * fabsf(la), "loss %.9g vs %.9g", lb, la);
        // log-probs of the rows with a target (prompt rows: target -1), then their backward
        float lpa[MB * MT], lpb[MB * MT], dl[MB * MT];
        int with_target = 0;
        for (int n = 0; n < N; n++) {
            a.tgt[n] = b.tgt[n] = n % MT < 3 ? -1 : a.tgt[n];
            with_target += a.tgt[n] >= 0;
            dl[n] = (float)srl_rng_normal(&rng);
        }
        srl_model_zero_grad(a.m);
        srl_model_zero_grad(b.m);
        REQUIRE(srl_model_forward(a.m, a.tok, NULL, MB, MT) == 0 &&
                srl_model_forward(b.m, b.tok, NULL, MB, MT) == 0, "forward");
        REQUIRE(srl_model_logprobs(a.m, a.tgt, lpa) == 0 &&
                srl_model_logprobs(b.m, b.tgt, lpb) == 0, "logprobs");
        EXPECT(b.m->n_head == with_target, "log-probs ran the head on %d rows, not %d",
               b.m->n_head, with_target);
        test_close("sparse head log-probs", lpb, lpa, (size_t)N, 1e-6f, 1e-6f);
        EXPECT(lpb[0] == 0.0f && lpb[MT + 2] == 0.0f, "no log-prob where no target");
        REQUIRE(srl_model_backward_logprob(a.m, dl) == 0 &&
                srl_model_backward_logprob(b.m, dl) == 0, "backward of log-probs");
        test_close("sparse head log-prob grads", b.m->grads, a.m->grads, b.m->n_params, 1e-6f,
                   1e-5f);
        srl_model_free(a.m);
        srl_model_free(b.m);
    }
}

/* KV-cache decoding gives the logits (scores) of a full forward: a prompt of 3 tokens at once,
 * then one token per call, with left padding in one row. */
static void check_decode(struct srl_config cfg, const char *what)
{
    struct model_ctx c;
    setup_ctx(&c, &cfg, 9);
    REQUIRE(c.m, "model_new");
    struct srl_model *m = c.m;
    int H = cfg.head == SRL_HEAD_SCORE ? 1 : cfg.vocab_size, P = 3;
    for (int t = 0; t < MT; t++)
        c.pos[MT + t] = t - 2; // row 1: two padding tokens first
    REQUIRE(srl_model_forward(m, c.tok, c.pos, MB, MT) == 0, "forward");
    size_t nfull = (size_t)MB * MT * H;
    float *full = malloc(sizeof(float) * nfull), *got = malloc(sizeof(float) * nfull);
    memcpy(full, H == 1 ? m->scores : m->logits, sizeof(float) * nfull);
    REQUIRE(srl_model_cache_reset(m, MB, MT + 1) == 0, "cache");
    int32_t tk[MB * MT], ps[MB * MT];
    for (int b = 0; b < MB; b++)
        for (int t = 0; t < P; t++)
            tk[b * P + t] = c.tok[b * MT + t], ps[b * P + t] = c.pos[b * MT + t];
    REQUIRE(srl_model_decode(m, tk, ps, P, false) == 0, "decode prompt");
    for (int b = 0; b < MB; b++)
        memcpy(got + (size_t)b * MT * H, m->dec_out + (size_t)b * P * H, sizeof(float) * P * H);
    for (int t = P; t < MT; t++) {
        for (int b = 0; b < MB; b++)
            tk[b] = c.tok[b * MT + t], ps[b] = c.pos[b * MT + t];
        REQUIRE(srl_model_decode(m, tk, ps, 1, true) == 0, "decode step %d", t);
        for (int b = 0; b < MB; b++)
            memcpy(got + ((size_t)b * MT + t) * H, m->dec_out + (size_t)b * H,
                   sizeof(float) * H);
    }
    // padding rows carry no meaning: compare the real tokens only
    for (int t = 0; t < 2; t++)
        memcpy(got + ((size_t)MT + t) * H, full + ((size_t)MT + t) * H, sizeof(float) * H);
    test_close(what, got, full, nfull, 2e-5f, 1e-4f);
    EXPECT(m->cache_len == MT, "cache_len %d", m->cache_len);
    EXPECT(srl_model_decode(m, tk, ps, 2, true) == SRL_EINVAL, "a full cache is an error");
    free(full);
    free(got);
    srl_model_free(m);
}

static void test_model_decode(void)
{
    check_decode(tiny_config(SRL_ARCH_LLAMA), "llama decode = forward");
    check_decode(tiny_config(SRL_ARCH_GPT2), "gpt2 decode = forward");
    struct srl_config cfg = tiny_config(SRL_ARCH_GPT2);
    cfg.head = SRL_HEAD_SCORE;
    check_decode(cfg, "gpt2 score decode = forward");
}

/* The real stories260K model, greedy through the KV cache (the whole batch of 3 identical
 * rows, one left-padded), reproduces llama2.c's run.c -t 0 -n 200 text exactly. */
static void test_stories260k_decode(void)
{
    char model[400], tokp[400], want_path[400], dir[] = "/tmp/test_backend_cpu.XXXXXX";
    const char *sh = test_shared_dir();
    snprintf(model, sizeof model, "%s/models/stories260K/stories260K.bin", sh);
    snprintf(tokp, sizeof tokp, "%s/models/stories260K/tok512.bin", sh);
    snprintf(want_path, sizeof want_path, "%s/models/stories260K/expected_run_c_t0_n200.txt",
             sh);
    if (!test_file_exists(model) || !test_file_exists(want_path))
        SKIP("%s absent", model);
    REQUIRE(mkdtemp(dir), "mkdtemp");
    char *out = srl_path_join(dir, "m");
    REQUIRE(out && mkdir(out, 0777) == 0, "mkdir");
    REQUIRE(srl_llama2c_convert(model, tokp, out, SRL_DTYPE_F32, NULL) == 0, "convert");
    struct srl_model *m = NULL;
    REQUIRE(srl_model_load(out, be, &m) == 0, "load");
    struct srl_tokenizer *tk = srl_tokenizer_load(out, NULL);
    REQUIRE(tk, "tokenizer");
    enum { R = 3, PAD = 2 };
    int V = m->cfg.vocab_size, n = 0, ids[200];
    REQUIRE(srl_model_cache_reset(m, R, 201 + PAD) == 0, "cache");
    // prompt: BOS, with two padding slots in front of it in row 1
    int32_t tok[R * (PAD + 1)], pos[R * (PAD + 1)];
    for (int r = 0; r < R; r++)
        for (int t = 0; t <= PAD; t++) {
            tok[r * (PAD + 1) + t] = t < PAD ? 0 : 1;
            pos[r * (PAD + 1) + t] = r == 1 ? t - PAD : (t < PAD ? -1 : 0);
        }
    REQUIRE(srl_model_decode(m, tok, pos, PAD + 1, true) == 0, "prompt");
    int same = 1;
    while (n < 200) {
        int next[R];
        for (int r = 0; r < R; r++) {
            const float *l = m->dec_out + (size_t)r * V;
            next[r] = 0;
            for (int v = 1; v < V; v++)
                if (l[v] > l[next[r]])
                    next[r] = v;
            same &= next[r] == next[0];
        }
        if (next[0] == 1)
            break;
        ids[n++] = next[0];
        int32_t p[R];
        for (int r = 0; r < R; r++)
            p[r] = n, tok[r] = next[0];
        REQUIRE(srl_model_decode(m, tok, p, 1, true) == 0, "step %d", n);
    }
    EXPECT(same, "rows disagree");
    char *text = NULL, *want = NULL;
    size_t wlen;
    REQUIRE(srl_tokenizer_decode(tk, ids, (size_t)n, 1, &text) >= 0, "decode text");
    REQUIRE(srl_read_file(want_path, &want, &wlen) == 0, "read expected");
    if (wlen && want[wlen - 1] == '\n')
        want[--wlen] = '\0';
    EXPECT(n == 200 && !strcmp(text, want), "greedy text differs:\n  got  %.80s\n  want %.80s",
           text, want);
    free(text);
    free(want);
    srl_tokenizer_free(tk);
    srl_model_free(m);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    EXPECT(system(cmd) == 0, "cleanup");
    free(out);
}

/* A backend whose transfers fail: every model entry point reports it (the return codes of
 * upload and download were ignored at 13 call sites). */
static int failing_transfer(void *dst, const void *src, size_t bytes)
{
    (void)dst, (void)src, (void)bytes;
    return SRL_EIO;
}

static void test_model_transfer_errors(void)
{
    struct srl_backend bad = *srl_backend_cpu();
    struct srl_config cfg = tiny_config(SRL_ARCH_LLAMA);
    int err;
    bad.upload = bad.download = failing_transfer;
    struct srl_model *m = srl_model_new(&cfg, &bad, &err);
    REQUIRE(m, "model_new");
    EXPECT(srl_model_init_random(m, 1) == SRL_EIO, "init_random reports the upload");
    int32_t tok[4] = { 1, 2, 3, 4 };
    EXPECT(srl_model_forward(m, tok, NULL, 1, 4) == SRL_EIO, "forward reports the upload");
    EXPECT(srl_model_cache_reset(m, 1, 8) == 0 && srl_model_decode(m, tok, NULL, 4, true) ==
           SRL_EIO, "decode reports the upload");
    srl_model_free(m);
}

static void test_model_save_load(void)
{
    char dir[] = "/tmp/test_backend_cpu.XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    struct srl_config cfg = tiny_config(SRL_ARCH_LLAMA);
    int err;
    struct srl_model *a = srl_model_new(&cfg, be, &err), *b = NULL;
    REQUIRE(a, "model_new");
    srl_model_init_random(a, 5);
    EXPECT(srl_model_save(a, dir, SRL_DTYPE_F32) == 0, "save");
    EXPECT(srl_model_load(dir, be, &b) == 0 && b, "load");
    if (b) {
        EXPECT(b->n_params == a->n_params && b->cfg.attention_bias && b->cfg.mlp_bias &&
                   !b->cfg.tie_word_embeddings && b->cfg.head_dim == 6,
               "config round trip");
        EXPECT(b->n_params == a->n_params &&
                   !memcmp(a->params, b->params, a->n_params * sizeof(float)),
               "fp32 parameters round trip exactly");
        srl_model_free(b);
        b = NULL;
    }
    // bf16: rounded to 8 bits of mantissa
    EXPECT(srl_model_save(a, dir, SRL_DTYPE_BF16) == 0, "save bf16");
    EXPECT(srl_model_load(dir, be, &b) == 0 && b, "load bf16");
    if (b) {
        test_close("bf16 round trip", b->params, a->params, a->n_params, 1e-30f, 4e-3f);
        srl_model_free(b);
    }
    EXPECT(srl_model_save(a, dir, SRL_DTYPE_F32) == 0, "save");
    // a missing tensor and a wrong shape are errors
    struct srl_config c2 = cfg;
    c2.intermediate_size = 32;
    b = srl_model_new(&c2, be, &err);
    EXPECT(b && srl_model_load_weights(b, dir, 0) == SRL_EFORMAT, "shape mismatch rejected");
    srl_model_free(b);
    c2 = cfg;
    c2.head = SRL_HEAD_SCORE;
    b = srl_model_new(&c2, be, &err);
    EXPECT(b && srl_model_load_weights(b, dir, 0) == SRL_EFORMAT, "missing score.weight");
    EXPECT(b && srl_model_load_weights(b, dir, SRL_LOAD_ALLOW_MISSING_HEAD) == 0,
           "score model from an LM checkpoint");
    if (b)
        EXPECT(!memcmp(b->params, a->params, sizeof(float) * 100), "weights loaded");
    srl_model_free(b);
    srl_model_free(a);
    // GPT-2 as stored by the original Hub checkpoints: names without "transformer."
    cfg = tiny_config(SRL_ARCH_GPT2);
    a = srl_model_new(&cfg, be, &err);
    REQUIRE(a, "model_new gpt2");
    srl_model_init_random(a, 6);
    EXPECT(srl_model_save(a, dir, SRL_DTYPE_F32) == 0, "save gpt2");
    struct srl_st_entry *e = calloc(a->n_views, sizeof *e);
    for (size_t i = 0; i < a->n_views; i++) {
        const struct srl_param_view *v = &a->views[i];
        e[i].name = strncmp(v->name, "transformer.", 12) ? v->name : v->name + 12;
        e[i].ndim = v->ndim;
        e[i].shape[0] = v->shape[0];
        e[i].shape[1] = v->shape[1];
        e[i].data = a->params + v->offset;
    }
    char *st = srl_path_join(dir, "model.safetensors");
    EXPECT(srl_st_write(st, e, a->n_views, SRL_DTYPE_F32, NULL) == 0, "write unprefixed");
    b = NULL;
    EXPECT(srl_model_load(dir, be, &b) == 0 && b, "load unprefixed GPT-2 names");
    if (b)
        EXPECT(!memcmp(a->params, b->params, a->n_params * sizeof(float)), "same parameters");
    srl_model_free(b);
    // an unexpected tensor is an error unless allowed (it loaded silently)
    struct srl_st_entry *e2 = calloc(a->n_views + 1, sizeof *e2);
    memcpy(e2, e, a->n_views * sizeof *e);
    e2[a->n_views] = e[0];
    e2[a->n_views].name = "h.0.attn.extra";
    EXPECT(srl_st_write(st, e2, a->n_views + 1, SRL_DTYPE_F32, NULL) == 0, "write extra");
    b = NULL;
    EXPECT(srl_model_load(dir, be, &b) == SRL_EFORMAT && !b, "an extra tensor is an error");
    EXPECT(srl_model_load_flags(dir, be, SRL_LOAD_ALLOW_EXTRA, &b) == 0 && b,
           "SRL_LOAD_ALLOW_EXTRA ignores it");
    srl_model_free(b);
    free(e2);
    // a weight stored as I32 (same size as F32) is refused (it was converted silently)
    EXPECT(srl_st_write(st, e, a->n_views, SRL_DTYPE_F32, NULL) == 0, "write");
    char *bytes = NULL;
    size_t len = 0;
    REQUIRE(srl_read_file(st, &bytes, &len) == 0);
    char *f32 = memmem(bytes, len, "\"F32\"", 5);
    REQUIRE(f32, "F32 in the header");
    memcpy(f32, "\"I32\"", 5);
    REQUIRE(srl_write_file_atomic(st, bytes, len) == 0);
    free(bytes);
    b = NULL;
    EXPECT(srl_model_load(dir, be, &b) == SRL_EFORMAT && !b, "an I32 weight is an error");
    srl_model_free(a);
    free(e);
    free(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    EXPECT(system(cmd) == 0, "cleanup");
}

/* OpenMP's thread count before the backend set OpenBLAS up */
static int omp_threads_before;

/* Setting OpenBLAS to one thread leaves OpenMP's thread count alone: with an OpenMP build of
 * OpenBLAS (tests/cli/openblas_openmp.sh runs this program on one) it set both to 1. */
static void test_backend_keeps_omp_threads(void)
{
    int inside = 0;
#pragma omp parallel
    {
#pragma omp single
        inside = omp_get_num_threads();
    }
    EXPECT(omp_get_max_threads() == omp_threads_before, "OpenMP threads %d, before %d",
           omp_get_max_threads(), omp_threads_before);
    EXPECT(inside == omp_threads_before, "a parallel region has %d threads, want %d", inside,
           omp_threads_before);
}

int main(void)
{
    omp_threads_before = omp_get_max_threads();
    be = srl_backend_cpu();
    // TEST_SEED varies the random data (the tolerances must hold for any of them)
    const char *seed = getenv("TEST_SEED");
    srl_rng_seed(&rng, seed ? strtoull(seed, NULL, 10) : 1234);
    RUN(test_backend_keeps_omp_threads);
    RUN(test_matmul_transposes);
    RUN(test_matmul_small_m);
    RUN(test_vexpf_edges);
    RUN(test_rmsnorm);
    RUN(test_layernorm);
    RUN(test_rope);
    RUN(test_attention);
    RUN(test_attention_padding);
    RUN(test_swiglu_gelu);
    RUN(test_embedding_bias);
    RUN(test_logprob);
    RUN(test_reductions_adamw);
    RUN(test_model_views);
    RUN(test_model_grad_llama);
    RUN(test_model_grad_llama_tied);
    RUN(test_model_grad_gpt2);
    RUN(test_model_grad_score);
    RUN(test_model_padding_and_mask);
    RUN(test_model_determinism);
    RUN(test_model_sparse_head);
    RUN(test_model_decode);
    RUN(test_model_save_load);
    RUN(test_model_transfer_errors);
    RUN(test_stories260k_decode);
    return test_summary();
}
