/* model.h -- the transformer: Llama family and GPT-2, forward and explicit backward.
 *
 * Parameters, gradients (and, in lib/optim, the AdamW moments) each live in ONE arena of
 * n_params floats allocated on the model's backend; a table of named views maps every HF
 * tensor name to its offset, shape and layout exactly as in HF safetensors files, so a
 * checkpoint is read or written view by view and host/device transfer is one copy.
 *
 * Llama family (model_type llama, qwen2, mistral): model.embed_tokens.weight (V,C),
 *   model.layers.N.input_layernorm.weight (C), model.layers.N.self_attn.{q,k,v,o}_proj.weight
 *   (nn.Linear: (out,in)), .bias when cfg.attention_bias (q,k,v) / attention_out_bias (o),
 *   model.layers.N.post_attention_layernorm.weight, model.layers.N.mlp.{gate,up,down}_proj.weight
 *   (+ .bias when cfg.mlp_bias), model.norm.weight, lm_head.weight (V,C) when not tied.
 * GPT-2: transformer.wte.weight (V,C), transformer.wpe.weight (P,C), transformer.h.N.ln_1.{weight,
 *   bias}, transformer.h.N.attn.c_attn.{weight (C,3C), bias (3C)}, attn.c_proj.{weight (C,C),bias},
 *   ln_2, mlp.c_fc.{weight (C,F), bias}, mlp.c_proj.{weight (F,C), bias}, transformer.ln_f
 *   (Conv1D weights are (in,out)); the LM head is wte (or lm_head.weight when untied).
 * Score head (cfg.head == SRL_HEAD_SCORE): score.weight (1,C), no bias, and no LM head: a
 *   score at every position (HF's *ForSequenceClassification reads the last non-padding one).
 *
 * Typical training step:
 *     srl_model_zero_grad(m);
 *     srl_model_forward(m, tokens, NULL, B, T);
 *     srl_model_loss(m, targets, mask, &loss);   // LM: token-mean cross-entropy over mask
 *     srl_model_backward(m);                     // grads += dloss/dparams
 * Tokens, positions, targets, masks and upstream gradients passed to these functions are HOST
 * arrays; the model copies them to its backend.  Not thread-safe: one call at a time per model. */
#ifndef SRL_MODEL_H
#define SRL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "config.h"

#define SRL_PARAM_NAME_MAX 96

/* One named tensor inside the parameter arena (and at the same offset in the gradient arena
 * and optimiser moments). */
struct srl_param_view {
    char name[SRL_PARAM_NAME_MAX]; /* HF name, e.g. "model.layers.0.self_attn.q_proj.weight" */
    int ndim;                      /* 1 or 2 */
    int64_t shape[4];              /* as stored in HF files */
    size_t offset;                 /* in floats from the start of the arena */
    size_t numel;
    bool no_decay;                 /* norms and biases: no weight decay */
};

/* Activations of one layer, kept from forward for backward (llm.c style).  All (N = B*T). */
struct srl_layer_acts {
    float *res;      /* (N,C) residual stream entering the layer */
    float *ln1;      /* (N,C) first norm output */
    float *ln1_mean; /* (N) (GPT-2 only) */
    float *ln1_rstd; /* (N) */
    float *qkv;      /* (N, QD + 2*KVD) [q | k | v] after bias and RoPE */
    float *att;      /* (B,NH,T,T) attention probabilities */
    float *atty;     /* (N,QD) attention output before o_proj / c_proj */
    float *res2;     /* (N,C) residual after attention */
    float *ln2;      /* (N,C) */
    float *ln2_mean; /* (N) (GPT-2 only) */
    float *ln2_rstd; /* (N) */
    float *fc;       /* Llama: (N,2F) [gate | up]; GPT-2: (N,F) pre-GELU */
    float *act;      /* (N,F) MLP activation: silu(gate)*up or gelu(fc) */
};

struct srl_model_layout; /* private to lib/model*.c: per-layer parameter offsets */
struct srl_decode_state;

struct srl_model {
    struct srl_config cfg;
    const struct srl_backend *be;

    float *params; /* (n_params) arena on be */
    float *grads;  /* (n_params) arena on be; NULL until the first backward or zero_grad */
    size_t n_params;
    struct srl_param_view *views;
    size_t n_views;
    struct srl_model_layout *layout;

