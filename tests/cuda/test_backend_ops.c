/* test_backend_ops.c -- every op of the CUDA backend against the CPU backend on random inputs
 * (ggml test-backend-ops): forward and backward, with max abs / max rel error and NMSE
 * (mse(gpu, cpu) / mse(cpu, 0)) per op, each against its own NMSE threshold.  Matrix products
 * run in fp32 (exact mode) first, then once in bf16 with a looser threshold.
 * Without a CUDA build or a visible device every test prints SKIP and the binary passes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "backend.h"
#include "backend_cuda.h"
#include "rng.h"
#include "srl.h"
#include "test.h"
#ifdef SRL_CUDA
#include "kernels.h"
#endif

static const struct srl_backend *cpu, *gpu;
static struct srl_rng rng;
static int ndev;

// --- buffers: a host array (what the CPU backend uses) and its device twin --------------------

static float *hrand(size_t n, float sd)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(sd * srl_rng_normal(&rng));
    return p;
}

static void *dcopy(const void *h, size_t bytes)
{
    void *d = gpu->alloc(bytes);
    if (d && bytes) gpu->upload(d, h, bytes);
    return d;
}

/* Compare the device result d against the CPU result h (n floats); PASS when the NMSE is at
 * most tol.  Prints the errors either way. */
static int cmp(const char *what, const float *h, const float *d, size_t n, double tol)
{
    float *g = malloc(sizeof(float) * (n ? n : 1));
    gpu->download(g, d, sizeof(float) * n);
    double se = 0, ref = 0, maxabs = 0, maxrel = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)g[i] - h[i]);
        se += e * e;
        ref += (double)h[i] * h[i];
        if (e > maxabs) maxabs = e;
        double r = e / (fabs(h[i]) > 1e-6 ? fabs(h[i]) : 1e-6);
        if (r > maxrel) maxrel = r;
        if (isnan(g[i]) != isnan(h[i])) se = INFINITY;
    }
    double nmse = ref > 0 ? se / ref : se;
    int ok = nmse <= tol;
    printf("  %-22s n=%-8zu maxabs=%.3e maxrel=%.3e nmse=%.3e (tol %.0e)%s\n", what, n, maxabs,
           maxrel, nmse, tol, ok ? "" : "  <-- too large");
    free(g);
    if (!ok) test_failed_now = 1;
    return ok;
}

#define NEED_GPU()                                                                            \
    do {                                                                                      \
        if (!gpu) SKIP("%s", ndev < 0 ? "no CUDA in this build" : "no CUDA device");          \
    } while (0)

#define TOL_EXACT 1e-12 /* elementwise ops: only libm ulps differ */
#define TOL_RED 1e-10   /* reductions in another order */
#define TOL_GEMM 1e-9   /* fp32 products and what is built from them */

// --- matmul ----------------------------------------------------------------------------------

static void matmul_case(int M, int N, int K, bool ta, bool tb, float alpha, float beta,
                        double tol)
{
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = hrand(na, 1), *B = hrand(nb, 1), *C = hrand(nc, 1);
    float *dA = dcopy(A, na * 4), *dB = dcopy(B, nb * 4), *dC = dcopy(C, nc * 4);
    cpu->matmul(C, A, B, M, N, K, ta, tb, lda, ldb, ldc, alpha, beta);
    gpu->matmul(dC, dA, dB, M, N, K, ta, tb, lda, ldb, ldc, alpha, beta);
    char what[64];
    snprintf(what, sizeof what, "matmul %c%c %dx%dx%d", ta ? 't' : 'n', tb ? 't' : 'n', M, N, K);
    cmp(what, C, dC, nc, tol);
    free(A), free(B), free(C);
    gpu->free(dA), gpu->free(dB), gpu->free(dC);
}

