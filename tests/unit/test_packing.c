/* test_packing.c -- pretraining data (lib/packing.c) and its loss (lib/trainer_lm.c) against
 * tests/ref/lm from scripts/make_lm_fixtures.py (HF tokenizers + transformers): the packed
 * token stream of a JSONL file of mixed schemas and a plain-text file, its windows, the loss
 * of a micro-batch of windows and of the whole stream equal to LlamaForCausalLM's loss with
 * labels on the same windows; the held-out document split; record texts and bad records. */
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "jsonl.h"
#include "model.h"
#include "packing.h"
#include "srl.h"
#include "test.h"
#include "trainer.h"

static struct srl_json *load_expected(void)
{
    char *text = NULL;
    size_t len;
    int err;
    if (srl_read_file("tests/ref/lm/expected.json", &text, &len) < 0) return NULL;
    struct srl_json *j = srl_json_parse(text, len, "expected.json", &err);
    free(text);
    return j;
}

/* Pack the two fixture files (eval_ratio 0) into *p. */
static int pack_fixture(struct srl_pack *p, const struct srl_tokenizer *tok)
{
    struct srl_pack_opts o = { tok, NULL, 0, false, 0, 1 };
    struct srl_pack_stats st = { 0 };
    int rc = srl_pack_open(p);
    if (rc == 0) rc = srl_pack_read(p, NULL, "tests/ref/lm/corpus.jsonl", &o, &st);
    if (rc == 0) rc = srl_pack_read(p, NULL, "tests/ref/lm/corpus.txt", &o, &st);
    if (rc == 0) rc = srl_pack_flush(p);
    return rc;
}

static void test_stream_and_windows(void)
{
    int err;
    struct srl_tokenizer *tok = srl_tokenizer_load("tests/ref/sft/tok_bos", &err);
    struct srl_json *ref = load_expected();
    struct srl_pack p = { 0 };
    struct srl_sft_set w = { 0 };
    REQUIRE(tok && ref);
    REQUIRE(pack_fixture(&p, tok) == 0);
    int T = (int)srl_json_integer(srl_json_get(ref, "T"));
    const struct srl_json *stream = srl_json_get(ref, "stream");
    size_t n = srl_json_array_size(stream), nw = srl_pack_n_windows(&p, T);
    EXPECT(p.n_docs == (size_t)srl_json_integer(srl_json_get(ref, "n_docs")),
           "documents %zu", p.n_docs);
    EXPECT(p.n_tokens == n, "stream of %zu tokens, reference %zu", p.n_tokens, n);
    EXPECT(nw == (size_t)srl_json_integer(srl_json_get(ref, "n_windows")), "windows %zu", nw);
    size_t *idx = malloc(nw * sizeof *idx);
    REQUIRE(idx);
    for (size_t i = 0; i < nw; i++) idx[nw - 1 - i] = i; /* in reverse: reads by index */
    REQUIRE(srl_pack_windows(&p, T, idx, nw, &w) == 0 && w.n == nw);
    size_t bad = 0, trained = 0;
    for (size_t k = 0; k < nw; k++)
        for (int t = 0; t < T; t++) {
            size_t at = idx[k] * (size_t)(T - 1) + (size_t)t;
            bad += w.ids[w.start[k] + (size_t)t] !=
                   (int32_t)srl_json_integer(srl_json_array_at(stream, at));
            trained += w.train[w.start[k] + (size_t)t];
        }
    EXPECT(bad == 0, "%zu window tokens differ from HF's packing", bad);
    EXPECT(trained == nw * (size_t)T, "every token trained");
    size_t past = nw;
    EXPECT(srl_pack_windows(&p, T, &past, 1, &w) == SRL_EINVAL, "a window past the end fails");
    free(idx);
    srl_sft_set_free(&w);
    srl_pack_close(&p);
    srl_json_decref(ref);
    srl_tokenizer_free(tok);
}

static void test_loss_vs_pytorch(void)
{
    int err;
    struct srl_tokenizer *tok = srl_tokenizer_load("tests/ref/sft/tok_bos", &err);
    struct srl_json *ref = load_expected();
    struct srl_pack p = { 0 };
    struct srl_model *m = NULL;
    struct srl_lm_task lt;
    REQUIRE(tok && ref && pack_fixture(&p, tok) == 0);
    REQUIRE(srl_model_load("tests/ref/lm/model", srl_backend_cpu(), &m) == 0);
    int T = (int)srl_json_integer(srl_json_get(ref, "T"));
    REQUIRE(srl_lm_pack_task_init(&lt, &p, NULL, T, 0, 4) == 0);
    EXPECT(lt.task.n == srl_pack_n_windows(&p, T) && lt.task.window == 1, "task of %zu windows",
           lt.task.n);
    size_t idx[4] = { 0, 1, 2, 3 }, ntok = 0;
    double loss = 0, want = srl_json_number(srl_json_get(ref, "batch_loss"));
    REQUIRE(srl_model_zero_grad(m) == 0);
    REQUIRE(lt.task.micro_step(lt.task.ctx, m, idx, 4, &loss, &ntok) == 0);
    EXPECT(fabs(loss - want) < 2e-5, "micro-batch loss %.7f, transformers %.7f", loss, want);
    EXPECT(ntok == (size_t)(4 * T), "tokens %zu", ntok);
    struct srl_sft_set scratch = { 0 };
    struct srl_lm_batch b = { 0 };
    size_t n_all = 0;
    want = srl_json_number(srl_json_get(ref, "all_loss"));
    REQUIRE(srl_lm_pack_eval(m, &p, T, 3, 0, &scratch, &b, &loss, &n_all) == 0);
    EXPECT(fabs(loss - want) < 2e-5, "whole-stream loss %.7f, transformers %.7f", loss, want);
    EXPECT(n_all == lt.task.n * (size_t)(T - 1), "every token after the first a target once");
    srl_sft_set_free(&scratch);
    srl_lm_batch_free(&b);
    srl_lm_task_free(&lt);
    srl_model_free(m);
    srl_pack_close(&p);
    srl_json_decref(ref);
    srl_tokenizer_free(tok);
}

