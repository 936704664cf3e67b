/* train_opts.c -- the shared training options, one table.  See train_opts.h. */
#include "train_opts.h"

#include <stdbool.h>
#include <stddef.h>

#include "opt_table.h"

#define F(field) offsetof(struct srl_train_opts, field)

/* Every shared option; loop[i] marks those of TRAIN_OPTS_LOOP. */
static const struct opt_def table[] = {
    { "epochs", "N", OPT_INT, F(epochs), 1, 1000000, "passes over the data", NULL },
    { "max-steps", "N", OPT_INT64, F(max_steps), 0, OPT_INF,
      "optimiser steps, overriding --epochs", "0: from --epochs" },
    { "batch-size", "N", OPT_INT, F(batch_size), 1, 1 << 20, "examples per micro-batch", NULL },
    { "grad-accum", "N", OPT_INT, F(grad_accum), 1, 1 << 20,
      "micro-batches per optimiser step", NULL },
    { "lr", "LR", OPT_DOUBLE, F(lr), 0, OPT_INF, "peak learning rate", NULL },
    { "lr-schedule", "S", OPT_LR_KIND, F(schedule), 0, 0,
      "cosine, linear, constant or constant_with_warmup", NULL },
    { "warmup-ratio", "R", OPT_DOUBLE, F(warmup_ratio), 0, 1,
      "warm-up steps as a fraction of all steps", NULL },
    { "warmup-steps", "N", OPT_INT64, F(warmup_steps), 0, OPT_INF,
      "warm-up steps, overriding --warmup-ratio", "" },
    { "weight-decay", "W", OPT_FLOAT, F(adam.weight_decay), 0, OPT_INF,
      "AdamW decoupled weight decay", NULL },
    { "clip", "NORM", OPT_DOUBLE, F(clip), -OPT_INF, OPT_INF,
      "global gradient-norm clip, 0 for none", NULL },
    { "adam-beta1", "B", OPT_FLOAT, F(adam.beta1), 0, 0.999999, "AdamW beta1", NULL },
    { "adam-beta2", "B", OPT_FLOAT, F(adam.beta2), 0, 0.999999, "AdamW beta2", NULL },
    { "adam-eps", "E", OPT_FLOAT, F(adam.eps), 1e-30, OPT_INF, "AdamW epsilon", NULL },
    { "eval-every", "N", OPT_INT64, F(eval_every), 0, OPT_INF,
      "evaluate every N steps and at the end", "0: at the end" },
    { "save-every", "N", OPT_INT64, F(save_every), 0, OPT_INF,
      "write a resumable checkpoint every N steps", "0: at the end" },
    { "stop-after", "N", OPT_INT64, F(stop_after), 0, OPT_INF,
      "stop after N steps with a resumable checkpoint (for jobs\n"
      "under a time limit; continue with --resume)", "0: never" },
    { "log", "FILE", OPT_STRING, F(log_path), 0, 0, "append one JSON object per step to FILE",
      "" },
    { "zero", "STAGE", OPT_INT, F(zero_stage), 0, 1,
      "ZeRO stage under mpirun: 1 shards the AdamW moments\n"
      "across the ranks (1/N of the optimiser state each)", NULL },
    { "dtype", "DTYPE", OPT_DTYPE, F(save_dtype), 0, 0,
      "float32, bfloat16 or float16 weights in checkpoints\n"
      "[float32; resuming is exact only from float32]", "" },
    { "overlap-comm", "N", OPT_INT, F(overlap_comm), 0, 1,
      "under mpirun on the CPU without --zero: 1 sends the\n"
      "gradients while the backward computes the rest", NULL },
};
enum { N_ROWS = sizeof table / sizeof *table };
static const bool loop[N_ROWS] = { [0] = true, [1] = true, [9] = true, [14] = true, [15] = true,
                                   [16] = true, [17] = true };
_Static_assert((int)N_ROWS <= (int)TRAIN_OPT_ROWS, "TRAIN_OPT_ROWS too small");

static bool in_set(enum train_opt_set set, int row)
{
    return set == TRAIN_OPTS_ALL || loop[row];
}

int train_opts_longopts(enum train_opt_set set, struct option *out)
{
    int n = 0;
    for (int i = 0; i < N_ROWS; i++)
        if (in_set(set, i)) opt_defs_longopts(&table[i], 1, TRAIN_OPT_FIRST + i, &out[n++]);
    return n;
}

int train_opts_parse(struct srl_train_opts *o, int c, const char *arg)
{
    if (c < TRAIN_OPT_FIRST || c >= TRAIN_OPT_FIRST + N_ROWS) return 1;
    return opt_def_parse(&table[c - TRAIN_OPT_FIRST], o, arg);
}

void train_opts_help(FILE *fp, enum train_opt_set set, const struct srl_train_opts *defaults,
                     int col)
{
    for (int i = 0; i < N_ROWS; i++)
        if (in_set(set, i)) opt_defs_help(fp, &table[i], 1, defaults, col);
}
