/* The CUDA backend's private header: the context, error checks, scratch and staging, and
 * the kernels' entry points shared between the .cu files. Compiled by nvcc only. */
#ifndef GTA_BACKEND_CUDA_INT_H
#define GTA_BACKEND_CUDA_INT_H

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "backend/backend.h"
}

/* device scratch slots (grown, kept between calls) */
enum { CS_HEAD_X, CS_HEAD_LG, CS_HEAD_DX, CS_HEAD_IDX, CS_PART, CS_IDX, CS_SAMPLE, CS_ATT, CS_NSLOT };

struct gta_ctx {
    int dev;
    cudaStream_t st;
    cublasLtHandle_t lt;
    void *lt_ws;
    size_t lt_ws_bytes;
    int math; /* products: 0 fp32, 1 bfloat16 with fp32 accumulation, 2 tf32 (GTA_CUDA_MATH) */
    /* cuBLASLt's choice for each product shape seen (a heuristic query costs tens of us) */
    struct gemm_algo {
        int key[12];
        cublasLtMatmulAlgo_t algo;
    } algos[128];
    int nalgos;
    size_t head_chunk; /* logits per head chunk; 0: the default */
    void *buf[CS_NSLOT];
    size_t cap[CS_NSLOT];
};

/* abort with the CUDA error's text (an op has no error return: like running out of host
 * memory on the CPU backend) */
void cu_fail(const char *what, const char *msg, const char *file, int line);
#define CU(x)                                                                                                \
    do {                                                                                                     \
        cudaError_t e_ = (x);                                                                                \
        if (e_ != cudaSuccess) cu_fail(#x, cudaGetErrorString(e_), __FILE__, __LINE__);                      \
    } while (0)
#define KCHECK() CU(cudaGetLastError())

void *cu_scratch(gta_ctx *c, int slot, size_t bytes);
void cu_scratch_free(gta_ctx *c);
/* a host array into a device scratch slot, on the stream (the host array may be reused
 * when this returns: pageable copies are staged by the driver) */
void *cu_stage(gta_ctx *c, int slot, const void *host, size_t bytes);

static inline unsigned cu_blocks(size_t n, unsigned threads) {
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 65535u * 16 ? 65535u * 16 : b);
}

/* Row-major C[M,N] = alpha op(A) op(B) + beta C (op: transpose when t*), fp32 storage;
 * products fp32, or bf16 with fp32 accumulation when the context asks (cuBLASLt). */
void cu_gemm(gta_ctx *c, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);

/* column sums: dst[col] += sum_r src[r, col] * (x ? x[r, col] : 1) * (rstd ? rstd[r] : 1), where
 * element (r, col) sits at (r / nh) * stride + (r % nh) * width + col; rows summed in
 * fixed blocks in a fixed order (deterministic) */
void cu_colsum(gta_ctx *c, float *dst, const float *src, const float *x, const float *rstd, int rows, int nh,
               int width, int stride);

/* per-file entry points (the table is filled in cuda_backend.cu) */
void cu_embed(gta_ctx *c, float *x, const float *table, const int *ids, int n, int d);
void cu_embed_backward(gta_ctx *c, float *dtable, const float *dx, const int *ids, int n, int d);
void cu_rmsnorm(gta_ctx *c, float *y, float *rstd, const float *x, const float *w, int n, int d, float eps);
void cu_rmsnorm_apply(gta_ctx *c, float *y, const float *x, const float *rstd, const float *w, int n, int d);
void cu_rmsnorm_backward(gta_ctx *c, float *dx, float *dw, const float *dy, const float *x, const float *rstd,
                         const float *w, int n, int d, int accumulate);
void cu_headnorm(gta_ctx *c, float *x, float *rstd, const float *w, int n, int nheads, int hd, int stride,
                 float eps, const float *src);
void cu_headnorm_backward(gta_ctx *c, float *dx, float *dw, const float *dy, const float *xin,
                          const float *rstd, const float *w, int n, int nheads, int hd, int stride);
