/* bench_sft.c -- SFT training throughput through the real pipeline: records tokenized by
 * lib/dataset, length-bucketed right-padded batches, srl_trainer_run (clip, AdamW, log).
 *
 * Prints JSON lines on stdout (progress on stderr):
 *   {"bench":"sft","data":..,"model":..,"params":..,"batch_size":..,"steps":..,
 *    "tokens_per_s":..      non-padding tokens per second (median step)
 *    "padded_tokens_per_s":..  B*T positions computed per second
 *    "padding_waste":..     share of computed positions that are padding (this run's batches)
 *    "model_gflops":..,"sgemm_peak_gflops":..,"mfu":..,"mfu_padded":..}
 * Model FLOPs per token as bench_train.c, 6 * N_mm + 6 * L * T * d (T the mean padded length),
 * but with the LM head's share of N_mm (V * d) counted only for the trained tokens (fraction f
 * of the tokens: the prompts have no target), which is all the model needs, so that a dense
 * head's extra work shows as a lower mfu: 6 * (N_mm - V d + f V d) + 6 L T d.  mfu counts
 * useful (non-padding) tokens, mfu_padded every computed position; the peak is a 1024^3
 * OpenBLAS sgemm measured here.  Runs: the demo data (tests/data) on a random 4-layer Llama
 * (d 256), the same with a 32000-token untied head, sparse and dense (lm_head: the LM head on
 * the trained rows only, as the trainer runs it, or on every row, the path before), and, when
 * ../shared is present, stories260K on alpaca_5000.json.
 * Environment: BENCH_QUICK=1 runs fewer steps; SAFERLHF_SHARED as the tests. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dataset.h"
#include "fileio.h"
#include "jsonl.h"
#include "llama2c.h"
#include "model.h"
#include "srl.h"
#include "tokenizer.h"
#include "trainer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double sgemm_peak(void)
{
    int n = 1024, reps = 0;
    size_t nn = (size_t)n * n;
    float *a = calloc(nn, 4), *b = calloc(nn, 4), *c = calloc(nn, 4);
    if (!a || !b || !c) return 0;
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double t0 = now(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        reps++;
    } while ((t = now() - t0) < 1.0);
    free(a), free(b), free(c);
    return 2.0 * n * n * (double)n * reps / t * 1e-9;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Train `steps` steps of the LM task on s and print the JSON line. */
static int run(const char *data_name, const char *model_name, struct srl_model *m,
               const char *tok_dir, struct srl_sft_set *s, int bs, int steps, double peak,
               bool dense_head)
{
    char dir[] = "/tmp/bench_sft.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char *out = srl_path_join(dir, "ckpt"), *log = srl_path_join(dir, "log.jsonl");
    struct srl_train_opts o;
    struct srl_lm_task task;
    struct srl_trainer t;
    srl_train_opts_default(&o);
    o.max_steps = steps;
    o.batch_size = bs;
    o.lr = 1e-3;
    o.output = out;
    o.log_path = log;
    o.quiet = true;
    int rc = srl_lm_task_init(&task, s, NULL, 0, bs);
    task.dense_head = dense_head;
    if (rc == 0) rc = srl_trainer_init(&t, &o, m, tok_dir, NULL);
    double t0 = now();
    if (rc == 0) rc = srl_trainer_run(&t, &task.task);
    double wall = now() - t0;
    /* per-step times from the log (tokens / tokens_per_s); the first step allocates and is
     * left out when there are others */
    double dt[4096], tk[4096], pad_frac;
    int n = 0, err;
    struct srl_jsonl *r = rc == 0 ? srl_jsonl_open(log, &err) : NULL;
    struct srl_json *rec;
    while (r && n < 4096 && srl_jsonl_next(r, &rec) == 0) {
        double tps = srl_json_number(srl_json_get(rec, "tokens_per_s"));
        tk[n] = srl_json_number(srl_json_get(rec, "tokens"));
        dt[n] = tps > 0 ? tk[n] / tps : 0;
        n++;
        srl_json_decref(rec);
    }
    srl_jsonl_close(r);
    int first = n > 1 ? 1 : 0, k = n - first;
    double tok_sum = 0;
    for (int i = first; i < n; i++) tok_sum += tk[i];
    qsort(dt + first, (size_t)k, sizeof dt[0], cmp_double);
    pad_frac = rc == 0 && t.plan.padded_tokens
                   ? 1.0 - (double)t.plan.real_tokens / (double)t.plan.padded_tokens : 0;
    double med = k > 0 ? dt[first + k / 2] : 0;
    double tps_med = med > 0 ? tok_sum / k / med : 0; /* mean tokens per step / median time */
    const struct srl_config *c = &m->cfg;
    double n_mm = (double)m->n_params - (c->tie_word_embeddings ? 0.0
                                         : (double)c->vocab_size * c->hidden_size);
    double head = (double)c->vocab_size * c->hidden_size, trained = 0;
    for (size_t i = 0; i < s->n_tokens; i++) trained += s->train[i];
    double f = s->n_tokens ? trained / (double)s->n_tokens : 1.0;
    double mean_T = s->n ? (double)s->n_tokens / s->n / (1.0 - pad_frac) : 0;
    double flops_tok = 6.0 * (n_mm - head + f * head) +
                       6.0 * c->num_hidden_layers * mean_T * c->hidden_size;
    double useful = flops_tok * tps_med * 1e-9, padded = useful / (1.0 - pad_frac);
    if (rc == 0)
        printf("{\"bench\":\"sft\",\"data\":\"%s\",\"model\":\"%s\",\"params\":%zu,"
               "\"batch_size\":%d,\"steps\":%d,\"examples\":%zu,\"tokens_per_s\":%.1f,"
               "\"padded_tokens_per_s\":%.1f,\"padding_waste\":%.4f,\"mean_padded_T\":%.1f,"
               "\"model_gflops\":%.2f,\"sgemm_peak_gflops\":%.1f,\"mfu\":%.4f,"
               "\"mfu_padded\":%.4f,\"wall_s\":%.2f,\"lm_head\":\"%s\"}\n",
               data_name, model_name, m->n_params, bs, steps, s->n, tps_med,
               tps_med / (1.0 - pad_frac), pad_frac, mean_T, useful, peak,
               peak > 0 ? useful / peak : 0, peak > 0 ? padded / peak : 0, wall,
               dense_head ? "dense" : "sparse");
    fflush(stdout);
    if (rc == 0) srl_trainer_free(&t);
    srl_lm_task_free(&task);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_sft: cannot remove %s\n", dir);
    free(out);
    free(log);
    return rc < 0 ? 1 : 0;
}

