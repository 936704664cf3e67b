/* ppo.h -- the PPO(-Lagrangian) step of Safe RLHF on plain arrays (no model inside).
 *
 * A rollout batch holds B sequences x[b] = [prompt | response | pad] of L tokens.  Every
 * per-position array here is (B,T), row-major; column t is the log-prob of token t+1 and the
 * value of the state after token t, so T = L-1 as in the reference -- or T = L with the last
 * column masked out, which lines up with srl_model_logprobs() (targets[t] = x[t+1], -1 at the
 * end) and the critic's per-position scores (B,L) and gives the same numbers: past the last
 * column the value and the advantage are 0 either way.
 *
 * mask (B,T) is the reference's sequence_mask (attention_mask[:, 1:]: 1 where token t+1 is a
 * real token) and start[b] the first response column (prompt width - 1 for a left-padded
 * prompt block; any per-row value for ragged batches).  The response region of row b is
 * t >= start[b] with mask != 0; its last column e[b] (srl_ppo_end_index) is where the end
 * reward and cost are added.  Follows safe_rlhf/algorithms/ppo_lag/trainer.py and
 * safe_rlhf/trainers/rl_trainer.py:
 *
 *   r_t = clamp(-beta (lp_old - lp_ref) + [t=e] R, +-clip_score)         reward stream
 *   c_t = clamp(+beta (lp_old - lp_ref) + [t=e] C, +-clip_score)         cost stream
 *   GAE on V*M and r*M backwards from T-1 to start (V_T = A_T = 0), G = A + V*M
 *   A = (A_R - lambda A_C) / (1 + lambda)     lambda a constant of the step
 *   actor  = -masked_mean(min(A rho, A clamp(rho, 1-eps, 1+eps)))   rho = exp(lp - lp_old)
 *   critic = 0.5 masked_mean(max((V-G)^2, (clamp(V, V_old-cv, V_old+cv) - G)^2))
 *   masked_mean(x) = mean over rows of (sum_t x M / sum_t M) over the response region
 *
 * Baselines: plain PPO (safe_rlhf/algorithms/ppo) is the reward stream alone (cost NULL in
 * srl_ppo_targets(), or lambda 0).  The reference's PPO with fixed reward shaping (8.2) is
 * plain PPO on R - nu C as the end score, with one critic; keeping both streams with lambda
 * fixed at nu (srl_lagrange SRL_LAMBDA_NONE) gives (A_R - nu A_C)/(1 + nu) instead: the same
 * direction when V = V_R - nu V_C, scaled by 1/(1 + nu), with two critics. */
#ifndef SRL_PPO_H
#define SRL_PPO_H

#include <stddef.h>

/* Hyper-parameters of the step; srl_ppo_defaults() gives scripts/ppo-lag.sh's values. */
struct srl_ppo_opts {
    float kl_coeff;         /* beta: 0.01 (ppo-lag.sh), 0.02 (ppo.sh and reward shaping) */
    float clip_range_score; /* 50: clamp of each per-token reward/cost (<= 0: none) */
    float clip_range_ratio; /* 0.2: PPO ratio clip eps */
    float clip_range_value; /* 5: critic value clip around the rollout values */
    float gamma;            /* 1.0 (hard-coded in the reference) */
    float gae_lambda;       /* 0.95 (hard-coded in the reference) */
};
void srl_ppo_defaults(struct srl_ppo_opts *o);

enum srl_ppo_stream {
    SRL_PPO_REWARD = 0, /* KL penalty subtracted */
    SRL_PPO_COST = 1,   /* KL penalty added (the effective KL coefficient stays beta) */
};

/* Optional statistics of the actor loss (masked means like the loss). */
struct srl_ppo_actor_stats {
    float ratio;     /* mean of rho */
    float clip_frac; /* fraction of positions where the clipped branch is taken and flat */
    float approx_kl; /* mean of lp_old - lp (what the update moved) */
};

/* end[b] = the last column t with mask[b][t] != 0 (the reference's end_index).  A row
 * without any, or whose last one lies before start[b] (no response), fails: SRL_EINVAL. */
int srl_ppo_end_index(const float *mask, const int *start, int B, int T, int *end);

/* Per-token rewards (or costs) of one stream: out (B,T) =
 *   clamp(sign * kl_coeff * (old_logp - ref_logp) + [t = end[b]] * score[b], +-clip)
 * with sign -1 for SRL_PPO_REWARD, +1 for SRL_PPO_COST, over every column (the prompt region
 * too, as the reference; GAE only reads t >= start).  clip <= 0 disables the clamp.
 * Returns 0 or SRL_ENUMERIC (a non-finite input in a row's response region or score). */
