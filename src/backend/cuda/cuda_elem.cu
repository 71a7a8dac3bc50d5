/* Row-wise and element-wise kernels: embedding, RMSNorm and the q/k head norms, RoPE,
 * row scatter/gather, SwiGLU, the residual add, biases, deterministic column sums, bf16
 * conversion and the bf16-weight product of decoding. Semantics: cpu_ops.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_int.h"

#define GRID_STRIDE(i, n)                                                                                    \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                                  \
         i += (size_t)gridDim.x * blockDim.x)

/* ---------------------------------------------------------------- embedding */

__global__ void k_embed(float *x, const float *table, const int *ids, int n, int d) {
    int t = blockIdx.x;
    for (int i = blockIdx.y * blockDim.x + threadIdx.x; i < d; i += gridDim.y * blockDim.x)
        x[(size_t)t * d + i] = table[(size_t)ids[t] * d + i];
}

void cu_embed(gta_ctx *c, float *x, const float *table, const int *ids, int n, int d) {
    if (n <= 0) return;
    const int *di = (const int *)cu_stage(c, CS_IDX, ids, sizeof(int) * (size_t)n);
    k_embed<<<dim3(n, (d + 255) / 256), 256, 0, c->st>>>(x, table, di, n, d);
    KCHECK();
}

/* one block column per distinct id: its tokens' rows added in token order, so the result
 * is the CPU's (the same float additions in the same order) and no two threads touch one
 * float */
__global__ void k_embed_back(float *de, const float *dx, const int *order, const int *gstart, const int *gid,
                             int d) {
    int g = blockIdx.x, i = blockIdx.y * blockDim.x + threadIdx.x;
    if (i >= d) return;
    float *row = de + (size_t)gid[g] * d;
    float acc = row[i];
    for (int k = gstart[g]; k < gstart[g + 1]; k++) acc += dx[(size_t)order[k] * d + i];
    row[i] = acc;
}

static const int *sort_ids;
static int by_id(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    if (sort_ids[x] != sort_ids[y]) return sort_ids[x] < sort_ids[y] ? -1 : 1;
    return x < y ? -1 : x > y; /* stable: token order within an id */
}

void cu_embed_backward(gta_ctx *c, float *dtable, const float *dx, const int *ids, int n, int d) {
    if (n <= 0) return;
    /* order[n] | gstart[ng + 1] | gid[ng] */
    int *h = (int *)malloc(sizeof(int) * (3 * (size_t)n + 1));
    if (!h) cu_fail("malloc", "out of host memory", __FILE__, __LINE__);
    int *order = h;
    for (int t = 0; t < n; t++) order[t] = t;
    sort_ids = ids;
    qsort(order, (size_t)n, sizeof(int), by_id);
    int ng = 0, *gs = h + n;
    for (int k = 0; k < n; k++)
        if (!k || ids[order[k]] != ids[order[k - 1]]) gs[ng++] = k;
    gs[ng] = n;
    int *gid = gs + ng + 1;
    for (int g = 0; g < ng; g++) gid[g] = ids[order[gs[g]]];
    int *dv = (int *)cu_stage(c, CS_IDX, h, sizeof(int) * ((size_t)n + 2 * (size_t)ng + 1));
    free(h);
    k_embed_back<<<dim3(ng, (d + 127) / 128), 128, 0, c->st>>>(dtable, dx, dv, dv + n, dv + n + ng + 1, d);
    KCHECK();
}

/* ---------------------------------------------------------------- column sums */

#define COL_ROWS 64

__global__ void k_colsum_part(double *part, const float *src, const float *x, const float *rstd, int rows,
                              int nh, int width, int stride) {
    int col = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
    if (col >= width) return;
    int r0 = b * COL_ROWS, r1 = r0 + COL_ROWS < rows ? r0 + COL_ROWS : rows;
    double s = 0;
    for (int r = r0; r < r1; r++) {
        size_t o = (size_t)(r / nh) * stride + (size_t)(r % nh) * width + col;
        float v = src[o];
        if (x) v *= x[o];
        if (rstd) v *= rstd[r];
        s += v;
    }
    part[(size_t)b * width + col] = s;
}

__global__ void k_colsum_final(float *dst, const double *part, int nb, int width) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= width) return;
    double s = 0;
    for (int b = 0; b < nb; b++) s += part[(size_t)b * width + col];
    dst[col] += (float)s;
}

void cu_colsum(gta_ctx *c, float *dst, const float *src, const float *x, const float *rstd, int rows, int nh,
               int width, int stride) {
    if (rows <= 0 || width <= 0) return;
    int nb = (rows + COL_ROWS - 1) / COL_ROWS;
    double *part = (double *)cu_scratch(c, CS_PART, sizeof(double) * (size_t)nb * (size_t)width);
    k_colsum_part<<<dim3((width + 127) / 128, nb), 128, 0, c->st>>>(part, src, x, rstd, rows, nh, width,
                                                                    stride);
    k_colsum_final<<<(width + 127) / 128, 128, 0, c->st>>>(dst, part, nb, width);
    KCHECK();
}

