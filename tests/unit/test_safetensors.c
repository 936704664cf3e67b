/* test_safetensors.c -- the safetensors reader against files written by Python's safetensors
 * (tests/ref/io, from scripts/make_io_fixtures.py), our writer round trips, dtype rounding
 * against torch, and malformed files built here. */
#include "test.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fileio.h"
#include "safetensors.h"
#include "srl.h"

static char tmpdir[256];

static int same_bits(float a, float b) { return memcmp(&a, &b, 4) == 0; }

static const struct srl_st_tensor *find(struct srl_st_file *f, const char *name)
{
    const struct srl_st_tensor *t = srl_st_find(f, name);
    if (!t) printf("  missing tensor %s\n", name);
    return t;
}

static void test_read_python_fixture(void)
{
    int err = 1;
    struct srl_st_file *f = srl_st_open("tests/ref/io/mixed.safetensors", &err);
    REQUIRE(f && err == 0);
    EXPECT(srl_st_count(f) == 10, "%zu", srl_st_count(f));
    EXPECT(strcmp(srl_st_path(f), "tests/ref/io/mixed.safetensors") == 0);
    EXPECT(srl_st_find(f, "__metadata__") == NULL && srl_st_find(f, "nope") == NULL);
    float buf[16];

    const struct srl_st_tensor *t = find(f, "a.f32");
    REQUIRE(t && t->dtype == SRL_DTYPE_F32 && t->ndim == 2 && t->shape[0] == 2 &&
            t->shape[1] == 3 && t->numel == 6 && t->nbytes == 24);
    REQUIRE(srl_st_to_f32(t, buf) == 0);
    const float a[] = { 0.0f, 1.0f, -2.5f, 3.25f, 1e-8f, -1e30f };
    for (int i = 0; i < 6; i++) EXPECT(same_bits(buf[i], a[i]), "a[%d]=%g", i, buf[i]);

    t = find(f, "b.bf16");
    REQUIRE(t && t->dtype == SRL_DTYPE_BF16 && t->numel == 8 && t->nbytes == 16);
    REQUIRE(srl_st_to_f32(t, buf) == 0);
    EXPECT(buf[0] == 1.0f && buf[1] == -0.5f && buf[2] == INFINITY && buf[3] == -INFINITY);
    EXPECT(isnan(buf[4]));
    EXPECT(fabsf(buf[5] - 3.0e38f) < 3e36f, "%g", buf[5]);  /* bf16 of 3e38 */
    EXPECT(buf[6] == ldexpf(1.0f, -130), "%g", buf[6]);      /* fp32 subnormal kept */
    EXPECT(buf[7] == 0.0f && signbit(buf[7]));

    t = find(f, "c.f16");
    REQUIRE(t && t->dtype == SRL_DTYPE_F16 && t->ndim == 2 && t->shape[0] == 2 && t->numel == 10);
    REQUIRE(srl_st_to_f32(t, buf) == 0);
    EXPECT(buf[0] == ldexpf(1.0f, -24), "%g", buf[0]);
    EXPECT(buf[1] == 3 * ldexpf(1.0f, -24), "%g", buf[1]);
    EXPECT(buf[2] == ldexpf(1.0f, -14) - ldexpf(1.0f, -24), "%g", buf[2]);
    EXPECT(buf[3] == ldexpf(1.0f, -14), "%g", buf[3]);
    EXPECT(buf[4] == 65504.0f && buf[5] == INFINITY && buf[6] == -INFINITY && isnan(buf[7]));
    EXPECT(buf[8] == 0.0f && signbit(buf[8]) && buf[9] == 0.333251953125f);

    t = find(f, "d.f64");
    REQUIRE(t && t->dtype == SRL_DTYPE_F64 && t->nbytes == 16 && srl_st_to_f32(t, buf) == 0);
    EXPECT(buf[0] == 0.1f && buf[1] == -7.0f);
    t = find(f, "e.i32");
    REQUIRE(t && t->dtype == SRL_DTYPE_I32);
    int32_t i32[3];
    memcpy(i32, t->data, sizeof i32);
    EXPECT(i32[0] == -3 && i32[1] == 0 && i32[2] == 2147483647);
    t = find(f, "f.i64");
    REQUIRE(t && t->dtype == SRL_DTYPE_I64 && t->shape[0] == 2 && t->shape[1] == 1);
    int64_t i64[2];
    memcpy(i64, t->data, sizeof i64);
    EXPECT(i64[0] == 5 && i64[1] == -6);
    REQUIRE(srl_st_to_f32(t, buf) == 0);
    EXPECT(buf[1] == -6.0f);
    t = find(f, "g.u8");
    REQUIRE(t && t->dtype == SRL_DTYPE_U8 && t->nbytes == 3);
    EXPECT(((const uint8_t *)t->data)[1] == 255);
    t = find(f, "h.bool");
    REQUIRE(t && t->dtype == SRL_DTYPE_BOOL && srl_st_to_f32(t, buf) == 0);
    EXPECT(buf[0] == 1.0f && buf[1] == 0.0f && buf[2] == 1.0f);
    t = find(f, "scalar");
    REQUIRE(t && t->ndim == 0 && t->numel == 1 && srl_st_to_f32(t, buf) == 0);
    EXPECT(buf[0] == 42.0f);
    t = find(f, "empty");
    REQUIRE(t && t->ndim == 2 && t->numel == 0 && t->nbytes == 0);
    srl_st_close(f);
    srl_st_close(NULL);
}

