/* backend.h -- the operations the transformer is built from, as a table of function pointers.
 *
 * Model, reward/cost-model and PPO code call only through a struct srl_backend, so the CUDA
 * backend can slot in without touching them.  Every pointer argument of an op (except the small
 * host-side scalars) is memory of that backend: from be->alloc(), filled with be->upload().  The
 * CPU backend (srl_backend_cpu()) is the readable reference: cblas_sgemm for every matrix
 * product, OpenMP loops with static schedules for the rest, and a fixed reduction order, so the
 * same inputs and thread count give bitwise-identical results.
 *
 * Conventions: row-major; N = B*T rows; C = hidden size; "(N,C)" in a comment is the shape.
 * Gradient outputs named d* ACCUMULATE (+=) into parameter gradients (dw, db, dwte, dwpe) and
 * OVERWRITE (=) activation gradients (dinp, dq, ...) unless the comment says otherwise.
 * Ops are void: their only failure mode is a programming error (shapes), not user input. */
#ifndef SRL_BACKEND_H
#define SRL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct srl_backend {
    const char *name; /* "cpu", "cuda" */

    // --- memory ----------------------------------------------------------------------------
    void *(*alloc)(size_t bytes); /* zero-filled, 64-byte aligned; NULL on failure (logged) */
    void (*free)(void *p);        /* NULL is a no-op */
    int (*upload)(void *dst, const void *host_src, size_t bytes);   /* 0 or SRL_E* */
    int (*download)(void *host_dst, const void *src, size_t bytes); /* 0 or SRL_E* */
    void (*memset0)(void *p, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes); /* device to device */
    void (*sync)(void);

    // --- matrix products ---------------------------------------------------------------------
    /* C = alpha * op(A) * op(B) + beta * C.  op(A) is (M,K), op(B) is (K,N), C is (M,N);
     * ta/tb say A/B are stored transposed; lda/ldb/ldc are the row strides as stored.  Covers
     * nn.Linear weights (out,in) (tb = true) and GPT-2 Conv1D weights (in,out) (tb = false). */
    void (*matmul)(float *C, const float *A, const float *B, int M, int N, int K, bool ta,
                   bool tb, int lda, int ldb, int ldc, float alpha, float beta);

    // --- embeddings --------------------------------------------------------------------------
    /* out[n] = wte[tokens[n]] (+ wpe[max(pos[n],0)] when wpe is not NULL).
     * out (N,C), tokens (N), pos (N), wte (V,C), wpe (P,C). */
    void (*embedding_fwd)(float *out, const int32_t *tokens, const int32_t *pos, const float *wte,
                          const float *wpe, int N, int C);
    /* dwte[tokens[n]] += dout[n]; dwpe[pos[n]] += dout[n] when dwpe is not NULL. */
    void (*embedding_bwd)(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                          const int32_t *pos, int N, int C);

    // --- normalisation -----------------------------------------------------------------------
    /* out = inp * rstd * w, rstd = 1/sqrt(mean(inp^2) + eps).  out, inp (N,C); w (C); rstd (N). */
    void (*rmsnorm_fwd)(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                        float eps);
    /* dinp = (or += when accumulate) d(out)/d(inp) . dout; dw += ... */
    void (*rmsnorm_bwd)(float *dinp, float *dw, const float *dout, const float *inp,
                        const float *w, const float *rstd, int N, int C, bool accumulate);
    /* out = (inp - mean) * rstd * w + b.  mean, rstd (N). */
    void (*layernorm_fwd)(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, int N, int C, float eps);
    void (*layernorm_bwd)(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, const float *mean, const float *rstd, int N, int C,
                          bool accumulate);

    // --- rotary position embedding (HF rotate_half convention), in place --------------------
    /* x is (N, ld) holding H heads of D values each from column 0; head h of row n is rotated
     * by angle max(pos[n],0) * theta^(-2i/D) on the pairs (i, i+D/2).  rope_bwd applies the
     * inverse rotation (to a gradient). */
    void (*rope_fwd)(float *x, const int32_t *pos, int N, int ld, int H, int D, float theta);
    void (*rope_bwd)(float *dx, const int32_t *pos, int N, int ld, int H, int D, float theta);

    // --- causal self-attention with grouped-query heads --------------------------------------
    /* q is (B,T,NH,D) with row stride ldq, k and v (B,T,KVH,D) with row stride ldkv; query
     * head h uses key/value head h / (NH/KVH).  att (B,NH,T,T) gets the softmax probabilities
     * (kept for backward); out (B,T,NH,D) dense.  Query t sees keys s <= t whose pos >= 0
     * (pos NULL: all); pos < 0 marks a padding token, whose own output is zero.
     * scale is usually 1/sqrt(D). */
    void (*attention_fwd)(float *out, float *att, const float *q, const float *k, const float *v,
                          const int32_t *pos, int B, int T, int NH, int KVH, int D, int ldq,
                          int ldkv, float scale);
    /* Incremental decoding against a KV cache: T new queries q (B,T,NH,D) (row stride ldq)
     * sit at cache slots start..start+T-1 and see the slots s <= their own whose kpos >= 0
     * (a query whose own kpos < 0 gets zeros).  kc, vc are (B,cap,KVH,D) dense; kpos (B,cap).
     * out (B,T,NH,D) dense.  Scratch is the backend's own business. */
    void (*attention_fwd_kv)(float *out, const float *q, const float *kc, const float *vc,
                             const int32_t *kpos, int B, int T, int start, int cap, int NH,
                             int KVH, int D, int ldq, float scale);
    /* dq (stride ldq), dk, dv (stride ldkv) are overwritten; datt (B,NH,T,T) is scratch. */
    void (*attention_bwd)(float *dq, float *dk, float *dv, float *datt, const float *dout,
                          const float *att, const float *q, const float *k, const float *v,
                          int B, int T, int NH, int KVH, int D, int ldq, int ldkv, float scale);

    // --- activations and elementwise ---------------------------------------------------------
    /* out = silu(gate) * up.  gate, up read from gu (N, 2F) as [gate | up]; out (N,F). */
    void (*swiglu_fwd)(float *out, const float *gu, int N, int F);
    /* dgu (N,2F) overwritten from dout (N,F). */
    void (*swiglu_bwd)(float *dgu, const float *dout, const float *gu, int N, int F);
    /* GELU, tanh approximation (HF "gelu_new").  n elements. */
    void (*gelu_fwd)(float *out, const float *inp, size_t n);
    void (*gelu_bwd)(float *dinp, const float *dout, const float *inp, size_t n);
    /* out = a + b (out may alias a or b). */
    void (*add)(float *out, const float *a, const float *b, size_t n);
    /* out (N,C) += bias (C) on every row; bias_bwd: dbias (C) += sum over rows of dout. */
    void (*bias_fwd)(float *out, const float *bias, int N, int C, int ldo);
    void (*bias_bwd)(float *dbias, const float *dout, int N, int C, int ldd);

    // --- LM head: log-probabilities of targets (fused log-softmax) ---------------------------
    /* For each row n of logits (N,V): lse[n] = logsumexp(logits[n]),
     * logp[n] = logits[n][targets[n]] - lse[n] (0 when targets[n] < 0).  logits unchanged. */
    void (*logprob_fwd)(float *logp, float *lse, const float *logits, const int32_t *targets,
                        int N, int V);
    /* Overwrites logits IN PLACE with dL/dlogits = dlogp[n] * (onehot(target) - softmax):
     * the backward of logprob_fwd given the upstream dL/dlogp (N).  Rows with dlogp = 0 or
     * target < 0 become zeros.  Cross-entropy with a mask is dlogp = -mask / sum(mask). */
    void (*logprob_bwd)(float *logits, const float *dlogp, const float *lse,
                        const int32_t *targets, int N, int V);

    // --- optimiser and reductions (optional slots: NULL when not provided) -------------------
    /* Sum of squares of x (n), accumulated in double, returned to the host. */
    double (*sumsq)(const float *x, size_t n);
    /* x *= s */
    void (*scale)(float *x, float s, size_t n);
    /* One AdamW step on n parameters (slot for the optimiser; see lib/optim.h):
     * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (mhat/(sqrt(vhat)+eps) + wd p),
     * with bias corrections bc1 = 1-b1^t, bc2 = 1-b2^t given by the caller. */
    void (*adamw_step)(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                       float b2, float eps, float wd, float bc1, float bc2);
    /* The same step on the gradient g * gscale, scaled as it is read (g is not written): the
     * gradient-clipping factor folded into the update, one pass over the four arrays instead of
     * a scaling pass and a step.  Bitwise the same p, m, v as scale(g, gscale) then adamw_step.
     * Optional: without it the optimiser scales g, then calls adamw_step. */
    void (*adamw_step_scaled)(float *p, const float *g, float *m, float *v, size_t n, float lr,
                              float b1, float b2, float eps, float wd, float bc1, float bc2,
                              float gscale);
};

/* The CPU backend (static table, never freed).  The first call sets OpenBLAS to one thread
 * for the whole process: the backend runs sgemm on its own OpenMP threads (omp_set_num_threads
 * or OMP_NUM_THREADS choose how many).  Other code calling cblas_* directly gets one thread. */
const struct srl_backend *srl_backend_cpu(void);

#endif
