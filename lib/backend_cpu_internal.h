/* backend_cpu_internal.h -- private to lib/: the CPU ops defined outside backend_cpu.c, and the
 * vectorisable exp they and lib/sampler.c share. */
#ifndef SRL_BACKEND_CPU_INTERNAL_H
#define SRL_BACKEND_CPU_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "backend.h"

/* exp(x) for float, vectorisable (loops calling it use `omp simd`): Cody-Waite reduction to
 * r in [-ln2/2, ln2/2] and the Cephes degree-6 polynomial, about 1 ulp, then scaling by 2^n
 * through the exponent bits.  libm's expf/tanhf are scalar calls and were ~10% of a GPT-2
 * training step.  Underflows to 0 below -87.3; saturates above 88.7. */
/* A hot vector loop's function built twice, for AVX2 and for the baseline, picked at load time
 * by the CPU (GCC's ifunc clones; nothing where the compiler lacks them). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define SRL_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SRL_VECTOR_CLONES
#endif

/* Loops over fewer elements than this run on the calling thread alone: waking the other
 * threads (5-10 us with a passive wait policy) costs about what they would save.  A decoding
 * step of one stream is some forty such loops of a few hundred elements. */
enum { SRL_CPU_PAR_MIN = 16384 };

/* Which of OpenBLAS's builds is loaded: "serial", "pthreads" or "openmp" (Debian ships all
 * three; LD_LIBRARY_PATH can pick one over the system's).  The benchmarks print it. */
const char *srl_cpu_blas_build(void);

#pragma omp declare simd notinbranch
static inline float vexpf(float x)
{
    x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
    // round to nearest by the 1.5*2^23 trick (floorf is a libm call without SSE4.1)
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    // NaN propagates through p; n must not reach the int conversion (undefined for NaN) and
    // the exponent is shifted unsigned (a negative int shifted left is undefined)
    uint32_t bits = (uint32_t)((int32_t)(n == n ? n : 0.0f) + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x <= -87.3f ? 0.0f : p * scale;
}

void srl_cpu_matmul(float *C, const float *A, const float *B, int M, int N, int K, bool ta,
                    bool tb, int lda, int ldb, int ldc, float alpha, float beta);
/* The row blocks tr (tr divides nt; the nt/tr column blocks take the rest of the threads)
 * srl_cpu_matmul splits C (M,N) into on nt threads: the grid that packs least. */
int srl_cpu_matmul_row_blocks(int M, int N, int nt);
/* srl_cpu_matmul on nt OpenMP threads, C split into tr row blocks x nt/tr column blocks (tr
 * divides nt), each one single-threaded sgemm (bench_train compares splits with it). */
void srl_cpu_matmul_grid(float *C, const float *A, const float *B, int M, int N, int K, bool ta,
                         bool tb, int lda, int ldb, int ldc, float alpha, float beta, int nt,
                         int tr);
void srl_cpu_rope_fwd(float *x, const int32_t *pos, int N, int ld, int H, int D, float theta);
void srl_cpu_rope_bwd(float *dx, const int32_t *pos, int N, int ld, int H, int D, float theta);
void srl_cpu_attention_fwd(float *out, float *att, const float *q, const float *k,
                           const float *v, const int32_t *pos, int B, int T, int NH, int KVH,
                           int D, int ldq, int ldkv, float scale);
void srl_cpu_attention_fwd_kv(float *out, const float *q, const float *kc, const float *vc,
                              const int32_t *kpos, int B, int T, int start, int cap, int NH,
                              int KVH, int D, int ldq, float scale);
void srl_cpu_attention_bwd(float *dq, float *dk, float *dv, float *datt, const float *dout,
                           const float *att, const float *q, const float *k, const float *v,
                           int B, int T, int NH, int KVH, int D, int ldq, int ldkv,
                           float scale);
/* [i0, i1) of block b of nb over len, in multiples of 16 (whole cache lines of C): how the
 * products split C's rows or columns over the threads. */
void srl_cpu_block_range(int len, int nb, int b, int *i0, int *i1);
/* C (M,N) = alpha A B^T + beta C with A (M,K) rows lda apart, B (N,K) rows ldb apart, on nt
 * threads, without packing B (lib/backend_cpu_small_m.c): srl_cpu_matmul's path for a few rows
 * against a weight, as a decoding step of 2-64 streams multiplies. */
/* [64] the most rows of A that take that path (0: off, every product of 2+ rows through
 * sgemm); above 16 rows only for a B of 65536 elements or more (sgemm's packing of a small B
 * is cheap and its kernel does more with each element).  On 2 AVX2 cores it beat OpenBLAS's
 * sgemm 1.3-3x from 2 to 64 rows on the decoding shapes of a d256 Llama (bench_generate's
 * generate_head lines measure it against sgemm in one run). */
extern int srl_cpu_small_m_max_rows;
/* [false] true: that path's portable loop even where AVX2 and FMA run (for the tests). */
extern bool srl_cpu_small_m_portable;
void srl_cpu_matmul_small_m(float *C, const float *A, const float *B, int M, int N, int K,
                            int lda, int ldb, int ldc, float alpha, float beta, int nt);

/* lib/backend_cpu_optim.c */
double srl_cpu_sumsq(const float *x, size_t n);
void srl_cpu_scale(float *x, float s, size_t n);
void srl_cpu_adamw_step(float *p, const float *g, float *m, float *v, size_t n, float lr,
                        float b1, float b2, float eps, float wd, float bc1, float bc2);
void srl_cpu_adamw_step_scaled(float *restrict p, const float *restrict g, float *restrict m,
                               float *restrict v, size_t n, float lr, float b1, float b2,
                               float eps, float wd, float bc1, float bc2, float gscale);

#endif
