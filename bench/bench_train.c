/* bench_train.c -- sgemm peak of this machine and CPU training throughput / MFU.
 *
 * Prints JSON lines on stdout (progress on stderr):
 *   {"bench":"sgemm","via":"openblas"|"backend","M":..,"N":..,"K":..,"gflops":..}  per shape
 *   {"bench":"sgemm_peak","gflops":..,...}    the best of all sgemm measurements
 *   {"bench":"sgemm_split","M":..,"N":..,"K":..,"direct_gflops":..,"backend_gflops":..,
 *    "other_split_gflops":..,...}   the backend's split of C over the threads against
 *             OpenBLAS's own threading and the other split, interleaved (sgemm_splits)
 *   {"bench":"optimizer","previous_s":..,"fused_s":..,"speedup":..,"bitwise_identical":..}
 *             clipping + AdamW on GPT-2 124M's arena, the previous three passes against the fused
 *             step (srl_optim_clip_step; struct srl_optim's unfused flag keeps the previous)
 *   {"bench":"train","model":..,"optimizer":"previous"|"fused","B":..,"T":..,"tokens_per_s":..,
 *    "mfu":..,...,"forward_s":..,"backward_s":..,"optimizer_s":..,"optimizer_share":..}
 *             GPT-2 124M at T=64 and T=256 with each optimiser path, Llama with the fused one
 *   {"bench":"train_ops","model":..,"optimizer":..,"forward":{"matmul":s,...,"other":s,
 *    "total":s},"backward":{...},"optimizer":{...},"matmul_gflops":{...}}   seconds per step
 *             by op family
 *
 * Model FLOPs per token (PaLM appendix B, with causal attention counted at half the full
 * score matrix):  6 * N_mm + 6 * L * T * d
 *   N_mm      parameters used in matrix products (lookup-only embeddings -- GPT-2's wpe, an
 *             untied Llama's embed_tokens -- excluded; the tied wte counts once, as lm_head)
 *   6 N_mm    forward 2 flops per weight per token, backward 4
 *   6 L T d   QK^T and AV: 2*2*T*d forward flops per token per layer, times 3 for fwd+bwd,
 *             halved for the causal mask
 * MFU = model FLOPs per token * tokens/s / sgemm_peak (the best sgemm GFLOP/s measured in this
 * process, the ceiling for fp32 matrix products with the BLAS kernels the tools run with;
 * measured before and after the training runs, through OpenBLAS's own threading and through the
 * backend's matmul).  mfu_machine uses the best peak of any OpenBLAS kernel (see below).
 * Step times are medians over the timed steps (the machine may be shared).
 *
 * Environment: BENCH_QUICK=1 runs one timed step per model and short sgemm loops.
 * `bench_train --optimizer` prints the optimizer line alone, `--sgemm-split` the sgemm_split
 * lines, `--train T` the fused GPT-2 124M run at T alone, its MFU against the backend's sgemm
 * peak measured before and after it: scripts/bench-openblas.sh runs it on each of Debian's
 * OpenBLAS builds.
 * Every train line names the build that ran it: "openblas":"pthreads"|"openmp"|"serial". */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "backend_cpu_internal.h"
#include "config.h"
#include "model.h"
#include "optim.h"
#include "srl.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int quick;

// --- sgemm ------------------------------------------------------------------------------------

/* GFLOP/s of C (M,N) = A (M,K) * B (N,K)^T, the nn.Linear forward, repeated for >= min_s:
 * through OpenBLAS directly (its own threads) when be is NULL, else through be->matmul. */
static double bench_sgemm(const struct srl_backend *be, int M, int N, int K, double min_s)
{
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K);
    float *C = malloc(sizeof(float) * M * N);
    if (!A || !B || !C) {
        free(A), free(B), free(C);
        return 0.0;
    }
    for (size_t i = 0; i < (size_t)M * K; i++)
        A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < (size_t)N * K; i++)
        B[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
    int reps = 0;
    double t0 = 0.0, t = 0.0;
    for (int it = -1; t < min_s; it++) {
        if (it == 0)
            t0 = now(); /* the first call is a warm-up */
        if (be)
            be->matmul(C, A, B, M, N, K, false, true, K, K, N, 1.0f, 0.0f);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K,
                        0.0f, C, N);
        if (it >= 0) {
            reps++;
            t = now() - t0;
        }
    }
    free(A), free(B), free(C);
    return 2.0 * M * N * K * reps / t * 1e-9;
}

