/* bench_generate.c -- generation throughput of lib/generate (KV cache, batched decoding) beside
 * llama2.c's run.c on the same weights.
 *
 * Prints JSON lines on stdout (progress on stderr):
 *   {"bench":"generate_load","loadavg_1m":..,"omp_wait_policy":..}  the machine when it began
 *   {"bench":"generate","model":..,"B":..,"prompt":..,"new_tokens":..,"mode":"greedy"|"sample",
 *    "tokens_per_s":..,"prefill_s":..,"total_s":..,"speedup_vs_1":..,"vs_run_c":..,
 *    "cpu_s":..,"tokens_per_cpu_s":..,"cpu_speedup_vs_1":..}
 *   {"bench":"generate_llama2c_run","model":..,"tokens_per_s":..,"ours_tokens_per_s":..,
 *    "ours_vs_run_c":..,"same_tokens":true|false,"cpu_s":..,"ours_cpu_s":..}
 *   {"bench":"generate_nocache","model":..,"tokens_per_s":..}
 * Models: the small Llama of srl_config_default (d 256, 4 layers, 8 heads, vocab 32000, random
 * init) and stories260K from ../shared (converted here; skipped when absent).  Batches of 1, 16
 * and 64 sequences, prompts of 16 random tokens (stories260K: BOS only, as llama2.c's run.c),
 * sampling at temperature 1 (and B=1 greedy too, the run.c -t 0 case); tokens/s counts
 * generated tokens over the whole call (prefill included); speedup_vs_1 compares with B=1
 * sampling, vs_run_c with run.c's one stream.  On a shared machine the wall clock depends on
 * when the other jobs let both threads run; cpu_s (this process's CPU seconds, all threads:
 * passive waits cost none) and tokens_per_cpu_s measure the work itself, and
 * cpu_speedup_vs_1 compares that with B=1 sampling.
 *
 * Baselines:
 *   generate_llama2c_run  llama2.c's run.c itself (build/bench/llama2c_run, built by `make
 *                     bench` from bench/third_party/llama2c/run.c when scripts/fetch-llama2c.sh
 *                     has fetched it; a "skipped" line otherwise) with llama2.c's runomp flags,
 *                     on the small Llama exported by srl_llama2c_export and on stories260K.bin
 *                     itself: one stream, greedy from BOS, its own "achieved tok/s"; beside it
 *                     ours on the same task, and whether the tokens agree;
 *   generate_nocache  the lower bar: the full forward pass over the growing sequence again for
 *                     every token.
 * Threads: run.c and ours run on the same OpenMP settings (scripts/bench.sh sets
 * OMP_WAIT_POLICY=passive as the tools run: run.c's 41 parallel regions a token ran 100x slower
 * with the default spinning when the 2 cores were shared).
 *
 * Where the time goes (perf, small Llama, 2-core Zen 1): B=1: sgemv streaming the 45 MB of
 * fp32 weights at about 16.7 GB/s (memory bound, as run.c).  B=16: the in-place kernel 67%
 * (about 58 GFLOP/s), sampling 9%, the prompt's prefill through sgemm 4%; through sgemm
 * instead (the previous path), OpenBLAS's kernel was ~40% and its packing of every weight on
 * every call ~30%.
 *
 * small_m_matmul true (the default): products of 2-64 rows read the weights in place
 * (lib/backend_cpu_small_m.c); false: every product of 2+ rows through sgemm, which packs
 * every weight on every call (the path before): the same run's baseline for 16 and 64 streams.
 *   {"bench":"generate_head","rows":..,"ms":..,"previous_ms":..,"speedup":..}  the head
 *   product alone for 1, 4, 16 and 64 rows, in place against packed (interleaved)
 *
 * Environment: BENCH_QUICK=1 generates fewer tokens. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend_cpu_internal.h"
#include "fileio.h"
#include "generate.h"
#include "llama2c.h"
#include "model.h"
#include "srl.h"

static double clock_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }

/* CPU seconds of this process, all threads (waits cost none under OMP_WAIT_POLICY=passive) */
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

