/* jsonl.c -- JSON Lines / JSON array record reader (gzip transparent) and the JSON value API
 * over Jansson. */
#include "jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "jsonl_internal.h"
#include "srl.h"

#define CHUNK (1 << 16)
#define RD_EOF (-1)
#define RD_ERR (-2)

/* The opaque handle is the json_t itself. */
#define J(v) ((json_t *)(v))
#define S(v) ((struct srl_json *)(v))

// --- reader ----------------------------------------------------------------------------------

struct srl_jsonl *srl_jsonl_open(const char *path, int *err)
{
    return srl_jsonl_open_opts(path, NULL, err);
}

struct srl_jsonl *srl_jsonl_open_opts(const char *path, const struct srl_jsonl_opts *o,
                                      int *err)
{
    struct srl_jsonl *r = calloc(1, sizeof *r);
    int fd = -1;
    if (r && o) r->opts = *o;
    if (!r || !(r->path = strdup(path)) || !(r->buf = malloc(CHUNK)) ||
        !(r->rec = malloc(r->rec_cap = 4096)) ||
        (r->opts.field && !(r->opts.field = r->field_copy = strdup(r->opts.field)))) {
        srl_log_error("%s: out of memory", path);
        if (err) *err = SRL_ENOMEM;
        srl_jsonl_close(r);
        return NULL;
    }
    r->line = 1;
    if (strcmp(path, "-") == 0) {
        fd = dup(STDIN_FILENO);
    } else {
        fd = open(path, O_RDONLY);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
            close(fd);
            fd = -1;
            errno = EISDIR;
        }
    }
    if (fd < 0 || !(r->gz = gzdopen(fd, "rb"))) {
        srl_log_error("%s: cannot open: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        if (err) *err = SRL_EIO;
        srl_jsonl_close(r);
        return NULL;
    }
    gzbuffer(r->gz, 1 << 17);
    if (err) *err = 0;
    return r;
}

void srl_jsonl_close(struct srl_jsonl *r)
{
    if (!r) return;
    if (r->gz) gzclose(r->gz);
    jsonl_list_free(r);
    free(r->field_copy);
    free(r->path);
    free(r->buf);
    free(r->rec);
    free(r);
}

bool srl_jsonl_recoverable(const struct srl_jsonl *r) { return r->recoverable; }
long srl_jsonl_line(const struct srl_jsonl *r) { return r->rec_line; }
const char *srl_jsonl_path(const struct srl_jsonl *r) { return r->path; }
bool srl_jsonl_is_array(const struct srl_jsonl *r) { return r->mode == MODE_ARRAY; }

const char *srl_jsonl_format(const struct srl_jsonl *r)
{
    return r->mode == MODE_ARRAY ? "a JSON array" : r->mode == MODE_LIST ? r->list_what
                                                                          : "JSON Lines";
}

/* A stream error: logged once, returned by every later call. */
int jsonl_fatal(struct srl_jsonl *r, int err, long line, const char *what)
{
    srl_log_error("%s:%ld: %s", r->path, line, what);
    r->dead = err;
    r->recoverable = false;
    return err;
}

static int fill(struct srl_jsonl *r)
{
    if (r->eof) return 0;
    int n = gzread(r->gz, r->buf, CHUNK);
    if (n < 0) {
        int zerr;
        const char *msg = gzerror(r->gz, &zerr);
        char what[256];
        snprintf(what, sizeof what, "read failed: %s",
                 zerr == Z_ERRNO ? strerror(errno) : msg);
        jsonl_fatal(r, SRL_EIO, r->line, what);
        return RD_ERR;
    }
    if (n == 0) {
        int zerr;
        gzerror(r->gz, &zerr);
        if (zerr == Z_BUF_ERROR) { /* gzip stream ended early */
            jsonl_fatal(r, SRL_EFORMAT, r->line, "truncated gzip file");
            return RD_ERR;
        }
        r->eof = 1;
    }
    r->pos = 0;
    r->len = (size_t)n;
    return n;
}

