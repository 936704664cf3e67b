/* config.h -- a model's hyper-parameters, read from and written to HF config.json. */
#ifndef SRL_CONFIG_H
#define SRL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "dtype.h"

enum srl_arch { SRL_ARCH_LLAMA = 0, SRL_ARCH_GPT2 = 1 };

/* What the network's head computes. */
enum srl_head {
    SRL_HEAD_LM = 0,    /* LlamaForCausalLM / GPT2LMHeadModel: logits over the vocabulary */
    SRL_HEAD_SCORE = 1, /* *ForSequenceClassification with num_labels 1: a scalar per position */
};

#define SRL_MAX_NAME 64

/* Every field a model of either family needs.  Llama-only and GPT-2-only fields are ignored by
 * the other family. */
struct srl_config {
    enum srl_arch arch;
    enum srl_head head;
    enum srl_dtype dtype;          /* torch_dtype: the dtype checkpoints are written in */
    int vocab_size;
    int hidden_size;               /* d_model (GPT-2: n_embd) */
    int intermediate_size;         /* MLP width (GPT-2: n_inner, default 4*n_embd) */
    int num_hidden_layers;         /* GPT-2: n_layer */
    int num_attention_heads;       /* GPT-2: n_head */
    int num_key_value_heads;       /* grouped-query attention; = num_attention_heads if absent */
    int head_dim;                  /* hidden_size / num_attention_heads unless given */
    int max_position_embeddings;   /* GPT-2: n_positions */
    float norm_eps;                /* rms_norm_eps (Llama) or layer_norm_epsilon (GPT-2) */
    float rope_theta;              /* Llama: default 10000 */
    bool tie_word_embeddings;      /* lm_head shares the token embedding */
    bool attention_bias;           /* Llama-family q/k/v/o biases (Qwen2: q,k,v only) */
    bool attention_out_bias;       /* o_proj bias (Llama attention_bias=true); false for Qwen2 */
    bool mlp_bias;                 /* Llama mlp_bias */
    int bos_token_id, eos_token_id, pad_token_id; /* -1 when absent */
    int num_labels;                /* score head: must be 1 */
    char model_type[SRL_MAX_NAME]; /* "llama", "qwen2", "mistral", "gpt2" as written */
    char architecture[SRL_MAX_NAME]; /* architectures[0] as written */
    /* saferlhf extras, from the "saferlhf" object */
    char score_type[16];           /* "reward", "cost", "critic" or "" */
    char template_name[32];        /* prompt template recorded by SFT, or "" */
};

/* Fill *cfg with the defaults of the given family (GPT-2 124M shape / a tiny Llama). */
void srl_config_default(struct srl_config *cfg, enum srl_arch arch);

/* Read PATH (a config.json).  Unknown keys that change the computation (rope_scaling with a
 * type we do not implement, sliding windows, ...) and impossible shapes fail with
 * "PATH: what is wrong"; harmless HF bookkeeping keys are ignored.  Returns 0 or SRL_E*. */
int srl_config_load(const char *path, struct srl_config *cfg);

/* Check the shapes are consistent (heads divide, kv heads divide heads, sizes positive).
 * WHERE names the source in the error message.  Returns 0 or SRL_EINVAL. */
int srl_config_validate(const struct srl_config *cfg, const char *where);

/* Write cfg as an HF config.json that transformers loads (with the class name matching the
 * head), atomically.  Returns 0 or SRL_E*. */
int srl_config_save(const struct srl_config *cfg, const char *path);

/* Parameter count of the model the config describes (embeddings counted once when tied);
 * SIZE_MAX when it overflows.  srl_config_validate() refuses more than SRL_MAX_PARAMS. */
size_t srl_config_param_count(const struct srl_config *cfg);
#define SRL_MAX_PARAMS ((size_t)1 << 40)

#endif
