/* test_model_cuda.c -- whole models on the CUDA backend against the CPU backend: the PyTorch
 * fixtures of tests/ref (GPT-2, Llama with grouped-query attention, tied embeddings, Qwen2
 * biases) through forward, loss, backward, a few AdamW steps (a short SFT run) and KV-cache
 * decoding, first with exact fp32 products, then the training steps again in bf16, whose
 * losses must match the CPU run within bf16 tolerance; and stories260K's greedy output decoded
 * with the KV cache on the GPU, against llama2.c's golden text.
 * Without a CUDA build or a visible device every test prints SKIP and the binary passes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <sys/stat.h>

#include "backend.h"
#include "backend_cuda.h"
#include "fileio.h"
#include "llama2c.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "srl.h"
#include "test.h"
#include "tokenizer.h"
#ifdef SRL_CUDA
#include "kernels.h"
#endif

#define B 2
#define T 12
#define PAD 3 /* left padding of row 1 */

static const struct srl_backend *cpu, *gpu;
static int ndev = -1;

/* NMSE of the device array d against the host array h (n floats); prints the errors. */
static double nmse(const char *what, const float *h, const float *d, size_t n)
{
    float *g = malloc(sizeof(float) * (n ? n : 1));
    gpu->download(g, d, sizeof(float) * n);
    double se = 0, ref = 0, maxabs = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)g[i] - h[i]);
        se += e * e;
        ref += (double)h[i] * h[i];
        if (e > maxabs || isnan(e)) maxabs = e;
    }
    free(g);
    double r = ref > 0 ? se / ref : se;
    if (isnan(maxabs)) r = INFINITY;
    printf("  %-28s maxabs=%.3e nmse=%.3e\n", what, maxabs, r);
    return r;
}

static void batch(int V, struct srl_rng *rng, int32_t *tok, int32_t *pos, int32_t *tgt)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int pad = b == 1 && t < PAD;
            tok[b * T + t] = (int32_t)srl_rng_below(rng, V);
            pos[b * T + t] = pad ? -1 : t - (b == 1 ? PAD : 0);
        }
    for (int i = 0; i < B * T; i++)
        tgt[i] = i % T == T - 1 || pos[i] < 0 ? -1 : tok[i + 1];
}

/* One training step on m: forward, loss, backward, clip, AdamW.  Returns the loss. */
static float train_step(struct srl_model *m, struct srl_optim *o, const int32_t *tok,
                        const int32_t *pos, const int32_t *tgt)
{
    float loss = NAN;
    if (srl_model_zero_grad(m) < 0 || srl_model_forward(m, tok, pos, B, T) < 0 ||
        srl_model_loss(m, tgt, NULL, &loss) < 0 || srl_model_backward(m) < 0)
        return NAN;
    srl_clip_grad_norm(m->be, m->grads, m->n_params, 1.0);
    srl_optim_step(o, m->params, m->grads, 1e-3f);
    return loss;
}