/* CPU seconds of the waited-for children */
static double children_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* tokens/s of B sequences generating n tokens each after prompts of P tokens (or BOS). */
static double run_batch(struct srl_model *m, const char *name, int B, int P, int n, bool greedy,
                        double base, bool small_m, double runc, double base_cpu,
                        double *per_cpu_s)
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
    double c0 = cpu_now();
    rc |= srl_generate(m, &p, seqs, B);
    double dt = now() - t0, cpu = cpu_now() - c0;
    long total = 0;
    for (int b = 0; b < B; b++)
        total += seqs[b].n_tokens, srl_gen_seq_clear(&seqs[b]);
    double tps = rc == 0 && dt > 0 ? total / dt : 0;
    printf("{\"bench\":\"generate\",\"model\":\"%s\",\"B\":%d,\"prompt\":%d,\"new_tokens\":%d,"
           "\"mode\":\"%s\",\"small_m_matmul\":%s,\"threads\":%d,\"tokens_per_s\":%.1f,"
           "\"prefill_s\":%.4f,\"total_s\":%.3f,\"speedup_vs_1\":%.2f,\"vs_run_c\":%.2f,"
           "\"cpu_s\":%.3f,\"tokens_per_cpu_s\":%.1f,\"cpu_speedup_vs_1\":%.2f}\n",
           name, B, P, n, greedy ? "greedy" : "sample", small_m ? "true" : "false",
           omp_get_max_threads(), tps, prefill, dt, base > 0 ? tps / base : 1.0,
           runc > 0 ? tps / runc : 0, cpu, cpu > 0 ? total / cpu : 0,
           base_cpu > 0 && cpu > 0 ? total / cpu / base_cpu : 1.0);
    fflush(stdout);
    free(prompt);
    free(seqs);
    if (per_cpu_s)
        *per_cpu_s = cpu > 0 ? total / cpu : 0;
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

// --- llama2.c's run.c on the same weights ------------------------------------------------

/* llama2.c's tokenizer.bin of V placeholder pieces "|ID": run.c's output is its token ids. */
static int write_id_tokenizer(const char *path, int V)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int32_t max_len = 12;
    int ok = fwrite(&max_len, 4, 1, f) == 1;
    for (int i = 0; i < V && ok; i++) {
        char piece[16];
        float score = 0;
        int32_t len = snprintf(piece, sizeof piece, "|%d", i);
        ok = fwrite(&score, 4, 1, f) == 1 && fwrite(&len, 4, 1, f) == 1 &&
             fwrite(piece, 1, (size_t)len, f) == (size_t)len;
    }
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* run.c (build/bench/llama2c_run, beside this binary) on BIN, greedy from BOS for n tokens,
 * beside our engine on the same task (B=1, prompt BOS, greedy): run.c's own "achieved tok/s"
 * (timed from its second token), ours over the whole call; same_tokens compares the ids up to
 * where run.c stops (it ends at a BOS).  Returns run.c's tokens/s (0: not run). */
static double run_llama2c(struct srl_model *m, const char *name, const char *bin, int n,
                          const char *dir)
{
    char exe[512], tok[600], out[600], err[600], cmd[3000];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 32);
    if (len <= 0)
        return 0;
    exe[len] = '\0';
    strcpy(strrchr(exe, '/') + 1, "llama2c_run");
    if (access(exe, X_OK) != 0) {
        printf("{\"bench\":\"generate_llama2c_run\",\"model\":\"%s\",\"skipped\":\"%s absent: "
               "bench/third_party/llama2c/README\"}\n", name, exe);
        return 0;
    }
    snprintf(tok, sizeof tok, "%s/ids.bin", dir);
    snprintf(out, sizeof out, "%s/run_c.out", dir);
    snprintf(err, sizeof err, "%s/run_c.err", dir);
    snprintf(cmd, sizeof cmd, "'%s' '%s' -z '%s' -t 0 -n %d -s 1 >'%s' 2>'%s'", exe, bin, tok,
             n, out, err);
    double c0 = children_cpu();
    if (write_id_tokenizer(tok, m->cfg.vocab_size) != 0 || system(cmd) != 0) {
        printf("{\"bench\":\"generate_llama2c_run\",\"model\":\"%s\",\"error\":\"%s failed\"}\n",
               name, exe);
        return 0;
    }
    double runc_cpu = children_cpu() - c0; /* the whole process: loading included */
    char *text = NULL, *msg = NULL;
    size_t tl = 0, ml = 0;
    double runc = 0;
    if (srl_read_file(out, &text, &tl) == 0 && srl_read_file(err, &msg, &ml) == 0) {
        const char *at = strstr(msg, "achieved tok/s:");
        runc = at ? atof(at + 15) : 0;
    }
    // ours on the same task
    int32_t bos = 1;
    struct srl_gen_seq s = { .prompt = &bos, .prompt_len = 1 };
    struct srl_gen_params p = { .sample = SRL_SAMPLER_PARAMS_INIT, .max_new_tokens = n,
                                .eos_id = -1 };
    p.sample.temperature = 0;
    double t0 = now(), c1 = cpu_now();
    int rc = srl_generate(m, &p, &s, 1);
    double ours = rc == 0 ? s.n_tokens / (now() - t0) : 0, ours_cpu = cpu_now() - c1;
    int k = 0, same = rc == 0;
    for (char *c = text; c && (c = strchr(c, '|')); k++)
        same &= k < s.n_tokens && strtol(c + 1, &c, 10) == s.tokens[k];
    printf("{\"bench\":\"generate_llama2c_run\",\"model\":\"%s\",\"B\":1,\"prompt\":1,"
           "\"new_tokens\":%d,\"run_c_tokens\":%d,\"mode\":\"greedy\",\"threads\":%d,"
           "\"cflags\":\"-Ofast -fopenmp -march=native\",\"tokens_per_s\":%.1f,"
           "\"ours_tokens_per_s\":%.1f,\"ours_vs_run_c\":%.2f,\"same_tokens\":%s,"
           "\"cpu_s\":%.3f,\"ours_cpu_s\":%.3f}\n",
           name, n, k, omp_get_max_threads(), runc, ours, runc > 0 ? ours / runc : 0,
           same && k > 0 ? "true" : "false", runc_cpu, ours_cpu);
    fflush(stdout);
    srl_gen_seq_clear(&s);
    free(text);
    free(msg);
    return runc;
}

