/* bench_generate.c -- generation throughput of lib/generate (KV cache, batched decoding).
 *
 * Prints JSON lines on stdout (progress on stderr):
 *   {"bench":"generate","model":..,"B":..,"prompt":..,"new_tokens":..,"mode":"greedy"|"sample",
 *    "tokens_per_s":..,"prefill_s":..,"total_s":..,"speedup_vs_1":..}
 *   {"bench":"generate_nocache","model":..,"tokens_per_s":..}
 *   {"bench":"generate_runc","model":..,"tokens_per_s":..,"same_tokens":true|false}
 * Models: the small Llama of srl_config_default (d 256, 4 layers, 8 heads, vocab 32000, random
 * init) and stories260K from ../shared (converted here; skipped when absent).  Batches of 1, 16
 * and 64 sequences, prompts of 16 random tokens (stories260K: BOS only, as llama2.c's run.c),
 * sampling at temperature 1 (and B=1 greedy too, the run.c -t 0 case); tokens/s counts
 * generated tokens over the whole call (prefill included); speedup_vs_1 compares with B=1
 * sampling.
 *
 * Baselines (llama2.c's run.c itself is not available on this machine):
 *   generate_runc     run.c's algorithm re-implemented here on the same weights: one stream,
 *                     greedy, a KV cache, fp32 matrix-vector products as run.c's matmul()
 *                     (OpenMP over output rows, the dot product an `omp simd` reduction, which
 *                     is what run.c's -Ofast build vectorises); its tokens are checked against
 *                     ours (same_tokens);
 *   generate_nocache  the lower bar: the full forward pass over the growing sequence again for
 *                     every token.
 *
 * Where the time goes (perf, one thread, OPENBLAS_CORETYPE=Haswell as on the dev machine):
 * small Llama B=16: sgemm 59% (a third of it OpenBLAS packing the 32000x256 LM head again on
 * every call: at M=16 rows packing costs as much as the products), sampling 13%, attention 10%;
 * the LM head alone runs 0.86 ms at M=1 and 0.23 ms/row at M=16, which bounds the batch gain
 * near 4x on one thread.  stories260K B=16: attention over the KV cache is 70% -- per-row work
 * that batching cannot share in a 260K-parameter model.
 *
 * small_m_matmul false: srl_cpu_small_m_max_rows = 0, every product of 2+ rows through sgemm,
 * which packs the whole head on every call (the path before lib/backend_cpu_small_m.c): the
 * same run's baseline for B=16 (B=64 is above the row limit: sgemm both ways).  Run by
 * scripts/bench.sh with OMP_WAIT_POLICY=passive, as the tools run.
 *   {"bench":"generate_head","rows":..,"ms":..,"previous_ms":..,"speedup":..}  the head
 *   product alone for 1, 4, 16 and 64 rows, in place against packed (interleaved)
 *
 * Environment: BENCH_QUICK=1 generates fewer tokens. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backend_cpu_internal.h"
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
                        double base, bool small_m)
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
           "\"mode\":\"%s\",\"small_m_matmul\":%s,\"threads\":%d,\"tokens_per_s\":%.1f,"
           "\"prefill_s\":%.4f,\"total_s\":%.3f,\"speedup_vs_1\":%.2f}\n",
           name, B, P, n, greedy ? "greedy" : "sample", small_m ? "true" : "false",
           omp_get_max_threads(), tps, prefill, dt, base > 0 ? tps / base : 1.0);
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

// --- run.c's forward pass (llama2.c), on the HF-layout weights of m --------------------------

/* run.c's matmul: xout (d) = W (d,n) x (n) */
static void rc_matmul(float *xout, const float *x, const float *w, int n, int d)
{
#pragma omp parallel for
    for (int i = 0; i < d; i++) {
        float val = 0;
#pragma omp simd reduction(+ : val)
        for (int j = 0; j < n; j++)
            val += w[(size_t)i * n + j] * x[j];
        xout[i] = val;
    }
}

static void rc_rmsnorm(float *o, const float *x, const float *w, int n, float eps)
{
    float ss = 0;
    for (int j = 0; j < n; j++)
        ss += x[j] * x[j];
    ss = 1.0f / sqrtf(ss / n + eps);
    for (int j = 0; j < n; j++)
        o[j] = w[j] * (ss * x[j]);
}

static float *rc_w(struct srl_model *m, int l, const char *what)
{
    char name[SRL_PARAM_NAME_MAX];
    if (l < 0)
        return srl_model_param(m, what);
    snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, what);
    return srl_model_param(m, name);
}

