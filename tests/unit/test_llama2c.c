/* test_llama2c.c -- llama2.c import: a synthetic checkpoint built here (tensor names, shapes,
 * the RoPE row permutation, untied classifier, truncation errors), and the real stories260K
 * from ../shared: converted, loaded by our model and decoded greedily, it must reproduce
 * llama2.c's own output (expected_run_c_t0_n200.txt) exactly. */
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

#include "backend.h"
#include "config.h"
#include "fileio.h"
#include "llama2c.h"
#include "model.h"
#include "safetensors.h"
#include "srl.h"
#include "tokenizer.h"

static char tmpdir[256];

/* dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 32 (untied: -32), seq_len 4 */
enum { D = 8, H = 16, NH = 2, KV = 1, HS = 4, V = 32, SEQ = 4 };
#define N_FLOATS                                                                       \
    (V * D + D + D * D + 2 * HS * KV * D + D * D + D + 3 * H * D + D + SEQ * HS + V * D)

static float src_value(size_t i) { return (float)i * 0.001f - 0.5f; }

static char *write_tiny_model(const char *name, size_t keep_bytes)
{
    char *p = srl_path_join(tmpdir, name);
    FILE *fp = fopen(p, "wb");
    int32_t hdr[7] = { D, H, 1, NH, KV, -V, SEQ };
    size_t n = 0;
    n += fwrite(hdr, 4, 7, fp) * 4;
    for (size_t i = 0; i < N_FLOATS && n < keep_bytes; i++) {
        float x = src_value(i);
        n += fwrite(&x, 4, 1, fp) * 4;
    }
    fclose(fp);
    return p;
}

static char *write_tiny_tokenizer(void)
{
    char *p = srl_path_join(tmpdir, "tok.bin");
    FILE *fp = fopen(p, "wb");
    int32_t max_len = 8;
    fwrite(&max_len, 4, 1, fp);
    const char *tokens[V] = { "<unk>", "\n<s>\n", "\n</s>\n" };
    char letters[V][4];
    for (int i = 3; i < V; i++) {
        snprintf(letters[i], sizeof letters[i], "%c", 'a' + (i - 3) % 26);
        if (i - 3 >= 26) snprintf(letters[i], sizeof letters[i], " %c", 'a' + (i - 29));
        tokens[i] = letters[i];
    }
    for (int i = 0; i < V; i++) {
        float score = -(float)i;
        int32_t len = (int32_t)strlen(tokens[i]);
        fwrite(&score, 4, 1, fp);
        fwrite(&len, 4, 1, fp);
        fwrite(tokens[i], 1, (size_t)len, fp);
    }
    fclose(fp);
    return p;
}

