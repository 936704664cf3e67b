/* model.c -- the transformer: parameter arena and views, forward, explicit backward.
 *
 * Both families run the same pre-norm block, differing only in the ops chosen:
 *     h   = norm1(x)                          RMSNorm (Llama) | LayerNorm (GPT-2)
 *     qkv = h W_qkv^T (+ b)                   RoPE on q, k (Llama) | nothing (GPT-2)
 *     x2  = x + attn(q, k, v) W_o^T (+ b)
 *     h2  = norm2(x2)
 *     x'  = x2 + act(h2 W_1^T (+ b)) W_2^T (+ b)   SwiGLU (gate|up) | GELU
 * The Llama q/k/v weights (and biases, and gate/up) are laid out next to each other in the
 * arena, so each is ONE (out,in) matrix for sgemm while keeping its own HF name.  GPT-2 Conv1D
 * weights are used in their stored (in,out) layout through the matmul transpose flag. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_internal.h"
#include "rng.h"
#include "srl.h"

// --- parameter table -------------------------------------------------------------------------

static size_t add_view(struct srl_model *m, size_t *off, bool no_decay, int ndim, int64_t s0,
                       int64_t s1, const char *fmt, ...) SRL_FORMAT(7, 8);

static size_t add_view(struct srl_model *m, size_t *off, bool no_decay, int ndim, int64_t s0,
                       int64_t s1, const char *fmt, ...)
{
    struct srl_param_view *v = &m->views[m->n_views++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->name, sizeof v->name, fmt, ap);
    va_end(ap);
    v->ndim = ndim;
    v->shape[0] = s0;
    v->shape[1] = ndim > 1 ? s1 : 0;
    v->numel = (size_t)s0 * (ndim > 1 ? (size_t)s1 : 1);
    v->offset = *off;
    v->no_decay = no_decay;
    *off += v->numel;
    return v->offset;
}

static void build_llama(struct srl_model *m, struct srl_model_layout *ly, size_t *off)
{
    const struct srl_config *c = &m->cfg;
    int C = ly->C, F = ly->F;
    ly->wte = add_view(m, off, false, 2, ly->V, C, "model.embed_tokens.weight");
    for (int l = 0; l < ly->L; l++) {
        struct srl_layer_params *p = &ly->layer[l];
        const char *a = "model.layers.%d.self_attn", *mm = "model.layers.%d.mlp";
        char n[SRL_PARAM_NAME_MAX];
        p->lo = *off;
        // q, k, v weights adjacent: one (QD+2KVD, C) matrix
        snprintf(n, sizeof n, a, l);
        p->wqkv = add_view(m, off, false, 2, ly->QD, C, "%s.q_proj.weight", n);
        add_view(m, off, false, 2, ly->KVD, C, "%s.k_proj.weight", n);
        add_view(m, off, false, 2, ly->KVD, C, "%s.v_proj.weight", n);
        p->bqkv = NONE;
        if (c->attention_bias) {
            p->bqkv = add_view(m, off, true, 1, ly->QD, 0, "%s.q_proj.bias", n);
            add_view(m, off, true, 1, ly->KVD, 0, "%s.k_proj.bias", n);
            add_view(m, off, true, 1, ly->KVD, 0, "%s.v_proj.bias", n);
        }
        p->wo = add_view(m, off, false, 2, C, ly->QD, "%s.o_proj.weight", n);
        p->bo = c->attention_out_bias ? add_view(m, off, true, 1, C, 0, "%s.o_proj.bias", n)
                                      : NONE;
        // gate and up adjacent: one (2F, C) matrix
        snprintf(n, sizeof n, mm, l);
        p->w1 = add_view(m, off, false, 2, F, C, "%s.gate_proj.weight", n);
        add_view(m, off, false, 2, F, C, "%s.up_proj.weight", n);
        p->b1 = NONE;
        if (c->mlp_bias) {
            p->b1 = add_view(m, off, true, 1, F, 0, "%s.gate_proj.bias", n);
            add_view(m, off, true, 1, F, 0, "%s.up_proj.bias", n);
        }
        p->w2 = add_view(m, off, false, 2, C, F, "%s.down_proj.weight", n);
        p->b2 = c->mlp_bias ? add_view(m, off, true, 1, C, 0, "%s.down_proj.bias", n) : NONE;
        p->ln1_w = add_view(m, off, true, 1, C, 0, "model.layers.%d.input_layernorm.weight", l);
        p->ln2_w = add_view(m, off, true, 1, C, 0,
                            "model.layers.%d.post_attention_layernorm.weight", l);
        p->ln1_b = p->ln2_b = NONE;
    }
    ly->lnf_w = add_view(m, off, true, 1, C, 0, "model.norm.weight");
    ly->lnf_b = NONE;
    ly->wpe = NONE;
}

static void build_gpt2(struct srl_model *m, struct srl_model_layout *ly, size_t *off)
{
    int C = ly->C, F = ly->F;
    ly->wte = add_view(m, off, false, 2, ly->V, C, "transformer.wte.weight");
    ly->wpe = add_view(m, off, false, 2, m->cfg.max_position_embeddings, C,
                       "transformer.wpe.weight");
    for (int l = 0; l < ly->L; l++) {
        struct srl_layer_params *p = &ly->layer[l];
        char n[SRL_PARAM_NAME_MAX];
        p->lo = *off;
        snprintf(n, sizeof n, "transformer.h.%d", l);
        p->ln1_w = add_view(m, off, true, 1, C, 0, "%s.ln_1.weight", n);
        p->ln1_b = add_view(m, off, true, 1, C, 0, "%s.ln_1.bias", n);
        p->wqkv = add_view(m, off, false, 2, C, ly->QKVD, "%s.attn.c_attn.weight", n);
        p->bqkv = add_view(m, off, true, 1, ly->QKVD, 0, "%s.attn.c_attn.bias", n);
        p->wo = add_view(m, off, false, 2, ly->QD, C, "%s.attn.c_proj.weight", n);
        p->bo = add_view(m, off, true, 1, C, 0, "%s.attn.c_proj.bias", n);
        p->ln2_w = add_view(m, off, true, 1, C, 0, "%s.ln_2.weight", n);
        p->ln2_b = add_view(m, off, true, 1, C, 0, "%s.ln_2.bias", n);
        p->w1 = add_view(m, off, false, 2, C, F, "%s.mlp.c_fc.weight", n);
        p->b1 = add_view(m, off, true, 1, F, 0, "%s.mlp.c_fc.bias", n);
        p->w2 = add_view(m, off, false, 2, F, C, "%s.mlp.c_proj.weight", n);
        p->b2 = add_view(m, off, true, 1, C, 0, "%s.mlp.c_proj.bias", n);
    }
    ly->lnf_w = add_view(m, off, true, 1, C, 0, "transformer.ln_f.weight");
    ly->lnf_b = add_view(m, off, true, 1, C, 0, "transformer.ln_f.bias");
}

struct srl_model *srl_model_new(const struct srl_config *cfg, const struct srl_backend *be,
                                int *err)
{
    // head_dim and num_key_value_heads may be left 0 for their HF defaults
    struct srl_config c = *cfg;
    if (c.num_attention_heads > 0 && c.head_dim <= 0)
        c.head_dim = c.hidden_size / c.num_attention_heads;
    if (c.num_key_value_heads <= 0)
        c.num_key_value_heads = c.num_attention_heads;
    int rc = srl_config_validate(&c, "model");
    if (rc < 0) {
        *err = rc;
        return NULL;
    }
    cfg = &c;
    int errors = srl_log_error_count();
    struct srl_model *m = calloc(1, sizeof *m);
    struct srl_model_layout *ly = calloc(1, sizeof *ly);
    if (!m || !ly)
        goto oom;
    m->cfg = *cfg;
    m->be = be;
    m->layout = ly;
    ly->C = cfg->hidden_size;
    ly->NH = cfg->num_attention_heads;
    ly->KVH = cfg->num_key_value_heads > 0 ? cfg->num_key_value_heads : ly->NH;
    ly->D = cfg->head_dim > 0 ? cfg->head_dim : ly->C / ly->NH;
    ly->QD = ly->NH * ly->D;
    ly->KVD = ly->KVH * ly->D;
    ly->QKVD = ly->QD + 2 * ly->KVD;
    ly->F = cfg->intermediate_size;
    ly->V = cfg->vocab_size;
    ly->L = cfg->num_hidden_layers;
    ly->conv1d = cfg->arch == SRL_ARCH_GPT2;
    ly->fc_width = ly->conv1d ? ly->F : 2 * ly->F;
    ly->layer = calloc((size_t)ly->L, sizeof *ly->layer);
    m->views = calloc(8 + (size_t)ly->L * 24, sizeof *m->views);
    if (!ly->layer || !m->views)
        goto oom;

    size_t off = 0;
    if (ly->conv1d)
        build_gpt2(m, ly, &off);
    else
        build_llama(m, ly, &off);
    if (cfg->head == SRL_HEAD_SCORE)
        ly->head_w = add_view(m, &off, false, 2, 1, ly->C, "score.weight");
    else if (cfg->tie_word_embeddings)
        ly->head_w = ly->wte;
    else
        ly->head_w = add_view(m, &off, false, 2, ly->V, ly->C, "lm_head.weight");
    m->n_params = off;
    if (be && !(m->params = be->alloc(off * sizeof(float)))) /* be NULL: the shape only */
        goto oom;
    *err = 0;
    return m;
