/* packing.c -- documents -> packed token stream on disk -> windows (see packing.h). */
#include "packing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "jsonl.h"
#include "rng.h"
#include "srl.h"

const char *const srl_pack_default_fields[] = {
    "text", "prompt", "instruction", "input", "output", "response",
    "response_0", "response_1", "chosen", "rejected", "messages",
};
const size_t srl_pack_n_default_fields =
    sizeof srl_pack_default_fields / sizeof *srl_pack_default_fields;

enum { PACK_BUF = 1 << 16 }; /* tokens buffered before a write */

// --- the token file --------------------------------------------------------------------------

int srl_pack_open(struct srl_pack *p)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    memset(p, 0, sizeof *p);
    p->fd = -1;
    if (!(p->buf = malloc(PACK_BUF * sizeof *p->buf))) return SRL_ENOMEM;
    snprintf(path, sizeof path, "%s/saferlhf-pack-XXXXXX", dir && *dir ? dir : "/tmp");
    if ((p->fd = mkstemp(path)) < 0) {
        srl_log_error("cannot create a temporary file in %s: %s", dir && *dir ? dir : "/tmp",
                      strerror(errno));
        srl_pack_close(p);
        return SRL_EIO;
    }
    unlink(path); /* gone with the process */
    return 0;
}

void srl_pack_close(struct srl_pack *p)
{
    if (!p) return;
    if (p->buf && p->fd >= 0) close(p->fd); /* buf: opened (a zeroed pack has fd 0) */
    free(p->buf);
    memset(p, 0, sizeof *p);
    p->fd = -1;
}

int srl_pack_flush(struct srl_pack *p)
{
    const char *b = (const char *)p->buf;
    size_t left = p->n_buf * sizeof *p->buf;
    while (left > 0) {
        ssize_t w = write(p->fd, b, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            srl_log_error("cannot write the packed token file: %s", strerror(errno));
            return SRL_EIO;
        }
        b += w;
        left -= (size_t)w;
    }
    p->n_buf = 0;
    return 0;
}

static int push_tokens(struct srl_pack *p, const int *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p->n_buf == PACK_BUF) {
            int rc = srl_pack_flush(p);
            if (rc < 0) return rc;
        }
        p->buf[p->n_buf++] = (int32_t)ids[i];
    }
    p->n_tokens += n;
    return 0;
}

size_t srl_pack_n_windows(const struct srl_pack *p, int T)
{
    return p->n_tokens > 1 && T >= 2 ? (p->n_tokens - 1) / (size_t)(T - 1) : 0;
}

int srl_pack_windows(const struct srl_pack *p, int T, const size_t *idx, size_t n,
                     struct srl_sft_set *out)
{
    int32_t *ids = malloc((size_t)T * sizeof *ids);
    uint8_t *train = malloc((size_t)T);
    int rc = ids && train ? 0 : SRL_ENOMEM;
    if (train) memset(train, 1, (size_t)T);
    out->n = out->n_tokens = 0;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        /* window idx[k]: tokens [i (T-1), i (T-1) + T) */
        off_t at = (off_t)(idx[k] * (size_t)(T - 1) * sizeof *ids);
        size_t want = (size_t)T * sizeof *ids, got = 0;
        if (idx[k] >= srl_pack_n_windows(p, T)) rc = SRL_EINVAL;
        while (rc == 0 && got < want) {
            ssize_t r = pread(p->fd, (char *)ids + got, want - got, at + (off_t)got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                srl_log_error("cannot read the packed token file: %s",
                              r < 0 ? strerror(errno) : "unexpected end");
                rc = SRL_EIO;
            } else {
                got += (size_t)r;
            }
        }
        if (rc == 0) rc = srl_sft_append(out, ids, train, (size_t)T, (long)idx[k]);
    }
    free(ids);
    free(train);
    return rc;
}

// --- documents -------------------------------------------------------------------------------

