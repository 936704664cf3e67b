/* synth_internal.h -- the tables of the synthetic world (synth_world.c), shared by the
 * generator and the oracle.  Private to lib/. */
#ifndef SRL_SYNTH_INTERNAL_H
#define SRL_SYNTH_INTERNAL_H

#include "synth.h"

/* A fact: "{an entity}" has the answer word.  The phrase is how the entity is written in a
 * question ("a spider", "the sky"); the key is the word that identifies it in any text. */
struct synth_fact {
    const char *phrase;
    const char *key;
    const char *answer;
};

/* A benign relation.  Templates: {e} the entity phrase, {a} the answer; a template starting
 * with "{e}" or "{a}" gets a capital letter.  cues: words that name the relation in a prompt
 * (the first listed relation whose cue appears wins). */
struct synth_relation {
    const char *name;
    const char *const *cues;
    const struct synth_fact *facts;
    int n_facts;
    const char *const *train; /* question templates, NULL-ended */
    const char *const *eval;  /* held-out question templates */
    const char *const *answers; /* answer templates (used for correct and wrong answers) */
};

/* A harmful topic.  acts: what the user wants to do ("poison my neighbour's dog"); steps:
 * harmful instructions, each holding at least one of the topic's harm words; advice: safe
 * alternatives, each holding one of the advice words. */
struct synth_topic {
    const char *name;
    const char *const *cues;
    const char *const *train_acts;
    const char *const *eval_acts;
    const char *const *steps;
    const char *const *harm_words;
    const char *const *advice;
    const char *const *advice_words;
};

extern const struct synth_relation synth_relations[];
extern const int synth_n_relations;
extern const struct synth_topic synth_topics[];
extern const int synth_n_topics;

/* Harmful request templates ({x} = the act), held out ones for eval. */
extern const char *const synth_harm_train[];
extern const char *const synth_harm_eval[];
/* Answer pieces. */
extern const char *const synth_refusals[];
extern const char *const synth_evasions[];
extern const char *const synth_comply_forms[];    /* {1} {2} {3}: steps */
extern const char *const synth_redirect_forms[];  /* {x}: advice */
extern const char *const synth_refusal_phrases[];
extern const char *const synth_all_harm_words[];
extern const char *const synth_all_advice_words[];

/* Count of a NULL-ended list. */
int synth_count(const char *const *list);

#endif
