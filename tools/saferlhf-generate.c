/* saferlhf-generate.c -- answer JSONL prompts with a checkpoint: one JSON object per generation,
 * the input record's fields passed through plus the response. */
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "jsonl.h"
#include "model.h"
#include "prompt.h"
#include "dataset.h"
#include "fileio.h"
#include "template.h"
#include "tokenizer.h"
#include "tool.h"

enum {
    OPT_TEMPLATE = TOOL_OPT_USER, OPT_MAX_NEW, OPT_TEMPERATURE, OPT_TOP_K, OPT_TOP_P, OPT_REP,
    OPT_GREEDY, OPT_NUM_RETURN, OPT_STOP, OPT_BATCH, OPT_LOGPROBS, OPT_RAW, OPT_MAX_PROMPT,
    OPT_FIELD, OPT_ALLOW_EXTRA,
};
enum { MAX_STOP = 32, WINDOW = 8 }; /* batches sorted by prompt length together */

struct gen_opts {
    struct tool_common common;
    const char *model, *input, *output, *template_name, *field;
    struct srl_gen_params gp;
    const char *stop[MAX_STOP];
    int num_return, batch_size, max_prompt_tokens;
    bool greedy, raw_prompt, allow_extra;
};

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: saferlhf-generate -m MODEL_DIR [options] [PROMPTS.jsonl|-]\n"
            "\n"
            "Answer each prompt (stdin when absent or -) with the model and write one JSON\n"
            "object per generation: the record's fields, then response, prompt_tokens,\n"
            "response_tokens, finish_reason (eos, stop or length) and sample (with -n > 1).\n"
            "Files: JSON Lines or a JSON array of records or strings, or a JSON object\n"
            "holding a list of them ({\"instructions\": [\"...\", ...]}; see --field).\n"
            "Records: {prompt} (a string or a list of turns), {instruction, input},\n"
            "{messages: [{role, content}]} or an HH dialogue {chosen} or {text} ending with\n"
            "a Human turn; a string s is the record {\"prompt\": s}.\n"
            "\n"
            "Options:\n"
            "  -m, --model DIR             checkpoint with tokenizer.json\n"
            "      --allow-extra-tensors   ignore (with a warning) tensors the model does not use\n"
            "  -o, --output FILE           write here instead of stdout\n"
            "      --field NAME            the list of a JSON object file to read\n"
            "                              [its only list of records or strings]\n"
            "      --template NAME         prompt template (%s)\n"
            "                              [the checkpoint's, else saferlhf]\n"
            "      --raw-prompt            use the prompt text as is (--template raw)\n"
            "      --max-new-tokens N      tokens to generate at most [512]\n"
            "      --max-prompt-tokens N   keep the last N prompt tokens [0: all]\n"
            "      --greedy                always take the most likely token\n"
            "      --temperature T         sampling temperature, 0 = greedy [1]\n"
            "      --top-k K               sample among the K most likely tokens [0: all]\n"
            "      --top-p P               nucleus sampling threshold [1]\n"
            "      --repetition-penalty R  CTRL repetition penalty [1]\n"
            "  -n, --num-return-sequences N  samples per prompt [1]\n"
            "      --stop STRING           also stop when the response contains STRING\n"
            "                              (repeatable; the text is cut before it)\n"
            "  -b, --batch-size N          sequences decoded together [16]\n"
            "      --logprobs              add token_ids, logprobs (the sampled distribution)\n"
            "                              and raw_logprobs (untempered, unfiltered softmax)\n",
            srl_template_names());
    tool_common_help(fp);
}

/* One sequence waiting for its batch: the record (a reference per sample), its prompt, its
 * RNG stream (its index in the output), and then its output line. */
struct pending {
    struct srl_json *rec;
    int32_t *ids;
    int n, truncated, sample;
    uint64_t stream;
    char *line;
};

