/* test_fileio_kinds.c -- what srl_atomic_open() does with each kind of output path: a FIFO
 * read by another process, fake character devices made with mknod in the scratch directory
 * (a null one stays a device; a full one reports ENOSPC), a Unix socket, symbolic links (the
 * target replaced, the link kept), a directory, a read-only directory, a full file system
 * (a small tmpfs), appends, and the temporaries of killed writers.  The real /dev/null is
 * never touched. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stdbool.h>

#include "fileio.h"
#include "srl.h"

static char tmpdir[256];

static char *in_tmp(const char *name) { return srl_path_join(tmpdir, name); }

static int holds(const char *path, const char *want, bool say)
{
    char *data = NULL;
    size_t len = 0;
    if (srl_read_file(path, &data, &len) < 0) return 0;
    int ok = len == strlen(want) && memcmp(data, want, len) == 0;
    if (!ok && say) printf("  %s holds '%.*s', expected '%s'\n", path, (int)len, data, want);
    free(data);
    return ok;
}

static int read_is(const char *path, const char *want) { return holds(path, want, true); }

/* What a background reader wrote to PATH, once it is WANT (2 s at most). */
static int reader_got(const char *path, const char *want)
{
    for (int i = 0; i < 100 && !holds(path, want, false); i++) usleep(20000);
    return read_is(path, want);
}

static mode_t kind_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : 0;
}

/* Nothing named PATH.tmp.* or PATH.old.* beside PATH. */
static int no_temporaries(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -d '%s'.tmp.* '%s'.old.* >/dev/null 2>&1", path, path);
    return system(cmd) != 0;
}

