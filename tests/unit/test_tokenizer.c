/* test_tokenizer.c -- token-id parity with HF tokenizers on tests/ref/tokenizers fixtures
 * (made by scripts/make_tokenizer_fixtures.py), converters, decoding and streaming bytes. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "srl.h"
#include "test.h"
#include "tokenizer.h"
#include "tokenizer_test_util.h"

#define REF "tests/ref/tokenizers"

static void test_tok512_hf_json(void)
{
    struct srl_tokenizer *tok = load_ok(REF "/tok512");
    REQUIRE(tok, "cannot load " REF "/tok512");
    check_fixture(tok, REF "/tok512.jsonl", 0, 1);
    srl_tokenizer_free(tok);
}

static void test_llama3_pattern(void)
{
    struct srl_tokenizer *tok = load_ok(REF "/llama3/tokenizer.json");
    REQUIRE(tok, "cannot load llama3");
    check_fixture(tok, REF "/llama3.jsonl", 0, 1);
    EXPECT(srl_tokenizer_id(tok, "<|eot_id|>") == 1, "eot id");
    srl_tokenizer_free(tok);
}

static void test_qwen2_nfc(void)
{
    struct srl_tokenizer *tok = load_ok(REF "/qwen2");
    REQUIRE(tok, "cannot load qwen2");
    check_fixture(tok, REF "/qwen2.jsonl", 0, 1);
    /* NFC: e + combining acute encodes as the precomposed e-acute */
    int *a = NULL, *b = NULL;
    int na = srl_tokenizer_encode(tok, "caf\xc3\xa9", 5, 0, &a);
    int nb = srl_tokenizer_encode(tok, "cafe\xcc\x81", 6, 0, &b);
    EXPECT(na > 0 && na == nb && !memcmp(a, b, (size_t)na * sizeof *a), "NFC");
    free(a);
    free(b);
    srl_tokenizer_free(tok);
}

static void test_gpt2_pattern_small(void)
{
    struct srl_tokenizer *tok = load_ok(REF "/train_hf");
    REQUIRE(tok, "cannot load train_hf");
    check_fixture(tok, REF "/train_hf.jsonl", 0, 1);
    srl_tokenizer_free(tok);
}

static void test_other_pipelines(void)
{
    const char *names[] = { "llama2", "metaspace_first", "added", "digits", "digit_runs_prefix" };
    for (int i = 0; i < 5; i++) {
        char dir[256], fixture[256];
        snprintf(dir, sizeof dir, REF "/%s", names[i]);
        snprintf(fixture, sizeof fixture, REF "/%s.jsonl", names[i]);
        struct srl_tokenizer *tok = load_ok(dir);
        EXPECT(tok, "cannot load %s", dir);
        if (tok)
            check_fixture(tok, fixture, 0, 1);
        srl_tokenizer_free(tok);
    }
}

static void test_gpt2_convert(void)
{
    char enc[400], bpe[400], dir[] = "/tmp/srl_tok_gpt2_XXXXXX", buf[256];
    snprintf(enc, sizeof enc, "%s/tokenizers/gpt2/encoder.json", test_shared_dir());
    snprintf(bpe, sizeof bpe, "%s/tokenizers/gpt2/vocab.bpe", test_shared_dir());
    if (!test_file_exists(enc) || !test_file_exists(bpe))
        SKIP("%s absent", enc);
    REQUIRE(mkdtemp(dir), "mkdtemp");
    REQUIRE(srl_tokenizer_convert_gpt2(enc, bpe, dir) == 0, "convert gpt2");
    struct srl_tokenizer *tok = load_ok(dir);
    REQUIRE(tok, "cannot load converted gpt2");
    EXPECT(srl_tokenizer_vocab_size(tok) == 50257, "vocab %d", srl_tokenizer_vocab_size(tok));
    EXPECT(srl_tokenizer_eos_id(tok) == 50256 && srl_tokenizer_bos_id(tok) == 50256, "eos/bos");
    EXPECT(srl_tokenizer_id(tok, "\xc4\xa0the") == 262, "Gthe");
    EXPECT(!strcmp(srl_tokenizer_token(tok, 50256), "<|endoftext|>"), "token 50256");
    srl_tokenizer_describe(tok, buf, sizeof buf);
    printf("  %s\n", buf);
    EXPECT(strstr(buf, "byte-level BPE, 50257 tokens, 50000 merges") != NULL, "describe '%s'", buf);
    check_fixture(tok, REF "/gpt2.jsonl", 0, 1);
    srl_tokenizer_free(tok);
    remove_dir(dir);
}

static void check_tok512_dir(const char *dir)
{
    struct srl_tokenizer *tok = load_ok(dir);
    REQUIRE(tok, "cannot load converted tok512");
    EXPECT(srl_tokenizer_vocab_size(tok) == 512, "vocab %d", srl_tokenizer_vocab_size(tok));
    EXPECT(srl_tokenizer_bos_id(tok) == 1 && srl_tokenizer_eos_id(tok) == 2, "bos/eos");
    EXPECT(srl_tokenizer_unk_id(tok) == 0, "unk");
    check_fixture(tok, REF "/tok512.jsonl", 0, 1);
    /* add_special: BOS in front, as LlamaTokenizerFast with add_bos_token */
    int *ids = NULL, n = srl_tokenizer_encode(tok, "Hello world", 11, 1, &ids);
    EXPECT(n > 1 && ids[0] == 1, "BOS first (n=%d)", n);
    free(ids);
    srl_tokenizer_free(tok);
}

