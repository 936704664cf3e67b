/* safetensors.c -- bounds-checked mmap reader and atomic writer of safetensors files. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "srl.h"

/* The safetensors reference implementation refuses headers over 100 MB. */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

// --- scalar conversions ----------------------------------------------------------------------

static uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

uint16_t srl_f32_to_bf16(float x)
{
    uint32_t u = f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float srl_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t srl_f32_to_f16(float x)
{
    uint32_t u = f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;          /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00u;         /* rounds to >= 65520: infinity */
    if (a < 0x38800000u) {                                /* below 2^-14: subnormal or zero */
        if (a < 0x33000000u) return sign;                 /* below half the smallest: zero */
        /* value = m * 2^(e-150) = m * 2^(e-126) units of 2^-24 (the half subnormal step) */
        uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)e;                         /* 14..24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (q & 1u))) q++;
        return sign | (uint16_t)q;
    }
    /* normal: rebias exponent 127 -> 15 and round the 13 dropped mantissa bits */
    uint32_t r = a - 0x38000000u;
    r += 0xfffu + ((r >> 13) & 1u);
    return sign | (uint16_t)(r >> 13);
}

float srl_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return bits_f32(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        float v = ldexpf((float)m, -24);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

int srl_st_to_f32(const struct srl_st_tensor *t, float *dst)
{
    const unsigned char *p = t->data;
    size_t n = t->numel;
    switch (t->dtype) {
    case SRL_DTYPE_F32:
        if (n) memcpy(dst, p, n * 4);
        return 0;
    case SRL_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = srl_bf16_to_f32(h);
        }
        return 0;
    case SRL_DTYPE_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = srl_f16_to_f32(h);
        }
        return 0;
    case SRL_DTYPE_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 0;
    case SRL_DTYPE_I32:
        for (size_t i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, p + 4 * i, 4);
            dst[i] = (float)v;
        }
        return 0;
    case SRL_DTYPE_I64:
        for (size_t i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            dst[i] = (float)v;
        }
        return 0;
    case SRL_DTYPE_U8:
        for (size_t i = 0; i < n; i++) dst[i] = (float)p[i];
        return 0;
    case SRL_DTYPE_BOOL:
        for (size_t i = 0; i < n; i++) dst[i] = p[i] ? 1.0f : 0.0f;
        return 0;
    }
    srl_log_error("tensor %s: cannot convert dtype %d to float32", t->name, (int)t->dtype);
    return SRL_EUNSUPPORTED;
}

// --- reader ----------------------------------------------------------------------------------

struct srl_st_file {
    char *path;
    void *map;
    size_t map_size;
    struct srl_st_tensor *tensors; /* in data order */
    size_t n;
    const struct srl_st_tensor **by_name; /* sorted by name */
};

