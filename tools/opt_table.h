/* opt_table.h -- options described by a table: name, value kind, where the value goes (an
 * offset into the tool's options struct), its range and its help line.  One table gives the
 * struct option entries, the checked parsing with one error message per kind, and the help
 * lines with the defaults, so an option shared by several tools behaves the same in all. */
#ifndef SRL_OPT_TABLE_TOOL_H
#define SRL_OPT_TABLE_TOOL_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

enum opt_kind {
    OPT_INT,     /* int */
    OPT_INT64,   /* int64_t */
    OPT_FLOAT,   /* float */
    OPT_DOUBLE,  /* double */
    OPT_STRING,  /* const char * (the argument itself) */
    OPT_LR_KIND, /* enum srl_lr_kind: cosine, linear, constant, constant_with_warmup */
    OPT_DTYPE,   /* enum srl_dtype: float32, bfloat16 or float16 */
};

#define OPT_INF 1e300

struct opt_def {
    const char *name;    /* long option, without "--" */
    const char *metavar; /* "N", "X", ...: the help line's argument */
    enum opt_kind kind;
    size_t offset;       /* of the value in the options struct */
    double min, max;     /* inclusive range of a number; +-OPT_INF: no bound */
    const char *help;    /* text of the help line ("\n" continues it on the next line) */
    const char *dflt;    /* default shown: NULL the value in the defaults struct, "" none */
};

/* Fill out[0..n) with the struct option entries of defs (codes first_code + i).  Returns n. */
int opt_defs_longopts(const struct opt_def *defs, int n, int first_code, struct option *out);

/* Parse arg into base for defs[i].  Returns 0, or SRL_EXIT_USAGE with the message
 * "invalid --NAME 'ARG' (expected ...)" printed. */
int opt_def_parse(const struct opt_def *d, void *base, const char *arg);

/* Help lines of defs: "      --NAME METAVAR" padded to column col, the help text, and the
 * default of *defaults in brackets. */
void opt_defs_help(FILE *fp, const struct opt_def *defs, int n, const void *defaults, int col);

#endif
