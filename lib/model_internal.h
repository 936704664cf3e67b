/* model_internal.h -- private to lib/model*.c: the parameter layout and shared blocks. */
#ifndef SRL_MODEL_INTERNAL_H
#define SRL_MODEL_INTERNAL_H

#include "model.h"

#define NONE ((size_t)-1)

struct srl_layer_params {
    size_t lo; /* the layer's first parameter: its parameters are [lo, next layer's lo) */
    size_t ln1_w, ln1_b, wqkv, bqkv, wo, bo, ln2_w, ln2_b, w1, b1, w2, b2;
};

struct srl_model_layout {
    int C, NH, KVH, D, QD, KVD, QKVD, F, V, L;
    int fc_width;   /* columns of the first MLP product: 2F (gate|up) or F */
    bool conv1d;    /* GPT-2: weights stored (in,out) */
    size_t wte, wpe, lnf_w, lnf_b, head_w; /* head_w: lm_head, wte (tied) or score */
    struct srl_layer_params *layer;
};

/* out (N,outf) [row stride ldo] = beta*out + inp (N,in) [stride ldi] . W^T (+ bias), with W
 * stored (outf,in) (nn.Linear) or (in,outf) (Conv1D); w, b are arena offsets (b may be NONE). */
void srl_model_linear_fwd(struct srl_model *m, float *out, int ldo, const float *inp, int ldi,
                          size_t w, size_t b, int N, int in, int outf, float beta);
/* RMSNorm or LayerNorm (by architecture) of inp (N,C) into out; mean unused for RMSNorm. */
void srl_model_norm_fwd(struct srl_model *m, float *out, float *mean, float *rstd,
                        const float *inp, size_t w, size_t b, int N);
/* Release the KV cache and decoding scratch (srl_model_free() calls it). */
void srl_model_decode_free(struct srl_model *m);

#endif