static int cmp_offset(const void *a, const void *b)
{
    const struct srl_st_tensor *x = a, *y = b;
    const char *px = x->data, *py = y->data;
    if (px != py) return px < py ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int cmp_name_ptr(const void *a, const void *b)
{
    const struct srl_st_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int cmp_key_ptr(const void *key, const void *b)
{
    const struct srl_st_tensor *const *y = b;
    return strcmp(key, (*y)->name);
}

void srl_st_close(struct srl_st_file *f)
{
    if (!f) return;
    if (f->map && f->map != MAP_FAILED) munmap(f->map, f->map_size);
    for (size_t i = 0; i < f->n; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    free(f->by_name);
    free(f->path);
    free(f);
}

/* A JSON integer in [0, max]; -1 when it is not. */
static int64_t json_nonneg(const json_t *v, int64_t max)
{
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    return x < 0 || x > max ? -1 : (int64_t)x;
}

/* Parse one header entry into t; *begin_out gets its offset from the start of the data. */
static int parse_entry(const char *path, const char *name, json_t *e, uint64_t data_len,
                       struct srl_st_tensor *t, uint64_t *begin_out)
{
#define BAD(...)                                                                  \
    do {                                                                          \
        char msg_[256];                                                           \
        snprintf(msg_, sizeof msg_, __VA_ARGS__);                                 \
        srl_log_error("%s: tensor %s: %s", path, name, msg_);                     \
        return SRL_EFORMAT;                                                       \
    } while (0)
    if (!json_is_object(e)) BAD("header entry is not an object");
    json_t *dt = json_object_get(e, "dtype"), *shape = json_object_get(e, "shape");
    json_t *offs = json_object_get(e, "data_offsets");
    if (!json_is_string(dt)) BAD("missing or non-string \"dtype\"");
    if (srl_dtype_parse_st(json_string_value(dt), &t->dtype) < 0) {
        /* valid safetensors dtypes we have no use for, versus garbage */
        static const char *const known[] = { "F8_E4M3", "F8_E5M2", "I8", "I16", "U16",
                                             "U32", "U64", "C64", "F8_E8M0", "F4", "F6_E2M3",
                                             "F6_E3M2" };
        const char *d = json_string_value(dt);
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcmp(d, known[i]) == 0) {
                srl_log_error("%s: tensor %s: dtype %s is not supported", path, name, d);
                return SRL_EUNSUPPORTED;
            }
        BAD("unknown dtype \"%s\"", d);
    }
    if (!json_is_array(shape)) BAD("missing or non-array \"shape\"");
    if (json_array_size(shape) > SRL_ST_MAX_DIMS)
        BAD("%zu dimensions (at most %d supported)", json_array_size(shape), SRL_ST_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        json_t *v = json_array_get(shape, (size_t)d);
        int64_t s = json_nonneg(v, INT64_MAX);
        if (s < 0) BAD("shape[%d] is not a non-negative integer", d);
        t->shape[d] = s;
        if (s && numel > UINT64_MAX / (uint64_t)s) BAD("number of elements overflows");
        numel *= (uint64_t)s;
    }
    size_t esize = srl_dtype_size(t->dtype);
    if (numel > (uint64_t)SIZE_MAX / esize) BAD("size in bytes overflows");
    if (!json_is_array(offs) || json_array_size(offs) != 2)
        BAD("\"data_offsets\" is not an array of two integers");
    int64_t begin = json_nonneg(json_array_get(offs, 0), INT64_MAX);
    int64_t end = json_nonneg(json_array_get(offs, 1), INT64_MAX);
    if (begin < 0 || end < 0) BAD("\"data_offsets\" are not non-negative integers");
    if (end < begin) BAD("data_offsets end %lld < begin %lld", (long long)end, (long long)begin);
    if ((uint64_t)end > data_len)
        BAD("data_offsets end %lld is past the end of the data (%llu bytes)", (long long)end,
            (unsigned long long)data_len);
    t->numel = (size_t)numel;
    t->nbytes = (size_t)numel * esize;
    if ((uint64_t)(end - begin) != (uint64_t)t->nbytes)
        BAD("%lld data bytes but shape and dtype %s need %zu", (long long)(end - begin),
            srl_dtype_st_name(t->dtype), t->nbytes);
    *begin_out = (uint64_t)begin;
    return 0;
#undef BAD
}

struct srl_st_file *srl_st_open(const char *path, int *err)
{
    int rc = SRL_EFORMAT, fd = -1;
    json_t *root = NULL;
    struct srl_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        rc = SRL_ENOMEM;
        goto fail;
    }
    fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        srl_log_error("%s: cannot open: %s", path, strerror(errno));
        rc = SRL_EIO;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        srl_log_error("%s: not a regular file", path);
        rc = SRL_EIO;
        goto fail;
    }
    if (st.st_size < 8) {
        srl_log_error("%s: %lld bytes: too short for a safetensors header", path,
                      (long long)st.st_size);
        goto fail;
    }
    f->map_size = (size_t)st.st_size;
    f->map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        srl_log_error("%s: cannot map: %s", path, strerror(errno));
        f->map = NULL;
        rc = SRL_EIO;
        goto fail;
    }
    close(fd);
    fd = -1;
    const unsigned char *base = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | base[i];
    if (hlen > f->map_size - 8) {
        srl_log_error("%s: header length %llu is larger than the file (%zu bytes)", path,
                      (unsigned long long)hlen, f->map_size);
        goto fail;
    }
    if (hlen > ST_MAX_HEADER) {
        srl_log_error("%s: header length %llu exceeds the 100 MB limit", path,
                      (unsigned long long)hlen);
        goto fail;
    }
    json_error_t jerr;
    root = json_loadb((const char *)base + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        srl_log_error("%s: header is not valid JSON: %s (at byte %d)", path, jerr.text,
                      jerr.position);
        goto fail;
    }
    if (!json_is_object(root)) {
        srl_log_error("%s: header is not a JSON object", path);
        goto fail;
    }
    json_t *meta = json_object_get(root, "__metadata__");
    if (meta && !json_is_object(meta)) {
        srl_log_error("%s: \"__metadata__\" is not an object", path);
        goto fail;
    }
    size_t cap = json_object_size(root);
    f->tensors = calloc(cap ? cap : 1, sizeof *f->tensors);
    f->by_name = calloc(cap ? cap : 1, sizeof *f->by_name);
    if (!f->tensors || !f->by_name) {
        rc = SRL_ENOMEM;
        goto fail;
    }
    const unsigned char *data = base + 8 + hlen;
    uint64_t data_len = f->map_size - 8 - hlen;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        struct srl_st_tensor *t = &f->tensors[f->n];
        if (!(t->name = strdup(key))) {
            rc = SRL_ENOMEM;
            goto fail;
        }
        f->n++;
        uint64_t begin;
        if ((rc = parse_entry(path, key, val, data_len, t, &begin)) < 0) goto fail;
        t->data = data + begin;
    }
    /* The data must be covered exactly: sorted by offset, each tensor starts where the
     * previous one ends and the last one ends at the end of the file. */
    qsort(f->tensors, f->n, sizeof *f->tensors, cmp_offset);
    const unsigned char *expect = data;
    for (size_t i = 0; i < f->n; i++) {
        const struct srl_st_tensor *t = &f->tensors[i];
        if ((const unsigned char *)t->data != expect) {
            const char *what = (const unsigned char *)t->data < expect
                                   ? "overlaps the previous tensor"
                                   : "leaves a gap after the previous tensor";
            srl_log_error("%s: tensor %s: data at offset %td %s (which ends at %td)", path,
                          t->name, (const unsigned char *)t->data - data, what, expect - data);
            rc = SRL_EFORMAT;
            goto fail;
        }
        expect += t->nbytes;
    }
    if ((uint64_t)(expect - data) != data_len) {
        srl_log_error("%s: %llu bytes of data but the tensors cover %td", path,
                      (unsigned long long)data_len, expect - data);
        rc = SRL_EFORMAT;
        goto fail;
    }
    for (size_t i = 0; i < f->n; i++) f->by_name[i] = &f->tensors[i];
    qsort(f->by_name, f->n, sizeof *f->by_name, cmp_name_ptr);
    json_decref(root);
    if (err) *err = 0;
    return f;
