/* Vector ops of the optimizer and the gate (dot3 and sumsq in double over fixed blocks
 * combined in a fixed order, so results repeat bit for bit), AdamW, the counter-based
 * normal fill of src/base/rng.c, and the measured fp32 FMA peak. */
#include <math.h>
#include <stdlib.h>

#include "backend/cuda/cuda_int.h"

#define GRID_STRIDE(i, n)                                                                                    \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                                  \
         i += (size_t)gridDim.x * blockDim.x)

/* ---------------------------------------------------------------- reductions */

#define DOT_BLOCK 65536

__global__ void k_dot3_part(double *part, size_t n, const float *a, const float *b) {
    __shared__ double sh[32];
    size_t i0 = (size_t)blockIdx.x * DOT_BLOCK, i1 = i0 + DOT_BLOCK < n ? i0 + DOT_BLOCK : n;
    double d = 0, sa = 0, sb = 0;
    for (size_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) {
        double x = a[i], y = b[i];
        d += x * y;
        sa += x * x;
        sb += y * y;
    }
    d = block_sumd(d, sh);
    sa = block_sumd(sa, sh);
    sb = block_sumd(sb, sh);
    if (threadIdx.x == 0) {
        part[3 * (size_t)blockIdx.x] = d;
        part[3 * (size_t)blockIdx.x + 1] = sa;
        part[3 * (size_t)blockIdx.x + 2] = sb;
    }
}

__global__ void k_dot3_final(double *out, const double *part, size_t nb) {
    double d = 0, sa = 0, sb = 0;
    for (size_t b = 0; b < nb; b++) d += part[3 * b], sa += part[3 * b + 1], sb += part[3 * b + 2];
    out[0] = d, out[1] = sa, out[2] = sb;
}

void cu_dot3(gta_ctx *c, size_t n, const float *a, const float *b, double *dot, double *na, double *nb) {
    double r[3] = {0, 0, 0};
    if (n) {
        size_t nbk = (n + DOT_BLOCK - 1) / DOT_BLOCK;
        double *part = (double *)cu_scratch(c, CS_PART, sizeof(double) * (3 * nbk + 3)),
               *out = part + 3 * nbk;
        k_dot3_part<<<(unsigned)nbk, 512, 0, c->st>>>(part, n, a, b);
        k_dot3_final<<<1, 1, 0, c->st>>>(out, part, nbk);
        KCHECK();
        CU(cudaMemcpyAsync(r, out, sizeof r, cudaMemcpyDeviceToHost, c->st));
        CU(cudaStreamSynchronize(c->st));
    }
    *dot = r[0];
    if (na) *na = r[1];
    if (nb) *nb = r[2];
}

double cu_sumsq(gta_ctx *c, size_t n, const float *a) {
    double d, na;
    cu_dot3(c, n, a, a, &d, &na, NULL);
    return na;
}

/* ---------------------------------------------------------------- element-wise */

__global__ void k_axpby(size_t n, float alpha, const float *x, float beta, float *y) {
    if (beta == 0.0f) {
        GRID_STRIDE(i, n) y[i] = alpha * x[i];
    } else {
        GRID_STRIDE(i, n) y[i] = alpha * x[i] + beta * y[i];
    }
}

void cu_axpby(gta_ctx *c, size_t n, float alpha, const float *x, float beta, float *y) {
    if (!n) return;
    k_axpby<<<cu_blocks(n, 256), 256, 0, c->st>>>(n, alpha, x, beta, y);
    KCHECK();
}

__global__ void k_scale(size_t n, float s, float *x) { GRID_STRIDE(i, n) x[i] *= s; }

void cu_scale(gta_ctx *c, size_t n, float s, float *x) {
    if (!n) return;
    k_scale<<<cu_blocks(n, 256), 256, 0, c->st>>>(n, s, x);
    KCHECK();
}

