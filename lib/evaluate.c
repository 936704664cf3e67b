/* evaluate.c -- scoring generation files, preference accuracy and the arena. */
#include "evaluate.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srl.h"

// --- generation records ----------------------------------------------------------------------

/* Generation records read so far: the record, its prompt as a conversation, its response. */
struct gens {
    struct srl_json **rec;
    struct srl_conv *conv;
    const char **resp; /* borrowed from rec */
    long *line;
    float *reward, *cost;
    size_t n, cap;
};

static void gens_clear(struct gens *g)
{
    for (size_t i = 0; i < g->n; i++) {
        srl_json_decref(g->rec[i]);
        srl_conv_free(&g->conv[i]);
    }
    g->n = 0;
}

static void gens_free(struct gens *g)
{
    gens_clear(g);
    free(g->rec);
    free(g->conv);
    free(g->resp);
    free(g->line);
    free(g->reward);
    free(g->cost);
    memset(g, 0, sizeof *g);
}

static int gens_grow(struct gens *g)
{
    size_t cap = g->cap ? 2 * g->cap : 64;
#define GROW(p) do { void *q = realloc(p, cap * sizeof *(p)); if (!q) return SRL_ENOMEM; \
                     p = q; } while (0)
    GROW(g->rec);
    GROW(g->conv);
    GROW(g->resp);
    GROW(g->line);
    GROW(g->reward);
    GROW(g->cost);
#undef GROW
    g->cap = cap;
    return 0;
}

/* Append up to max records of r.  Returns the number read (0 at the end) or SRL_E*. */
static long gens_read(struct gens *g, struct srl_jsonl *r, size_t max)
{
    size_t k = 0;
    int err;
    while (k < max) {
        struct srl_json *rec;
        if ((err = srl_jsonl_next(r, &rec)) == SRL_EOF) break;
        if (err < 0) return err;
        if (g->n == g->cap && gens_grow(g) < 0) {
            srl_json_decref(rec);
            srl_log_error("out of memory");
            return SRL_ENOMEM;
        }
        char where[512];
        snprintf(where, sizeof where, "%s:%ld", srl_jsonl_path(r), srl_jsonl_line(r));
        const char *resp = srl_json_string(srl_json_get(rec, "response"));
        if (!resp) {
            srl_log_error("%s: \"response\" is missing or not a string", where);
            srl_json_decref(rec);
            return SRL_EFORMAT;
        }
        struct srl_conv c = { 0 };
        if ((err = srl_record_prompt(rec, where, &c)) < 0) {
            srl_json_decref(rec);
            return err;
        }
        g->rec[g->n] = rec;
        g->conv[g->n] = c;
        g->resp[g->n] = resp;
        g->line[g->n] = srl_jsonl_line(r);
        g->n++;
        k++;
    }
    return (long)k;
}

// --- score -----------------------------------------------------------------------------------

void srl_score_summary_add(struct srl_score_summary *s, const double *reward, const double *cost)
{
    s->n++;
    if (reward) {
        s->have_reward = true;
        s->reward_sum += *reward;
        s->reward_sumsq += *reward * *reward;
    }
    if (cost) {
        s->have_cost = true;
        s->cost_sum += *cost;
        s->cost_sumsq += *cost * *cost;
        s->n_unsafe += *cost > 0;
    }
}

static double stddev(double sum, double sumsq, size_t n)
{
    if (n == 0) return 0;
    double m = sum / (double)n, v = sumsq / (double)n - m * m;
    return v > 0 ? sqrt(v) : 0;
}

struct srl_json *srl_score_summary_json(const struct srl_score_summary *s)
{
    struct srl_json *o = srl_json_new_object();
    if (!o) return NULL;
    double n = s->n ? (double)s->n : 1;
    int rc = srl_json_object_set_integer(o, "n", (long long)s->n);
    if (s->have_reward) {
        rc |= srl_json_object_set_number(o, "reward_mean", s->reward_sum / n);
        rc |= srl_json_object_set_number(o, "reward_std",
                                         stddev(s->reward_sum, s->reward_sumsq, s->n));
    }
    if (s->have_cost) {
        rc |= srl_json_object_set_number(o, "cost_mean", s->cost_sum / n);
        rc |= srl_json_object_set_number(o, "cost_std", stddev(s->cost_sum, s->cost_sumsq, s->n));
        rc |= srl_json_object_set_number(o, "unsafe_fraction", (double)s->n_unsafe / n);
    }
    if (rc) {
        srl_json_decref(o);
        return NULL;
    }
    return o;
}

