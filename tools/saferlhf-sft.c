/* saferlhf-sft.c -- supervised fine-tuning of a checkpoint (or a model from scratch) on SFT data,
 * with the loss on response tokens (+ EOS) only; or, with --objective lm, pretraining on raw
 * text packed into full windows, the loss on every token.  The work is in lib/dataset.c,
 * lib/packing.c, lib/batching.c and lib/trainer*.c; this file wires options to them. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dataset.h"
#include "dist.h"
#include "model.h"
#include "packing.h"
#include "template.h"
#include "tokenizer.h"
#include "train_common.h"

enum { OPT_OBJECTIVE = TRAIN_OPT_USER, OPT_TEXT_FIELD };

struct sft_opts {
    bool lm; /* --objective lm */
    const char *fields[TRAIN_MAX_DATA];
    int n_fields;
};

static int parse_opt(void *ctx, int c, const char *arg)
{
    struct sft_opts *so = ctx;
    if (c == OPT_OBJECTIVE) {
        if (strcmp(arg, "sft") != 0 && strcmp(arg, "lm") != 0)
            return usage_error("unknown --objective '%s' (expected sft or lm)", arg);
        so->lm = strcmp(arg, "lm") == 0;
        return 0;
    }
    if (c == OPT_TEXT_FIELD) {
        if (so->n_fields == TRAIN_MAX_DATA)
            return usage_error("at most %d --text-field names", TRAIN_MAX_DATA);
        so->fields[so->n_fields++] = arg;
        return 0;
    }
    return SRL_EXIT_USAGE;
}

static void usage(void *ctx, FILE *fp)
{
    struct srl_train_opts defaults;
    srl_train_opts_default(&defaults);
    fprintf(fp,
            "Usage: saferlhf-sft -m MODEL_DIR -d DATA -o OUT_DIR [options]\n"
            "       saferlhf-sft --init-config CONFIG.json --tokenizer DIR -d DATA -o OUT_DIR\n"
            "       saferlhf-sft --resume CHECKPOINT -d DATA -o OUT_DIR [options]\n"
            "\n"
            "Supervised fine-tuning: the loss is on the response tokens and EOS, the prompt is\n"
            "masked.  DATA is JSON Lines or a JSON array (.gz too, - for stdin) of {prompt,\n"
            "response}, Alpaca {instruction, input, output}, {messages: [{role, content}]}\n"
            "or HH dialogues {chosen} / {text}.\n"
            "\n"
            "With --objective lm (pretraining), DATA is raw text: JSON Lines or JSON records\n"
            "whose --text-field strings make one document each, or plain text (.txt, .text,\n"
            ".md; .gz too) with documents separated by blank lines.  Documents are streamed\n"
            "through the tokenizer into a packed token file (BOS doc EOS BOS doc EOS ...) and\n"
            "trained as shuffled windows of --max-length tokens, the loss on every token.\n"
            "\n"
            "Options:\n"
            "  -m, --model DIR       checkpoint to start from (HF directory)\n"
            "      --init-config FILE  start from scratch: random weights for this config.json\n"
            "      --tokenizer DIR   tokenizer for --init-config (tokenizer.json)\n"
            "  -d, --data FILE       training data (repeatable)\n"
            "      --eval-data FILE  evaluation data (eval loss every --eval-every steps)\n"
            "      --eval-split R    hold out this fraction of the training data (lm: of the\n"
            "                        documents) for eval\n"
            "  -o, --output DIR      checkpoint directory written (replaced as a whole)\n"
            "      --max-length N    truncate examples to N tokens; lm: the window length [512]\n"
            "      --objective NAME  sft: the loss on responses [sft]; lm: on every token of\n"
            "                        packed raw text (pretraining)\n"
            "      --text-field NAME lm: a record field holding text (repeatable; joined with\n"
            "                        a blank line, in this order) [text, prompt, instruction,\n"
            "                        input, output, response, response_0, response_1, chosen,\n"
            "                        rejected, messages]\n"
            "      --resume DIR      continue the run saved in DIR (weights, optimiser, data\n"
            "                        position); give the same data and options\n"
            "      --template NAME   %s\n"
            "                        [the checkpoint's; hh for all-HH data; else saferlhf]\n",
            srl_template_names());
    train_common_help(fp);
    fputs("Training options:\n", fp);
    train_opts_help(fp, TRAIN_OPTS_ALL, &defaults, 24);
    fputc('\n', fp);
    tool_common_help(fp);
}