static const int shapes[][3] = {
    /* M (tokens), N (out), K (in) */
    {256, 768, 768},  {256, 3072, 768},  {256, 768, 3072},  {256, 50257, 768},
    {1024, 768, 768}, {1024, 3072, 768}, {1024, 768, 3072}, {1024, 50257, 768},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

/* The best GFLOP/s over the shapes, through OpenBLAS with its own threading (must run before
 * srl_backend_cpu() pins OpenBLAS to one thread) or through the CPU backend's matmul. */
static double sgemm_peak(const struct srl_backend *be, bool print, double min_s)
{
    double peak = 0.0;
    for (size_t i = 0; i < N_SHAPES; i++) {
        int M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
        if (!print && M < 1024)
            continue;
        double g = bench_sgemm(be, M, N, K, min_s);
        if (print) {
            printf("{\"bench\":\"sgemm\",\"via\":\"%s\",\"M\":%d,\"N\":%d,\"K\":%d,"
                   "\"gflops\":%.1f}\n", be ? "backend" : "openblas", M, N, K, g);
            fflush(stdout);
        }
        if (g > peak)
            peak = g;
    }
    return peak;
}

/* The backend's split of C over the threads against OpenBLAS threading itself, interleaved in
 * rounds (the best of each kept: the machine may be shared), for every shape:
 *   direct       cblas_sgemm on OpenBLAS's own nt threads (one packed copy of B, shared)
 *   backend      be->matmul: one single-threaded sgemm per thread on its block of C (rows
 *                or columns, srl_cpu_matmul_row_blocks), each packing its own operands
 *   other_split  the same with the other split (columns where the backend takes rows)
 * Prints one "sgemm_split" line per shape. */
static void sgemm_splits(double min_s)
{
    int nt = omp_get_max_threads();
    const struct srl_backend *be = srl_backend_cpu();
    for (size_t sh = 0; sh < N_SHAPES; sh++) {
        int M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2];
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K);
        float *C = malloc(sizeof(float) * M * N);
        if (!A || !B || !C) {
            free(A), free(B), free(C);
            return;
        }
        for (size_t i = 0; i < (size_t)M * K; i++)
            A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
        for (size_t i = 0; i < (size_t)N * K; i++)
            B[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
        int other_tr = srl_cpu_matmul_row_blocks(M, N, nt) == 1 ? nt : 1;
        double best[3] = {0};
        for (int round = 0; round < 3; round++) {
            for (int mode = 0; mode < 3; mode++) {
                int reps = 0;
                double t0 = 0.0, t = 0.0;
                if (mode == 0)
                    openblas_set_num_threads(nt);
                for (int it = -1; t < min_s / 3; it++) {
                    if (it == 0)
                        t0 = now(); /* the first call is a warm-up */
                    if (mode == 0)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K,
                                    B, K, 0.0f, C, N);
                    else if (mode == 1)
                        be->matmul(C, A, B, M, N, K, false, true, K, K, N, 1.0f, 0.0f);
                    else
                        srl_cpu_matmul_grid(C, A, B, M, N, K, false, true, K, K, N, 1.0f, 0.0f,
                                            nt, other_tr);
                    if (it >= 0) {
                        reps++;
                        t = now() - t0;
                    }
                }
                if (mode == 0)
                    openblas_set_num_threads(1); /* as the backend keeps it */
                double g = 2.0 * M * N * K * reps / t * 1e-9;
                best[mode] = g > best[mode] ? g : best[mode];
            }
        }
        printf("{\"bench\":\"sgemm_split\",\"M\":%d,\"N\":%d,\"K\":%d,\"threads\":%d,"
               "\"backend_split\":\"%s\",\"direct_gflops\":%.1f,\"backend_gflops\":%.1f,"
               "\"other_split_gflops\":%.1f,\"backend_over_direct\":%.2f,"
               "\"other_split_over_direct\":%.2f}\n",
               M, N, K, nt, other_tr == 1 ? "rows" : "columns", best[0], best[1], best[2],
               best[0] > 0 ? best[1] / best[0] : 0.0, best[0] > 0 ? best[2] / best[0] : 0.0);
        fflush(stdout);
        free(A), free(B), free(C);
    }
}

// --- a timing wrapper around the CPU backend ----------------------------------------------------

/* Every op of the model goes through struct srl_backend, so wrapping the table times each op
 * without touching the model: ops[phase][op] accumulates seconds (and matmul flops). */