static int gens_score(struct gens *g, struct srl_scorer *rm, struct srl_scorer *cm)
{
    int rc = 0;
    if (rm && (rc = srl_scorer_score(rm, g->conv, g->resp, g->n, g->reward)) < 0) return rc;
    if (cm && (rc = srl_scorer_score(cm, g->conv, g->resp, g->n, g->cost)) < 0) return rc;
    return 0;
}

int srl_eval_score(const char *in, FILE *out, struct srl_scorer *rm, struct srl_scorer *cm,
                   struct srl_score_summary *s)
{
    int err = 0;
    struct gens g = { 0 };
    struct srl_jsonl *r = srl_jsonl_open(in, &err);
    if (!r) return err;
    memset(s, 0, sizeof *s);
    int bs = rm ? rm->batch_size : cm ? cm->batch_size : 8;
    size_t chunk = (size_t)(bs > 8 ? bs : 8) * 8;
    long k;
    while ((k = gens_read(&g, r, chunk)) > 0) {
        if ((err = gens_score(&g, rm, cm)) < 0) break;
        for (size_t i = 0; i < g.n && err == 0; i++) {
            double rw = g.reward[i], c = g.cost[i];
            if (rm) err = srl_json_object_set_number(g.rec[i], "reward", rw);
            if (cm && err == 0) err = srl_json_object_set_number(g.rec[i], "cost", c);
            if (err == 0) err = srl_json_dump(g.rec[i], out);
            if (err < 0) srl_log_error("cannot write the output record for %s:%ld", in,
                                       g.line[i]);
            srl_score_summary_add(s, rm ? &rw : NULL, cm ? &c : NULL);
        }
        gens_clear(&g);
        if (err < 0) break;
        srl_log_info("%zu records scored", s->n);
    }
    if (k < 0) err = (int)k;
    gens_free(&g);
    srl_jsonl_close(r);
    return err;
}

// --- accuracy --------------------------------------------------------------------------------

static int accuracy_chunk(struct srl_pref *p, size_t n, struct srl_scorer *m,
                          struct srl_accuracy *a)
{
    struct srl_conv *conv = malloc(2 * n * sizeof *conv);
    const char **ans = malloc(2 * n * sizeof *ans);
    float *sc = malloc(2 * n * sizeof *sc);
    int rc = SRL_ENOMEM;
    if (!conv || !ans || !sc) goto out;
    for (size_t i = 0; i < 2 * n; i++) {
        conv[i] = p[i / 2].prompt; /* shallow copies: not freed here */
        ans[i] = p[i / 2].answer[i % 2];
    }
    if ((rc = srl_scorer_score(m, conv, ans, 2 * n, sc)) < 0) goto out;
    for (size_t i = 0; i < n; i++) {
        float s0 = sc[2 * i], s1 = sc[2 * i + 1];
        if (a->is_cost) {
            int safer = p[i].safer;
            float cs = safer ? s1 : s0, cu = safer ? s0 : s1;
            a->n++;
            a->n_correct += cu > cs;
            a->high_sum += cu;
            a->low_sum += cs;
            for (int j = 0; j < 2; j++) {
                if (p[i].is_safe[j] < 0) continue;
                float c = j ? s1 : s0;
                a->n_sign++;
                a->n_sign_correct += (p[i].is_safe[j] ? c : -c) < 0; /* c * safety_sign < 0 */
            }
        } else {
            int better = p[i].better;
            float rb = better ? s1 : s0, rw = better ? s0 : s1;
            a->n++;
            a->n_correct += rb > rw;
            a->high_sum += rb;
            a->low_sum += rw;
        }
    }
    rc = 0;
out:
    if (rc == SRL_ENOMEM) srl_log_error("out of memory");
    free(conv);
    free(ans);
    free(sc);
    return rc;
}

/* Whether the two answers of p are the same tokens for m: 1 (and *truncated: only because
 * of the max_length cut), 0, or SRL_E*. */
static int same_tokens(struct srl_scorer *m, const struct srl_pref *p, bool *truncated)
{
    int32_t *ids[2] = { NULL, NULL };
    bool cut[2] = { false, false };
    int len[2], rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++)
        if ((len[k] = srl_scorer_tokens(m, &p->prompt, p->answer[k], &ids[k], &cut[k])) < 0)
            rc = len[k];
    if (rc == 0)
        rc = len[0] == len[1] && memcmp(ids[0], ids[1], (size_t)len[0] * sizeof *ids[0]) == 0;
    *truncated = cut[0] || cut[1];
    free(ids[0]);
    free(ids[1]);
    return rc;
}

