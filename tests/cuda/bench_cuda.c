/* bench_cuda.c -- GPU throughput of the CUDA backend: the matrix-product peak, GPT-2 124M
 * training tokens/s and MFU (B = 8, 16, 32 at T = 1024), and generation tokens/s with the KV
 * cache for batches of 1, 16 and 128.  Built into build/bench/, so `make bench` runs it; without
 * a CUDA build or a device it prints one "skipped" line and exits 0.
 *
 * Prints JSON lines on stdout (progress on stderr):
 *   {"bench":"cuda_matmul_peak","math":..,"M":..,"gflops":..}
 *   {"bench":"cuda_train","model":"gpt2-124M","B":..,"T":..,"tokens_per_s":..,"mfu":..,..}
 *   {"bench":"cuda_generate","model":"gpt2-124M","B":..,"prompt":..,"new_tokens":..,
 *    "tokens_per_s":..}
 * Model FLOPs per token as bench/bench_train.c counts them: 6 * N_mm + 6 * L * T * d.  mfu is
 * against the best matrix-product rate measured here in the same precision ($SAFERLHF_CUDA_MATH,
 * bf16 by default); mfu_nominal against the card's dense bf16 datasheet peak when it is known.
 * Environment: BENCH_QUICK=1 times fewer steps; BENCH_B="8 16" chooses the training batches. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "backend_cuda.h"
#include "config.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "srl.h"
#ifdef SRL_CUDA
#include "kernels.h"
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

#ifdef SRL_CUDA
static const struct srl_backend *be;
static char dev_name[256];

static const char *math_name(void)
{
    switch (srl_cuda_get_math()) {
    case SRL_CUDA_MATH_BF16: return "bf16";
    case SRL_CUDA_MATH_TF32: return "tf32";
    default: return "fp32";
    }
}

/* Dense bf16 tensor-core peak of known cards (datasheet, without sparsity), or 0. */
static double nominal_peak(void)
{
    if (strstr(dev_name, "H100") || strstr(dev_name, "H200") || strstr(dev_name, "GH200"))
        return strstr(dev_name, "PCIe") ? 756e12 : 989e12;
    if (strstr(dev_name, "A100")) return 312e12;
    return 0;
}

static double matmul_peak(void)
{
    int n = 8192;
    size_t bytes = sizeof(float) * (size_t)n * n;
    float *a = be->alloc(bytes), *b = be->alloc(bytes), *c = be->alloc(bytes);
    double best = 0;
    if (a && b && c) {
        be->matmul(c, a, b, n, n, n, false, true, n, n, n, 1.0f, 0.0f);
        be->sync();
        for (int r = 0; r < 5; r++) {
            double t0 = now();
            for (int i = 0; i < 4; i++)
                be->matmul(c, a, b, n, n, n, false, true, n, n, n, 1.0f, 0.0f);
            be->sync();
            double g = 4 * 2.0 * n * (double)n * n / (now() - t0) / 1e9;
            if (g > best) best = g;
        }
        printf("{\"bench\":\"cuda_matmul_peak\",\"device\":\"%s\",\"math\":\"%s\",\"M\":%d,"
               "\"N\":%d,\"K\":%d,\"gflops\":%.1f}\n", dev_name, math_name(), n, n, n, best);
        fflush(stdout);
    }
    be->free(a), be->free(b), be->free(c);
    return best * 1e9;
}

static struct srl_model *gpt2(void)
{
    struct srl_config cfg;
    srl_config_default(&cfg, SRL_ARCH_GPT2); // the GPT-2 124M shape
    int err = 0;
    struct srl_model *m = srl_model_new(&cfg, be, &err);
    if (m) srl_model_init_random(m, 1);
    return m;
}

static void bench_train(struct srl_model *m, int B, int T, double peak, int steps)
{
    int V = m->cfg.vocab_size, C = m->cfg.hidden_size, L = m->cfg.num_hidden_layers;
    int32_t *tok = malloc(sizeof(int32_t) * B * T), *tgt = malloc(sizeof(int32_t) * B * T);
    struct srl_optim *o = NULL;
    struct srl_adamw_hparams hp;
    struct srl_rng rng;
    srl_rng_seed(&rng, 5);
    srl_adamw_defaults(&hp);
    for (int i = 0; i < B * T; i++)
        tok[i] = (int32_t)srl_rng_below(&rng, V);
    for (int i = 0; i < B * T; i++)
        tgt[i] = i % T == T - 1 ? -1 : tok[i + 1];
    double tf = 0, tb = 0, to = 0;
    float loss = 0;
    int rc = srl_optim_for_model(m, &hp, &o);
    for (int s = 0; rc == 0 && s < steps + 2; s++) {
        double t0 = now();
        if ((rc = srl_model_zero_grad(m)) < 0) break;
        if ((rc = srl_model_forward(m, tok, NULL, B, T)) < 0) break;
        if ((rc = srl_model_loss(m, tgt, NULL, &loss)) < 0) break;
        be->sync();
        double t1 = now();
        if ((rc = srl_model_backward(m)) < 0) break;
        be->sync();
        double t2 = now();
        srl_clip_grad_norm(be, m->grads, m->n_params, 1.0);
        srl_optim_step(o, m->params, m->grads, 1e-4f);
        be->sync();
        double t3 = now();
        if (s >= 2) tf += t1 - t0, tb += t2 - t1, to += t3 - t2; // two warm-up steps
    }
    if (rc < 0) {
        printf("{\"bench\":\"cuda_train\",\"model\":\"gpt2-124M\",\"B\":%d,\"T\":%d,"
               "\"error\":\"%s\"}\n", B, T, srl_strerror(rc));
    } else {
        double step = (tf + tb + to) / steps, tps = B * T / step;
        // matrix-product parameters: all but the position table (the tied wte is the head)
        double nmm = (double)m->n_params - (double)m->cfg.max_position_embeddings * C;
        double flops = 6 * nmm + 6.0 * L * T * C;
        double np = nominal_peak();
        printf("{\"bench\":\"cuda_train\",\"model\":\"gpt2-124M\",\"device\":\"%s\",\"math\":"
               "\"%s\",\"B\":%d,\"T\":%d,\"params\":%zu,\"tokens_per_s\":%.0f,\"step_s\":%.4f,"
               "\"forward_s\":%.4f,\"backward_s\":%.4f,\"optimizer_s\":%.4f,\"loss\":%.4f,"
               "\"mfu\":%.4f", dev_name, math_name(), B, T, m->n_params, tps, step, tf / steps,
               tb / steps, to / steps, loss, peak > 0 ? flops * tps / peak : 0.0);
        if (np > 0) printf(",\"mfu_nominal\":%.4f", flops * tps / np);
        printf("}\n");
    }
    fflush(stdout);
    srl_optim_free(o);
    free(tok), free(tgt);
}

