/* tokenizer_convert.c -- writing tokenizer.json + tokenizer_config.json, and the converters
 * from GPT-2's encoder.json/vocab.bpe, llama2.c's tokenizer.bin and SentencePiece .model. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "pretokenize.h"
#include "srl.h"
#include "tokenizer_internal.h"
#include "unicode.h"

#define SPIECE "\xe2\x96\x81" /* U+2581, SentencePiece's whitespace */

static json_t *bytelevel_obj(int add_prefix_space, int trim_offsets)
{
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space",
                     add_prefix_space, "trim_offsets", trim_offsets, "use_regex", 1);
}

static json_t *replace_obj(const char *kind, const char *pattern, const char *content)
{
    return json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern", kind, pattern,
                     "content", content);
}

static json_t *sp_parts(const struct srl_tok_spec *sp, json_t **normalizer, json_t **pre,
                        json_t **post, json_t **decoder)
{
    if (sp->strip_spaces)
        *normalizer = json_pack("{s:s, s:[o,o,o,o]}", "type", "Sequence", "normalizers",
                                replace_obj("Regex", "\\A +| +\\z", ""),
                                replace_obj("Regex", " {2,}", " "),
                                replace_obj("String", " ", SPIECE),
                                replace_obj("Regex", "\\A" SPIECE, SPIECE SPIECE));
    else
        *normalizer = json_null();
    *pre = json_pack("{s:s, s:s, s:s, s:b}", "type", "Metaspace", "replacement", SPIECE,
                     "prepend_scheme", "always", "split", 0);
    *decoder = json_pack("{s:s, s:[o, {s:s}, {s:s}, {s:s, s:s, s:i, s:i}]}", "type", "Sequence",
                         "decoders", replace_obj("String", SPIECE, " "), "type", "ByteFallback",
                         "type", "Fuse", "type", "Strip", "content", " ", "start", 1, "stop", 0);
    /* BOS (and EOS) around each sequence, as LlamaTokenizerFast's post-processor */
    json_t *single = json_array(), *pair = json_array(), *specials = json_object();
    const int ids[2] = { sp->add_bos ? sp->bos_id : -1, sp->add_eos ? sp->eos_id : -1 };
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < 3; k++) {
            json_t *item;
            if (k == 1)
                item = json_pack("{s:{s:s, s:i}}", "Sequence", "id", pass ? "B" : "A",
                                 "type_id", pass);
            else if (ids[k / 2] >= 0)
                item = json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", sp->vocab[ids[k / 2]],
                                 "type_id", pass);
            else
                continue;
            if (pass == 0)
                json_array_append(single, item);
            json_array_append_new(pair, item);
        }
    }
    for (int k = 0; k < 2; k++)
        if (ids[k] >= 0)
            json_object_set_new(specials, sp->vocab[ids[k]],
                                json_pack("{s:s, s:[i], s:[s]}", "id", sp->vocab[ids[k]], "ids",
                                          ids[k], "tokens", sp->vocab[ids[k]]));
    *post = json_pack("{s:s, s:o, s:o, s:o}", "type", "TemplateProcessing", "single", single,
                      "pair", pair, "special_tokens", specials);
    return *post;
}

static int write_json(json_t *j, const char *dir, const char *name)
{
    char *path = srl_path_join(dir, name);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII * 0) : NULL;
    int rc = SRL_ENOMEM;
    if (!path || !text)
        srl_log_error("tokenizer_convert.c: out of memory writing %s", name);
    else
        rc = srl_write_file_atomic(path, text, strlen(text));
    free(text);
    free(path);
    return rc;
}

