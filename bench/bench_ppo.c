/* bench_ppo.c -- one PPO-Lagrangian step (lib/ppo_trainer) broken down by phase.
 *
 * Prints one JSON line on stdout (progress on stderr):
 *   {"bench":"ppo_lag_step","model":..,"sequences":..,"prompt_tokens":..,"new_tokens":..,
 *    "steps":..,"rollout_s":..,"scoring_s":..,"advantage_s":..,"actor_s":..,"critics_s":..,
 *    "step_s":..,"rollout_tokens_per_s":..}
 * Seconds are those of the last of 3 optimiser steps (one rollout batch each; the first step
 * also pays for first-touch allocations, reported as first_step_s):
 *   rollout    generation of 16 prompts x 1 sample with the KV cache (logp_raw kept: no
 *              extra actor forward for the old log-probs)
 *   scoring    forwards of the reference model (log-probs), RM and CM (end scores) and both
 *              critics (values) over the whole rollout batch
 *   advantage  lambda update, KL-shaped rewards/costs, both GAEs, combined advantages
 *   actor      actor forward + log-probs, clipped-surrogate loss, backward, clip, AdamW
 *   critics    reward and cost critic forward, value-clipped loss, backward, clip, AdamW
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
    char *dirs[3], *prompts = srl_path_join(root, "prompts.jsonl"), *out = srl_path_join(root,
                                                                                         "out");
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
    o.output = out;
    o.max_new_tokens = new_tokens;
    o.max_steps = steps;
    o.quiet = true;
    srl_log_set_level(SRL_LOG_ERROR);
    fprintf(stderr, "bench_ppo: %d PPO-Lag steps of 16 sequences x %d new tokens\n", steps,
            new_tokens);
    struct srl_ppo_timing tm;
    char *log = srl_path_join(root, "log.jsonl");
    o.log_path = log;
    rc = srl_ppo_train(&o, &tm);
    /* the last step's phase seconds from the log: steady state, after the first step's
     * allocations */
    static const char *const keys[6] = {"rollout_s", "scoring_s", "advantage_s", "actor_s",
                                        "critics_s", "rollout_tokens_per_s"};
    double v[6] = {0};
    char line[8192], last[8192] = "";
    FILE *lf = rc == 0 ? fopen(log, "r") : NULL;
    while (lf && fgets(line, sizeof line, lf))
        memcpy(last, line, sizeof last);
    if (lf) fclose(lf);
    for (int k = 0; k < 6; k++) {
        char pat[64];
        snprintf(pat, sizeof pat, "\"%s\":", keys[k]);
        const char *p = strstr(last, pat);
        if (p) v[k] = strtod(p + strlen(pat), NULL);
    }
    if (rc == 0) {
        double first = (tm.rollout + tm.scoring + tm.advantage + tm.actor + tm.critics) -
                       (v[0] + v[1] + v[2] + v[3] + v[4]) * (steps - 1);
        printf("{\"bench\":\"ppo_lag_step\",\"model\":\"llama d256 L4 V32000 (x6)\","
               "\"sequences\":16,\"new_tokens\":%d,\"threads\":%d,\"rollout_s\":%.4f,"
               "\"scoring_s\":%.4f,\"advantage_s\":%.5f,\"actor_s\":%.4f,"
               "\"critics_s\":%.4f,\"step_s\":%.4f,\"first_step_s\":%.4f,"
               "\"rollout_tokens_per_s\":%.1f}\n",
               new_tokens, omp_get_max_threads(), v[0], v[1], v[2], v[3], v[4],
               v[0] + v[1] + v[2] + v[3] + v[4], first, v[5]);
    } else {
        fprintf(stderr, "bench_ppo: training failed (%s)\n", srl_strerror(rc));
    }
    free(log);
    for (int k = 0; k < 3; k++)
        free(dirs[k]);
    free(prompts), free(out);
    rm_rf(root);
    return rc == 0 ? 0 : 1;
}
