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

/* --- prompt files: every prompt input (saferlhf-generate, saferlhf-ppo-lag --prompts) -------
 * JSON Lines, or a JSON array, of prompt records or of strings (the string s is the record
 * {"prompt": s}), or one JSON object holding a list of them, as the safety-tuned-llamas
 * evaluation sets {"instructions": ["...", ...]}: field names the list, NULL takes the object's
 * only list of records or strings.  A one-line object is such a container when it has no prompt
 * field (prompt, instruction, messages, chosen, text) and is the file's only value.  JSON Lines
 * and arrays stream; a JSON object document is parsed whole (lib/jsonl.h).
 * srl_prompts_open returns a reader (srl_jsonl_close() it) or NULL with *err set (logged). */
struct srl_jsonl *srl_prompts_open(const char *path, const char *field, int *err);
/* The next prompt record, a JSON object (a new reference), as srl_jsonl_next(). */
int srl_prompts_next(struct srl_jsonl *r, struct srl_json **rec);

#endif
