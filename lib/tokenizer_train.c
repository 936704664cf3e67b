/* tokenizer_train.c -- byte-level BPE training, step for step as HF tokenizers' BpeTrainer
 * (tokenizers/src/models/bpe/trainer.rs): words from the GPT-2 pattern, special tokens first,
 * the 256-byte alphabet in code point order, then the most frequent pair merged until the
 * vocabulary is full, ties going to the smallest (left id, right id) pair.  Queue entries carry
 * the words to update, stale counts are refreshed lazily, and a pair merged twice keeps its
 * last rank, so the merges written are the ones HF writes for the same corpus. */
#include <stdlib.h>
#include <string.h>

#include "pretokenize.h"
#include "srl.h"
#include "tokenizer_internal.h"
#include "unicode.h"

struct ivec {
    int *v;
    size_t n, cap;
};

static int ivec_push(struct ivec *a, int x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        int *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return SRL_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

struct pair_info {
    uint64_t pair;
    int64_t count;
    struct ivec pending; /* where_to_update */
    int stamp;           /* last word added to pending (set semantics) */
    int dirty;
};

struct qentry {
    int64_t count;
    uint64_t pair;
    struct ivec pos;
};

struct trainer {
    struct srl_u64map pair_index; /* pair -> index into pairs */
    struct pair_info *pairs;
    size_t n_pairs, pairs_cap;
    size_t *dirty;
    size_t n_dirty, dirty_cap;
    struct qentry *heap;
    size_t n_heap, heap_cap;
};

static int q_before(const struct qentry *a, const struct qentry *b)
{
    return a->count > b->count || (a->count == b->count && a->pair < b->pair);
}

static int q_push(struct trainer *t, struct qentry e)
{
    if (t->n_heap == t->heap_cap) {
        size_t cap = t->heap_cap ? t->heap_cap * 2 : 1024;
        struct qentry *h = realloc(t->heap, cap * sizeof *h);
        if (!h)
            return SRL_ENOMEM;
        t->heap = h;
        t->heap_cap = cap;
    }
    size_t i = t->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!q_before(&e, &t->heap[p]))
            break;
        t->heap[i] = t->heap[p];
        i = p;
    }
    t->heap[i] = e;
    return 0;
}

static struct qentry q_pop(struct trainer *t)
{
    struct qentry top = t->heap[0], last = t->heap[--t->n_heap];
    size_t i = 0, n = t->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && q_before(&t->heap[c + 1], &t->heap[c]))
            c++;
        if (!q_before(&t->heap[c], &last))
            break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (n)
        t->heap[i] = last;
    return top;
}

static struct pair_info *pair_get(struct trainer *t, uint64_t pair)
{
    uint64_t idx;
    if (srl_u64map_get(&t->pair_index, pair, &idx))
        return &t->pairs[idx];
    if (t->n_pairs == t->pairs_cap) {
        size_t cap = t->pairs_cap ? t->pairs_cap * 2 : 4096;
        struct pair_info *p = realloc(t->pairs, cap * sizeof *p);
        if (!p)
            return NULL;
        t->pairs = p;
        t->pairs_cap = cap;
    }
    if (srl_u64map_put(&t->pair_index, pair, t->n_pairs) < 0)
        return NULL;
    struct pair_info *p = &t->pairs[t->n_pairs++];
    memset(p, 0, sizeof *p);
    p->pair = pair;
    p->stamp = -1;
    return p;
}

/* pair_counts[pair] += delta; if add_word, where_to_update[pair].insert(word). */
static int pair_change(struct trainer *t, int a, int b, int64_t delta, int word, int add_word)
{
    struct pair_info *p = pair_get(t, (uint64_t)(uint32_t)a << 32 | (uint32_t)b);
    if (!p)
        return SRL_ENOMEM;
    p->count += delta;
    if (add_word && p->stamp != word) {
        p->stamp = word;
        if (ivec_push(&p->pending, word) < 0)
            return SRL_ENOMEM;
        if (!p->dirty) {
            if (t->n_dirty == t->dirty_cap) {
                size_t cap = t->dirty_cap ? t->dirty_cap * 2 : 1024;
                size_t *d = realloc(t->dirty, cap * sizeof *d);
                if (!d)
                    return SRL_ENOMEM;
                t->dirty = d;
                t->dirty_cap = cap;
            }
            t->dirty[t->n_dirty++] = (size_t)(p - t->pairs);
            p->dirty = 1;
        }
    }
    return 0;
}

