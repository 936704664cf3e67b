/* saferlhf-synth.c -- a synthetic assistant world where the truth is known: write its data
 * set, and label, annotate and summarise generated text with its oracle. */
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"
#include "rng.h"
#include "synth.h"
#include "tool.h"

enum {
    OPT_N_SFT = TOOL_OPT_USER, OPT_N_PREF, OPT_N_PROMPTS, OPT_N_EVAL, OPT_HARMFUL_FRACTION,
    OPT_SFT_COMPLIANCE, OPT_LABEL_NOISE,
};

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: saferlhf-synth data -o DIR [options]\n"
            "       saferlhf-synth label [-o FILE] [FILE|-]\n"
            "       saferlhf-synth annotate [-o FILE] [--label-noise F] [FILE|-]\n"
            "       saferlhf-synth summary [-o FILE] [FILE|-]\n"
            "\n"
            "A synthetic assistant world where helpfulness and harmlessness conflict, and its\n"
            "oracle, which labels any response by rule.\n"
            "  data      write DIR/sft.jsonl, helpful-prefs.jsonl, safety-prefs.jsonl,\n"
            "            prompts.jsonl (RL prompts), eval.jsonl (held-out templates) and\n"
            "            corpus.txt (the distinct training texts, for a tokenizer)\n"
            "  label     add \"category\", \"helpful\", \"safe\" and \"refusal\" to generations\n"
            "            ({prompt, response, ...}), other fields passed through\n"
            "  annotate  turn response pairs (two records per prompt in a row, or records with\n"
            "            response_0 and response_1) into PKU-SafeRLHF preference records\n"
            "  summary   one JSON object of rates over generations (oracle labels unless the\n"
            "            records carry category, helpful and safe)\n"
            "\n"
            "Options:\n"
            "  -o, --output PATH            data: directory (created); others: output file [-]\n"
            "      --n-sft N                data: SFT records [4000]\n"
            "      --n-pref N               data: records of each preference file [4000]\n"
            "      --n-prompts N            data: RL prompts [2000]\n"
            "      --n-eval N               data: evaluation prompts, half harmful [400]\n"
            "      --harmful-fraction F     data: harmful share of the training prompts [0.5]\n"
            "      --sft-harmful-compliance F\n"
            "                               data: harmful SFT prompts answered harmfully [0.5]\n"
            "      --label-noise F          data, annotate: flip each preference label with\n"
            "                               probability F [0]\n");
    tool_common_help(fp);
}

// --- reading records -------------------------------------------------------------------------

/* A string member or NULL after reporting "FILE:LINE: ..." */
static const char *need_string(struct srl_jsonl *r, struct srl_json *rec, const char *key)
{
    const char *s = srl_json_string(srl_json_get(rec, key));
    if (!s)
        print_error("%s:%ld: no string \"%s\"", srl_jsonl_path(r), srl_jsonl_line(r), key);
    return s;
}

// --- label -----------------------------------------------------------------------------------

static int set_label(struct srl_json *rec, const struct srl_synth_label *l)
{
    if (srl_json_object_set_string(rec, "category", srl_synth_category_name(l->category)) < 0 ||
        srl_json_object_set_bool(rec, "helpful", l->helpful) < 0 ||
        srl_json_object_set_bool(rec, "safe", l->safe) < 0 ||
        srl_json_object_set_bool(rec, "refusal", l->refusal) < 0)
        return print_error("out of memory");
    return 0;
}

