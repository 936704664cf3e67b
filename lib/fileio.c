/* fileio.c -- atomic file and directory writes, whole-file reads. */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* "PATH<suffix>.PID" in a new string. */
static char *path_with_pid(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 24;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s.%ld", path, suffix, (long)getpid());
    else srl_log_error("%s: out of memory", path);
    return p;
}

/* fsync the directory holding PATH, so a rename into it is durable. */
static int fsync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return SRL_ENOMEM;
    char *slash = strrchr(copy, '/');
    const char *dir = ".";
    if (slash == copy) dir = "/";
    else if (slash) {
        *slash = '\0';
        dir = copy;
    }
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
    free(copy);
    return rc;
}

int srl_atomic_open(struct srl_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    af->path = strdup(path);
    af->tmp_path = path_with_pid(path, ".tmp");
    if (!af->path || !af->tmp_path) {
        free(af->path);
        free(af->tmp_path);
        memset(af, 0, sizeof *af);
        srl_log_error("%s: out of memory", path);
        return SRL_ENOMEM;
    }
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp) {
        srl_log_error("%s: cannot create: %s", af->tmp_path, strerror(errno));
        free(af->path);
        free(af->tmp_path);
        memset(af, 0, sizeof *af);
        return SRL_EIO;
    }
    return 0;
}

static void atomic_release(struct srl_atomic_file *af)
{
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

int srl_atomic_commit(struct srl_atomic_file *af)
{
    if (!af->fp) return SRL_EINVAL;
    int bad = ferror(af->fp) || fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0;
    int err = errno;
    if (fclose(af->fp) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    af->fp = NULL;
    if (bad) {
        srl_log_error("%s: write failed: %s", af->tmp_path, strerror(err));
        unlink(af->tmp_path);
        atomic_release(af);
        return SRL_EIO;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        srl_log_error("%s: cannot rename to '%s': %s", af->tmp_path, af->path, strerror(errno));
        unlink(af->tmp_path);
        atomic_release(af);
        return SRL_EIO;
    }
    int rc = fsync_parent(af->path);
    atomic_release(af);
    return rc;
}

void srl_atomic_abort(struct srl_atomic_file *af)
{
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    atomic_release(af);
}

int srl_write_file_atomic(const char *path, const void *data, size_t len)
{
    struct srl_atomic_file af;
    int rc = srl_atomic_open(&af, path);
    if (rc < 0) return rc;
    if (len && fwrite(data, 1, len, af.fp) != len) {
        srl_log_error("%s: write failed: %s", af.tmp_path, strerror(errno));
        srl_atomic_abort(&af);
        return SRL_EIO;
    }
    return srl_atomic_commit(&af);
}

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

// --- directory transactions ------------------------------------------------------------------

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    if (rc != 0) srl_log_warning("%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

/* Remove a tree this process made (a .tmp or .old directory). */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* fsync every regular file directly inside DIR, then DIR itself. */
static int sync_dir_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        srl_log_error("%s: cannot open directory: %s", dir, strerror(errno));
        return SRL_EIO;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char *p = srl_path_join(dir, e->d_name);
        if (!p) {
            rc = SRL_ENOMEM;
            break;
        }
        int fd = open(p, O_RDONLY);
        if (fd >= 0) {
            if (fsync(fd) != 0 && errno != EINVAL) {
                srl_log_error("%s: cannot sync: %s", p, strerror(errno));
                rc = SRL_EIO;
            }
            close(fd);
        }
        free(p);
    }
    closedir(d);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return rc;
}

/* mkdir -p of the directories above PATH (not PATH itself). */
static int make_parents(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return SRL_ENOMEM;
    for (char *p = copy + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            srl_log_error("%s: cannot create directory: %s", copy, strerror(errno));
            free(copy);
            return SRL_EIO;
        }
        *p = '/';
    }
    free(copy);
    return 0;
}

int srl_dir_begin(struct srl_dir_txn *txn, const char *dir)
{
    memset(txn, 0, sizeof *txn);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (n == 0) {
        srl_log_error("srl_dir_begin: empty directory name");
        return SRL_EINVAL;
    }
    txn->dir = strndup(dir, n);
    if (!txn->dir) return SRL_ENOMEM;
    struct stat st;
    if (stat(txn->dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        srl_log_error("%s: exists and is not a directory", txn->dir);
        free(txn->dir);
        txn->dir = NULL;
        return SRL_EINVAL;
    }
    txn->tmp_dir = path_with_pid(txn->dir, ".tmp");
    if (!txn->tmp_dir) {
        free(txn->dir);
        txn->dir = NULL;
        return SRL_ENOMEM;
    }
    remove_tree(txn->tmp_dir); /* left over from a crashed run with the same pid */
    int made = mkdir(txn->tmp_dir, 0777) == 0;
    if (!made && errno == ENOENT && make_parents(txn->tmp_dir) == 0)
        made = mkdir(txn->tmp_dir, 0777) == 0;
    if (!made) {
        srl_log_error("%s: cannot create directory: %s", txn->tmp_dir, strerror(errno));
        free(txn->dir);
        free(txn->tmp_dir);
        memset(txn, 0, sizeof *txn);
        return SRL_EIO;
    }
    return 0;
}

int srl_dir_commit(struct srl_dir_txn *txn)
{
    if (!txn->dir || !txn->tmp_dir) return SRL_EINVAL;
    int rc = sync_dir_files(txn->tmp_dir);
    char *old = NULL;
    struct stat st;
    if (rc < 0) goto fail;
    if (stat(txn->dir, &st) == 0) {
        if (!(old = path_with_pid(txn->dir, ".old"))) {
            rc = SRL_ENOMEM;
            goto fail;
        }
        remove_tree(old);
        if (rename(txn->dir, old) != 0) {
            srl_log_error("%s: cannot move aside to '%s': %s", txn->dir, old, strerror(errno));
            rc = SRL_EIO;
            goto fail;
        }
    }
    if (rename(txn->tmp_dir, txn->dir) != 0) {
        srl_log_error("%s: cannot rename to '%s': %s", txn->tmp_dir, txn->dir, strerror(errno));
        if (old && rename(old, txn->dir) != 0)
            srl_log_error("%s: old checkpoint left at '%s'", txn->dir, old);
        rc = SRL_EIO;
        goto fail;
    }
    rc = fsync_parent(txn->dir);
    if (old) remove_tree(old);
    free(old);
    free(txn->dir);
    free(txn->tmp_dir);
    memset(txn, 0, sizeof *txn);
    return rc;
fail:
    free(old);
    srl_dir_abort(txn);
    return rc;
}

void srl_dir_abort(struct srl_dir_txn *txn)
{
    if (txn->tmp_dir) remove_tree(txn->tmp_dir);
    free(txn->dir);
    free(txn->tmp_dir);
    memset(txn, 0, sizeof *txn);
}
