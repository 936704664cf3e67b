/* score_loss.h -- reward- and cost-model losses of Safe RLHF on scores (no model inside).
 *
 * A preference batch of B pairs is scored in one forward of 2B rows (better/safer rows first,
 * then worse/unsafer), right-padded to one width T.  These functions take the scores, return
 * the loss, dL/dscore and the metrics; the caller runs srl_model_backward_score() with the
 * gradient.  Everything follows safe_rlhf/values/{reward,cost}/trainer.py:
 *
 * Reward model, sequence-wise (the scripts' default), r_w = better, r_l = worse end scores:
 *     L = mean_i softplus(-(r_w,i - r_l,i)) + reg * mean([r_l ; r_w]^2)     (2B values)
 * Cost model, sequence-wise, c_s = safer, c_u = unsafer end scores, cost sign s = +1 for an
 * unsafe response, -1 for a safe one (cost > 0 means unsafe):
 *     L = mean_i [softplus(-(c_u - c_s)) + softplus(-s_s c_s) + softplus(-s_u c_u)]
 *         + reg * mean([c_s ; c_u]^2)
 *   A response without a safety label (sign 0) drops its sign term (the mean stays over B).
 * Token-wise: the same terms on per-position scores, each averaged over the positions d..e of
 * pair i (d = first index where the two token rows differ, e = the larger of the two end
 * indices), then the mean over pairs; reg * mean over those 2(e-d+1) scores per pair.  Pad
 * positions of the shorter row inside d..e are compared too, as the reference does.
 *
 * -log(sigmoid(x)) is computed as softplus(-x) = max(-x,0) + log1p(exp(-|x|)) (no overflow). */
#ifndef SRL_SCORE_LOSS_H
#define SRL_SCORE_LOSS_H

#include <stddef.h>
#include <stdint.h>

/* Metrics of one batch (the reference's train/eval log keys in comments). */
struct srl_score_metrics {
    float loss;
    float accuracy;      /* accuracy: mean(r_w > r_l), or mean(c_u > c_s) for the cost model */
    float accuracy_sign; /* accuracy_sign: mean over labelled responses of [s * c > 0]; cost
                          * model only (-1 when no response is labelled) */
    float mean_high;     /* mean end score of the better (RM) / unsafer (CM) responses */
    float mean_low;      /* mean end score of the worse (RM) / safer (CM) responses */
    float mean, std;     /* reward_mean/std, cost_mean/std: over all 2B end scores (std is
                          * unbiased, as torch.std; 0 when 2B = 1) */
    int n_sign;          /* labelled responses counted in accuracy_sign */
};

/* numerically stable softplus(x) = log(1 + exp(x)) = -log(sigmoid(-x)), and sigmoid(x) */
double srl_softplus(double x);
double srl_sigmoid(double x);

// --- end scores ------------------------------------------------------------------------------

/* end[r] = the last index t with mask[r][t] != 0 (the last non-pad token), for R rows of width
 * T; mask may be NULL with lengths len[r] (end = len - 1) instead.  A row without any token is
 * an error (SRL_EINVAL).  Returns 0 or SRL_EINVAL. */
int srl_score_end_index(const float *mask, const int *len, int R, int T, int *end);

/* end_scores[r] = scores[r][end[r]] for scores (R,T). */
void srl_score_gather_end(const float *scores, const int *end, int R, int T, float *end_scores);

/* dscores (R,T) = 0 everywhere except dscores[r][end[r]] = d_end[r] (what
 * srl_model_backward_score() takes for a loss on end scores). */
void srl_score_scatter_end(const float *d_end, const int *end, int R, int T, float *dscores);

// --- sequence-wise losses on end scores ------------------------------------------------------

/* Reward model: better[B], worse[B] end scores.  Writes *loss and, when not NULL, d_better[B],
 * d_worse[B] = dL/dscore and the metrics.  Returns 0, SRL_EINVAL (B < 1) or SRL_ENUMERIC (a
 * non-finite score). */
int srl_rm_loss_seq(const float *better, const float *worse, int B, float reg, float *loss,
                    float *d_better, float *d_worse, struct srl_score_metrics *met);

/* Cost model: safer[B], unsafer[B] end scores; sign_safer[B], sign_unsafer[B] are cost signs
 * (+1 unsafe, -1 safe, 0 unlabelled) or NULL when the whole batch is unlabelled.  As above. */
int srl_cm_loss_seq(const float *safer, const float *unsafer, const int8_t *sign_safer,
                    const int8_t *sign_unsafer, int B, float reg, float *loss, float *d_safer,
                    float *d_unsafer, struct srl_score_metrics *met);

// --- token-wise losses on per-position scores ------------------------------------------------

/* Token-wise variants.  hi/lo scores (B,T) of the better|unsafer and worse|safer rows, their
 * token ids (B,T) and end indices (B).  Pairs with identical token rows fail with SRL_EINVAL
 * (the reference raises).  d_hi/d_lo (B,T) get dL/dscores at every position (may be NULL).
 * The metrics use the end scores.  For the reward model hi = better and lo = worse; for the
 * cost model hi = unsafer, lo = safer with their cost signs. */
int srl_rm_loss_tok(const float *better, const float *worse, const int32_t *ids_better,
                    const int32_t *ids_worse, const int *end_better, const int *end_worse,
                    int B, int T, float reg, float *loss, float *d_better, float *d_worse,
                    struct srl_score_metrics *met);
int srl_cm_loss_tok(const float *safer, const float *unsafer, const int32_t *ids_safer,
                    const int32_t *ids_unsafer, const int *end_safer, const int *end_unsafer,
                    const int8_t *sign_safer, const int8_t *sign_unsafer, int B, int T,
                    float reg, float *loss, float *d_safer, float *d_unsafer,
                    struct srl_score_metrics *met);

#endif