static void test_matmul(void)
{
    NEED_GPU();
    for (int t = 0; t < 4; t++)
        matmul_case(67, 45, 129, t & 1, t & 2, 1.0f, t == 3 ? 1.0f : 0.0f, TOL_GEMM);
    matmul_case(1, 300, 64, false, true, 1.0f, 0.0f, TOL_GEMM);  // a decoding step
    matmul_case(64, 1, 96, false, true, 0.5f, 1.0f, TOL_GEMM);   // a score head
    matmul_case(256, 256, 256, false, false, 1.0f, 0.0f, TOL_GEMM);
}

static void test_matmul_bf16(void)
{
    NEED_GPU();
#ifdef SRL_CUDA
    enum srl_cuda_math saved = srl_cuda_get_math();
    srl_cuda_set_math(SRL_CUDA_MATH_BF16);
    for (int t = 0; t < 4; t++)
        matmul_case(128, 96, 256, t & 1, t & 2, 1.0f, 0.0f, 1e-4); // bf16 rounding: 2^-8 each
    srl_cuda_set_math(saved);
#endif
}

// --- embeddings and norms --------------------------------------------------------------------

static void test_embedding(void)
{
    NEED_GPU();
    int N = 37, C = 48, V = 11, P = 40;
    int32_t tok[37], pos[37];
    for (int n = 0; n < N; n++) {
        tok[n] = (int32_t)srl_rng_below(&rng, V);
        pos[n] = n % 5 == 4 ? -1 : (int32_t)srl_rng_below(&rng, P);
    }
    float *wte = hrand((size_t)V * C, 1), *wpe = hrand((size_t)P * C, 1);
    float *out = hrand((size_t)N * C, 1), *dout = hrand((size_t)N * C, 1);
    float *dwte = hrand((size_t)V * C, 1), *dwpe = hrand((size_t)P * C, 1);
    int32_t *dtok = dcopy(tok, sizeof tok), *dpos = dcopy(pos, sizeof pos);
    float *dwte_w = dcopy(wte, (size_t)V * C * 4), *dwpe_w = dcopy(wpe, (size_t)P * C * 4);
    float *dout_d = dcopy(dout, (size_t)N * C * 4), *o_d = gpu->alloc((size_t)N * C * 4);
    float *gwte = dcopy(dwte, (size_t)V * C * 4), *gwpe = dcopy(dwpe, (size_t)P * C * 4);
    cpu->embedding_fwd(out, tok, pos, wte, wpe, N, C);
    gpu->embedding_fwd(o_d, dtok, dpos, dwte_w, dwpe_w, N, C);
    cmp("embedding_fwd", out, o_d, (size_t)N * C, TOL_EXACT);
    cpu->embedding_fwd(out, tok, NULL, wte, NULL, N, C);
    gpu->embedding_fwd(o_d, dtok, NULL, dwte_w, NULL, N, C);
    cmp("embedding_fwd nopos", out, o_d, (size_t)N * C, TOL_EXACT);
    cpu->embedding_bwd(dwte, dwpe, dout, tok, pos, N, C);
    gpu->embedding_bwd(gwte, gwpe, dout_d, dtok, dpos, N, C);
    cmp("embedding_bwd dwte", dwte, gwte, (size_t)V * C, TOL_RED);
    cmp("embedding_bwd dwpe", dwpe, gwpe, (size_t)P * C, TOL_RED);
    free(wte), free(wpe), free(out), free(dout), free(dwte), free(dwpe);
    gpu->free(dtok), gpu->free(dpos), gpu->free(dwte_w), gpu->free(dwpe_w), gpu->free(dout_d);
    gpu->free(o_d), gpu->free(gwte), gpu->free(gwpe);
}

