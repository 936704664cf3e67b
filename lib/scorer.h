/* scorer.h -- end scores of (prompt, answer) pairs under a reward or cost model.
 *
 * The convention of the RM/CM trainers (safe-rlhf score models): each sequence is the prompt
 * rendered with the model's template (config.json "saferlhf": {"template"}, default saferlhf;
 * HH dialogues always with hh) + the answer + the template's answer end (the EOS string),
 * tokenized as lib/dataset.h does (srl_tokenize_conv), cut to max_length tokens, right-padded,
 * and the score is read at the last real token (srl_score_gather_end).  Sequences are scored in
 * batches of similar length (srl_batch_plan_sorted); results come back in input order. */
#ifndef SRL_SCORER_H
#define SRL_SCORER_H

#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "dataset.h"
#include "model.h"
#include "tokenizer.h"

struct srl_scorer {
    struct srl_model *model;
    struct srl_tokenizer *tok;
    const struct srl_template *tmpl;
    bool is_cost;      /* config "saferlhf": {"score_type": "cost"} */
    int batch_size;
    int max_length;    /* 0: the model's max_position_embeddings */
    int pad_id;
    size_t n_truncated; /* sequences cut to max_length so far */
};

/* Load the score model in DIR (config.json with a score head, model.safetensors, tokenizer.json)
 * onto be, with SRL_LOAD_* flags.  Returns 0 and *out (free with srl_scorer_free()) or SRL_E*
 * (logged). */
int srl_scorer_load(const char *dir, const struct srl_backend *be, int batch_size,
                    int max_length, unsigned load_flags, struct srl_scorer **out);
void srl_scorer_free(struct srl_scorer *sc); /* NULL-safe */

/* The tokens the scorer reads for prompt p answered with answer (cut to max_length): returns
 * their count with *ids (malloc'ed) and *truncated (may be NULL) set, or SRL_E*. */
int srl_scorer_tokens(const struct srl_scorer *sc, const struct srl_conv *p, const char *answer,
                      int32_t **ids, bool *truncated);

/* scores[i] = end score of prompts[i] (odd number of turns) answered with answers[i].
 * Returns 0 or SRL_E*. */
int srl_scorer_score(struct srl_scorer *sc, const struct srl_conv *prompts,
                     const char *const *answers, size_t n, float *scores);

#endif
