/* dtype.h -- element types of tensors: their torch and safetensors names and sizes. */
#ifndef SRL_DTYPE_H
#define SRL_DTYPE_H

#include <stddef.h>

/* The first three are the model dtypes (torch_dtype, what checkpoints are written in); the
 * rest only occur in safetensors files read for their raw data. */
enum srl_dtype {
    SRL_DTYPE_F32 = 0,
    SRL_DTYPE_BF16 = 1,
    SRL_DTYPE_F16 = 2,
    SRL_DTYPE_F64 = 3,
    SRL_DTYPE_I32 = 4,
    SRL_DTYPE_I64 = 5,
    SRL_DTYPE_U8 = 6,
    SRL_DTYPE_BOOL = 7,
};

/* "float32", "bfloat16", "float16", "float64", "int32", "int64", "uint8", "bool" (torch
 * names); "unknown" for anything else. */
const char *srl_dtype_name(enum srl_dtype dtype);
/* "F32", "BF16", ... (safetensors names); "unknown" for anything else. */
const char *srl_dtype_st_name(enum srl_dtype dtype);
/* Bytes per element (0 for an unknown value). */
size_t srl_dtype_size(enum srl_dtype dtype);
/* Parse a torch dtype name ("float32", "bfloat16", "float16"; also "fp32", "bf16", "fp16").
 * Returns 0 and sets *dtype, or SRL_EINVAL (nothing logged). */
int srl_dtype_parse(const char *name, enum srl_dtype *dtype);
/* Parse a safetensors dtype name ("F32", ...).  Returns 0 and sets *dtype, or SRL_EINVAL. */
int srl_dtype_parse_st(const char *name, enum srl_dtype *dtype);

#endif