static inline int rd_getc(struct srl_jsonl *r)
{
    if (r->pos == r->len) {
        int n = fill(r);
        if (n <= 0) return n < 0 ? RD_ERR : RD_EOF;
    }
    int c = r->buf[r->pos++];
    if (c == '\n') r->line++;
    return c;
}

/* Put back the byte just read (never a newline). */
static inline void rd_unget(struct srl_jsonl *r) { r->pos--; }

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int skip_space(struct srl_jsonl *r)
{
    int c;
    do c = rd_getc(r);
    while (is_space(c));
    return c;
}

static int rec_push(struct srl_jsonl *r, int c)
{
    if (r->rec_len + 1 >= r->rec_cap) {
        char *p = realloc(r->rec, r->rec_cap * 2);
        if (!p) {
            srl_log_error("%s:%ld: out of memory", r->path, r->rec_line);
            r->dead = SRL_ENOMEM;
            return SRL_ENOMEM;
        }
        r->rec = p;
        r->rec_cap *= 2;
    }
    r->rec[r->rec_len++] = (char)c;
    return 0;
}

int jsonl_read_rest(struct srl_jsonl *r)
{
    int c;
    if (rec_push(r, '\n') < 0) return r->dead;
    while ((c = rd_getc(r)) >= 0)
        if (rec_push(r, c) < 0) return r->dead;
    return c == RD_ERR ? r->dead : 0;
}

int jsonl_at_end(struct srl_jsonl *r)
{
    int c = skip_space(r);
    if (c == RD_ERR) return r->dead;
    if (c == RD_EOF) return 1;
    rd_unget(r);
    return 0;
}

const char *jsonl_type_name(const json_t *v)
{
    static const char *names[] = { "an object", "an array", "a string", "an integer",
                                   "a number", "true", "false", "null" };
    return names[json_typeof(v)];
}

/* A record value: an object, or a string when the options take strings. */
int jsonl_check_record(struct srl_jsonl *r, json_t *v, long line, struct srl_json **rec)
{
    r->recoverable = true;
    if (!json_is_object(v) && !(r->opts.strings && json_is_string(v))) {
        srl_log_error("%s:%ld: record is not a JSON object%s (found %s)", r->path, line,
                      r->opts.strings ? " or string" : "", jsonl_type_name(v));
        json_decref(v);
        return SRL_EFORMAT;
    }
    *rec = S(v);
    r->n_records++;
    return 0;
}

/* Parse the record text; a bad record is a recoverable SRL_EFORMAT.  The first line of a file
 * that is not a whole JSON value may begin a JSON document over several lines
 * (jsonl_document). */
