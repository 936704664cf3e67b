// device.cu -- device discovery, the process's CUDA context (device, stream, cuBLAS handle)
// and memory for the CUDA backend.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <string.h>

#include "cuda_common.h"
#include "kernels.h"
extern "C" {
#include "srl.h"
}

// One device per process (data parallelism is one process per GPU), so the context is
// process state, created once by srl_cuda_init().
static int g_device = -1;
static cudaStream_t g_stream;
static cublasHandle_t g_cublas;
static enum srl_cuda_math g_math = SRL_CUDA_MATH_BF16;

cudaStream_t srl_cuda_stream(void)
{
    return g_stream;
}

cublasHandle_t srl_cuda_cublas(void)
{
    return g_cublas;
}

extern "C" int srl_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); // clear the sticky "no driver" error
        return 0;
    }
    return n;
}

extern "C" int srl_cuda_init(int device)
{
    if (g_device >= 0) {
        if (device == g_device) return 0;
        srl_log_error("CUDA already initialised on device %d, cannot switch to %d", g_device,
                      device);
        return SRL_EINVAL;
    }
    int n = srl_cuda_device_count();
    if (device < 0 || device >= n) {
        srl_log_error("no CUDA device %d (%d visible)", device, n);
        return SRL_ENOCUDA;
    }
    cudaError_t err = cudaSetDevice(device);
    if (err == cudaSuccess) err = cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking);
    if (err != cudaSuccess) {
        srl_log_error("cannot use CUDA device %d: %s", device, cudaGetErrorString(err));
        return SRL_ENOCUDA;
    }
    if (cublasCreate(&g_cublas) != CUBLAS_STATUS_SUCCESS) {
        srl_log_error("cannot create the cuBLAS handle on device %d", device);
        cudaStreamDestroy(g_stream);
        return SRL_ENOCUDA;
    }
    cublasSetStream(g_cublas, g_stream);
    g_device = device;
    return 0;
}

extern "C" void srl_cuda_set_math(enum srl_cuda_math math)
{
    g_math = math;
}

extern "C" enum srl_cuda_math srl_cuda_get_math(void)
{
    return g_math;
}

extern "C" int srl_cuda_device_info(char *name, size_t name_size, size_t *free_bytes,
                                    size_t *total_bytes)
{
    cudaDeviceProp prop;
    if (g_device < 0 || cudaGetDeviceProperties(&prop, g_device) != cudaSuccess)
        return SRL_ENOCUDA;
    if (name && name_size) snprintf(name, name_size, "%s", prop.name);
    size_t f = 0, t = 0;
    CUDA_CHECK(cudaMemGetInfo(&f, &t));
    if (free_bytes) *free_bytes = f;
    if (total_bytes) *total_bytes = t;
    return 0;
}

// --- memory ----------------------------------------------------------------------------------

extern "C" void *srl_cuda_alloc(size_t bytes)
{
    void *p = NULL;
    size_t n = bytes ? (bytes + 255) & ~(size_t)255 : 256;
    cudaError_t err = cudaMalloc(&p, n);
    if (err != cudaSuccess) {
        cudaGetLastError(); // an allocation failure is not sticky: clear it and report it
        size_t f = 0, t = 0;
        cudaMemGetInfo(&f, &t);
        srl_log_error("cannot allocate %zu bytes on the GPU (%zu of %zu free): %s", bytes, f, t,
                      cudaGetErrorString(err));
        return NULL;
    }
    CUDA_CHECK(cudaMemsetAsync(p, 0, n, g_stream));
    return p;
}

extern "C" void srl_cuda_free(void *p)
{
    if (!p) return;
    // the stream may still be using it
    CUDA_CHECK(cudaStreamSynchronize(g_stream));
    CUDA_CHECK(cudaFree(p));
}

extern "C" int srl_cuda_upload(void *dst, const void *host_src, size_t bytes)
{
    if (!bytes) return 0;
    // synchronous: the caller may reuse its host buffer as soon as this returns
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, g_stream));
    CUDA_CHECK(cudaStreamSynchronize(g_stream));
    return 0;
}

extern "C" int srl_cuda_download(void *host_dst, const void *src, size_t bytes)
{
    if (!bytes) return 0;
    CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, g_stream));
    CUDA_CHECK(cudaStreamSynchronize(g_stream));
    return 0;
}

extern "C" void srl_cuda_memset0(void *p, size_t bytes)
{
    if (bytes) CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, g_stream));
}

extern "C" void srl_cuda_copy(void *dst, const void *src, size_t bytes)
{
    if (bytes && dst != src)
        CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, g_stream));
}

extern "C" void srl_cuda_sync(void)
{
    CUDA_CHECK(cudaStreamSynchronize(g_stream));
}
