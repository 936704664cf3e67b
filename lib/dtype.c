/* dtype.c -- element types: names and sizes (see dtype.h). */
#include "dtype.h"

#include <string.h>

#include "srl.h"

static const struct {
    const char *st_name, *torch_name;
    size_t size;
} dtype_info[] = {
    [SRL_DTYPE_F32] = { "F32", "float32", 4 },  [SRL_DTYPE_BF16] = { "BF16", "bfloat16", 2 },
    [SRL_DTYPE_F16] = { "F16", "float16", 2 },  [SRL_DTYPE_F64] = { "F64", "float64", 8 },
    [SRL_DTYPE_I32] = { "I32", "int32", 4 },    [SRL_DTYPE_I64] = { "I64", "int64", 8 },
    [SRL_DTYPE_U8] = { "U8", "uint8", 1 },      [SRL_DTYPE_BOOL] = { "BOOL", "bool", 1 },
};
#define N_DTYPES (sizeof dtype_info / sizeof dtype_info[0])

const char *srl_dtype_name(enum srl_dtype dtype)
{
    return (unsigned)dtype < N_DTYPES ? dtype_info[dtype].torch_name : "unknown";
}

const char *srl_dtype_st_name(enum srl_dtype dtype)
{
    return (unsigned)dtype < N_DTYPES ? dtype_info[dtype].st_name : "unknown";
}

size_t srl_dtype_size(enum srl_dtype dtype)
{
    return (unsigned)dtype < N_DTYPES ? dtype_info[dtype].size : 0;
}

int srl_dtype_parse(const char *name, enum srl_dtype *dtype)
{
    static const struct {
        const char *name;
        enum srl_dtype dtype;
    } names[] = {
        { "float32", SRL_DTYPE_F32 },  { "fp32", SRL_DTYPE_F32 }, { "f32", SRL_DTYPE_F32 },
        { "bfloat16", SRL_DTYPE_BF16 }, { "bf16", SRL_DTYPE_BF16 },
        { "float16", SRL_DTYPE_F16 },  { "fp16", SRL_DTYPE_F16 }, { "f16", SRL_DTYPE_F16 },
        { "half", SRL_DTYPE_F16 },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name && strcmp(name, names[i].name) == 0) {
            *dtype = names[i].dtype;
            return 0;
        }
    return SRL_EINVAL;
}

int srl_dtype_parse_st(const char *name, enum srl_dtype *dtype)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (name && strcmp(name, dtype_info[i].st_name) == 0) {
            *dtype = (enum srl_dtype)i;
            return 0;
        }
    return SRL_EINVAL;
}
