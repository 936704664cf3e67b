/* tokenizer.c -- loading tokenizer.json (+ tokenizer_config.json) into a tokenizer, the
 * accessors and the summary.  Encoding and decoding live in tokenizer_encode.c. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "pretokenize.h"
#include "srl.h"
#include "tokenizer_internal.h"
#include "unicode.h"

#define FAIL(code, ...)                                                                      \
    do {                                                                                     \
        srl_log_error(__VA_ARGS__);                                                          \
        return (code);                                                                       \
    } while (0)

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static const char *jstr(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jbool(json_t *obj, const char *key, int dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* A Replace/Split pattern: {"String": s} or {"Regex": s}; *regex says which. */
static const char *pattern_of(json_t *obj, int *regex)
{
    json_t *p = json_object_get(obj, "pattern");
    const char *s;
    if ((s = jstr(p, "String"))) {
        *regex = 0;
        return s;
    }
    *regex = 1;
    return jstr(p, "Regex");
}

// --- normalizers -----------------------------------------------------------------------

static int parse_normalizer(struct srl_tokenizer *tok, json_t *n, const char *path)
{
    const char *type = jstr(n, "type");
    if (json_is_null(n) || !n)
        return 0;
    if (!type)
        FAIL(SRL_EFORMAT, "%s: normalizer without a type", path);
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "normalizers"), *v;
        size_t i;
        json_array_foreach(arr, i, v) {
            int rc = parse_normalizer(tok, v, path);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    if (tok->n_norm == SRL_MAX_STEPS)
        FAIL(SRL_EUNSUPPORTED, "%s: more than %d normalizers", path, SRL_MAX_STEPS);
    struct srl_norm *s = &tok->norm[tok->n_norm];
    memset(s, 0, sizeof *s);
    if (!strcmp(type, "Prepend")) {
        const char *p = jstr(n, "prepend");
        if (!p)
            FAIL(SRL_EFORMAT, "%s: Prepend normalizer without 'prepend'", path);
        s->kind = NORM_PREPEND;
        s->content = strdup(p);
        s->content_len = strlen(p);
    } else if (!strcmp(type, "Replace")) {
        int regex;
        const char *p = pattern_of(n, &regex), *c = jstr(n, "content");
        if (!p || !c)
            FAIL(SRL_EFORMAT, "%s: Replace normalizer without pattern or content", path);
        s->kind = NORM_REPLACE;
        if (regex) {
            if (!strcmp(p, "\\A +| +\\z") && !*c) {
                s->kind = NORM_STRIP_SPACES;
            } else if (!strcmp(p, " {2,}")) {
                s->kind = NORM_SQUEEZE_SPACES;
            } else if (!strncmp(p, "\\A", 2) && p[2] && !strpbrk(p + 2, "\\.*+?()[]{}|^$")) {
                s->kind = NORM_REPLACE_FIRST;
                p += 2;
            } else {
                FAIL(SRL_EUNSUPPORTED, "%s: unsupported Replace normalizer regex '%s'", path, p);
            }
        }
        if (!*p)
            FAIL(SRL_EFORMAT, "%s: Replace normalizer with an empty pattern", path);
        s->pattern = strdup(p);
        s->pattern_len = strlen(p);
        s->content = strdup(c);
        s->content_len = strlen(c);
    } else if (!strcmp(type, "NFC")) {
        s->kind = NORM_NFC;
    } else if (!strcmp(type, "Strip")) {
        s->kind = NORM_STRIP;
        s->left = jbool(n, "strip_left", 1);
        s->right = jbool(n, "strip_right", 1);
    } else {
        FAIL(SRL_EUNSUPPORTED, "%s: unsupported normalizer '%s'", path, type);
    }
    if ((s->kind != NORM_STRIP && s->kind != NORM_NFC && !s->content) ||
        (s->pattern_len && !s->pattern))
        FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
    tok->n_norm++;
    return 0;
}

