/* train_score.c -- the body of saferlhf-train-rm and saferlhf-train-cm: a score model (an LM
 * checkpoint with its head replaced by hidden -> 1, or a score checkpoint) trained on preference
 * pairs.  The work is in lib/trainer_score.c, lib/score_loss.c and lib/trainer*.c; this file
 * wires options to them.  See train_score.h. */
#include "train_score.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dist.h"
#include "model.h"
#include "template.h"
#include "tokenizer.h"
#include "train_common.h"
#include "trainer_score.h"

enum { OPT_REG = TRAIN_OPT_USER, OPT_LOSS_TYPE };

struct score_opts {
    struct train_common t;
    enum srl_score_kind kind;
    double reg;
    enum srl_score_loss_type loss_type;
};

static void defaults(struct score_opts *o)
{
    srl_train_opts_default(&o->t.train);
    o->t.train.epochs = 2; /* the reference's scripts/{reward,cost}-model.sh */
    o->t.train.warmup_ratio = 0.03;
    o->t.train.adam.weight_decay = 0.1;
    o->reg = 0.001;
    o->t.max_length = 512;
}

static void usage(FILE *fp, const struct score_opts *o)
{
    bool cost = o->kind == SRL_SCORE_COST;
    const char *prog = cost ? "saferlhf-train-cm" : "saferlhf-train-rm";
    fprintf(fp,
            "Usage: %s -m MODEL_DIR -d DATA -o OUT_DIR [options]\n"
            "       %s --init-config CONFIG.json --tokenizer DIR -d DATA -o OUT_DIR\n"
            "       %s --resume CHECKPOINT -d DATA -o OUT_DIR [options]\n\n",
            prog, prog, prog);
    if (cost)
        fputs("Train a cost model: -log sigmoid(c_unsafer - c_safer) plus, for each labelled\n"
              "response, -log sigmoid(s * c) with s = +1 unsafe, -1 safe.  DATA: PKU-SafeRLHF\n"
              "records (safer_response_id, is_response_{0,1}_safe), {prompt, chosen, rejected}\n"
              "or HH {chosen, rejected} (chosen is safer; no sign term).\n\n", fp);
    else
        fputs("Train a reward model: -log sigmoid(r_better - r_worse).  DATA: PKU-SafeRLHF\n"
              "records (better_response_id), {prompt, chosen, rejected} or HH {chosen,\n"
              "rejected} dialogues.\n\n", fp);
    fprintf(fp,
            "Options:\n"
            "  -m, --model DIR       LM or score checkpoint to start from (HF directory)\n"
            "      --init-config FILE  start from scratch: random weights for this config.json\n"
            "      --tokenizer DIR   tokenizer for --init-config (tokenizer.json)\n"
            "  -d, --data FILE       training pairs (repeatable)\n"
            "      --eval-data FILE  evaluation pairs (accuracy every --eval-every steps)\n"
            "      --eval-split R    hold out this fraction of the training pairs for eval\n"
            "  -o, --output DIR      checkpoint directory written (replaced as a whole)\n"
            "      --max-length N    truncate sequences to N tokens [%ld]\n"
            "      --regularization X  weight of the mean squared score [%g]\n"
            "      --loss-type TYPE  sequence-wise or token-wise [sequence-wise]\n"
            "      --resume DIR      continue the run saved in DIR (weights, optimiser, data\n"
            "                        position); give the same data and options\n"
            "      --template NAME   %s\n"
            "                        [the checkpoint's, else saferlhf]\n",
            o->t.max_length, o->reg, srl_template_names());
    train_common_help(fp);
    fputs("Training options:\n", fp);
    train_opts_help(fp, TRAIN_OPTS_ALL, &o->t.train, 24);
    fputc('\n', fp);
    tool_common_help(fp);
}

/* The options of score models only (struct train_tool's own): 0 when handled, else the exit
 * status of a usage error (printed). */
static int parse_opt(void *ctx, int c, const char *arg)
{
    struct score_opts *o = ctx;
    switch (c) {
    case OPT_REG:
        if (parse_float(arg, &o->reg) < 0 || o->reg < 0)
            return usage_error("invalid --regularization '%s' (expected a number >= 0)", arg);
        return 0;
    case OPT_LOSS_TYPE:
        if (strcmp(arg, "sequence-wise") == 0) o->loss_type = SRL_SCORE_SEQUENCE_WISE;
        else if (strcmp(arg, "token-wise") == 0) o->loss_type = SRL_SCORE_TOKEN_WISE;
        else
            return usage_error("invalid --loss-type '%s' (expected sequence-wise or "
                               "token-wise)", arg);
        return 0;
    }
    return SRL_EXIT_USAGE;
}

