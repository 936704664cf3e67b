/* config.c -- HF config.json for the Llama family (llama, mistral, qwen2) and GPT-2. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "srl.h"

void srl_config_default(struct srl_config *cfg, enum srl_arch arch)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = arch;
    cfg->head = SRL_HEAD_LM;
    cfg->dtype = SRL_DTYPE_F32;
    cfg->num_labels = 1;
    cfg->pad_token_id = -1;
    if (arch == SRL_ARCH_GPT2) { /* GPT-2 124M */
        cfg->vocab_size = 50257;
        cfg->hidden_size = 768;
        cfg->intermediate_size = 3072;
        cfg->num_hidden_layers = 12;
        cfg->num_attention_heads = 12;
        cfg->num_key_value_heads = 12;
        cfg->head_dim = 64;
        cfg->max_position_embeddings = 1024;
        cfg->norm_eps = 1e-5f;
        cfg->rope_theta = 10000.0f;
        cfg->tie_word_embeddings = true;
        cfg->bos_token_id = cfg->eos_token_id = 50256;
        strcpy(cfg->model_type, "gpt2");
        strcpy(cfg->architecture, "GPT2LMHeadModel");
    } else { /* a tiny Llama with the Llama 2 vocabulary */
        cfg->vocab_size = 32000;
        cfg->hidden_size = 256;
        cfg->intermediate_size = 688;
        cfg->num_hidden_layers = 4;
        cfg->num_attention_heads = 8;
        cfg->num_key_value_heads = 8;
        cfg->head_dim = 32;
        cfg->max_position_embeddings = 512;
        cfg->norm_eps = 1e-5f;
        cfg->rope_theta = 10000.0f;
        cfg->tie_word_embeddings = false;
        cfg->bos_token_id = 1;
        cfg->eos_token_id = 2;
        strcpy(cfg->model_type, "llama");
        strcpy(cfg->architecture, "LlamaForCausalLM");
    }
}

// --- validation ------------------------------------------------------------------------------

int srl_config_validate(const struct srl_config *c, const char *where)
{
    const struct {
        const char *name;
        int value;
    } pos[] = {
        { "vocab_size", c->vocab_size },
        { "hidden_size", c->hidden_size },
        { "intermediate_size", c->intermediate_size },
        { "num_hidden_layers", c->num_hidden_layers },
        { "num_attention_heads", c->num_attention_heads },
        { "num_key_value_heads", c->num_key_value_heads },
        { "head_dim", c->head_dim },
        { "max_position_embeddings", c->max_position_embeddings },
    };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (pos[i].value < 1) {
            srl_log_error("%s: %s (%d) must be positive", where, pos[i].name, pos[i].value);
            return SRL_EINVAL;
        }
    /* the widths the model computes in int, and the parameter count, must not overflow */
    const struct {
        const char *name;
        long long value;
    } wide[] = {
        { "num_attention_heads * head_dim", (long long)c->num_attention_heads * c->head_dim },
        { "(num_attention_heads + 2 * num_key_value_heads) * head_dim",
          ((long long)c->num_attention_heads + 2LL * c->num_key_value_heads) * c->head_dim },
        { "2 * intermediate_size", 2LL * c->intermediate_size },
    };
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (wide[i].value > INT_MAX) {
            srl_log_error("%s: %s (%lld) is too large (at most %d)", where, wide[i].name,
                          wide[i].value, INT_MAX);
            return SRL_EINVAL;
        }
    size_t params = srl_config_param_count(c);
    if (params > SRL_MAX_PARAMS) {
        srl_log_error("%s: the model would have more than 2^40 parameters", where);
        return SRL_EINVAL;
    }
    if (c->num_attention_heads % c->num_key_value_heads != 0) {
        srl_log_error("%s: num_key_value_heads (%d) must divide num_attention_heads (%d)", where,
                      c->num_key_value_heads, c->num_attention_heads);
        return SRL_EINVAL;
    }
    if (c->arch == SRL_ARCH_GPT2) {
        if (c->hidden_size % c->num_attention_heads != 0) {
            srl_log_error("%s: n_embd (%d) must be divisible by n_head (%d)", where,
                          c->hidden_size, c->num_attention_heads);
            return SRL_EINVAL;
        }
        if (c->head_dim * c->num_attention_heads != c->hidden_size ||
            c->num_key_value_heads != c->num_attention_heads) {
            srl_log_error("%s: GPT-2 needs head_dim (%d) * n_head (%d) = n_embd (%d) and no "
                          "grouped-query attention", where, c->head_dim, c->num_attention_heads,
                          c->hidden_size);
            return SRL_EINVAL;
        }
    } else {
        if (c->head_dim % 2 != 0) {
            srl_log_error("%s: head_dim (%d) must be even for rotary embeddings", where,
                          c->head_dim);
            return SRL_EINVAL;
        }
        if (!(c->rope_theta > 0) || !isfinite(c->rope_theta)) {
            srl_log_error("%s: rope_theta (%g) must be positive", where, (double)c->rope_theta);
            return SRL_EINVAL;
        }
    }
    if (!(c->norm_eps > 0) || !isfinite(c->norm_eps)) {
        srl_log_error("%s: %s (%g) must be positive", where,
                      c->arch == SRL_ARCH_GPT2 ? "layer_norm_epsilon" : "rms_norm_eps",
                      (double)c->norm_eps);
        return SRL_EINVAL;
    }
    const struct {
        const char *name;
        int value;
    } ids[] = { { "bos_token_id", c->bos_token_id },
                { "eos_token_id", c->eos_token_id },
                { "pad_token_id", c->pad_token_id } };
    for (size_t i = 0; i < 3; i++)
        if (ids[i].value < -1 || ids[i].value >= c->vocab_size) {
            srl_log_error("%s: %s (%d) is outside the vocabulary (vocab_size %d)", where,
                          ids[i].name, ids[i].value, c->vocab_size);
            return SRL_EINVAL;
        }
    if (c->head == SRL_HEAD_SCORE && c->num_labels != 1) {
        srl_log_error("%s: a score model needs num_labels 1, not %d", where, c->num_labels);
        return SRL_EINVAL;
    }
    if (c->dtype != SRL_DTYPE_F32 && c->dtype != SRL_DTYPE_BF16 && c->dtype != SRL_DTYPE_F16) {
        srl_log_error("%s: torch_dtype %s is not a model dtype", where, srl_dtype_name(c->dtype));
        return SRL_EINVAL;
    }
    return 0;
}

