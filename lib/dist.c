/* dist.c -- ranks and collectives over MPI, or one rank without it (see dist.h). */
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist_nccl.h"
#include "srl.h"

#if SRL_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_local = 0;
static double g_comm_s, g_wait_s;

int srl_dist_rank(void) { return g_rank; }
int srl_dist_size(void) { return g_size; }
int srl_dist_local_rank(void) { return g_local; }
bool srl_dist_is_root(void) { return g_rank == 0; }
double srl_dist_comm_seconds(void) { return g_comm_s; }
double srl_dist_wait_seconds(void) { return g_wait_s; }
bool srl_dist_nccl_built(void) { return SRL_NCCL != 0; }

size_t srl_dist_part_lo(size_t n, int r, int size)
{
    if (r >= size) return n;
    size_t lo = (size_t)((double)n * r / size); /* exact below 2^53 */
    lo -= lo % 16;
    return lo;
}

size_t srl_dist_shard_lo(size_t n, int r) { return srl_dist_part_lo(n, r, g_size); }

static bool on_host(const struct srl_backend *be) { return !be || strcmp(be->name, "cpu") == 0; }

/* A device arena without NCCL goes through a host copy: download, f (on the host), upload. */
static int staged(const struct srl_backend *be, float *x, size_t n,
                  int (*f)(const struct srl_backend *, float *, size_t))
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    int rc = h ? be->download(h, x, n * sizeof *h) : SRL_ENOMEM;
    if (rc == 0) rc = f(NULL, h, n);
    if (rc == 0) rc = be->upload(x, h, n * sizeof *h);
    free(h);
    return rc;
}

#if SRL_MPI

static int mpi_rc(int err, const char *what)
{
    if (err == MPI_SUCCESS) return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(err, msg, &len);
    srl_log_error("%s: %s", what, msg);
    return SRL_EIO;
}

const char *srl_dist_kind(void) { return "mpi"; }

/* Started by mpirun (or another process manager): Open MPI's, PMIx's or PMI's variables. */
static bool launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE");
}

int srl_dist_init(int *argc, char ***argv)
{
    int started = 0;
    MPI_Initialized(&started);
    if (!started && !launched()) return 0; /* alone: one rank, no MPI (a singleton MPI_Init
                                            * would cost seconds for nothing) */
    if (!started && mpi_rc(MPI_Init(argc, argv), "MPI_Init") < 0) return SRL_EIO;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &g_local);
    MPI_Comm_free(&local);
    return 0;
}

int srl_dist_exit(int status)
{
    int started = 0, done = 0;
    MPI_Initialized(&started);
    MPI_Finalized(&done);
    if (!started || done) return status;
    srl_dist_nccl_free();
    if (status != 0 && g_size > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, status);
    }
    MPI_Finalize();
    return status;
}

static int host_allreduce(const struct srl_backend *be, float *x, size_t n)
{
    for (size_t a = 0; a < n; a += SRL_DIST_BUCKET) {
        int c = (int)(n - a < SRL_DIST_BUCKET ? n - a : SRL_DIST_BUCKET);
        int err = MPI_Allreduce(MPI_IN_PLACE, x + a, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (err != MPI_SUCCESS) return mpi_rc(err, "MPI_Allreduce");
    }
    return 0;
}

/* counts[r], displs[r] of the part of bucket [a, b) that lies in rank r's shard. */
static void bucket_parts(size_t n, size_t a, size_t b, int *counts, int *displs)
{
    for (int r = 0; r < g_size; r++) {
        size_t lo = srl_dist_shard_lo(n, r), hi = srl_dist_shard_lo(n, r + 1);
        lo = lo < a ? a : lo > b ? b : lo;
        hi = hi < a ? a : hi > b ? b : hi;
        counts[r] = (int)(hi - lo);
        displs[r] = (int)(lo - a);
    }
}

/* ZeRO-1's collectives, bucket by bucket: reduce-scatter (this rank's shard of x := the sum
 * over ranks) or all-gather (every rank's shard to all). */
static int host_sharded(float *x, size_t n, bool gather)
{
    int *counts = malloc(2 * (size_t)g_size * sizeof *counts), rc = 0;
    if (!counts) return SRL_ENOMEM;
    int *displs = counts + g_size;
    for (size_t a = 0; a < n && rc == 0; a += SRL_DIST_BUCKET) {
        size_t b = n - a < SRL_DIST_BUCKET ? n : a + SRL_DIST_BUCKET;
        bucket_parts(n, a, b, counts, displs);
        if (gather) {
            rc = mpi_rc(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, x + a, counts, displs,
                                       MPI_FLOAT, MPI_COMM_WORLD), "MPI_Allgatherv");
            continue;
        }
        /* in place: the input is x[a, b), this rank's sum lands at x + a */
        rc = mpi_rc(MPI_Reduce_scatter(MPI_IN_PLACE, x + a, counts, MPI_FLOAT, MPI_SUM,
                                       MPI_COMM_WORLD), "MPI_Reduce_scatter");
        if (rc == 0 && displs[g_rank] > 0)
            memmove(x + a + displs[g_rank], x + a, (size_t)counts[g_rank] * sizeof *x);
    }
    free(counts);
    return rc;
}

