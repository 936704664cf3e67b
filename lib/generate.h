/* generate.h -- batched text generation with a KV cache: the engine behind saferlhf-generate
 * and the PPO rollouts.
 *
 * B sequences of different prompt lengths run together.  Prompts are left-padded to the
 * longest one; every token carries an explicit position (padding -1, never attended to; a
 * prompt's real tokens 0..len-1, its response len, len+1, ...), so a row's logits do not depend
 * on the padding in front of it -- for GPT-2's absolute position embeddings too (the reference
 * derives positions as cumsum(mask)-1 in generation but arange when scoring, reference quirk 2;
 * here the position of a token is the same everywhere).  Batched and one-at-a-time greedy decoding give
 * the same tokens.
 *
 * Each step samples the next token of every unfinished row (lib/sampler.h; rows in parallel,
 * one RNG stream per row seeded from params.seed and the row's `stream`, so results do not
 * depend on batch size or thread count).  A row finishes:
 *   eos     at the EOS token (kept as the last response token: PPO scores and trains it);
 *   stop    when the response's bytes contain one of the stop strings (the tokens up to and
 *           including the one completing it are kept; cutting the text is the caller's job);
 *   length  after max_new_tokens tokens, or when the next position would reach the model's
 *           max_position_embeddings.
 * A finished row gets nothing appended; the batch ends when every row has finished (finished
 * rows still ride along in the batched matmuls until then). */
#ifndef SRL_GENERATE_H
#define SRL_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

enum srl_finish {
    SRL_FINISH_NONE = 0,
    SRL_FINISH_EOS,
    SRL_FINISH_STOP,
    SRL_FINISH_LENGTH,
};
/* "eos", "stop", "length" ("none" for SRL_FINISH_NONE). */
const char *srl_finish_name(enum srl_finish f);

struct srl_gen_params {
    struct srl_sampler_params sample;
    int max_new_tokens;       /* > 0 */
    int eos_id;               /* -1: never stop at a token */
    const char *const *stop;  /* stop strings (n_stop of them; need tok) */
    size_t n_stop;
    const struct srl_tokenizer *tok; /* token bytes for stop strings; may be NULL without */
    uint64_t seed;
    bool logprobs;            /* fill logp and logp_raw */
};

/* One sequence: the caller sets prompt, prompt_len (> 0) and stream; srl_generate() fills the
 * rest (free with srl_gen_seq_clear()). */
struct srl_gen_seq {
    const int32_t *prompt;
    int prompt_len;
    uint64_t stream;          /* RNG stream: e.g. record index * samples + sample index */
    int32_t *tokens;          /* (n_tokens) response token ids, EOS included when reached */
    float *logp;              /* (n_tokens) log p of each token under the sampled distribution */
    float *logp_raw;          /* (n_tokens) log p under the raw softmax (see sampler.h) */
    int n_tokens;
    enum srl_finish finish;
};

/* Generate for seqs[0..B).  The model's KV cache is reset to (B, longest prompt +
 * max_new_tokens), or kept at its size when it already has B rows and enough slots.  Returns 0 or SRL_E* (bad parameters, a prompt that does not fit the model's
 * positions, out of memory); on failure the sequences' outputs are cleared. */
int srl_generate(struct srl_model *m, const struct srl_gen_params *p, struct srl_gen_seq *seqs,
                 int B);

/* Free what srl_generate() filled in (prompt and stream are kept). */
void srl_gen_seq_clear(struct srl_gen_seq *s);

#endif
