/* backend_cpu_attn.c -- CPU rotary embeddings and causal grouped-query attention.
 *
 * Attention is computed per (batch, head) with sgemm on strided views of the fused qkv rows
 * (no transposes are copied): S = scale * Q K^T, causal softmax in place, O = P V.  The
 * (batch, head) pairs are spread over the OpenMP threads with a static schedule, each calling
 * single-threaded sgemm (srl_backend_cpu() sets OpenBLAS to one thread).  No FP exception
 * flags are read (as in backend_cpu.c), so the softmax's vexpf loop can vectorise. */
#pragma GCC optimize("no-trapping-math")
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "backend_cpu_internal.h"
#include "srl.h"

// --- rotary position embedding ---------------------------------------------------------------

/* Rotate (sign = +1) or un-rotate (sign = -1) the head pairs (i, i + D/2) of every row.
 * The angle is computed as HF does in float32: pos * inv_freq[i], inv_freq = theta^(-2i/D). */
static void rope_apply(float *x, const int32_t *pos, int N, int ld, int H, int D, float theta,
                       float sign)
{
    int half = D / 2;
    float inv_freq[half > 0 ? half : 1];
    for (int i = 0; i < half; i++)
        inv_freq[i] = (float)(1.0 / pow((double)theta, (double)(2 * i) / (double)D));
#pragma omp parallel for schedule(static) if (parallel : (size_t)N * H * D >= SRL_CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        // x is (N, ld); head h of row n starts at column h*D
        float p = pos ? (float)(pos[n] > 0 ? pos[n] : 0) : 0.0f;
        float c[half > 0 ? half : 1], s[half > 0 ? half : 1];
        for (int i = 0; i < half; i++) {
            float ang = p * inv_freq[i];
            c[i] = cosf(ang);
            s[i] = sign * sinf(ang);
        }
        float *row = x + (size_t)n * ld;
        for (int h = 0; h < H; h++) {
            float *x1 = row + h * D, *x2 = x1 + half;
            for (int i = 0; i < half; i++) {
                float a = x1[i], b = x2[i];
                x1[i] = a * c[i] - b * s[i];
                x2[i] = b * c[i] + a * s[i];
            }
        }
    }
}

void srl_cpu_rope_fwd(float *x, const int32_t *pos, int N, int ld, int H, int D, float theta)
{
    rope_apply(x, pos, N, ld, H, D, theta, 1.0f);
}

void srl_cpu_rope_bwd(float *dx, const int32_t *pos, int N, int ld, int H, int D, float theta)
{
    // the rotation is orthogonal: its backward is the inverse rotation
    rope_apply(dx, pos, N, ld, H, D, theta, -1.0f);
}

// --- attention -------------------------------------------------------------------------------

/* Query rows per causal block: smaller skips more of the masked upper triangle, larger gives
 * sgemm bigger products. */
#define ATT_BLOCK 64

/* Causal softmax of one row of scores in place; padded keys (pos < 0) and the future get 0.
 * Built for AVX2 too (called inside the parallel loops, so the clone is the one that runs). */
SRL_VECTOR_CLONES
static void softmax_row(float *row, int t, int T, const int32_t *pb)
{
    if (pb && pb[t] < 0) {
        memset(row, 0, sizeof(float) * T);
        return;
    }
    float mx = -INFINITY;
    if (pb)
#pragma omp simd
        for (int s = 0; s <= t; s++)
            row[s] = pb[s] >= 0 ? row[s] : -INFINITY; /* vexpf gives 0 for these */
#pragma omp simd reduction(max : mx)
    for (int s = 0; s <= t; s++)
        mx = row[s] > mx ? row[s] : mx;
    float sum = 0.0f;
    // vectorised vexpf: libm's scalar expf was most of a decoding step of small models
#pragma omp simd reduction(+ : sum)
    for (int s = 0; s <= t; s++) {
        row[s] = vexpf(row[s] - mx);
        sum += row[s];
    }
    float inv = 1.0f / sum;
    for (int s = 0; s <= t; s++)
        row[s] *= inv;
    for (int s = t + 1; s < T; s++)
        row[s] = 0.0f;
}