    // --- activations for the current (B,T), reallocated when B*T or T grows ----------------
    int B, T;                  /* shape of the last forward */
    size_t act_cap_N, act_cap_att; /* capacities (rows, attention elements) */
    float *act_arena;          /* one block holding everything below */
    struct srl_layer_acts *layers; /* (num_hidden_layers) */
    float *res_final;          /* (N,C) residual after the last layer */
    float *lnf, *lnf_mean, *lnf_rstd; /* (N,C), (N), (N) */
    float *logits;             /* (N,V) LM head output; in place dlogits after backward */
    float *scores;             /* (N) score head output */
    float *lse, *logp;         /* (N) from srl_model_logprobs / srl_model_loss */
    float *dlogp;              /* (N) upstream gradient scratch */
    /* sparse LM head (srl_model_set_sparse_head): the head runs only on the n_head rows that
     * have a target; logits, lse, logp, dlogp and targets then hold those rows compacted */
    bool sparse_head;
    int n_head;                /* rows of the last head: N, or the rows with a target */
    float *lnf_rows;           /* (N,C) on be: the final-norm rows the sparse head ran on */
    int32_t *head_rows;        /* (N) on be: their row numbers */
    int32_t *head_host;        /* (3N) host scratch: row numbers, targets, float values */
    int32_t *tokens, *pos, *targets; /* (N) copies of the inputs on be */
    bool have_pos_padding;     /* some pos < 0 */
    bool logits_valid;         /* logits hold the last forward's (not yet dlogits) */
    bool logprobs_valid;       /* lse, logp, targets are those of the current logits */
    bool loss_valid;           /* dlogp holds the gradient of the last srl_model_loss */
    // backward scratch
    float *d_res, *d_ln, *d_qkv, *d_att, *d_atty, *d_fc, *d_act; /* sized like the activations */
    void (*grad_hook)(void *ctx, size_t lo); /* srl_model_set_grad_hook */
    void *grad_hook_ctx;

    // --- incremental decoding (srl_model_decode), apart from the training activations -------
    struct srl_decode_state *dec;   /* private: KV cache and scratch */
    int cache_B, cache_cap;         /* rows and slots of the KV cache */
    int cache_len;                  /* slots filled so far */
    float *dec_out;                 /* logits (B,T,V) / (B,V) or scores (B,T) / (B) on be */
};

/* A new model for cfg (validated) on backend be, with all parameters zero.  Returns NULL with
 * *err set on failure.  Free with srl_model_free().  With be NULL only the shape is built
 * (views, n_params, layout; no arena): enough for srl_model_act_floats and memory plans of
 * models too big for this machine. */
struct srl_model *srl_model_new(const struct srl_config *cfg, const struct srl_backend *be,
                                int *err);
void srl_model_free(struct srl_model *m); /* NULL is a no-op */
/* Floats of the activation arena a forward (and backward) of B rows of T tokens allocates. */
size_t srl_model_act_floats(const struct srl_model *m, int B, int T);

/* HF-style initialisation: weights ~ normal(0, 0.02) from the deterministic RNG of lib/rng.h
 * seeded with seed (views in table order), norm weights 1, biases 0. */
int srl_model_init_random(struct srl_model *m, uint64_t seed); /* 0 or SRL_E* */

/* The view named name, or NULL. */
const struct srl_param_view *srl_model_find(const struct srl_model *m, const char *name);
/* Host pointer to a parameter (CPU backend only; NULL otherwise or when absent). */
float *srl_model_param(struct srl_model *m, const char *name);
float *srl_model_grad(struct srl_model *m, const char *name);

/* Load an HF checkpoint directory (config.json + model.safetensors or shards) onto be.  Every
 * expected tensor must exist with the expected shape, stored as F32, BF16, F16 or F64 (the
 * error names it); an unexpected tensor is an error (rotary inv_freq buffers are ignored
 * silently); a tied model needs no lm_head.weight.  Returns 0 and *out (free with
 * srl_model_free()) or SRL_E*. */
int srl_model_load(const char *dir, const struct srl_backend *be, struct srl_model **out);
/* The same with SRL_LOAD_* flags. */
int srl_model_load_flags(const char *dir, const struct srl_backend *be, unsigned flags,
                         struct srl_model **out);
/* Load the tensors of an HF checkpoint directory into an existing model (e.g. a score model
 * initialised from an LM checkpoint).  Checked as by srl_model_load().  With
 * SRL_LOAD_ALLOW_MISSING_HEAD an absent score.weight keeps its current values (a reward model
 * started from an SFT checkpoint); with SRL_LOAD_ALLOW_EXTRA unexpected tensors are warned
 * about and ignored (the tools' --allow-extra-tensors).  Returns 0 or SRL_E*. */
