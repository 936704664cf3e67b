/* test_config.c -- config.json of real Hub models (tests/ref/configs, written from the Hub
 * originals), transformers-5 fixtures, malformed and unsupported configs, save/load round trip. */
#include "test.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "config.h"
#include "fileio.h"
#include "srl.h"

static char tmpdir[256];
static char last_log[4096]; /* stderr of the last load_capture() */

/* srl_config_load with stderr captured into last_log. */
static int load_capture(const char *path, struct srl_config *cfg)
{
    char *log = srl_path_join(tmpdir, "stderr.txt");
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    int rc = srl_config_load(path, cfg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *msg = NULL;
    last_log[0] = '\0';
    if (srl_read_file(log, &msg, NULL) == 0) snprintf(last_log, sizeof last_log, "%s", msg);
    free(msg);
    free(log);
    return rc;
}

static char *write_tmp(const char *name, const char *json)
{
    char *p = srl_path_join(tmpdir, name);
    if (srl_write_file_atomic(p, json, strlen(json)) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

static void test_tinyllama(void)
{
    struct srl_config c;
    REQUIRE(load_capture("tests/ref/configs/tinyllama-1.1b.json", &c) == 0, "%s", last_log);
    EXPECT(last_log[0] == '\0', "unexpected messages: %s", last_log);
    EXPECT(c.arch == SRL_ARCH_LLAMA && c.head == SRL_HEAD_LM && c.dtype == SRL_DTYPE_BF16);
    EXPECT(c.vocab_size == 32000 && c.hidden_size == 2048 && c.intermediate_size == 5632);
    EXPECT(c.num_hidden_layers == 22 && c.num_attention_heads == 32 && c.num_key_value_heads == 4);
    EXPECT(c.head_dim == 64 && c.max_position_embeddings == 2048);
    EXPECT(c.norm_eps == 1e-5f && c.rope_theta == 10000.0f && !c.tie_word_embeddings);
    EXPECT(!c.attention_bias && !c.attention_out_bias && !c.mlp_bias);
    EXPECT(c.bos_token_id == 1 && c.eos_token_id == 2 && c.pad_token_id == -1);
    EXPECT(strcmp(c.model_type, "llama") == 0 && strcmp(c.architecture, "LlamaForCausalLM") == 0);
    EXPECT(c.score_type[0] == '\0' && c.template_name[0] == '\0');
    EXPECT(srl_config_param_count(&c) == 1100048384u, "%zu", srl_config_param_count(&c));
}

static void test_llama3_smollm_qwen2_gpt2(void)
{
    struct srl_config c;
    REQUIRE(load_capture("tests/ref/configs/llama-3-8b.json", &c) == 0, "%s", last_log);
    EXPECT(c.vocab_size == 128256 && c.num_key_value_heads == 8 && c.head_dim == 128);
    EXPECT(c.rope_theta == 500000.0f && c.bos_token_id == 128000 && c.eos_token_id == 128001);
    EXPECT(srl_config_param_count(&c) == 8030261248u, "%zu", srl_config_param_count(&c));
    /* Llama 3.1's "llama3" rope scaling is not implemented: a clear error */
    EXPECT(load_capture("tests/ref/configs/llama-3.1-8b-instruct.json", &c) == SRL_EUNSUPPORTED &&
           strstr(last_log, "\"rope_scaling\" with rope type \"llama3\" is not supported"),
           "%s", last_log);

    REQUIRE(load_capture("tests/ref/configs/smollm-135m.json", &c) == 0, "%s", last_log);
    EXPECT(c.hidden_size == 576 && c.num_attention_heads == 9 && c.num_key_value_heads == 3);
    EXPECT(c.head_dim == 64 && c.tie_word_embeddings && c.dtype == SRL_DTYPE_F32);
    EXPECT(c.bos_token_id == 0 && c.eos_token_id == 0);
    EXPECT(srl_config_param_count(&c) == 134515008u, "%zu", srl_config_param_count(&c));

    REQUIRE(load_capture("tests/ref/configs/qwen2-0.5b.json", &c) == 0, "%s", last_log);
    EXPECT(last_log[0] == '\0', "unexpected messages: %s", last_log);
    EXPECT(strcmp(c.model_type, "qwen2") == 0 && c.arch == SRL_ARCH_LLAMA);
    EXPECT(c.attention_bias && !c.attention_out_bias && !c.mlp_bias && c.tie_word_embeddings);
    EXPECT(c.norm_eps == 1e-6f && c.rope_theta == 1e6f && c.num_key_value_heads == 2);
    EXPECT(c.max_position_embeddings == 131072 && c.head_dim == 64);
    EXPECT(srl_config_param_count(&c) == 494032768u, "%zu", srl_config_param_count(&c));

    REQUIRE(load_capture("tests/ref/configs/gpt2.json", &c) == 0, "%s", last_log);
    EXPECT(last_log[0] == '\0', "unexpected messages: %s", last_log);
    EXPECT(c.arch == SRL_ARCH_GPT2 && c.head == SRL_HEAD_LM && c.tie_word_embeddings);
    EXPECT(c.hidden_size == 768 && c.intermediate_size == 3072 && c.num_hidden_layers == 12);
    EXPECT(c.num_attention_heads == 12 && c.num_key_value_heads == 12 && c.head_dim == 64);
    EXPECT(c.max_position_embeddings == 1024 && c.norm_eps == 1e-5f && c.vocab_size == 50257);
    EXPECT(c.bos_token_id == 50256 && c.eos_token_id == 50256 && c.pad_token_id == -1);
    EXPECT(srl_config_param_count(&c) == 124439808u, "%zu", srl_config_param_count(&c));
}

static void test_reward_and_transformers5(void)
{
    struct srl_config c;
    REQUIRE(load_capture("tests/ref/configs/llama-reward.json", &c) == 0, "%s", last_log);
    EXPECT(last_log[0] == '\0', "unexpected messages: %s", last_log);
    EXPECT(c.head == SRL_HEAD_SCORE && c.num_labels == 1 && c.pad_token_id == 0);
    EXPECT(strcmp(c.score_type, "cost") == 0 && strcmp(c.template_name, "saferlhf") == 0);
    EXPECT(c.rope_theta == 20000.0f && c.dtype == SRL_DTYPE_BF16 && c.head_dim == 64);
    EXPECT(srl_config_param_count(&c) == 29037568u, "%zu", srl_config_param_count(&c));

    /* written by transformers 5 (scripts/make_reference.py) */
    if (!test_file_exists("tests/ref/llama_gqa/config.json")) SKIP("no tests/ref/llama_gqa");
    REQUIRE(load_capture("tests/ref/llama_gqa/config.json", &c) == 0, "%s", last_log);
    EXPECT(last_log[0] == '\0', "unexpected messages: %s", last_log);
    EXPECT(c.rope_theta == 1000.0f && c.num_key_value_heads == 2 && c.head_dim == 8);
    EXPECT(c.pad_token_id == 0 && c.dtype == SRL_DTYPE_F32);
    if (test_file_exists("tests/ref/qwen2_bias/config.json")) {
        REQUIRE(load_capture("tests/ref/qwen2_bias/config.json", &c) == 0, "%s", last_log);
        EXPECT(c.attention_bias && !c.attention_out_bias && c.rope_theta == 50000.0f);
    }
}

static void test_bad_configs(void)
{
    static const char *llama_head =
        "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", "
        "\"vocab_size\": 100, \"intermediate_size\": 64, \"num_hidden_layers\": 2, ";
    struct {
        const char *name, *tail;
        int err;
        const char *msg; /* must appear in the log */
    } cases[] = {
        { "kv", "\"hidden_size\": 64, \"num_attention_heads\": 8, \"num_key_value_heads\": 3}",
          SRL_EINVAL, "num_key_value_heads (3) must divide num_attention_heads (8)" },
        { "div", "\"hidden_size\": 60, \"num_attention_heads\": 8}", SRL_EINVAL,
          "hidden_size (60) must be divisible by num_attention_heads (8)" },
        { "neg", "\"hidden_size\": 64, \"num_attention_heads\": 8, \"num_hidden_layers\": -1}",
          SRL_EFORMAT, "duplicate" },
        { "act", "\"hidden_size\": 64, \"num_attention_heads\": 8, \"hidden_act\": \"gelu\"}",
          SRL_EUNSUPPORTED, "hidden_act" },
        { "rope", "\"hidden_size\": 64, \"num_attention_heads\": 8, "
                  "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}",
          SRL_EUNSUPPORTED, "\"rope_scaling\" with rope type \"linear\"" },
        { "rope5", "\"hidden_size\": 64, \"num_attention_heads\": 8, "
                   "\"rope_parameters\": {\"rope_type\": \"yarn\", \"rope_theta\": 1e4}}",
          SRL_EUNSUPPORTED, "rope_parameters" },
        { "str", "\"hidden_size\": \"big\", \"num_attention_heads\": 8}", SRL_EFORMAT,
          "\"hidden_size\" must be an integer" },
        { "frac", "\"hidden_size\": 64.5, \"num_attention_heads\": 8}", SRL_EFORMAT,
          "\"hidden_size\" must be an integer" },
        { "miss", "\"num_attention_heads\": 8}", SRL_EFORMAT, "missing \"hidden_size\"" },
        { "dtype", "\"hidden_size\": 64, \"num_attention_heads\": 8, \"torch_dtype\": \"int8\"}",
          SRL_EUNSUPPORTED, "torch_dtype" },
        { "quant", "\"hidden_size\": 64, \"num_attention_heads\": 8, "
                   "\"quantization_config\": {\"quant_method\": \"gptq\"}}",
          SRL_EUNSUPPORTED, "quantization_config" },
        { "eosbig", "\"hidden_size\": 64, \"num_attention_heads\": 8, \"eos_token_id\": 100}",
          SRL_EINVAL, "eos_token_id (100) is outside the vocabulary" },
        { "layers", "\"hidden_size\": 64, \"num_attention_heads\": 8, \"layer_types\": "
                    "[\"full_attention\", \"sliding_attention\"]}", SRL_EUNSUPPORTED,
          "layer_types" },
        { "eps", "\"hidden_size\": 64, \"num_attention_heads\": 8, \"rms_norm_eps\": 0}",
          SRL_EINVAL, "rms_norm_eps" },
    };
    struct srl_config c;
    char json[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(json, sizeof json, "%s%s", llama_head, cases[i].tail);
        char *p = write_tmp(cases[i].name, json);
        REQUIRE(p);
        int rc = load_capture(p, &c);
        EXPECT(rc == cases[i].err && strstr(last_log, cases[i].msg) && strstr(last_log, p),
               "case %s: rc %d, log: %s", cases[i].name, rc, last_log);
        free(p);
    }
    struct {
        const char *name, *json;
        int err;
        const char *msg;
    } whole[] = {
        { "notjson", "{\"model_type\": \"llama\",\n \"hidden_size\": }", SRL_EFORMAT, ":2: " },
        { "array", "[1, 2]", SRL_EFORMAT, "not a JSON object" },
        { "bert", "{\"model_type\": \"bert\", \"architectures\": [\"BertModel\"]}",
          SRL_EUNSUPPORTED, "\"BertModel\" is not supported" },
        { "notype", "{\"hidden_size\": 8}", SRL_EUNSUPPORTED, "model_type" },
        { "gpt2act", "{\"model_type\": \"gpt2\", \"activation_function\": \"relu\"}",
          SRL_EUNSUPPORTED, "activation_function" },
        { "gpt2idx", "{\"model_type\": \"gpt2\", \"scale_attn_by_inverse_layer_idx\": true}",
          SRL_EUNSUPPORTED, "scale_attn_by_inverse_layer_idx" },
        { "gpt2div", "{\"model_type\": \"gpt2\", \"n_embd\": 100, \"n_head\": 12}", SRL_EINVAL,
          "n_embd (100) must be divisible by n_head (12)" },
        { "labels", "{\"architectures\": [\"GPT2ForSequenceClassification\"], "
                    "\"id2label\": {\"0\": \"LABEL_0\", \"1\": \"LABEL_1\"}}", SRL_EINVAL,
          "num_labels 1, not 2" },
        { "mistral_sw", "{\"model_type\": \"mistral\", \"vocab_size\": 100, \"hidden_size\": 64, "
                        "\"intermediate_size\": 64, \"num_hidden_layers\": 1, "
                        "\"num_attention_heads\": 4, \"max_position_embeddings\": 32768, "
                        "\"sliding_window\": 4096}", SRL_EUNSUPPORTED, "sliding_window" },
        { "qwen_sw", "{\"model_type\": \"qwen2\", \"vocab_size\": 100, \"hidden_size\": 64, "
                     "\"intermediate_size\": 64, \"num_hidden_layers\": 1, "
                     "\"num_attention_heads\": 4, \"use_sliding_window\": true, "
                     "\"sliding_window\": 4096}", SRL_EUNSUPPORTED, "sliding_window" },
        { "score_type", "{\"model_type\": \"gpt2\", \"saferlhf\": {\"score_type\": \"x\"}}",
          SRL_EINVAL, "score_type" },
        /* sizes whose products overflow int (they overflowed the heap in lib/model.c) and
         * token ids out of int range (2^32 + 1 was truncated to 1) */
        { "qd_overflow", "{\"model_type\": \"llama\", \"vocab_size\": 100, \"hidden_size\": 64, "
                         "\"intermediate_size\": 64, \"num_hidden_layers\": 1, "
                         "\"num_attention_heads\": 8, \"head_dim\": 536870912}", SRL_EINVAL,
          "num_attention_heads * head_dim (4294967296) is too large" },
        { "fc_overflow", "{\"model_type\": \"llama\", \"vocab_size\": 100, \"hidden_size\": 64, "
                         "\"intermediate_size\": 1500000000, \"num_hidden_layers\": 1, "
                         "\"num_attention_heads\": 8}", SRL_EINVAL,
          "2 * intermediate_size (3000000000) is too large" },
        { "params_overflow", "{\"model_type\": \"llama\", \"vocab_size\": 2000000000, "
                             "\"hidden_size\": 1000000, \"intermediate_size\": 64, "
                             "\"num_hidden_layers\": 1, \"num_attention_heads\": 1000}",
          SRL_EINVAL, "more than 2^40 parameters" },
        { "gpt2_inner", "{\"model_type\": \"gpt2\", \"n_embd\": 600000000, \"n_head\": 1}",
          SRL_EINVAL, "2 * intermediate_size" },
        { "eos_list", "{\"model_type\": \"gpt2\", \"eos_token_id\": [4294967297]}", SRL_EFORMAT,
          "\"eos_token_id\" (4294967297) is not a token id" },
        { "eos_int", "{\"model_type\": \"gpt2\", \"eos_token_id\": 4294967297}", SRL_EFORMAT,
          "\"eos_token_id\" (4294967297) is out of range" },
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        char *p = write_tmp(whole[i].name, whole[i].json);
        REQUIRE(p);
        int rc = load_capture(p, &c);
        EXPECT(rc == whole[i].err && strstr(last_log, whole[i].msg) && strstr(last_log, p),
               "case %s: rc %d, log: %s", whole[i].name, rc, last_log);
        free(p);
    }
    char *p = srl_path_join(tmpdir, "missing.json");
    EXPECT(load_capture(p, &c) == SRL_EIO && strstr(last_log, p), "%s", last_log);
    free(p);
}

/* The "neg" case above is really a duplicate key (JSON_REJECT_DUPLICATES); check sizes too. */
static void test_nonpositive_sizes(void)
{
    struct srl_config c;
    srl_config_default(&c, SRL_ARCH_LLAMA);
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_config_validate(&c, "x") == 0);
    c.num_hidden_layers = 0;
    EXPECT(srl_config_validate(&c, "x") == SRL_EINVAL);
    srl_config_default(&c, SRL_ARCH_LLAMA);
    c.vocab_size = 0;
    c.bos_token_id = c.eos_token_id = -1;
    EXPECT(srl_config_validate(&c, "x") == SRL_EINVAL);
    srl_config_default(&c, SRL_ARCH_GPT2);
    EXPECT(srl_config_validate(&c, "x") == 0);
    EXPECT(srl_config_param_count(&c) == 124439808u);
    c.head = SRL_HEAD_SCORE;
    c.num_labels = 2;
    EXPECT(srl_config_validate(&c, "x") == SRL_EINVAL);
    srl_log_set_level(SRL_LOG_WARNING);
}

static void test_unknown_key_warns(void)
{
    char *p = write_tmp("unknown.json", "{\"model_type\": \"gpt2\", \"n_embd\": 64, \"n_head\": 4, "
                                        "\"vocab_size\": 100, \"bos_token_id\": 0, "
                                        "\"eos_token_id\": 0, \"fancy_new_knob\": 3}");
    REQUIRE(p);
    struct srl_config c;
    EXPECT(load_capture(p, &c) == 0 && strstr(last_log, "fancy_new_knob") &&
           strstr(last_log, "warning"), "%s", last_log);
    EXPECT(c.hidden_size == 64 && c.intermediate_size == 256 && c.head_dim == 16);
    free(p);
    /* eos list, null pad, dtype key of transformers 5, unknown model_type but a Llama class */
    p = write_tmp("list.json", "{\"model_type\": \"tinyllama\", \"architectures\": "
                               "[\"LlamaForCausalLM\"], \"vocab_size\": 100, \"hidden_size\": 64, "
                               "\"intermediate_size\": 64, \"num_hidden_layers\": 1, "
                               "\"num_attention_heads\": 4, \"eos_token_id\": [7, 8], "
                               "\"pad_token_id\": null, \"dtype\": \"float16\"}");
    EXPECT(load_capture(p, &c) == 0, "%s", last_log);
    EXPECT(c.eos_token_id == 7 && c.pad_token_id == -1 && c.dtype == SRL_DTYPE_F16);
    EXPECT(c.num_key_value_heads == 4 && c.norm_eps == 1e-6f && c.rope_theta == 10000.0f);
    EXPECT(strcmp(c.model_type, "llama") == 0 && strstr(last_log, "tinyllama"), "%s", last_log);
    free(p);
}

static void test_save_round_trip(void)
{
    const char *files[] = { "tinyllama-1.1b", "llama-3-8b", "smollm-135m", "qwen2-0.5b", "gpt2",
                            "llama-reward" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char in[256];
        snprintf(in, sizeof in, "tests/ref/configs/%s.json", files[i]);
        struct srl_config a, b;
        REQUIRE(srl_config_load(in, &a) == 0, "%s", in);
        char *out = srl_path_join(tmpdir, "saved.json");
        REQUIRE(srl_config_save(&a, out) == 0);
        REQUIRE(load_capture(out, &b) == 0, "%s: %s", files[i], last_log);
        EXPECT(last_log[0] == '\0', "%s: messages on reload: %s", files[i], last_log);
        EXPECT(memcmp(&a, &b, sizeof a) == 0, "%s: config changed by save + load", files[i]);
        char *text = NULL;
        REQUIRE(srl_read_file(out, &text, NULL) == 0);
        EXPECT(!strstr(text, "9.99999"), "%s: float written imprecisely", files[i]);
        if (a.head == SRL_HEAD_SCORE)
            EXPECT(strstr(text, "\"LlamaForSequenceClassification\"") &&
                   strstr(text, "\"score_type\": \"cost\""));
        free(text);
        free(out);
    }
    /* a GPT-2 score model keeps its class */
    struct srl_config g, h;
    srl_config_default(&g, SRL_ARCH_GPT2);
    g.head = SRL_HEAD_SCORE;
    g.pad_token_id = 50256;
    strcpy(g.score_type, "reward");
    char *out = srl_path_join(tmpdir, "gpt2rm.json");
    REQUIRE(srl_config_save(&g, out) == 0);
    REQUIRE(srl_config_load(out, &h) == 0);
    EXPECT(h.head == SRL_HEAD_SCORE && h.pad_token_id == 50256 &&
           strcmp(h.architecture, "GPT2ForSequenceClassification") == 0 &&
           strcmp(h.score_type, "reward") == 0);
    free(out);
}

static void test_dtype_names(void)
{
    enum srl_dtype d;
    EXPECT(strcmp(srl_dtype_name(SRL_DTYPE_BF16), "bfloat16") == 0);
    EXPECT(srl_dtype_size(SRL_DTYPE_F16) == 2 && srl_dtype_size(SRL_DTYPE_I64) == 8);
    EXPECT(srl_dtype_parse("bf16", &d) == 0 && d == SRL_DTYPE_BF16);
    EXPECT(srl_dtype_parse("float16", &d) == 0 && d == SRL_DTYPE_F16);
    EXPECT(srl_dtype_parse("int8", &d) == SRL_EINVAL);
}

/* For scripts/make_io_fixtures.py --check-ours: every fixture re-saved by srl_config_save,
 * as DIR/NAME/config.json and as a score model DIR/NAME-score/config.json. */
static int save_for_python(const char *dir)
{
    const char *files[] = { "tinyllama-1.1b", "llama-3-8b", "smollm-135m", "qwen2-0.5b", "gpt2",
                            "llama-reward" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char in[256], out[512];
        struct srl_config c;
        snprintf(in, sizeof in, "tests/ref/configs/%s.json", files[i]);
        if (srl_config_load(in, &c) < 0) return 1;
        for (int score = 0; score < 2; score++) {
            snprintf(out, sizeof out, "%s/%s%s", dir, files[i], score ? "-score" : "");
            if (mkdir(out, 0777) != 0) return 1;
            strcat(out, "/config.json");
            if (score) {
                c.head = SRL_HEAD_SCORE;
                c.num_labels = 1;
                if (c.pad_token_id < 0) c.pad_token_id = c.eos_token_id;
                strcpy(c.score_type, "reward");
            }
            if (srl_config_save(&c, out) < 0) return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--save-for-python") == 0) return save_for_python(argv[2]);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_config.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    RUN(test_tinyllama);
    RUN(test_llama3_smollm_qwen2_gpt2);
    RUN(test_reward_and_transformers5);
    RUN(test_bad_configs);
    RUN(test_nonpositive_sizes);
    RUN(test_unknown_key_warns);
    RUN(test_save_round_trip);
    RUN(test_dtype_names);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return test_summary();
}
