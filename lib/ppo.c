/* ppo.c -- the PPO(-Lagrangian) step on plain arrays (see ppo.h). */
#include "ppo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "srl.h"

void srl_ppo_defaults(struct srl_ppo_opts *o)
{
    o->kl_coeff = 0.01f;
    o->clip_range_score = 50.0f;
    o->clip_range_ratio = 0.2f;
    o->clip_range_value = 5.0f;
    o->gamma = 1.0f;
    o->gae_lambda = 0.95f;
}

int srl_ppo_end_index(const float *mask, const int *start, int B, int T, int *end)
{
    // mask (B,T), start (B) -> end (B)
    for (int b = 0; b < B; b++) {
        int e = -1;
        for (int t = 0; t < T; t++)
            if (mask[(size_t)b * T + t] != 0.0f)
                e = t;
        if (e < 0 || e < start[b]) {
            srl_log_error("rollout row %d has no response token (start %d, width %d)", b,
                          start[b], T);
            return SRL_EINVAL;
        }
        end[b] = e;
    }
    return 0;
}

int srl_ppo_shape_rewards(const float *old_logp, const float *ref_logp, const float *score,
                          const int *end, const int *start, int B, int T, float kl_coeff,
                          float clip, enum srl_ppo_stream stream, float *out)
{
    // old_logp, ref_logp (B,T), score (B), end, start (B) -> out (B,T)
    float sign = stream == SRL_PPO_COST ? 1.0f : -1.0f;
    for (int b = 0; b < B; b++) {
        if (!isfinite(score[b])) {
            srl_log_error("non-finite end score of rollout row %d", b);
            return SRL_ENUMERIC;
        }
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            // k1 estimator of the KL, on the rollout log-probs
            float r = sign * kl_coeff * (old_logp[i] - ref_logp[i]);
            if (t == end[b])
                r += score[b];
            if (clip > 0)
                r = fminf(fmaxf(r, -clip), clip);
            if (t >= start[b] && !isfinite(r)) {
                srl_log_error("non-finite log-prob in rollout row %d at %d", b, t);
                return SRL_ENUMERIC;
            }
            out[i] = r;
        }
    }
    return 0;
}

int srl_ppo_gae(const float *values, const float *rewards, const float *mask, const int *start,
                int B, int T, float gamma, float lam, float *adv, float *ret)
{
    // values, rewards, mask (B,T), start (B) -> adv, ret (B,T); rows are independent
    for (int b = 0; b < B; b++) {
        if (start[b] < 0 || start[b] >= T) {
            srl_log_error("rollout row %d: start %d outside 0..%d", b, start[b], T - 1);
            return SRL_EINVAL;
        }
        const float *v = values + (size_t)b * T, *r = rewards + (size_t)b * T;
        const float *m = mask + (size_t)b * T;
        float *a = adv + (size_t)b * T, *g = ret + (size_t)b * T;
        // masked values and rewards: zero after the row's end (and in holes of the mask)
        float next_v = 0.0f, last = 0.0f;
        for (int t = T - 1; t >= start[b]; t--) {
            float vt = v[t] * m[t], rt = r[t] * m[t];
            float delta = rt + gamma * next_v - vt;
            last = delta + gamma * lam * last;
            a[t] = last;
            g[t] = last + vt;
            next_v = vt;
        }
        for (int t = 0; t < start[b]; t++)
            a[t] = g[t] = 0.0f;
    }
    return 0;
}

void srl_ppo_combine_advantages(const float *adv_r, const float *adv_c, double lambda, size_t n,
                                float *adv)
{
    float lam = (float)lambda, inv = 1.0f / (1.0f + lam);
    for (size_t i = 0; i < n; i++)
        adv[i] = (adv_r[i] - lam * adv_c[i]) * inv;
}

/* Per-row weight 1/(rows * sum M) so that sum_t w M x is the masked mean; 0 for empty rows.
 * Returns the number of rows with a response. */
static int row_weights(const float *mask, const int *start, int B, int T, double *w)
{
    int rows = 0;
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int t = start[b] < 0 ? 0 : start[b]; t < T; t++)
            s += mask[(size_t)b * T + t];
        w[b] = s;
        rows += s > 0;
    }
    for (int b = 0; b < B; b++)
        w[b] = w[b] > 0 ? 1.0 / (w[b] * rows) : 0.0;
    return rows;
}

