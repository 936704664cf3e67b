/* fileio.h -- small file helpers: atomic writes and whole-file reads. */
#ifndef SRL_FILEIO_H
#define SRL_FILEIO_H

#include <stddef.h>
#include <stdio.h>

/* Atomic replacement of one file.  srl_atomic_open() creates "PATH.tmp.PID" beside PATH;
 * srl_atomic_commit() flushes, fsyncs, closes and renames it over PATH, then fsyncs the
 * directory; srl_atomic_abort() closes and removes the temporary.  A crash at any point leaves
 * PATH as it was or complete. */
struct srl_atomic_file {
    FILE *fp;
    char *path;
    char *tmp_path;
};
int srl_atomic_open(struct srl_atomic_file *af, const char *path);
int srl_atomic_commit(struct srl_atomic_file *af);
void srl_atomic_abort(struct srl_atomic_file *af);

/* Write len bytes to PATH atomically. */
int srl_write_file_atomic(const char *path, const void *data, size_t len);

/* Read a whole file into a new NUL-terminated buffer (free with free()); *len gets its size. */
int srl_read_file(const char *path, char **data, size_t *len);

/* A checkpoint directory written as a whole: srl_dir_begin() makes "DIR.tmp.PID" (and any
 * missing parent directories; files are then written into tmp_dir), srl_dir_commit() fsyncs it and swaps it into place: an existing
 * DIR is renamed to "DIR.old.PID" first and removed after the new one is in place, so a crash
 * leaves either the old or the new checkpoint under DIR (or both, the old one under .old). */
struct srl_dir_txn {
    char *dir;
    char *tmp_dir;
};
int srl_dir_begin(struct srl_dir_txn *txn, const char *dir);
int srl_dir_commit(struct srl_dir_txn *txn);
void srl_dir_abort(struct srl_dir_txn *txn);
/* "TXN_TMP_DIR/name" in a new string (free with free()). */
char *srl_path_join(const char *dir, const char *name);

#endif
