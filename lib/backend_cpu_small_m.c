/* backend_cpu_small_m.c -- C = alpha A B^T + beta C for a few rows of A against a weight B:
 * the products of a decoding step of 2-64 streams (16 streams of a d256 Llama: A (16, 256)
 * against the 32000 x 256 head and every layer's weights).
 *
 * sgemm packs all of B into its own layout on every call; with a few rows of A each packed
 * element is used only a few times, so the packing costs as much as the products
 * (bench_generate measures it).  Here B is read where it lies, once: each thread takes a fixed
 * range of B's rows (C's columns), and for three rows of B at a time computes their dot
 * products with every row of A, four rows of A at a time, K in blocks of 512 (A's block stays
 * in L2, the three rows of B in L1).  On AVX2 with FMA that tile is twelve 8-lane sums in
 * registers, fed by seven loads per twelve FMAs; elsewhere a portable loop of the same shape.
 * Every element of C is the same sums in the same order whatever the thread count, the tile
 * it falls in, or M. */
#include <omp.h>
#include <stddef.h>

#include "backend_cpu_internal.h"

/* A tile of C: 4 rows of A by 3 rows of B; K in blocks of 512; B's rows fetched 6 ahead. */
enum { TILE_M = 4, TILE_N = 3, K_BLOCK = 512, PREFETCH_ROWS = 6 };

bool srl_cpu_small_m_portable = false;

/* c = alpha * sum + beta * c; beta 0 never reads c (sgemm's rule: C may hold NaNs). */
static inline void store(float *c, float sum, float alpha, float beta)
{
    *c = beta == 0.0f ? alpha * sum : alpha * sum + beta * *c;
}

/* Portable: C[i][j] for mr <= 4 rows of A and nr <= 3 rows of B, each dot product in four
 * lanes over k in steps of 4, the lanes added in a fixed order at the end (P, the AVX2 tile's
 * prefetch address, unused). */
static void tile_portable(float *C, int ldc, const float *A, int lda, const float *B, int ldb,
                          const float *P, int mr, int nr, int K, float alpha, float beta)
{
    for (int i = 0; i < mr; i++) {
        const float *a = A + (size_t)i * lda;
        for (int j = 0; j < nr; j++) {
            const float *b = B + (size_t)j * ldb;
            float acc[4] = {0};
            int k = 0;
            for (; k + 4 <= K; k += 4)
                for (int l = 0; l < 4; l++)
                    acc[l] += a[k + l] * b[k + l];
            float sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
            for (; k < K; k++)
                sum += a[k] * b[k];
            store(C + (size_t)i * ldc + j, sum, alpha, beta);
        }
    }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define AVX2_FMA __attribute__((target("avx2,fma")))

/* The 8 lanes of each of a, b, c, d summed, as lanes 0-3: lane 0 is
 * ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)), whatever b, c and d hold, so a sum's
 * order does not depend on its neighbours in the tile. */
AVX2_FMA static inline __m128 hsum8x4(__m256 a, __m256 b, __m256 c, __m256 d)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* C (MR, NR) tile: MR <= 4 rows of A against NR <= 3 rows of B, k in steps of 8 (the last
 * step masked), MR * NR sums in registers.  MR and NR are constants at every call, so the
 * loops unroll and acc stays in registers. */
AVX2_FMA static inline __attribute__((always_inline)) void
tile_avx2(float *C, int ldc, const float *A, int lda, const float *B, int ldb, const float *P,
          int MR, int NR, int K, float alpha, float beta)
{
    __m256 acc[TILE_M][TILE_N];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
        for (int j = 0; j < NR; j++)
            acc[i][j] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 b[TILE_N];
#pragma GCC unroll 3
        for (int j = 0; j < NR; j++) {
            b[j] = _mm256_loadu_ps(B + (size_t)j * ldb + k);
            _mm_prefetch((const char *)(P + (size_t)j * ldb + k), _MM_HINT_T0);
        }
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            __m256 a = _mm256_loadu_ps(A + (size_t)i * lda + k);
#pragma GCC unroll 3
            for (int j = 0; j < NR; j++)
                acc[i][j] = _mm256_fmadd_ps(a, b[j], acc[i][j]);
        }
    }
    if (k < K) {
        // the last K % 8 elements: masked loads read zeros past the end
        __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(K - k), lane);
        __m256 b[TILE_N];