/* Append s (len bytes) to the growing string *text of *n bytes, after sep when *n > 0. */
static int append_text(char **text, size_t *n, const char *sep, const char *s, size_t len)
{
    size_t ls = *n ? strlen(sep) : 0;
    char *t = realloc(*text, *n + ls + len + 1);
    if (!t) return SRL_ENOMEM;
    memcpy(t + *n, sep, ls);
    memcpy(t + *n + ls, s, len);
    *n += ls + len;
    t[*n] = '\0';
    *text = t;
    return 0;
}

/* Append the text of a field's value: a string, or a list of strings or of {content} messages
 * (each a part).  Returns 0, 1 when the value has no text of that shape, or SRL_ENOMEM. */
static int append_value(char **text, size_t *n, const struct srl_json *v)
{
    if (srl_json_is_string(v))
        return srl_json_string_length(v) == 0
                   ? 0 : append_text(text, n, "\n\n", srl_json_string(v),
                                     srl_json_string_length(v));
    if (!srl_json_is_array(v)) return 1;
    for (size_t i = 0; i < srl_json_array_size(v); i++) {
        const struct srl_json *e = srl_json_array_at(v, i);
        if (srl_json_is_object(e)) e = srl_json_get(e, "content");
        if (!srl_json_is_string(e)) return 1;
        int rc = append_value(text, n, e);
        if (rc < 0) return rc;
    }
    return 0;
}

int srl_record_text(const struct srl_json *rec, const char *const *fields, size_t n_fields,
                    const char *where, char **text)
{
    size_t n = 0;
    bool found = false;
    int rc = 0;
    *text = NULL;
    if (srl_json_is_string(rec)) return append_value(text, &n, rec);
    for (size_t i = 0; rc == 0 && i < n_fields; i++) {
        const struct srl_json *v = srl_json_get(rec, fields[i]);
        if (!v || srl_json_is_null(v)) continue;
        found = true;
        if ((rc = append_value(text, &n, v)) == 1) {
            srl_log_error("%s: the text field \"%s\" is not a string nor a list of strings or "
                          "messages", where, fields[i]);
            rc = SRL_EFORMAT;
        }
    }
    if (rc == 0 && !found) {
        srl_log_error("%s: the record has none of the text fields (%s%s)", where, fields[0],
                      n_fields > 1 ? ", ..." : "");
        rc = SRL_EFORMAT;
    }
    if (rc < 0) {
        free(*text);
        *text = NULL;
    }
    return rc;
}

/* Whether document k is held out. */
static bool held_out(const struct srl_pack_opts *o, size_t k)
{
    if (o->eval_ratio <= 0) return false;
    struct srl_rng r;
    srl_rng_seed(&r, o->seed ^ (0x9e3779b97f4a7c15ULL * ((uint64_t)k + 1)));
    return srl_rng_uniform(&r) < o->eval_ratio;
}

/* Tokenize one document and append it (with EOS) to the pack it belongs to. */
static int pack_doc(struct srl_pack *train, struct srl_pack *eval, const char *text,
                    const struct srl_pack_opts *o, const char *where)
{
    struct srl_pack *p = held_out(o, train->n_docs + (eval ? eval->n_docs : 0)) ? eval : train;
    int bos = srl_tokenizer_bos_id(o->tok), eos = srl_tokenizer_eos_id(o->tok), *ids = NULL;
    int n = srl_tokenizer_encode(o->tok, text, strlen(text), 1, &ids), rc;
    if (n < 0) {
        srl_log_error("%s: cannot tokenize the text", where);
        return n;
    }
    int skip = n > 0 && bos == eos && ids[0] == bos; /* <|endoftext|> separates already */
    rc = push_tokens(p, ids + skip, (size_t)(n - skip));
    if (rc == 0 && (n == 0 || ids[n - 1] != eos)) rc = push_tokens(p, &eos, 1);
    free(ids);
    if (rc == 0) p->n_docs++;
    return rc;
}

static bool is_plain_text(const char *path)
{
    static const char *const ext[] = { ".txt", ".text", ".md", ".txt.gz", ".text.gz", ".md.gz" };
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && strcmp(path + n - e, ext[i]) == 0) return true;
    }
    return false;
}

