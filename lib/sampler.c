/* sampler.c -- next-token choice from one row of logits (see sampler.h for the semantics).
 * The passes over the vocabulary (max, exp and sum, argmax) are `omp simd` loops with the
 * vectorisable vexpf of the CPU backend: a scalar expf over 32000 logits cost more than the
 * batched matmuls of a decoding step's rows. */
#pragma GCC optimize("no-trapping-math")
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cpu_internal.h"
#include "sampler.h"
#include "srl.h"

int srl_sampler_init(struct srl_sampler *s, int V)
{
    memset(s, 0, sizeof *s);
    if (V <= 0) {
        srl_log_error("sampler: bad vocabulary size %d", V);
        return SRL_EINVAL;
    }
    s->V = V;
    s->x = malloc(sizeof(float) * (size_t)V);
    s->cand = malloc(sizeof(struct srl_sampler_pair) * (size_t)V);
    s->seen = calloc((size_t)V, 1);
    if (!s->x || !s->cand || !s->seen) {
        srl_sampler_free(s);
        srl_log_error("sampler: out of memory");
        return SRL_ENOMEM;
    }
    return 0;
}

void srl_sampler_free(struct srl_sampler *s)
{
    if (!s)
        return;
    free(s->x);
    free(s->cand);
    free(s->seen);
    memset(s, 0, sizeof *s);
}

int srl_sampler_check(const struct srl_sampler_params *p)
{
    if (!(p->temperature >= 0) || !isfinite(p->temperature)) {
        srl_log_error("temperature %g: must be >= 0", p->temperature);
        return SRL_EINVAL;
    }
    if (p->top_k < 0) {
        srl_log_error("top-k %d: must be >= 0", p->top_k);
        return SRL_EINVAL;
    }
    if (!(p->top_p > 0 && p->top_p <= 1)) {
        srl_log_error("top-p %g: must be in (0, 1]", p->top_p);
        return SRL_EINVAL;
    }
    if (!(p->repetition_penalty > 0) || !isfinite(p->repetition_penalty)) {
        srl_log_error("repetition penalty %g: must be > 0", p->repetition_penalty);
        return SRL_EINVAL;
    }
    return 0;
}

uint64_t srl_sampler_stream_seed(uint64_t seed, uint64_t stream)
{
    /* splitmix64 finaliser of the pair: nearby seeds and streams give unrelated states */
    uint64_t z = seed ^ (stream + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

SRL_VECTOR_CLONES
static float max_of(const float *x, int n)
{
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* log sum exp of x (n); built for AVX2 too, as sample_all: a PPO rollout takes it over the
 * whole vocabulary for every token's raw log-prob. */
SRL_VECTOR_CLONES
static double log_sum_exp(const float *x, int n)
{
    float mx = max_of(x, n);
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < n; i++)
        sum += vexpf(x[i] - mx);
    return mx + log(sum);
}

/* The first index of the largest value (NaN never wins). */
static int argmax(const float *x, int n)
{
    float mx = max_of(x, n);
    for (int i = 0; i < n; i++)
        if (x[i] == mx)
            return i;
    return 0;
}

/* a ranks below b: smaller value, or the same value and a larger id */
static int below(const struct srl_sampler_pair *a, const struct srl_sampler_pair *b)
{
    return a->v < b->v || (a->v == b->v && a->id > b->id);
}

static int cmp_desc(const void *pa, const void *pb)
{
    const struct srl_sampler_pair *a = pa, *b = pb;
    return below(a, b) ? 1 : below(b, a) ? -1 : 0;
}

/* Sift-down of h[0..n) as a min-heap by `below` (max 0) or a max-heap (max 1). */
static void heap_down(struct srl_sampler_pair *h, int n, int i, int max)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && (max ? below(&h[m], &h[l]) : below(&h[l], &h[m])))
            m = l;
        if (r < n && (max ? below(&h[m], &h[r]) : below(&h[r], &h[m])))
            m = r;
        if (m == i)
            return;
        struct srl_sampler_pair t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* The k-th largest of x (V), 0 < k < V, through a min-heap of k pairs in cand. */
static float kth_largest(struct srl_sampler_pair *h, const float *x, int V, int k)
{
    for (int i = 0; i < k; i++)
        h[i] = (struct srl_sampler_pair){ x[i], i };
    for (int i = k / 2 - 1; i >= 0; i--)
        heap_down(h, k, i, 0);
    for (int i = k; i < V; i++)
        if (x[i] > h[0].v) {
            h[0] = (struct srl_sampler_pair){ x[i], i };
            heap_down(h, k, 0, 0);
        }
    return h[0].v;
}

/* Turn the values of c[0..n) into probabilities (softmax); returns log of the normaliser
 * relative to the maximum, i.e. log p_i = (v_i - mx) - returned value, and sets *mx. */
static double softmax_pairs(struct srl_sampler_pair *c, int n, float *mx)
{
    float m = -INFINITY;
    double sum = 0;
#pragma omp simd reduction(max : m)
    for (int i = 0; i < n; i++)
        m = c[i].v > m ? c[i].v : m;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < n; i++) {
        c[i].v = vexpf(c[i].v - m);
        sum += c[i].v;
    }
    float inv = (float)(1.0 / sum);
#pragma omp simd
    for (int i = 0; i < n; i++)
        c[i].v *= inv;
    *mx = m;
    return log(sum);
}