oom:
    if (srl_log_error_count() == errors) /* the backend says which allocation failed */
        srl_log_error("out of memory creating the model");
    srl_model_free(m);
    if (!m)
        free(ly);
    *err = SRL_ENOMEM;
    return NULL;
}

static void free_acts(struct srl_model *m)
{
    if (m->act_arena)
        m->be->free(m->act_arena);
    m->act_arena = NULL;
    free(m->layers);
    free(m->head_host);
    m->layers = NULL;
    m->head_host = NULL;
    m->act_cap_N = m->act_cap_att = 0;
}

void srl_model_free(struct srl_model *m)
{
    if (!m)
        return;
    srl_model_decode_free(m);
    free_acts(m);
    if (m->params)
        m->be->free(m->params);
    if (m->grads)
        m->be->free(m->grads);
    if (m->layout)
        free(m->layout->layer);
    free(m->layout);
    free(m->views);
    free(m);
}

const struct srl_param_view *srl_model_find(const struct srl_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_views; i++)
        if (!strcmp(m->views[i].name, name))
            return &m->views[i];
    return NULL;
}

static bool host_backend(const struct srl_model *m)
{
    return !strcmp(m->be->name, "cpu");
}

float *srl_model_param(struct srl_model *m, const char *name)
{
    const struct srl_param_view *v = srl_model_find(m, name);
    return v && host_backend(m) ? m->params + v->offset : NULL;
}