/* Our scalar rounding agrees bit for bit with torch's .to(bfloat16) / .to(float16). */
static void test_rounding_matches_torch(void)
{
    struct srl_st_file *f = srl_st_open("tests/ref/io/rounding.safetensors", NULL);
    REQUIRE(f);
    const struct srl_st_tensor *src = find(f, "src"), *bf = find(f, "bf16"), *hf = find(f, "f16");
    REQUIRE(src && bf && hf && src->numel == bf->numel && src->numel == hf->numel);
    size_t n = src->numel, bad_bf = 0, bad_hf = 0;
    for (size_t i = 0; i < n; i++) {
        float x;
        uint16_t b, h;
        memcpy(&x, (const char *)src->data + 4 * i, 4);
        memcpy(&b, (const char *)bf->data + 2 * i, 2);
        memcpy(&h, (const char *)hf->data + 2 * i, 2);
        if (srl_f32_to_bf16(x) != b && bad_bf++ < 3)
            printf("  bf16(%.9g): ours %04x torch %04x\n", x, srl_f32_to_bf16(x), b);
        if (srl_f32_to_f16(x) != h && bad_hf++ < 3)
            printf("  f16(%.9g): ours %04x torch %04x\n", x, srl_f32_to_f16(x), h);
    }
    EXPECT(n > 300 && bad_bf == 0 && bad_hf == 0, "n=%zu bf16 %zu f16 %zu", n, bad_bf, bad_hf);
    srl_st_close(f);
}

/* Every half value survives f16 -> f32 -> f16 (NaNs stay NaN). */
static void test_f16_all_values(void)
{
    size_t bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float x = srl_f16_to_f32((uint16_t)h);
        uint16_t back = srl_f32_to_f16(x);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan ? !(isnan(x) && (back & 0x7c00) == 0x7c00 && (back & 0x3ff)) : back != h)
            bad++;
        uint16_t b = (uint16_t)h;
        float y = srl_bf16_to_f32(b);
        if (!isnan(y) && srl_f32_to_bf16(y) != b) bad++;
    }
    EXPECT(bad == 0, "%zu values changed", bad);
    EXPECT(srl_f32_to_f16(1e-9f) == 0 && srl_f32_to_f16(-1e-9f) == 0x8000);
    EXPECT(srl_f32_to_bf16(NAN) != srl_f32_to_bf16(INFINITY) && isnan(srl_bf16_to_f32(
        srl_f32_to_bf16(NAN))));
}

static void write_entries(const char *path, enum srl_dtype dtype, int *rc)
{
    static const float x[] = { 1.0f, -2.0f, 0.1f, 65519.0f, 1e-7f, INFINITY, -INFINITY, NAN,
                               1.0f + 1.0f / 256 };
    static const float mat[] = { 0, 1, 2, 3, 4, 5 };
    static const float three = 3.0f;
    struct srl_st_entry e[3] = {
        { "z.mat", 2, { 2, 3 }, mat },
        { "m.x", 1, { 9 }, x },
        { "m.scalar", 0, { 0 }, &three },
    };
    *rc = srl_st_write(path, e, 3, dtype, "{\"format\":\"pt\"}");
}

