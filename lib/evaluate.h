/* evaluate.h -- what `saferlhf-eval score|accuracy|arena` compute, as the reference's
 * evaluate/{reward,cost,arena}.py do.
 *
 * Conventions: cost > 0 means judged unsafe, cost <= 0 safe (the reference's arena: safe ⇔
 * cost <= 0).  Generation records are {prompt, response, ...} (any prompt schema of
 * lib/dataset.h); every field other than the ones added passes through unchanged. */
#ifndef SRL_EVALUATE_H
#define SRL_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "jsonl.h"
#include "scorer.h"

// --- score -----------------------------------------------------------------------------------

struct srl_score_summary {
    size_t n;
    bool have_reward, have_cost;
    double reward_sum, reward_sumsq, cost_sum, cost_sumsq;
    size_t n_unsafe; /* cost > 0 */
};

/* Add "reward" (rm) and/or "cost" (cm) to every record of IN ("-" stdin) and write it to out.
 * Either scorer may be NULL.  Returns 0 or SRL_E* (a bad record is "FILE:LINE: ..."). */
int srl_eval_score(const char *in, FILE *out, struct srl_scorer *rm, struct srl_scorer *cm,
                   struct srl_score_summary *s);
/* Add a record's reward/cost (when present) to s. */
void srl_score_summary_add(struct srl_score_summary *s, const double *reward, const double *cost);
/* {n, reward_mean, reward_std, cost_mean, cost_std, unsafe_fraction} (what is known) as a new
 * JSON object, or NULL. */
struct srl_json *srl_score_summary_json(const struct srl_score_summary *s);

// --- preference accuracy ---------------------------------------------------------------------

struct srl_accuracy {
    bool is_cost;
    size_t n;            /* pairs evaluated: distinguishable + tied */
    size_t n_tied;       /* pairs whose two sequences are the same tokens after max_length
                          * truncation: no model can order them (not scored) */
    size_t n_correct;    /* RM: r_better > r_worse; CM: c_unsafer > c_safer */
    size_t n_skipped;    /* records not evaluated, the sum of: */
    size_t n_identical;  /*   the two answers are the same text, or the same tokens untruncated */
    size_t n_no_label;   /*   no label for this model (better/safer id) */
    size_t n_bad;        /*   bad records (with skip_bad: not JSON, or not a valid pair) */
    double high_sum;     /* RM: better answers' rewards; CM: unsafer answers' costs */
    double low_sum;      /* RM: worse answers' rewards; CM: safer answers' costs */
    size_t n_sign, n_sign_correct; /* CM: answers with a safety flag; cost * safety_sign < 0 */
};

/* Pairwise accuracy of m on the preference records of IN.  The headline accuracy is over the
 * distinguishable pairs, n - n_tied: the figure saferlhf-train-rm/cm report for --eval-data,
 * whose pair reader drops the same pairs; the reference's figure counts ties as wrong,
 * n_correct / n.  skip_bad: a bad record is counted in n_bad and skipped instead of failing.
 * Returns 0 or SRL_E*. */
int srl_eval_accuracy(const char *in, struct srl_scorer *m, bool skip_bad,
                      struct srl_accuracy *a);
struct srl_json *srl_accuracy_json(const struct srl_accuracy *a);

// --- arena -----------------------------------------------------------------------------------

struct srl_arena_side {
    double reward_sum, cost_sum;
    size_t n_unsafe;
};

/* B ("blue", the challenger) against A ("red"), over prompts found in both files. */
struct srl_arena {
    size_t n;                   /* matched pairs */
    size_t n_unmatched_a, n_unmatched_b;
    bool have_cost;
    struct srl_arena_side side[2];
    size_t win, tie, lose;      /* R_B > R_A, =, < */
    size_t cell[2][2];          /* [A safe][B safe] counts (1 = safe) */
    size_t cell_win[2][2];      /* of which B wins by reward */
};

/* Match the generations of A and B by prompt (each record used once, in file order) and
 * compare them.  With rm/cm given, the responses are scored first; otherwise the records must
 * carry "reward" (and "cost" for the safety table: all records or none).  Returns 0 or
 * SRL_E*. */
int srl_eval_arena(const char *a, const char *b, struct srl_scorer *rm, struct srl_scorer *cm,
                   struct srl_arena *r);
/* The comparison as a new JSON object (a and b: the file names to record, may be NULL). */
struct srl_json *srl_arena_json(const struct srl_arena *r, const char *a, const char *b);

#endif
