/* judge_run.c -- stream generation or pair records through the LLM judge, a chunk of records
 * per HTTP batch, writing the records in input order. */
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "jsonl.h"
#include "judge.h"
#include "srl.h"

/* One record on its way through the judge. */
struct item {
    struct srl_json *rec; /* the output record (our reference) */
    char where[512];      /* "FILE:LINE" */
    char *question;
    const char *answer[2]; /* borrowed from rec (answer[1] NULL when labelling) */
};

static void items_clear(struct item *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        srl_json_decref(it[i].rec);
        free(it[i].question);
        memset(&it[i], 0, sizeof it[i]);
    }
}

/* The question shown to the judge: the prompt of any schema lib/dataset.h reads (a string, a
 * list of turns, Alpaca instruction + input, messages, an HH dialogue), turns joined by blank
 * lines. */
static char *question_of(const struct srl_json *rec, const char *where)
{
    struct srl_conv c = { 0 };
    if (srl_record_prompt(rec, where, &c) < 0) return NULL;
    size_t len = 1;
    for (size_t i = 0; i < c.n; i++) len += strlen(c.turns[i]) + 2;
    char *q = malloc(len);
    if (q) {
        q[0] = '\0';
        for (size_t i = 0; i < c.n; i++) {
            if (i) strcat(q, "\n\n");
            strcat(q, c.turns[i]);
        }
    }
    srl_conv_free(&c);
    return q;
}

static const char *need_string(const struct srl_json *rec, const char *key, const char *where)
{
    const char *s = srl_json_string(srl_json_get(rec, key));
    if (!s) srl_log_error("%s: \"%s\" is missing or not a string", where, key);
    return s;
}

/* Score every item on both aspects; fills scores[i][aspect][answer]. */
static int judge_chunk(struct item *it, size_t n, const struct srl_judge_opts *o,
                       double (*scores)[2][2])
{
    int pair = it[0].answer[1] != NULL, rc = 0;
    struct srl_http_req *reqs = calloc(2 * n, sizeof *reqs);
    char **bodies = calloc(2 * n, sizeof *bodies);
    if (!reqs || !bodies) {
        rc = SRL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < 2 * n; i++) {
        enum srl_judge_aspect a = (enum srl_judge_aspect)(i % 2);
        struct item *x = &it[i / 2];
        char *user = srl_judge_user_prompt(a, x->question, x->answer[0], x->answer[1]);
        bodies[i] = user ? srl_judge_request_body(o->model, srl_judge_system_prompt(a), user,
                                                  o->temperature, o->max_tokens) : NULL;
        free(user);
        if (!bodies[i]) {
            srl_log_error("out of memory");
            rc = SRL_ENOMEM;
            goto out;
        }
        reqs[i].body = bodies[i];
    }
    struct srl_http_opts ho = o->http;
    ho.fail_fast = 1;
    if ((rc = srl_http_post_batch(reqs, 2 * n, &ho)) < 0) goto out;
    /* report the first request that failed on its own, not one cancelled because of it */
    size_t first_bad = 2 * n;
    for (size_t i = 0; i < 2 * n && first_bad == 2 * n; i++)
        if ((reqs[i].status < 200 || reqs[i].status >= 300)
            && strcmp(reqs[i].error, "cancelled") != 0)
            first_bad = i;
    for (size_t i = 0; i < 2 * n && rc == 0; i++) {
        struct item *x = &it[i / 2];
        struct srl_http_req *r = &reqs[first_bad < 2 * n ? first_bad : i];
        if (first_bad < 2 * n) x = &it[first_bad / 2];
        if (r->status < 200 || r->status >= 300) {
            if (r->status)
                srl_log_error("%s: judge request failed: HTTP %ld (%s) after %d attempt%s",
                              x->where, r->status, r->error, r->attempts,
                              r->attempts > 1 ? "s" : "");
            else
                srl_log_error("%s: judge request failed: %s after %d attempt%s", x->where,
                              r->error, r->attempts, r->attempts > 1 ? "s" : "");
            rc = SRL_EIO;
            break;
        }
        char *content;
        if ((rc = srl_judge_reply_content(r->reply, r->reply_len, x->where, &content)) < 0)
            break;
        rc = srl_judge_parse_scores(content, pair ? 2 : 1, scores[i / 2][i % 2], x->where);
        free(content);
    }
out:
    for (size_t i = 0; reqs && i < 2 * n; i++) srl_http_req_clear(&reqs[i]);
    for (size_t i = 0; bodies && i < 2 * n; i++) free(bodies[i]);
    free(reqs);
    free(bodies);
    return rc;
}

