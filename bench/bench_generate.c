/* bench_generate.c -- generation throughput of lib/generate (KV cache, batched decoding).
 *
 * Prints JSON lines on stdout (progress on stderr):
 *   {"bench":"generate","model":..,"B":..,"prompt":..,"new_tokens":..,"mode":"greedy"|"sample",
 *    "tokens_per_s":..,"prefill_s":..,"total_s":..,"speedup_vs_1":..}
 *   {"bench":"generate_nocache","model":..,"tokens_per_s":..}
 * Models: the small Llama of srl_config_default (d 256, 4 layers, 8 heads, vocab 32000, random
 * init) and stories260K from ../shared (converted here; skipped when absent).  Batches of 1, 16
 * and 64 sequences, prompts of 16 random tokens (stories260K: BOS only, as llama2.c's run.c),
 * sampling at temperature 1 (greedy for stories260K B=1, the run.c -t 0 case); tokens/s counts
 * generated tokens over the whole call (prefill included).
 *
 * Baseline: llama2.c's run.c is not available on this machine, so "generate_nocache" is the
 * lower bar of a single stream re-running the full forward pass over the growing sequence for
 * every token.  run.c's design is the B=1 row here: one fp32 matrix-vector product per weight
 * matrix per token against a KV cache, OpenMP over output rows; the B=1 path goes through
 * OpenBLAS sgemv, which is at least as fast as run.c's hand loop.
 *
 * Environment: BENCH_QUICK=1 generates fewer tokens. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "generate.h"
#include "llama2c.h"
#include "model.h"
#include "srl.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* tokens/s of B sequences generating n tokens each after prompts of P tokens (or BOS). */
static double run_batch(struct srl_model *m, const char *name, int B, int P, int n, bool greedy,
                        double base)
{
    int32_t *prompt = malloc(sizeof(int32_t) * (size_t)B * P);
    struct srl_gen_seq *seqs = calloc((size_t)B, sizeof *seqs);
    if (!prompt || !seqs)
        return 0;
    for (int i = 0; i < B * P; i++)
        prompt[i] = P == 1 ? 1 : (int32_t)((i * 7919u + 13) % (unsigned)m->cfg.vocab_size);
    for (int b = 0; b < B; b++) {
        seqs[b].prompt = prompt + (size_t)b * P;
        seqs[b].prompt_len = P;
        seqs[b].stream = (uint64_t)b;
    }
    struct srl_gen_params p = { .sample = SRL_SAMPLER_PARAMS_INIT, .max_new_tokens = n,
                                .eos_id = -1, .seed = 1 };
    if (greedy)
        p.sample.temperature = 0;
    /* prefill alone, for the report */
    double t0 = now();
    struct srl_gen_params one = p;
    one.max_new_tokens = 1;
    int rc = srl_generate(m, &one, seqs, B);
    double prefill = now() - t0;
    t0 = now();
    rc |= srl_generate(m, &p, seqs, B);
    double dt = now() - t0;
    long total = 0;
    for (int b = 0; b < B; b++)
        total += seqs[b].n_tokens, srl_gen_seq_clear(&seqs[b]);
    double tps = rc == 0 && dt > 0 ? total / dt : 0;
    printf("{\"bench\":\"generate\",\"model\":\"%s\",\"B\":%d,\"prompt\":%d,\"new_tokens\":%d,"
           "\"mode\":\"%s\",\"threads\":%d,\"tokens_per_s\":%.1f,\"prefill_s\":%.4f,"
           "\"total_s\":%.3f,\"speedup_vs_1\":%.2f}\n",
           name, B, P, n, greedy ? "greedy" : "sample", omp_get_max_threads(), tps, prefill, dt,
           base > 0 ? tps / base : 1.0);
    fflush(stdout);
    free(prompt);
    free(seqs);
    return tps;
}

/* The lower bar: one stream, the whole forward pass again for every new token. */
static void run_nocache(struct srl_model *m, const char *name, int P, int n)
{
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(P + n));
    if (!ids)
        return;
    for (int i = 0; i < P; i++)
        ids[i] = P == 1 ? 1 : (int32_t)((i * 7919u + 13) % (unsigned)m->cfg.vocab_size);
    int V = m->cfg.vocab_size, T = P;
    double t0 = now();
    for (; T < P + n; T++) {
        if (srl_model_forward(m, ids, NULL, 1, T) < 0)
            break;
        const float *l = m->logits + (size_t)(T - 1) * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (l[v] > l[best])
                best = v;
        ids[T] = best;
    }
    double dt = now() - t0;
    printf("{\"bench\":\"generate_nocache\",\"model\":\"%s\",\"B\":1,\"prompt\":%d,"
           "\"new_tokens\":%d,\"tokens_per_s\":%.1f,\"total_s\":%.3f}\n",
           name, P, T - P, (T - P) / dt, dt);
    fflush(stdout);
    free(ids);
}

static void bench_model(struct srl_model *m, const char *name, int P, int n, bool greedy1)
{
    fprintf(stderr, "bench_generate: %s\n", name);
    run_nocache(m, name, P, n);
    double base = run_batch(m, name, 1, P, n, greedy1, 0);
    run_batch(m, name, 16, P, n, false, base);
    run_batch(m, name, 64, P, n, false, base);
}

int main(void)
{
    const char *q = getenv("BENCH_QUICK");
    int quick = q && *q && strcmp(q, "0") != 0, n = quick ? 16 : 64;
    srl_log_set_prog("bench_generate");

    struct srl_config cfg;
    srl_config_default(&cfg, SRL_ARCH_LLAMA); /* d 256, 4 layers, 8 heads, V 32000 */
    int err;
    struct srl_model *m = srl_model_new(&cfg, srl_backend_cpu(), &err);
    if (!m)
        return 1;
    srl_model_init_random(m, 1);
    bench_model(m, "llama-d256-L4-V32000", 16, n, false);
    srl_model_free(m);

    const char *sh = getenv("SAFERLHF_SHARED");
    char bin[512], tok[512], dir[] = "/tmp/bench_generate.XXXXXX", out[600], cmd[700];
    snprintf(bin, sizeof bin, "%s/models/stories260K/stories260K.bin", sh && *sh ? sh : "../shared");
    snprintf(tok, sizeof tok, "%s/models/stories260K/tok512.bin", sh && *sh ? sh : "../shared");
    struct stat st;
    if (stat(bin, &st) != 0 || !mkdtemp(dir)) {
        printf("{\"bench\":\"generate\",\"model\":\"stories260K\",\"skipped\":\"%s absent\"}\n",
               bin);
        return 0;
    }
    snprintf(out, sizeof out, "%s/m", dir);
    m = NULL;
    if (mkdir(out, 0777) == 0 && srl_llama2c_convert(bin, tok, out, SRL_DTYPE_F32, NULL) == 0 &&
        srl_model_load(out, srl_backend_cpu(), &m) == 0)
        bench_model(m, "stories260K", 1, quick ? 64 : 200, true);
    srl_model_free(m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_generate: cannot remove %s\n", dir);
    return 0;
}
