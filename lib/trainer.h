/* trainer.h -- the training loop every trainer shares (SFT, reward and cost models, and the
 * checkpoint/log/signal parts PPO-Lagrangian uses).
 *
 * The loop (srl_trainer_run) takes a task: a set of examples with lengths, and a micro_step
 * callback that runs forward, loss and backward on a micro-batch (gradients accumulate in the
 * model's arena).  One optimiser step = grad_accum micro-batches (fewer at an epoch's end),
 * gradients scaled by 1/count (the mean of micro-batch token means, as DeepSpeed's gradient
 * accumulation), global-norm clipping, the HF learning-rate schedule, AdamW with Safe RLHF's
 * weight-decay groups (srl_optim_use_safe_rlhf_groups: no decay for names containing "bias" or
 * "layernorm.weight").  Batches come from lib/batching.h plans: a pure function of (seed,
 * epoch), so the data position is just (epoch, micro-batch index).
 *
 * Checkpoints (srl_trainer_save) are ONE directory written in one srl_dir_begin/commit
 * transaction: config.json (with saferlhf.template) + model.safetensors, the tokenizer files
 * copied from the input checkpoint, generation_config.json, optimizer.safetensors (AdamW moments
 * and step) and trainer_state.json:
 *     {"format": "saferlhf-trainer-state", "version": 1, "complete": bool, "step", "epoch",
 *      "batch" (micro-batches of that epoch consumed), "total_steps", "examples" (training
 *      examples, to warn when a resumed run reads other data), "seed" (string),
 *      "tokens", "rng": {"s": [4 hex strings], "spare", "has_spare"}, "user": {...}}
 * "user" is a free-form object for the caller (PPO stores lambda and its optimiser there).
 * Resuming (srl_trainer_init with resume_dir, after loading the model from that directory)
 * restores the moments, step, data position, seed and RNG, so a resumed run continues the
 * same loss curve bit for bit (model saved as float32; another --dtype rounds the weights).
 *
 * Stops: srl_trainer_run returns 0 (finished; final checkpoint written, complete = true),
 * SRL_TRAIN_INTERRUPTED (SIGINT/SIGTERM caught by srl_trainer_catch_signals(): a resumable
 * checkpoint was written; srl_trainer_signal() says which signal -- the tools exit 128 + signo,
 * as a shell reports a killed job, so make and scripts see the run did not finish),
 * SRL_TRAIN_STOPPED (opts.stop_after steps done: resumable checkpoint written), SRL_ENUMERIC
 * (NaN/Inf loss or gradient norm: nothing is saved, the last good checkpoint is untouched), or
 * another SRL_E*.
 *
 * Ranks (lib/dist.h, under mpirun): the global batch of a step is the same for any rank count,
 * grad_accum micro-batches of batch_size; rank r runs micro-batches r, r + size, ... of them, the
 * gradient sums are added over the ranks (srl_optim_dist_step; ZeRO-1 with zero_stage 1) and the
 * loss and token counts too, so every rank takes the same step as one process would (to float
 * rounding of the sum; bitwise when each rank runs one micro-batch of a 2-rank step).  Only
 * rank 0 writes the log, the progress line and the checkpoint files (srl_trainer_save and run
 * are called on every rank: they exchange the sharded moments and agree on errors).  The data
 * position is global, so a run resumes with any rank count.
 *
 * Output: --log FILE gets one JSON object per step, appended: {"step", "epoch", "loss", "lr",
 * "grad_norm", "tokens", "tokens_per_s", with ranks "allreduce_s" and "rank_wait_s" (see
 * srl_dist_comm_seconds), ...eval metrics when evaluated}.  A progress line goes
 * to stderr: rewritten in place with \r on a TTY, otherwise a plain line every 10 s (and at the
 * first and last step); none when opts.quiet. */
#ifndef SRL_TRAINER_H
#define SRL_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "batching.h"
#include "config.h"
#include "fileio.h"
#include "jsonl.h"
#include "model.h"
#include "optim.h"
#include "rng.h"

enum { SRL_TRAIN_INTERRUPTED = 1, SRL_TRAIN_STOPPED = 2 };

