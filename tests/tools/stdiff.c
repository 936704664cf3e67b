/* stdiff.c -- compare two safetensors files tensor by tensor, for the tests that check a run
 * against another (ranks against one process, ZeRO against plain AdamW).
 * Usage: stdiff A B [ATOL [RTOL]]   prints "max_abs X max_rel Y tensors N" and exits 0 when
 * every element has |a - b| <= ATOL + RTOL |b| (default 0 0: bitwise equal values), 1 when not,
 * 2 on a missing tensor or a shape mismatch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "safetensors.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: stdiff A B [ATOL [RTOL]]\n");
        return 2;
    }
    double atol = argc > 3 ? atof(argv[3]) : 0, rtol = argc > 4 ? atof(argv[4]) : 0;
    int err = 0, ret = 0;
    struct srl_st_file *a = srl_st_open(argv[1], &err), *b = srl_st_open(argv[2], &err);
    if (!a || !b) return 2;
    double max_abs = 0, max_rel = 0;
    size_t n = srl_st_count(a);
    if (srl_st_count(b) != n) {
        fprintf(stderr, "stdiff: %zu tensors against %zu\n", n, srl_st_count(b));
        return 2;
    }
    for (size_t i = 0; i < n && ret != 2; i++) {
        const struct srl_st_tensor *x = srl_st_get(a, i), *y = srl_st_find(b, x->name);
        if (!y || y->numel != x->numel) {
            fprintf(stderr, "stdiff: %s missing or of another size in %s\n", x->name, argv[2]);
            ret = 2;
            break;
        }
        float *u = malloc((x->numel + 1) * sizeof *u), *v = malloc((x->numel + 1) * sizeof *v);
        if (!u || !v || srl_st_to_f32(x, u) < 0 || srl_st_to_f32(y, v) < 0) return 2;
        for (size_t k = 0; k < x->numel; k++) {
            double d = fabs((double)u[k] - v[k]), r = d / (fabs(v[k]) + 1e-30);
            if (d > max_abs) max_abs = d;
            if (d > 0 && r > max_rel) max_rel = r;
            if (!(d <= atol + rtol * fabs(v[k]))) ret = ret ? ret : 1;
        }
        free(u);
        free(v);
    }
    printf("max_abs %.3g max_rel %.3g tensors %zu\n", max_abs, max_rel, n);
    srl_st_close(a);
    srl_st_close(b);
    return ret;
}
