/* device.c -- resolve a --device specification against what is built and present. */
#include "device.h"

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

int srl_device_resolve(const char *spec, struct srl_device *dev)
{
    dev->kind = SRL_DEVICE_CPU;
    dev->index = 0;
    if (!spec || !strcmp(spec, "auto")) {
        if (cuda_count() > 0) {
            dev->kind = SRL_DEVICE_CUDA;
            dev->index = srl_dist_local_rank() % cuda_count(); /* one GPU per local rank */
        }
        return 0;
    }
    if (!strcmp(spec, "cpu")) return 0;
    if (strncmp(spec, "cuda", 4) != 0 || (spec[4] != '\0' && spec[4] != ':')) {
        srl_log_error("invalid device '%s' (expected auto, cpu or cuda[:N])", spec);
        return SRL_EINVAL;
    }
    if (spec[4] == ':') {
        char *end;
        long i = strtol(spec + 5, &end, 10);
        if (spec[5] == '\0' || *end || i < 0 || i > 1023) {
            srl_log_error("invalid device '%s' (expected cuda:N)", spec);
            return SRL_EINVAL;
        }
        dev->index = (int)i;
    } else if (cuda_count() > 0) {
        dev->index = srl_dist_local_rank() % cuda_count(); /* "cuda": one GPU per local rank */
    }
    if (!srl_cuda_built()) {
        srl_log_error("device '%s': this build has no CUDA backend (rebuild with nvcc present)",
                      spec);
        return SRL_ENOCUDA;
    }
    if (dev->index >= cuda_count()) {
        srl_log_error("device '%s': no such CUDA device (%d visible)", spec, cuda_count());
        return SRL_ENOCUDA;
    }
    dev->kind = SRL_DEVICE_CUDA;
    return 0;
}
