/* ppo_trainer_internal.h -- state shared by lib/ppo_trainer.c (setup, loop, checkpoints) and
 * lib/ppo_step.c (rollout, scoring, updates).  Private to lib/. */
#ifndef SRL_PPO_TRAINER_INTERNAL_H
#define SRL_PPO_TRAINER_INTERNAL_H

#include "batching.h"
#include "dataset.h"
#include "generate.h"
#include "ppo_trainer.h"
#include "template.h"
#include "tokenizer.h"
#include "trainer.h"

/* One rollout batch of N ragged rows, all (N,L) row-major unless noted. */
struct srl_ppo_batch {
    int N, L, cap_N, cap_L;  /* N: this rank's rows */
    int N_all;               /* rows of the rollout batch on all ranks */
    int32_t *tokens, *pos, *targets;
    int *start, *len;        /* (N) first response column, real tokens */
    float *mask;             /* 1 where token t+1 is real */
    float *old_lp, *ref_lp;  /* log-probs of token t+1 */
    float *vr, *vc;          /* critics' values at rollout time */
    float *R, *C;            /* (N) end scores */
    // per-update scratch
    int *end;                /* (N) */
    float *rew, *cst, *radv, *rret, *cadv, *cret, *adv, *lp, *grad;
    struct srl_gen_seq *seqs; /* (N) */
    bool critics_fresh;      /* the critics' last forward is the scoring one on all N rows */
};

struct srl_ppo_run {
    const struct srl_ppo_train_opts *o;
    struct srl_tokenizer *tok;
    const struct srl_template *tmpl;
    struct srl_model *actor, *ref, *rm, *cm, *rcrit, *ccrit;
    struct srl_trainer tr;            /* the actor's optimiser, state, log, checkpoints */
    struct srl_optim *ropt, *copt;    /* critics' AdamW */
    struct srl_lr_schedule asched, csched;
    struct srl_lagrange lag;
    struct srl_gen_params gp;
    // prompts: prompt i is pids[pstart[i] .. pstart[i+1])
    int32_t *pids;
    size_t *pstart, *plens, n_prompts;
    struct srl_batch_plan plan;       /* prompt order of st.epoch */
    int64_t plan_epoch;
    // PTX
    struct srl_sft_set ptx;
    struct srl_lm_task ptx_task;
    struct srl_batch_plan ptx_plan;
    int64_t ptx_epoch, ptx_batch, ptx_plan_epoch;
    int ptx_B;
    int max_len;                      /* smallest max_position_embeddings of the six models */
    int32_t pad_id;
    int64_t rollouts;                 /* rollout batches done */
    int64_t steps_per_rollout, total_steps;
    struct srl_ppo_batch b;
    struct srl_ppo_timing tm, tm_logged; /* totals; totals at the last log line */
    double t_start, t_progress;
    bool tty, progress_open;
};

/* Generate the rollout batch for prompts idx[0..n) (n * num_return_sequences rows; streams
 * from the run's seed and first_stream) into r->b.  Returns 0 or SRL_E*. */
int srl_ppo_rollout(struct srl_ppo_run *r, const size_t *idx, size_t n, uint64_t first_stream);
/* Reference log-probs, end scores, critic values of r->b. */
int srl_ppo_score(struct srl_ppo_run *r);
/* The costs of every rank's rows (in rank order) into the lambda window. */
int srl_ppo_push_costs(struct srl_ppo_run *r);
/* One optimiser step (the reference's rl_step) on rows [lo, hi) of r->b (this rank's part of
 * the step: the gradients, losses and statistics are combined over the ranks, weighted by
 * their rows, so every rank takes the same step); metrics into m. */
int srl_ppo_update(struct srl_ppo_run *r, int lo, int hi, struct srl_json *m);
void srl_ppo_batch_free(struct srl_ppo_batch *b);

#endif
