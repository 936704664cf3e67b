/* test_dataset.c -- records -> conversations (SFT, preference, prompt), the reference's SFT
 * tokenization and prompt masks (tests/ref/sft from scripts/make_sft_fixtures.py), example
 * sets, eval splits, length-bucketed batch plans and padded LM batches. */
#include <stdint.h>

#include "batching.h"
#include "dataset.h"
#include "srl.h"
#include "test.h"

static struct srl_json *js(const char *text)
{
    int err;
    return srl_json_parse(text, strlen(text), "test", &err);
}

static int sft_turns(const char *text, struct srl_conv *c)
{
    struct srl_json *v = js(text);
    int rc = srl_record_sft(v, "t.jsonl:1", c);
    srl_json_decref(v);
    return rc;
}

static void test_sft_records(void)
{
    struct srl_conv c;
    REQUIRE(sft_turns("{\"prompt\": \"hi\", \"response\": \"yo\"}", &c) == 0);
    EXPECT(c.n == 2 && !strcmp(c.turns[0], "hi") && !strcmp(c.turns[1], "yo") && !c.hh);
    srl_conv_free(&c);
    REQUIRE(sft_turns("{\"prompt\": [\"a\", \"b\", \"c\"], \"response\": \"d\"}", &c) == 0);
    EXPECT(c.n == 4 && !strcmp(c.turns[2], "c") && !strcmp(c.turns[3], "d"));
    srl_conv_free(&c);
    REQUIRE(sft_turns("{\"instruction\": \"Add\", \"input\": \"2 and 3\", \"output\": \"5\"}",
                      &c) == 0);
    EXPECT(c.n == 2 && !strcmp(c.turns[0], "Add 2 and 3"), "alpaca joins with a space");
    srl_conv_free(&c);
    REQUIRE(sft_turns("{\"instruction\": \"Add\", \"input\": \"\", \"output\": \"5\"}", &c) == 0);
    EXPECT(c.n == 2 && !strcmp(c.turns[0], "Add"));
    srl_conv_free(&c);
    REQUIRE(sft_turns("{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
                      "{\"role\": \"user\", \"content\": \"q1\"},"
                      "{\"role\": \"assistant\", \"content\": \"a1\"},"
                      "{\"role\": \"user\", \"content\": \"q2\"},"
                      "{\"role\": \"assistant\", \"content\": \"a2\"}]}", &c) == 0);
    EXPECT(c.n == 4 && !strcmp(c.turns[0], "Be brief.\n\nq1") && !strcmp(c.turns[3], "a2"));
    srl_conv_free(&c);
    REQUIRE(sft_turns("{\"chosen\": \"\\n\\nHuman: Hi there\\n\\nAssistant: Hello!\\n\\nHuman: "
                      "Bye\\n\\nAssistant: Goodbye.\"}", &c) == 0);
    EXPECT(c.hh && c.n == 4 && !strcmp(c.turns[0], "Hi there") &&
           !strcmp(c.turns[1], " Hello!") && !strcmp(c.turns[3], " Goodbye."),
           "HH: user loses one space, assistant keeps it");
    srl_conv_free(&c);
    /* errors */
    EXPECT(sft_turns("{\"prompt\": \"x\"}", &c) == SRL_EFORMAT);
    EXPECT(sft_turns("{\"prompt\": 3, \"response\": \"x\"}", &c) == SRL_EFORMAT);
    EXPECT(sft_turns("{\"prompt\": \"hi\", \"response\": null}", &c) == SRL_EFORMAT,
           "a null response is a bad record (it crashed in strlen)");
    EXPECT(sft_turns("{\"prompt\": [\"a\", \"b\"], \"response\": \"x\"}", &c) == SRL_EFORMAT);
    EXPECT(sft_turns("{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}]}", &c) ==
           SRL_EFORMAT);
    EXPECT(sft_turns("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", &c) ==
           SRL_EFORMAT, "ends with a user turn");
    EXPECT(sft_turns("{\"chosen\": \"\\n\\nHuman: only a question\"}", &c) == SRL_EFORMAT);
}

