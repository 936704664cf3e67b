/* unicode_norm.c -- Unicode NFC (canonical decomposition, canonical ordering, canonical
 * composition, UAX #15) for the NFC normalizer of tokenizer.json (Qwen2 and others). */
#include <stdlib.h>
#include <string.h>

#include "srl.h"
#include "unicode.h"
#include "unicode_norm_tables.h"

#define S_BASE 0xAC00
#define L_BASE 0x1100
#define V_BASE 0x1161
#define T_BASE 0x11A7
#define L_COUNT 19
#define V_COUNT 21
#define T_COUNT 28
#define N_COUNT (V_COUNT * T_COUNT)
#define S_COUNT (L_COUNT * N_COUNT)

static int ccc_of(uint32_t cp)
{
    size_t lo = 0, hi = sizeof srl_uc_ccc / sizeof srl_uc_ccc[0];
    if (cp < 0x300)
        return 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (srl_uc_ccc[mid].cp == cp)
            return srl_uc_ccc[mid].ccc;
        if (srl_uc_ccc[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int decomp_of(uint32_t cp, const uint32_t **seq)
{
    size_t lo = 0, hi = sizeof srl_uc_decomp / sizeof srl_uc_decomp[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (srl_uc_decomp[mid].cp == cp) {
            *seq = srl_uc_decomp_cps + srl_uc_decomp[mid].off;
            return srl_uc_decomp[mid].len;
        }
        if (srl_uc_decomp[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* The primary composite of (a, b), or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE &&
        b < T_BASE + T_COUNT)
        return a + (b - T_BASE);
    size_t lo = 0, hi = sizeof srl_uc_comp / sizeof srl_uc_comp[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (srl_uc_comp[mid].a == a && srl_uc_comp[mid].b == b)
            return srl_uc_comp[mid].c;
        if (srl_uc_comp[mid].a < a || (srl_uc_comp[mid].a == a && srl_uc_comp[mid].b < b))
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int srl_utf8_nfc(const char *s, size_t n, char **out, size_t *out_len)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t *cps = NULL;
    size_t m = 0, i;
    int simple = 1;

    /* code points below U+0300 neither decompose to anything else under NFC nor combine */
    for (i = 0; i < n && simple; i++)
        simple = u[i] < 0xCC;
    if (!simple) {
        /* a Hangul syllable decomposes into at most 3 jamo, any other code point into at most
         * 4 code points, and every code point takes at least one byte */
        cps = malloc((4 * n + 1) * sizeof *cps);
        if (!cps)
            goto oom;
        for (i = 0; i < n;) {
            uint32_t cp;
            int bad, len = srl_utf8_valid_len(u + i, n - i, &bad);
            if (!len) { /* not UTF-8: leave the text alone */
                free(cps);
                cps = NULL;
                simple = 1;
                break;
            }
            srl_utf8_decode(u + i, n - i, &cp);
            i += (size_t)len;
            const uint32_t *seq;
            int k = cp >= 0xC0 ? decomp_of(cp, &seq) : 0;
            if (cp >= S_BASE && cp < S_BASE + S_COUNT) {
                uint32_t si = cp - S_BASE;
                cps[m++] = L_BASE + si / N_COUNT;
                cps[m++] = V_BASE + (si % N_COUNT) / T_COUNT;
                if (si % T_COUNT)
                    cps[m++] = T_BASE + si % T_COUNT;
            } else if (k) {
                memcpy(cps + m, seq, (size_t)k * sizeof *cps);
                m += (size_t)k;
            } else {
                cps[m++] = cp;
            }
        }
    }
    if (simple) {
        if (!(*out = malloc(n + 1)))
            goto oom;
        memcpy(*out, s, n);
        (*out)[n] = '\0';
        *out_len = n;
        return 0;
    }
    /* canonical ordering: stable sort of each run of non-starters by combining class */
    for (i = 1; i < m; i++) {
        int c = ccc_of(cps[i]);
        size_t j = i;
        uint32_t x = cps[i];
        while (c && j > 0 && ccc_of(cps[j - 1]) > c) {
            cps[j] = cps[j - 1];
            j--;
        }
        cps[j] = x;
    }
    /* canonical composition */
    size_t k = 0, starter = SIZE_MAX;
    int last_ccc = 0;
    for (i = 0; i < m; i++) {
        uint32_t c = cps[i];
        int cc = ccc_of(c);
        if (starter != SIZE_MAX && (k == starter + 1 || (last_ccc != 0 && last_ccc < cc))) {
            uint32_t comp = compose(cps[starter], c);
            if (comp) {
                cps[starter] = comp;
                continue;
            }
        }
        if (cc == 0)
            starter = k;
        last_ccc = cc;
        cps[k++] = c;
    }
    char *o = malloc(4 * k + 1);
    if (!o)
        goto oom;
    size_t len = 0;
    for (i = 0; i < k; i++)
        len += (size_t)srl_utf8_encode(cps[i], o + len);
    o[len] = '\0';
    free(cps);
    *out = o;
    *out_len = len;
    return 0;
oom:
    free(cps);
    srl_log_error("unicode_norm.c: out of memory normalizing %zu bytes", n);
    return SRL_ENOMEM;
}