size_t srl_config_param_count(const struct srl_config *c)
{
    // saturating (SIZE_MAX when it overflows): the sizes come from a file
#define MUL srl_size_mul
#define ADD srl_size_add
    size_t V = (size_t)c->vocab_size, D = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t L = (size_t)c->num_hidden_layers;
    size_t head = c->head == SRL_HEAD_SCORE ? D : (c->tie_word_embeddings ? 0 : MUL(V, D));
    if (c->arch == SRL_ARCH_GPT2) {
        size_t P = (size_t)c->max_position_embeddings;
        size_t layer = ADD(ADD(MUL(D, 3 * D), 3 * D), ADD(MUL(D, D), D)); /* c_attn, c_proj */
        layer = ADD(layer, ADD(ADD(MUL(D, F), F), ADD(MUL(F, D), D)));    /* c_fc, c_proj */
        layer = ADD(layer, 4 * D);                                        /* ln_1, ln_2 */
        return ADD(ADD(ADD(MUL(V, D), MUL(P, D)), MUL(L, layer)), ADD(2 * D, head));
    }
    size_t QD = MUL((size_t)c->num_attention_heads, (size_t)c->head_dim);
    size_t KVD = MUL((size_t)c->num_key_value_heads, (size_t)c->head_dim);
    size_t layer = ADD(ADD(MUL(D, QD), MUL(2 * D, KVD)), ADD(MUL(QD, D), MUL(3 * D, F)));
    layer = ADD(layer, 2 * D);
    if (c->attention_bias) layer = ADD(layer, ADD(QD, 2 * KVD));
    if (c->attention_out_bias) layer = ADD(layer, D);
    if (c->mlp_bias) layer = ADD(layer, 2 * F + D);
    return ADD(ADD(MUL(V, D), MUL(L, layer)), ADD(D, head));
#undef MUL
#undef ADD
}

// --- loading ---------------------------------------------------------------------------------

/* Keys that do not change the computation (bookkeeping, training-time dropout, generation
 * defaults): ignored silently. */
static const char *const harmless_keys[] = {
    "transformers_version", "_name_or_path", "architectures", "model_type", "initializer_range",
    "use_cache", "pretraining_tp", "output_attentions", "output_hidden_states", "return_dict",
    "torchscript", "attention_dropout", "hidden_dropout", "dropout", "problem_type",
    "finetuning_task", "tokenizer_class", "prefix", "task_specific_params", "is_encoder_decoder",
    "is_decoder", "cross_attention_hidden_size", "tie_encoder_decoder", "chunk_size_feed_forward",
    "pruned_heads", "decoder_start_token_id", "sep_token_id", "unk_token_id", "max_length",
    "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
    "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
    "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
    "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
    "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty",
    "suppress_tokens", "begin_suppress_tokens", "tf_legacy_loss", "use_bfloat16",
    "_attn_implementation", "_attn_implementation_autoset", "attn_implementation",
    "_commit_hash", "gradient_checkpointing", "model_max_length", "output_router_logits",
    "keys_to_ignore_at_inference", "label2id", "embd_pdrop", "attn_pdrop", "resid_pdrop",
    "summary_type", "summary_use_proj", "summary_activation", "summary_proj_to_labels",
    "summary_first_dropout", "reorder_and_upcast_attn", "n_ctx", "max_window_layers",
    "mlp_dropout", "embedding_dropout", "residual_dropout", "classifier_dropout",
    "use_return_dict", "torch_compile", "auto_map", "custom_pipelines", "base_model_tp_plan",
    "base_model_pp_plan", "_from_model_config", "bos_token", "eos_token",
};

