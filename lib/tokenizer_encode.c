/* tokenizer_encode.c -- encoding (added tokens, normalizers, pre-tokenizers, BPE merges,
 * post-processor) and decoding (the decoder chain), following HF tokenizers step by step. */
#include <stdlib.h>
#include <string.h>

#include "pretokenize.h"
#include "srl.h"
#include "tokenizer_internal.h"
#include "unicode.h"

#define CACHE_SLOTS 65536
#define CACHE_MAX_WORD 48

struct buf {
    char *p;
    size_t len, cap;
};

struct sym {
    int id, prev, next;
    uint32_t len;
};

struct merge_item {
    uint32_t rank, pos;
    int new_id;
};

struct enc {
    const struct srl_tokenizer *tok;
    int *ids;
    size_t n, cap;
    struct buf norm[2];
    struct buf pre[SRL_MAX_STEPS];
    struct sym *syms;
    size_t sym_cap;
    struct merge_item *heap;
    size_t heap_cap;
    int oom;
};

static int buf_reserve(struct buf *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return SRL_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_add(struct buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, b->len + n + 1) < 0)
        return SRL_ENOMEM;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static int push_id(struct enc *e, int id)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 256;
        int *ids = realloc(e->ids, cap * sizeof *ids);
        if (!ids) {
            e->oom = 1;
            return SRL_ENOMEM;
        }
        e->ids = ids;
        e->cap = cap;
    }
    e->ids[e->n++] = id;
    return 0;
}

// --- BPE on one pre-token --------------------------------------------------------------

static inline int merge_less(const struct merge_item *a, const struct merge_item *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(struct merge_item *h, size_t *n, struct merge_item it)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(&it, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
}

static struct merge_item heap_pop(struct merge_item *h, size_t *n)
{
    struct merge_item top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && merge_less(&h[c + 1], &h[c]))
            c++;
        if (!merge_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = last;
    return top;
}

static inline int lookup_merge(const struct srl_tokenizer *tok, int a, int b, uint32_t *rank,
                               int *new_id)
{
    uint64_t v;
    if (!srl_u64map_get(&tok->merges, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, &v))
        return 0;
    *rank = (uint32_t)(v >> 32);
    *new_id = (int)(uint32_t)v;
    return 1;
}

static int add_sym(struct enc *e, size_t *n, int id, uint32_t len)
{
    if (*n == e->sym_cap) {
        size_t cap = e->sym_cap ? e->sym_cap * 2 : 64;
        struct sym *s = realloc(e->syms, cap * sizeof *s);
        struct merge_item *h = realloc(e->heap, 2 * cap * sizeof *h);
        if (s)
            e->syms = s;
        if (h)
            e->heap = h;
        if (!s || !h)
            return SRL_ENOMEM;
        e->sym_cap = cap;
        e->heap_cap = 2 * cap;
    }
    e->syms[*n] = (struct sym){ id, (int)*n - 1, (int)*n + 1, len };
    (*n)++;
    return 0;
}

/* The initial symbols of a word: bytes (byte-level) or characters with byte fallback / unk. */
static int initial_symbols(struct enc *e, const char *s, size_t n, size_t *n_sym)
{
    const struct srl_tokenizer *tok = e->tok;
    int unk_pending = 0;
    uint32_t unk_len = 0;

    *n_sym = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = tok->byte_level ? 1 : srl_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        int id = tok->byte_level ? tok->byte_id[(unsigned char)s[i]]
                                 : srl_strmap_get(&tok->vocab, s + i, (size_t)len);
        if (id >= 0) {
            if (unk_pending && add_sym(e, n_sym, tok->unk_id, unk_len) < 0)
                return SRL_ENOMEM;
            unk_pending = 0;
            if (add_sym(e, n_sym, id, (uint32_t)len) < 0)
                return SRL_ENOMEM;
            i += (size_t)len;
            continue;
        }
        if (tok->byte_fallback) {
            int ok = 1;
            for (int k = 0; k < len; k++)
                ok &= tok->byte_id[(unsigned char)s[i + k]] >= 0;
            if (ok) {
                if (unk_pending && add_sym(e, n_sym, tok->unk_id, unk_len) < 0)
                    return SRL_ENOMEM;
                unk_pending = 0;
                for (int k = 0; k < len; k++)
                    if (add_sym(e, n_sym, tok->byte_id[(unsigned char)s[i + k]], 1) < 0)
                        return SRL_ENOMEM;
                i += (size_t)len;
                continue;
            }
        }
        if (tok->unk_id >= 0) {
            if (unk_pending && tok->fuse_unk) {
                unk_len += (uint32_t)len;
            } else {
                if (unk_pending && add_sym(e, n_sym, tok->unk_id, unk_len) < 0)
                    return SRL_ENOMEM;
                unk_pending = 1;
                unk_len = (uint32_t)len;
            }
        }
        i += (size_t)len;
    }
    if (unk_pending && add_sym(e, n_sym, tok->unk_id, unk_len) < 0)
        return SRL_ENOMEM;
    if (*n_sym)
        e->syms[*n_sym - 1].next = -1;
    return 0;
}