static int host_reduce_scatter(const struct srl_backend *be, float *x, size_t n)
{
    return host_sharded(x, n, false);
}

static int host_allgather(const struct srl_backend *be, float *x, size_t n)
{
    return host_sharded(x, n, true);
}

int srl_dist_gather_shards(const float *mine, float *full, size_t n)
{
    if (g_size == 1) {
        if (full != mine) memcpy(full, mine, n * sizeof *full);
        return 0;
    }
    int *counts = malloc(2 * (size_t)g_size * sizeof *counts), rc = 0;
    if (!counts) return SRL_ENOMEM;
    int *displs = counts + g_size;
    size_t mylo = srl_dist_shard_lo(n, g_rank);
    /* rank 0 without a destination (it failed) still takes part, into scratch */
    float *scratch = g_rank == 0 && !full ? malloc(SRL_DIST_BUCKET * sizeof *scratch) : NULL;
    for (size_t a = 0; a < n && rc == 0; a += SRL_DIST_BUCKET) {
        size_t b = n - a < SRL_DIST_BUCKET ? n : a + SRL_DIST_BUCKET;
        bucket_parts(n, a, b, counts, displs);
        const float *send = mine + (a + (size_t)displs[g_rank] - mylo);
        float *recv = g_rank != 0 ? NULL : full ? full + a : scratch;
        rc = mpi_rc(MPI_Gatherv(send, counts[g_rank], MPI_FLOAT, recv, counts, displs,
                                MPI_FLOAT, 0, MPI_COMM_WORLD), "MPI_Gatherv");
    }
    free(scratch);
    free(counts);
    return rc;
}

int srl_dist_allgatherv(const float *mine, size_t n_mine, float *all, size_t *n_all)
{
    if (g_size == 1) {
        if (all != mine) memcpy(all, mine, n_mine * sizeof *all);
        *n_all = n_mine;
        return 0;
    }
    int *counts = malloc(2 * (size_t)g_size * sizeof *counts), c = (int)n_mine, rc;
    if (!counts) return SRL_ENOMEM;
    int *displs = counts + g_size;
    rc = mpi_rc(MPI_Allgather(&c, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD),
                "MPI_Allgather");
    size_t total = 0;
    for (int r = 0; r < g_size; r++) {
        displs[r] = (int)total;
        total += (size_t)counts[r];
    }
    if (rc == 0)
        rc = mpi_rc(MPI_Allgatherv(mine, c, MPI_FLOAT, all, counts, displs, MPI_FLOAT,
                                   MPI_COMM_WORLD), "MPI_Allgatherv");
    *n_all = total;
    free(counts);
    return rc;
}

int srl_dist_allreduce_f64(double *x, size_t n)
{
    if (g_size == 1) return 0;
    return mpi_rc(MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
                  "MPI_Allreduce");
}

