/* trainer_opts.c -- the trainers' shared options: defaults, parsing, help text. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "srl.h"
#include "trainer.h"

void srl_train_opts_default(struct srl_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 1;
    o->batch_size = 16;
    o->grad_accum = 1;
    o->lr = 2e-5;
    o->schedule = SRL_LR_COSINE;
    o->warmup_steps = -1;
    srl_adamw_defaults(&o->adam);
    o->clip = 1.0;
    o->seed = 1234;
    o->save_dtype = SRL_DTYPE_F32;
}

static int num(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int integer(const char *s, long long min, long long max, int64_t *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int invalid(char *why, size_t n, const char *opt, const char *arg, const char *expect)
{
    snprintf(why, n, "invalid --%s '%s' (expected %s)", opt, arg, expect);
    return SRL_EINVAL;
}

int srl_train_opt(struct srl_train_opts *o, int c, const char *arg, char *why, size_t n)
{
    double d;
    int64_t i;
    switch (c) {
    case SRL_TOPT_EPOCHS:
        if (integer(arg, 1, 1000000, &i) < 0) return invalid(why, n, "epochs", arg,
                                                             "a positive integer");
        o->epochs = (int)i;
        return 0;
    case SRL_TOPT_MAX_STEPS:
        if (integer(arg, 0, INT64_MAX / 2, &i) < 0)
            return invalid(why, n, "max-steps", arg, "a non-negative integer");
        o->max_steps = i;
        return 0;
    case SRL_TOPT_BATCH:
        if (integer(arg, 1, 1 << 20, &i) < 0) return invalid(why, n, "batch-size", arg,
                                                             "a positive integer");
        o->batch_size = (int)i;
        return 0;
    case SRL_TOPT_ACCUM:
        if (integer(arg, 1, 1 << 20, &i) < 0) return invalid(why, n, "grad-accum", arg,
                                                             "a positive integer");
        o->grad_accum = (int)i;
        return 0;
    case SRL_TOPT_LR:
        if (num(arg, &d) < 0 || d < 0) return invalid(why, n, "lr", arg,
                                                      "a non-negative number");
        o->lr = d;
        return 0;
    case SRL_TOPT_SCHED:
        if (srl_lr_kind_parse(arg, &o->schedule) < 0)
            return invalid(why, n, "lr-schedule", arg,
                           "cosine, linear, constant or constant_with_warmup");
        return 0;
    case SRL_TOPT_WARMUP_RATIO:
        if (num(arg, &d) < 0 || d < 0 || d > 1)
            return invalid(why, n, "warmup-ratio", arg, "a number from 0 to 1");
        o->warmup_ratio = d;
        return 0;
    case SRL_TOPT_WARMUP_STEPS:
        if (integer(arg, 0, INT64_MAX / 2, &i) < 0)
            return invalid(why, n, "warmup-steps", arg, "a non-negative integer");
        o->warmup_steps = i;
        return 0;
    case SRL_TOPT_WD:
        if (num(arg, &d) < 0 || d < 0) return invalid(why, n, "weight-decay", arg,
                                                      "a non-negative number");
        o->adam.weight_decay = (float)d;
        return 0;
    case SRL_TOPT_CLIP:
        if (num(arg, &d) < 0) return invalid(why, n, "clip", arg, "a number (<= 0: off)");
        o->clip = d;
        return 0;
    case SRL_TOPT_BETA1:
    case SRL_TOPT_BETA2:
        if (num(arg, &d) < 0 || d < 0 || d >= 1)
            return invalid(why, n, c == SRL_TOPT_BETA1 ? "adam-beta1" : "adam-beta2", arg,
                           "a number in [0, 1)");
        if (c == SRL_TOPT_BETA1) o->adam.beta1 = (float)d;
        else o->adam.beta2 = (float)d;
        return 0;
    case SRL_TOPT_EPS:
        if (num(arg, &d) < 0 || d <= 0) return invalid(why, n, "adam-eps", arg,
                                                       "a positive number");
        o->adam.eps = (float)d;
        return 0;
    case SRL_TOPT_EVAL_EVERY:
    case SRL_TOPT_SAVE_EVERY:
    case SRL_TOPT_STOP_AFTER:
        if (integer(arg, 0, INT64_MAX / 2, &i) < 0)
            return invalid(why, n, c == SRL_TOPT_EVAL_EVERY ? "eval-every"
                                   : c == SRL_TOPT_SAVE_EVERY ? "save-every" : "stop-after",
                           arg, "a non-negative integer");
        if (c == SRL_TOPT_EVAL_EVERY) o->eval_every = i;
        else if (c == SRL_TOPT_SAVE_EVERY) o->save_every = i;
        else o->stop_after = i;
        return 0;
    case SRL_TOPT_LOG:
        o->log_path = arg;
        return 0;
    case SRL_TOPT_DTYPE:
        if (srl_dtype_parse(arg, &o->save_dtype) < 0 || o->save_dtype > SRL_DTYPE_F16)
            return invalid(why, n, "dtype", arg, "float32, bfloat16 or float16");
        return 0;
    default: return 1;
    }
}

void srl_train_help(FILE *fp, const struct srl_train_opts *o)
{
    fprintf(fp,
            "Training options:\n"
            "      --epochs N        passes over the data [%d]\n"
            "      --max-steps N     optimiser steps, overriding --epochs [0: from --epochs]\n"
            "      --batch-size N    examples per micro-batch [%d]\n"
            "      --grad-accum N    micro-batches per optimiser step [%d]\n"
            "      --lr LR           peak learning rate [%g]\n"
            "      --lr-schedule S   cosine, linear, constant or constant_with_warmup [%s]\n"
            "      --warmup-ratio R  warm-up steps as a fraction of all steps [%g]\n"
            "      --warmup-steps N  warm-up steps, overriding --warmup-ratio\n"
            "      --weight-decay W  AdamW decoupled weight decay [%g]\n"
            "      --clip NORM       global gradient-norm clip, 0 for none [%g]\n"
            "      --adam-beta1 B    [%g]\n"
            "      --adam-beta2 B    [%g]\n"
            "      --adam-eps E      [%g]\n"
            "      --eval-every N    evaluate every N steps and at the end [0: at the end]\n"
            "      --save-every N    write a resumable checkpoint every N steps [0: at the end]\n"
            "      --stop-after N    stop after N steps with a resumable checkpoint (for jobs\n"
            "                        under a time limit; continue with --resume) [0: never]\n"
            "      --log FILE        append one JSON object per step to FILE\n"
            "      --dtype DTYPE     float32, bfloat16 or float16 weights in checkpoints\n"
            "                        [float32; resuming is exact only from float32]\n\n",
            o->epochs, o->batch_size, o->grad_accum, o->lr, srl_lr_kind_name(o->schedule),
            o->warmup_ratio, (double)o->adam.weight_decay, o->clip, (double)o->adam.beta1,
            (double)o->adam.beta2, (double)o->adam.eps);
}
