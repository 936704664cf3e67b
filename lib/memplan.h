/* memplan.h -- the memory a training run needs on each rank, from the models' shapes (no
 * weights loaded: a 7B plan is computed on a laptop).  The trainers' --dry-run prints it.
 *
 * Per rank, in bytes (float32 everywhere, as the backends hold them):
 *   parameters   every model's arena (each rank holds all weights: ZeRO-1 shards only moments)
 *   gradients    the trained models' gradient arenas
 *   moments      AdamW's two moments of the trained models: 2 x parameters, divided among the
 *                ranks with ZeRO-1 (the largest shard, lib/dist.h)
 *   activations  the forward/backward arena of one micro-batch (srl_model_act_floats: every
 *                layer's saved activations, attention probabilities, logits, backward scratch)
 *   kv_cache     generation's K and V of every layer for rows x (prompt + new tokens) slots
 * What it leaves out: the data set and tokenizer, the BLAS and OpenMP buffers, the decoding
 * scratch, the host copies made while writing a checkpoint (up to 2 x moments on rank 0). */
#ifndef SRL_MEMPLAN_H
#define SRL_MEMPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model.h"

struct srl_mem_plan {
    int ranks, zero_stage;
    double params, grads, moments, activations, kv_cache; /* bytes per rank */
};

/* Add one model: trained (gradients and moments) or frozen, its largest forward of batch rows of
 * len tokens (0: none), and a KV cache of kv_rows x kv_len slots (0: none).  shape may come
 * from srl_model_new(cfg, NULL, ...). */
void srl_mem_plan_add(struct srl_mem_plan *p, const struct srl_model *shape, bool trained,
                      int batch, int len, int kv_rows, int kv_len);
double srl_mem_plan_total(const struct srl_mem_plan *p);
/* The plan as lines "  parameters   123.4 MiB" ... "  total ...", after a title line. */
void srl_mem_plan_print(FILE *fp, const struct srl_mem_plan *p, const char *what);

#endif