static void test_synthetic(void)
{
    char *model = write_tiny_model("tiny.bin", SIZE_MAX), *tok = write_tiny_tokenizer();
    char *out = srl_path_join(tmpdir, "tiny");
    REQUIRE(mkdir(out, 0777) == 0);
    struct srl_llama2c_header h;
    srl_log_set_level(SRL_LOG_ERROR); /* the made-up freq_cis draw a warning */
    int rc = srl_llama2c_convert(model, tok, out, SRL_DTYPE_F32, &h);
    srl_log_set_level(SRL_LOG_WARNING);
    REQUIRE(rc == 0, "rc %d", rc);
    EXPECT(h.dim == D && h.vocab_size == V && !h.shared && h.n_kv_heads == KV);

    char *cfg_path = srl_path_join(out, "config.json");
    struct srl_config cfg;
    REQUIRE(srl_config_load(cfg_path, &cfg) == 0);
    EXPECT(!cfg.tie_word_embeddings && cfg.num_key_value_heads == 1 && cfg.head_dim == HS);
    EXPECT(cfg.max_position_embeddings == SEQ && cfg.norm_eps == 1e-5f && cfg.bos_token_id == 1);
    free(cfg_path);

    int err;
    struct srl_st_set *s = srl_st_set_open(out, &err);
    REQUIRE(s);
    EXPECT(srl_st_set_count(s) == 12, "%zu", srl_st_set_count(s));
    size_t total = 0;
    for (size_t i = 0; i < srl_st_set_count(s); i++) total += srl_st_set_get(s, i)->numel;
    EXPECT(total == srl_config_param_count(&cfg), "%zu vs %zu", total,
           srl_config_param_count(&cfg));
    /* q rows: HF row h*HS + j*HS/2 + i = source row h*HS + 2i + j */
    const struct srl_st_tensor *q = srl_st_set_find(s, "model.layers.0.self_attn.q_proj.weight");
    const struct srl_st_tensor *k = srl_st_set_find(s, "model.layers.0.self_attn.k_proj.weight");
    const struct srl_st_tensor *w1 = srl_st_set_find(s, "model.layers.0.mlp.gate_proj.weight");
    const struct srl_st_tensor *w2 = srl_st_set_find(s, "model.layers.0.mlp.down_proj.weight");
    const struct srl_st_tensor *lm = srl_st_set_find(s, "lm_head.weight");
    REQUIRE(q && k && w1 && w2 && lm);
    EXPECT(q->shape[0] == D && k->shape[0] == HS * KV && k->shape[1] == D);
    EXPECT(w2->shape[0] == D && w2->shape[1] == H && lm->shape[0] == V);
    size_t wq = V * D + D, wk = wq + D * D, w1_off = wk + 2 * HS * D + D * D + D;
    size_t bad = 0;
    for (int hh = 0; hh < NH; hh++)
        for (int i = 0; i < HS / 2; i++)
            for (int j = 0; j < 2; j++)
                for (int c = 0; c < D; c++) {
                    size_t dst = (size_t)(hh * HS + j * HS / 2 + i) * D + c;
                    size_t src = (size_t)(hh * HS + 2 * i + j) * D + c;
                    float got;
                    memcpy(&got, (const char *)q->data + 4 * dst, 4);
                    if (got != src_value(wq + src)) bad++;
                    if (hh < KV) {
                        memcpy(&got, (const char *)k->data + 4 * dst, 4);
                        if (got != src_value(wk + src)) bad++;
                    }
                }
    EXPECT(bad == 0, "%zu permuted values wrong", bad);
    float x;
    memcpy(&x, w1->data, 4);
    EXPECT(x == src_value(w1_off), "gate_proj is w1");
    memcpy(&x, lm->data, 4);
    EXPECT(x == src_value(N_FLOATS - V * D), "lm_head is wcls");
    srl_st_set_close(s);
    free(out);

    /* truncated: a clear error, nothing crashes */
    char *trunc = write_tiny_model("trunc.bin", 1000);
    out = srl_path_join(tmpdir, "trunc");
    REQUIRE(mkdir(out, 0777) == 0);
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_llama2c_convert(trunc, tok, out, SRL_DTYPE_BF16, NULL) == SRL_EFORMAT);
    EXPECT(srl_llama2c_convert(tok, tok, out, SRL_DTYPE_F32, NULL) == SRL_EFORMAT);
    srl_log_set_level(SRL_LOG_WARNING);
    free(trunc);
    free(out);
    free(model);
    free(tok);
}

/* Export of a converted checkpoint gives the original file back: every weight bit for bit, in
 * llama2.c's order and interleaved RoPE rows; freq_cis (floats [fc, fc + n_freq)) recomputed,
 * so checked against the formula (made_up) or the original within 1e-6. */
static void check_export(const char *orig_path, const char *dir, size_t fc, size_t n_freq,
                         int made_up)
{
    struct srl_model *m = NULL;
    srl_log_set_level(SRL_LOG_ERROR);
    int rc = srl_model_load(dir, srl_backend_cpu(), &m);
    srl_log_set_level(SRL_LOG_WARNING);
    REQUIRE(rc == 0, "load %s", dir);
    char *back = srl_path_join(tmpdir, "exported.bin");
    REQUIRE(srl_llama2c_export(m, back) == 0, "export");
    char *a = NULL, *b = NULL;
    size_t la, lb;
    REQUIRE(srl_read_file(orig_path, &a, &la) == 0 && srl_read_file(back, &b, &lb) == 0);
    EXPECT(la == lb, "%zu bytes exported, %zu in %s", lb, la, orig_path);
    size_t head = 28 + 4 * fc, tail = head + 4 * n_freq;
    if (la == lb) {
        EXPECT(memcmp(a, b, head) == 0, "header or weights before freq_cis differ");
        EXPECT(memcmp(a + tail, b + tail, la - tail) == 0, "weights after freq_cis differ");
        const float *fa = (const float *)(a + head), *fb = (const float *)(b + head);
        float worst = 0;
        int hs = m->cfg.head_dim, S = m->cfg.max_position_embeddings;
        for (size_t i = 0; i < n_freq; i++) {
            int pos = (int)(i % (n_freq / 2)) / (hs / 2), k = (int)(i % (hs / 2));
            double f = pos / pow(10000.0, 2.0 * k / hs);
            double want = made_up ? (i < n_freq / 2 ? cos(f) : sin(f)) : fa[i];
            float d = fabsf(fb[i] - (float)want);
            worst = d > worst ? d : worst;
        }
        EXPECT(worst < 1e-5f * (made_up ? S : 1), "freq_cis off by %g", (double)worst);
    }
    free(a), free(b), free(back);
    srl_model_free(m);
}

