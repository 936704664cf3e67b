/* bench_train.c -- sgemm peak of this machine and CPU training throughput / MFU.
 *
 * Prints JSON lines on stdout (progress on stderr):
 *   {"bench":"sgemm","M":..,"N":..,"K":..,"gflops":..}          one per transformer shape
 *   {"bench":"sgemm_peak","gflops":..,"threads":..}
 *   {"bench":"train","model":..,"B":..,"T":..,"tokens_per_s":..,"mfu":..,...,
 *    "forward_s":..,"backward_s":..,"optimizer_s":..}
 *
 * Model FLOPs per token (PaLM appendix B, with causal attention counted at half the full
 * score matrix):  6 * N_mm + 6 * L * T * d
 *   N_mm      parameters used in matrix products (lookup-only embeddings -- GPT-2's wpe, an
 *             untied Llama's embed_tokens -- excluded; the tied wte counts once, as lm_head)
 *   6 N_mm    forward 2 flops per weight per token, backward 4
 *   6 L T d   QK^T and AV: 2*2*T*d forward flops per token per layer, times 3 for fwd+bwd,
 *             halved for the causal mask
 * MFU = model FLOPs per token * tokens/s / sgemm_peak (the best sgemm GFLOP/s measured here,
 * the machine's own ceiling for fp32 matrix products).
 *
 * Environment: BENCH_QUICK=1 runs one timed step per model and short sgemm loops. */
#include <cblas.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
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

/* GFLOP/s of C (M,N) = A (M,K) * B (N,K)^T, the nn.Linear forward, repeated for >= min_s. */
static double bench_sgemm(int M, int N, int K, double min_s)
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
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
    int reps = 0;
    double t0 = now(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, 0.0f,
                    C, N);
        reps++;
        t = now() - t0;
    } while (t < min_s);
    free(A), free(B), free(C);
    return 2.0 * M * N * K * reps / t * 1e-9;
}

static double sgemm_peak(void)
{
    static const int shapes[][3] = {
        /* M (tokens), N (out), K (in) */
        {256, 768, 768},  {256, 3072, 768},  {256, 768, 3072},  {256, 50257, 768},
        {1024, 768, 768}, {1024, 3072, 768}, {1024, 768, 3072}, {1024, 50257, 768},
    };
    double peak = 0.0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
        double g = bench_sgemm(M, N, K, quick ? 0.1 : 0.4);
        printf("{\"bench\":\"sgemm\",\"M\":%d,\"N\":%d,\"K\":%d,\"gflops\":%.1f}\n", M, N, K, g);
        fflush(stdout);
        if (g > peak)
            peak = g;
    }
    printf("{\"bench\":\"sgemm_peak\",\"gflops\":%.1f,\"blas_threads\":%d,\"omp_threads\":%d}\n",
           peak, openblas_get_num_threads(), omp_get_max_threads());
    fflush(stdout);
    return peak;
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

static int bench_train(const char *label, const struct srl_config *cfg, int B, int T,
                       int warmup, int iters, double peak)
{
    struct srl_model *m = NULL;
    struct srl_optim *o = NULL;
    struct srl_adamw_hparams hp;
    int err = 0, rc = -1;
    size_t N = (size_t)B * T;
    int32_t *tokens = malloc(N * sizeof *tokens), *targets = malloc(N * sizeof *targets);
    float *mask = malloc(N * sizeof *mask);
    if (!tokens || !targets || !mask)
        goto out;
    if (!(m = srl_model_new(cfg, srl_backend_cpu(), &err))) {
        fprintf(stderr, "bench_train: cannot create %s: %s\n", label, srl_strerror(err));
        goto out;
    }
    srl_model_init_random(m, 1234);
    srl_adamw_defaults(&hp);
    hp.weight_decay = 0.1f;
    if (srl_optim_for_model(m, &hp, &o) < 0)
        goto out;
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
    double t_fwd = 0, t_bwd = 0, t_opt = 0, loss_sum = 0;
    for (int it = 0; it < warmup + iters; it++) {
        float loss;
        double t0 = now();
        if (srl_model_forward(m, tokens, NULL, B, T) < 0 ||
            srl_model_loss(m, targets, mask, &loss) < 0)
            goto out;
        double t1 = now();
        if (srl_model_zero_grad(m) < 0 || srl_model_backward(m) < 0)
            goto out;
        double t2 = now();
        srl_clip_grad_norm(m->be, m->grads, m->n_params, 1.0);
        if (srl_optim_step(o, m->params, m->grads, 1e-4f) < 0)
            goto out;
        double t3 = now();
        fprintf(stderr, "bench_train: %s B=%d T=%d %s %d: loss %.4f, %.2f s (fwd %.2f bwd %.2f "
                "opt %.2f)\n", label, B, T, it < warmup ? "warm-up" : "step", it, loss, t3 - t0,
                t1 - t0, t2 - t1, t3 - t2);
        if (it >= warmup) {
            t_fwd += t1 - t0, t_bwd += t2 - t1, t_opt += t3 - t2;
            loss_sum += loss;
        }
    }
    double total = t_fwd + t_bwd + t_opt;
    double tok_s = (double)N * iters / total;
    double n_mm = matmul_params(m);
    double L = cfg->num_hidden_layers, d = cfg->hidden_size;
    double flops_tok = 6.0 * n_mm + 6.0 * L * T * d;
    double gflops = flops_tok * tok_s * 1e-9;
    printf("{\"bench\":\"train\",\"model\":\"%s\",\"params\":%zu,\"matmul_params\":%.0f,"
           "\"B\":%d,\"T\":%d,\"iters\":%d,\"tokens_per_s\":%.1f,\"step_s\":%.3f,"
           "\"forward_s\":%.3f,\"backward_s\":%.3f,\"optimizer_s\":%.3f,"
           "\"model_gflops\":%.2f,\"sgemm_peak_gflops\":%.1f,\"mfu\":%.4f,"
           "\"flops_per_token\":%.4g,\"loss\":%.4f}\n",
           label, m->n_params, n_mm, B, T, iters, tok_s, total / iters, t_fwd / iters,
           t_bwd / iters, t_opt / iters, gflops, peak, peak > 0 ? gflops / peak : 0.0,
           flops_tok, loss_sum / iters);
    fflush(stdout);
    rc = 0;
out:
    if (rc < 0)
        printf("{\"bench\":\"train\",\"model\":\"%s\",\"B\":%d,\"T\":%d,\"error\":\"failed\"}\n",
               label, B, T);
    srl_optim_free(o);
    srl_model_free(m);
    free(tokens), free(targets), free(mask);
    return rc;
}

int main(void)
{
    const char *q = getenv("BENCH_QUICK");
    quick = q && *q && strcmp(q, "0") != 0;
    srl_log_set_prog("bench_train");
    double peak = sgemm_peak();

    struct srl_config gpt2, llama;
    srl_config_default(&gpt2, SRL_ARCH_GPT2);   /* 124M: V 50257, 12 layers, d 768, 12 heads */
    srl_config_default(&llama, SRL_ARCH_LLAMA); /* d 256, 4 layers, 8 heads, V 32000 */
    int iters = quick ? 1 : 3;
    int rc = 0;
    rc |= bench_train("gpt2-124M", &gpt2, 4, 64, 1, iters, peak);
    rc |= bench_train("gpt2-124M", &gpt2, 4, 256, 1, quick ? 1 : 2, peak);
    rc |= bench_train("llama-d256-L4", &llama, 4, 256, 1, iters, peak);
    return rc ? 1 : 0;
}
