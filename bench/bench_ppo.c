/* bench_ppo.c -- one PPO-Lagrangian step (lib/ppo_trainer) broken down by phase, beside an
 * SFT step of the same actor on the same rows.
 *
 * Prints one JSON line per variant on stdout (progress on stderr):
 *   {"bench":"ppo_lag_step","model":..,"lm_head":"sparse"|"dense","small_m_matmul":..,
 *    "sequences":..,"new_tokens":..,"rows":..,"cols":..,"rollout_s":..,"scoring_s":..,
 *    "advantage_s":..,"actor_s":..,"critics_s":..,"step_s":..,"first_step_s":..,
 *    "rollout_tokens_per_s":..,"sft_step_s":..,"step_over_sft":..,"step_gflop":..,
 *    "sft_gflop":..,"flops_over_sft":..,"step_over_sft_flop":..,"speedup_vs_this":..}
 * Seconds are each phase's median over the optimiser steps after the first (5 steps, one
 * rollout batch each; the first step also pays for first-touch allocations, reported as
 * first_step_s):
 *   rollout    generation of 16 prompts x 1 sample with the KV cache (logp_raw kept: no
 *              extra actor forward for the old log-probs)
 *   scoring    forwards of the reference model (log-probs), RM and CM (end scores) and both
 *              critics (values) over the whole rollout batch, one pass per model
 *   advantage  lambda update, KL-shaped rewards/costs, both GAEs, combined advantages
 *   actor      actor forward + log-probs, clipped-surrogate loss, backward, clip, AdamW
 *   critics    reward and cost critic value-clipped loss, backward, clip, AdamW (the scoring
 *              forward is reused: same weights, same rows)
 * Variants, in the same run (speedup_vs_this: the first variant's step against this one's):
 *   sparse, small_m_matmul true   the defaults;
 *   dense                         the reference's and the actor's LM head on every row,
 *                                 prompts and padding too (before srl_model_set_sparse_head
 *                                 ran it on the response rows only);
 *   small_m_matmul false          decoding's products of 2-64 rows through sgemm, packing
 *                                 every weight on every call (before lib/backend_cpu_small_m.c
 *                                 read them in place).
 * sft_step_s: one SFT step (forward, loss on the last new_tokens of every row, backward,
 * clip, AdamW; sparse head; the median of 5) of the actor on rows x cols tokens, the shape of
 * the last rollout batch; step_over_sft = step_s / sft_step_s, the PPO step's cost per
 * trained token in SFT steps.
 * flops_over_sft: the step's model FLOPs over the SFT step's (the floor step_over_sft would
 * reach if every phase ran at the SFT step's FLOP rate; model_flops below); step_over_sft_flop
 * = step_over_sft / flops_over_sft, the step's time per FLOP in SFT steps' time per FLOP.
 * All six models are the small Llama of srl_config_default (d 256, 4 layers, 8 heads, vocab
 * 32000; random weights; the score models with a score head), written to a temporary
 * directory with the tests' tokenizer.  Environment: BENCH_QUICK=1 generates fewer tokens. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend_cpu_internal.h"
#include "fileio.h"
#include "model.h"
#include "optim.h"
#include "ppo_trainer.h"
#include "srl.h"
#include "trainer.h"

#define TOKDIR "tests/data/sft_demo_tokenizer"

static int write_model(const char *root, const char *name, enum srl_head head, uint64_t seed)
{
    struct srl_config cfg;
    int err;
    srl_config_default(&cfg, SRL_ARCH_LLAMA);
    cfg.head = head;
    if (head == SRL_HEAD_SCORE) {
        cfg.num_labels = 1;
        snprintf(cfg.score_type, sizeof cfg.score_type, "%s", name);
        snprintf(cfg.architecture, sizeof cfg.architecture, "LlamaForSequenceClassification");
    }
    cfg.bos_token_id = cfg.eos_token_id = cfg.pad_token_id = 0;
    struct srl_model *m = srl_model_new(&cfg, srl_backend_cpu(), &err);
    if (!m) return err;
    srl_model_init_random(m, seed);
    char *dir = srl_path_join(root, name), *src = NULL, *dst = NULL, *data = NULL;
    size_t len;
    mkdir(dir, 0755);
    int rc = srl_model_save(m, dir, SRL_DTYPE_F32);
    src = srl_path_join(TOKDIR, "tokenizer.json");
    dst = srl_path_join(dir, "tokenizer.json");
    if (rc == 0) rc = srl_read_file(src, &data, &len);
    if (rc == 0) rc = srl_write_file_atomic(dst, data, len);
    free(dir), free(src), free(dst), free(data);
    srl_model_free(m);
    return rc;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* The baseline: one SFT step of the actor on the PPO actor's rows: N rows of L tokens, the
 * last new_tokens of each row trained (as the rollout's responses), the sparse LM head as the
 * SFT trainer runs it, clip and AdamW.  The median seconds of 5 steps after a first one, or
 * < 0 on failure. */
