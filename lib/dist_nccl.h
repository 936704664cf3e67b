/* dist_nccl.h -- the NCCL half of lib/dist.c: collectives on CUDA device arenas between the
 * GPUs of the ranks (one GPU per local rank), the communicator bootstrapped through MPI (rank
 * 0's ncclUniqueId broadcast) on first use.  Built when make finds nvcc, NCCL's header and MPI
 * (SRL_NCCL=1); otherwise these return SRL_EUNSUPPORTED and device arenas go through the host.
 * Private to lib/. */
#ifndef SRL_DIST_NCCL_H
#define SRL_DIST_NCCL_H

#include <stddef.h>

#ifndef SRL_NCCL
#define SRL_NCCL 0
#endif

/* x (n floats in device memory): sum over ranks / this rank's shard summed (shards of dist.h,
 * the rest undefined) / every rank's shard to all.  0 or SRL_E*. */
int srl_dist_nccl_allreduce(float *x, size_t n);
int srl_dist_nccl_reduce_scatter(float *x, size_t n);
int srl_dist_nccl_allgather(float *x, size_t n);
void srl_dist_nccl_free(void);

#endif