__global__ void k_adamw(size_t n, float *p, const float *g, float *m, float *v, float b1, float b2,
                        float step_size, float inv_bc2_sqrt, float eps, float keep) {
    GRID_STRIDE(i, n) {
        float pi = p[i] * keep, gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * mi / (sqrtf(vi) * inv_bc2_sqrt + eps);
    }
}

void cu_adamw(gta_ctx *c, size_t n, float *p, const float *g, float *m, float *v, float b1, float b2,
              float step_size, float inv_bc2_sqrt, float eps, float keep) {
    if (!n) return;
    k_adamw<<<cu_blocks(n, 256), 256, 0, c->st>>>(n, p, g, m, v, b1, b2, step_size, inv_bc2_sqrt, eps, keep);
    KCHECK();
}

/* src/base/rng.c on the device: SplitMix64's finalizer chained over seed, stream, counter;
 * Box-Muller over counters 2k and 2k + 1, in double */
__device__ __forceinline__ uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
__device__ __forceinline__ double uni(uint64_t seed, uint64_t stream, uint64_t k) {
    return (double)(mix(mix(mix(seed) ^ stream) ^ k) >> 11) * (1.0 / 9007199254740992.0);
}

__global__ void k_fill_normal(float *x, size_t n, uint64_t seed, uint64_t stream, double std) {
    GRID_STRIDE(k, n) {
        double u1 = uni(seed, stream, 2 * (uint64_t)k), u2 = uni(seed, stream, 2 * (uint64_t)k + 1);
        if (u1 < 1e-300) u1 = 1e-300;
        x[k] = (float)(std * (sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2)));
    }
}

void cu_fill_normal(gta_ctx *c, float *x, size_t n, uint64_t seed, uint64_t stream, double std) {
    if (!n) return;
    k_fill_normal<<<cu_blocks(n, 256), 256, 0, c->st>>>(x, n, seed, stream, std);
    KCHECK();
}

__global__ void k_fill(float *x, size_t n, float v) { GRID_STRIDE(k, n) x[k] = v; }

void cu_fill(gta_ctx *c, float *x, size_t n, float v) {
    if (!n) return;
    k_fill<<<cu_blocks(n, 256), 256, 0, c->st>>>(x, n, v);
    KCHECK();
}

/* ---------------------------------------------------------------- the machine */

__global__ void k_fma(float *out, long iters) {
    float a[8], b = 0.999999f, cc = 1e-7f;
    for (int i = 0; i < 8; i++) a[i] = (float)(threadIdx.x + i);
    for (long k = 0; k < iters; k++)
#pragma unroll
        for (int i = 0; i < 8; i++) a[i] = fmaf(a[i], b, cc);
    float s = 0;
    for (int i = 0; i < 8; i++) s += a[i];
    if (s == 12345.678f) out[0] = s; /* keeps the loop */
}

/* the measured fp32 FMA rate of the device (GFLOP/s); with c NULL on a stream of its own */
double cu_peak_gflops(gta_ctx *c) {
    cudaStream_t st = c ? c->st : 0;
    int dev = 0, sms = 1;
    CU(cudaGetDevice(&dev));
    CU(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    float *sink;
    CU(cudaMalloc(&sink, sizeof(float)));
    cudaEvent_t e0, e1;
    CU(cudaEventCreate(&e0));
    CU(cudaEventCreate(&e1));
    long iters = 1 << 16;
    unsigned blocks = (unsigned)sms * 8, th = 256;
    k_fma<<<blocks, th, 0, st>>>(sink, 256); /* warm-up */
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        CU(cudaEventRecord(e0, st));
        k_fma<<<blocks, th, 0, st>>>(sink, iters);
        CU(cudaEventRecord(e1, st));
        CU(cudaEventSynchronize(e1));
        float ms = 0;
        CU(cudaEventElapsedTime(&ms, e0, e1));
        double flops = 2.0 * 8 * (double)iters * blocks * th;
        if (ms > 0 && flops / (ms * 1e-3) > best) best = flops / (ms * 1e-3);
    }
    KCHECK();
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    CU(cudaFree(sink));
    return best / 1e9;
}
