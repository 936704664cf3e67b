/* tool.h -- what every saferlhf-* program shares: common options, checked number parsing,
 * messages and exit statuses. */
#ifndef SRL_TOOL_H
#define SRL_TOOL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backend.h"
#include "fileio.h"
#include "srl.h"

/* Long-only option codes shared by all tools start here; tools number theirs from
 * TOOL_OPT_USER. */
enum {
    TOOL_OPT_DEVICE = 0x1000,
    TOOL_OPT_THREADS,
    TOOL_OPT_SEED,
    TOOL_OPT_VERSION,
    TOOL_OPT_USER = 0x1100,
};

struct tool_common {
    const char *device; /* "auto", "cpu", "cuda", "cuda:N" */
    int threads;        /* 0: OpenMP's default */
    uint64_t seed;
    int verbosity;      /* -v adds one, -q sets -1 */
};
#define TOOL_COMMON_INIT { "auto", 0, 1234, 0 }

/* Entries for struct option arrays and the letters for getopt's short string. */
#define TOOL_COMMON_OPTIONS                                        \
    { "device", required_argument, NULL, TOOL_OPT_DEVICE },        \
    { "threads", required_argument, NULL, TOOL_OPT_THREADS },      \
    { "seed", required_argument, NULL, TOOL_OPT_SEED },            \
    { "verbose", no_argument, NULL, 'v' },                         \
    { "quiet", no_argument, NULL, 'q' },                           \
    { "help", no_argument, NULL, 'h' },                            \
    { "version", no_argument, NULL, TOOL_OPT_VERSION }
#define TOOL_COMMON_SHORT "vqh"

/* Call first in main(), before anything starts threads or MPI: sets the program name used in
 * messages, and unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, runs the program again
 * (execv of /proc/self/exe with the same argv) with OMP_WAIT_POLICY=passive.  libgomp reads
 * its wait policy once, when it is loaded, before main(); its default spins up to 300000
 * rounds at every barrier, which on a machine busy with other work takes the cores from the
 * threads that still compute (see saferlhf(7), ENVIRONMENT).  If the exec fails, the program
 * goes on with the default. */
void tool_init(char **argv);

/* getopt_long for every tool, with one behaviour: the common options (but -h) are handled
 * into *common and skipped; an unknown option or a missing value prints
 * "PROG: unknown option '--x'" (or "PROG: option '--x' needs a value") and "Try 'PROG --help'".
 * Returns the next option of the tool ('h' included), -1 after the last, or TOOL_GETOPT_EXIT
 * with *status set: 0 after --version (printed), SRL_EXIT_USAGE after a usage error (printed). */
enum { TOOL_GETOPT_EXIT = -2 };
int tool_getopt(int argc, char **argv, const char *shortopts, const struct option *lopts,
                struct tool_common *common, int *status);

/* The backend of --device, for every tool: one behaviour, one exit status.  cpu_only: NULL
 * when the tool's work runs on the CUDA backend, else why it runs on the CPU only.  auto takes
 * CUDA when the tool can, the build has it and a device is visible, else the CPU, and says
 * which on stderr (not with -q).  A device that cannot be used prints
 * "PROG: cannot use --device SPEC: WHY" (one line) and returns SRL_EXIT_USAGE; else 0 and *be
 * set.
 * Applies the common options first (log level, threads). */
int tool_backend(const struct tool_common *o, const char *cpu_only,
                 const struct srl_backend **be);

/* Apply the common options: log level, thread count. */
void tool_common_apply(const struct tool_common *o);

/* The help text of the common options, as they appear in every tool's usage. */
void tool_common_help(FILE *fp);

/* "PROG: message" on stderr; returns SRL_EXIT_FAILURE.  When the library already logged the
 * error (it names the file and line), the message is context: shown at -v only, so a failure
 * is one line. */
int print_error(const char *fmt, ...) SRL_FORMAT(1, 2);
/* "PROG: message" plus "Try 'PROG --help'" on stderr; returns SRL_EXIT_USAGE. */
int usage_error(const char *fmt, ...) SRL_FORMAT(1, 2);

/* Checked parsing of a whole string; 0 on success, -1 otherwise (nothing printed). */
int parse_int(const char *s, long min, long max, long *out);
int parse_u64(const char *s, uint64_t *out);
int parse_float(const char *s, double *out);

/* A tool's -o FILE (NULL or "-": standard output), opened through srl_atomic_open(): a
 * regular file is replaced when complete, a device, FIFO or socket written directly, a
 * symbolic link kept (see fileio.h).  NULL after the library's one-line message. */
FILE *tool_output_open(struct srl_atomic_file *af, const char *path);
/* Finish it: commit when ok (a write error is reported: 0 or -1), else abort (returns -1). */
int tool_output_close(struct srl_atomic_file *af, bool ok);

/* Close stdout and report a write error (full disk, closed pipe); returns 0 or -1. */
int close_stdout(void);

#endif
