/* cuda_common.h -- what the kernel files share: error checks, launch helpers and the
 * warp/block reductions.  Private to kernels/ (lib/ includes only kernels.h). */
#ifndef SRL_CUDA_COMMON_H
#define SRL_CUDA_COMMON_H

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

/* A failed launch or a device fault leaves the context unusable: report where, then abort
 * (doc/ARCHITECTURE.md, Conventions; ggml CUDA_CHECK, llm.c cudaCheck). */
#define CUDA_CHECK(expr)                                                                      \
    do {                                                                                      \
        cudaError_t err_ = (expr);                                                            \
        if (err_ != cudaSuccess) {                                                            \
            fprintf(stderr, "CUDA error: %s\n  in %s at %s:%d: %s\n", cudaGetErrorString(err_), \
                    __func__, __FILE__, __LINE__, #expr);                                     \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

#define CUDA_LAUNCHED() CUDA_CHECK(cudaGetLastError())
#define CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

/* The stream every op runs on (kernels/device.cu). */
cudaStream_t srl_cuda_stream(void);

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ double warp_sum_d(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Sum over a block of up to 1024 threads (blockDim.x a multiple of 32); every thread gets the
 * result.  shared holds 32 values. */
template <typename T>
__device__ __forceinline__ T block_sum(T v, T *shared)
{
    int lane = threadIdx.x % 32, wid = threadIdx.x / 32, nw = blockDim.x / 32;
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads(); // shared may still be read by a previous call
    if (lane == 0) shared[wid] = v;
    __syncthreads();
    v = lane < nw ? shared[lane] : (T)0;
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float block_max(float v, float *shared)
{
    int lane = threadIdx.x % 32, wid = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) shared[wid] = v;
    __syncthreads();
    v = lane < nw ? shared[lane] : -INFINITY;
    return warp_max(v);
}

#endif
