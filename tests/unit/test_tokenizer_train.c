/* test_tokenizer_train.c -- BPE training against HF's BpeTrainer (tests/ref/tokenizers/
 * train_hf, same corpus and settings), and bad tokenizer inputs. */
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "srl.h"
#include "test.h"
#include "tokenizer.h"
#include "tokenizer_test_util.h"
#include "unicode.h"

#define REF "tests/ref/tokenizers"

static char **read_corpus(size_t *n)
{
    FILE *f = fopen(REF "/corpus.jsonl", "r");
    char *line = NULL, **texts = NULL;
    size_t cap = 0;
    *n = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_t *row = json_loads(line, JSON_ALLOW_NUL, NULL);
        texts = realloc(texts, (*n + 1) * sizeof *texts);
        texts[(*n)++] = strdup(json_string_value(json_object_get(row, "text")));
        json_decref(row);
    }
    free(line);
    if (f)
        fclose(f);
    return texts;
}

static json_t *model_of(const char *path)
{
    json_t *root = json_load_file(path, 0, NULL);
    json_t *m = json_incref(json_object_get(root, "model"));
    json_decref(root);
    return m;
}

/* "a b" or ["a", "b"] as "a b" */
static void merge_str(json_t *m, char *buf, size_t size)
{
    if (json_is_string(m))
        snprintf(buf, size, "%s", json_string_value(m));
    else
        snprintf(buf, size, "%s %s", json_string_value(json_array_get(m, 0)),
                 json_string_value(json_array_get(m, 1)));
}

static void test_train_matches_hf(void)
{
    size_t n;
    char **texts = read_corpus(&n), dir[] = "/tmp/srl_tok_train_XXXXXX", path[256];
    const char *specials[] = { "<|endoftext|>" };
    REQUIRE(n > 100, "corpus has %zu texts", n);
    REQUIRE(mkdtemp(dir), "mkdtemp");
    int rc = srl_tokenizer_train_bpe((const char *const *)texts, n, 600, specials, 1, dir);
    REQUIRE(rc == 0, "train rc %d", rc);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    json_t *ours = model_of(path), *hf = model_of(REF "/train_hf/tokenizer.json");
    REQUIRE(ours && hf, "models");
    json_t *mo = json_object_get(ours, "merges"), *mh = json_object_get(hf, "merges");
    size_t same = 0, nm = json_array_size(mh);
    char a[256], b[256];
    for (size_t i = 0; i < nm && i < json_array_size(mo); i++) {
        merge_str(json_array_get(mo, i), a, sizeof a);
        merge_str(json_array_get(mh, i), b, sizeof b);
        if (strcmp(a, b)) {
            printf("  merge %zu differs: ours '%s' hf '%s'\n", i, a, b);
            break;
        }
        same++;
    }
    printf("  %zu of %zu merges identical to HF's BpeTrainer\n", same, nm);
    EXPECT(same == nm && json_array_size(mo) == nm, "merges");
    EXPECT(json_equal(json_object_get(ours, "vocab"), json_object_get(hf, "vocab")), "vocab");
    struct srl_tokenizer *tok = load_ok(dir);
    REQUIRE(tok, "load trained");
    EXPECT(srl_tokenizer_vocab_size(tok) == 600, "vocab size %d", srl_tokenizer_vocab_size(tok));
    EXPECT(srl_tokenizer_eos_id(tok) == 0, "eos");
    check_fixture(tok, REF "/train_hf.jsonl", 0, 1);
    srl_tokenizer_free(tok);
    json_decref(ours);
    json_decref(hf);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    remove_dir(dir);
}

