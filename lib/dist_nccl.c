/* dist_nccl.c -- NCCL collectives on device arenas (see dist_nccl.h).  Shards have uneven
 * sizes, so reduce-scatter is one ncclReduce per rank (root r gets shard r) and all-gather one
 * ncclBroadcast per rank, each set in one NCCL group.  The device is synchronised first (the
 * backend's kernels that wrote x are done), the collective runs on NCCL's own stream and is
 * waited for (the trainer's next step reads x). */
#include "dist_nccl.h"

#include "dist.h"
#include "srl.h"

#if SRL_NCCL
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

static ncclComm_t comm;
static cudaStream_t stream;
static int comm_ready;

static int nccl_rc(ncclResult_t r, const char *what)
{
    if (r == ncclSuccess) return 0;
    srl_log_error("%s: %s", what, ncclGetErrorString(r));
    return SRL_EIO;
}

/* The communicator of all ranks, on the device the CUDA backend has made current. */
static int ready(void)
{
    if (comm_ready) return 0;
    ncclUniqueId id;
    if (srl_dist_rank() == 0 && nccl_rc(ncclGetUniqueId(&id), "ncclGetUniqueId") < 0)
        return SRL_EIO;
    if (srl_dist_bcast(&id, sizeof id, 0) < 0) return SRL_EIO;
    if (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) {
        srl_log_error("NCCL: cannot create a CUDA stream");
        return SRL_EIO;
    }
    if (nccl_rc(ncclCommInitRank(&comm, srl_dist_size(), id, srl_dist_rank()),
                "ncclCommInitRank") < 0)
        return SRL_EIO;
    comm_ready = 1;
    return 0;
}

/* Before a collective: the backend's work on x is finished. */
static int start(void)
{
    if (ready() < 0) return SRL_EIO;
    cudaError_t e = cudaDeviceSynchronize();
    if (e == cudaSuccess) return 0;
    srl_log_error("NCCL: %s", cudaGetErrorString(e));
    return SRL_EIO;
}

static int finish(ncclResult_t r, const char *what)
{
    if (nccl_rc(r, what) < 0) return SRL_EIO;
    cudaError_t e = cudaStreamSynchronize(stream);
    if (e != cudaSuccess) {
        srl_log_error("%s: %s", what, cudaGetErrorString(e));
        return SRL_EIO;
    }
    return 0;
}

int srl_dist_nccl_allreduce(float *x, size_t n)
{
    if (start() < 0) return SRL_EIO;
    return finish(ncclAllReduce(x, x, n, ncclFloat, ncclSum, comm, stream), "ncclAllReduce");
}

int srl_dist_nccl_reduce_scatter(float *x, size_t n)
{
    if (start() < 0) return SRL_EIO;
    ncclResult_t r = ncclGroupStart();
    for (int k = 0; r == ncclSuccess && k < srl_dist_size(); k++) {
        size_t lo = srl_dist_shard_lo(n, k), hi = srl_dist_shard_lo(n, k + 1);
        r = ncclReduce(x + lo, x + lo, hi - lo, ncclFloat, ncclSum, k, comm, stream);
    }
    ncclResult_t e = ncclGroupEnd();
    return finish(r != ncclSuccess ? r : e, "ncclReduce (reduce-scatter)");
}

int srl_dist_nccl_allgather(float *x, size_t n)
{
    if (start() < 0) return SRL_EIO;
    ncclResult_t r = ncclGroupStart();
    for (int k = 0; r == ncclSuccess && k < srl_dist_size(); k++) {
        size_t lo = srl_dist_shard_lo(n, k), hi = srl_dist_shard_lo(n, k + 1);
        r = ncclBroadcast(x + lo, x + lo, hi - lo, ncclFloat, k, comm, stream);
    }
    ncclResult_t e = ncclGroupEnd();
    return finish(r != ncclSuccess ? r : e, "ncclBroadcast (all-gather)");
}

void srl_dist_nccl_free(void)
{
    if (!comm_ready) return;
    ncclCommDestroy(comm);
    cudaStreamDestroy(stream);
    comm_ready = 0;
}

#else

int srl_dist_nccl_allreduce(float *x, size_t n) { return SRL_EUNSUPPORTED; }
int srl_dist_nccl_reduce_scatter(float *x, size_t n) { return SRL_EUNSUPPORTED; }
int srl_dist_nccl_allgather(float *x, size_t n) { return SRL_EUNSUPPORTED; }
void srl_dist_nccl_free(void) {}

#endif
