/* backend_cpu.c -- the CPU backend: the readable reference for every op of backend.h.
 *
 * Matrix products go to OpenBLAS cblas_sgemm, set to one thread and called on fixed blocks
 * from OpenMP threads (Debian's OpenBLAS is the pthread build: its pool and OpenMP's would
 * fight over the cores).  Everything else is plain loops with OpenMP static schedules.
 * Reductions across rows (parameter gradients of norms, biases, embeddings) are split by
 * COLUMN, so every sum is taken in row order: the same inputs and thread count give
 * bitwise-identical results.
 * Built without -ffast-math; the exp/tanh of the activation and softmax loops are the
 * vectorisable vexpf (backend_cpu_internal.h) and vtanhf (about 1 ulp).  No FP exception flags
 * are ever read, so trapping math is off: it lets GCC if-convert (and so vectorise) float
 * clamps. */
#pragma GCC optimize("no-trapping-math")
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "backend_cpu_internal.h"
#include "srl.h"

// --- memory ----------------------------------------------------------------------------------

static void *cpu_alloc(size_t bytes)
{
    size_t n = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, n ? n : 64);
    if (!p) {
        srl_log_error("cannot allocate %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, n ? n : 64);
    return p;
}

static void cpu_free(void *p)
{
    free(p);
}

static int cpu_copy_in(void *dst, const void *src, size_t bytes)
{
    if (bytes)
        memcpy(dst, src, bytes);
    return 0;
}

static void cpu_memset0(void *p, size_t bytes)
{
    if (bytes)
        memset(p, 0, bytes);
}

static void cpu_copy(void *dst, const void *src, size_t bytes)
{
    if (bytes)
        memmove(dst, src, bytes);
}

static void cpu_sync(void)
{
}

/* [i0, i1): the calling thread's share of n in a parallel region (a static schedule). */
static void thread_span(size_t n, size_t *i0, size_t *i1)
{
    size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
    size_t per = (n + nt - 1) / nt;
    *i0 = t * per < n ? t * per : n;
    *i1 = *i0 + per < n ? *i0 + per : n;
}

/* The column range [c0, c1) of C columns owned by the calling thread of a parallel region. */
static void thread_cols(int C, int *c0, int *c1)
{
    size_t i0, i1;
    thread_span((size_t)C, &i0, &i1);
    *c0 = (int)i0, *c1 = (int)i1;
}

/* tanh(u) = 1 - 2 / (exp(2u) + 1): absolute error ~1e-7, enough for GELU. */
#pragma omp declare simd notinbranch
static inline float vtanhf(float u)
{
    return 1.0f - 2.0f / (vexpf(2.0f * u) + 1.0f);
}

// --- matmul ----------------------------------------------------------------------------------

/* OpenBLAS runs single-threaded inside each call; the parallelism is ours.  Two thread pools
 * (OpenBLAS's pthreads and OpenMP's) spinning against each other on two cores halved the
 * throughput, so every op, sgemm included, runs on the OpenMP threads.
 * The kernels are OpenBLAS's choice for the CPU; OPENBLAS_CORETYPE overrides it (this dev
 * machine's environment forces "Haswell": unset, OpenBLAS picks its AVX-512 kernels and
 * training runs 1.6x faster). */
static void blas_setup_once(void)
{
    // an OpenMP build of OpenBLAS (libopenblas0-openmp) sets OpenMP's thread count too: every
    // op of ours would run on one thread.  Ours stays as it was.
    int ours = omp_get_max_threads();
    openblas_set_num_threads(1);
    omp_set_num_threads(ours);
}

const char *srl_cpu_blas_build(void)
{
    switch (openblas_get_parallel()) {
    case 0: return "serial";
    case 1: return "pthreads";
    case 2: return "openmp";
    default: return "unknown";
    }
}

static void blas_single_thread(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, blas_setup_once);
}

static void sgemm1(float *C, const float *A, const float *B, int M, int N, int K, bool ta,
                   bool tb, int lda, int ldb, int ldc, float alpha, float beta)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int srl_cpu_small_m_max_rows = 64;