/* ---------------------------------------------------------------- RMSNorm */

__global__ void k_rmsnorm(float *y, float *rstd, const float *x, const float *w, int d, float eps,
                          int have_rstd) {
    __shared__ double sh[32];
    int t = blockIdx.x;
    const float *xr = x + (size_t)t * d;
    float r;
    if (have_rstd) {
        r = rstd[t];
    } else {
        double ss = 0;
        for (int i = threadIdx.x; i < d; i += blockDim.x) ss += (double)xr[i] * xr[i];
        ss = block_sumd(ss, sh);
        r = (float)(1.0 / sqrt(ss / d + eps));
        if (threadIdx.x == 0) rstd[t] = r;
    }
    float *yr = y + (size_t)t * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) yr[i] = w[i] * (xr[i] * r);
}

void cu_rmsnorm(gta_ctx *c, float *y, float *rstd, const float *x, const float *w, int n, int d, float eps) {
    if (n <= 0) return;
    k_rmsnorm<<<n, 256, 0, c->st>>>(y, rstd, x, w, d, eps, 0);
    KCHECK();
}

void cu_rmsnorm_apply(gta_ctx *c, float *y, const float *x, const float *rstd, const float *w, int n, int d) {
    if (n <= 0) return;
    k_rmsnorm<<<n, 256, 0, c->st>>>(y, (float *)rstd, x, w, d, 0.0f, 1);
    KCHECK();
}

__global__ void k_rmsnorm_back(float *dx, const float *dy, const float *x, const float *rstd, const float *w,
                               int d, int accumulate) {
    __shared__ double sh[32];
    int t = blockIdx.x;
    const float *xr = x + (size_t)t * d, *gr = dy + (size_t)t * d;
    float *dr = dx + (size_t)t * d, r = rstd[t];
    double dot = 0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) dot += (double)gr[i] * w[i] * xr[i];
    dot = block_sumd(dot, sh);
    float cc = (float)(dot * r * r * r / d);
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float v = r * w[i] * gr[i] - cc * xr[i];
        dr[i] = accumulate ? dr[i] + v : v;
    }
}

void cu_rmsnorm_backward(gta_ctx *c, float *dx, float *dw, const float *dy, const float *x, const float *rstd,
                         const float *w, int n, int d, int accumulate) {
    if (n <= 0) return;
    if (dw) cu_colsum(c, dw, dy, x, rstd, n, 1, d, d); /* NULL: frozen (LoRA) */
    k_rmsnorm_back<<<n, 256, 0, c->st>>>(dx, dy, x, rstd, w, d, accumulate);
    KCHECK();
}

/* one warp per (token, head) row of hd floats */
__global__ void k_headnorm(float *x, float *rstd, const float *w, int n, int nheads, int hd, int stride,
                           float eps, const float *src) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (row >= n * nheads) return;
    int t = row / nheads, h = row % nheads;
    const float *s = src + (size_t)t * stride + (size_t)h * hd;
    float *y = x + (size_t)t * stride + (size_t)h * hd;
    double ss = 0;
    for (int i = lane; i < hd; i += 32) ss += (double)s[i] * s[i];
    ss = warp_sumd(ss);
    float r = (float)(1.0 / sqrt(ss / hd + eps));
    if (lane == 0) rstd[row] = r;
    for (int i = lane; i < hd; i += 32) y[i] = w[i] * (s[i] * r);
}

void cu_headnorm(gta_ctx *c, float *x, float *rstd, const float *w, int n, int nheads, int hd, int stride,
                 float eps, const float *src) {
    if (n <= 0) return;
    int rows = n * nheads;
    k_headnorm<<<(rows + 7) / 8, 256, 0, c->st>>>(x, rstd, w, n, nheads, hd, stride, eps, src);
    KCHECK();
}

__global__ void k_headnorm_back(float *dx, const float *dy, const float *xin, const float *rstd,
                                const float *w, int n, int nheads, int hd, int stride) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (row >= n * nheads) return;
    size_t o = (size_t)(row / nheads) * stride + (size_t)(row % nheads) * hd;
    const float *xr = xin + o, *gr = dy + o;
    float *dr = dx + o, r = rstd[row];
    double dot = 0;
    for (int i = lane; i < hd; i += 32) dot += (double)gr[i] * w[i] * xr[i];
    dot = warp_sumd(dot);
    float cc = (float)(dot * r * r * r / hd);
    /* dx may be dy: each element is read before it is written, by the same lane */
    for (int i = lane; i < hd; i += 32) dr[i] = r * w[i] * gr[i] - cc * xr[i];
}

