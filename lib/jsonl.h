/* jsonl.h -- stream records from JSON Lines or JSON array files (.gz read transparently,
 * "-" = stdin), and a small JSON value API so that Jansson never crosses lib's headers.
 *
 *     int err;
 *     struct srl_jsonl *r = srl_jsonl_open("data.jsonl.gz", &err);
 *     struct srl_json *rec;
 *     while ((err = srl_jsonl_next(r, &rec)) == 0) {
 *         const char *prompt = srl_json_string(srl_json_get(rec, "prompt"));
 *         ...
 *         srl_json_decref(rec);
 *     }
 *     if (err != SRL_EOF) ... (already logged as "FILE:LINE: what is wrong")
 *     srl_jsonl_close(r);
 *
 * The format is detected from the first non-space byte: '[' is a JSON array whose elements
 * are the records (scanned one element at a time, so large arrays stream and every record
 * knows the line it starts on); anything else is JSON Lines, one record per line, blank lines
 * skipped.  Every record must be a JSON object (or a string, with opts.strings).
 *
 * A file whose first line is not a whole JSON value but begins one that goes on (a
 * pretty-printed JSON object) is read whole as one JSON document.  With opts.lists, the records
 * are the elements of a list member of that object ({"instructions": ["...", ...]}: the
 * layout of the safety-tuned-llamas evaluation sets): opts.field names it, else the object must
 * have exactly one list of objects or strings.  A one-line object that is the only value of
 * the file is such a container too when opts.field is given or opts.is_record says it is not a
 * record.  Without opts.lists such a document is an error that says what the file is. */
#ifndef SRL_JSONL_H
#define SRL_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct srl_json;  /* opaque: one JSON value, reference counted */
struct srl_jsonl; /* opaque: a record reader */

// --- reader ----------------------------------------------------------------------------------

/* Open PATH ("-" for stdin; gzip-compressed or plain).  Returns a new reader (free with
 * srl_jsonl_close()) or NULL with *err set (SRL_EIO) after logging why. */
struct srl_jsonl *srl_jsonl_open(const char *path, int *err);

/* What else a reader takes (all off in srl_jsonl_open). */
struct srl_jsonl_opts {
    bool strings;      /* string values are records too */
    bool lists;        /* a JSON object document: the elements of one of its lists */
    const char *field; /* that list's name (copied); NULL: the one list of objects or strings */
    /* Whether a one-line object is a record (else, being the file's only value and holding
     * a list, it is a container); NULL: always a record unless field is given. */
    bool (*is_record)(const struct srl_json *obj);
};
struct srl_jsonl *srl_jsonl_open_opts(const char *path, const struct srl_jsonl_opts *o,
                                      int *err);
void srl_jsonl_close(struct srl_jsonl *r); /* NULL-safe */

/* The next record: returns 0 and sets *rec to a new reference (release with
 * srl_json_decref()), SRL_EOF at the end, or a negative SRL_E* after logging
 * "FILE:LINE: what is wrong" (*rec NULL).  After SRL_EFORMAT for one bad record (not JSON,
 * not an object) srl_jsonl_recoverable() is true and the next call goes on with the record
 * after it; after a stream error (read failure, corrupt gzip, truncated array) it is false and
 * every later call returns the same error. */
int srl_jsonl_next(struct srl_jsonl *r, struct srl_json **rec);
bool srl_jsonl_recoverable(const struct srl_jsonl *r);

/* The line (1-based) where the last record returned (or the last bad one) starts. */
long srl_jsonl_line(const struct srl_jsonl *r);
/* The path as given to srl_jsonl_open() (borrowed). */
const char *srl_jsonl_path(const struct srl_jsonl *r);
/* Whether the input is a JSON array (known after the first srl_jsonl_next()). */
bool srl_jsonl_is_array(const struct srl_jsonl *r);
/* "JSON Lines", "a JSON array" or "the list \"NAME\" of a JSON object" (borrowed; known
 * after the first srl_jsonl_next()). */
const char *srl_jsonl_format(const struct srl_jsonl *r);