/* The LM head alone, C (M,V) = A (M,C) head (V,C)^T as a decoding step of M streams calls it:
 * the backend (2 to srl_cpu_small_m_max_rows rows read the head in place) against the previous
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
           M > 1 && M <= keep ? "true" : "false",
           best[1] * 1e3, best[0] * 1e3, best[0] / best[1], 2.0 * M * V * C / best[1] * 1e-9);
    fflush(stdout);
out:
    free(A), free(W), free(out);
}

/* Everything on one model; BIN is the same weights in llama2.c's format, for run.c. */
static void bench_model(struct srl_model *m, const char *name, int P, int n, const char *bin,
                        const char *dir)
{
    fprintf(stderr, "bench_generate: %s\n", name);
    run_nocache(m, name, P, n);
    double runc = run_llama2c(m, name, bin, n, dir), cpu1 = 0;
    int keep = srl_cpu_small_m_max_rows;
    run_batch(m, name, 1, P, n, true, 0, keep > 0, runc, 0, NULL);
    double base = run_batch(m, name, 1, P, n, false, 0, keep > 0, runc, 0, &cpu1);
    /* 16 and 64 streams with every weight packed by sgemm as before, then read in place */
    for (int B = 16; B <= 64; B *= 4) {
        srl_cpu_small_m_max_rows = 0;
        run_batch(m, name, B, P, n, false, base, false, runc, cpu1, NULL);
        srl_cpu_small_m_max_rows = keep;
        run_batch(m, name, B, P, n, false, base, B <= keep, runc, cpu1, NULL);
    }
    for (int rows = 1; rows <= 64; rows *= 4)
        run_head(m, name, rows);
}

int main(void)
{
    const char *q = getenv("BENCH_QUICK");
    int quick = q && *q && strcmp(q, "0") != 0, n = quick ? 16 : 64;
    srl_log_set_prog("bench_generate");
    char dir[] = "/tmp/bench_generate.XXXXXX", bin[600], tok[600], out[600], cmd[700];
    if (!mkdtemp(dir))
        return 1;
    double load[3] = { 0 };
    getloadavg(load, 3);
    printf("{\"bench\":\"generate_load\",\"loadavg_1m\":%.2f,\"loadavg_5m\":%.2f,"
           "\"omp_wait_policy\":\"%s\"}\n", load[0], load[1],
           getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "unset");

    struct srl_config cfg;
    srl_config_default(&cfg, SRL_ARCH_LLAMA); /* d 256, 4 layers, 8 heads, V 32000 */
    int err;
    struct srl_model *m = srl_model_new(&cfg, srl_backend_cpu(), &err);
    if (!m)
        return 1;
    srl_model_init_random(m, 1);
    snprintf(bin, sizeof bin, "%s/llama.bin", dir);
    if (srl_llama2c_export(m, bin) == 0)
        bench_model(m, "llama-d256-L4-V32000", 16, n, bin, dir);
    srl_model_free(m);

    const char *sh = getenv("SAFERLHF_SHARED");
    sh = sh && *sh ? sh : "../shared";
    snprintf(bin, sizeof bin, "%s/models/stories260K/stories260K.bin", sh);
    snprintf(tok, sizeof tok, "%s/models/stories260K/tok512.bin", sh);
    snprintf(out, sizeof out, "%s/m", dir);
    struct stat st;
    m = NULL;
    if (stat(bin, &st) != 0)
        printf("{\"bench\":\"generate\",\"model\":\"stories260K\",\"skipped\":\"%s absent\"}\n",
               bin);
    else if (mkdir(out, 0777) == 0 &&
             srl_llama2c_convert(bin, tok, out, SRL_DTYPE_F32, NULL) == 0 &&
             srl_model_load(out, srl_backend_cpu(), &m) == 0)
        bench_model(m, "stories260K", 1, quick ? 64 : 200, bin, dir);
    srl_model_free(m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_generate: cannot remove %s\n", dir);
    return 0;
}
