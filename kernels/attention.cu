// attention.cu -- causal grouped-query attention forward, fused (flash-style), and the same
// kernel against a KV cache for incremental decoding.
//
// One warp per query row, ATT_QW query rows of one (batch, head) per block.  Keys and values
// stream through shared memory in tiles of 32 (one key per lane): each lane scores its key,
// the warp takes the tile's max and rescales its running (max, sum, output) -- the online
// softmax -- then adds P.V with the probabilities broadcast by shuffles.  No (T,T) score
// matrix is formed.  The backend contract still asks for the probabilities (B,NH,T,T) when
// att is not NULL (the backward reads them), so a second pass over the tiles writes them
// from the final max and sum.
#include <math.h>
#include <stdint.h>

#include "cuda_common.h"
#include "kernels.h"

#define ATT_QW 4        /* query rows (warps) per block */
#define ATT_KT 32       /* keys per tile: one per lane */
#define ATT_MAX_D 256   /* head sizes up to this (8 output values per lane) */

struct att_args {
    float *out;           // (B,T,NH,D) dense
    float *att;           // (B,NH,T,att_T) or NULL
    const float *q;       // (B,T,NH,D), row stride ldq, batch stride q_bs
    const float *k, *v;   // (B,S,KVH,D), row stride ldkv, batch stride kv_bs
    const int32_t *pos;   // (B,pos_bs) or NULL; < 0 marks padding
    int T, NH, KVH, D, ldq, ldkv, start, att_T;
    size_t q_bs, kv_bs, pos_bs;
    float scale;
};

// --- CUDA kernels ----------------------------------------------------------------------------

__global__ void attention_fwd_kernel(struct att_args a)
{
    extern __shared__ float smem[];
    int D = a.D, lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    int b = blockIdx.z, h = blockIdx.y, g = h / (a.NH / a.KVH);
    int t0 = blockIdx.x * ATT_QW, t = t0 + warp;
    float *ks = smem;                           // (ATT_KT, D+1): padded against bank conflicts
    float *vs = ks + ATT_KT * (D + 1);          // (ATT_KT, D)
    float *qs = vs + ATT_KT * D + warp * D;     // (D) of this warp's query
    const int32_t *pb = a.pos ? a.pos + b * a.pos_bs : NULL;
    const float *kb = a.k + b * a.kv_bs + (size_t)g * D, *vb = a.v + b * a.kv_bs + (size_t)g * D;

    bool active = t < a.T;
    int slot = a.start + t;                     // this query's key slot: it sees keys <= slot
    bool qvalid = active && (!pb || pb[slot] >= 0);
    int tlast = min(t0 + ATT_QW, a.T) - 1;
    int smax = a.start + tlast;                 // the block's last key
    if (active) {
        const float *qr = a.q + b * a.q_bs + (size_t)t * a.ldq + (size_t)h * D;
        for (int d = lane; d < D; d += 32)
            qs[d] = qr[d];
    }
    float m = -INFINITY, l = 0.0f, acc[ATT_MAX_D / 32];
#pragma unroll
    for (int i = 0; i < ATT_MAX_D / 32; i++)
        acc[i] = 0.0f;

    for (int s0 = 0; s0 <= smax; s0 += ATT_KT) {
        __syncthreads(); // the previous tile is consumed
        for (int i = threadIdx.x; i < ATT_KT * D; i += blockDim.x) {
            int j = i / D, d = i % D, s = s0 + j;
            bool in = s <= smax;
            ks[j * (D + 1) + d] = in ? kb[(size_t)s * a.ldkv + d] : 0.0f;
            vs[j * D + d] = in ? vb[(size_t)s * a.ldkv + d] : 0.0f;
        }
        __syncthreads();
        if (!qvalid || s0 > slot) continue;
        int s = s0 + lane;
        bool valid = s <= slot && (!pb || pb[s] >= 0);
        float sc = 0.0f;
        for (int d = 0; d < D; d++)
            sc += qs[d] * ks[lane * (D + 1) + d];
        sc = valid ? sc * a.scale : -INFINITY;
        float mt = warp_max(sc);
        if (mt == -INFINITY) continue; // every key of the tile is masked
        float mn = fmaxf(m, mt);
        float corr = expf(m - mn);     // 0 on the first tile (m = -inf)
        float p = valid ? expf(sc - mn) : 0.0f;
        l = l * corr + warp_sum(p);
#pragma unroll
        for (int i = 0; i < ATT_MAX_D / 32; i++)
            acc[i] *= corr;
        for (int j = 0; j < ATT_KT; j++) {
            float pj = __shfl_sync(0xffffffffu, p, j);
#pragma unroll
            for (int i = 0; i < ATT_MAX_D / 32; i++) {
                int d = lane + 32 * i;
                if (d < D) acc[i] += pj * vs[j * D + d];
            }
        }
        m = mn;
    }
    if (active) {
        float inv = l > 0.0f ? 1.0f / l : 0.0f; // a padded query gets zeros
        float *o = a.out + ((size_t)b * a.T + t) * a.NH * D + (size_t)h * D;
#pragma unroll
        for (int i = 0; i < ATT_MAX_D / 32; i++) {
            int d = lane + 32 * i;
            if (d < D) o[d] = acc[i] * inv;
        }
    }
    if (!a.att) return;

    // second pass: the probabilities, recomputed per tile from the final (m, l)
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    float *ar = active ? a.att + (((size_t)b * a.NH + h) * a.T + t) * a.att_T : NULL;
    for (int s0 = 0; s0 <= smax; s0 += ATT_KT) {
        __syncthreads();
        for (int i = threadIdx.x; i < ATT_KT * D; i += blockDim.x) {
            int j = i / D, d = i % D, s = s0 + j;
            ks[j * (D + 1) + d] = s <= smax ? kb[(size_t)s * a.ldkv + d] : 0.0f;
        }
        __syncthreads();
        int s = s0 + lane;
        if (!active || s >= a.att_T) continue;
        bool valid = qvalid && s <= slot && (!pb || pb[s] >= 0);
        float p = 0.0f;
        if (valid) {
            float sc = 0.0f;
            for (int d = 0; d < D; d++)
                sc += qs[d] * ks[lane * (D + 1) + d];
            p = expf(sc * a.scale - m) * inv;
        }
        ar[s] = p;
    }
    if (active) {
        int from = (smax / ATT_KT + 1) * ATT_KT; // the tiles above wrote every s < from
        for (int s = from + lane; s < a.att_T; s += 32)
            ar[s] = 0.0f;
    }
}