void cu_headnorm_backward(gta_ctx *c, float *dx, float *dw, const float *dy, const float *xin,
                          const float *rstd, const float *w, int n, int nheads, int hd, int stride) {
    if (n <= 0) return;
    if (dw) cu_colsum(c, dw, dy, xin, rstd, n * nheads, nheads, hd, stride); /* NULL: frozen (LoRA) */
    int rows = n * nheads;
    k_headnorm_back<<<(rows + 7) / 8, 256, 0, c->st>>>(dx, dy, xin, rstd, w, n, nheads, hd, stride);
    KCHECK();
}

/* ---------------------------------------------------------------- RoPE */

__global__ void k_rope_table(float *cs, const int *pos, const float *inv_freq, int n, int hd) {
    int half = hd / 2;
    GRID_STRIDE(k, (size_t)n * half) {
        int t = (int)(k / half), i = (int)(k % half);
        float a = __fmul_rn((float)pos[t], inv_freq[i]); /* rounded to float first, as transformers */
        cs[(size_t)t * hd + i] = (float)cos((double)a);
        cs[(size_t)t * hd + half + i] = (float)sin((double)a);
    }
}

void cu_rope_table(gta_ctx *c, float *cs, const int *pos, const float *inv_freq, int n, int hd) {
    if (n <= 0) return;
    const int *dp = (const int *)cu_stage(c, CS_IDX, pos, sizeof(int) * (size_t)n);
    k_rope_table<<<cu_blocks((size_t)n * (hd / 2), 256), 256, 0, c->st>>>(cs, dp, inv_freq, n, hd);
    KCHECK();
}

__global__ void k_rope(float *x, const float *cs, int n, int nheads, int hd, int stride, float sign) {
    int half = hd / 2;
    GRID_STRIDE(k, (size_t)n * nheads * half) {
        int i = (int)(k % half);
        size_t th = k / half;
        int t = (int)(th / nheads), h = (int)(th % nheads);
        float *v = x + (size_t)t * stride + (size_t)h * hd;
        const float *cr = cs + (size_t)t * hd;
        float co = cr[i], si = sign * cr[half + i], x1 = v[i], x2 = v[i + half];
        v[i] = __fsub_rn(__fmul_rn(x1, co), __fmul_rn(x2, si));
        v[i + half] = __fadd_rn(__fmul_rn(x2, co), __fmul_rn(x1, si));
    }
}

void cu_rope(gta_ctx *c, float *x, const float *cs, int n, int nheads, int hd, int stride, int sign) {
    if (n <= 0) return;
    k_rope<<<cu_blocks((size_t)n * nheads * (hd / 2), 256), 256, 0, c->st>>>(x, cs, n, nheads, hd, stride,
                                                                             (float)sign);
    KCHECK();
}

/* ---------------------------------------------------------------- rows */

__global__ void k_rows(float *dst, int ldd, const float *src, int lds, const int *idx, int width,
                       int scatter) {
    int t = blockIdx.x;
    size_t od = scatter ? (size_t)idx[t] * ldd : (size_t)t * ldd,
           os = scatter ? (size_t)t * lds : (size_t)idx[t] * lds;
    for (int i = blockIdx.y * blockDim.x + threadIdx.x; i < width; i += gridDim.y * blockDim.x)
        dst[od + i] = src[os + i];
}

void cu_scatter_rows(gta_ctx *c, float *dst, int ldd, const float *src, int lds, const int *idx, int n,
                     int width) {
    if (n <= 0) return;
    const int *di = (const int *)cu_stage(c, CS_IDX, idx, sizeof(int) * (size_t)n);
    k_rows<<<dim3(n, (width + 255) / 256), 256, 0, c->st>>>(dst, ldd, src, lds, di, width, 1);
    KCHECK();
}

void cu_gather_rows(gta_ctx *c, float *dst, int ldd, const float *src, int lds, const int *idx, int n,
                    int width) {
    if (n <= 0) return;
    const int *di = (const int *)cu_stage(c, CS_IDX, idx, sizeof(int) * (size_t)n);
    k_rows<<<dim3(n, (width + 255) / 256), 256, 0, c->st>>>(dst, ldd, src, lds, di, width, 0);
    KCHECK();
}

/* ---------------------------------------------------------------- SwiGLU, add, bias */

__global__ void k_swiglu(float *h, const float *gu, int n, int f) {
    GRID_STRIDE(k, (size_t)n * f) {
        size_t t = k / f, i = k % f;
        float g = gu[t * 2 * f + i], u = gu[t * 2 * f + f + i];
        h[k] = g / (1.0f + expf(-g)) * u;
    }
}

void cu_swiglu(gta_ctx *c, float *h, const float *gu, int n, int f) {
    if (n <= 0) return;
    k_swiglu<<<cu_blocks((size_t)n * f, 256), 256, 0, c->st>>>(h, gu, n, f);
    KCHECK();
}

