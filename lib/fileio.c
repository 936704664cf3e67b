/* fileio.c -- how every output file is opened (atomic replacement, direct writes, appends),
 * what killed writers left beside it, whole-file reads. */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fileio_internal.h"
#include "srl.h"

char *srl_path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + slash + nl + 1);
    if (!p) {
        srl_log_error("srl_path_join: out of memory");
        return NULL;
    }
    memcpy(p, dir, dl);
    if (slash) p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

char *srl_fileio_pid_path(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 24;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s.%ld", path, suffix, (long)getpid());
    else srl_log_error("%s: out of memory", path);
    return p;
}

/* The directory holding PATH and its last component, in new strings. */
static int split_path(const char *path, char **dir, char **base)
{
    const char *slash = strrchr(path, '/');
    *dir = !slash ? strdup(".") : slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    *base = strdup(slash ? slash + 1 : path);
    if (*dir && *base) return 0;
    free(*dir);
    free(*base);
    srl_log_error("%s: out of memory", path);
    return SRL_ENOMEM;
}

int srl_fileio_fsync_parent(const char *path)
{
    char *dir, *base;
    if (split_path(path, &dir, &base) < 0) return SRL_ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc = 0;
    if (fd < 0 || fsync(fd) < 0) {
        /* Some file systems refuse fsync on directories; the data is already safe. */
        if (fd < 0 || (errno != EINVAL && errno != EROFS)) {
            srl_log_error("%s: cannot sync directory: %s", dir, strerror(errno));
            rc = SRL_EIO;
        }
    }
    if (fd >= 0) close(fd);
    free(dir);
    free(base);
    return rc;
}

// --- where an output goes --------------------------------------------------------------------

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The standard stream PATH names ("-", /dev/stdout, /dev/stderr), or NULL. */
static FILE *std_stream(const char *path)
{
    if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0) return stdout;
    if (strcmp(path, "/dev/stderr") == 0) return stderr;
    return NULL;
}

char *srl_fileio_follow_links(const char *path, bool *descriptor)
{
    char *cur = strdup(path);
    *descriptor = false;
    for (int hops = 0; cur; hops++) {
        if (starts_with(cur, "/proc/") || starts_with(cur, "/dev/fd/") || std_stream(cur)) {
            *descriptor = true;
            return cur;
        }
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
        char link[PATH_MAX];
        ssize_t n = hops < 40 ? readlink(cur, link, sizeof link - 1) : -1;
        if (n < 0) {
            srl_log_error("%s: cannot follow the symbolic link: %s", path,
                          strerror(hops < 40 ? errno : ELOOP));
            free(cur);
            return NULL;
        }
        link[n] = '\0';
        char *dir, *base, *next = NULL;
        if (link[0] == '/') next = strdup(link);
        else if (split_path(cur, &dir, &base) == 0) {
            next = srl_path_join(dir, link);
            free(dir);
            free(base);
        }
        free(cur);
        cur = next;
    }
    srl_log_error("%s: out of memory", path);
    return NULL;
}

/* A stream writing to the Unix socket listening at PATH. */
static FILE *connect_socket(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof a.sun_path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return NULL;
    FILE *fp = NULL;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) fp = fdopen(fd, "w");
    if (!fp) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return fp;
}

/* A device, FIFO, socket or descriptor opened as it is, in order. */
static FILE *open_direct(const char *path, bool append)
{
    FILE *std = std_stream(path);
    if (std) return std;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) return connect_socket(path);
    return fopen(path, append ? "ae" : "we");
}

static void atomic_release(struct srl_atomic_file *af)
{
    free(af->path);
    free(af->target);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

/* Remove the temporaries "PATH.tmp.N" of processes N that are gone. */
static void remove_stale_temps(const char *path)
{
    struct srl_leftover *v;
    size_t n;
    if (srl_fileio_leftovers(path, &v, &n) < 0) return;
    for (size_t i = 0; i < n; i++)
        if (v[i].is_tmp && !v[i].is_dir && unlink(v[i].path) == 0)
            srl_log_info("removed '%s', left by a killed run", v[i].path);
    srl_fileio_leftovers_free(v, n);
}

/* Open af->target through "TARGET.tmp.PID"; st describes an existing target (NULL: absent). */
static int open_temporary(struct srl_atomic_file *af, const struct stat *st)
{
    remove_stale_temps(af->target);
    if (!(af->tmp_path = srl_fileio_pid_path(af->target, ".tmp"))) return SRL_ENOMEM;
    unlink(af->tmp_path); /* left by a killed run that had this process id */
    int fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0 && st) (void)fchmod(fd, st->st_mode & 07777); /* a replaced file keeps its mode */
    if (fd < 0 || !(af->fp = fdopen(fd, "wb"))) {
        srl_log_error("%s: cannot create: %s", af->tmp_path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(af->tmp_path);
        }
        return SRL_EIO;
    }
    return 0;
}

/* Open PATH for srl_atomic_open() (append false) or srl_output_append() (true). */
static int output_open(struct srl_atomic_file *af, const char *path, bool append)
{
    memset(af, 0, sizeof *af);
    bool descriptor = false;
    if (!(af->path = strdup(path))) {
        srl_log_error("%s: out of memory", path);
        return SRL_ENOMEM;
    }
    if (!(af->target = srl_fileio_follow_links(path, &descriptor))) {
        atomic_release(af);
        return SRL_EIO;
    }
    struct stat st;
    bool exists = stat(af->target, &st) == 0;
    int rc = 0;
    if (!exists && errno != ENOENT) {
        srl_log_error("%s: cannot open: %s", path, strerror(errno));
        rc = SRL_EIO;
    } else if (exists && S_ISDIR(st.st_mode)) {
        srl_log_error("%s: is a directory", path);
        rc = SRL_EIO;
    } else if (append || descriptor || (exists && !S_ISREG(st.st_mode))) {
        if (!(af->fp = open_direct(af->target, append))) {
            srl_log_error("%s: cannot open: %s", path, strerror(errno));
            rc = SRL_EIO;
        }
    } else {
        rc = open_temporary(af, exists ? &st : NULL);
    }
    if (rc < 0) atomic_release(af);
    return rc;
}