static void norm_case(bool layer, bool acc)
{
    int N = 45, C = 300;
    size_t nc = (size_t)N * C;
    float *x = hrand(nc, 2), *w = hrand(C, 1), *b = hrand(C, 1), *g = hrand(nc, 1);
    float *out = hrand(nc, 1), *mean = hrand(N, 1), *rstd = hrand(N, 1), *dx = hrand(nc, 1);
    float *dw = hrand(C, 1), *db = hrand(C, 1);
    float *x_d = dcopy(x, nc * 4), *w_d = dcopy(w, C * 4), *b_d = dcopy(b, C * 4);
    float *g_d = dcopy(g, nc * 4), *out_d = gpu->alloc(nc * 4), *mean_d = gpu->alloc(N * 4);
    float *rstd_d = gpu->alloc(N * 4), *dx_d = dcopy(dx, nc * 4), *dw_d = dcopy(dw, C * 4);
    float *db_d = dcopy(db, C * 4);
    char what[64];
    const char *nm = layer ? "layernorm" : "rmsnorm";
    if (layer) {
        cpu->layernorm_fwd(out, mean, rstd, x, w, b, N, C, 1e-5f);
        gpu->layernorm_fwd(out_d, mean_d, rstd_d, x_d, w_d, b_d, N, C, 1e-5f);
        cpu->layernorm_bwd(dx, dw, db, g, x, w, mean, rstd, N, C, acc);
        gpu->layernorm_bwd(dx_d, dw_d, db_d, g_d, x_d, w_d, mean_d, rstd_d, N, C, acc);
    } else {
        cpu->rmsnorm_fwd(out, rstd, x, w, N, C, 1e-6f);
        gpu->rmsnorm_fwd(out_d, rstd_d, x_d, w_d, N, C, 1e-6f);
        cpu->rmsnorm_bwd(dx, dw, g, x, w, rstd, N, C, acc);
        gpu->rmsnorm_bwd(dx_d, dw_d, g_d, x_d, w_d, rstd_d, N, C, acc);
    }
    snprintf(what, sizeof what, "%s_fwd", nm);
    cmp(what, out, out_d, nc, TOL_RED);
    snprintf(what, sizeof what, "%s_fwd rstd", nm);
    cmp(what, rstd, rstd_d, N, TOL_RED);
    snprintf(what, sizeof what, "%s_bwd dinp%s", nm, acc ? " +=" : "");
    cmp(what, dx, dx_d, nc, TOL_RED);
    snprintf(what, sizeof what, "%s_bwd dw", nm);
    cmp(what, dw, dw_d, C, TOL_RED);
    if (layer) cmp("layernorm_bwd db", db, db_d, C, TOL_RED);
    free(x), free(w), free(b), free(g), free(out), free(mean), free(rstd), free(dx), free(dw);
    free(db);
    gpu->free(x_d), gpu->free(w_d), gpu->free(b_d), gpu->free(g_d), gpu->free(out_d);
    gpu->free(mean_d), gpu->free(rstd_d), gpu->free(dx_d), gpu->free(dw_d), gpu->free(db_d);
}

static void test_norms(void)
{
    NEED_GPU();
    norm_case(false, false);
    norm_case(false, true);
    norm_case(true, false);
    norm_case(true, true);
}

static void test_rope(void)
{
    NEED_GPU();
    int N = 29, H = 3, D = 16, ld = 3 * 16 + 2 * 16 + 5;
    size_t n = (size_t)N * ld;
    int32_t pos[29];
    for (int i = 0; i < N; i++)
        pos[i] = i % 7 == 6 ? -1 : i * 37;
    float *x = hrand(n, 1), *x_d = dcopy(x, n * 4);
    int32_t *pos_d = dcopy(pos, sizeof pos);
    cpu->rope_fwd(x, pos, N, ld, H, D, 10000.0f);
    gpu->rope_fwd(x_d, pos_d, N, ld, H, D, 10000.0f);
    cmp("rope_fwd", x, x_d, n, 1e-11);
    cpu->rope_bwd(x, pos, N, ld, H, D, 10000.0f);
    gpu->rope_bwd(x_d, pos_d, N, ld, H, D, 10000.0f);
    cmp("rope_bwd", x, x_d, n, 1e-11);
    free(x);
    gpu->free(x_d), gpu->free(pos_d);
}