static int set_array(struct srl_json *rec, const char *key, const int32_t *ids, const float *f,
                     int n)
{
    struct srl_json *a = srl_json_new_array();
    for (int i = 0; a && i < n; i++)
        if (srl_json_array_append(a, ids ? srl_json_new_integer(ids[i])
                                         : srl_json_new_number(f[i])) < 0)
            break;
    srl_json_object_del(rec, key);
    return srl_json_object_set(rec, key, a);
}

/* The output line of one pending sequence (its record with the generation's fields), into
 * pd->line. */
static int format(const struct gen_opts *o, const struct srl_tokenizer *tok, struct pending *pd,
                  const struct srl_gen_seq *s)
{
    char *text = NULL;
    if (srl_tokenizer_decode(tok, s->tokens, (size_t)s->n_tokens, 1, &text) < 0)
        return print_error("cannot decode a response");
    if (s->finish == SRL_FINISH_STOP) { /* cut before the first stop string */
        char *cut = NULL;
        for (size_t i = 0; i < o->gp.n_stop; i++) {
            char *h = strstr(text, o->stop[i]);
            if (h && (!cut || h < cut))
                cut = h;
        }
        if (cut)
            *cut = '\0';
    }
    struct srl_json *r = pd->rec;
    static const char *const keys[] = { "response", "prompt_tokens", "response_tokens",
                                        "finish_reason", "sample", "truncated_prompt_tokens" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        srl_json_object_del(r, keys[i]);
    int rc = srl_json_object_set_string(r, "response", text);
    free(text);
    rc |= srl_json_object_set_integer(r, "prompt_tokens", s->prompt_len);
    rc |= srl_json_object_set_integer(r, "response_tokens", s->n_tokens);
    rc |= srl_json_object_set_string(r, "finish_reason", srl_finish_name(s->finish));
    if (o->num_return > 1)
        rc |= srl_json_object_set_integer(r, "sample", pd->sample);
    if (pd->truncated)
        rc |= srl_json_object_set_integer(r, "truncated_prompt_tokens", pd->truncated);
    if (o->gp.logprobs) {
        rc |= set_array(r, "token_ids", s->tokens, NULL, s->n_tokens);
        rc |= set_array(r, "logprobs", NULL, s->logp, s->n_tokens);
        rc |= set_array(r, "raw_logprobs", NULL, s->logp_raw, s->n_tokens);
    }
    if (rc != 0 || !(pd->line = srl_json_dumps(r)))
        return print_error("out of memory");
    return 0;
}

/* Generate for the n pending sequences pd[idx[0..n)] and format their lines. */
static int run_batch(const struct gen_opts *o, struct srl_model *m,
                     const struct srl_tokenizer *tok, struct pending *pd, const int *idx, int n)
{
    struct srl_gen_seq *seqs = calloc((size_t)n, sizeof *seqs);
    if (!seqs)
        return print_error("out of memory");
    for (int i = 0; i < n; i++) {
        seqs[i].prompt = pd[idx[i]].ids;
        seqs[i].prompt_len = pd[idx[i]].n;
        seqs[i].stream = pd[idx[i]].stream;
    }
    int rc = srl_generate(m, &o->gp, seqs, n);
    if (rc < 0) {
        print_error("generation failed");
        rc = srl_exit_status(rc); /* 3 for non-finite logits */
    }
    for (int i = 0; i < n; i++) {
        if (rc == 0)
            rc = format(o, tok, &pd[idx[i]], &seqs[i]);
        srl_gen_seq_clear(&seqs[i]);
    }
    free(seqs);
    return rc;
}

static const struct pending *sort_pd; /* qsort has no context argument in C11 */

static int cmp_len(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b, d = sort_pd[i].n - sort_pd[j].n;
    return d ? d : i - j;
}

/* Generate for the window pd[0..n): batches of prompts of similar length (less padding),
 * then write every line in input order.  Frees the window's contents. */
static int flush_window(const struct gen_opts *o, struct srl_model *m,
                        const struct srl_tokenizer *tok, struct pending *pd, int n, FILE *out)
{
    int rc = 0, *idx = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!idx)
        rc = print_error("out of memory");
    for (int i = 0; rc == 0 && i < n; i++)
        idx[i] = i;
    sort_pd = pd;
    if (rc == 0)
        qsort(idx, (size_t)n, sizeof *idx, cmp_len);
    for (int i = 0; rc == 0 && i < n; i += o->batch_size)
        rc = run_batch(o, m, tok, pd, idx + i, n - i < o->batch_size ? n - i : o->batch_size);
    for (int i = 0; rc == 0 && i < n; i++)
        if (fputs(pd[i].line, out) == EOF || putc('\n', out) == EOF)
            rc = print_error("cannot write '%s'", o->output ? o->output : "stdout");
    for (int i = 0; i < n; i++) {
        srl_json_decref(pd[i].rec);
        free(pd[i].ids);
        free(pd[i].line);
    }
    memset(pd, 0, sizeof *pd * (size_t)n);
    free(idx);
    return rc;
}

