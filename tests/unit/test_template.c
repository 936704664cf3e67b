/* test_template.c -- prompt templates render exactly as the reference's strings. */
#include "test.h"

#include "srl.h"
#include "template.h"

static void expect_render(const char *name, const char *const *turns, size_t n, const char *want)
{
    int err;
    const struct srl_template *t = srl_template_find(name);
    REQUIRE(t != NULL, "no template %s", name);
    char *got = srl_template_render(t, turns, n, "</s>", &err);
    REQUIRE(got != NULL && err == 0);
    EXPECT(strcmp(got, want) == 0, "%s: got [%s] want [%s]", name, got, want);
    free(got);
}

static void test_single_turn(void)
{
    const char *q[] = { "How are you?" };
    expect_render("saferlhf", q, 1, "BEGINNING OF CONVERSATION: USER: How are you? ASSISTANT:");
    expect_render("hh", q, 1, "\n\nHuman: How are you?\n\nAssistant:");
    expect_render("raw", q, 1, "How are you?");
    expect_render("chatml", q, 1,
                  "<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\n");
}

static void test_multi_turn(void)
{
    /* safe-rlhf format_prompt: EOS after each earlier answer, no space added */
    const char *d[] = { "Hi", "Hello!", "Bye" };
    expect_render("saferlhf", d, 3,
                  "BEGINNING OF CONVERSATION: USER: Hi ASSISTANT:Hello!</s>USER: Bye ASSISTANT:");
    const char *h[] = { "Hi", " Hello!", "Bye" };
    expect_render("hh", h, 3, "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Bye\n\nAssistant:");
}

static void test_errors_and_answer_end(void)
{
    int err;
    const char *d[] = { "a", "b" };
    EXPECT(srl_template_find("nope") == NULL);
    EXPECT(srl_template_render(srl_template_find("raw"), d, 2, "</s>", &err) == NULL &&
           err == SRL_EINVAL);
    EXPECT(strcmp(srl_template_answer_end(srl_template_find("saferlhf"), "</s>"), "</s>") == 0);
    EXPECT(strcmp(srl_template_answer_end(srl_template_find("chatml"), "</s>"), "<|im_end|>") ==
           0);
}

int main(void)
{
    RUN(test_single_turn);
    RUN(test_multi_turn);
    RUN(test_errors_and_answer_end);
    return test_summary();
}