static int bpe_word(struct enc *e, const char *s, size_t n, size_t first_out)
{
    const struct srl_tokenizer *tok = e->tok;
    size_t n_sym, n_heap = 0;
    uint32_t rank;
    int new_id;

    if (tok->ignore_merges) {
        int id = srl_strmap_get(&tok->vocab, s, n);
        if (id >= 0)
            return push_id(e, id);
    }
    if (initial_symbols(e, s, n, &n_sym) < 0)
        return SRL_ENOMEM;
    struct sym *sy = e->syms;
    for (size_t i = 0; i + 1 < n_sym; i++)
        if (lookup_merge(tok, sy[i].id, sy[i + 1].id, &rank, &new_id))
            heap_push(e->heap, &n_heap, (struct merge_item){ rank, (uint32_t)i, new_id });
    while (n_heap) {
        struct merge_item top = heap_pop(e->heap, &n_heap);
        struct sym *cur = &sy[top.pos];
        if (cur->len == 0 || cur->next < 0)
            continue;
        struct sym right = sy[cur->next];
        if (!lookup_merge(tok, cur->id, right.id, &rank, &new_id) || new_id != top.new_id)
            continue;
        sy[cur->next].len = 0;
        cur->id = new_id;
        cur->len += right.len;
        cur->next = right.next;
        if (right.next >= 0)
            sy[right.next].prev = (int)top.pos;
        /* at most two pushes per merge and one pop: the heap never outgrows 2 * n_sym */
        if (cur->prev >= 0 && lookup_merge(tok, sy[cur->prev].id, cur->id, &rank, &new_id))
            heap_push(e->heap, &n_heap, (struct merge_item){ rank, (uint32_t)cur->prev, new_id });
        if (cur->next >= 0 && lookup_merge(tok, cur->id, sy[cur->next].id, &rank, &new_id))
            heap_push(e->heap, &n_heap, (struct merge_item){ rank, top.pos, new_id });
    }
    (void)first_out;
    for (int i = n_sym ? 0 : -1; i >= 0; i = sy[i].next)
        if (push_id(e, sy[i].id) < 0)
            return SRL_ENOMEM;
    return 0;
}

