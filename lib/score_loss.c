/* score_loss.c -- reward- and cost-model losses on scores (see score_loss.h). */
#include "score_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "srl.h"

double srl_softplus(double x)
{
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

double srl_sigmoid(double x)
{
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

// --- end scores ------------------------------------------------------------------------------

int srl_score_end_index(const float *mask, const int *len, int R, int T, int *end)
{
    for (int r = 0; r < R; r++) {
        int e = -1;
        if (mask) {
            for (int t = 0; t < T; t++)
                if (mask[(size_t)r * T + t] != 0.0f)
                    e = t;
        } else if (len[r] >= 1 && len[r] <= T) {
            e = len[r] - 1;
        }
        if (e < 0) {
            srl_log_error("score row %d has no token (width %d)", r, T);
            return SRL_EINVAL;
        }
        end[r] = e;
    }
    return 0;
}

void srl_score_gather_end(const float *scores, const int *end, int R, int T, float *end_scores)
{
    for (int r = 0; r < R; r++)
        end_scores[r] = scores[(size_t)r * T + end[r]];
}

void srl_score_scatter_end(const float *d_end, const int *end, int R, int T, float *dscores)
{
    memset(dscores, 0, (size_t)R * T * sizeof *dscores);
    for (int r = 0; r < R; r++)
        dscores[(size_t)r * T + end[r]] = d_end[r];
}

// --- the shared core -------------------------------------------------------------------------

/* One pair's loss over n aligned positions: hi[n] should score above lo[n].
 *   L = mean_t softplus(lo - hi) + [s_hi] mean_t softplus(-s_hi hi)
 *       + [s_lo] mean_t softplus(-s_lo lo) + reg * mean(hi^2, lo^2)   (2n values)
 * d_hi/d_lo[n] (may be NULL) get scale * dL/d(hi, lo).  Returns L. */
static double pair_loss(const float *hi, const float *lo, int n, int s_hi, int s_lo, double reg,
                        double scale, float *d_hi, float *d_lo)
{
    double l_pair = 0, l_shi = 0, l_slo = 0, l_reg = 0, inv_n = 1.0 / n;
    for (int t = 0; t < n; t++) {
        double h = hi[t], l = lo[t], margin = h - l;
        l_pair += srl_softplus(-margin);
        // d softplus(-m)/dm = -sigmoid(-m)
        double g_m = -srl_sigmoid(-margin) * inv_n, g_h = g_m, g_l = -g_m;
        if (s_hi) {
            l_shi += srl_softplus(-s_hi * h);
            g_h += -s_hi * srl_sigmoid(-s_hi * h) * inv_n;
        }
        if (s_lo) {
            l_slo += srl_softplus(-s_lo * l);
            g_l += -s_lo * srl_sigmoid(-s_lo * l) * inv_n;
        }
        l_reg += h * h + l * l;
        g_h += reg * h * inv_n; /* d/dh reg * sum(h^2 + l^2) / (2n) */
        g_l += reg * l * inv_n;
        if (d_hi)
            d_hi[t] = (float)(scale * g_h);
        if (d_lo)
            d_lo[t] = (float)(scale * g_l);
    }
    return (l_pair + l_shi + l_slo) * inv_n + reg * l_reg * 0.5 * inv_n;
}

/* Metrics from end scores.  cm selects the cost model's sign accuracy. */
static void end_metrics(const float *hi, const float *lo, const int8_t *s_hi,
                        const int8_t *s_lo, int B, int cm, struct srl_score_metrics *met)
{
    double acc = 0, sh = 0, sl = 0, sum = 0, sum2 = 0;
    int n_sign = 0, ok_sign = 0;
    for (int i = 0; i < B; i++) {
        acc += hi[i] > lo[i];
        sh += hi[i];
        sl += lo[i];
        if (cm && s_hi && s_hi[i]) {
            n_sign++;
            ok_sign += s_hi[i] * hi[i] > 0.0f;
        }
        if (cm && s_lo && s_lo[i]) {
            n_sign++;
            ok_sign += s_lo[i] * lo[i] > 0.0f;
        }
    }
    double mean = (sh + sl) / (2.0 * B);
    for (int i = 0; i < B; i++) {
        sum += (hi[i] - mean) * (hi[i] - mean);
        sum2 += (lo[i] - mean) * (lo[i] - mean);
    }
    met->accuracy = (float)(acc / B);
    met->accuracy_sign = n_sign ? (float)ok_sign / n_sign : -1.0f;
    met->n_sign = n_sign;
    met->mean_high = (float)(sh / B);
    met->mean_low = (float)(sl / B);
    met->mean = (float)mean;
    met->std = 2 * B > 1 ? (float)sqrt((sum + sum2) / (2.0 * B - 1)) : 0.0f;
}

static int check_finite(const float *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            srl_log_error("non-finite %s score at [%zu]", what, i);
            return SRL_ENUMERIC;
        }
    return 0;
}

static int check_signs(const int8_t *s, int B)
{
    for (int i = 0; s && i < B; i++)
        if (s[i] < -1 || s[i] > 1) {
            srl_log_error("cost sign %d of pair %d is not -1, 0 or +1", s[i], i);
            return SRL_EINVAL;
        }
    return 0;
}

// --- sequence-wise ---------------------------------------------------------------------------

static int loss_seq(const float *hi, const float *lo, const int8_t *s_hi, const int8_t *s_lo,
                    int B, float reg, int cm, float *loss, float *d_hi, float *d_lo,
                    struct srl_score_metrics *met)
{
    int rc;
    if (B < 1) {
        srl_log_error("empty preference batch");
        return SRL_EINVAL;
    }
    if ((rc = check_finite(hi, B, "end")) < 0 || (rc = check_finite(lo, B, "end")) < 0 ||
        (rc = check_signs(s_hi, B)) < 0 || (rc = check_signs(s_lo, B)) < 0)
        return rc;
    double L = 0, scale = 1.0 / B;
    for (int i = 0; i < B; i++)
        L += pair_loss(hi + i, lo + i, 1, s_hi ? s_hi[i] : 0, s_lo ? s_lo[i] : 0, reg, scale,
                       d_hi ? d_hi + i : NULL, d_lo ? d_lo + i : NULL);
    *loss = (float)(L * scale);
    if (met) {
        end_metrics(hi, lo, s_hi, s_lo, B, cm, met);
        met->loss = *loss;
    }
    return 0;
}

int srl_rm_loss_seq(const float *better, const float *worse, int B, float reg, float *loss,
                    float *d_better, float *d_worse, struct srl_score_metrics *met)
{
    return loss_seq(better, worse, NULL, NULL, B, reg, 0, loss, d_better, d_worse, met);
}

int srl_cm_loss_seq(const float *safer, const float *unsafer, const int8_t *sign_safer,
                    const int8_t *sign_unsafer, int B, float reg, float *loss, float *d_safer,
                    float *d_unsafer, struct srl_score_metrics *met)
{
    return loss_seq(unsafer, safer, sign_unsafer, sign_safer, B, reg, 1, loss, d_unsafer,
                    d_safer, met);
}

// --- token-wise ------------------------------------------------------------------------------

static int loss_tok(const float *hi, const float *lo, const int32_t *ids_hi,
                    const int32_t *ids_lo, const int *end_hi, const int *end_lo,
                    const int8_t *s_hi, const int8_t *s_lo, int B, int T, float reg, int cm,
                    float *loss, float *d_hi, float *d_lo, struct srl_score_metrics *met)
{
    int rc;
    if (B < 1 || T < 1) {
        srl_log_error("empty preference batch");
        return SRL_EINVAL;
    }
    if ((rc = check_signs(s_hi, B)) < 0 || (rc = check_signs(s_lo, B)) < 0)
        return rc;
    float *ehi = malloc(2 * (size_t)B * sizeof *ehi);
    if (!ehi)
        return SRL_ENOMEM;
    float *elo = ehi + B;
    if (d_hi)
        memset(d_hi, 0, (size_t)B * T * sizeof *d_hi);
    if (d_lo)
        memset(d_lo, 0, (size_t)B * T * sizeof *d_lo);
    double L = 0, scale = 1.0 / B;
    for (int i = 0; i < B; i++) {
        size_t row = (size_t)i * T;
        int d = 0, e = end_hi[i] > end_lo[i] ? end_hi[i] : end_lo[i];
        while (d < T && ids_hi[row + d] == ids_lo[row + d])
            d++;
        if (d == T || d > e || e >= T || end_hi[i] < 0 || end_lo[i] < 0) {
            srl_log_error("pair %d: %s", i, d == T ? "both responses are the same tokens" :
                          "diverge index past the end of both responses");
            free(ehi);
            return SRL_EINVAL;
        }
        if ((rc = check_finite(hi + row + d, e - d + 1, "token")) < 0 ||
            (rc = check_finite(lo + row + d, e - d + 1, "token")) < 0) {
            free(ehi);
            return rc;
        }
        L += pair_loss(hi + row + d, lo + row + d, e - d + 1, s_hi ? s_hi[i] : 0,
                       s_lo ? s_lo[i] : 0, reg, scale, d_hi ? d_hi + row + d : NULL,
                       d_lo ? d_lo + row + d : NULL);
        ehi[i] = hi[row + end_hi[i]];
        elo[i] = lo[row + end_lo[i]];
    }
    *loss = (float)(L * scale);
    if (met) {
        end_metrics(ehi, elo, s_hi, s_lo, B, cm, met);
        met->loss = *loss;
    }
    free(ehi);
    return 0;
}

int srl_rm_loss_tok(const float *better, const float *worse, const int32_t *ids_better,
                    const int32_t *ids_worse, const int *end_better, const int *end_worse,
                    int B, int T, float reg, float *loss, float *d_better, float *d_worse,
                    struct srl_score_metrics *met)
{
    return loss_tok(better, worse, ids_better, ids_worse, end_better, end_worse, NULL, NULL, B,
                    T, reg, 0, loss, d_better, d_worse, met);
}

int srl_cm_loss_tok(const float *safer, const float *unsafer, const int32_t *ids_safer,
                    const int32_t *ids_unsafer, const int *end_safer, const int *end_unsafer,
                    const int8_t *sign_safer, const int8_t *sign_unsafer, int B, int T,
                    float reg, float *loss, float *d_safer, float *d_unsafer,
                    struct srl_score_metrics *met)
{
    return loss_tok(unsafer, safer, ids_unsafer, ids_safer, end_unsafer, end_safer,
                    sign_unsafer, sign_safer, B, T, reg, 1, loss, d_unsafer, d_safer, met);
}