/* Keys that change the computation in ways we do not implement, when set to anything but
 * their neutral value (checked elsewhere: rope_scaling, sliding_window, ...). */
static const char *const unsupported_keys[] = {
    "quantization_config", "attn_logit_softcapping", "final_logit_softcapping",
    "partial_rotary_factor", "use_qk_norm", "qk_layernorm", "query_pre_attn_scalar",
    "embedding_multiplier", "logits_scaling", "residual_multiplier", "attention_multiplier",
    "no_rope_layers", "use_mrope", "clip_qkv", "rope_interleaved", "moe_intermediate_size",
    "num_experts", "num_local_experts",
};

struct loader {
    const char *path;
    json_t *root;
    json_t *seen; /* keys consumed by the parser */
};

static json_t *get(struct loader *ld, const char *key)
{
    json_t *v = json_object_get(ld->root, key);
    if (v) json_object_set_new(ld->seen, key, json_true());
    return v;
}

/* Integer key: absent (or null when null_ok) leaves *out = def; returns 0 or SRL_EFORMAT. */
static int get_int(struct loader *ld, const char *key, int def, int required, int *out)
{
    json_t *v = get(ld, key);
    *out = def;
    if (!v || json_is_null(v)) {
        if (required) {
            srl_log_error("%s: missing \"%s\"", ld->path, key);
            return SRL_EFORMAT;
        }
        return 0;
    }
    /* HF writes some sizes as 4096.0 now and then; accept integral reals */
    double d = json_is_integer(v) ? (double)json_integer_value(v)
             : json_is_real(v) ? json_real_value(v) : NAN;
    if (!(d == floor(d))) {
        srl_log_error("%s: \"%s\" must be an integer", ld->path, key);
        return SRL_EFORMAT;
    }
    if (d < INT_MIN || d > INT_MAX) {
        srl_log_error("%s: \"%s\" (%.17g) is out of range", ld->path, key, d);
        return SRL_EFORMAT;
    }
    *out = (int)d;
    return 0;
}

static int get_float(struct loader *ld, const char *key, float def, float *out)
{
    json_t *v = get(ld, key);
    *out = def;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) {
        srl_log_error("%s: \"%s\" must be a number", ld->path, key);
        return SRL_EFORMAT;
    }
    *out = (float)json_number_value(v);
    return 0;
}

static int get_bool(struct loader *ld, const char *key, bool def, bool *out)
{
    json_t *v = get(ld, key);
    *out = def;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) {
        srl_log_error("%s: \"%s\" must be true or false", ld->path, key);
        return SRL_EFORMAT;
    }
    *out = json_is_true(v);
    return 0;
}

/* A string key (NULL when absent or null); SRL_EFORMAT for any other type. */
static int get_string(struct loader *ld, const char *key, const char **out)
{
    json_t *v = get(ld, key);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) {
        srl_log_error("%s: \"%s\" must be a string", ld->path, key);
        return SRL_EFORMAT;
    }
    *out = json_string_value(v);
    return 0;
}

/* A token id: integer, null (-1) or a list (its first element; eos_token_id may be a list). */
static int get_token_id(struct loader *ld, const char *key, int def, int *out)
{
    json_t *v = json_object_get(ld->root, key);
    if (json_is_array(v)) {
        json_object_set_new(ld->seen, key, json_true());
        json_t *first = json_array_get(v, 0);
        if (!first) {
            *out = -1;
            return 0;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_integer(e)) {
                srl_log_error("%s: \"%s\" must be an integer or a list of integers", ld->path,
                              key);
                return SRL_EFORMAT;
            }
            if (json_integer_value(e) < 0 || json_integer_value(e) > INT_MAX) {
                srl_log_error("%s: \"%s\" (%" JSON_INTEGER_FORMAT ") is not a token id", ld->path,
                              key, json_integer_value(e));
                return SRL_EFORMAT;
            }
        }
        *out = (int)json_integer_value(first);
        return 0;
    }
    if (v && json_is_null(v)) {
        json_object_set_new(ld->seen, key, json_true());
        *out = -1;
        return 0;
    }
    return get_int(ld, key, def, 0, out);
}

static int unsupported(struct loader *ld, const char *key, const char *why)
{
    srl_log_error("%s: \"%s\" %s is not supported", ld->path, key, why);
    return SRL_EUNSUPPORTED;
}