static double sft_step_seconds(const char *dir, int N, int L, int new_tokens)
{
    struct srl_model *m = NULL;
    struct srl_optim *opt = NULL;
    struct srl_adamw_hparams hp;
    size_t n = (size_t)N * (size_t)L;
    int32_t *tok = malloc(n * sizeof *tok), *tgt = malloc(n * sizeof *tgt);
    double dt[6] = {0}, norm;
    srl_adamw_defaults(&hp);
    int rc = tok && tgt ? srl_model_load(dir, srl_backend_cpu(), &m) : SRL_ENOMEM;
    if (rc == 0) rc = srl_optim_for_model(m, &hp, &opt);
    for (size_t i = 0; rc == 0 && i < n; i++)
        tok[i] = (int32_t)((i * 2654435761u) % (size_t)m->cfg.vocab_size);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int t = (int)(i % (size_t)L);
        tgt[i] = t >= L - new_tokens - 1 && t + 1 < L ? tok[i + 1] : -1;
    }
    if (rc == 0) srl_model_set_sparse_head(m, true);
    for (int s = 0; rc == 0 && s < 6; s++) {
        float loss;
        double t0 = srl_seconds();
        if ((rc = srl_model_zero_grad(m)) == 0 &&
            (rc = srl_model_forward(m, tok, NULL, N, L)) == 0 &&
            (rc = srl_model_loss(m, tgt, NULL, &loss)) == 0 &&
            (rc = srl_model_backward(m)) == 0)
            rc = srl_optim_clip_step(opt, m->params, m->grads, 1.0, 1e-5f, &norm);
        dt[s] = srl_seconds() - t0;
    }
    srl_optim_free(opt);
    srl_model_free(m);
    free(tok), free(tgt);
    qsort(dt + 1, 5, sizeof dt[0], cmp_double);
    return rc == 0 ? dt[3] : -1;
}

/* The weights of one layer's products: q, k, v, o; gate, up, down. */
static double layer_weights(const struct srl_config *c)
{
    double d = c->hidden_size;
    return 4 * d * d + 3 * d * c->intermediate_size;
}

/* Model FLOPs of a forward pass of c over N rows of L tokens with the LM head on head_rows of
 * them (PaLM appendix B, as bench_train): 2 per weight of the layers' products per token, 2 d V
 * per head row, and causal attention's QK^T and AV, 2 T d per token per layer. */
static double forward_flops(const struct srl_config *c, double N, double L, double head_rows)
{
    double d = c->hidden_size;
    return N * L * 2 * c->num_hidden_layers * (layer_weights(c) + L * d) +
           2 * d * c->vocab_size * head_rows;
}

/* The model FLOPs of one PPO-Lagrangian step on N rows of L tokens, the last `gen` of each
 * generated, and of the SFT step that trains the same tokens (backward = 2x forward):
 *   rollout   prefill of the L - gen prompt tokens (head on the last), then gen - 1 decoding
 *             steps (every weight once per token, attention over the cache so far: 4 t d a
 *             layer);
 *   scoring   the reference's forward (head on the response rows), and the RM's, the CM's and
 *             both critics' (a score head: no LM head);
 *   actor     forward and backward on the response rows: the SFT step itself;
 *   critics   both critics' backward (their forward is the scoring's). */