/* Read every record of o->input and generate in windows of WINDOW batches, written in order. */
static int generate_all(const struct gen_opts *o, struct srl_model *m,
                        const struct srl_tokenizer *tok, const struct srl_template *t, FILE *out)
{
    int err, rc = 0, n = 0, W = o->batch_size * WINDOW;
    uint64_t done = 0; /* sequences so far: the RNG stream of the next one */
    long n_records = 0, n_truncated = 0;
    struct srl_jsonl *r = srl_prompts_open(o->input, o->field, &err);
    if (!r)
        return SRL_EXIT_FAILURE;
    struct pending *pd = calloc((size_t)W, sizeof *pd);
    struct srl_json *rec = NULL;
    if (!pd) {
        srl_jsonl_close(r);
        return print_error("out of memory");
    }
    while (rc == 0 && (err = srl_prompts_next(r, &rec)) == 0) {
        char where[512];
        snprintf(where, sizeof where, "%s:%ld", srl_jsonl_path(r), srl_jsonl_line(r));
        int32_t *ids = NULL;
        /* an HH dialogue's markers are its template */
        int trunc = 0, len = srl_record_prompt_ids(rec, where, tok, t, !o->raw_prompt,
                                                   o->max_prompt_tokens, &ids, &trunc);
        if (len >= m->cfg.max_position_embeddings) {
            free(ids);
            srl_log_error("%s: a prompt of %d tokens leaves no room in the model's %d positions "
                          "(see --max-prompt-tokens)", where, len,
                          m->cfg.max_position_embeddings);
            len = SRL_EFORMAT;
        }
        if (len < 0) {
            rc = srl_exit_status(len);
            srl_json_decref(rec);
            break;
        }
        n_records++;
        n_truncated += trunc > 0;
        for (int j = 0; rc == 0 && j < o->num_return; j++) {
            pd[n].rec = srl_json_incref(rec);
            pd[n].ids = malloc(sizeof(int32_t) * (size_t)len);
            if (!pd[n].ids) {
                srl_json_decref(pd[n].rec);
                pd[n].rec = NULL;
                rc = print_error("out of memory");
                break;
            }
            memcpy(pd[n].ids, ids, sizeof(int32_t) * (size_t)len);
            pd[n].n = len;
            pd[n].truncated = trunc;
            pd[n].sample = j;
            pd[n++].stream = done++;
            if (n == W) {
                rc = flush_window(o, m, tok, pd, n, out);
                n = 0;
            }
        }
        free(ids);
        srl_json_decref(rec);
    }
    if (rc == 0 && err != SRL_EOF)
        rc = srl_exit_status(err);
    if (rc == 0 && n > 0)
        rc = flush_window(o, m, tok, pd, n, out);
    if (rc == 0 && n_truncated)
        srl_log_warning("%ld of %ld prompts were cut to their last %d tokens", n_truncated,
                        n_records, o->max_prompt_tokens);
    if (rc == 0)
        srl_log_info("%s: %s: %ld prompts, %llu generations", srl_jsonl_path(r),
                     srl_jsonl_format(r), n_records, (unsigned long long)done);
    for (int i = 0; i < n; i++) { /* after an error */
        srl_json_decref(pd[i].rec);
        free(pd[i].ids);
        free(pd[i].line);
    }
    free(pd);
    srl_jsonl_close(r);
    return rc;
}

