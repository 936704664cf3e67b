/* backend_cpu_small_m.c -- C = alpha A B^T + beta C for a few rows of A against a large B: the
 * decoding step's LM head (16 streams: A (16, 256) against the 32000 x 256 head).
 *
 * sgemm packs all of B into its own layout on every call; with a few rows of A each packed
 * element is used only a few times, so the packing cost as much as the products (bench_generate
 * measures it).  Here B is read where it lies, once: each thread takes a fixed range of B's
 * rows (C's columns), and for four rows of B at a time computes their dot products with every
 * row of A (A stays in cache), two rows of A at a time (eight sums of four lanes).  Every
 * element of C is one dot product in a fixed order, whatever the thread count. */
#include <omp.h>
#include <stddef.h>

#include "backend_cpu_internal.h"

/* c[0..nb) (+ ldc for the second row when a1) = dot products of a0 (and a1) with nb <= 4 rows
 * of b (K each, ldb apart); alpha and beta applied as sgemm does (beta 0: C not read). */
static void dots(float *c, int ldc, const float *a0, const float *a1, const float *b, int ldb,
                 int nb, int K, float alpha, float beta)
{
    const float *a = a1 ? a1 : a0, *bj[4];
    for (int j = 0; j < 4; j++)
        bj[j] = b + (size_t)(j < nb ? j : 0) * ldb;
    const float *b0 = bj[0], *b1 = bj[1], *b2 = bj[2], *b3 = bj[3];
    // four lanes per sum, k in steps of 4 (the vectoriser makes each lane group one register),
    // the lanes added in a fixed order at the end: the same order at any address
    float acc[2][4][4] = {{{0}}};
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        for (int l = 0; l < 4; l++) {
            float x = a0[k + l], y = a[k + l];
            acc[0][0][l] += x * b0[k + l], acc[1][0][l] += y * b0[k + l];
            acc[0][1][l] += x * b1[k + l], acc[1][1][l] += y * b1[k + l];
            acc[0][2][l] += x * b2[k + l], acc[1][2][l] += y * b2[k + l];
            acc[0][3][l] += x * b3[k + l], acc[1][3][l] += y * b3[k + l];
        }
    }
    for (int r = 0; r < (a1 ? 2 : 1); r++) {
        const float *ar = r ? a : a0;
        float *cr = c + (size_t)r * ldc;
        for (int j = 0; j < nb; j++) {
            float sum = (acc[r][j][0] + acc[r][j][1]) + (acc[r][j][2] + acc[r][j][3]);
            for (int kk = k; kk < K; kk++)
                sum += ar[kk] * bj[j][kk];
            cr[j] = beta == 0.0f ? alpha * sum : alpha * sum + beta * cr[j];
        }
    }
}

void srl_cpu_matmul_small_m(float *C, const float *A, const float *B, int M, int N, int K,
                            int lda, int ldb, int ldc, float alpha, float beta, int nt)
{
    // A (M,K), B (N,K), C (M,N); thread t owns C's columns [j0, j1) (multiples of 16)
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        int per = ((N + n - 1) / n + 15) & ~15;
        int j0 = t * per < N ? t * per : N, j1 = j0 + per < N ? j0 + per : N;
        for (int j = j0; j < j1; j += 4) {
            int nb = j1 - j < 4 ? j1 - j : 4;
            for (int i = 0; i < M; i += 2)
                dots(C + (size_t)i * ldc + j, ldc, A + (size_t)i * lda,
                     i + 1 < M ? A + (size_t)(i + 1) * lda : NULL, B + (size_t)j * ldb, ldb, nb,
                     K, alpha, beta);
        }
    }
}