// --- pre-tokenizers --------------------------------------------------------------------

static int prepend_scheme(json_t *n)
{
    const char *p = jstr(n, "prepend_scheme");
    if (p)
        return !strcmp(p, "never") ? 0 : !strcmp(p, "first") ? 2 : 1;
    return jbool(n, "add_prefix_space", 1);
}

static int parse_pre(struct srl_tokenizer *tok, json_t *n, const char *path)
{
    const char *type = jstr(n, "type");
    if (json_is_null(n) || !n)
        return 0;
    if (!type)
        FAIL(SRL_EFORMAT, "%s: pre_tokenizer without a type", path);
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "pretokenizers"), *v;
        size_t i;
        json_array_foreach(arr, i, v) {
            int rc = parse_pre(tok, v, path);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    if (tok->n_pre == SRL_MAX_STEPS)
        FAIL(SRL_EUNSUPPORTED, "%s: more than %d pre-tokenizers", path, SRL_MAX_STEPS);
    struct srl_pre *s = &tok->pre[tok->n_pre];
    memset(s, 0, sizeof *s);
    if (!strcmp(type, "ByteLevel")) {
        s->kind = PRE_BYTELEVEL;
        s->add_prefix_space = jbool(n, "add_prefix_space", 1);
        s->pattern = jbool(n, "use_regex", 1) ? SRL_PRETOK_GPT2 : 0;
        tok->byte_level = 1;
    } else if (!strcmp(type, "Split")) {
        int regex;
        const char *p = pattern_of(n, &regex), *behavior = jstr(n, "behavior");
        s->kind = PRE_SPLIT;
        if (!p || !regex || !(s->pattern = srl_pretok_pattern_of(p)))
            FAIL(SRL_EUNSUPPORTED, "%s: unsupported Split pre-tokenizer pattern '%s'", path,
                 p ? p : "(none)");
        if (!behavior || strcmp(behavior, "Isolated") || jbool(n, "invert", 0))
            FAIL(SRL_EUNSUPPORTED, "%s: unsupported Split pre-tokenizer behavior '%s'", path,
                 behavior ? behavior : "(none)");
    } else if (!strcmp(type, "Metaspace")) {
        const char *r = jstr(n, "replacement");
        s->kind = PRE_METASPACE;
        s->replacement = strdup(r ? r : "\xe2\x96\x81");
        if (!s->replacement)
            FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
        s->replacement_len = strlen(s->replacement);
        if (!s->replacement_len)
            FAIL(SRL_EFORMAT, "%s: Metaspace pre-tokenizer with an empty replacement", path);
        s->prepend = prepend_scheme(n);
        s->split = jbool(n, "split", 1);
    } else if (!strcmp(type, "Digits")) {
        s->kind = PRE_DIGITS;
        s->split = jbool(n, "individual_digits", 0);
    } else {
        FAIL(SRL_EUNSUPPORTED, "%s: unsupported pre_tokenizer '%s'", path, type);
    }
    tok->n_pre++;
    return 0;
}

// --- decoders --------------------------------------------------------------------------