static int cmd_label(const char *in, const char *out)
{
    int err, ret = SRL_EXIT_FAILURE;
    struct srl_jsonl *r = srl_jsonl_open(in, &err);
    struct srl_json *rec = NULL;
    struct srl_atomic_file af = { 0 };
    FILE *fp = NULL;
    if (!r || !(fp = tool_output_open(&af, out))) goto done;
    while ((err = srl_jsonl_next(r, &rec)) == 0) {
        const char *p = need_string(r, rec, "prompt"), *s = p ? need_string(r, rec, "response")
                                                              : NULL;
        struct srl_synth_label l;
        if (!s) goto done;
        srl_synth_label(p, s, &l);
        if (set_label(rec, &l) < 0) goto done;
        if (srl_json_dump(rec, fp) < 0) {
            print_error("cannot write '%s'", out ? out : "-");
            goto done;
        }
        srl_json_decref(rec);
        rec = NULL;
    }
    if (err == SRL_EOF) ret = SRL_EXIT_OK;
done:
    srl_json_decref(rec);
    srl_jsonl_close(r);
    if (fp && tool_output_close(&af, ret == SRL_EXIT_OK) != 0) ret = SRL_EXIT_FAILURE;
    return ret;
}

// --- annotate --------------------------------------------------------------------------------

/* Fill in the PKU-SafeRLHF labels of a record holding prompt, response_0 and response_1. */
static int annotate_pair(struct srl_json *rec, struct srl_rng *coin, struct srl_rng *noise,
                         double label_noise)
{
    const char *p = srl_json_string(srl_json_get(rec, "prompt"));
    struct srl_synth_label l0, l1;
    struct srl_synth_pref pref;
    srl_synth_label(p, srl_json_string(srl_json_get(rec, "response_0")), &l0);
    srl_synth_label(p, srl_json_string(srl_json_get(rec, "response_1")), &l1);
    srl_synth_prefer(&l0, &l1, coin, &pref);
    srl_synth_pref_noise(&pref, label_noise, noise);
    if (srl_json_object_set_integer(rec, "better_response_id", pref.better) < 0 ||
        srl_json_object_set_integer(rec, "safer_response_id", pref.safer) < 0 ||
        srl_json_object_set_bool(rec, "is_response_0_safe", pref.safe0) < 0 ||
        srl_json_object_set_bool(rec, "is_response_1_safe", pref.safe1) < 0)
        return print_error("out of memory");
    return 0;
}

static int cmd_annotate(const char *in, const char *out, double label_noise, uint64_t seed)
{
    int err, ret = SRL_EXIT_FAILURE;
    struct srl_jsonl *r = srl_jsonl_open(in, &err);
    struct srl_json *rec = NULL, *pending = NULL, *pair = NULL;
    struct srl_rng coin, noise;
    long pending_line = 0;
    struct srl_atomic_file af = { 0 };
    FILE *fp = NULL;
    srl_rng_seed(&coin, seed);
    srl_rng_seed(&noise, seed ^ 0x6E6F697365ull);
    if (!r || !(fp = tool_output_open(&af, out))) goto done;
    while ((err = srl_jsonl_next(r, &rec)) == 0) {
        const char *p = need_string(r, rec, "prompt");
        if (!p) goto done;
        if (srl_json_get(rec, "response_0") || srl_json_get(rec, "response_1")) {
            if (pending) {
                print_error("%s:%ld: a pair record follows the unpaired response of line %ld",
                            srl_jsonl_path(r), srl_jsonl_line(r), pending_line);
                goto done;
            }
            if (!need_string(r, rec, "response_0") || !need_string(r, rec, "response_1"))
                goto done;
            pair = rec;
            rec = NULL;
        } else {
            const char *s = need_string(r, rec, "response");
            if (!s) goto done;
            if (!pending) {
                pending = rec;
                pending_line = srl_jsonl_line(r);
                rec = NULL;
                continue;
            }
            const char *p0 = srl_json_string(srl_json_get(pending, "prompt"));
            if (strcmp(p0, p) != 0) {
                print_error("%s:%ld: expected a second response to the prompt of line %ld",
                            srl_jsonl_path(r), srl_jsonl_line(r), pending_line);
                goto done;
            }
            if (!(pair = srl_json_new_object()) ||
                srl_json_object_set_string(pair, "prompt", p) < 0 ||
                srl_json_object_set(pair, "response_0",
                                    srl_json_incref(srl_json_get(pending, "response"))) < 0 ||
                srl_json_object_set(pair, "response_1",
                                    srl_json_incref(srl_json_get(rec, "response"))) < 0) {
                print_error("out of memory");
                goto done;
            }
            srl_json_decref(pending);
            srl_json_decref(rec);
            pending = rec = NULL;
        }
        if (annotate_pair(pair, &coin, &noise, label_noise) < 0) goto done;
        if (srl_json_dump(pair, fp) < 0) {
            print_error("cannot write '%s'", out ? out : "-");
            goto done;
        }
        srl_json_decref(pair);
        pair = NULL;
    }
    if (err != SRL_EOF) goto done;
    if (pending) {
        print_error("%s:%ld: the last response has no second response to pair it with",
                    srl_jsonl_path(r), pending_line);
        goto done;
    }
    ret = SRL_EXIT_OK;
done:
    srl_json_decref(rec);
    srl_json_decref(pending);
    srl_json_decref(pair);
    srl_jsonl_close(r);
    if (fp && tool_output_close(&af, ret == SRL_EXIT_OK) != 0) ret = SRL_EXIT_FAILURE;
    return ret;
}

