/* plot.c -- SVG line, histogram and scatter panels with axes, ticks and legends. */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "srl.h"

#define PANEL_W 440
#define PANEL_H 330
#define TITLE_H 34
#define M_LEFT 64
#define M_RIGHT 18
#define M_TOP 34
#define M_BOTTOM 52

static const char *const palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" };
#define N_PALETTE (sizeof palette / sizeof palette[0])

static void xml_text(FILE *fp, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", fp); break;
        case '<': fputs("&lt;", fp); break;
        case '>': fputs("&gt;", fp); break;
        case '"': fputs("&quot;", fp); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t') fputc(*s, fp);
        }
    }
}

void srl_plot_ticks(double lo, double hi, int want, double *first, double *step)
{
    double range = hi - lo;
    if (!(range > 0)) range = fabs(lo) > 0 ? fabs(lo) : 1;
    double raw = range / (want > 0 ? want : 5), mag = pow(10, floor(log10(raw))), f = raw / mag;
    double s = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
    *step = s * mag;
    *first = ceil(lo / *step - 1e-9) * *step;
}

struct frame {
    double x0, y0, w, h;       /* plot area in SVG coordinates */
    double xlo, xhi, ylo, yhi; /* data ranges */
};

static double fx(const struct frame *f, double x)
{
    return f->x0 + (x - f->xlo) / (f->xhi - f->xlo) * f->w;
}

static double fy(const struct frame *f, double y)
{
    return f->y0 + f->h - (y - f->ylo) / (f->yhi - f->ylo) * f->h;
}

static void widen(double *lo, double *hi, double pad)
{
    if (!isfinite(*lo) || !isfinite(*hi)) *lo = 0, *hi = 1;
    if (*hi <= *lo) {
        double d = fabs(*lo) > 0 ? fabs(*lo) * 0.1 : 1;
        *lo -= d;
        *hi += d;
    }
    double d = (*hi - *lo) * pad;
    *lo -= d;
    *hi += d;
}

static void axes(FILE *fp, const struct frame *f, const struct srl_panel *p)
{
    double first, step;
    fprintf(fp, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#333\"/>\n", f->x0, f->y0, f->w, f->h);
    srl_plot_ticks(f->xlo, f->xhi, 5, &first, &step);
    for (double t = first; t <= f->xhi + step * 1e-9; t += step) {
        double x = fx(f, t), v = fabs(t) < step * 1e-9 ? 0 : t;
        fprintf(fp, "<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#333\"/>\n", x, f->y0 + f->h, x, f->y0 + f->h + 5);
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%g"
                "</text>\n", x, f->y0 + f->h + 18, v);
    }
    srl_plot_ticks(f->ylo, f->yhi, 5, &first, &step);
    for (double t = first; t <= f->yhi + step * 1e-9; t += step) {
        double y = fy(f, t), v = fabs(t) < step * 1e-9 ? 0 : t;
        fprintf(fp, "<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#333\"/>\n", f->x0 - 5, y, f->x0, y);
        fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                f->x0, y, f->x0 + f->w, y);
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n",
                f->x0 - 8, y + 4, v);
    }
    fprintf(fp, "<text class=\"xlabel\" x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
            "text-anchor=\"middle\">", f->x0 + f->w / 2, f->y0 + f->h + 38);
    xml_text(fp, p->xlabel);
    fprintf(fp, "</text>\n<text class=\"ylabel\" font-size=\"12\" text-anchor=\"middle\" "
            "transform=\"translate(%.1f,%.1f) rotate(-90)\">", f->x0 - 48, f->y0 + f->h / 2);
    xml_text(fp, p->ylabel);
    fprintf(fp, "</text>\n<text class=\"panel-title\" x=\"%.1f\" y=\"%.1f\" font-size=\"13\" "
            "font-weight=\"bold\" text-anchor=\"middle\">", f->x0 + f->w / 2, f->y0 - 10);
    xml_text(fp, p->title);
    fputs("</text>\n", fp);
}

static void legend(FILE *fp, const struct frame *f, const struct srl_panel *p)
{
    double y = f->y0 + 14, wmax = 0;
    for (size_t s = 0; s < p->n_series; s++) {
        double w = p->series[s].label ? 6.5 * (double)strlen(p->series[s].label) : 0;
        wmax = w > wmax ? w : wmax;
    }
    if (p->n_series) /* a light backing so lines under the legend do not hide it */
        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
                "fill-opacity=\"0.8\"/>\n", f->x0 + f->w - 26 - wmax, f->y0 + 2, wmax + 22,
                15.0 * (double)p->n_series + 4);
    for (size_t s = 0; s < p->n_series; s++, y += 15) {
        const char *c = palette[s % N_PALETTE];
        fprintf(fp, "<g class=\"legend\"><rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" "
                "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">",
                f->x0 + f->w - 16, y - 9, c, f->x0 + f->w - 20, y);
        xml_text(fp, p->series[s].label);
        fputs("</text></g>\n", fp);
    }
}

static void data_range(const struct srl_panel *p, struct frame *f)
{
    f->xlo = f->ylo = INFINITY;
    f->xhi = f->yhi = -INFINITY;
    for (size_t s = 0; s < p->n_series; s++)
        for (size_t i = 0; i < p->series[s].n; i++) {
            double x = p->series[s].x ? p->series[s].x[i] : 0, y = p->series[s].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            if (x < f->xlo) f->xlo = x;
            if (x > f->xhi) f->xhi = x;
            if (y < f->ylo) f->ylo = y;
            if (y > f->yhi) f->yhi = y;
        }
}