static int parse_dec(struct srl_tokenizer *tok, json_t *n, const char *path)
{
    const char *type = jstr(n, "type");
    if (json_is_null(n) || !n)
        return 0;
    if (!type)
        FAIL(SRL_EFORMAT, "%s: decoder without a type", path);
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "decoders"), *v;
        size_t i;
        json_array_foreach(arr, i, v) {
            int rc = parse_dec(tok, v, path);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    if (tok->n_dec == SRL_MAX_STEPS)
        FAIL(SRL_EUNSUPPORTED, "%s: more than %d decoders", path, SRL_MAX_STEPS);
    struct srl_dec *s = &tok->dec[tok->n_dec];
    memset(s, 0, sizeof *s);
    if (!strcmp(type, "ByteLevel")) {
        s->kind = DEC_BYTELEVEL;
    } else if (!strcmp(type, "ByteFallback")) {
        s->kind = DEC_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        s->kind = DEC_FUSE;
    } else if (!strcmp(type, "Replace")) {
        int regex;
        const char *p = pattern_of(n, &regex), *c = jstr(n, "content");
        if (!p || regex || !*p || !c)
            FAIL(SRL_EUNSUPPORTED, "%s: unsupported Replace decoder (regex or no pattern)", path);
        s->kind = DEC_REPLACE;
        s->pattern = strdup(p);
        s->content = strdup(c);
        if (!s->pattern || !s->content)
            FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
        s->pattern_len = strlen(p);
        s->content_len = strlen(c);
    } else if (!strcmp(type, "Strip")) {
        const char *c = jstr(n, "content");
        json_t *a = json_object_get(n, "start"), *b = json_object_get(n, "stop");
        s->kind = DEC_STRIP;
        s->content = strdup(c ? c : " ");
        if (!s->content)
            FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
        s->content_len = strlen(s->content);
        s->start = json_is_integer(a) ? (int)json_integer_value(a) : 0;
        s->stop = json_is_integer(b) ? (int)json_integer_value(b) : 0;
    } else if (!strcmp(type, "Metaspace")) {
        const char *r = jstr(n, "replacement");
        s->kind = DEC_METASPACE;
        s->pattern = strdup(r ? r : "\xe2\x96\x81");
        if (!s->pattern)
            FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
        s->pattern_len = strlen(s->pattern);
        if (!s->pattern_len)
            FAIL(SRL_EFORMAT, "%s: Metaspace decoder with an empty replacement", path);
        s->start = prepend_scheme(n);
    } else {
        FAIL(SRL_EUNSUPPORTED, "%s: unsupported decoder '%s'", path, type);
    }
    tok->n_dec++;
    return 0;
}

// --- post-processors -------------------------------------------------------------------

static int push_ids(const struct srl_tokenizer *tok, int **arr, int *n, json_t *ids,
                    const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= tok->n_vocab || !tok->tokens[json_integer_value(v)])
            FAIL(SRL_EFORMAT, "%s: post_processor special token id is not in the vocabulary",
                 path);
        int *a = realloc(*arr, (size_t)(*n + 1) * sizeof *a);
        if (!a)
            FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
        a[(*n)++] = (int)json_integer_value(v);
        *arr = a;
    }
    return 0;
}

static int parse_post(struct srl_tokenizer *tok, json_t *n, const char *path)
{
    const char *type = jstr(n, "type");
    if (json_is_null(n) || !n)
        return 0;
    if (!type)
        FAIL(SRL_EFORMAT, "%s: post_processor without a type", path);
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "processors"), *v;
        size_t i;
        json_array_foreach(arr, i, v) {
            int rc = parse_post(tok, v, path);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    if (!strcmp(type, "ByteLevel"))
        return 0;
    if (!strcmp(type, "TemplateProcessing")) {
        json_t *single = json_object_get(n, "single");
        json_t *specials = json_object_get(n, "special_tokens");
        json_t *item;
        size_t i;
        int seen_seq = 0;
        json_array_foreach(single, i, item) {
            json_t *sp = json_object_get(item, "SpecialToken");
            if (json_object_get(item, "Sequence")) {
                seen_seq = 1;
                continue;
            }
            const char *key = jstr(sp, "id");
            json_t *st = key ? json_object_get(specials, key) : NULL;
            if (!st)
                FAIL(SRL_EFORMAT, "%s: TemplateProcessing special token '%s' undefined", path,
                     key ? key : "(none)");
            int rc = seen_seq ? push_ids(tok, &tok->suffix_ids, &tok->n_suffix,
                                         json_object_get(st, "ids"), path)
                              : push_ids(tok, &tok->prefix_ids, &tok->n_prefix,
                                         json_object_get(st, "ids"), path);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        json_t *cls = json_object_get(n, "cls"), *sep = json_object_get(n, "sep");
        json_t *a = json_array(), *b = json_array();
        json_array_append(a, json_array_get(cls, 1));
        json_array_append(b, json_array_get(sep, 1));
        int rc = push_ids(tok, &tok->prefix_ids, &tok->n_prefix, a, path);
        if (rc == 0)
            rc = push_ids(tok, &tok->suffix_ids, &tok->n_suffix, b, path);
        json_decref(a);
        json_decref(b);
        return rc;
    }
    FAIL(SRL_EUNSUPPORTED, "%s: unsupported post_processor '%s'", path, type);
}

// --- model -----------------------------------------------------------------------------

static int set_token(struct srl_tokenizer *tok, int id, const char *s, const char *path)
{
    if (id < 0 || id >= tok->n_vocab)
        FAIL(SRL_EFORMAT, "%s: token id %d out of range", path, id);
    if (tok->tokens[id])
        return 0; /* an added token repeating a vocabulary entry */
    if (!(tok->tokens[id] = strdup(s)))
        FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
    return 0;
}

/* The bytes a byte-level token string stands for (the string itself when some character is
 * outside the byte alphabet, as HF's ByteLevel decoder does). */
static char *byte_decode(const char *s, uint32_t *len)
{
    size_t n = strlen(s), k = 0;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = srl_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        int b = srl_unicode_to_byte(cp);
        if (b < 0) {
            memcpy(out, s, n);
            k = n;
            break;
        }
        out[k++] = (char)b;
        i += (size_t)l;
    }
    out[k] = '\0';
    *len = (uint32_t)k;
    return out;
}