/* rope_parameters (transformers 5) or rope_scaling: only the default rope type. */
static int parse_rope(struct loader *ld, const char *key, float *theta)
{
    json_t *v = get(ld, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v)) {
        srl_log_error("%s: \"%s\" must be an object or null", ld->path, key);
        return SRL_EFORMAT;
    }
    json_t *type = json_object_get(v, "rope_type");
    if (!type) type = json_object_get(v, "type");
    if (type && !(json_is_string(type) && strcmp(json_string_value(type), "default") == 0)) {
        char why[96];
        snprintf(why, sizeof why, "with rope type \"%s\"",
                 json_is_string(type) ? json_string_value(type) : "?");
        return unsupported(ld, key, why);
    }
    if (!type && strcmp(key, "rope_scaling") == 0)
        return unsupported(ld, key, "without \"rope_type\": \"default\"");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (strcmp(k, "rope_theta") == 0) {
            if (!json_is_number(x)) {
                srl_log_error("%s: \"%s.rope_theta\" must be a number", ld->path, key);
                return SRL_EFORMAT;
            }
            *theta = (float)json_number_value(x);
        } else if (strcmp(k, "rope_type") != 0 && strcmp(k, "type") != 0 && !json_is_null(x)) {
            srl_log_warning("%s: ignoring \"%s.%s\" of the default rope type", ld->path, key, k);
        }
    }
    return 0;
}

static int parse_llama(struct loader *ld, struct srl_config *c)
{
    int rc, qwen2 = strcmp(c->model_type, "qwen2") == 0;
    int mistral = strcmp(c->model_type, "mistral") == 0;
    int head_dim;
    if ((rc = get_int(ld, "vocab_size", 0, 1, &c->vocab_size)) < 0 ||
        (rc = get_int(ld, "hidden_size", 0, 1, &c->hidden_size)) < 0 ||
        (rc = get_int(ld, "intermediate_size", 0, 1, &c->intermediate_size)) < 0 ||
        (rc = get_int(ld, "num_hidden_layers", 0, 1, &c->num_hidden_layers)) < 0 ||
        (rc = get_int(ld, "num_attention_heads", 0, 1, &c->num_attention_heads)) < 0 ||
        (rc = get_int(ld, "num_key_value_heads", c->num_attention_heads, 0,
                      &c->num_key_value_heads)) < 0 ||
        (rc = get_int(ld, "head_dim", 0, 0, &head_dim)) < 0 ||
        (rc = get_int(ld, "max_position_embeddings", qwen2 ? 32768 : mistral ? 131072 : 2048,
                      0, &c->max_position_embeddings)) < 0 ||
        (rc = get_float(ld, "rms_norm_eps", 1e-6f, &c->norm_eps)) < 0 ||
        (rc = get_float(ld, "rope_theta", 10000.0f, &c->rope_theta)) < 0 ||
        (rc = parse_rope(ld, "rope_parameters", &c->rope_theta)) < 0 ||
        (rc = parse_rope(ld, "rope_scaling", &c->rope_theta)) < 0 ||
        (rc = get_bool(ld, "tie_word_embeddings", false, &c->tie_word_embeddings)) < 0 ||
        (rc = get_bool(ld, "mlp_bias", false, &c->mlp_bias)) < 0 ||
        (rc = get_token_id(ld, "bos_token_id", 1, &c->bos_token_id)) < 0 ||
        (rc = get_token_id(ld, "eos_token_id", 2, &c->eos_token_id)) < 0)
        return rc;
    if (head_dim == 0) {
        if (c->num_attention_heads > 0 && c->hidden_size % c->num_attention_heads != 0) {
            srl_log_error("%s: hidden_size (%d) must be divisible by num_attention_heads (%d)",
                          ld->path, c->hidden_size, c->num_attention_heads);
            return SRL_EINVAL;
        }
        head_dim = c->num_attention_heads > 0 ? c->hidden_size / c->num_attention_heads : 0;
    }
    c->head_dim = head_dim;
    if (qwen2) { /* Qwen2: q, k, v projections always have biases, o_proj never */
        c->attention_bias = true;
        c->attention_out_bias = false;
    } else if (mistral) {
        c->attention_bias = c->attention_out_bias = false;
    } else {
        if ((rc = get_bool(ld, "attention_bias", false, &c->attention_bias)) < 0) return rc;
        c->attention_out_bias = c->attention_bias;
    }
    const char *act;
    if ((rc = get_string(ld, "hidden_act", &act)) < 0) return rc;
    if (act && strcmp(act, "silu") != 0) {
        char why[96];
        snprintf(why, sizeof why, "\"%s\" (only silu)", act);
        return unsupported(ld, "hidden_act", why);
    }
    /* Sliding-window attention: fine when off or wider than any sequence. */
    bool use_sw = !qwen2; /* Mistral applies sliding_window whenever it is set */
    if ((rc = get_bool(ld, "use_sliding_window", use_sw, &use_sw)) < 0) return rc;
    int sw;
    if ((rc = get_int(ld, "sliding_window", 0, 0, &sw)) < 0) return rc;
    if (use_sw && sw > 0 && sw < c->max_position_embeddings) {
        char why[96];
        snprintf(why, sizeof why, "%d (sliding-window attention)", sw);
        return unsupported(ld, "sliding_window", why);
    }
    json_t *lt = get(ld, "layer_types");
    if (lt && !json_is_null(lt)) {
        size_t i;
        json_t *x;
        if (!json_is_array(lt)) return unsupported(ld, "layer_types", "that is not a list");
        json_array_foreach(lt, i, x) {
            if (!json_is_string(x) || strcmp(json_string_value(x), "full_attention") != 0)
                return unsupported(ld, "layer_types", "other than full_attention");
        }
    }
    return 0;
}