static void test_hh_roundtrip(void)
{
    const char *text = "\n\nHuman: What is 2+2?\n\nAssistant: 4.\n\nHuman: Sure?\n\nHuman: "
                       "Really?\n\nAssistant: Yes.";
    struct srl_conv c = { 0 };
    REQUIRE(srl_hh_split(text, "x", &c) == 0);
    EXPECT(c.n == 4, "a repeated Human marker stays inside the turn: n=%zu", c.n);
    const struct srl_template *hh = srl_template_find("hh");
    int err;
    char *r = srl_template_render(hh, (const char *const *)c.turns, c.n - 1, "", &err);
    REQUIRE(r);
    size_t rl = strlen(r);
    EXPECT(strncmp(r, text, rl) == 0 && strcmp(text + rl, c.turns[3]) == 0,
           "render(prompt) + answer gives the text back");
    free(r);
    srl_conv_free(&c);
    EXPECT(srl_hh_split("Hello\n\nAssistant: x", "x", &c) == SRL_EFORMAT);
    srl_conv_free(&c);
}

static int pref(const char *text, struct srl_pref *p)
{
    struct srl_json *v = js(text);
    int rc = srl_record_pref(v, "p.jsonl:7", p);
    srl_json_decref(v);
    return rc;
}

static void test_preferences(void)
{
    struct srl_pref p;
    REQUIRE(pref("{\"prompt\": \"q\", \"response_0\": \"a\", \"response_1\": \"b\", "
                 "\"better_response_id\": 1, \"safer_response_id\": 0, "
                 "\"is_response_0_safe\": true, \"is_response_1_safe\": false}", &p) == 0);
    EXPECT(p.prompt.n == 1 && !strcmp(p.answer[0], "a") && !strcmp(p.answer[1], "b"));
    EXPECT(p.better == 1 && p.safer == 0 && p.is_safe[0] == 1 && p.is_safe[1] == 0);
    srl_pref_free(&p);
    /* safety-only records (the shared safety pairs have no better_response_id) */
    REQUIRE(pref("{\"prompt\": \"q\", \"response_0\": \"a\", \"response_1\": \"b\", "
                 "\"safer_response_id\": 1, \"is_response_0_safe\": false, "
                 "\"is_response_1_safe\": true}", &p) == 0);
    EXPECT(p.better == -1 && p.safer == 1);
    srl_pref_free(&p);
    REQUIRE(pref("{\"prompt\": \"q\", \"chosen\": \"good\", \"rejected\": \"bad\"}", &p) == 0);
    EXPECT(p.better == 0 && !strcmp(p.answer[0], "good") && p.safer == -1);
    srl_pref_free(&p);
    REQUIRE(pref("{\"chosen\": \"\\n\\nHuman: q\\n\\nAssistant: x\\n\\nHuman: r\\n\\nAssistant:"
                 " good\", \"rejected\": \"\\n\\nHuman: q\\n\\nAssistant: x\\n\\nHuman: r\\n\\n"
                 "Assistant: bad\"}", &p) == 0);
    EXPECT(p.prompt.n == 3 && p.prompt.hh && !strcmp(p.prompt.turns[2], "r") &&
           !strcmp(p.answer[0], " good") && !strcmp(p.answer[1], " bad") && p.better == 0);
    srl_pref_free(&p);
    /* validation */
    EXPECT(pref("{\"prompt\": \"q\", \"response_0\": \"a\", \"response_1\": \"b\", "
                "\"better_response_id\": 2}", &p) == SRL_EFORMAT, "id 2");
    EXPECT(pref("{\"prompt\": \"q\", \"response_0\": \"a\", \"response_1\": \"a\", "
                "\"better_response_id\": 0}", &p) == SRL_PREF_IDENTICAL, "identical answers");
    EXPECT(pref("{\"prompt\": \"q\", \"response_0\": \"a\", \"response_1\": \"b\"}", &p) ==
           SRL_EFORMAT, "no label");
    EXPECT(pref("{\"response_0\": \"a\", \"response_1\": \"b\", \"better_response_id\": 0}",
                &p) == SRL_EFORMAT, "no prompt");
    EXPECT(pref("{\"prompt\": \"q\", \"response_0\": \"a\", \"response_1\": \"b\", "
                "\"safer_response_id\": 0, \"is_response_0_safe\": false, "
                "\"is_response_1_safe\": true}", &p) == SRL_EFORMAT, "safer one is unsafe");
    EXPECT(pref("{\"prompt\": \"q\", \"response_0\": \"a\", \"response_1\": \"b\", "
                "\"safer_response_id\": 0, \"is_response_0_safe\": \"yes\"}", &p) ==
           SRL_EFORMAT, "flag not a boolean");
    EXPECT(pref("{\"chosen\": \"\\n\\nHuman: q\\n\\nAssistant: a\", \"rejected\": \"\\n\\nHuman:"
                " other\\n\\nAssistant: b\"}", &p) == SRL_EFORMAT, "HH prefixes differ");
}