static void test_export_synthetic(void)
{
    char *model = write_tiny_model("tiny.bin", SIZE_MAX);
    char *out = srl_path_join(tmpdir, "tiny");
    check_export(model, out, N_FLOATS - SEQ * HS - V * D, SEQ * HS, 1);
    free(model), free(out);
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Greedy decoding from BOS as llama2.c's run.c -t 0 -n 200: stop at BOS, print the rest. */
static void test_stories260k_greedy(void)
{
    char model[400], tok[400], expected_path[400];
    const char *sh = test_shared_dir();
    snprintf(model, sizeof model, "%s/models/stories260K/stories260K.bin", sh);
    snprintf(tok, sizeof tok, "%s/models/stories260K/tok512.bin", sh);
    snprintf(expected_path, sizeof expected_path,
             "%s/models/stories260K/expected_run_c_t0_n200.txt", sh);
    if (!test_file_exists(model) || !test_file_exists(expected_path))
        SKIP("%s absent", model);
    char *out = srl_path_join(tmpdir, "stories260K");
    REQUIRE(mkdir(out, 0777) == 0);
    REQUIRE(srl_llama2c_convert(model, tok, out, SRL_DTYPE_F32, NULL) == 0);
    struct srl_model *m = NULL;
    REQUIRE(srl_model_load(out, srl_backend_cpu(), &m) == 0);
    struct srl_tokenizer *t = srl_tokenizer_load(out, NULL);
    REQUIRE(t);
    int32_t ids[201] = { 1 };
    int n = 1, V_ = m->cfg.vocab_size;
    while (n < 201) {
        REQUIRE(srl_model_forward(m, ids, NULL, 1, n) == 0);
        int next = argmax(m->logits + (size_t)(n - 1) * V_, V_);
        if (next == 1) break;
        ids[n++] = next;
    }
    int dec[200];
    for (int i = 1; i < n; i++) dec[i - 1] = ids[i];
    char *text = NULL;
    REQUIRE(srl_tokenizer_decode(t, dec, (size_t)(n - 1), 1, &text) >= 0);
    char *want = NULL;
    size_t wlen;
    REQUIRE(srl_read_file(expected_path, &want, &wlen) == 0);
    if (wlen && want[wlen - 1] == '\n') want[--wlen] = '\0';
    EXPECT(n == 201, "generation stopped after %d tokens", n - 1);
    size_t i = 0;
    while (text[i] && text[i] == want[i]) i++;
    EXPECT(strcmp(text, want) == 0,
           "greedy text differs at byte %zu:\n   got  %.60s\n   want %.60s", i,
           text + (i > 20 ? i - 20 : 0), want + (i > 20 ? i - 20 : 0));
    free(want);
    free(text);
    srl_tokenizer_free(t);
    /* exported back: the llama2.c file itself (2 freq_cis tables of seq_len x hs/2 floats) */
    const struct srl_config *c = &m->cfg;
    size_t D = c->hidden_size, L = c->num_hidden_layers, KVD = c->num_key_value_heads * c->head_dim;
    size_t per_layer = 2 * D + 2 * D * D + 2 * KVD * D + 3 * (size_t)c->intermediate_size * D;
    size_t fc = (size_t)c->vocab_size * D + L * per_layer + D;
    check_export(model, out, fc, (size_t)c->max_position_embeddings * c->head_dim, 0);
    srl_model_free(m);
    free(out);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_llama2c.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    RUN(test_synthetic);
    RUN(test_export_synthetic);
    RUN(test_stories260k_greedy);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return test_summary();
}
