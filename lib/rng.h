/* rng.h -- a small deterministic random number generator shared by initialisation, data
 * shuffling, dropout-free training and sampling.
 *
 * xoshiro256** (Blackman & Vigna) seeded through splitmix64, so any 64-bit seed gives a good
 * state; normals by Box-Muller (both values of a pair are used).  The state is plain data:
 * save the struct to resume a run bit for bit. */
#ifndef SRL_RNG_H
#define SRL_RNG_H

#include <stdint.h>

struct srl_rng {
    uint64_t s[4];
    double spare;   /* second Box-Muller value */
    int has_spare;
};

void srl_rng_seed(struct srl_rng *r, uint64_t seed);
uint64_t srl_rng_u64(struct srl_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double srl_rng_uniform(struct srl_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t srl_rng_below(struct srl_rng *r, uint64_t n);
/* Standard normal. */
double srl_rng_normal(struct srl_rng *r);

#endif