// --- values ----------------------------------------------------------------------------------

/* Parse len bytes of JSON text.  Returns a new reference or NULL (and *err = SRL_EFORMAT,
 * the reason logged with WHERE as the prefix; where may be NULL). */
struct srl_json *srl_json_parse(const char *text, size_t len, const char *where, int *err);
struct srl_json *srl_json_incref(struct srl_json *v); /* returns v; NULL-safe */
void srl_json_decref(struct srl_json *v);              /* NULL-safe */

/* New values (new references; NULL when out of memory or, for numbers, not finite). */
struct srl_json *srl_json_new_object(void);
struct srl_json *srl_json_new_array(void);
struct srl_json *srl_json_new_string(const char *s);
struct srl_json *srl_json_new_integer(long long x);
struct srl_json *srl_json_new_number(double x);

/* Type tests (false for NULL). */
bool srl_json_is_object(const struct srl_json *v);
bool srl_json_is_array(const struct srl_json *v);
bool srl_json_is_string(const struct srl_json *v);
bool srl_json_is_number(const struct srl_json *v);  /* integer or real */
bool srl_json_is_integer(const struct srl_json *v);
bool srl_json_is_bool(const struct srl_json *v);
bool srl_json_is_null(const struct srl_json *v);

/* Member of an object (borrowed: valid while obj holds it; NULL when absent or obj is not an
 * object). */
struct srl_json *srl_json_get(const struct srl_json *obj, const char *key);
/* Contents: srl_json_string() is NULL unless v is a string (borrowed); srl_json_string_length()
 * its byte length; srl_json_integer() 0 unless an integer; srl_json_number() the value of an
 * integer or real (0 otherwise); srl_json_boolean() true only for true. */
const char *srl_json_string(const struct srl_json *v);
size_t srl_json_string_length(const struct srl_json *v);
long long srl_json_integer(const struct srl_json *v);
double srl_json_number(const struct srl_json *v);
bool srl_json_boolean(const struct srl_json *v);

/* Arrays: size (0 unless an array) and element i (borrowed; NULL out of range). */
size_t srl_json_array_size(const struct srl_json *v);
struct srl_json *srl_json_array_at(const struct srl_json *v, size_t i);
/* Append a value, taking over the caller's reference (stolen even on failure). */
int srl_json_array_append(struct srl_json *arr, struct srl_json *v);

/* Objects: members in insertion order, i from 0 to srl_json_object_size() - 1 (borrowed
 * key and value; NULL out of range).  O(i) per call -- fine for records of a few keys. */
size_t srl_json_object_size(const struct srl_json *v);
const char *srl_json_object_key_at(const struct srl_json *v, size_t i);
struct srl_json *srl_json_object_value_at(const struct srl_json *v, size_t i);

/* Set a member (replacing any old one; a new key goes last).  Return 0, or SRL_EINVAL when
 * obj is not an object or the number is not finite, SRL_ENOMEM.  srl_json_object_set takes
 * over the caller's reference to v (stolen even on failure). */
int srl_json_object_set(struct srl_json *obj, const char *key, struct srl_json *v);
int srl_json_object_set_string(struct srl_json *obj, const char *key, const char *s);
int srl_json_object_set_integer(struct srl_json *obj, const char *key, long long x);
int srl_json_object_set_number(struct srl_json *obj, const char *key, double x);
int srl_json_object_set_bool(struct srl_json *obj, const char *key, bool x);
int srl_json_object_set_null(struct srl_json *obj, const char *key);
int srl_json_object_del(struct srl_json *obj, const char *key); /* 0, or SRL_EINVAL if absent */

/* Serialise compactly on one line, UTF-8 kept as is (not \u-escaped), keys in insertion
 * order, reals in the shortest form that reads back exactly.  srl_json_dump() writes the
 * text and a newline to fp (one JSON Lines record) and returns 0 or SRL_EIO;
 * srl_json_dumps() returns a new string (free()) without newline, or NULL. */
int srl_json_dump(const struct srl_json *v, FILE *fp);
char *srl_json_dumps(const struct srl_json *v);

#endif
