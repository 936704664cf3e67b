/* test.h -- the tiny harness every unit test uses.
 *
 * A test file defines static void test_xxx(void) functions and a main() that calls
 * RUN(test_xxx) for each and returns test_summary().  Each test prints one line,
 * "PASS name", "FAIL name" or "SKIP name: why", which tests/run.sh counts.
 * EXPECT() records a failure with file and line and lets the test continue;
 * REQUIRE() also returns from the test function. */
#ifndef SRL_TEST_H
#define SRL_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_failed_now, test_skipped_now, test_n_pass, test_n_fail, test_n_skip;
static char test_skip_why[512];

#define EXPECT(cond, ...)                                                         \
    do {                                                                          \
        if (!(cond)) {                                                            \
            test_failed_now = 1;                                                  \
            fprintf(stdout, "  %s:%d: check failed: %s:", __FILE__, __LINE__, #cond); \
            fprintf(stdout, " " __VA_ARGS__);                                    \
            fputc('\n', stdout);                                                  \
        }                                                                         \
    } while (0)

/* cond is evaluated exactly once (it often has side effects: REQUIRE(f(x) == 0)). */
#define REQUIRE(cond, ...)                                                        \
    do {                                                                          \
        if (!(cond)) {                                                            \
            test_failed_now = 1;                                                  \
            fprintf(stdout, "  %s:%d: check failed: %s:", __FILE__, __LINE__, #cond); \
            fprintf(stdout, " " __VA_ARGS__);                                    \
            fputc('\n', stdout);                                                  \
            return;                                                               \
        }                                                                         \
    } while (0)

/* Mark the running test as skipped (e.g. ../shared data absent) and return from it. */
#define SKIP(...)                                                                 \
    do {                                                                          \
        test_skipped_now = 1;                                                     \
        snprintf(test_skip_why, sizeof test_skip_why, __VA_ARGS__);               \
        return;                                                                   \
    } while (0)

#define RUN(fn) test_run(#fn, fn)

static void test_run(const char *name, void (*fn)(void))
{
    test_failed_now = test_skipped_now = 0;
    fflush(stdout);
    fn();
    if (test_failed_now) {
        printf("FAIL %s\n", name);
        test_n_fail++;
    } else if (test_skipped_now) {
        printf("SKIP %s: %s\n", name, test_skip_why);
        test_n_skip++;
    } else {
        printf("PASS %s\n", name);
        test_n_pass++;
    }
    fflush(stdout);
}

static int test_summary(void)
{
    printf("# %d passed, %d failed, %d skipped\n", test_n_pass, test_n_fail, test_n_skip);
    return test_n_fail ? 1 : 0;
}

/* Compare two float arrays; report max abs and max relative error; pass when every element
 * satisfies |a-b| <= atol + rtol*|b|. */
static inline int test_close(const char *what, const float *a, const float *b, size_t n, float atol,
                      float rtol)
{
    double max_abs = 0, max_rel = 0;
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double r = d / (fabs((double)b[i]) + 1e-12);
        if (!(d <= atol + rtol * fabs((double)b[i]))) { /* also catches NaN */
            if (!bad) first_bad = i;
            bad++;
        }
        if (d > max_abs) max_abs = d;
        if (r > max_rel) max_rel = r;
    }
    printf("  %-40s n=%-8zu max_abs=%.3e max_rel=%.3e%s\n", what, n, max_abs, max_rel,
           bad ? "  MISMATCH" : "");
    if (bad) {
        printf("  %s: %zu of %zu differ, first at [%zu]: %.8g vs %.8g\n", what, bad, n, first_bad,
               (double)a[first_bad], (double)b[first_bad]);
        test_failed_now = 1;
    }
    return bad == 0;
}

/* Path of the shared data directory: $SAFERLHF_SHARED or ../shared relative to the repo root
 * (tests run from the repo root). */
static inline const char *test_shared_dir(void)
{
    const char *s = getenv("SAFERLHF_SHARED");
    return s && *s ? s : "../shared";
}

static inline int test_file_exists(const char *path) { return access(path, R_OK) == 0; }

/* Whether the file PATH holds exactly the bytes of the string want. */
static inline int test_file_is(const char *path, const char *want)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    size_t n = strlen(want), i = 0;
    int c;
    while ((c = fgetc(fp)) != EOF && i < n && c == (unsigned char)want[i]) i++;
    int ok = c == EOF && i == n;
    fclose(fp);
    return ok;
}

#endif
