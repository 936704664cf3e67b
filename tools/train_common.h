/* train_common.h -- what saferlhf-sft and saferlhf-train-{rm,cm} share: where the model comes
 * from (-m, --init-config, --resume), the data files, the parsing and checking of those options
 * and of the training ones (train_opts.h), and the steps around the task: backend, tokenizer,
 * template and the training run with its exit status. */
#ifndef SRL_TRAIN_COMMON_TOOL_H
#define SRL_TRAIN_COMMON_TOOL_H

#include "model.h"
#include "template.h"
#include "tokenizer.h"
#include "tool.h"
#include "train_opts.h"
#include "trainer.h"

/* Option codes of the shared options; a trainer numbers its own from TRAIN_OPT_USER. */
enum {
    TRAIN_OPT_INIT_CONFIG = TOOL_OPT_USER, TRAIN_OPT_TOKENIZER, TRAIN_OPT_EVAL_DATA,
    TRAIN_OPT_EVAL_SPLIT, TRAIN_OPT_MAX_LEN, TRAIN_OPT_RESUME, TRAIN_OPT_TEMPLATE,
    TRAIN_OPT_SKIP_BAD, TRAIN_OPT_ALLOW_EXTRA, TRAIN_OPT_DRY_RUN, TRAIN_OPT_USER,
};

#define TRAIN_MAX_DATA 64

struct train_common {
    struct tool_common common;
    struct srl_train_opts train;
    const char *model, *init_config, *tokenizer, *resume, *template_name, *eval_data;
    const char *data[TRAIN_MAX_DATA];
    int n_data;
    double eval_split;
    long max_length;
    bool skip_bad;
    int dry_run;       /* --dry-run[=RANKS]: -1 off; 0 this run's rank count; else RANKS */
    bool allow_extra; /* --allow-extra-tensors: SRL_LOAD_ALLOW_EXTRA */
};

/* The entries of the shared options (with TOOL_COMMON_OPTIONS and the training table) and the
 * letters for getopt's short string (with TOOL_COMMON_SHORT). */
#define TRAIN_COMMON_OPTIONS                                             \
    { "model", required_argument, NULL, 'm' },                           \
    { "init-config", required_argument, NULL, TRAIN_OPT_INIT_CONFIG },   \
    { "tokenizer", required_argument, NULL, TRAIN_OPT_TOKENIZER },       \
    { "data", required_argument, NULL, 'd' },                            \
    { "eval-data", required_argument, NULL, TRAIN_OPT_EVAL_DATA },       \
    { "eval-split", required_argument, NULL, TRAIN_OPT_EVAL_SPLIT },     \
    { "output", required_argument, NULL, 'o' },                          \
    { "max-length", required_argument, NULL, TRAIN_OPT_MAX_LEN },        \
    { "resume", required_argument, NULL, TRAIN_OPT_RESUME },             \
    { "template", required_argument, NULL, TRAIN_OPT_TEMPLATE },         \
    { "skip-bad-records", no_argument, NULL, TRAIN_OPT_SKIP_BAD },        \
    { "allow-extra-tensors", no_argument, NULL, TRAIN_OPT_ALLOW_EXTRA }, \
    { "dry-run", optional_argument, NULL, TRAIN_OPT_DRY_RUN }
#define TRAIN_COMMON_SHORT "m:d:o:"

/* A trainer's own options: own_opts (NULL-terminated) handled by own(ctx, c, arg), which
 * returns 0 when handled, else the exit status of a usage error (printed); help(ctx, fp)
 * prints the usage. */
struct train_tool {
    const struct option *own_opts;
    int (*own)(void *ctx, int c, const char *arg);
    void (*help)(void *ctx, FILE *fp);
    void *ctx;
};

/* Parse argv (the common, shared, training and the trainer's own options), check that they go
 * together and pass the seed and quietness on to the training options.  Returns 0 to go on,
 * -1 after --help or --version (printed; exit 0), else the exit status of a usage error
 * (printed). */
int train_common_parse(struct train_common *o, int argc, char **argv,
                       const struct train_tool *tool);

/* Apply the common options, pick the backend of --device and put back a --resume checkpoint
 * a killed save left as DIR.old.N / DIR.tmp.N (srl_dir_recover).  0 or an exit status (the
 * error printed). */
/* The --help lines of the options every trainer shares (--allow-extra-tensors,
 * --skip-bad-records, --dry-run), then a blank line. */
void train_common_help(FILE *fp);

int train_common_backend(const struct train_common *o, const struct srl_backend **be);

/* Where the tokenizer comes from: --tokenizer, else the checkpoint of -m or --resume. */
const char *train_common_tokenizer_dir(const struct train_common *o);

/* The model fits the tokenizer, and *tname (--template, else the checkpoint's, else
 * "saferlhf") names a template, returned in *tmpl; --max-length is capped at the model's
 * positions.  0 or SRL_EXIT_FAILURE (the error printed). */
int train_common_check_model(const struct train_common *o, const struct srl_tokenizer *tok,
                             const struct srl_model *m, const char **tname,
                             const struct srl_template **tmpl);
void train_common_cap_length(struct train_common *o, const struct srl_model *m);

/* --dry-run: print the memory plan per rank (lib/memplan.h) of training the model of -m,
 * --resume or --init-config (its config only) with head (-1: its own) on micro-batches of
 * rows_per_example x --batch-size sequences of --max-length tokens.  Returns the exit status. */
int train_common_dry_run(const struct train_common *o, int head, int rows_per_example);

/* Train m on task (resuming --resume), write the checkpoint, and return the exit status.  With
 * -v the peak resident memory is reported at the end (to compare with --dry-run). */
int train_common_run(const struct train_common *o, struct srl_model *m, const char *tok_dir,
                     const struct srl_train_task *task);

#endif
