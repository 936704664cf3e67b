/* fuzz.c -- mutation fuzzing of the tools' input files: safetensors headers, config.json,
 * tokenizer.json, trainer_state.json and JSONL records, each run through the tool that reads it.
 *
 * Usage: fuzz BIN_DIR SEED_DIR WORK_DIR CASES SEED [MEM_LIMIT_MB]
 *
 * SEED_DIR is prepared by tests/cli/fuzz.sh: actor/ (an LM checkpoint with its tokenizer), rm/
 * and cm/ (score models), ckpt/ (a resumable saferlhf-sft checkpoint), prompts.jsonl, sft.jsonl,
 * pref.jsonl and gen.jsonl.  Case i (seeded by SEED and i, so any case can be rerun alone) picks
 * a target, copies its seed file with one to three mutations (byte flips, deletions,
 * insertions of JSON punctuation, numbers replaced by boundary values such as -5, 2^31, 2^32+1,
 * 2^63-1 and 1e999, values replaced by null, [], {}, "" or another type, duplicated spans,
 * truncation; for safetensors the header JSON is mutated and its length field rewritten, or the
 * length itself corrupted) into WORK_DIR/case, and runs the target's tool on it.
 *
 * A case passes when the tool exits 0 (the mutation may leave the input valid), or exits 1, 2
 * or 3 with every line of stderr its own "saferlhf-TOOL: " message and exactly one of them an
 * error (warnings aside).  A
 * signal (a crash, an abort, a hang past the timeout), a sanitizer report, another exit status
 * or anything else on stderr fails the case; its files are kept in WORK_DIR/fail-N with cmd.txt.
 * The summary counts the failures and, of them, the crashes (signal, sanitizer report, hang).
 * Children run with one thread and, when MEM_LIMIT_MB > 0 (default 2048), that address-space
 * limit (pass 0 under AddressSanitizer, which reserves terabytes of address space).
 * Prints one PASS or FAIL line per failure class and a summary; exits 1 when a case failed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "rng.h"

enum kind { SAFETENSORS, JSON_FILE, JSONL };

/* One fuzz target: the seed file mutated (in SEED_DIR; under dir when the tool reads a whole
 * checkpoint directory) and the command line.  In args, @M is the case's checkpoint directory
 * (dir with the mutated file), @D the mutated file, @S SEED_DIR, @O an output path. */
struct target {
    const char *name;
    enum kind kind;
    const char *dir, *file;
    const char *tool;
    const char *args[24];
    int weight;
};

#define GEN_ARGS "--threads", "1", "--greedy", "--max-new-tokens", "2"
static const struct target targets[] = {
    { "actor model.safetensors", SAFETENSORS, "actor", "model.safetensors", "saferlhf-generate",
      { "-m", "@M", GEN_ARGS, "@S/prompts2.jsonl" }, 3 },
    { "actor config.json", JSON_FILE, "actor", "config.json", "saferlhf-generate",
      { "-m", "@M", GEN_ARGS, "@S/prompts2.jsonl" }, 3 },
    { "actor tokenizer.json", JSON_FILE, "actor", "tokenizer.json", "saferlhf-generate",
      { "-m", "@M", GEN_ARGS, "@S/prompts2.jsonl" }, 3 },
    { "generate prompts", JSONL, NULL, "prompts.jsonl", "saferlhf-generate",
      { "-m", "@S/actor", GEN_ARGS, "@D" }, 2 },
    { "sft records", JSONL, NULL, "sft.jsonl", "saferlhf-sft",
      { "-m", "@S/actor", "-d", "@D", "--max-steps", "1", "--batch-size", "4", "--threads", "1",
        "-q", "-o", "@O" }, 2 },
    { "sft trainer_state.json", JSON_FILE, "ckpt", "trainer_state.json", "saferlhf-sft",
      { "--resume", "@M", "-d", "@S/sft.jsonl", "--max-steps", "3", "--batch-size", "4",
        "--threads", "1", "-q", "-o", "@O" }, 2 },
    { "train-rm preference records", JSONL, NULL, "pref.jsonl", "saferlhf-train-rm",
      { "-m", "@S/actor", "-d", "@D", "--max-steps", "1", "--batch-size", "2", "--threads", "1",
        "-q", "-o", "@O" }, 2 },
    { "eval score records", JSONL, NULL, "gen.jsonl", "saferlhf-eval",
      { "score", "-r", "@S/rm", "--threads", "1", "-q", "-o", "@O", "@D" }, 1 },
    { "reward model config.json", JSON_FILE, "rm", "config.json", "saferlhf-eval",
      { "score", "-r", "@M", "--threads", "1", "-q", "-o", "@O", "@S/gen.jsonl" }, 1 },
    { "reward model model.safetensors", SAFETENSORS, "rm", "model.safetensors", "saferlhf-eval",
      { "score", "-r", "@M", "--threads", "1", "-q", "-o", "@O", "@S/gen.jsonl" }, 1 },
    { "ppo-lag prompts", JSONL, NULL, "prompts.jsonl", "saferlhf-ppo-lag",
      { "--actor", "@S/actor", "--reward-model", "@S/rm", "--cost-model", "@S/cm", "-p", "@D",
        "--max-steps", "1", "--max-new-tokens", "2", "--rollout-batch-size", "4", "--threads",
        "1", "-q", "-o", "@O" }, 1 },
};
#define N_TARGETS (sizeof targets / sizeof *targets)