static void help(void *ctx, FILE *fp)
{
    const struct score_opts *o = ctx;
    struct score_opts dflt = { .kind = o->kind };
    defaults(&dflt);
    usage(fp, &dflt);
}

static int parse_args(int argc, char **argv, struct score_opts *o)
{
    static const struct option own[] = {
        { "regularization", required_argument, NULL, OPT_REG },
        { "loss-type", required_argument, NULL, OPT_LOSS_TYPE },
        { NULL, 0, NULL, 0 }
    };
    struct train_tool tool = { own, parse_opt, help, o };
    return train_common_parse(&o->t, argc, argv, &tool);
}

/* The score model: a score checkpoint as it is; an LM checkpoint or a config with its head
 * replaced by a random hidden -> 1 one.  HF's score layout has no bias: the reference's bias
 * starts at zero, and a zero bias is the same function (the man page says so). */
static int load_model(const struct score_opts *o, const struct srl_backend *be,
                      const struct srl_tokenizer *tok, struct srl_model **m)
{
    const char *dir = o->t.model ? o->t.model : o->t.resume;
    unsigned extra = o->t.allow_extra ? SRL_LOAD_ALLOW_EXTRA : 0;
    struct srl_config cfg;
    char path[4096];
    int rc;
    if (dir) snprintf(path, sizeof path, "%s/config.json", dir);
    if (srl_config_load(dir ? path : o->t.init_config, &cfg) < 0)
        return print_error("cannot read the config of '%s'", dir ? dir : o->t.init_config);
    if (dir && cfg.head == SRL_HEAD_SCORE) {
        if (srl_model_load_flags(dir, be, extra, m) < 0)
            return print_error("cannot load the model '%s'", dir);
        return 0;
    }
    cfg.head = SRL_HEAD_SCORE;
    cfg.num_labels = 1;
    if (!dir) {
        cfg.bos_token_id = srl_tokenizer_bos_id(tok);
        cfg.eos_token_id = srl_tokenizer_eos_id(tok);
        cfg.pad_token_id = srl_tokenizer_pad_id(tok);
    }
    if (!(*m = srl_model_new(&cfg, be, &rc))) return print_error("cannot create the model");
    if (srl_model_init_random(*m, o->t.common.seed) < 0)
        return print_error("cannot initialise the model");
    if (dir && srl_model_load_weights(*m, dir, SRL_LOAD_ALLOW_MISSING_HEAD | extra) < 0)
        return print_error("cannot load the weights of '%s'", dir);
    return 0;
}

static int read_data(const struct score_opts *o, const struct srl_pair_opts *po,
                     struct srl_pair_set *train, struct srl_pair_set *eval)
{
    for (int i = 0; i < o->t.n_data; i++)
        if (srl_pair_read(train, o->t.data[i], po) < 0)
            return print_error("cannot read the training data '%s'", o->t.data[i]);
    if (o->t.eval_data && srl_pair_read(eval, o->t.eval_data, po) < 0)
        return print_error("cannot read the evaluation data '%s'", o->t.eval_data);
    if (o->t.eval_split > 0 && srl_pair_split(train, o->t.eval_split, o->t.common.seed, eval) < 0)
        return print_error("out of memory");
    fprintf(stderr, "%s: %zu records: %zu training pairs", srl_log_get_prog(),
            train->n_records, train->n);
    if (eval->n) fprintf(stderr, ", %zu eval pairs", eval->n);
    fprintf(stderr, "; %zu with a sequence truncated to %d tokens",
            train->n_truncated + eval->n_truncated, po->max_length);
    if (train->n_dropped + eval->n_dropped)
        fprintf(stderr, ", %zu dropped (identical within %d tokens)",
                train->n_dropped + eval->n_dropped, po->max_length);
    if (train->n_identical + eval->n_identical)
        fprintf(stderr, ", %zu dropped (the two answers are the same)",
                train->n_identical + eval->n_identical);
    if (train->n_skipped + eval->n_skipped)
        fprintf(stderr, ", %zu bad records skipped", train->n_skipped + eval->n_skipped);
    fputc('\n', stderr);
    if (train->n == 0) return print_error("no training pairs");
    size_t nu = train->n_unsigned + eval->n_unsigned, n = train->n + eval->n;
    if (po->kind == SRL_SCORE_COST && nu > 0)
        fprintf(stderr, "%s: %zu of %zu pairs have no safety labels "
                "(is_response_{0,1}_safe): their sign term is dropped\n",
                srl_log_get_prog(), nu, n);
    return 0;
}