#define SRL_PPO_ROWS_ON_STACK 256

double srl_ppo_masked_mean(const float *x, const float *mask, const int *start, int B, int T)
{
    double acc = 0;
    int rows = 0;
    for (int b = 0; b < B; b++) {
        double s = 0, m = 0;
        for (int t = start[b] < 0 ? 0 : start[b]; t < T; t++) {
            size_t i = (size_t)b * T + t;
            s += (double)x[i] * mask[i];
            m += mask[i];
        }
        if (m > 0) {
            acc += s / m;
            rows++;
        }
    }
    return rows ? acc / rows : NAN;
}

double srl_ppo_row_sum_mean(const float *x, const float *mask, const int *start, int B, int T)
{
    double acc = 0;
    for (int b = 0; b < B; b++)
        for (int t = start[b] < 0 ? 0 : start[b]; t < T; t++)
            acc += (double)x[(size_t)b * T + t] * mask[(size_t)b * T + t];
    return B ? acc / B : NAN;
}

/* The per-row weights, on the stack for usual batch sizes. */
struct weights {
    double stack[SRL_PPO_ROWS_ON_STACK];
    double *w;
};

static int weights_get(struct weights *ws, const float *mask, const int *start, int B, int T)
{
    ws->w = B <= SRL_PPO_ROWS_ON_STACK ? ws->stack : malloc((size_t)B * sizeof(double));
    if (!ws->w)
        return SRL_ENOMEM;
    if (row_weights(mask, start, B, T, ws->w) == 0) {
        srl_log_error("no response token in the rollout batch");
        return SRL_EINVAL;
    }
    return 0;
}

static void weights_put(struct weights *ws)
{
    if (ws->w != ws->stack)
        free(ws->w);
}

int srl_ppo_actor_loss(const float *logp, const float *old_logp, const float *adv,
                       const float *mask, const int *start, int B, int T, float clip,
                       float *loss, float *dlogp, struct srl_ppo_actor_stats *st)
{
    // logp, old_logp, adv, mask (B,T), start (B) -> dlogp (B,T); ws.w (B) row weights
    struct weights ws;
    int rc = weights_get(&ws, mask, start, B, T);
    if (rc < 0) {
        weights_put(&ws);
        return rc;
    }
    double L = 0, s_ratio = 0, s_clip = 0, s_kl = 0;
    memset(dlogp, 0, (size_t)B * T * sizeof *dlogp);
    for (int b = 0; b < B; b++) {
        double w = ws.w[b];
        for (int t = start[b] < 0 ? 0 : start[b]; t < T && w > 0; t++) {
            size_t i = (size_t)b * T + t;
            if (mask[i] == 0.0f)
                continue;
            double a = adv[i], d = (double)logp[i] - old_logp[i], rho = exp(d);
            double rho_c = fmin(fmax(rho, 1.0 - clip), 1.0 + clip);
            double s1 = a * rho, s2 = a * rho_c;
            int inside = rho >= 1.0 - clip && rho <= 1.0 + clip;
            // torch.minimum: the smaller branch's gradient; clamp passes it only inside
            double g = (s1 < s2 || inside) ? a * rho : 0.0;
            double wm = w * mask[i];
            L -= wm * fmin(s1, s2);
            dlogp[i] = (float)(-wm * g);
            s_ratio += wm * rho;
            s_clip += wm * (g == 0.0 && a != 0.0);
            s_kl += wm * -d;
        }
    }
    weights_put(&ws);
    if (!isfinite(L)) {
        srl_log_error("non-finite actor loss");
        return SRL_ENUMERIC;
    }
    *loss = (float)L;
    if (st) {
        st->ratio = (float)s_ratio;
        st->clip_frac = (float)s_clip;
        st->approx_kl = (float)s_kl;
    }
    return 0;
}

