/* The fused log-prob head (as llm.c's fused classifier): chunks of rows, each chunk's
 * logits computed once by cuBLASLt, log-softmax and the gradient in place by one block a
 * row, so vocabulary-sized logits exist only for a chunk. With a callback the chunk's
 * log-probs go to the host, the callback writes their dL/dlp, and the gradient follows.
 * Semantics: head_impl in cpu_ops.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_int.h"

#define HEAD_CHUNK_DEFAULT ((size_t)160 << 20)

static int head_rows(const gta_ctx *c, int nlp, int V) {
    size_t chunk = c->head_chunk ? c->head_chunk : HEAD_CHUNK_DEFAULT;
    int C = (int)(chunk / (size_t)V);
    if (C < 16) C = 16;
    if (C > nlp) C = nlp;
    return C;
}

size_t cu_head_scratch_bytes(const gta_ctx *c, int nlp, int d, int V, int backward) {
    size_t C = nlp > 0 ? (size_t)head_rows(c, nlp, V) : 0;
    size_t f = C * ((size_t)d + (size_t)V) + (backward ? C * ((size_t)d + 1) : 0);
    return sizeof(float) * (f + 4 * (size_t)nlp + C);
}

__global__ void k_head_gather(float *xc, const float *x, const int *row, int nc, int d) {
    int i = blockIdx.x;
    for (int e = blockIdx.y * blockDim.x + threadIdx.x; e < d; e += gridDim.y * blockDim.x)
        xc[(size_t)i * d + e] = x[(size_t)row[i] * d + e];
}

/* per row: lse, lp = logit[y] - lse; with g (dlp) the logits become their gradient
 * g * (onehot(y) - softmax) */
__global__ void k_head_rows(float *lg, int V, const int *target, float *lp, float *lse_out, const float *g,
                            int want_lp) {
    __shared__ double shd[32];
    __shared__ float shf[32];
    int i = blockIdx.x, y = target[i];
    float *r = lg + (size_t)i * V;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, r[j]);
    mx = block_maxf(mx, shf);
    double s = 0;
    for (int j = threadIdx.x; j < V; j += blockDim.x) s += (double)expf(r[j] - mx);
    s = block_sumd(s, shd);
    float l = mx + (float)log(s);
    __syncthreads();
    float ry = r[y];
    __syncthreads();
    if (threadIdx.x == 0) {
        if (want_lp) lp[i] = ry - l;
        if (lse_out) lse_out[i] = l;
    }
    if (g) {
        float gi = g[i];
        for (int j = threadIdx.x; j < V; j += blockDim.x) r[j] = -gi * expf(r[j] - l) + (j == y ? gi : 0.0f);
    }
}

__global__ void k_head_grad(float *lg, int V, const int *target, const float *lse, const float *g) {
    int i = blockIdx.x, y = target[i];
    float *r = lg + (size_t)i * V, l = lse[i], gi = g[i];
    for (int j = threadIdx.x; j < V; j += blockDim.x) r[j] = -gi * expf(r[j] - l) + (j == y ? gi : 0.0f);
}

/* dx[row[i]] += dxc[i]: rows distinct in the chunk: all at once; else one thread a column
 * walking the pairs in order (pairs may share a row: a prompt's last row predicts every
 * branch) */
__global__ void k_head_add_rows(float *dx, const float *dxc, const int *row, int nc, int d) {
    int i = blockIdx.x;
    for (int e = blockIdx.y * blockDim.x + threadIdx.x; e < d; e += gridDim.y * blockDim.x)
        dx[(size_t)row[i] * d + e] += dxc[(size_t)i * d + e];
}

__global__ void k_head_add_cols(float *dx, const float *dxc, const int *row, int nc, int d) {
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= d) return;
    for (int i = 0; i < nc; i++) dx[(size_t)row[i] * d + e] += dxc[(size_t)i * d + e];
}

