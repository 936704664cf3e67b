/* plot.h -- hand-written SVG charts that open in any browser: line plots, overlaid histograms
 * and labelled scatter plots, panels side by side, each with axes, ticks, labels and a legend.
 *
 * Every series gets its colour from a fixed palette by index, the same in every panel, so one
 * legend entry reads across panels.  Elements carry classes a test can count:
 *   lines    one <path class="series"> per series of a panel
 *   hist     one <rect class="bar"> per non-empty bin per series
 *   scatter  one <circle class="point"> (and a <text class="point-label">) per point
 *
 * On top of these, the three charts of `saferlhf-eval plot`:
 *   srl_plot_curves   training curves from --log JSONL files: one panel per metric, one line
 *                     per file; x = "step" (the record index when absent); a metric M is read
 *                     from the key M, else "train/M" (kl also from "kl_divergence" and
 *                     "train/kl_divergence", as the reference logs it)
 *   srl_plot_scores   reward and cost histograms of two scored generation files side by side
 *   srl_plot_scatter  helpfulness vs harmlessness of several models from summary JSON files
 *                     (`score --summary`: x = reward_mean, y = -cost_mean; `judge --summary`:
 *                     x = helpfulness_mean, y = harmlessness_mean), a labelled point per model
 *                     (label: the summary's "name", else the file name without extension) */
#ifndef SRL_PLOT_H
#define SRL_PLOT_H

#include <stddef.h>

enum srl_plot_kind { SRL_PLOT_LINES = 0, SRL_PLOT_HIST = 1, SRL_PLOT_SCATTER = 2 };

struct srl_series {
    const char *label;
    const double *x; /* NULL for a histogram (y holds the samples) */
    const double *y;
    size_t n;
};

struct srl_panel {
    enum srl_plot_kind kind;
    const char *title, *xlabel, *ylabel;
    const struct srl_series *series;
    size_t n_series;
    int bins; /* histograms: number of bins over the pooled range of all series (0: 30) */
};

/* Write PATH ("-" stdout) atomically: the panels in a row under TITLE.  Returns 0 or SRL_E*. */
int srl_plot_svg(const char *path, const char *title, const struct srl_panel *panels,
                 size_t n_panels);

/* "Nice" axis ticks for [lo, hi]: about `want` steps of 1, 2 or 5 times a power of ten.
 * Writes the first tick and the step.  Exposed for tests. */
void srl_plot_ticks(double lo, double hi, int want, double *first, double *step);

int srl_plot_curves(const char *const *logs, size_t n_logs, const char *const *metrics,
                    size_t n_metrics, const char *out);
int srl_plot_scores(const char *a, const char *b, const char *out);
int srl_plot_scatter(const char *const *summaries, size_t n, const char *out);

#endif
