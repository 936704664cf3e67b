/* mkscore.c -- write a tiny random Llama score model (reward or cost) for the eval tests.
 *
 * Usage: mkscore OUT_DIR TOKENIZER.json reward|cost SEED
 * OUT_DIR gets config.json (LlamaForSequenceClassification, "saferlhf": {"score_type"}),
 * model.safetensors (weights ~ N(0, 0.02) from SEED; the score head ~ N(0, 1) so scores spread
 * on both sides of zero) and a copy of the tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "fileio.h"
#include "model.h"
#include "rng.h"
#include "tokenizer.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: mkscore OUT_DIR TOKENIZER.json reward|cost SEED\n");
        return 2;
    }
    int err = 0;
    struct srl_tokenizer *tok = srl_tokenizer_load(argv[2], &err);
    if (!tok) return 1;
    struct srl_config cfg;
    srl_config_default(&cfg, SRL_ARCH_LLAMA);
    cfg.head = SRL_HEAD_SCORE;
    cfg.num_labels = 1;
    cfg.vocab_size = srl_tokenizer_vocab_size(tok);
    cfg.hidden_size = 32;
    cfg.intermediate_size = 48;
    cfg.num_hidden_layers = 2;
    cfg.num_attention_heads = 4;
    cfg.num_key_value_heads = 2;
    cfg.head_dim = 8;
    cfg.max_position_embeddings = 256;
    cfg.bos_token_id = srl_tokenizer_bos_id(tok);
    cfg.eos_token_id = srl_tokenizer_eos_id(tok);
    cfg.pad_token_id = srl_tokenizer_pad_id(tok);
    snprintf(cfg.score_type, sizeof cfg.score_type, "%s", argv[3]);
    snprintf(cfg.template_name, sizeof cfg.template_name, "saferlhf");
    struct srl_model *m = srl_model_new(&cfg, srl_backend_cpu(), &err);
    if (!m) return 1;
    srl_model_init_random(m, strtoull(argv[4], NULL, 10));
    const struct srl_param_view *v = srl_model_find(m, "score.weight");
    if (v) {
        struct srl_rng rng;
        srl_rng_seed(&rng, strtoull(argv[4], NULL, 10) + 1);
        for (size_t i = 0; i < v->numel; i++) m->params[v->offset + i] = (float)srl_rng_normal(&rng);
    }
    mkdir(argv[1], 0755);
    char *dst = srl_path_join(argv[1], "tokenizer.json"), *data = NULL;
    size_t len = 0;
    int rc = srl_model_save(m, argv[1], SRL_DTYPE_F32);
    if (rc == 0) rc = srl_read_file(argv[2], &data, &len);
    if (rc == 0) rc = srl_write_file_atomic(dst, data, len);
    free(data);
    free(dst);
    srl_model_free(m);
    srl_tokenizer_free(tok);
    return rc == 0 ? 0 : 1;
}