__global__ void k_swiglu_back(float *dgu, const float *dh, const float *gu, int n, int f) {
    GRID_STRIDE(k, (size_t)n * f) {
        size_t t = k / f, i = k % f;
        float g = gu[t * 2 * f + i], u = gu[t * 2 * f + f + i], d = dh[k];
        float sg = 1.0f / (1.0f + expf(-g));
        dgu[t * 2 * f + f + i] = d * (g * sg);
        dgu[t * 2 * f + i] = d * u * sg * (1.0f + g * (1.0f - sg));
    }
}

void cu_swiglu_backward(gta_ctx *c, float *dgu, const float *dh, const float *gu, int n, int f) {
    if (n <= 0) return;
    k_swiglu_back<<<cu_blocks((size_t)n * f, 256), 256, 0, c->st>>>(dgu, dh, gu, n, f);
    KCHECK();
}

__global__ void k_add(float *y, const float *a, const float *b, size_t n) {
    GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

void cu_add(gta_ctx *c, float *y, const float *a, const float *b, size_t n) {
    if (!n) return;
    k_add<<<cu_blocks(n, 256), 256, 0, c->st>>>(y, a, b, n);
    KCHECK();
}

__global__ void k_bias(float *y, const float *b, int n, int out, int overwrite) {
    GRID_STRIDE(k, (size_t)n * out) {
        float v = b[k % out];
        y[k] = overwrite ? v : y[k] + v;
    }
}

void cu_bias_rows(gta_ctx *c, float *y, const float *b, int n, int out, int overwrite) {
    if (n <= 0) return;
    k_bias<<<cu_blocks((size_t)n * out, 256), 256, 0, c->st>>>(y, b, n, out, overwrite);
    KCHECK();
}

/* ---------------------------------------------------------------- bfloat16 */

__device__ __forceinline__ uint16_t f2bf(float f) {
    uint32_t u = __float_as_uint(f);
    if ((u & 0x7f800000u) == 0x7f800000u) return (uint16_t)((u >> 16) | ((u & 0xffffu) ? 0x40u : 0u));
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
__device__ __forceinline__ float bf2f(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

__global__ void k_to_bf16(uint16_t *dst, const float *src, size_t n) {
    GRID_STRIDE(i, n) dst[i] = f2bf(src[i]);
}
__global__ void k_from_bf16(float *dst, const uint16_t *src, size_t n) {
    GRID_STRIDE(i, n) dst[i] = bf2f(src[i]);
}

void cu_to_bf16(gta_ctx *c, uint16_t *dst, const float *src, size_t n) {
    if (!n) return;
    k_to_bf16<<<cu_blocks(n, 256), 256, 0, c->st>>>(dst, src, n);
    KCHECK();
}

void cu_from_bf16(gta_ctx *c, float *dst, const uint16_t *src, size_t n) {
    if (!n) return;
    k_from_bf16<<<cu_blocks(n, 256), 256, 0, c->st>>>(dst, src, n);
    KCHECK();
}

/* y[n, out] = x W^T (+ b) (+ y when beta is 1) with W in bfloat16: one warp per output
 * row and 4 rows of x at a time, products and sums fp32 (decoding: few rows, W streamed) */
#define BFW_ROWS 4
__global__ void k_linear_bf16w(float *y, const float *x, const uint16_t *w, const float *b, int n, int in,
                               int out, float beta) {
    int o = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31,
        r0 = blockIdx.y * BFW_ROWS;
    if (o >= out) return;
    float acc[BFW_ROWS] = {0};
    const uint16_t *wr = w + (size_t)o * in;
    for (int k = lane; k < in; k += 32) {
        float wk = bf2f(wr[k]);
#pragma unroll
        for (int r = 0; r < BFW_ROWS; r++)
            if (r0 + r < n) acc[r] += wk * x[(size_t)(r0 + r) * in + k];
    }
#pragma unroll
    for (int r = 0; r < BFW_ROWS; r++) {
        float s = warp_sum(acc[r]);
        if (lane == 0 && r0 + r < n) {
            float *yo = y + (size_t)(r0 + r) * out + o;
            *yo = (beta != 0.0f ? *yo : 0.0f) + s + (b ? b[o] : 0.0f);
        }
    }
}

void cu_linear_bf16w(gta_ctx *c, float *y, const float *x, const uint16_t *w, const float *b, int n, int in,
                     int out, float beta) {
    if (n <= 0 || out <= 0) return;
    k_linear_bf16w<<<dim3((out + 7) / 8, (n + BFW_ROWS - 1) / BFW_ROWS), 256, 0, c->st>>>(y, x, w, b, n, in,
                                                                                          out, beta);
    KCHECK();
}