enum phase { PH_FWD, PH_BWD, PH_OPT, N_PHASES };
static const char *const phase_names[N_PHASES] = {"forward", "backward", "optimizer"};
enum op {
    OP_MATMUL, OP_ATTN, OP_NORM, OP_ACT, OP_LOGPROB, OP_EMBED, OP_ROPE, OP_ELTWISE, OP_ADAMW,
    OP_CLIP, OP_MEM, N_OPS
};
static const char *const op_names[N_OPS] = {
    "matmul", "attention", "norm", "activation", "logprob", "embedding", "rope", "add_bias",
    "adamw", "clip", "memory"
};
static const struct srl_backend *cpu;
static int cur_phase;
static double op_s[N_PHASES][N_OPS], matmul_flops[N_PHASES];

#define TIMED(op, call)                                                                         \
    do {                                                                                        \
        double t0_ = now();                                                                     \
        call;                                                                                   \
        op_s[cur_phase][op] += now() - t0_;                                                     \
    } while (0)

static void t_matmul(float *C, const float *A, const float *B, int M, int N, int K, bool ta,
                     bool tb, int lda, int ldb, int ldc, float alpha, float beta)
{
    TIMED(OP_MATMUL, cpu->matmul(C, A, B, M, N, K, ta, tb, lda, ldb, ldc, alpha, beta));
    matmul_flops[cur_phase] += 2.0 * M * N * K;
}
static void t_attn_fwd(float *out, float *att, const float *q, const float *k, const float *v,
                       const int32_t *pos, int B, int T, int NH, int KVH, int D, int ldq,
                       int ldkv, float scale)
{
    TIMED(OP_ATTN, cpu->attention_fwd(out, att, q, k, v, pos, B, T, NH, KVH, D, ldq, ldkv,
                                      scale));
}
static void t_attn_bwd(float *dq, float *dk, float *dv, float *datt, const float *dout,
                       const float *att, const float *q, const float *k, const float *v, int B,
                       int T, int NH, int KVH, int D, int ldq, int ldkv, float scale)
{
    TIMED(OP_ATTN, cpu->attention_bwd(dq, dk, dv, datt, dout, att, q, k, v, B, T, NH, KVH, D, ldq,
                                      ldkv, scale));
}
static void t_rms_fwd(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                      float eps)
{
    TIMED(OP_NORM, cpu->rmsnorm_fwd(out, rstd, inp, w, N, C, eps));
}
static void t_rms_bwd(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                      const float *rstd, int N, int C, bool acc)
{
    TIMED(OP_NORM, cpu->rmsnorm_bwd(dinp, dw, dout, inp, w, rstd, N, C, acc));
}
static void t_ln_fwd(float *out, float *mean, float *rstd, const float *inp, const float *w,
                     const float *b, int N, int C, float eps)
{
    TIMED(OP_NORM, cpu->layernorm_fwd(out, mean, rstd, inp, w, b, N, C, eps));
}
static void t_ln_bwd(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, const float *mean, const float *rstd, int N, int C, bool acc)
{
    TIMED(OP_NORM, cpu->layernorm_bwd(dinp, dw, db, dout, inp, w, mean, rstd, N, C, acc));
}
static void t_swiglu_fwd(float *out, const float *gu, int N, int F)
{
    TIMED(OP_ACT, cpu->swiglu_fwd(out, gu, N, F));
}
static void t_swiglu_bwd(float *dgu, const float *dout, const float *gu, int N, int F)
{
    TIMED(OP_ACT, cpu->swiglu_bwd(dgu, dout, gu, N, F));
}
static void t_gelu_fwd(float *out, const float *inp, size_t n)
{
    TIMED(OP_ACT, cpu->gelu_fwd(out, inp, n));
}
static void t_gelu_bwd(float *dinp, const float *dout, const float *inp, size_t n)
{
    TIMED(OP_ACT, cpu->gelu_bwd(dinp, dout, inp, n));
}
static void t_logprob_fwd(float *logp, float *lse, const float *logits, const int32_t *targets,
                          int N, int V)
{
    TIMED(OP_LOGPROB, cpu->logprob_fwd(logp, lse, logits, targets, N, V));
}
static void t_logprob_bwd(float *logits, const float *dlogp, const float *lse,
                          const int32_t *targets, int N, int V)
{
    TIMED(OP_LOGPROB, cpu->logprob_bwd(logits, dlogp, lse, targets, N, V));
}
static void t_embed_fwd(float *out, const int32_t *tokens, const int32_t *pos, const float *wte,
                        const float *wpe, int N, int C)
{
    TIMED(OP_EMBED, cpu->embedding_fwd(out, tokens, pos, wte, wpe, N, C));
}
static void t_embed_bwd(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                        const int32_t *pos, int N, int C)
{
    TIMED(OP_EMBED, cpu->embedding_bwd(dwte, dwpe, dout, tokens, pos, N, C));
}
static void t_rope_fwd(float *x, const int32_t *pos, int N, int ld, int H, int D, float theta)
{
    TIMED(OP_ROPE, cpu->rope_fwd(x, pos, N, ld, H, D, theta));
}
static void t_rope_bwd(float *x, const int32_t *pos, int N, int ld, int H, int D, float theta)
{
    TIMED(OP_ROPE, cpu->rope_bwd(x, pos, N, ld, H, D, theta));
}
static void t_add(float *out, const float *a, const float *b, size_t n)
{
    TIMED(OP_ELTWISE, cpu->add(out, a, b, n));
}
static void t_bias_fwd(float *out, const float *bias, int N, int C, int ldo)
{
    TIMED(OP_ELTWISE, cpu->bias_fwd(out, bias, N, C, ldo));
}
static void t_bias_bwd(float *dbias, const float *dout, int N, int C, int ldd)
{
    TIMED(OP_ELTWISE, cpu->bias_bwd(dbias, dout, N, C, ldd));
}
static double t_sumsq(const float *x, size_t n)
{
    double r = 0.0;
    TIMED(OP_CLIP, r = cpu->sumsq(x, n));
    return r;
}
static void t_scale(float *x, float sc, size_t n)
{
    TIMED(OP_CLIP, cpu->scale(x, sc, n));
}
static void t_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                    float b2, float eps, float wd, float bc1, float bc2)
{
    TIMED(OP_ADAMW, cpu->adamw_step(p, g, m, v, n, lr, b1, b2, eps, wd, bc1, bc2));
}
static void t_adamw_scaled(float *p, const float *g, float *m, float *v, size_t n, float lr,
                           float b1, float b2, float eps, float wd, float bc1, float bc2,
                           float gscale)
{
    TIMED(OP_ADAMW, cpu->adamw_step_scaled(p, g, m, v, n, lr, b1, b2, eps, wd, bc1, bc2, gscale));
}
static void t_memset0(void *p, size_t bytes)
{
    TIMED(OP_MEM, cpu->memset0(p, bytes));
}
static void t_copy(void *dst, const void *src, size_t bytes)
{
    TIMED(OP_MEM, cpu->copy(dst, src, bytes));
}

