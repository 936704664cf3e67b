/* bench_omp_wait.c -- a training step under each OpenMP wait policy, on an idle machine and
 * beside a competing busy process.
 *
 * libgomp reads OMP_WAIT_POLICY / GOMP_SPINCOUNT when it loads, so each measurement is a child
 * process (this program again, with --child) started with the policy in its environment:
 *   spin     OMP_WAIT_POLICY unset: libgomp's default, idle threads spin up to 300000 rounds
 *            at every barrier before sleeping (what the tools ran with before tool_init set
 *            passive)
 *   passive  OMP_WAIT_POLICY=passive: idle threads sleep at once (the tools' default now)
 * and, for "busy", a process spinning in a loop runs for the whole child run (one more runnable
 * process than the two threads on a two-core machine, as another job would).
 * The step: forward, loss, backward, clipping and AdamW of a random 4-layer Llama (d 256,
 * vocab 8000) on B=4 T=64, median of the timed steps, OpenMP's default thread count.
 *
 * Prints JSON lines on stdout (progress on stderr):
 *   {"bench":"omp_wait","policy":"spin"|"passive","background":"idle"|"busy","threads":..,
 *    "step_s":..}
 *   {"bench":"omp_wait_summary","spin_busy_slowdown":..,"passive_busy_slowdown":..,
 *    "busy_spin_over_passive":..,"idle_spin_over_passive":..,"openblas":..,"loadavg":..}
 *   (slowdown: busy step / idle step; X_over_Y: step time ratio, > 1 means X is slower)
 * The machine may be shared: the 1-minute load average before the runs is printed.
 * Environment: BENCH_QUICK=1 runs fewer steps. */
#include <cblas.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "backend_cpu_internal.h"
#include "config.h"
#include "model.h"
#include "optim.h"
#include "srl.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

enum { B = 4, T = 64, MAX_STEPS = 16 };

/* The child: 2 warm-up steps and `steps` timed ones; prints the median step seconds. */
static int child(int steps)
{
    struct srl_config cfg;
    srl_config_default(&cfg, SRL_ARCH_LLAMA);
    cfg.vocab_size = 8000;
    int err = 0;
    struct srl_model *m = srl_model_new(&cfg, srl_backend_cpu(), &err);
    struct srl_optim *o = NULL;
    struct srl_adamw_hparams hp;
    int32_t tokens[B * T], targets[B * T];
    float mask[B * T];
    double t[MAX_STEPS];
    srl_adamw_defaults(&hp);
    if (!m || srl_optim_for_model(m, &hp, &o) < 0) return 1;
    srl_model_init_random(m, 1234);
    for (int i = 0; i < B * T; i++) {
        tokens[i] = (int32_t)((i * 7919) % cfg.vocab_size);
        targets[i] = (int32_t)((i * 104729 + 1) % cfg.vocab_size);
        mask[i] = 1.0f;
    }
    for (int s = -2; s < steps; s++) {
        float loss;
        double norm, t0 = now();
        if (srl_model_forward(m, tokens, NULL, B, T) < 0 ||
            srl_model_loss(m, targets, mask, &loss) < 0 || srl_model_zero_grad(m) < 0 ||
            srl_model_backward(m) < 0 ||
            srl_optim_clip_step(o, m->params, m->grads, 1.0, 1e-4f, &norm) < 0)
            return 1;
        if (s >= 0) t[s] = now() - t0;
    }
    qsort(t, (size_t)steps, sizeof *t, cmp_double);
    printf("%.6f %d\n", t[steps / 2], omp_get_max_threads());
    srl_optim_free(o);
    srl_model_free(m);
    return 0;
}

/* A process that only spins, until killed. */
static pid_t start_busy(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        volatile unsigned long x = 0;
        for (;;)
            x++;
    }
    return pid;
}

/* Run the child with the policy (NULL: unset) and, if busy, a spinning process beside it.
 * Returns the median step seconds (0 on failure), *threads the child's thread count. */
static double measure(const char *exe, const char *policy, int busy, int steps, int *threads)
{
    char cmd[4300], n[16];
    snprintf(n, sizeof n, "%d", steps);
    snprintf(cmd, sizeof cmd, "'%s' --child %s", exe, n);
    if (policy)
        setenv("OMP_WAIT_POLICY", policy, 1);
    else
        unsetenv("OMP_WAIT_POLICY");
    unsetenv("GOMP_SPINCOUNT");
    pid_t spinner = busy ? start_busy() : 0;
    FILE *p = popen(cmd, "r");
    double s = 0.0;
    if (!p || fscanf(p, "%lf %d", &s, threads) != 2)
        s = 0.0;
    if (p)
        pclose(p);
    if (spinner > 0) {
        kill(spinner, SIGKILL);
        waitpid(spinner, NULL, 0);
    }
    fprintf(stderr, "bench_omp_wait: %s, %s: %.3f s per step\n", policy ? policy : "spin",
            busy ? "busy" : "idle", s);
    return s;
}

int main(int argc, char **argv)
{
    const char *q = getenv("BENCH_QUICK");
    int quick = q && *q && strcmp(q, "0") != 0, steps = quick ? 3 : 5;
    srl_log_set_prog("bench_omp_wait");
    if (argc > 2 && strcmp(argv[1], "--child") == 0)
        return child(atoi(argv[2]) > 0 && atoi(argv[2]) <= MAX_STEPS ? atoi(argv[2]) : 3);
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return 1;
    exe[len] = '\0';
    double load = 0.0;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load) != 1)
            load = 0.0;
        fclose(la);
    }
    /* [policy][background]: interleaved, so a change in the machine's load hits both */
    static const char *const names[2] = {"spin", "passive"};
    double s[2][2];
    int threads = 0;
    for (int busy = 0; busy < 2; busy++)
        for (int pol = 0; pol < 2; pol++)
            s[pol][busy] = measure(exe, pol ? "passive" : NULL, busy, steps, &threads);
    int rc = 0;
    for (int pol = 0; pol < 2; pol++) {
        for (int busy = 0; busy < 2; busy++) {
            printf("{\"bench\":\"omp_wait\",\"policy\":\"%s\",\"background\":\"%s\","
                   "\"threads\":%d,\"steps\":%d,\"step_s\":%.4f}\n", names[pol],
                   busy ? "busy" : "idle", threads, steps, s[pol][busy]);
            rc |= s[pol][busy] <= 0.0;
        }
    }
    if (rc)
        return 1;
    printf("{\"bench\":\"omp_wait_summary\",\"spin_busy_slowdown\":%.2f,"
           "\"passive_busy_slowdown\":%.2f,\"busy_spin_over_passive\":%.2f,"
           "\"idle_spin_over_passive\":%.2f,\"openblas\":\"%s\",\"openblas_core\":\"%s\","
           "\"loadavg\":%.2f}\n",
           s[0][1] / s[0][0], s[1][1] / s[1][0], s[0][1] / s[1][1], s[0][0] / s[1][0],
           srl_cpu_blas_build(), openblas_get_corename(),
           load);
    return 0;
}