static int parse_record(struct srl_jsonl *r, struct srl_json **rec)
{
    json_error_t jerr;
    json_t *v = json_loadb(r->rec, r->rec_len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    r->recoverable = true;
    if (!v && r->mode == MODE_LINES && r->n_records == 0 && !r->seen_bad &&
        json_error_code(&jerr) == json_error_premature_end_of_input)
        return jsonl_document(r, rec);
    if (!v) {
        r->seen_bad = true;
        srl_log_error("%s:%ld: not valid JSON: %s", r->path, r->rec_line + jerr.line - 1,
                      jerr.text);
        return SRL_EFORMAT;
    }
    int container = r->mode == MODE_LINES && r->n_records == 0 && json_is_object(v)
                    ? jsonl_single_container(r, v) : 0;
    if (container < 0) {
        json_decref(v);
        return container;
    }
    if (container) return jsonl_list_begin(r, v, r->rec_line, rec);
    return jsonl_check_record(r, v, r->rec_line, rec);
}

/* Decide JSON Lines or array from the first non-space byte (after a UTF-8 BOM). */
static int detect(struct srl_jsonl *r)
{
    int c = rd_getc(r);
    if (c == 0xEF) {
        int c2 = rd_getc(r), c3 = rd_getc(r);
        if (c2 != 0xBB || c3 != 0xBF)
            return jsonl_fatal(r, SRL_EFORMAT, 1, "not JSON (bad byte order mark)");
        c = rd_getc(r);
    }
    while (is_space(c)) c = rd_getc(r);
    if (c == RD_ERR) return r->dead;
    if (c == '[') {
        r->mode = MODE_ARRAY;
        r->state = ARR_FIRST;
        if (r->opts.field) return jsonl_not_a_container(r);
    } else {
        r->mode = MODE_LINES;
        if (c != RD_EOF) rd_unget(r);
    }
    return 0;
}

static int next_line(struct srl_jsonl *r, struct srl_json **rec)
{
    for (;;) {
        r->rec_len = 0;
        r->rec_line = r->line;
        int c, blank = 1;
        while ((c = rd_getc(r)) >= 0 && c != '\n') {
            if (rec_push(r, c) < 0) return r->dead;
            if (!is_space(c)) blank = 0;
        }
        if (c == RD_ERR) return r->dead;
        if (blank) {
            if (c == RD_EOF) return SRL_EOF;
            continue;
        }
        return parse_record(r, rec);
    }
}

static int next_element(struct srl_jsonl *r, struct srl_json **rec)
{
    int c = skip_space(r);
    if (c == RD_ERR) return r->dead;
    if (r->state == ARR_DONE) {
        if (c == RD_EOF) return SRL_EOF;
        return jsonl_fatal(r, SRL_EFORMAT, r->line, "unexpected data after the JSON array");
    }
    if (c == RD_EOF) return jsonl_fatal(r, SRL_EFORMAT, r->line, "truncated JSON array (no closing ']')");
    if (c == ']') {
        r->state = ARR_DONE;
        return next_element(r, rec);
    }
    if (r->state == ARR_AFTER) {
        if (c != ',')
            return jsonl_fatal(r, SRL_EFORMAT, r->line, "expected ',' or ']' in the JSON array");
        c = skip_space(r);
        if (c == RD_ERR) return r->dead;
        if (c == RD_EOF)
            return jsonl_fatal(r, SRL_EFORMAT, r->line, "truncated JSON array (no closing ']')");
        if (c == ']' || c == ',')
            return jsonl_fatal(r, SRL_EFORMAT, r->line, "missing element in the JSON array");
    }
    /* one element: up to a ',' or ']' outside strings and nested brackets */
    r->rec_len = 0;
    r->rec_line = r->line;
    int depth = 0, in_string = 0, escape = 0;
    for (;; c = rd_getc(r)) {
        if (c == RD_ERR) return r->dead;
        if (c == RD_EOF)
            return jsonl_fatal(r, SRL_EFORMAT, r->rec_line, "truncated JSON array (no closing ']')");
        if (in_string) {
            if (escape) escape = 0;
            else if (c == '\\') escape = 1;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) {
                rd_unget(r);
                break;
            }
            depth--;
        } else if (c == ',' && depth == 0) {
            rd_unget(r);
            break;
        }
        if (rec_push(r, c) < 0) return r->dead;
    }
    r->state = ARR_AFTER;
    return parse_record(r, rec);
}

int srl_jsonl_next(struct srl_jsonl *r, struct srl_json **rec)
{
    *rec = NULL;
    if (r->dead) return r->dead;
    r->recoverable = false;
    if (r->mode == MODE_UNKNOWN) {
        int rc = detect(r);
        if (rc < 0) return rc;
    }
    if (r->mode == MODE_LIST) return jsonl_list_next(r, rec);
    return r->mode == MODE_ARRAY ? next_element(r, rec) : next_line(r, rec);
}

// --- values ----------------------------------------------------------------------------------

