/* fileio_dir.c -- checkpoint directories written as a whole: the swap into place, the
 * manifest that marks a directory as ours, recovery after a killed save. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "fileio_internal.h"
#include "srl.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    if (rc != 0) srl_log_warning("%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

/* Remove a tree this toolchain made (a .tmp or .old directory); symbolic links in it are
 * removed, never followed. */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The entries of DIR but "." and "..", each passed to fn; stops at fn's first non-zero. */
static int each_entry(const char *dir, int (*fn)(void *ctx, const char *name), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d) {
        srl_log_error("%s: cannot open directory: %s", dir, strerror(errno));
        return SRL_EIO;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) rc = fn(ctx, e->d_name);
    closedir(d);
    return rc;
}

// --- the manifest: which directories are ours ------------------------------------------------

/* What saferlhf checkpoints hold (those written before the manifest existed included). */
static const char *const checkpoint_files[] = {
    "config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
    "optimizer.safetensors", "trainer_state.json", "reward_critic", "cost_critic",
    SRL_DIR_MANIFEST, NULL,
};

struct names {
    char *text; /* the manifest, one name a line; NULL when absent */
    const char *unknown;
    size_t count;
    bool has_config;
};

static bool in_manifest(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == '\n' || p[n] == '\0')) return true;
    return false;
}

static int check_entry(void *ctx, const char *name)
{
    struct names *nm = ctx;
    nm->count++;
    if (strcmp(name, "config.json") == 0) nm->has_config = true;
    for (const char *const *k = checkpoint_files; *k; k++)
        if (strcmp(name, *k) == 0) return 0;
    if (nm->text && in_manifest(nm->text, name)) return 0;
    if (!nm->unknown && !(nm->unknown = strdup(name))) return SRL_ENOMEM;
    return 0;
}

int srl_dir_replaceable(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) {
        srl_log_error("%s: exists and is not a directory", dir);
        return SRL_EINVAL;
    }
    struct names nm = { 0 };
    char *mpath = srl_path_join(dir, SRL_DIR_MANIFEST);
    if (!mpath) return SRL_ENOMEM;
    if (access(mpath, F_OK) == 0 && srl_read_file(mpath, &nm.text, NULL) < 0) {
        free(mpath);
        return SRL_EIO;
    }
    int rc = each_entry(dir, check_entry, &nm);
    if (rc == 0 && nm.count > 0 && !nm.has_config && !nm.text) {
        srl_log_error("%s: is not a checkpoint directory (no config.json); refusing to "
                      "replace it", dir);
        rc = SRL_EINVAL;
    } else if (rc == 0 && nm.unknown) {
        srl_log_error("%s: holds '%s', which saferlhf did not write; refusing to replace the "
                      "directory (choose another output or move it away)", dir, nm.unknown);
        rc = SRL_EINVAL;
    }
    free((char *)nm.unknown);
    free(nm.text);
    free(mpath);
    return rc;
}

struct manifest {
    char *text;
    size_t len, cap;
};

static int add_name(void *ctx, const char *name)
{
    struct manifest *m = ctx;
    size_t n = strlen(name);
    if (strcmp(name, SRL_DIR_MANIFEST) == 0 || strchr(name, '\n')) return 0;
    if (m->len + n + 2 > m->cap) {
        size_t cap = 2 * m->cap + n + 256;
        char *t = realloc(m->text, cap);
        if (!t) return SRL_ENOMEM;
        m->text = t, m->cap = cap;
    }
    memcpy(m->text + m->len, name, n);
    m->len += n;
    m->text[m->len++] = '\n';
    return 0;
}

/* TMP_DIR/.saferlhf-manifest: the names in TMP_DIR, one a line, written last (a complete
 * directory is one with its manifest). */
static int write_manifest(const char *tmp_dir)
{
    struct manifest m = { 0 };
    char *path = srl_path_join(tmp_dir, SRL_DIR_MANIFEST);
    int rc = path ? each_entry(tmp_dir, add_name, &m) : SRL_ENOMEM;
    if (rc == 0) rc = srl_write_file_atomic(path, m.text ? m.text : "", m.len);
    free(m.text);
    free(path);
    return rc;
}

// --- recovery --------------------------------------------------------------------------------

