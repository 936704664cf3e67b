// attention_bwd.cu -- backward of causal grouped-query attention from the saved probabilities.
//
// The backend contract keeps P (B,NH,T,T) from the forward and gives a (B,NH,T,T) scratch for
// dP, so the backward is four matrix products per head, batched over B with cuBLAS, around a
// row-wise softmax backward:
//   dP = dO V^T;  dV += P^T dO;  dS = P * (dP - rowsum(P * dP));  dQ = s dS K;  dK += s dS^T Q.
// Query heads of one kv group accumulate into the same dK, dV in head order (the first one
// overwrites).  The masked entries of P are exact zeros, so dS is zero there too.
// TODO: a flash-style backward recomputing P from (q, k, lse) tile by tile would drop the
// (T,T) buffers; it needs the backend contract to carry lse instead of att.
#include <stdint.h>

#include "cuda_blas.h"
#include "cuda_common.h"
#include "kernels.h"

// --- CUDA kernels ----------------------------------------------------------------------------

// d (rows, T) = p * (d - sum_s p*d) in place; one warp per row of the (B,NH,T,T) buffers
__global__ void softmax_bwd_kernel(float *d, const float *p, size_t rows, int T)
{
    size_t r = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (r >= rows) return;
    float *dr = d + r * T;
    const float *pr = p + r * T;
    float dot = 0.0f;
    for (int s = lane; s < T; s += 32)
        dot += pr[s] * dr[s];
    dot = warp_sum(dot);
    for (int s = lane; s < T; s += 32)
        dr[s] = pr[s] * (dr[s] - dot);
}

// --- kernel launchers ------------------------------------------------------------------------

/* Row-major C (M,N) = alpha op(A) op(B) + beta C for each of `batch` matrices at fixed
 * strides (see matmul.cu for the column-major mapping). */
static void gemm_batched(float *C, const float *A, const float *B, int M, int N, int K, bool ta,
                         bool tb, int lda, int ldb, int ldc, long long sa, long long sb,
                         long long sc, int batch, float alpha, float beta)
{
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(srl_cuda_cublas(), opb, opa, N, M, K, &alpha, B,
                                            CUDA_R_32F, ldb, sb, A, CUDA_R_32F, lda, sa, &beta, C,
                                            CUDA_R_32F, ldc, sc, batch, srl_cuda_compute_type(),
                                            CUBLAS_GEMM_DEFAULT));
}

extern "C" void srl_cuda_attention_bwd(float *dq, float *dk, float *dv, float *datt,
                                       const float *dout, const float *att, const float *q,
                                       const float *k, const float *v, int B, int T, int NH,
                                       int KVH, int D, int ldq, int ldkv, float scale)
{
    // q, dq are (B,T,NH,D) row stride ldq; k, v, dk, dv (B,T,KVH,D) row stride ldkv;
    // dout (B,T,NH,D) dense; att, datt (B,NH,T,T)
    if (B <= 0 || T <= 0) return;
    int group = NH / KVH, ldo = NH * D;
    long long TT = (long long)T * T, sq = (long long)T * ldq, skv = (long long)T * ldkv;
    long long so = (long long)T * ldo, sa = (long long)NH * TT;
    for (int h = 0; h < NH; h++) {
        int g = h / group;
        float beta = h % group ? 1.0f : 0.0f; // the group's first head overwrites dk, dv
        const float *doh = dout + (size_t)h * D, *ah = att + (size_t)h * TT;
        float *dah = datt + (size_t)h * TT;
        // dP (T,T) = dO_h (T,D) . V_g^T (D,T)
        gemm_batched(dah, doh, v + (size_t)g * D, T, T, D, false, true, ldo, ldkv, T, so, skv,
                     sa, B, 1.0f, 0.0f);
        // dV_g (T,D) (+)= P^T (T,T) . dO_h (T,D)
        gemm_batched(dv + (size_t)g * D, ah, doh, T, D, T, true, false, T, ldo, ldkv, sa, so,
                     skv, B, 1.0f, beta);
    }
    size_t rows = (size_t)B * NH * T;
    softmax_bwd_kernel<<<(unsigned)CEIL_DIV(rows, 8), 256, 0, srl_cuda_stream()>>>(datt, att,
                                                                                    rows, T);
    CUDA_LAUNCHED();
    for (int h = 0; h < NH; h++) {
        int g = h / group;
        float beta = h % group ? 1.0f : 0.0f;
        const float *dah = datt + (size_t)h * TT;
        // dQ_h (T,D) = scale * dS (T,T) . K_g (T,D)
        gemm_batched(dq + (size_t)h * D, dah, k + (size_t)g * D, T, D, T, false, false, T, ldkv,
                     ldq, sa, skv, sq, B, scale, 0.0f);
        // dK_g (T,D) (+)= scale * dS^T (T,T) . Q_h (T,D)
        gemm_batched(dk + (size_t)g * D, dah, q + (size_t)h * D, T, D, T, true, false, T, ldq,
                     ldkv, sa, sq, skv, B, scale, beta);
    }
}
