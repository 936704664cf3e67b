/* test_generate.c -- the sampler against hand-computed cases (greedy, temperature, top-k with
 * ties, top-p sets, repetition penalty, both log-probabilities), prompt records, and the
 * batched generation engine on small random Llama and GPT-2 models: batched greedy equals
 * one-at-a-time greedy for prompts of different lengths (GPT-2's absolute positions catch
 * padding bugs), seeded sampling repeats and does not depend on the batch, EOS / length. */
#include "test.h"

#include <math.h>

#include "generate.h"
#include "jsonl.h"
#include "model.h"
#include "prompt.h"
#include "sampler.h"
#include "srl.h"

static double log_softmax_at(const float *x, int n, int i, float temp)
{
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < n; j++)
        if (x[j] / temp > mx)
            mx = x[j] / temp;
    for (int j = 0; j < n; j++)
        s += exp(x[j] / temp - mx);
    return x[i] / temp - mx - log(s);
}

/* Draw n tokens; count[v] = times v was chosen; checks every logp against want_logp[v]
 * (NAN: never expected). */
static int draw(struct srl_sampler *s, const struct srl_sampler_params *p, const float *x,
                int n, int *count, const double *want_logp, const float *raw)
{
    struct srl_rng rng;
    srl_rng_seed(&rng, 42);
    int bad = 0;
    memset(count, 0, sizeof(int) * (size_t)s->V);
    for (int i = 0; i < n; i++) {
        float lp, lpr;
        int t = srl_sample(s, p, x, NULL, 0, &rng, &lp, &lpr);
        count[t]++;
        if (isnan(want_logp[t]) || fabs(lp - want_logp[t]) > 1e-5)
            bad++;
        if (fabs(lpr - log_softmax_at(raw, s->V, t, 1)) > 1e-5)
            bad++;
    }
    return bad;
}