void srl_cpu_matmul(float *C, const float *A, const float *B, int M, int N, int K, bool ta,
                    bool tb, int lda, int ldb, int ldc, float alpha, float beta)
{
    // op(A) is (M,K), op(B) is (K,N), C is (M,N), all row-major
    blas_single_thread();
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    // a small product on one thread: waking the others costs more than they save (one row is
    // memory bound: split from a B of 65536 elements; more rows from about 1e6 products)
    if ((double)M * N * K < (M == 1 ? 65536 : 1e6))
        nt = 1;
    if (M == 1) {
        // one row (a decoding step): sgemv streams B once; sgemm would first pack all of it.
        // c (N) = alpha * op(B)^T a + beta * c, B's output dimension split over the threads
        int incx = ta ? lda : 1;
#pragma omp parallel num_threads(nt)
        {
            int j0, j1;
            srl_cpu_block_range(N, omp_get_num_threads(), omp_get_thread_num(), &j0, &j1);
            if (j1 > j0 && tb)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, j1 - j0, K, alpha,
                            B + (size_t)j0 * ldb, ldb, A, incx, beta, C + j0, 1);
            else if (j1 > j0)
                cblas_sgemv(CblasRowMajor, CblasTrans, K, j1 - j0, alpha, B + j0, ldb, A, incx,
                            beta, C + j0, 1);
        }
        return;
    }
    if (!ta && tb && M <= srl_cpu_small_m_max_rows && (M <= 16 || (double)N * K >= 65536)) {
        // a few rows against a weight (decoding 2-64 streams): read it in place once instead
        // of packing all of it (bench_generate's head lines)
        srl_cpu_matmul_small_m(C, A, B, M, N, K, lda, ldb, ldc, alpha, beta, nt);
        return;
    }
    if (nt <= 1) {
        sgemm1(C, A, B, M, N, K, ta, tb, lda, ldb, ldc, alpha, beta);
        return;
    }
    srl_cpu_matmul_grid(C, A, B, M, N, K, ta, tb, lda, ldb, ldc, alpha, beta, nt,
                        srl_cpu_matmul_row_blocks(M, N, nt));
}

/* Rows when there are enough of them (each thread packs all of op(B) for its rows: worth it
 * from 32 rows a thread), else columns (each packs all of op(A)).  A grid that packs least (tr
 * x tc minimising tr*N + tc*M) measured slower on 2 threads (bench_train's sgemm_split lines:
 * M=256 N=K=768 0.63 of OpenBLAS's own threading against 0.77 for rows). */
int srl_cpu_matmul_row_blocks(int M, int N, int nt)
{
    return M >= 32 * nt || M >= N ? nt : 1;
}

void srl_cpu_block_range(int len, int nb, int b, int *i0, int *i1)
{
    int per = ((len + nb - 1) / nb + 15) & ~15;
    *i0 = b * per < len ? b * per : len;
    *i1 = *i0 + per < len ? *i0 + per : len;
}

void srl_cpu_matmul_grid(float *C, const float *A, const float *B, int M, int N, int K, bool ta,
                         bool tb, int lda, int ldb, int ldc, float alpha, float beta, int nt,
                         int tr)
{
    // thread t owns the block (t / tc, t % tc) of C: a fixed grid, so the result depends only
    // on the thread count
    int tc = nt / tr;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), i0, i1, j0, j1;
        if (omp_get_num_threads() == nt) {
            srl_cpu_block_range(M, tr, t / tc, &i0, &i1);
            srl_cpu_block_range(N, tc, t % tc, &j0, &j1);
        } else { /* fewer threads than asked: one does it all */
            i0 = j0 = 0;
            i1 = t == 0 ? M : 0, j1 = N;
        }
        if (i1 > i0 && j1 > j0)
            sgemm1(C + (size_t)i0 * ldc + j0, ta ? A + i0 : A + (size_t)i0 * lda,
                   tb ? B + (size_t)j0 * ldb : B + j0, i1 - i0, j1 - j0, K, ta, tb, lda, ldb,
                   ldc, alpha, beta);
    }
}

// --- embeddings ------------------------------------------------------------------------------