static void test_prompt_records(void)
{
    struct srl_conv c;
    struct srl_json *v = js("{\"chosen\": \"\\n\\nHuman: q1\\n\\nAssistant: a1\\n\\nHuman: "
                            "q2\\n\\nAssistant: a2\"}");
    REQUIRE(srl_record_prompt(v, "x", &c) == 0);
    EXPECT(c.n == 3 && !strcmp(c.turns[2], "q2"), "HH prompt drops the final answer");
    srl_conv_free(&c);
    srl_json_decref(v);
    v = js("{\"instruction\": \"Add\", \"input\": \"1 and 2\"}");
    REQUIRE(srl_record_prompt(v, "x", &c) == 0);
    EXPECT(c.n == 1 && !strcmp(c.turns[0], "Add 1 and 2"));
    srl_conv_free(&c);
    srl_json_decref(v);
}

static void test_tokenize_reference(void)
{
    const char *cases = "tests/ref/sft/cases.jsonl";
    int err, n_cases = 0;
    struct srl_tokenizer *demo = srl_tokenizer_load("tests/data/sft_demo_tokenizer", &err);
    struct srl_tokenizer *bos = srl_tokenizer_load("tests/ref/sft/tok_bos", &err);
    struct srl_jsonl *r = srl_jsonl_open(cases, &err);
    struct srl_json *rec;
    REQUIRE(demo && bos && r);
    EXPECT(!strcmp(srl_tokenizer_eos_string(bos), "</s>"));
    while (srl_jsonl_next(r, &rec) == 0) {
        const char *tn = srl_json_string(srl_json_get(rec, "tokenizer"));
        const struct srl_template *t =
            srl_template_find(srl_json_string(srl_json_get(rec, "template")));
        struct srl_json *turns = srl_json_get(rec, "turns"), *ids = srl_json_get(rec, "ids");
        struct srl_json *labels = srl_json_get(rec, "labels");
        const char *tv[8];
        size_t n = srl_json_array_size(turns);
        for (size_t i = 0; i < n && i < 8; i++) tv[i] = srl_json_string(srl_json_array_at(turns,
                                                                                         i));
        int32_t *got = NULL;
        uint8_t *train = NULL;
        bool trunc;
        int maxl = (int)srl_json_integer(srl_json_get(rec, "max_length"));
        int len = srl_tokenize_conv(!strcmp(tn, "bos") ? bos : demo, t, tv, n, false, maxl, &got,
                                    &train, &trunc);
        int ok = len == (int)srl_json_array_size(ids) && trunc == (maxl > 0);
        for (int j = 0; ok && j < len; j++) {
            long long want_label = srl_json_integer(srl_json_array_at(labels, (size_t)j));
            ok = got[j] == srl_json_integer(srl_json_array_at(ids, (size_t)j)) &&
                 train[j] == (want_label != -100);
        }
        EXPECT(ok, "case %d (%s, %s, %zu turns): len %d vs %zu", n_cases, tn, t->name, n, len,
               srl_json_array_size(ids));
        /* last_only masks every earlier answer */
        if (n == 4 && maxl == 0) {
            int32_t *g2;
            uint8_t *t2;
            int l2 = srl_tokenize_conv(demo, t, tv, n, true, 0, &g2, &t2, &trunc);
            int trained = 0, trained_all = 0;
            int32_t *g1;
            uint8_t *t1;
            srl_tokenize_conv(demo, t, tv, n, false, 0, &g1, &t1, &trunc);
            for (int j = 0; j < l2; j++) trained += t2[j], trained_all += t1[j];
            EXPECT(trained > 0 && trained < trained_all, "last_only %d vs %d", trained,
                   trained_all);
            free(g1), free(t1), free(g2), free(t2);
        }
        free(got);
        free(train);
        srl_json_decref(rec);
        n_cases++;
    }
    EXPECT(n_cases == 16, "%d cases", n_cases);
    srl_jsonl_close(r);
    srl_tokenizer_free(demo);
    srl_tokenizer_free(bos);
}

