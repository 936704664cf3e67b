/* test_dist.c -- lib/dist.c's collectives and ZeRO-1 in lib/optim.c, on however many ranks it
 * is started with: alone (tests/run.sh: one rank, every collective a no-op) and under
 * mpirun -np 2 (tests/cli/mpi.sh).  Values are chosen so that sums are exact; rank 0 prints
 * the PASS/FAIL lines, a failure on any rank fails the test on all (agreed). */
#include "dist.h"
#include "optim.h"
#include "srl.h"
#include "test.h"

static int R, S; /* rank, size */

/* A failure on any rank is a failure everywhere. */
static void agree(void)
{
    double f = test_failed_now;
    srl_dist_allreduce_max_f64(&f, 1);
    test_failed_now = f > 0;
}

static void test_shards(void)
{
    size_t ns[] = {0, 1, 15, 16, 17, 1000, 123457};
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
        size_t n = ns[k];
        EXPECT(srl_dist_shard_lo(n, 0) == 0 && srl_dist_shard_lo(n, S) == n, "ends n=%zu", n);
        for (int r = 0; r < S; r++) {
            size_t lo = srl_dist_shard_lo(n, r), hi = srl_dist_shard_lo(n, r + 1);
            EXPECT(lo <= hi && lo % 16 == 0, "shard %d of %zu: [%zu, %zu)", r, n, lo, hi);
        }
    }
    /* the plan's shards for 8 ranks of 7e9 floats: each within 16 of n / 8 */
    size_t n = 7000000000ull;
    for (int r = 0; r < 8; r++) {
        size_t len = srl_dist_part_lo(n, r + 1, 8) - srl_dist_part_lo(n, r, 8);
        EXPECT(len + 16 >= n / 8 && len <= n / 8 + 16, "part %d: %zu", r, len);
    }
    agree();
}

static void test_collectives(void)
{
    const struct srl_backend *be = srl_backend_cpu();
    size_t n = 1001;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    REQUIRE(x && y, "oom");
    for (size_t i = 0; i < n; i++) x[i] = (float)(i % 97) + (float)R; /* small integers */
    REQUIRE(srl_dist_allreduce_sum(be, x, n) == 0);
    for (size_t i = 0; i < n; i++) {
        float want = (float)S * (float)(i % 97) + (float)(S * (S - 1) / 2);
        if (x[i] != want) {
            EXPECT(x[i] == want, "allreduce [%zu] %g != %g", i, x[i], want);
            break;
        }
    }
    for (size_t i = 0; i < n; i++) x[i] = (float)i * (float)(R + 1);
    REQUIRE(srl_dist_reduce_scatter_sum(be, x, n) == 0);
    size_t lo = srl_dist_shard_lo(n, R), hi = srl_dist_shard_lo(n, R + 1);
    for (size_t i = lo; i < hi; i++) {
        float want = (float)i * (float)(S * (S + 1) / 2);
        if (x[i] != want) {
            EXPECT(x[i] == want, "reduce-scatter [%zu] %g != %g", i, x[i], want);
            break;
        }
    }
    for (size_t i = lo; i < hi; i++) x[i] = (float)i + 0.5f;
    REQUIRE(srl_dist_allgather(be, x, n) == 0);
    for (size_t i = 0; i < n; i++)
        if (x[i] != (float)i + 0.5f) { EXPECT(0, "allgather [%zu] %g", i, x[i]); break; }
    /* gather_shards: rank 0 gets every shard */
    for (size_t i = 0; i < n; i++) y[i] = -1;
    REQUIRE(srl_dist_gather_shards(x + lo, y, n) == 0);
    if (R == 0)
        for (size_t i = 0; i < n; i++)
            if (y[i] != x[i]) { EXPECT(0, "gather [%zu] %g", i, y[i]); break; }
    /* allgatherv: rank r gives r + 1 values r */
    float mine[8], all[64];
    size_t n_all = 0;
    for (int i = 0; i <= R; i++) mine[i] = (float)R;
    REQUIRE(srl_dist_allgatherv(mine, (size_t)R + 1, all, &n_all) == 0);
    EXPECT(n_all == (size_t)(S * (S + 1) / 2), "allgatherv total %zu", n_all);
    for (int r = 0, k = 0; r < S; r++)
        for (int i = 0; i <= r; i++, k++) EXPECT(all[k] == (float)r, "allgatherv [%d]", k);
    EXPECT(srl_dist_agree(R == S - 1 ? SRL_EIO : 0) == SRL_EIO, "an error on the last rank");
    free(x);
    free(y);
    agree();
}

