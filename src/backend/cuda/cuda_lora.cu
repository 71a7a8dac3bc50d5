/* LoRA's ops on the device: the dropout on the adapters' input (backend.h's dropout). The
 * general product is cu_gemm itself. */
#include "backend/cuda/cuda_int.h"

/* src/base/rng.c's gta_rng_uniform on the device (as in cuda_vec.cu): SplitMix64's
 * finalizer chained over seed, stream, counter; 53 bits */
__device__ __forceinline__ static uint64_t lmix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
__device__ __forceinline__ static double luni(uint64_t seed, uint64_t stream, uint64_t k) {
    return (double)(lmix(lmix(lmix(seed) ^ stream) ^ k) >> 11) * (1.0 / 9007199254740992.0);
}

/* y[k] = x[k] / (1 - p) where uniform(seed, stream, k) >= p, else 0: the CPU backend's mask */
__global__ void k_dropout(float *y, const float *x, size_t n, float p, float keep, uint64_t seed,
                          uint64_t stream) {
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x)
        y[k] = luni(seed, stream, (uint64_t)k) >= (double)p ? x[k] * keep : 0.0f;
}

void cu_dropout(gta_ctx *c, float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t stream) {
    if (!n) return;
    k_dropout<<<cu_blocks(n, 256), 256, 0, c->st>>>(y, x, n, p, 1.0f / (1.0f - p), seed, stream);
    KCHECK();
}