/* BPE with the word cache (words up to CACHE_MAX_WORD bytes). */
static int model_word(struct enc *e, const char *s, size_t n)
{
    struct srl_tokenizer *tok = (struct srl_tokenizer *)e->tok; /* the cache is mutable */
    uint64_t h = 0;
    size_t start = e->n;
    int rc;

    if (n <= CACHE_MAX_WORD && tok->cache) {
        h = srl_hash_bytes(s, n);
        struct srl_cache_entry *c = &tok->cache[h & (tok->cache_cap - 1)];
        pthread_mutex_lock(&tok->cache_lock);
        if (c->word && c->hash == h && c->len == n && !memcmp(c->word, s, n)) {
            for (uint32_t i = 0; i < c->n_ids; i++)
                if (push_id(e, c->ids[i]) < 0)
                    break;
            pthread_mutex_unlock(&tok->cache_lock);
            return e->oom ? SRL_ENOMEM : 0;
        }
        pthread_mutex_unlock(&tok->cache_lock);
    }
    if ((rc = bpe_word(e, s, n, start)) < 0)
        return rc;
    if (n <= CACHE_MAX_WORD && tok->cache) {
        size_t k = e->n - start;
        char *w = malloc(n + 1);
        int *ids = malloc((k ? k : 1) * sizeof *ids);
        if (!w || !ids) {
            free(w);
            free(ids);
            return 0; /* the cache is only an optimisation */
        }
        memcpy(w, s, n);
        memcpy(ids, e->ids + start, k * sizeof *ids);
        struct srl_cache_entry *c = &tok->cache[h & (tok->cache_cap - 1)];
        pthread_mutex_lock(&tok->cache_lock);
        char *old_w = c->word;
        int *old_ids = c->ids;
        *c = (struct srl_cache_entry){ h, w, (uint32_t)n, (uint32_t)k, ids };
        pthread_mutex_unlock(&tok->cache_lock);
        free(old_w);
        free(old_ids);
    }
    return 0;
}

// --- pre-tokenizers --------------------------------------------------------------------

static int pre_step(struct enc *e, int k, const char *s, size_t n, int first);

static int split_pattern(struct enc *e, int k, int pattern, const char *s, size_t n, int first)
{
    for (size_t i = 0; i < n;) {
        size_t l = srl_pretok_next((enum srl_pretok_pattern)pattern, s + i, n - i);
        int rc = pre_step(e, k + 1, s + i, l, first && i == 0);
        if (rc < 0)
            return rc;
        i += l;
    }
    return 0;
}

static int pre_step(struct enc *e, int k, const char *s, size_t n, int first)
{
    const struct srl_tokenizer *tok = e->tok;
    if (n == 0)
        return 0;
    if (k == tok->n_pre)
        return model_word(e, s, n);
    const struct srl_pre *p = &tok->pre[k];
    struct buf *b = &e->pre[k];
    switch (p->kind) {
    case PRE_SPLIT:
        return split_pattern(e, k, p->pattern, s, n, first);
    case PRE_BYTELEVEL:
        if (p->add_prefix_space && s[0] != ' ') {
            b->len = 0;
            if (buf_add(b, " ", 1) < 0 || buf_add(b, s, n) < 0)
                return SRL_ENOMEM;
            s = b->p;
            n = b->len;
        }
        if (p->pattern)
            return split_pattern(e, k, p->pattern, s, n, first);
        return pre_step(e, k + 1, s, n, first);
    case PRE_METASPACE: {
        const char *r = p->replacement;
        size_t rl = p->replacement_len;
        b->len = 0;
        /* spaces become the replacement first, then it is prepended unless already there */
        if ((p->prepend == 1 || (p->prepend == 2 && first)) && s[0] != ' ' &&
            !(n >= rl && !memcmp(s, r, rl)) && buf_add(b, r, rl) < 0)
            return SRL_ENOMEM;
        for (size_t i = 0; i < n; i++)
            if (s[i] == ' ' ? buf_add(b, r, rl) < 0 : buf_add(b, s + i, 1) < 0)
                return SRL_ENOMEM;
        if (!p->split)
            return pre_step(e, k + 1, b->p, b->len, first);
        size_t start = 0;
        for (size_t i = 1; i + rl <= b->len; i++) {
            if (memcmp(b->p + i, r, rl))
                continue;
            int rc = pre_step(e, k + 1, b->p + start, i - start, first && start == 0);
            if (rc < 0)
                return rc;
            start = i;
            i += rl - 1;
        }
        return pre_step(e, k + 1, b->p + start, b->len - start, first && start == 0);
    }
    case PRE_DIGITS: {
        size_t start = 0, i = 0;
        while (i < n) {
            uint32_t cp;
            int len = srl_utf8_decode((const unsigned char *)s + i, n - i, &cp);
            if (srl_uc_class(cp) != SRL_UC_NUMBER) {
                i += (size_t)len;
                continue;
            }
            size_t end = i + (size_t)len;
            while (!p->split && end < n) {
                int l2 = srl_utf8_decode((const unsigned char *)s + end, n - end, &cp);
                if (srl_uc_class(cp) != SRL_UC_NUMBER)
                    break;
                end += (size_t)l2;
            }
            int rc = pre_step(e, k + 1, s + start, i - start, first && start == 0);
            if (rc == 0)
                rc = pre_step(e, k + 1, s + i, end - i, first && i == 0);
            if (rc < 0)
                return rc;
            start = i = end;
        }
        return pre_step(e, k + 1, s + start, n - start, first && start == 0);
    }
    }
    return 0;
}