static void model_flops(const struct srl_config *c, int N, int L, int gen, double *ppo,
                        double *sft)
{
    double d = c->hidden_size, P = L - gen, layer = layer_weights(c);
    double rollout = forward_flops(c, N, P, N);
    for (int t = (int)P; t < L - 1; t++) /* feeding position t, attending to t + 1 */
        rollout += N * (2 * c->num_hidden_layers * (layer + 2 * (t + 1) * d) +
                        2 * d * c->vocab_size);
    double body = forward_flops(c, N, L, 0), ref = forward_flops(c, N, L, (double)N * gen);
    *sft = 3 * ref;
    *ppo = rollout + (ref + 4 * body) + *sft + 2 * 2 * body;
}

/* Train o into root/NAME; from the log, v gets each phase's median seconds over the steps
 * after the first (rollout, scoring, advantage, actor, critics, and the rollout's tokens/s) and
 * *first the first step's seconds (it also pays for first-touch allocations); tm the totals. */
static int run_ppo(struct srl_ppo_train_opts *o, const char *root, const char *name, double *v,
                   double *first, struct srl_ppo_timing *tm)
{
    static const char *const keys[6] = {"rollout_s", "scoring_s", "advantage_s", "actor_s",
                                        "critics_s", "rollout_tokens_per_s"};
    enum { MAX_STEPS = 16 };
    char logname[64], line[8192];
    snprintf(logname, sizeof logname, "%s.jsonl", name);
    char *out = srl_path_join(root, name), *log = srl_path_join(root, logname);
    double x[6][MAX_STEPS];
    int n = 0;
    o->output = out;
    o->log_path = log;
    int rc = srl_ppo_train(o, tm);
    FILE *lf = rc == 0 ? fopen(log, "r") : NULL;
    while (lf && n < MAX_STEPS && fgets(line, sizeof line, lf)) {
        for (int k = 0; k < 6; k++) {
            char pat[64];
            snprintf(pat, sizeof pat, "\"%s\":", keys[k]);
            const char *p = strstr(line, pat);
            x[k][n] = p ? strtod(p + strlen(pat), NULL) : 0;
        }
        n++;
    }
    if (lf) fclose(lf);
    *first = 0;
    for (int k = 0; k < 6; k++) {
        if (k < 5 && n > 0) *first += x[k][0];
        if (n > 1) qsort(x[k] + 1, (size_t)(n - 1), sizeof x[k][0], cmp_double);
        v[k] = n > 1 ? x[k][1 + (n - 1) / 2] : 0;
    }
    free(out), free(log);
    return rc == 0 && n < 2 ? SRL_EIO : rc;
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_ppo: cannot remove %s\n", dir);
}

