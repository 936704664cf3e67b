/* fileio_internal.h -- what fileio.c shares with fileio_dir.c. */
#ifndef SRL_FILEIO_INTERNAL_H
#define SRL_FILEIO_INTERNAL_H

#include <stdbool.h>
#include <time.h>

/* "PATH<suffix>.PID" in a new string, PID this process's. */
char *srl_fileio_pid_path(const char *path, const char *suffix);

/* fsync the directory holding PATH, so a rename into it is durable. */
int srl_fileio_fsync_parent(const char *path);

/* PATH after the symbolic links of its last component, in a new string (NULL after logging
 * an error: a loop, out of memory).  *descriptor is set when the chain reaches /proc/... or
 * /dev/fd/... (an open descriptor, such as /dev/stdout: written directly, never replaced). */
char *srl_fileio_follow_links(const char *path, bool *descriptor);

/* What a killed writer left beside PATH: "PATH.tmp.N" or "PATH.old.N" with N the id of a
 * process that is gone (kill(N, 0) fails with ESRCH; never this process). */
struct srl_leftover {
    char *path;
    bool is_tmp;         /* .tmp (else .old) */
    bool is_dir;
    struct timespec mtime;
};
/* The leftovers of PATH in a new array (free with srl_fileio_leftovers_free); *n gets the
 * count.  0, or SRL_ENOMEM. */
int srl_fileio_leftovers(const char *path, struct srl_leftover **out, size_t *n);
void srl_fileio_leftovers_free(struct srl_leftover *v, size_t n);

#endif