// --- normalizers -----------------------------------------------------------------------

static int is_ws(const char *s, size_t n, size_t i, int *len)
{
    uint32_t cp;
    *len = srl_utf8_decode((const unsigned char *)s + i, n - i, &cp);
    return srl_uc_class(cp) == SRL_UC_SPACE;
}

/* Apply one normalizer to s[0..n) into out. */
static int normalize_step(const struct srl_norm *m, const char *s, size_t n, struct buf *out)
{
    out->len = 0;
    switch (m->kind) {
    case NORM_PREPEND:
        if (n && buf_add(out, m->content, m->content_len) < 0)
            return SRL_ENOMEM;
        return buf_add(out, s, n);
    case NORM_REPLACE:
        for (size_t i = 0; i < n;) {
            if (i + m->pattern_len <= n && !memcmp(s + i, m->pattern, m->pattern_len)) {
                if (buf_add(out, m->content, m->content_len) < 0)
                    return SRL_ENOMEM;
                i += m->pattern_len;
            } else if (buf_add(out, s + i++, 1) < 0) {
                return SRL_ENOMEM;
            }
        }
        return buf_add(out, "", 0);
    case NORM_STRIP_SPACES:
        while (n && s[0] == ' ')
            s++, n--;
        while (n && s[n - 1] == ' ')
            n--;
        return buf_add(out, s, n);
    case NORM_SQUEEZE_SPACES:
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && s[j] == ' ')
                j++;
            if (j - i >= 2) {
                if (buf_add(out, m->content, m->content_len) < 0)
                    return SRL_ENOMEM;
                i = j;
            } else if (buf_add(out, s + i++, 1) < 0) {
                return SRL_ENOMEM;
            }
        }
        return buf_add(out, "", 0);
    case NORM_REPLACE_FIRST:
        if (n >= m->pattern_len && !memcmp(s, m->pattern, m->pattern_len)) {
            if (buf_add(out, m->content, m->content_len) < 0)
                return SRL_ENOMEM;
            s += m->pattern_len;
            n -= m->pattern_len;
        }
        return buf_add(out, s, n);
    case NORM_NFC: {
        char *nfc;
        size_t nfc_len;
        if (srl_utf8_nfc(s, n, &nfc, &nfc_len) < 0)
            return SRL_ENOMEM;
        int rc = buf_add(out, nfc, nfc_len);
        free(nfc);
        return rc;
    }
    case NORM_STRIP: {
        int len;
        size_t a = 0, b = n;
        while (m->left && a < b && is_ws(s, b, a, &len))
            a += (size_t)len;
        while (m->right && b > a) {
            size_t c = b - 1;
            while (c > a && ((unsigned char)s[c] & 0xC0) == 0x80)
                c--;
            if (!is_ws(s, b, c, &len))
                break;
            b = c;
        }
        return buf_add(out, s + a, b - a);
    }
    }
    return 0;
}