// --- summary ---------------------------------------------------------------------------------

static int cmd_summary(const char *in, const char *out)
{
    int err, ret = SRL_EXIT_FAILURE;
    struct srl_jsonl *r = srl_jsonl_open(in, &err);
    struct srl_json *rec = NULL, *o = NULL;
    struct srl_synth_tally t;
    struct srl_atomic_file af = { 0 };
    FILE *fp = NULL;
    memset(&t, 0, sizeof t);
    if (!r) goto done;
    while ((err = srl_jsonl_next(r, &rec)) == 0) {
        const char *p = need_string(r, rec, "prompt"), *s = p ? need_string(r, rec, "response")
                                                              : NULL;
        struct srl_synth_label l;
        if (!s) goto done;
        srl_synth_label(p, s, &l);
        /* labels already in the record (another annotator's) take precedence */
        struct srl_json *h = srl_json_get(rec, "helpful"), *sf = srl_json_get(rec, "safe");
        const char *c = srl_json_string(srl_json_get(rec, "category"));
        if (srl_json_is_bool(h) && srl_json_is_bool(sf) && c) {
            l.helpful = srl_json_boolean(h);
            l.safe = srl_json_boolean(sf);
            l.category = strcmp(c, "benign") == 0    ? SRL_SYNTH_BENIGN
                         : strcmp(c, "harmful") == 0 ? SRL_SYNTH_HARMFUL
                                                     : SRL_SYNTH_UNKNOWN;
        }
        srl_synth_tally_add(&t, &l);
        srl_json_decref(rec);
        rec = NULL;
    }
    if (err != SRL_EOF) goto done;
    if (!(o = srl_synth_tally_json(&t))) goto done;
    if (!(fp = tool_output_open(&af, out))) goto done;
    if (srl_json_dump(o, fp) < 0) {
        print_error("cannot write '%s'", out ? out : "-");
        goto done;
    }
    ret = SRL_EXIT_OK;
done:
    srl_json_decref(rec);
    srl_json_decref(o);
    srl_jsonl_close(r);
    if (fp && tool_output_close(&af, ret == SRL_EXIT_OK) != 0) ret = SRL_EXIT_FAILURE;
    return ret;
}

// --- main ------------------------------------------------------------------------------------

static int parse_count(const char *opt, const char *arg, long *out)
{
    if (parse_int(arg, 0, 100000000, out) < 0)
        return usage_error("invalid %s '%s' (expected an integer from 0 to 100000000)", opt, arg);
    return 0;
}

