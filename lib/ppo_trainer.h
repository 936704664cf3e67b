/* ppo_trainer.h -- the PPO-Lagrangian trainer of Safe RLHF (saferlhf-ppo-lag): rollouts,
 * scoring, the lambda update, actor and critic updates, PTX, checkpoints and logs.
 *
 * Six models, each its own srl_model: the actor (trained), the reference policy (frozen, the
 * initial actor unless given), the reward and cost models (frozen), and the reward and cost
 * critics (trained; initialised from the RM and CM unless given).  All share the actor's
 * tokenizer (the reference re-tokenises otherwise; we require the same vocabulary size and
 * feed the actor's tokens to every model).
 *
 * One rollout batch = rollout_batch_size prompts x num_return_sequences samples, generated
 * with lib/generate.h (KV cache; old log-probs = logp_raw: the raw logits' log-softmax, as the
 * reference).  Sequences are kept ragged: row b is [prompt_b | response_b | pad], positions
 * 0..len-1 (pads -1), start[b] = prompt_len - 1, the mask marks token t+1 real, so the end
 * index is the last response token (EOS when reached: the token the RM was trained to score,
 * whatever the tokenizer's unk id -- reference quirk 1 avoided).  Then the reference model's
 * log-probs, the RM/CM end scores (at the last real token) and both critics' per-position
 * values (forwards without backward), then the costs go into the lambda window.
 *
 * The rollout batch is cut into `minibatches` parts; for each of ppo_epochs passes and each
 * part, one optimiser step (the reference's rl_step; global step += 1):
 *   lambda update from the window mean (srl_lagrange_step) -> srl_ppo_targets with the new
 *   lambda -> actor forward, clipped surrogate, backward (+ PTX backward: the applied gradient
 *   is (g_rl + ptx_coeff g_ptx) / 2 as DeepSpeed's doubled accumulation), clip, AdamW ->
 *   reward critic forward/backward/step -> cost critic forward/backward/step.
 *
 * Checkpoints: OUT_DIR is the actor (HF directory loadable by every tool, trainer_state.json
 * with "user": {"lagrange": {...}, "rollouts": N, "ptx": {...}}); resumable checkpoints (every
 * save_every steps, on SIGINT/SIGTERM, with stop_after) also hold reward_critic/ and
 * cost_critic/ (weights + optimizer.safetensors), written in the same directory transaction;
 * the final one holds them only with save_critics.  Checkpoints are taken between rollout
 * batches.
 *
 * Ranks (lib/dist.h, under mpirun): the prompts of a rollout batch are split in contiguous
 * parts, rank r generating and scoring its part (random streams by global prompt slot, so a
 * prompt gets the same sample whatever rank draws it); the episode costs of all ranks go into
 * every rank's lambda window (all-gather), so lambda is the same everywhere and equal to the
 * one-process value; each step's minibatch is every rank's same part of its rows, the
 * gradients are weighted by rows and summed (the loss is the mean over all ranks' rows), the
 * statistics likewise (maxima as maxima).  PTX batches are split among the ranks as well. */
#ifndef SRL_PPO_TRAINER_H
#define SRL_PPO_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lagrange.h"
#include "optim.h"
#include "ppo.h"
#include "sampler.h"

#define SRL_PPO_MAX_FILES 16

struct srl_ppo_train_opts {
    const char *actor, *reward_model, *cost_model;  /* required */
    const char *ref_model;       /* NULL: actor */
    const char *reward_critic, *cost_critic; /* NULL: reward_model / cost_model */
    const char *prompts[SRL_PPO_MAX_FILES]; /* prompt files (lib/prompt.h, srl_prompts_open) */
    int n_prompts;
    const char *prompt_field;    /* the list of a JSON object prompt file; NULL: its only one */
    const char *ptx[SRL_PPO_MAX_FILES];
    int n_ptx;
    const char *output, *resume, *log_path, *template_name;
    int max_prompt_length;       /* [128] prompt tokens kept (left-truncated) */
    int max_new_tokens;          /* [128] */
    struct srl_sampler_params sample; /* [1.0, top-k 50 (HF's default), 1.0, 1.0] */
    int num_return_sequences;    /* [1] */
    int rollout_batch_size;      /* [16] prompts per rollout batch */
    int ppo_epochs;              /* [1] passes over each rollout batch (update_iters) */
    int minibatches;             /* [1] optimiser steps per pass */
    double actor_lr, critic_lr;  /* [1e-5, 5e-6] */
    enum srl_lr_kind actor_schedule, critic_schedule; /* [cosine, constant] (ppo-lag.sh) */
    double actor_warmup_ratio, critic_warmup_ratio;   /* [0.03, 0.03] */
    double actor_weight_decay, critic_weight_decay;   /* [0.01, 0.0] */
    struct srl_adamw_hparams adam; /* betas, eps (weight decay set from the two above) */
    double clip_grad;            /* [1.0] */
    struct srl_ppo_opts ppo;     /* kl 0.01, clips 0.2 / 5 / 50, gamma 1, gae 0.95 */
    struct srl_lagrange_opts lag;
    double ptx_coeff;            /* [16] with --ptx */
    int epochs;                  /* [1] passes over the prompts */
    int64_t max_steps;           /* > 0: overrides epochs */
    int64_t save_every, stop_after;
    bool save_critics;
    int zero_stage;              /* [0]; 1: ZeRO-1 for the actor's and the critics' AdamW */
    unsigned load_flags;         /* SRL_LOAD_* for every model loaded (allow extra tensors) */
    uint64_t seed;
    bool quiet;
    int verbosity;
    bool dense_head;             /* the LM head on every row, prompts too (bench: the path
                                    before the sparse head) */
};
void srl_ppo_train_opts_default(struct srl_ppo_train_opts *o);

/* Seconds spent in each phase (the bench reports them). */
struct srl_ppo_timing {
    double rollout, scoring, advantage, actor, critics, ptx;
    double rollout_tokens; /* response tokens generated */
    int rows, cols;        /* shape (N,L) of the last rollout batch on this rank */
};

/* Run a whole training (models loaded from the options' paths).  Returns 0 (done: final
 * checkpoint written), SRL_TRAIN_INTERRUPTED, SRL_TRAIN_STOPPED, SRL_ENUMERIC (NaN/Inf: the
 * last checkpoint is untouched), or SRL_E* (logged).  timing may be NULL. */
int srl_ppo_train(const struct srl_ppo_train_opts *o, struct srl_ppo_timing *timing);

#endif
