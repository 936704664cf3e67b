/* lagrange.c -- the Lagrange multiplier of PPO-Lagrangian (see lagrange.h). */
#include "lagrange.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "srl.h"

void srl_lagrange_defaults(struct srl_lagrange_opts *o)
{
    memset(o, 0, sizeof *o);
    o->update = SRL_LAMBDA_SGD;
    o->lambda_init = 1.0;
    o->lambda_lr = 0.1;
    o->lambda_max = 5.0;
    o->update_delay = 0;
    o->window = 128;
    o->threshold = 0.0;
    o->kp = 0.1;
    o->ki = 0.01;
    o->kd = 0.01;
}

static const char *const update_names[] = {"sgd", "pid", "none"};

int srl_lambda_update_parse(const char *name, enum srl_lambda_update *u)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, update_names[i]) == 0) {
            *u = (enum srl_lambda_update)i;
            return 0;
        }
    return SRL_EINVAL;
}

const char *srl_lambda_update_name(enum srl_lambda_update u)
{
    return (unsigned)u < 3 ? update_names[u] : "unknown";
}

int srl_lagrange_init(struct srl_lagrange *lag, const struct srl_lagrange_opts *opt)
{
    memset(lag, 0, sizeof *lag);
    const char *why = NULL;
    if ((unsigned)opt->update > SRL_LAMBDA_NONE)
        why = "unknown lambda update";
    else if (!isfinite(opt->lambda_init) || opt->lambda_init < 0 ||
             (opt->update == SRL_LAMBDA_SGD && opt->lambda_init <= 0))
        why = opt->update == SRL_LAMBDA_SGD ? "lambda-init must be > 0 (lambda = exp(log lambda))"
                                             : "lambda-init must be >= 0";
    else if (!isfinite(opt->lambda_lr) || opt->lambda_lr < 0)
        why = "lambda-lr must be >= 0";
    else if (opt->window < 1)
        why = "episode-cost-window must be >= 1";
    else if (opt->update_delay < 0)
        why = "lambda-update-delay must be >= 0";
    else if (!isfinite(opt->threshold) || !isfinite(opt->kp) || !isfinite(opt->ki) ||
             !isfinite(opt->kd) || !(opt->pid_ema_p >= 0 && opt->pid_ema_p < 1) ||
             !(opt->pid_ema_d >= 0 && opt->pid_ema_d < 1))
        why = "threshold, PID gains must be finite and EMA factors in [0, 1)";
    else if (opt->lambda_max > 0 && opt->lambda_init > opt->lambda_max)
        why = "lambda-init exceeds lambda-max";
    if (why) {
        srl_log_error("%s", why);
        return SRL_EINVAL;
    }
    lag->opt = *opt;
    lag->window = malloc(2 * (size_t)opt->window * sizeof *lag->window);
    if (!lag->window)
        return SRL_ENOMEM;
    lag->scratch = lag->window + opt->window;
    lag->lambda = opt->lambda_init;
    lag->log_lambda = log(opt->lambda_init); /* -inf for 0: only sgd reads it, and needs > 0 */
    lag->last_cost = NAN;
    lag->pid_i = opt->lambda_init;
    return 0;
}

void srl_lagrange_free(struct srl_lagrange *lag)
{
    if (!lag)
        return;
    free(lag->window);
    lag->window = lag->scratch = NULL;
}

int srl_lagrange_push(struct srl_lagrange *lag, const float *costs, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(costs[i])) {
            srl_log_error("non-finite episode cost %g", (double)costs[i]);
            return SRL_ENUMERIC;
        }
    int cap = lag->opt.window;
    for (int i = 0; i < n; i++) {
        if (lag->win_len < cap) {
            lag->window[(lag->win_head + lag->win_len) % cap] = costs[i];
            lag->win_len++;
        } else { /* full: overwrite the oldest, as deque(maxlen) */
            lag->window[lag->win_head] = costs[i];
            lag->win_head = (lag->win_head + 1) % cap;
        }
    }
    return 0;
}

double srl_lagrange_window_mean(const struct srl_lagrange *lag)
{
    if (!lag->win_len)
        return NAN;
    double s = 0;
    for (int i = 0; i < lag->win_len; i++)
        s += lag->window[(lag->win_head + i) % lag->opt.window];
    return s / lag->win_len;
}