/* ZeRO-1: sharded AdamW steps give the same parameters as unsharded ones (bitwise: the same
 * sums, the same element-wise update; clipping off, as the norm is summed in another order),
 * hold 1/S of the moments, and their saved state is the full state. */
static void test_zero1(void)
{
    const struct srl_backend *be = srl_backend_cpu();
    size_t n = 4099;
    struct srl_param_view views[2] = {{.name = "a.weight", .offset = 0, .numel = 3000,
                                       .ndim = 1, .shape = {3000}},
                                      {.name = "b.bias", .offset = 3000, .numel = 1099,
                                       .ndim = 1, .shape = {1099}, .no_decay = true}};
    struct srl_adamw_hparams hp;
    srl_adamw_defaults(&hp);
    hp.weight_decay = 0.1f;
    struct srl_optim *full = NULL, *part = NULL;
    REQUIRE(srl_optim_new(be, n, views, 2, &hp, &full) == 0);
    REQUIRE(srl_optim_new(be, n, views, 2, &hp, &part) == 0);
    REQUIRE(srl_optim_shard(part) == 0);
    size_t want = 2 * (srl_dist_shard_lo(n, R + 1) - srl_dist_shard_lo(n, R)) * sizeof(float);
    EXPECT(srl_optim_state_bytes(part) == want, "sharded state %zu", srl_optim_state_bytes(part));
    EXPECT(S == 1 ||
               srl_optim_state_bytes(part) * (size_t)S <= srl_optim_state_bytes(full) + 64 * S,
           "the state per rank falls by the rank count: %zu of %zu",
           srl_optim_state_bytes(part), srl_optim_state_bytes(full));
    float *p1 = malloc(n * sizeof *p1), *p2 = malloc(n * sizeof *p2);
    float *g1 = malloc(n * sizeof *g1), *g2 = malloc(n * sizeof *g2);
    REQUIRE(p1 && p2 && g1 && g2, "oom");
    for (size_t i = 0; i < n; i++) p1[i] = p2[i] = 0.01f * (float)((i * 7) % 13) - 0.05f;
    for (int step = 0; step < 3; step++) {
        for (size_t i = 0; i < n; i++)
            g1[i] = g2[i] = 0.001f * (float)(((i + (size_t)step) * (size_t)(R + 3)) % 17) - 0.008f;
        double n1, n2;
        REQUIRE(srl_optim_dist_step(full, p1, g1, 0.5f, 0.0, 1e-2f, &n1) == 0);
        REQUIRE(srl_optim_dist_step(part, p2, g2, 0.5f, 0.0, 1e-2f, &n2) == 0);
        EXPECT(fabs(n1 - n2) <= 1e-9 * n1, "norms %.17g %.17g", n1, n2);
    }
    EXPECT(memcmp(p1, p2, n * sizeof *p1) == 0, "sharded and full AdamW differ");
    /* with clipping: to float tolerance */
    for (size_t i = 0; i < n; i++) g1[i] = g2[i] = 0.01f * (float)(i % 5);
    double n1, n2;
    REQUIRE(srl_optim_dist_step(full, p1, g1, 1.0f, 0.1, 1e-2f, &n1) == 0);
    REQUIRE(srl_optim_dist_step(part, p2, g2, 1.0f, 0.1, 1e-2f, &n2) == 0);
    test_close("clipped step, sharded vs full", p2, p1, n, 1e-7f, 1e-6f);
    /* the saved state of the shards is the full state */
    char path[64] = "/tmp/test_dist_XXXXXX"; /* rank 0's file, its name sent to all */
    if (R == 0) {
        int fd = mkstemp(path);
        REQUIRE(fd >= 0, "mkstemp");
        close(fd);
    }
    srl_dist_bcast(path, sizeof path, 0);
    REQUIRE(srl_optim_save(part, R == 0 ? path : NULL) == 0);
    srl_dist_agree(0); /* rank 0 has written it */
    struct srl_optim *back = NULL;
    REQUIRE(srl_optim_new(be, n, views, 2, &hp, &back) == 0);
    REQUIRE(srl_optim_load(back, path) == 0);
    test_close("saved m = full m", back->m, full->m, n, 1e-9f, 1e-6f);
    test_close("saved v = full v", back->v, full->v, n, 1e-12f, 1e-6f);
    EXPECT(back->step == 4, "step %lld", (long long)back->step);
    srl_dist_agree(0);
    if (R == 0) unlink(path);
    srl_optim_free(back);
    srl_optim_free(full);
    srl_optim_free(part);
    free(p1), free(p2), free(g1), free(g2);
    agree();
}

