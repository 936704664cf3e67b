/* mkppo.c -- a tiny PPO-Lagrangian world for tests/cli/ppo_lag.sh and the bench.
 *
 * Usage: mkppo OUT_DIR TOKENIZER_DIR SEED [HIDDEN LAYERS]
 * Writes OUT_DIR/actor (a random Llama LM, hidden 32 and 2 layers unless given, the template
 * saferlhf), OUT_DIR/rm and OUT_DIR/cm (score models whose end score is a known function of
 * the LAST token, see below) and OUT_DIR/prompts.jsonl (32 prompts).
 *
 * The score models have one layer whose attention and MLP weights are all zero, so the final
 * hidden state is RMSNorm(embedding(last token)); embedding rows are one-hot on a class
 * dimension and score.weight reads the class's value:
 *     class  token ids      reward  cost
 *     HU     [100, 148)      +2      +1     helpful but unsafe
 *     HS     [148, 196)      +1      -1     helpful and safe
 *     other  the rest         0       0
 * A reward maximiser ends its answers with HU tokens (cost +1); with the threshold at 0 the
 * Lagrangian optimum mixes HU and HS (lambda* = 0.5 makes them equally good). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "fileio.h"
#include "model.h"
#include "tokenizer.h"

#define HU_LO 100
#define HS_LO 148
#define HS_HI 196

static int copy(const char *src_dir, const char *dst_dir, const char *name)
{
    char *src = srl_path_join(src_dir, name), *dst = srl_path_join(dst_dir, name), *d = NULL;
    size_t len;
    int rc = srl_read_file(src, &d, &len);
    if (rc == 0) rc = srl_write_file_atomic(dst, d, len);
    free(src), free(dst), free(d);
    return rc;
}

static int save(struct srl_model *m, const char *out, const char *name, const char *tokdir)
{
    char *dir = srl_path_join(out, name);
    mkdir(dir, 0755);
    int rc = srl_model_save(m, dir, SRL_DTYPE_F32);
    if (rc == 0) rc = copy(tokdir, dir, "tokenizer.json");
    if (rc == 0) rc = copy(tokdir, dir, "tokenizer_config.json");
    free(dir);
    return rc;
}

static int class_of(int id)
{
    return id >= HU_LO && id < HS_LO ? 1 : id >= HS_LO && id < HS_HI ? 2 : 0;
}

static int score_model(const struct srl_config *base, const char *type, const float value[3],
                       const char *out, const char *tokdir)
{
    struct srl_config cfg = *base;
    int err;
    cfg.head = SRL_HEAD_SCORE;
    cfg.num_labels = 1;
    cfg.hidden_size = 8;
    cfg.intermediate_size = 8;
    cfg.num_hidden_layers = 1;
    cfg.num_attention_heads = 2;
    cfg.num_key_value_heads = 1;
    cfg.head_dim = 4;
    snprintf(cfg.score_type, sizeof cfg.score_type, "%s", type);
    snprintf(cfg.architecture, sizeof cfg.architecture, "LlamaForSequenceClassification");
    struct srl_model *m = srl_model_new(&cfg, srl_backend_cpu(), &err);
    if (!m) return 1;
    memset(m->params, 0, m->n_params * sizeof(float));
    for (size_t i = 0; i < m->n_views; i++)
        if (strstr(m->views[i].name, "norm"))
            for (size_t k = 0; k < m->views[i].numel; k++)
                m->params[m->views[i].offset + k] = 1.0f;
    float *emb = srl_model_param(m, "model.embed_tokens.weight");
    float *w = srl_model_param(m, "score.weight");
    for (int id = 0; id < cfg.vocab_size; id++)
        emb[(size_t)id * 8 + class_of(id)] = 1.0f;
    /* RMSNorm(e_k) = e_k / sqrt(1/8 + eps) */
    for (int k = 0; k < 3; k++)
        w[k] = value[k] * sqrtf(1.0f / 8 + cfg.norm_eps);
    int rc = save(m, out, type[0] == 'r' ? "rm" : "cm", tokdir);
    srl_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: mkppo OUT_DIR TOKENIZER_DIR SEED [HIDDEN LAYERS]\n");
        return 2;
    }
    const char *out = argv[1], *tokdir = argv[2];
    int err = 0;
    struct srl_tokenizer *tok = srl_tokenizer_load(tokdir, &err);
    if (!tok) return 1;
    struct srl_config cfg;
    srl_config_default(&cfg, SRL_ARCH_LLAMA);
    cfg.vocab_size = srl_tokenizer_vocab_size(tok);
    cfg.hidden_size = argc == 6 ? atoi(argv[4]) : 32;
    cfg.num_hidden_layers = argc == 6 ? atoi(argv[5]) : 2;
    cfg.intermediate_size = cfg.hidden_size * 2;
    cfg.num_attention_heads = cfg.hidden_size >= 256 ? 8 : 4;
    cfg.num_key_value_heads = cfg.num_attention_heads / 2;
    cfg.head_dim = cfg.hidden_size / cfg.num_attention_heads;
    cfg.max_position_embeddings = 512;
    cfg.tie_word_embeddings = true;
    cfg.bos_token_id = srl_tokenizer_bos_id(tok);
    cfg.eos_token_id = srl_tokenizer_eos_id(tok);
    cfg.pad_token_id = srl_tokenizer_pad_id(tok);
    snprintf(cfg.template_name, sizeof cfg.template_name, "saferlhf");
    mkdir(out, 0755);
    struct srl_model *a = srl_model_new(&cfg, srl_backend_cpu(), &err);
    if (!a) return 1;
    srl_model_init_random(a, strtoull(argv[3], NULL, 10));
    int rc = save(a, out, "actor", tokdir);
    srl_model_free(a);
    static const float rv[3] = {0, 2, 1}, cv[3] = {0, 1, -1};
    if (rc == 0) rc = score_model(&cfg, "reward", rv, out, tokdir);
    if (rc == 0) rc = score_model(&cfg, "cost", cv, out, tokdir);
    char *p = srl_path_join(out, "prompts.jsonl");
    FILE *fp = p ? fopen(p, "w") : NULL;
    static const char *const topics[8] = {"the sea", "the moon", "a cat", "bread", "rain",
                                          "a song", "numbers", "the sky"};
    for (int i = 0; fp && i < 32; i++)
        fprintf(fp, "{\"prompt\": \"Tell me about %s, part %d.\"}\n", topics[i % 8], i / 8);
    if (!fp || fclose(fp) != 0) rc = 1;
    free(p);
    srl_tokenizer_free(tok);
    return rc == 0 ? 0 : 1;
}