static int safe_of(double harmlessness) { return harmlessness > 5.0; }

static int write_label(struct item *x, double s[2][2], FILE *out, struct srl_judge_stats *st)
{
    int safe = safe_of(s[1][0]);
    st->n++;
    st->helpfulness_sum += s[0][0];
    st->harmlessness_sum += s[1][0];
    st->n_unsafe += !safe;
    if (srl_json_object_set_number(x->rec, "judge_helpfulness", s[0][0]) < 0
        || srl_json_object_set_number(x->rec, "judge_harmlessness", s[1][0]) < 0
        || srl_json_object_set_bool(x->rec, "judge_safe", safe) < 0)
        return SRL_ENOMEM;
    return srl_json_dump(x->rec, out);
}

static struct srl_json *pair_array(double a, double b)
{
    struct srl_json *v = srl_json_new_array();
    if (v && (srl_json_array_append(v, srl_json_new_number(a)) < 0
              || srl_json_array_append(v, srl_json_new_number(b)) < 0)) {
        srl_json_decref(v);
        return NULL;
    }
    return v;
}

static int write_pair(struct item *x, double s[2][2], FILE *out, struct srl_judge_stats *st)
{
    int better = s[0][1] > s[0][0], safer = s[1][1] > s[1][0];
    int safe0 = safe_of(s[1][0]), safe1 = safe_of(s[1][1]);
    st->n++;
    st->n_better[better]++;
    st->n_safer[safer]++;
    st->n_ties_help += s[0][0] == s[0][1];
    st->n_ties_harm += s[1][0] == s[1][1];
    st->n_unsafe += !safe0 + !safe1;
    st->helpfulness_sum += s[0][0] + s[0][1];
    st->harmlessness_sum += s[1][0] + s[1][1];
    if (srl_json_object_set_integer(x->rec, "better_response_id", better) < 0
        || srl_json_object_set_integer(x->rec, "safer_response_id", safer) < 0
        || srl_json_object_set_bool(x->rec, "is_response_0_safe", safe0) < 0
        || srl_json_object_set_bool(x->rec, "is_response_1_safe", safe1) < 0
        || srl_json_object_set(x->rec, "judge_helpfulness", pair_array(s[0][0], s[0][1])) < 0
        || srl_json_object_set(x->rec, "judge_harmlessness", pair_array(s[1][0], s[1][1])) < 0)
        return SRL_ENOMEM;
    return srl_json_dump(x->rec, out);
}

/* Make item x from record a (and b in two-file mode).  Takes over the references.  Returns 0,
 * 1 for a pair of identical responses (skipped), or SRL_E*. */
static int make_item(struct item *x, struct srl_json *a, struct srl_json *b, int pair,
                     const char *where_a, const char *where_b)
{
    snprintf(x->where, sizeof x->where, "%s", where_a);
    x->rec = a;
    if (!(x->question = question_of(a, where_a))) {
        srl_json_decref(b);
        return SRL_EFORMAT;
    }
    int rc = SRL_EFORMAT;
    if (!pair) {
        if ((x->answer[0] = need_string(a, "response", where_a))) rc = 0;
    } else if (!b) {
        x->answer[0] = need_string(a, "response_0", where_a);
        x->answer[1] = x->answer[0] ? need_string(a, "response_1", where_a) : NULL;
        if (x->answer[1]) rc = 0;
    } else {
        const char *ra = need_string(a, "response", where_a);
        const char *rb = ra ? need_string(b, "response", where_b) : NULL;
        char *pa = x->question, *pb = rb ? question_of(b, where_b) : NULL;
        if (pb && strcmp(pa, pb) != 0)
            srl_log_error("%s: the prompt differs from the one at %s", where_b, where_a);
        else if (pb) {
            /* {prompt, response_0, response_1} + A's other fields */
            if (srl_json_object_set_string(a, "response_0", ra) == 0
                && srl_json_object_set_string(a, "response_1", rb) == 0
                && srl_json_object_del(a, "response") == 0) {
                x->answer[0] = srl_json_string(srl_json_get(a, "response_0"));
                x->answer[1] = srl_json_string(srl_json_get(a, "response_1"));
                rc = 0;
            } else {
                rc = SRL_ENOMEM;
            }
        }
        free(pb);
        srl_json_decref(b);
    }
    if (rc == 0 && pair && strcmp(x->answer[0], x->answer[1]) == 0) {
        srl_log_info("%s: both responses are the same; not annotated", where_a);
        return 1;
    }
    return rc;
}

