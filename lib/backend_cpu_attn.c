/* backend_cpu_attn.c -- CPU rotary embeddings and causal grouped-query attention.
 *
 * Attention is computed per (batch, head) with sgemm on strided views of the fused qkv rows
 * (no transposes are copied): S = scale * Q K^T, causal softmax in place, O = P V.  The
 * sgemm calls are made from serial code (OpenBLAS has its own threads); the softmax loops are
 * OpenMP-parallel over rows with static schedules, each row reduced in a fixed order. */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "backend_cpu_internal.h"

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
#pragma omp parallel for schedule(static)
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

void srl_cpu_attention_fwd(float *out, float *att, const float *q, const float *k,
                           const float *v, const int32_t *pos, int B, int T, int NH, int KVH,
                           int D, int ldq, int ldkv, float scale)
{
    // q is (B,T,NH,D) row stride ldq; k, v are (B,T,KVH,D) row stride ldkv
    // att is (B,NH,T,T); out is (B,T,NH,D) dense
    int group = NH / KVH, ldo = NH * D;
    size_t TT = (size_t)T * T;
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const float *qbh = q + (size_t)b * T * ldq + (size_t)h * D;
            const float *kbh = k + (size_t)b * T * ldkv + (size_t)(h / group) * D;
            float *abh = att + ((size_t)b * NH + h) * TT;
            // S (T,T) = scale * Q (T,D) . K^T (D,T)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, qbh, ldq, kbh,
                        ldkv, 0.0f, abh, T);
        }
    }
    // causal softmax over each row; padded keys (pos < 0) and the future get probability 0
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < (size_t)B * NH * T; r++) {
        int t = (int)(r % T), b = (int)(r / ((size_t)NH * T));
        float *row = att + r * T;
        const int32_t *pb = pos ? pos + (size_t)b * T : NULL;
        if (pb && pb[t] < 0) {
            memset(row, 0, sizeof(float) * T);
            continue;
        }
        float mx = -INFINITY;
        for (int s = 0; s <= t; s++)
            if ((!pb || pb[s] >= 0) && row[s] > mx)
                mx = row[s];
        float sum = 0.0f;
        for (int s = 0; s <= t; s++) {
            float e = (!pb || pb[s] >= 0) ? expf(row[s] - mx) : 0.0f;
            row[s] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (int s = 0; s <= t; s++)
            row[s] *= inv;
        for (int s = t + 1; s < T; s++)
            row[s] = 0.0f;
    }
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const float *vbh = v + (size_t)b * T * ldkv + (size_t)(h / group) * D;
            const float *abh = att + ((size_t)b * NH + h) * TT;
            float *obh = out + (size_t)b * T * ldo + (size_t)h * D;
            // O (T,D) = P (T,T) . V (T,D)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, abh, T, vbh,
                        ldkv, 0.0f, obh, ldo);
        }
    }
}

void srl_cpu_attention_bwd(float *dq, float *dk, float *dv, float *datt, const float *dout,
                           const float *att, const float *q, const float *k, const float *v,
                           int B, int T, int NH, int KVH, int D, int ldq, int ldkv,
                           float scale)
{
    int group = NH / KVH, ldo = NH * D;
    size_t TT = (size_t)T * T;
    // dk, dv accumulate over the query heads of a group: clear them first
#pragma omp parallel for schedule(static)
    for (size_t n = 0; n < (size_t)B * T; n++) {
        memset(dk + n * ldkv, 0, sizeof(float) * KVH * D);
        memset(dv + n * ldkv, 0, sizeof(float) * KVH * D);
    }
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const float *vbh = v + (size_t)b * T * ldkv + (size_t)(h / group) * D;
            const float *dobh = dout + (size_t)b * T * ldo + (size_t)h * D;
            const float *abh = att + ((size_t)b * NH + h) * TT;
            float *dabh = datt + ((size_t)b * NH + h) * TT;
            float *dvbh = dv + (size_t)b * T * ldkv + (size_t)(h / group) * D;
            // dP (T,T) = dO (T,D) . V^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0f, dobh, ldo, vbh,
                        ldkv, 0.0f, dabh, T);
            // dV (T,D) += P^T (T,T) . dO (T,D)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, abh, T, dobh,
                        ldo, 1.0f, dvbh, ldkv);
        }
    }
    // softmax backward in place: dS = P * (dP - sum_s P dP) (times scale in the sgemms below)
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < (size_t)B * NH * T; r++) {
        int t = (int)(r % T);
        const float *p = att + r * T;
        float *d = datt + r * T;
        float dot = 0.0f;
        for (int s = 0; s <= t; s++)
            dot += p[s] * d[s];
        for (int s = 0; s <= t; s++)
            d[s] = p[s] * (d[s] - dot);
        for (int s = t + 1; s < T; s++)
            d[s] = 0.0f;
    }
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const float *qbh = q + (size_t)b * T * ldq + (size_t)h * D;
            const float *kbh = k + (size_t)b * T * ldkv + (size_t)(h / group) * D;
            const float *dsbh = datt + ((size_t)b * NH + h) * TT;
            float *dqbh = dq + (size_t)b * T * ldq + (size_t)h * D;
            float *dkbh = dk + (size_t)b * T * ldkv + (size_t)(h / group) * D;
            // dQ (T,D) = scale * dS (T,T) . K (T,D)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, scale, dsbh, T, kbh,
                        ldkv, 0.0f, dqbh, ldq);
            // dK (T,D) += scale * dS^T (T,T) . Q (T,D)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, scale, dsbh, T, qbh,
                        ldq, 1.0f, dkbh, ldkv);
        }
    }
}