void cu_logprob_head(gta_ctx *c, float *lp, float *dlp_out, const float *dlp_in, gta_dlp_fn fn, void *fctx,
                     float *dx, float *dw, const float *x, const float *w, const int *row, const int *target,
                     int nlp, int n, int d, int V) {
    int grad = dlp_in || fn;
    if (dx) CU(cudaMemsetAsync(dx, 0, sizeof(float) * (size_t)n * d, c->st));
    if (nlp <= 0) return;
    int C = head_rows(c, nlp, V);
    /* device: row[nlp] | target[nlp] | dlp[nlp] | lp[nlp] | lse[C] */
    size_t ni = (size_t)nlp;
    char *hb = (char *)malloc(sizeof(int) * 3 * ni);
    memcpy(hb, row, sizeof(int) * ni);
    memcpy(hb + sizeof(int) * ni, target, sizeof(int) * ni);
    if (dlp_in) memcpy(hb + 2 * sizeof(int) * ni, dlp_in, sizeof(float) * ni);
    char *db = (char *)cu_scratch(c, CS_HEAD_IDX, sizeof(int) * (4 * ni + (size_t)C));
    CU(cudaMemcpyAsync(db, hb, sizeof(int) * (dlp_in ? 3 : 2) * ni, cudaMemcpyHostToDevice, c->st));
    const int *drow = (const int *)db, *dtg = drow + ni;
    float *dg = (float *)(db + 2 * sizeof(int) * ni), *dlp = dg + ni, *dlse = dlp + ni;
    float *xc = (float *)cu_scratch(c, CS_HEAD_X, sizeof(float) * (size_t)C * d);
    float *lg = (float *)cu_scratch(c, CS_HEAD_LG, sizeof(float) * (size_t)C * V);
    float *dxc = grad ? (float *)cu_scratch(c, CS_HEAD_DX, sizeof(float) * (size_t)C * d) : NULL;
    /* rows distinct within each chunk? (then the rows of dx are added in parallel) */
    char *seen = grad ? (char *)calloc((size_t)n, 1) : NULL;
    for (int c0 = 0; c0 < nlp; c0 += C) {
        int nc = nlp - c0 < C ? nlp - c0 : C;
        unsigned ycols = (unsigned)((d + 255) / 256);
        k_head_gather<<<dim3(nc, ycols), 256, 0, c->st>>>(xc, x, drow + c0, nc, d);
        KCHECK();
        cu_gemm(c, 0, 1, nc, V, d, 1.0f, xc, d, w, d, 0.0f, lg, V);
        k_head_rows<<<nc, 1024, 0, c->st>>>(lg, V, dtg + c0, dlp + c0, fn ? dlse : NULL,
                                            dlp_in ? dg + c0 : NULL, lp != NULL);
        KCHECK();
        if (fn) {
            /* the objective sees this chunk's log-probs, then the gradient follows */
            CU(cudaMemcpyAsync(lp + c0, dlp + c0, sizeof(float) * (size_t)nc, cudaMemcpyDeviceToHost, c->st));
            CU(cudaStreamSynchronize(c->st));
            fn(fctx, c0, nc, lp + c0, dlp_out + c0);
            CU(cudaMemcpyAsync(dg + c0, dlp_out + c0, sizeof(float) * (size_t)nc, cudaMemcpyHostToDevice,
                               c->st));
            CU(cudaStreamSynchronize(c->st)); /* dlp_out is the caller's pageable memory */
            k_head_grad<<<nc, 1024, 0, c->st>>>(lg, V, dtg + c0, dlse, dg + c0);
            KCHECK();
        }
        if (grad) {
            cu_gemm(c, 0, 0, nc, d, V, 1.0f, lg, V, w, d, 0.0f, dxc, d);
            if (dw) cu_gemm(c, 1, 0, V, d, nc, 1.0f, lg, V, xc, d, 1.0f, dw, d); /* NULL: frozen head */
            int distinct = 1;
            for (int i = 0; i < nc && distinct; i++) {
                int rr = row[c0 + i];
                if (rr < 0 || rr >= n || seen[rr])
                    distinct = 0;
                else
                    seen[rr] = 1;
            }
            for (int i = 0; i < nc; i++)
                if (row[c0 + i] >= 0 && row[c0 + i] < n) seen[row[c0 + i]] = 0;
            if (distinct)
                k_head_add_rows<<<dim3(nc, ycols), 256, 0, c->st>>>(dx, dxc, drow + c0, nc, d);
            else
                k_head_add_cols<<<(d + 127) / 128, 128, 0, c->st>>>(dx, dxc, drow + c0, nc, d);
            KCHECK();
        }
    }
    free(seen);
    if (lp && !fn) {
        CU(cudaMemcpyAsync(lp, dlp, sizeof(float) * ni, cudaMemcpyDeviceToHost, c->st));
    }
    CU(cudaStreamSynchronize(c->st)); /* hb and the caller's host arrays are free to go */
    free(hb);
}