static int parse_gpt2(struct loader *ld, struct srl_config *c)
{
    int rc;
    if ((rc = get_int(ld, "vocab_size", 50257, 0, &c->vocab_size)) < 0 ||
        (rc = get_int(ld, "n_embd", 768, 0, &c->hidden_size)) < 0 ||
        (rc = get_int(ld, "n_layer", 12, 0, &c->num_hidden_layers)) < 0 ||
        (rc = get_int(ld, "n_head", 12, 0, &c->num_attention_heads)) < 0 ||
        (rc = get_int(ld, "n_positions", 1024, 0, &c->max_position_embeddings)) < 0 ||
        (rc = get_int(ld, "n_inner", c->hidden_size <= INT_MAX / 4 ? 4 * c->hidden_size : INT_MAX,
                      0, &c->intermediate_size)) < 0 ||
        (rc = get_float(ld, "layer_norm_epsilon", 1e-5f, &c->norm_eps)) < 0 ||
        (rc = get_bool(ld, "tie_word_embeddings", true, &c->tie_word_embeddings)) < 0 ||
        (rc = get_token_id(ld, "bos_token_id", 50256, &c->bos_token_id)) < 0 ||
        (rc = get_token_id(ld, "eos_token_id", 50256, &c->eos_token_id)) < 0)
        return rc;
    c->num_key_value_heads = c->num_attention_heads;
    if (c->num_attention_heads > 0 && c->hidden_size % c->num_attention_heads != 0) {
        srl_log_error("%s: n_embd (%d) must be divisible by n_head (%d)", ld->path,
                      c->hidden_size, c->num_attention_heads);
        return SRL_EINVAL;
    }
    c->head_dim = c->num_attention_heads > 0 ? c->hidden_size / c->num_attention_heads : 0;
    if (!c->tie_word_embeddings)
        return unsupported(ld, "tie_word_embeddings", "false for GPT-2");
    const char *act;
    if ((rc = get_string(ld, "activation_function", &act)) < 0) return rc;
    if (act && strcmp(act, "gelu_new") != 0 && strcmp(act, "gelu_pytorch_tanh") != 0) {
        char why[96];
        snprintf(why, sizeof why, "\"%s\" (only gelu_new, gelu_pytorch_tanh)", act);
        return unsupported(ld, "activation_function", why);
    }
    bool b;
    if ((rc = get_bool(ld, "scale_attn_weights", true, &b)) < 0) return rc;
    if (!b) return unsupported(ld, "scale_attn_weights", "false");
    if ((rc = get_bool(ld, "scale_attn_by_inverse_layer_idx", false, &b)) < 0) return rc;
    if (b) return unsupported(ld, "scale_attn_by_inverse_layer_idx", "true");
    if ((rc = get_bool(ld, "add_cross_attention", false, &b)) < 0) return rc;
    if (b) return unsupported(ld, "add_cross_attention", "true");
    return 0;
}