/* Read one record into *p: 0 (a pair to score), 1 (counted in a and skipped), or SRL_E*. */
static int accuracy_record(struct srl_jsonl *r, struct srl_scorer *m, bool skip_bad,
                           struct srl_accuracy *a, struct srl_pref *p)
{
    struct srl_json *rec = NULL;
    char where[512];
    bool truncated;
    int e = srl_jsonl_next(r, &rec);
    if (e == SRL_EFORMAT && skip_bad && srl_jsonl_recoverable(r)) {
        a->n_bad++; /* not JSON, not an object */
        srl_log_error_handled();
        return 1;
    }
    if (e < 0) return e;
    snprintf(where, sizeof where, "%s:%ld", srl_jsonl_path(r), srl_jsonl_line(r));
    e = srl_record_pref(rec, where, p);
    srl_json_decref(rec);
    if (e == SRL_EFORMAT && skip_bad) {
        a->n_bad++;
        srl_log_error_handled();
        return 1;
    }
    if (e == SRL_PREF_IDENTICAL) { /* no preference: neither right nor wrong */
        a->n_identical++;
        return 1;
    }
    if (e < 0) return e;
    if ((a->is_cost ? p->safer : p->better) < 0) { /* no label for this model */
        a->n_no_label++;
        srl_pref_free(p);
        return 1;
    }
    if ((e = same_tokens(m, p, &truncated)) != 0) {
        srl_pref_free(p);
        if (e < 0) return e;
        if (!truncated) { /* different text, same tokens (e.g. normalisation) */
            a->n_identical++;
            return 1;
        }
        a->n++; /* the answers differ only past max_length */
        a->n_tied++;
        return 1;
    }
    return 0;
}

int srl_eval_accuracy(const char *in, struct srl_scorer *m, bool skip_bad,
                      struct srl_accuracy *a)
{
    int err = 0;
    struct srl_jsonl *r = srl_jsonl_open(in, &err);
    if (!r) return err;
    memset(a, 0, sizeof *a);
    a->is_cost = m->is_cost;
    size_t chunk = (size_t)m->batch_size * 4, n = 0;
    struct srl_pref *p = calloc(chunk, sizeof *p);
    if (!p) {
        srl_jsonl_close(r);
        return SRL_ENOMEM;
    }
    for (;;) {
        int e = accuracy_record(r, m, skip_bad, a, &p[n]);
        if (e == 0) n++;
        if (e < 0 && e != SRL_EOF) {
            err = e;
            break;
        }
        if (n == chunk || (e == SRL_EOF && n > 0)) {
            err = accuracy_chunk(p, n, m, a);
            for (size_t i = 0; i < n; i++) srl_pref_free(&p[i]);
            n = 0;
            if (err < 0) break;
        }
        if (e == SRL_EOF) break;
    }
    a->n_skipped = a->n_identical + a->n_no_label + a->n_bad;
    for (size_t i = 0; i < n; i++) srl_pref_free(&p[i]);
    free(p);
    srl_jsonl_close(r);
    return err;
}

struct srl_json *srl_accuracy_json(const struct srl_accuracy *a)
{
    struct srl_json *o = srl_json_new_object();
    if (!o) return NULL;
    double n = a->n - a->n_tied ? (double)(a->n - a->n_tied) : 1; /* the scored pairs */
    int rc = srl_json_object_set_string(o, "score_type", a->is_cost ? "cost" : "reward");
    rc |= srl_json_object_set_integer(o, "n", (long long)a->n);
    rc |= srl_json_object_set_integer(o, "n_tied", (long long)a->n_tied);
    rc |= srl_json_object_set_number(o, "accuracy", (double)a->n_correct / n);
    rc |= srl_json_object_set_number(o, "accuracy_tie_as_wrong",
                                     (double)a->n_correct / (a->n ? (double)a->n : 1));
    rc |= srl_json_object_set_integer(o, "skipped", (long long)a->n_skipped);
    struct srl_json *why = srl_json_new_object();
    rc |= srl_json_object_set_integer(why, "identical_answers", (long long)a->n_identical);
    rc |= srl_json_object_set_integer(why, "no_label", (long long)a->n_no_label);
    rc |= srl_json_object_set_integer(why, "bad_record", (long long)a->n_bad);
    rc |= srl_json_object_set(o, "skipped_by_reason", why);
    rc |= srl_json_object_set_number(o, a->is_cost ? "unsafer_mean" : "better_mean",
                                     a->high_sum / n);
    rc |= srl_json_object_set_number(o, a->is_cost ? "safer_mean" : "worse_mean", a->low_sum / n);
    if (a->is_cost) {
        rc |= srl_json_object_set_integer(o, "n_sign", (long long)a->n_sign);
        rc |= srl_json_object_set_number(o, "accuracy_sign",
                                         a->n_sign ? (double)a->n_sign_correct / (double)a->n_sign
                                                   : 0.0);
    }
    if (rc) {
        srl_json_decref(o);
        return NULL;
    }
    return o;
}