// --- buffers and mutations ---------------------------------------------------------------------

struct buf {
    char *p;
    size_t n, cap;
};

static void buf_reserve(struct buf *b, size_t n)
{
    if (n + 1 <= b->cap) return;
    b->cap = 2 * (n + 1);
    if (!(b->p = realloc(b->p, b->cap))) {
        perror("fuzz");
        exit(2);
    }
}

/* Replace n bytes at off with the len bytes of s. */
static void buf_splice(struct buf *b, size_t off, size_t n, const char *s, size_t len)
{
    if (off > b->n) off = b->n;
    if (n > b->n - off) n = b->n - off;
    buf_reserve(b, b->n - n + len);
    memmove(b->p + off + len, b->p + off + n, b->n - off - n);
    memcpy(b->p + off, s, len);
    b->n = b->n - n + len;
    b->p[b->n] = '\0';
}

static size_t pick(struct srl_rng *r, size_t n) { return n ? (size_t)(srl_rng_u64(r) % n) : 0; }

static const char *const numbers[] = {
    "0", "-1", "-5", "1", "2", "3", "127", "255", "65536", "2147483647", "2147483648",
    "-2147483649", "4294967295", "4294967297", "536870912", "1073741824",
    "9223372036854775807", "-9223372036854775808", "9223372036854775806",
    "18446744073709551616", "1e308", "1e999", "-1e999", "-0", "0.5", "1e-320", "3.0"
};
static const char *const values[] = {
    "null", "true", "false", "[]", "{}", "\"\"", "\"x\"", "0", "-1", "4294967297", "[null]",
    "{\"a\": 1}", "[[]]", "\"\\u0000\"", "\"\\ud800\"", "[1, 2, 3]", "\"F32\"", "\"I32\"",
    "\"BF16\"", "\"U8\"", "[4294967297]", "1e999", "-9223372036854775808"
};
static const char *const tokens[] = {
    "\"", "{", "}", "[", "]", ",", ":", "null", "\\", "\\u0000", "-", "0", "\n", "\xff",
    "\xc3", "\"a\":", "e", "."
};

/* A number of buf, as [start, end), chosen at random; 0 when there is none. */
static int find_number(struct srl_rng *r, const struct buf *b, size_t *s, size_t *e)
{
    size_t at = pick(r, b->n);
    for (size_t k = 0; k < b->n; k++) {
        size_t i = (at + k) % b->n;
        if ((b->p[i] >= '0' && b->p[i] <= '9') && (i == 0 || !(b->p[i - 1] >= '0' &&
                                                                b->p[i - 1] <= '9'))) {
            size_t j = i;
            if (i > 0 && b->p[i - 1] == '-') i--;
            while (j < b->n && ((b->p[j] >= '0' && b->p[j] <= '9') || b->p[j] == '.' ||
                                b->p[j] == 'e' || b->p[j] == 'E' || b->p[j] == '+'))
                j++;
            *s = i, *e = j;
            return 1;
        }
    }
    return 0;
}