int main(void)
{
    int quick = getenv("BENCH_QUICK") && *getenv("BENCH_QUICK") == '1';
    int steps = quick ? 4 : 20, err, status = 0;
    const char *shared = getenv("SAFERLHF_SHARED") && *getenv("SAFERLHF_SHARED")
                             ? getenv("SAFERLHF_SHARED") : "../shared";
    double peak = sgemm_peak();
    fprintf(stderr, "bench_sft: sgemm peak %.1f GFLOP/s\n", peak);

    /* 1. the demo data on a random 4-layer Llama */
    const char *tdir = "tests/data/sft_demo_tokenizer";
    struct srl_tokenizer *tok = srl_tokenizer_load(tdir, &err);
    struct srl_config cfg;
    srl_config_default(&cfg, SRL_ARCH_LLAMA);
    cfg.vocab_size = 384;
    cfg.tie_word_embeddings = true;
    cfg.bos_token_id = cfg.eos_token_id = 0;
    struct srl_model *m = srl_model_new(&cfg, srl_backend_cpu(), &err);
    struct srl_sft_set s = { 0 };
    struct srl_sft_opts so = { tok, srl_template_find("saferlhf"), 256, false };
    if (!tok || !m || srl_sft_read(&s, "tests/data/sft_demo.jsonl", &so) < 0) {
        fprintf(stderr, "bench_sft: cannot set up the demo run (run from the repo root)\n");
        return 1;
    }
    srl_model_init_random(m, 1);
    fprintf(stderr, "bench_sft: demo data, llama d256 L4, %d steps\n", steps);
    status |= run("sft_demo.jsonl", "llama-d256-L4", m, tdir, &s, 8, steps, peak, false);
    srl_model_free(m);
    /* the same with a Llama-size vocabulary (32000, untied): the LM head is most of the
     * work, and the sparse head skips it on the prompt and padding rows; the dense head is
     * the path before it, in the same run */
    cfg.vocab_size = 32000;
    cfg.tie_word_embeddings = false;
    for (int dense = 0; dense < 2; dense++) {
        if (!(m = srl_model_new(&cfg, srl_backend_cpu(), &err))) return 1;
        srl_model_init_random(m, 1);
        fprintf(stderr, "bench_sft: demo data, llama d256 L4 V32000, %s head\n",
                dense ? "dense" : "sparse");
        status |= run("sft_demo.jsonl", "llama-d256-L4-V32000", m, tdir, &s, 8, steps, peak,
                      dense);
        srl_model_free(m);
    }
    srl_sft_set_free(&s);
    srl_tokenizer_free(tok);

    /* 2. stories260K on Alpaca (real data) */
    char bin[512], tokbin[512], alpaca[512], dir[] = "/tmp/bench_sft_s260.XXXXXX";
    snprintf(bin, sizeof bin, "%s/models/stories260K/stories260K.bin", shared);
    snprintf(tokbin, sizeof tokbin, "%s/models/stories260K/tok512.bin", shared);
    snprintf(alpaca, sizeof alpaca, "%s/data/alpaca/alpaca_5000.json", shared);
    if (access(bin, R_OK) || access(alpaca, R_OK) || !mkdtemp(dir)) {
        fprintf(stderr, "bench_sft: %s absent, skipping the stories260K run\n", shared);
        return status;
    }
    m = NULL;
    tok = NULL;
    if (srl_llama2c_convert(bin, tokbin, dir, SRL_DTYPE_F32, NULL) == 0 &&
        srl_model_load(dir, srl_backend_cpu(), &m) == 0 && (tok = srl_tokenizer_load(dir, &err))) {
        so.tok = tok;
        if (srl_sft_read(&s, alpaca, &so) == 0) {
            fprintf(stderr, "bench_sft: alpaca_5000 on stories260K, %d steps\n", steps);
            status |= run("alpaca_5000.json", "stories260K", m, dir, &s, 8, steps, peak, false);
        }
    }
    srl_sft_set_free(&s);
    srl_tokenizer_free(tok);
    srl_model_free(m);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_sft: cannot remove %s\n", dir);
    return status;
}