/* HF BpeTrainer on 11941 Alpaca texts, vocab 4000: the merges must be the same */
static void test_train_alpaca_matches_hf(void)
{
    char path[400], dir[] = "/tmp/srl_tok_train_XXXXXX", mpath[256];
    snprintf(path, sizeof path, "%s/data/alpaca/alpaca_5000.json", test_shared_dir());
    if (!test_file_exists(path))
        SKIP("%s absent", path);
    json_t *root = json_load_file(path, 0, NULL), *row;
    const char **texts = malloc(3 * json_array_size(root) * sizeof *texts);
    size_t n = 0, i;
    json_array_foreach(root, i, row) {
        const char *keys[3] = { "instruction", "input", "output" };
        for (int k = 0; k < 3; k++)
            if (json_string_length(json_object_get(row, keys[k])))
                texts[n++] = json_string_value(json_object_get(row, keys[k]));
    }
    const char *specials[] = { "<|endoftext|>" };
    REQUIRE(mkdtemp(dir), "mkdtemp");
    int rc = srl_tokenizer_train_bpe(texts, n, 4000, specials, 1, dir);
    free(texts);
    json_decref(root);
    REQUIRE(rc == 0, "train rc %d", rc);
    snprintf(mpath, sizeof mpath, "%s/tokenizer.json", dir);
    json_t *ours = model_of(mpath), *merges = json_object_get(ours, "merges");
    FILE *f = fopen(REF "/train_alpaca_merges.txt", "r");
    char line[512], mine[512];
    size_t k = 0, same = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (k < json_array_size(merges)) {
            merge_str(json_array_get(merges, k), mine, sizeof mine);
            if (same == k && !strcmp(mine, line))
                same++;
            else if (same == k)
                printf("  merge %zu differs: ours '%s' hf '%s'\n", k, mine, line);
        }
        k++;
    }
    if (f)
        fclose(f);
    printf("  %zu texts: %zu of %zu merges identical to HF's BpeTrainer\n", n, same, k);
    EXPECT(k > 3000 && same == k && json_array_size(merges) == k, "alpaca merges");
    json_decref(ours);
    remove_dir(dir);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

/* stderr of one call, captured into buf: the error message the library logged */
static char logged[2048];
static int log_fd = -1, saved_fd = -1;

static void capture_begin(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/stderr.log", dir);
    fflush(stderr);
    saved_fd = dup(2);
    log_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    dup2(log_fd, 2);
}

static void capture_end(void)
{
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    ssize_t n = pread(log_fd, logged, sizeof logged - 1, 0);
    logged[n > 0 ? n : 0] = '\0';
    close(log_fd);
}