static void test_sft_set(void)
{
    int err;
    struct srl_tokenizer *tok = srl_tokenizer_load("tests/data/sft_demo_tokenizer", &err);
    REQUIRE(tok);
    struct srl_sft_opts o = { tok, srl_template_find("saferlhf"), 0, false };
    struct srl_sft_set s = { 0 }, ev = { 0 }, s2 = { 0 }, ev2 = { 0 };
    REQUIRE(srl_sft_read(&s, "tests/data/sft_demo.jsonl", &o) == 0);
    EXPECT(s.n == 300 && s.n_records == 300 && s.n_truncated == 0 && s.n_dropped == 0);
    int eos_ok = 1, bos_masked = 1;
    for (size_t i = 0; i < s.n; i++) {
        size_t last = s.start[i + 1] - 1;
        eos_ok &= s.ids[last] == 0 && s.train[last] == 1;
        bos_masked &= s.train[s.start[i]] == 0;
    }
    EXPECT(eos_ok, "every example ends with a trained EOS");
    EXPECT(bos_masked, "every example starts masked");
    EXPECT(s.line[0] == 1 && s.line[299] == 300);
    /* truncation */
    o.max_length = 20;
    REQUIRE(srl_sft_read(&s2, "tests/data/sft_demo.jsonl", &o) == 0);
    EXPECT(s2.n + s2.n_dropped == 300 && s2.n_truncated == 300 && s2.n_dropped > 0,
           "n %zu dropped %zu truncated %zu", s2.n, s2.n_dropped, s2.n_truncated);
    for (size_t i = 0; i < s2.n; i++) EXPECT(srl_sft_len(&s2, i) <= 20);
    srl_sft_set_free(&s2);
    /* split: 10% held out, deterministic, every example in exactly one set */
    o.max_length = 0;
    REQUIRE(srl_sft_read(&s2, "tests/data/sft_demo.jsonl", &o) == 0);
    REQUIRE(srl_sft_split(&s, 0.1, 42, &ev) == 0 && srl_sft_split(&s2, 0.1, 42, &ev2) == 0);
    EXPECT(ev.n == 30 && s.n == 270 && ev2.n == 30);
    EXPECT(ev.n_tokens == ev2.n_tokens && !memcmp(ev.line, ev2.line, 30 * sizeof(long)));
    long sum = 0;
    for (size_t i = 0; i < s.n; i++) sum += s.line[i];
    for (size_t i = 0; i < ev.n; i++) sum += ev.line[i];
    EXPECT(sum == 300 * 301 / 2, "lines partition 1..300");
    srl_sft_set_free(&s);
    srl_sft_set_free(&s2);
    srl_sft_set_free(&ev);
    srl_sft_set_free(&ev2);
    /* bad records: FILE:LINE error, or counted with skip_bad */
    FILE *fp = fopen("/tmp/test_dataset_bad.jsonl", "w");
    REQUIRE(fp);
    fputs("{\"prompt\": \"a\", \"response\": \"b\"}\n{\"prompt\": \"a\"}\nnot json\n"
          "{\"prompt\": \"c\", \"response\": \"d\"}\n"
          "{\"prompt\": \"hi\", \"response\": null}\n", fp);
    fclose(fp);
    EXPECT(srl_sft_read(&s, "/tmp/test_dataset_bad.jsonl", &o) == SRL_EFORMAT);
    srl_sft_set_free(&s);
    o.skip_bad = true;
    EXPECT(srl_sft_read(&s, "/tmp/test_dataset_bad.jsonl", &o) == 0);
    EXPECT(s.n == 2 && s.n_skipped == 3 && s.line[1] == 4);
    srl_sft_set_free(&s);
    remove("/tmp/test_dataset_bad.jsonl");
    srl_tokenizer_free(tok);
}