static int parse_merge(json_t *m, const char **a, const char **b, char *buf, size_t size)
{
    if (json_is_array(m) && json_array_size(m) == 2) {
        *a = json_string_value(json_array_get(m, 0));
        *b = json_string_value(json_array_get(m, 1));
        return *a && *b ? 0 : -1;
    }
    const char *s = json_string_value(m), *sp;
    if (!s || !(sp = strchr(s, ' ')) || strchr(sp + 1, ' ') || (size_t)(sp - s) >= size)
        return -1;
    memcpy(buf, s, (size_t)(sp - s));
    buf[sp - s] = '\0';
    *a = buf;
    *b = sp + 1;
    return 0;
}

static int parse_model(struct srl_tokenizer *tok, json_t *model, json_t *added, const char *path)
{
    const char *type = jstr(model, "type"), *key, *unk;
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    json_t *v;
    size_t i;
    int max_id = -1, rc;

    if (!type && json_is_array(merges))
        type = "BPE";
    if (!type || strcmp(type, "BPE"))
        FAIL(SRL_EUNSUPPORTED, "%s: unsupported model type '%s' (only BPE is)", path,
             type ? type : "(none)");
    if (!json_is_object(vocab) || !json_is_array(merges))
        FAIL(SRL_EFORMAT, "%s: BPE model without vocab object and merges array", path);
    const char *pre = jstr(model, "continuing_subword_prefix");
    const char *suf = jstr(model, "end_of_word_suffix");
    json_t *dropout = json_object_get(model, "dropout");
    if ((pre && *pre) || (suf && *suf) ||
        (json_is_number(dropout) && json_number_value(dropout) > 0))
        FAIL(SRL_EUNSUPPORTED, "%s: unsupported BPE option (subword prefix, suffix or dropout)",
             path);
    json_object_foreach(vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1 << 24)
            FAIL(SRL_EFORMAT, "%s: vocab entry '%s' has no valid id", path, key);
        if (json_integer_value(v) > max_id)
            max_id = (int)json_integer_value(v);
    }
    json_array_foreach(added, i, v) {
        json_t *id = json_object_get(v, "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || !jstr(v, "content") ||
            json_integer_value(id) > 1 << 24)
            FAIL(SRL_EFORMAT, "%s: added token %zu without id or content", path, i);
        if (json_integer_value(id) > max_id)
            max_id = (int)json_integer_value(id);
    }
    tok->n_vocab = max_id + 1;
    tok->n_model_vocab = (int)json_object_size(vocab);
    tok->tokens = calloc((size_t)tok->n_vocab + 1, sizeof *tok->tokens);
    tok->raw = calloc((size_t)tok->n_vocab + 1, sizeof *tok->raw);
    tok->raw_len = calloc((size_t)tok->n_vocab + 1, sizeof *tok->raw_len);
    tok->special = calloc((size_t)tok->n_vocab + 1, 1);
    if (!tok->tokens || !tok->raw || !tok->raw_len || !tok->special)
        FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
    if ((rc = srl_strmap_init(&tok->vocab, json_object_size(vocab))) < 0 ||
        (rc = srl_strmap_init(&tok->strs, json_object_size(vocab) + json_array_size(added))) < 0)
        return rc;
    json_object_foreach(vocab, key, v) {
        int id = (int)json_integer_value(v);
        if ((rc = set_token(tok, id, key, path)) < 0)
            return rc;
    }
    for (int id = 0; id < tok->n_vocab; id++) {
        if (!tok->tokens[id])
            continue;
        if (tok->byte_level) {
            tok->raw[id] = byte_decode(tok->tokens[id], &tok->raw_len[id]);
        } else {
            tok->raw[id] = strdup(tok->tokens[id]);
            tok->raw_len[id] = tok->raw[id] ? (uint32_t)strlen(tok->raw[id]) : 0;
        }
        if (!tok->raw[id])
            FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
        if (srl_strmap_put(&tok->vocab, tok->raw[id], tok->raw_len[id], id) < 0 ||
            srl_strmap_put(&tok->strs, tok->tokens[id], strlen(tok->tokens[id]), id) < 0)
            return SRL_ENOMEM;
    }
    /* bytes: the byte-level alphabet or the <0xNN> fallback tokens */
    for (int b = 0; b < 256; b++) {
        char name[8];
        if (tok->byte_level) {
            name[0] = (char)b;
            tok->byte_id[b] = srl_strmap_get(&tok->vocab, name, 1);
        } else {
            snprintf(name, sizeof name, "<0x%02X>", b);
            tok->byte_id[b] = srl_strmap_get(&tok->vocab, name, 6);
        }
    }
    tok->byte_fallback = jbool(model, "byte_fallback", 0);
    tok->fuse_unk = jbool(model, "fuse_unk", 0);
    tok->ignore_merges = jbool(model, "ignore_merges", 0);
    tok->unk_id = -1;
    if ((unk = jstr(model, "unk_token"))) {
        tok->unk_id = srl_strmap_get(&tok->strs, unk, strlen(unk));
        if (tok->unk_id < 0)
            FAIL(SRL_EFORMAT, "%s: unk_token '%s' is not in the vocabulary", path, unk);
    }
    /* merges */
    if ((rc = srl_u64map_init(&tok->merges, json_array_size(merges))) < 0)
        return rc;
    json_array_foreach(merges, i, v) {
        const char *a, *b;
        char buf[1024], cat[2048];
        if (parse_merge(v, &a, &b, buf, sizeof buf) < 0)
            FAIL(SRL_EFORMAT, "%s: merge %zu is not a pair of tokens", path, i);
        int ia = srl_strmap_get(&tok->strs, a, strlen(a));
        int ib = srl_strmap_get(&tok->strs, b, strlen(b));
        int n = snprintf(cat, sizeof cat, "%s%s", a, b);
        int ic = n < (int)sizeof cat ? srl_strmap_get(&tok->strs, cat, (size_t)n) : -1;
        if (ia < 0 || ib < 0 || ic < 0)
            FAIL(SRL_EFORMAT, "%s: merge %zu ('%s' '%s') uses a token not in the vocabulary",
                 path, i, a, b);
        uint64_t k = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, val;
        if (!srl_u64map_get(&tok->merges, k, &val) &&
            srl_u64map_put(&tok->merges, k, (uint64_t)i << 32 | (uint32_t)ic) < 0)
            return SRL_ENOMEM;
    }
    tok->n_merges = (int)json_array_size(merges);
    /* added tokens */
    tok->added = calloc(json_array_size(added) + 1, sizeof *tok->added);
    if (!tok->added)
        FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
    json_array_foreach(added, i, v) {
        struct srl_added *a = &tok->added[tok->n_added];
        const char *content = jstr(v, "content");
        int id = (int)json_integer_value(json_object_get(v, "id"));
        if (!*content)
            continue;
        if ((rc = set_token(tok, id, content, path)) < 0)
            return rc;
        if (!tok->raw[id]) {
            if (!(tok->raw[id] = strdup(content)))
                FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
            tok->raw_len[id] = (uint32_t)strlen(content);
        }
        if (srl_strmap_put(&tok->strs, tok->tokens[id], strlen(tok->tokens[id]), id) < 0)
            return SRL_ENOMEM;
        a->content = tok->tokens[id];
        a->len = strlen(content);
        a->id = id;
        a->special = jbool(v, "special", 0);
        a->lstrip = jbool(v, "lstrip", 0);
        a->rstrip = jbool(v, "rstrip", 0);
        a->single_word = jbool(v, "single_word", 0);
        a->normalized = jbool(v, "normalized", !a->special);
        tok->special[id] = (unsigned char)a->special;
        tok->added_first[(unsigned char)content[0]] = 1;
        tok->n_added++;
    }
    return 0;
}

