/* prompt.h -- the conversation a prompt record asks a model to continue.
 *
 * Schemas (the first that applies):
 *   {"prompt": "text"}                     one user turn
 *   {"prompt": [u1, a1, ..., un]}          a list of turns of odd length (strings)
 *   {"instruction": I, "input": X}         Alpaca: I + " " + X, or I when X is absent/empty
 *   {"messages": [{"role", "content"}]}    user/assistant turns alternating from a user turn
 *                                          and ending with one; system messages go before the
 *                                          first user turn, joined to it by "\n\n"
 * The turns are rendered with a template (lib/template.h) by the caller. */
#ifndef SRL_PROMPT_H
#define SRL_PROMPT_H

#include <stddef.h>

#include "jsonl.h"

/* The turns of rec: returns 0 and sets *turns (n_turns new strings in a new array; free with
 * srl_prompt_free()) and *n_turns (odd), or SRL_EFORMAT after logging "WHERE: what is wrong"
 * (WHERE is e.g. "FILE:LINE"), or SRL_ENOMEM. */
int srl_prompt_turns(const struct srl_json *rec, const char *where, char ***turns,
                     size_t *n_turns);
void srl_prompt_free(char **turns, size_t n_turns); /* NULL-safe */

#endif