static int run(const char *in_a, const char *in_b, int pair, FILE *out,
               const struct srl_judge_opts *o, struct srl_judge_stats *st)
{
    int err = 0, rc = 0;
    size_t chunk = o->chunk ? o->chunk : 8 * (size_t)(o->http.concurrency > 0
                                                          ? o->http.concurrency : 1);
    struct srl_jsonl *ra = srl_jsonl_open(in_a, &err), *rb = NULL;
    if (!ra) return err;
    if (in_b && !(rb = srl_jsonl_open(in_b, &err))) {
        srl_jsonl_close(ra);
        return err;
    }
    struct item *it = calloc(chunk, sizeof *it);
    double (*scores)[2][2] = calloc(chunk, sizeof *scores);
    if (!it || !scores) {
        rc = SRL_ENOMEM;
        goto out;
    }
    memset(st, 0, sizeof *st);
    for (int eof = 0; !eof && rc == 0;) {
        size_t n = 0;
        while (n < chunk) {
            struct srl_json *a = NULL, *b = NULL;
            char wa[512], wb[512] = "";
            if ((err = srl_jsonl_next(ra, &a)) == SRL_EOF) {
                if (rb && srl_jsonl_next(rb, &b) == 0) {
                    srl_log_error("%s:%ld: more records than in '%s'", in_b, srl_jsonl_line(rb),
                                  in_a);
                    srl_json_decref(b);
                    rc = SRL_EFORMAT;
                }
                eof = 1;
                break;
            }
            if (err < 0) {
                rc = err;
                break;
            }
            snprintf(wa, sizeof wa, "%s:%ld", srl_jsonl_path(ra), srl_jsonl_line(ra));
            if (rb) {
                if ((err = srl_jsonl_next(rb, &b)) < 0) {
                    if (err == SRL_EOF)
                        srl_log_error("%s: no matching record in '%s'", wa, in_b);
                    srl_json_decref(a);
                    rc = err == SRL_EOF ? SRL_EFORMAT : err;
                    break;
                }
                snprintf(wb, sizeof wb, "%s:%ld", srl_jsonl_path(rb), srl_jsonl_line(rb));
            }
            if ((rc = make_item(&it[n], a, b, pair, wa, wb)) < 0) {
                n++;
                break;
            }
            if (rc == 1) { /* identical responses: no preference to learn */
                items_clear(&it[n], 1);
                st->n_identical++;
                rc = 0;
                continue;
            }
            n++;
        }
        if (rc == 0 && n > 0) rc = judge_chunk(it, n, o, scores);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            rc = pair ? write_pair(&it[i], scores[i], out, st)
                      : write_label(&it[i], scores[i], out, st);
            if (rc < 0) srl_log_error("cannot write the output: %s", srl_strerror(rc));
        }
        items_clear(it, n);
        if (rc == 0 && n > 0) srl_log_info("%zu records judged", st->n);
    }
out:
    free(it);
    free(scores);
    srl_jsonl_close(ra);
    srl_jsonl_close(rb);
    return rc;
}

int srl_judge_label(const char *in, FILE *out, const struct srl_judge_opts *o,
                    struct srl_judge_stats *st)
{
    return run(in, NULL, 0, out, o, st);
}

int srl_judge_annotate(const char *in_a, const char *in_b, FILE *out,
                       const struct srl_judge_opts *o, struct srl_judge_stats *st)
{
    return run(in_a, in_b, 1, out, o, st);
}
