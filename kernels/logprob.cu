// logprob.cu -- the LM head's fused log-softmax: log-probabilities of the targets and the
// in-place backward (softmax cross-entropy with a loss mask is dlogp = -mask / sum(mask)).
#include <stdint.h>

#include "cuda_common.h"
#include "kernels.h"

#define LOGPROB_THREADS 512

// --- CUDA kernels ----------------------------------------------------------------------------

// logits is (N,V); logp, lse, targets are (N); one block per row
__global__ void logprob_fwd_kernel(float *logp, float *lse, const float *logits,
                                   const int32_t *targets, int V)
{
    __shared__ float sh[32];
    const float *l = logits + (size_t)blockIdx.x * V;
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x)
        mx = fmaxf(mx, l[i]);
    mx = block_max(mx, sh);
    float s = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x)
        s += expf(l[i] - mx);
    s = block_sum(s, sh);
    if (threadIdx.x == 0) {
        float z = mx + logf(s);
        int t = targets[blockIdx.x];
        lse[blockIdx.x] = z;
        logp[blockIdx.x] = t >= 0 ? l[t] - z : 0.0f;
    }
}

// logits[n] = dlogp[n] * (onehot(target) - softmax), in place
__global__ void logprob_bwd_kernel(float *logits, const float *dlogp, const float *lse,
                                   const int32_t *targets, int V)
{
    float *l = logits + (size_t)blockIdx.x * V;
    float g = dlogp[blockIdx.x], z = lse[blockIdx.x];
    int t = targets[blockIdx.x];
    bool zero = g == 0.0f || t < 0;
    for (int i = threadIdx.x; i < V; i += blockDim.x)
        l[i] = zero ? 0.0f : -g * expf(l[i] - z) + (i == t ? g : 0.0f);
}

// --- kernel launchers ------------------------------------------------------------------------

extern "C" void srl_cuda_logprob_fwd(float *logp, float *lse, const float *logits,
                                     const int32_t *targets, int N, int V)
{
    if (N <= 0) return;
    logprob_fwd_kernel<<<N, LOGPROB_THREADS, 0, srl_cuda_stream()>>>(logp, lse, logits, targets,
                                                                      V);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_logprob_bwd(float *logits, const float *dlogp, const float *lse,
                                     const int32_t *targets, int N, int V)
{
    if (N <= 0) return;
    logprob_bwd_kernel<<<N, LOGPROB_THREADS, 0, srl_cuda_stream()>>>(logits, dlogp, lse, targets,
                                                                      V);
    CUDA_LAUNCHED();
}