float *srl_model_grad(struct srl_model *m, const char *name)
{
    const struct srl_param_view *v = srl_model_find(m, name);
    return v && m->grads && host_backend(m) ? m->grads + v->offset : NULL;
}

int srl_model_zero_grad(struct srl_model *m)
{
    if (!m->grads) {
        m->grads = m->be->alloc(m->n_params * sizeof(float)); // zero-filled
        return m->grads ? 0 : SRL_ENOMEM;
    }
    m->be->memset0(m->grads, m->n_params * sizeof(float));
    return 0;
}

int srl_model_init_random(struct srl_model *m, uint64_t seed)
{
    struct srl_rng rng;
    srl_rng_seed(&rng, seed);
    size_t n = m->n_params;
    float *h = malloc(n * sizeof(float));
    if (!h) {
        srl_log_error("out of memory initialising the model");
        return SRL_ENOMEM;
    }
    double resid_std = 0.02 / sqrt(2.0 * m->cfg.num_hidden_layers);
    for (size_t i = 0; i < m->n_views; i++) {
        const struct srl_param_view *v = &m->views[i];
        float *p = h + v->offset;
        const char *nm = v->name;
        size_t len = strlen(nm);
        bool is_bias = len > 5 && !strcmp(nm + len - 5, ".bias");
        bool is_norm = strstr(nm, "norm") || strstr(nm, ".ln_");
        if (is_bias) {
            memset(p, 0, v->numel * sizeof(float));
        } else if (is_norm) {
            for (size_t j = 0; j < v->numel; j++)
                p[j] = 1.0f;
        } else {
            // GPT-2 scales the residual projections by 1/sqrt(2 L) (HF GPT2PreTrainedModel)
            double std = m->layout->conv1d && strstr(nm, "c_proj.weight") ? resid_std : 0.02;
            for (size_t j = 0; j < v->numel; j++)
                p[j] = (float)(std * srl_rng_normal(&rng));
        }
    }
    int rc = m->be->upload(m->params, h, n * sizeof(float));
    free(h);
    return rc;
}

// --- activations -----------------------------------------------------------------------------

size_t srl_model_act_floats(const struct srl_model *m, int B, int T)
{
    // saturates at SIZE_MAX (which then fails to allocate) instead of wrapping for an absurd
    // B, T or config
#define MUL srl_size_mul
#define ADD srl_size_add
    const struct srl_model_layout *ly = m->layout;
    size_t N = (size_t)B * T, natt = MUL(N * ly->NH, (size_t)T);
    size_t C = ly->C, F = ly->F, fw = ly->fc_width, L = ly->L;
    size_t head = m->cfg.head == SRL_HEAD_SCORE ? 1 : (size_t)ly->V;
    size_t per_layer = ADD(MUL(N, C + C + 2 + ly->QKVD + ly->QD + C + C + 2 + fw + F), natt);
    size_t total = ADD(MUL(L, per_layer), MUL(N, C + C + 2 + head + 4)); // final, head, lse/logp
    if (m->cfg.head == SRL_HEAD_LM) total = ADD(total, MUL(N, C)); // sparse head rows
    total = ADD(total, ADD(MUL(N, C + C + ly->QKVD + ly->QD + fw + F), natt)); // backward
    size_t ints = 4 * N;
    // every piece starts on a 16-float boundary
    size_t pieces = L * 13 + 18;
    return ADD(total, ints + pieces * 16);
#undef MUL
#undef ADD
}