int main(void)
{
    char root[] = "/tmp/bench_ppo.XXXXXX";
    if (!mkdtemp(root)) return 1;
    bool quick = getenv("BENCH_QUICK") != NULL;
    int rc = 0, steps = quick ? 3 : 5, new_tokens = quick ? 16 : 64;
    const char *names[4] = {"actor", "reward", "cost", NULL};
    for (int k = 0; rc == 0 && names[k]; k++)
        rc = write_model(root, names[k], k ? SRL_HEAD_SCORE : SRL_HEAD_LM, 42 + (uint64_t)k);
    char *dirs[3], *prompts = srl_path_join(root, "prompts.jsonl");
    for (int k = 0; k < 3; k++)
        dirs[k] = srl_path_join(root, names[k]);
    FILE *fp = rc == 0 ? fopen(prompts, "w") : NULL;
    for (int i = 0; fp && i < 64; i++)
        fprintf(fp, "{\"prompt\": \"Tell me a short story about the number %d and the sea.\"}\n",
                i);
    if (!fp || fclose(fp) != 0) rc = SRL_EIO;
    if (rc < 0) {
        fprintf(stderr, "bench_ppo: cannot write the models (%s)\n", srl_strerror(rc));
        rm_rf(root);
        return 1;
    }
    struct srl_ppo_train_opts o;
    srl_ppo_train_opts_default(&o);
    o.actor = dirs[0], o.reward_model = dirs[1], o.cost_model = dirs[2];
    o.prompts[0] = prompts;
    o.n_prompts = 1;
    o.max_new_tokens = new_tokens;
    o.max_steps = steps;
    o.quiet = true;
    srl_log_set_level(SRL_LOG_ERROR);
    /* the step as it is now, with the LM head on every row, and with decoding through sgemm */
    enum { VARIANTS = 3 };
    static const bool dense[VARIANTS] = {false, true, false};
    static const char *const variant[VARIANTS] = {"now", "dense", "sgemm"}; /* output dirs */
    int small_m[VARIANTS] = {srl_cpu_small_m_max_rows, srl_cpu_small_m_max_rows, 0};
    double v[VARIANTS][6], step[VARIANTS] = {0}, first[VARIANTS];
    struct srl_ppo_timing tm[VARIANTS];
    for (int k = 0; rc == 0 && k < VARIANTS; k++) {
        fprintf(stderr, "bench_ppo: %d PPO-Lag steps of 16 sequences x %d new tokens, %s head, "
                "small-row products %s\n", steps, new_tokens, dense[k] ? "dense" : "sparse",
                small_m[k] ? "in place" : "through sgemm");
        o.dense_head = dense[k];
        srl_cpu_small_m_max_rows = small_m[k];
        rc = run_ppo(&o, root, variant[k], v[k], &first[k], &tm[k]);
        srl_cpu_small_m_max_rows = small_m[0];
        for (int p = 0; p < 5; p++)
            step[k] += v[k][p];
    }
    int rows = tm[0].rows, cols = tm[0].cols; /* the last rollout batch */
    double sft_s = rc == 0 ? sft_step_seconds(dirs[0], rows, cols, new_tokens) : -1;
    struct srl_config cfg;
    double ppo_flops, sft_flops;
    srl_config_default(&cfg, SRL_ARCH_LLAMA); /* the six models' (write_model) */
    model_flops(&cfg, rows, cols, new_tokens, &ppo_flops, &sft_flops);
    double floor = ppo_flops / sft_flops;
    for (int k = 0; rc == 0 && k < VARIANTS; k++) {
        printf("{\"bench\":\"ppo_lag_step\",\"model\":\"llama d256 L4 V32000 (x6)\","
               "\"lm_head\":\"%s\",\"small_m_matmul\":%s,\"sequences\":16,\"new_tokens\":%d,"
               "\"threads\":%d,\"rows\":%d,\"cols\":%d,\"rollout_s\":%.4f,\"scoring_s\":%.4f,"
               "\"advantage_s\":%.5f,\"actor_s\":%.4f,\"critics_s\":%.4f,\"step_s\":%.4f,"
               "\"first_step_s\":%.4f,\"rollout_tokens_per_s\":%.1f,\"sft_step_s\":%.4f,"
               "\"step_over_sft\":%.2f,\"step_gflop\":%.1f,\"sft_gflop\":%.1f,"
               "\"flops_over_sft\":%.2f,\"step_over_sft_flop\":%.2f,\"speedup_vs_this\":%.3f}\n",
               dense[k] ? "dense" : "sparse", small_m[k] ? "true" : "false", new_tokens,
               omp_get_max_threads(), rows, cols, v[k][0], v[k][1], v[k][2], v[k][3], v[k][4],
               step[k], first[k], v[k][5], sft_s, sft_s > 0 ? step[k] / sft_s : 0.0,
               ppo_flops * 1e-9, sft_flops * 1e-9, floor,
               sft_s > 0 ? step[k] / sft_s / floor : 0.0, step[k] / step[0]);
    }
    if (rc != 0) fprintf(stderr, "bench_ppo: training failed (%s)\n", srl_strerror(rc));
    for (int k = 0; k < 3; k++)
        free(dirs[k]);
    free(prompts);
    rm_rf(root);
    return rc == 0 ? 0 : 1;
}