// --- attention -------------------------------------------------------------------------------

/* Fused qkv rows as the model lays them out: q (NH*D) | k (KVH*D) | v (KVH*D). */
static void attention_case(int B, int T, int NH, int KVH, int D, bool padding)
{
    int ld = (NH + 2 * KVH) * D;
    size_t nq = (size_t)B * T * ld, no = (size_t)B * T * NH * D, na = (size_t)B * NH * T * T;
    float scale = 1.0f / sqrtf((float)D);
    int32_t *pos = malloc(sizeof(int32_t) * B * T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) // left padding of b tokens in row b
            pos[b * T + t] = padding && t < b % T ? -1 : t;
    float *qkv = hrand(nq, 1), *out = hrand(no, 1), *att = hrand(na, 1), *dout = hrand(no, 1);
    float *dqkv = hrand(nq, 1), *datt = hrand(na, 1);
    float *qkv_d = dcopy(qkv, nq * 4), *out_d = gpu->alloc(no * 4), *att_d = gpu->alloc(na * 4);
    float *dout_d = dcopy(dout, no * 4), *dqkv_d = gpu->alloc(nq * 4);
    float *datt_d = gpu->alloc(na * 4);
    int32_t *pos_d = dcopy(pos, sizeof(int32_t) * B * T);
    const float *q = qkv, *k = qkv + NH * D, *v = k + KVH * D;
    const float *qd = qkv_d, *kd = qkv_d + NH * D, *vd = kd + KVH * D;
    cpu->attention_fwd(out, att, q, k, v, padding ? pos : NULL, B, T, NH, KVH, D, ld, ld, scale);
    gpu->attention_fwd(out_d, att_d, qd, kd, vd, padding ? pos_d : NULL, B, T, NH, KVH, D, ld, ld,
                       scale);
    char what[96];
    snprintf(what, sizeof what, "attn_fwd T=%d %d/%d D=%d%s", T, NH, KVH, D, padding ? " pad" : "");
    cmp(what, out, out_d, no, TOL_GEMM);
    cmp("  probabilities", att, att_d, na, TOL_GEMM);
    // backward from the CPU's probabilities on both sides, so it is checked on its own
    gpu->upload(att_d, att, na * 4);
    cpu->attention_bwd(dqkv, dqkv + NH * D, dqkv + (NH + KVH) * D, datt, dout, att, q, k, v, B,
                       T, NH, KVH, D, ld, ld, scale);
    gpu->attention_bwd(dqkv_d, dqkv_d + NH * D, dqkv_d + (NH + KVH) * D, datt_d, dout_d, att_d,
                       qd, kd, vd, B, T, NH, KVH, D, ld, ld, scale);
    snprintf(what, sizeof what, "attn_bwd T=%d %d/%d D=%d%s", T, NH, KVH, D, padding ? " pad" : "");
    cmp(what, dqkv, dqkv_d, nq, TOL_GEMM);
    free(pos), free(qkv), free(out), free(att), free(dout), free(dqkv), free(datt);
    gpu->free(qkv_d), gpu->free(out_d), gpu->free(att_d), gpu->free(dout_d), gpu->free(dqkv_d);
    gpu->free(datt_d), gpu->free(pos_d);
}

static void test_attention(void)
{
    NEED_GPU();
    attention_case(2, 7, 4, 4, 16, false);
    attention_case(3, 45, 4, 2, 32, true);
    attention_case(2, 100, 6, 1, 64, true);
    attention_case(1, 33, 2, 2, 256, false);
    attention_case(2, 130, 2, 2, 48, false); // D not a multiple of 32
}

