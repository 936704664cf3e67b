/* test_trainer_score.c -- lib/trainer_score: preference records -> ordered, signed pairs (reward
 * and cost orderings, HH and chosen/rejected, contradicting labels, identical answers, pairs
 * identical only after truncation, skip_bad, split), and the score task end to end against the
 * PyTorch fixtures of scripts/make_rlhf_reference.py (tests/ref/rlhf/score_{llama,gpt2}: HF
 * models and their transformers scores, losses and gradients): one micro-step of the task
 * gives the reference loss and parameter gradients, and srl_score_pairs the HF end scores. */
#include <jansson.h>
#include <stdint.h>

#include "backend.h"
#include "model.h"
#include "safetensors.h"
#include "srl.h"
#include "test.h"
#include "test_ref.h"
#include "trainer_score.h"

#define REF_DIR "tests/ref/rlhf"
#define TMP_JSONL "/tmp/test_trainer_score.jsonl"

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

/* tokens of sequence k of s, as a string of ids, for comparisons */
static int seq_equal(const struct srl_sft_set *s, size_t k, const int32_t *ids, int n)
{
    return (int)srl_sft_len(s, k) == n &&
           memcmp(s->ids + s->start[k], ids, (size_t)n * sizeof *ids) == 0;
}

static const char *const RECORDS =
    "{\"prompt\": \"Hi?\", \"response_0\": \" A.\", \"response_1\": \" B.\", "
    "\"better_response_id\": 1, \"safer_response_id\": 0, \"is_response_0_safe\": true, "
    "\"is_response_1_safe\": false}\n"
    "{\"prompt\": \"Q?\", \"chosen\": \" yes\", \"rejected\": \" no\"}\n"
    "{\"chosen\": \"\\n\\nHuman: hello\\n\\nAssistant: hi there\", "
    "\"rejected\": \"\\n\\nHuman: hello\\n\\nAssistant: go away\"}\n"
    "{\"prompt\": \"Hi?\", \"response_0\": \" A.\", \"response_1\": \" B.\", "
    "\"safer_response_id\": 1, \"is_response_1_safe\": true}\n";