#define SRL_LOAD_ALLOW_MISSING_HEAD 1u
#define SRL_LOAD_ALLOW_EXTRA 2u
int srl_model_load_weights(struct srl_model *m, const char *dir, unsigned flags);
/* Write config.json and model.safetensors (in dtype) into dir, which must exist.
 * Each file is replaced atomically.  Returns 0 or SRL_E*. */
int srl_model_save(const struct srl_model *m, const char *dir, enum srl_dtype dtype);

/* Forward pass.  tokens (B,T), pos (B,T) or NULL for 0..T-1 in every row (pos < 0 marks
 * padding: masked out as a key; RoPE/wpe use position 0 for it).  Fills m->logits (B,T,V) or
 * m->scores (B,T).  Returns 0 or SRL_E* (bad token id, position >= max for GPT-2, OOM). */
int srl_model_forward(struct srl_model *m, const int32_t *tokens, const int32_t *pos, int B,
                      int T);

/* LM head, after forward: logp (B,T) host array (may be NULL) gets log p(targets[b][t] | ..)
 * (0 where targets < 0); also kept in m->logp.  Returns 0 or SRL_E*. */
int srl_model_logprobs(struct srl_model *m, const int32_t *targets, float *logp);

/* LM head, after forward: *loss = sum(mask * -logp(targets)) / sum(mask) (HF token mean;
 * mask NULL = all ones; targets < 0 are skipped).  Prepares srl_model_backward().
 * Returns 0 or SRL_E* (SRL_EINVAL when the mask sums to 0). */
int srl_model_loss(struct srl_model *m, const int32_t *targets, const float *mask, float *loss);

/* With on, forward stops at the final norm and srl_model_logprobs/srl_model_loss run the LM
 * head only on the rows that have a target (targets >= 0, and a non-zero mask for the loss):
 * the same log-probabilities and gradients (the head's weight gradient summed over fewer,
 * all-zero-free rows: equal within rounding) for less work where prompts or padding carry no
 * target.  m->logits is then not filled by forward.  Off by default. */
void srl_model_set_sparse_head(struct srl_model *m, bool on);

/* Backward of the last srl_model_loss(): grads += dloss/dparams.  Destroys m->logits. */
int srl_model_backward(struct srl_model *m);
/* LM head: backward given an upstream dL/dlogp (B,T) (host) for the targets of the last
 * srl_model_logprobs() or srl_model_loss() (e.g. a PPO policy loss).  Destroys m->logits. */
int srl_model_backward_logprob(struct srl_model *m, const float *dlogp);
/* Score head: backward given dL/dscore (B,T) (host). */
int srl_model_backward_score(struct srl_model *m, const float *dscore);

/* Gradients as a backward finishes them, for overlapping their all-reduce with the rest of it.
 * A backward computes the arena from its end to its start (head, final norm, layers L-1 .. 0,
 * embeddings), so after layer l grads[lo_l, n_params) hold their final value for this backward
 * (lo_l: the layer's first parameter), and after the embeddings all of them do.  With a hook
 * set, every backward calls fn(ctx, lo) at those L+1 points; fn NULL removes it.
 * srl_model_grad_marks writes the L+1 values of lo in the order they come (the last is 0) to
 * marks and returns L+1. */
void srl_model_set_grad_hook(struct srl_model *m, void (*fn)(void *ctx, size_t lo), void *ctx);
int srl_model_grad_marks(const struct srl_model *m, size_t *marks);

/* --- incremental decoding (generation, scoring without backward) ---------------------------
 * A KV cache holds B rows of up to cap slots.  srl_model_cache_reset() (re)allocates it when
 * B or cap changed and empties it.  srl_model_decode() appends T tokens (B,T) to every row at
 * slots cache_len..cache_len+T-1 (a prompt at once, then one token per call) and writes
 * m->dec_out: logits (B,T,V), or (B,V) for the last new token only when last_only (what
 * sampling needs, and V times less memory); the score head writes scores likewise.  pos (B,T)
 * gives positions (NULL: the slot index); pos < 0 marks padding (left-padded prompts), never
 * attended to.  Results equal srl_model_forward() on the whole sequence.  Uses its own
 * buffers: training activations are untouched.  Returns 0 or SRL_E* (cache full: SRL_EINVAL). */
int srl_model_cache_reset(struct srl_model *m, int B, int cap);
int srl_model_decode(struct srl_model *m, const int32_t *tokens, const int32_t *pos, int T,
                     bool last_only);

/* Zero the gradient arena (allocating it the first time).  Returns 0 or SRL_ENOMEM. */
int srl_model_zero_grad(struct srl_model *m);

#endif