/* Make room for N = B*T rows and B*NH*T*T attention probabilities. */
static int ensure_acts(struct srl_model *m, int B, int T)
{
    const struct srl_model_layout *ly = m->layout;
    size_t N = (size_t)B * T, natt = srl_size_mul(N * ly->NH, (size_t)T);
    if (N <= m->act_cap_N && natt <= m->act_cap_att)
        return 0;
    free_acts(m);
    size_t C = ly->C, F = ly->F, fw = ly->fc_width, L = ly->L;
    size_t head = m->cfg.head == SRL_HEAD_SCORE ? 1 : (size_t)ly->V;
    float *a = m->be->alloc(srl_size_mul(srl_model_act_floats(m, B, T), sizeof(float)));
    m->layers = calloc(L, sizeof *m->layers);
    m->head_host = malloc(srl_size_mul(3 * N, sizeof(int32_t)));
    if (!a || !m->layers || !m->head_host) {
        if (a)
            m->be->free(a);
        free(m->layers);
        free(m->head_host);
        m->layers = NULL;
        m->head_host = NULL;
        srl_log_error("out of memory for activations of B=%d T=%d", B, T);
        return SRL_ENOMEM;
    }
    m->act_arena = a;
    float *p = a;
#define TAKE(n) (p += (((n) + 15) & ~(size_t)15), p - (((n) + 15) & ~(size_t)15))
    for (size_t l = 0; l < L; l++) {
        struct srl_layer_acts *la = &m->layers[l];
        la->res = TAKE(N * C);
        la->ln1 = TAKE(N * C);
        la->ln1_mean = TAKE(N);
        la->ln1_rstd = TAKE(N);
        la->qkv = TAKE(N * ly->QKVD);
        la->att = TAKE(natt);
        la->atty = TAKE(N * ly->QD);
        la->res2 = TAKE(N * C);
        la->ln2 = TAKE(N * C);
        la->ln2_mean = TAKE(N);
        la->ln2_rstd = TAKE(N);
        la->fc = TAKE(N * fw);
        la->act = TAKE(N * F);
    }
    m->res_final = TAKE(N * C);
    m->lnf = TAKE(N * C);
    m->lnf_mean = TAKE(N);
    m->lnf_rstd = TAKE(N);
    m->logits = m->cfg.head == SRL_HEAD_SCORE ? NULL : TAKE(N * head);
    m->lnf_rows = m->cfg.head == SRL_HEAD_SCORE ? NULL : TAKE(N * C);
    m->scores = m->cfg.head == SRL_HEAD_SCORE ? TAKE(N) : NULL;
    m->lse = TAKE(N);
    m->logp = TAKE(N);
    m->dlogp = TAKE(N);
    m->d_res = TAKE(N * C);
    m->d_ln = TAKE(N * C);
    m->d_qkv = TAKE(N * ly->QKVD);
    m->d_att = TAKE(natt);
    m->d_atty = TAKE(N * ly->QD);
    m->d_fc = TAKE(N * fw);
    m->d_act = TAKE(N * F);
    m->tokens = (int32_t *)TAKE(N);
    m->pos = (int32_t *)TAKE(N);
    m->targets = (int32_t *)TAKE(N);
    m->head_rows = (int32_t *)TAKE(N);
#undef TAKE
    m->act_cap_N = N;
    m->act_cap_att = natt;
    return 0;
}

// --- building blocks -------------------------------------------------------------------------

#define PAR(off) (m->params + (off))
#define GRD(off) (m->grads + (off))

/* out (N,outf) [row stride ldo] = beta*out + inp (N,in) [stride ldi] . W^T (+ bias), with W
 * stored (outf,in) (nn.Linear) or (in,outf) (Conv1D). */
void srl_model_linear_fwd(struct srl_model *m, float *out, int ldo, const float *inp, int ldi,
                          size_t w, size_t b, int N, int in, int outf, float beta)
{
    const struct srl_backend *be = m->be;
    if (m->layout->conv1d)
        be->matmul(out, inp, PAR(w), N, outf, in, false, false, ldi, outf, ldo, 1.0f, beta);
    else
        be->matmul(out, inp, PAR(w), N, outf, in, false, true, ldi, in, ldo, 1.0f, beta);
    if (b != NONE)
        be->bias_fwd(out, PAR(b), N, outf, ldo);
}

/* Backward of linear_fwd: dinp (N,in) = beta*dinp + dout . W; dW += ...; db += ... */
static void linear_bwd(struct srl_model *m, float *dinp, int lddi, const float *dout, int ldd,
                       const float *inp, int ldi, size_t w, size_t b, int N, int in, int outf,
                       float beta)
{
    const struct srl_backend *be = m->be;
    if (m->layout->conv1d) {
        // W is (in,outf): dinp = dout W^T; dW += inp^T dout
        be->matmul(dinp, dout, PAR(w), N, in, outf, false, true, ldd, outf, lddi, 1.0f, beta);
        be->matmul(GRD(w), inp, dout, in, outf, N, true, false, ldi, ldd, outf, 1.0f, 1.0f);
    } else {
        // W is (outf,in): dinp = dout W; dW += dout^T inp
        be->matmul(dinp, dout, PAR(w), N, in, outf, false, false, ldd, in, lddi, 1.0f, beta);
        be->matmul(GRD(w), dout, inp, outf, in, N, true, false, ldd, ldi, in, 1.0f, 1.0f);
    }
    if (b != NONE)
        be->bias_bwd(GRD(b), dout, N, outf, ldd);
}

