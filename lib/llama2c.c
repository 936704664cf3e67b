/* llama2c.c -- llama2.c legacy checkpoint -> Hugging Face Llama directory. */
#include "llama2c.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "safetensors.h"
#include "srl.h"
#include "tokenizer.h"

static int mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }

static int read_header(const char *path, const char *data, size_t len,
                       struct srl_llama2c_header *h)
{
    int32_t v[7];
    if (len < sizeof v) {
        srl_log_error("%s: truncated llama2.c checkpoint: %zu bytes, the header needs 28", path,
                      len);
        return SRL_EFORMAT;
    }
    memcpy(v, data, sizeof v);
    h->dim = v[0], h->hidden_dim = v[1], h->n_layers = v[2], h->n_heads = v[3];
    h->n_kv_heads = v[4], h->shared = v[5] > 0, h->seq_len = v[6];
    h->vocab_size = v[5] == INT32_MIN ? 0 : abs(v[5]);
    if (h->dim <= 0 || h->hidden_dim <= 0 || h->n_layers <= 0 || h->n_heads <= 0 ||
        h->n_kv_heads <= 0 || h->vocab_size == 0 || h->seq_len <= 0 ||
        h->dim % h->n_heads != 0 || h->n_heads % h->n_kv_heads != 0 ||
        (h->dim / h->n_heads) % 2 != 0) {
        srl_log_error("%s: not a llama2.c checkpoint (header dim %d, hidden_dim %d, n_layers %d, "
                      "n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d)", path, v[0], v[1],
                      v[2], v[3], v[4], v[5], v[6]);
        return SRL_EFORMAT;
    }
    return 0;
}

/* Copy q or k weights of n_heads heads from llama2.c's interleaved RoPE pairs (2i, 2i+1) to
 * HF's rotate_half halves (i, i + hs/2): dst row h*hs + j*hs/2 + i = src row h*hs + 2i + j,
 * i.e. w.view(n_heads, hs/2, 2, dim).transpose(1, 2).reshape(n_heads*hs, dim). */
static void permute_rope_rows(float *dst, const float *src, int n_heads, int hs, int dim)
{
    int half = hs / 2;
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(dst + ((size_t)h * hs + (size_t)j * half + i) * dim,
                       src + ((size_t)h * hs + 2 * (size_t)i + j) * dim, (size_t)dim * 4);
}

/* llama2.c's freq_cis rows are cos/sin(pos / 10000^(2i/hs)); warn when they say otherwise. */
static void check_rope(const char *path, const float *real, const float *imag, int hs, int seq)
{
    int half = hs / 2;
    for (int pos = 1; pos < seq && pos < 8; pos++)
        for (int i = 0; i < half; i++) {
            double f = pos / pow(10000.0, 2.0 * i / hs);
            if (fabs(real[pos * half + i] - cos(f)) > 1e-4 ||
                fabs(imag[pos * half + i] - sin(f)) > 1e-4) {
                srl_log_warning("%s: freq_cis do not match rope_theta 10000; the converted "
                                "model uses 10000", path);
                return;
            }
        }
}

