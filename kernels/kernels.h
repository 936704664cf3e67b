/* kernels.h -- the C interface of the CUDA kernels (the only kernel header lib/ includes).
 *
 * One launcher per op of lib/backend.h, with the same arguments, shapes and accumulate /
 * overwrite rules (the comments there are the spec; lib/backend_cpu*.c is the reference).
 * Every pointer is device memory from srl_cuda_alloc() unless said otherwise.  All ops run
 * in order on one stream; launch errors abort through CUDA_CHECK (the device is unusable
 * after them), while setup and allocation return 0 or a negative SRL_E* code. */
#ifndef SRL_KERNELS_H
#define SRL_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// --- device, context, memory (device.cu) ------------------------------------------------------

/* Number of visible CUDA devices; 0 when the driver or a device is missing. */
int srl_cuda_device_count(void);

/* Select DEVICE for this process and create the cuBLAS handle and the stream (once; a second
 * call with another device fails with SRL_EINVAL).  0, SRL_ENOCUDA or SRL_EINVAL. */
int srl_cuda_init(int device);

/* Matrix-product precision: operands stay fp32 in memory (fp32 master weights); BF16 and
 * TF32 let cuBLAS round them for the tensor cores and accumulate in fp32. */
enum srl_cuda_math { SRL_CUDA_MATH_FP32 = 0, SRL_CUDA_MATH_BF16 = 1, SRL_CUDA_MATH_TF32 = 2 };
void srl_cuda_set_math(enum srl_cuda_math math);
enum srl_cuda_math srl_cuda_get_math(void);

/* Device name and memory (free, total) of the initialised device, for logs and --dry-run. */
int srl_cuda_device_info(char *name, size_t name_size, size_t *free_bytes, size_t *total_bytes);

void *srl_cuda_alloc(size_t bytes); /* zero-filled; NULL on failure (logged) */
void srl_cuda_free(void *p);
int srl_cuda_upload(void *dst, const void *host_src, size_t bytes);
int srl_cuda_download(void *host_dst, const void *src, size_t bytes);
void srl_cuda_memset0(void *p, size_t bytes);
void srl_cuda_copy(void *dst, const void *src, size_t bytes);
void srl_cuda_sync(void);

// --- matrix products (matmul.cu) ---------------------------------------------------------------

void srl_cuda_matmul(float *C, const float *A, const float *B, int M, int N, int K, bool ta,
                     bool tb, int lda, int ldb, int ldc, float alpha, float beta);

// --- embeddings (embedding.cu) -----------------------------------------------------------------

void srl_cuda_embedding_fwd(float *out, const int32_t *tokens, const int32_t *pos,
                            const float *wte, const float *wpe, int N, int C);
void srl_cuda_embedding_bwd(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                            const int32_t *pos, int N, int C);

// --- normalisation (norm.cu) -------------------------------------------------------------------

void srl_cuda_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, int N,
                          int C, float eps);
void srl_cuda_rmsnorm_bwd(float *dinp, float *dw, const float *dout, const float *inp,
                          const float *w, const float *rstd, int N, int C, bool accumulate);
void srl_cuda_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp,
                            const float *w, const float *b, int N, int C, float eps);
void srl_cuda_layernorm_bwd(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, const float *mean,
                            const float *rstd, int N, int C, bool accumulate);

// --- rotary embedding (rope.cu) ----------------------------------------------------------------

void srl_cuda_rope_fwd(float *x, const int32_t *pos, int N, int ld, int H, int D, float theta);
void srl_cuda_rope_bwd(float *dx, const int32_t *pos, int N, int ld, int H, int D, float theta);

// --- attention (attention.cu, attention_bwd.cu) ------------------------------------------------

void srl_cuda_attention_fwd(float *out, float *att, const float *q, const float *k,
                            const float *v, const int32_t *pos, int B, int T, int NH, int KVH,
                            int D, int ldq, int ldkv, float scale);
void srl_cuda_attention_fwd_kv(float *out, const float *q, const float *kc, const float *vc,
                               const int32_t *kpos, int B, int T, int start, int cap, int NH,
                               int KVH, int D, int ldq, float scale);
void srl_cuda_attention_bwd(float *dq, float *dk, float *dv, float *datt, const float *dout,
                            const float *att, const float *q, const float *k, const float *v,
                            int B, int T, int NH, int KVH, int D, int ldq, int ldkv,
                            float scale);

// --- activations and elementwise (activation.cu) -----------------------------------------------

void srl_cuda_swiglu_fwd(float *out, const float *gu, int N, int F);
void srl_cuda_swiglu_bwd(float *dgu, const float *dout, const float *gu, int N, int F);
void srl_cuda_gelu_fwd(float *out, const float *inp, size_t n);
void srl_cuda_gelu_bwd(float *dinp, const float *dout, const float *inp, size_t n);
void srl_cuda_add(float *out, const float *a, const float *b, size_t n);
void srl_cuda_bias_fwd(float *out, const float *bias, int N, int C, int ldo);
void srl_cuda_bias_bwd(float *dbias, const float *dout, int N, int C, int ldd);

// --- LM head log-probabilities (logprob.cu) ----------------------------------------------------

void srl_cuda_logprob_fwd(float *logp, float *lse, const float *logits, const int32_t *targets,
                          int N, int V);
void srl_cuda_logprob_bwd(float *logits, const float *dlogp, const float *lse,
                          const int32_t *targets, int N, int V);

// --- optimiser and reductions (optim.cu) -------------------------------------------------------

double srl_cuda_sumsq(const float *x, size_t n);
void srl_cuda_scale(float *x, float s, size_t n);
void srl_cuda_adamw_step(float *p, const float *g, float *m, float *v, size_t n, float lr,
                         float b1, float b2, float eps, float wd, float bc1, float bc2);

// --- sampling helpers (sampler.cu) -------------------------------------------------------------

/* probs (N,V) = softmax(logits / temperature) row by row (temperature > 0); then, when
 * top_k > 0, all but the k largest are zeroed, and when 0 < top_p < 1, all outside the
 * smallest set whose mass reaches top_p; the kept mass is renormalised to 1.  Ties at the
 * cut keep the lower index (as a stable sort by descending probability would). */
void srl_cuda_sample_probs(float *probs, const float *logits, int N, int V, float temperature,
                           int top_k, float top_p);

#ifdef __cplusplus
}
#endif

#endif