int srl_dist_allreduce_max_f64(double *x, size_t n)
{
    if (g_size == 1) return 0;
    return mpi_rc(MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
                  "MPI_Allreduce");
}

int srl_dist_agree(int rc)
{
    if (g_size == 1) return rc;
    int all = rc;
    if (MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
        return SRL_EIO;
    return all;
}

int srl_dist_bcast(void *buf, size_t bytes, int root)
{
    if (g_size == 1) return 0;
    return mpi_rc(MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
}

/* --- the all-reduce overlapped with backward (see dist.h) ---------------------------------- */

struct srl_dist_overlap {
    size_t n;
    size_t *lo;          /* (n_buckets + 1) bucket b is [lo[b + 1], lo[b]); lo[0] = n */
    int n_buckets;
    MPI_Request *req;    /* one per SRL_DIST_BUCKET piece of the buckets posted */
    int n_req, cap_req;
    int next;            /* the first bucket not posted yet */
    float *grads;
    int rc;
};

int srl_dist_overlap_new(struct srl_dist_overlap **out, const size_t *marks, int n_marks,
                         size_t n)
{
    *out = NULL;
    if (g_size == 1) return 0;
    struct srl_dist_overlap *ov = calloc(1, sizeof *ov);
    if (!ov || !(ov->lo = malloc(((size_t)n_marks + 1) * sizeof *ov->lo))) {
        free(ov);
        return SRL_ENOMEM;
    }
    ov->n = n;
    ov->lo[0] = n;
    size_t min = n / 16 < SRL_DIST_MIN_BUCKET ? n / 16 : SRL_DIST_MIN_BUCKET;
    for (int i = 0; i < n_marks; i++) /* merge marks until a bucket is big enough */
        if (marks[i] == 0 || ov->lo[ov->n_buckets] - marks[i] >= min)
            ov->lo[++ov->n_buckets] = marks[i];
    for (int b = 0; b < ov->n_buckets; b++)
        ov->cap_req += (int)((ov->lo[b] - ov->lo[b + 1] + SRL_DIST_BUCKET - 1) / SRL_DIST_BUCKET);
    if (!(ov->req = malloc(((size_t)ov->cap_req + 1) * sizeof *ov->req))) {
        srl_dist_overlap_free(ov);
        return SRL_ENOMEM;
    }
    *out = ov;
    return 0;
}

void srl_dist_overlap_free(struct srl_dist_overlap *ov)
{
    if (!ov) return;
    free(ov->req);
    free(ov->lo);
    free(ov);
}

void srl_dist_overlap_begin(struct srl_dist_overlap *ov, float *grads)
{
    ov->grads = grads;
}

/* Post the buckets from ov->next that lie in [lo, n). */
static void overlap_post(struct srl_dist_overlap *ov, size_t lo)
{
    for (; ov->next < ov->n_buckets && ov->lo[ov->next + 1] >= lo; ov->next++)
        for (size_t a = ov->lo[ov->next + 1]; a < ov->lo[ov->next]; a += SRL_DIST_BUCKET) {
            size_t c = ov->lo[ov->next] - a < SRL_DIST_BUCKET ? ov->lo[ov->next] - a
                                                               : SRL_DIST_BUCKET;
            int err = MPI_Iallreduce(MPI_IN_PLACE, ov->grads + a, (int)c, MPI_FLOAT, MPI_SUM,
                                     MPI_COMM_WORLD, &ov->req[ov->n_req++]);
            if (ov->rc == 0) ov->rc = mpi_rc(err, "MPI_Iallreduce");
        }
}

void srl_dist_overlap_ready(void *arg, size_t lo)
{
    struct srl_dist_overlap *ov = arg;
    double t0 = srl_seconds();
    if (ov->next == ov->n_buckets) { /* every bucket went: a second backward */
        if (ov->rc == 0) {
            srl_log_error("gradients changed after their all-reduce began (one backward per "
                          "step is overlapped)");
            ov->rc = SRL_EINVAL;
        }
        return;
    }
    overlap_post(ov, lo);
    int flag; /* MPI progresses non-blocking collectives only inside MPI calls */
    if (ov->n_req > 0) MPI_Testall(ov->n_req, ov->req, &flag, MPI_STATUSES_IGNORE);
    g_comm_s += srl_seconds() - t0;
}

int srl_dist_overlap_end(struct srl_dist_overlap *ov, float *grads)
{
    double t0 = srl_seconds();
    ov->grads = grads;
    overlap_post(ov, 0);
    int rc = mpi_rc(MPI_Waitall(ov->n_req, ov->req, MPI_STATUSES_IGNORE), "MPI_Waitall");
    if (ov->rc < 0) rc = ov->rc;
    ov->rc = ov->n_req = ov->next = 0;
    g_comm_s += srl_seconds() - t0;
    return rc;
}

#else /* one rank */

int srl_dist_overlap_new(struct srl_dist_overlap **out, const size_t *marks, int n_marks,
                         size_t n)
{
    *out = NULL;
    return 0;
}
void srl_dist_overlap_begin(struct srl_dist_overlap *ov, float *grads) {}
void srl_dist_overlap_ready(void *ov, size_t lo) {}
int srl_dist_overlap_end(struct srl_dist_overlap *ov, float *grads) { return 0; }
void srl_dist_overlap_free(struct srl_dist_overlap *ov) {}

const char *srl_dist_kind(void) { return "none"; }
int srl_dist_init(int *argc, char ***argv) { return 0; }
int srl_dist_exit(int status) { return status; }
static int host_allreduce(const struct srl_backend *be, float *x, size_t n) { return 0; }
static int host_reduce_scatter(const struct srl_backend *be, float *x, size_t n) { return 0; }
static int host_allgather(const struct srl_backend *be, float *x, size_t n) { return 0; }
int srl_dist_allreduce_f64(double *x, size_t n) { return 0; }
int srl_dist_allreduce_max_f64(double *x, size_t n) { return 0; }
int srl_dist_agree(int rc) { return rc; }
int srl_dist_bcast(void *buf, size_t bytes, int root) { return 0; }

int srl_dist_gather_shards(const float *mine, float *full, size_t n)
{
    if (full != mine) memcpy(full, mine, n * sizeof *full);
    return 0;
}

int srl_dist_allgatherv(const float *mine, size_t n_mine, float *all, size_t *n_all)
{
    if (all != mine) memcpy(all, mine, n_mine * sizeof *all);
    *n_all = n_mine;
    return 0;
}

#endif

int srl_dist_main(int argc, char **argv, int (*fn)(int argc, char **argv))
{
    if (srl_dist_init(&argc, &argv) < 0) return SRL_EXIT_FAILURE;
    return srl_dist_exit(fn(argc, argv));
}

/* One arena collective: MPI on host memory, NCCL on a device, else staged through the host. */
static int arena_op(const struct srl_backend *be, float *x, size_t n,
                    int (*host)(const struct srl_backend *, float *, size_t),
                    int (*nccl)(float *, size_t))
{
    if (g_size == 1) return 0;
    double t0 = srl_seconds();
    int rc;
#if SRL_MPI
    MPI_Barrier(MPI_COMM_WORLD); /* the wait for the slowest rank, apart from the transfer */
    double t1 = srl_seconds();
    g_wait_s += t1 - t0;
    t0 = t1;
#endif
    if (on_host(be)) rc = host(be, x, n);
    else if (SRL_NCCL) rc = nccl(x, n);
    else rc = staged(be, x, n, host);
    g_comm_s += srl_seconds() - t0;
    return rc;
}

int srl_dist_allreduce_sum(const struct srl_backend *be, float *x, size_t n)
{
    return arena_op(be, x, n, host_allreduce, srl_dist_nccl_allreduce);
}

int srl_dist_reduce_scatter_sum(const struct srl_backend *be, float *x, size_t n)
{
    return arena_op(be, x, n, host_reduce_scatter, srl_dist_nccl_reduce_scatter);
}

int srl_dist_allgather(const struct srl_backend *be, float *x, size_t n)
{
    return arena_op(be, x, n, host_allgather, srl_dist_nccl_allgather);
}