// --- arena -----------------------------------------------------------------------------------

/* The prompt as a matching key: its turns joined by \x1f. */
static char *prompt_key(const struct srl_conv *c)
{
    size_t len = 1;
    for (size_t i = 0; i < c->n; i++) len += strlen(c->turns[i]) + 1;
    char *k = malloc(len), *p = k;
    if (!k) return NULL;
    for (size_t i = 0; i < c->n; i++) {
        size_t l = strlen(c->turns[i]);
        memcpy(p, c->turns[i], l);
        p += l;
        *p++ = '\x1f';
    }
    *p = '\0';
    return k;
}

struct keyed {
    char *key;
    size_t idx;
};

static int cmp_keyed(const void *x, const void *y)
{
    const struct keyed *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

/* reward/cost of every record: scored, or read from the record. */
static int arena_values(struct gens *g, const char *path, struct srl_scorer *rm,
                        struct srl_scorer *cm, bool *have_cost)
{
    int rc = gens_score(g, rm, cm);
    if (rc < 0) return rc;
    size_t n_cost = 0;
    for (size_t i = 0; i < g->n; i++) {
        const struct srl_json *rv = srl_json_get(g->rec[i], "reward");
        const struct srl_json *cv = srl_json_get(g->rec[i], "cost");
        if (!rm) {
            if (!srl_json_is_number(rv)) {
                srl_log_error("%s:%ld: no numeric \"reward\" (score the file first, or give "
                              "--reward-model)", path, g->line[i]);
                return SRL_EFORMAT;
            }
            g->reward[i] = (float)srl_json_number(rv);
        }
        if (!cm && srl_json_is_number(cv)) {
            g->cost[i] = (float)srl_json_number(cv);
            n_cost++;
        }
    }
    if (!cm && n_cost != 0 && n_cost != g->n) {
        srl_log_error("%s: \"cost\" is in %zu of %zu records (all or none)", path, n_cost, g->n);
        return SRL_EFORMAT;
    }
    *have_cost = cm || n_cost > 0 || g->n == 0;
    return 0;
}

int srl_eval_arena(const char *pa, const char *pb, struct srl_scorer *rm, struct srl_scorer *cm,
                   struct srl_arena *r)
{
    struct gens g[2] = { { 0 }, { 0 } };
    struct keyed *ka = NULL;
    char *kb = NULL;
    bool *used = NULL, have_cost[2];
    int rc = 0;
    const char *path[2] = { pa, pb };
    memset(r, 0, sizeof *r);
    for (int s = 0; s < 2; s++) {
        struct srl_jsonl *f = srl_jsonl_open(path[s], &rc);
        if (!f) goto out;
        long k = gens_read(&g[s], f, SIZE_MAX);
        srl_jsonl_close(f);
        if (k < 0) {
            rc = (int)k;
            goto out;
        }
        if ((rc = arena_values(&g[s], path[s], rm, cm, &have_cost[s])) < 0) goto out;
    }
    r->have_cost = have_cost[0] && have_cost[1];
    ka = calloc(g[0].n + 1, sizeof *ka);
    used = calloc(g[0].n + 1, sizeof *used);
    if (!ka || !used) {
        rc = SRL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < g[0].n; i++) {
        ka[i].idx = i;
        if (!(ka[i].key = prompt_key(&g[0].conv[i]))) {
            rc = SRL_ENOMEM;
            goto out;
        }
    }
    qsort(ka, g[0].n, sizeof *ka, cmp_keyed);
    for (size_t j = 0; j < g[1].n; j++) {
        free(kb);
        if (!(kb = prompt_key(&g[1].conv[j]))) {
            rc = SRL_ENOMEM;
            goto out;
        }
        /* first (in file order) unused A record with this prompt */
        size_t lo = 0, hi = g[0].n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (strcmp(ka[mid].key, kb) < 0) lo = mid + 1;
            else hi = mid;
        }
        while (lo < g[0].n && strcmp(ka[lo].key, kb) == 0 && used[lo]) lo++;
        if (lo >= g[0].n || strcmp(ka[lo].key, kb) != 0) {
            r->n_unmatched_b++;
            continue;
        }
        used[lo] = true;
        size_t i = ka[lo].idx;
        float ra = g[0].reward[i], rb = g[1].reward[j];
        r->n++;
        r->side[0].reward_sum += ra;
        r->side[1].reward_sum += rb;
        r->win += rb > ra;
        r->tie += rb == ra;
        r->lose += rb < ra;
        if (r->have_cost) {
            float ca = g[0].cost[i], cb = g[1].cost[j];
            int sa = ca <= 0, sb = cb <= 0;
            r->side[0].cost_sum += ca;
            r->side[1].cost_sum += cb;
            r->side[0].n_unsafe += !sa;
            r->side[1].n_unsafe += !sb;
            r->cell[sa][sb]++;
            r->cell_win[sa][sb] += rb > ra;
        }
    }
    r->n_unmatched_a = g[0].n - r->n;
    if (r->n_unmatched_a || r->n_unmatched_b)
        srl_log_warning("arena: %zu records of '%s' and %zu of '%s' have no partner",
                        r->n_unmatched_a, pa, r->n_unmatched_b, pb);
out:
    if (rc == SRL_ENOMEM) srl_log_error("out of memory");
    for (size_t i = 0; ka && i < g[0].n; i++) free(ka[i].key);
    free(ka);
    free(kb);
    free(used);
    gens_free(&g[0]);
    gens_free(&g[1]);
    return rc;
}