int srl_ppo_critic_loss(const float *values, const float *old_values, const float *returns,
                        const float *mask, const int *start, int B, int T, float clip,
                        float *loss, float *dvalues)
{
    // values, old_values, returns, mask (B,T), start (B) -> dvalues (B,T)
    struct weights ws;
    int rc = weights_get(&ws, mask, start, B, T);
    if (rc < 0) {
        weights_put(&ws);
        return rc;
    }
    double L = 0;
    memset(dvalues, 0, (size_t)B * T * sizeof *dvalues);
    for (int b = 0; b < B; b++) {
        double w = ws.w[b];
        for (int t = start[b] < 0 ? 0 : start[b]; t < T && w > 0; t++) {
            size_t i = (size_t)b * T + t;
            if (mask[i] == 0.0f)
                continue;
            double v = values[i], g = returns[i], vo = old_values[i];
            double vc = fmin(fmax(v, vo - clip), vo + clip);
            double l1 = (v - g) * (v - g), l2 = (vc - g) * (vc - g);
            double wm = w * mask[i];
            L += 0.5 * wm * fmax(l1, l2);
            // if the clipped loss is larger, v is outside the clip range: no gradient
            dvalues[i] = l1 >= l2 ? (float)(wm * (v - g)) : 0.0f;
        }
    }
    weights_put(&ws);
    if (!isfinite(L)) {
        srl_log_error("non-finite critic loss");
        return SRL_ENUMERIC;
    }
    *loss = (float)L;
    return 0;
}

int srl_ppo_targets(const struct srl_ppo_rollout *ro, const struct srl_ppo_opts *o,
                    double lambda, struct srl_ppo_targets *out, struct srl_ppo_rollout_stats *st)
{
    int B = ro->B, T = ro->T, rc;
    size_t n = (size_t)B * T;
    if ((rc = srl_ppo_end_index(ro->mask, ro->start, B, T, out->end)) < 0 ||
        (rc = srl_ppo_shape_rewards(ro->old_logp, ro->ref_logp, ro->reward, out->end, ro->start,
                                    B, T, o->kl_coeff, o->clip_range_score, SRL_PPO_REWARD,
                                    out->rewards)) < 0 ||
        (rc = srl_ppo_gae(ro->old_rvalues, out->rewards, ro->mask, ro->start, B, T, o->gamma,
                          o->gae_lambda, out->radv, out->rret)) < 0)
        return rc;
    if (ro->cost) {
        if ((rc = srl_ppo_shape_rewards(ro->old_logp, ro->ref_logp, ro->cost, out->end,
                                        ro->start, B, T, o->kl_coeff, o->clip_range_score,
                                        SRL_PPO_COST, out->costs)) < 0 ||
            (rc = srl_ppo_gae(ro->old_cvalues, out->costs, ro->mask, ro->start, B, T, o->gamma,
                              o->gae_lambda, out->cadv, out->cret)) < 0)
            return rc;
        srl_ppo_combine_advantages(out->radv, out->cadv, lambda, n, out->adv);
    } else {
        memcpy(out->adv, out->radv, n * sizeof *out->adv);
    }
    if (!st)
        return 0;
    memset(st, 0, sizeof *st);
    double r = 0, c = 0, kl = 0, len = 0, max_len = 0;
    for (int b = 0; b < B; b++) {
        double lb = 0;
        r += ro->reward[b];
        c += ro->cost ? ro->cost[b] : 0;
        for (int t = ro->start[b]; t < T; t++) {
            size_t i = (size_t)b * T + t;
            lb += ro->mask[i];
            kl += ((double)ro->old_logp[i] - ro->ref_logp[i]) * ro->mask[i];
        }
        len += lb;
        max_len = fmax(max_len, lb);
    }
    st->reward = (float)(r / B);
    st->cost = (float)(c / B);
    st->kl_divergence = (float)(kl / B);
    st->mean_generated_length = (float)(len / B);
    st->max_generated_length = (float)max_len;
    st->reward_with_kl_penalty = (float)srl_ppo_row_sum_mean(out->rewards, ro->mask, ro->start,
                                                             B, T);
    st->reward_advantage = (float)srl_ppo_masked_mean(out->radv, ro->mask, ro->start, B, T);
    st->reward_return = (float)srl_ppo_masked_mean(out->rret, ro->mask, ro->start, B, T);
    if (ro->cost) {
        st->cost_with_kl_penalty = (float)srl_ppo_row_sum_mean(out->costs, ro->mask, ro->start,
                                                               B, T);
        st->cost_advantage = (float)srl_ppo_masked_mean(out->cadv, ro->mask, ro->start, B, T);
        st->cost_return = (float)srl_ppo_masked_mean(out->cret, ro->mask, ro->start, B, T);
    }
    return 0;
}
