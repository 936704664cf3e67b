/* saferlhf-eval.c -- score generations with reward/cost models, preference accuracy, arena win
 * rates, an LLM judge over HTTP, and SVG plots. */
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "fileio.h"
#include "judge.h"
#include "plot.h"
#include "tool.h"

enum {
    OPT_SUMMARY = TOOL_OPT_USER, OPT_BATCH, OPT_MAXLEN, OPT_URL, OPT_JMODEL, OPT_KEYENV,
    OPT_CONC, OPT_TIMEOUT, OPT_RETRIES, OPT_TEMP, OPT_MAXTOK, OPT_PAIRS, OPT_METRICS, OPT_NAME,
    OPT_SKIP_BAD, OPT_MAX_REPLY, OPT_ALLOW_EXTRA,
};

struct eval_opts {
    struct tool_common common;
    const char *reward_model, *cost_model, *model, *output, *summary, *name, *metrics;
    const char *judge_url, *judge_model, *api_key_env;
    long batch_size, max_length, concurrency, retries, max_tokens, max_reply_mib;
    double timeout, temperature;
    bool annotate_pairs, skip_bad, allow_extra;
};

static void usage(FILE *fp)
{
    fprintf(fp,
        "Usage: saferlhf-eval score [-r DIR] [-c DIR] [-o OUT.jsonl] [--summary FILE] GEN.jsonl\n"
        "       saferlhf-eval accuracy -m DIR [-o OUT.json] PREF.jsonl\n"
        "       saferlhf-eval arena [-r DIR] [-c DIR] [-o OUT.json] A.jsonl B.jsonl\n"
        "       saferlhf-eval judge --judge-url URL --judge-model NAME [--annotate-pairs]\n"
        "                     [-o OUT.jsonl] [--summary FILE] IN.jsonl [B.jsonl]\n"
        "       saferlhf-eval plot curves LOG.jsonl... -o FILE.svg [--metrics LIST]\n"
        "       saferlhf-eval plot scores A.jsonl B.jsonl -o FILE.svg\n"
        "       saferlhf-eval plot scatter SUMMARY.json... -o FILE.svg\n"
        "\n"
        "Evaluate generations and score models.  \"-\" reads stdin; output goes to stdout\n"
        "unless -o is given.\n"
        "  score     add \"reward\" and/or \"cost\" to every generation record (other fields\n"
        "            pass through); summary (mean reward, mean cost, fraction with cost > 0)\n"
        "            on stderr and as JSON with --summary\n"
        "  accuracy  pairwise accuracy of a reward model (better > worse) or a cost model\n"
        "            (unsafer > safer, plus sign accuracy) on preference records; JSON.\n"
        "            Pairs whose two sequences are the same tokens after --max-length are\n"
        "            ties (n_tied): accuracy is over the other pairs (as saferlhf-train-rm\n"
        "            reports), accuracy_tie_as_wrong counts them wrong (the reference)\n"
        "  arena     B against A, matched by prompt: win/tie/lose rate by reward and the 2x2\n"
        "            table of safe (cost <= 0) / unsafe outcomes; JSON\n"
        "  judge     an LLM judge on an OpenAI-compatible chat-completions endpoint: add\n"
        "            judge_helpfulness, judge_harmlessness, judge_safe to each generation, or\n"
        "            with --annotate-pairs write PKU-SafeRLHF preference records\n"
        "  plot      SVG charts: training curves, score histograms, helpfulness-harmlessness\n"
        "\n"
        "Options:\n"
        "  -r, --reward-model DIR  reward model checkpoint (score, arena)\n"
        "  -c, --cost-model DIR    cost model checkpoint (score, arena)\n"
        "  -m, --model DIR         score model to evaluate (accuracy)\n"
        "      --allow-extra-tensors  ignore (with a warning) tensors a model does not use\n"
        "  -o, --output FILE       output file [stdout]\n"
        "      --summary FILE      score, judge: write the summary as JSON\n"
        "      --name NAME         name of the model in the summary (plot scatter label)\n"
        "      --batch-size N      sequences per forward pass [8]\n"
        "      --max-length N      tokens per sequence at most [512]\n"
        "      --skip-bad-records  accuracy: skip (and count) bad records instead of failing\n"
        "      --judge-url URL     chat-completions endpoint, e.g.\n"
        "                          https://api.openai.com/v1/chat/completions\n"
        "      --judge-model NAME  model name sent to the endpoint\n"
        "      --api-key-env VAR   environment variable holding the API key [OPENAI_API_KEY]\n"
        "      --concurrency N     judge requests in flight at most [4]\n"
        "      --timeout S         seconds per judge request attempt [60]\n"
        "      --retries N         extra attempts on 429, 5xx, timeouts, connection errors [5]\n"
        "      --temperature T     judge sampling temperature [0.7]\n"
        "      --max-tokens N      judge reply length limit [2048]\n"
        "      --max-reply-size MIB  a larger judge reply fails its request [8]\n"
        "      --annotate-pairs    judge: label pairs {prompt, response_0, response_1} (or\n"
        "                          records of IN and B in step) as preference records\n"
        "      --metrics LIST      plot curves: comma-separated log keys\n"
        "                          [reward,cost,lambda,kl]\n");
    tool_common_help(fp);
}