int srl_atomic_open(struct srl_atomic_file *af, const char *path)
{
    return output_open(af, path, false);
}

int srl_output_append(struct srl_atomic_file *af, const char *path)
{
    return output_open(af, path, true);
}

/* Flush and close a direct output (a standard stream is flushed, not closed). */
static int close_direct(struct srl_atomic_file *af)
{
    bool std = af->fp == stdout || af->fp == stderr;
    int bad = ferror(af->fp) || fflush(af->fp) != 0;
    int err = errno;
    if (!std && fclose(af->fp) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (bad && !(std && err == EPIPE)) /* a closed standard output is not worth a message */
        srl_log_error("%s: write failed: %s", af->path, strerror(err));
    atomic_release(af);
    return bad ? SRL_EIO : 0;
}

int srl_atomic_commit(struct srl_atomic_file *af)
{
    if (!af->fp) return SRL_EINVAL;
    if (!af->tmp_path) return close_direct(af);
    int bad = ferror(af->fp) || fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0;
    int err = errno;
    if (fclose(af->fp) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    af->fp = NULL;
    if (bad) {
        srl_log_error("%s: write failed: %s", af->path, strerror(err));
        unlink(af->tmp_path);
        atomic_release(af);
        return SRL_EIO;
    }
    if (rename(af->tmp_path, af->target) != 0) {
        srl_log_error("%s: cannot rename to '%s': %s", af->tmp_path, af->target, strerror(errno));
        unlink(af->tmp_path);
        atomic_release(af);
        return SRL_EIO;
    }
    int rc = srl_fileio_fsync_parent(af->target);
    atomic_release(af);
    return rc;
}

void srl_atomic_abort(struct srl_atomic_file *af)
{
    if (af->fp == stdout || af->fp == stderr) fflush(af->fp);
    else if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    atomic_release(af);
}

int srl_write_file_atomic(const char *path, const void *data, size_t len)
{
    struct srl_atomic_file af;
    int rc = srl_atomic_open(&af, path);
    if (rc < 0) return rc;
    if (len && fwrite(data, 1, len, af.fp) != len) {
        srl_log_error("%s: write failed: %s", path, strerror(errno));
        srl_atomic_abort(&af);
        return SRL_EIO;
    }
    return srl_atomic_commit(&af);
}

// --- leftovers of killed writers -------------------------------------------------------------

/* The process id N of "BASE.tmp.N" / "BASE.old.N" (name after BASE: ".tmp.N"), or 0. */
static long leftover_pid(const char *rest, bool *is_tmp)
{
    if (starts_with(rest, ".tmp.")) *is_tmp = true;
    else if (starts_with(rest, ".old.")) *is_tmp = false;
    else return 0;
    const char *d = rest + 5;
    size_t nd = strspn(d, "0123456789");
    if (nd == 0 || nd > 10 || d[nd] != '\0' || d[0] == '0') return 0;
    long pid = strtol(d, NULL, 10);
    return pid <= INT_MAX ? pid : 0;
}

static bool process_gone(long pid)
{
    return pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

void srl_fileio_leftovers_free(struct srl_leftover *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i].path);
    free(v);
}

int srl_fileio_leftovers(const char *path, struct srl_leftover **out, size_t *n)
{
    char *dir, *base;
    *out = NULL;
    *n = 0;
    if (split_path(path, &dir, &base) < 0) return SRL_ENOMEM;
    DIR *d = opendir(dir);
    size_t bl = strlen(base), cap = 0;
    int rc = 0;
    struct dirent *e;
    while (d && rc == 0 && (e = readdir(d)) != NULL) {
        bool is_tmp;
        struct stat st;
        if (strncmp(e->d_name, base, bl) != 0) continue;
        long pid = leftover_pid(e->d_name + bl, &is_tmp);
        if (pid <= 0 || !process_gone(pid)) continue;
        char *p = srl_path_join(dir, e->d_name);
        if (!p || lstat(p, &st) != 0) {
            free(p);
            continue;
        }
        if (*n == cap) {
            struct srl_leftover *v = realloc(*out, (cap = cap ? 2 * cap : 4) * sizeof *v);
            if (!v) {
                free(p);
                rc = SRL_ENOMEM;
                break;
            }
            *out = v;
        }
        (*out)[(*n)++] = (struct srl_leftover){ p, is_tmp, S_ISDIR(st.st_mode), st.st_mtim };
    }
    if (d) closedir(d);
    free(dir);
    free(base);
    if (rc < 0) {
        srl_fileio_leftovers_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

// --- reading ---------------------------------------------------------------------------------

int srl_read_file(const char *path, char **data, size_t *len)
{
    *data = NULL;
    if (len) *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        srl_log_error("%s: cannot open: %s", path, strerror(errno));
        return SRL_EIO;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) goto nomem;
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) goto nomem;
        buf = nb;
        cap *= 2;
    }
    if (ferror(fp)) {
        srl_log_error("%s: read failed: %s", path, strerror(errno));
        free(buf);
        fclose(fp);
        return SRL_EIO;
    }
    fclose(fp);
    buf[n] = '\0';
    *data = buf;
    if (len) *len = n;
    return 0;
nomem:
    srl_log_error("%s: out of memory", path);
    free(buf);
    fclose(fp);
    return SRL_ENOMEM;
}