static int encode_segment(struct enc *e, const char *s, size_t n, int first)
{
    const struct srl_tokenizer *tok = e->tok;
    for (int i = 0; i < tok->n_norm; i++) {
        struct buf *out = &e->norm[i & 1];
        if (normalize_step(&tok->norm[i], s, n, out) < 0)
            return SRL_ENOMEM;
        s = out->p;
        n = out->len;
    }
    return pre_step(e, 0, s, n, first);
}

// --- added tokens ----------------------------------------------------------------------

static int word_char_before(const char *s, size_t i)
{
    if (i == 0)
        return 0;
    size_t c = i - 1;
    while (c > 0 && ((unsigned char)s[c] & 0xC0) == 0x80)
        c--;
    uint32_t cp;
    srl_utf8_decode((const unsigned char *)s + c, i - c, &cp);
    return srl_uc_is_word(cp);
}

static int word_char_at(const char *s, size_t n, size_t i)
{
    uint32_t cp;
    if (i >= n)
        return 0;
    srl_utf8_decode((const unsigned char *)s + i, n - i, &cp);
    return srl_uc_is_word(cp);
}

/* The longest added token matching at s[i], or NULL. */
static const struct srl_added *match_added(const struct srl_tokenizer *tok, const char *s,
                                           size_t n, size_t i)
{
    const struct srl_added *best = NULL;
    for (int k = 0; k < tok->n_added; k++) {
        const struct srl_added *a = &tok->added[k];
        if (a->len > n - i || (best && a->len <= best->len) || memcmp(s + i, a->content, a->len))
            continue;
        if (a->single_word && (word_char_before(s, i) || word_char_at(s, n, i + a->len)))
            continue;
        best = a;
    }
    return best;
}

int srl_tokenizer_encode(const struct srl_tokenizer *tok, const char *text, size_t len,
                         int add_special, int **ids)
{
    struct enc e = { .tok = tok };
    size_t seg = 0;
    int rc = 0, len_ws;

    *ids = NULL;
    if (!tok->cache) {
        struct srl_tokenizer *mt = (struct srl_tokenizer *)tok;
        pthread_mutex_lock(&mt->cache_lock);
        if (!mt->cache && (mt->cache = calloc(CACHE_SLOTS, sizeof *mt->cache)))
            mt->cache_cap = CACHE_SLOTS;
        pthread_mutex_unlock(&mt->cache_lock);
    }
    for (int i = 0; add_special && i < tok->n_prefix && rc == 0; i++)
        rc = push_id(&e, tok->prefix_ids[i]);
    for (size_t i = 0; i < len && rc == 0;) {
        const struct srl_added *a;
        if (!tok->added_first[(unsigned char)text[i]] || !(a = match_added(tok, text, len, i))) {
            i++;
            continue;
        }
        size_t start = i, end = i + a->len;
        if (a->lstrip) {
            while (start > seg) {
                size_t c = start - 1;
                while (c > seg && ((unsigned char)text[c] & 0xC0) == 0x80)
                    c--;
                if (!is_ws(text, start, c, &len_ws))
                    break;
                start = c;
            }
        }
        while (a->rstrip && end < len && is_ws(text, len, end, &len_ws))
            end += (size_t)len_ws;
        if (start > seg)
            rc = encode_segment(&e, text + seg, start - seg, seg == 0);
        if (rc == 0)
            rc = push_id(&e, a->id);
        seg = i = end;
    }
    if (rc == 0 && seg < len)
        rc = encode_segment(&e, text + seg, len - seg, seg == 0);
    for (int i = 0; add_special && i < tok->n_suffix && rc == 0; i++)
        rc = push_id(&e, tok->suffix_ids[i]);
    free(e.norm[0].p);
    free(e.norm[1].p);
    for (int i = 0; i < SRL_MAX_STEPS; i++)
        free(e.pre[i].p);
    free(e.syms);
    free(e.heap);
    if (rc < 0 || e.oom) {
        free(e.ids);
        srl_log_error("tokenizer_encode.c: out of memory encoding %zu bytes", len);
        return SRL_ENOMEM;
    }
    *ids = e.ids;
    return (int)e.n;
}

