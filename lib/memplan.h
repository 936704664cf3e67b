/* memplan.h -- the memory a training run needs on each rank, from the models' shapes (no
 * weights loaded: a 7B plan is computed on a laptop).  The trainers' --dry-run prints it.
 *
 * Per rank, in bytes (float32 everywhere, as the backends hold them):
 *   parameters   every model's arena (each rank holds all weights: ZeRO-1 shards only moments)
 *   gradients    the trained models' gradient arenas
 *   moments      AdamW's two moments of the trained models: 2 x parameters, divided among the
 *                ranks with ZeRO-1 (the largest shard, lib/dist.h)
 *   activations  the forward/backward arena of one micro-batch (srl_model_act_floats: every
 *                layer's saved activations, attention probabilities, logits, backward scratch),
 *                one per model (each keeps its own)
 *   kv_cache     generation's K and V of every layer for rows x (prompt + new tokens) slots
 *   checkpoint   the host copy of the full moments while rank 0 writes optimizer.safetensors
 *                (the largest trained model's: they are written one after another)
 * What it leaves out: the data set and tokenizer, the BLAS and OpenMP buffers, the decoding
 * scratch (tests/cli/dryrun.sh measures the rest against peak RSS). */
#ifndef SRL_MEMPLAN_H
#define SRL_MEMPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model.h"
#include "ppo_trainer.h"

struct srl_mem_plan {
    int ranks, zero_stage;
    double params, grads, moments, activations, kv_cache, checkpoint; /* bytes per rank */
};

/* The shape (srl_model_new with no backend) of the model whose config is PATH: a config.json
 * or a checkpoint directory holding one; head >= 0 replaces its head (a reward model from an
 * LM checkpoint).  Returns 0 and *out (srl_model_free) or SRL_E* (logged). */
int srl_model_shape_load(const char *path, int head, struct srl_model **out);

/* Add one model: trained (gradients and moments) or frozen, its largest forward of batch rows of
 * len tokens (0: none), and a KV cache of kv_rows x kv_len slots (0: none).  shape may come
 * from srl_model_new(cfg, NULL, ...). */
void srl_mem_plan_add(struct srl_mem_plan *p, const struct srl_model *shape, bool trained,
                      int batch, int len, int kv_rows, int kv_len);
double srl_mem_plan_total(const struct srl_mem_plan *p);
/* PPO-Lagrangian's plan: the actor and both critics trained, the reference and the reward and
 * cost models frozen; per rank: rollout_batch_size x num_return_sequences / ranks rows of
 * prompt + new tokens (scoring forwards, the KV cache of generation), and the minibatch of
 * the updates.  Returns 0 or SRL_E* (a config that cannot be read). */
int srl_ppo_mem_plan(const struct srl_ppo_train_opts *o, struct srl_mem_plan *p);

/* The plan as lines "  parameters   123.4 MiB" ... "  total ...", after a title line. */
void srl_mem_plan_print(FILE *fp, const struct srl_mem_plan *p, const char *what);

#endif
