/* saferlhf-convert.c -- import llama2.c checkpoints and GPT-2 tokenizers as Hugging Face
 * directories, and describe a checkpoint directory. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "jsonl.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "tool.h"

enum { OPT_DTYPE = TOOL_OPT_USER, OPT_JSON, OPT_TENSORS };

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: saferlhf-convert llama2c MODEL.bin TOKENIZER -o OUT_DIR [--dtype DTYPE]\n"
            "       saferlhf-convert gpt2-tokenizer ENCODER.json VOCAB.bpe -o OUT_DIR\n"
            "       saferlhf-convert info [--json] [--tensors] DIR\n"
            "\n"
            "Import checkpoints and tokenizers as Hugging Face directories, or describe one.\n"
            "  llama2c         a llama2.c checkpoint (MODEL.bin) and its tokenizer (llama2.c\n"
            "                  tokenizer.bin or SentencePiece .model) to a LlamaForCausalLM\n"
            "                  directory: config.json, model.safetensors, tokenizer.json,\n"
            "                  tokenizer_config.json, generation_config.json\n"
            "  gpt2-tokenizer  GPT-2's encoder.json and vocab.bpe to tokenizer.json and\n"
            "                  tokenizer_config.json in OUT_DIR (other files there are kept)\n"
            "  info            architecture, sizes, parameter count (checked against the\n"
            "                  tensors), dtypes, head and tokenizer of a directory\n"
            "\n"
            "Options:\n"
            "  -o, --output DIR      directory to write (replaced as a whole by llama2c)\n"
            "      --dtype DTYPE     llama2c: float32, bfloat16 or float16 [float32]\n"
            "      --json            info: one JSON object instead of text\n"
            "      --tensors         info: also list every tensor (name, dtype, shape)\n");
    tool_common_help(fp);
}

// --- llama2c ---------------------------------------------------------------------------------

struct l2c_header {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared;
};

/* Refuse to replace a directory that is not a checkpoint (a typo like -o ~ must not delete
 * a home directory). */
static int check_replaceable(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return print_error("'%s' exists and is not a directory", dir);
    char *cfg = srl_path_join(dir, "config.json");
    int ok = cfg && access(cfg, F_OK) == 0;
    free(cfg);
    if (ok || rmdir(dir) == 0) return 0; /* a checkpoint, or empty (removed) */
    return print_error("'%s' exists and is not a checkpoint directory (no config.json); "
                       "refusing to replace it", dir);
}

static int mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }

/* Copy q or k weights of n_heads heads from llama2.c's interleaved RoPE pairs (2i, 2i+1) to
 * HF's rotate_half halves (i, i + hs/2): dst row h*hs + j*hs/2 + i = src row h*hs + 2i + j,
 * i.e. w.view(n_heads, hs/2, 2, dim).transpose(1, 2).reshape(n_heads*hs, dim). */
static void permute_rope_rows(float *dst, const float *src, int n_heads, int hs, int dim)
{
    int half = hs / 2;
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(dst + ((size_t)h * hs + (size_t)j * half + i) * dim,
                       src + ((size_t)h * hs + 2 * (size_t)i + j) * dim, (size_t)dim * 4);
}

