/* tokenizer_test_util.h -- fixture helpers shared by the tokenizer tests. */
#ifndef SRL_TOKENIZER_TEST_UTIL_H
#define SRL_TOKENIZER_TEST_UTIL_H

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "tokenizer.h"

static inline struct srl_tokenizer *load_ok(const char *path)
{
    int err = 0;
    struct srl_tokenizer *tok = srl_tokenizer_load(path, &err);
    if (!tok)
        printf("  load '%s' failed: %d\n", path, err);
    return tok;
}

static inline void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[1024];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Encode every "text" of a JSONL fixture and compare with "ids" (and decode with "decoded").
 * Prints the number of strings checked. */
static inline void check_fixture(const struct srl_tokenizer *tok, const char *path,
                                 int add_special, int check_decode)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int n_rows = 0, n_bad = 0, n_bad_dec = 0;
    if (!f) {
        EXPECT(0, "cannot open %s", path);
        return;
    }
    while (getline(&line, &cap, f) > 0) {
        json_error_t jerr;
        json_t *row = json_loads(line, JSON_ALLOW_NUL, &jerr);
        if (!row) {
            EXPECT(0, "%s: bad line", path);
            break;
        }
        json_t *jt = json_object_get(row, "text"), *jids = json_object_get(row, "ids");
        const char *text = json_string_value(jt);
        size_t len = json_string_length(jt), n_exp = json_array_size(jids);
        int *ids = NULL, n = srl_tokenizer_encode(tok, text, len, add_special, &ids);
        int same = n == (int)n_exp;
        for (size_t i = 0; same && i < n_exp; i++)
            same = ids[i] == (int)json_integer_value(json_array_get(jids, i));
        if (!same && n_bad++ < 3) {
            printf("  %s: '%s': got", path, text);
            for (int i = 0; i < n && i < 40; i++)
                printf(" %d", ids[i]);
            printf("; want");
            for (size_t i = 0; i < n_exp && i < 40; i++)
                printf(" %d", (int)json_integer_value(json_array_get(jids, i)));
            printf("\n");
        }
        if (check_decode && n_exp) {
            const char *want = json_string_value(json_object_get(row, "decoded"));
            int *exp = malloc(n_exp * sizeof *exp);
            char *dec = NULL;
            for (size_t i = 0; i < n_exp; i++)
                exp[i] = (int)json_integer_value(json_array_get(jids, i));
            int dn = srl_tokenizer_decode(tok, exp, n_exp, 0, &dec);
            if ((dn < 0 || strcmp(dec, want)) && n_bad_dec++ < 3)
                printf("  %s: decode '%s': got '%s'\n", path, want, dec ? dec : "(error)");
            free(dec);
            free(exp);
        }
        free(ids);
        json_decref(row);
        n_rows++;
    }
    free(line);
    fclose(f);
    printf("  %s: %d strings, %d id mismatches, %d decode mismatches\n", path, n_rows, n_bad,
           n_bad_dec);
    EXPECT(n_rows >= 200 && n_bad == 0 && n_bad_dec == 0, "%s parity", path);
}

#endif