static void test_pairs_order_and_signs(void)
{
    int err;
    struct srl_tokenizer *tok = srl_tokenizer_load("tests/data/sft_demo_tokenizer", &err);
    REQUIRE(tok, "demo tokenizer");
    write_file(TMP_JSONL, RECORDS);
    const struct srl_template *t = srl_template_find("saferlhf"), *hh = srl_template_find("hh");
    struct srl_pair_opts ro = { SRL_SCORE_REWARD, tok, t, 0, false };
    struct srl_pair_opts co = { SRL_SCORE_COST, tok, t, 0, false };
    struct srl_pair_set r = { 0 }, c = { 0 }, rs = { 0 };
    /* the reward model needs better_response_id: record 4 is bad, skipped with skip_bad */
    EXPECT(srl_pair_read(&r, TMP_JSONL, &ro) == SRL_EFORMAT);
    ro.skip_bad = true;
    REQUIRE(srl_pair_read(&rs, TMP_JSONL, &ro) == 0);
    EXPECT(rs.n == 3 && rs.n_records == 4 && rs.n_skipped == 1, "%zu %zu %zu", rs.n,
           rs.n_records, rs.n_skipped);
    REQUIRE(srl_pair_read(&c, TMP_JSONL, &co) == 0);
    EXPECT(c.n == 4 && c.n_skipped == 0 && c.n_unsigned == 2, "%zu %zu", c.n, c.n_unsigned);

    /* expected sequences: prompt rendered + answer + EOS */
    const char *p1[2] = { "Hi?", NULL }, *p2[2] = { "Q?", NULL }, *p3[2] = { "hello", NULL };
    int32_t *ids;
    uint8_t *tr;
    bool trunc;
    struct { const char *const *turns; const struct srl_template *t; const char *ans; } want[] = {
        { p1, t, " B." }, { p1, t, " A." },           /* RM 0: better = 1 */
        { p2, t, " yes" }, { p2, t, " no" },          /* RM 1: chosen */
        { p3, hh, " hi there" }, { p3, hh, " go away" }, /* RM 2: HH chosen */
    };
    for (int k = 0; k < 6 && rs.n == 3; k++) {
        const char *turns[2] = { want[k].turns[0], want[k].ans };
        int n = srl_tokenize_conv(tok, want[k].t, turns, 2, true, 0, &ids, &tr, &trunc);
        REQUIRE(n > 0);
        EXPECT(seq_equal(&rs.seq, (size_t)k, ids, n), "reward sequence %d", k);
        /* the cost model: record 0 is ordered the other way (safer = 0) */
        size_t kc = k < 2 ? (size_t)(1 - k) : (size_t)k;
        EXPECT(seq_equal(&c.seq, kc, ids, n), "cost sequence %zu", kc);
        free(ids);
        free(tr);
    }
    /* signs: +1 unsafe, -1 safe, 0 unknown, in [safer, unsafer] order */
    /* record 3: safer = 1 (safe), the other unlabelled */
    static const int8_t want_sign[8] = { -1, 1, 0, 0, 0, 0, -1, 0 };
    EXPECT(memcmp(c.sign, want_sign, 8) == 0, "signs %d %d %d %d %d %d %d %d", c.sign[0],
           c.sign[1], c.sign[2], c.sign[3], c.sign[4], c.sign[5], c.sign[6], c.sign[7]);
    for (int k = 0; k < 6; k++)
        EXPECT(rs.sign[k] == 0 || k < 2, "reward signs are not used");

    /* split: 1 of 4 pairs held out, both sets keep whole pairs */
    struct srl_pair_set ev = { 0 };
    REQUIRE(srl_pair_split(&c, 0.25, 7, &ev) == 0);
    EXPECT(c.n == 3 && ev.n == 1 && c.seq.n == 6 && ev.seq.n == 2, "%zu %zu", c.n, ev.n);
    EXPECT(c.n_unsigned + ev.n_unsigned == 2);
    srl_pair_set_free(&ev);
    srl_pair_set_free(&r);
    srl_pair_set_free(&rs);
    srl_pair_set_free(&c);
    srl_tokenizer_free(tok);
}

static void test_pairs_bad_input(void)
{
    int err;
    struct srl_tokenizer *tok = srl_tokenizer_load("tests/data/sft_demo_tokenizer", &err);
    REQUIRE(tok, "demo tokenizer");
    struct srl_pair_opts co = { SRL_SCORE_COST, tok, srl_template_find("saferlhf"), 0, false };
    struct srl_pair_set s = { 0 };
    /* the safer answer labelled unsafe while the other is safe */
    write_file(TMP_JSONL, "{\"prompt\": \"Hi?\", \"response_0\": \" A.\", \"response_1\": "
               "\" B.\", \"safer_response_id\": 0, \"is_response_0_safe\": false, "
               "\"is_response_1_safe\": true}\n");
    EXPECT(srl_pair_read(&s, TMP_JSONL, &co) == SRL_EFORMAT && s.n == 0);
    srl_pair_set_free(&s);
    /* identical answers: no preference, dropped and counted (real HH files hold such pairs) */
    write_file(TMP_JSONL, "{\"prompt\": \"Hi?\", \"chosen\": \" A.\", \"rejected\": \" A.\"}\n");
    EXPECT(srl_pair_read(&s, TMP_JSONL, &co) == 0 && s.n == 0 && s.n_identical == 1);
    srl_pair_set_free(&s);
    /* answers that differ only past max_length: dropped and counted, not an error */
    write_file(TMP_JSONL, "{\"prompt\": \"Hi?\", \"chosen\": \" A long answer one\", "
               "\"rejected\": \" A long answer two\"}\n"
               "{\"prompt\": \"Hi?\", \"chosen\": \" x\", \"rejected\": \" y\"}\n");
    const char *turns[2] = { "Hi?", " x" };
    int32_t *ids;
    uint8_t *tr;
    bool trunc;
    int n = srl_tokenize_conv(tok, co.tmpl, turns, 2, true, 0, &ids, &tr, &trunc);
    REQUIRE(n > 0);
    free(ids);
    free(tr);
    co.max_length = n; /* " x" + EOS fits; " A long answer " does not */
    EXPECT(srl_pair_read(&s, TMP_JSONL, &co) == 0);
    EXPECT(s.n == 1 && s.n_dropped == 1, "n %zu dropped %zu", s.n, s.n_dropped);
    srl_pair_set_free(&s);
    srl_tokenizer_free(tok);
}

