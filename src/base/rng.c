#include "base/rng.h"

#include <math.h>

/* SplitMix64's finalizer: a bijective mixer with full avalanche; chaining it over the
 * three inputs gives independent-looking streams for every (seed, stream). */
static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t gta_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter) {
    return mix(mix(mix(seed) ^ stream) ^ counter);
}

double gta_rng_uniform(uint64_t seed, uint64_t stream, uint64_t counter) {
    return (double)(gta_rng_u64(seed, stream, counter) >> 11) * (1.0 / 9007199254740992.0);
}

double gta_rng_normal(uint64_t seed, uint64_t stream, uint64_t counter) {
    double u1 = gta_rng_uniform(seed, stream, 2 * counter), u2 = gta_rng_uniform(seed, stream, 2 * counter + 1);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