/* The HF Llama tensors of a llama2.c checkpoint, written to path. */
static int write_weights(const char *model_path, const char *data, size_t len,
                         const struct srl_llama2c_header *h, enum srl_dtype dtype,
                         const char *path)
{
    size_t D = (size_t)h->dim, F = (size_t)h->hidden_dim, L = (size_t)h->n_layers;
    size_t V = (size_t)h->vocab_size, hs = D / (size_t)h->n_heads;
    size_t KVD = hs * (size_t)h->n_kv_heads, S = (size_t)h->seq_len;
    struct {
        const char *name;
        size_t per_layer, layers; /* floats */
    } sec[] = {
        { "token_embedding_table", V * D, 1 }, { "rms_att_weight", D, L }, { "wq", D * D, L },
        { "wk", KVD * D, L }, { "wv", KVD * D, L }, { "wo", D * D, L },
        { "rms_ffn_weight", D, L }, { "w1", F * D, L }, { "w2", D * F, L }, { "w3", F * D, L },
        { "rms_final_weight", D, 1 }, { "freq_cis_real", S * hs / 2, 1 },
        { "freq_cis_imag", S * hs / 2, 1 }, { "wcls", h->shared ? 0 : V * D, 1 },
    };
    enum { EMB, RMS_ATT, WQ, WK, WV, WO, RMS_FFN, W1, W2, W3, RMS_F, FREQ_R, FREQ_I, WCLS, NSEC };
    const float *ptr[NSEC];
    size_t off = 28;
    for (int i = 0; i < NSEC; i++) {
        size_t n;
        if (!mul_ok(sec[i].per_layer, sec[i].layers, &n) || !mul_ok(n, 4, &n) ||
            n > SIZE_MAX - off) {
            srl_log_error("%s: implausible llama2.c header (sizes overflow)", model_path);
            return SRL_EFORMAT;
        }
        if (off + n > len) {
            srl_log_error("%s: truncated llama2.c checkpoint: %zu bytes, ends inside %s "
                          "(dim %d, hidden_dim %d, %d layers, %d heads, %d kv heads, vocab %d, "
                          "seq_len %d)", model_path, len, sec[i].name, h->dim, h->hidden_dim,
                          h->n_layers, h->n_heads, h->n_kv_heads, h->vocab_size, h->seq_len);
            return SRL_EFORMAT;
        }
        ptr[i] = (const float *)(data + off);
        off += n;
    }
    if (off != len)
        srl_log_warning("%s: %zu bytes after the last tensor ignored", model_path, len - off);
    check_rope(model_path, ptr[FREQ_R], ptr[FREQ_I], (int)hs, h->seq_len);

    size_t n_entries = 2 + 9 * L + (h->shared ? 0 : 1);
    struct srl_st_entry *e = calloc(n_entries, sizeof *e);
    char (*names)[96] = calloc(n_entries, sizeof *names);
    float *perm = malloc((D * D + KVD * D) * L * sizeof(float));
    int rc = SRL_ENOMEM;
    if (!e || !names || !perm) {
        srl_log_error("%s: out of memory", model_path);
        goto out;
    }
    size_t k = 0;
#define ADD(nm, nd, d0, d1, p)                                                    \
    do {                                                                          \
        snprintf(names[k], sizeof names[k], "%s", nm);                            \
        e[k].name = names[k];                                                     \
        e[k].ndim = nd;                                                           \
        e[k].shape[0] = (int64_t)(d0);                                            \
        e[k].shape[1] = (int64_t)(d1);                                            \
        e[k].data = p;                                                            \
        k++;                                                                      \
    } while (0)
    ADD("model.embed_tokens.weight", 2, V, D, ptr[EMB]);
    ADD("model.norm.weight", 1, D, 0, ptr[RMS_F]);
    if (!h->shared) ADD("lm_head.weight", 2, V, D, ptr[WCLS]);
    for (size_t l = 0; l < L; l++) {
        char nm[96];
        float *q = perm + l * (D * D + KVD * D), *kk = q + D * D;
        permute_rope_rows(q, ptr[WQ] + l * D * D, h->n_heads, (int)hs, (int)D);
        permute_rope_rows(kk, ptr[WK] + l * KVD * D, h->n_kv_heads, (int)hs, (int)D);
#define LAYER(suffix, nd, d0, d1, p)                                              \
        do {                                                                      \
            snprintf(nm, sizeof nm, "model.layers.%zu.%s", l, suffix);            \
            ADD(nm, nd, d0, d1, p);                                               \
        } while (0)
        LAYER("input_layernorm.weight", 1, D, 0, ptr[RMS_ATT] + l * D);
        LAYER("self_attn.q_proj.weight", 2, D, D, q);
        LAYER("self_attn.k_proj.weight", 2, KVD, D, kk);
        LAYER("self_attn.v_proj.weight", 2, KVD, D, ptr[WV] + l * KVD * D);
        LAYER("self_attn.o_proj.weight", 2, D, D, ptr[WO] + l * D * D);
        LAYER("post_attention_layernorm.weight", 1, D, 0, ptr[RMS_FFN] + l * D);
        LAYER("mlp.gate_proj.weight", 2, F, D, ptr[W1] + l * F * D);
        LAYER("mlp.down_proj.weight", 2, D, F, ptr[W2] + l * D * F);
        LAYER("mlp.up_proj.weight", 2, F, D, ptr[W3] + l * F * D);
#undef LAYER
    }
#undef ADD
    rc = srl_st_write(path, e, k, dtype, "{\"format\":\"pt\"}");
out:
    free(perm);
    free(names);
    free(e);
    return rc;
}

