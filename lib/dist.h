/* dist.h -- data parallelism across processes: who am I (rank, size, local rank) and the
 * collectives the trainers need.
 *
 * Built with MPI (make MPI=1, the default when Open MPI's headers are installed) every process
 * started by mpirun is one rank of MPI_COMM_WORLD; built without (MPI=0) or started without
 * mpirun (no OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE: MPI is then not initialised at all)
 * there is one rank and every collective is a no-op.  The tools call srl_dist_init()
 * first and srl_dist_exit() last (the library never exits); the rank state is process-wide
 * (MPI_COMM_WORLD is), like the log level.
 *
 * Buffers of float32 arenas live on a backend (struct srl_backend): on the CPU they go to MPI;
 * on a CUDA backend to NCCL (communicator bootstrapped through MPI, as llm.c does; one GPU per
 * local rank) when built with it, else they are staged through host memory.  Large arenas are
 * cut into buckets of SRL_DIST_BUCKET floats (one collective each), so any arena size works with
 * MPI's int counts.
 *
 * Shards (ZeRO-1): an arena of n floats is cut into `size` contiguous parts in rank order,
 * [srl_dist_shard_lo(n, r), srl_dist_shard_lo(n, r + 1)), boundaries multiples of 16 floats.
 *
 * Determinism: MPI's sum of 2 ranks is a + b on both (IEEE addition commutes), so a 2-rank sum
 * is bitwise the same on every rank and in every run; with more ranks Open MPI's reduction order
 * is fixed for a given rank count and message size.  Every function returns 0 or SRL_E*. */
#ifndef SRL_DIST_H
#define SRL_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "backend.h"

#define SRL_DIST_BUCKET ((size_t)1 << 24) /* floats per collective call (64 MiB) */

/* Start (MPI_Init when built with MPI and not yet started).  Returns 0 or SRL_E*. */
int srl_dist_init(int *argc, char ***argv);
/* End the run with exit status `status`: MPI_Finalize when it is 0 or there is one rank;
 * otherwise MPI_Abort, so that ranks waiting in a collective for a rank that failed are ended
 * too (mpirun then exits with that status).  Returns status. */
int srl_dist_exit(int status);
/* main() of a tool that trains on every rank: srl_dist_init, fn, srl_dist_exit (status 1 when
 * MPI cannot start). */
int srl_dist_main(int argc, char **argv, int (*fn)(int argc, char **argv));

int srl_dist_rank(void);        /* 0 .. size-1 */
int srl_dist_size(void);        /* ranks in all */
int srl_dist_local_rank(void);  /* rank among the processes of this machine (GPU choice) */
bool srl_dist_is_root(void);    /* rank 0: the one that writes logs and checkpoints */
const char *srl_dist_kind(void); /* "mpi" or "none" (how this build communicates) */
bool srl_dist_nccl_built(void);

/* The first element of rank r's shard of an arena of n floats (r = size gives n); _part_lo for
 * another rank count (memory plans). */
size_t srl_dist_shard_lo(size_t n, int r);
size_t srl_dist_part_lo(size_t n, int r, int size);

/* x (n floats on be) := the sum over ranks, on every rank. */
int srl_dist_allreduce_sum(const struct srl_backend *be, float *x, size_t n);
/* Host doubles: x := the sum over ranks. */
int srl_dist_allreduce_f64(double *x, size_t n);
/* Host doubles: x := the maximum over ranks. */
int srl_dist_allreduce_max_f64(double *x, size_t n);
/* An error anywhere is an error everywhere: the smallest (most negative) rc of all ranks.  Call
 * it at the same point on every rank after a step that can fail on one rank only. */
int srl_dist_agree(int rc);
/* Every rank gets root's bytes. */
int srl_dist_bcast(void *buf, size_t bytes, int root);

/* ZeRO-1 collectives over an arena x of n floats on be:
 * reduce-scatter: this rank's shard of x := the sum over ranks of that shard (the rest of x is
 * left undefined); allgather: every rank's shard of x is copied to all ranks. */
int srl_dist_reduce_scatter_sum(const struct srl_backend *be, float *x, size_t n);
int srl_dist_allgather(const struct srl_backend *be, float *x, size_t n);
/* Host floats: rank 0's full (n) := every rank's shard of an arena of n, from mine (the rank's
 * own shard, shard_lo(n, r+1) - shard_lo(n, r) floats).  full is only used on rank 0. */
int srl_dist_gather_shards(const float *mine, float *full, size_t n);
/* Host floats: all := the concatenation, in rank order, of every rank's mine[0..n_mine);
 * *n_all = the total (all must hold the total: use srl_dist_allreduce_f64 to size it). */
int srl_dist_allgatherv(const float *mine, size_t n_mine, float *all, size_t *n_all);

/* The gradient all-reduce overlapped with the backward that computes the gradients (host
 * arenas under MPI; one rank, ZeRO and device arenas use srl_dist_allreduce_sum after the
 * backward instead).  The arena is cut into buckets at the model's grad marks
 * (srl_model_grad_marks: the backward finishes the arena from its end to its start), merged
 * until each holds at least SRL_DIST_MIN_BUCKET floats (n/16 in a small arena); the schedule
 * is the same on every rank.
 *   srl_dist_overlap_new      *out NULL when there is nothing to overlap (one rank, no MPI)
 *   srl_dist_overlap_begin    before the step's last backward on this rank
 *   srl_dist_overlap_ready    the model's grad hook: grads[lo, n) are final; posts the
 *                             non-blocking all-reduce (MPI_Iallreduce) of every bucket now
 *                             complete and lets MPI progress those in flight
 *   srl_dist_overlap_end      on every rank, whether it ran a backward or not: posts what is
 *                             left and waits; grads then hold the sums over the ranks, as
 *                             srl_dist_allreduce_sum would leave them (bitwise with 2 ranks)
 * A second backward after a bucket was posted would change what is being sent: _end then
 * returns SRL_EINVAL.  The seconds spent in _ready and _end count as comm seconds. */
#define SRL_DIST_MIN_BUCKET ((size_t)1 << 18) /* 1 MiB */
struct srl_dist_overlap;
int srl_dist_overlap_new(struct srl_dist_overlap **out, const size_t *marks, int n_marks,
                         size_t n);
void srl_dist_overlap_begin(struct srl_dist_overlap *ov, float *grads);
void srl_dist_overlap_ready(void *ov, size_t lo);
int srl_dist_overlap_end(struct srl_dist_overlap *ov, float *grads);
void srl_dist_overlap_free(struct srl_dist_overlap *ov);

/* Seconds this process has spent in collectives on arenas (allreduce, reduce-scatter,
 * allgather) since it started, and waiting for the other ranks to reach them (a barrier
 * before each: the load imbalance, apart from the transfer).  The trainers log both. */
double srl_dist_comm_seconds(void);
double srl_dist_wait_seconds(void);

#endif
