/* backend_cuda.h -- the CUDA backend (kernels/ behind struct srl_backend) and the choice of a
 * backend for a resolved --device. */
#ifndef SRL_BACKEND_CUDA_H
#define SRL_BACKEND_CUDA_H

#include "backend.h"
#include "device.h"

/* The CUDA backend on device DEVICE (static table, never freed).  The first call selects the
 * device for the whole process and creates its stream and cuBLAS handle; every later call
 * must name the same device.  Matrix products use the precision of $SAFERLHF_CUDA_MATH
 * (bf16, tf32 or fp32 [bf16]: bf16/tf32 round the fp32 operands for the tensor cores and
 * accumulate in fp32; fp32 is exact, for checking against the CPU backend).
 * Returns 0, SRL_ENOCUDA (not built, no such device, driver failure) or SRL_EINVAL. */
int srl_backend_cuda(int device, const struct srl_backend **be);

/* Set the matrix-product precision by name ("bf16", "tf32", "fp32"): 0 or SRL_EINVAL (and
 * SRL_ENOCUDA in a build without CUDA). */
int srl_backend_cuda_set_math(const char *name);

/* The backend for DEV: srl_backend_cpu() or srl_backend_cuda(dev->index, ...).  0 or the
 * error of srl_backend_cuda(). */
int srl_backend_for_device(const struct srl_device *dev, const struct srl_backend **be);

#endif