#pragma GCC unroll 3
        for (int j = 0; j < NR; j++)
            b[j] = _mm256_maskload_ps(B + (size_t)j * ldb + k, mask);
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            __m256 a = _mm256_maskload_ps(A + (size_t)i * lda + k, mask);
#pragma GCC unroll 3
            for (int j = 0; j < NR; j++)
                acc[i][j] = _mm256_fmadd_ps(a, b[j], acc[i][j]);
        }
    }
    __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
        float sum[4];
        _mm_storeu_ps(sum, hsum8x4(acc[i][0], NR > 1 ? acc[i][1] : zero,
                                   NR > 2 ? acc[i][2] : zero, zero));
#pragma GCC unroll 3
        for (int j = 0; j < NR; j++)
            store(C + (size_t)i * ldc + j, sum[j], alpha, beta);
    }
}

/* Any mr <= 4, nr <= 3: the constant-shaped tile that fits. */
AVX2_FMA static void tile_avx2_any(float *C, int ldc, const float *A, int lda, const float *B,
                                   int ldb, const float *P, int mr, int nr, int K, float alpha,
                                   float beta)
{
#define TILE(MR, NR) tile_avx2(C, ldc, A, lda, B, ldb, P, MR, NR, K, alpha, beta)
    switch (mr * 4 + nr) {
    case 4 * 4 + 3: TILE(4, 3); break;
    case 4 * 4 + 2: TILE(4, 2); break;
    case 4 * 4 + 1: TILE(4, 1); break;
    case 3 * 4 + 3: TILE(3, 3); break;
    case 3 * 4 + 2: TILE(3, 2); break;
    case 3 * 4 + 1: TILE(3, 1); break;
    case 2 * 4 + 3: TILE(2, 3); break;
    case 2 * 4 + 2: TILE(2, 2); break;
    case 2 * 4 + 1: TILE(2, 1); break;
    case 1 * 4 + 3: TILE(1, 3); break;
    case 1 * 4 + 2: TILE(1, 2); break;
    default: TILE(1, 1); break;
    }
#undef TILE
}

static bool have_avx2_fma(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static void tile_avx2_any(float *C, int ldc, const float *A, int lda, const float *B, int ldb,
                          const float *P, int mr, int nr, int K, float alpha, float beta)
{
    tile_portable(C, ldc, A, lda, B, ldb, P, mr, nr, K, alpha, beta);
}

static bool have_avx2_fma(void)
{
    return false;
}
#endif

void srl_cpu_matmul_small_m(float *C, const float *A, const float *B, int M, int N, int K,
                            int lda, int ldb, int ldc, float alpha, float beta, int nt)
{
    // A (M,K), B (N,K), C (M,N); thread t owns C's columns [j0, j1) (multiples of 16).  K in
    // blocks of K_BLOCK: A's block (M, K_BLOCK) stays in L2 and a tile's rows of B in L1;
    // each block's sums are added to C in block order.
    void (*tile)(float *, int, const float *, int, const float *, int, const float *, int, int,
                 int, float, float) =
        have_avx2_fma() && !srl_cpu_small_m_portable ? tile_avx2_any : tile_portable;
    if (K == 0) { /* no products: C = beta C, as sgemm */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                store(C + (size_t)i * ldc + j, 0.0f, alpha, beta);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int j0, j1;
        srl_cpu_block_range(N, omp_get_num_threads(), omp_get_thread_num(), &j0, &j1);
        for (int k = 0; k < K; k += K_BLOCK) {
            int kc = K - k < K_BLOCK ? K - k : K_BLOCK;
            float block_beta = k == 0 ? beta : 1.0f;
            for (int j = j0; j < j1; j += TILE_N) {
                int nr = j1 - j < TILE_N ? j1 - j : TILE_N;
                // the rows PREFETCH_ROWS ahead (if this thread's) are fetched meanwhile
                const float *b = B + (size_t)j * ldb + k, *p = b;
                if (j + PREFETCH_ROWS + TILE_N <= j1)
                    p += (size_t)PREFETCH_ROWS * ldb;
                for (int i = 0; i < M; i += TILE_M)
                    tile(C + (size_t)i * ldc + j, ldc, A + (size_t)i * lda + k, lda, b, ldb, p,
                         M - i < TILE_M ? M - i : TILE_M, nr, kc, alpha, block_beta);
            }
        }
    }
}
