// norm.cu -- RMSNorm and LayerNorm, forward and backward.
//
// Row statistics: one block per row, fp32 partial sums reduced in the block.  Parameter
// gradients (dw, db) are column sums over all rows: column_sum_kernel gives each column
// strip to one block, which adds its rows in a fixed order, so they are deterministic.
#include "cuda_common.h"
#include "kernels.h"

#define NORM_THREADS 256

// --- CUDA kernels ----------------------------------------------------------------------------

// out, inp are (N,C); w is (C); rstd is (N); one block per row
__global__ void rmsnorm_fwd_kernel(float *out, float *rstd, const float *inp, const float *w,
                                   int C, float eps)
{
    __shared__ float sh[32];
    const float *x = inp + (size_t)blockIdx.x * C;
    float *o = out + (size_t)blockIdx.x * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        ss += x[c] * x[c];
    ss = block_sum(ss, sh);
    float r = rsqrtf(ss / C + eps);
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        o[c] = w[c] * (x[c] * r);
    if (threadIdx.x == 0) rstd[blockIdx.x] = r;
}

// dx = r * (w*g) - r^3 * x * sum(w*g*x) / C
__global__ void rmsnorm_bwd_kernel(float *dinp, const float *dout, const float *inp,
                                   const float *w, const float *rstd, int C, bool accumulate)
{
    __shared__ float sh[32];
    size_t off = (size_t)blockIdx.x * C;
    const float *x = inp + off, *g = dout + off;
    float *dx = dinp + off;
    float r = rstd[blockIdx.x];
    float dot = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        dot += w[c] * g[c] * x[c];
    dot = block_sum(dot, sh);
    float k = dot / C * r * r * r;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float d = r * w[c] * g[c] - k * x[c];
        dx[c] = accumulate ? dx[c] + d : d;
    }
}

__global__ void layernorm_fwd_kernel(float *out, float *mean, float *rstd, const float *inp,
                                     const float *w, const float *b, int C, float eps)
{
    __shared__ float sh[32];
    const float *x = inp + (size_t)blockIdx.x * C;
    float *o = out + (size_t)blockIdx.x * C;
    float s = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        s += x[c];
    float m = block_sum(s, sh) / C;
    float v = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        v += (x[c] - m) * (x[c] - m);
    float r = rsqrtf(block_sum(v, sh) / C + eps);
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        o[c] = (x[c] - m) * r * w[c] + b[c];
    if (threadIdx.x == 0) {
        mean[blockIdx.x] = m;
        rstd[blockIdx.x] = r;
    }
}

// dx = r * (w*g - mean(w*g) - xhat * mean(w*g*xhat))
__global__ void layernorm_bwd_kernel(float *dinp, const float *dout, const float *inp,
                                     const float *w, const float *mean, const float *rstd, int C,
                                     bool accumulate)
{
    __shared__ float sh[32];
    size_t off = (size_t)blockIdx.x * C;
    const float *x = inp + off, *g = dout + off;
    float *dx = dinp + off;
    float m = mean[blockIdx.x], r = rstd[blockIdx.x];
    float s1 = 0.0f, s2 = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float dn = w[c] * g[c];
        s1 += dn;
        s2 += dn * ((x[c] - m) * r);
    }
    float m1 = block_sum(s1, sh) / C;
    float m2 = block_sum(s2, sh) / C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float d = r * (w[c] * g[c] - m1 - (x[c] - m) * r * m2);
        dx[c] = accumulate ? dx[c] + d : d;
    }
}

/* Column sums of the parameter gradients.  Block (32,8) owns 32 columns; thread (cx,ry)
 * adds rows ry, ry+8, ... in order, then the 8 partials are added in order.
 * mode 0: dw += g * x * rstd (RMSNorm); mode 1: dw += g * (x-mean) * rstd, db += g. */
__global__ void norm_param_grad_kernel(float *dw, float *db, const float *dout, const float *inp,
                                       const float *mean, const float *rstd, int N, int C,
                                       int mode)
{
    __shared__ float sw[8][33], sb[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    float aw = 0.0f, ab = 0.0f;
    if (c < C) {
        for (int n = threadIdx.y; n < N; n += 8) {
            size_t i = (size_t)n * C + c;
            float g = dout[i], xh = (inp[i] - (mode ? mean[n] : 0.0f)) * rstd[n];
            aw += g * xh;
            ab += g;
        }
    }
    sw[threadIdx.y][threadIdx.x] = aw;
    sb[threadIdx.y][threadIdx.x] = ab;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float tw = 0.0f, tb = 0.0f;
        for (int r = 0; r < 8; r++) {
            tw += sw[r][threadIdx.x];
            tb += sb[r][threadIdx.x];
        }
        dw[c] += tw;
        if (mode) db[c] += tb;
    }
}

// --- kernel launchers ------------------------------------------------------------------------

extern "C" void srl_cuda_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w,
                                     int N, int C, float eps)
{
    if (N <= 0) return;
    rmsnorm_fwd_kernel<<<N, NORM_THREADS, 0, srl_cuda_stream()>>>(out, rstd, inp, w, C, eps);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_rmsnorm_bwd(float *dinp, float *dw, const float *dout, const float *inp,
                                     const float *w, const float *rstd, int N, int C,
                                     bool accumulate)
{
    if (N <= 0) return;
    rmsnorm_bwd_kernel<<<N, NORM_THREADS, 0, srl_cuda_stream()>>>(dinp, dout, inp, w, rstd, C,
                                                                   accumulate);
    CUDA_LAUNCHED();
    norm_param_grad_kernel<<<CEIL_DIV(C, 32), dim3(32, 8), 0, srl_cuda_stream()>>>(
        dw, NULL, dout, inp, NULL, rstd, N, C, 0);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp,
                                       const float *w, const float *b, int N, int C, float eps)
{
    if (N <= 0) return;
    layernorm_fwd_kernel<<<N, NORM_THREADS, 0, srl_cuda_stream()>>>(out, mean, rstd, inp, w, b,
                                                                     C, eps);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_layernorm_bwd(float *dinp, float *dw, float *db, const float *dout,
                                       const float *inp, const float *w, const float *mean,
                                       const float *rstd, int N, int C, bool accumulate)
{
    if (N <= 0) return;
    layernorm_bwd_kernel<<<N, NORM_THREADS, 0, srl_cuda_stream()>>>(dinp, dout, inp, w, mean,
                                                                     rstd, C, accumulate);
    CUDA_LAUNCHED();
    norm_param_grad_kernel<<<CEIL_DIV(C, 32), dim3(32, 8), 0, srl_cuda_stream()>>>(
        dw, db, dout, inp, mean, rstd, N, C, 1);
    CUDA_LAUNCHED();
}
