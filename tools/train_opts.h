/* train_opts.h -- the one table of the training options every trainer shares (struct
 * srl_train_opts: epochs, steps, optimiser, checkpoints, log, dtype).  saferlhf-sft and
 * saferlhf-train-{rm,cm} take all of them; saferlhf-ppo-lag, whose actor and critics have
 * optimiser options of their own, takes the loop ones (TRAIN_OPTS_LOOP): the same names,
 * ranges, messages and help lines. */
#ifndef SRL_TRAIN_OPTS_TOOL_H
#define SRL_TRAIN_OPTS_TOOL_H

#include <getopt.h>
#include <stdio.h>

#include "trainer.h"

enum train_opt_set {
    TRAIN_OPTS_ALL,  /* every shared training option */
    TRAIN_OPTS_LOOP, /* --epochs, --max-steps, --clip, --save-every, --stop-after, --log, --zero */
};

/* Option codes of the table: TRAIN_OPT_FIRST + row. */
enum { TRAIN_OPT_FIRST = 0x1200, TRAIN_OPT_ROWS = 24 };

/* Fill out with the struct option entries of set (at most TRAIN_OPT_ROWS).  Returns how many. */
int train_opts_longopts(enum train_opt_set set, struct option *out);

/* Handle option code c.  Returns 0 when handled, 1 when c is not a training option, else
 * SRL_EXIT_USAGE (the message printed). */
int train_opts_parse(struct srl_train_opts *o, int c, const char *arg);

/* The help lines of set with the defaults of *defaults, the text from column col. */
void train_opts_help(FILE *fp, enum train_opt_set set, const struct srl_train_opts *defaults,
                     int col);

#endif
