// device.cu -- device discovery for the CUDA backend.
#include <cuda_runtime.h>

#include "kernels.h"

extern "C" int srl_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
    return n;
}
