/* kill_at.c -- an LD_PRELOAD shim that kills its process (SIGKILL, as kill -9) at a chosen
 * file-system step, to test what a save leaves when the writer dies at that point.
 *   SRL_KILL_AT=N    before the Nth call of mkdir, rename, unlink, rmdir or fsync the process
 *                    kills itself (0 or unset: never)
 *   SRL_KILL_LOG=F   every step is appended to F as "N call path[ -> path]" before it runs
 * Build: cc -shared -fPIC kill_at.c -o kill_at.so -ldl */
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long steps;

/* Count one step; log it; die when it is the chosen one. */
static void step(const char *call, const char *a, const char *b)
{
    const char *at = getenv("SRL_KILL_AT"), *log = getenv("SRL_KILL_LOG");
    steps++;
    if (log && *log) {
        char line[8192];
        int n = snprintf(line, sizeof line, "%ld %s %s%s%s\n", steps, call, a ? a : "",
                         b ? " -> " : "", b ? b : "");
        int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0666);
        if (fd >= 0) {
            if (write(fd, line, n > 0 && n < (int)sizeof line ? (size_t)n : 0) < 0) {}
            close(fd);
        }
    }
    if (at && atol(at) == steps) raise(SIGKILL);
}

/* real_NAME: the C library's NAME */
#define REAL(name)                          \
    static __typeof__(&name) real_##name; \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

int rename(const char *from, const char *to)
{
    REAL(rename);
    step("rename", from, to);
    return real_rename(from, to);
}

int unlink(const char *path)
{
    REAL(unlink);
    step("unlink", path, NULL);
    return real_unlink(path);
}

int rmdir(const char *path)
{
    REAL(rmdir);
    step("rmdir", path, NULL);
    return real_rmdir(path);
}

int mkdir(const char *path, mode_t mode)
{
    REAL(mkdir);
    step("mkdir", path, NULL);
    return real_mkdir(path, mode);
}

int fsync(int fd)
{
    REAL(fsync);
    char what[32];
    snprintf(what, sizeof what, "fd %d", fd);
    step("fsync", what, NULL);
    return real_fsync(fd);
}