int srl_tokenizer_write(const struct srl_tok_spec *sp, const char *out_dir)
{
    json_t *root = NULL, *cfg = NULL, *vocab = json_object(), *merges = json_array();
    json_t *added = json_array(), *normalizer, *pre, *post, *decoder;
    int arrays = 0, rc = SRL_ENOMEM;

    for (int i = 0; i < sp->n_merges; i++)
        if (strchr(sp->merge_left[i], ' ') || strchr(sp->merge_right[i], ' '))
            arrays = 1;
    for (int i = 0; i < sp->n_vocab; i++)
        if (json_object_set_new(vocab, sp->vocab[i], json_integer(i)) < 0)
            goto out;
    for (int i = 0; i < sp->n_merges; i++) {
        json_t *m;
        if (arrays) {
            m = json_pack("[s,s]", sp->merge_left[i], sp->merge_right[i]);
        } else {
            size_t a = strlen(sp->merge_left[i]), b = strlen(sp->merge_right[i]);
            char *s = malloc(a + b + 2);
            if (!s)
                goto out;
            memcpy(s, sp->merge_left[i], a);
            s[a] = ' ';
            memcpy(s + a + 1, sp->merge_right[i], b + 1);
            m = json_string(s);
            free(s);
        }
        if (!m || json_array_append_new(merges, m) < 0)
            goto out;
    }
    for (int i = 0; i < sp->n_special; i++) {
        int id = sp->special_ids[i];
        json_array_append_new(added, json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id,
                                               "content", sp->vocab[id], "single_word", 0,
                                               "lstrip", 0, "rstrip", 0, "normalized", 0,
                                               "special", 1));
    }
    if (sp->kind == 0) {
        normalizer = json_null();
        pre = bytelevel_obj(0, 1);
        post = bytelevel_obj(1, 0);
        decoder = bytelevel_obj(1, 1);
    } else {
        sp_parts(sp, &normalizer, &pre, &post, &decoder);
    }
    root = json_pack("{s:s, s:n, s:n, s:o, s:o, s:o, s:o, s:o, s:{s:s, s:n, s:o, s:n, s:n, "
                     "s:b, s:b, s:b, s:o, s:o}}",
                     "version", "1.0", "truncation", "padding", "added_tokens", added,
                     "normalizer", normalizer, "pre_tokenizer", pre, "post_processor", post,
                     "decoder", decoder, "model", "type", "BPE", "dropout", "unk_token",
                     sp->unk_id >= 0 ? json_string(sp->vocab[sp->unk_id]) : json_null(),
                     "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", sp->kind == 1,
                     "byte_fallback", sp->kind == 1, "ignore_merges", 0, "vocab", vocab,
                     "merges", merges);
    vocab = merges = added = NULL;
    if (!root)
        goto out;
    cfg = json_pack("{s:s, s:b, s:b, s:b, s:i}", "tokenizer_class", sp->tokenizer_class,
                    "add_bos_token", sp->add_bos, "add_eos_token", sp->add_eos,
                    "clean_up_tokenization_spaces", 0, "model_max_length", 1 << 20);
    if (!cfg)
        goto out;
    const char *keys[4] = { "bos_token", "eos_token", "unk_token", "pad_token" };
    const int ids[4] = { sp->bos_id, sp->eos_id, sp->unk_id, sp->pad_id };
    for (int k = 0; k < 4; k++)
        if (ids[k] >= 0)
            json_object_set_new(cfg, keys[k], json_string(sp->vocab[ids[k]]));
    if ((rc = write_json(root, out_dir, "tokenizer.json")) == 0)
        rc = write_json(cfg, out_dir, "tokenizer_config.json");
out:
    if (rc == SRL_ENOMEM && !root)
        srl_log_error("tokenizer_convert.c: out of memory building tokenizer.json");
    json_decref(vocab);
    json_decref(merges);
    json_decref(added);
    json_decref(root);
    json_decref(cfg);
    return rc;
}

// --- GPT-2 -----------------------------------------------------------------------------