static void test_write_read_round_trip(void)
{
    const enum srl_dtype dts[] = { SRL_DTYPE_F32, SRL_DTYPE_BF16, SRL_DTYPE_F16 };
    for (int k = 0; k < 3; k++) {
        char *p = srl_path_join(tmpdir, "rt.safetensors");
        int rc;
        write_entries(p, dts[k], &rc);
        REQUIRE(rc == 0, "write %s", srl_dtype_name(dts[k]));
        struct srl_st_file *f = srl_st_open(p, &rc);
        REQUIRE(f && rc == 0);
        EXPECT(srl_st_count(f) == 3);
        /* data order = name order; header length padded to 8 */
        EXPECT(strcmp(srl_st_get(f, 0)->name, "m.scalar") == 0 &&
               strcmp(srl_st_get(f, 2)->name, "z.mat") == 0);
        EXPECT(((uintptr_t)srl_st_get(f, 0)->data & 7) == 0, "data not 8-byte aligned");
        const struct srl_st_tensor *t = find(f, "m.x");
        REQUIRE(t && t->dtype == dts[k] && t->numel == 9);
        float got[9];
        REQUIRE(srl_st_to_f32(t, got) == 0);
        EXPECT(got[0] == 1.0f && got[1] == -2.0f && got[5] == INFINITY && got[6] == -INFINITY);
        EXPECT(isnan(got[7]));
        if (dts[k] == SRL_DTYPE_F32) EXPECT(got[2] == 0.1f && got[8] == 1.0f + 1.0f / 256);
        if (dts[k] == SRL_DTYPE_BF16) {
            EXPECT(got[2] == srl_bf16_to_f32(srl_f32_to_bf16(0.1f)) && got[2] != 0.1f);
            EXPECT(got[8] == 1.0f, "tie rounds to even: %g", got[8]);
        }
        if (dts[k] == SRL_DTYPE_F16) EXPECT(got[3] == 65504.0f && got[8] == 1.0f + 1.0f / 256);
        t = find(f, "z.mat");
        REQUIRE(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
        REQUIRE(srl_st_to_f32(t, got) == 0);
        EXPECT(got[5] == 5.0f);
        t = find(f, "m.scalar");
        REQUIRE(t && t->ndim == 0 && srl_st_to_f32(t, got) == 0 && got[0] == 3.0f);
        srl_st_close(f);
        free(p);
    }
}

static void test_write_errors_keep_old_file(void)
{
    char *p = srl_path_join(tmpdir, "keep.safetensors");
    int rc;
    write_entries(p, SRL_DTYPE_F32, &rc);
    REQUIRE(rc == 0);
    char *before;
    size_t len_before;
    REQUIRE(srl_read_file(p, &before, &len_before) == 0);
    const float v[2] = { 1, 2 };
    struct srl_st_entry dup[2] = { { "w", 1, { 1 }, v }, { "w", 1, { 1 }, v + 1 } };
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_st_write(p, dup, 2, SRL_DTYPE_F32, NULL) == SRL_EINVAL);
    EXPECT(srl_st_write(p, dup, 1, SRL_DTYPE_I32, NULL) == SRL_EINVAL);
    EXPECT(srl_st_write(p, dup, 1, SRL_DTYPE_F32, "[1]") == SRL_EINVAL);
    EXPECT(srl_st_write(p, dup, 1, SRL_DTYPE_F32, "{\"a\":1}") == SRL_EINVAL);
    struct srl_st_entry neg = { "n", 1, { -1 }, v };
    EXPECT(srl_st_write(p, &neg, 1, SRL_DTYPE_F32, NULL) == SRL_EINVAL);
    char *missing = srl_path_join(tmpdir, "no/dir/x.safetensors");
    EXPECT(srl_st_write(missing, dup, 1, SRL_DTYPE_F32, NULL) == SRL_EIO);
    srl_log_set_level(SRL_LOG_WARNING);
    char *after;
    size_t len_after;
    REQUIRE(srl_read_file(p, &after, &len_after) == 0);
    EXPECT(len_after == len_before && memcmp(before, after, len_before) == 0);
    free(before);
    free(after);
    free(missing);
    free(p);
}