static void model_case(const char *dir)
{
    struct srl_model *mc = NULL, *mg = NULL;
    struct srl_optim *oc = NULL, *og = NULL;
    struct srl_adamw_hparams hp;
    struct srl_rng rng;
    int32_t tok[B * T], pos[B * T], tgt[B * T];
    srl_rng_seed(&rng, 7);
    srl_adamw_defaults(&hp);
    hp.weight_decay = 0.1f;
    if (srl_model_load(dir, cpu, &mc) < 0 || srl_model_load(dir, gpu, &mg) < 0) {
        printf("  cannot load %s\n", dir);
        test_failed_now = 1;
        goto out;
    }
    printf("  %s\n", dir);
    int V = mc->cfg.vocab_size;
    size_t nl = (size_t)B * T * V;
    batch(V, &rng, tok, pos, tgt);

    // forward, loss, backward
    float lc, lg;
    srl_model_zero_grad(mc), srl_model_zero_grad(mg);
    srl_model_forward(mc, tok, pos, B, T), srl_model_forward(mg, tok, pos, B, T);
    EXPECT(nmse("logits", mc->logits, mg->logits, nl) < 1e-9, "%s logits", dir);
    srl_model_loss(mc, tgt, NULL, &lc), srl_model_loss(mg, tgt, NULL, &lg);
    printf("  loss cpu %.7f gpu %.7f\n", lc, lg);
    EXPECT(fabsf(lc - lg) <= 1e-5f * fabsf(lc) + 1e-6f, "%s loss", dir);
    srl_model_backward(mc), srl_model_backward(mg);
    EXPECT(nmse("grads", mc->grads, mg->grads, mc->n_params) < 1e-8, "%s grads", dir);

    // a short SFT run: three AdamW steps on fresh batches
    if (srl_optim_for_model(mc, &hp, &oc) < 0 || srl_optim_for_model(mg, &hp, &og) < 0) {
        test_failed_now = 1;
        goto out;
    }
    for (int step = 0; step < 3; step++) {
        batch(V, &rng, tok, pos, tgt);
        lc = train_step(mc, oc, tok, pos, tgt), lg = train_step(mg, og, tok, pos, tgt);
        printf("  step %d loss cpu %.7f gpu %.7f\n", step + 1, lc, lg);
        EXPECT(fabsf(lc - lg) <= 1e-4f * fabsf(lc), "%s step %d loss", dir, step + 1);
    }
    // AdamW's first steps are nearly sign(g) * lr: a gradient within rounding of 0 may flip
    EXPECT(nmse("params after 3 steps", mc->params, mg->params, mc->n_params) < 1e-6, "%s", dir);

    // KV-cache decoding: the prompt at once, then one token
    srl_model_cache_reset(mc, B, T + 2), srl_model_cache_reset(mg, B, T + 2);
    srl_model_decode(mc, tok, pos, T, false), srl_model_decode(mg, tok, pos, T, false);
    EXPECT(nmse("decode prompt", mc->dec_out, mg->dec_out, nl) < 1e-9, "%s decode", dir);
    int32_t next[B] = { 1, 2 }, npos[B] = { T, T - PAD };
    srl_model_decode(mc, next, npos, 1, true), srl_model_decode(mg, next, npos, 1, true);
    EXPECT(nmse("decode step", mc->dec_out, mg->dec_out, (size_t)B * V) < 1e-9, "%s step", dir);
out:
    srl_optim_free(oc), srl_optim_free(og);
    srl_model_free(mc), srl_model_free(mg);
}

#define NEED_GPU()                                                                            \
    do {                                                                                      \
        if (!gpu) SKIP("%s", ndev < 0 ? "no CUDA in this build" : "no CUDA device");          \
    } while (0)

static void test_gpt2(void)
{
    NEED_GPU();
    model_case("tests/ref/gpt2");
}

static void test_llama_gqa(void)
{
    NEED_GPU();
    model_case("tests/ref/llama_gqa");
}

static void test_llama_tied(void)
{
    NEED_GPU();
    model_case("tests/ref/llama_tied");
}

static void test_qwen2_bias(void)
{
    NEED_GPU();
    model_case("tests/ref/qwen2_bias");
}

/* bf16 products: the SFT losses stay within bf16 tolerance of the CPU run. */
static void test_sft_bf16(void)
{
    NEED_GPU();
#ifdef SRL_CUDA
    const char *dirs[] = { "tests/ref/gpt2", "tests/ref/llama_gqa" };
    srl_cuda_set_math(SRL_CUDA_MATH_BF16);
    for (int d = 0; d < 2; d++) {
        struct srl_model *mc = NULL, *mg = NULL;
        struct srl_optim *oc = NULL, *og = NULL;
        struct srl_adamw_hparams hp;
        struct srl_rng rng;
        int32_t tok[B * T], pos[B * T], tgt[B * T];
        srl_rng_seed(&rng, 11);
        srl_adamw_defaults(&hp);
        if (srl_model_load(dirs[d], cpu, &mc) == 0 && srl_model_load(dirs[d], gpu, &mg) == 0 &&
            srl_optim_for_model(mc, &hp, &oc) == 0 && srl_optim_for_model(mg, &hp, &og) == 0) {
            for (int step = 0; step < 5; step++) {
                batch(mc->cfg.vocab_size, &rng, tok, pos, tgt);
                float lc = train_step(mc, oc, tok, pos, tgt);
                float lg = train_step(mg, og, tok, pos, tgt);
                printf("  %s bf16 step %d loss cpu %.6f gpu %.6f\n", dirs[d], step + 1, lc, lg);
                EXPECT(fabsf(lc - lg) <= 2e-2f * fabsf(lc), "%s bf16 loss", dirs[d]);
            }
        } else {
            test_failed_now = 1;
        }
        srl_optim_free(oc), srl_optim_free(og);
        srl_model_free(mc), srl_model_free(mg);
    }
    srl_cuda_set_math(SRL_CUDA_MATH_FP32);
#endif
}