// --- the task against PyTorch ----------------------------------------------------------------

static void run_fixture(const char *name)
{
    char dir[160], path[400];
    snprintf(dir, sizeof dir, "%s/%s", REF_DIR, name);
    snprintf(path, sizeof path, "%s/ref.json", dir);
    if (!test_file_exists(path))
        SKIP("%s absent (scripts/make_rlhf_reference.py)", path);
    json_error_t jerr;
    json_t *meta = json_load_file(path, 0, &jerr);
    REQUIRE(meta, "%s: %s", path, jerr.text);
    int B = (int)json_integer_value(json_object_get(meta, "B"));
    int T = (int)json_integer_value(json_object_get(meta, "T")), err = 0;
    float reg = (float)json_number_value(json_object_get(meta, "reg"));
    size_t N = (size_t)2 * B * T;
    snprintf(path, sizeof path, "%s/ref.safetensors", dir);
    struct srl_st_file *ref = srl_st_open(path, &err);
    struct srl_model *m = NULL;
    REQUIRE(ref && srl_model_load(dir, srl_backend_cpu(), &m) == 0, "%s", dir);
    float *ids_f = test_ref_get(ref, "input_ids", N), *len_f = test_ref_get(ref, "lengths", 2 * B);
    float *sign_f = test_ref_get(ref, "sign", 2 * B);
    float *want_end = test_ref_get(ref, "end_scores", 2 * B);
    struct srl_pair_set s = { 0 };
    s.sign = malloc(2 * (size_t)B);
    float *low = malloc(2 * (size_t)B * sizeof *low), *high = low + B;
    size_t *idx = malloc((size_t)B * sizeof *idx);
    if (!ids_f || !len_f || !sign_f || !want_end || !s.sign || !low || !idx) {
        EXPECT(0, "%s: cannot set up", name);
        goto out;
    }
    /* fixture rows [better|safer; worse|unsafer] -> pairs (2i, 2i+1) */
    for (int i = 0; i < B; i++) {
        for (int k = 0; k < 2; k++) {
            int r = k * B + i, L = (int)len_f[r];
            int32_t ids[64];
            uint8_t tr[64] = { 0 };
            for (int t = 0; t < L && t < 64; t++)
                ids[t] = (int32_t)ids_f[(size_t)r * T + t];
            REQUIRE(srl_sft_append(&s.seq, ids, tr, (size_t)L, i) == 0);
            s.sign[2 * i + k] = (int8_t)sign_f[r];
        }
        idx[i] = (size_t)i;
    }
    s.n = s.cap = (size_t)B;
    json_t *losses = json_object_get(meta, "losses");
    for (int kind = 0; kind < 2; kind++) {
        const char *ln = kind == SRL_SCORE_REWARD ? "rm_seq" : "cm_seq";
        struct srl_score_task st;
        double loss;
        size_t ntok;
        char key[200];
        REQUIRE(srl_score_task_init(&st, (enum srl_score_kind)kind, SRL_SCORE_SEQUENCE_WISE, reg,
                                    &s, &s, 0, 3) == 0);
        /* one micro-step: the reference's loss and gradients */
        REQUIRE(srl_model_zero_grad(m) == 0);
        REQUIRE(st.task.micro_step(st.task.ctx, m, idx, (size_t)B, &loss, &ntok) == 0);
        double want = json_number_value(json_object_get(json_object_get(losses, ln), "loss"));
        EXPECT(fabs(loss - want) < 2e-5 * fmax(1.0, fabs(want)), "%s %s loss %.7f vs %.7f",
               name, ln, loss, want);
        size_t want_tok = 0;
        for (int r = 0; r < 2 * B; r++)
            want_tok += (size_t)len_f[r];
        EXPECT(ntok == want_tok, "tokens %zu vs %zu", ntok, want_tok);
        json_t *g;
        size_t gi, n_bad = 0;
        json_array_foreach(json_object_get(meta, "graded"), gi, g) {
            const char *pn = json_string_value(g);
            const struct srl_param_view *v = srl_model_find(m, pn);
            snprintf(key, sizeof key, "%s.grad.%s", ln, pn);
            float *wg = v ? test_ref_get(ref, key, v->numel) : NULL;
            if (!v || !wg) {
                EXPECT(0, "%s: %s", name, pn);
                free(wg);
                continue;
            }
            double scale = 1e-30;
            for (size_t i = 0; i < v->numel; i++)
                scale = fmax(scale, fabs(wg[i]));
            for (size_t i = 0; i < v->numel; i++) {
                double d = fabs((double)m->grads[v->offset + i] - wg[i]);
                n_bad += !(d <= 1e-4 * scale + 1e-3 * fabs(wg[i]));
            }
            free(wg);
        }
        EXPECT(n_bad == 0, "%s %s: %zu gradient elements differ", name, ln, n_bad);
        /* evaluation path (batches of 3 sorted by length): HF's pooled end scores */
        REQUIRE(srl_score_pairs(&st, m, &s, low, high, &loss) == 0);
        float got[16], exp_[16];
        for (int i = 0; i < B && B <= 8; i++) {
            got[i] = low[i], got[B + i] = high[i];
            exp_[i] = want_end[i], exp_[B + i] = want_end[B + i];
        }
        snprintf(key, sizeof key, "%s %s srl_score_pairs end scores", name, ln);
        test_close(key, got, exp_, 2 * (size_t)B, 2e-5f, 1e-4f);
        /* the eval metrics land in the log object */
        struct srl_json *met = srl_json_new_object();
        REQUIRE(met && st.task.evaluate(st.task.ctx, m, met) == 0);
        double acc = srl_json_number(srl_json_get(met, "eval_accuracy"));
        double wacc = json_number_value(json_object_get(json_object_get(losses, ln),
                                                        "accuracy"));
        EXPECT(fabs(acc - wacc) < 1e-6, "eval_accuracy %g vs %g", acc, wacc);
        EXPECT((srl_json_get(met, "eval_accuracy_sign") != NULL) == (kind == SRL_SCORE_COST));
        EXPECT(srl_json_get(met, kind ? "eval_unsafer_mean" : "eval_better_mean") != NULL);
        srl_json_decref(met);
        srl_score_task_free(&st);
    }
out:
    json_decref(meta);
    srl_st_close(ref);
    srl_model_free(m);
    srl_pair_set_free(&s);
    free(ids_f), free(len_f), free(sign_f), free(want_end), free(low), free(idx);
}

static void test_task_llama(void) { run_fixture("score_llama"); }
static void test_task_gpt2(void) { run_fixture("score_gpt2"); }

int main(void)
{
    srl_log_set_level(SRL_LOG_OFF);
    RUN(test_pairs_order_and_signs);
    RUN(test_pairs_bad_input);
    RUN(test_task_llama);
    RUN(test_task_gpt2);
    remove(TMP_JSONL);
    return test_summary();
}
