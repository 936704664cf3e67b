/* backend_cuda.c -- the CUDA backend's table: every op of backend.h mapped to its launcher in
 * kernels/ (kernels.h).  In a build without CUDA the constructors fail with SRL_ENOCUDA, so
 * callers need no #ifdef. */
#include "backend_cuda.h"

#include <stdlib.h>
#include <string.h>

#include "srl.h"
#ifdef SRL_CUDA
#include "kernels.h"
#endif

#ifdef SRL_CUDA

static const struct srl_backend cuda_backend = {
    .name = "cuda",
    .alloc = srl_cuda_alloc,
    .free = srl_cuda_free,
    .upload = srl_cuda_upload,
    .download = srl_cuda_download,
    .memset0 = srl_cuda_memset0,
    .copy = srl_cuda_copy,
    .sync = srl_cuda_sync,
    .matmul = srl_cuda_matmul,
    .embedding_fwd = srl_cuda_embedding_fwd,
    .embedding_bwd = srl_cuda_embedding_bwd,
    .rmsnorm_fwd = srl_cuda_rmsnorm_fwd,
    .rmsnorm_bwd = srl_cuda_rmsnorm_bwd,
    .layernorm_fwd = srl_cuda_layernorm_fwd,
    .layernorm_bwd = srl_cuda_layernorm_bwd,
    .rope_fwd = srl_cuda_rope_fwd,
    .rope_bwd = srl_cuda_rope_bwd,
    .attention_fwd = srl_cuda_attention_fwd,
    .attention_fwd_kv = srl_cuda_attention_fwd_kv,
    .attention_bwd = srl_cuda_attention_bwd,
    .swiglu_fwd = srl_cuda_swiglu_fwd,
    .swiglu_bwd = srl_cuda_swiglu_bwd,
    .gelu_fwd = srl_cuda_gelu_fwd,
    .gelu_bwd = srl_cuda_gelu_bwd,
    .add = srl_cuda_add,
    .bias_fwd = srl_cuda_bias_fwd,
    .bias_bwd = srl_cuda_bias_bwd,
    .logprob_fwd = srl_cuda_logprob_fwd,
    .logprob_bwd = srl_cuda_logprob_bwd,
    .sumsq = srl_cuda_sumsq,
    .scale = srl_cuda_scale,
    .adamw_step = srl_cuda_adamw_step,
};

int srl_backend_cuda_set_math(const char *name)
{
    if (!strcmp(name, "bf16"))
        srl_cuda_set_math(SRL_CUDA_MATH_BF16);
    else if (!strcmp(name, "tf32"))
        srl_cuda_set_math(SRL_CUDA_MATH_TF32);
    else if (!strcmp(name, "fp32"))
        srl_cuda_set_math(SRL_CUDA_MATH_FP32);
    else {
        srl_log_error("unknown CUDA matmul precision '%s' (expected bf16, tf32 or fp32)", name);
        return SRL_EINVAL;
    }
    return 0;
}

int srl_backend_cuda(int device, const struct srl_backend **be)
{
    *be = NULL;
    int rc = srl_cuda_init(device);
    if (rc < 0) return rc;
    const char *math = getenv("SAFERLHF_CUDA_MATH");
    if (math && *math && (rc = srl_backend_cuda_set_math(math)) < 0) return rc;
    char name[256] = "";
    size_t free_b = 0, total_b = 0;
    if (srl_cuda_device_info(name, sizeof name, &free_b, &total_b) == 0)
        srl_log_info("CUDA device %d: %s, %.1f of %.1f GiB free", device, name,
                     free_b / 1073741824.0, total_b / 1073741824.0);
    *be = &cuda_backend;
    return 0;
}

#else

int srl_backend_cuda_set_math(const char *name)
{
    (void)name;
    return SRL_ENOCUDA;
}

int srl_backend_cuda(int device, const struct srl_backend **be)
{
    *be = NULL;
    srl_log_error("CUDA device %d requested but this build has no CUDA backend", device);
    return SRL_ENOCUDA;
}

#endif

int srl_backend_for_device(const struct srl_device *dev, const struct srl_backend **be)
{
    if (dev->kind == SRL_DEVICE_CUDA) return srl_backend_cuda(dev->index, be);
    *be = srl_backend_cpu();
    return 0;
}