/* The model: loaded from a checkpoint, or random for a config (from scratch). */
static int load_model(const struct train_common *o, const struct srl_backend *be,
                      const struct srl_tokenizer *tok, struct srl_model **m)
{
    const char *dir = o->model ? o->model : o->resume;
    int rc;
    if (dir) {
        unsigned flags = o->allow_extra ? SRL_LOAD_ALLOW_EXTRA : 0;
        if ((rc = srl_model_load_flags(dir, be, flags, m)) < 0)
            return print_error("cannot load the model '%s'", dir);
        return 0;
    }
    struct srl_config cfg;
    if (srl_config_load(o->init_config, &cfg) < 0)
        return print_error("cannot read the config '%s'", o->init_config);
    if (cfg.head != SRL_HEAD_LM)
        return print_error("'%s' is not a causal LM config", o->init_config);
    cfg.bos_token_id = srl_tokenizer_bos_id(tok);
    cfg.eos_token_id = srl_tokenizer_eos_id(tok);
    cfg.pad_token_id = srl_tokenizer_pad_id(tok);
    if (!(*m = srl_model_new(&cfg, be, &rc))) return print_error("cannot create the model");
    if (srl_model_init_random(*m, o->common.seed) < 0)
        return print_error("cannot initialise the model");
    return 0;
}

static int read_data(const struct train_common *o, const struct srl_sft_opts *so,
                     struct srl_sft_set *train, struct srl_sft_set *eval)
{
    for (int i = 0; i < o->n_data; i++)
        if (srl_sft_read(train, o->data[i], so) < 0)
            return print_error("cannot read the training data '%s'", o->data[i]);
    if (o->eval_data && srl_sft_read(eval, o->eval_data, so) < 0)
        return print_error("cannot read the evaluation data '%s'", o->eval_data);
    if (o->eval_split > 0 && srl_sft_split(train, o->eval_split, o->common.seed, eval) < 0)
        return print_error("out of memory");
    if (o->common.verbosity < 0) return train->n ? 0 : print_error("no training examples");
    fprintf(stderr, "%s: %zu records: %zu training examples (%zu tokens)", srl_log_get_prog(),
            train->n_records, train->n, train->n_tokens);
    if (eval->n) fprintf(stderr, ", %zu eval examples", eval->n);
    fprintf(stderr, "; %zu truncated to %d tokens", train->n_truncated + eval->n_truncated,
            so->max_length);
    if (train->n_dropped + eval->n_dropped)
        fprintf(stderr, ", %zu dropped (no response token left)",
                train->n_dropped + eval->n_dropped);
    if (train->n_skipped + eval->n_skipped)
        fprintf(stderr, ", %zu bad records skipped", train->n_skipped + eval->n_skipped);
    fputc('\n', stderr);
    return train->n ? 0 : print_error("no training examples");
}

/* --objective lm: the documents of the data files packed into token streams. */
static int read_packs(const struct train_common *o, const struct sft_opts *so,
                      const struct srl_tokenizer *tok, struct srl_pack *train,
                      struct srl_pack *eval)
{
    struct srl_pack_opts po = { tok, so->n_fields ? so->fields : NULL, (size_t)so->n_fields,
                                o->skip_bad, o->eval_split, o->common.seed };
    struct srl_pack_stats st = { 0 };
    long T = o->max_length;
    if (srl_pack_open(train) < 0 || srl_pack_open(eval) < 0)
        return print_error("cannot create the packed token files");
    for (int i = 0; i < o->n_data; i++)
        if (srl_pack_read(train, eval, o->data[i], &po, &st) < 0)
            return print_error("cannot read the training data '%s'", o->data[i]);
    po.eval_ratio = 0;
    if (o->eval_data && srl_pack_read(eval, NULL, o->eval_data, &po, &st) < 0)
        return print_error("cannot read the evaluation data '%s'", o->eval_data);
    if (srl_pack_flush(train) < 0 || srl_pack_flush(eval) < 0)
        return print_error("cannot write the packed token files");
    size_t nw = srl_pack_n_windows(train, (int)T);
    if (o->common.verbosity >= 0) {
        fprintf(stderr, "%s: %zu records: %zu documents, %zu tokens, %zu windows of %ld tokens",
                srl_log_get_prog(), st.n_records, train->n_docs, train->n_tokens, nw, T);
        if (eval->n_docs)
            fprintf(stderr, "; eval %zu documents, %zu tokens, %zu windows", eval->n_docs,
                    eval->n_tokens, srl_pack_n_windows(eval, (int)T));
        if (st.n_empty) fprintf(stderr, ", %zu records without text", st.n_empty);
        if (st.n_skipped) fprintf(stderr, ", %zu bad records skipped", st.n_skipped);
        fputc('\n', stderr);
    }
    if (nw == 0)
        return print_error("the training text (%zu tokens) does not fill one window of %ld "
                           "tokens", train->n_tokens, T);
    return 0;
}