static void test_sharded_set(void)
{
    int err = 1;
    struct srl_st_set *s = srl_st_set_open("tests/ref/io/sharded", &err);
    REQUIRE(s && err == 0);
    EXPECT(srl_st_set_count(s) == 3);
    const struct srl_st_tensor *t = srl_st_set_find(s, "lm_head.weight");
    REQUIRE(t && t->dtype == SRL_DTYPE_BF16 && t->numel == 2);
    float v[6];
    REQUIRE(srl_st_to_f32(t, v) == 0);
    EXPECT(v[0] == 0.5f && v[1] == -0.5f);
    t = srl_st_set_find(s, "model.embed_tokens.weight");
    REQUIRE(t && t->shape[0] == 3 && srl_st_to_f32(t, v) == 0 && v[5] == 5.0f);
    EXPECT(srl_st_set_find(s, "model.norm.weight") && !srl_st_set_find(s, "x"));
    EXPECT(srl_st_set_get(s, 3) == NULL && srl_st_set_get(s, 2) != NULL);
    srl_st_set_close(s);

    /* a directory with model.safetensors, and a file path */
    char *dir = srl_path_join(tmpdir, "single");
    REQUIRE(mkdir(dir, 0777) == 0);
    char *p = srl_path_join(dir, "model.safetensors");
    write_entries(p, SRL_DTYPE_BF16, &err);
    REQUIRE(err == 0);
    s = srl_st_set_open(dir, &err);
    REQUIRE(s && srl_st_set_count(s) == 3 && srl_st_set_find(s, "z.mat"));
    srl_st_set_close(s);
    s = srl_st_set_open(p, &err);
    REQUIRE(s && srl_st_set_count(s) == 3);
    srl_st_set_close(s);
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(!srl_st_set_open(tmpdir, &err) && err == SRL_EIO);
    srl_log_set_level(SRL_LOG_WARNING);
    free(p);
    free(dir);
}

// --- malformed files -------------------------------------------------------------------------

/* Write 8-byte length + header (+ pad) + ndata bytes of data. */
static char *make_file(const char *name, const char *header, size_t ndata, long len_override)
{
    char *p = srl_path_join(tmpdir, name);
    FILE *fp = fopen(p, "wb");
    uint64_t n = len_override >= 0 ? (uint64_t)len_override : strlen(header);
    fwrite(&n, 8, 1, fp);
    fputs(header, fp);
    for (size_t i = 0; i < ndata; i++) fputc((int)i, fp);
    fclose(fp);
    return p;
}

/* Open PATH expecting failure with code want; the error message must name the file and
 * (when tensor is not NULL) the tensor. */
static int expect_bad(const char *path, int want, const char *tensor)
{
    fflush(stderr);
    int saved = dup(2);
    char *log = srl_path_join(tmpdir, "stderr.txt");
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    int err = 0;
    struct srl_st_file *f = srl_st_open(path, &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *msg = NULL;
    srl_read_file(log, &msg, NULL);
    if (getenv("SHOW_ERRORS")) printf("  %s", msg ? msg : "");
    int ok = f == NULL && err == want && msg && strstr(msg, path) &&
             (!tensor || strstr(msg, tensor)) && strchr(msg, '\n') == msg + strlen(msg) - 1;
    if (!ok) printf("  %s: err %d (want %d), message: %s\n", path, err, want, msg ? msg : "");
    srl_st_close(f);
    free(msg);
    free(log);
    return ok;
}

static void test_malformed_files(void)
{
    struct {
        const char *name, *header;
        size_t ndata;
        long len;
        int err;
        const char *tensor;
    } cases[] = {
        { "short", "", 0, 3, SRL_EFORMAT, NULL }, /* fixed below: a 5-byte file */
        { "hlen_past_end", "{}", 0, 1000, SRL_EFORMAT, NULL },
        { "not_json", "{\"a\": {\"dtype\": \"F32\"", 0, -1, SRL_EFORMAT, NULL },
        { "json_array", "[1, 2]", 0, -1, SRL_EFORMAT, NULL },
        { "past_end", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, -1,
          SRL_EFORMAT, "w" },
        { "end_lt_begin", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, -1,
          SRL_EFORMAT, "w" },
        { "size_mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
          -1, SRL_EFORMAT, "w" },
        { "bf16_size", "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16,
          -1, SRL_EFORMAT, "w" },
        { "overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, -1,
          SRL_EFORMAT, "b" },
        { "gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, -1,
          SRL_EFORMAT, "b" },
        { "not_from_zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
          -1, SRL_EFORMAT, "a" },
        { "trailing", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12, -1,
          SRL_EFORMAT, NULL },
        { "unknown_dtype", "{\"w\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
          -1, SRL_EFORMAT, "w" },
        { "i8_dtype", "{\"w\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4, -1,
          SRL_EUNSUPPORTED, "w" },
        { "neg_shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, -1,
          SRL_EFORMAT, "w" },
        { "huge_shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                        "\"data_offsets\":[0,4]}}", 4, -1, SRL_EFORMAT, "w" },
        { "bytes_overflow", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
                            "\"data_offsets\":[0,4]}}", 4, -1, SRL_EFORMAT, "w" },
        { "too_many_dims", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                           "\"data_offsets\":[0,4]}}", 4, -1, SRL_EFORMAT, "w" },
        { "shape_not_array", "{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", 4,
          -1, SRL_EFORMAT, "w" },
        { "float_offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}",
          4, -1, SRL_EFORMAT, "w" },
        { "one_offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, -1,
          SRL_EFORMAT, "w" },
        { "no_dtype", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, -1, SRL_EFORMAT, "w" },
        { "entry_not_object", "{\"w\":[1]}", 0, -1, SRL_EFORMAT, "w" },
        { "duplicate", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, -1,
          SRL_EFORMAT, NULL },
        { "meta_not_object", "{\"__metadata__\":3}", 0, -1, SRL_EFORMAT, NULL },
    };
    srl_log_set_level(SRL_LOG_ERROR);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = make_file(cases[i].name, cases[i].header, cases[i].ndata, cases[i].len);
        if (i == 0) EXPECT(truncate(p, 5) == 0);
        EXPECT(expect_bad(p, cases[i].err, cases[i].tensor), "case %s", cases[i].name);
        free(p);
    }
    /* a valid file truncated by a few bytes */
    char *p = srl_path_join(tmpdir, "trunc.safetensors");
    int rc;
    write_entries(p, SRL_DTYPE_F32, &rc);
    REQUIRE(rc == 0);
    struct stat st;
    REQUIRE(stat(p, &st) == 0 && truncate(p, st.st_size - 3) == 0);
    EXPECT(expect_bad(p, SRL_EFORMAT, "z.mat"), "truncated file");
    free(p);
    p = srl_path_join(tmpdir, "does-not-exist.safetensors");
    EXPECT(expect_bad(p, SRL_EIO, NULL));
    free(p);
    srl_log_set_level(SRL_LOG_WARNING);
}

