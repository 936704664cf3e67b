/* test_fileio.c -- atomic writes, whole-file reads, directory transactions. */
#include "test.h"

#include <sys/stat.h>

#include "fileio.h"
#include "srl.h"

static char tmpdir[256];

static int make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_fileio.XXXXXX");
    return mkdtemp(tmpdir) != NULL;
}

static int read_is(const char *path, const char *want)
{
    char *data = NULL;
    size_t len = 0;
    if (srl_read_file(path, &data, &len) < 0) return 0;
    int ok = len == strlen(want) && memcmp(data, want, len) == 0 && data[len] == '\0';
    free(data);
    return ok;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_path_join(void)
{
    char *a = srl_path_join("dir", "f.json"), *b = srl_path_join("dir/", "f.json");
    EXPECT(a && strcmp(a, "dir/f.json") == 0, "%s", a);
    EXPECT(b && strcmp(b, "dir/f.json") == 0, "%s", b);
    free(a);
    free(b);
}

static void test_atomic_write_and_abort(void)
{
    char *p = srl_path_join(tmpdir, "a.txt");
    REQUIRE(srl_write_file_atomic(p, "hello", 5) == 0);
    EXPECT(read_is(p, "hello"));
    REQUIRE(srl_write_file_atomic(p, "second", 6) == 0);
    EXPECT(read_is(p, "second"));

    struct srl_atomic_file af;
    REQUIRE(srl_atomic_open(&af, p) == 0);
    char *tmp = strdup(af.tmp_path);
    fputs("half-written", af.fp);
    fflush(af.fp);
    EXPECT(read_is(p, "second"), "target changed before commit");
    srl_atomic_abort(&af);
    EXPECT(read_is(p, "second"), "abort clobbered the old content");
    EXPECT(!exists(tmp), "temporary %s left behind", tmp);
    EXPECT(af.fp == NULL && af.path == NULL);

    /* a write into a missing directory fails cleanly */
    srl_log_set_level(SRL_LOG_OFF);
    char *bad = srl_path_join(tmpdir, "no/such/dir/x");
    EXPECT(srl_write_file_atomic(bad, "x", 1) == SRL_EIO);
    char *data = (char *)1;
    EXPECT(srl_read_file(bad, &data, NULL) == SRL_EIO && data == NULL);
    srl_log_set_level(SRL_LOG_WARNING);
    free(bad);
    free(tmp);
    free(p);
}

static void test_read_empty_and_large(void)
{
    char *p = srl_path_join(tmpdir, "big.bin");
    size_t n = 300000;
    char *buf = malloc(n);
    for (size_t i = 0; i < n; i++) buf[i] = (char)(i * 7 + 3);
    REQUIRE(srl_write_file_atomic(p, buf, n) == 0);
    char *data;
    size_t len;
    REQUIRE(srl_read_file(p, &data, &len) == 0);
    EXPECT(len == n && memcmp(data, buf, n) == 0);
    free(data);
    REQUIRE(srl_write_file_atomic(p, "", 0) == 0);
    REQUIRE(srl_read_file(p, &data, &len) == 0);
    EXPECT(len == 0 && data[0] == '\0');
    free(data);
    free(buf);
    free(p);
}

static void test_dir_txn(void)
{
    char *dir = srl_path_join(tmpdir, "ckpt");
    struct srl_dir_txn txn;

    /* fresh directory */
    REQUIRE(srl_dir_begin(&txn, dir) == 0);
    char *f = srl_path_join(txn.tmp_dir, "config.json");
    REQUIRE(srl_write_file_atomic(f, "v1", 2) == 0);
    free(f);
    EXPECT(!exists(dir), "directory visible before commit");
    REQUIRE(srl_dir_commit(&txn) == 0);
    char *cfg = srl_path_join(dir, "config.json");
    EXPECT(read_is(cfg, "v1"));

    /* an aborted transaction leaves the old one intact and no temporary */
    REQUIRE(srl_dir_begin(&txn, dir) == 0);
    char *tmp = strdup(txn.tmp_dir);
    f = srl_path_join(txn.tmp_dir, "config.json");
    REQUIRE(srl_write_file_atomic(f, "v2-partial", 10) == 0);
    free(f);
    srl_dir_abort(&txn);
    EXPECT(read_is(cfg, "v1"), "abort changed the old checkpoint");
    EXPECT(!exists(tmp), "%s left behind", tmp);

    /* a committed replacement swaps the whole directory: a checkpoint file the new one lacks
     * goes, but a file saferlhf did not write makes the directory irreplaceable */
    char *extra = srl_path_join(dir, "special_tokens_map.json");
    REQUIRE(srl_write_file_atomic(extra, "x", 1) == 0);
    char *notes = srl_path_join(dir, "notes.txt");
    REQUIRE(srl_write_file_atomic(notes, "mine", 4) == 0);
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_dir_begin(&txn, dir) == SRL_EINVAL, "replaced a directory holding notes.txt");
    srl_log_set_level(SRL_LOG_WARNING);
    EXPECT(read_is(notes, "mine") && read_is(cfg, "v1"), "refusal changed the directory");
    REQUIRE(unlink(notes) == 0);
    REQUIRE(srl_dir_begin(&txn, dir) == 0);
    f = srl_path_join(txn.tmp_dir, "config.json");
    REQUIRE(srl_write_file_atomic(f, "v3", 2) == 0);
    free(f);
    REQUIRE(srl_dir_commit(&txn) == 0);
    EXPECT(read_is(cfg, "v3"));
    EXPECT(!exists(extra), "old directory's file survived the swap");
    char *manifest = srl_path_join(dir, SRL_DIR_MANIFEST);
    EXPECT(read_is(manifest, "config.json\n"), "the manifest lists what was written");
    free(manifest);
    char old[512];
    snprintf(old, sizeof old, "%s.old.%ld", dir, (long)getpid());
    EXPECT(!exists(old) && !exists(tmp), "leftovers after commit");

    /* a directory with files but no config.json nor manifest is refused; "-" too */
    char *user = srl_path_join(tmpdir, "user");
    REQUIRE(mkdir(user, 0777) == 0);
    char *uf = srl_path_join(user, "model.safetensors");
    REQUIRE(srl_write_file_atomic(uf, "u", 1) == 0);
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_dir_begin(&txn, user) == SRL_EINVAL);
    EXPECT(srl_dir_begin(&txn, "-") == SRL_EINVAL);
    srl_log_set_level(SRL_LOG_WARNING);
    EXPECT(read_is(uf, "u"));
    free(uf);
    free(user);
    free(notes);

    /* missing parents are created */
    char *deep = srl_path_join(tmpdir, "a/b/c/ckpt");
    REQUIRE(srl_dir_begin(&txn, deep) == 0);
    REQUIRE(srl_dir_commit(&txn) == 0);
    struct stat st;
    EXPECT(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
    free(deep);

    /* a file where the directory should be is refused */
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_dir_begin(&txn, cfg) == SRL_EINVAL);
    srl_log_set_level(SRL_LOG_WARNING);

    free(extra);
    free(tmp);
    free(cfg);
    free(dir);
}

int main(void)
{
    if (!make_tmpdir()) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    RUN(test_path_join);
    RUN(test_atomic_write_and_abort);
    RUN(test_read_empty_and_large);
    RUN(test_dir_txn);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return test_summary();
}