void srl_model_norm_fwd(struct srl_model *m, float *out, float *mean, float *rstd,
                        const float *inp, size_t w, size_t b, int N)
{
    if (m->cfg.arch == SRL_ARCH_GPT2)
        m->be->layernorm_fwd(out, mean, rstd, inp, PAR(w), PAR(b), N, m->layout->C,
                             m->cfg.norm_eps);
    else
        m->be->rmsnorm_fwd(out, rstd, inp, PAR(w), N, m->layout->C, m->cfg.norm_eps);
}

static void norm_bwd(struct srl_model *m, float *dinp, const float *dout, const float *inp,
                     const float *mean, const float *rstd, size_t w, size_t b, int N, bool acc)
{
    if (m->cfg.arch == SRL_ARCH_GPT2)
        m->be->layernorm_bwd(dinp, GRD(w), GRD(b), dout, inp, PAR(w), mean, rstd, N,
                             m->layout->C, acc);
    else
        m->be->rmsnorm_bwd(dinp, GRD(w), dout, inp, PAR(w), rstd, N, m->layout->C, acc);
}

// --- forward ---------------------------------------------------------------------------------

int srl_model_forward(struct srl_model *m, const int32_t *tokens, const int32_t *pos, int B,
                      int T)
{
    const struct srl_backend *be = m->be;
    const struct srl_model_layout *ly = m->layout;
    if (B <= 0 || T <= 0) {
        srl_log_error("model forward: bad shape B=%d T=%d", B, T);
        return SRL_EINVAL;
    }
    int N = B * T, C = ly->C;
    bool padding = false;
    for (int n = 0; n < N; n++) {
        if (tokens[n] < 0 || tokens[n] >= ly->V) {
            srl_log_error("token id %d at [%d][%d] is outside the vocabulary (%d)", tokens[n],
                          n / T, n % T, ly->V);
            return SRL_EINVAL;
        }
        int p = pos ? pos[n] : n % T;
        if (ly->wpe != NONE && p >= m->cfg.max_position_embeddings) {
            srl_log_error("position %d is beyond max_position_embeddings (%d)", p,
                          m->cfg.max_position_embeddings);
            return SRL_EINVAL;
        }
        padding |= p < 0;
    }
    int rc = ensure_acts(m, B, T);
    if (rc < 0)
        return rc;
    m->B = B;
    m->T = T;
    m->have_pos_padding = padding;
    m->logits_valid = m->logprobs_valid = m->loss_valid = false;
    if ((rc = be->upload(m->tokens, tokens, sizeof(int32_t) * N)) < 0)
        return rc;
    if (pos) {
        rc = be->upload(m->pos, pos, sizeof(int32_t) * N);
    } else {
        int32_t *h = malloc(sizeof(int32_t) * N);
        if (!h)
            return SRL_ENOMEM;
        for (int n = 0; n < N; n++)
            h[n] = n % T;
        rc = be->upload(m->pos, h, sizeof(int32_t) * N);
        free(h);
    }
    if (rc < 0)
        return rc;

    // x is (N,C): token (+ position) embeddings
    be->embedding_fwd(m->layers[0].res, m->tokens, m->pos, PAR(ly->wte),
                      ly->wpe != NONE ? PAR(ly->wpe) : NULL, N, C);
    float scale = 1.0f / sqrtf((float)ly->D);
    for (int l = 0; l < ly->L; l++) {
        const struct srl_layer_params *p = &ly->layer[l];
        struct srl_layer_acts *a = &m->layers[l];
        float *out = l + 1 < ly->L ? m->layers[l + 1].res : m->res_final;
        // attention block
        srl_model_norm_fwd(m, a->ln1, a->ln1_mean, a->ln1_rstd, a->res, p->ln1_w, p->ln1_b, N);
        srl_model_linear_fwd(m, a->qkv, ly->QKVD, a->ln1, C, p->wqkv, p->bqkv, N, C, ly->QKVD,
                             0.0f);
        float *q = a->qkv, *k = a->qkv + ly->QD, *v = k + ly->KVD;
        if (m->cfg.arch == SRL_ARCH_LLAMA) {
            be->rope_fwd(q, m->pos, N, ly->QKVD, ly->NH, ly->D, m->cfg.rope_theta);
            be->rope_fwd(k, m->pos, N, ly->QKVD, ly->KVH, ly->D, m->cfg.rope_theta);
        }
        be->attention_fwd(a->atty, a->att, q, k, v, padding ? m->pos : NULL, B, T, ly->NH,
                          ly->KVH, ly->D, ly->QKVD, ly->QKVD, scale);
        be->copy(a->res2, a->res, sizeof(float) * N * C);
        srl_model_linear_fwd(m, a->res2, C, a->atty, ly->QD, p->wo, p->bo, N, ly->QD, C, 1.0f);
        // MLP block
        srl_model_norm_fwd(m, a->ln2, a->ln2_mean, a->ln2_rstd, a->res2, p->ln2_w, p->ln2_b, N);
        srl_model_linear_fwd(m, a->fc, ly->fc_width, a->ln2, C, p->w1, p->b1, N, C,
                             ly->fc_width, 0.0f);
        if (m->cfg.arch == SRL_ARCH_LLAMA)
            be->swiglu_fwd(a->act, a->fc, N, ly->F);
        else
            be->gelu_fwd(a->act, a->fc, (size_t)N * ly->F);
        be->copy(out, a->res2, sizeof(float) * N * C);
        srl_model_linear_fwd(m, out, C, a->act, ly->F, p->w2, p->b2, N, ly->F, C, 1.0f);
    }
    srl_model_norm_fwd(m, m->lnf, m->lnf_mean, m->lnf_rstd, m->res_final, ly->lnf_w, ly->lnf_b, N);
    // head: logits (N,V) = lnf W^T, or scores (N,1) = lnf w^T; both nn.Linear layout
    if (m->cfg.head == SRL_HEAD_SCORE)
        be->matmul(m->scores, m->lnf, PAR(ly->head_w), N, 1, C, false, true, C, C, 1, 1.0f,
                   0.0f);
    else if (!m->sparse_head) // the sparse head runs in srl_model_logprobs
        be->matmul(m->logits, m->lnf, PAR(ly->head_w), N, ly->V, C, false, true, C, C, ly->V,
                   1.0f, 0.0f);
    m->logits_valid = m->cfg.head == SRL_HEAD_LM;
    return 0;
}

