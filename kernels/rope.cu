// rope.cu -- rotary position embedding (HF rotate_half), in place, and its inverse.
#include <math.h>
#include <stdint.h>

#include "cuda_common.h"
#include "kernels.h"

// --- CUDA kernels ----------------------------------------------------------------------------

// x is (N, ld) with H heads of D values from column 0; one thread per (row, head, pair i)
__global__ void rope_kernel(float *x, const int32_t *pos, int N, int ld, int H, int D,
                            float theta, float sign)
{
    int half = D / 2;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)N * H * half) return;
    int i = (int)(idx % half);
    int h = (int)((idx / half) % H);
    size_t n = idx / ((size_t)half * H);
    // the angle as HF computes it in float32: pos * inv_freq[i], inv_freq = theta^(-2i/D)
    float inv_freq = (float)(1.0 / pow((double)theta, (double)(2 * i) / (double)D));
    float p = pos ? (float)(pos[n] > 0 ? pos[n] : 0) : 0.0f;
    float ang = p * inv_freq;
    float c = cosf(ang), s = sign * sinf(ang);
    float *x1 = x + n * ld + (size_t)h * D + i, *x2 = x1 + half;
    float a = *x1, b = *x2;
    *x1 = a * c - b * s;
    *x2 = b * c + a * s;
}

// --- kernel launchers ------------------------------------------------------------------------

static void rope(float *x, const int32_t *pos, int N, int ld, int H, int D, float theta,
                 float sign)
{
    size_t n = (size_t)N * H * (D / 2);
    if (!n) return;
    rope_kernel<<<(unsigned)CEIL_DIV(n, 256), 256, 0, srl_cuda_stream()>>>(x, pos, N, ld, H, D,
                                                                           theta, sign);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_rope_fwd(float *x, const int32_t *pos, int N, int ld, int H, int D,
                                  float theta)
{
    rope(x, pos, N, ld, H, D, theta, 1.0f);
}

extern "C" void srl_cuda_rope_bwd(float *dx, const int32_t *pos, int N, int ld, int H, int D,
                                  float theta)
{
    // the rotation is orthogonal: its backward is the inverse rotation
    rope(dx, pos, N, ld, H, D, theta, -1.0f);
}
