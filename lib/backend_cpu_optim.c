/* backend_cpu_optim.c -- the CPU optimiser ops: sum of squares (the clipping norm), scaling,
 * AdamW.
 *
 * The sum of squares adds fixed chunks of 2^16 elements, each in index order in double, then the
 * chunk sums in chunk order: the result does not depend on the thread count.  Eight chunks are
 * swept side by side (eight independent addition chains instead of one), which is the same
 * arithmetic in the same order per chunk.
 * AdamW's fused loop (adamw_step_scaled) is `omp simd`: sqrtf must not set errno for it to
 * become a vector instruction, so the Makefile compiles this file with -fno-math-errno (GCC's
 * optimize pragma does not reach the functions it outlines for OpenMP regions).  Its
 * operations are the reference loop's, in the same order, so the results are bitwise the same;
 * the reference loop (adamw_step) stays as it was: the unfused baseline bench_train measures. */
#pragma GCC optimize("no-trapping-math")
#include <math.h>
#include <stdlib.h>

#include "backend_cpu_internal.h"

enum { SUMSQ_CHUNK = 1 << 16, SUMSQ_LANES = 8 };

/* sum of x[i]^2 over [i0, i1), in index order */
static double sumsq_run(const float *x, size_t i0, size_t i1)
{
    double s = 0.0;
    for (size_t i = i0; i < i1; i++)
        s += (double)x[i] * x[i];
    return s;
}

double srl_cpu_sumsq(const float *x, size_t n)
{
    size_t nchunk = (n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
    size_t ngroup = n / SUMSQ_CHUNK / SUMSQ_LANES; /* groups of SUMSQ_LANES full chunks */
    double *part = malloc(sizeof(double) * (nchunk ? nchunk : 1));
    if (!part)
        return sumsq_run(x, 0, n);
#pragma omp parallel for schedule(static)
    for (size_t gr = 0; gr < ngroup; gr++) {
        const float *b = x + gr * SUMSQ_LANES * SUMSQ_CHUNK; /* (SUMSQ_LANES, SUMSQ_CHUNK) */
        double s[SUMSQ_LANES] = {0};
        for (size_t i = 0; i < SUMSQ_CHUNK; i++)
            for (int j = 0; j < SUMSQ_LANES; j++)
                s[j] += (double)b[(size_t)j * SUMSQ_CHUNK + i] * b[(size_t)j * SUMSQ_CHUNK + i];
        for (int j = 0; j < SUMSQ_LANES; j++)
            part[gr * SUMSQ_LANES + j] = s[j];
    }
    for (size_t ch = ngroup * SUMSQ_LANES; ch < nchunk; ch++)
        part[ch] = sumsq_run(x, ch * SUMSQ_CHUNK, ch + 1 < nchunk ? (ch + 1) * SUMSQ_CHUNK : n);
    double s = 0.0;
    for (size_t ch = 0; ch < nchunk; ch++)
        s += part[ch];
    free(part);
    return s;
}

void srl_cpu_scale(float *x, float s, size_t n)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        x[i] *= s;
}

void srl_cpu_adamw_step(float *p, const float *g, float *m, float *v, size_t n, float lr,
                        float b1, float b2, float eps, float wd, float bc1, float bc2)
{
    // torch.optim.AdamW: p -= lr*wd*p; then p -= lr * mhat / (sqrt(vhat) + eps)
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float mi = b1 * m[i] + (1.0f - b1) * g[i];
        float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / bc1, vhat = vi / bc2;
        p[i] -= lr * wd * p[i];
        p[i] -= lr * mhat / (sqrtf(vhat) + eps);
    }
}

void srl_cpu_adamw_step_scaled(float *restrict p, const float *restrict g, float *restrict m,
                               float *restrict v, size_t n, float lr, float b1, float b2,
                               float eps, float wd, float bc1, float bc2, float gscale)
{
    // the reference loop's operations in its order, on gi = g * gscale (one rounding, as
    // scaling g in place would give)
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * gscale;
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / bc1, vhat = vi / bc2;
        float pi = p[i];
        pi -= lr * wd * pi;
        p[i] = pi - lr * mhat / (sqrtf(vhat) + eps);
    }
}