/* Greedy tokens out[0..n) after BOS-or-prompt ids[0..P), run.c style; returns tokens/s. */
static double runc_generate(struct srl_model *m, const int32_t *ids, int P, int n, int32_t *out)
{
    const struct srl_config *c = &m->cfg;
    int C = c->hidden_size, L = c->num_hidden_layers, NH = c->num_attention_heads;
    int KVH = c->num_key_value_heads, D = c->head_dim, F = c->intermediate_size;
    int V = c->vocab_size, S = P + n, QD = NH * D, KVD = KVH * D;
    float *x = malloc(sizeof(float) * C), *xb = malloc(sizeof(float) * (QD > C ? QD : C));
    float *q = malloc(sizeof(float) * QD), *h1 = malloc(sizeof(float) * F);
    float *h2 = malloc(sizeof(float) * F), *att = malloc(sizeof(float) * S);
    float *logits = malloc(sizeof(float) * V), *xb2 = malloc(sizeof(float) * C);
    float *kc = malloc(sizeof(float) * (size_t)L * S * KVD);
    float *vc = malloc(sizeof(float) * (size_t)L * S * KVD);
    const float *emb = rc_w(m, -1, "model.embed_tokens.weight");
    const float *head = rc_w(m, -1, "lm_head.weight");
    if (!head)
        head = emb;
    double t0 = now();
    int tok = ids[0];
    for (int pos = 0; pos < S - 1; pos++) {
        memcpy(x, emb + (size_t)tok * C, sizeof(float) * C);
        for (int l = 0; l < L; l++) {
            float *k = kc + ((size_t)l * S + pos) * KVD, *v = vc + ((size_t)l * S + pos) * KVD;
            rc_rmsnorm(xb, x, rc_w(m, l, "input_layernorm"), C, c->norm_eps);
            rc_matmul(q, xb, rc_w(m, l, "self_attn.q_proj"), C, QD);
            rc_matmul(k, xb, rc_w(m, l, "self_attn.k_proj"), C, KVD);
            rc_matmul(v, xb, rc_w(m, l, "self_attn.v_proj"), C, KVD);
            for (int i = 0; i < QD; i++) { /* RoPE, HF's rotate-half layout */
                int hd = i % D, half = D / 2;
                if (hd >= half)
                    continue;
                float f = (float)pos * powf(c->rope_theta, -2.0f * hd / D);
                float cs = cosf(f), sn = sinf(f);
                for (float *vec = q; vec; vec = (vec == q && i < KVD) ? k : NULL) {
                    float a = vec[i], b = vec[i + half];
                    vec[i] = a * cs - b * sn;
                    vec[i + half] = a * sn + b * cs;
                }
            }
#pragma omp parallel for
            for (int h = 0; h < NH; h++) {
                float *a = malloc(sizeof(float) * (pos + 1)), mx = -INFINITY, sum = 0;
                int kh = h / (NH / KVH);
                for (int t = 0; t <= pos; t++) {
                    const float *kt = kc + ((size_t)l * S + t) * KVD + kh * D;
                    float sc = 0;
                    for (int i = 0; i < D; i++)
                        sc += q[h * D + i] * kt[i];
                    a[t] = sc / sqrtf((float)D);
                    mx = a[t] > mx ? a[t] : mx;
                }
                for (int t = 0; t <= pos; t++)
                    sum += (a[t] = expf(a[t] - mx));
                for (int i = 0; i < D; i++)
                    xb[h * D + i] = 0;
                for (int t = 0; t <= pos; t++) {
                    const float *vt = vc + ((size_t)l * S + t) * KVD + kh * D;
                    for (int i = 0; i < D; i++)
                        xb[h * D + i] += a[t] / sum * vt[i];
                }
                free(a);
            }
            rc_matmul(xb2, xb, rc_w(m, l, "self_attn.o_proj"), QD, C);
            for (int i = 0; i < C; i++)
                x[i] += xb2[i];
            rc_rmsnorm(xb, x, rc_w(m, l, "post_attention_layernorm"), C, c->norm_eps);
            rc_matmul(h1, xb, rc_w(m, l, "mlp.gate_proj"), C, F);
            rc_matmul(h2, xb, rc_w(m, l, "mlp.up_proj"), C, F);
            for (int i = 0; i < F; i++)
                h1[i] = h1[i] / (1.0f + expf(-h1[i])) * h2[i];
            rc_matmul(xb2, h1, rc_w(m, l, "mlp.down_proj"), F, C);
            for (int i = 0; i < C; i++)
                x[i] += xb2[i];
        }
        rc_rmsnorm(x, x, rc_w(m, -1, "model.norm.weight"), C, c->norm_eps);
        rc_matmul(logits, x, head, C, V);
        if (pos + 1 < P) {
            tok = ids[pos + 1];
            continue;
        }
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best])
                best = i;
        out[pos + 1 - P] = tok = best;
    }
    double dt = now() - t0;
    free(x), free(xb), free(q), free(h1), free(h2), free(att), free(logits), free(xb2);
    free(kc), free(vc);
    return n / dt;
}