static void test_attention_kv(void)
{
    NEED_GPU();
    int B = 3, NH = 4, KVH = 2, D = 32, cap = 70, start = 41, T = 5;
    int ldq = (NH + 2 * KVH) * D, ldkv = KVH * D;
    size_t nq = (size_t)B * T * ldq, nc = (size_t)B * cap * ldkv, no = (size_t)B * T * NH * D;
    int32_t *kpos = malloc(sizeof(int32_t) * B * cap);
    for (int b = 0; b < B; b++)
        for (int s = 0; s < cap; s++)
            kpos[b * cap + s] = s < 3 * b ? -1 : s >= start + T ? -1 : s - 3 * b;
    kpos[2 * cap + start + 1] = -1; // a padded query
    float *q = hrand(nq, 1), *kc = hrand(nc, 1), *vc = hrand(nc, 1), *out = hrand(no, 1);
    float *q_d = dcopy(q, nq * 4), *kc_d = dcopy(kc, nc * 4), *vc_d = dcopy(vc, nc * 4);
    float *out_d = gpu->alloc(no * 4);
    int32_t *kpos_d = dcopy(kpos, sizeof(int32_t) * B * cap);
    float scale = 1.0f / sqrtf((float)D);
    cpu->attention_fwd_kv(out, q, kc, vc, kpos, B, T, start, cap, NH, KVH, D, ldq, scale);
    gpu->attention_fwd_kv(out_d, q_d, kc_d, vc_d, kpos_d, B, T, start, cap, NH, KVH, D, ldq,
                          scale);
    cmp("attn_fwd_kv T=5", out, out_d, no, TOL_GEMM);
    cpu->attention_fwd_kv(out, q, kc, vc, kpos, B, 1, start + 4, cap, NH, KVH, D, ldq, scale);
    gpu->attention_fwd_kv(out_d, q_d, kc_d, vc_d, kpos_d, B, 1, start + 4, cap, NH, KVH, D, ldq,
                          scale);
    cmp("attn_fwd_kv T=1", out, out_d, (size_t)B * NH * D, TOL_GEMM);
    free(kpos), free(q), free(kc), free(vc), free(out);
    gpu->free(q_d), gpu->free(kc_d), gpu->free(vc_d), gpu->free(out_d), gpu->free(kpos_d);
}

// --- activations, elementwise, LM head -------------------------------------------------------

static void test_activations(void)
{
    NEED_GPU();
    int N = 33, F = 100;
    size_t nf = (size_t)N * F;
    float *gu = hrand(2 * nf, 2), *out = hrand(nf, 1), *dout = hrand(nf, 1);
    float *dgu = hrand(2 * nf, 1);
    float *gu_d = dcopy(gu, 2 * nf * 4), *out_d = gpu->alloc(2 * nf * 4);
    float *dout_d = dcopy(dout, nf * 4), *dgu_d = gpu->alloc(2 * nf * 4);
    cpu->swiglu_fwd(out, gu, N, F);
    gpu->swiglu_fwd(out_d, gu_d, N, F);
    cmp("swiglu_fwd", out, out_d, nf, TOL_EXACT);
    cpu->swiglu_bwd(dgu, dout, gu, N, F);
    gpu->swiglu_bwd(dgu_d, dout_d, gu_d, N, F);
    cmp("swiglu_bwd", dgu, dgu_d, 2 * nf, TOL_EXACT);
    cpu->gelu_fwd(out, gu, nf);
    gpu->gelu_fwd(out_d, gu_d, nf);
    cmp("gelu_fwd", out, out_d, nf, TOL_EXACT);
    cpu->gelu_bwd(dgu, dout, gu, nf);
    gpu->gelu_bwd(dgu_d, dout_d, gu_d, nf);
    cmp("gelu_bwd", dgu, dgu_d, nf, TOL_EXACT);
    cpu->add(out, gu, gu + nf, nf);
    gpu->add(out_d, gu_d, gu_d + nf, nf);
    cmp("add", out, out_d, nf, 0);
    // bias on a strided view: C = F columns of rows of 2F
    float *bias = hrand(F, 1), *db = hrand(F, 1);
    float *bias_d = dcopy(bias, F * 4), *db_d = dcopy(db, F * 4);
    gpu->upload(dgu_d, gu, 2 * nf * 4);
    cpu->bias_fwd(gu, bias, N, F, 2 * F);
    gpu->bias_fwd(dgu_d, bias_d, N, F, 2 * F);
    cmp("bias_fwd", gu, dgu_d, 2 * nf, 0);
    cpu->bias_bwd(db, gu, N, F, 2 * F);
    gpu->bias_bwd(db_d, dgu_d, N, F, 2 * F);
    cmp("bias_bwd", db, db_d, F, TOL_RED);
    free(gu), free(out), free(dout), free(dgu), free(bias), free(db);
    gpu->free(gu_d), gpu->free(out_d), gpu->free(dout_d), gpu->free(dgu_d), gpu->free(bias_d);
    gpu->free(db_d);
}