fail:
    if (rc == SRL_ENOMEM) srl_log_error("%s: out of memory", path);
    if (fd >= 0) close(fd);
    json_decref(root);
    srl_st_close(f);
    if (err) *err = rc;
    return NULL;
}

size_t srl_st_count(const struct srl_st_file *f) { return f->n; }

const struct srl_st_tensor *srl_st_get(const struct srl_st_file *f, size_t i)
{
    return i < f->n ? &f->tensors[i] : NULL;
}

const struct srl_st_tensor *srl_st_find(const struct srl_st_file *f, const char *name)
{
    const struct srl_st_tensor *const *p =
        bsearch(name, f->by_name, f->n, sizeof *f->by_name, cmp_key_ptr);
    return p ? *p : NULL;
}

const char *srl_st_path(const struct srl_st_file *f) { return f->path; }

// --- writer ----------------------------------------------------------------------------------

static int cmp_entry_name(const void *a, const void *b)
{
    const struct srl_st_entry *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Convert and write n floats as dtype. */
static int write_data(FILE *fp, const float *x, size_t n, enum srl_dtype dtype)
{
    if (dtype == SRL_DTYPE_F32) return n && fwrite(x, 4, n, fp) != n ? -1 : 0;
    uint16_t buf[4096];
    for (size_t i = 0; i < n;) {
        size_t k = n - i < 4096 ? n - i : 4096;
        for (size_t j = 0; j < k; j++)
            buf[j] = dtype == SRL_DTYPE_BF16 ? srl_f32_to_bf16(x[i + j]) : srl_f32_to_f16(x[i + j]);
        if (fwrite(buf, 2, k, fp) != k) return -1;
        i += k;
    }
    return 0;
}

int srl_st_write(const char *path, const struct srl_st_entry *entries, size_t n,
                 enum srl_dtype dtype, const char *metadata_json)
{
    int rc = SRL_EINVAL;
    json_t *root = NULL, *meta = NULL;
    char *hdr = NULL;
    const struct srl_st_entry **order = NULL;
    if (dtype != SRL_DTYPE_F32 && dtype != SRL_DTYPE_BF16 && dtype != SRL_DTYPE_F16) {
        srl_log_error("%s: cannot write dtype %s", path, srl_dtype_name(dtype));
        return SRL_EINVAL;
    }
    if (!(order = malloc((n ? n : 1) * sizeof *order)) || !(root = json_object())) {
        rc = SRL_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) order[i] = &entries[i];
    qsort(order, n, sizeof *order, cmp_entry_name);
    if (metadata_json) {
        json_error_t jerr;
        meta = json_loads(metadata_json, 0, &jerr);
        if (!json_is_object(meta)) {
            srl_log_error("%s: metadata is not a JSON object", path);
            goto fail;
        }
        const char *k;
        json_t *v;
        json_object_foreach(meta, k, v) {
            if (!json_is_string(v)) {
                srl_log_error("%s: metadata value \"%s\" is not a string", path, k);
                goto fail;
            }
        }
        json_object_set(root, "__metadata__", meta);
    }
    size_t esize = srl_dtype_size(dtype), off = 0;
    for (size_t i = 0; i < n; i++) {
        const struct srl_st_entry *e = order[i];
        if (!e->name || !*e->name || strcmp(e->name, "__metadata__") == 0) {
            srl_log_error("%s: bad tensor name \"%s\"", path, e->name ? e->name : "(null)");
            goto fail;
        }
        if (i && strcmp(e->name, order[i - 1]->name) == 0) {
            srl_log_error("%s: tensor %s: name appears twice", path, e->name);
            goto fail;
        }
        if (e->ndim < 0 || e->ndim > SRL_ST_MAX_DIMS) {
            srl_log_error("%s: tensor %s: %d dimensions", path, e->name, e->ndim);
            goto fail;
        }
        json_t *shape = json_array();
        size_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            if (e->shape[d] < 0) {
                srl_log_error("%s: tensor %s: negative shape", path, e->name);
                json_decref(shape);
                goto fail;
            }
            numel *= (size_t)e->shape[d];
            json_array_append_new(shape, json_integer(e->shape[d]));
        }
        if (numel && !e->data) {
            srl_log_error("%s: tensor %s: no data", path, e->name);
            json_decref(shape);
            goto fail;
        }
        json_t *obj = json_pack("{s:s, s:o, s:[I,I]}", "dtype", srl_dtype_st_name(dtype),
                                "shape", shape, "data_offsets", (json_int_t)off,
                                (json_int_t)(off + numel * esize));
        if (!obj || json_object_set_new(root, e->name, obj) != 0) {
            rc = SRL_ENOMEM;
            goto fail;
        }
        off += numel * esize;
    }
    if (!(hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
        rc = SRL_ENOMEM;
        goto fail;
    }
    size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7;
    struct srl_atomic_file af;
    if ((rc = srl_atomic_open(&af, path)) < 0) goto fail;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int bad = fwrite(len8, 1, 8, af.fp) != 8 || fwrite(hdr, 1, hlen, af.fp) != hlen;
    for (size_t i = hlen; i < padded && !bad; i++) bad = fputc(' ', af.fp) == EOF;
    for (size_t i = 0; i < n && !bad; i++) {
        const struct srl_st_entry *e = order[i];
        size_t numel = 1;
        for (int d = 0; d < e->ndim; d++) numel *= (size_t)e->shape[d];
        bad = write_data(af.fp, e->data, numel, dtype) < 0;
    }
    if (bad) {
        srl_log_error("%s: write failed: %s", af.tmp_path, strerror(errno));
        srl_atomic_abort(&af);
        rc = SRL_EIO;
        goto fail;
    }
    rc = srl_atomic_commit(&af);
fail:
    if (rc == SRL_ENOMEM) srl_log_error("%s: out of memory", path);
    free(hdr);
    free(order);
    json_decref(meta);
    json_decref(root);
    return rc;
}

// --- a checkpoint directory: one file or shards ------------------------------------------------

struct srl_st_set {
    struct srl_st_file **files;
    size_t n_files;
    const struct srl_st_tensor **tensors; /* all tensors, by shard then offset */
    const struct srl_st_tensor **by_name;
    size_t n;
};

void srl_st_set_close(struct srl_st_set *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_files; i++) srl_st_close(s->files[i]);
    free(s->files);
    free(s->tensors);
    free(s->by_name);
    free(s);
}