int srl_tokenizer_convert_gpt2(const char *encoder_json, const char *vocab_bpe,
                               const char *out_dir)
{
    json_error_t jerr;
    json_t *enc = json_load_file(encoder_json, 0, &jerr), *v;
    char *text = NULL, **left = NULL, **right = NULL;
    const char **vocab = NULL;
    const char *key;
    size_t len;
    int rc = SRL_EFORMAT, n_vocab = 0, n_merges = 0, eot = -1;
    struct srl_strmap map = { 0 };

    if (!enc || !json_is_object(enc)) {
        srl_log_error("%s:%d: %s", encoder_json, enc ? 0 : jerr.line,
                      enc ? "not a JSON object" : jerr.text);
        json_decref(enc);
        return SRL_EFORMAT;
    }
    json_object_foreach(enc, key, v) {
        json_int_t id = json_integer_value(v);
        if (!json_is_integer(v) || id < 0 || id >= (json_int_t)json_object_size(enc)) {
            srl_log_error("%s: token '%s' has no id in 0..%zu", encoder_json, key,
                          json_object_size(enc) - 1);
            goto out;
        }
    }
    n_vocab = (int)json_object_size(enc);
    vocab = calloc((size_t)n_vocab, sizeof *vocab);
    if (!vocab || srl_strmap_init(&map, (size_t)n_vocab) < 0) {
        rc = SRL_ENOMEM;
        goto out;
    }
    json_object_foreach(enc, key, v) {
        int id = (int)json_integer_value(v);
        if (vocab[id]) {
            srl_log_error("%s: id %d is used twice", encoder_json, id);
            goto out;
        }
        vocab[id] = key;
        srl_strmap_put(&map, key, strlen(key), id);
    }
    if ((rc = srl_read_file(vocab_bpe, &text, &len)) < 0)
        goto out;
    rc = SRL_EFORMAT;
    size_t cap = 1024;
    left = malloc(cap * sizeof *left);
    right = malloc(cap * sizeof *right);
    char *line = text, *next;
    for (int lineno = 1; line && *line; line = next, lineno++) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        if (!l || (lineno == 1 && !strncmp(line, "#version", 8)))
            continue;
        char *sp = strchr(line, ' ');
        if (!sp || strchr(sp + 1, ' ')) {
            srl_log_error("%s:%d: a merge is two tokens separated by one space", vocab_bpe, lineno);
            goto out;
        }
        *sp = '\0';
        char cat[1024];
        int n = snprintf(cat, sizeof cat, "%s%s", line, sp + 1);
        if (srl_strmap_get(&map, line, strlen(line)) < 0 ||
            srl_strmap_get(&map, sp + 1, strlen(sp + 1)) < 0 || n >= (int)sizeof cat ||
            srl_strmap_get(&map, cat, (size_t)n) < 0) {
            srl_log_error("%s:%d: merge %d ('%s' '%s') uses a token not in %s", vocab_bpe, lineno,
                          n_merges, line, sp + 1, encoder_json);
            goto out;
        }
        if ((size_t)n_merges == cap) {
            cap *= 2;
            char **a = realloc(left, cap * sizeof *a), **b;
            if (a)
                left = a;
            b = realloc(right, cap * sizeof *b);
            if (b)
                right = b;
            if (!a || !b) {
                rc = SRL_ENOMEM;
                goto out;
            }
        }
        left[n_merges] = line;
        right[n_merges++] = sp + 1;
    }
    eot = srl_strmap_get(&map, "<|endoftext|>", 13);
    struct srl_tok_spec spec = {
        .vocab = vocab, .n_vocab = n_vocab,
        .merge_left = (const char *const *)left, .merge_right = (const char *const *)right,
        .n_merges = n_merges, .kind = 0, .special_ids = &eot, .n_special = eot >= 0,
        .unk_id = -1, .bos_id = eot, .eos_id = eot, .pad_id = -1,
        .tokenizer_class = "GPT2TokenizerFast",
    };
    rc = srl_tokenizer_write(&spec, out_dir);
out:
    srl_strmap_free(&map);
    free(vocab);
    free(left);
    free(right);
    free(text);
    json_decref(enc);
    return rc;
}

// --- SentencePiece BPE (llama2.c tokenizer.bin and .model) -----------------------------

struct sp_model {
    char **pieces;
    float *scores;
    int *types; /* 1 normal, 2 unknown, 3 control, 4 user defined, 6 byte */
    int n;
    int add_dummy_prefix, strip_spaces;
};