/* Move every where_to_update set into the queue (those with a positive count). */
static int drain(struct trainer *t)
{
    for (size_t i = 0; i < t->n_dirty; i++) {
        struct pair_info *p = &t->pairs[t->dirty[i]];
        struct qentry e = { p->count, p->pair, p->pending };
        p->pending = (struct ivec){ 0 };
        p->stamp = -1;
        p->dirty = 0;
        if (e.count > 0) {
            if (q_push(t, e) < 0) {
                free(e.pos.v);
                return SRL_ENOMEM;
            }
        } else {
            free(e.pos.v);
        }
    }
    t->n_dirty = 0;
    return 0;
}

struct word {
    int *s;
    int n;
    int64_t count;
};

/* Word::merge: replace each (a, b) by c, left to right, reporting the pair count changes. */
static int word_merge(struct trainer *t, struct word *w, int widx, int a, int b, int c)
{
    int *s = w->s;
    for (int i = 0; i < w->n; i++) {
        if (s[i] != a || i + 1 >= w->n || s[i + 1] != b)
            continue;
        if (i > 0 && (pair_change(t, s[i - 1], a, -w->count, widx, 0) < 0 ||
                      pair_change(t, s[i - 1], c, w->count, widx, 1) < 0))
            return SRL_ENOMEM;
        s[i] = c;
        memmove(s + i + 1, s + i + 2, (size_t)(w->n - i - 2) * sizeof *s);
        w->n--;
        if (i < w->n - 1 && (pair_change(t, b, s[i + 1], -w->count, widx, 0) < 0 ||
                             pair_change(t, c, s[i + 1], w->count, widx, 1) < 0))
            return SRL_ENOMEM;
    }
    return 0;
}

/* A token's bytes in the byte-level alphabet ("Ġthe"). */
static char *byte_level_string(const char *s, size_t n)
{
    char *out = malloc(n * 2 + 1);
    size_t k = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        k += (size_t)srl_utf8_encode(srl_byte_to_unicode((unsigned char)s[i]), out + k);
    out[k] = '\0';
    return out;
}

static int byte_cp_cmp(const void *a, const void *b)
{
    uint32_t x = srl_byte_to_unicode(*(const unsigned char *)a);
    uint32_t y = srl_byte_to_unicode(*(const unsigned char *)b);
    return (x > y) - (x < y);
}

struct vocab {
    char **tok; /* raw bytes */
    uint32_t *len;
    int n, cap;
    struct srl_strmap map;
};

static int vocab_add(struct vocab *v, const char *s, size_t n)
{
    int id = srl_strmap_get(&v->map, s, n);
    if (id >= 0)
        return id;
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 1024;
        char **t = realloc(v->tok, (size_t)cap * sizeof *t);
        if (t)
            v->tok = t;
        uint32_t *l = realloc(v->len, (size_t)cap * sizeof *l);
        if (l)
            v->len = l;
        if (!t || !l)
            return SRL_ENOMEM;
        v->cap = cap;
    }
    char *d = malloc(n + 1);
    if (!d)
        return SRL_ENOMEM;
    memcpy(d, s, n);
    d[n] = '\0';
    v->tok[v->n] = d;
    v->len[v->n] = (uint32_t)n;
    if (srl_strmap_put(&v->map, d, n, v->n) < 0) {
        free(d);
        return SRL_ENOMEM;
    }
    return v->n++;
}