static void test_held_out_split(void)
{
    int err;
    struct srl_tokenizer *tok = srl_tokenizer_load("tests/ref/sft/tok_bos", &err);
    struct srl_pack all = { 0 }, tr[2], ev[2];
    REQUIRE(tok && pack_fixture(&all, tok) == 0);
    for (int k = 0; k < 2; k++) {
        struct srl_pack_opts o = { tok, NULL, 0, false, 0.5, 99 };
        struct srl_pack_stats st = { 0 };
        REQUIRE(srl_pack_open(&tr[k]) == 0 && srl_pack_open(&ev[k]) == 0);
        REQUIRE(srl_pack_read(&tr[k], &ev[k], "tests/ref/lm/corpus.jsonl", &o, &st) == 0);
        REQUIRE(srl_pack_read(&tr[k], &ev[k], "tests/ref/lm/corpus.txt", &o, &st) == 0);
    }
    EXPECT(tr[0].n_docs + ev[0].n_docs == all.n_docs &&
           tr[0].n_tokens + ev[0].n_tokens == all.n_tokens,
           "split %zu + %zu documents of %zu", tr[0].n_docs, ev[0].n_docs, all.n_docs);
    EXPECT(tr[0].n_docs > 0 && ev[0].n_docs > 0, "both sides have documents");
    EXPECT(tr[0].n_tokens == tr[1].n_tokens && ev[0].n_docs == ev[1].n_docs,
           "the same seed holds out the same documents");
    for (int k = 0; k < 2; k++) {
        srl_pack_close(&tr[k]);
        srl_pack_close(&ev[k]);
    }
    srl_pack_close(&all);
    srl_tokenizer_free(tok);
}

static char *text_of(const char *json, const char *const *fields, size_t n, int *rc)
{
    int err;
    struct srl_json *rec = srl_json_parse(json, strlen(json), "t", &err);
    char *text = NULL;
    *rc = rec ? srl_record_text(rec, fields, n, "t:1", &text) : err;
    srl_json_decref(rec);
    return text;
}

static void test_record_text(void)
{
    static const char *const out_first[] = { "output", "instruction" };
    int rc;
    char *t = text_of("{\"instruction\": \"a\", \"output\": \"b\"}", out_first, 2, &rc);
    EXPECT(rc == 0 && t && strcmp(t, "b\n\na") == 0, "fields in the order given: '%s'", t);
    free(t);
    t = text_of("{\"instruction\": \"\", \"output\": \"\"}", out_first, 2, &rc);
    EXPECT(rc == 0 && !t, "empty texts: no document");
    t = text_of("{\"prompt\": \"x\"}", out_first, 2, &rc);
    EXPECT(rc == SRL_EFORMAT && !t, "none of the fields: SRL_EFORMAT");
    t = text_of("{\"output\": 3}", out_first, 2, &rc);
    EXPECT(rc == SRL_EFORMAT && !t, "a number field: SRL_EFORMAT");
    t = text_of("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, \"yo\"]}",
                srl_pack_default_fields, srl_pack_n_default_fields, &rc);
    EXPECT(rc == 0 && t && strcmp(t, "hi\n\nyo") == 0, "messages: '%s'", t);
    free(t);
}

static void test_bad_records(void)
{
    int err;
    struct srl_tokenizer *tok = srl_tokenizer_load("tests/ref/sft/tok_bos", &err);
    char path[] = "/tmp/test_packing_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(tok && fd >= 0);
    const char *data = "{\"text\": \"one\"}\n{\"title\": \"no text\"}\nnot json\n{\"text\": \"two\"}\n";
    REQUIRE(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
    close(fd);
    struct srl_pack p = { 0 };
    struct srl_pack_opts o = { tok, NULL, 0, false, 0, 1 };
    struct srl_pack_stats st = { 0 };
    REQUIRE(srl_pack_open(&p) == 0);
    EXPECT(srl_pack_read(&p, NULL, path, &o, &st) == SRL_EFORMAT && p.n_docs == 1,
           "a record without text stops the read");
    srl_pack_close(&p);
    o.skip_bad = true;
    memset(&st, 0, sizeof st);
    REQUIRE(srl_pack_open(&p) == 0);
    EXPECT(srl_pack_read(&p, NULL, path, &o, &st) == 0 && p.n_docs == 2 && st.n_skipped == 2 &&
           st.n_records == 4, "skip_bad: 2 documents, 2 skipped of %zu", st.n_records);
    srl_pack_close(&p);
    unlink(path);
    srl_tokenizer_free(tok);
}

int main(void)
{
    srl_log_set_level(SRL_LOG_OFF);
    RUN(test_stream_and_windows);
    RUN(test_loss_vs_pytorch);
    RUN(test_held_out_split);
    RUN(test_record_text);
    RUN(test_bad_records);
    return test_summary();
}
