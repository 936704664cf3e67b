/* device.h -- choosing where a model runs: --device auto|cpu|cuda[:N]. */
#ifndef SRL_DEVICE_H
#define SRL_DEVICE_H

#include <stddef.h>

enum srl_device_kind { SRL_DEVICE_CPU = 0, SRL_DEVICE_CUDA = 1 };

struct srl_device {
    enum srl_device_kind kind;
    int index; /* CUDA device ordinal */
};

/* Resolve SPEC ("auto", "cpu", "cuda", "cuda:N").  auto is CUDA when built in and a device is
 * present, else CPU.  "cuda" and auto pick device (local rank mod devices): under mpirun each
 * rank of a machine gets its own GPU (lib/dist.h).  Returns 0, SRL_EINVAL for a malformed spec,
 * SRL_ENOCUDA when CUDA was asked for but is not built or present; the reason goes into why
 * (may be NULL), nothing is logged (the tools print it: tools/tool.c, tool_backend). */
int srl_device_resolve(const char *spec, struct srl_device *dev, char *why, size_t why_size);

/* True when this build includes the CUDA backend. */
int srl_cuda_built(void);

#endif