/* stories260K (../shared) converted, greedy from BOS with the KV cache on the GPU (fp32):
 * the text of llama2.c's run.c -t 0 -n 200. */
static void test_stories260k_greedy(void)
{
    NEED_GPU();
    char model[400], tok[400], expected[400], tmp[] = "/tmp/test_model_cuda.XXXXXX";
    const char *sh = test_shared_dir();
    snprintf(model, sizeof model, "%s/models/stories260K/stories260K.bin", sh);
    snprintf(tok, sizeof tok, "%s/models/stories260K/tok512.bin", sh);
    snprintf(expected, sizeof expected, "%s/models/stories260K/expected_run_c_t0_n200.txt", sh);
    if (!test_file_exists(model) || !test_file_exists(expected)) SKIP("%s absent", model);
    REQUIRE(mkdtemp(tmp), "mkdtemp");
    REQUIRE(srl_llama2c_convert(model, tok, tmp, SRL_DTYPE_F32, NULL) == 0);
    struct srl_model *m = NULL;
    REQUIRE(srl_model_load(tmp, gpu, &m) == 0);
    struct srl_tokenizer *t = srl_tokenizer_load(tmp, NULL);
    REQUIRE(t);
    int V = m->cfg.vocab_size, n = 0, ids[200];
    float *logits = malloc(sizeof(float) * V);
    int32_t cur = 1, pos = 0; // BOS
    REQUIRE(srl_model_cache_reset(m, 1, 201) == 0);
    while (n < 200) {
        REQUIRE(srl_model_decode(m, &cur, &pos, 1, true) == 0);
        gpu->download(logits, m->dec_out, sizeof(float) * V);
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        if (best == 1) break;
        ids[n++] = cur = best;
        pos++;
    }
    char *text = NULL, *want = NULL;
    size_t wlen = 0;
    REQUIRE(srl_tokenizer_decode(t, ids, (size_t)n, 1, &text) >= 0);
    REQUIRE(srl_read_file(expected, &want, &wlen) == 0);
    if (wlen && want[wlen - 1] == '\n') want[--wlen] = '\0';
    size_t i = 0;
    while (text[i] && text[i] == want[i]) i++;
    EXPECT(strcmp(text, want) == 0,
           "greedy text differs at byte %zu:\n   got  %.60s\n   want %.60s", i,
           text + (i > 20 ? i - 20 : 0), want + (i > 20 ? i - 20 : 0));
    free(text), free(want), free(logits);
    srl_tokenizer_free(t);
    srl_model_free(m);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) printf("  cannot remove %s\n", tmp);
}

int main(void)
{
    cpu = srl_backend_cpu();
#ifdef SRL_CUDA
    ndev = srl_cuda_device_count();
    if (ndev > 0) {
        if (srl_backend_cuda(0, &gpu) < 0) gpu = NULL;
        else srl_backend_cuda_set_math("fp32");
    }
#endif
#ifdef SRL_TEST_SELF
    gpu = cpu; // -DSRL_TEST_SELF: the CPU stands in for the GPU, to check the harness itself
#endif
    RUN(test_gpt2);
    RUN(test_llama_gqa);
    RUN(test_llama_tied);
    RUN(test_qwen2_bias);
    RUN(test_sft_bf16);
    RUN(test_stories260k_greedy);
    return test_summary();
}
