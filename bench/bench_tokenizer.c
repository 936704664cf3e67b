/* bench_tokenizer.c -- encoding speed of the GPT-2 and tok512 tokenizers on Alpaca and
 * HH-RLHF texts from ../shared; one JSON line per (tokenizer, data):
 *   {"bench":"tokenizer","tokenizer":"gpt2","data":"alpaca","texts":N,"mb":X,"tokens":T,
 *    "seconds":S,"mb_per_s":R,"tokens_per_s":Q,"cold_mb_per_s":C}
 * (best of three passes; cold_mb_per_s is the first pass, with an empty word cache).
 * scripts/bench_tokenizers_hf.py prints the same for HF tokenizers (Rust).
 * With SRL_BENCH_IDS=FILE it also writes each text's ids, one line per text, for parity
 * checks against HF on the whole data set (scripts/bench_tokenizers_hf.py --check FILE).
 *
 * bench_tokenizer --encode TOKENIZER_DIR reads one JSON string per line on stdin and prints
 * "ids<TAB>decoded-as-JSON" per line (scripts/fuzz_tokenizers.py compares that with HF). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "srl.h"
#include "tokenizer.h"

struct texts {
    char **s;
    size_t *len;
    size_t n, cap, bytes;
};

static void add_text(struct texts *t, const char *s, size_t len)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->s = realloc(t->s, t->cap * sizeof *t->s);
        t->len = realloc(t->len, t->cap * sizeof *t->len);
        if (!t->s || !t->len) {
            fprintf(stderr, "bench_tokenizer: out of memory\n");
            exit(1);
        }
    }
    t->s[t->n] = malloc(len + 1);
    memcpy(t->s[t->n], s, len);
    t->s[t->n][len] = '\0';
    t->len[t->n++] = len;
    t->bytes += len;
}

/* Alpaca: a JSON array of {instruction, input, output}: each non-empty field is a text. */
static int read_alpaca(const char *path, struct texts *t)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr), *row;
    size_t i;
    if (!root)
        return -1;
    json_array_foreach(root, i, row) {
        const char *keys[3] = { "instruction", "input", "output" };
        for (int k = 0; k < 3; k++) {
            json_t *v = json_object_get(row, keys[k]);
            if (json_string_length(v))
                add_text(t, json_string_value(v), json_string_length(v));
        }
    }
    json_decref(root);
    return 0;
}

