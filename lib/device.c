/* device.c -- resolve a --device specification against what is built and present. */
#include "device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "srl.h"
#ifdef SRL_CUDA
#include "kernels.h"
#endif

int srl_cuda_built(void)
{
#ifdef SRL_CUDA
    return 1;
#else
    return 0;
#endif
}

static int cuda_count(void)
{
#ifdef SRL_CUDA
    return srl_cuda_device_count();
#else
    return 0;
#endif
}

int srl_device_resolve(const char *spec, struct srl_device *dev, char *why, size_t why_size)
{
    dev->kind = SRL_DEVICE_CPU;
    dev->index = 0;
    if (why && why_size) why[0] = '\0';
    else why_size = 0;
    if (!spec || !strcmp(spec, "auto")) {
        if (cuda_count() > 0) {
            dev->kind = SRL_DEVICE_CUDA;
            dev->index = srl_dist_local_rank() % cuda_count(); /* one GPU per local rank */
        }
        return 0;
    }
    if (!strcmp(spec, "cpu")) return 0;
    if (strncmp(spec, "cuda", 4) != 0 || (spec[4] != '\0' && spec[4] != ':')) {
        if (why_size) snprintf(why, why_size, "invalid device '%s' (expected auto, cpu or "
                               "cuda[:N])", spec);
        return SRL_EINVAL;
    }
    if (spec[4] == ':') {
        char *end;
        long i = strtol(spec + 5, &end, 10);
        if (spec[5] == '\0' || *end || i < 0 || i > 1023) {
            if (why_size) snprintf(why, why_size, "invalid device '%s' (expected cuda:N)", spec);
            return SRL_EINVAL;
        }
        dev->index = (int)i;
    } else if (cuda_count() > 0) {
        dev->index = srl_dist_local_rank() % cuda_count(); /* "cuda": one GPU per local rank */
    }
    if (!srl_cuda_built()) {
        if (why_size) snprintf(why, why_size, "this build has no CUDA backend (rebuild with "
                               "nvcc present)");
        return SRL_ENOCUDA;
    }
    if (dev->index >= cuda_count()) {
        if (why_size) snprintf(why, why_size, "no CUDA device %d (%d visible)", dev->index,
                               cuda_count());
        return SRL_ENOCUDA;
    }
    dev->kind = SRL_DEVICE_CUDA;
    return 0;
}