struct srl_train_opts {
    int epochs;               /* [1] */
    int64_t max_steps;        /* > 0: this many optimiser steps, overriding epochs [0] */
    int batch_size;           /* micro-batch size [16] */
    int grad_accum;           /* micro-batches per optimiser step [1] */
    double lr;                /* peak learning rate [2e-5] */
    enum srl_lr_kind schedule; /* [cosine] */
    double warmup_ratio;      /* warm-up steps = int(ratio * total) [0] */
    int64_t warmup_steps;     /* >= 0 overrides warmup_ratio [-1] */
    struct srl_adamw_hparams adam; /* betas (0.9, 0.95), eps 1e-8, weight decay [0] */
    double clip;              /* global gradient-norm clip, <= 0 off [1.0] */
    int64_t eval_every;       /* evaluate every N steps (and at the end) [0: only at the end] */
    int64_t save_every;       /* resumable checkpoint every N steps [0: only at the end] */
    int64_t stop_after;       /* leave after N steps of this run with a checkpoint [0: never] */
    uint64_t seed;            /* data order [1234] */
    const char *log_path;     /* JSONL metrics, appended; NULL: none */
    const char *output;       /* checkpoint directory */
    enum srl_dtype save_dtype; /* [float32] */
    bool quiet;               /* no progress line */
    int zero_stage;           /* 1: ZeRO-1, each rank holds its shard of the moments [0] */
    int overlap_comm;         /* 1: the gradient all-reduce overlaps the step's last backward
                               * (CPU, several ranks, no ZeRO; lib/dist.h) [1] */
};
void srl_train_opts_default(struct srl_train_opts *o);


// --- state and loop --------------------------------------------------------------------------

struct srl_train_state {
    int64_t step;        /* optimiser steps done */
    int64_t epoch;       /* epoch of the next micro-batch (0-based) */
    int64_t batch;       /* micro-batches of that epoch already consumed */
    int64_t total_steps;
    int64_t examples;    /* training examples of the run (0: unknown) */
    uint64_t seed;       /* data order */
    double tokens;       /* non-padding tokens trained on */
    struct srl_rng rng;  /* for callers that sample (PPO); seeded from seed */
    bool complete;
    struct srl_json *user; /* free-form object, owned (never NULL after init) */
};

/* What the loop trains on. */
struct srl_train_task {
    void *ctx;
    size_t n;               /* examples */
    const size_t *lengths;  /* (n) token counts, for length bucketing */
    int window;             /* batches per sorting window of the plan (0: SRL_BATCH_WINDOW;
                             * 1: a plain shuffle, for examples of one length) */
    /* Forward, loss and backward on examples idx[0..n) (gradients accumulate).  Sets *loss and
     * *tokens (non-padding tokens).  Returns 0 or SRL_E*. */
    int (*micro_step)(void *ctx, struct srl_model *m, const size_t *idx, size_t n, double *loss,
                      size_t *tokens);
    /* Optional: evaluate, adding numbers to the metrics object ("eval_loss": ...). */
    int (*evaluate)(void *ctx, struct srl_model *m, struct srl_json *metrics);
};

struct srl_trainer {
    struct srl_train_opts opts;
    struct srl_model *model;   /* borrowed */
    struct srl_optim *optim;   /* owned */
    struct srl_lr_schedule sched;
    struct srl_train_state st;
    const char *tokenizer_dir; /* tokenizer files copied into checkpoints from here */
    FILE *log;                 /* log_file.fp, or NULL without --log */
    struct srl_atomic_file log_file;
    int64_t start_step;        /* step when this process started */
    double t_start, t_progress; /* wall clock */
    double tok_s;              /* last throughput */
    bool tty, progress_open;
    struct srl_batch_plan plan; /* of st.epoch */
    int64_t plan_epoch;        /* -1: none */
    /* Optional: write more files into the checkpoint's temporary directory, inside the same
     * transaction (PPO's critics); set after srl_trainer_init().  Returns 0 or SRL_E*. */
    int (*save_extra)(void *ctx, const char *tmp_dir, bool complete);
    void *save_extra_ctx;
    double comm_s, wait_s;     /* seconds of gradient collectives in the last step, and of
                                * waiting for the slowest rank before them */
    struct srl_dist_overlap *overlap; /* NULL: the all-reduce after the backward */
};