static void test_sampler(void)
{
    enum { V = 6, N = 20000 };
    struct srl_sampler s;
    REQUIRE(srl_sampler_init(&s, V) == 0);
    /* probabilities 0.5, 0.3, 0.15, 0.05, 0, 0 */
    float x[V] = { logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f), -INFINITY, -INFINITY };
    struct srl_sampler_params p = SRL_SAMPLER_PARAMS_INIT;
    int count[V];
    double w[V];

    /* plain sampling: frequencies follow the probabilities, logp = raw log softmax */
    for (int i = 0; i < V; i++)
        w[i] = i < 4 ? log_softmax_at(x, V, i, 1) : NAN;
    EXPECT(draw(&s, &p, x, N, count, w, x) == 0, "plain logp");
    EXPECT(fabs(count[0] / (double)N - 0.5) < 0.015 && fabs(count[3] / (double)N - 0.05) < 0.006,
           "frequencies %d %d", count[0], count[3]);

    /* top-p 0.75: {0, 1} (0.5 < 0.75 so 1 joins; 0.8 is not < 0.75), logp over the pair */
    p.top_p = 0.75f;
    double z = log(0.8);
    for (int i = 0; i < V; i++)
        w[i] = i < 2 ? log(i == 0 ? 0.5 : 0.3) - z : NAN;
    EXPECT(draw(&s, &p, x, N, count, w, x) == 0, "top-p 0.75 set / logp");
    EXPECT(fabs(count[0] / (double)N - 0.625) < 0.015, "top-p 0.75 freq %d", count[0]);
    p.top_p = 0.85f; /* {0, 1, 2} */
    z = log(0.95);
    for (int i = 0; i < V; i++)
        w[i] = i < 3 ? log(i == 0 ? 0.5 : i == 1 ? 0.3 : 0.15) - z : NAN;
    EXPECT(draw(&s, &p, x, N, count, w, x) == 0, "top-p 0.85 set / logp");
    p.top_p = 0.3f; /* the most likely alone */
    w[0] = 0;
    for (int i = 1; i < V; i++)
        w[i] = NAN;
    EXPECT(draw(&s, &p, x, 200, count, w, x) == 0 && count[0] == 200, "top-p 0.3");

    /* top-k 3 at temperature 2: softmax(x/2) over {0, 1, 2} */
    p.top_p = 1;
    p.top_k = 3;
    p.temperature = 2;
    float x3[3] = { x[0], x[1], x[2] };
    for (int i = 0; i < V; i++)
        w[i] = i < 3 ? log_softmax_at(x3, 3, i, 2) : NAN;
    EXPECT(draw(&s, &p, x, N, count, w, x) == 0, "top-k 3, T 2");
    EXPECT(fabs(count[2] / (double)N - exp(w[2])) < 0.015, "T 2 freq %d want %.3f", count[2],
           exp(w[2]));

    /* top-k ties: logits 1, 2, 2, 0: k = 1 keeps both 2s (HF keeps ties at the k-th value) */
    float t[V] = { 1, 2, 2, 0, -5, -5 };
    p.top_k = 1;
    p.temperature = 1;
    for (int i = 0; i < V; i++)
        w[i] = i == 1 || i == 2 ? log(0.5) : NAN;
    EXPECT(draw(&s, &p, t, 2000, count, w, t) == 0 && count[1] > 900 && count[2] > 900,
           "top-k ties %d %d", count[1], count[2]);

    /* top-k and top-p together: top-k 3 renormalises to 0.526, 0.316, 0.158; top-p 0.6
     * keeps {0, 1} */
    p.top_k = 3;
    p.top_p = 0.6f;
    for (int i = 0; i < V; i++)
        w[i] = i < 2 ? log(i == 0 ? 0.5 : 0.3) - log(0.8) : NAN;
    EXPECT(draw(&s, &p, x, 2000, count, w, x) == 0, "top-k then top-p");

    /* repetition penalty 2 over history {0, 3, 0}: 2 -> 1, -1 -> -2; greedy then picks 1 */
    float r[V] = { 2, 1.5f, 0, -1, -3, -3 }, rp[V] = { 1, 1.5f, 0, -2, -3, -3 };
    int32_t hist[] = { 0, 3, 0 };
    struct srl_sampler_params g = { 0, 0, 1, 2 };
    float lp, lpr;
    int tok = srl_sample(&s, &g, r, hist, 3, NULL, &lp, &lpr);
    EXPECT(tok == 1, "penalised greedy %d", tok);
    EXPECT(fabs(lp - log_softmax_at(rp, V, 1, 1)) < 1e-5, "penalised logp %g", lp);
    EXPECT(fabs(lpr - log_softmax_at(r, V, 1, 1)) < 1e-5, "raw logp %g", lpr);
    g.repetition_penalty = 1;
    EXPECT(srl_sample(&s, &g, r, hist, 3, NULL, NULL, NULL) == 0, "no penalty: argmax");
    /* the marks were cleared: a second call with no history is unpenalised */
    g.repetition_penalty = 2;
    EXPECT(srl_sample(&s, &g, r, NULL, 0, NULL, NULL, NULL) == 0, "marks cleared");

    struct srl_sampler_params badp = { -1, 0, 1, 1 };
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_sampler_check(&badp) == SRL_EINVAL, "negative temperature");
    badp.temperature = 1;
    badp.top_p = 0;
    EXPECT(srl_sampler_check(&badp) == SRL_EINVAL, "top-p 0");
    srl_log_set_level(SRL_LOG_WARNING);
    EXPECT(srl_sampler_stream_seed(1, 0) != srl_sampler_stream_seed(1, 1) &&
           srl_sampler_stream_seed(1, 0) != srl_sampler_stream_seed(2, 0), "stream seeds");
    srl_sampler_free(&s);
}

static int turns_of(const char *json, char ***t, size_t *n)
{
    int err;
    struct srl_json *rec = srl_json_parse(json, strlen(json), "test", &err);
    if (!rec)
        return err;
    int rc = srl_prompt_turns(rec, "f.jsonl:3", t, n);
    srl_json_decref(rec);
    return rc;
}