static void sp_free(struct sp_model *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->pieces[i]);
    free(m->pieces);
    free(m->scores);
    free(m->types);
}

static int sp_push(struct sp_model *m, const char *s, size_t len, float score, int type)
{
    char **p = realloc(m->pieces, (size_t)(m->n + 1) * sizeof *p);
    if (p)
        m->pieces = p;
    float *sc = realloc(m->scores, (size_t)(m->n + 1) * sizeof *sc);
    if (sc)
        m->scores = sc;
    int *t = realloc(m->types, (size_t)(m->n + 1) * sizeof *t);
    if (t)
        m->types = t;
    char *d = malloc(len + 1);
    if (!p || !sc || !t || !d) {
        free(d);
        srl_log_error("tokenizer_convert.c: out of memory");
        return SRL_ENOMEM;
    }
    memcpy(d, s, len);
    d[len] = '\0';
    m->pieces[m->n] = d;
    m->scores[m->n] = score;
    m->types[m->n++] = type;
    return 0;
}

/* Merges as HF's SentencePieceExtractor makes them: for each piece in id order, each split
 * into two pieces of the vocabulary, shorter left part first. */
static int sp_write(const struct sp_model *m, const char *src, const char *out_dir)
{
    struct srl_strmap map = { 0 };
    const char **left = NULL, **right = NULL;
    char **owned = NULL;
    int *specials = calloc((size_t)m->n + 1, sizeof *specials), n_special = 0, n_merges = 0;
    int rc = SRL_ENOMEM, unk = -1, bos = -1, eos = -1;
    size_t cap = 256;

    left = malloc(cap * sizeof *left);
    right = malloc(cap * sizeof *right);
    owned = malloc(cap * sizeof *owned);
    if (!specials || !left || !right || !owned || srl_strmap_init(&map, (size_t)m->n) < 0)
        goto out;
    for (int i = 0; i < m->n; i++) {
        if (srl_strmap_put(&map, m->pieces[i], strlen(m->pieces[i]), i) == 0) {
            srl_log_error("%s: piece %d '%s' appears twice", src, i, m->pieces[i]);
            rc = SRL_EFORMAT;
            goto out;
        }
        if (m->types[i] == 2 || m->types[i] == 3)
            specials[n_special++] = i;
        if (m->types[i] == 2 && unk < 0)
            unk = i;
        if (m->types[i] == 3 && !strcmp(m->pieces[i], "<s>"))
            bos = i;
        if (m->types[i] == 3 && !strcmp(m->pieces[i], "</s>"))
            eos = i;
    }
    for (int i = 0; i < m->n; i++) {
        const char *p = m->pieces[i];
        size_t len = strlen(p);
        for (size_t k = 1; k < len; k++) {
            if (((unsigned char)p[k] & 0xC0) == 0x80)
                continue; /* split at code points, as Python's str slicing */
            if (srl_strmap_get(&map, p, k) < 0 || srl_strmap_get(&map, p + k, len - k) < 0)
                continue;
            if ((size_t)n_merges == cap) {
                cap *= 2;
                const char **a = realloc(left, cap * sizeof *a), **b;
                if (a)
                    left = a;
                b = realloc(right, cap * sizeof *b);
                if (b)
                    right = b;
                char **o = realloc(owned, cap * sizeof *o);
                if (o)
                    owned = o;
                if (!a || !b || !o)
                    goto out;
            }
            char *l = malloc(k + 1);
            if (!l)
                goto out;
            memcpy(l, p, k);
            l[k] = '\0';
            owned[n_merges] = l;
            left[n_merges] = l;
            right[n_merges++] = p + k;
        }
    }
    struct srl_tok_spec spec = {
        .vocab = (const char *const *)m->pieces, .n_vocab = m->n,
        .merge_left = left, .merge_right = right, .n_merges = n_merges, .kind = 1,
        .strip_spaces = m->strip_spaces, .special_ids = specials, .n_special = n_special,
        .unk_id = unk, .bos_id = bos, .eos_id = eos, .pad_id = -1, .add_bos = bos >= 0,
        .tokenizer_class = "PreTrainedTokenizerFast",
    };
    rc = srl_tokenizer_write(&spec, out_dir);
out:
    if (rc == SRL_ENOMEM)
        srl_log_error("tokenizer_convert.c: out of memory converting %s", src);
    for (int i = 0; i < n_merges; i++)
        free(owned[i]);
    free(owned);
    free(left);
    free(right);
    free(specials);
    srl_strmap_free(&map);
    return rc;
}

