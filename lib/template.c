/* template.c -- the named prompt templates and their rendering. */
#include "template.h"

#include <stdlib.h>
#include <string.h>

#include "srl.h"

static const struct srl_template templates[] = {
    /* safe-rlhf's PROMPT_BEGIN / PROMPT_USER / PROMPT_ASSISTANT; EOS after every answer */
    { "saferlhf", "BEGINNING OF CONVERSATION: ", "USER: ", " ASSISTANT:", NULL, 1 },
    /* Anthropic HH-RLHF dialogues; the answer carries its own leading space */
    { "hh", "", "\n\nHuman: ", "\n\nAssistant:", NULL, 0 },
    { "alpaca",
      "Below is an instruction that describes a task. Write a response that appropriately "
      "completes the request.\n\n",
      "### Instruction:\n", "\n\n### Response:\n", NULL, 0 },
    { "chatml", "", "<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>", 1 },
    { "llama3", "", "<|start_header_id|>user<|end_header_id|>\n\n",
      "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>", 1 },
    { "raw", "", "", "", NULL, 0 },
};

#define N_TEMPLATES (sizeof templates / sizeof templates[0])

const struct srl_template *srl_template_find(const char *name)
{
    for (size_t i = 0; name && i < N_TEMPLATES; i++)
        if (strcmp(templates[i].name, name) == 0) return &templates[i];
    return NULL;
}

const char *srl_template_names(void) { return "saferlhf, hh, alpaca, chatml, llama3, raw"; }

const char *srl_template_answer_end(const struct srl_template *t, const char *eos)
{
    return t->answer_end ? t->answer_end : (eos ? eos : "");
}

char *srl_template_render(const struct srl_template *t, const char *const *turns, size_t n,
                          const char *eos, int *err)
{
    if (n == 0 || n % 2 == 0) {
        *err = SRL_EINVAL;
        return NULL;
    }
    const char *between = t->eos_between_turns ? srl_template_answer_end(t, eos) : "";
    size_t len = strlen(t->begin) + 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(turns[i]) +
               (i % 2 == 0 ? strlen(t->user_pre) + strlen(t->user_post) : strlen(between));
    char *out = malloc(len);
    if (!out) {
        *err = SRL_ENOMEM;
        return NULL;
    }
    char *p = stpcpy(out, t->begin);
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 0) {
            p = stpcpy(p, t->user_pre);
            p = stpcpy(p, turns[i]);
            p = stpcpy(p, t->user_post);
        } else {
            p = stpcpy(p, turns[i]);
            p = stpcpy(p, between);
        }
    }
    *err = 0;
    return out;
}