/* The value after a random "key": as [start, end) (a string, number, literal or a whole
 * bracketed value); 0 when there is none. */
static int find_value(struct srl_rng *r, const struct buf *b, size_t *s, size_t *e)
{
    size_t at = pick(r, b->n);
    for (size_t k = 0; k + 1 < b->n; k++) {
        size_t i = (at + k) % (b->n - 1);
        if (b->p[i] != '"' || b->p[i + 1] != ':') continue;
        size_t j = i + 2;
        while (j < b->n && (b->p[j] == ' ' || b->p[j] == '\n')) j++;
        size_t v = j;
        int depth = 0, str = 0;
        for (; j < b->n; j++) {
            char c = b->p[j];
            if (str) {
                if (c == '\\') j++;
                else if (c == '"') {
                    str = 0;
                    if (depth == 0) { j++; break; }
                }
            } else if (c == '"') {
                str = 1;
            } else if (c == '[' || c == '{') {
                depth++;
            } else if (c == ']' || c == '}') {
                if (depth == 0) break;
                if (--depth == 0) { j++; break; }
            } else if (c == ',' && depth == 0) {
                break;
            }
        }
        *s = v, *e = j;
        return 1;
    }
    return 0;
}

/* One random mutation of b; desc gets its name. */
static void mutate(struct srl_rng *r, struct buf *b, char *desc, size_t dsize)
{
    size_t s, e, off = pick(r, b->n + 1);
    const char *t;
    switch (pick(r, 9)) {
    case 0: /* a byte */
        if (!b->n) break;
        off = pick(r, b->n);
        b->p[off] = (char)(srl_rng_u64(r) & 0xff);
        snprintf(desc, dsize, "byte %zu", off);
        return;
    case 1: /* delete a span */
        s = 1 + pick(r, 16);
        buf_splice(b, off, s, "", 0);
        snprintf(desc, dsize, "delete %zu at %zu", s, off);
        return;
    case 2: /* insert JSON punctuation or a literal */
        t = tokens[pick(r, sizeof tokens / sizeof *tokens)];
        buf_splice(b, off, 0, t, strlen(t));
        snprintf(desc, dsize, "insert at %zu", off);
        return;
    case 3: case 4: /* a number becomes a boundary value */
        if (!find_number(r, b, &s, &e)) break;
        t = numbers[pick(r, sizeof numbers / sizeof *numbers)];
        buf_splice(b, s, e - s, t, strlen(t));
        snprintf(desc, dsize, "number at %zu -> %s", s, t);
        return;
    case 5: case 6: /* a value becomes another type or a boundary value */
        if (!find_value(r, b, &s, &e)) break;
        t = pick(r, 4) ? values[pick(r, sizeof values / sizeof *values)] : "null";
        buf_splice(b, s, e - s, t, strlen(t));
        snprintf(desc, dsize, "value at %zu -> %s", s, t);
        return;
    case 7: { /* duplicate a span */
        if (!b->n) break;
        s = pick(r, b->n);
        size_t len = 1 + pick(r, b->n - s < 64 ? b->n - s : 64);
        char *copy = malloc(len);
        memcpy(copy, b->p + s, len);
        buf_splice(b, off, 0, copy, len);
        free(copy);
        snprintf(desc, dsize, "duplicate %zu at %zu", len, off);
        return;
    }
    case 8: /* truncate */
        b->n = off < b->n ? off : b->n;
        if (b->p) b->p[b->n] = '\0';
        snprintf(desc, dsize, "truncate at %zu", b->n);
        return;
    }
    /* nothing of that kind in the buffer: flip a byte instead */
    if (b->n) {
        off = pick(r, b->n);
        b->p[off] ^= (char)(1u << pick(r, 8));
    }
    snprintf(desc, dsize, "bit at %zu", off);
}

static void mutate_some(struct srl_rng *r, struct buf *b, char *desc, size_t dsize)
{
    int n = 1 + (int)pick(r, 3);
    size_t k = 0;
    desc[0] = '\0';
    for (int i = 0; i < n && k + 1 < dsize; i++) {
        char one[128];
        mutate(r, b, one, sizeof one);
        k += (size_t)snprintf(desc + k, dsize - k, "%s%s", i ? "; " : "", one);
    }
}