// --- tokenizer_config.json -------------------------------------------------------------

static int config_token(const struct srl_tokenizer *tok, json_t *cfg, const char *key)
{
    json_t *v = json_object_get(cfg, key);
    const char *s = json_is_string(v) ? json_string_value(v) : jstr(v, "content");
    return s ? srl_strmap_get(&tok->strs, s, strlen(s)) : -1;
}

static int first_of(const struct srl_tokenizer *tok, const char *const *names)
{
    for (; *names; names++) {
        int id = srl_strmap_get(&tok->strs, *names, strlen(*names));
        if (id >= 0)
            return id;
    }
    return -1;
}

static int add_around(int **arr, int *n, int id, int at_end)
{
    int *a = realloc(*arr, (size_t)(*n + 1) * sizeof *a);
    if (!a)
        FAIL(SRL_ENOMEM, "tokenizer.c: out of memory");
    if (at_end) {
        a[*n] = id;
    } else {
        memmove(a + 1, a, (size_t)*n * sizeof *a);
        a[0] = id;
    }
    (*n)++;
    *arr = a;
    return 0;
}

static int apply_config(struct srl_tokenizer *tok, const char *cfg_path)
{
    static const char *const bos_names[] = { "<s>", "<|begin_of_text|>", "<bos>", NULL };
    static const char *const eos_names[] = { "</s>", "<|endoftext|>", "<|end_of_text|>",
                                             "<eos>", NULL };
    json_t *cfg = NULL;
    json_error_t jerr;
    struct stat st;

    tok->bos_id = tok->n_prefix ? tok->prefix_ids[0] : -1;
    tok->eos_id = tok->n_suffix ? tok->suffix_ids[tok->n_suffix - 1] : -1;
    tok->pad_id = -1;
    if (cfg_path && stat(cfg_path, &st) == 0) {
        if (!(cfg = json_load_file(cfg_path, 0, &jerr)))
            FAIL(SRL_EFORMAT, "%s:%d: %s", cfg_path, jerr.line, jerr.text);
        int id;
        if ((id = config_token(tok, cfg, "bos_token")) >= 0) tok->bos_id = id;
        if ((id = config_token(tok, cfg, "eos_token")) >= 0) tok->eos_id = id;
        if ((id = config_token(tok, cfg, "pad_token")) >= 0) tok->pad_id = id;
        if ((id = config_token(tok, cfg, "unk_token")) >= 0 && tok->unk_id < 0)
            tok->unk_id = id;
        int rc = 0;
        if (jbool(cfg, "add_bos_token", 0) && tok->bos_id >= 0 &&
            !(tok->n_prefix && tok->prefix_ids[0] == tok->bos_id))
            rc = add_around(&tok->prefix_ids, &tok->n_prefix, tok->bos_id, 0);
        if (rc == 0 && jbool(cfg, "add_eos_token", 0) && tok->eos_id >= 0 &&
            !(tok->n_suffix && tok->suffix_ids[tok->n_suffix - 1] == tok->eos_id))
            rc = add_around(&tok->suffix_ids, &tok->n_suffix, tok->eos_id, 1);
        json_decref(cfg);
        if (rc < 0)
            return rc;
    }
    if (tok->bos_id < 0)
        tok->bos_id = first_of(tok, bos_names);
    if (tok->eos_id < 0)
        tok->eos_id = first_of(tok, eos_names);
    return 0;
}

