/* tokenizer_hash.c -- open-addressing hash maps for the tokenizers. */
#include <stdlib.h>
#include <string.h>

#include "srl.h"
#include "tokenizer_internal.h"

uint64_t srl_hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

static size_t cap_for(size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    return cap;
}

int srl_strmap_init(struct srl_strmap *m, size_t expected)
{
    m->cap = cap_for(expected);
    m->n = 0;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        srl_log_error("tokenizer_hash.c: out of memory");
        return SRL_ENOMEM;
    }
    return 0;
}

void srl_strmap_free(struct srl_strmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

static int strmap_grow(struct srl_strmap *m)
{
    struct srl_strmap bigger;
    if (srl_strmap_init(&bigger, m->cap) < 0)
        return SRL_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            srl_strmap_put(&bigger, m->slots[i].key, m->slots[i].len, m->slots[i].val);
    free(m->slots);
    *m = bigger;
    return 0;
}

int srl_strmap_put(struct srl_strmap *m, const char *key, size_t len, int val)
{
    if ((m->n + 1) * 2 > m->cap && strmap_grow(m) < 0)
        return SRL_ENOMEM;
    size_t i = srl_hash_bytes(key, len) & (m->cap - 1);
    while (m->slots[i].key) {
        if (m->slots[i].len == len && !memcmp(m->slots[i].key, key, len))
            return 0;
        i = (i + 1) & (m->cap - 1);
    }
    m->slots[i].key = key;
    m->slots[i].len = (uint32_t)len;
    m->slots[i].val = val;
    m->n++;
    return 1;
}

int srl_strmap_get(const struct srl_strmap *m, const char *key, size_t len)
{
    if (!m->cap)
        return -1;
    size_t i = srl_hash_bytes(key, len) & (m->cap - 1);
    while (m->slots[i].key) {
        if (m->slots[i].len == len && !memcmp(m->slots[i].key, key, len))
            return m->slots[i].val;
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

static inline size_t hash64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

int srl_u64map_init(struct srl_u64map *m, size_t expected)
{
    m->cap = cap_for(expected);
    m->n = 0;
    m->keys = malloc(m->cap * sizeof *m->keys);
    m->vals = malloc(m->cap * sizeof *m->vals);
    if (!m->keys || !m->vals) {
        free(m->keys);
        free(m->vals);
        m->keys = m->vals = NULL;
        srl_log_error("tokenizer_hash.c: out of memory");
        return SRL_ENOMEM;
    }
    memset(m->keys, 0xff, m->cap * sizeof *m->keys);
    return 0;
}

void srl_u64map_free(struct srl_u64map *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = m->vals = NULL;
    m->cap = m->n = 0;
}

int srl_u64map_put(struct srl_u64map *m, uint64_t key, uint64_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct srl_u64map bigger;
        if (srl_u64map_init(&bigger, m->cap) < 0)
            return SRL_ENOMEM;
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i] != UINT64_MAX)
                srl_u64map_put(&bigger, m->keys[i], m->vals[i]);
        srl_u64map_free(m);
        *m = bigger;
    }
    size_t i = hash64(key) & (m->cap - 1);
    while (m->keys[i] != UINT64_MAX) {
        if (m->keys[i] == key)
            return 0;
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return 1;
}

int srl_u64map_get(const struct srl_u64map *m, uint64_t key, uint64_t *val)
{
    if (!m->cap)
        return 0;
    size_t i = hash64(key) & (m->cap - 1);
    while (m->keys[i] != UINT64_MAX) {
        if (m->keys[i] == key) {
            *val = m->vals[i];
            return 1;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return 0;
}