/* JSONL: one or two lines (records) mutated, the others kept. */
static void mutate_jsonl(struct srl_rng *r, struct buf *b, char *desc, size_t dsize)
{
    size_t lines = 0;
    for (size_t i = 0; i < b->n; i++) lines += b->p[i] == '\n';
    int n = 1 + (int)pick(r, 2);
    size_t k = 0;
    for (int m = 0; m < n; m++) {
        size_t want = pick(r, lines ? lines : 1), line = 0, s = 0;
        for (size_t i = 0; i < b->n && line < want; i++)
            if (b->p[i] == '\n') line++, s = i + 1;
        size_t e = s;
        while (e < b->n && b->p[e] != '\n') e++;
        struct buf one = { 0 };
        buf_reserve(&one, e - s);
        memcpy(one.p, b->p + s, e - s);
        one.n = e - s;
        one.p[one.n] = '\0';
        char d[256];
        mutate_some(r, &one, d, sizeof d);
        /* a mutation may add a newline: that is part of the record's text */
        buf_splice(b, s, e - s, one.p, one.n);
        free(one.p);
        if (k + 1 < dsize)
            k += (size_t)snprintf(desc + k, dsize - k, "%sline %zu: %s", m ? "; " : "",
                                  want + 1, d);
    }
}

/* safetensors: the header JSON mutated and its length rewritten, or the length corrupted,
 * or the file truncated. */
static void mutate_safetensors(struct srl_rng *r, struct buf *b, char *desc, size_t dsize)
{
    uint64_t hlen = 0;
    if (b->n >= 8) memcpy(&hlen, b->p, 8);
    if (b->n < 8 || hlen > b->n - 8) { /* already broken: plain mutation */
        mutate_some(r, b, desc, dsize);
        return;
    }
    size_t roll = pick(r, 10);
    if (roll == 0) {
        static const uint64_t bad[] = { 0, 1, 7, UINT64_MAX, (uint64_t)1 << 32, 100000000 };
        uint64_t v = pick(r, 2) ? bad[pick(r, sizeof bad / sizeof *bad)] : hlen + pick(r, 17) - 8;
        memcpy(b->p, &v, 8);
        snprintf(desc, dsize, "header length %llu -> %llu", (unsigned long long)hlen,
                 (unsigned long long)v);
        return;
    }
    if (roll == 1) {
        size_t n = pick(r, b->n);
        b->n = n;
        snprintf(desc, dsize, "file truncated to %zu", n);
        return;
    }
    struct buf h = { 0 };
    buf_reserve(&h, hlen);
    memcpy(h.p, b->p + 8, hlen);
    h.n = hlen;
    h.p[h.n] = '\0';
    mutate_some(r, &h, desc, dsize);
    uint64_t nl = h.n;
    buf_splice(b, 8, hlen, h.p, h.n);
    memcpy(b->p, &nl, 8);
    free(h.p);
}

// --- files ---------------------------------------------------------------------------------------

static char *path2(const char *a, const char *b)
{
    char *p = srl_path_join(a, b);
    if (!p) exit(2);
    return p;
}

static int read_buf(const char *path, struct buf *b)
{
    char *data = NULL;
    size_t n = 0;
    if (srl_read_file(path, &data, &n) < 0) return -1;
    b->p = data;
    b->n = n;
    b->cap = n + 1;
    return 0;
}

static int write_buf(const char *path, const struct buf *b)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    size_t w = b->n ? fwrite(b->p, 1, b->n, fp) : 0;
    return fclose(fp) == 0 && w == b->n ? 0 : -1;
}

static void remove_tree(const char *path)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: cannot remove %s\n", path);
}

/* dst/ gets a link to every file of src/ except skip. */
static int link_dir(const char *src, const char *dst, const char *skip)
{
    DIR *d = opendir(src);
    struct dirent *e;
    if (!d || mkdir(dst, 0755) != 0) {
        if (d) closedir(d);
        return -1;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, skip)) continue;
        char *from = path2(src, e->d_name), *to = path2(dst, e->d_name);
        char *abs = realpath(from, NULL);
        int rc = abs ? symlink(abs, to) : -1;
        free(abs), free(from), free(to);
        if (rc != 0) {
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    return 0;
}