static void cpu_embedding_fwd(float *out, const int32_t *tokens, const int32_t *pos,
                              const float *wte, const float *wpe, int N, int C)
{
    // out is (N,C); wte is (V,C) token embeddings; wpe is (P,C) position embeddings
#pragma omp parallel for schedule(static) if (parallel : (size_t)N * C >= SRL_CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * C;
        const float *e = wte + (size_t)tokens[n] * C;
        if (wpe) {
            int p = pos && pos[n] > 0 ? pos[n] : 0;
            const float *pe = wpe + (size_t)p * C;
            for (int c = 0; c < C; c++)
                o[c] = e[c] + pe[c];
        } else {
            memcpy(o, e, sizeof(float) * C);
        }
    }
}

static void cpu_embedding_bwd(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                              const int32_t *pos, int N, int C)
{
    // a token can appear in many rows: split by column so each sum runs in row order
#pragma omp parallel if (parallel : (size_t)N * C >= SRL_CPU_PAR_MIN)
    {
        int c0, c1;
        thread_cols(C, &c0, &c1);
        for (int n = 0; n < N; n++) {
            const float *g = dout + (size_t)n * C;
            float *dw = dwte + (size_t)tokens[n] * C;
            for (int c = c0; c < c1; c++)
                dw[c] += g[c];
            if (dwpe) {
                int p = pos && pos[n] > 0 ? pos[n] : 0;
                float *dp = dwpe + (size_t)p * C;
                for (int c = c0; c < c1; c++)
                    dp[c] += g[c];
            }
        }
    }
}

// --- RMSNorm ---------------------------------------------------------------------------------

static void cpu_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, int N,
                            int C, float eps)
{
    // out, inp are (N,C); w is (C); rstd is (N)
#pragma omp parallel for schedule(static) if (parallel : (size_t)N * C >= SRL_CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        double ss = 0.0;
        for (int c = 0; c < C; c++)
            ss += (double)x[c] * x[c];
        float r = (float)(1.0 / sqrt(ss / C + eps));
        for (int c = 0; c < C; c++)
            o[c] = w[c] * (x[c] * r);
        rstd[n] = r;
    }
}

static void cpu_rmsnorm_bwd(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, const float *rstd, int N, int C, bool accumulate)
{
    // y = w * x * r  =>  dx = r * (w*g) - r^3 * x * sum(w*g*x) / C;  dw += g * x * r
#pragma omp parallel for schedule(static) if (parallel : (size_t)N * C >= SRL_CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float r = rstd[n];
        double dot = 0.0;
        for (int c = 0; c < C; c++)
            dot += (double)w[c] * g[c] * x[c];
        float k = (float)(dot / C) * r * r * r;
        if (accumulate)
            for (int c = 0; c < C; c++)
                dx[c] += r * w[c] * g[c] - k * x[c];
        else
            for (int c = 0; c < C; c++)
                dx[c] = r * w[c] * g[c] - k * x[c];
    }
#pragma omp parallel if (parallel : (size_t)N * C >= SRL_CPU_PAR_MIN)
    {
        int c0, c1;
        thread_cols(C, &c0, &c1);
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
            float r = rstd[n];
            for (int c = c0; c < c1; c++)
                dw[c] += g[c] * x[c] * r;
        }
    }
}

// --- LayerNorm -------------------------------------------------------------------------------

static void cpu_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp,
                              const float *w, const float *b, int N, int C, float eps)
{
    // out, inp are (N,C); w, b are (C); mean, rstd are (N)
#pragma omp parallel for schedule(static) if (parallel : (size_t)N * C >= SRL_CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        double s = 0.0;
        for (int c = 0; c < C; c++)
            s += x[c];
        float m = (float)(s / C);
        double v = 0.0;
        for (int c = 0; c < C; c++)
            v += (double)(x[c] - m) * (x[c] - m);
        float r = (float)(1.0 / sqrt(v / C + eps));
        for (int c = 0; c < C; c++)
            o[c] = (x[c] - m) * r * w[c] + b[c];
        mean[n] = m;
        rstd[n] = r;
    }
}

