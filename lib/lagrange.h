/* lagrange.h -- the Lagrange multiplier of PPO-Lagrangian (Safe RLHF's PPOLagTrainer) and its
 * PID variant.
 *
 * Recent episode costs (the cost model's end scores of the rollouts, raw) go into a window of
 * the last `window` values (a ring buffer).  At the start of every rl_step the multiplier is
 * updated from J_C = the window mean (averaged over ranks by the caller when distributed):
 *
 * SRL_LAMBDA_SGD (the reference): log_lambda is a parameter trained by plain SGD (lr
 *   lambda_lr, no momentum) on loss = -(J_C - threshold) * exp(log_lambda), i.e.
 *       log_lambda += lambda_lr * exp(log_lambda) * (J_C - threshold)
 *   then log_lambda <= log(lambda_max) when lambda_max > 0.  lambda = exp(log_lambda) > 0.
 * SRL_LAMBDA_PID (Stooke, Achiam and Abbeel, 2020, "Responsive Safety in RL by PID Lagrangian
 *   Methods"; the form of OmniSafe's PIDLagrangian):
 *       delta = J_C - threshold
 *       I     = max(0, I + ki * delta)                    (I starts at lambda_init)
 *       P     = a_p P + (1 - a_p) delta                   (EMA, a_p = pid_ema_p; 0 = raw)
 *       D_c   = a_d D_c + (1 - a_d) J_C                   (EMA of the cost)
 *       lambda = clamp(kp P + I + kd max(0, D_c - D_c,prev), 0, lambda_max)
 *   the derivative acts only on rising cost (the previous step's D_c; 0 on the first update).
 * SRL_LAMBDA_NONE: lambda stays lambda_init (0 = plain PPO on the reward, K = fixed shaping).
 *
 * No update happens while the step counter (updates attempted so far = the trainer's
 * global_step) is below update_delay; the counter still advances. */
#ifndef SRL_LAGRANGE_H
#define SRL_LAGRANGE_H

#include <stdint.h>

enum srl_lambda_update {
    SRL_LAMBDA_SGD = 0,
    SRL_LAMBDA_PID = 1,
    SRL_LAMBDA_NONE = 2,
};

/* Options; srl_lagrange_defaults() gives the reference's scripts/ppo-lag.sh values. */
struct srl_lagrange_opts {
    enum srl_lambda_update update; /* --lambda-update sgd|pid|none [sgd] */
    double lambda_init;            /* --lambda-init [1.0] (> 0 for sgd) */
    double lambda_lr;              /* --lambda-lr [0.1] */
    double lambda_max;             /* --lambda-max [5.0]; <= 0: unbounded */
    int64_t update_delay;          /* --lambda-update-delay [0] steps */
    int window;                    /* --episode-cost-window [128] */
    double threshold;              /* --threshold [0.0] */
    double kp, ki, kd;             /* --pid-kp/ki/kd [0.1, 0.01, 0.01] */
    double pid_ema_p, pid_ema_d;   /* EMA factors of P and of the cost for D [0, 0] */
};
void srl_lagrange_defaults(struct srl_lagrange_opts *o);

/* "sgd", "pid" or "none" -> *u.  Returns 0 or SRL_EINVAL (nothing logged). */
int srl_lambda_update_parse(const char *name, enum srl_lambda_update *u);
const char *srl_lambda_update_name(enum srl_lambda_update u);

struct srl_lagrange {
    struct srl_lagrange_opts opt;
    double log_lambda; /* SGD's parameter (log of lambda_init at start) */
    double lambda;     /* the multiplier the actor loss uses */
    int64_t steps;     /* srl_lagrange_step() calls so far */
    double last_cost;  /* J_C of the last step (NaN before the first: JSON null) */
    double pid_i, pid_p, pid_cost, pid_cost_prev; /* PID state */
    int pid_have_prev;
    float *window;     /* ring buffer of opt.window costs */
    int win_len, win_head; /* values held, index of the oldest */
    float *scratch;    /* (opt.window) chronological copy for srl_lagrange_get_state() */
};

/* Validate the options and set up lag (free with srl_lagrange_free()).
 * Returns 0, SRL_EINVAL (with the reason logged) or SRL_ENOMEM. */
int srl_lagrange_init(struct srl_lagrange *lag, const struct srl_lagrange_opts *opt);
void srl_lagrange_free(struct srl_lagrange *lag); /* NULL and a zeroed struct are fine */

/* Append n episode costs to the window (the oldest fall out).  Non-finite costs fail with
 * SRL_ENUMERIC and nothing is appended. */
int srl_lagrange_push(struct srl_lagrange *lag, const float *costs, int n);
/* Mean of the window (NaN when empty). */
double srl_lagrange_window_mean(const struct srl_lagrange *lag);
/* One update from jc (normally the window mean, or its all-rank average).  Returns 0,
 * SRL_ENUMERIC (non-finite jc or lambda). */
int srl_lagrange_step(struct srl_lagrange *lag, double jc);
/* push + step(window mean): what one rl_step does on a single rank.  SRL_EINVAL when the
 * window is still empty. */
int srl_lagrange_update(struct srl_lagrange *lag, const float *costs, int n);

/* Everything needed to resume, as plain numbers (the trainer writes it to trainer_state.json).
 * window points to win_len costs, oldest first. */
struct srl_lagrange_state {
    double log_lambda, lambda, last_cost;
    int64_t steps;
    double pid_i, pid_p, pid_cost, pid_cost_prev;
    int pid_have_prev;
    int win_len;
    const float *window;
};
/* Fill *st; st->window is borrowed from lag, valid until its next call. */
void srl_lagrange_get_state(struct srl_lagrange *lag, struct srl_lagrange_state *st);
/* Restore a state into an initialised lag (copies the window; when it holds more values
 * than opt.window, the newest are kept).  Returns 0 or SRL_EINVAL. */
int srl_lagrange_set_state(struct srl_lagrange *lag, const struct srl_lagrange_state *st);

#endif