static void test_logprob(void)
{
    NEED_GPU();
    int N = 19, V = 5003;
    size_t nv = (size_t)N * V;
    int32_t tg[19];
    float dl[19];
    for (int n = 0; n < N; n++) {
        tg[n] = n % 6 == 5 ? -1 : (int32_t)srl_rng_below(&rng, V);
        dl[n] = n % 4 == 3 ? 0.0f : (float)srl_rng_normal(&rng);
    }
    float *logits = hrand(nv, 3), *logp = hrand(N, 1), *lse = hrand(N, 1);
    float *l_d = dcopy(logits, nv * 4), *logp_d = gpu->alloc(N * 4), *lse_d = gpu->alloc(N * 4);
    int32_t *tg_d = dcopy(tg, sizeof tg);
    float *dl_d = dcopy(dl, sizeof dl);
    cpu->logprob_fwd(logp, lse, logits, tg, N, V);
    gpu->logprob_fwd(logp_d, lse_d, l_d, tg_d, N, V);
    cmp("logprob_fwd logp", logp, logp_d, N, TOL_RED);
    cmp("logprob_fwd lse", lse, lse_d, N, TOL_RED);
    cpu->logprob_bwd(logits, dl, lse, tg, N, V);
    gpu->logprob_bwd(l_d, dl_d, lse_d, tg_d, N, V);
    cmp("logprob_bwd", logits, l_d, nv, TOL_RED);
    free(logits), free(logp), free(lse);
    gpu->free(l_d), gpu->free(logp_d), gpu->free(lse_d), gpu->free(tg_d), gpu->free(dl_d);
}

// --- optimiser and reductions ----------------------------------------------------------------

static void test_optim(void)
{
    NEED_GPU();
    size_t n = 300007;
    float *p = hrand(n, 1), *g = hrand(n, 1), *m = hrand(n, 0.1f), *v = hrand(n, 0.1f);
    for (size_t i = 0; i < n; i++)
        v[i] = fabsf(v[i]);
    float *p_d = dcopy(p, n * 4), *g_d = dcopy(g, n * 4), *m_d = dcopy(m, n * 4);
    float *v_d = dcopy(v, n * 4);
    double sc = cpu->sumsq(g, n), sg = gpu->sumsq(g_d, n);
    printf("  sumsq                  cpu %.17g gpu %.17g\n", sc, sg);
    EXPECT(fabs(sc - sg) <= 1e-12 * sc, "sumsq");
    cpu->scale(g, 0.37f, n);
    gpu->scale(g_d, 0.37f, n);
    cmp("scale", g, g_d, n, 0);
    for (int step = 1; step <= 3; step++) {
        float bc1 = 1.0f - powf(0.9f, step), bc2 = 1.0f - powf(0.95f, step);
        cpu->adamw_step(p, g, m, v, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, bc1, bc2);
        gpu->adamw_step(p_d, g_d, m_d, v_d, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, bc1, bc2);
    }
    cmp("adamw_step p", p, p_d, n, TOL_EXACT);
    cmp("adamw_step m", m, m_d, n, TOL_EXACT);
    cmp("adamw_step v", v, v_d, n, TOL_EXACT);
    free(p), free(g), free(m), free(v);
    gpu->free(p_d), gpu->free(g_d), gpu->free(m_d), gpu->free(v_d);
}