/* The id of a process that has exited. */
static pid_t dead_pid(void)
{
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

static void quiet(int on) { srl_log_set_level(on ? SRL_LOG_OFF : SRL_LOG_WARNING); }

static void test_fifo(void)
{
    char *fifo = in_tmp("fifo"), *got = in_tmp("fifo.read");
    REQUIRE(mkfifo(fifo, 0666) == 0, "%s", strerror(errno));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cat '%s' >'%s' &", fifo, got); /* a background reader */
    REQUIRE(system(cmd) == 0);
    REQUIRE(srl_write_file_atomic(fifo, "through the pipe\n", 17) == 0);
    EXPECT(reader_got(got, "through the pipe\n"), "the reader did not get the bytes");
    EXPECT(kind_of(fifo) == S_IFIFO, "the FIFO was replaced");
    EXPECT(no_temporaries(fifo));
    free(fifo);
    free(got);
}

/* mknod a character device MAJOR:MINOR named NAME in the scratch directory (NULL: SKIP). */
static char *fake_device(const char *name, int minor)
{
    char *p = in_tmp(name);
    if (mknod(p, S_IFCHR | 0666, makedev(1, minor)) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static void test_fake_null_device(void)
{
    char *dev = fake_device("fakenull", 3);
    if (!dev) SKIP("mknod is not permitted here (%s)", strerror(errno));
    REQUIRE(srl_write_file_atomic(dev, "into the void\n", 14) == 0);
    EXPECT(kind_of(dev) == S_IFCHR, "the device was replaced by a regular file");
    EXPECT(no_temporaries(dev));
    struct srl_atomic_file af;
    REQUIRE(srl_atomic_open(&af, dev) == 0);
    EXPECT(af.tmp_path == NULL, "a device is written through a temporary");
    fputs("x", af.fp);
    srl_atomic_abort(&af);
    EXPECT(kind_of(dev) == S_IFCHR);
    free(dev);
}

static void test_fake_full_device(void)
{
    char *dev = fake_device("fakefull", 7);
    if (!dev) SKIP("mknod is not permitted here (%s)", strerror(errno));
    quiet(1);
    int rc = srl_write_file_atomic(dev, "no room\n", 8);
    quiet(0);
    EXPECT(rc == SRL_EIO, "a write to a full device succeeded (rc %d)", rc);
    EXPECT(kind_of(dev) == S_IFCHR);
    free(dev);
}

static void test_socket(void)
{
    char *path = in_tmp("sock");
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(ls >= 0 && bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 1) == 0);
    REQUIRE(srl_write_file_atomic(path, "socket bytes", 12) == 0);
    int c = accept(ls, NULL, NULL);
    char buf[64] = { 0 };
    ssize_t n = c >= 0 ? read(c, buf, sizeof buf - 1) : -1;
    EXPECT(n == 12 && strcmp(buf, "socket bytes") == 0, "read %zd '%s'", n, buf);
    EXPECT(kind_of(path) == S_IFSOCK);
    if (c >= 0) close(c);
    close(ls);
    free(path);
}

static void test_symlinks(void)
{
    char *real = in_tmp("real.txt"), *link = in_tmp("link.txt"), *link2 = in_tmp("link2.txt");
    REQUIRE(srl_write_file_atomic(real, "old", 3) == 0);
    REQUIRE(chmod(real, 0640) == 0);
    REQUIRE(symlink("real.txt", link) == 0 && symlink(link, link2) == 0);
    REQUIRE(srl_write_file_atomic(link2, "new", 3) == 0); /* through a chain of two links */
    EXPECT(kind_of(link) == S_IFLNK && kind_of(link2) == S_IFLNK, "a link was replaced");
    EXPECT(read_is(real, "new"), "the target was not written");
    struct stat st;
    EXPECT(stat(real, &st) == 0 && (st.st_mode & 07777) == 0640, "mode %o", st.st_mode & 07777);
    EXPECT(no_temporaries(real) && no_temporaries(link2));

    /* a relative link in another directory, and a dangling one (its target is created) */
    char *sub = in_tmp("sub"), *rel = in_tmp("sub/rel"), *dang = in_tmp("dangling");
    char *made = in_tmp("made.txt");
    REQUIRE(mkdir(sub, 0777) == 0 && symlink("../real.txt", rel) == 0);
    REQUIRE(symlink("made.txt", dang) == 0);
    REQUIRE(srl_write_file_atomic(rel, "via sub", 7) == 0);
    EXPECT(read_is(real, "via sub") && kind_of(rel) == S_IFLNK);
    REQUIRE(srl_write_file_atomic(dang, "made", 4) == 0);
    EXPECT(read_is(made, "made") && kind_of(dang) == S_IFLNK);

    /* a loop is an error, not a hang */
    char *loop = in_tmp("loop");
    REQUIRE(symlink("loop", loop) == 0);
    quiet(1);
    EXPECT(srl_write_file_atomic(loop, "x", 1) == SRL_EIO);
    quiet(0);
    EXPECT(kind_of(loop) == S_IFLNK);
    free(real), free(link), free(link2), free(sub), free(rel), free(dang), free(made), free(loop);
}

static void test_directory_refused(void)
{
    struct srl_atomic_file af;
    quiet(1);
    EXPECT(srl_atomic_open(&af, tmpdir) == SRL_EIO);
    quiet(0);
    EXPECT(kind_of(tmpdir) == S_IFDIR);
}

static void test_append(void)
{
    char *log = in_tmp("run.log"), *link = in_tmp("run-link.log"), *fifo = in_tmp("logfifo");
    char *got = in_tmp("logfifo.read");
    REQUIRE(srl_write_file_atomic(log, "1\n", 2) == 0);
    REQUIRE(symlink("run.log", link) == 0);
    struct srl_atomic_file af;
    REQUIRE(srl_output_append(&af, link) == 0);
    EXPECT(af.tmp_path == NULL);
    fputs("2\n", af.fp);
    REQUIRE(srl_atomic_commit(&af) == 0);
    EXPECT(read_is(log, "1\n2\n") && kind_of(link) == S_IFLNK);
    REQUIRE(mkfifo(fifo, 0666) == 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cat '%s' >'%s' &", fifo, got);
    REQUIRE(system(cmd) == 0);
    REQUIRE(srl_output_append(&af, fifo) == 0);
    fputs("step 1\n", af.fp);
    REQUIRE(srl_atomic_commit(&af) == 0);
    EXPECT(reader_got(got, "step 1\n") && kind_of(fifo) == S_IFIFO);
    REQUIRE(srl_output_append(&af, "-") == 0);
    EXPECT(af.fp == stdout);
    REQUIRE(srl_atomic_commit(&af) == 0);
    free(log), free(link), free(fifo), free(got);
}

static void test_standard_streams(void)
{
    struct srl_atomic_file af;
    REQUIRE(srl_atomic_open(&af, "-") == 0);
    EXPECT(af.fp == stdout && af.tmp_path == NULL);
    REQUIRE(srl_atomic_commit(&af) == 0);
    REQUIRE(srl_atomic_open(&af, "/dev/stderr") == 0);
    EXPECT(af.fp == stderr && af.tmp_path == NULL);
    srl_atomic_abort(&af);
    EXPECT(fileno(stderr) == 2 && fcntl(2, F_GETFD) >= 0, "stderr was closed");
}

static void test_stale_temporaries(void)
{
    char *out = in_tmp("out.jsonl");
    char dead[600], alive[600], other[600], near[600];
    snprintf(dead, sizeof dead, "%s.tmp.%ld", out, (long)dead_pid());
    snprintf(alive, sizeof alive, "%s.tmp.%ld", out, (long)getppid());
    snprintf(other, sizeof other, "%s.tmp.%ldx", out, (long)dead_pid());
    snprintf(near, sizeof near, "%s2.tmp.%ld", out, (long)dead_pid());
    REQUIRE(srl_write_file_atomic(dead, "d", 1) == 0 && srl_write_file_atomic(alive, "a", 1) == 0);
    REQUIRE(srl_write_file_atomic(other, "o", 1) == 0 && srl_write_file_atomic(near, "n", 1) == 0);
    REQUIRE(srl_write_file_atomic(out, "out", 3) == 0);
    EXPECT(kind_of(dead) == 0, "the dead writer's %s is still there", dead);
    EXPECT(read_is(alive, "a"), "a live process's temporary was removed");
    EXPECT(read_is(other, "o") && read_is(near, "n"), "a file not named as ours was removed");
    free(out);
}

/* In a child without root's powers (nobody) when run as root. */
static void test_read_only_directory(void)
{
    char *ro = in_tmp("ro"), *f = in_tmp("ro/kept.txt");
    REQUIRE(mkdir(ro, 0777) == 0 && srl_write_file_atomic(f, "kept", 4) == 0);
    REQUIRE(chmod(ro, 0555) == 0 && chmod(tmpdir, 0755) == 0 && chmod(f, 0666) == 0);
    pid_t p = fork();
    if (p == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        quiet(1);
        int rc = srl_write_file_atomic(f, "changed", 7);
        _exit(rc == SRL_EIO ? 0 : 1);
    }
    int status = 0;
    waitpid(p, &status, 0);
    REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) != 3, "cannot drop root's powers");
    EXPECT(WEXITSTATUS(status) == 0, "a write into a read-only directory did not fail cleanly");
    EXPECT(read_is(f, "kept") && no_temporaries(f));
    chmod(ro, 0755);
    free(ro);
    free(f);
}

static void test_full_file_system(void)
{
    char *mnt = in_tmp("small"), *f = in_tmp("small/out.bin");
    REQUIRE(mkdir(mnt, 0777) == 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0)
        SKIP("cannot mount a small tmpfs to fill (%s)", strerror(errno));
    size_t n = 1 << 20;
    char *big = calloc(1, n);
    REQUIRE(big && srl_write_file_atomic(f, "before", 6) == 0);
    quiet(1);
    int rc = srl_write_file_atomic(f, big, n);
    quiet(0);
    EXPECT(rc == SRL_EIO, "1 MiB into a 64 KiB file system: rc %d", rc);
    EXPECT(read_is(f, "before"), "the old file was damaged");
    EXPECT(no_temporaries(f));
    free(big);
    EXPECT(umount(mnt) == 0, "umount %s: %s", mnt, strerror(errno));
    free(mnt);
    free(f);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_fileio_kinds.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    RUN(test_fifo);
    RUN(test_fake_null_device);
    RUN(test_fake_full_device);
    RUN(test_socket);
    RUN(test_symlinks);
    RUN(test_directory_refused);
    RUN(test_append);
    RUN(test_standard_streams);
    RUN(test_stale_temporaries);
    RUN(test_read_only_directory);
    RUN(test_full_file_system);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return test_summary();
}