void srl_model_set_sparse_head(struct srl_model *m, bool on)
{
    if (m->sparse_head == on)
        return;
    m->sparse_head = on;
    m->logits_valid = m->logprobs_valid = m->loss_valid = false;
}

// --- LM head losses --------------------------------------------------------------------------

/* The sparse head: the rows with a target (and a non-zero mask) gathered, logits (n,V) =
 * lnf_rows (n,C) W^T; head_host gets their row numbers and targets. */
static int sparse_head_fwd(struct srl_model *m, const int32_t *targets, const float *mask)
{
    const struct srl_model_layout *ly = m->layout;
    int N = m->B * m->T, C = ly->C, n = 0;
    int32_t *rows = m->head_host, *tg = rows + N;
    for (int i = 0; i < N; i++)
        if (targets[i] >= 0 && (!mask || mask[i] != 0.0f)) {
            rows[n] = i;
            tg[n++] = targets[i];
        }
    m->n_head = n;
    if (n == 0)
        return 0;
    int rc = m->be->upload(m->head_rows, rows, sizeof(int32_t) * n);
    if (rc < 0)
        return rc;
    m->be->embedding_fwd(m->lnf_rows, m->head_rows, NULL, m->lnf, NULL, n, C); // gather
    m->be->matmul(m->logits, m->lnf_rows, PAR(ly->head_w), n, ly->V, C, false, true, C, C,
                  ly->V, 1.0f, 0.0f);
    return 0;
}

/* v[0..n) (the head's rows) spread to v[0..N) in place: v[rows[k]] = v[k], 0 elsewhere. */
static void spread_rows(float *v, const int32_t *rows, int n, int N)
{
    for (int i = N - 1, k = n - 1; i >= 0; i--)
        v[i] = k >= 0 && rows[k] == i ? v[k--] : 0.0f; // rows[k] >= k: v[k] is still unread
}

/* log p(targets) of every row (or, sparse, of the rows with a target and mask) into m->logp. */
static int head_logprobs(struct srl_model *m, const int32_t *targets, const float *mask)
{
    if (m->cfg.head != SRL_HEAD_LM || !m->logits_valid) {
        srl_log_error("log-probabilities need an LM model after a forward pass (backward "
                      "consumes the logits)");
        return SRL_EINVAL;
    }
    int N = m->B * m->T, V = m->layout->V, rc;
    for (int n = 0; n < N; n++) {
        if (targets[n] >= V) {
            srl_log_error("target id %d at [%d][%d] is outside the vocabulary (%d)", targets[n],
                          n / m->T, n % m->T, V);
            return SRL_EINVAL;
        }
    }
    if (m->sparse_head) {
        if ((rc = sparse_head_fwd(m, targets, mask)) < 0)
            return rc;
        targets = m->head_host + N; // the head rows' targets
    } else {
        m->n_head = N;
    }
    if (m->n_head > 0) {
        if ((rc = m->be->upload(m->targets, targets, sizeof(int32_t) * m->n_head)) < 0)
            return rc;
        m->be->logprob_fwd(m->logp, m->lse, m->logits, m->targets, m->n_head, V);
    }
    m->logprobs_valid = true;
    m->loss_valid = false;
    return 0;
}

/* m->logp as (N) host values, 0 at the rows the sparse head skipped. */
static int download_logp(struct srl_model *m, float *logp)
{
    int N = m->B * m->T, rc = 0;
    if (m->n_head > 0)
        rc = m->be->download(logp, m->logp, sizeof(float) * m->n_head);
    if (rc == 0 && m->n_head < N)
        spread_rows(logp, m->head_host, m->n_head, N);
    return rc;
}