static void test_prompt_records(void)
{
    char **t;
    size_t n;
    REQUIRE(turns_of("{\"prompt\":\"hi\"}", &t, &n) == 0 && n == 1 && !strcmp(t[0], "hi"));
    srl_prompt_free(t, n);
    REQUIRE(turns_of("{\"instruction\":\"Do\",\"input\":\"x\"}", &t, &n) == 0 && n == 1);
    EXPECT(!strcmp(t[0], "Do x"), "%s", t[0]);
    srl_prompt_free(t, n);
    REQUIRE(turns_of("{\"instruction\":\"Do\",\"input\":\"\"}", &t, &n) == 0);
    EXPECT(!strcmp(t[0], "Do"), "%s", t[0]);
    srl_prompt_free(t, n);
    REQUIRE(turns_of("{\"prompt\":[\"a\",\"b\",\"c\"]}", &t, &n) == 0 && n == 3);
    EXPECT(!strcmp(t[1], "b") && !strcmp(t[2], "c"));
    srl_prompt_free(t, n);
    REQUIRE(turns_of("{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},"
                     "{\"role\":\"user\",\"content\":\"u\"},{\"role\":\"assistant\","
                     "\"content\":\"a\"},{\"role\":\"user\",\"content\":\"v\"}]}",
                     &t, &n) == 0 && n == 3);
    EXPECT(!strcmp(t[0], "S\n\nu") && !strcmp(t[1], "a") && !strcmp(t[2], "v"), "%s", t[0]);
    srl_prompt_free(t, n);
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(turns_of("{\"text\":\"x\"}", &t, &n) == SRL_EFORMAT, "no prompt field");
    EXPECT(turns_of("{\"prompt\":[\"a\",\"b\"]}", &t, &n) == SRL_EFORMAT, "even turns");
    EXPECT(turns_of("{\"messages\":[{\"role\":\"user\",\"content\":\"u\"},{\"role\":"
                    "\"assistant\",\"content\":\"a\"}]}", &t, &n) == SRL_EFORMAT,
           "ends with the assistant");
    EXPECT(turns_of("{\"prompt\":3}", &t, &n) == SRL_EFORMAT, "number prompt");
    srl_log_set_level(SRL_LOG_WARNING);
}

/* A small random model whose logits are well separated (weights ~ N(0, 0.5)), so greedy
 * choices do not hinge on rounding between the batched and one-row matmul paths. */
static struct srl_model *random_model(enum srl_arch arch)
{
    struct srl_config c;
    srl_config_default(&c, arch);
    c.head = SRL_HEAD_LM;
    c.vocab_size = 50;
    c.hidden_size = 32;
    c.intermediate_size = 48;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = arch == SRL_ARCH_LLAMA ? 2 : 4;
    c.head_dim = 8;
    c.max_position_embeddings = 40;
    c.tie_word_embeddings = arch == SRL_ARCH_GPT2;
    c.bos_token_id = c.eos_token_id = c.pad_token_id = -1;
    int err;
    struct srl_model *m = srl_model_new(&c, srl_backend_cpu(), &err);
    if (!m)
        return NULL;
    srl_model_init_random(m, 7);
    for (size_t i = 0; i < m->n_views; i++)
        if (m->views[i].ndim == 2)
            for (size_t j = 0; j < m->views[i].numel; j++)
                m->params[m->views[i].offset + j] *= 25.0f;
    return m;
}