int srl_tokenizer_parse(struct srl_tokenizer *tok, const char *text, size_t len, const char *path)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    int rc;

    if (!root)
        FAIL(SRL_EFORMAT, "%s:%d: %s", path, jerr.line, jerr.text);
    json_t *added = json_object_get(root, "added_tokens");
    if (!json_is_object(root) || !json_is_object(json_object_get(root, "model")) ||
        (added && !json_is_array(added))) {
        json_decref(root);
        FAIL(SRL_EFORMAT, "%s: not a tokenizer.json (no model object)", path);
    }
    /* the pre-tokenizer and decoder say whether the vocabulary is byte-level */
    if ((rc = parse_normalizer(tok, json_object_get(root, "normalizer"), path)) == 0 &&
        (rc = parse_pre(tok, json_object_get(root, "pre_tokenizer"), path)) == 0 &&
        (rc = parse_dec(tok, json_object_get(root, "decoder"), path)) == 0) {
        for (int i = 0; i < tok->n_dec; i++)
            if (tok->dec[i].kind == DEC_BYTELEVEL)
                tok->byte_level = 1;
        if ((rc = parse_model(tok, json_object_get(root, "model"), added, path)) == 0)
            rc = parse_post(tok, json_object_get(root, "post_processor"), path);
    }
    json_decref(root);
    return rc;
}

