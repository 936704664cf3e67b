/* train_common.c -- the options saferlhf-sft and saferlhf-train-{rm,cm} share.  See
 * train_common.h. */
#include "train_common.h"

#include "dist.h"
#include "fileio.h"
#include "memplan.h"

#include <sys/resource.h>

/* A shared option: 0 handled, 1 not one, else the exit status of a usage error (printed). */
static int shared_opt(struct train_common *o, int c, const char *arg)
{
    switch (c) {
    case 'm': o->model = arg; return 0;
    case TRAIN_OPT_INIT_CONFIG: o->init_config = arg; return 0;
    case TRAIN_OPT_TOKENIZER: o->tokenizer = arg; return 0;
    case 'd':
        if (o->n_data == TRAIN_MAX_DATA)
            return usage_error("at most %d --data files", TRAIN_MAX_DATA);
        o->data[o->n_data++] = arg;
        return 0;
    case TRAIN_OPT_EVAL_DATA: o->eval_data = arg; return 0;
    case TRAIN_OPT_EVAL_SPLIT:
        if (parse_float(arg, &o->eval_split) < 0 || o->eval_split <= 0 || o->eval_split >= 1)
            return usage_error("invalid --eval-split '%s' (expected a number between 0 and 1)",
                               arg);
        return 0;
    case 'o': o->train.output = arg; return 0;
    case TRAIN_OPT_MAX_LEN:
        if (parse_int(arg, 2, 1 << 24, &o->max_length) < 0)
            return usage_error("invalid --max-length '%s' (expected an integer >= 2)", arg);
        return 0;
    case TRAIN_OPT_RESUME: o->resume = arg; return 0;
    case TRAIN_OPT_TEMPLATE:
        if (!srl_template_find(arg))
            return usage_error("unknown --template '%s' (expected one of %s)", arg,
                               srl_template_names());
        o->template_name = arg;
        return 0;
    case TRAIN_OPT_SKIP_BAD: o->skip_bad = true; return 0;
    case TRAIN_OPT_DRY_RUN: {
        long n = 0;
        if (arg && parse_int(arg, 1, 1 << 20, &n) < 0)
            return usage_error("invalid --dry-run '%s' (expected a rank count >= 1)", arg);
        o->dry_run = (int)n;
        return 0;
    }
    case TRAIN_OPT_ALLOW_EXTRA: o->allow_extra = true; return 0;
    }
    return train_opts_parse(&o->train, c, arg);
}

static int check(struct train_common *o, int argc, char **argv)
{
    if (optind != argc) return usage_error("unexpected argument '%s'", argv[optind]);
    bool plan = o->dry_run >= 0; /* needs the model's config only */
    if (!o->train.output && !plan) return usage_error("no output directory (-o)");
    if (o->n_data == 0 && !plan) return usage_error("no training data (-d)");
    if (!!o->model + !!o->init_config + !!o->resume != 1)
        return usage_error("give exactly one of -m, --init-config and --resume");
    if (o->init_config && !o->tokenizer && !plan)
        return usage_error("--init-config needs --tokenizer");
    if (o->tokenizer && !o->init_config)
        return usage_error("--tokenizer goes with --init-config (a checkpoint has its own)");
    if (o->eval_data && o->eval_split > 0)
        return usage_error("give --eval-data or --eval-split, not both");
    if (!srl_dist_is_root()) o->common.verbosity = -1; /* rank 0 reports */
    o->train.seed = o->common.seed;
    o->train.quiet = o->common.verbosity < 0;
    return 0;
}

int train_common_parse(struct train_common *o, int argc, char **argv,
                       const struct train_tool *tool)
{
    static const struct option shared[] = { TOOL_COMMON_OPTIONS, TRAIN_COMMON_OPTIONS };
    struct option lopts[64];
    int n = 0, c, rc, status;
    for (size_t i = 0; i < sizeof shared / sizeof *shared; i++) lopts[n++] = shared[i];
    n += train_opts_longopts(TRAIN_OPTS_ALL, lopts + n);
    for (const struct option *e = tool->own_opts; e && e->name && n < 63; e++) lopts[n++] = *e;
    lopts[n] = (struct option){ NULL, 0, NULL, 0 };
    while ((c = tool_getopt(argc, argv, TRAIN_COMMON_SHORT TOOL_COMMON_SHORT, lopts, &o->common,
                            &status)) != -1) {
        if (c == TOOL_GETOPT_EXIT) return status ? status : -1;
        if (c == 'h') {
            tool->help(tool->ctx, stdout);
            return -1;
        }
        if ((rc = shared_opt(o, c, optarg)) == 1)
            rc = tool->own ? tool->own(tool->ctx, c, optarg) : SRL_EXIT_USAGE;
        if (rc != 0) return rc;
    }
    return check(o, argc, argv);
}