/* The family and head from model_type and architectures[0]. */
static int parse_kind(struct loader *ld, struct srl_config *c)
{
    static const char *const llama_types[] = { "llama", "mistral", "qwen2" };
    static const char *const llama_archs[] = { "Llama", "Mistral", "Qwen2" };
    const char *mt, *arch = NULL;
    int rc = get_string(ld, "model_type", &mt);
    if (rc < 0) return rc;
    json_t *archs = get(ld, "architectures");
    if (archs && !json_is_null(archs)) {
        if (!json_is_array(archs) || (json_array_size(archs) > 0 &&
                                      !json_is_string(json_array_get(archs, 0)))) {
            srl_log_error("%s: \"architectures\" must be a list of class names", ld->path);
            return SRL_EFORMAT;
        }
        arch = json_string_value(json_array_get(archs, 0));
    }
    int family = -1; /* index into llama_types, or 3 for gpt2 */
    for (int i = 0; i < 3 && mt; i++)
        if (strcmp(mt, llama_types[i]) == 0) family = i;
    if (mt && strcmp(mt, "gpt2") == 0) family = 3;
    const char *suffix = NULL;
    if (arch) {
        int afam = -1;
        size_t plen = 0;
        for (int i = 0; i < 3; i++)
            if (strncmp(arch, llama_archs[i], strlen(llama_archs[i])) == 0 &&
                strlen(llama_archs[i]) > plen) {
                afam = i;
                plen = strlen(llama_archs[i]);
            }
        if (strncmp(arch, "GPT2", 4) == 0) {
            afam = 3;
            plen = 4;
        }
        if (afam >= 0) suffix = arch + plen;
        if (afam >= 0 && family < 0) {
            if (mt)
                srl_log_warning("%s: unknown model_type \"%s\": reading it as %s", ld->path, mt,
                                arch);
            family = afam;
        }
        if (afam < 0 && family < 0) {
            srl_log_error("%s: architecture \"%s\" is not supported (Llama, Mistral, Qwen2, "
                          "GPT-2)", ld->path, arch);
            return SRL_EUNSUPPORTED;
        }
    }
    if (family < 0) {
        srl_log_error("%s: model_type \"%s\" is not supported (llama, mistral, qwen2, gpt2)",
                      ld->path, mt ? mt : "(missing)");
        return SRL_EUNSUPPORTED;
    }
    c->arch = family == 3 ? SRL_ARCH_GPT2 : SRL_ARCH_LLAMA;
    snprintf(c->model_type, sizeof c->model_type, "%s", family == 3 ? "gpt2"
                                                                      : llama_types[family]);
    if (arch) snprintf(c->architecture, sizeof c->architecture, "%s", arch);
    c->head = SRL_HEAD_LM;
    if (suffix && strcmp(suffix, "ForSequenceClassification") == 0) {
        c->head = SRL_HEAD_SCORE;
    } else if (suffix && strcmp(suffix, "ForCausalLM") != 0 &&
               strcmp(suffix, "LMHeadModel") != 0) {
        srl_log_error("%s: architecture \"%s\" is not supported (*ForCausalLM, GPT2LMHeadModel, "
                      "*ForSequenceClassification)", ld->path, arch);
        return SRL_EUNSUPPORTED;
    }
    return 0;
}

static int parse_common(struct loader *ld, struct srl_config *c)
{
    int rc;
    const char *dt = NULL, *tdt = NULL;
    if ((rc = get_string(ld, "dtype", &dt)) < 0 || (rc = get_string(ld, "torch_dtype", &tdt)) < 0)
        return rc;
    if (!dt) dt = tdt;
    c->dtype = SRL_DTYPE_F32;
    if (dt && strcmp(dt, "auto") != 0 && srl_dtype_parse(dt, &c->dtype) < 0) {
        char why[96];
        snprintf(why, sizeof why, "\"%s\" (float32, bfloat16, float16)", dt);
        return unsupported(ld, "torch_dtype", why);
    }
    if ((rc = get_token_id(ld, "pad_token_id", -1, &c->pad_token_id)) < 0) return rc;
    /* num_labels is rarely written; id2label always is (HF serialises the labels) */
    json_t *id2label = get(ld, "id2label");
    int n_labels = id2label && json_is_object(id2label) ? (int)json_object_size(id2label) : 1;
    if (id2label && !json_is_null(id2label) && !json_is_object(id2label)) {
        srl_log_error("%s: \"id2label\" must be an object", ld->path);
        return SRL_EFORMAT;
    }
    if ((rc = get_int(ld, "num_labels", n_labels, 0, &c->num_labels)) < 0) return rc;
    if (c->head != SRL_HEAD_SCORE) c->num_labels = 1;

    json_t *s = get(ld, "saferlhf");
    if (s && !json_is_null(s)) {
        if (!json_is_object(s)) {
            srl_log_error("%s: \"saferlhf\" must be an object", ld->path);
            return SRL_EFORMAT;
        }
        const char *k;
        json_t *v;
        json_object_foreach(s, k, v) {
            char *dst = NULL;
            size_t size = 0;
            if (strcmp(k, "score_type") == 0) {
                dst = c->score_type;
                size = sizeof c->score_type;
            } else if (strcmp(k, "template") == 0) {
                dst = c->template_name;
                size = sizeof c->template_name;
            } else {
                srl_log_warning("%s: ignoring unknown key \"saferlhf.%s\"", ld->path, k);
                continue;
            }
            if (json_is_null(v)) continue;
            if (!json_is_string(v) || strlen(json_string_value(v)) >= size) {
                srl_log_error("%s: \"saferlhf.%s\" must be a string of under %zu bytes", ld->path,
                              k, size);
                return SRL_EFORMAT;
            }
            strcpy(dst, json_string_value(v));
        }
        if (c->score_type[0] && strcmp(c->score_type, "reward") != 0 &&
            strcmp(c->score_type, "cost") != 0 && strcmp(c->score_type, "critic") != 0) {
            srl_log_error("%s: \"saferlhf.score_type\" is \"%s\" (reward, cost or critic)",
                          ld->path, c->score_type);
            return SRL_EINVAL;
        }
    }
    return 0;
}

