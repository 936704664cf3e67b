/* template.h -- named prompt templates: how a conversation becomes the text a model reads.
 *
 * A conversation is an odd number of turns [u1, a1, u2, a2, ..., un]: user turns at even
 * indices, the assistant's at odd ones.  The rendered prompt ends where the assistant's next
 * answer begins; the answer is appended with nothing in between, followed by the template's
 * answer terminator (the tokenizer's EOS string for most templates), as the reference does
 * (safe-rlhf constants.py, datasets/utils.py::format_prompt):
 *
 *   saferlhf  BEGINNING OF CONVERSATION: USER: {u1} ASSISTANT:{a1}</s>USER: {u2} ASSISTANT:
 *   hh        \n\nHuman: {u1}\n\nAssistant:{a1}\n\nHuman: {u2}\n\nAssistant:
 *   alpaca    Below is an instruction ... ### Instruction:\n{u1}\n\n### Response:\n
 *   chatml    <|im_start|>user\n{u1}<|im_end|>\n<|im_start|>assistant\n
 *   llama3    <|start_header_id|>user<|end_header_id|>\n\n{u1}<|eot_id|>
 *             <|start_header_id|>assistant<|end_header_id|>\n\n
 *   raw       {u1}{a1}{u2}   (no decoration: for pretraining-style text and story models)
 *
 * Templates are recorded in a checkpoint's config.json ("saferlhf": {"template": NAME}) so the
 * later stages render prompts exactly as the model was trained. */
#ifndef SRL_TEMPLATE_H
#define SRL_TEMPLATE_H

#include <stddef.h>

struct srl_template {
    const char *name;
    const char *begin;      /* once, before the first user turn */
    const char *user_pre;   /* before each user turn */
    const char *user_post;  /* after each user turn: the assistant's cue */
    const char *answer_end; /* after each answer; NULL means the tokenizer's EOS string */
    int eos_between_turns;  /* the EOS string also ends earlier answers (not only the last) */
};

/* The template named NAME, or NULL (no message) when there is none. */
const struct srl_template *srl_template_find(const char *name);
/* "saferlhf, hh, alpaca, chatml, llama3, raw" for usage messages. */
const char *srl_template_names(void);

/* Render turns[0..n) (n odd) as the prompt for the next answer.  eos is the tokenizer's EOS
 * string (used between earlier turns when the template says so).  Returns a new string (free
 * with free()) or NULL with *err = SRL_EINVAL (n even or 0) or SRL_ENOMEM. */
char *srl_template_render(const struct srl_template *t, const char *const *turns, size_t n,
                          const char *eos, int *err);

/* What follows an answer when training on it: the template's answer_end, or eos. */
const char *srl_template_answer_end(const struct srl_template *t, const char *eos);

#endif
