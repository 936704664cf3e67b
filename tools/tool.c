/* tool.c -- common option handling and messages for the saferlhf-* programs. */
#include "tool.h"

#include "backend_cuda.h"
#include "device.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void tool_init(char **argv)
{
    srl_log_set_prog(argv[0]);
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return; /* the user's choice */
    if (setenv("OMP_WAIT_POLICY", "passive", 1) == 0) execv("/proc/self/exe", argv);
    unsetenv("OMP_WAIT_POLICY"); /* not in effect: do not pass it on to children */
}

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

/* A common option: 0 handled, 1 --version printed, SRL_EXIT_USAGE bad value (printed), -1 not
 * a common option. */
static int common_opt(int c, const char *arg, struct tool_common *o)
{
    long v;
    switch (c) {
    case TOOL_OPT_DEVICE:
        if (strcmp(arg, "auto") && strcmp(arg, "cpu") && strncmp(arg, "cuda", 4)) {
            return usage_error("invalid --device '%s' (expected auto, cpu or cuda[:N])", arg);
        }
        o->device = arg;
        return 0;
    case TOOL_OPT_THREADS:
        if (parse_int(arg, 1, 1024, &v) < 0) {
            return usage_error("invalid --threads '%s' (expected an integer from 1 to 1024)", arg);
        }
        o->threads = (int)v;
        return 0;
    case TOOL_OPT_SEED:
        if (parse_u64(arg, &o->seed) < 0) {
            return usage_error("invalid --seed '%s' (expected a non-negative integer)", arg);
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

int tool_getopt(int argc, char **argv, const char *shortopts, const struct option *lopts,
                struct tool_common *common, int *status)
{
    char spec[64];
    int c, rc;
    snprintf(spec, sizeof spec, ":%s", shortopts); /* ':' first: a missing value returns ':' */
    opterr = 0;
    while ((c = getopt_long(argc, argv, spec, lopts, NULL)) != -1) {
        if (c == '?' || c == ':') {
            char letter[3] = { '-', (char)optopt, '\0' }; /* a short option (in a cluster) */
            bool short_opt = c == '?' && optopt > 0 && optopt < 128;
            *status = usage_error(c == '?' ? "unknown option '%s'" : "option '%s' needs a value",
                                  short_opt ? letter : argv[optind - 1]);
            return TOOL_GETOPT_EXIT;
        }
        if ((rc = common_opt(c, optarg, common)) < 0) return c;
        if (rc == 0) continue;
        *status = rc == 1 ? SRL_EXIT_OK : rc;
        return TOOL_GETOPT_EXIT;
    }
    return -1;
}

int tool_backend(const struct tool_common *o, const char *cpu_only,
                 const struct srl_backend **be)
{
    struct srl_device dev;
    char why[256];
    int err;
    tool_common_apply(o);
    *be = NULL;
    bool is_auto = strcmp(o->device, "auto") == 0;
    if (srl_device_resolve(o->device, &dev, why, sizeof why) < 0)
        return print_error("cannot use --device %s: %s", o->device, why), SRL_EXIT_USAGE;
    if (dev.kind == SRL_DEVICE_CUDA && cpu_only) {
        if (!is_auto)
            return print_error("cannot use --device %s: %s; use --device cpu", o->device,
                               cpu_only), SRL_EXIT_USAGE;
        dev.kind = SRL_DEVICE_CPU;
        snprintf(why, sizeof why, "%s", cpu_only);
    } else if (dev.kind == SRL_DEVICE_CPU && is_auto) {
        snprintf(why, sizeof why, "%s", srl_cuda_built() ? "no CUDA device visible"
                                                         : "this build has no CUDA backend");
    }
    if ((err = srl_backend_for_device(&dev, be)) < 0)
        return print_error("cannot use --device %s: %s", o->device, srl_strerror(err)),
               SRL_EXIT_USAGE;
    if (is_auto && o->verbosity >= 0) {
        if (dev.kind == SRL_DEVICE_CUDA)
            fprintf(stderr, "%s: info: --device auto: cuda:%d\n", srl_log_get_prog(), dev.index);
        else
            fprintf(stderr, "%s: info: --device auto: cpu (%s)\n", srl_log_get_prog(), why);
    }
    return 0;
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

FILE *tool_output_open(struct srl_atomic_file *af, const char *path)
{
    return srl_atomic_open(af, path ? path : "-") == 0 ? af->fp : NULL;
}

int tool_output_close(struct srl_atomic_file *af, bool ok)
{
    if (!af->fp) return -1;
    if (!ok) {
        srl_atomic_abort(af);
        return -1;
    }
    return srl_atomic_commit(af) == 0 ? 0 : -1;
}

int close_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
        if (errno != EPIPE) print_error("error writing to standard output: %s", strerror(errno));
        return -1;
    }
    return 0;
}