static void cpu_layernorm_bwd(float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, const float *mean,
                              const float *rstd, int N, int C, bool accumulate)
{
    // dx = r * (w*g - mean(w*g) - xhat * mean(w*g*xhat))
#pragma omp parallel for schedule(static) if (parallel : (size_t)N * C >= SRL_CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float m = mean[n], r = rstd[n];
        double s1 = 0.0, s2 = 0.0;
        for (int c = 0; c < C; c++) {
            float dn = w[c] * g[c];
            s1 += dn;
            s2 += (double)dn * ((x[c] - m) * r);
        }
        float m1 = (float)(s1 / C), m2 = (float)(s2 / C);
        for (int c = 0; c < C; c++) {
            float d = r * (w[c] * g[c] - m1 - (x[c] - m) * r * m2);
            dx[c] = accumulate ? dx[c] + d : d;
        }
    }
#pragma omp parallel if (parallel : (size_t)N * C >= SRL_CPU_PAR_MIN)
    {
        int c0, c1;
        thread_cols(C, &c0, &c1);
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
            float m = mean[n], r = rstd[n];
            for (int c = c0; c < c1; c++) {
                dw[c] += g[c] * ((x[c] - m) * r);
                db[c] += g[c];
            }
        }
    }
}

// --- activations and elementwise -------------------------------------------------------------

static void cpu_swiglu_fwd(float *out, const float *gu, int N, int F)
{
    // gu is (N,2F) = [gate | up]; out is (N,F)
#pragma omp parallel for schedule(static) if (parallel : (size_t)N * F >= SRL_CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * F, *u = g + F;
        float *o = out + (size_t)n * F;
#pragma omp simd
        for (int i = 0; i < F; i++)
            o[i] = g[i] / (1.0f + vexpf(-g[i])) * u[i];
    }
}

static void cpu_swiglu_bwd(float *dgu, const float *dout, const float *gu, int N, int F)
{
#pragma omp parallel for schedule(static) if (parallel : (size_t)N * F >= SRL_CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * F, *u = g + F, *d = dout + (size_t)n * F;
        float *dg = dgu + (size_t)n * 2 * F, *du = dg + F;
#pragma omp simd
        for (int i = 0; i < F; i++) {
            float sig = 1.0f / (1.0f + vexpf(-g[i]));
            float silu = g[i] * sig;
            du[i] = d[i] * silu;
            dg[i] = d[i] * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
        }
    }
}

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

/* GELU over a span, built for AVX2 too: the parallel loops below call it per thread (a clone's
 * OpenMP region would run the baseline build's outlined body).  Each element is the same
 * operations in either build: the outputs are the same bits. */
SRL_VECTOR_CLONES
static void gelu_fwd_span(float *out, const float *inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + vtanhf(GELU_SCALE * (x + 0.044715f * x * x * x)));
    }
}

SRL_VECTOR_CLONES
static void gelu_bwd_span(float *dinp, const float *dout, const float *inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float th = vtanhf(u);
        float sech2 = 1.0f - th * th;
        float du = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] = dout[i] * (0.5f * (1.0f + th) + 0.5f * x * sech2 * du);
    }
}

static void cpu_gelu_fwd(float *out, const float *inp, size_t n)
{
#pragma omp parallel if (parallel : n >= SRL_CPU_PAR_MIN)
    {
        size_t i0, i1;
        thread_span(n, &i0, &i1);
        gelu_fwd_span(out + i0, inp + i0, i1 - i0);
    }
}

static void cpu_gelu_bwd(float *dinp, const float *dout, const float *inp, size_t n)
{
#pragma omp parallel if (parallel : n >= SRL_CPU_PAR_MIN)
    {
        size_t i0, i1;
        thread_span(n, &i0, &i1);
        gelu_bwd_span(dinp + i0, dout + i0, inp + i0, i1 - i0);
    }
}

static void cpu_add(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static) if (parallel : n >= SRL_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

static void cpu_bias_fwd(float *out, const float *bias, int N, int C, int ldo)
{
    // out is (N,C) with row stride ldo
#pragma omp parallel for schedule(static) if (parallel : (size_t)N * C >= SRL_CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * ldo;
        for (int c = 0; c < C; c++)
            o[c] += bias[c];
    }
}

