/* trainer_score.h -- preference pairs for score models, and the reward/cost-model task that
 * lib/trainer.h's loop trains (saferlhf-train-rm, saferlhf-train-cm).
 *
 * A pair set keeps two tokenized sequences per pair, as lib/dataset.h's SFT sets do: sequence
 * 2i is the pair's "low" answer (the better one for a reward model, the safer one for a cost
 * model) and 2i+1 its "high" answer (worse / unsafer).  Each sequence is the prompt rendered
 * with the template (HH dialogues with "hh") + the answer + EOS, cut to max_length tokens, as
 * lib/scorer.h scores it; the score is read at the last token (the EOS unless truncated).
 *
 * Records (lib/dataset.h srl_record_pref):
 *   reward  PKU-SafeRLHF by better_response_id; {prompt, chosen, rejected}; HH {chosen,
 *           rejected} (chosen is better).  A record without better_response_id is bad input.
 *   cost    PKU-SafeRLHF by safer_response_id, with cost signs from is_response_{0,1}_safe
 *           (+1 unsafe, -1 safe; an absent flag: sign 0, its sign term dropped); {chosen,
 *           rejected} and HH {chosen, rejected}: chosen is the safer (HH harmless-base), no
 *           signs.  Contradicting labels (the safer answer flagged unsafe, the other safe) are
 *           bad input, as is a PKU record without safer_response_id.
 * Both: a pair whose two answers are the same (text or tokens) carries no preference and is
 * dropped and counted (the reference raises, but the real HH-RLHF files hold such pairs and
 * must load as they are); so is a pair left identical because max_length cut both before the
 * answers differ.  Bad input is "FILE:LINE: what is wrong" (SRL_EFORMAT), or counted and
 * skipped with skip_bad.
 *
 * The task runs a micro-batch of B pairs as ONE forward of 2B rows [low rows; high rows],
 * right-padded (padding positions -1, so it is masked exactly as HF's attention_mask), then
 * lib/score_loss.h's sequence- or token-wise loss and srl_model_backward_score().  Evaluation
 * adds to the step's log object: eval_loss, eval_accuracy, eval_{better,worse}_mean (reward) or
 * eval_{safer,unsafer}_mean and eval_accuracy_sign (cost, when any response is labelled),
 * eval_score_mean, eval_score_std, eval_pairs. */
#ifndef SRL_TRAINER_SCORE_H
#define SRL_TRAINER_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "score_loss.h"
#include "trainer.h"

enum srl_score_kind { SRL_SCORE_REWARD, SRL_SCORE_COST };
enum srl_score_loss_type { SRL_SCORE_SEQUENCE_WISE, SRL_SCORE_TOKEN_WISE };

struct srl_pair_set {
    struct srl_sft_set seq; /* 2n sequences: 2i low (better|safer), 2i+1 high (worse|unsafer) */
    int8_t *sign;           /* (2n) cost signs of the sequences: +1 unsafe, -1 safe, 0 unknown */
    size_t n;               /* pairs */
    size_t cap;
    size_t n_records;       /* records read */
    size_t n_skipped;       /* bad records skipped (skip_bad) */
    size_t n_truncated;     /* pairs with a sequence cut to max_length (kept) */
    size_t n_dropped;       /* pairs left identical by truncation (not kept) */
    size_t n_identical;     /* pairs whose two answers are the same (not kept) */
    size_t n_unsigned;      /* pairs with no safety label at all (cost model: no sign terms) */
};

struct srl_pair_opts {
    enum srl_score_kind kind;
    const struct srl_tokenizer *tok;
    const struct srl_template *tmpl; /* for non-HH records */
    int max_length;                  /* 0: no limit */
    bool skip_bad;
};

/* Append the pairs of PATH ("-" stdin; JSONL, JSON array, .gz).  Returns 0 or SRL_E* (a bad
 * record: SRL_EFORMAT, logged "FILE:LINE: ..."). */
int srl_pair_read(struct srl_pair_set *s, const char *path, const struct srl_pair_opts *o);
/* Move round(ratio * n) pairs chosen by srl_split_mask into *eval (zero-initialised).
 * Returns 0 or SRL_ENOMEM. */
int srl_pair_split(struct srl_pair_set *s, double ratio, uint64_t seed,
                   struct srl_pair_set *eval);
void srl_pair_set_free(struct srl_pair_set *s);

struct srl_score_task {
    struct srl_train_task task;
    enum srl_score_kind kind;
    enum srl_score_loss_type loss_type;
    float reg;                 /* score regulariser weight (reference 0.001) */
    const struct srl_pair_set *train, *eval;
    size_t *lengths;           /* (train->n) the longer sequence of each pair */
    int32_t pad_id;
    int eval_batch_size;
    // batch scratch, grown as needed
    int32_t *tokens, *pos;     /* (2B,T) */
    float *scores, *dscores;   /* (2B,T) host */
    int *end;                  /* (2B) */
    float *end_scores, *d_end; /* (2B) */
    int8_t *sign;              /* (2B) */
    size_t cap, cap_rows;
};

/* A task over train (eval may be NULL or empty: no evaluation).  Returns 0 or SRL_ENOMEM. */
int srl_score_task_init(struct srl_score_task *st, enum srl_score_kind kind,
                        enum srl_score_loss_type loss_type, float reg,
                        const struct srl_pair_set *train, const struct srl_pair_set *eval,
                        int32_t pad_id, int eval_batch_size);
void srl_score_task_free(struct srl_score_task *st);

/* Scores of every pair of s under m: end scores low[n], high[n] (host arrays), and the mean
 * loss over pairs with the task's loss (*loss, may be NULL).  Returns 0 or SRL_E*. */
int srl_score_pairs(struct srl_score_task *st, struct srl_model *m, const struct srl_pair_set *s,
                    float *low, float *high, double *loss);

#endif
