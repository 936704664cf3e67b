/* jsonl_doc.c -- records inside one JSON object document: {"instructions": ["...", ...]} (the
 * safety-tuned-llamas layout) or {"data": [{...}, ...]}, and the errors that say what a file is
 * when it is not JSON Lines.  The document is parsed whole (it has no record boundaries to
 * stream by); the line of each element is found by scanning its text.  See jsonl.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl_internal.h"
#include "srl.h"

// --- the line of each element of a list member, from the document's text --------------------

struct scan {
    const char *t;
    size_t len, i;
    long line;
};

static void scan_space(struct scan *s)
{
    for (; s->i < s->len; s->i++) {
        char c = s->t[s->i];
        if (c == '\n') s->line++;
        else if (c != ' ' && c != '\t' && c != '\r') break;
    }
}

/* Move past the JSON value at s->i (the text is valid JSON: Jansson parsed it). */
static void scan_value(struct scan *s)
{
    int depth = 0, in_string = 0, escape = 0;
    for (; s->i < s->len; s->i++) {
        char c = s->t[s->i];
        if (c == '\n') s->line++;
        if (in_string) {
            if (escape) escape = 0;
            else if (c == '\\') escape = 1;
            else if (c == '"') {
                in_string = 0;
                if (depth == 0) {
                    s->i++;
                    return;
                }
            }
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth <= 0) {
                s->i++;
                return;
            }
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\t' ||
                                  c == '\r')) {
            return; /* end of a number or literal */
        }
    }
}

/* lines[0..n) = the line of each element of the member `name` of the top-level object whose
 * text is t; 0 when found, -1 otherwise (a key with escapes is not matched). */
static int element_lines(const char *t, size_t len, long first_line, const char *name,
                         long *lines, size_t n)
{
    struct scan s = { t, len, 0, first_line };
    size_t nlen = strlen(name);
    scan_space(&s);
    if (s.i >= len || t[s.i] != '{') return -1;
    s.i++;
    for (;;) {
        scan_space(&s);
        if (s.i >= len || t[s.i] != '"') return -1;
        size_t key = s.i + 1;
        scan_value(&s);
        bool match = s.i - key - 1 == nlen && memcmp(t + key, name, nlen) == 0;
        scan_space(&s);
        if (s.i >= len || t[s.i] != ':') return -1;
        s.i++;
        scan_space(&s);
        if (match && s.i < len && t[s.i] == '[') {
            s.i++;
            for (size_t k = 0; k < n; k++) {
                scan_space(&s);
                lines[k] = s.line;
                scan_value(&s);
                scan_space(&s);
                if (s.i < len && t[s.i] == ',') s.i++;
            }
            return 0;
        }
        scan_value(&s);
        scan_space(&s);
        if (s.i >= len || t[s.i] != ',') return -1;
        s.i++;
    }
}

// --- choosing the list -----------------------------------------------------------------------

/* A non-empty list whose elements are all objects, or all strings when strings are records. */
static bool is_record_list(const struct srl_jsonl *r, const json_t *v)
{
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n == 0) return false;
    bool objects = json_is_object(json_array_get(v, 0));
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        if (objects ? !json_is_object(e) : !(r->opts.strings && json_is_string(e))) return false;
    }
    return true;
}

/* "a, b, c" (at most the first 8 keys) of the members of obj that pass want (NULL: all). */
static void member_names(const struct srl_jsonl *r, json_t *obj, char *buf, size_t n,
                         bool (*want)(const struct srl_jsonl *, const json_t *), int *count)
{
    const char *key;
    json_t *v;
    size_t used = 0;
    *count = 0;
    buf[0] = '\0';
    json_object_foreach(obj, key, v) {
        if (want && !want(r, v)) continue;
        if ((*count)++ < 8 && used < n)
            used += (size_t)snprintf(buf + used, n - used, "%s\"%s\"", used ? ", " : "", key);
    }
    if (*count > 8 && used < n) snprintf(buf + used, n - used, ", ...");
}

/* The list member of obj holding the records: opts.field, else the one record list (else the
 * one non-empty list of anything).  Returns its name (borrowed from obj) or NULL after logging
 * what the object holds instead. */