/* Load the model and tokenizer, pick the template, open the output, generate. */
static int run(struct gen_opts *o)
{
    struct srl_model *m = NULL;
    struct srl_tokenizer *tok = NULL;
    struct srl_atomic_file af = { 0 };
    FILE *out;
    int err, rc = SRL_EXIT_FAILURE;
    const struct srl_backend *be;
    if ((rc = tool_backend(&o->common, NULL, &be)) != 0)
        return rc;
    rc = SRL_EXIT_FAILURE;
    if ((err = srl_model_load_flags(o->model, be, o->allow_extra ? SRL_LOAD_ALLOW_EXTRA : 0,
                                    &m)) < 0)
        return print_error("cannot load model '%s'", o->model);
    if (!(tok = srl_tokenizer_load(o->model, &err))) {
        print_error("cannot load the tokenizer of '%s'", o->model);
        goto out;
    }
    const char *tname = o->raw_prompt ? "raw" : o->template_name ? o->template_name
                        : m->cfg.template_name[0] ? m->cfg.template_name : "saferlhf";
    const struct srl_template *t = srl_template_find(tname);
    if (!t) {
        print_error("'%s': unknown template (expected %s)", tname, srl_template_names());
        goto out;
    }
    o->gp.tok = tok;
    o->gp.eos_id = srl_tokenizer_eos_id(tok) >= 0 ? srl_tokenizer_eos_id(tok)
                                                  : m->cfg.eos_token_id;
    if (o->greedy)
        o->gp.sample.temperature = 0;
    /* a file is written beside and renamed into place when complete; a device directly */
    if (!(out = tool_output_open(&af, o->output)))
        goto out;
    rc = generate_all(o, m, tok, t, out);
    if (tool_output_close(&af, rc == 0) < 0 && rc == 0)
        rc = SRL_EXIT_FAILURE;
out:
    srl_tokenizer_free(tok);
    srl_model_free(m);
    return rc;
}

