/* sampler.h -- choose the next token of one sequence from its logits, as Hugging Face's
 * generate() does, and report the log-probability of the choice.
 *
 * Order (HF's logits processors, then its warpers):
 *   1. repetition penalty (CTRL): every distinct token already in the prompt or the response
 *      has its logit divided by the penalty when positive, multiplied when negative;
 *   2. temperature: logits / temperature (skipped at 1);
 *   3. top-k: keep the tokens whose logit is >= the k-th largest (ties at the k-th kept);
 *   4. top-p (nucleus): keep, in descending probability, each token whose predecessors' total
 *      probability is < top_p -- the smallest set with cumulative probability >= top_p, and at
 *      least one token (HF TopPLogitsWarper);
 *   5. draw from the softmax of what is left.
 * Greedy (temperature 0): the argmax of the logits after step 1 (HF ignores the warpers when
 * do_sample is false).
 *
 * Two log-probabilities of the chosen token are returned:
 *   logp      from the distribution actually sampled from (steps 1-4, then softmax); for greedy,
 *             the softmax of the penalised logits at temperature 1 with no filter.  This is
 *             the behaviour policy's log-probability.
 *   logp_raw  log softmax of the untouched logits: what the reference's PPO records for its
 *             old policy (safe-rlhf recomputes log-probs from raw logits, ignoring temperature,
 *             top-k, top-p and repetition penalty; reference quirk 4).  The two agree only with
 *             the default settings (temperature 1, no filters, no penalty).
 *
 * One srl_rng per sequence (seeded from the run's seed and the sequence's index by
 * srl_sampler_stream_seed) makes the draws independent of batch size and thread count; one
 * uniform number is consumed per sampled token (none when greedy). */
#ifndef SRL_SAMPLER_H
#define SRL_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

struct srl_sampler_params {
    float temperature;        /* 0: greedy; HF default 1 */
    int top_k;                /* 0: no top-k filter */
    float top_p;              /* 1: no nucleus filter; in (0, 1] */
    float repetition_penalty; /* 1: none; > 0 */
};
#define SRL_SAMPLER_PARAMS_INIT { 1.0f, 0, 1.0f, 1.0f }

struct srl_sampler_pair {
    float v; /* logit (scaled), then probability */
    int id;
};

/* Scratch for one vocabulary of V tokens (one per thread). */
struct srl_sampler {
    int V;
    float *x;                      /* (V) working logits */
    struct srl_sampler_pair *cand; /* (V) candidates kept by the filters */
    unsigned char *seen;           /* (V) marks for the repetition penalty */
};

/* Returns 0 or SRL_ENOMEM / SRL_EINVAL (V <= 0). */
int srl_sampler_init(struct srl_sampler *s, int V);
void srl_sampler_free(struct srl_sampler *s); /* NULL-safe; leaves s zeroed */

/* Check a parameter set; logs and returns SRL_EINVAL when a value is out of range. */
int srl_sampler_check(const struct srl_sampler_params *p);

/* Choose a token from logits (V) (not modified).  history[0..n_history) are the tokens the
 * repetition penalty applies to (prompt + response so far; duplicates are fine).  rng may be
 * NULL when greedy.  logp / logp_raw (may be NULL) receive the log-probabilities described
 * above.  Returns the token id (>= 0). */
int srl_sample(struct srl_sampler *s, const struct srl_sampler_params *p, const float *logits,
               const int32_t *history, size_t n_history, struct srl_rng *rng, float *logp,
               float *logp_raw);

/* The seed of sequence `stream` (e.g. record * num_return_sequences + sample) of a run seeded
 * with seed: distinct streams give unrelated generators. */
uint64_t srl_sampler_stream_seed(uint64_t seed, uint64_t stream);

#endif