static const char *pick_list(struct srl_jsonl *r, json_t *obj, long line)
{
    char names[400];
    int count;
    if (r->opts.field) {
        if (json_is_array(json_object_get(obj, r->opts.field))) return r->opts.field;
        member_names(r, obj, names, sizeof names, NULL, &count);
        srl_log_error("%s:%ld: the JSON object has no list \"%s\" (its members: %s)", r->path,
                      line, r->opts.field, count ? names : "none");
        return NULL;
    }
    member_names(r, obj, names, sizeof names, is_record_list, &count);
    if (count == 1) {
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v) if (is_record_list(r, v)) return key;
    }
    if (count > 1) {
        srl_log_error("%s:%ld: a JSON object with %d lists of records (%s): name the one to "
                      "read", r->path, line, count, names);
        return NULL;
    }
    const char *key, *only = NULL;
    json_t *v;
    int n_lists = 0;
    json_object_foreach(obj, key, v) if (json_array_size(v) > 0 && n_lists++ == 0) only = key;
    if (n_lists == 1) return only; /* its bad elements are reported at their lines */
    member_names(r, obj, names, sizeof names, NULL, &count);
    srl_log_error("%s:%ld: a JSON object with no list of %s (its members: %s)", r->path, line,
                  r->opts.strings ? "records or strings" : "records", count ? names : "none");
    return NULL;
}

// --- the reader's side -----------------------------------------------------------------------

int jsonl_list_begin(struct srl_jsonl *r, json_t *obj, long line, struct srl_json **rec)
{
    const char *name = pick_list(r, obj, line);
    if (!name) {
        json_decref(obj);
        r->dead = SRL_EFORMAT;
        r->recoverable = false;
        return SRL_EFORMAT;
    }
    r->list = json_incref(json_object_get(obj, name));
    size_t n = json_array_size(r->list);
    snprintf(r->list_what, sizeof r->list_what, "the list \"%s\" of a JSON object", name);
    r->list_line = line;
    r->list_lines = malloc((n ? n : 1) * sizeof *r->list_lines);
    if (r->list_lines && element_lines(r->rec, r->rec_len, line, name, r->list_lines, n) < 0) {
        free(r->list_lines); /* every element is reported at the object's line */
        r->list_lines = NULL;
    }
    json_decref(obj);
    r->mode = MODE_LIST;
    r->list_i = 0;
    return jsonl_list_next(r, rec);
}

int jsonl_list_next(struct srl_jsonl *r, struct srl_json **rec)
{
    if (r->list_i >= json_array_size(r->list)) return SRL_EOF;
    size_t i = r->list_i++;
    r->rec_line = r->list_lines ? r->list_lines[i] : r->list_line;
    return jsonl_check_record(r, json_incref(json_array_get(r->list, i)), r->rec_line, rec);
}

void jsonl_list_free(struct srl_jsonl *r)
{
    json_decref(r->list);
    free(r->list_lines);
    r->list = NULL;
    r->list_lines = NULL;
}

int jsonl_document(struct srl_jsonl *r, struct srl_json **rec)
{
    long line = r->rec_line;
    int rc;
    json_error_t jerr;
    if ((rc = jsonl_read_rest(r)) < 0) return rc;
    json_t *v = json_loadb(r->rec, r->rec_len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    if (!v) {
        char what[400];
        snprintf(what, sizeof what, "not valid JSON: %s (read as one JSON document: line %ld "
                 "is not a whole JSON Lines record)", jerr.text, line);
        return jsonl_fatal(r, SRL_EFORMAT, line + jerr.line - 1, what);
    }
    if (json_is_object(v) && r->opts.lists) return jsonl_list_begin(r, v, line, rec);
    char what[300];
    long n_lines = 1;
    size_t end = r->rec_len;
    while (end > 0 && strchr(" \t\r\n", r->rec[end - 1])) end--;
    for (size_t i = 0; i < end; i++) n_lines += r->rec[i] == '\n';
    if (json_is_object(v))
        snprintf(what, sizeof what, "one JSON object over %ld lines, not JSON Lines (one record "
                 "per line) nor a JSON array of records", n_lines);
    else
        snprintf(what, sizeof what, "one JSON document holding %s, not records",
                 jsonl_type_name(v));
    json_decref(v);
    return jsonl_fatal(r, SRL_EFORMAT, line, what);
}

int jsonl_single_container(struct srl_jsonl *r, json_t *v)
{
    if (!r->opts.lists) return 0;
    if (r->opts.field) {
        if (!json_is_array(json_object_get(v, r->opts.field)))
            return jsonl_not_a_container(r);
    } else {
        const char *key;
        json_t *m;
        bool has_list = false;
        json_object_foreach(v, key, m) has_list |= is_record_list(r, m);
        if (!has_list || !r->opts.is_record || r->opts.is_record((struct srl_json *)v))
            return 0;
    }
    int end = jsonl_at_end(r);
    if (end < 0) return end;
    if (end == 0 && r->opts.field) return jsonl_not_a_container(r);
    return end;
}

int jsonl_not_a_container(struct srl_jsonl *r)
{
    char what[300];
    snprintf(what, sizeof what, "%s, not one JSON object holding the list \"%s\"",
             r->mode == MODE_ARRAY ? "a JSON array" : "JSON Lines records", r->opts.field);
    return jsonl_fatal(r, SRL_EFORMAT, r->mode == MODE_ARRAY ? 1 : r->rec_line, what);
}