static int set_add_file(struct srl_st_set *s, const char *path)
{
    int err;
    struct srl_st_file *f = srl_st_open(path, &err);
    if (!f) return err;
    s->files[s->n_files++] = f;
    return 0;
}

/* Open the shards listed by index (a model.safetensors.index.json). */
static int set_open_index(struct srl_st_set *s, const char *dir, const char *index)
{
    json_error_t jerr;
    json_t *root = json_load_file(index, JSON_REJECT_DUPLICATES, &jerr);
    int rc = SRL_EFORMAT;
    if (!root) {
        srl_log_error("%s:%d: not valid JSON: %s", index, jerr.line, jerr.text);
        return SRL_EFORMAT;
    }
    json_t *map = json_object_get(root, "weight_map");
    const char *name;
    json_t *v;
    if (!json_is_object(map)) {
        srl_log_error("%s: no \"weight_map\" object", index);
        goto out;
    }
    /* unique shard names, in first-seen order */
    json_t *shards = json_object();
    json_object_foreach(map, name, v) {
        const char *file = json_string_value(v);
        if (!file || !*file || strchr(file, '/')) {
            srl_log_error("%s: weight_map entry %s is not a file name", index, name);
            json_decref(shards);
            goto out;
        }
        json_object_set_new(shards, file, json_true());
    }
    s->files = calloc(json_object_size(shards) + 1, sizeof *s->files);
    if (!s->files) {
        json_decref(shards);
        rc = SRL_ENOMEM;
        goto out;
    }
    json_object_foreach(shards, name, v) {
        char *p = srl_path_join(dir, name);
        rc = p ? set_add_file(s, p) : SRL_ENOMEM;
        free(p);
        if (rc < 0) {
            json_decref(shards);
            goto out;
        }
    }
    json_decref(shards);
    /* every listed tensor must be in the shard the index names */
    json_object_foreach(map, name, v) {
        const struct srl_st_file *f = NULL;
        for (size_t i = 0; i < s->n_files; i++) {
            const char *p = srl_st_path(s->files[i]), *slash = strrchr(p, '/');
            if (strcmp(slash ? slash + 1 : p, json_string_value(v)) == 0) f = s->files[i];
        }
        if (!f || !srl_st_find(f, name)) {
            srl_log_error("%s: tensor %s: not found in %s", index, name, json_string_value(v));
            rc = SRL_EFORMAT;
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

struct srl_st_set *srl_st_set_open(const char *dir, int *err)
{
    int rc = SRL_ENOMEM;
    char *single = NULL, *index = NULL;
    struct srl_st_set *s = calloc(1, sizeof *s);
    struct stat st;
    if (!s) goto fail;
    if (stat(dir, &st) != 0) {
        srl_log_error("%s: cannot open: %s", dir, strerror(errno));
        rc = SRL_EIO;
        goto fail;
    }
    if (S_ISREG(st.st_mode)) {
        if (!(s->files = calloc(1, sizeof *s->files))) goto fail;
        if ((rc = set_add_file(s, dir)) < 0) goto fail;
    } else {
        single = srl_path_join(dir, "model.safetensors");
        index = srl_path_join(dir, "model.safetensors.index.json");
        if (!single || !index) goto fail;
        if (access(single, F_OK) == 0) {
            if (!(s->files = calloc(1, sizeof *s->files))) goto fail;
            if ((rc = set_add_file(s, single)) < 0) goto fail;
        } else if (access(index, F_OK) == 0) {
            if ((rc = set_open_index(s, dir, index)) < 0) goto fail;
        } else {
            srl_log_error("%s: neither model.safetensors nor model.safetensors.index.json",
                          dir);
            rc = SRL_EIO;
            goto fail;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < s->n_files; i++) total += srl_st_count(s->files[i]);
    s->tensors = calloc(total + 1, sizeof *s->tensors);
    s->by_name = calloc(total + 1, sizeof *s->by_name);
    if (!s->tensors || !s->by_name) {
        rc = SRL_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < s->n_files; i++)
        for (size_t j = 0; j < srl_st_count(s->files[i]); j++)
            s->tensors[s->n++] = srl_st_get(s->files[i], j);
    memcpy(s->by_name, s->tensors, s->n * sizeof *s->tensors);
    qsort(s->by_name, s->n, sizeof *s->by_name, cmp_name_ptr);
    for (size_t i = 1; i < s->n; i++)
        if (strcmp(s->by_name[i]->name, s->by_name[i - 1]->name) == 0) {
            srl_log_error("%s: tensor %s: appears in two shards", dir, s->by_name[i]->name);
            rc = SRL_EFORMAT;
            goto fail;
        }
    free(single);
    free(index);
    if (err) *err = 0;
    return s;
fail:
    if (rc == SRL_ENOMEM) srl_log_error("%s: out of memory", dir);
    free(single);
    free(index);
    srl_st_set_close(s);
    if (err) *err = rc;
    return NULL;
}

const struct srl_st_tensor *srl_st_set_find(const struct srl_st_set *s, const char *name)
{
    const struct srl_st_tensor *const *p =
        bsearch(name, s->by_name, s->n, sizeof *s->by_name, cmp_key_ptr);
    return p ? *p : NULL;
}

size_t srl_st_set_count(const struct srl_st_set *s) { return s->n; }

const struct srl_st_tensor *srl_st_set_get(const struct srl_st_set *s, size_t i)
{
    return i < s->n ? s->tensors[i] : NULL;
}
