/* srl.h -- error codes, exit statuses and logging shared by the library and the tools.
 *
 * The library never exits: every function that can fail returns 0 (or a count) on success and a
 * negative SRL_E* code on failure, or NULL, after logging why with srl_log_error().  Tools map the
 * code to an exit status and print one line saying what failed. */
#ifndef SRL_H
#define SRL_H

#include <stddef.h>

#define SRL_VERSION "0.1.0"

#if defined(__GNUC__)
#define SRL_FORMAT(fmt, args) __attribute__((format(printf, fmt, args)))
#define SRL_RESULT_USED __attribute__((warn_unused_result))
#else
#define SRL_FORMAT(fmt, args)
#define SRL_RESULT_USED
#endif

/* Exit statuses of every tool (written into each man page's EXIT STATUS section). */
enum srl_exit {
    SRL_EXIT_OK = 0,
    SRL_EXIT_FAILURE = 1,  /* runtime, data or I/O failure */
    SRL_EXIT_USAGE = 2,    /* bad command line */
    SRL_EXIT_NUMERIC = 3,  /* NaN/Inf loss, diverging multiplier */
};

/* Library error codes (always negative). */
enum srl_err {
    SRL_OK = 0,
    SRL_EIO = -1,        /* cannot open, read or write a file */
    SRL_ENOMEM = -2,     /* out of memory */
    SRL_EFORMAT = -3,    /* malformed input file (bad JSON, truncated safetensors, ...) */
    SRL_EUNSUPPORTED = -4, /* valid input this build does not handle (architecture, dtype, ...) */
    SRL_EINVAL = -5,     /* invalid argument or inconsistent values */
    SRL_ENUMERIC = -6,   /* NaN or Inf where a finite number is required */
    SRL_ENOCUDA = -7,    /* CUDA requested but not built or no device */
    SRL_EOF = -8,        /* end of input (not an error for readers that stream) */
};

/* A static, lowercase description of an SRL_E* code. */
const char *srl_strerror(int err);

/* Map a library error code to a tool exit status. */
int srl_exit_status(int err);

/* Sizes that stick at SIZE_MAX instead of wrapping: a product of sizes read from a file is
 * computed with these and bounded before anything is allocated. */
static inline size_t srl_size_mul(size_t a, size_t b)
{
    size_t r;
    return __builtin_mul_overflow(a, b, &r) ? (size_t)-1 : r;
}
static inline size_t srl_size_add(size_t a, size_t b)
{
    size_t r;
    return __builtin_add_overflow(a, b, &r) ? (size_t)-1 : r;
}

// --- logging ---------------------------------------------------------------------------------

enum srl_log_level {
    SRL_LOG_OFF = 0,
    SRL_LOG_ERROR = 1,
    SRL_LOG_WARNING = 2,
    SRL_LOG_INFO = 3,
    SRL_LOG_DEBUG = 4,
};

/* The level starts from $SAFERLHF_LOG (off|error|warning|info|debug or 0-4), default warning. */
void srl_log_set_level(enum srl_log_level level);
enum srl_log_level srl_log_get_level(void);

/* The program name used as the prefix of every message ("saferlhf-sft: ..."). */
void srl_log_set_prog(const char *prog);
const char *srl_log_get_prog(void);

/* Write "PROG: [LEVEL] message\n" to stderr when level <= the current level. */
void srl_log(enum srl_log_level level, const char *fmt, ...) SRL_FORMAT(2, 3);
/* How many errors srl_log() was given so far (shown or not), less those handled (a bad record
 * skipped): a tool whose library call failed knows whether the error was already said. */
int srl_log_error_count(void);
void srl_log_error_handled(void);

/* Seconds on the monotonic clock, for durations. */
double srl_seconds(void);

#define srl_log_error(...) srl_log(SRL_LOG_ERROR, __VA_ARGS__)
#define srl_log_warning(...) srl_log(SRL_LOG_WARNING, __VA_ARGS__)
#define srl_log_info(...) srl_log(SRL_LOG_INFO, __VA_ARGS__)
#define srl_log_debug(...) srl_log(SRL_LOG_DEBUG, __VA_ARGS__)

#endif