/* The CPU backend with every op above timed. */
static struct srl_backend timed_backend(void)
{
    struct srl_backend t = *(cpu = srl_backend_cpu());
    t.name = "cpu-timed";
    t.matmul = t_matmul;
    t.attention_fwd = t_attn_fwd, t.attention_bwd = t_attn_bwd;
    t.rmsnorm_fwd = t_rms_fwd, t.rmsnorm_bwd = t_rms_bwd;
    t.layernorm_fwd = t_ln_fwd, t.layernorm_bwd = t_ln_bwd;
    t.swiglu_fwd = t_swiglu_fwd, t.swiglu_bwd = t_swiglu_bwd;
    t.gelu_fwd = t_gelu_fwd, t.gelu_bwd = t_gelu_bwd;
    t.logprob_fwd = t_logprob_fwd, t.logprob_bwd = t_logprob_bwd;
    t.embedding_fwd = t_embed_fwd, t.embedding_bwd = t_embed_bwd;
    t.rope_fwd = t_rope_fwd, t.rope_bwd = t_rope_bwd;
    t.add = t_add, t.bias_fwd = t_bias_fwd, t.bias_bwd = t_bias_bwd;
    t.sumsq = t_sumsq, t.scale = t_scale, t.adamw_step = t_adamw;
    t.adamw_step_scaled = t_adamw_scaled;
    t.memset0 = t_memset0, t.copy = t_copy;
    return t;
}

// --- training ---------------------------------------------------------------------------------

