// matmul.cu -- C = alpha * op(A) op(B) + beta * C on cuBLAS, row-major as lib/backend.h says.
//
// cuBLAS is column-major: a row-major (M,N) matrix is its column-major transpose, so
// C^T (N,M) = op(B)^T (N,K) . op(A)^T (K,M) is computed with B first and A second, and the
// row strides become the leading dimensions unchanged.  Operands are fp32 in memory (fp32
// master weights); the compute type chooses the tensor-core rounding (bf16 or tf32 inputs,
// fp32 accumulation) or exact fp32 for checking against the CPU backend.
#include "cuda_blas.h"
#include "cuda_common.h"
#include "kernels.h"

cublasComputeType_t srl_cuda_compute_type(void)
{
    switch (srl_cuda_get_math()) {
    case SRL_CUDA_MATH_BF16: return CUBLAS_COMPUTE_32F_FAST_16BF;
    case SRL_CUDA_MATH_TF32: return CUBLAS_COMPUTE_32F_FAST_TF32;
    default: return CUBLAS_COMPUTE_32F;
    }
}

extern "C" void srl_cuda_matmul(float *C, const float *A, const float *B, int M, int N, int K,
                                bool ta, bool tb, int lda, int ldb, int ldc, float alpha,
                                float beta)
{
    // op(A) is (M,K), op(B) is (K,N), C is (M,N), all row-major
    if (M <= 0 || N <= 0) return;
    if (K <= 0 && beta == 1.0f) return;
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasGemmEx(srl_cuda_cublas(), opb, opa, N, M, K, &alpha, B, CUDA_R_32F, ldb,
                              A, CUDA_R_32F, lda, &beta, C, CUDA_R_32F, ldc,
                              srl_cuda_compute_type(), CUBLAS_GEMM_DEFAULT));
}