static void test_tok512_convert_model(void)
{
    char model[400], dir[] = "/tmp/srl_tok_sp_XXXXXX";
    snprintf(model, sizeof model, "%s/models/stories260K/tok512.model", test_shared_dir());
    if (!test_file_exists(model))
        SKIP("%s absent", model);
    REQUIRE(mkdtemp(dir), "mkdtemp");
    REQUIRE(srl_tokenizer_convert_sentencepiece(model, dir) == 0, "convert .model");
    check_tok512_dir(dir);
    remove_dir(dir);
}

static void test_tok512_convert_bin(void)
{
    char bin[400], dir[] = "/tmp/srl_tok_l2c_XXXXXX";
    snprintf(bin, sizeof bin, "%s/models/stories260K/tok512.bin", test_shared_dir());
    if (!test_file_exists(bin))
        SKIP("%s absent", bin);
    REQUIRE(mkdtemp(dir), "mkdtemp");
    REQUIRE(srl_tokenizer_convert_llama2c(bin, dir) == 0, "convert .bin");
    check_tok512_dir(dir);
    remove_dir(dir);
}

/* one tokenizer shared by several threads (the word cache is locked): same ids as one thread */
static void test_threads(void)
{
    struct srl_tokenizer *tok = load_ok(REF "/llama3");
    REQUIRE(tok, "load");
    static const char *texts[] = { "Hello world, it's 2024!", "  don't STOP\n\n", "x",
                                   "\xe4\xb8\xad\xe6\x96\x87 and \xf0\x9f\x98\x80" };
    int *ref[4], nref[4], bad = 0;
    for (int k = 0; k < 4; k++)
        nref[k] = srl_tokenizer_encode(tok, texts[k], strlen(texts[k]), 1, &ref[k]);
#pragma omp parallel for num_threads(4) reduction(+ : bad)
    for (int i = 0; i < 4000; i++) {
        int k = i % 4, *ids = NULL;
        int n = srl_tokenizer_encode(tok, texts[k], strlen(texts[k]), 1, &ids);
        bad += n != nref[k] || (n > 0 && memcmp(ids, ref[k], (size_t)n * sizeof *ids));
        free(ids);
    }
    EXPECT(bad == 0, "%d threaded encodes differ", bad);
    for (int k = 0; k < 4; k++)
        free(ref[k]);
    srl_tokenizer_free(tok);
}

static void test_decode_and_stream(void)
{
    struct srl_tokenizer *tok = load_ok(REF "/tok512");
    REQUIRE(tok, "load");
    /* byte fallback: an emoji is 4 <0xNN> tokens; streaming bytes reassemble it */
    const char *text = "Hi \xf0\x9f\x98\x80 there";
    int *ids = NULL, n = srl_tokenizer_encode(tok, text, strlen(text), 0, &ids);
    REQUIRE(n > 0, "encode");
    char stream[128], one[16];
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        int b = srl_tokenizer_token_bytes(tok, ids[i], one, sizeof one);
        REQUIRE(b >= 0 && k + (size_t)b < sizeof stream, "token bytes");
        memcpy(stream + k, one, (size_t)b);
        k += (size_t)b;
    }
    stream[k] = '\0';
    EXPECT(!strcmp(stream, " Hi \xf0\x9f\x98\x80 there"), "stream '%s'", stream);
    char *dec = NULL;
    EXPECT(srl_tokenizer_decode(tok, ids, (size_t)n, 1, &dec) >= 0 && !strcmp(dec, text),
           "decode '%s'", dec ? dec : "");
    free(dec);
    /* invalid byte runs decode as one U+FFFD per byte, as HF's ByteFallback does */
    int bad[3] = { 3 + 0x98, 3 + 0x41, srl_tokenizer_id(tok, "he") };
    EXPECT(srl_tokenizer_decode(tok, bad, 3, 0, &dec) >= 0 &&
           !strcmp(dec, "\xef\xbf\xbd\xef\xbf\xbdhe"), "lossy '%s'", dec ? dec : "");
    free(dec);
    int unknown = 9999;
    EXPECT(srl_tokenizer_decode(tok, &unknown, 1, 0, &dec) == SRL_EINVAL, "unknown id");
    free(ids);
    srl_tokenizer_free(tok);
}

int main(void)
{
    RUN(test_tok512_hf_json);
    RUN(test_llama3_pattern);
    RUN(test_qwen2_nfc);
    RUN(test_gpt2_pattern_small);
    RUN(test_other_pipelines);
    RUN(test_gpt2_convert);
    RUN(test_tok512_convert_model);
    RUN(test_tok512_convert_bin);
    RUN(test_decode_and_stream);
    RUN(test_threads);
    return test_summary();
}
