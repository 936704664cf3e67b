/* test_ref.h -- reading the tensors of the PyTorch reference fixtures
 * (scripts/make_*reference.py) in the unit tests. */
#ifndef SRL_TEST_REF_H
#define SRL_TEST_REF_H

#include <stdio.h>
#include <stdlib.h>

#include "safetensors.h"

/* A new fp32 copy (free() it) of the tensor name of f, which must have n elements; NULL, with a
 * line saying why, when f is NULL or the tensor is missing or of another size. */
static inline float *test_ref_get(const struct srl_st_file *f, const char *name, size_t n)
{
    const struct srl_st_tensor *t = f ? srl_st_find(f, name) : NULL;
    if (!t || t->numel != n) {
        printf("  reference tensor %s %s\n", name, t ? "has the wrong size" : "is missing");
        return NULL;
    }
    float *x = malloc(n * sizeof *x);
    if (x)
        srl_st_to_f32(t, x);
    return x;
}

#endif