// --- helpers ---------------------------------------------------------------------------------

/* Write a JSON object (pretty enough: one line) to PATH or stdout. */
static int write_json(struct srl_json *v, const char *path)
{
    struct srl_atomic_file o;
    if (!v) return print_error("out of memory");
    if (!tool_output_open(&o, path)) return SRL_EXIT_FAILURE;
    int rc = srl_json_dump(v, o.fp);
    return tool_output_close(&o, rc == 0) == 0 ? SRL_EXIT_OK : SRL_EXIT_FAILURE;
}

/* Load the score models of dir_a and dir_b (either may be NULL: none) on the backend of
 * --device.  Returns 0 or the exit status (the error printed). */
static int load_scorers(const struct eval_opts *o, const char *dir_a, struct srl_scorer **a,
                        const char *dir_b, struct srl_scorer **b)
{
    const struct srl_backend *be;
    const char *dirs[2] = { dir_a, dir_b };
    struct srl_scorer **out[2] = { a, b };
    int rc = tool_backend(&o->common, "score models run on the CPU backend only (scoring on "
                          "CUDA is not verified yet)", &be);
    for (int i = 0; i < 2; i++) {
        if (out[i]) *out[i] = NULL;
        if (rc || !dirs[i]) continue;
        if (srl_scorer_load(dirs[i], be, (int)o->batch_size, (int)o->max_length,
                            o->allow_extra ? SRL_LOAD_ALLOW_EXTRA : 0, out[i]) < 0)
            rc = print_error("cannot load the score model '%s'", dirs[i]);
    }
    return rc;
}

static void print_summary(const char *what, struct srl_json *s)
{
    char *text = s ? srl_json_dumps(s) : NULL;
    if (text) fprintf(stderr, "%s: %s: %s\n", srl_log_get_prog(), what, text);
    free(text);
}

// --- subcommands -----------------------------------------------------------------------------

static int cmd_score(const struct eval_opts *o, char **args, int n)
{
    struct srl_scorer *rm = NULL, *cm = NULL;
    struct srl_score_summary s;
    struct srl_atomic_file out;
    int ret = SRL_EXIT_FAILURE;
    if (n != 1) return usage_error("score takes one generations file (or -)");
    if (!o->reward_model && !o->cost_model) return usage_error("score needs -r and/or -c");
    if ((ret = load_scorers(o, o->reward_model, &rm, o->cost_model, &cm)) != 0) goto done;
    ret = SRL_EXIT_FAILURE;
    if (!tool_output_open(&out, o->output)) goto done;
    int rc = srl_eval_score(args[0], out.fp, rm, cm, &s);
    if (tool_output_close(&out, rc == 0) < 0 || rc < 0) {
        ret = srl_exit_status(rc < 0 ? rc : SRL_EIO);
        goto done;
    }
    struct srl_json *sum = srl_score_summary_json(&s);
    if (sum && o->name) srl_json_object_set_string(sum, "name", o->name);
    if (o->common.verbosity >= 0) print_summary("summary", sum);
    ret = o->summary ? write_json(sum, o->summary) : SRL_EXIT_OK;
    srl_json_decref(sum);
done:
    srl_scorer_free(rm);
    srl_scorer_free(cm);
    return ret;
}