static int read_l2c_header(const char *path, const char *data, size_t len,
                           struct l2c_header *h)
{
    int32_t v[7];
    if (len < sizeof v)
        return print_error("%s: truncated llama2.c checkpoint: %zu bytes, the header needs 28",
                           path, len);
    memcpy(v, data, sizeof v);
    h->dim = v[0], h->hidden_dim = v[1], h->n_layers = v[2], h->n_heads = v[3];
    h->n_kv_heads = v[4], h->shared = v[5] > 0, h->vocab_size = abs(v[5]), h->seq_len = v[6];
    if (h->dim <= 0 || h->hidden_dim <= 0 || h->n_layers <= 0 || h->n_heads <= 0 ||
        h->n_kv_heads <= 0 || v[5] == 0 || v[5] == INT32_MIN || h->seq_len <= 0 ||
        h->dim % h->n_heads != 0 || h->n_heads % h->n_kv_heads != 0 ||
        (h->dim / h->n_heads) % 2 != 0)
        return print_error("%s: not a llama2.c checkpoint (header dim %d, hidden_dim %d, "
                           "n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d)",
                           path, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
    return 0;
}

/* llama2.c's freq_cis rows are cos/sin(pos / 10000^(2i/hs)); warn when they say otherwise. */
static void check_rope(const char *path, const float *real, const float *imag, int hs, int seq)
{
    int half = hs / 2;
    for (int pos = 1; pos < seq && pos < 8; pos++)
        for (int i = 0; i < half; i++) {
            double f = pos / pow(10000.0, 2.0 * i / hs);
            if (fabs(real[pos * half + i] - cos(f)) > 1e-4 ||
                fabs(imag[pos * half + i] - sin(f)) > 1e-4) {
                srl_log_warning("%s: freq_cis do not match rope_theta 10000; the converted "
                                "model will use 10000", path);
                return;
            }
        }
}

/* The HF Llama tensors of a llama2.c checkpoint, written to path. */
static int write_l2c_weights(const char *model_path, const char *data, size_t len,
                             const struct l2c_header *h, enum srl_dtype dtype, const char *path)
{
    size_t D = (size_t)h->dim, F = (size_t)h->hidden_dim, L = (size_t)h->n_layers;
    size_t V = (size_t)h->vocab_size, hs = D / (size_t)h->n_heads;
    size_t KVD = hs * (size_t)h->n_kv_heads, S = (size_t)h->seq_len;
    struct {
        const char *name;
        size_t per_layer, layers; /* floats */
    } sec[] = {
        { "token_embedding_table", V * D, 1 }, { "rms_att_weight", D, L }, { "wq", D * D, L },
        { "wk", KVD * D, L }, { "wv", KVD * D, L }, { "wo", D * D, L },
        { "rms_ffn_weight", D, L }, { "w1", F * D, L }, { "w2", D * F, L }, { "w3", F * D, L },
        { "rms_final_weight", D, 1 }, { "freq_cis_real", S * hs / 2, 1 },
        { "freq_cis_imag", S * hs / 2, 1 }, { "wcls", h->shared ? 0 : V * D, 1 },
    };
    enum { EMB, RMS_ATT, WQ, WK, WV, WO, RMS_FFN, W1, W2, W3, RMS_F, FREQ_R, FREQ_I, WCLS, NSEC };
    const float *ptr[NSEC];
    size_t off = 28;
    for (int i = 0; i < NSEC; i++) {
        size_t n;
        if (!mul_ok(sec[i].per_layer, sec[i].layers, &n) || !mul_ok(n, 4, &n) ||
            n > SIZE_MAX - off)
            return print_error("%s: implausible llama2.c header (sizes overflow)", model_path);
        if (off + n > len)
            return print_error("%s: truncated llama2.c checkpoint: %zu bytes, ends inside %s "
                               "(dim %d, hidden_dim %d, %d layers, %d heads, %d kv heads, "
                               "vocab %d, seq_len %d)", model_path, len, sec[i].name, h->dim,
                               h->hidden_dim, h->n_layers, h->n_heads, h->n_kv_heads,
                               h->vocab_size, h->seq_len);
        ptr[i] = (const float *)(data + off);
        off += n;
    }
    if (off != len)
        srl_log_warning("%s: %zu bytes after the last tensor ignored", model_path, len - off);
    check_rope(model_path, ptr[FREQ_R], ptr[FREQ_I], (int)hs, h->seq_len);

    size_t n_entries = 2 + 9 * L + (h->shared ? 0 : 1);
    struct srl_st_entry *e = calloc(n_entries, sizeof *e);
    char (*names)[96] = calloc(n_entries, sizeof *names);
    float *perm = malloc((D * D + KVD * D) * L * sizeof(float));
    int rc = SRL_EXIT_FAILURE;
    if (!e || !names || !perm) {
        print_error("out of memory");
        goto out;
    }
    size_t k = 0;
#define ADD(nm, nd, d0, d1, p)                                                    \
    do {                                                                          \
        snprintf(names[k], sizeof names[k], "%s", nm);                            \
        e[k].name = names[k];                                                     \
        e[k].ndim = nd;                                                           \
        e[k].shape[0] = (int64_t)(d0);                                            \
        e[k].shape[1] = (int64_t)(d1);                                            \
        e[k].data = p;                                                            \
        k++;                                                                      \
    } while (0)
    ADD("model.embed_tokens.weight", 2, V, D, ptr[EMB]);
    ADD("model.norm.weight", 1, D, 0, ptr[RMS_F]);
    if (!h->shared) ADD("lm_head.weight", 2, V, D, ptr[WCLS]);
    for (size_t l = 0; l < L; l++) {
        char nm[96];
        float *q = perm + l * (D * D + KVD * D), *kk = q + D * D;
        permute_rope_rows(q, ptr[WQ] + l * D * D, h->n_heads, (int)hs, (int)D);
        permute_rope_rows(kk, ptr[WK] + l * KVD * D, h->n_kv_heads, (int)hs, (int)D);
#define LAYER(suffix, nd, d0, d1, p)                                              \
        do {                                                                      \
            snprintf(nm, sizeof nm, "model.layers.%zu.%s", l, suffix);            \
            ADD(nm, nd, d0, d1, p);                                               \
        } while (0)
        LAYER("input_layernorm.weight", 1, D, 0, ptr[RMS_ATT] + l * D);
        LAYER("self_attn.q_proj.weight", 2, D, D, q);
        LAYER("self_attn.k_proj.weight", 2, KVD, D, kk);
        LAYER("self_attn.v_proj.weight", 2, KVD, D, ptr[WV] + l * KVD * D);
        LAYER("self_attn.o_proj.weight", 2, D, D, ptr[WO] + l * D * D);
        LAYER("post_attention_layernorm.weight", 1, D, 0, ptr[RMS_FFN] + l * D);
        LAYER("mlp.gate_proj.weight", 2, F, D, ptr[W1] + l * F * D);
        LAYER("mlp.down_proj.weight", 2, D, F, ptr[W2] + l * D * F);
        LAYER("mlp.up_proj.weight", 2, F, D, ptr[W3] + l * F * D);
#undef LAYER
    }
#undef ADD
    if (srl_st_write(path, e, k, dtype, "{\"format\":\"pt\"}") < 0) {
        print_error("cannot write '%s'", path);
        goto out;
    }
    rc = 0;
out:
    free(perm);
    free(names);
    free(e);
    return rc;
}

static int write_generation_config(const char *dir, int bos, int eos)
{
    char text[256], *path = srl_path_join(dir, "generation_config.json");
    snprintf(text, sizeof text, "{\n  \"bos_token_id\": %d,\n  \"do_sample\": false,\n"
                                "  \"eos_token_id\": %d\n}\n", bos, eos);
    int rc = path ? srl_write_file_atomic(path, text, strlen(text)) : SRL_ENOMEM;
    free(path);
    return rc;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmd_llama2c(const char *model, const char *tok, const char *out, enum srl_dtype dtype)
{
    char *data = NULL, *path = NULL;
    size_t len;
    struct l2c_header h = { 0 };
    struct srl_dir_txn txn = { 0 };
    struct srl_tokenizer *t = NULL;
    int rc = SRL_EXIT_FAILURE;
    if (srl_read_file(model, &data, &len) < 0) {
        print_error("cannot read '%s'", model);
        return SRL_EXIT_FAILURE;
    }
    if (read_l2c_header(model, data, len, &h) != 0 || check_replaceable(out) != 0) goto out;
    if (srl_dir_begin(&txn, out) < 0) {
        print_error("cannot create '%s'", out);
        goto out;
    }
    if (!(path = srl_path_join(txn.tmp_dir, "model.safetensors"))) goto out;
    if (write_l2c_weights(model, data, len, &h, dtype, path) != 0) goto out;

    struct srl_config cfg;
    srl_config_default(&cfg, SRL_ARCH_LLAMA);
    cfg.dtype = dtype;
    cfg.vocab_size = h.vocab_size;
    cfg.hidden_size = h.dim;
    cfg.intermediate_size = h.hidden_dim;
    cfg.num_hidden_layers = h.n_layers;
    cfg.num_attention_heads = h.n_heads;
    cfg.num_key_value_heads = h.n_kv_heads;
    cfg.head_dim = h.dim / h.n_heads;
    cfg.max_position_embeddings = h.seq_len;
    cfg.norm_eps = 1e-5f;
    cfg.rope_theta = 10000.0f;
    cfg.tie_word_embeddings = h.shared;
    cfg.bos_token_id = h.vocab_size > 1 ? 1 : -1;
    cfg.eos_token_id = h.vocab_size > 2 ? 2 : -1;
    free(path);
    if (!(path = srl_path_join(txn.tmp_dir, "config.json"))) goto out;
    if (srl_config_save(&cfg, path) < 0) {
        print_error("cannot write the config of '%s'", model);
        goto out;
    }
    if (write_generation_config(txn.tmp_dir, cfg.bos_token_id, cfg.eos_token_id) < 0) {
        print_error("cannot write generation_config.json");
        goto out;
    }
    int trc = has_suffix(tok, ".model") ? srl_tokenizer_convert_sentencepiece(tok, txn.tmp_dir)
                                        : srl_tokenizer_convert_llama2c(tok, txn.tmp_dir);
    if (trc < 0) {
        print_error("cannot convert the tokenizer '%s'", tok);
        goto out;
    }
    int terr;
    if (!(t = srl_tokenizer_load(txn.tmp_dir, &terr))) {
        print_error("cannot load the converted tokenizer of '%s'", tok);
        goto out;
    }
    if (srl_tokenizer_vocab_size(t) > h.vocab_size) {
        print_error("tokenizer '%s' has %d tokens but the model only %d", tok,
                    srl_tokenizer_vocab_size(t), h.vocab_size);
        goto out;
    }
    if (srl_dir_commit(&txn) < 0) {
        print_error("cannot write '%s'", out);
        goto out;
    }
    srl_log_info("wrote %s: %d layers, dim %d, vocab %d, %s", out, h.n_layers, h.dim,
                 h.vocab_size, srl_dtype_name(dtype));
    rc = SRL_EXIT_OK;
out:
    if (txn.tmp_dir) srl_dir_abort(&txn);
    srl_tokenizer_free(t);
    free(path);
    free(data);
    return rc;
}

// --- gpt2-tokenizer --------------------------------------------------------------------------

static int cmd_gpt2_tokenizer(const char *enc, const char *bpe, const char *out)
{
    struct stat st;
    if (stat(out, &st) == 0) { /* add to an existing directory, keeping its other files */
        if (!S_ISDIR(st.st_mode)) return print_error("'%s' exists and is not a directory", out);
        if (srl_tokenizer_convert_gpt2(enc, bpe, out) < 0)
            return print_error("cannot convert the GPT-2 tokenizer '%s'", enc);
        return SRL_EXIT_OK;
    }
    struct srl_dir_txn txn;
    if (srl_dir_begin(&txn, out) < 0) return print_error("cannot create '%s'", out);
    if (srl_tokenizer_convert_gpt2(enc, bpe, txn.tmp_dir) < 0) {
        srl_dir_abort(&txn);
        return print_error("cannot convert the GPT-2 tokenizer '%s'", enc);
    }
    if (srl_dir_commit(&txn) < 0) return print_error("cannot write '%s'", out);
    return SRL_EXIT_OK;
}

// --- info ------------------------------------------------------------------------------------

static int cmp_tensor_name(const void *a, const void *b)
{
    const struct srl_st_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* GPT-2 files from older transformers carry the causal-mask buffers: not parameters. */
static int is_buffer(const char *name)
{
    return has_suffix(name, ".attn.bias") || has_suffix(name, ".attn.masked_bias");
}

static const char *head_text(const struct srl_config *c, char *buf, size_t size)
{
    if (c->head == SRL_HEAD_SCORE)
        snprintf(buf, size, "score (one value per position)%s%s", c->score_type[0] ? ", " : "",
                 c->score_type);
    else
        snprintf(buf, size, "causal LM%s", c->tie_word_embeddings
                                               ? ", tied to the token embedding" : "");
    return buf;
}

static void shape_text(const struct srl_st_tensor *t, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->ndim && k < size; d++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (k < size) snprintf(buf + k, size - k, "]");
}

static int cmd_info(const char *dir, bool json, bool tensors)
{
    char *cfg_path = srl_path_join(dir, "config.json");
    char *tok_path = srl_path_join(dir, "tokenizer.json");
    struct srl_config cfg;
    struct srl_st_set *set = NULL;
    struct srl_tokenizer *tok = NULL;
    struct srl_json *o = srl_json_new_object();
    const struct srl_st_tensor **sorted = NULL;
    int rc = SRL_EXIT_FAILURE, have_cfg = 0, have_tok = 0, err;
    char tok_desc[512] = "", dtypes[128] = "", head[128];
    size_t tensor_params = 0, n_tensors = 0, n_buffers = 0, per_dtype[8] = { 0 };
    struct stat st;

    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        print_error("'%s' is not a directory", dir);
        goto out;
    }
    if (access(cfg_path, F_OK) == 0) {
        if (srl_config_load(cfg_path, &cfg) < 0) {
            print_error("cannot read '%s'", cfg_path);
            goto out;
        }
        have_cfg = 1;
        if (!(set = srl_st_set_open(dir, &err))) {
            print_error("cannot read the weights in '%s'", dir);
            goto out;
        }
        n_tensors = srl_st_set_count(set);
        for (size_t i = 0; i < n_tensors; i++) {
            const struct srl_st_tensor *t = srl_st_set_get(set, i);
            if (is_buffer(t->name)) {
                n_buffers++;
                continue;
            }
            tensor_params += t->numel;
            per_dtype[t->dtype]++;
        }
        for (int d = 0; d < 8; d++)
            if (per_dtype[d]) {
                size_t k = strlen(dtypes);
                snprintf(dtypes + k, sizeof dtypes - k, "%s%s (%zu)", k ? ", " : "",
                         srl_dtype_name((enum srl_dtype)d), per_dtype[d]);
            }
    }
    if (access(tok_path, F_OK) == 0) {
        if (!(tok = srl_tokenizer_load(dir, &err))) {
            print_error("cannot read the tokenizer in '%s'", dir);
            goto out;
        }
        have_tok = 1;
        srl_tokenizer_describe(tok, tok_desc, sizeof tok_desc);
    }
    if (!have_cfg && !have_tok) {
        print_error("'%s' has neither config.json nor tokenizer.json", dir);
        goto out;
    }
    size_t cfg_params = have_cfg ? srl_config_param_count(&cfg) : 0;
    int mismatch = have_cfg && cfg_params != tensor_params;

    if (json) {
        srl_json_object_set_string(o, "directory", dir);
        if (have_cfg) {
            srl_json_object_set_string(o, "architecture", cfg.architecture);
            srl_json_object_set_string(o, "model_type", cfg.model_type);
            srl_json_object_set_integer(o, "num_hidden_layers", cfg.num_hidden_layers);
            srl_json_object_set_integer(o, "hidden_size", cfg.hidden_size);
            srl_json_object_set_integer(o, "intermediate_size", cfg.intermediate_size);
            srl_json_object_set_integer(o, "num_attention_heads", cfg.num_attention_heads);
            srl_json_object_set_integer(o, "num_key_value_heads", cfg.num_key_value_heads);
            srl_json_object_set_integer(o, "head_dim", cfg.head_dim);
            srl_json_object_set_integer(o, "vocab_size", cfg.vocab_size);
            srl_json_object_set_integer(o, "max_position_embeddings",
                                        cfg.max_position_embeddings);
            srl_json_object_set_integer(o, "parameters", (long long)cfg_params);
            srl_json_object_set_integer(o, "tensor_parameters", (long long)tensor_params);
            srl_json_object_set_integer(o, "tensors", (long long)(n_tensors - n_buffers));
            srl_json_object_set_string(o, "torch_dtype", srl_dtype_name(cfg.dtype));
            struct srl_json *dt = srl_json_new_object();
            for (int d = 0; d < 8; d++)
                if (per_dtype[d])
                    srl_json_object_set_integer(dt, srl_dtype_name((enum srl_dtype)d),
                                                (long long)per_dtype[d]);
            srl_json_object_set(o, "tensor_dtypes", dt);
            srl_json_object_set_string(o, "head", cfg.head == SRL_HEAD_SCORE ? "score" : "lm");
            srl_json_object_set_bool(o, "tie_word_embeddings", cfg.tie_word_embeddings);
            if (cfg.score_type[0]) srl_json_object_set_string(o, "score_type", cfg.score_type);
            if (cfg.template_name[0])
                srl_json_object_set_string(o, "template", cfg.template_name);
        }
        if (have_tok) srl_json_object_set_string(o, "tokenizer", tok_desc);
        if (tensors && set) {
            struct srl_json *list = srl_json_new_array();
            for (size_t i = 0; i < n_tensors; i++) {
                const struct srl_st_tensor *t = srl_st_set_get(set, i);
                struct srl_json *e = srl_json_new_object(), *shape = srl_json_new_array();
                for (int d = 0; d < t->ndim; d++)
                    srl_json_array_append(shape, srl_json_new_integer(t->shape[d]));
                srl_json_object_set_string(e, "name", t->name);
                srl_json_object_set_string(e, "dtype", srl_dtype_name(t->dtype));
                srl_json_object_set(e, "shape", shape);
                srl_json_array_append(list, e);
            }
            srl_json_object_set(o, "tensor_list", list);
        }
        if (srl_json_dump(o, stdout) < 0) goto out;
    } else {
        printf("directory:     %s\n", dir);
        if (have_cfg) {
            printf("architecture:  %s (model_type %s)\n", cfg.architecture, cfg.model_type);
            printf("layers:        %d\n", cfg.num_hidden_layers);
            printf("hidden:        %d (intermediate %d, head_dim %d)\n", cfg.hidden_size,
                   cfg.intermediate_size, cfg.head_dim);
            printf("heads:         %d (key/value heads %d)\n", cfg.num_attention_heads,
                   cfg.num_key_value_heads);
            printf("vocab:         %d\n", cfg.vocab_size);
            printf("context:       %d\n", cfg.max_position_embeddings);
            printf("parameters:    %zu (%s the %zu in %zu tensors)\n", cfg_params,
                   mismatch ? "MISMATCH with" : "equals", tensor_params, n_tensors - n_buffers);
            printf("dtype:         %s (tensors: %s)\n", srl_dtype_name(cfg.dtype), dtypes);
            printf("head:          %s\n", head_text(&cfg, head, sizeof head));
            if (cfg.template_name[0]) printf("template:      %s\n", cfg.template_name);
        }
        if (have_tok) printf("tokenizer:     %s\n", tok_desc);
    }
    if (tensors && set && !json) {
        if (!(sorted = malloc((n_tensors + 1) * sizeof *sorted))) goto out;
        for (size_t i = 0; i < n_tensors; i++) sorted[i] = srl_st_set_get(set, i);
        qsort(sorted, n_tensors, sizeof *sorted, cmp_tensor_name);
        for (size_t i = 0; i < n_tensors; i++) {
            char shape[128];
            shape_text(sorted[i], shape, sizeof shape);
            printf("%s %s %s\n", sorted[i]->name, srl_dtype_name(sorted[i]->dtype), shape);
        }
    }
    if (mismatch) {
        print_error("'%s': config.json describes %zu parameters but the tensors hold %zu", dir,
                    cfg_params, tensor_params);
        goto out;
    }
    rc = SRL_EXIT_OK;
out:
    free(sorted);
    srl_json_decref(o);
    srl_tokenizer_free(tok);
    srl_st_set_close(set);
    free(cfg_path);
    free(tok_path);
    return rc;
}

// --- main ------------------------------------------------------------------------------------

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        TOOL_COMMON_OPTIONS,
        { "output", required_argument, NULL, 'o' },
        { "dtype", required_argument, NULL, OPT_DTYPE },
        { "json", no_argument, NULL, OPT_JSON },
        { "tensors", no_argument, NULL, OPT_TENSORS },
        { NULL, 0, NULL, 0 },
    };
    struct tool_common common = TOOL_COMMON_INIT;
    const char *out = NULL;
    enum srl_dtype dtype = SRL_DTYPE_F32;
    bool json = false, tensors = false, dtype_set = false;
    int c, ret;