// --- kernel launchers ------------------------------------------------------------------------

static void attention_launch(const struct att_args *a, int B)
{
    if (a->D > ATT_MAX_D || a->D <= 0 || a->NH % a->KVH) {
        fprintf(stderr, "attention: unsupported head size %d or heads %d/%d\n", a->D, a->NH,
                a->KVH);
        abort(); // a programming error (the model validates its config), as in the CPU twin
    }
    size_t smem = sizeof(float) * ((size_t)ATT_KT * (a->D + 1) + (size_t)ATT_KT * a->D +
                                   (size_t)ATT_QW * a->D);
    static size_t smem_set;
    if (smem > 48 * 1024 && smem > smem_set) {
        CUDA_CHECK(cudaFuncSetAttribute(attention_fwd_kernel,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        smem_set = smem;
    }
    dim3 grid(CEIL_DIV(a->T, ATT_QW), a->NH, B);
    attention_fwd_kernel<<<grid, ATT_QW * 32, smem, srl_cuda_stream()>>>(*a);
    CUDA_LAUNCHED();
}

extern "C" void srl_cuda_attention_fwd(float *out, float *att, const float *q, const float *k,
                                       const float *v, const int32_t *pos, int B, int T, int NH,
                                       int KVH, int D, int ldq, int ldkv, float scale)
{
    // q is (B,T,NH,D) row stride ldq; k, v are (B,T,KVH,D) row stride ldkv
    // att is (B,NH,T,T); out is (B,T,NH,D) dense
    if (B <= 0 || T <= 0) return;
    struct att_args a = {out, att, q, k, v, pos, T, NH, KVH, D, ldq, ldkv, 0, T,
                         (size_t)T * ldq, (size_t)T * ldkv, (size_t)T, scale};
    attention_launch(&a, B);
}

extern "C" void srl_cuda_attention_fwd_kv(float *out, const float *q, const float *kc,
                                          const float *vc, const int32_t *kpos, int B, int T,
                                          int start, int cap, int NH, int KVH, int D, int ldq,
                                          float scale)
{
    // q is (B,T,NH,D) row stride ldq at slots start..start+T-1; kc, vc are (B,cap,KVH,D);
    // kpos is (B,cap); out is (B,T,NH,D)
    if (B <= 0 || T <= 0) return;
    int ldkv = KVH * D;
    struct att_args a = {out, NULL, q, kc, vc, kpos, T, NH, KVH, D, ldq, ldkv, start, 0,
                         (size_t)T * ldq, (size_t)cap * ldkv, (size_t)cap, scale};
    attention_launch(&a, B);
}