/* dL/dlogp (N) host -> m->dlogp (the head's rows only when sparse). */
static int upload_dlogp(struct srl_model *m, const float *dlogp)
{
    int N = m->B * m->T;
    if (m->n_head < N) {
        const int32_t *rows = m->head_host;
        float *d = (float *)(m->head_host + 2 * N);
        for (int k = 0; k < m->n_head; k++)
            d[k] = dlogp[rows[k]];
        dlogp = d;
    }
    return m->n_head > 0 ? m->be->upload(m->dlogp, dlogp, sizeof(float) * m->n_head) : 0;
}

int srl_model_logprobs(struct srl_model *m, const int32_t *targets, float *logp)
{
    int rc = head_logprobs(m, targets, NULL);
    return rc == 0 && logp ? download_logp(m, logp) : rc;
}

int srl_model_loss(struct srl_model *m, const int32_t *targets, const float *mask, float *loss)
{
    int rc = head_logprobs(m, targets, mask);
    if (rc < 0)
        return rc;
    // over the head's n rows (row rows[k] when sparse, k otherwise): a row the sparse head
    // skipped has weight 0 and adds nothing
    int n = m->n_head;
    const int32_t *rows = m->sparse_head ? m->head_host : NULL;
    float *lp = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * 2);
    if (!lp)
        return SRL_ENOMEM;
    float *dl = lp + n;
    if (n > 0 && (rc = m->be->download(lp, m->logp, sizeof(float) * n)) < 0) {
        free(lp);
        return rc;
    }
    double msum = 0.0, lsum = 0.0;
    for (int k = 0; k < n; k++) {
        int i = rows ? rows[k] : k;
        double w = targets[i] < 0 ? 0.0 : mask ? mask[i] : 1.0;
        msum += w;
        lsum += w * -(double)lp[k];
    }
    if (!(msum > 0.0)) {
        srl_log_error("loss mask selects no tokens");
        free(lp);
        return SRL_EINVAL;
    }
    for (int k = 0; k < n; k++) {
        int i = rows ? rows[k] : k;
        double w = targets[i] < 0 ? 0.0 : mask ? mask[i] : 1.0;
        dl[k] = (float)(-w / msum);
    }
    rc = m->be->upload(m->dlogp, dl, sizeof(float) * n);
    free(lp);
    if (rc < 0)
        return rc;
    *loss = (float)(lsum / msum);
    if (!isfinite(*loss)) {
        srl_log_error("loss is not finite");
        return SRL_ENUMERIC;
    }
    m->loss_valid = true;
    return 0;
}

// --- backward --------------------------------------------------------------------------------

/* Backprop from m->d_ln = dL/d(final norm output) down to the embeddings. */
static void backward_body(struct srl_model *m)
{
    const struct srl_backend *be = m->be;
    const struct srl_model_layout *ly = m->layout;
    int B = m->B, T = m->T, N = B * T, C = ly->C;
    float scale = 1.0f / sqrtf((float)ly->D);
    norm_bwd(m, m->d_res, m->d_ln, m->res_final, m->lnf_mean, m->lnf_rstd, ly->lnf_w, ly->lnf_b,
             N, false);
    for (int l = ly->L - 1; l >= 0; l--) {
        const struct srl_layer_params *p = &ly->layer[l];
        struct srl_layer_acts *a = &m->layers[l];
        // d_res is dL/d(layer output) = dL/d(x2 + mlp): MLP first
        linear_bwd(m, m->d_act, ly->F, m->d_res, C, a->act, ly->F, p->w2, p->b2, N, ly->F, C,
                   0.0f);
        if (m->cfg.arch == SRL_ARCH_LLAMA)
            be->swiglu_bwd(m->d_fc, m->d_act, a->fc, N, ly->F);
        else
            be->gelu_bwd(m->d_fc, m->d_act, a->fc, (size_t)N * ly->F);
        linear_bwd(m, m->d_ln, C, m->d_fc, ly->fc_width, a->ln2, C, p->w1, p->b1, N, C,
                   ly->fc_width, 0.0f);
        norm_bwd(m, m->d_res, m->d_ln, a->res2, a->ln2_mean, a->ln2_rstd, p->ln2_w, p->ln2_b, N,
                 true);
        // now d_res is dL/d(x2): attention block
        linear_bwd(m, m->d_atty, ly->QD, m->d_res, C, a->atty, ly->QD, p->wo, p->bo, N, ly->QD,
                   C, 0.0f);
        float *q = a->qkv, *k = a->qkv + ly->QD, *v = k + ly->KVD;
        float *dq = m->d_qkv, *dk = dq + ly->QD, *dv = dk + ly->KVD;
        be->attention_bwd(dq, dk, dv, m->d_att, m->d_atty, a->att, q, k, v, B, T, ly->NH,
                          ly->KVH, ly->D, ly->QKVD, ly->QKVD, scale);
        if (m->cfg.arch == SRL_ARCH_LLAMA) {
            be->rope_bwd(dq, m->pos, N, ly->QKVD, ly->NH, ly->D, m->cfg.rope_theta);
            be->rope_bwd(dk, m->pos, N, ly->QKVD, ly->KVH, ly->D, m->cfg.rope_theta);
        }
        linear_bwd(m, m->d_ln, C, m->d_qkv, ly->QKVD, a->ln1, C, p->wqkv, p->bqkv, N, C,
                   ly->QKVD, 0.0f);
        norm_bwd(m, m->d_res, m->d_ln, a->res, a->ln1_mean, a->ln1_rstd, p->ln1_w, p->ln1_b, N,
                 true);
        if (m->grad_hook) m->grad_hook(m->grad_hook_ctx, p->lo); /* [p->lo, n_params) final */
    }
    be->embedding_bwd(GRD(ly->wte), ly->wpe != NONE ? GRD(ly->wpe) : NULL, m->d_res, m->tokens,
                      m->pos, N, C);
    if (m->grad_hook) m->grad_hook(m->grad_hook_ctx, 0);
}