/* The all-reduce overlapped with a backward: buckets posted as the marks come equal the plain
 * all-reduce, on a rank that runs the backward and on one that does not (rank 1 here); a
 * second backward after the first bucket is an error on every rank. */
static void test_overlap(void)
{
    const struct srl_backend *be = srl_backend_cpu();
    size_t n = 70000, marks[] = {60000, 45000, 44990, 30000, 100, 0};
    int n_marks = 6;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    REQUIRE(x && y, "oom");
    struct srl_dist_overlap *ov;
    REQUIRE(srl_dist_overlap_new(&ov, marks, n_marks, n) == 0);
    EXPECT((ov != NULL) == (S > 1), "overlap only with several ranks");
    for (int round = 0; round < 2 && ov; round++) { /* the state is reused from step to step */
        for (size_t i = 0; i < n; i++) x[i] = y[i] = (float)(i % 89) * (float)(R + 1 + round);
        REQUIRE(srl_dist_allreduce_sum(be, y, n) == 0);
        if (R != 1) {
            srl_dist_overlap_begin(ov, x);
            for (int k = 0; k < n_marks; k++) srl_dist_overlap_ready(ov, marks[k]);
        }
        EXPECT(srl_dist_overlap_end(ov, x) == 0, "end, round %d", round);
        EXPECT(memcmp(x, y, n * sizeof *x) == 0, "overlapped sums differ, round %d", round);
    }
    if (ov) { /* a second backward: the hook comes again after the last mark */
        enum srl_log_level level = srl_log_get_level();
        srl_log_set_level(SRL_LOG_OFF);
        srl_dist_overlap_begin(ov, x);
        for (int k = 0; k < n_marks; k++) srl_dist_overlap_ready(ov, marks[k]);
        srl_dist_overlap_ready(ov, marks[0]);
        int rc = srl_dist_overlap_end(ov, x);
        srl_log_set_level(level);
        EXPECT(srl_dist_agree(rc) == SRL_EINVAL, "a second backward: %d", rc);
    }
    srl_dist_overlap_free(ov);
    free(x), free(y);
    agree();
}

static int run(int argc, char **argv)
{
    R = srl_dist_rank();
    S = srl_dist_size();
    if (R != 0 && !freopen("/dev/null", "w", stdout)) return 1;
    printf("# %d rank%s (%s)\n", S, S > 1 ? "s" : "", srl_dist_kind());
    RUN(test_shards);
    RUN(test_collectives);
    RUN(test_zero1);
    RUN(test_overlap);
    return test_summary();
}

int main(int argc, char **argv) { return srl_dist_main(argc, argv, run); }
