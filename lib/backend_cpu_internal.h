/* backend_cpu_internal.h -- private to lib/: the CPU ops defined outside backend_cpu.c. */
#ifndef SRL_BACKEND_CPU_INTERNAL_H
#define SRL_BACKEND_CPU_INTERNAL_H

#include "backend.h"

void srl_cpu_matmul(float *C, const float *A, const float *B, int M, int N, int K, bool ta,
                    bool tb, int lda, int ldb, int ldc, float alpha, float beta);
void srl_cpu_rope_fwd(float *x, const int32_t *pos, int N, int ld, int H, int D, float theta);
void srl_cpu_rope_bwd(float *dx, const int32_t *pos, int N, int ld, int H, int D, float theta);
void srl_cpu_attention_fwd(float *out, float *att, const float *q, const float *k,
                           const float *v, const int32_t *pos, int B, int T, int NH, int KVH,
                           int D, int ldq, int ldkv, float scale);
void srl_cpu_attention_fwd_kv(float *out, const float *q, const float *kc, const float *vc,
                              const int32_t *kpos, int B, int T, int start, int cap, int NH,
                              int KVH, int D, int ldq, float scale);
void srl_cpu_attention_bwd(float *dq, float *dk, float *dv, float *datt, const float *dout,
                           const float *att, const float *q, const float *k, const float *v,
                           int B, int T, int NH, int KVH, int D, int ldq, int ldkv,
                           float scale);

#endif
