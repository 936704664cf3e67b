/* bench_ppo.c -- one PPO-Lagrangian step (lib/ppo_trainer) broken down by phase, beside an
 * SFT step of the same actor on the same rows.
 *
 * Prints one JSON line per LM head on stdout (progress on stderr):
 *   {"bench":"ppo_lag_step","model":..,"lm_head":"sparse"|"dense","sequences":..,
 *    "new_tokens":..,"rows":..,"cols":..,"rollout_s":..,"scoring_s":..,"advantage_s":..,
 *    "actor_s":..,"critics_s":..,"step_s":..,"first_step_s":..,"rollout_tokens_per_s":..,
 *    "sft_step_s":..,"step_over_sft":..,"speedup_vs_dense":..}
 * Seconds are those of the last of 3 optimiser steps (one rollout batch each; the first step
 * also pays for first-touch allocations, reported as first_step_s):
 *   rollout    generation of 16 prompts x 1 sample with the KV cache (logp_raw kept: no
 *              extra actor forward for the old log-probs)
 *   scoring    forwards of the reference model (log-probs), RM and CM (end scores) and both
 *              critics (values) over the whole rollout batch, one pass per model
 *   advantage  lambda update, KL-shaped rewards/costs, both GAEs, combined advantages
 *   actor      actor forward + log-probs, clipped-surrogate loss, backward, clip, AdamW
 *   critics    reward and cost critic value-clipped loss, backward, clip, AdamW (the scoring
 *              forward is reused: same weights, same rows)
 * lm_head: "sparse" runs the reference's and the actor's LM head only on the response rows
 * (srl_model_set_sparse_head; the default), "dense" on every row, prompts and padding too
 * (the path before it, in the same run: speedup_vs_dense).
 * sft_step_s: one SFT step (forward, loss on the last new_tokens of every row, backward,
 * clip, AdamW; sparse head) of the actor on rows x cols tokens, the shape of the last rollout
 * batch; step_over_sft = step_s / sft_step_s, the PPO step's cost per trained token in SFT
 * steps.
 * All six models are the small Llama of srl_config_default (d 256, 4 layers, 8 heads, vocab
 * 32000; random weights; the score models with a score head), written to a temporary
 * directory with the tests' tokenizer.  Environment: BENCH_QUICK=1 generates fewer tokens. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The baseline: one SFT step of the actor on the PPO actor's rows: N rows of L tokens, the
 * last new_tokens of each row trained (as the rollout's responses), the sparse LM head as the
 * SFT trainer runs it, clip and AdamW.  Seconds of the last of 3 steps, or < 0 on failure. */
static double sft_step_seconds(const char *dir, int N, int L, int new_tokens)
{
    struct srl_model *m = NULL;
    struct srl_optim *opt = NULL;
    struct srl_adamw_hparams hp;
    size_t n = (size_t)N * (size_t)L;
    int32_t *tok = malloc(n * sizeof *tok), *tgt = malloc(n * sizeof *tgt);
    double dt = -1, norm;
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
    for (int s = 0; rc == 0 && s < 3; s++) {
        float loss;
        double t0 = srl_seconds();
        if ((rc = srl_model_zero_grad(m)) == 0 &&
            (rc = srl_model_forward(m, tok, NULL, N, L)) == 0 &&
            (rc = srl_model_loss(m, tgt, NULL, &loss)) == 0 &&
            (rc = srl_model_backward(m)) == 0)
            rc = srl_optim_clip_step(opt, m->params, m->grads, 1.0, 1e-5f, &norm);
        dt = srl_seconds() - t0;
    }
    srl_optim_free(opt);
    srl_model_free(m);
    free(tok), free(tgt);
    return rc == 0 ? dt : -1;
}

/* Train o into root/NAME; v gets the last step's phase seconds from the log (steady state,
 * after the first step's allocations): rollout, scoring, advantage, actor, critics, and the
 * rollout's tokens/s. */
static int run_ppo(struct srl_ppo_train_opts *o, const char *root, const char *name, double *v,
                   struct srl_ppo_timing *tm)
{
    static const char *const keys[6] = {"rollout_s", "scoring_s", "advantage_s", "actor_s",
                                        "critics_s", "rollout_tokens_per_s"};
    char logname[64];
    snprintf(logname, sizeof logname, "%s.jsonl", name);
    char *out = srl_path_join(root, name), *log = srl_path_join(root, logname);
    char line[8192], last[8192] = "";
    o->output = out;
    o->log_path = log;
    int rc = srl_ppo_train(o, tm);
    FILE *lf = rc == 0 ? fopen(log, "r") : NULL;
    while (lf && fgets(line, sizeof line, lf))
        memcpy(last, line, sizeof last);
    if (lf) fclose(lf);
    for (int k = 0; k < 6; k++) {
        char pat[64];
        snprintf(pat, sizeof pat, "\"%s\":", keys[k]);
        const char *p = strstr(last, pat);
        v[k] = p ? strtod(p + strlen(pat), NULL) : 0;
    }
    free(out), free(log);
    return rc;
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
    int rc = 0, steps = 3, new_tokens = quick ? 16 : 64;
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
    /* the step with the sparse LM head (now) and with the head on every row (before) */
    double v[2][6], step[2] = {0};
    struct srl_ppo_timing tm[2];
    for (int k = 0; rc == 0 && k < 2; k++) {
        fprintf(stderr, "bench_ppo: %d PPO-Lag steps of 16 sequences x %d new tokens, %s head\n",
                steps, new_tokens, k ? "dense" : "sparse");
        o.dense_head = k == 1;
        rc = run_ppo(&o, root, k ? "dense" : "sparse", v[k], &tm[k]);
        for (int p = 0; p < 5; p++)
            step[k] += v[k][p];
    }
    double sft_s = rc == 0 ? sft_step_seconds(dirs[0], tm[0].rows, tm[0].cols, new_tokens) : -1;
    for (int k = 0; rc == 0 && k < 2; k++) {
        double first = tm[k].rollout + tm[k].scoring + tm[k].advantage + tm[k].actor +
                       tm[k].critics - step[k] * (steps - 1);
        printf("{\"bench\":\"ppo_lag_step\",\"model\":\"llama d256 L4 V32000 (x6)\","
               "\"lm_head\":\"%s\",\"sequences\":16,\"new_tokens\":%d,\"threads\":%d,"
               "\"rows\":%d,\"cols\":%d,\"rollout_s\":%.4f,\"scoring_s\":%.4f,"
               "\"advantage_s\":%.5f,\"actor_s\":%.4f,\"critics_s\":%.4f,\"step_s\":%.4f,"
               "\"first_step_s\":%.4f,\"rollout_tokens_per_s\":%.1f,\"sft_step_s\":%.4f,"
               "\"step_over_sft\":%.2f,\"speedup_vs_dense\":%.3f}\n",
               k ? "dense" : "sparse", new_tokens, omp_get_max_threads(), tm[k].rows,
               tm[k].cols, v[k][0], v[k][1], v[k][2], v[k][3], v[k][4], step[k], first,
               v[k][5], sft_s, sft_s > 0 ? step[k] / sft_s : 0.0, step[1] / step[k]);
    }
    if (rc != 0) fprintf(stderr, "bench_ppo: training failed (%s)\n", srl_strerror(rc));
    for (int k = 0; k < 3; k++)
        free(dirs[k]);
    free(prompts);
    rm_rf(root);
    return rc == 0 ? 0 : 1;
}