struct srl_json *srl_json_parse(const char *text, size_t len, const char *where, int *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    if (!v) {
        srl_log_error("%s%snot valid JSON: %s (line %d, column %d)", where ? where : "",
                      where ? ": " : "", jerr.text, jerr.line, jerr.column);
        if (err) *err = SRL_EFORMAT;
        return NULL;
    }
    if (err) *err = 0;
    return S(v);
}

struct srl_json *srl_json_incref(struct srl_json *v) { return S(json_incref(J(v))); }
void srl_json_decref(struct srl_json *v) { json_decref(J(v)); }

struct srl_json *srl_json_new_object(void) { return S(json_object()); }
struct srl_json *srl_json_new_array(void) { return S(json_array()); }
struct srl_json *srl_json_new_string(const char *s) { return S(json_string(s)); }
struct srl_json *srl_json_new_integer(long long x) { return S(json_integer(x)); }
struct srl_json *srl_json_new_number(double x) { return isfinite(x) ? S(json_real(x)) : NULL; }

bool srl_json_is_object(const struct srl_json *v) { return v && json_is_object(J(v)); }
bool srl_json_is_array(const struct srl_json *v) { return v && json_is_array(J(v)); }
bool srl_json_is_string(const struct srl_json *v) { return v && json_is_string(J(v)); }
bool srl_json_is_number(const struct srl_json *v) { return v && json_is_number(J(v)); }
bool srl_json_is_integer(const struct srl_json *v) { return v && json_is_integer(J(v)); }
bool srl_json_is_bool(const struct srl_json *v) { return v && json_is_boolean(J(v)); }
bool srl_json_is_null(const struct srl_json *v) { return v && json_is_null(J(v)); }

struct srl_json *srl_json_get(const struct srl_json *obj, const char *key)
{
    return obj && json_is_object(J(obj)) ? S(json_object_get(J(obj), key)) : NULL;
}

const char *srl_json_string(const struct srl_json *v)
{
    return v && json_is_string(J(v)) ? json_string_value(J(v)) : NULL;
}

size_t srl_json_string_length(const struct srl_json *v)
{
    return v && json_is_string(J(v)) ? json_string_length(J(v)) : 0;
}

long long srl_json_integer(const struct srl_json *v)
{
    return v && json_is_integer(J(v)) ? (long long)json_integer_value(J(v)) : 0;
}

double srl_json_number(const struct srl_json *v)
{
    return v && json_is_number(J(v)) ? json_number_value(J(v)) : 0.0;
}

bool srl_json_boolean(const struct srl_json *v) { return v && json_is_true(J(v)); }

size_t srl_json_array_size(const struct srl_json *v)
{
    return v && json_is_array(J(v)) ? json_array_size(J(v)) : 0;
}

struct srl_json *srl_json_array_at(const struct srl_json *v, size_t i)
{
    return v && json_is_array(J(v)) ? S(json_array_get(J(v), i)) : NULL;
}

int srl_json_array_append(struct srl_json *arr, struct srl_json *v)
{
    if (!arr || !json_is_array(J(arr)) || !v) {
        json_decref(J(v));
        return SRL_EINVAL;
    }
    return json_array_append_new(J(arr), J(v)) == 0 ? 0 : SRL_ENOMEM;
}

size_t srl_json_object_size(const struct srl_json *v)
{
    return v && json_is_object(J(v)) ? json_object_size(J(v)) : 0;
}

static void *object_iter_at(const struct srl_json *v, size_t i)
{
    if (!v || !json_is_object(J(v))) return NULL;
    void *it = json_object_iter(J(v));
    while (it && i--) it = json_object_iter_next(J(v), it);
    return it;
}

const char *srl_json_object_key_at(const struct srl_json *v, size_t i)
{
    void *it = object_iter_at(v, i);
    return it ? json_object_iter_key(it) : NULL;
}

struct srl_json *srl_json_object_value_at(const struct srl_json *v, size_t i)
{
    void *it = object_iter_at(v, i);
    return it ? S(json_object_iter_value(it)) : NULL;
}