static bool is_complete(const struct srl_leftover *l)
{
    if (!l->is_dir) return false;
    if (!l->is_tmp) return true; /* an .old directory was a committed checkpoint */
    char *m = srl_path_join(l->path, SRL_DIR_MANIFEST);
    bool ok = m && access(m, F_OK) == 0;
    free(m);
    return ok;
}

static bool newer(const struct srl_leftover *a, const struct srl_leftover *b)
{
    if (a->mtime.tv_sec != b->mtime.tv_sec) return a->mtime.tv_sec > b->mtime.tv_sec;
    if (a->mtime.tv_nsec != b->mtime.tv_nsec) return a->mtime.tv_nsec > b->mtime.tv_nsec;
    return a->is_tmp && !b->is_tmp;
}

/* DIR without trailing slashes and after its symbolic links, in a new string. */
static char *resolve_dir(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    char *d = strndup(dir, n);
    bool descriptor;
    char *r = d ? srl_fileio_follow_links(d, &descriptor) : NULL;
    if (!d) srl_log_error("%s: out of memory", dir);
    free(d);
    return r;
}

/* Recover the resolved directory DIR (see srl_dir_recover). */
static int recover(const char *dir)
{
    struct srl_leftover *v;
    size_t n;
    int rc = srl_fileio_leftovers(dir, &v, &n);
    if (rc < 0 || n == 0) return rc;
    struct stat st;
    ssize_t best = -1;
    if (lstat(dir, &st) != 0 && errno == ENOENT) {
        for (size_t i = 0; i < n; i++)
            if (is_complete(&v[i]) && (best < 0 || newer(&v[i], &v[best]))) best = (ssize_t)i;
        if (best >= 0 && rename(v[best].path, dir) != 0) {
            srl_log_error("%s: cannot restore it from '%s': %s", dir, v[best].path,
                          strerror(errno));
            rc = SRL_EIO;
        } else if (best >= 0) {
            srl_log_info("%s: restored from '%s' (a save was killed before it completed)", dir,
                         v[best].path);
            rc = srl_fileio_fsync_parent(dir);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if ((ssize_t)i == best || (rc < 0 && is_complete(&v[i]))) continue;
        remove_tree(v[i].path);
        srl_log_info("removed '%s', left by a killed run", v[i].path);
    }
    srl_fileio_leftovers_free(v, n);
    return rc;
}

int srl_dir_recover(const char *dir)
{
    char *d = resolve_dir(dir);
    if (!d) return SRL_EIO;
    int rc = recover(d);
    free(d);
    return rc;
}

// --- the transaction -------------------------------------------------------------------------

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
    if (dir[0] == '\0' || strcmp(dir, "-") == 0) {
        srl_log_error("'%s': a directory is needed here (\"-\" is standard output)", dir);
        return SRL_EINVAL;
    }
    if (!(txn->dir = resolve_dir(dir))) return SRL_EIO;
    int rc = recover(txn->dir);
    if (rc == 0) rc = srl_dir_replaceable(txn->dir);
    if (rc == 0 && !(txn->tmp_dir = srl_fileio_pid_path(txn->dir, ".tmp"))) rc = SRL_ENOMEM;
    if (rc < 0) goto fail;
    remove_tree(txn->tmp_dir); /* left by a killed run that had this process id */
    bool made = mkdir(txn->tmp_dir, 0777) == 0;
    if (!made && errno == ENOENT && make_parents(txn->tmp_dir) == 0)
        made = mkdir(txn->tmp_dir, 0777) == 0;
    if (!made) {
        srl_log_error("%s: cannot create directory: %s", txn->tmp_dir, strerror(errno));
        rc = SRL_EIO;
        goto fail;
    }
    return 0;
fail:
    free(txn->dir);
    free(txn->tmp_dir);
    memset(txn, 0, sizeof *txn);
    return rc;
}

int srl_dir_commit(struct srl_dir_txn *txn)
{
    if (!txn->dir || !txn->tmp_dir) return SRL_EINVAL;
    int rc = write_manifest(txn->tmp_dir);
    if (rc == 0) rc = sync_dir_files(txn->tmp_dir);
    char *old = NULL;
    struct stat st;
    if (rc < 0) goto fail;
    if (lstat(txn->dir, &st) == 0) {
        if (!(old = srl_fileio_pid_path(txn->dir, ".old"))) {
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
    rc = srl_fileio_fsync_parent(txn->dir);
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