int srl_ppo_shape_rewards(const float *old_logp, const float *ref_logp, const float *score,
                          const int *end, const int *start, int B, int T, float kl_coeff,
                          float clip, enum srl_ppo_stream stream, float *out);

/* GAE (separately for each stream): adv and ret (B,T) for t >= start[b]; 0 before start.
 * values are the rollout (old) values.  Rows are independent (ragged lengths are exact: the
 * mask zeroes rewards and values after each row's end).  Returns 0 or SRL_EINVAL. */
int srl_ppo_gae(const float *values, const float *rewards, const float *mask, const int *start,
                int B, int T, float gamma, float lam, float *adv, float *ret);

/* adv[i] = (adv_r[i] - lambda adv_c[i]) / (1 + lambda), i < n. */
void srl_ppo_combine_advantages(const float *adv_r, const float *adv_c, double lambda, size_t n,
                                float *adv);

/* The reference's masked_mean over the response region: mean over rows of
 * sum_t x M / sum_t M.  Rows without a response column are left out of the mean (the reference
 * would give NaN); returns NaN when every row is empty. */
double srl_ppo_masked_mean(const float *x, const float *mask, const int *start, int B, int T);
/* Mean over rows of sum_t x M (reward_with_kl_penalty, kl_divergence of the logs). */
double srl_ppo_row_sum_mean(const float *x, const float *mask, const int *start, int B, int T);

/* Clipped-surrogate actor loss.  logp = fresh log-probs (B,T), old_logp = rollout log-probs,
 * adv = combined advantages.  Writes *loss and dlogp (B,T) = dloss/dlogp (0 outside the
 * response region; what srl_model_backward_logprob() takes).  st may be NULL.
 * Returns 0, SRL_EINVAL (no response token in the batch), SRL_ENOMEM or SRL_ENUMERIC. */
int srl_ppo_actor_loss(const float *logp, const float *old_logp, const float *adv,
                       const float *mask, const int *start, int B, int T, float clip,
                       float *loss, float *dlogp, struct srl_ppo_actor_stats *st);

/* Value-clipped critic loss.  values = fresh values (B,T), old_values = rollout values,
 * returns from srl_ppo_gae().  Writes *loss and dvalues (B,T) = dloss/dvalues (0 outside the
 * region; srl_model_backward_score() takes it on the critic, last column 0 when T = L-1 is
 * widened to L).  Returns 0, SRL_EINVAL, SRL_ENOMEM or SRL_ENUMERIC. */
int srl_ppo_critic_loss(const float *values, const float *old_values, const float *returns,
                        const float *mask, const int *start, int B, int T, float clip,
                        float *loss, float *dvalues);

// --- the whole target computation of one rl_step (before the forwards) ---------------------

/* One rollout micro-batch as post_rollout leaves it (all (B,T) unless noted). */
struct srl_ppo_rollout {
    int B, T;
    const float *mask;        /* sequence mask */
    const int *start;         /* (B) first response column */
    const float *old_logp;    /* actor log-probs at rollout time */
    const float *ref_logp;    /* reference model log-probs */
    const float *reward;      /* (B) reward model end scores (or R - nu C for shaping) */
    const float *cost;        /* (B) cost model end scores; NULL: reward only (plain PPO) */
    const float *old_rvalues; /* reward critic values at rollout time */
    const float *old_cvalues; /* cost critic values (unused when cost is NULL) */
};

/* Caller-allocated outputs, (B,T) each; the cost ones are untouched when cost is NULL. */
struct srl_ppo_targets {
    int *end;             /* (B) */
    float *rewards, *costs; /* KL-shaped per-token streams */
    float *radv, *rret;   /* reward GAE */
    float *cadv, *cret;   /* cost GAE */
    float *adv;           /* (A_R - lambda A_C) / (1 + lambda), or A_R */
};

/* The reference's train/ metrics that need no fresh forward (rl_step's logs). */
struct srl_ppo_rollout_stats {
    float reward, cost;                       /* batch means of the end scores */
    float reward_with_kl_penalty, cost_with_kl_penalty; /* mean over rows of sum_t r_t M */
    float reward_advantage, reward_return;    /* masked means */
    float cost_advantage, cost_return;
    float kl_divergence;                      /* mean over rows of sum_t (lp_old - lp_ref) M */
    float mean_generated_length, max_generated_length; /* response tokens (sum of M) */
};

/* End indices, both KL-shaped streams, both GAEs and the combined advantages with lambda (a
 * constant: the value after this step's multiplier update).  st may be NULL.
 * Returns 0 or SRL_E* as the functions above. */
int srl_ppo_targets(const struct srl_ppo_rollout *ro, const struct srl_ppo_opts *o,
                    double lambda, struct srl_ppo_targets *out, struct srl_ppo_rollout_stats *st);

#endif
