// sampler.cu -- the sampler's distribution on the device: softmax with temperature, top-k and
// top-p (nucleus) truncation, renormalisation.  The draw itself stays on the host (it needs
// the sampler's RNG stream): download one row of probabilities instead of one of logits.
//
// Truncation without sorting: the cut is the largest threshold u whose kept set {p >= u}
// still has k members (top-k) or top_p of the mass (top-p), found by bisection on the bit
// patterns of the probabilities (non-negative floats order as their bits do), one block
// reduction per step.  Ties at the cut are all kept.
#include <math.h>
#include <stdint.h>

#include "cuda_common.h"
#include "kernels.h"

#define SAMPLE_THREADS 512

// --- CUDA kernels ----------------------------------------------------------------------------

// how many of p (V) have bits >= u, and their mass
__device__ void kept(const float *p, int V, unsigned u, float *count, float *mass, float *sh)
{
    float c = 0.0f, s = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x)
        if (__float_as_uint(p[i]) >= u) {
            c += 1.0f;
            s += p[i];
        }
    *count = block_sum(c, sh);
    *mass = block_sum(s, sh);
}

// probs, logits are (N,V); one block per row
__global__ void sample_probs_kernel(float *probs, const float *logits, int V, float temperature,
                                    int top_k, float top_p)
{
    __shared__ float sh[32];
    const float *l = logits + (size_t)blockIdx.x * V;
    float *p = probs + (size_t)blockIdx.x * V;
    float inv_t = 1.0f / temperature;
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x)
        mx = fmaxf(mx, l[i] * inv_t);
    mx = block_max(mx, sh);
    float s = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        float e = expf(l[i] * inv_t - mx);
        p[i] = e;
        s += e;
    }
    s = block_sum(s, sh); // block_sum's barrier also publishes p to the whole block
    float inv = 1.0f / s;
    for (int i = threadIdx.x; i < V; i += blockDim.x)
        p[i] *= inv;
    __syncthreads();
    unsigned cut = 0;
    float c, m, total = 1.0f;
    if (top_k > 0 && top_k < V) {
        unsigned lo = 0, hi = 0x7f800000u; // count(>= lo) >= k > count(>= hi)
        while (hi - lo > 1) {
            unsigned mid = lo + (hi - lo) / 2;
            kept(p, V, mid, &c, &m, sh);
            if (c >= (float)top_k) lo = mid; else hi = mid;
        }
        cut = lo;
        kept(p, V, cut, &c, &total, sh);
    }
    if (top_p > 0.0f && top_p < 1.0f) {
        unsigned lo = cut, hi = 0x7f800000u; // mass(>= lo) >= top_p * total > mass(>= hi)
        while (hi - lo > 1) {
            unsigned mid = lo + (hi - lo) / 2;
            kept(p, V, mid, &c, &m, sh);
            if (m >= top_p * total) lo = mid; else hi = mid;
        }
        cut = lo;
        kept(p, V, cut, &c, &total, sh);
    }
    if (cut == 0) return;
    float rn = total > 0.0f ? 1.0f / total : 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x)
        p[i] = __float_as_uint(p[i]) >= cut ? p[i] * rn : 0.0f;
}

// --- kernel launchers ------------------------------------------------------------------------

extern "C" void srl_cuda_sample_probs(float *probs, const float *logits, int N, int V,
                                      float temperature, int top_k, float top_p)
{
    if (N <= 0 || V <= 0) return;
    sample_probs_kernel<<<N, SAMPLE_THREADS, 0, srl_cuda_stream()>>>(probs, logits, V,
                                                                      temperature, top_k, top_p);
    CUDA_LAUNCHED();
}