/* Parameters that take part in matrix products (see the top of the file). */
static double matmul_params(const struct srl_model *m)
{
    double n = 0.0;
    for (size_t i = 0; i < m->n_views; i++) {
        const struct srl_param_view *v = &m->views[i];
        if (v->ndim < 2)
            continue; /* norms and biases: no matmul flops worth counting */
        if (strstr(v->name, "wpe"))
            continue;
        if (strstr(v->name, "embed_tokens") && !m->cfg.tie_word_embeddings)
            continue;
        n += (double)v->numel;
    }
    return n;
}

#define MAX_ITERS 16

struct train_result {
    const char *label;
    bool unfused; /* the previous optimiser path (clip in place, reference AdamW loop) */
    int B, T, iters, ok;
    size_t params;
    double n_mm, flops_tok, loss;
    double fwd[MAX_ITERS], bwd[MAX_ITERS], opt[MAX_ITERS], tot[MAX_ITERS];
    double op_s[MAX_ITERS][N_PHASES][N_OPS], matmul_flops[N_PHASES]; /* per timed step */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *x, int n)
{
    double tmp[MAX_ITERS];
    memcpy(tmp, x, sizeof(double) * n);
    qsort(tmp, n, sizeof(double), cmp_double);
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

/* warmup + iters steps of forward (+loss), zero_grad + backward, clip + AdamW on one fixed
 * random batch; per-step phase times go into r. */
static void bench_train(struct train_result *r, const char *label, const struct srl_config *cfg,
                        int B, int T, int warmup, int iters, bool unfused)
{
    struct srl_model *m = NULL;
    struct srl_optim *o = NULL;
    struct srl_adamw_hparams hp;
    int err = 0;
    size_t N = (size_t)B * T;
    int32_t *tokens = malloc(N * sizeof *tokens), *targets = malloc(N * sizeof *targets);
    float *mask = malloc(N * sizeof *mask);
    memset(r, 0, sizeof *r);
    r->label = label, r->B = B, r->T = T, r->iters = iters < MAX_ITERS ? iters : MAX_ITERS;
    r->unfused = unfused;
    if (!tokens || !targets || !mask)
        goto out;
    static struct srl_backend tbe;
    tbe = timed_backend();
    if (!(m = srl_model_new(cfg, &tbe, &err))) {
        fprintf(stderr, "bench_train: cannot create %s: %s\n", label, srl_strerror(err));
        goto out;
    }
    srl_model_init_random(m, 1234);
    srl_adamw_defaults(&hp);
    hp.weight_decay = 0.1f;
    if (srl_optim_for_model(m, &hp, &o) < 0)
        goto out;
    o->unfused = unfused;
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < N; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        tokens[i] = (int32_t)(s % (uint64_t)cfg->vocab_size);
    }
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            targets[i] = t + 1 < T ? tokens[i + 1] : 0;
            mask[i] = t + 1 < T ? 1.0f : 0.0f;
        }
    }
    for (int it = 0; it < warmup + r->iters; it++) {
        float loss;
        memset(op_s, 0, sizeof op_s);
        memset(matmul_flops, 0, sizeof matmul_flops);
        cur_phase = PH_FWD;
        double t0 = now();
        if (srl_model_forward(m, tokens, NULL, B, T) < 0 ||
            srl_model_loss(m, targets, mask, &loss) < 0)
            goto out;
        double t1 = now();
        cur_phase = PH_BWD;
        if (srl_model_zero_grad(m) < 0 || srl_model_backward(m) < 0)
            goto out;
        double t2 = now();
        cur_phase = PH_OPT;
        double norm;
        if (srl_optim_clip_step(o, m->params, m->grads, 1.0, 1e-4f, &norm) < 0)
            goto out;
        double t3 = now();
        fprintf(stderr, "bench_train: %s B=%d T=%d%s %s %d: loss %.4f, %.2f s (fwd %.2f bwd %.2f "
                "opt %.2f)\n", label, B, T, unfused ? " (previous optimiser)" : "",
                it < warmup ? "warm-up" : "step", it, loss, t3 - t0, t1 - t0, t2 - t1, t3 - t2);
        if (it >= warmup) {
            int k = it - warmup;
            r->fwd[k] = t1 - t0, r->bwd[k] = t2 - t1, r->opt[k] = t3 - t2, r->tot[k] = t3 - t0;
            r->loss = loss;
            memcpy(r->op_s[k], op_s, sizeof op_s);
            memcpy(r->matmul_flops, matmul_flops, sizeof matmul_flops);
        }
    }
    r->params = m->n_params;
    r->n_mm = matmul_params(m);
    r->flops_tok = 6.0 * r->n_mm + 6.0 * cfg->num_hidden_layers * (double)T * cfg->hidden_size;
    r->ok = 1;