static void pid_step(struct srl_lagrange *lag, double jc)
{
    const struct srl_lagrange_opts *o = &lag->opt;
    double delta = jc - o->threshold;
    lag->pid_i = fmax(0.0, lag->pid_i + o->ki * delta);
    lag->pid_p = o->pid_ema_p * lag->pid_p + (1 - o->pid_ema_p) * delta;
    // the cost EMA starts at the first cost, so the derivative does not see a jump from 0
    lag->pid_cost = lag->pid_have_prev ? o->pid_ema_d * lag->pid_cost + (1 - o->pid_ema_d) * jc
                                       : jc;
    double d = lag->pid_have_prev ? fmax(0.0, lag->pid_cost - lag->pid_cost_prev) : 0.0;
    double lam = fmax(0.0, o->kp * lag->pid_p + lag->pid_i + o->kd * d);
    if (o->lambda_max > 0)
        lam = fmin(lam, o->lambda_max);
    lag->pid_cost_prev = lag->pid_cost;
    lag->pid_have_prev = 1;
    lag->lambda = lam;
    lag->log_lambda = log(lam);
}

int srl_lagrange_step(struct srl_lagrange *lag, double jc)
{
    const struct srl_lagrange_opts *o = &lag->opt;
    if (!isfinite(jc)) {
        srl_log_error("non-finite episode cost mean %g", jc);
        return SRL_ENUMERIC;
    }
    lag->last_cost = jc;
    int64_t step = lag->steps++;
    if (step < o->update_delay || o->update == SRL_LAMBDA_NONE)
        return 0;
    if (o->update == SRL_LAMBDA_PID) {
        pid_step(lag, jc);
    } else {
        // SGD on -(J_C - threshold) * exp(log_lambda): grad = -(J_C - threshold) * lambda
        double grad = -(jc - o->threshold) * exp(lag->log_lambda);
        lag->log_lambda -= o->lambda_lr * grad;
        if (o->lambda_max > 0)
            lag->log_lambda = fmin(lag->log_lambda, log(o->lambda_max));
        lag->lambda = exp(lag->log_lambda);
    }
    if (!isfinite(lag->lambda)) {
        srl_log_error("the Lagrange multiplier diverged (lambda = %g at J_C = %g)", lag->lambda,
                      jc);
        return SRL_ENUMERIC;
    }
    return 0;
}

int srl_lagrange_update(struct srl_lagrange *lag, const float *costs, int n)
{
    int rc = srl_lagrange_push(lag, costs, n);
    if (rc < 0)
        return rc;
    if (!lag->win_len) {
        srl_log_error("no episode cost yet: cannot update the Lagrange multiplier");
        return SRL_EINVAL;
    }
    return srl_lagrange_step(lag, srl_lagrange_window_mean(lag));
}

void srl_lagrange_get_state(struct srl_lagrange *lag, struct srl_lagrange_state *st)
{
    for (int i = 0; i < lag->win_len; i++)
        lag->scratch[i] = lag->window[(lag->win_head + i) % lag->opt.window];
    st->log_lambda = lag->log_lambda;
    st->lambda = lag->lambda;
    st->last_cost = lag->last_cost;
    st->steps = lag->steps;
    st->pid_i = lag->pid_i;
    st->pid_p = lag->pid_p;
    st->pid_cost = lag->pid_cost;
    st->pid_cost_prev = lag->pid_cost_prev;
    st->pid_have_prev = lag->pid_have_prev;
    st->win_len = lag->win_len;
    st->window = lag->scratch;
}

int srl_lagrange_set_state(struct srl_lagrange *lag, const struct srl_lagrange_state *st)
{
    if (st->win_len < 0 || (st->win_len && !st->window) || st->steps < 0 ||
        !(st->lambda >= 0) || !isfinite(st->lambda)) {
        srl_log_error("invalid Lagrange multiplier state");
        return SRL_EINVAL;
    }
    int skip = st->win_len > lag->opt.window ? st->win_len - lag->opt.window : 0;
    lag->win_len = lag->win_head = 0;
    int rc = srl_lagrange_push(lag, st->window + skip, st->win_len - skip);
    if (rc < 0)
        return rc;
    lag->log_lambda = st->log_lambda;
    lag->lambda = st->lambda;
    lag->last_cost = st->last_cost;
    lag->steps = st->steps;
    lag->pid_i = st->pid_i;
    lag->pid_p = st->pid_p;
    lag->pid_cost = st->pid_cost;
    lag->pid_cost_prev = st->pid_cost_prev;
    lag->pid_have_prev = st->pid_have_prev;
    return 0;
}