void srl_cpu_attention_fwd(float *out, float *att, const float *q, const float *k,
                           const float *v, const int32_t *pos, int B, int T, int NH, int KVH,
                           int D, int ldq, int ldkv, float scale)
{
    // q is (B,T,NH,D) row stride ldq; k, v are (B,T,KVH,D) row stride ldkv
    // att is (B,NH,T,T); out is (B,T,NH,D) dense
    int group = NH / KVH, ldo = NH * D;
    size_t TT = (size_t)T * T;
    // one (batch, head) per iteration, each with single-threaded sgemm
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *qbh = q + (size_t)b * T * ldq + (size_t)h * D;
        const float *kbh = k + (size_t)b * T * ldkv + (size_t)(h / group) * D;
        const float *vbh = v + (size_t)b * T * ldkv + (size_t)(h / group) * D;
        float *abh = att + (size_t)bh * TT;
        float *obh = out + (size_t)b * T * ldo + (size_t)h * D;
        // query blocks [t0,t1) only need keys [0,t1): about half the products of full (T,T)
        for (int t0 = 0; t0 < T; t0 += ATT_BLOCK) {
            int t1 = t0 + ATT_BLOCK < T ? t0 + ATT_BLOCK : T, m = t1 - t0;
            float *ab = abh + (size_t)t0 * T;
            // S (m,t1) = scale * Q[t0:t1] (m,D) . K[0:t1]^T (D,t1)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, t1, D, scale,
                        qbh + (size_t)t0 * ldq, ldq, kbh, ldkv, 0.0f, ab, T);
            for (int t = t0; t < t1; t++)
                softmax_row(abh + (size_t)t * T, t, T, pos ? pos + (size_t)b * T : NULL);
            // O[t0:t1] (m,D) = P (m,t1) . V[0:t1] (t1,D)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, D, t1, 1.0f, ab, T, vbh,
                        ldkv, 0.0f, obh + (size_t)t0 * ldo, ldo);
        }
    }
}

void srl_cpu_attention_fwd_kv(float *out, const float *q, const float *kc, const float *vc,
                              const int32_t *kpos, int B, int T, int start, int cap, int NH,
                              int KVH, int D, int ldq, float scale)
{
    // q is (B,T,NH,D) row stride ldq; kc, vc are (B,cap,KVH,D); out is (B,T,NH,D)
    int group = NH / KVH, ldo = NH * D, ldkv = KVH * D, S = start + T;
    bool oom = false;
#pragma omp parallel if (parallel : (size_t)B * NH * T * S * D >= SRL_CPU_PAR_MIN)
    {
        // each thread's scores for one (batch, head): (T,S)
        float *sc = malloc(sizeof(float) * (size_t)T * S);
        if (!sc) {
#pragma omp atomic write
            oom = true;
        }
#pragma omp for schedule(static)
        for (int bh = 0; bh < B * NH; bh++) {
            int b = bh / NH, h = bh % NH;
            const float *qbh = q + (size_t)b * T * ldq + (size_t)h * D;
            const float *kbh = kc + (size_t)b * cap * ldkv + (size_t)(h / group) * D;
            const float *vbh = vc + (size_t)b * cap * ldkv + (size_t)(h / group) * D;
            const int32_t *pb = kpos + (size_t)b * cap;
            float *obh = out + (size_t)b * T * ldo + (size_t)h * D;
            if (!sc)
                continue;
            if (T == 1) {
                // a decoding step: two matrix-vector products a head, sc (S) = scale * K (S,D)
                // q (D) and o (D) = V^T (D,S) p (S) (OpenBLAS's AVX2 sgemv: attention went
                // from 17.5% to 13% of a 16-stream step at 256 tokens, against SSE2 loops)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, S, D, scale, kbh, ldkv, qbh, 1, 0.0f,
                            sc, 1);
                softmax_row(sc, start, S, pb);
                cblas_sgemv(CblasRowMajor, CblasTrans, S, D, 1.0f, vbh, ldkv, sc, 1, 0.0f, obh,
                            1);
                continue;
            }
            // S (T,S) = scale * Q (T,D) . K^T (D,S)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, S, D, scale, qbh, ldq, kbh,
                        ldkv, 0.0f, sc, S);
            for (int t = 0; t < T; t++) {
                // query t sits at slot start + t: softmax_row's causal limit, on a row of S
                float *row = sc + (size_t)t * S;
                softmax_row(row, start + t, S, pb);
            }
            // O (T,D) = P (T,S) . V (S,D)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, S, 1.0f, sc, S, vbh,
                        ldkv, 0.0f, obh, ldo);
        }
        free(sc);
    }
    if (oom)
        srl_log_error("out of memory in attention (T=%d, S=%d)", T, S);
}