/* HH-RLHF: gzipped JSONL of {chosen, rejected}: both are texts. */
static int read_hh(const char *path, struct texts *t)
{
    gzFile f = gzopen(path, "rb");
    char *line = malloc(1 << 20);
    if (!f || !line) {
        free(line);
        if (f)
            gzclose(f);
        return -1;
    }
    while (gzgets(f, line, 1 << 20)) {
        json_t *row = json_loads(line, 0, NULL);
        const char *keys[2] = { "chosen", "rejected" };
        for (int k = 0; row && k < 2; k++) {
            json_t *v = json_object_get(row, keys[k]);
            if (json_string_length(v))
                add_text(t, json_string_value(v), json_string_length(v));
        }
        json_decref(row);
    }
    free(line);
    gzclose(f);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void bench(const char *tok_name, struct srl_tokenizer *tok, const char *data_name,
                  const struct texts *t, FILE *ids_out)
{
    size_t tokens = 0;
    double best = 1e30, cold = 0;
    for (int rep = 0; rep < 3; rep++) { /* the first pass fills the word cache */
        double t0 = now();
        tokens = 0;
        for (size_t i = 0; i < t->n; i++) {
            int *ids = NULL, n = srl_tokenizer_encode(tok, t->s[i], t->len[i], 0, &ids);
            if (n < 0) {
                fprintf(stderr, "bench_tokenizer: encode failed\n");
                exit(1);
            }
            if (ids_out && rep == 0) {
                for (int k = 0; k < n; k++)
                    fprintf(ids_out, k ? " %d" : "%d", ids[k]);
                fputc('\n', ids_out);
            }
            tokens += (size_t)n;
            free(ids);
        }
        double dt = now() - t0;
        if (rep == 0)
            cold = dt;
        if (dt < best)
            best = dt;
    }
    printf("{\"bench\":\"tokenizer\",\"impl\":\"saferlhf\",\"tokenizer\":\"%s\",\"data\":\"%s\","
           "\"mode\":\"one-by-one\",\"threads\":1,\"texts\":%zu,\"mb\":%.3f,\"tokens\":%zu,"
           "\"seconds\":%.4f,\"mb_per_s\":%.2f,\"tokens_per_s\":%.0f,\"cold_mb_per_s\":%.2f}\n",
           tok_name, data_name, t->n, (double)t->bytes / 1e6, tokens, best,
           (double)t->bytes / 1e6 / best, (double)tokens / best, (double)t->bytes / 1e6 / cold);
    fflush(stdout);
}

static int encode_lines(const char *dir)
{
    int err = 0;
    struct srl_tokenizer *tok = srl_tokenizer_load(dir, &err);
    char *line = NULL;
    size_t cap = 0;
    if (!tok)
        return 1;
    while (getline(&line, &cap, stdin) > 0) {
        json_t *j = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        int *ids = NULL, n = srl_tokenizer_encode(tok, json_string_value(j),
                                                  json_string_length(j), 0, &ids);
        char *dec = NULL;
        for (int i = 0; i < n; i++)
            printf(i ? " %d" : "%d", ids[i]);
        int dl = srl_tokenizer_decode(tok, ids, n > 0 ? (size_t)n : 0, 0, &dec);
        json_t *d = json_stringn(dec ? dec : "", dl > 0 ? (size_t)dl : 0);
        char *ds = json_dumps(d, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        printf("\t%s\n", ds ? ds : "null");
        free(ds);
        json_decref(d);
        free(dec);
        free(ids);
        json_decref(j);
    }
    free(line);
    srl_tokenizer_free(tok);
    return 0;
}

int main(int argc, char **argv)
{
    const char *shared = getenv("SAFERLHF_SHARED");
    char p1[512], p2[512], alpaca[512], hh[512];
    char gdir[] = "/tmp/srl_bench_gpt2_XXXXXX", sdir[] = "/tmp/srl_bench_sp_XXXXXX";
    struct texts ta = { 0 }, th = { 0 };
    const char *ids_path = getenv("SRL_BENCH_IDS");
    FILE *ids_out = ids_path ? fopen(ids_path, "w") : NULL;

    if (argc == 3 && !strcmp(argv[1], "--encode"))
        return encode_lines(argv[2]);
    if (!shared || !*shared)
        shared = "../shared";
    snprintf(alpaca, sizeof alpaca, "%s/data/alpaca/alpaca_5000.json", shared);
    snprintf(hh, sizeof hh, "%s/data/hh-rlhf/helpful-base/test.jsonl.gz", shared);
    if (read_alpaca(alpaca, &ta) < 0 || read_hh(hh, &th) < 0) {
        printf("{\"bench\":\"tokenizer\",\"skipped\":\"%s data absent\"}\n", shared);
        return 0;
    }
    if (!mkdtemp(gdir) || !mkdtemp(sdir))
        return 1;
    snprintf(p1, sizeof p1, "%s/tokenizers/gpt2/encoder.json", shared);
    snprintf(p2, sizeof p2, "%s/tokenizers/gpt2/vocab.bpe", shared);
    struct srl_tokenizer *gpt2 = NULL, *sp = NULL;
    if (srl_tokenizer_convert_gpt2(p1, p2, gdir) == 0)
        gpt2 = srl_tokenizer_load(gdir, NULL);
    snprintf(p1, sizeof p1, "%s/models/stories260K/tok512.model", shared);
    if (srl_tokenizer_convert_sentencepiece(p1, sdir) == 0)
        sp = srl_tokenizer_load(sdir, NULL);
    if (!gpt2 || !sp)
        return 1;
    bench("gpt2", gpt2, "alpaca", &ta, ids_out);
    bench("gpt2", gpt2, "hh-rlhf", &th, ids_out);
    bench("tok512", sp, "alpaca", &ta, ids_out);
    bench("tok512", sp, "hh-rlhf", &th, ids_out);
    if (ids_out)
        fclose(ids_out);
    srl_tokenizer_free(gpt2);
    srl_tokenizer_free(sp);
    const char *names[2] = { "tokenizer.json", "tokenizer_config.json" };
    for (int k = 0; k < 2; k++) {
        snprintf(p1, sizeof p1, "%s/%s", gdir, names[k]);
        remove(p1);
        snprintf(p1, sizeof p1, "%s/%s", sdir, names[k]);
        remove(p1);
    }
    rmdir(gdir);
    rmdir(sdir);
    for (size_t i = 0; i < ta.n; i++)
        free(ta.s[i]);
    for (size_t i = 0; i < th.n; i++)
        free(th.s[i]);
    free(ta.s);
    free(ta.len);
    free(th.s);
    free(th.len);
    return 0;
}