// --- decoding --------------------------------------------------------------------------

struct toks {
    struct buf *t;
    size_t n;
};

static void toks_free(struct toks *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->t[i].p);
    free(l->t);
    l->t = NULL;
    l->n = 0;
}

/* Replace every occurrence of pat by rep in b. */
static int buf_replace(struct buf *b, const char *pat, size_t pl, const char *rep, size_t rl)
{
    struct buf out = { 0 };
    for (size_t i = 0; i < b->len;) {
        if (i + pl <= b->len && !memcmp(b->p + i, pat, pl)) {
            if (buf_add(&out, rep, rl) < 0)
                goto oom;
            i += pl;
        } else if (buf_add(&out, b->p + i++, 1) < 0) {
            goto oom;
        }
    }
    if (buf_add(&out, "", 0) < 0)
        goto oom;
    free(b->p);
    *b = out;
    return 0;
oom:
    free(out.p);
    return SRL_ENOMEM;
}

static int byte_of_token(const char *s, size_t n)
{
    unsigned v = 0;
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
        return -1;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
              : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + (unsigned)d;
    }
    return (int)v;
}

static int dec_step(const struct srl_dec *d, struct toks *l)
{
    struct toks out = { calloc(l->n + 1, sizeof *out.t), 0 };
    struct buf pending = { 0 };
    int rc = 0;

    if (!out.t)
        return SRL_ENOMEM;
    switch (d->kind) {
    case DEC_BYTELEVEL:
    case DEC_FUSE: {
        struct buf all = { 0 };
        for (size_t i = 0; i < l->n && rc == 0; i++) {
            struct buf *t = &l->t[i];
            if (d->kind == DEC_FUSE) {
                rc = buf_add(&all, t->p, t->len);
                continue;
            }
            size_t mark = all.len;
            for (size_t j = 0; j < t->len && rc == 0;) {
                uint32_t cp;
                int len = srl_utf8_decode((unsigned char *)t->p + j, t->len - j, &cp);
                int b = srl_unicode_to_byte(cp);
                if (b < 0) {
                    all.len = mark;
                    rc = buf_add(&all, t->p, t->len);
                    break;
                }
                char c = (char)b;
                rc = buf_add(&all, &c, 1);
                j += (size_t)len;
            }
        }
        if (rc == 0 && buf_add(&all, "", 0) == 0) {
            char *lossy;
            int n = d->kind == DEC_BYTELEVEL ? srl_utf8_lossy(all.p, all.len, &lossy) : 0;
            if (n < 0) {
                rc = n;
            } else if (d->kind == DEC_BYTELEVEL) {
                free(all.p);
                all = (struct buf){ lossy, (size_t)n, (size_t)n + 1 };
            }
        }
        out.t[out.n++] = all;
        break;
    }
    case DEC_BYTEFALLBACK:
        for (size_t i = 0; i <= l->n && rc == 0; i++) {
            int b = i < l->n ? byte_of_token(l->t[i].p, l->t[i].len) : -1;
            if (b >= 0) {
                char c = (char)b;
                rc = buf_add(&pending, &c, 1);
                continue;
            }
            if (pending.len) {
                size_t k = 0, n_bad = 0;
                while (k < pending.len) {
                    int bad, vl = srl_utf8_valid_len((unsigned char *)pending.p + k,
                                                     pending.len - k, &bad);
                    if (!vl) {
                        n_bad = 1;
                        break;
                    }
                    k += (size_t)vl;
                }
                /* one output per byte token at most: out.t (l->n + 1 entries) has room */
                if (!n_bad) {
                    rc = buf_add(&pending, "", 0);
                    out.t[out.n++] = pending;
                    pending = (struct buf){ 0 };
                } else {
                    for (size_t j = 0; j < pending.len && rc == 0; j++) {
                        out.t[out.n] = (struct buf){ 0 };
                        rc = buf_add(&out.t[out.n++], "\xEF\xBF\xBD", 3);
                    }
                    pending.len = 0;
                }
                if (rc < 0)
                    break;
            }
            if (i < l->n) {
                out.t[out.n++] = l->t[i];
                l->t[i] = (struct buf){ 0 };
            }
        }
        break;
    case DEC_REPLACE:
    case DEC_STRIP:
    case DEC_METASPACE:
        for (size_t i = 0; i < l->n && rc == 0; i++) {
            struct buf *t = &l->t[i];
            if (d->kind == DEC_REPLACE) {
                rc = buf_replace(t, d->pattern, d->pattern_len, d->content, d->content_len);
            } else if (d->kind == DEC_METASPACE) {
                const char *rep = i == 0 && d->start ? "" : " ";
                rc = buf_replace(t, d->pattern, d->pattern_len, rep, strlen(rep));
            } else {
                size_t a = 0, b = t->len, cl = d->content_len;
                for (int k = 0; k < d->start && a + cl <= b && !memcmp(t->p + a, d->content, cl);
                     k++)
                    a += cl;
                for (int k = 0;
                     k < d->stop && b >= a + cl && !memcmp(t->p + b - cl, d->content, cl); k++)
                    b -= cl;
                memmove(t->p, t->p + a, b - a);
                t->len = b - a;
                if (t->p)
                    t->p[t->len] = '\0';
            }
            out.t[out.n++] = *t;
            *t = (struct buf){ 0 };
        }
        break;
    }
    free(pending.p);
    toks_free(l);
    *l = out;
    return rc;
}

