// optim.cu -- AdamW, in-place scaling and the sum of squares behind gradient-norm clipping.
#include "cuda_common.h"
#include "kernels.h"

#define SUMSQ_BLOCKS 512
#define SUMSQ_THREADS 256

// --- CUDA kernels ----------------------------------------------------------------------------

// partial[block] = sum of x^2 over a fixed grid-stride slice, in double: the same grid every
// call, so the result is deterministic
__global__ void sumsq_kernel(double *partial, const float *x, size_t n)
{
    __shared__ double sh[32];
    double s = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        s += (double)x[i] * x[i];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void scale_kernel(float *x, float s, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= s;
}

// torch.optim.AdamW: p -= lr*wd*p; then p -= lr * mhat / (sqrt(vhat) + eps)
__global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n, float lr,
                             float b1, float b2, float eps, float wd, float bc1, float bc2)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = g[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float pi = p[i];
    pi -= lr * wd * pi;
    pi -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    p[i] = pi;
}

// --- kernel launchers ------------------------------------------------------------------------

extern "C" double srl_cuda_sumsq(const float *x, size_t n)
{
    static double *partial; // device scratch, kept for the process (one context per process)
    double host[SUMSQ_BLOCKS];
    if (!n) return 0.0;
    if (!partial) CUDA_CHECK(cudaMalloc(&partial, sizeof(double) * SUMSQ_BLOCKS));
    sumsq_kernel<<<SUMSQ_BLOCKS, SUMSQ_THREADS, 0, srl_cuda_stream()>>>(partial, x, n);
    CUDA_LAUNCHED();
    CUDA_CHECK(cudaMemcpyAsync(host, partial, sizeof host, cudaMemcpyDeviceToHost,
                               srl_cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(srl_cuda_stream()));
    double s = 0.0;
    for (int i = 0; i < SUMSQ_BLOCKS; i++)
        s += host[i];
    return s;
}

extern "C" void srl_cuda_scale(float *x, float s, size_t n)
{
    if (!n) return;
    scale_kernel<<<(unsigned)CEIL_DIV(n, 256), 256, 0, srl_cuda_stream()>>>(x, s, n);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_adamw_step(float *p, const float *g, float *m, float *v, size_t n,
                                    float lr, float b1, float b2, float eps, float wd, float bc1,
                                    float bc2)
{
    if (!n) return;
    adamw_kernel<<<(unsigned)CEIL_DIV(n, 256), 256, 0, srl_cuda_stream()>>>(
        p, g, m, v, n, lr, b1, b2, eps, wd, bc1, bc2);
    CUDA_LAUNCHED();
}