static void bench_generate(struct srl_model *m, int B, int P, int NEW)
{
    int V = m->cfg.vocab_size;
    int32_t *tok = malloc(sizeof(int32_t) * B * P), *next = malloc(sizeof(int32_t) * B);
    int32_t *pos = malloc(sizeof(int32_t) * B);
    float *logits = malloc(sizeof(float) * (size_t)B * V);
    struct srl_rng rng;
    srl_rng_seed(&rng, 9);
    for (int i = 0; i < B * P; i++)
        tok[i] = (int32_t)srl_rng_below(&rng, V);
    int rc = srl_model_cache_reset(m, B, P + NEW);
    double t0 = now(), t1 = t0;
    if (rc == 0) rc = srl_model_decode(m, tok, NULL, P, true);
    for (int s = 0; rc == 0 && s < NEW; s++) {
        // greedy: the host draws from downloaded logits, as srl_generate() does
        if ((rc = be->download(logits, m->dec_out, sizeof(float) * (size_t)B * V)) < 0) break;
        if (s == 0) t1 = now(); // the prompt is done
        for (int b = 0; b < B; b++) {
            const float *l = logits + (size_t)b * V;
            int best = 0;
            for (int i = 1; i < V; i++)
                if (l[i] > l[best]) best = i;
            next[b] = best;
            pos[b] = P + s;
        }
        rc = srl_model_decode(m, next, pos, 1, true);
    }
    be->sync();
    double t2 = now();
    if (rc < 0)
        printf("{\"bench\":\"cuda_generate\",\"model\":\"gpt2-124M\",\"B\":%d,\"error\":\"%s\"}\n",
               B, srl_strerror(rc));
    else
        printf("{\"bench\":\"cuda_generate\",\"model\":\"gpt2-124M\",\"device\":\"%s\",\"B\":%d,"
               "\"prompt\":%d,\"new_tokens\":%d,\"prompt_s\":%.4f,\"tokens_per_s\":%.1f}\n",
               dev_name, B, P, NEW, t1 - t0, B * NEW / (t2 - t1));
    fflush(stdout);
    free(tok), free(next), free(pos), free(logits);
}
#endif

int main(void)
{
#ifdef SRL_CUDA
    if (srl_cuda_device_count() <= 0) {
        printf("{\"bench\":\"cuda\",\"skipped\":\"no CUDA device\"}\n");
        return 0;
    }
    if (srl_backend_cuda(0, &be) < 0) {
        printf("{\"bench\":\"cuda\",\"error\":\"cannot initialise the CUDA backend\"}\n");
        return 1;
    }
    srl_cuda_device_info(dev_name, sizeof dev_name, NULL, NULL);
    int quick = getenv("BENCH_QUICK") != NULL;
    double peak = matmul_peak();
    struct srl_model *m = gpt2();
    if (!m) {
        printf("{\"bench\":\"cuda_train\",\"error\":\"cannot create GPT-2 124M\"}\n");
        return 1;
    }
    const char *bs = getenv("BENCH_B") ? getenv("BENCH_B") : "8 16 32";
    for (const char *p = bs; *p;) {
        char *end;
        long B = strtol(p, &end, 10);
        if (end == p) break;
        fprintf(stderr, "bench_cuda: training B=%ld T=1024\n", B);
        bench_train(m, (int)B, 1024, peak, quick ? 2 : 10);
        p = end;
    }
    int gb[] = { 1, 16, 128 };
    for (int i = 0; i < 3; i++) {
        fprintf(stderr, "bench_cuda: generating B=%d\n", gb[i]);
        bench_generate(m, gb[i], 64, quick ? 32 : 128);
    }
    srl_model_free(m);
#else
    (void)now;
    printf("{\"bench\":\"cuda\",\"skipped\":\"no CUDA in this build\"}\n");
#endif
    return 0;
}
