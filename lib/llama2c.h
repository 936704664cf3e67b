/* llama2c.h -- llama2.c legacy checkpoints: import as Hugging Face Llama directories, export. */
#ifndef SRL_LLAMA2C_H
#define SRL_LLAMA2C_H

#include "config.h"

/* The header of a llama2.c checkpoint (vocab_size made positive; shared is true when the
 * classifier is the token embedding, i.e. the file's vocab_size was positive). */
struct srl_llama2c_header {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared;
};

/* Convert MODEL_BIN (int32 header dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len, then fp32 token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final,
 * freq_cis_real, freq_cis_imag, [wcls]) and TOKENIZER (llama2.c tokenizer.bin, or a
 * SentencePiece model when the name ends in ".model") into OUT_DIR, which must exist:
 * config.json (LlamaForCausalLM, rms_norm_eps 1e-5, rope_theta 10000, bos 1, eos 2),
 * model.safetensors in DTYPE with HF names (q/k rows permuted from llama2.c's interleaved RoPE
 * pairs to HF's rotate_half halves, as transformers' convert_llama_weights_to_hf.py does),
 * tokenizer.json, tokenizer_config.json and generation_config.json.  A truncated or malformed
 * file fails with one error line naming the file and what is missing.  If hdr is not NULL it
 * gets the header.  Returns 0 or SRL_E*. */
int srl_llama2c_convert(const char *model_bin, const char *tokenizer, const char *out_dir,
                        enum srl_dtype dtype, struct srl_llama2c_header *hdr);

struct srl_model;
/* Write the Llama LM m (weights on the CPU backend) to PATH as a llama2.c legacy checkpoint,
 * the layout srl_llama2c_convert reads and llama2.c's run.c runs: q/k rows permuted back to
 * interleaved RoPE pairs, freq_cis computed as llama2.c's model.py does, the classifier
 * appended when untied (vocab_size negative).  Only what the format can say: SRL_EINVAL for
 * another architecture, rope_theta other than 10000 or rms_norm_eps other than 1e-5. */
int srl_llama2c_export(struct srl_model *m, const char *path);

#endif