void cu_rope_table(gta_ctx *c, float *cs, const int *pos, const float *inv_freq, int n, int hd);
void cu_rope(gta_ctx *c, float *x, const float *cs, int n, int nheads, int hd, int stride, int sign);
void cu_scatter_rows(gta_ctx *c, float *dst, int ldd, const float *src, int lds, const int *idx, int n,
                     int width);
void cu_gather_rows(gta_ctx *c, float *dst, int ldd, const float *src, int lds, const int *idx, int n,
                    int width);
void cu_swiglu(gta_ctx *c, float *h, const float *gu, int n, int f);
void cu_swiglu_backward(gta_ctx *c, float *dgu, const float *dh, const float *gu, int n, int f);
void cu_add(gta_ctx *c, float *y, const float *a, const float *b, size_t n);
void cu_bias_rows(gta_ctx *c, float *y, const float *b, int n, int out, int overwrite);
void cu_to_bf16(gta_ctx *c, uint16_t *dst, const float *src, size_t n);
void cu_from_bf16(gta_ctx *c, float *dst, const uint16_t *src, size_t n);
/* LoRA's dropout (cuda_lora.cu): backend.h's dropout op */
void cu_dropout(gta_ctx *c, float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t stream);
void cu_linear_bf16w(gta_ctx *c, float *y, const float *x, const uint16_t *w, const float *b, int n, int in,
                     int out, float beta);

void cu_attention(gta_ctx *c, float *out, float *lse, const float *qkv, const gta_segs *s, int n, int H,
                  int KV, int hd);
void cu_attention_backward(gta_ctx *c, float *dqkv, const float *dout, const float *out, const float *lse,
                           const float *qkv, const gta_segs *s, int n, int H, int KV, int hd);
void cu_attention_decode(gta_ctx *c, float *out, const float *q, int ldq, const float *kc, const float *vc,
                         const int *rs, const int *rl, int nr, int B, int H, int KV, int hd);

size_t cu_head_scratch_bytes(const gta_ctx *c, int nlp, int d, int V, int backward);
void cu_logprob_head(gta_ctx *c, float *lp, float *dlp_out, const float *dlp_in, gta_dlp_fn fn, void *fctx,
                     float *dx, float *dw, const float *x, const float *w, const int *row, const int *target,
                     int nlp, int n, int d, int V);

void cu_sample(gta_ctx *c, const float *logits, int V, int n, const int *row, const gta_draw *p,
               const double *u, int *tok, float *lp);
size_t cu_sample_bytes(int V);

void cu_dot3(gta_ctx *c, size_t n, const float *a, const float *b, double *dot, double *na, double *nb);
double cu_sumsq(gta_ctx *c, size_t n, const float *a);
void cu_axpby(gta_ctx *c, size_t n, float alpha, const float *x, float beta, float *y);
void cu_scale(gta_ctx *c, size_t n, float s, float *x);
void cu_adamw(gta_ctx *c, size_t n, float *p, const float *g, float *m, float *v, float b1, float b2,
              float step_size, float inv_bc2_sqrt, float eps, float keep);
void cu_fill_normal(gta_ctx *c, float *x, size_t n, uint64_t seed, uint64_t stream, double std);
void cu_fill(gta_ctx *c, float *x, size_t n, float v);
double cu_peak_gflops(gta_ctx *c);

/* warp and block reductions */
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ double warp_sumd(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
/* every thread of the block gets the sum (blockDim.x a multiple of 32, at most 1024) */
__device__ __forceinline__ double block_sumd(double v, double *sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sumd(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    double t = lane < nw ? sh[lane] : 0.0;
    t = warp_sumd(t);
    return t;
}
__device__ __forceinline__ float block_maxf(float v, float *sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    float t = lane < nw ? sh[lane] : -INFINITY;
    return warp_max(t);
}

#endif