/* Apply the filters to the scaled logits x (V): the kept candidates go to s->cand, sorted in
 * descending order when a filter ran (in id order otherwise).  Returns their count. */
static int filter(struct srl_sampler *s, const struct srl_sampler_params *p)
{
    int V = s->V, n = 0;
    struct srl_sampler_pair *c = s->cand;
    const float *x = s->x;
    int k = p->top_k > 0 && p->top_k < V ? p->top_k : 0;
    if (k) {
        float th = kth_largest(c, x, V, k);
        for (int i = 0; i < V; i++) /* ties with the k-th value stay, as in HF */
            if (x[i] >= th)
                c[n++] = (struct srl_sampler_pair){ x[i], i };
    } else {
        for (int i = 0; i < V; i++)
            c[n++] = (struct srl_sampler_pair){ x[i], i };
    }
    if (p->top_p >= 1.0f) {
        if (k)
            qsort(c, (size_t)n, sizeof *c, cmp_desc);
        return n;
    }
    /* nucleus: probabilities of the candidates; a token with probability below
     * (1 - top_p) / (n - 1) can never be inside the nucleus (llama2.c's shortcut) */
    float mx;
    softmax_pairs(c, n, &mx);
    if (n > 1) {
        float cut = (1.0f - p->top_p) / (float)(n - 1);
        int m = 0;
        for (int i = 0; i < n; i++)
            if (c[i].v >= cut)
                c[m++] = c[i];
        n = m;
    }
    /* pop candidates in descending order off a max-heap until the nucleus is complete: the
     * popped ones collect at the end of c, the largest last */
    for (int i = n / 2 - 1; i >= 0; i--)
        heap_down(c, n, i, 1);
    double before = 0;
    int keep = 0, h = n;
    while (h > 0 && (keep == 0 || before < p->top_p)) {
        struct srl_sampler_pair top = c[0];
        c[0] = c[--h];
        c[h] = top;
        heap_down(c, h, 0, 1);
        before += top.v;
        keep++;
    }
    for (int i = 0; i < keep / 2; i++) { /* c[h..n) descending, then to the front */
        struct srl_sampler_pair t = c[h + i];
        c[h + i] = c[n - 1 - i];
        c[n - 1 - i] = t;
    }
    memmove(c, c + h, sizeof *c * (size_t)keep);
    /* back to scaled logits for the final softmax */
    for (int i = 0; i < keep; i++)
        c[i].v = x[c[i].id];
    return keep;
}