static int sft_main(int argc, char **argv)
{
    struct train_common o = { .common = TOOL_COMMON_INIT, .max_length = 512, .dry_run = -1 };
    struct srl_tokenizer *tok = NULL;
    struct srl_model *m = NULL;
    struct srl_sft_set train = { 0 }, eval = { 0 };
    struct srl_lm_task task = { 0 };
    struct srl_pack pack = { 0 }, pack_eval = { 0 };
    struct sft_opts so_ = { 0 };
    const struct srl_backend *be = NULL;
    const struct srl_template *tmpl;
    const char *tname;
    int rc, ret = SRL_EXIT_FAILURE, err;

    srl_train_opts_default(&o.train);
    static const struct option own[] = {
        { "objective", required_argument, NULL, OPT_OBJECTIVE },
        { "text-field", required_argument, NULL, OPT_TEXT_FIELD },
        { NULL, 0, NULL, 0 }
    };
    struct train_tool tool = { own, parse_opt, usage, &so_ };
    if ((rc = train_common_parse(&o, argc, argv, &tool)) != 0) return rc < 0 ? SRL_EXIT_OK : rc;
    if (so_.n_fields && !so_.lm) return usage_error("--text-field goes with --objective lm");
    if (o.dry_run >= 0) return train_common_dry_run(&o, -1, 1);
    if ((rc = train_common_backend(&o, &be)) != 0) return rc;

    const char *tok_dir = train_common_tokenizer_dir(&o);
    if (!(tok = srl_tokenizer_load(tok_dir, &err))) {
        print_error("cannot load the tokenizer of '%s'", tok_dir);
        goto out;
    }
    if (load_model(&o, be, tok, &m) != 0 || train_common_check_model(&o, tok, m, &tname, &tmpl))
        goto out;
    train_common_cap_length(&o, m);

    int32_t pad = srl_tokenizer_pad_id(tok);
    if (pad < 0) pad = srl_tokenizer_eos_id(tok) >= 0 ? srl_tokenizer_eos_id(tok) : 0;
    if (so_.lm) {
        snprintf(m->cfg.template_name, sizeof m->cfg.template_name, "%s", tname);
        if (read_packs(&o, &so_, tok, &pack, &pack_eval) != 0) goto out;
        if (srl_lm_pack_task_init(&task, &pack, &pack_eval, (int)o.max_length, pad,
                                  o.train.batch_size) < 0) {
            print_error("out of memory");
            goto out;
        }
        ret = train_common_run(&o, m, tok_dir, &task.task);
        goto out;
    }
    struct srl_sft_opts so = { tok, tmpl, (int)o.max_length, o.skip_bad };
    if (read_data(&o, &so, &train, &eval) != 0) goto out;
    if (!o.template_name && !m->cfg.template_name[0] &&
        train.n_hh == train.n_records - train.n_skipped)
        tname = "hh"; /* all HH dialogues: later stages render prompts as they were trained */
    snprintf(m->cfg.template_name, sizeof m->cfg.template_name, "%s", tname);
    if (srl_lm_task_init(&task, &train, &eval, pad, o.train.batch_size) < 0) {
        print_error("out of memory");
        goto out;
    }
    ret = train_common_run(&o, m, tok_dir, &task.task);
out:
    srl_lm_task_free(&task);
    srl_sft_set_free(&train);
    srl_sft_set_free(&eval);
    srl_pack_close(&pack);
    srl_pack_close(&pack_eval);
    srl_model_free(m);
    srl_tokenizer_free(tok);
    if (close_stdout() < 0 && ret == SRL_EXIT_OK) ret = SRL_EXIT_FAILURE;
    return ret;
}

int main(int argc, char **argv)
{
    tool_init(argv); /* before MPI starts */
    return srl_dist_main(argc, argv, sft_main);
}