static void cpu_bias_bwd(float *dbias, const float *dout, int N, int C, int ldd)
{
#pragma omp parallel if (parallel : (size_t)N * C >= SRL_CPU_PAR_MIN)
    {
        int c0, c1;
        thread_cols(C, &c0, &c1);
        for (int n = 0; n < N; n++) {
            const float *g = dout + (size_t)n * ldd;
            for (int c = c0; c < c1; c++)
                dbias[c] += g[c];
        }
    }
}

// --- log-probabilities of targets (LM head) --------------------------------------------------

/* One row's log-sum-exp and target log-prob (built for AVX2 too, as gelu_fwd_span). */
SRL_VECTOR_CLONES
static void logprob_row(float *logp, float *lse, const float *l, int target, int V)
{
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int i = 0; i < V; i++)
        mx = l[i] > mx ? l[i] : mx;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < V; i++)
        s += vexpf(l[i] - mx);
    float z = mx + logf(s);
    *lse = z;
    *logp = target >= 0 ? l[target] - z : 0.0f;
}

static void cpu_logprob_fwd(float *logp, float *lse, const float *logits, const int32_t *targets,
                            int N, int V)
{
    // logits is (N,V); logp, lse, targets are (N)
#pragma omp parallel for schedule(static) if (parallel : (size_t)N * V >= SRL_CPU_PAR_MIN)
    for (int n = 0; n < N; n++)
        logprob_row(logp + n, lse + n, logits + (size_t)n * V, targets[n], V);
}

/* One row of the gradient in place: l = g (onehot(target) - exp(l - z)). */
SRL_VECTOR_CLONES
static void logprob_bwd_row(float *l, float g, float z, int target, int V)
{
#pragma omp simd
    for (int i = 0; i < V; i++)
        l[i] = -g * vexpf(l[i] - z);
    l[target] += g;
}

static void cpu_logprob_bwd(float *logits, const float *dlogp, const float *lse,
                            const int32_t *targets, int N, int V)
{
    // d logp / d logits[i] = onehot(target)[i] - softmax[i], scaled by dlogp (in place)
#pragma omp parallel for schedule(static) if (parallel : (size_t)N * V >= SRL_CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        float *l = logits + (size_t)n * V;
        if (dlogp[n] == 0.0f || targets[n] < 0)
            memset(l, 0, sizeof(float) * V);
        else
            logprob_bwd_row(l, dlogp[n], lse[n], targets[n], V);
    }
}

// --- the table -------------------------------------------------------------------------------

static const struct srl_backend cpu_backend = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy_in,
    .download = cpu_copy_in,
    .memset0 = cpu_memset0,
    .copy = cpu_copy,
    .sync = cpu_sync,
    .matmul = srl_cpu_matmul,
    .embedding_fwd = cpu_embedding_fwd,
    .embedding_bwd = cpu_embedding_bwd,
    .rmsnorm_fwd = cpu_rmsnorm_fwd,
    .rmsnorm_bwd = cpu_rmsnorm_bwd,
    .layernorm_fwd = cpu_layernorm_fwd,
    .layernorm_bwd = cpu_layernorm_bwd,
    .rope_fwd = srl_cpu_rope_fwd,
    .rope_bwd = srl_cpu_rope_bwd,
    .attention_fwd = srl_cpu_attention_fwd,
    .attention_fwd_kv = srl_cpu_attention_fwd_kv,
    .attention_bwd = srl_cpu_attention_bwd,
    .swiglu_fwd = cpu_swiglu_fwd,
    .swiglu_bwd = cpu_swiglu_bwd,
    .gelu_fwd = cpu_gelu_fwd,
    .gelu_bwd = cpu_gelu_bwd,
    .add = cpu_add,
    .bias_fwd = cpu_bias_fwd,
    .bias_bwd = cpu_bias_bwd,
    .logprob_fwd = cpu_logprob_fwd,
    .logprob_bwd = cpu_logprob_bwd,
    .sumsq = srl_cpu_sumsq,
    .scale = srl_cpu_scale,
    .adamw_step = srl_cpu_adamw_step,
    .adamw_step_scaled = srl_cpu_adamw_step_scaled,
};

const struct srl_backend *srl_backend_cpu(void)
{
    blas_single_thread();
    return &cpu_backend;
}