/* Draw from the softmax of the filtered candidates. */
static int sample_filtered(struct srl_sampler *s, const struct srl_sampler_params *p,
                           struct srl_rng *rng, float *logp)
{
    int n = filter(s, p);
    float mx;
    double lz = softmax_pairs(s->cand, n, &mx);
    double u = srl_rng_uniform(rng), acc = 0;
    int j = n - 1; /* rounding: the last candidate takes what is left */
    for (int i = 0; i < n; i++) {
        acc += s->cand[i].v;
        if (u < acc) {
            j = i;
            break;
        }
    }
    int tok = s->cand[j].id;
    if (logp)
        *logp = (float)((s->x[tok] - mx) - lz);
    return tok;
}

/* Draw from the softmax of all of x (V), unnormalised: one exp pass, then a walk to u * sum.
 * Built for AVX2 too, chosen at run time: the exp pass of 16 rows of 32000 logits was a tenth
 * of a 16-stream decoding step at SSE2's width.  No FMA contraction (-std=c11): each exp is
 * the same either way; only the lanes of the double sums differ. */
SRL_VECTOR_CLONES
static int sample_all(float *x, int V, struct srl_rng *rng, float *logp)
{
    float mx = max_of(x, V), lx;
    double sum = 0; /* double: log(sum) stays exact when one token has nearly all the mass */
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < V; i++) {
        x[i] = vexpf(x[i] - mx);
        sum += x[i];
    }
    double u = srl_rng_uniform(rng) * sum, acc = 0;
    int tok = V - 1, i = 0;
    enum { BLK = 256 }; /* skip whole blocks by their (vectorised) sums, then walk one */
    for (; i + BLK <= V; i += BLK) {
        double bs = 0;
#pragma omp simd reduction(+ : bs)
        for (int j = i; j < i + BLK; j++)
            bs += x[j];
        if (u < acc + bs)
            break;
        acc += bs;
    }
    for (; i < V; i++) {
        acc += x[i];
        if (u < acc && x[i] > 0) {
            tok = i;
            break;
        }
    }
    while (x[tok] == 0 && tok > 0) /* rounding at the very end: the last possible token */
        tok--;
    lx = logf(x[tok]);
    if (logp)
        *logp = (float)(lx - log(sum));
    return tok;
}

int srl_sample(struct srl_sampler *s, const struct srl_sampler_params *p, const float *logits,
               const int32_t *history, size_t n_history, struct srl_rng *rng, float *logp,
               float *logp_raw)
{
    int V = s->V, tok;
    float *x = s->x;
    memcpy(x, logits, sizeof(float) * (size_t)V);
    if (p->repetition_penalty != 1.0f) {
        float rp = p->repetition_penalty;
        for (size_t i = 0; i < n_history; i++) {
            int t = history[i];
            if (t < 0 || t >= V || s->seen[t])
                continue;
            s->seen[t] = 1;
            x[t] = x[t] > 0 ? x[t] / rp : x[t] * rp;
        }
        for (size_t i = 0; i < n_history; i++)
            if (history[i] >= 0 && history[i] < V)
                s->seen[history[i]] = 0;
    }
    if (p->temperature == 0.0f || !rng) {
        tok = argmax(x, V);
        if (logp)
            *logp = (float)(x[tok] - log_sum_exp(x, V));
    } else {
        if (p->temperature != 1.0f) {
            float inv = 1.0f / p->temperature;
            for (int i = 0; i < V; i++)
                x[i] *= inv;
        }
        if ((p->top_k > 0 && p->top_k < V) || p->top_p < 1.0f)
            tok = sample_filtered(s, p, rng, logp);
        else
            tok = sample_all(s->x, V, rng, logp);
    }
    if (logp_raw)
        *logp_raw = (float)(logits[tok] - log_sum_exp(logits, V));
    return tok;
}