static int count_words(const char *const *texts, size_t n_texts, struct vocab *wv,
                       struct word **words_out)
{
    struct word *words = NULL;
    size_t cap = 0;
    for (size_t t = 0; t < n_texts; t++) {
        const char *s = texts[t];
        size_t n = strlen(s);
        for (size_t i = 0; i < n;) {
            size_t l = srl_pretok_next(SRL_PRETOK_GPT2, s + i, n - i);
            int id = vocab_add(wv, s + i, l);
            if (id < 0)
                goto oom;
            if ((size_t)id >= cap) {
                size_t nc = cap ? cap * 2 : 1024;
                struct word *w = realloc(words, nc * sizeof *w);
                if (!w)
                    goto oom;
                memset(w + cap, 0, (nc - cap) * sizeof *w);
                words = w;
                cap = nc;
            }
            words[id].count++;
            i += l;
        }
    }
    *words_out = words;
    return 0;
oom:
    free(words);
    return SRL_ENOMEM;
}

int srl_tokenizer_train_bpe(const char *const *texts, size_t n_texts, int vocab_size,
                            const char *const *specials, size_t n_specials, const char *out_dir)
{
    struct vocab v = { 0 }, wv = { 0 };
    struct word *words = NULL;
    struct trainer t = { 0 };
    struct { uint64_t pair; int id; } *merges = NULL;
    size_t n_merges = 0, merges_cap = 0;
    char **strs = NULL, **ml = NULL, **mr = NULL;
    int *special_ids = NULL, rc = SRL_ENOMEM, n_out = 0;
    unsigned char alphabet[256];

    if (vocab_size <= 0 || vocab_size > (1 << 24) || (n_texts && !texts)) {
        srl_log_error("tokenizer_train.c: invalid vocabulary size %d", vocab_size);
        return SRL_EINVAL;
    }
    if (srl_strmap_init(&v.map, (size_t)vocab_size) < 0 || srl_strmap_init(&wv.map, 1024) < 0 ||
        srl_u64map_init(&t.pair_index, 4096) < 0)
        goto out;
    /* 1. special tokens, 2. the alphabet in code point order */
    special_ids = calloc(n_specials + 1, sizeof *special_ids);
    if (!special_ids)
        goto out;
    for (size_t i = 0; i < n_specials; i++)
        if ((special_ids[i] = vocab_add(&v, specials[i], strlen(specials[i]))) < 0)
            goto out;
    for (int b = 0; b < 256; b++)
        alphabet[b] = (unsigned char)b;
    qsort(alphabet, 256, 1, byte_cp_cmp);
    int byte_id[256];
    for (int i = 0; i < 256; i++) {
        char c = (char)alphabet[i];
        if ((byte_id[alphabet[i]] = vocab_add(&v, &c, 1)) < 0)
            goto out;
    }
    /* 3. words as symbol ids, 4. pair counts */
    if (count_words(texts, n_texts, &wv, &words) < 0)
        goto out;
    for (int w = 0; w < wv.n; w++) {
        words[w].s = malloc((wv.len[w] + 1) * sizeof *words[w].s);
        if (!words[w].s)
            goto out;
        words[w].n = (int)wv.len[w];
        for (uint32_t i = 0; i < wv.len[w]; i++)
            words[w].s[i] = byte_id[(unsigned char)wv.tok[w][i]];
        for (int i = 0; i + 1 < words[w].n; i++)
            if (pair_change(&t, words[w].s[i], words[w].s[i + 1], words[w].count, w, 1) < 0)
                goto out;
    }
    if (drain(&t) < 0)
        goto out;
    /* 5. merges */
    while (v.n < vocab_size && t.n_heap) {
        struct qentry top = q_pop(&t);
        struct pair_info *p = pair_get(&t, top.pair);
        if (!p) {
            free(top.pos.v);
            goto out;
        }
        if (top.count != p->count) {
            top.count = p->count;
            if (q_push(&t, top) < 0) {
                free(top.pos.v);
                goto out;
            }
            continue;
        }
        if (top.count < 1) {
            free(top.pos.v);
            break;
        }
        int a = (int)(top.pair >> 32), b = (int)(uint32_t)top.pair;
        char *cat = malloc(v.len[a] + v.len[b] + 1);
        int id = -1;
        if (cat) {
            memcpy(cat, v.tok[a], v.len[a]);
            memcpy(cat + v.len[a], v.tok[b], v.len[b]);
            id = vocab_add(&v, cat, v.len[a] + v.len[b]);
            free(cat);
        }
        if (id >= 0 && n_merges == merges_cap) {
            merges_cap = merges_cap ? merges_cap * 2 : 1024;
            void *m = realloc(merges, merges_cap * sizeof *merges);
            if (!m)
                id = -1;
            else
                merges = m;
        }
        if (id < 0) {
            free(top.pos.v);
            goto out;
        }
        merges[n_merges].pair = top.pair;
        merges[n_merges++].id = id;
        for (size_t k = 0; k < top.pos.n; k++) {
            if (word_merge(&t, &words[top.pos.v[k]], top.pos.v[k], a, b, id) < 0) {
                free(top.pos.v);
                goto out;
            }
        }
        free(top.pos.v);
        if (drain(&t) < 0)
            goto out;
    }
    /* a pair merged twice keeps its last rank, as HF's merge map does */
    strs = calloc((size_t)v.n, sizeof *strs);
    ml = calloc(n_merges + 1, sizeof *ml);
    mr = calloc(n_merges + 1, sizeof *mr);
    if (!strs || !ml || !mr)
        goto out;
    for (int i = 0; i < v.n; i++) {
        strs[i] = i < (int)n_specials ? strdup(v.tok[i]) : byte_level_string(v.tok[i], v.len[i]);
        if (!strs[i])
            goto out;
    }
    struct srl_u64map last = { 0 };
    if (srl_u64map_init(&last, n_merges) < 0)
        goto out;
    for (size_t i = n_merges; i-- > 0;)
        srl_u64map_put(&last, merges[i].pair, i);
    for (size_t i = 0; i < n_merges; i++) {
        uint64_t at;
        srl_u64map_get(&last, merges[i].pair, &at);
        if (at != i)
            continue;
        ml[n_out] = strs[merges[i].pair >> 32];
        mr[n_out++] = strs[(uint32_t)merges[i].pair];
    }
    srl_u64map_free(&last);
    int pad = -1; /* a special token spelled <pad> is the padding token */
    for (size_t i = 0; i < n_specials; i++)
        if (strcmp(specials[i], "<pad>") == 0)
            pad = (int)i;
    struct srl_tok_spec spec = {
        .vocab = (const char *const *)strs, .n_vocab = v.n,
        .merge_left = (const char *const *)ml, .merge_right = (const char *const *)mr,
        .n_merges = n_out, .kind = 0, .special_ids = special_ids, .n_special = (int)n_specials,
        .unk_id = -1, .bos_id = n_specials ? 0 : -1, .eos_id = n_specials ? 0 : -1,
        .pad_id = pad, .tokenizer_class = "PreTrainedTokenizerFast",
    };
    rc = srl_tokenizer_write(&spec, out_dir);
out:
    if (rc == SRL_ENOMEM)
        srl_log_error("tokenizer_train.c: out of memory training BPE");
    for (int i = 0; strs && i < v.n; i++)
        free(strs[i]);
    free(strs);
    free(ml);
    free(mr);
    free(merges);
    free(special_ids);
    for (int w = 0; words && w < wv.n; w++)
        free(words[w].s);
    free(words);
    for (size_t i = 0; i < t.n_pairs; i++)
        free(t.pairs[i].pending.v);
    free(t.pairs);
    free(t.dirty);
    for (size_t i = 0; i < t.n_heap; i++)
        free(t.heap[i].pos.v);
    free(t.heap);
    srl_u64map_free(&t.pair_index);
    for (int i = 0; i < v.n; i++)
        free(v.tok[i]);
    free(v.tok);
    free(v.len);
    srl_strmap_free(&v.map);
    for (int i = 0; i < wv.n; i++)
        free(wv.tok[i]);
    free(wv.tok);
    free(wv.len);
    srl_strmap_free(&wv.map);
    return rc;
}