/* Set up: an AdamW optimiser for m, the state seeded from opts->seed, the log file opened;
 * with resume_dir, the optimiser moments and trainer state are read from that checkpoint (the
 * caller has loaded the model from it).  Returns 0 or SRL_E* (*t is then freed). */
int srl_trainer_init(struct srl_trainer *t, const struct srl_train_opts *opts,
                     struct srl_model *m, const char *tokenizer_dir, const char *resume_dir);
void srl_trainer_free(struct srl_trainer *t);

/* Run to the end (see the top of this file for the return values). */
int srl_trainer_run(struct srl_trainer *t, const struct srl_train_task *task);

/* Optimiser steps per epoch for n examples with these options. */
int64_t srl_trainer_steps_per_epoch(const struct srl_train_opts *o, size_t n);

/* Write a checkpoint of the current state to dir (one transaction).  A directory there that is
 * not a checkpoint (no config.json) and not empty is refused.  Every rank calls it; rank 0
 * writes (save_extra gets tmp_dir NULL on the others, whose sharded optimisers must still call
 * srl_optim_save(o, NULL)); the result is agreed.  Returns 0 or SRL_E*. */
int srl_trainer_save(struct srl_trainer *t, const char *dir, bool complete);

/* Read DIR/trainer_state.json into *st (st->user replaced).  Returns 0 or SRL_E*. */
int srl_train_state_load(struct srl_train_state *st, const char *dir);

/* SIGINT/SIGTERM set a flag instead of killing the process (a second signal kills as usual). */
void srl_trainer_catch_signals(void);
/* The caught signal number, or 0.  The flag is the one process-wide global of the library
 * besides the log level (signal handlers cannot reach anything else). */
int srl_trainer_signal(void);
/* The largest signal caught on any rank (0: none), the same on every rank: a collective. */
int srl_trainer_signal_agreed(void);

// --- the causal-LM task (SFT; PPO's PTX term; pretraining on packed text) ---------------------

struct srl_pack;

struct srl_lm_task {
    struct srl_train_task task;
    const struct srl_sft_set *train, *eval;
    const struct srl_pack *pack_train, *pack_eval; /* packed text instead (lib/packing.h) */
    int window_len;            /* T of the packed windows */
    struct srl_sft_set windows; /* the packed windows of the current micro-batch */
    size_t *lengths;           /* (task.n) */
    size_t *order;             /* (batch) 0, 1, ... */
    size_t n_order;
    struct srl_lm_batch batch;
    int32_t pad_id;
    int eval_batch_size;
    bool dense_head; /* the LM head on every row, prompts and padding too (bench: the path
                        before the sparse head) */
};
/* A task over train (and eval, may be NULL: no evaluation).  pad_id fills padding (any valid
 * id: it is never attended to by real tokens nor trained).  Returns 0 or SRL_ENOMEM. */
int srl_lm_task_init(struct srl_lm_task *lt, const struct srl_sft_set *train,
                     const struct srl_sft_set *eval, int32_t pad_id, int eval_batch_size);
/* Pretraining: a task over the windows of T tokens of a packed stream (lib/packing.h), the
 * loss on every token; eval (may be NULL or empty: no evaluation) the held-out stream's
 * windows.  Batches are plain shuffles of the windows.  Returns 0 or SRL_ENOMEM. */
int srl_lm_pack_task_init(struct srl_lm_task *lt, const struct srl_pack *train,
                          const struct srl_pack *eval, int T, int32_t pad_id,
                          int eval_batch_size);
void srl_lm_task_free(struct srl_lm_task *lt);
/* Token-mean loss of m over every window of T tokens of the packed stream p (every token
 * after the first a target once).  Sets *loss and *n_tokens.  Returns 0 or SRL_E*. */
int srl_lm_pack_eval(struct srl_model *m, const struct srl_pack *p, int T, int batch_size,
                     int32_t pad_id, struct srl_sft_set *scratch, struct srl_lm_batch *b,
                     double *loss, size_t *n_tokens);
/* Token-mean loss of m over every trained token of s (batches sorted by length).  Sets *loss
 * and *n_tokens.  Returns 0 or SRL_E*. */
int srl_lm_eval(struct srl_model *m, const struct srl_sft_set *s, int batch_size, int32_t pad_id,
                struct srl_lm_batch *scratch, double *loss, size_t *n_tokens);

#endif