int srl_tokenizer_convert_llama2c(const char *tokenizer_bin, const char *out_dir)
{
    struct sp_model m = { .add_dummy_prefix = 1, .strip_spaces = 1 };
    unsigned char *d = NULL;
    size_t len, o = 4;
    int rc = srl_read_file(tokenizer_bin, (char **)&d, &len);

    if (rc < 0)
        return rc;
    if (len < 4) {
        srl_log_error("%s: truncated llama2.c tokenizer (no header)", tokenizer_bin);
        free(d);
        return SRL_EFORMAT;
    }
    while (o < len) {
        float score;
        int32_t l;
        if (len - o < 8) {
            rc = SRL_EFORMAT;
            break;
        }
        memcpy(&score, d + o, 4);
        memcpy(&l, d + o + 4, 4);
        o += 8;
        if (l < 0 || (size_t)l > len - o) {
            rc = SRL_EFORMAT;
            break;
        }
        char *s = (char *)d + o;
        int type = 1;
        char piece[16];
        size_t pl = (size_t)l;
        if (m.n == 0) {
            type = 2;
        } else if (m.n <= 2 && pl >= 3 && s[0] == '\n' && s[pl - 1] == '\n') {
            type = 3; /* "\n<s>\n", "\n</s>\n" */
            memcpy(piece, s + 1, pl - 2 < sizeof piece - 1 ? pl - 2 : sizeof piece - 1);
            pl = pl - 2 < sizeof piece - 1 ? pl - 2 : sizeof piece - 1;
            s = piece;
        } else if (pl == 6 && !memcmp(s, "<0x", 3) && s[5] == '>') {
            type = 6;
        }
        /* llama2.c stores SentencePiece's U+2581 as a plain space */
        char *conv = malloc(pl * 3 + 1);
        size_t k = 0;
        if (!conv) {
            rc = SRL_ENOMEM;
            break;
        }
        for (size_t i = 0; i < pl; i++) {
            if (s[i] == ' ' && type == 1) {
                memcpy(conv + k, SPIECE, 3);
                k += 3;
            } else {
                conv[k++] = s[i];
            }
        }
        rc = sp_push(&m, conv, k, score, type);
        free(conv);
        if (rc < 0)
            break;
        o += (size_t)l;
    }
    if (rc == SRL_EFORMAT)
        srl_log_error("%s: truncated llama2.c tokenizer at byte %zu (token %d)", tokenizer_bin, o,
                      m.n);
    if (rc == 0 && m.n < 3) {
        srl_log_error("%s: llama2.c tokenizer with only %d tokens", tokenizer_bin, m.n);
        rc = SRL_EFORMAT;
    }
    if (rc == 0)
        rc = sp_write(&m, tokenizer_bin, out_dir);
    sp_free(&m);
    free(d);
    return rc;
}

/* Protocol buffer reading: just what SentencePiece's ModelProto needs */
static int pb_varint(const unsigned char *p, size_t n, size_t *o, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*o >= n)
            return -1;
        unsigned char b = p[(*o)++];
        *v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* Next field: *field, *wire; for length-delimited ones *sub and *sub_len; for varints *v. */
static int pb_field(const unsigned char *p, size_t n, size_t *o, int *field, int *wire,
                    const unsigned char **sub, size_t *sub_len, uint64_t *v)
{
    uint64_t key;
    if (pb_varint(p, n, o, &key) < 0)
        return -1;
    *field = (int)(key >> 3);
    *wire = (int)(key & 7);
    switch (*wire) {
    case 0: return pb_varint(p, n, o, v);
    case 1: if (n - *o < 8) return -1; *sub = p + *o; *o += 8; return 0;
    case 5: if (n - *o < 4) return -1; *sub = p + *o; *o += 4; return 0;
    case 2:
        if (pb_varint(p, n, o, v) < 0 || *v > n - *o)
            return -1;
        *sub = p + *o;
        *sub_len = (size_t)*v;
        *o += (size_t)*v;
        return 0;
    }
    return -1;
}