// --- running a case ----------------------------------------------------------------------------

struct outcome {
    int signal, status, hang, sanitizer; /* sanitizer: a report on stderr */
    int lines, errors, foreign; /* stderr lines; error lines; lines not the tool's */
    char first[256];            /* the first line not a warning or info */
};

static char *subst(const char *arg, const char *m, const char *d, const char *s, const char *o)
{
    const char *rep = NULL;
    if (!strncmp(arg, "@M", 2)) rep = m;
    else if (!strncmp(arg, "@D", 2)) rep = d;
    else if (!strncmp(arg, "@S", 2)) rep = s;
    else if (!strncmp(arg, "@O", 2)) rep = o;
    if (!rep) return strdup(arg);
    size_t n = strlen(rep) + strlen(arg + 2) + 1;
    char *p = malloc(n);
    snprintf(p, n, "%s%s", rep, arg + 2);
    return p;
}

static void run(char *const argv[], const char *err_path, long mem_mb, int timeout_s,
                const char *prog, struct outcome *oc)
{
    memset(oc, 0, sizeof *oc);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR), err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC,
                                                          0644);
        dup2(null, 0), dup2(null, 1), dup2(err, 2);
        if (mem_mb > 0) {
            struct rlimit rl = { (rlim_t)mem_mb << 20, (rlim_t)mem_mb << 20 };
            setrlimit(RLIMIT_AS, &rl);
        }
        alarm((unsigned)timeout_s);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (WIFSIGNALED(st)) {
        oc->signal = WTERMSIG(st);
        oc->hang = oc->signal == SIGALRM;
    } else {
        oc->status = WEXITSTATUS(st);
    }
    FILE *fp = fopen(err_path, "r");
    char line[4096], want[128];
    snprintf(want, sizeof want, "%s: ", prog);
    while (fp && fgets(line, sizeof line, fp)) {
        oc->lines++;
        line[strcspn(line, "\n")] = '\0';
        if (strstr(line, "runtime error:") || strstr(line, "ERROR: AddressSanitizer") ||
            strstr(line, "ERROR: LeakSanitizer"))
            oc->sanitizer = 1;
        /* allocator_may_return_null=1 (no RLIMIT_AS under ASan) says so: the tool copes */
        if (line[0] == '=' && strstr(line, "WARNING: AddressSanitizer failed to allocate")) {
            oc->lines--;
            continue;
        }
        if (strncmp(line, want, strlen(want)) != 0) {
            oc->foreign++;
            if (!oc->first[0]) snprintf(oc->first, sizeof oc->first, "%.200s", line);
            continue;
        }
        const char *msg = line + strlen(want);
        if (!strncmp(msg, "warning: ", 9) || !strncmp(msg, "info: ", 6)) continue;
        oc->errors++;
        if (!oc->first[0]) snprintf(oc->first, sizeof oc->first, "%.200s", line);
    }
    if (fp) fclose(fp);
}