struct srl_tokenizer *srl_tokenizer_load(const char *path, int *err)
{
    struct srl_tokenizer *tok = calloc(1, sizeof *tok);
    char *json_path = NULL, *cfg_path = NULL, *text = NULL;
    size_t len;
    struct stat st;
    int rc = SRL_ENOMEM;

    if (!tok) {
        srl_log_error("tokenizer.c: out of memory");
        goto fail;
    }
    pthread_mutex_init(&tok->cache_lock, NULL);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        json_path = srl_path_join(path, "tokenizer.json");
        cfg_path = srl_path_join(path, "tokenizer_config.json");
    } else {
        const char *slash = strrchr(path, '/');
        char *dir = slash ? dup_n(path, (size_t)(slash - path)) : strdup(".");
        json_path = strdup(path);
        cfg_path = dir ? srl_path_join(dir, "tokenizer_config.json") : NULL;
        free(dir);
    }
    if (!json_path || !cfg_path)
        goto fail;
    if (!(tok->path = strdup(json_path)))
        goto fail;
    if ((rc = srl_read_file(json_path, &text, &len)) < 0)
        goto fail;
    if ((rc = srl_tokenizer_parse(tok, text, len, json_path)) < 0)
        goto fail;
    if ((rc = apply_config(tok, cfg_path)) < 0)
        goto fail;
    free(text);
    free(json_path);
    free(cfg_path);
    if (err)
        *err = 0;
    return tok;
fail:
    free(text);
    free(json_path);
    free(cfg_path);
    srl_tokenizer_free(tok);
    if (err)
        *err = rc;
    return NULL;
}