static int parse_opt(struct gen_opts *o, int c, const char *arg)
{
    long v;
    double d;
    switch (c) {
    case 'm': o->model = arg; return 0;
    case 'o': o->output = arg; return 0;
    case OPT_FIELD:
        if (!*arg)
            return usage_error("--field needs a non-empty name");
        o->field = arg;
        return 0;
    case OPT_TEMPLATE:
        if (!srl_template_find(arg))
            return usage_error("unknown --template '%s' (expected %s)", arg,
                               srl_template_names());
        o->template_name = arg;
        return 0;
    case OPT_RAW: o->raw_prompt = true; return 0;
    case OPT_ALLOW_EXTRA: o->allow_extra = true; return 0;
    case OPT_GREEDY: o->greedy = true; return 0;
    case OPT_LOGPROBS: o->gp.logprobs = true; return 0;
    case OPT_MAX_NEW:
        if (parse_int(arg, 1, 1L << 20, &v) < 0)
            return usage_error("invalid --max-new-tokens '%s'", arg);
        o->gp.max_new_tokens = (int)v;
        return 0;
    case OPT_MAX_PROMPT:
        if (parse_int(arg, 0, 1L << 20, &v) < 0)
            return usage_error("invalid --max-prompt-tokens '%s'", arg);
        o->max_prompt_tokens = (int)v;
        return 0;
    case OPT_TOP_K:
        if (parse_int(arg, 0, 1L << 30, &v) < 0)
            return usage_error("invalid --top-k '%s'", arg);
        o->gp.sample.top_k = (int)v;
        return 0;
    case 'n':
    case 'b':
        if (parse_int(arg, 1, 1 << 16, &v) < 0)
            return usage_error("invalid %s '%s'", c == 'n' ? "--num-return-sequences"
                                                           : "--batch-size", arg);
        *(c == 'n' ? &o->num_return : &o->batch_size) = (int)v;
        return 0;
    case OPT_TEMPERATURE:
        if (parse_float(arg, &d) < 0 || !(d >= 0) || d > 1e6)
            return usage_error("invalid --temperature '%s'", arg);
        o->gp.sample.temperature = (float)d;
        return 0;
    case OPT_TOP_P:
        if (parse_float(arg, &d) < 0 || !(d > 0 && d <= 1))
            return usage_error("invalid --top-p '%s' (expected 0 < P <= 1)", arg);
        o->gp.sample.top_p = (float)d;
        return 0;
    case OPT_REP:
        if (parse_float(arg, &d) < 0 || !(d > 0) || d > 1e6)
            return usage_error("invalid --repetition-penalty '%s'", arg);
        o->gp.sample.repetition_penalty = (float)d;
        return 0;
    case OPT_STOP:
        if (!*arg)
            return usage_error("--stop needs a non-empty string");
        if (o->gp.n_stop == MAX_STOP)
            return usage_error("at most %d --stop strings", MAX_STOP);
        o->stop[o->gp.n_stop++] = arg;
        return 0;
    }
    return SRL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        TOOL_COMMON_OPTIONS,
        { "model", required_argument, NULL, 'm' },
        { "allow-extra-tensors", no_argument, NULL, OPT_ALLOW_EXTRA },
        { "output", required_argument, NULL, 'o' },
        { "field", required_argument, NULL, OPT_FIELD },
        { "template", required_argument, NULL, OPT_TEMPLATE },
        { "raw-prompt", no_argument, NULL, OPT_RAW },
        { "max-new-tokens", required_argument, NULL, OPT_MAX_NEW },
        { "max-prompt-tokens", required_argument, NULL, OPT_MAX_PROMPT },
        { "greedy", no_argument, NULL, OPT_GREEDY },
        { "temperature", required_argument, NULL, OPT_TEMPERATURE },
        { "top-k", required_argument, NULL, OPT_TOP_K },
        { "top-p", required_argument, NULL, OPT_TOP_P },
        { "repetition-penalty", required_argument, NULL, OPT_REP },
        { "num-return-sequences", required_argument, NULL, 'n' },
        { "stop", required_argument, NULL, OPT_STOP },
        { "batch-size", required_argument, NULL, 'b' },
        { "logprobs", no_argument, NULL, OPT_LOGPROBS },
        { NULL, 0, NULL, 0 },
    };
    struct gen_opts o = {
        .common = TOOL_COMMON_INIT,
        .gp = { .sample = SRL_SAMPLER_PARAMS_INIT, .max_new_tokens = 512, .eos_id = -1 },
        .num_return = 1,
        .batch_size = 16,
    };
    int c, ret;

    tool_init(argv);
    o.gp.stop = o.stop;
    while ((c = tool_getopt(argc, argv, "m:o:n:b:" TOOL_COMMON_SHORT, lopts, &o.common, &ret))
           != -1) {
        if (c == TOOL_GETOPT_EXIT)
            return ret;
        if (c == 'h') {
            usage(stdout);
            return SRL_EXIT_OK;
        }
        if ((ret = parse_opt(&o, c, optarg)) != 0)
            return ret;
    }
    if (!o.model)
        return usage_error("missing -m/--model");
    if (argc - optind > 1)
        return usage_error("one input file at most");
    o.input = optind < argc ? argv[optind] : "-";
    o.gp.seed = o.common.seed;
    ret = run(&o);
    if (close_stdout() < 0)
        ret = SRL_EXIT_FAILURE;
    return ret;
}