/* Every key not consumed: math-changing ones fail, bookkeeping is ignored, the rest warned. */
static int check_leftover_keys(struct loader *ld)
{
    const char *k;
    json_t *v;
    json_object_foreach(ld->root, k, v) {
        if (json_object_get(ld->seen, k)) continue;
        int known = 0;
        for (size_t i = 0; i < sizeof unsupported_keys / sizeof unsupported_keys[0]; i++)
            if (strcmp(k, unsupported_keys[i]) == 0) {
                /* neutral values: null, false, 0, 1.0 (partial_rotary_factor), {} */
                int neutral = json_is_null(v) || json_is_false(v) ||
                              (json_is_object(v) && json_object_size(v) == 0) ||
                              (json_is_number(v) && (json_number_value(v) == 0 ||
                               (json_number_value(v) == 1 && strstr(k, "factor"))));
                if (!neutral) return unsupported(ld, k, "(changes the model's computation)");
                known = 1;
            }
        for (size_t i = 0; i < sizeof harmless_keys / sizeof harmless_keys[0] && !known; i++)
            if (strcmp(k, harmless_keys[i]) == 0) known = 1;
        if (!known) srl_log_warning("%s: ignoring unknown key \"%s\"", ld->path, k);
    }
    return 0;
}

int srl_config_load(const char *path, struct srl_config *cfg)
{
    json_error_t jerr;
    struct loader ld = { path, NULL, NULL };
    int rc;
    ld.root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!ld.root) {
        if (jerr.line < 1 || strstr(jerr.text, "unable to open")) {
            srl_log_error("%s: cannot read: %s", path, jerr.text);
            return SRL_EIO;
        }
        srl_log_error("%s:%d: not valid JSON: %s", path, jerr.line, jerr.text);
        return SRL_EFORMAT;
    }
    if (!json_is_object(ld.root)) {
        srl_log_error("%s: not a JSON object", path);
        json_decref(ld.root);
        return SRL_EFORMAT;
    }
    ld.seen = json_object();
    srl_config_default(cfg, SRL_ARCH_LLAMA);
    cfg->architecture[0] = '\0';
    if ((rc = parse_kind(&ld, cfg)) < 0) goto out;
    if (cfg->arch == SRL_ARCH_GPT2) {
        cfg->bos_token_id = cfg->eos_token_id = 50256;
        rc = parse_gpt2(&ld, cfg);
    } else {
        rc = parse_llama(&ld, cfg);
    }
    if (rc < 0 || (rc = parse_common(&ld, cfg)) < 0) goto out;
    if (!cfg->architecture[0])
        snprintf(cfg->architecture, sizeof cfg->architecture, "%s",
                 cfg->arch == SRL_ARCH_GPT2 ? "GPT2LMHeadModel" : "LlamaForCausalLM");
    if ((rc = check_leftover_keys(&ld)) < 0) goto out;
    rc = srl_config_validate(cfg, path);
out:
    json_decref(ld.seen);
    json_decref(ld.root);
    return rc;
}

// --- saving ----------------------------------------------------------------------------------

static json_t *token_or_null(int id) { return id >= 0 ? json_integer(id) : json_null(); }

/* A float as the double of its shortest decimal form, so 1e-5f is written "1e-05" and not
 * "9.99999975e-06" (dumped with JSON_REAL_PRECISION(15)). */
static json_t *json_float(float x)
{
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x) break;
    }
    return json_real(strtod(buf, NULL));
}

/* The HF class name for the config's family and head. */
static void class_name(const struct srl_config *c, char *buf, size_t size)
{
    const char *prefix = "Llama";
    if (c->arch == SRL_ARCH_GPT2) prefix = "GPT2";
    else if (strcmp(c->model_type, "qwen2") == 0) prefix = "Qwen2";
    else if (strcmp(c->model_type, "mistral") == 0) prefix = "Mistral";
    const char *suffix = c->head == SRL_HEAD_SCORE ? "ForSequenceClassification"
                       : c->arch == SRL_ARCH_GPT2 ? "LMHeadModel" : "ForCausalLM";
    snprintf(buf, size, "%s%s", prefix, suffix);
}

