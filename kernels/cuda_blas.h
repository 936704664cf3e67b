/* cuda_blas.h -- the cuBLAS handle and compute type shared by matmul.cu and attention_bwd.cu.
 * Private to kernels/. */
#ifndef SRL_CUDA_BLAS_H
#define SRL_CUDA_BLAS_H

#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>

#define CUBLAS_CHECK(expr)                                                                    \
    do {                                                                                      \
        cublasStatus_t st_ = (expr);                                                          \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                                                   \
            fprintf(stderr, "cuBLAS error %d (%s)\n  in %s at %s:%d: %s\n", (int)st_,         \
                    cublasGetStatusString(st_), __func__, __FILE__, __LINE__, #expr);         \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* The process's handle (device.cu), bound to srl_cuda_stream(). */
cublasHandle_t srl_cuda_cublas(void);
/* The compute type of srl_cuda_get_math() (matmul.cu). */
cublasComputeType_t srl_cuda_compute_type(void);

#endif