static const char *verdict(const struct outcome *oc)
{
    if (oc->hang) return "hang";
    if (oc->sanitizer) return "sanitizer report";
    if (oc->signal) return "signal";
    if (oc->status == 0) return NULL;
    if (oc->status > 3) return "exit status";
    if (oc->foreign) return "foreign stderr";
    if (oc->errors == 0) return "silent failure";
    if (oc->errors > 1) return "more than one error line";
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: fuzz BIN_DIR SEED_DIR WORK_DIR CASES SEED [MEM_LIMIT_MB]\n");
        return 2;
    }
    const char *bin = argv[1], *seeds = argv[2], *work = argv[3];
    long cases = atol(argv[4]), mem_mb = argc > 6 ? atol(argv[6]) : 2048;
    uint64_t seed = strtoull(argv[5], NULL, 10);
    int timeout_s = getenv("FUZZ_TIMEOUT") ? atoi(getenv("FUZZ_TIMEOUT")) : 60;
    setvbuf(stdout, NULL, _IOLBF, 0); /* FAIL lines as they come */
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    mkdir(work, 0755);
    int total_weight = 0;
    for (size_t t = 0; t < N_TARGETS; t++) total_weight += targets[t].weight;
    long fails = 0, crashes = 0, by_exit[4] = { 0 }, by_target[N_TARGETS] = { 0 };

    time_t t0 = time(NULL);
    for (long i = 0; i < cases; i++) {
        struct srl_rng r;
        srl_rng_seed(&r, seed * 0x9e3779b97f4a7c15ull + (uint64_t)i);
        int w = (int)pick(&r, (size_t)total_weight);
        size_t ti = 0;
        while (w >= targets[ti].weight) w -= targets[ti++].weight;
        const struct target *t = &targets[ti];
        by_target[ti]++;

        char *dir = path2(work, "case"), *m = path2(dir, "m"), *o = path2(dir, "out");
        char *err = path2(dir, "stderr"), *seed_dir = t->dir ? path2(seeds, t->dir) : NULL;
        char *src = path2(seed_dir ? seed_dir : seeds, t->file);
        char *dst = path2(seed_dir ? m : dir, t->file);
        remove_tree(dir);
        struct buf b = { 0 };
        if (mkdir(dir, 0755) != 0 || (seed_dir && link_dir(seed_dir, m, t->file) != 0) ||
            read_buf(src, &b) < 0) {
            fprintf(stderr, "fuzz: cannot prepare case %ld from %s\n", i, src);
            return 2;
        }
        char desc[1024];
        if (t->kind == SAFETENSORS) mutate_safetensors(&r, &b, desc, sizeof desc);
        else if (t->kind == JSONL) mutate_jsonl(&r, &b, desc, sizeof desc);
        else mutate_some(&r, &b, desc, sizeof desc);
        if (write_buf(dst, &b) < 0) {
            fprintf(stderr, "fuzz: cannot write %s\n", dst);
            return 2;
        }
        free(b.p);

        char *args[32];
        int na = 0;
        args[na++] = path2(bin, t->tool);
        for (int k = 0; t->args[k]; k++) args[na++] = subst(t->args[k], m, dst, seeds, o);
        args[na] = NULL;
        struct outcome oc;
        run(args, err, mem_mb, timeout_s, t->tool, &oc);
        const char *why = verdict(&oc);
        if (oc.status >= 0 && oc.status <= 3 && !oc.signal) by_exit[oc.status]++;
        if (why) {
            fails++;
            crashes += oc.hang || oc.signal || oc.sanitizer;
            printf("FAIL fuzz case %ld (%s; %s): %s", i, t->name, desc, why);
            if (oc.signal) printf(" %d (%s)", oc.signal, strsignal(oc.signal));
            else if (oc.status) printf(" %d", oc.status);
            printf(": %s\n", oc.first);
            char keep[64];
            snprintf(keep, sizeof keep, "fail-%ld", i);
            char *kept = path2(work, keep), *cmd = path2(dir, "cmd.txt");
            FILE *fp = fopen(cmd, "w");
            for (int k = 0; fp && k < na; k++) fprintf(fp, "'%s'%s", args[k], k + 1 < na ? " " : "\n");
            if (fp) fclose(fp);
            remove_tree(kept);
            if (rename(dir, kept) != 0) fprintf(stderr, "fuzz: cannot keep %s\n", kept);
            free(kept), free(cmd);
        }
        for (int k = 0; k < na; k++) free(args[k]);
        free(dir), free(m), free(o), free(err), free(seed_dir), free(src), free(dst);
    }
    char *dir = path2(work, "case");
    remove_tree(dir);
    free(dir);
    printf("  fuzz: %ld cases in %ld s (seed %llu): exit 0 %ld, 1 %ld, 2 %ld, 3 %ld; failures %ld,"
           " of them crashes (signal, sanitizer report or hang) %ld\n", cases,
           (long)(time(NULL) - t0), (unsigned long long)seed, by_exit[0], by_exit[1], by_exit[2],
           by_exit[3], fails, crashes);
    printf("  fuzz: cases per target:");
    for (size_t t = 0; t < N_TARGETS; t++) printf(" %s %ld%s", targets[t].name, by_target[t],
                                                  t + 1 < N_TARGETS ? "," : "\n");
    if (fails == 0)
        printf("PASS fuzz %ld mutated inputs: no signal, every failure one saferlhf error line\n",
               cases);
    return fails ? 1 : 0;
}
