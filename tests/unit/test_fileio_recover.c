/* test_fileio_recover.c -- checkpoint directories after killed saves: srl_dir_recover() puts
 * back DIR from what a save killed between its two renames left (DIR.old.N and a complete
 * DIR.tmp.N), or from DIR.old.N alone, never from an incomplete DIR.tmp.N; it removes the
 * leftovers of processes that are gone and nothing else; srl_dir_begin() recovers too; a
 * symbolic link to a checkpoint directory is kept. */
#include "test.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fileio.h"
#include "srl.h"

static char tmpdir[256];
static int n_dirs;

static int read_is(const char *path, const char *want)
{
    char *data = NULL;
    size_t len = 0;
    if (srl_read_file(path, &data, &len) < 0) return 0;
    int ok = len == strlen(want) && memcmp(data, want, len) == 0;
    free(data);
    return ok;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static pid_t dead_pid(void)
{
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

/* A new checkpoint directory name under the scratch directory (not created). */
static char *new_dir(void)
{
    char name[32];
    snprintf(name, sizeof name, "ckpt%d", ++n_dirs);
    return srl_path_join(tmpdir, name);
}

/* DIR<suffix>.PID */
static char *leftover(const char *dir, const char *suffix, long pid)
{
    size_t n = strlen(dir) + 40;
    char *p = malloc(n);
    snprintf(p, n, "%s%s.%ld", dir, suffix, pid);
    return p;
}

/* A checkpoint directory at PATH (created as it is, no transaction) whose config.json holds
 * TEXT, with the manifest when complete. */
static int make_ckpt(const char *path, const char *text, bool complete)
{
    char *c = srl_path_join(path, "config.json"), *m = srl_path_join(path, SRL_DIR_MANIFEST);
    int rc = mkdir(path, 0777) == 0 && srl_write_file_atomic(c, text, strlen(text)) == 0 &&
             (!complete || srl_write_file_atomic(m, "config.json\n", 12) == 0);
    free(c);
    free(m);
    return rc;
}

static int config_is(const char *dir, const char *want)
{
    char *c = srl_path_join(dir, "config.json");
    int ok = read_is(c, want);
    free(c);
    return ok;
}

/* Killed between the renames: no DIR, DIR.old.N (step 1) and a complete DIR.tmp.N (step 2):
 * the newer one, the temporary, becomes DIR. */
static void test_between_renames(void)
{
    char *dir = new_dir();
    long pid = dead_pid();
    char *old = leftover(dir, ".old", pid), *tmp = leftover(dir, ".tmp", pid);
    REQUIRE(make_ckpt(old, "step 1", true));
    usleep(20000); /* a later modification time */
    REQUIRE(make_ckpt(tmp, "step 2", true));
    srl_log_set_level(SRL_LOG_OFF);
    REQUIRE(srl_dir_recover(dir) == 0);
    srl_log_set_level(SRL_LOG_WARNING);
    EXPECT(config_is(dir, "step 2"), "DIR is not the completed save");
    EXPECT(!exists(old) && !exists(tmp), "leftovers not removed");
    free(dir), free(old), free(tmp);
}

/* Only DIR.old.N: it is put back. */
static void test_old_only(void)
{
    char *dir = new_dir(), *old = leftover(dir, ".old", dead_pid());
    REQUIRE(make_ckpt(old, "step 1", false)); /* written before manifests existed */
    srl_log_set_level(SRL_LOG_OFF);
    REQUIRE(srl_dir_recover(dir) == 0);
    srl_log_set_level(SRL_LOG_WARNING);
    EXPECT(config_is(dir, "step 1") && !exists(old));
    free(dir), free(old);
}

/* An incomplete DIR.tmp.N (killed while writing it, no manifest) is never made DIR. */
static void test_incomplete_tmp(void)
{
    char *dir = new_dir(), *tmp = leftover(dir, ".tmp", dead_pid());
    REQUIRE(make_ckpt(tmp, "half", false));
    srl_log_set_level(SRL_LOG_OFF);
    REQUIRE(srl_dir_recover(dir) == 0);
    srl_log_set_level(SRL_LOG_WARNING);
    EXPECT(!exists(dir), "an incomplete save became the checkpoint");
    EXPECT(!exists(tmp), "the incomplete save was not removed");
    free(dir), free(tmp);
}

/* With DIR in place, the leftovers of gone processes go; a live process's, other names and
 * anything beside another directory stay. */
static void test_stale_removed_only(void)
{
    char *dir = new_dir();
    REQUIRE(make_ckpt(dir, "current", true));
    char *t1 = leftover(dir, ".tmp", dead_pid()), *o1 = leftover(dir, ".old", dead_pid());
    char *live = leftover(dir, ".tmp", (long)getppid());
    char *odd = leftover(dir, ".tmp.x", dead_pid()), *zero = leftover(dir, ".old", 0);
    char *file = leftover(dir, ".old", dead_pid()); /* a plain file named like ours */
    REQUIRE(make_ckpt(t1, "t", false) && make_ckpt(o1, "o", true) && make_ckpt(live, "l", false));
    REQUIRE(make_ckpt(odd, "x", false) && make_ckpt(zero, "z", false));
    REQUIRE(srl_write_file_atomic(file, "f", 1) == 0);
    size_t n = strlen(dir) + 40;
    char *sib = malloc(n); /* DIRx.tmp.N: another directory's */
    snprintf(sib, n, "%sx.tmp.%ld", dir, (long)dead_pid());
    REQUIRE(make_ckpt(sib, "s", false));
    srl_log_set_level(SRL_LOG_OFF);
    REQUIRE(srl_dir_recover(dir) == 0);
    srl_log_set_level(SRL_LOG_WARNING);
    EXPECT(config_is(dir, "current"));
    EXPECT(!exists(t1) && !exists(o1) && !exists(file), "stale leftovers not removed");
    EXPECT(exists(live), "a live process's directory was removed");
    EXPECT(exists(odd) && exists(zero) && exists(sib), "a name not ours was removed");
    free(dir), free(t1), free(o1), free(live), free(odd), free(zero), free(file), free(sib);
}

/* srl_dir_begin recovers before it writes: the next save of a killed run finds DIR again and
 * the killed run's leftovers are gone after its commit. */
static void test_begin_recovers(void)
{
    char *dir = new_dir();
    long pid = dead_pid();
    char *old = leftover(dir, ".old", pid), *tmp = leftover(dir, ".tmp", pid);
    REQUIRE(make_ckpt(old, "step 1", true));
    REQUIRE(make_ckpt(tmp, "half", false));
    struct srl_dir_txn txn;
    srl_log_set_level(SRL_LOG_OFF);
    REQUIRE(srl_dir_begin(&txn, dir) == 0);
    srl_log_set_level(SRL_LOG_WARNING);
    EXPECT(config_is(dir, "step 1"), "not recovered before the save");
    char *c = srl_path_join(txn.tmp_dir, "config.json");
    REQUIRE(srl_write_file_atomic(c, "step 3", 6) == 0);
    REQUIRE(srl_dir_commit(&txn) == 0);
    EXPECT(config_is(dir, "step 3") && !exists(old) && !exists(tmp));
    free(c), free(dir), free(old), free(tmp);
}

/* -o LINK where LINK points to a checkpoint directory: the directory is replaced there and
 * the link stays a link. */
static void test_symlinked_dir(void)
{
    char *real = new_dir(), *link = new_dir();
    REQUIRE(make_ckpt(real, "v1", true));
    REQUIRE(symlink(real, link) == 0);
    struct srl_dir_txn txn;
    REQUIRE(srl_dir_begin(&txn, link) == 0);
    char *c = srl_path_join(txn.tmp_dir, "config.json");
    REQUIRE(srl_write_file_atomic(c, "v2", 2) == 0);
    REQUIRE(srl_dir_commit(&txn) == 0);
    struct stat st;
    EXPECT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link was replaced");
    EXPECT(config_is(real, "v2"), "the directory it points to was not replaced");
    free(c), free(real), free(link);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_fileio_recover.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    RUN(test_between_renames);
    RUN(test_old_only);
    RUN(test_incomplete_tmp);
    RUN(test_stale_removed_only);
    RUN(test_begin_recovers);
    RUN(test_symlinked_dir);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return test_summary();
}
