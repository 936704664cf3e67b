/* llama2c_export.c -- a Llama model -> llama2.c legacy checkpoint (the inverse of llama2c.c). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "llama2c.h"
#include "model.h"
#include "srl.h"

/* HF's rotate_half halves (i, i + hs/2) back to llama2.c's interleaved pairs (2i, 2i+1):
 * dst row h*hs + 2i + j = src row h*hs + j*hs/2 + i (permute_rope_rows in llama2c.c, inverted). */
static float *unpermute_rope_rows(float *dst, const float *src, int n_heads, int hs, int dim)
{
    int half = hs / 2;
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(dst + ((size_t)h * hs + 2 * (size_t)i + j) * dim,
                       src + ((size_t)h * hs + (size_t)j * half + i) * dim, (size_t)dim * 4);
    return dst + (size_t)n_heads * hs * dim;
}

static float *put(float *dst, const float *src, size_t n)
{
    memcpy(dst, src, n * sizeof(float));
    return dst + n;
}

static const float *layer_w(struct srl_model *m, int l, const char *what)
{
    char name[128];
    snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, what);
    return srl_model_param(m, name);
}

int srl_llama2c_export(struct srl_model *m, const char *path)
{
    const struct srl_config *c = &m->cfg;
    int D = c->hidden_size, F = c->intermediate_size, L = c->num_hidden_layers;
    int NH = c->num_attention_heads, KVH = c->num_key_value_heads, hs = c->head_dim;
    int V = c->vocab_size, S = c->max_position_embeddings;
    if (c->arch != SRL_ARCH_LLAMA || c->head != SRL_HEAD_LM || NH * hs != D ||
        c->rope_theta != 10000.0f || c->norm_eps != 1e-5f) {
        srl_log_error("%s: llama2.c's format holds a Llama LM with heads x head_dim = hidden "
                      "size, rope_theta 10000 and rms_norm_eps 1e-5 only", path);
        return SRL_EINVAL;
    }
    const float *emb = srl_model_param(m, "model.embed_tokens.weight");
    const float *head = c->tie_word_embeddings ? emb : srl_model_param(m, "lm_head.weight");
    if (!emb || !head) {
        srl_log_error("%s: exporting needs the model's weights on the CPU", path);
        return SRL_EINVAL;
    }
    // sizes in floats: embedding, L x (2 norms, q, k, v, o, gate, down, up), final norm,
    // freq_cis real and imaginary (S, hs/2) each, the classifier when untied
    size_t KVD = (size_t)KVH * hs;
    size_t per_layer = 2 * (size_t)D + 2 * (size_t)D * D + 2 * KVD * D + 3 * (size_t)F * D;
    size_t n = (size_t)V * D * (c->tie_word_embeddings ? 1 : 2) + (size_t)L * per_layer + D +
               (size_t)S * hs;
    char *buf = malloc(28 + n * sizeof(float));
    if (!buf) {
        srl_log_error("%s: out of memory for %zu floats", path, n);
        return SRL_ENOMEM;
    }
    int32_t hdr[7] = { D, F, L, NH, KVH, c->tie_word_embeddings ? V : -V, S };
    memcpy(buf, hdr, sizeof hdr);
    float *p = (float *)(buf + 28);
    p = put(p, emb, (size_t)V * D);
    // llama2.c's order: each tensor for every layer, then the next tensor
    const struct {
        const char *what;
        size_t n;       /* floats a layer */
        int rope_heads; /* > 0: q or k rows, permuted back */
    } sec[] = {
        { "input_layernorm", D, 0 }, { "self_attn.q_proj", (size_t)D * D, NH },
        { "self_attn.k_proj", KVD * D, KVH }, { "self_attn.v_proj", KVD * D, 0 },
        { "self_attn.o_proj", (size_t)D * D, 0 }, { "post_attention_layernorm", D, 0 },
        { "mlp.gate_proj", (size_t)F * D, 0 }, { "mlp.down_proj", (size_t)D * F, 0 },
        { "mlp.up_proj", (size_t)F * D, 0 },
    };
    for (size_t i = 0; i < sizeof sec / sizeof sec[0]; i++)
        for (int l = 0; l < L; l++) {
            const float *w = layer_w(m, l, sec[i].what);
            if (!w)
                goto missing;
            p = sec[i].rope_heads ? unpermute_rope_rows(p, w, sec[i].rope_heads, hs, D)
                                  : put(p, w, sec[i].n);
        }
    const float *fin = srl_model_param(m, "model.norm.weight");
    if (!fin)
        goto missing;
    p = put(p, fin, D);
    // freq_cis as llama2.c's model.py: cos, sin of pos / 10000^(2i/hs), (S, hs/2) each
    for (int part = 0; part < 2; part++)
        for (int pos = 0; pos < S; pos++)
            for (int i = 0; i < hs / 2; i++) {
                float f = (float)pos * (1.0f / powf(10000.0f, (float)(2 * i) / (float)hs));
                *p++ = part ? sinf(f) : cosf(f);
            }
    if (!c->tie_word_embeddings)
        p = put(p, head, (size_t)V * D);
    int rc = srl_write_file_atomic(path, buf, 28 + n * sizeof(float));
    free(buf);
    return rc;
missing:
    srl_log_error("%s: the model lacks a Llama tensor (not loaded with HF names?)", path);
    free(buf);
    return SRL_EINVAL;
}