int srl_tokenizer_decode(const struct srl_tokenizer *tok, const int *ids, size_t n,
                         int skip_special, char **text)
{
    struct toks l = { calloc(n + 1, sizeof *l.t), 0 };
    struct buf all = { 0 };
    int rc = 0;

    *text = NULL;
    if (!l.t)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= tok->n_vocab || !tok->tokens[id]) {
            srl_log_error("%s: cannot decode unknown token id %d", tok->path, id);
            toks_free(&l);
            return SRL_EINVAL;
        }
        if (skip_special && tok->special[id])
            continue;
        l.t[l.n] = (struct buf){ 0 };
        if (buf_add(&l.t[l.n++], tok->tokens[id], strlen(tok->tokens[id])) < 0)
            goto oom;
    }
    for (int i = 0; i < tok->n_dec; i++)
        if ((rc = dec_step(&tok->dec[i], &l)) < 0)
            goto oom;
    for (size_t i = 0; i < l.n; i++)
        if ((tok->n_dec == 0 && i && buf_add(&all, " ", 1) < 0) ||
            buf_add(&all, l.t[i].p, l.t[i].len) < 0)
            goto oom;
    toks_free(&l);
    rc = srl_utf8_lossy(all.p ? all.p : "", all.len, text);
    free(all.p);
    return rc;
oom:
    toks_free(&l);
    free(all.p);
    srl_log_error("tokenizer_encode.c: out of memory decoding %zu ids", n);
    return SRL_ENOMEM;
}

int srl_tokenizer_token_bytes(const struct srl_tokenizer *tok, int id, char *buf, size_t size)
{
    if (id < 0 || id >= tok->n_vocab || !tok->tokens[id]) {
        srl_log_error("%s: unknown token id %d", tok->path, id);
        return SRL_EINVAL;
    }
    const char *s = tok->raw[id];
    size_t n = tok->raw_len[id];
    char tmp[8];
    int b = tok->byte_level ? -1 : byte_of_token(s, n);
    if (b >= 0) {
        tmp[0] = (char)b;
        s = tmp;
        n = 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (!tok->byte_level && !tok->special[id] && n - i >= 3 &&
            !memcmp(s + i, "\xe2\x96\x81", 3)) {
            if (k < size)
                buf[k] = ' ';
            k++;
            i += 3;
        } else {
            if (k < size)
                buf[k] = s[i];
            k++;
            i++;
        }
    }
    return (int)k;
}
