// activation.cu -- SwiGLU and GELU (tanh approximation), elementwise add, bias.
#include "cuda_common.h"
#include "kernels.h"

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

// --- CUDA kernels ----------------------------------------------------------------------------

// gu is (N,2F) = [gate | up]; out is (N,F)
__global__ void swiglu_fwd_kernel(float *out, const float *gu, int N, int F)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * F) return;
    size_t n = i / F, f = i % F;
    float g = gu[n * 2 * F + f], u = gu[n * 2 * F + F + f];
    out[i] = g / (1.0f + expf(-g)) * u;
}

__global__ void swiglu_bwd_kernel(float *dgu, const float *dout, const float *gu, int N, int F)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * F) return;
    size_t n = i / F, f = i % F;
    float g = gu[n * 2 * F + f], u = gu[n * 2 * F + F + f], d = dout[i];
    float sig = 1.0f / (1.0f + expf(-g));
    dgu[n * 2 * F + F + f] = d * g * sig;
    dgu[n * 2 * F + f] = d * u * sig * (1.0f + g * (1.0f - sig));
}

__global__ void gelu_fwd_kernel(float *out, const float *inp, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = inp[i];
    out[i] = 0.5f * x * (1.0f + tanhf(GELU_SCALE * (x + 0.044715f * x * x * x)));
}

__global__ void gelu_bwd_kernel(float *dinp, const float *dout, const float *inp, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = inp[i];
    float th = tanhf(GELU_SCALE * (x + 0.044715f * x * x * x));
    float sech2 = 1.0f - th * th;
    float du = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] = dout[i] * (0.5f * (1.0f + th) + 0.5f * x * sech2 * du);
}

__global__ void add_kernel(float *out, const float *a, const float *b, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}

// out is (N,C) with row stride ldo
__global__ void bias_fwd_kernel(float *out, const float *bias, int N, int C, int ldo)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * C) return;
    size_t n = i / C, c = i % C;
    out[n * ldo + c] += bias[c];
}

// dbias (C) += column sums of dout (N,C) (row stride ldd), in a fixed order (see norm.cu)
__global__ void bias_bwd_kernel(float *dbias, const float *dout, int N, int C, int ldd)
{
    __shared__ float s[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    float a = 0.0f;
    if (c < C)
        for (int n = threadIdx.y; n < N; n += 8)
            a += dout[(size_t)n * ldd + c];
    s[threadIdx.y][threadIdx.x] = a;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float t = 0.0f;
        for (int r = 0; r < 8; r++)
            t += s[r][threadIdx.x];
        dbias[c] += t;
    }
}

// --- kernel launchers ------------------------------------------------------------------------

#define GRID(n) (unsigned)CEIL_DIV((n), 256), 256, 0, srl_cuda_stream()

extern "C" void srl_cuda_swiglu_fwd(float *out, const float *gu, int N, int F)
{
    size_t n = (size_t)N * F;
    if (!n) return;
    swiglu_fwd_kernel<<<GRID(n)>>>(out, gu, N, F);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_swiglu_bwd(float *dgu, const float *dout, const float *gu, int N, int F)
{
    size_t n = (size_t)N * F;
    if (!n) return;
    swiglu_bwd_kernel<<<GRID(n)>>>(dgu, dout, gu, N, F);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_gelu_fwd(float *out, const float *inp, size_t n)
{
    if (!n) return;
    gelu_fwd_kernel<<<GRID(n)>>>(out, inp, n);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_gelu_bwd(float *dinp, const float *dout, const float *inp, size_t n)
{
    if (!n) return;
    gelu_bwd_kernel<<<GRID(n)>>>(dinp, dout, inp, n);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_add(float *out, const float *a, const float *b, size_t n)
{
    if (!n) return;
    add_kernel<<<GRID(n)>>>(out, a, b, n);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_bias_fwd(float *out, const float *bias, int N, int C, int ldo)
{
    size_t n = (size_t)N * C;
    if (!n) return;
    bias_fwd_kernel<<<GRID(n)>>>(out, bias, N, C, ldo);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_bias_bwd(float *dbias, const float *dout, int N, int C, int ldd)
{
    if (N <= 0 || C <= 0) return;
    bias_bwd_kernel<<<CEIL_DIV(C, 32), dim3(32, 8), 0, srl_cuda_stream()>>>(dbias, dout, N, C,
                                                                            ldd);
    CUDA_LAUNCHED();
}