/* rc must be want and the log one line naming the file */
#define EXPECT_ERROR(call, want, file)                                                       \
    do {                                                                                     \
        capture_begin(dir);                                                                  \
        long rc_ = (long)(call);                                                             \
        capture_end();                                                                       \
        char *nl_ = strchr(logged, '\n');                                                    \
        EXPECT(rc_ == (want) && strstr(logged, file) && nl_ && !nl_[1],                      \
               "%s: rc %ld, log '%s'", #call, rc_, logged);                                  \
    } while (0)

static int load_err(const char *path)
{
    int err = 0;
    struct srl_tokenizer *tok = srl_tokenizer_load(path, &err);
    srl_tokenizer_free(tok);
    return tok ? 0 : err;
}

static void test_bad_inputs(void)
{
    char dir[] = "/tmp/srl_tok_bad_XXXXXX", path[512], tj[512];
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    /* unsupported model types */
    const char *wp = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}";
    write_file(dir, "tokenizer.json", wp, strlen(wp));
    EXPECT_ERROR(load_err(dir), SRL_EUNSUPPORTED, tj);
    EXPECT(strstr(logged, "WordPiece") != NULL, "names the model type");
    const char *uni = "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}}";
    write_file(dir, "tokenizer.json", uni, strlen(uni));
    EXPECT_ERROR(load_err(dir), SRL_EUNSUPPORTED, tj);
    /* a merge whose result is not in the vocabulary: names the merge index */
    const char *inc = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, "
                      "\"bc\": 3}, \"merges\": [\"b c\", \"a b\"]}}";
    write_file(dir, "tokenizer.json", inc, strlen(inc));
    EXPECT_ERROR(load_err(dir), SRL_EFORMAT, tj);
    EXPECT(strstr(logged, "merge 1 ") != NULL, "names merge 1: '%s'", logged);
    const char *inc2 = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, "
                       "\"merges\": [[\"a\", \"x\"]]}}";
    write_file(dir, "tokenizer.json", inc2, strlen(inc2));
    EXPECT_ERROR(load_err(dir), SRL_EFORMAT, tj);
    /* unsupported pre-tokenizer and regex, truncated JSON, missing file */
    const char *pre = "{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": {\"type\":"
                      " \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}";
    write_file(dir, "tokenizer.json", pre, strlen(pre));
    EXPECT_ERROR(load_err(dir), SRL_EUNSUPPORTED, tj);
    const char *re = "{\"pre_tokenizer\": {\"type\": \"Split\", "
                     "\"pattern\": {\"Regex\": \"\\\\w+\"}, \"behavior\": \"Isolated\"}, "
                     "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}";
    write_file(dir, "tokenizer.json", re, strlen(re));
    EXPECT_ERROR(load_err(dir), SRL_EUNSUPPORTED, tj);
    write_file(dir, "tokenizer.json", pre, 40);
    EXPECT_ERROR(load_err(dir), SRL_EFORMAT, tj);
    snprintf(path, sizeof path, "%s/missing", dir);
    EXPECT_ERROR(load_err(path), SRL_EIO, path);
    /* truncated llama2.c tokenizer.bin: the second token claims 100 bytes */
    unsigned char bin[4 + 8 + 3 + 8] = { 7, 0, 0, 0 };
    int32_t l = 3;
    memcpy(bin + 8, &l, 4);
    memcpy(bin + 12, "abc", 3);
    l = 100;
    memcpy(bin + 19, &l, 4);
    write_file(dir, "tok.bin", bin, sizeof bin);
    snprintf(path, sizeof path, "%s/tok.bin", dir);
    EXPECT_ERROR(srl_tokenizer_convert_llama2c(path, dir), SRL_EFORMAT, path);
    write_file(dir, "tok.bin", bin, sizeof bin - 2);
    EXPECT_ERROR(srl_tokenizer_convert_llama2c(path, dir), SRL_EFORMAT, path);
    write_file(dir, "tok.bin", bin, 2);
    EXPECT_ERROR(srl_tokenizer_convert_llama2c(path, dir), SRL_EFORMAT, path);
    /* encoder.json that does not match vocab.bpe (a merge using a token not in encoder.json) */
    const char *enc = "{\"a\": 0, \"b\": 1, \"ab\": 2}";
    const char *bpe = "#version: 0.2\na b\nab c\n";
    char ep[512], bp[512];
    write_file(dir, "encoder.json", enc, strlen(enc));
    write_file(dir, "vocab.bpe", bpe, strlen(bpe));
    snprintf(ep, sizeof ep, "%s/encoder.json", dir);
    snprintf(bp, sizeof bp, "%s/vocab.bpe", dir);
    EXPECT_ERROR(srl_tokenizer_convert_gpt2(ep, bp, dir), SRL_EFORMAT, bp);
    EXPECT(strstr(logged, "encoder.json") && strstr(logged, ":3:"), "line and files: '%s'", logged);
    /* a SentencePiece file that is not a protobuf */
    write_file(dir, "x.model", "\xff\xff\xff", 3);
    snprintf(path, sizeof path, "%s/x.model", dir);
    EXPECT_ERROR(srl_tokenizer_convert_sentencepiece(path, dir), SRL_EFORMAT, path);
    remove_dir(dir);
}

static void test_unicode_classes(void)
{
    EXPECT(srl_uc_class('a') == SRL_UC_LETTER && srl_uc_class('7') == SRL_UC_NUMBER, "ascii");
    EXPECT(srl_uc_class(0x4E2D) == SRL_UC_LETTER, "CJK");
    EXPECT(srl_uc_class(0x0301) == SRL_UC_OTHER, "combining mark is \\p{M}");
    EXPECT(srl_uc_class(0x3000) == SRL_UC_SPACE && srl_uc_class(0x200B) == SRL_UC_OTHER, "spaces");
    EXPECT(srl_uc_class(0x00B2) == SRL_UC_NUMBER && srl_uc_class(0x2167) == SRL_UC_NUMBER, "No/Nl");
    EXPECT(srl_uc_class(0x1F600) == SRL_UC_OTHER, "emoji");
    /* HF's Oniguruma is on Unicode 16.0: U+1E5D0 (new in 16.0) is a letter, U+10940 (17.0) not */
    EXPECT(!strcmp(srl_unicode_version(), "16.0.0"), "version %s", srl_unicode_version());
    EXPECT(srl_uc_class(0x1E5D0) == SRL_UC_LETTER && srl_uc_class(0x10940) == SRL_UC_OTHER, "16.0");
    char *s = NULL;
    EXPECT(srl_utf8_lossy("a\xe4\xb8" "b\xff", 5, &s) == 8 &&
           !strcmp(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd"), "lossy");
    free(s);
    for (int b = 0; b < 256; b++)
        EXPECT(srl_unicode_to_byte(srl_byte_to_unicode((unsigned char)b)) == b, "byte %d", b);
    EXPECT(srl_byte_to_unicode(' ') == 0x120 && srl_byte_to_unicode('\n') == 0x10A, "G and C");
}

int main(void)
{
    RUN(test_train_matches_hf);
    RUN(test_train_alpaca_matches_hf);
    RUN(test_bad_inputs);
    RUN(test_unicode_classes);
    return test_summary();
}