void srl_cpu_attention_bwd(float *dq, float *dk, float *dv, float *datt, const float *dout,
                           const float *att, const float *q, const float *k, const float *v,
                           int B, int T, int NH, int KVH, int D, int ldq, int ldkv,
                           float scale)
{
    int group = NH / KVH, ldo = NH * D;
    size_t TT = (size_t)T * T;
    // one (batch, kv head) per iteration: its query heads accumulate into the same dk, dv in
    // a fixed order
#pragma omp parallel for schedule(static)
    for (int bg = 0; bg < B * KVH; bg++) {
        int b = bg / KVH, g = bg % KVH;
        const float *kbh = k + (size_t)b * T * ldkv + (size_t)g * D;
        const float *vbh = v + (size_t)b * T * ldkv + (size_t)g * D;
        float *dkbh = dk + (size_t)b * T * ldkv + (size_t)g * D;
        float *dvbh = dv + (size_t)b * T * ldkv + (size_t)g * D;
        for (int t = 0; t < T; t++) {
            memset(dkbh + (size_t)t * ldkv, 0, sizeof(float) * D);
            memset(dvbh + (size_t)t * ldkv, 0, sizeof(float) * D);
        }
        for (int h = g * group; h < (g + 1) * group; h++) {
            const float *qbh = q + (size_t)b * T * ldq + (size_t)h * D;
            const float *dobh = dout + (size_t)b * T * ldo + (size_t)h * D;
            const float *abh = att + ((size_t)b * NH + h) * TT;
            float *dabh = datt + ((size_t)b * NH + h) * TT;
            float *dqbh = dq + (size_t)b * T * ldq + (size_t)h * D;
            // the same causal query blocks as the forward: block [t0,t1) touches keys [0,t1)
            for (int t0 = 0; t0 < T; t0 += ATT_BLOCK) {
                int t1 = t0 + ATT_BLOCK < T ? t0 + ATT_BLOCK : T, m = t1 - t0;
                const float *ab = abh + (size_t)t0 * T, *dob = dobh + (size_t)t0 * ldo;
                float *dab = dabh + (size_t)t0 * T;
                // dP (m,t1) = dO[t0:t1] (m,D) . V[0:t1]^T
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, t1, D, 1.0f, dob, ldo,
                            vbh, ldkv, 0.0f, dab, T);
                // dV[0:t1] (t1,D) += P^T (t1,m) . dO[t0:t1] (m,D)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t1, D, m, 1.0f, ab, T, dob,
                            ldo, 1.0f, dvbh, ldkv);
                // softmax backward in place: dS = P * (dP - sum_s P dP)
                for (int t = t0; t < t1; t++) {
                    const float *p = abh + (size_t)t * T;
                    float *d = dabh + (size_t)t * T;
                    float dot = 0.0f;
                    for (int s = 0; s <= t; s++)
                        dot += p[s] * d[s];
                    for (int s = 0; s <= t; s++)
                        d[s] = p[s] * (d[s] - dot);
                    for (int s = t + 1; s < t1; s++)
                        d[s] = 0.0f;
                }
                // dQ[t0:t1] (m,D) = scale * dS (m,t1) . K[0:t1] (t1,D)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, D, t1, scale, dab, T,
                            kbh, ldkv, 0.0f, dqbh + (size_t)t0 * ldq, ldq);
                // dK[0:t1] (t1,D) += scale * dS^T (t1,m) . Q[t0:t1] (m,D)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t1, D, m, scale, dab, T,
                            qbh + (size_t)t0 * ldq, ldq, 1.0f, dkbh, ldkv);
            }
        }
    }
}