/* Checkpoint metadata the tool owns: score type, template, pad token. */
static int setup_model(struct score_opts *o, const struct srl_tokenizer *tok,
                       struct srl_model *m, const struct srl_template **tmpl, int32_t *pad)
{
    const char *tname;
    if (train_common_check_model(&o->t, tok, m, &tname, tmpl) != 0) return SRL_EXIT_FAILURE;
    snprintf(m->cfg.template_name, sizeof m->cfg.template_name, "%s", tname);
    snprintf(m->cfg.score_type, sizeof m->cfg.score_type, "%s",
             o->kind == SRL_SCORE_COST ? "cost" : "reward");
    /* transformers reads the score at the last token that is not pad_token_id: the EOS that
     * ends every sequence must not be the pad */
    int32_t eos = srl_tokenizer_eos_id(tok), bos = srl_tokenizer_bos_id(tok);
    *pad = srl_tokenizer_pad_id(tok);
    if (*pad < 0 || *pad == eos) *pad = m->cfg.pad_token_id;
    if (*pad < 0 || *pad == eos) {
        *pad = m->cfg.vocab_size - 1;
        while (*pad > 0 && (*pad == eos || *pad == bos)) (*pad)--;
        srl_log_info("the tokenizer's pad token is its EOS (or absent): pad_token_id is %d, "
                     "pad with it when scoring batches in transformers", *pad);
    }
    m->cfg.pad_token_id = *pad;
    train_common_cap_length(&o->t, m);
    return 0;
}

static int score_main(int argc, char **argv, enum srl_score_kind kind)
{
    struct score_opts o = { .t = { .common = TOOL_COMMON_INIT, .dry_run = -1 }, .kind = kind };
    struct srl_tokenizer *tok = NULL;
    struct srl_model *m = NULL;
    struct srl_pair_set train = { 0 }, eval = { 0 };
    struct srl_score_task task = { 0 };
    const struct srl_backend *be = NULL;
    const struct srl_template *tmpl;
    int32_t pad = 0;
    int rc, ret = SRL_EXIT_FAILURE, err;

    defaults(&o);
    if ((rc = parse_args(argc, argv, &o)) != 0) return rc < 0 ? SRL_EXIT_OK : rc;
    if (o.t.dry_run >= 0) return train_common_dry_run(&o.t, SRL_HEAD_SCORE, 2); /* pairs */
    if ((rc = train_common_backend(&o.t, &be)) != 0) return rc;

    const char *tok_dir = train_common_tokenizer_dir(&o.t);
    if (!(tok = srl_tokenizer_load(tok_dir, &err))) {
        print_error("cannot load the tokenizer of '%s'", tok_dir);
        goto out;
    }
    if (load_model(&o, be, tok, &m) != 0 || setup_model(&o, tok, m, &tmpl, &pad) != 0) goto out;
    struct srl_pair_opts po = { kind, tok, tmpl, (int)o.t.max_length, o.t.skip_bad };
    if (read_data(&o, &po, &train, &eval) != 0) goto out;
    if (srl_score_task_init(&task, kind, o.loss_type, (float)o.reg, &train, &eval, pad,
                            o.t.train.batch_size) < 0) {
        print_error("out of memory");
        goto out;
    }
    ret = train_common_run(&o.t, m, tok_dir, &task.task);
out:
    srl_score_task_free(&task);
    srl_pair_set_free(&train);
    srl_pair_set_free(&eval);
    srl_model_free(m);
    srl_tokenizer_free(tok);
    if (close_stdout() < 0 && ret == SRL_EXIT_OK) ret = SRL_EXIT_FAILURE;
    return ret;
}

static int rm_main(int argc, char **argv) { return score_main(argc, argv, SRL_SCORE_REWARD); }
static int cm_main(int argc, char **argv) { return score_main(argc, argv, SRL_SCORE_COST); }

int train_score_main(int argc, char **argv, enum srl_score_kind kind)
{
    tool_init(argv); /* before MPI starts */
    return srl_dist_main(argc, argv, kind == SRL_SCORE_REWARD ? rm_main : cm_main);
}