int srl_json_object_set(struct srl_json *obj, const char *key, struct srl_json *v)
{
    if (!obj || !json_is_object(J(obj)) || !v || !key) {
        json_decref(J(v));
        return SRL_EINVAL;
    }
    return json_object_set_new(J(obj), key, J(v)) == 0 ? 0 : SRL_ENOMEM;
}

int srl_json_object_set_string(struct srl_json *obj, const char *key, const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    if (s && !v) {
        srl_log_error("json: value of \"%s\" is not valid UTF-8", key);
        return SRL_EINVAL;
    }
    return srl_json_object_set(obj, key, S(v));
}

int srl_json_object_set_integer(struct srl_json *obj, const char *key, long long x)
{
    return srl_json_object_set(obj, key, S(json_integer(x)));
}

int srl_json_object_set_number(struct srl_json *obj, const char *key, double x)
{
    if (!isfinite(x)) {
        srl_log_error("json: value of \"%s\" is not finite (%g)", key, x);
        return SRL_EINVAL;
    }
    return srl_json_object_set(obj, key, S(json_real(x)));
}

int srl_json_object_set_bool(struct srl_json *obj, const char *key, bool x)
{
    return srl_json_object_set(obj, key, S(json_boolean(x)));
}

int srl_json_object_set_null(struct srl_json *obj, const char *key)
{
    return srl_json_object_set(obj, key, S(json_null()));
}

int srl_json_object_del(struct srl_json *obj, const char *key)
{
    return obj && json_is_object(J(obj)) && json_object_del(J(obj), key) == 0 ? 0 : SRL_EINVAL;
}

// --- serialisation ---------------------------------------------------------------------------

struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void dump_string(struct sbuf *b, const char *s, size_t n)
{
    sb_add(b, "\"", 1);
    size_t run = 0; /* bytes copied as they are */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", c);
                esc = u;
            }
        }
        if (esc) {
            sb_add(b, s + i - run, run);
            run = 0;
            sb_str(b, esc);
        } else {
            run++;
        }
    }
    sb_add(b, s + n - run, run);
    sb_add(b, "\"", 1);
}

static void dump_real(struct sbuf *b, double x)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    if (!strpbrk(buf, ".eEn")) strcat(buf, ".0"); /* stays a real when read back */
    sb_str(b, buf);
}

static void dump_value(struct sbuf *b, const json_t *v)
{
    char buf[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        sb_add(b, "{", 1);
        int first = 1;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (!first) sb_add(b, ",", 1);
            first = 0;
            dump_string(b, k, strlen(k));
            sb_add(b, ":", 1);
            dump_value(b, x);
        }
        sb_add(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        sb_add(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) sb_add(b, ",", 1);
            dump_value(b, json_array_get(v, i));
        }
        sb_add(b, "]", 1);
        break;
    case JSON_STRING: dump_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        sb_str(b, buf);
        break;
    case JSON_REAL: dump_real(b, json_real_value(v)); break;
    case JSON_TRUE: sb_str(b, "true"); break;
    case JSON_FALSE: sb_str(b, "false"); break;
    case JSON_NULL: sb_str(b, "null"); break;
    }
}

char *srl_json_dumps(const struct srl_json *v)
{
    struct sbuf b = { 0 };
    if (!v) return NULL;
    dump_value(&b, J(v));
    if (b.oom) {
        free(b.p);
        srl_log_error("json: out of memory");
        return NULL;
    }
    return b.p;
}

int srl_json_dump(const struct srl_json *v, FILE *fp)
{
    char *s = srl_json_dumps(v);
    if (!s) return SRL_ENOMEM;
    size_t n = strlen(s);
    int bad = fwrite(s, 1, n, fp) != n || fputc('\n', fp) == EOF;
    free(s);
    return bad ? SRL_EIO : 0;
}
