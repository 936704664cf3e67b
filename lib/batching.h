/* batching.h -- length-bucketed batch plans and padded LM batches.
 *
 * A plan orders one epoch: the example indices are shuffled with a seeded RNG (seed, epoch),
 * cut into windows of `window` batches, each window sorted by length (ties by index) and cut
 * into batches, and the batches are shuffled again.  Similar lengths share a batch, so little
 * compute goes to padding, while the order stays random across the epoch and is a pure
 * function of (seed, epoch, lengths, batch size): a resumed run rebuilds the same plan and
 * continues at a batch index.
 *
 * Batches are right-padded (as the reference's supervised collator): tokens (B,T) with T the
 * longest example of the batch, padding filled with pad_id; for srl_model_loss the targets are
 * targets[b][t] = token t+1 (-1 past the end) and mask[b][t] = 1 where token t+1 is trained
 * (response tokens and EOS), so the loss is HF's shifted causal-LM loss over labels != -100. */
#ifndef SRL_BATCHING_H
#define SRL_BATCHING_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

struct srl_batch_plan {
    size_t *order;      /* (n) example indices, batch after batch */
    size_t *first;      /* (n_batches + 1) batch b is order[first[b] .. first[b+1]) */
    size_t n, n_batches;
    size_t real_tokens;   /* sum of the lengths */
    size_t padded_tokens; /* sum over batches of B * T */
};

#define SRL_BATCH_WINDOW 64 /* batches per sorting window */

/* Plan an epoch of n examples with the given lengths into batches of at most batch_size
 * (only the last may be smaller).  window <= 0: SRL_BATCH_WINDOW; window 1 with a huge batch
 * size sorts the whole set.  Returns 0 or SRL_ENOMEM / SRL_EINVAL. */
int srl_batch_plan_make(struct srl_batch_plan *p, const size_t *lengths, size_t n,
                        int batch_size, int window, uint64_t seed, int64_t epoch);
/* Sorted by length, no shuffling (evaluation). */
int srl_batch_plan_sorted(struct srl_batch_plan *p, const size_t *lengths, size_t n,
                          int batch_size);
void srl_batch_plan_free(struct srl_batch_plan *p); /* zeroes; NULL-safe */

/* A padded LM batch; buffers grow as needed and are reused between calls. */
struct srl_lm_batch {
    int B, T;
    int32_t *tokens;  /* (B,T) */
    int32_t *targets; /* (B,T) */
    float *mask;      /* (B,T) */
    size_t n_real;    /* tokens that are not padding */
    size_t n_trained; /* mask sum */
    size_t cap;
};

/* Fill *b with examples idx[0..n) of s.  Returns 0 or SRL_ENOMEM. */
int srl_lm_batch_fill(struct srl_lm_batch *b, const struct srl_sft_set *s, const size_t *idx,
                      size_t n, int32_t pad_id);
void srl_lm_batch_free(struct srl_lm_batch *b);

#endif