out:
    srl_optim_free(o);
    srl_model_free(m);
    free(tokens), free(targets), free(mask);
}

/* The optimiser alone on GPT-2 124M's arena: the previous path (the global norm, the gradients
 * scaled in place, the reference AdamW loop) against the fused one (the norm, then one AdamW
 * pass reading the gradients scaled), from the same state, alternately; their parameters and
 * moments must be bitwise equal.  Prints one "optimizer" line. */
static void bench_optimizer(const struct srl_config *cfg, int reps)
{
    const struct srl_backend *be = srl_backend_cpu();
    struct srl_adamw_hparams hp;
    struct srl_optim *prev = NULL, *fused = NULL;
    int err = 0;
    double t_prev[MAX_ITERS], t_fused[MAX_ITERS], norm = 0.0;
    struct srl_model *m = srl_model_new(cfg, be, &err);
    size_t n = m ? m->n_params : 0;
    float *p2 = malloc((n ? n : 1) * sizeof *p2), *g = malloc((n ? n : 1) * sizeof *g);
    srl_adamw_defaults(&hp);
    hp.weight_decay = 0.1f;
    if (!m || !p2 || !g || srl_optim_for_model(m, &hp, &prev) < 0 ||
        srl_optim_for_model(m, &hp, &fused) < 0) {
        printf("{\"bench\":\"optimizer\",\"error\":\"out of memory\"}\n");
        goto out;
    }
    prev->unfused = true;
    srl_model_init_random(m, 1234);
    if (srl_model_zero_grad(m) < 0) /* allocates the gradient arena */
        goto out;
    memcpy(p2, m->params, n * sizeof *p2);
    uint64_t s = 88172645463325252ull; /* gradients ~ U(-0.01, 0.01): the norm clips */
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        m->grads[i] = (float)(s >> 40) * (0.02f / 16777216.0f) - 0.01f;
    }
    reps = reps < MAX_ITERS ? reps : MAX_ITERS;
    for (int r = 0; r < reps; r++) {
        memcpy(g, m->grads, n * sizeof *g); /* the previous path scales it in place */
        double t0 = now();
        srl_optim_clip_step(prev, m->params, g, 1.0, 1e-4f, &norm);
        double t1 = now();
        srl_optim_clip_step(fused, p2, m->grads, 1.0, 1e-4f, &norm);
        double t2 = now();
        t_prev[r] = t1 - t0, t_fused[r] = t2 - t1;
        fprintf(stderr, "bench_train: optimizer %d: previous %.3f s, fused %.3f s\n", r, t1 - t0,
                t2 - t1);
    }
    bool same = memcmp(m->params, p2, n * sizeof *p2) == 0 &&
                memcmp(prev->m, fused->m, n * sizeof *p2) == 0 &&
                memcmp(prev->v, fused->v, n * sizeof *p2) == 0;
    double a = median(t_prev, reps), b = median(t_fused, reps);
    printf("{\"bench\":\"optimizer\",\"model\":\"gpt2-124M\",\"params\":%zu,\"reps\":%d,"
           "\"grad_norm\":%.3f,\"clipped\":%s,\"previous_s\":%.3f,\"fused_s\":%.3f,"
           "\"speedup\":%.2f,\"fused_gb_per_s\":%.2f,\"bitwise_identical\":%s,\"threads\":%d}\n",
           n, reps, norm, norm > 1.0 ? "true" : "false", a, b, b > 0 ? a / b : 0.0,
           /* norm: read g; AdamW: read p, g, m, v, write p, m, v */
           b > 0 ? 8.0 * n * sizeof(float) / b * 1e-9 : 0.0, same ? "true" : "false",
           omp_get_max_threads());
    fflush(stdout);
out:
    srl_optim_free(prev);
    srl_optim_free(fused);
    srl_model_free(m);
    free(p2), free(g);
}

/* Seconds of each op family in each phase of the median step, the rest of each phase (model
 * code between ops) as "other", and the matmul GFLOP/s. */