    tool_init(argv[0]);
    while ((c = getopt_long(argc, argv, "o:" TOOL_COMMON_SHORT, lopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_DTYPE:
            if (srl_dtype_parse(optarg, &dtype) < 0)
                return usage_error("invalid --dtype '%s' (expected float32, bfloat16 or "
                                   "float16)", optarg);
            dtype_set = true;
            break;
        case OPT_JSON: json = true; break;
        case OPT_TENSORS: tensors = true; break;
        case 'h': usage(stdout); return SRL_EXIT_OK;
        default:
            ret = tool_common_opt(c, optarg, &common);
            if (ret == 0) break;
            if (ret == 1) return SRL_EXIT_OK;
            if (c == '?') usage(stderr);
            return SRL_EXIT_USAGE;
        }
    }
    tool_common_apply(&common);
    if (optind >= argc) return usage_error("missing command (llama2c, gpt2-tokenizer or info)");
    const char *cmd = argv[optind++];
    int nargs = argc - optind;
    char **args = argv + optind;
    if (strcmp(cmd, "llama2c") == 0) {
        if (nargs != 2 || !out) return usage_error("usage: llama2c MODEL.bin TOKENIZER -o OUT_DIR");
        if (json || tensors) return usage_error("--json and --tensors are options of info");
        ret = cmd_llama2c(args[0], args[1], out, dtype);
    } else if (strcmp(cmd, "gpt2-tokenizer") == 0) {
        if (nargs != 2 || !out)
            return usage_error("usage: gpt2-tokenizer ENCODER.json VOCAB.bpe -o OUT_DIR");
        if (dtype_set || json || tensors)
            return usage_error("--dtype, --json and --tensors do not apply to gpt2-tokenizer");
        ret = cmd_gpt2_tokenizer(args[0], args[1], out);
    } else if (strcmp(cmd, "info") == 0) {
        if (nargs != 1) return usage_error("usage: info [--json] [--tensors] DIR");
        if (out || dtype_set) return usage_error("-o and --dtype do not apply to info");
        ret = cmd_info(args[0], json, tensors);
    } else {
        return usage_error("unknown command '%s' (llama2c, gpt2-tokenizer or info)", cmd);
    }
    if (close_stdout() < 0) ret = SRL_EXIT_FAILURE;
    return ret;
}