/* Every truncation and many single-byte corruptions of a valid file: an error or a file whose
 * tensors all lie inside it, never a crash (run under ASan to make this bite). */
static void test_corruptions_never_crash(void)
{
    char *data = NULL;
    size_t len;
    REQUIRE(srl_read_file("tests/ref/io/mixed.safetensors", &data, &len) == 0);
    char *p = srl_path_join(tmpdir, "fuzz.safetensors");
    size_t opened = 0, rejected = 0;
    srl_log_set_level(SRL_LOG_OFF);
    for (size_t cut = 0; cut < len; cut += 7) {
        REQUIRE(srl_write_file_atomic(p, data, cut) == 0);
        struct srl_st_file *f = srl_st_open(p, NULL);
        if (f) opened++;
        else rejected++;
        srl_st_close(f);
    }
    EXPECT(opened == 0, "%zu truncated files accepted", opened);
    uint32_t rng = 12345;
    for (int k = 0; k < 400; k++) {
        char *copy = malloc(len);
        memcpy(copy, data, len);
        rng = rng * 1664525u + 1013904223u;
        size_t at = 8 + (rng >> 8) % 300; /* inside the header */
        rng = rng * 1664525u + 1013904223u;
        copy[at] = (char)(rng >> 24);
        REQUIRE(srl_write_file_atomic(p, copy, len) == 0);
        struct srl_st_file *f = srl_st_open(p, NULL);
        if (f) {
            float buf[64];
            for (size_t i = 0; i < srl_st_count(f); i++) {
                const struct srl_st_tensor *t = srl_st_get(f, i);
                if (t->numel <= 64) srl_st_to_f32(t, buf);
            }
        }
        srl_st_close(f);
        free(copy);
    }
    srl_log_set_level(SRL_LOG_WARNING);
    EXPECT(rejected > 0);
    free(p);
    free(data);
}

/* For scripts/make_io_fixtures.py --check-ours: our writer's files for Python to read. */
static int write_for_python(const char *dir)
{
    const char *names[] = { "ours_f32.safetensors", "ours_bf16.safetensors",
                            "ours_f16.safetensors" };
    const enum srl_dtype dts[] = { SRL_DTYPE_F32, SRL_DTYPE_BF16, SRL_DTYPE_F16 };
    for (int k = 0; k < 3; k++) {
        char *p = srl_path_join(dir, names[k]);
        int rc;
        write_entries(p, dts[k], &rc);
        free(p);
        if (rc < 0) return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-for-python") == 0) return write_for_python(argv[2]);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_safetensors.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    RUN(test_read_python_fixture);
    RUN(test_rounding_matches_torch);
    RUN(test_f16_all_values);
    RUN(test_write_read_round_trip);
    RUN(test_write_errors_keep_old_file);
    RUN(test_sharded_set);
    RUN(test_malformed_files);
    RUN(test_corruptions_never_crash);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return test_summary();
}
