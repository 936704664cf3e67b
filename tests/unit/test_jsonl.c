/* test_jsonl.c -- JSON Lines and JSON array streaming, gzip, error lines, the value API, the
 * prompt files (lists inside one JSON object), and the real data sets in ../shared when
 * present. */
#include "test.h"

#include <fcntl.h>
#include <zlib.h>

#include "fileio.h"
#include "jsonl.h"
#include "prompt.h"
#include "srl.h"

static char tmpdir[256];
static char last_log[4096];

static char *write_tmp(const char *name, const char *text)
{
    char *p = srl_path_join(tmpdir, name);
    if (srl_write_file_atomic(p, text, strlen(text)) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* Redirect stderr into a file around a block of calls. */
static int saved_fd = -1;
static void capture_begin(void)
{
    char *log = srl_path_join(tmpdir, "stderr.txt");
    fflush(stderr);
    saved_fd = dup(2);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    free(log);
}

static void capture_end(void)
{
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    char *log = srl_path_join(tmpdir, "stderr.txt"), *msg = NULL;
    last_log[0] = '\0';
    if (srl_read_file(log, &msg, NULL) == 0) snprintf(last_log, sizeof last_log, "%s", msg);
    free(msg);
    free(log);
}

/* Read every record; return the count, or the first error.  lines[] gets each record's line. */
static long count_records(const char *path, long *lines, size_t max_lines)
{
    int err;
    struct srl_jsonl *r = srl_jsonl_open(path, &err);
    if (!r) return err;
    struct srl_json *rec;
    long n = 0;
    while ((err = srl_jsonl_next(r, &rec)) == 0) {
        if (lines && (size_t)n < max_lines) lines[n] = srl_jsonl_line(r);
        n++;
        srl_json_decref(rec);
    }
    srl_jsonl_close(r);
    return err == SRL_EOF ? n : err;
}

static void test_jsonl_lines(void)
{
    char *p = write_tmp("a.jsonl", "{\"prompt\": \"hi\", \"n\": 1}\n\n  \n"
                                    "{\"prompt\": \"caf\\u00e9 \xe2\x98\x83\", \"n\": 2.5}\r\n"
                                    "{\"prompt\": \"last\", \"ok\": true}");
    REQUIRE(p);
    int err;
    struct srl_jsonl *r = srl_jsonl_open(p, &err);
    REQUIRE(r && err == 0);
    struct srl_json *rec;
    REQUIRE(srl_jsonl_next(r, &rec) == 0);
    EXPECT(!srl_jsonl_is_array(r) && srl_jsonl_line(r) == 1);
    EXPECT(strcmp(srl_json_string(srl_json_get(rec, "prompt")), "hi") == 0);
    EXPECT(srl_json_is_integer(srl_json_get(rec, "n")) &&
           srl_json_integer(srl_json_get(rec, "n")) == 1);
    srl_json_decref(rec);
    REQUIRE(srl_jsonl_next(r, &rec) == 0);
    EXPECT(srl_jsonl_line(r) == 4, "%ld", srl_jsonl_line(r));
    EXPECT(strcmp(srl_json_string(srl_json_get(rec, "prompt")), "caf\xc3\xa9 \xe2\x98\x83") == 0);
    EXPECT(srl_json_number(srl_json_get(rec, "n")) == 2.5 &&
           !srl_json_is_integer(srl_json_get(rec, "n")));
    srl_json_decref(rec);
    REQUIRE(srl_jsonl_next(r, &rec) == 0);
    EXPECT(srl_jsonl_line(r) == 5 && srl_json_boolean(srl_json_get(rec, "ok")));
    srl_json_decref(rec);
    EXPECT(srl_jsonl_next(r, &rec) == SRL_EOF && rec == NULL);
    EXPECT(srl_jsonl_next(r, &rec) == SRL_EOF);
    EXPECT(strcmp(srl_jsonl_path(r), p) == 0);
    srl_jsonl_close(r);
    free(p);

    p = write_tmp("empty.jsonl", "\n  \n");
    EXPECT(count_records(p, NULL, 0) == 0);
    free(p);
    p = write_tmp("empty2.jsonl", "");
    EXPECT(count_records(p, NULL, 0) == 0);
    free(p);
}

static void test_json_array(void)
{
    /* brackets, commas and escaped quotes inside strings must not end an element */
    char *p = write_tmp("a.json", "\xef\xbb\xbf [\n  {\"a\": \"x, ] } [\", "
                                  "\"b\": [1, {\"c\": 2}]},\n"
                                  "  {\"a\": \"q\\\"],\\\\\"},\n\n  {\"a\": \"\"}\n]\n");
    REQUIRE(p);
    int err;
    struct srl_jsonl *r = srl_jsonl_open(p, &err);
    REQUIRE(r);
    struct srl_json *rec;
    REQUIRE(srl_jsonl_next(r, &rec) == 0);
    EXPECT(srl_jsonl_is_array(r) && srl_jsonl_line(r) == 2);
    EXPECT(strcmp(srl_json_string(srl_json_get(rec, "a")), "x, ] } [") == 0);
    struct srl_json *b = srl_json_get(rec, "b");
    EXPECT(srl_json_array_size(b) == 2 &&
           srl_json_integer(srl_json_get(srl_json_array_at(b, 1), "c")) == 2);
    srl_json_decref(rec);
    REQUIRE(srl_jsonl_next(r, &rec) == 0);
    EXPECT(srl_jsonl_line(r) == 3 &&
           strcmp(srl_json_string(srl_json_get(rec, "a")), "q\"],\\") == 0);
    srl_json_decref(rec);
    REQUIRE(srl_jsonl_next(r, &rec) == 0);
    EXPECT(srl_jsonl_line(r) == 5 && srl_json_string_length(srl_json_get(rec, "a")) == 0);
    srl_json_decref(rec);
    EXPECT(srl_jsonl_next(r, &rec) == SRL_EOF);
    srl_jsonl_close(r);
    free(p);
    p = write_tmp("empty.json", "  [ ]  ");
    EXPECT(count_records(p, NULL, 0) == 0);
    free(p);
}

static void test_gzip(void)
{
    char *p = srl_path_join(tmpdir, "z.jsonl.gz");
    gzFile gz = gzopen(p, "wb");
    REQUIRE(gz);
    for (int i = 0; i < 3000; i++) gzprintf(gz, "{\"i\": %d, \"pad\": \"%0100d\"}\n", i, i);
    gzclose(gz);
    long lines[3000];
    EXPECT(count_records(p, lines, 3000) == 3000);
    EXPECT(lines[0] == 1 && lines[2999] == 3000);

    /* a truncated gzip stream is an error, not a short read */
    char *data;
    size_t len;
    REQUIRE(srl_read_file(p, &data, &len) == 0);
    char *q = srl_path_join(tmpdir, "trunc.jsonl.gz");
    REQUIRE(srl_write_file_atomic(q, data, len / 2) == 0);
    capture_begin();
    long n = count_records(q, NULL, 0);
    capture_end();
    EXPECT(n == SRL_EFORMAT && strstr(last_log, "truncated gzip"), "%ld %s", n, last_log);
    free(data);
    free(q);
    free(p);

    /* a gzip'd JSON array */
    p = srl_path_join(tmpdir, "arr.json.gz");
    gz = gzopen(p, "wb");
    gzputs(gz, "[{\"x\": 1},\n{\"x\": 2}]");
    gzclose(gz);
    EXPECT(count_records(p, lines, 2) == 2 && lines[1] == 2);
    free(p);
}

static void test_stdin(void)
{
    char *p = write_tmp("stdin.jsonl", "{\"a\": 1}\n{\"a\": 2}\n");
    REQUIRE(p);
    int saved = dup(0), fd = open(p, O_RDONLY);
    dup2(fd, 0);
    close(fd);
    long n = count_records("-", NULL, 0);
    dup2(saved, 0);
    close(saved);
    EXPECT(n == 2, "%ld", n);
    free(p);
}

static void test_errors(void)
{
    /* a bad line: reported with its line, recoverable, reading goes on */
    char *p = write_tmp("bad.jsonl", "{\"a\": 1}\n\n{\"a\": 2,}\n[1, 2]\n{\"a\": 3}\n");
    REQUIRE(p);
    int err;
    struct srl_jsonl *r = srl_jsonl_open(p, &err);
    REQUIRE(r);
    struct srl_json *rec;
    EXPECT(srl_jsonl_next(r, &rec) == 0);
    srl_json_decref(rec);
    capture_begin();
    err = srl_jsonl_next(r, &rec);
    capture_end();
    char want[512];
    snprintf(want, sizeof want, "%s:3: not valid JSON", p);
    EXPECT(err == SRL_EFORMAT && rec == NULL && srl_jsonl_recoverable(r) &&
           srl_jsonl_line(r) == 3 && strstr(last_log, want), "%d %s", err, last_log);
    capture_begin();
    err = srl_jsonl_next(r, &rec);
    capture_end();
    snprintf(want, sizeof want, "%s:4: record is not a JSON object (found an array)", p);
    EXPECT(err == SRL_EFORMAT && strstr(last_log, want), "%s", last_log);
    EXPECT(srl_jsonl_next(r, &rec) == 0 && srl_json_integer(srl_json_get(rec, "a")) == 3);
    srl_json_decref(rec);
    EXPECT(srl_jsonl_next(r, &rec) == SRL_EOF);
    srl_jsonl_close(r);
    free(p);

    struct {
        const char *name, *text;
        long want_line;
        const char *msg;
        int n_ok; /* records read before the error */
    } cases[] = {
        { "trunc.json", "[\n{\"a\": 1},\n{\"a\": 2", 3, "truncated JSON array", 1 },
        { "trunc2.json", "[\n{\"a\": 1},\n", 3, "truncated JSON array", 1 },
        { "trail.json", "[{\"a\": 1},\n]", 2, "missing element", 1 },
        { "after.json", "[{\"a\": 1}]\n{\"b\": 2}", 2, "unexpected data after the JSON array", 1 },
        { "badelem.json", "[{\"a\": 1},\n\n {\"a\": tru}]", 3, "not valid JSON", 1 },
        { "scalar.json", "[{\"a\": 1}, 5]", 1, "not a JSON object (found an integer)", 1 },
        { "multi.jsonl", "{\"a\": 1} {\"b\": 2}\n", 1, "not valid JSON", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p = write_tmp(cases[i].name, cases[i].text);
        r = srl_jsonl_open(p, &err);
        REQUIRE(r);
        int n_ok = 0;
        capture_begin();
        while ((err = srl_jsonl_next(r, &rec)) == 0) {
            n_ok++;
            srl_json_decref(rec);
        }
        capture_end();
        snprintf(want, sizeof want, "%s:%ld: ", p, cases[i].want_line);
        EXPECT(err == SRL_EFORMAT && n_ok == cases[i].n_ok && strstr(last_log, want) &&
               strstr(last_log, cases[i].msg), "case %s: err %d n_ok %d log %s", cases[i].name,
               err, n_ok, last_log);
        srl_jsonl_close(r);
        free(p);
    }
    /* the fatal error repeats; it is not recoverable */
    p = write_tmp("dead.json", "[{\"a\": 1},");
    r = srl_jsonl_open(p, &err);
    REQUIRE(r);
    EXPECT(srl_jsonl_next(r, &rec) == 0);
    srl_json_decref(rec);
    capture_begin();
    EXPECT(srl_jsonl_next(r, &rec) == SRL_EFORMAT && !srl_jsonl_recoverable(r));
    EXPECT(srl_jsonl_next(r, &rec) == SRL_EFORMAT);
    capture_end();
    srl_jsonl_close(r);
    free(p);

    p = srl_path_join(tmpdir, "missing.jsonl");
    capture_begin();
    r = srl_jsonl_open(p, &err);
    capture_end();
    EXPECT(!r && err == SRL_EIO && strstr(last_log, "No such file"), "%s", last_log);
    capture_begin();
    r = srl_jsonl_open(tmpdir, &err);
    capture_end();
    EXPECT(!r && err == SRL_EIO, "directory");
    free(p);
}

static void test_values_and_dump(void)
{
    const char *text = "{\"prompt\":\"caf\xc3\xa9\\n\\\"q\\\"\\u0001\",\"x\":0.1,\"big\":1e+300,"
                       "\"i\":-7,\"arr\":[true,false,null,3.0],\"o\":{}}";
    int err;
    struct srl_json *v = srl_json_parse(text, strlen(text), "t", &err);
    REQUIRE(v && err == 0);
    char *s = srl_json_dumps(v);
    EXPECT(s && strcmp(s, text) == 0, "\n   got  %s\n   want %s", s, text);
    free(s);
    EXPECT(srl_json_object_size(v) == 6);
    EXPECT(strcmp(srl_json_object_key_at(v, 0), "prompt") == 0 &&
           strcmp(srl_json_object_key_at(v, 5), "o") == 0 && !srl_json_object_key_at(v, 6));
    EXPECT(srl_json_integer(srl_json_object_value_at(v, 3)) == -7);
    EXPECT(srl_json_is_null(srl_json_array_at(srl_json_get(v, "arr"), 2)));
    EXPECT(srl_json_string(srl_json_get(v, "x")) == NULL && srl_json_get(v, "nope") == NULL);
    EXPECT(srl_json_get(srl_json_get(v, "arr"), "x") == NULL);

    /* tools add fields and pass the rest through */
    EXPECT(srl_json_object_set_number(v, "reward", -1.25) == 0);
    EXPECT(srl_json_object_set_integer(v, "i", 8) == 0);
    EXPECT(srl_json_object_set_string(v, "judge", "safe \xe2\x9c\x93") == 0);
    EXPECT(srl_json_object_set_bool(v, "ok", true) == 0);
    EXPECT(srl_json_object_set_null(v, "n") == 0);
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_json_object_set_number(v, "bad", NAN) == SRL_EINVAL);
    EXPECT(srl_json_object_set_string(v, "bad", "\xff") == SRL_EINVAL);
    srl_log_set_level(SRL_LOG_WARNING);
    EXPECT(srl_json_object_del(v, "o") == 0 && srl_json_object_del(v, "o") == SRL_EINVAL);
    struct srl_json *arr = srl_json_new_array();
    EXPECT(srl_json_array_append(arr, srl_json_new_integer(1)) == 0);
    EXPECT(srl_json_array_append(arr, srl_json_new_string("two")) == 0);
    EXPECT(srl_json_object_set(v, "list", arr) == 0);
    s = srl_json_dumps(v);
    EXPECT(s && strcmp(s, "{\"prompt\":\"caf\xc3\xa9\\n\\\"q\\\"\\u0001\",\"x\":0.1,\"big\":1e+300,"
                          "\"i\":8,\"arr\":[true,false,null,3.0],\"reward\":-1.25,"
                          "\"judge\":\"safe \xe2\x9c\x93\",\"ok\":true,\"n\":null,"
                          "\"list\":[1,\"two\"]}") == 0, "%s", s);
    free(s);

    /* srl_json_dump writes one line that parses back to the same text */
    char *p = srl_path_join(tmpdir, "dump.jsonl");
    FILE *fp = fopen(p, "w");
    REQUIRE(fp);
    EXPECT(srl_json_dump(v, fp) == 0 && srl_json_dump(v, fp) == 0);
    fclose(fp);
    EXPECT(count_records(p, NULL, 0) == 2);
    free(p);
    EXPECT(srl_json_incref(v) == v);
    srl_json_decref(v);
    srl_json_decref(v);
    srl_json_decref(NULL);

    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_json_parse("{\"a\":", 5, NULL, &err) == NULL && err == SRL_EFORMAT);
    srl_log_set_level(SRL_LOG_WARNING);
    struct srl_json *n = srl_json_new_number(0.30000000000000004);
    s = srl_json_dumps(n);
    EXPECT(s && strcmp(s, "0.30000000000000004") == 0, "%s", s);
    free(s);
    srl_json_decref(n);
    EXPECT(srl_json_new_number(INFINITY) == NULL);
}

/* Every prefix of an array file and of a JSONL file reads to an end or an error, never past
 * it (run under ASan to make this bite). */
/* Read every prompt of path (field may be NULL) into prompts[] and lines[]; the count, or the
 * first error with the message in last_log. */
static long read_prompts(const char *path, const char *field, char prompts[][32], long *lines,
                         size_t max)
{
    int err;
    long n = 0;
    capture_begin();
    struct srl_jsonl *r = srl_prompts_open(path, field, &err);
    struct srl_json *rec;
    while (r && (err = srl_prompts_next(r, &rec)) == 0) {
        if ((size_t)n < max) {
            const char *s = srl_json_string(srl_json_get(rec, "prompt"));
            snprintf(prompts[n], 32, "%s", s ? s : "(not a string)");
            lines[n] = srl_jsonl_line(r);
        }
        n++;
        srl_json_decref(rec);
    }
    srl_jsonl_close(r);
    capture_end();
    return err == SRL_EOF ? n : err;
}

static void test_prompt_files(void)
{
    char got[8][32];
    long lines[8];
    /* the safety-tuned-llamas layout, pretty-printed: elements keep their lines */
    char *p = write_tmp("stl.json", "{\n  \"instructions\": [\n    \"How do I\",\n"
                                    "    \"Tell me \\\"why\\\", ]\",\n    \"Last\"\n  ]\n}\n");
    EXPECT(read_prompts(p, NULL, got, lines, 8) == 3, "%s", last_log);
    EXPECT(strcmp(got[0], "How do I") == 0 && strcmp(got[1], "Tell me \"why\", ]") == 0 &&
           strcmp(got[2], "Last") == 0);
    EXPECT(lines[0] == 3 && lines[1] == 4 && lines[2] == 5, "%ld %ld %ld", lines[0], lines[1],
           lines[2]);
    EXPECT(read_prompts(p, "instructions", got, lines, 8) == 3);
    EXPECT(read_prompts(p, "nope", got, lines, 8) == SRL_EFORMAT &&
           strstr(last_log, "stl.json:1: the JSON object has no list \"nope\""), "%s", last_log);
    free(p);
    /* the same on one line; and gzip-compressed */
    p = write_tmp("stl1.json", "{\"instructions\": [\"a\", \"b\"]}\n");
    EXPECT(read_prompts(p, NULL, got, lines, 8) == 2 && strcmp(got[1], "b") == 0 &&
           lines[1] == 1, "%s", last_log);
    free(p);
    p = srl_path_join(tmpdir, "stl.json.gz");
    gzFile gz = gzopen(p, "wb");
    gzputs(gz, "{\n \"meta\": {\"n\": 2},\n \"instructions\": [\"x\",\n \"y\"]\n}\n");
    gzclose(gz);
    EXPECT(read_prompts(p, NULL, got, lines, 8) == 2 && strcmp(got[1], "y") == 0 &&
           lines[1] == 4, "%s", last_log);
    free(p);
    /* arrays of strings, JSON Lines of strings, a list of records */
    p = write_tmp("arr.json", "[\"s1\",\n \"s2\"]");
    EXPECT(read_prompts(p, NULL, got, lines, 8) == 2 && strcmp(got[1], "s2") == 0 &&
           lines[1] == 2);
    free(p);
    p = write_tmp("str.jsonl", "\"l1\"\n{\"prompt\": \"l2\"}\n");
    EXPECT(read_prompts(p, NULL, got, lines, 8) == 2 && strcmp(got[0], "l1") == 0);
    free(p);
    p = write_tmp("recs.json", "{\n \"data\": [\n  {\"prompt\": \"r1\", \"id\": 1},\n"
                               "  {\"prompt\": \"r2\"}\n ]\n}");
    EXPECT(read_prompts(p, NULL, got, lines, 8) == 2 && strcmp(got[1], "r2") == 0 &&
           lines[1] == 4, "%s", last_log);
    free(p);
    /* a one-line record whose prompt is a list of turns stays a record */
    p = write_tmp("turns.jsonl", "{\"prompt\": [\"A\", \"B\", \"C\"]}\n");
    EXPECT(read_prompts(p, NULL, got, lines, 8) == 1 && strcmp(got[0], "(not a string)") == 0);
    free(p);
    /* what the file is, when it is not what a prompt file can be */
    p = write_tmp("two.json", "{\n \"instructions\": [\"a\"],\n \"outputs\": [\"b\"]\n}\n");
    EXPECT(read_prompts(p, NULL, got, lines, 8) == SRL_EFORMAT &&
           strstr(last_log, "two.json:1: a JSON object with 2 lists of records "
                            "(\"instructions\", \"outputs\")"), "%s", last_log);
    EXPECT(read_prompts(p, "outputs", got, lines, 8) == 1 && strcmp(got[0], "b") == 0);
    free(p);
    p = write_tmp("none.json", "{\n \"x\": 1,\n \"y\": []\n}\n");
    EXPECT(read_prompts(p, NULL, got, lines, 8) == SRL_EFORMAT &&
           strstr(last_log, "a JSON object with no list of records or strings (its members: "
                            "\"x\", \"y\")"), "%s", last_log);
    free(p);
    p = write_tmp("plain.jsonl", "{\"prompt\": \"p\"}\n");
    EXPECT(read_prompts(p, "instructions", got, lines, 8) == SRL_EFORMAT &&
           strstr(last_log, "JSON Lines records, not one JSON object holding the list"), "%s",
           last_log);
    free(p);
    p = write_tmp("cut.jsonl", "{\"prompt\": \"p\",\n\"x\": \n");
    EXPECT(read_prompts(p, NULL, got, lines, 8) == SRL_EFORMAT &&
           strstr(last_log, "read as one JSON document: line 1 is not a whole JSON Lines "
                            "record"), "%s", last_log);
    free(p);
}

/* A record reader (not a prompt file) says what a pretty-printed object is, instead of "not
 * valid JSON ... near end of file". */
static void test_document_errors(void)
{
    char *p = write_tmp("doc.json", "{\n  \"instructions\": [\"a\"]\n}\n");
    capture_begin();
    long n = count_records(p, NULL, 0);
    capture_end();
    EXPECT(n == SRL_EFORMAT && strstr(last_log, "doc.json:1: one JSON object over 3 lines, not "
                                                "JSON Lines"), "%s", last_log);
    free(p);
    p = write_tmp("str.json", "\"abc\n def\"\n");
    capture_begin();
    n = count_records(p, NULL, 0);
    capture_end();
    EXPECT(n == SRL_EFORMAT, "%ld %s", n, last_log);
    free(p);
}

static void test_truncations_never_crash(void)
{
    const char *texts[] = {
        "[{\"a\": \"x\\\"]\", \"b\": [1, {\"c\": [2, 3]}]},\n"
        " {\"d\": null}, {\"e\": \"\xc3\xa9\"}]\n",
        "{\"a\": \"x\\\"]\", \"b\": [1, {\"c\": [2, 3]}]}\n{\"d\": null}\n{\"e\": 1.5}\n",
    };
    char *p = srl_path_join(tmpdir, "cut.json");
    srl_log_set_level(SRL_LOG_OFF);
    for (int k = 0; k < 2; k++) {
        size_t len = strlen(texts[k]);
        int full = 0;
        for (size_t cut = 0; cut <= len; cut++) {
            REQUIRE(srl_write_file_atomic(p, texts[k], cut) == 0);
            int err;
            struct srl_jsonl *r = srl_jsonl_open(p, &err);
            REQUIRE(r);
            struct srl_json *rec;
            int n = 0, guard = 0;
            while (guard++ < 10) {
                err = srl_jsonl_next(r, &rec);
                if (err == 0) {
                    n++;
                    srl_json_decref(rec);
                } else if (err == SRL_EOF || !srl_jsonl_recoverable(r)) {
                    break;
                }
            }
            EXPECT(guard < 10, "reader did not stop at cut %zu", cut);
            if (err == SRL_EOF && n == 3) full++;
            srl_jsonl_close(r);
        }
        /* the array is complete only in full (and with its newline cut); JSONL also when the
         * last line's newline is missing */
        EXPECT(full == 2, "text %d: %d prefixes read as complete", k, full);
    }
    srl_log_set_level(SRL_LOG_WARNING);
    free(p);
}

static void test_shared_data(void)
{
    struct {
        const char *rel;
        long n;
    } sets[] = {
        { "data/alpaca/alpaca_5000.json", 5000 },
        { "data/hh-rlhf/helpful-base/test.jsonl.gz", 2354 },
        { "data/sft/lima.json", 1029 },
        { "data/pku-saferlhf/safety-pairs-test.jsonl", 559 },
    };
    char path[400];
    snprintf(path, sizeof path, "%s/%s", test_shared_dir(), sets[0].rel);
    if (!test_file_exists(path)) SKIP("%s absent", path);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", test_shared_dir(), sets[i].rel);
        long n = count_records(path, NULL, 0);
        EXPECT(n == sets[i].n, "%s: %ld records, want %ld", sets[i].rel, n, sets[i].n);
    }
    /* spot check fields */
    snprintf(path, sizeof path, "%s/%s", test_shared_dir(), sets[1].rel);
    int err;
    struct srl_jsonl *r = srl_jsonl_open(path, &err);
    REQUIRE(r);
    struct srl_json *rec;
    REQUIRE(srl_jsonl_next(r, &rec) == 0);
    const char *chosen = srl_json_string(srl_json_get(rec, "chosen"));
    EXPECT(chosen && strncmp(chosen, "\n\nHuman: ", 9) == 0);
    srl_json_decref(rec);
    srl_jsonl_close(r);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_jsonl.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    RUN(test_jsonl_lines);
    RUN(test_json_array);
    RUN(test_gzip);
    RUN(test_stdin);
    RUN(test_errors);
    RUN(test_values_and_dump);
    RUN(test_prompt_files);
    RUN(test_document_errors);
    RUN(test_truncations_never_crash);
    RUN(test_shared_data);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return test_summary();
}