void srl_tokenizer_free(struct srl_tokenizer *tok)
{
    if (!tok)
        return;
    for (int i = 0; i < tok->n_vocab; i++) {
        if (tok->tokens)
            free(tok->tokens[i]);
        if (tok->raw)
            free(tok->raw[i]);
    }
    free(tok->tokens);
    free(tok->raw);
    free(tok->raw_len);
    free(tok->special);
    free(tok->added);
    for (int i = 0; i < tok->n_norm; i++) {
        free(tok->norm[i].pattern);
        free(tok->norm[i].content);
    }
    for (int i = 0; i < tok->n_pre; i++)
        free(tok->pre[i].replacement);
    for (int i = 0; i < tok->n_dec; i++) {
        free(tok->dec[i].pattern);
        free(tok->dec[i].content);
    }
    free(tok->prefix_ids);
    free(tok->suffix_ids);
    srl_strmap_free(&tok->vocab);
    srl_strmap_free(&tok->strs);
    srl_u64map_free(&tok->merges);
    for (size_t i = 0; i < tok->cache_cap; i++) {
        free(tok->cache[i].word);
        free(tok->cache[i].ids);
    }
    free(tok->cache);
    pthread_mutex_destroy(&tok->cache_lock);
    free(tok->path);
    free(tok);
}

int srl_tokenizer_vocab_size(const struct srl_tokenizer *tok) { return tok->n_vocab; }
int srl_tokenizer_bos_id(const struct srl_tokenizer *tok) { return tok->bos_id; }
int srl_tokenizer_eos_id(const struct srl_tokenizer *tok) { return tok->eos_id; }
int srl_tokenizer_pad_id(const struct srl_tokenizer *tok) { return tok->pad_id; }
int srl_tokenizer_unk_id(const struct srl_tokenizer *tok) { return tok->unk_id; }

int srl_tokenizer_is_special(const struct srl_tokenizer *tok, int id)
{
    return id >= 0 && id < tok->n_vocab && tok->special[id];
}

const char *srl_tokenizer_token(const struct srl_tokenizer *tok, int id)
{
    return id >= 0 && id < tok->n_vocab ? tok->tokens[id] : NULL;
}

int srl_tokenizer_id(const struct srl_tokenizer *tok, const char *token)
{
    return srl_strmap_get(&tok->strs, token, strlen(token));
}

int srl_tokenizer_describe(const struct srl_tokenizer *tok, char *buf, size_t size)
{
    char tmp[512];
    size_t k = 0;
    int n;

    n = snprintf(tmp, sizeof tmp, "%s BPE, %d tokens, %d merges",
                 tok->byte_level ? "byte-level" : tok->byte_fallback ? "byte-fallback" : "char",
                 tok->n_vocab, tok->n_merges);
    k = n > 0 ? (size_t)n : 0;
    for (int i = 0, shown = 0; i < tok->n_added && k < sizeof tmp; i++) {
        if (!tok->added[i].special)
            continue;
        if (shown == 8) {
            k += (size_t)snprintf(tmp + k, sizeof tmp - k, ", ... (%d added)", tok->n_added);
            break;
        }
        k += (size_t)snprintf(tmp + k, sizeof tmp - k, "%s%s=%d", shown ? ", " : ", specials: ",
                              tok->added[i].content, tok->added[i].id);
        shown++;
    }
    if (k >= sizeof tmp)
        k = sizeof tmp - 1;
    if (k < sizeof tmp)
        k += (size_t)snprintf(tmp + k, sizeof tmp - k, "%s%s%s", tok->bos_id >= 0 ? ", bos " : "",
                              tok->bos_id >= 0 ? tok->tokens[tok->bos_id] : "",
                              tok->n_prefix ? " (added)" : "");
    if (k >= sizeof tmp)
        k = sizeof tmp - 1;
    return snprintf(buf, size, "%s", tmp);
}
