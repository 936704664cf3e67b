/* fileio.h -- every output path is opened here: atomic file and directory replacement,
 * direct writes to devices, FIFOs and sockets, appends, whole-file reads. */
#ifndef SRL_FILEIO_H
#define SRL_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* An output file.  srl_atomic_open() decides how PATH is written, the same way for every
 * tool and every output:
 *   "-", "/dev/stdout", "/dev/stderr"   the process's standard output (error) stream;
 *   absent or a regular file            written to "PATH.tmp.PID" beside it, then fsynced and
 *                                       renamed over PATH by srl_atomic_commit() (the mode of
 *                                       a replaced file is kept): a crash leaves PATH as it was
 *                                       or complete, never half-written.  Temporaries
 *                                       "PATH.tmp.N" of processes N that are gone are removed;
 *   a character or block device, a FIFO, a socket (or a descriptor under /proc or /dev/fd)
 *                                       opened and written directly, in order;
 *   a symbolic link                     the file it finally points to is written by these
 *                                       rules and the link is kept (sed -i --follow-symlinks);
 *   a directory                         refused.
 * Write errors (a full disk, a closed pipe) are reported by srl_atomic_commit(), which
 * returns SRL_EIO.  srl_atomic_abort() closes and removes the temporary (a direct or standard
 * stream is closed or flushed; what was written stays written).  tmp_path is NULL when the
 * output is not replaced by a rename. */
struct srl_atomic_file {
    FILE *fp;
    char *path;     /* as given, for messages */
    char *target;   /* the file replaced or opened: PATH after its symbolic links */
    char *tmp_path; /* "TARGET.tmp.PID", or NULL for a direct write */
};
int srl_atomic_open(struct srl_atomic_file *af, const char *path);
/* The same decisions for a file appended to (the trainers' --log): "-" and /dev/std* are the
 * standard streams, anything else is opened with O_APPEND (created when absent, a symbolic
 * link followed); nothing is renamed.  Close with srl_atomic_commit(). */
int srl_output_append(struct srl_atomic_file *af, const char *path);
int srl_atomic_commit(struct srl_atomic_file *af);
void srl_atomic_abort(struct srl_atomic_file *af);

/* Write len bytes to PATH through srl_atomic_open(). */
int srl_write_file_atomic(const char *path, const void *data, size_t len);

/* Read a whole file into a new NUL-terminated buffer (free with free()); *len gets its size. */
int srl_read_file(const char *path, char **data, size_t *len);

/* A checkpoint directory written as a whole.  srl_dir_begin() recovers DIR first (see
 * srl_dir_recover), refuses a DIR this toolchain did not write (see srl_dir_replaceable), and
 * makes "DIR.tmp.PID" (and any missing parent directories; files are then written into
 * tmp_dir).  srl_dir_commit() writes the manifest SRL_DIR_MANIFEST (the names written), fsyncs
 * everything and swaps the directory into place: an existing DIR is renamed to "DIR.old.PID",
 * the new one to DIR, then the old one is removed.  A crash leaves DIR old or new, or (killed
 * between the two renames) no DIR but DIR.old.PID and a complete DIR.tmp.PID, which the next
 * srl_dir_recover() puts back.  A symbolic link DIR is kept: the directory it points to is
 * replaced.  "-" is refused (a directory cannot be standard output). */
#define SRL_DIR_MANIFEST ".saferlhf-manifest"
struct srl_dir_txn {
    char *dir;     /* the directory replaced: DIR after its symbolic links */
    char *tmp_dir; /* "DIR.tmp.PID": write the files here */
};
int srl_dir_begin(struct srl_dir_txn *txn, const char *dir);
int srl_dir_commit(struct srl_dir_txn *txn);
void srl_dir_abort(struct srl_dir_txn *txn);

/* Put a checkpoint directory back after a killed save and remove what killed saves left:
 * when DIR is missing, the newest complete "DIR.tmp.N" (one with its manifest) or
 * "DIR.old.N" of a process N that is gone is renamed to DIR (an info message says which);
 * then every other "DIR.tmp.N" and "DIR.old.N" of a gone process N is removed.  Nothing else
 * is touched.  0 also when there is nothing to do; SRL_EIO when a rename fails. */
int srl_dir_recover(const char *dir);

/* Whether an existing directory may be replaced as a whole: it is empty, or it holds
 * config.json or the manifest and every entry in it is named in its manifest or is a file
 * that saferlhf checkpoints hold (config.json, model.safetensors, tokenizer.json, ...).
 * Logs why not ("PATH: holds 'notes.txt', which saferlhf did not write; refusing to replace
 * it") and returns SRL_EINVAL; 0 when it may (or does not exist). */
int srl_dir_replaceable(const char *dir);

/* "DIR/name" in a new string (free with free()). */
char *srl_path_join(const char *dir, const char *name);

#endif
