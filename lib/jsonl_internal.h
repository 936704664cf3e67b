/* jsonl_internal.h -- private to lib/jsonl*.c: the record reader's state, shared by the
 * streaming formats (jsonl.c: JSON Lines, JSON arrays) and the lists inside one JSON object
 * document (jsonl_doc.c). */
#ifndef SRL_JSONL_INTERNAL_H
#define SRL_JSONL_INTERNAL_H

#include <jansson.h>
#include <zlib.h>

#include "jsonl.h"

enum { MODE_UNKNOWN, MODE_LINES, MODE_ARRAY, MODE_LIST };
enum { ARR_FIRST, ARR_AFTER, ARR_DONE };

struct srl_jsonl {
    char *path;
    struct srl_jsonl_opts opts;
    char *field_copy;  /* opts.field, owned */
    gzFile gz;
    unsigned char *buf;
    size_t pos, len;
    int eof;
    long line;      /* line of the read position */
    long rec_line;  /* line where the last record started */
    int mode, state;
    int dead;       /* 0, or the error every later call returns */
    bool recoverable;
    bool seen_bad;  /* a bad line was read: the file is JSON Lines */
    size_t n_records; /* records returned so far */
    char *rec;      /* the current record's text (a whole document in MODE_LIST) */
    size_t rec_len, rec_cap;
    /* MODE_LIST: the elements of one list member of a JSON object */
    json_t *list;
    size_t list_i;
    long *list_lines;   /* line of each element (NULL: all on list_line) */
    long list_line;
    char list_what[160]; /* "the list \"NAME\" of a JSON object" */
};

/* jsonl.c */
int jsonl_fatal(struct srl_jsonl *r, int err, long line, const char *what);
const char *jsonl_type_name(const json_t *v);
/* Hand v (a new reference, taken over) out as a record found at line: an object, or a
 * string when the options take strings.  0 or a recoverable SRL_EFORMAT (logged). */
int jsonl_check_record(struct srl_jsonl *r, json_t *v, long line, struct srl_json **rec);
/* Append a newline and the rest of the input to r->rec (after the first line).  0 or the
 * stream error. */
int jsonl_read_rest(struct srl_jsonl *r);
/* 1 when only white space is left, 0 when a record follows (nothing consumed but space),
 * or the stream error. */
int jsonl_at_end(struct srl_jsonl *r);

/* jsonl_doc.c */
/* The first line was the start of a JSON value that goes on: read the whole input as one
 * document.  An object holding a list (opts.lists) goes on as MODE_LIST; anything else is an
 * error that says what the file is.  Returns what srl_jsonl_next() returns. */
int jsonl_document(struct srl_jsonl *r, struct srl_json **rec);
/* Whether the object v on the first line is a container of records (opts.lists: --field names
 * one of its lists, or it is not a record by opts.is_record and holds a list) rather than the
 * first record; a container must be the only value in the file.  1 yes, 0 no, or an error. */
int jsonl_single_container(struct srl_jsonl *r, json_t *v);
/* Enter MODE_LIST over the chosen list of the object obj (taken over) that starts at line;
 * returns the first element as srl_jsonl_next() does. */
/* The error for a list named by opts.field in a file of records (JSON Lines or an array). */
int jsonl_not_a_container(struct srl_jsonl *r);
int jsonl_list_begin(struct srl_jsonl *r, json_t *obj, long line, struct srl_json **rec);
int jsonl_list_next(struct srl_jsonl *r, struct srl_json **rec);
void jsonl_list_free(struct srl_jsonl *r);

#endif