int srl_config_save(const struct srl_config *c, const char *path)
{
    int rc = srl_config_validate(c, path);
    if (rc < 0) return rc;
    const char *mt = c->arch == SRL_ARCH_GPT2 ? "gpt2" : c->model_type[0] ? c->model_type : "llama";
    int qwen2 = strcmp(mt, "qwen2") == 0, mistral = strcmp(mt, "mistral") == 0;
    if (c->arch == SRL_ARCH_LLAMA && !qwen2 && !mistral && strcmp(mt, "llama") != 0) {
        srl_log_error("%s: cannot write model_type \"%s\"", path, mt);
        return SRL_EINVAL;
    }
    if (c->arch == SRL_ARCH_LLAMA &&
        ((qwen2 && (!c->attention_bias || c->attention_out_bias)) ||
         (mistral && (c->attention_bias || c->attention_out_bias)) ||
         (!qwen2 && !mistral && c->attention_bias != c->attention_out_bias) ||
         (c->mlp_bias && (qwen2 || mistral)))) {
        srl_log_error("%s: these attention/MLP biases cannot be expressed as model_type %s", path,
                      mt);
        return SRL_EINVAL;
    }
    if (c->arch == SRL_ARCH_GPT2 && !c->tie_word_embeddings) {
        srl_log_error("%s: GPT-2 checkpoints always tie the LM head to the embeddings", path);
        return SRL_EINVAL;
    }
    char arch[SRL_MAX_NAME + 32];
    class_name(c, arch, sizeof arch);
    json_t *o = json_object();
    json_object_set_new(o, "architectures", json_pack("[s]", arch));
    json_object_set_new(o, "model_type", json_string(mt));
    if (c->arch == SRL_ARCH_GPT2) {
        json_object_set_new(o, "activation_function", json_string("gelu_new"));
        json_object_set_new(o, "attn_pdrop", json_real(0.0));
        json_object_set_new(o, "embd_pdrop", json_real(0.0));
        json_object_set_new(o, "resid_pdrop", json_real(0.0));
        json_object_set_new(o, "layer_norm_epsilon", json_float(c->norm_eps));
        json_object_set_new(o, "n_embd", json_integer(c->hidden_size));
        json_object_set_new(o, "n_head", json_integer(c->num_attention_heads));
        json_object_set_new(o, "n_layer", json_integer(c->num_hidden_layers));
        json_object_set_new(o, "n_positions", json_integer(c->max_position_embeddings));
        json_object_set_new(o, "n_inner", c->intermediate_size == 4 * c->hidden_size
                                              ? json_null() : json_integer(c->intermediate_size));
        json_object_set_new(o, "scale_attn_weights", json_true());
    } else {
        if (!qwen2 && !mistral) {
            json_object_set_new(o, "attention_bias", json_boolean(c->attention_bias));
            json_object_set_new(o, "mlp_bias", json_boolean(c->mlp_bias));
        }
        json_object_set_new(o, "attention_dropout", json_real(0.0));
        json_object_set_new(o, "head_dim", json_integer(c->head_dim));
        json_object_set_new(o, "hidden_act", json_string("silu"));
        json_object_set_new(o, "hidden_size", json_integer(c->hidden_size));
        json_object_set_new(o, "intermediate_size", json_integer(c->intermediate_size));
        json_object_set_new(o, "max_position_embeddings",
                            json_integer(c->max_position_embeddings));
        json_object_set_new(o, "num_attention_heads", json_integer(c->num_attention_heads));
        json_object_set_new(o, "num_hidden_layers", json_integer(c->num_hidden_layers));
        json_object_set_new(o, "num_key_value_heads", json_integer(c->num_key_value_heads));
        json_object_set_new(o, "rms_norm_eps", json_float(c->norm_eps));
        json_object_set_new(o, "rope_scaling", json_null());
        json_object_set_new(o, "rope_theta", json_float(c->rope_theta));
        if (qwen2 || mistral) {
            json_object_set_new(o, "sliding_window", json_null());
            json_object_set_new(o, "use_sliding_window", json_false());
        }
    }
    json_object_set_new(o, "bos_token_id", token_or_null(c->bos_token_id));
    json_object_set_new(o, "eos_token_id", token_or_null(c->eos_token_id));
    json_object_set_new(o, "pad_token_id", token_or_null(c->pad_token_id));
    json_object_set_new(o, "initializer_range", json_real(0.02));
    json_object_set_new(o, "tie_word_embeddings", json_boolean(c->tie_word_embeddings));
    json_object_set_new(o, "torch_dtype", json_string(srl_dtype_name(c->dtype)));
    json_object_set_new(o, "use_cache", json_true());
    json_object_set_new(o, "vocab_size", json_integer(c->vocab_size));
    if (c->head == SRL_HEAD_SCORE) {
        json_object_set_new(o, "id2label", json_pack("{s:s}", "0", "LABEL_0"));
        json_object_set_new(o, "label2id", json_pack("{s:i}", "LABEL_0", 0));
    }
    if (c->score_type[0] || c->template_name[0]) {
        json_t *s = json_object();
        if (c->score_type[0]) json_object_set_new(s, "score_type", json_string(c->score_type));
        if (c->template_name[0])
            json_object_set_new(s, "template", json_string(c->template_name));
        json_object_set_new(o, "saferlhf", s);
    }
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (!text) {
        srl_log_error("%s: out of memory", path);
        return SRL_ENOMEM;
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: write len + 1 bytes */
    rc = srl_write_file_atomic(path, text, len + 1);
    free(text);
    return rc;
}