enum { NP = 5, MAXNEW = 12 };
static const int32_t prompts[NP][9] = {
    { 3 }, { 4, 9, 17 }, { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, { 30, 31 }, { 11, 12, 13, 14, 15 },
};
static const int plen[NP] = { 1, 3, 9, 2, 5 };

static void setup(struct srl_gen_seq *seqs, int first, int n)
{
    memset(seqs, 0, sizeof *seqs * (size_t)n);
    for (int i = 0; i < n; i++) {
        seqs[i].prompt = prompts[first + i];
        seqs[i].prompt_len = plen[first + i];
        seqs[i].stream = (uint64_t)(first + i);
    }
}

/* Batched generation of all prompts == each prompt alone (tokens exactly, log-probs close). */
static void check_batch_vs_single(enum srl_arch arch, struct srl_gen_params p, const char *what)
{
    struct srl_model *m = random_model(arch);
    REQUIRE(m, "model");
    struct srl_gen_seq all[NP], one;
    setup(all, 0, NP);
    REQUIRE(srl_generate(m, &p, all, NP) == 0, "%s: batched", what);
    int bad = 0, distinct = 0;
    for (int i = 0; i < NP; i++) {
        setup(&one, i, 1);
        REQUIRE(srl_generate(m, &p, &one, 1) == 0, "%s: single %d", what, i);
        if (one.n_tokens != all[i].n_tokens || one.finish != all[i].finish ||
            memcmp(one.tokens, all[i].tokens, sizeof(int32_t) * (size_t)one.n_tokens))
            bad++;
        for (int t = 0; t < one.n_tokens && t < all[i].n_tokens; t++)
            if (fabsf(one.logp[t] - all[i].logp[t]) > 1e-3f ||
                fabsf(one.logp_raw[t] - all[i].logp_raw[t]) > 1e-3f)
                bad++;
        for (int t = 1; t < one.n_tokens; t++)
            distinct += one.tokens[t] != one.tokens[0];
        srl_gen_seq_clear(&one);
    }
    EXPECT(bad == 0, "%s: %d rows differ between batched and single", what, bad);
    EXPECT(distinct > 0, "%s: degenerate output", what);
    EXPECT(all[0].n_tokens == MAXNEW && all[0].finish == SRL_FINISH_LENGTH, "%s: %d tokens",
           what, all[0].n_tokens);
    for (int i = 0; i < NP; i++)
        srl_gen_seq_clear(&all[i]);
    srl_model_free(m);
}

static void test_batch_equals_single(void)
{
    struct srl_gen_params p = { .sample = SRL_SAMPLER_PARAMS_INIT, .max_new_tokens = MAXNEW,
                                .eos_id = -1, .seed = 5, .logprobs = true };
    p.sample.temperature = 0;
    check_batch_vs_single(SRL_ARCH_LLAMA, p, "llama greedy");
    check_batch_vs_single(SRL_ARCH_GPT2, p, "gpt2 greedy");
    /* sampling: each row's RNG stream is its own, so the batch does not matter either */
    p.sample.temperature = 0.8f;
    p.sample.top_k = 10;
    p.sample.top_p = 0.95f;
    p.sample.repetition_penalty = 1.2f;
    check_batch_vs_single(SRL_ARCH_LLAMA, p, "llama sampled");
    check_batch_vs_single(SRL_ARCH_GPT2, p, "gpt2 sampled");
}

/* Decoding B streams in one batch gives each stream's logits as decoding it alone (within
 * 1e-5 relative): the batched products (sgemm over B rows) and the one-row ones (sgemv), and
 * the attention over each row's cache, at every step of a prompt and 8 new tokens. */
static void test_batched_decode_logits(void)
{
    enum { B = 3, P = 3, STEPS = 8 };
    static const int32_t prompt[B][P] = { { 3, 4, 5 }, { 9, 17, 2 }, { 30, 31, 0 } };
    for (int arch = 0; arch < 2; arch++) {
        struct srl_model *m = random_model(arch ? SRL_ARCH_GPT2 : SRL_ARCH_LLAMA);
        REQUIRE(m, "model");
        int V = m->cfg.vocab_size;
        float *batched = malloc(sizeof(float) * B * STEPS * V);
        int32_t tok[B];
        REQUIRE(batched && srl_model_cache_reset(m, B, P + STEPS) == 0);
        REQUIRE(srl_model_decode(m, &prompt[0][0], NULL, P, true) == 0);
        for (int t = 0; t < STEPS; t++) { /* next token: a fixed function of the step */
            memcpy(batched + (size_t)t * B * V, m->dec_out, sizeof(float) * B * V);
            for (int b = 0; b < B; b++)
                tok[b] = (7 * t + 11 * b) % V;
            if (t + 1 < STEPS)
                REQUIRE(srl_model_decode(m, tok, NULL, 1, true) == 0);
        }
        double worst = 0;
        for (int b = 0; b < B; b++) {
            REQUIRE(srl_model_cache_reset(m, 1, P + STEPS) == 0);
            REQUIRE(srl_model_decode(m, prompt[b], NULL, P, true) == 0);
            for (int t = 0; t < STEPS; t++) {
                const float *want = batched + ((size_t)t * B + b) * V;
                for (int v = 0; v < V; v++) {
                    double d = fabs(m->dec_out[v] - want[v]) / fmax(1.0, fabs(want[v]));
                    worst = d > worst ? d : worst;
                }
                int32_t next = (7 * t + 11 * b) % V;
                if (t + 1 < STEPS)
                    REQUIRE(srl_model_decode(m, &next, NULL, 1, true) == 0);
            }
        }
        EXPECT(worst <= 1e-5, "%s: batched and one-stream logits differ by %g (relative)",
               arch ? "gpt2" : "llama", worst);
        free(batched);
        srl_model_free(m);
    }
}

static void test_seeded_and_finish(void)
{
    struct srl_model *m = random_model(SRL_ARCH_GPT2);
    REQUIRE(m, "model");
    struct srl_gen_params p = { .sample = SRL_SAMPLER_PARAMS_INIT, .max_new_tokens = MAXNEW,
                                .eos_id = -1, .seed = 99, .logprobs = true };
    struct srl_gen_seq a[NP], b[NP], c[NP];
    setup(a, 0, NP);
    setup(b, 0, NP);
    setup(c, 0, NP);
    REQUIRE(srl_generate(m, &p, a, NP) == 0);
    REQUIRE(srl_generate(m, &p, b, NP) == 0);
    p.seed = 100;
    REQUIRE(srl_generate(m, &p, c, NP) == 0);
    int same = 0, diff = 0;
    for (int i = 0; i < NP; i++) {
        same += a[i].n_tokens == b[i].n_tokens &&
                !memcmp(a[i].tokens, b[i].tokens, sizeof(int32_t) * (size_t)a[i].n_tokens);
        diff += memcmp(a[i].tokens, c[i].tokens, sizeof(int32_t) * (size_t)MAXNEW) != 0;
    }
    EXPECT(same == NP, "same seed: %d of %d rows repeat", same, NP);
    EXPECT(diff >= NP - 1, "another seed: only %d rows differ", diff);

    /* EOS: make row 1's third greedy token the EOS; it stops there, the others go on */
    p.sample.temperature = 0;
    REQUIRE(srl_generate(m, &p, a, NP) == 0);
    int eos = a[1].tokens[2], first = 0;
    while (a[1].tokens[first] != eos)
        first++;
    p.eos_id = eos;
    REQUIRE(srl_generate(m, &p, b, NP) == 0);
    EXPECT(b[1].finish == SRL_FINISH_EOS && b[1].n_tokens == first + 1, "eos row: %d tokens, %s",
           b[1].n_tokens, srl_finish_name(b[1].finish));
    for (int i = 0; i < NP; i++) {
        int k = 0;
        while (k < MAXNEW && a[i].tokens[k] != eos)
            k++;
        int want = k < MAXNEW ? k + 1 : MAXNEW;
        EXPECT(b[i].n_tokens == want && !memcmp(a[i].tokens, b[i].tokens, sizeof(int32_t) * want),
               "row %d: %d tokens, want %d", i, b[i].n_tokens, want);
    }
    /* positions run out: prompt 9 of 40 positions, 100 new tokens -> 31 */
    p.eos_id = -1;
    p.max_new_tokens = 100;
    REQUIRE(srl_generate(m, &p, a + 2, 1) == 0);
    EXPECT(a[2].n_tokens == 31 && a[2].finish == SRL_FINISH_LENGTH, "%d", a[2].n_tokens);
    for (int i = 0; i < NP; i++) {
        srl_gen_seq_clear(&a[i]);
        srl_gen_seq_clear(&b[i]);
        srl_gen_seq_clear(&c[i]);
    }
    srl_model_free(m);
}

int main(void)
{
    RUN(test_sampler);
    RUN(test_prompt_records);
    RUN(test_batch_equals_single);
    RUN(test_batched_decode_logits);
    RUN(test_seeded_and_finish);
    return test_summary();
}