static void print_ops(const struct train_result *r)
{
    int k = 0;
    double med = median(r->tot, r->iters);
    for (int i = 1; i < r->iters; i++) /* the step closest to the median */
        if (fabs(r->tot[i] - med) < fabs(r->tot[k] - med))
            k = i;
    double tot[N_PHASES] = {r->fwd[k], r->bwd[k], r->opt[k]};
    printf("{\"bench\":\"train_ops\",\"model\":\"%s\",\"B\":%d,\"T\":%d,\"optimizer\":\"%s\"",
           r->label, r->B, r->T, r->unfused ? "previous" : "fused");
    for (int ph = 0; ph < N_PHASES; ph++) {
        double sum = 0.0;
        printf(",\"%s\":{", phase_names[ph]);
        for (int op = 0; op < N_OPS; op++) {
            if (r->op_s[k][ph][op] == 0.0)
                continue;
            printf("\"%s\":%.4f,", op_names[op], r->op_s[k][ph][op]);
            sum += r->op_s[k][ph][op];
        }
        printf("\"other\":%.4f,\"total\":%.4f}", tot[ph] - sum, tot[ph]);
    }
    double gf[2];
    for (int ph = 0; ph < 2; ph++) {
        double t = r->op_s[k][ph][OP_MATMUL];
        gf[ph] = t > 0 ? r->matmul_flops[ph] / t * 1e-9 : 0.0;
    }
    printf(",\"matmul_gflops\":{\"forward\":%.1f,\"backward\":%.1f}}\n", gf[0], gf[1]);
}

static void print_train(const struct train_result *r, double peak, double machine_peak)
{
    if (!r->ok) {
        printf("{\"bench\":\"train\",\"model\":\"%s\",\"B\":%d,\"T\":%d,\"error\":\"failed\"}\n",
               r->label, r->B, r->T);
        return;
    }
    double step = median(r->tot, r->iters);
    double tok_s = (double)r->B * r->T / step;
    double gflops = r->flops_tok * tok_s * 1e-9;
    printf("{\"bench\":\"train\",\"model\":\"%s\",\"optimizer\":\"%s\",\"params\":%zu,"
           "\"matmul_params\":%.0f,\"B\":%d,\"T\":%d,\"iters\":%d,\"tokens_per_s\":%.1f,"
           "\"step_s\":%.3f,\"forward_s\":%.3f,\"backward_s\":%.3f,\"optimizer_s\":%.3f,"
           "\"optimizer_share\":%.3f,"
           "\"flops_per_token\":%.4g,\"model_gflops\":%.1f,\"sgemm_peak_gflops\":%.1f,"
           "\"mfu\":%.3f,\"machine_sgemm_peak_gflops\":%.1f,\"mfu_machine\":%.3f,"
           "\"loss\":%.4f,\"openblas\":\"%s\",\"threads\":%d}\n",
           r->label, r->unfused ? "previous" : "fused", r->params, r->n_mm, r->B, r->T, r->iters,
           tok_s, step, median(r->fwd, r->iters), median(r->bwd, r->iters),
           median(r->opt, r->iters), median(r->opt, r->iters) / step,
           r->flops_tok, gflops, peak, peak > 0 ? gflops / peak : 0.0, machine_peak,
           machine_peak > 0 ? gflops / machine_peak : 0.0, r->loss, srl_cpu_blas_build(),
           omp_get_max_threads());
}

/* OpenBLAS picks its kernels when the library loads, from the CPU or from $OPENBLAS_CORETYPE
 * (which may force the AVX2 "Haswell" kernels: this machine's environment does).  On a CPU with
 * AVX-512 the "SkylakeX" kernels can be twice as fast, so their peak is measured in a child
 * process too: "machine" figures use the best sgemm the machine can do, whichever kernel the
 * training ran with.  Returns 0 when not applicable (no AVX-512, or AVX-512 kernels already). */
static double sgemm_peak_other_core(const char **core)
{
    char exe[4096], cmd[4200];
    *core = "";
    const char *cur = openblas_get_corename();
    if (!__builtin_cpu_supports("avx512f") || strstr(cur, "SkylakeX") ||
        strstr(cur, "Cooperlake") || strstr(cur, "SapphireRapids"))
        return 0.0;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0.0;
    exe[n] = '\0';
    snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=SkylakeX '%s' --sgemm-peak%s", exe,
             quick ? " --quick" : "");
    FILE *p = popen(cmd, "r");
    double g = 0.0;
    if (!p || fscanf(p, "%lf", &g) != 1)
        g = 0.0;
    if (p)
        pclose(p);
    *core = "SkylakeX";
    return g;
}