void srl_model_set_grad_hook(struct srl_model *m, void (*fn)(void *ctx, size_t lo), void *ctx)
{
    m->grad_hook = fn;
    m->grad_hook_ctx = ctx;
}

int srl_model_grad_marks(const struct srl_model *m, size_t *marks)
{
    const struct srl_model_layout *ly = m->layout;
    for (int l = ly->L - 1; l >= 0; l--) *marks++ = ly->layer[l].lo;
    *marks = 0;
    return ly->L + 1;
}

static int backward_ready(struct srl_model *m, enum srl_head head)
{
    if (m->cfg.head != head || m->B == 0) {
        srl_log_error("backward: no forward pass of the right head to differentiate");
        return SRL_EINVAL;
    }
    if (!m->grads)
        return srl_model_zero_grad(m);
    return 0;
}

/* dlogp (N) already on the backend. */
static int backward_lm(struct srl_model *m)
{
    int rc = backward_ready(m, SRL_HEAD_LM);
    if (rc < 0)
        return rc;
    if (!m->logprobs_valid) {
        srl_log_error("backward: no srl_model_loss/srl_model_logprobs since the last forward");
        return SRL_EINVAL;
    }
    const struct srl_model_layout *ly = m->layout;
    int N = m->B * m->T, n = m->n_head, C = ly->C, V = ly->V;
    m->logits_valid = m->logprobs_valid = m->loss_valid = false;
    if (!m->sparse_head) {
        // logits (N,V) become dlogits in place; d_ln (N,C) = dlogits W (V,C);
        // dW += dlogits^T lnf
        m->be->logprob_bwd(m->logits, m->dlogp, m->lse, m->targets, N, V);
        m->be->matmul(m->d_ln, m->logits, PAR(ly->head_w), N, C, V, false, false, V, C, C,
                      1.0f, 0.0f);
        m->be->matmul(GRD(ly->head_w), m->logits, m->lnf, V, C, N, true, false, V, C, C, 1.0f,
                      1.0f);
    } else {
        // the head's n rows: dlogits (n,V) in place; d_res (n,C) = dlogits W;
        // dW += dlogits^T lnf_rows; d_ln (N,C) zero but for the scattered rows
        m->be->memset0(m->d_ln, sizeof(float) * (size_t)N * C);
        if (n > 0) {
            m->be->logprob_bwd(m->logits, m->dlogp, m->lse, m->targets, n, V);
            m->be->matmul(m->d_res, m->logits, PAR(ly->head_w), n, C, V, false, false, V, C, C,
                          1.0f, 0.0f);
            m->be->matmul(GRD(ly->head_w), m->logits, m->lnf_rows, V, C, n, true, false, V, C,
                          C, 1.0f, 1.0f);
            m->be->embedding_bwd(m->d_ln, NULL, m->d_res, m->head_rows, NULL, n, C); // scatter
        }
    }
    backward_body(m);
    return 0;
}

int srl_model_backward(struct srl_model *m)
{
    if (!m->loss_valid) {
        srl_log_error("backward: no srl_model_loss since the last forward or backward");
        return SRL_EINVAL;
    }
    return backward_lm(m);
}

int srl_model_backward_logprob(struct srl_model *m, const float *dlogp)
{
    if (!m->logprobs_valid)
        return backward_lm(m); // logs the error
    int rc = upload_dlogp(m, dlogp);
    return rc < 0 ? rc : backward_lm(m);
}

int srl_model_backward_score(struct srl_model *m, const float *dscore)
{
    int rc = backward_ready(m, SRL_HEAD_SCORE);
    if (rc < 0)
        return rc;
    const struct srl_model_layout *ly = m->layout;
    int N = m->B * m->T, C = ly->C;
    if ((rc = m->be->upload(m->dlogp, dscore, sizeof(float) * N)) < 0)
        return rc;
    // d_ln (N,C) = dscore (N,1) w (1,C); dw (1,C) += dscore^T (1,N) lnf (N,C)
    m->be->matmul(m->d_ln, m->dlogp, PAR(ly->head_w), N, C, 1, false, false, 1, C, C, 1.0f,
                  0.0f);
    m->be->matmul(GRD(ly->head_w), m->dlogp, m->lnf, 1, C, N, true, false, 1, C, C, 1.0f, 1.0f);
    backward_body(m);
    return 0;
}