static int cmd_accuracy(const struct eval_opts *o, char **args, int n)
{
    struct srl_scorer *m = NULL;
    struct srl_accuracy a;
    if (n != 1 || !o->model) return usage_error("accuracy takes -m DIR and one preference file");
    int ret = load_scorers(o, o->model, &m, NULL, NULL);
    if (ret != 0) return ret;
    int rc = srl_eval_accuracy(args[0], m, o->skip_bad, &a);
    srl_scorer_free(m);
    if (rc < 0) return srl_exit_status(rc);
    if (o->common.verbosity >= 0)
        fprintf(stderr, "%s: %zu pairs (%zu tied after --max-length %ld); %zu records skipped: "
                "%zu identical answers, %zu without the label, %zu bad\n", srl_log_get_prog(),
                a.n, a.n_tied, o->max_length, a.n_skipped, a.n_identical, a.n_no_label, a.n_bad);
    struct srl_json *j = srl_accuracy_json(&a);
    if (j && o->name) srl_json_object_set_string(j, "name", o->name);
    ret = write_json(j, o->output);
    srl_json_decref(j);
    return ret;
}

static int cmd_arena(const struct eval_opts *o, char **args, int n)
{
    struct srl_scorer *rm = NULL, *cm = NULL;
    struct srl_arena r;
    int ret = SRL_EXIT_FAILURE;
    if (n != 2) return usage_error("arena takes two generation files");
    if ((ret = load_scorers(o, o->reward_model, &rm, o->cost_model, &cm)) != 0) goto done;
    int rc = srl_eval_arena(args[0], args[1], rm, cm, &r);
    if (rc < 0) {
        ret = srl_exit_status(rc);
        goto done;
    }
    if (o->common.verbosity >= 0) {
        fprintf(stderr, "%s: %zu prompts: B wins %.1f%%, ties %.1f%%, loses %.1f%%\n",
                srl_log_get_prog(), r.n, 100.0 * r.win / (r.n ? r.n : 1),
                100.0 * r.tie / (r.n ? r.n : 1), 100.0 * r.lose / (r.n ? r.n : 1));
        for (int sa = 1; r.have_cost && sa >= 0; sa--)
            for (int sb = 1; sb >= 0; sb--)
                fprintf(stderr, "  A %-6s B %-6s  %6zu  B wins %5.1f%%\n", sa ? "safe" : "unsafe",
                        sb ? "safe" : "unsafe", r.cell[sa][sb],
                        r.cell[sa][sb] ? 100.0 * r.cell_win[sa][sb] / r.cell[sa][sb] : 0.0);
    }
    struct srl_json *j = srl_arena_json(&r, args[0], args[1]);
    ret = write_json(j, o->output);
    srl_json_decref(j);
done:
    srl_scorer_free(rm);
    srl_scorer_free(cm);
    return ret;
}

static int cmd_judge(const struct eval_opts *o, char **args, int n)
{
    struct srl_judge_opts jo = { .http = SRL_HTTP_OPTS_INIT };
    struct srl_judge_stats st;
    struct srl_atomic_file out;
    if (!o->judge_url || !o->judge_model) return usage_error("judge needs --judge-url and "
                                                             "--judge-model");
    if (n != 1 && !(n == 2 && o->annotate_pairs))
        return usage_error("judge takes one file (two with --annotate-pairs)");
    jo.http.url = o->judge_url;
    jo.http.bearer = getenv(o->api_key_env);
    jo.http.concurrency = (int)o->concurrency;
    jo.http.timeout_s = o->timeout;
    jo.http.retries = (int)o->retries;
    jo.http.max_reply = (size_t)o->max_reply_mib << 20;
    jo.http.seed = o->common.seed;
    jo.model = o->judge_model;
    jo.temperature = o->temperature;
    jo.max_tokens = (int)o->max_tokens;
    if (!jo.http.bearer || !*jo.http.bearer)
        srl_log_info("no API key in $%s: requests go without Authorization", o->api_key_env);
    if (!tool_output_open(&out, o->output)) return SRL_EXIT_FAILURE;
    int rc = o->annotate_pairs ? srl_judge_annotate(args[0], n == 2 ? args[1] : NULL, out.fp,
                                                    &jo, &st)
                               : srl_judge_label(args[0], out.fp, &jo, &st);
    if (tool_output_close(&out, rc == 0) < 0 || rc < 0)
        return srl_exit_status(rc < 0 ? rc : SRL_EIO);
    struct srl_json *s = srl_json_new_object();
    double k = (double)(st.n ? st.n : 1) * (o->annotate_pairs ? 2 : 1);
    srl_json_object_set_integer(s, "n", (long long)st.n);
    srl_json_object_set_number(s, "helpfulness_mean", st.helpfulness_sum / k);
    srl_json_object_set_number(s, "harmlessness_mean", st.harmlessness_sum / k);
    srl_json_object_set_number(s, "unsafe_fraction", (double)st.n_unsafe / k);
    if (o->annotate_pairs) {
        srl_json_object_set_integer(s, "better_0", (long long)st.n_better[0]);
        srl_json_object_set_integer(s, "better_1", (long long)st.n_better[1]);
        srl_json_object_set_integer(s, "safer_0", (long long)st.n_safer[0]);
        srl_json_object_set_integer(s, "safer_1", (long long)st.n_safer[1]);
        srl_json_object_set_integer(s, "identical_skipped", (long long)st.n_identical);
    }
    if (o->name) srl_json_object_set_string(s, "name", o->name);
    if (o->common.verbosity >= 0) print_summary("judge summary", s);
    int ret = o->summary ? write_json(s, o->summary) : SRL_EXIT_OK;
    srl_json_decref(s);
    return ret;
}

