/* tool.c -- common option handling and messages for the saferlhf-* programs. */
#include "tool.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void tool_init(const char *argv0) { srl_log_set_prog(argv0); }

static void vmessage(const char *fmt, va_list ap)
{
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fprintf(stderr, "%s: %s\n", srl_log_get_prog(), buf);
}

int print_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (srl_log_error_count() == 0) {
        vmessage(fmt, ap);
    } else if (srl_log_get_level() >= SRL_LOG_INFO) { /* the error is said: context at -v */
        char buf[4096];
        vsnprintf(buf, sizeof buf, fmt, ap);
        srl_log_info("%s", buf);
    }
    va_end(ap);
    return SRL_EXIT_FAILURE;
}

int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", srl_log_get_prog());
    return SRL_EXIT_USAGE;
}

int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int parse_float(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int tool_common_opt(int c, const char *arg, struct tool_common *o)
{
    long v;
    switch (c) {
    case TOOL_OPT_DEVICE:
        if (strcmp(arg, "auto") && strcmp(arg, "cpu") && strncmp(arg, "cuda", 4)) {
            usage_error("invalid --device '%s' (expected auto, cpu or cuda[:N])", arg);
            return -1;
        }
        o->device = arg;
        return 0;
    case TOOL_OPT_THREADS:
        if (parse_int(arg, 1, 1024, &v) < 0) {
            usage_error("invalid --threads '%s' (expected an integer from 1 to 1024)", arg);
            return -1;
        }
        o->threads = (int)v;
        return 0;
    case TOOL_OPT_SEED:
        if (parse_u64(arg, &o->seed) < 0) {
            usage_error("invalid --seed '%s' (expected a non-negative integer)", arg);
            return -1;
        }
        return 0;
    case 'v': o->verbosity = o->verbosity < 0 ? 1 : o->verbosity + 1; return 0;
    case 'q': o->verbosity = -1; return 0;
    case TOOL_OPT_VERSION:
        printf("%s (saferlhf) %s\nbackends: cpu (OpenBLAS, OpenMP)%s\n", srl_log_get_prog(),
               SRL_VERSION,
#ifdef SRL_CUDA
               ", cuda"
#else
               ""
#endif
        );
        return 1;
    default: return -1;
    }
}

void tool_common_apply(const struct tool_common *o)
{
    if (o->verbosity < 0) srl_log_set_level(SRL_LOG_ERROR);
    else if (o->verbosity == 1) srl_log_set_level(SRL_LOG_INFO);
    else if (o->verbosity >= 2) srl_log_set_level(SRL_LOG_DEBUG);
#ifdef _OPENMP
    if (o->threads > 0) omp_set_num_threads(o->threads);
#endif
}

void tool_common_help(FILE *fp)
{
    fputs("Common options:\n"
          "      --device DEV      auto, cpu or cuda[:N] [auto]\n"
          "      --threads N       CPU threads [all cores, or OMP_NUM_THREADS]\n"
          "      --seed N          random seed [1234]\n"
          "  -v, --verbose         more messages (repeat for debug)\n"
          "  -q, --quiet           errors only\n"
          "  -h, --help            print this help and exit\n"
          "      --version         print the version and the built backends, and exit\n",
          fp);
}

int close_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
        if (errno != EPIPE) print_error("error writing to standard output: %s", strerror(errno));
        return -1;
    }
    return 0;
}