static int write_generation_config(const char *dir, int bos, int eos)
{
    char text[256], *path = srl_path_join(dir, "generation_config.json");
    snprintf(text, sizeof text, "{\n  \"bos_token_id\": %d,\n  \"do_sample\": false,\n"
                                "  \"eos_token_id\": %d\n}\n", bos, eos);
    int rc = path ? srl_write_file_atomic(path, text, strlen(text)) : SRL_ENOMEM;
    free(path);
    return rc;
}

int srl_llama2c_convert(const char *model_bin, const char *tokenizer, const char *out_dir,
                        enum srl_dtype dtype, struct srl_llama2c_header *hdr)
{
    char *data = NULL, *path = NULL;
    size_t len, tl = strlen(tokenizer);
    struct srl_llama2c_header h;
    struct srl_tokenizer *t = NULL;
    int rc = srl_read_file(model_bin, &data, &len);
    if (rc < 0) return rc;
    if ((rc = read_header(model_bin, data, len, &h)) < 0) goto out;
    if (hdr) *hdr = h;
    rc = SRL_ENOMEM;
    if (!(path = srl_path_join(out_dir, "model.safetensors"))) goto out;
    if ((rc = write_weights(model_bin, data, len, &h, dtype, path)) < 0) goto out;

    struct srl_config cfg;
    srl_config_default(&cfg, SRL_ARCH_LLAMA);
    cfg.dtype = dtype;
    cfg.vocab_size = h.vocab_size;
    cfg.hidden_size = h.dim;
    cfg.intermediate_size = h.hidden_dim;
    cfg.num_hidden_layers = h.n_layers;
    cfg.num_attention_heads = h.n_heads;
    cfg.num_key_value_heads = h.n_kv_heads;
    cfg.head_dim = h.dim / h.n_heads;
    cfg.max_position_embeddings = h.seq_len;
    cfg.norm_eps = 1e-5f;
    cfg.rope_theta = 10000.0f;
    cfg.tie_word_embeddings = h.shared;
    cfg.bos_token_id = h.vocab_size > 1 ? 1 : -1;
    cfg.eos_token_id = h.vocab_size > 2 ? 2 : -1;
    free(path);
    rc = SRL_ENOMEM;
    if (!(path = srl_path_join(out_dir, "config.json"))) goto out;
    if ((rc = srl_config_save(&cfg, path)) < 0) goto out;
    if ((rc = write_generation_config(out_dir, cfg.bos_token_id, cfg.eos_token_id)) < 0)
        goto out;
    rc = tl >= 6 && strcmp(tokenizer + tl - 6, ".model") == 0
             ? srl_tokenizer_convert_sentencepiece(tokenizer, out_dir)
             : srl_tokenizer_convert_llama2c(tokenizer, out_dir);
    if (rc < 0) goto out;
    if (!(t = srl_tokenizer_load(out_dir, &rc))) goto out;
    if (srl_tokenizer_vocab_size(t) > h.vocab_size) {
        srl_log_error("%s: %d tokens but the model %s has only %d", tokenizer,
                      srl_tokenizer_vocab_size(t), model_bin, h.vocab_size);
        rc = SRL_EINVAL;
        goto out;
    }
    rc = 0;
out:
    srl_tokenizer_free(t);
    free(path);
    free(data);
    return rc;
}