static int cmd_plot(const struct eval_opts *o, char **args, int n)
{
    if (n < 1) return usage_error("plot needs curves, scores or scatter");
    if (!o->output) return usage_error("plot needs -o FILE.svg");
    const char *kind = args[0];
    int rc;
    args++;
    n--;
    if (strcmp(kind, "curves") == 0) {
        if (n < 1) return usage_error("plot curves needs at least one log file");
        char *list = strdup(o->metrics), *save = NULL;
        const char *m[64];
        size_t nm = 0;
        for (char *t = strtok_r(list, ",", &save); t && nm < 64; t = strtok_r(NULL, ",", &save))
            if (*t) m[nm++] = t;
        rc = nm ? srl_plot_curves((const char *const *)args, (size_t)n, m, nm, o->output)
                : usage_error("--metrics lists no metric");
        free(list);
        if (nm == 0) return rc;
    } else if (strcmp(kind, "scores") == 0) {
        if (n != 2) return usage_error("plot scores takes two scored generation files");
        rc = srl_plot_scores(args[0], args[1], o->output);
    } else if (strcmp(kind, "scatter") == 0) {
        if (n < 1) return usage_error("plot scatter needs at least one summary file");
        rc = srl_plot_scatter((const char *const *)args, (size_t)n, o->output);
    } else {
        return usage_error("unknown plot '%s' (curves, scores or scatter)", kind);
    }
    return rc < 0 ? srl_exit_status(rc) : SRL_EXIT_OK;
}

// --- main ------------------------------------------------------------------------------------