static void panel_lines(FILE *fp, struct frame *f, const struct srl_panel *p)
{
    data_range(p, f);
    widen(&f->xlo, &f->xhi, 0.02);
    widen(&f->ylo, &f->yhi, 0.05);
    axes(fp, f, p);
    for (size_t s = 0; s < p->n_series; s++) {
        const struct srl_series *se = &p->series[s];
        fprintf(fp, "<path class=\"series\" fill=\"none\" stroke-width=\"1.6\" stroke=\"%s\" d=\"",
                palette[s % N_PALETTE]);
        int pen = 0;
        for (size_t i = 0; i < se->n; i++) {
            if (!isfinite(se->x[i]) || !isfinite(se->y[i])) continue;
            fprintf(fp, "%s%.2f %.2f", pen ? " L" : "M", fx(f, se->x[i]), fy(f, se->y[i]));
            pen = 1;
        }
        fputs("\"/>\n", fp);
    }
    legend(fp, f, p);
}

static void panel_scatter(FILE *fp, struct frame *f, const struct srl_panel *p)
{
    data_range(p, f);
    widen(&f->xlo, &f->xhi, 0.15);
    widen(&f->ylo, &f->yhi, 0.15);
    axes(fp, f, p);
    for (size_t s = 0; s < p->n_series; s++) {
        const struct srl_series *se = &p->series[s];
        for (size_t i = 0; i < se->n; i++) {
            double x = fx(f, se->x[i]), y = fy(f, se->y[i]);
            fprintf(fp, "<circle class=\"point\" cx=\"%.2f\" cy=\"%.2f\" r=\"5\" fill=\"%s\"/>\n",
                    x, y, palette[s % N_PALETTE]);
            int right = x > f->x0 + 0.6 * f->w; /* keep the label inside the panel */
            fprintf(fp, "<text class=\"point-label\" x=\"%.2f\" y=\"%.2f\" font-size=\"11\"%s>",
                    right ? x - 8 : x + 8, y - 6, right ? " text-anchor=\"end\"" : "");
            xml_text(fp, se->label);
            fputs("</text>\n", fp);
        }
    }
}

static int panel_hist(FILE *fp, struct frame *f, const struct srl_panel *p)
{
    int bins = p->bins > 0 ? p->bins : 30;
    size_t *count = calloc((size_t)bins * (p->n_series ? p->n_series : 1), sizeof *count);
    if (!count) return SRL_ENOMEM;
    data_range(p, f); /* y holds the samples: its range is the x axis */
    double lo = f->ylo, hi = f->yhi;
    widen(&lo, &hi, 0.0);
    size_t peak = 1;
    for (size_t s = 0; s < p->n_series; s++)
        for (size_t i = 0; i < p->series[s].n; i++) {
            double v = p->series[s].y[i];
            if (!isfinite(v)) continue;
            int b = (int)((v - lo) / (hi - lo) * bins);
            b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
            size_t *c = &count[s * (size_t)bins + (size_t)b];
            if (++*c > peak) peak = *c;
        }
    f->xlo = lo;
    f->xhi = hi;
    f->ylo = 0;
    f->yhi = (double)peak * 1.08;
    axes(fp, f, p);
    double bw = (hi - lo) / bins;
    for (size_t s = 0; s < p->n_series; s++)
        for (int b = 0; b < bins; b++) {
            size_t c = count[s * (size_t)bins + (size_t)b];
            if (!c) continue;
            double x0 = fx(f, lo + b * bw), x1 = fx(f, lo + (b + 1) * bw), y = fy(f, (double)c);
            fprintf(fp, "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                    "fill=\"%s\" fill-opacity=\"0.45\"/>\n", x0, y, x1 - x0, f->y0 + f->h - y,
                    palette[s % N_PALETTE]);
        }
    legend(fp, f, p);
    free(count);
    return 0;
}

int srl_plot_svg(const char *path, const char *title, const struct srl_panel *panels,
                 size_t n_panels)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    int rc = 0;
    if (!fp) return SRL_ENOMEM;
    int W = PANEL_W * (int)(n_panels ? n_panels : 1), H = PANEL_H + TITLE_H;
    fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text class=\"title\" x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\" "
            "text-anchor=\"middle\">", W, H, W, H, W / 2);
    xml_text(fp, title);
    fputs("</text>\n", fp);
    for (size_t i = 0; i < n_panels && rc == 0; i++) {
        struct frame f = { .x0 = (double)(PANEL_W * (int)i + M_LEFT), .y0 = TITLE_H + M_TOP,
                           .w = PANEL_W - M_LEFT - M_RIGHT,
                           .h = PANEL_H - M_TOP - M_BOTTOM };
        fprintf(fp, "<g class=\"panel\">\n");
        switch (panels[i].kind) {
        case SRL_PLOT_LINES: panel_lines(fp, &f, &panels[i]); break;
        case SRL_PLOT_SCATTER: panel_scatter(fp, &f, &panels[i]); break;
        case SRL_PLOT_HIST: rc = panel_hist(fp, &f, &panels[i]); break;
        }
        fputs("</g>\n", fp);
    }
    fputs("</svg>\n", fp);
    if (fclose(fp) != 0 && rc == 0) rc = SRL_ENOMEM;
    if (rc == 0) {
        rc = srl_write_file_atomic(path, text, len); /* "-": standard output */
    }
    free(text);
    return rc;
}