// --- the sampler's distribution --------------------------------------------------------------

#ifdef SRL_CUDA
static float *hdup(const float *h, size_t n)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    memcpy(p, h, sizeof(float) * n);
    return p;
}

static int by_prob_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Host reference of srl_cuda_sample_probs for one row. */
static void sample_probs_ref(float *p, const float *l, int V, float temp, int k, float top_p)
{
    float mx = -INFINITY, s = 0;
    for (int i = 0; i < V; i++)
        mx = fmaxf(mx, l[i] / temp);
    for (int i = 0; i < V; i++)
        s += p[i] = expf(l[i] / temp - mx);
    for (int i = 0; i < V; i++)
        p[i] /= s;
    float *sorted = hdup(p, V);
    qsort(sorted, V, sizeof(float), by_prob_desc);
    int keep = k > 0 && k < V ? k : V;
    float tot = 0;
    for (int i = 0; i < keep; i++)
        tot += sorted[i];
    if (top_p > 0 && top_p < 1) {
        float acc = 0;
        int j = 0;
        while (j < keep && acc < top_p * tot)
            acc += sorted[j++];
        keep = j;
        tot = acc;
    }
    float cut = sorted[keep - 1];
    for (int i = 0; i < V; i++)
        p[i] = p[i] >= cut ? p[i] / tot : 0.0f;
    free(sorted);
}
#endif

static void test_sample_probs(void)
{
    NEED_GPU();
#ifdef SRL_CUDA
    int N = 4, V = 3001;
    float *l = hrand((size_t)N * V, 2), *p = hrand((size_t)N * V, 1);
    float *l_d = dcopy(l, (size_t)N * V * 4), *p_d = gpu->alloc((size_t)N * V * 4);
    struct { float temp; int k; float top_p; } cases[] = {{1, 0, 1}, {0.7f, 50, 1}, {1, 0, 0.9f},
                                                          {1.3f, 40, 0.8f}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        for (int n = 0; n < N; n++)
            sample_probs_ref(p + (size_t)n * V, l + (size_t)n * V, V, cases[c].temp, cases[c].k,
                             cases[c].top_p);
        srl_cuda_sample_probs(p_d, l_d, N, V, cases[c].temp, cases[c].k, cases[c].top_p);
        char what[64];
        snprintf(what, sizeof what, "sample_probs t=%.1f k=%d p=%.1f", cases[c].temp, cases[c].k,
                 cases[c].top_p);
        cmp(what, p, p_d, (size_t)N * V, 1e-9);
    }
    free(l), free(p);
    gpu->free(l_d), gpu->free(p_d);
#endif
}

int main(void)
{
    srl_rng_seed(&rng, 1234);
    cpu = srl_backend_cpu();
    ndev = -1;
#ifdef SRL_CUDA
    ndev = srl_cuda_device_count();
    if (ndev > 0) {
        if (srl_backend_cuda(0, &gpu) < 0) gpu = NULL;
        else srl_backend_cuda_set_math("fp32"); // exact products to compare with OpenBLAS
    }
#endif
#ifdef SRL_TEST_SELF
    gpu = cpu; // -DSRL_TEST_SELF: the CPU stands in for the GPU, to check the harness itself
#endif
    RUN(test_matmul);
    RUN(test_matmul_bf16);
    RUN(test_embedding);
    RUN(test_norms);
    RUN(test_rope);
    RUN(test_attention);
    RUN(test_attention_kv);
    RUN(test_activations);
    RUN(test_logprob);
    RUN(test_optim);
    RUN(test_sample_probs);
    return test_summary();
}