static int parse_opt(int c, struct eval_opts *o)
{
    long *lp = NULL, lo = 1, hi = 1000000;
    double *dp = NULL;
    switch (c) {
    case 'r': o->reward_model = optarg; return 0;
    case 'c': o->cost_model = optarg; return 0;
    case 'm': o->model = optarg; return 0;
    case 'o': o->output = optarg; return 0;
    case OPT_SUMMARY: o->summary = optarg; return 0;
    case OPT_NAME: o->name = optarg; return 0;
    case OPT_URL: o->judge_url = optarg; return 0;
    case OPT_JMODEL: o->judge_model = optarg; return 0;
    case OPT_KEYENV: o->api_key_env = optarg; return 0;
    case OPT_METRICS: o->metrics = optarg; return 0;
    case OPT_PAIRS: o->annotate_pairs = true; return 0;
    case OPT_SKIP_BAD: o->skip_bad = true; return 0;
    case OPT_ALLOW_EXTRA: o->allow_extra = true; return 0;
    case OPT_MAX_REPLY: lp = &o->max_reply_mib; hi = 4096; break;
    case OPT_BATCH: lp = &o->batch_size; hi = 4096; break;
    case OPT_MAXLEN: lp = &o->max_length; break;
    case OPT_CONC: lp = &o->concurrency; hi = 256; break;
    case OPT_RETRIES: lp = &o->retries; lo = 0; hi = 100; break;
    case OPT_MAXTOK: lp = &o->max_tokens; break;
    case OPT_TIMEOUT: dp = &o->timeout; break;
    case OPT_TEMP: dp = &o->temperature; break;
    default: return -1;
    }
    if (lp && parse_int(optarg, lo, hi, lp) < 0)
        return usage_error("invalid value '%s' (expected an integer from %ld to %ld)", optarg,
                           lo, hi), -1;
    if (dp && (parse_float(optarg, dp) < 0 || *dp < 0 || (c == OPT_TIMEOUT && *dp == 0)))
        return usage_error("invalid value '%s' (expected a %s number)", optarg,
                           c == OPT_TIMEOUT ? "positive" : "non-negative"), -1;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        TOOL_COMMON_OPTIONS,
        { "reward-model", required_argument, NULL, 'r' },
        { "cost-model", required_argument, NULL, 'c' },
        { "model", required_argument, NULL, 'm' },
        { "output", required_argument, NULL, 'o' },
        { "summary", required_argument, NULL, OPT_SUMMARY },
        { "name", required_argument, NULL, OPT_NAME },
        { "batch-size", required_argument, NULL, OPT_BATCH },
        { "max-length", required_argument, NULL, OPT_MAXLEN },
        { "judge-url", required_argument, NULL, OPT_URL },
        { "judge-model", required_argument, NULL, OPT_JMODEL },
        { "api-key-env", required_argument, NULL, OPT_KEYENV },
        { "concurrency", required_argument, NULL, OPT_CONC },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "retries", required_argument, NULL, OPT_RETRIES },
        { "temperature", required_argument, NULL, OPT_TEMP },
        { "max-tokens", required_argument, NULL, OPT_MAXTOK },
        { "annotate-pairs", no_argument, NULL, OPT_PAIRS },
        { "skip-bad-records", no_argument, NULL, OPT_SKIP_BAD },
        { "metrics", required_argument, NULL, OPT_METRICS },
        { "max-reply-size", required_argument, NULL, OPT_MAX_REPLY },
        { "allow-extra-tensors", no_argument, NULL, OPT_ALLOW_EXTRA },
        { NULL, 0, NULL, 0 }
    };
    struct eval_opts o = { .common = TOOL_COMMON_INIT, .batch_size = 8, .max_length = 512,
                           .api_key_env = "OPENAI_API_KEY", .concurrency = 4, .retries = 5,
                           .max_tokens = 2048, .max_reply_mib = 8, .timeout = 60,
                           .temperature = 0.7,
                           .metrics = "reward,cost,lambda,kl" };
    static const char *const cmds[] = { "score", "accuracy", "arena", "judge", "plot" };
    int c, cmd = -1, ret;
    tool_init(argv);
    for (int i = 0; argc > 1 && i < 5; i++)
        if (strcmp(argv[1], cmds[i]) == 0) cmd = i;
    if (cmd >= 0) { /* getopt sees the subcommand as the program name */
        argc--;
        argv++;
    }
    while ((c = tool_getopt(argc, argv, "r:c:m:o:" TOOL_COMMON_SHORT, lopts, &o.common, &ret))
           != -1) {
        if (c == TOOL_GETOPT_EXIT) return ret;
        if (c == 'h') {
            usage(stdout);
            return SRL_EXIT_OK;
        }
        if (parse_opt(c, &o) < 0) return SRL_EXIT_USAGE;
    }
    for (int i = 0; cmd < 0 && optind < argc && i < 5; i++) /* options before the command */
        if (strcmp(argv[optind], cmds[i]) == 0) cmd = i, optind++;
    if (cmd < 0)
        return optind < argc ? usage_error("unknown command '%s'", argv[optind])
                             : usage_error("no command given");
    tool_common_apply(&o.common);
    char **args = argv + optind;
    int n = argc - optind;
    switch (cmd) {
    case 0: ret = cmd_score(&o, args, n); break;
    case 1: ret = cmd_accuracy(&o, args, n); break;
    case 2: ret = cmd_arena(&o, args, n); break;
    case 3: ret = cmd_judge(&o, args, n); break;
    default: ret = cmd_plot(&o, args, n); break;
    }
    if (close_stdout() < 0) ret = SRL_EXIT_FAILURE;
    return ret;
}
