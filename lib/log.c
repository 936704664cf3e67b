/* log.c -- error strings and the library's logging (the one piece of global state). */
#include "srl.h"

#include "dist.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int log_level = -1; /* -1: not yet read from $SAFERLHF_LOG */
static const char *log_prog = "saferlhf";

const char *srl_strerror(int err)
{
    switch (err) {
    case SRL_OK: return "success";
    case SRL_EIO: return "input/output error";
    case SRL_ENOMEM: return "out of memory";
    case SRL_EFORMAT: return "malformed input";
    case SRL_EUNSUPPORTED: return "unsupported";
    case SRL_EINVAL: return "invalid argument";
    case SRL_ENUMERIC: return "numerical failure";
    case SRL_ENOCUDA: return "CUDA not available";
    case SRL_EOF: return "end of input";
    default: return "unknown error";
    }
}

int srl_exit_status(int err)
{
    if (err >= 0) return SRL_EXIT_OK;
    return err == SRL_ENUMERIC ? SRL_EXIT_NUMERIC : SRL_EXIT_FAILURE;
}

static int level_from_env(void)
{
    const char *s = getenv("SAFERLHF_LOG");
    static const char *names[] = { "off", "error", "warning", "info", "debug" };
    if (!s || !*s) return SRL_LOG_WARNING;
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0 || (s[0] == '0' + i && s[1] == '\0')) return i;
    return SRL_LOG_WARNING;
}

void srl_log_set_level(enum srl_log_level level) { log_level = (int)level; }

enum srl_log_level srl_log_get_level(void)
{
    if (log_level < 0) log_level = level_from_env();
    return (enum srl_log_level)log_level;
}

void srl_log_set_prog(const char *prog)
{
    const char *slash = prog ? strrchr(prog, '/') : NULL;
    log_prog = slash ? slash + 1 : (prog ? prog : "saferlhf");
}

const char *srl_log_get_prog(void) { return log_prog; }

static atomic_int n_errors; /* errors logged and not handled (srl_log_error_count) */

int srl_log_error_count(void) { return n_errors; }

void srl_log_error_handled(void) { n_errors--; }

void srl_log(enum srl_log_level level, const char *fmt, ...)
{
    static const char *tags[] = { "", "", "warning: ", "info: ", "debug: " };
    if (level == SRL_LOG_ERROR) n_errors++;
    if (level == SRL_LOG_OFF || (int)level > (int)srl_log_get_level()) return;
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* one message, one line: a control character from the input a message quotes (a JSON key
     * with a newline) shows as '?' */
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < 0x20) *c = '?';
    /* one fprintf call so lines from concurrent threads do not interleave; ranks other than
     * 0 (lib/dist.h) say which they are */
    if (srl_dist_rank() > 0)
        fprintf(stderr, "%s[rank %d]: %s%s\n", log_prog, srl_dist_rank(), tags[level], buf);
    else
        fprintf(stderr, "%s: %s%s\n", log_prog, tags[level], buf);
}

double srl_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
