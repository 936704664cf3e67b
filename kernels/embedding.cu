// embedding.cu -- token (+ learned position) embedding lookup and its backward.
#include <stdint.h>

#include "cuda_common.h"
#include "kernels.h"

// --- CUDA kernels ----------------------------------------------------------------------------

// out is (N,C); wte is (V,C); wpe is (P,C) or NULL; one thread per element
__global__ void embedding_fwd_kernel(float *out, const int32_t *tokens, const int32_t *pos,
                                     const float *wte, const float *wpe, int N, int C)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * C) return;
    int n = (int)(i / C), c = (int)(i % C);
    float x = wte[(size_t)tokens[n] * C + c];
    if (wpe) {
        int p = pos && pos[n] > 0 ? pos[n] : 0;
        x += wpe[(size_t)p * C + c];
    }
    out[i] = x;
}

// dwte[tokens[n]] += dout[n] (and dwpe[pos[n]]): rows may repeat, so atomics; the float sums
// are therefore not bitwise repeatable run to run (unlike the CPU backend's)
__global__ void embedding_bwd_kernel(float *dwte, float *dwpe, const float *dout,
                                     const int32_t *tokens, const int32_t *pos, int N, int C)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * C) return;
    int n = (int)(i / C), c = (int)(i % C);
    float g = dout[i];
    atomicAdd(&dwte[(size_t)tokens[n] * C + c], g);
    if (dwpe) {
        int p = pos && pos[n] > 0 ? pos[n] : 0;
        atomicAdd(&dwpe[(size_t)p * C + c], g);
    }
}

// --- kernel launchers ------------------------------------------------------------------------

extern "C" void srl_cuda_embedding_fwd(float *out, const int32_t *tokens, const int32_t *pos,
                                       const float *wte, const float *wpe, int N, int C)
{
    size_t n = (size_t)N * C;
    if (!n) return;
    embedding_fwd_kernel<<<(unsigned)CEIL_DIV(n, 256), 256, 0, srl_cuda_stream()>>>(
        out, tokens, pos, wte, wpe, N, C);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_embedding_bwd(float *dwte, float *dwpe, const float *dout,
                                       const int32_t *tokens, const int32_t *pos, int N, int C)
{
    size_t n = (size_t)N * C;
    if (!n) return;
    embedding_bwd_kernel<<<(unsigned)CEIL_DIV(n, 256), 256, 0, srl_cuda_stream()>>>(
        dwte, dwpe, dout, tokens, pos, N, C);
    CUDA_LAUNCHED();
}