static void test_batch_plan(void)
{
    enum { N = 1000, BS = 8 };
    size_t len[N];
    for (size_t i = 0; i < N; i++) len[i] = 5 + (i * 7919) % 200;
    struct srl_batch_plan a, b, c, w;
    REQUIRE(srl_batch_plan_make(&a, len, N, BS, 0, 1234, 0) == 0);
    REQUIRE(srl_batch_plan_make(&b, len, N, BS, 0, 1234, 0) == 0);
    REQUIRE(srl_batch_plan_make(&c, len, N, BS, 0, 1234, 1) == 0);
    REQUIRE(srl_batch_plan_make(&w, len, N, BS, 1, 1234, 0) == 0); /* windows of one batch */
    EXPECT(a.n_batches == 125 && a.first[125] == N);
    EXPECT(!memcmp(a.order, b.order, sizeof a.order[0] * N), "same seed, same epoch: same plan");
    EXPECT(memcmp(a.order, c.order, sizeof a.order[0] * N) != 0, "another epoch: another plan");
    int seen[N] = { 0 }, perm = 1;
    for (size_t i = 0; i < N; i++) seen[a.order[i]]++;
    for (size_t i = 0; i < N; i++) perm &= seen[i] == 1;
    EXPECT(perm, "a permutation");
    double waste = 1.0 - (double)a.real_tokens / (double)a.padded_tokens;
    double waste_w = 1.0 - (double)w.real_tokens / (double)w.padded_tokens;
    printf("  padding waste: bucketed %.3f, unsorted %.3f\n", waste, waste_w);
    EXPECT(waste < 0.05 && waste_w > 0.3, "bucketing cuts padding");
    /* the short batch is last */
    srl_batch_plan_free(&b);
    REQUIRE(srl_batch_plan_make(&b, len, 1000 - 3, BS, 0, 1, 0) == 0);
    EXPECT(b.first[b.n_batches] - b.first[b.n_batches - 1] == 5 && b.n_batches == 125);
    struct srl_batch_plan s;
    REQUIRE(srl_batch_plan_sorted(&s, len, N, BS) == 0);
    int sorted = 1;
    for (size_t i = 1; i < N; i++) sorted &= len[s.order[i - 1]] <= len[s.order[i]];
    EXPECT(sorted);
    srl_batch_plan_free(&a);
    srl_batch_plan_free(&b);
    srl_batch_plan_free(&c);
    srl_batch_plan_free(&w);
    srl_batch_plan_free(&s);
}

static void test_lm_batch(void)
{
    struct srl_sft_set s = { 0 };
    int32_t e0[] = { 1, 10, 11, 12, 2 }, e1[] = { 1, 20, 2 };
    uint8_t t0[] = { 0, 0, 1, 1, 1 }, t1[] = { 0, 1, 1 };
    REQUIRE(srl_sft_append(&s, e0, t0, 5, 1) == 0 && srl_sft_append(&s, e1, t1, 3, 2) == 0);
    struct srl_lm_batch b = { 0 };
    size_t idx[] = { 1, 0 };
    REQUIRE(srl_lm_batch_fill(&b, &s, idx, 2, 99) == 0);
    EXPECT(b.B == 2 && b.T == 5 && b.n_real == 8 && b.n_trained == 5);
    int32_t tok[] = { 1, 20, 2, 99, 99, 1, 10, 11, 12, 2 };
    int32_t tgt[] = { 20, 2, -1, -1, -1, 10, 11, 12, 2, -1 };
    float mask[] = { 1, 1, 0, 0, 0, 0, 1, 1, 1, 0 };
    EXPECT(!memcmp(b.tokens, tok, sizeof tok) && !memcmp(b.targets, tgt, sizeof tgt) &&
           !memcmp(b.mask, mask, sizeof mask), "targets are token t+1, mask its train flag");
    srl_lm_batch_free(&b);
    srl_sft_set_free(&s);
}

int main(void)
{
    srl_log_set_level(SRL_LOG_OFF);
    RUN(test_sft_records);
    RUN(test_hh_roundtrip);
    RUN(test_preferences);
    RUN(test_prompt_records);
    RUN(test_tokenize_reference);
    RUN(test_sft_set);
    RUN(test_batch_plan);
    RUN(test_lm_batch);
    return test_summary();
}
