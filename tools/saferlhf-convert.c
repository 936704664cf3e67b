/* saferlhf-convert.c -- import llama2.c checkpoints and GPT-2 tokenizers as Hugging Face
 * directories, train byte-level BPE tokenizers on JSONL texts, and describe a directory. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "jsonl.h"
#include "llama2c.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "tool.h"

enum { OPT_DTYPE = TOOL_OPT_USER, OPT_JSON, OPT_TENSORS, OPT_VOCAB, OPT_FIELD, OPT_SPECIAL };
enum { MAX_LIST = 64 };

/* train-tokenizer's options */
struct train_opts {
    int vocab_size;
    const char *fields[MAX_LIST], *specials[MAX_LIST];
    size_t n_fields, n_specials;
};

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: saferlhf-convert llama2c MODEL.bin TOKENIZER -o OUT_DIR [--dtype DTYPE]\n"
            "       saferlhf-convert gpt2-tokenizer ENCODER.json VOCAB.bpe -o OUT_DIR\n"
            "       saferlhf-convert info [--json] [--tensors] DIR\n"
            "       saferlhf-convert train-tokenizer DATA... --vocab-size N [--field NAME]...\n"
            "                        [--special TOKEN]... -o OUT_DIR\n"
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
            "  train-tokenizer a byte-level BPE tokenizer (GPT-2 style, as HF BpeTrainer)\n"
            "                  trained on the texts of JSONL/JSON records, written as\n"
            "                  tokenizer.json and tokenizer_config.json in OUT_DIR\n"
            "\n"
            "Options:\n"
            "  -o, --output DIR      directory to write (replaced as a whole by llama2c)\n"
            "      --dtype DTYPE     llama2c: float32, bfloat16 or float16 [float32]\n"
            "      --json            info: one JSON object instead of text\n"
            "      --tensors         info: also list every tensor (name, dtype, shape)\n"
            "      --vocab-size N    train-tokenizer: tokens in all, specials and the 256\n"
            "                        bytes included\n"
            "      --field NAME      train-tokenizer: read this record field (repeatable)\n"
            "                        [prompt response response_0 response_1 instruction\n"
            "                        input output chosen rejected text messages]\n"
            "      --special TOKEN   train-tokenizer: a special token (repeatable); the first\n"
            "                        is BOS and EOS, one named <pad> is PAD [<|endoftext|>]\n");
    tool_common_help(fp);
}

// --- llama2c ---------------------------------------------------------------------------------

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmd_llama2c(const char *model, const char *tok, const char *out, enum srl_dtype dtype)
{
    struct srl_dir_txn txn;
    struct srl_llama2c_header h;
    /* a directory other than a checkpoint is refused (a typo like -o ~ deletes nothing) */
    if (srl_dir_begin(&txn, out) < 0) return print_error("cannot create '%s'", out);
    /* the library's one-line message says what is wrong with which file */
    int rc = srl_llama2c_convert(model, tok, txn.tmp_dir, dtype, &h);
    if (rc < 0) {
        srl_dir_abort(&txn);
        return srl_exit_status(rc);
    }
    if (srl_dir_commit(&txn) < 0) return print_error("cannot write '%s'", out);
    srl_log_info("wrote %s: %d layers, dim %d, vocab %d, %s", out, h.n_layers, h.dim,
                 h.vocab_size, srl_dtype_name(dtype));
    return SRL_EXIT_OK;
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

// --- train-tokenizer -------------------------------------------------------------------------

struct texts {
    char **v;
    size_t n, cap;
    size_t bytes;
};

static int add_text(struct texts *t, const char *s)
{
    if (!s || !*s)
        return 0;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 1024;
        char **v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return SRL_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    if (!(t->v[t->n] = strdup(s)))
        return SRL_ENOMEM;
    t->n++;
    t->bytes += strlen(s);
    return 0;
}

/* The texts of one field value: a string, a list of strings (turns), or a list of messages
 * ({role, content}) whose contents are taken. */
static int add_value(struct texts *t, const struct srl_json *v)
{
    if (srl_json_is_string(v))
        return add_text(t, srl_json_string(v));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < srl_json_array_size(v); i++) {
        const struct srl_json *e = srl_json_array_at(v, i);
        rc = add_text(t, srl_json_string(srl_json_is_object(e) ? srl_json_get(e, "content") : e));
    }
    return rc;
}

static int read_texts(const char *path, const struct train_opts *o, struct texts *t)
{
    static const char *const defaults[] = { "prompt", "response", "response_0", "response_1",
                                            "instruction", "input", "output", "chosen",
                                            "rejected", "text", "messages" };
    const char *const *fields = o->n_fields ? o->fields : defaults;
    size_t nf = o->n_fields ? o->n_fields : sizeof defaults / sizeof *defaults;
    int err, rc = 0;
    struct srl_jsonl *r = srl_jsonl_open(path, &err);
    struct srl_json *rec;
    if (!r)
        return err;
    while (rc == 0 && (err = srl_jsonl_next(r, &rec)) == 0) {
        for (size_t i = 0; rc == 0 && i < nf; i++)
            rc = add_value(t, srl_json_get(rec, fields[i]));
        srl_json_decref(rec);
    }
    srl_jsonl_close(r);
    if (rc == SRL_ENOMEM)
        srl_log_error("out of memory reading '%s'", path);
    return rc < 0 ? rc : err == SRL_EOF ? 0 : err;
}