int srl_tokenizer_convert_sentencepiece(const char *model_file, const char *out_dir)
{
    struct sp_model m = { .add_dummy_prefix = 1, .strip_spaces = 1 };
    unsigned char *d = NULL;
    size_t len, o = 0;
    int rc = srl_read_file(model_file, (char **)&d, &len), field, wire;
    int model_type = 1, charsmap = 0, identity = 0;
    const unsigned char *sub;
    size_t sub_len = 0;
    uint64_t v;

    if (rc < 0)
        return rc;
    while (o < len && rc == 0) {
        if (pb_field(d, len, &o, &field, &wire, &sub, &sub_len, &v) < 0) {
            rc = SRL_EFORMAT;
            break;
        }
        if (wire != 2)
            continue;
        size_t so = 0;
        if (field == 1) { /* SentencePiece { piece = 1; score = 2; type = 3 } */
            const char *piece = NULL;
            size_t piece_len = 0;
            float score = 0;
            int type = 1;
            const unsigned char *s2;
            size_t l2 = 0;
            while (so < sub_len) {
                if (pb_field(sub, sub_len, &so, &field, &wire, &s2, &l2, &v) < 0) {
                    rc = SRL_EFORMAT;
                    break;
                }
                if (field == 1 && wire == 2) {
                    piece = (const char *)s2;
                    piece_len = l2;
                } else if (field == 2 && wire == 5) {
                    memcpy(&score, s2, 4);
                } else if (field == 3 && wire == 0) {
                    type = (int)v;
                }
            }
            if (rc == 0 && !piece)
                rc = SRL_EFORMAT;
            if (rc == 0)
                rc = sp_push(&m, piece, piece_len, score, type);
        } else if (field == 2 || field == 3) { /* TrainerSpec, NormalizerSpec */
            int spec = field;
            const unsigned char *s2;
            size_t l2 = 0;
            while (so < sub_len) {
                if (pb_field(sub, sub_len, &so, &field, &wire, &s2, &l2, &v) < 0) {
                    rc = SRL_EFORMAT;
                    break;
                }
                if (spec == 2 && field == 3 && wire == 0)
                    model_type = (int)v;
                if (spec == 3 && field == 1 && wire == 2)
                    identity = l2 == 8 && !memcmp(s2, "identity", 8);
                if (spec == 3 && field == 2 && wire == 2)
                    charsmap = l2 > 0;
                if (spec == 3 && field == 3 && wire == 0)
                    m.add_dummy_prefix = v != 0;
                if (spec == 3 && field == 4 && wire == 0)
                    m.strip_spaces = v != 0;
            }
        }
    }
    if (rc == SRL_EFORMAT)
        srl_log_error("%s: malformed SentencePiece model (protobuf) near byte %zu", model_file, o);
    else if (rc == 0 && model_type != 2) {
        srl_log_error("%s: unsupported SentencePiece model type %d (only BPE, 2, is)", model_file,
                      model_type);
        rc = SRL_EUNSUPPORTED;
    } else if (rc == 0 && charsmap && !identity) {
        srl_log_error("%s: unsupported SentencePiece normalization rule (precompiled charsmap)",
                      model_file);
        rc = SRL_EUNSUPPORTED;
    } else if (rc == 0 && (!m.add_dummy_prefix || m.n < 3)) {
        srl_log_error("%s: unsupported SentencePiece model (no dummy prefix or no pieces)",
                      model_file);
        rc = SRL_EUNSUPPORTED;
    }
    if (rc == 0)
        rc = sp_write(&m, model_file, out_dir);
    sp_free(&m);
    free(d);
    return rc;
}