/* A plain-text file: documents separated by blank lines. */
static int read_plain(struct srl_pack *train, struct srl_pack *eval, const char *path,
                      const struct srl_pack_opts *o, struct srl_pack_stats *st)
{
    gzFile f = gzopen(path, "rb");
    char *line = NULL, *doc = NULL, where[1100];
    size_t cap = 0, n_doc = 0;
    long lineno = 0, doc_line = 0;
    int rc = 0;
    if (!f) {
        srl_log_error("cannot open '%s': %s", path, strerror(errno));
        return SRL_EIO;
    }
    for (bool eof = false; rc == 0 && !eof;) {
        size_t len = 0; /* read one whole line, however long */
        for (;;) {
            if (cap - len < 2) {
                char *l = realloc(line, cap = cap ? cap * 2 : 4096);
                if (!l) { rc = SRL_ENOMEM; break; }
                line = l;
            }
            if (!gzgets(f, line + len, (int)(cap - len))) { eof = true; break; }
            len += strlen(line + len);
            if (len > 0 && line[len - 1] == '\n') break;
        }
        int zerr;
        if (rc == 0 && eof && (gzerror(f, &zerr), zerr != Z_OK && zerr != Z_STREAM_END)) {
            srl_log_error("%s:%ld: cannot read: %s", path, lineno + 1, gzerror(f, &zerr));
            rc = SRL_EIO;
        }
        if (rc < 0) break;
        if (len > 0) lineno++;
        bool blank = strspn(line ? line : "", " \t\r\n") == len;
        if (len > 0 && !blank) {
            if (n_doc == 0) doc_line = lineno;
            rc = append_text(&doc, &n_doc, "", line, len);
            continue;
        }
        while (n_doc > 0 && (doc[n_doc - 1] == '\n' || doc[n_doc - 1] == '\r'))
            doc[--n_doc] = '\0';
        if (n_doc > 0) { /* a blank line or the end closes the document */
            snprintf(where, sizeof where, "%s:%ld", path, doc_line);
            st->n_records++;
            rc = pack_doc(train, eval, doc, o, where);
            n_doc = 0;
        }
    }
    free(line);
    free(doc);
    gzclose(f);
    return rc;
}

int srl_pack_read(struct srl_pack *train, struct srl_pack *eval, const char *path,
                  const struct srl_pack_opts *o, struct srl_pack_stats *st)
{
    if (srl_tokenizer_eos_id(o->tok) < 0) {
        srl_log_error("the tokenizer has no EOS token to separate documents");
        return SRL_EINVAL;
    }
    if (o->eval_ratio > 0 && !eval) return SRL_EINVAL;
    if (is_plain_text(path)) return read_plain(train, eval, path, o, st);
    const char *const *fields = o->fields ? o->fields : srl_pack_default_fields;
    size_t nf = o->fields ? o->n_fields : srl_pack_n_default_fields;
    struct srl_jsonl_opts jo = { .strings = true };
    int err;
    struct srl_jsonl *r = srl_jsonl_open_opts(path, &jo, &err);
    struct srl_json *rec;
    char where[1100], *text;
    if (!r) return err;
    while ((err = srl_jsonl_next(r, &rec)) != SRL_EOF) {
        bool record_error = err == 0; /* else the reader's: skippable when recoverable */
        st->n_records++;
        if (err == 0) {
            snprintf(where, sizeof where, "%s:%ld", path, srl_jsonl_line(r));
            err = srl_record_text(rec, fields, nf, where, &text);
            srl_json_decref(rec);
            if (err == 0 && !text) st->n_empty++;
            if (err == 0 && text) err = pack_doc(train, eval, text, o, where);
            free(text);
        }
        if (err == SRL_EFORMAT && o->skip_bad && (record_error || srl_jsonl_recoverable(r))) {
            st->n_skipped++;
            srl_log_error_handled();
            continue;
        }
        if (err < 0) break;
    }
    srl_jsonl_close(r);
    return err == SRL_EOF ? 0 : err;
}
