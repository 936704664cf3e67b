/* tokenizer_internal.h -- the tokenizer object and helpers shared by lib/tokenizer*.c
 * (private to lib/). */
#ifndef SRL_TOKENIZER_INTERNAL_H
#define SRL_TOKENIZER_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* --- hash maps (tokenizer_hash.c) ------------------------------------------------------ */

/* Byte string -> int.  Keys are not copied: they must outlive the map. */
struct srl_strmap {
    struct srl_strmap_slot {
        const char *key;
        uint32_t len;
        int val;
    } *slots;
    size_t cap, n;
};
int srl_strmap_init(struct srl_strmap *m, size_t expected);
void srl_strmap_free(struct srl_strmap *m);
/* Insert or keep: returns 1 when added, 0 when the key was present (value unchanged),
 * SRL_ENOMEM. */
int srl_strmap_put(struct srl_strmap *m, const char *key, size_t len, int val);
int srl_strmap_get(const struct srl_strmap *m, const char *key, size_t len); /* -1 absent */

/* uint64 -> uint64 (keys other than UINT64_MAX). */
struct srl_u64map {
    uint64_t *keys, *vals;
    size_t cap, n;
};
int srl_u64map_init(struct srl_u64map *m, size_t expected);
void srl_u64map_free(struct srl_u64map *m);
int srl_u64map_put(struct srl_u64map *m, uint64_t key, uint64_t val); /* 1 added, 0 present */
int srl_u64map_get(const struct srl_u64map *m, uint64_t key, uint64_t *val); /* 1 found */

uint64_t srl_hash_bytes(const char *s, size_t n);

/* --- the tokenizer ------------------------------------------------------------------- */

enum srl_norm_kind {
    NORM_PREPEND,
    NORM_REPLACE,       /* literal pattern */
    NORM_STRIP_SPACES,  /* Replace Regex "\A +| +\z" -> "" */
    NORM_SQUEEZE_SPACES, /* Replace Regex " {2,}" -> content */
    NORM_REPLACE_FIRST, /* Replace Regex "\Apattern" -> content */
    NORM_STRIP,         /* Strip whitespace (left, right) */
    NORM_NFC,           /* Unicode NFC */
};
struct srl_norm {
    enum srl_norm_kind kind;
    char *pattern, *content;
    size_t pattern_len, content_len;
    int left, right;
};

enum srl_pre_kind {
    PRE_SPLIT,     /* Split with a known regex, Isolated */
    PRE_BYTELEVEL, /* ByteLevel: optional prefix space and GPT-2 regex */
    PRE_METASPACE, /* Metaspace */
    PRE_DIGITS,    /* Digits (individual_digits) */
};
struct srl_pre {
    enum srl_pre_kind kind;
    int pattern;          /* enum srl_pretok_pattern for SPLIT / BYTELEVEL with use_regex */
    int add_prefix_space; /* ByteLevel */
    char *replacement;    /* Metaspace */
    size_t replacement_len;
    int prepend;          /* Metaspace: 0 never, 1 always, 2 first */
    int split;            /* Metaspace split, Digits individual */
};

enum srl_dec_kind { DEC_BYTELEVEL, DEC_REPLACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP,
                    DEC_METASPACE };
struct srl_dec {
    enum srl_dec_kind kind;
    char *pattern, *content; /* Replace; Metaspace replacement in pattern; Strip char in content */
    size_t pattern_len, content_len;
    int start, stop;         /* Strip; Metaspace prepend in start */
};

struct srl_added {
    char *content;
    size_t len;
    int id;
    int special, lstrip, rstrip, single_word, normalized;
};

#define SRL_MAX_STEPS 16

struct srl_tokenizer {
    char *path;               /* the tokenizer.json read, for messages */
    int n_vocab;              /* highest id + 1 */
    char **tokens;            /* id -> string as in tokenizer.json (NULL for a hole) */
    char **raw;               /* id -> bytes the model matches (byte-level decoded) */
    uint32_t *raw_len;
    unsigned char *special;   /* id -> is a special added token */
    struct srl_strmap vocab;  /* model vocabulary, raw bytes -> id */
    struct srl_strmap strs;   /* token string -> id, added tokens included */
    struct srl_u64map merges; /* (left << 32 | right) -> (rank << 32 | result) */
    int n_merges, n_model_vocab;
    int byte_level, byte_fallback, fuse_unk, ignore_merges;
    int unk_id, bos_id, eos_id, pad_id;
    int byte_id[256];         /* byte-level: id of each byte; byte fallback: <0xNN> ids */
    struct srl_added *added;
    int n_added;
    unsigned char added_first[256]; /* some added token starts with this byte */
    struct srl_norm norm[SRL_MAX_STEPS];
    int n_norm;
    struct srl_pre pre[SRL_MAX_STEPS];
    int n_pre;
    struct srl_dec dec[SRL_MAX_STEPS];
    int n_dec;
    int *prefix_ids, *suffix_ids; /* post-processor around a single sequence */
    int n_prefix, n_suffix;
    /* word -> ids cache, filled by encode */
    pthread_mutex_t cache_lock;
    struct srl_cache_entry {
        uint64_t hash;
        char *word;
        uint32_t len, n_ids;
        int *ids;
    } *cache;
    size_t cache_cap;
};

/* Parse a tokenizer.json document (already read) into tok; path names it in messages. */
int srl_tokenizer_parse(struct srl_tokenizer *tok, const char *json, size_t len,
                        const char *path);

/* Write tokenizer.json and tokenizer_config.json for a BPE model (tokenizer_convert.c).
 * vocab[i] are tokenizer.json strings for ids 0..n_vocab-1; merges are pairs of strings. */
struct srl_tok_spec {
    const char *const *vocab;
    int n_vocab;
    const char *const *merge_left, *const *merge_right;
    int n_merges;
    int kind;                 /* 0 byte-level (GPT-2 regex), 1 SentencePiece-style */
    int strip_spaces;         /* SentencePiece remove_extra_whitespaces */
    const int *special_ids;   /* added special tokens */
    int n_special;
    int unk_id, bos_id, eos_id, pad_id, add_bos, add_eos;
    const char *tokenizer_class;
};
int srl_tokenizer_write(const struct srl_tok_spec *spec, const char *out_dir);

#endif