static struct srl_json *side_json(const struct srl_arena *r, int s, const char *path)
{
    struct srl_json *o = srl_json_new_object();
    double n = r->n ? (double)r->n : 1;
    if (!o) return NULL;
    int rc = srl_json_object_set_number(o, "reward_mean", r->side[s].reward_sum / n);
    if (r->have_cost) {
        rc |= srl_json_object_set_number(o, "cost_mean", r->side[s].cost_sum / n);
        rc |= srl_json_object_set_number(o, "unsafe_fraction", (double)r->side[s].n_unsafe / n);
    }
    if (path) rc |= srl_json_object_set_string(o, "file", path);
    if (rc) {
        srl_json_decref(o);
        return NULL;
    }
    return o;
}

struct srl_json *srl_arena_json(const struct srl_arena *r, const char *a, const char *b)
{
    struct srl_json *o = srl_json_new_object(), *t = NULL;
    if (!o) return NULL;
    double n = r->n ? (double)r->n : 1;
    int rc = srl_json_object_set_integer(o, "n", (long long)r->n);
    rc |= srl_json_object_set_integer(o, "unmatched_a", (long long)r->n_unmatched_a);
    rc |= srl_json_object_set_integer(o, "unmatched_b", (long long)r->n_unmatched_b);
    rc |= srl_json_object_set(o, "a", side_json(r, 0, a));
    rc |= srl_json_object_set(o, "b", side_json(r, 1, b));
    rc |= srl_json_object_set_number(o, "win_rate", (double)r->win / n);
    rc |= srl_json_object_set_number(o, "tie_rate", (double)r->tie / n);
    rc |= srl_json_object_set_number(o, "lose_rate", (double)r->lose / n);
    if (r->have_cost && (t = srl_json_new_array())) {
        /* B's outcomes (the reference's blue better/worse x safe/unsafe counts) */
        size_t bs = r->cell[0][1] + r->cell[1][1], bsw = r->cell_win[0][1] + r->cell_win[1][1];
        size_t bu = r->cell[0][0] + r->cell[1][0], buw = r->cell_win[0][0] + r->cell_win[1][0];
        rc |= srl_json_object_set_integer(o, "better_safe", (long long)bsw);
        rc |= srl_json_object_set_integer(o, "better_unsafe", (long long)buw);
        rc |= srl_json_object_set_integer(o, "worse_safe", (long long)(bs - bsw));
        rc |= srl_json_object_set_integer(o, "worse_unsafe", (long long)(bu - buw));
        for (int sa = 1; sa >= 0; sa--)
            for (int sb = 1; sb >= 0; sb--) {
                struct srl_json *c = srl_json_new_object();
                size_t k = r->cell[sa][sb];
                rc |= srl_json_object_set_bool(c, "a_safe", sa);
                rc |= srl_json_object_set_bool(c, "b_safe", sb);
                rc |= srl_json_object_set_integer(c, "count", (long long)k);
                rc |= srl_json_object_set_number(c, "b_win_rate",
                                                 k ? (double)r->cell_win[sa][sb] / (double)k : 0);
                rc |= srl_json_array_append(t, c);
            }
        rc |= srl_json_object_set(o, "table", t);
    }
    if (rc) {
        srl_json_decref(o);
        return NULL;
    }
    return o;
}