static int parse_fraction(const char *opt, const char *arg, double *out)
{
    if (parse_float(arg, out) < 0 || *out < 0 || *out > 1)
        return usage_error("invalid %s '%s' (expected a number from 0 to 1)", opt, arg);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        TOOL_COMMON_OPTIONS,
        { "output", required_argument, NULL, 'o' },
        { "n-sft", required_argument, NULL, OPT_N_SFT },
        { "n-pref", required_argument, NULL, OPT_N_PREF },
        { "n-prompts", required_argument, NULL, OPT_N_PROMPTS },
        { "n-eval", required_argument, NULL, OPT_N_EVAL },
        { "harmful-fraction", required_argument, NULL, OPT_HARMFUL_FRACTION },
        { "sft-harmful-compliance", required_argument, NULL, OPT_SFT_COMPLIANCE },
        { "label-noise", required_argument, NULL, OPT_LABEL_NOISE },
        { NULL, 0, NULL, 0 },
    };
    struct tool_common common = TOOL_COMMON_INIT;
    struct srl_synth_opts so = SRL_SYNTH_OPTS_INIT;
    const char *out = NULL;
    bool data_opt = false, noise_opt = false;
    int c, ret;

    tool_init(argv);
    while ((c = tool_getopt(argc, argv, "o:" TOOL_COMMON_SHORT, lopts, &common, &ret)) != -1) {
        if (c == TOOL_GETOPT_EXIT) return ret;
        ret = 0;
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_N_SFT: ret = parse_count("--n-sft", optarg, &so.n_sft); data_opt = true; break;
        case OPT_N_PREF: ret = parse_count("--n-pref", optarg, &so.n_pref); data_opt = true; break;
        case OPT_N_PROMPTS:
            ret = parse_count("--n-prompts", optarg, &so.n_prompts);
            data_opt = true;
            break;
        case OPT_N_EVAL: ret = parse_count("--n-eval", optarg, &so.n_eval); data_opt = true; break;
        case OPT_HARMFUL_FRACTION:
            ret = parse_fraction("--harmful-fraction", optarg, &so.harmful_fraction);
            data_opt = true;
            break;
        case OPT_SFT_COMPLIANCE:
            ret = parse_fraction("--sft-harmful-compliance", optarg, &so.sft_harmful_compliance);
            data_opt = true;
            break;
        case OPT_LABEL_NOISE:
            ret = parse_fraction("--label-noise", optarg, &so.label_noise);
            noise_opt = true;
            break;
        case 'h': usage(stdout); return SRL_EXIT_OK;
        }
        if (ret != 0) return ret;
    }
    tool_common_apply(&common);
    so.seed = common.seed;
    if (optind >= argc) return usage_error("missing command (data, label, annotate or summary)");
    const char *cmd = argv[optind++];
    int nargs = argc - optind;
    const char *in = nargs == 1 ? argv[optind] : "-";
    bool is_data = strcmp(cmd, "data") == 0;
    if (!is_data && data_opt) return usage_error("--n-* and fraction options apply to data only");
    if (is_data) {
        if (nargs != 0 || !out) return usage_error("usage: data -o DIR [options]");
        struct srl_synth_stats st;
        int rc = srl_synth_write_data(out, &so, &st);
        if (rc < 0) {
            print_error("cannot write the synthetic data set to '%s'", out);
            return srl_exit_status(rc);
        }
        srl_log_info("wrote %s: %ld SFT records (%ld harmful, %ld answered harmfully)", out,
                     so.n_sft, st.sft_harmful, st.sft_complied);
        ret = SRL_EXIT_OK;
    } else if (nargs > 1) {
        return usage_error("%s takes at most one input file", cmd);
    } else if (strcmp(cmd, "label") == 0) {
        if (noise_opt) return usage_error("--label-noise applies to data and annotate");
        ret = cmd_label(in, out);
    } else if (strcmp(cmd, "annotate") == 0) {
        ret = cmd_annotate(in, out, so.label_noise, common.seed);
    } else if (strcmp(cmd, "summary") == 0) {
        if (noise_opt) return usage_error("--label-noise applies to data and annotate");
        ret = cmd_summary(in, out);
    } else {
        return usage_error("unknown command '%s' (data, label, annotate or summary)", cmd);
    }
    if (close_stdout() < 0) ret = SRL_EXIT_FAILURE;
    return ret;
}
