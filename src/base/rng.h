/* Counter-based random numbers: a draw is a pure function of (seed, stream, counter), so
 * a sample's randomness does not depend on what else runs in the batch or on threads. */
#ifndef GTA_BASE_RNG_H
#define GTA_BASE_RNG_H

#include <stdint.h>

uint64_t gta_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter);
/* Uniform in [0, 1) with 53 random bits. */
double gta_rng_uniform(uint64_t seed, uint64_t stream, uint64_t counter);
/* Standard normal (Box-Muller over counters 2c and 2c+1). */
double gta_rng_normal(uint64_t seed, uint64_t stream, uint64_t counter);

#endif