int train_common_backend(const struct train_common *o, const struct srl_backend **be)
{
    int rc = tool_backend(&o->common, NULL, be);
    /* rank 0 puts back a checkpoint a killed save left; the others wait for it */
    if (rc == 0 && o->resume &&
        srl_dist_agree(srl_dist_is_root() ? srl_dir_recover(o->resume) : 0) < 0)
        rc = print_error("cannot recover the checkpoint '%s'", o->resume);
    return rc;
}

const char *train_common_tokenizer_dir(const struct train_common *o)
{
    return o->tokenizer ? o->tokenizer : o->model ? o->model : o->resume;
}

int train_common_check_model(const struct train_common *o, const struct srl_tokenizer *tok,
                             const struct srl_model *m, const char **tname,
                             const struct srl_template **tmpl)
{
    if (srl_tokenizer_vocab_size(tok) > m->cfg.vocab_size)
        return print_error("the tokenizer has %d tokens but the model only %d",
                           srl_tokenizer_vocab_size(tok), m->cfg.vocab_size);
    *tname = o->template_name ? o->template_name
             : m->cfg.template_name[0] ? m->cfg.template_name : "saferlhf";
    if (!(*tmpl = srl_template_find(*tname)))
        return print_error("the checkpoint's template '%s' is unknown; choose one with "
                           "--template", *tname);
    return 0;
}

void train_common_cap_length(struct train_common *o, const struct srl_model *m)
{
    if (o->max_length > m->cfg.max_position_embeddings) {
        srl_log_info("--max-length %ld exceeds the model's %d positions: using %d",
                     o->max_length, m->cfg.max_position_embeddings,
                     m->cfg.max_position_embeddings);
        o->max_length = m->cfg.max_position_embeddings;
    }
}

int train_common_dry_run(const struct train_common *o, int head, int rows_per_example)
{
    const char *src = o->model ? o->model : o->resume ? o->resume : o->init_config;
    struct srl_model *m = NULL;
    if (srl_model_shape_load(src, head, &m) < 0)
        return print_error("cannot read the config of '%s'", src);
    int len = (int)(o->max_length < m->cfg.max_position_embeddings
                        ? o->max_length : m->cfg.max_position_embeddings);
    struct srl_mem_plan p = {.ranks = o->dry_run > 0 ? o->dry_run : srl_dist_size(),
                             .zero_stage = o->train.zero_stage};
    int rows = rows_per_example * o->train.batch_size;
    srl_mem_plan_add(&p, m, true, rows, len, 0, 0);
    if (srl_dist_is_root()) {
        printf("%s: %.2fM parameters (hidden %d, %d layers, vocabulary %d); micro-batch of %d "
               "sequences of up to %d tokens; global batch %d micro-batches (--grad-accum), "
               "%d per rank\n", src, (double)m->n_params / 1e6, m->cfg.hidden_size,
               m->cfg.num_hidden_layers, m->cfg.vocab_size, rows, len, o->train.grad_accum,
               (o->train.grad_accum + p.ranks - 1) / p.ranks);
        srl_mem_plan_print(stdout, &p, "training");
    }
    srl_model_free(m);
    return SRL_EXIT_OK;
}

/* Peak resident memory of this process in MiB. */
static double peak_rss_mib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0.0;
}

int train_common_run(const struct train_common *o, struct srl_model *m, const char *tok_dir,
                     const struct srl_train_task *task)
{
    struct srl_trainer tr = { 0 };
    int rc, ret = SRL_EXIT_FAILURE;
    if ((rc = srl_trainer_init(&tr, &o->train, m, tok_dir, o->resume)) < 0) {
        ret = print_error("cannot %s", o->resume ? "resume the run" : "set up training");
        goto out;
    }
    srl_trainer_catch_signals();
    rc = srl_trainer_run(&tr, task);
    if (rc == SRL_TRAIN_INTERRUPTED) ret = 128 + srl_trainer_signal();
    else if (rc == SRL_TRAIN_STOPPED || rc == 0) ret = SRL_EXIT_OK;
    else if (rc == SRL_ENUMERIC) ret = SRL_EXIT_NUMERIC;
    else print_error("training failed");
    if (rc == 0) srl_log_info("wrote %s (step %lld)", o->train.output, (long long)tr.st.step);
    srl_log_info("peak resident memory %.1f MiB", peak_rss_mib());
out:
    srl_trainer_free(&tr);
    return ret;
}

void train_common_help(FILE *fp)
{
    fputs("      --allow-extra-tensors  ignore (with a warning) tensors the model does not use\n"
          "      --skip-bad-records  skip (and count) bad records instead of failing\n"
          "      --dry-run[=RANKS]  print the memory plan per rank (of this run's ranks, or\n"
          "                        RANKS) from the model's config and exit; under mpirun\n"
          "                        --batch-size is per rank, the global batch is\n"
          "                        --batch-size x --grad-accum on any rank count\n\n",
          fp);
}
