/* plot_data.c -- the charts of `saferlhf-eval plot`: data read from log, generation and summary
 * files, drawn by plot.c. */
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "jsonl.h"
#include "plot.h"
#include "srl.h"

/* A growable series. */
struct buf {
    double *x, *y;
    size_t n, cap;
};

static int buf_push(struct buf *b, double x, double y)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        double *nx = realloc(b->x, cap * sizeof *nx);
        if (!nx) return SRL_ENOMEM;
        b->x = nx;
        double *ny = realloc(b->y, cap * sizeof *ny);
        if (!ny) return SRL_ENOMEM;
        b->y = ny;
        b->cap = cap;
    }
    b->x[b->n] = x;
    b->y[b->n] = y;
    b->n++;
    return 0;
}

/* "dir/name.ext" -> "name" (new string). */
static char *stem(const char *path)
{
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    char *r = strdup(s);
    if (!r) return NULL;
    char *dot = strrchr(r, '.');
    if (dot && dot != r) *dot = '\0';
    return r;
}

static const struct srl_json *metric_value(const struct srl_json *rec, const char *metric)
{
    char key[128];
    const struct srl_json *v = srl_json_get(rec, metric);
    if (srl_json_is_number(v)) return v;
    snprintf(key, sizeof key, "train/%s", metric);
    if (srl_json_is_number(v = srl_json_get(rec, key))) return v;
    if (strcmp(metric, "kl") == 0) {
        if (srl_json_is_number(v = srl_json_get(rec, "kl_divergence"))) return v;
        if (srl_json_is_number(v = srl_json_get(rec, "train/kl_divergence"))) return v;
    }
    return NULL;
}

int srl_plot_curves(const char *const *logs, size_t n_logs, const char *const *metrics,
                    size_t n_metrics, const char *out)
{
    int rc = 0;
    struct buf *b = calloc(n_logs * n_metrics + 1, sizeof *b);
    struct srl_series *se = calloc(n_logs * n_metrics + 1, sizeof *se);
    struct srl_panel *pa = calloc(n_metrics + 1, sizeof *pa);
    char **labels = calloc(n_logs + 1, sizeof *labels);
    if (!b || !se || !pa || !labels) {
        rc = SRL_ENOMEM;
        goto out;
    }
    for (size_t f = 0; f < n_logs && rc == 0; f++) {
        struct srl_jsonl *r = srl_jsonl_open(logs[f], &rc);
        if (!r) break;
        if (!(labels[f] = stem(logs[f]))) rc = SRL_ENOMEM;
        struct srl_json *rec;
        long idx = 0;
        while (rc == 0 && (rc = srl_jsonl_next(r, &rec)) == 0) {
            const struct srl_json *st = srl_json_get(rec, "step");
            double x = srl_json_is_number(st) ? srl_json_number(st) : (double)idx;
            for (size_t m = 0; m < n_metrics && rc == 0; m++) {
                const struct srl_json *v = metric_value(rec, metrics[m]);
                if (v) rc = buf_push(&b[m * n_logs + f], x, srl_json_number(v));
            }
            srl_json_decref(rec);
            idx++;
        }
        if (rc == SRL_EOF) rc = 0;
        srl_jsonl_close(r);
    }
    if (rc < 0) goto out;
    for (size_t m = 0; m < n_metrics; m++) {
        size_t points = 0;
        for (size_t f = 0; f < n_logs; f++) {
            struct srl_series *s = &se[m * n_logs + f];
            s->label = labels[f];
            s->x = b[m * n_logs + f].x;
            s->y = b[m * n_logs + f].y;
            s->n = b[m * n_logs + f].n;
            points += s->n;
        }
        if (points == 0)
            srl_log_warning("plot: no log record has \"%s\" (or \"train/%s\")", metrics[m],
                            metrics[m]);
        pa[m] = (struct srl_panel){ SRL_PLOT_LINES, metrics[m], "step", metrics[m],
                                    &se[m * n_logs], n_logs, 0 };
    }
    rc = srl_plot_svg(out, "training curves", pa, n_metrics);
out:
    if (rc == SRL_ENOMEM) srl_log_error("out of memory");
    for (size_t i = 0; b && i < n_logs * n_metrics; i++) {
        free(b[i].x);
        free(b[i].y);
    }
    for (size_t f = 0; labels && f < n_logs; f++) free(labels[f]);
    free(labels);
    free(b);
    free(se);
    free(pa);
    return rc;
}