static int cmd_train_tokenizer(char **data, int n_data, const struct train_opts *o,
                               const char *out)
{
    static const char *const default_special[] = { "<|endoftext|>" };
    struct texts t = { 0 };
    int rc = 0;
    for (int i = 0; rc == 0 && i < n_data; i++)
        rc = read_texts(data[i], o, &t);
    if (rc == 0 && t.n == 0) {
        srl_log_error("no texts in the given fields of %s%s", data[0], n_data > 1 ? " ..." : "");
        rc = SRL_EFORMAT;
    }
    if (rc == 0) {
        srl_log_info("training on %zu texts (%zu bytes)", t.n, t.bytes);
        const char *const *sp = o->n_specials ? o->specials : default_special;
        size_t nsp = o->n_specials ? o->n_specials : 1;
        struct srl_dir_txn txn;
        struct stat st;
        if (stat(out, &st) == 0) { /* add to an existing directory, keeping its other files */
            if (!S_ISDIR(st.st_mode)) {
                rc = print_error("'%s' exists and is not a directory", out);
            } else if (srl_tokenizer_train_bpe((const char *const *)t.v, t.n, o->vocab_size, sp,
                                               nsp, out) < 0) {
                rc = print_error("cannot train the tokenizer");
            }
        } else if (srl_dir_begin(&txn, out) < 0) {
            rc = print_error("cannot create '%s'", out);
        } else if (srl_tokenizer_train_bpe((const char *const *)t.v, t.n, o->vocab_size, sp,
                                           nsp, txn.tmp_dir) < 0) {
            srl_dir_abort(&txn);
            rc = print_error("cannot train the tokenizer");
        } else if (srl_dir_commit(&txn) < 0) {
            rc = print_error("cannot write '%s'", out);
        }
    } else {
        rc = srl_exit_status(rc);
    }
    for (size_t i = 0; i < t.n; i++)
        free(t.v[i]);
    free(t.v);
    return rc;
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
        { "vocab-size", required_argument, NULL, OPT_VOCAB },
        { "field", required_argument, NULL, OPT_FIELD },
        { "special", required_argument, NULL, OPT_SPECIAL },
        { NULL, 0, NULL, 0 },
    };
    struct tool_common common = TOOL_COMMON_INIT;
    const char *out = NULL;
    enum srl_dtype dtype = SRL_DTYPE_F32;
    bool json = false, tensors = false, dtype_set = false;
    struct train_opts tr = { 0 };
    long v;
    int c, ret;

    tool_init(argv);
    while ((c = tool_getopt(argc, argv, "o:" TOOL_COMMON_SHORT, lopts, &common, &ret)) != -1) {
        switch (c) {
        case TOOL_GETOPT_EXIT: return ret;
        case 'o': out = optarg; break;
        case OPT_DTYPE:
            if (srl_dtype_parse(optarg, &dtype) < 0)
                return usage_error("invalid --dtype '%s' (expected float32, bfloat16 or "
                                   "float16)", optarg);
            dtype_set = true;
            break;
        case OPT_JSON: json = true; break;
        case OPT_TENSORS: tensors = true; break;
        case OPT_VOCAB:
            if (parse_int(optarg, 257, 1L << 24, &v) < 0)
                return usage_error("invalid --vocab-size '%s' (at least 257)", optarg);
            tr.vocab_size = (int)v;
            break;
        case OPT_FIELD:
        case OPT_SPECIAL:
            if (!*optarg) return usage_error("empty --%s", c == OPT_FIELD ? "field" : "special");
            if ((c == OPT_FIELD ? tr.n_fields : tr.n_specials) == MAX_LIST)
                return usage_error("at most %d of each of --field and --special", MAX_LIST);
            if (c == OPT_FIELD) tr.fields[tr.n_fields++] = optarg;
            else tr.specials[tr.n_specials++] = optarg;
            break;
        case 'h': usage(stdout); return SRL_EXIT_OK;
        }
    }
    tool_common_apply(&common);
    if (optind >= argc)
        return usage_error("missing command (llama2c, gpt2-tokenizer, info or train-tokenizer)");
    const char *cmd = argv[optind++];
    int nargs = argc - optind;
    char **args = argv + optind;
    bool train = strcmp(cmd, "train-tokenizer") == 0;
    if (!train && (tr.vocab_size || tr.n_fields || tr.n_specials))
        return usage_error("--vocab-size, --field and --special are options of train-tokenizer");
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
    } else if (train) {
        if (nargs < 1 || !out || !tr.vocab_size)
            return usage_error("usage: train-tokenizer DATA... --vocab-size N -o OUT_DIR");
        if (dtype_set || json || tensors)
            return usage_error("--dtype, --json and --tensors do not apply to train-tokenizer");
        if ((size_t)tr.vocab_size < 256 + (tr.n_specials ? tr.n_specials : 1))
            return usage_error("--vocab-size %d leaves no room for the 256 bytes and the special "
                               "tokens", tr.vocab_size);
        ret = cmd_train_tokenizer(args, nargs, &tr, out);
    } else {
        return usage_error("unknown command '%s' (llama2c, gpt2-tokenizer, info or "
                           "train-tokenizer)", cmd);
    }
    if (close_stdout() < 0) ret = SRL_EXIT_FAILURE;
    return ret;
}
