/* opt_table.c -- options described by a table: entries, parsing, help.  See opt_table.h. */
#include "opt_table.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dtype.h"
#include "optim.h"
#include "tool.h"

int opt_defs_longopts(const struct opt_def *defs, int n, int first_code, struct option *out)
{
    for (int i = 0; i < n; i++)
        out[i] = (struct option){ defs[i].name, required_argument, NULL, first_code + i };
    return n;
}

/* "an integer from 1 to 1024", "a number >= 0", ... for the error message. */
static void expected(const struct opt_def *d, char *buf, size_t n)
{
    const char *what = d->kind == OPT_INT || d->kind == OPT_INT64 ? "an integer" : "a number";
    bool has_min = d->min > -OPT_INF, has_max = d->max < OPT_INF;
    if (has_min && has_max) snprintf(buf, n, "%s from %g to %g", what, d->min, d->max);
    else if (has_min) snprintf(buf, n, "%s >= %g", what, d->min);
    else snprintf(buf, n, "%s", what);
}

int opt_def_parse(const struct opt_def *d, void *base, const char *arg)
{
    void *p = (char *)base + d->offset;
    char expect[96];
    double x;
    long v;
    switch (d->kind) {
    case OPT_STRING: *(const char **)p = arg; return 0;
    case OPT_LR_KIND:
        if (srl_lr_kind_parse(arg, (enum srl_lr_kind *)p) == 0) return 0;
        return usage_error("invalid --%s '%s' (expected cosine, linear, constant or "
                           "constant_with_warmup)", d->name, arg);
    case OPT_DTYPE: {
        enum srl_dtype dt;
        if (srl_dtype_parse(arg, &dt) == 0 && dt <= SRL_DTYPE_F16) {
            *(enum srl_dtype *)p = dt;
            return 0;
        }
        return usage_error("invalid --%s '%s' (expected float32, bfloat16 or float16)", d->name,
                           arg);
    }
    case OPT_INT:
    case OPT_INT64:
        if (parse_int(arg, (long)d->min, d->max < OPT_INF ? (long)d->max : LONG_MAX / 2, &v) < 0)
            break;
        if (d->kind == OPT_INT) *(int *)p = (int)v;
        else *(int64_t *)p = v;
        return 0;
    case OPT_FLOAT:
    case OPT_DOUBLE:
        if (parse_float(arg, &x) < 0 || !(x >= d->min && x <= d->max)) break;
        if (d->kind == OPT_FLOAT) *(float *)p = (float)x;
        else *(double *)p = x;
        return 0;
    }
    expected(d, expect, sizeof expect);
    return usage_error("invalid --%s '%s' (expected %s)", d->name, arg, expect);
}

static void print_default(FILE *fp, const struct opt_def *d, const void *defaults)
{
    const void *p = (const char *)defaults + d->offset;
    if (d->dflt) {
        if (*d->dflt) fprintf(fp, " [%s]", d->dflt);
        return;
    }
    switch (d->kind) {
    case OPT_INT: fprintf(fp, " [%d]", *(const int *)p); break;
    case OPT_INT64: fprintf(fp, " [%lld]", (long long)*(const int64_t *)p); break;
    case OPT_FLOAT: fprintf(fp, " [%g]", (double)*(const float *)p); break;
    case OPT_DOUBLE: fprintf(fp, " [%g]", *(const double *)p); break;
    case OPT_STRING: break;
    case OPT_LR_KIND: fprintf(fp, " [%s]", srl_lr_kind_name(*(const enum srl_lr_kind *)p)); break;
    case OPT_DTYPE: fprintf(fp, " [%s]", srl_dtype_name(*(const enum srl_dtype *)p)); break;
    }
}

void opt_defs_help(FILE *fp, const struct opt_def *defs, int n, const void *defaults, int col)
{
    for (int i = 0; i < n; i++) {
        const struct opt_def *d = &defs[i];
        int w = fprintf(fp, "      --%s %s", d->name, d->metavar);
        fprintf(fp, "%*s", w < col ? col - w : 1, "");
        for (const char *s = d->help; *s; s++) { /* continuation lines indented to col */
            fputc(*s, fp);
            if (*s == '\n') fprintf(fp, "%*s", col, "");
        }
        print_default(fp, d, defaults);
        fputc('\n', fp);
    }
}