/* run.c's loop vs our engine at B=1, greedy: tokens/s and whether the tokens agree. */
static void run_runc(struct srl_model *m, const char *name, int P, int n)
{
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)P), *out = malloc(sizeof(int32_t) * n);
    for (int i = 0; i < P; i++)
        ids[i] = P == 1 ? 1 : (int32_t)((i * 7919u + 13) % (unsigned)m->cfg.vocab_size);
    double tps = runc_generate(m, ids, P, n, out);
    struct srl_gen_seq s = { .prompt = ids, .prompt_len = P };
    struct srl_gen_params p = { .sample = SRL_SAMPLER_PARAMS_INIT, .max_new_tokens = n,
                                .eos_id = -1 };
    p.sample.temperature = 0;
    int same = srl_generate(m, &p, &s, 1) == 0 && s.n_tokens == n &&
               !memcmp(s.tokens, out, sizeof(int32_t) * n);
    printf("{\"bench\":\"generate_runc\",\"model\":\"%s\",\"B\":1,\"prompt\":%d,"
           "\"new_tokens\":%d,\"threads\":%d,\"tokens_per_s\":%.1f,\"same_tokens\":%s}\n",
           name, P, n, omp_get_max_threads(), tps, same ? "true" : "false");
    fflush(stdout);
    srl_gen_seq_clear(&s);
    free(ids);
    free(out);
}

/* The LM head alone, C (M,V) = A (M,C) head (V,C)^T as a decoding step of M streams calls it:
 * the backend (rows <= srl_cpu_small_m_max_rows read the head in place) against the previous
 * path (sgemm on each thread's columns, packing the head), interleaved, best of 3 rounds. */
static void run_head(const struct srl_model *m, const char *name, int M)
{
    const struct srl_backend *be = srl_backend_cpu();
    int V = m->cfg.vocab_size, C = m->cfg.hidden_size, keep = srl_cpu_small_m_max_rows;
    float *A = malloc(sizeof(float) * M * C), *W = malloc(sizeof(float) * V * C);
    float *out = malloc(sizeof(float) * M * V);
    double best[2] = {1e30, 1e30};
    if (!A || !W || !out)
        goto out;
    for (size_t i = 0; i < (size_t)M * C; i++)
        A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < (size_t)V * C; i++)
        W[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
    for (int round = 0; round < 3; round++) {
        for (int mode = 0; mode < 2; mode++) {
            srl_cpu_small_m_max_rows = mode ? keep : 0;
            int reps = 0;
            double t0 = now(), t;
            do {
                be->matmul(out, A, W, M, V, C, false, true, C, C, V, 1.0f, 0.0f);
                reps++;
            } while ((t = now() - t0) < 0.2);
            best[mode] = t / reps < best[mode] ? t / reps : best[mode];
        }
    }
    srl_cpu_small_m_max_rows = keep;
    printf("{\"bench\":\"generate_head\",\"model\":\"%s\",\"rows\":%d,\"V\":%d,\"C\":%d,"
           "\"threads\":%d,\"in_place\":%s,\"ms\":%.3f,\"previous_ms\":%.3f,"
           "\"speedup\":%.2f,\"gflops\":%.1f}\n",
           name, M, V, C, omp_get_max_threads(),
           srl_cpu_small_m_takes(M, V, C) ? "true" : "false",
           best[1] * 1e3, best[0] * 1e3, best[0] / best[1], 2.0 * M * V * C / best[1] * 1e-9);
    fflush(stdout);
out:
    free(A), free(W), free(out);
}

static void bench_model(struct srl_model *m, const char *name, int P, int n)
{
    fprintf(stderr, "bench_generate: %s\n", name);
    run_nocache(m, name, P, n);
    run_runc(m, name, P, n);
    run_batch(m, name, 1, P, n, true, 0, true);
    double base = run_batch(m, name, 1, P, n, false, 0, true);
    /* 16 streams with the head packed by sgemm as before, then read in place */
    int keep = srl_cpu_small_m_max_rows;
    srl_cpu_small_m_max_rows = 0;
    run_batch(m, name, 16, P, n, false, base, false);
    srl_cpu_small_m_max_rows = keep;
    run_batch(m, name, 16, P, n, false, base, true);
    run_batch(m, name, 64, P, n, false, base, true);
    for (int rows = 1; rows <= 64; rows *= 4)
        run_head(m, name, rows);
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
    bench_model(m, "llama-d256-L4-V32000", 16, n);
    srl_model_free(m);

    const char *sh = getenv("SAFERLHF_SHARED");
    char bin[512], tok[512], dir[] = "/tmp/bench_generate.XXXXXX", out[600], cmd[700];
    sh = sh && *sh ? sh : "../shared";
    snprintf(bin, sizeof bin, "%s/models/stories260K/stories260K.bin", sh);
    snprintf(tok, sizeof tok, "%s/models/stories260K/tok512.bin", sh);
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
        bench_model(m, "stories260K", 1, quick ? 64 : 200);
    srl_model_free(m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_generate: cannot remove %s\n", dir);
    return 0;
}