int main(int argc, char **argv)
{
    const char *q = getenv("BENCH_QUICK");
    quick = (q && *q && strcmp(q, "0") != 0) || (argc > 2 && strcmp(argv[2], "--quick") == 0);
    srl_log_set_prog("bench_train");
    double min_s = quick ? 0.1 : 0.3;
    if (argc > 1 && strcmp(argv[1], "--sgemm-peak") == 0) { /* child of sgemm_peak_other_core */
        printf("%.1f\n", sgemm_peak(NULL, false, min_s));
        return 0;
    }
    struct srl_config gpt2, llama;
    srl_config_default(&gpt2, SRL_ARCH_GPT2);   /* 124M: V 50257, 12 layers, d 768, 12 heads */
    srl_config_default(&llama, SRL_ARCH_LLAMA); /* d 256, 4 layers, 8 heads, V 32000 */
    if (argc > 1 && strcmp(argv[1], "--optimizer") == 0) {
        bench_optimizer(&gpt2, quick ? 1 : 3);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--sgemm-split") == 0) {
        sgemm_splits(min_s);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--train") == 0) { /* scripts/bench-openblas.sh */
        struct train_result r;
        int T = atoi(argv[2]);
        if (T < 2 || T > gpt2.max_position_embeddings)
            return 2;
        const struct srl_backend *be = srl_backend_cpu();
        double before = sgemm_peak(be, false, min_s);
        bench_train(&r, "gpt2-124M", &gpt2, 4, T, 1, quick ? 1 : T > 64 ? 3 : 5, false);
        double after = sgemm_peak(be, false, min_s), peak = after > before ? after : before;
        print_train(&r, peak, peak);
        return !r.ok;
    }
    const char *other_core;
    double peak_other = sgemm_peak_other_core(&other_core);

    /* OpenBLAS with its own threads first: srl_backend_cpu() pins it to one thread */
    double peak_blas = sgemm_peak(NULL, true, min_s);
    const struct srl_backend *be = srl_backend_cpu();
    double peak_be = sgemm_peak(be, true, min_s);
    sgemm_splits(min_s);

    bench_optimizer(&gpt2, quick ? 1 : 3);
    /* each GPT-2 shape with the previous optimiser path, then the fused one */
    static const struct {
        const char *label;
        bool llama, unfused;
        int T, iters, quick_iters;
    } runs[] = {
        {"gpt2-124M", false, true, 64, 5, 1},  {"gpt2-124M", false, false, 64, 5, 1},
        {"gpt2-124M", false, true, 256, 3, 1}, {"gpt2-124M", false, false, 256, 3, 1},
        {"llama-d256-L4", true, false, 256, 7, 1},
    };
    enum { N_RUNS = sizeof runs / sizeof runs[0] };
    struct train_result res[N_RUNS];
    /* the machine may be shared: measure the peak between the runs too and keep the best */
    double peak_be2 = 0.0, g;
    for (int i = 0; i < N_RUNS; i++) {
        bench_train(&res[i], runs[i].label, runs[i].llama ? &llama : &gpt2, 4, runs[i].T, 1,
                    quick ? runs[i].quick_iters : runs[i].iters, runs[i].unfused);
        if ((i % 2 || i == N_RUNS - 1) && (g = sgemm_peak(be, false, min_s)) > peak_be2)
            peak_be2 = g;
    }
    double peak_other2 = sgemm_peak_other_core(&other_core);
    if (peak_other2 > peak_other)
        peak_other = peak_other2;
    double peak = peak_blas;
    if (peak_be > peak)
        peak = peak_be;
    if (peak_be2 > peak)
        peak = peak_be2;
    double machine_peak = peak_other > peak ? peak_other : peak;
    printf("{\"bench\":\"sgemm_peak\",\"gflops\":%.1f,\"openblas_core\":\"%s\","
           "\"openblas_gflops\":%.1f,\"backend_gflops\":%.1f,\"backend_gflops_between\":%.1f,"
           "\"other_core\":\"%s\",\"other_core_gflops\":%.1f,\"machine_gflops\":%.1f,"
           "\"threads\":%d}\n", peak, openblas_get_corename(), peak_blas, peak_be, peak_be2,
           other_core, peak_other, machine_peak, omp_get_max_threads());
    int rc = 0;
    for (int i = 0; i < N_RUNS; i++) {
        print_train(&res[i], peak, machine_peak);
        if (res[i].ok)
            print_ops(&res[i]);
        rc |= !res[i].ok;
    }
    return rc;
}
