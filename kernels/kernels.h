/* kernels.h -- the C interface of the CUDA kernels (the only kernel header lib/ includes).
 * Every launcher is extern "C" and returns 0 or a negative SRL_E* code. */
#ifndef SRL_KERNELS_H
#define SRL_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Number of visible CUDA devices; 0 when the driver or a device is missing. */
int srl_cuda_device_count(void);

#ifdef __cplusplus
}
#endif

#endif