int srl_plot_scores(const char *a, const char *b, const char *out)
{
    const char *files[2] = { a, b }, *keys[2] = { "reward", "cost" };
    struct buf v[2][2] = { { { 0 } } }; /* [key][file] */
    struct srl_series se[2][2];
    char *labels[2] = { NULL, NULL };
    int rc = 0;
    for (int f = 0; f < 2 && rc == 0; f++) {
        struct srl_jsonl *r = srl_jsonl_open(files[f], &rc);
        if (!r) break;
        if (!(labels[f] = stem(files[f]))) rc = SRL_ENOMEM;
        struct srl_json *rec;
        while (rc == 0 && (rc = srl_jsonl_next(r, &rec)) == 0) {
            for (int k = 0; k < 2 && rc == 0; k++) {
                const struct srl_json *x = srl_json_get(rec, keys[k]);
                if (srl_json_is_number(x)) rc = buf_push(&v[k][f], 0, srl_json_number(x));
            }
            srl_json_decref(rec);
        }
        if (rc == SRL_EOF) rc = 0;
        srl_jsonl_close(r);
    }
    struct srl_panel pa[2];
    size_t np = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        if (v[k][0].n + v[k][1].n == 0) continue;
        for (int f = 0; f < 2; f++)
            se[k][f] = (struct srl_series){ labels[f], NULL, v[k][f].y, v[k][f].n };
        pa[np++] = (struct srl_panel){ SRL_PLOT_HIST, k ? "cost distribution"
                                                        : "reward distribution",
                                       keys[k], "responses", se[k], 2, 30 };
    }
    if (rc == 0 && np == 0) {
        srl_log_error("plot: neither '%s' nor '%s' has numeric \"reward\" or \"cost\" fields",
                      a, b);
        rc = SRL_EFORMAT;
    }
    if (rc == 0) rc = srl_plot_svg(out, "score distributions", pa, np);
    if (rc == SRL_ENOMEM) srl_log_error("out of memory");
    for (int k = 0; k < 2; k++)
        for (int f = 0; f < 2; f++) {
            free(v[k][f].x);
            free(v[k][f].y);
        }
    free(labels[0]);
    free(labels[1]);
    return rc;
}

int srl_plot_scatter(const char *const *summaries, size_t n, const char *out)
{
    double *xy = calloc(2 * n + 2, sizeof *xy);
    struct srl_series *se = calloc(n + 1, sizeof *se);
    char **labels = calloc(n + 1, sizeof *labels);
    int rc = 0, judge = -1;
    if (!xy || !se || !labels) {
        rc = SRL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *text = NULL;
        size_t len;
        if ((rc = srl_read_file(summaries[i], &text, &len)) < 0) {
            srl_log_error("cannot read '%s'", summaries[i]);
            break;
        }
        struct srl_json *o = srl_json_parse(text, len, summaries[i], &rc);
        free(text);
        if (!o) break;
        const struct srl_json *h = srl_json_get(o, "helpfulness_mean");
        const struct srl_json *s = srl_json_get(o, "harmlessness_mean");
        const struct srl_json *rw = srl_json_get(o, "reward_mean");
        const struct srl_json *c = srl_json_get(o, "cost_mean");
        int is_judge = srl_json_is_number(h) && srl_json_is_number(s);
        if (!is_judge && !(srl_json_is_number(rw) && srl_json_is_number(c))) {
            srl_log_error("%s: needs reward_mean and cost_mean (score --summary) or "
                          "helpfulness_mean and harmlessness_mean (judge --summary)",
                          summaries[i]);
            rc = SRL_EFORMAT;
        } else if (judge >= 0 && judge != is_judge) {
            srl_log_error("%s: mixes judge and score-model summaries", summaries[i]);
            rc = SRL_EFORMAT;
        } else {
            judge = is_judge;
            xy[2 * i] = is_judge ? srl_json_number(h) : srl_json_number(rw);
            xy[2 * i + 1] = is_judge ? srl_json_number(s) : -srl_json_number(c);
            const char *name = srl_json_string(srl_json_get(o, "name"));
            labels[i] = name ? strdup(name) : stem(summaries[i]);
            if (!labels[i]) rc = SRL_ENOMEM;
            se[i] = (struct srl_series){ labels[i], &xy[2 * i], &xy[2 * i + 1], 1 };
        }
        srl_json_decref(o);
    }
    if (rc == 0) {
        struct srl_panel p = { SRL_PLOT_SCATTER, "helpfulness vs harmlessness",
                               judge == 1 ? "helpfulness (judge, mean)"
                                          : "helpfulness (mean reward)",
                               judge == 1 ? "harmlessness (judge, mean)"
                                          : "harmlessness (-mean cost)",
                               se, n, 0 };
        rc = srl_plot_svg(out, "helpfulness and harmlessness by model", &p, 1);
    }
out:
    if (rc == SRL_ENOMEM) srl_log_error("out of memory");
    for (size_t i = 0; labels && i < n; i++) free(labels[i]);
    free(labels);
    free(se);
    free(xy);
    return rc;
}
