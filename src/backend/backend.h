/* The backend seam: one versioned table of ops (in the spirit of SQLite's
 * sqlite3_io_methods) that the CPU backend implements and a CUDA backend will. Model,
 * sampler, optimizer and trainer call only this table; nothing above src/backend knows
 * which backend runs, uses OpenMP or includes intrinsics.
 *
 * Memory. Device buffers come from alloc and are reached from the host only through
 * to_host / from_host / read_begin (checkpoints, tests). Pointers into a buffer may be
 * offset (p + k) as on a GPU, never dereferenced by host code. Index arrays (token ids,
 * positions, segments, log-prob rows and targets, cache slots and ranges) are host memory:
 * a backend stages them itself.
 *
 * Every op takes the context: the device, its stream and the scratch the op needs, so
 * two models (policy and reference) never share scratch. The size queries (scratch_bytes,
 * pack_bytes, sample_bytes) also take NULL: the sizes for a fresh context (memory plans
 * are made before any model exists). Matrices are row-major; weights
 * follow nn.Linear's [out, in]. Tree batches: tokens packed into segments; a segment
 * attends to every token of its ancestors and causally to itself. */
#ifndef GTA_BACKEND_BACKEND_H
#define GTA_BACKEND_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#define GTA_BACKEND_VERSION 1

typedef struct gta_ctx gta_ctx;

/* Segment structure of a tree batch (host arrays). */
typedef struct {
    int nseg;
    const int *start, *len, *parent; /* parent -1 for a root; parents come before children */
    int max_keys;                    /* largest ancestors + own length */
} gta_segs;

/* The per-token callback of the fused log-prob head: receives the log-probs lp[0..n) of
 * pairs k0 .. k0+n (host memory) and writes their dL/dlp into dlp. */
typedef void (*gta_dlp_fn)(void *ctx, int k0, int n, const float *lp, float *dlp);

/* A draw's filters: temperature (<= 0: greedy, the argmax), then top-k (0: off), top-p
 * (1: off), min-p (0: off), in the order transformers applies them. */
typedef struct {
    double temperature;
    int top_k;
    double top_p, min_p;
} gta_draw;

typedef struct gta_backend_ops {
    int version; /* GTA_BACKEND_VERSION */
    const char *name;

    /* ---- contexts and buffers ---- */
    gta_ctx *(*ctx_new)(void);
    void (*ctx_free)(gta_ctx *c);
    void *(*alloc)(gta_ctx *c, size_t bytes); /* aborts with a message when memory runs out */
    void (*free)(gta_ctx *c, void *p);
    void (*to_host)(gta_ctx *c, void *host, const void *dev, size_t bytes);
    void (*from_host)(gta_ctx *c, void *dev, const void *host, size_t bytes);
    void (*copy)(gta_ctx *c, void *dst, const void *src, size_t bytes); /* device to device */
    void (*zero)(gta_ctx *c, void *dev, size_t bytes);
    /* A host view of bytes of a device buffer, for reading (writing a checkpoint): the
     * buffer itself where the host can address it, else a staged copy; read_end releases it. */
    const void *(*read_begin)(gta_ctx *c, const void *dev, size_t bytes);
    void (*read_end)(gta_ctx *c, const void *view);
    /* a host view for writing: the buffer itself where the host can address it, else a
     * staging buffer that write_end copies into the device buffer */
    void *(*write_begin)(gta_ctx *c, void *dev, size_t bytes);
    void (*write_end)(gta_ctx *c, void *dev, void *view, size_t bytes);
    size_t (*mem_free)(gta_ctx *c); /* bytes the device can still give */
    /* Scratch the ops keep for a forward (and with backward, its backward) of n tokens with
     * nlp log-prob pairs (bytes, for the memory plan); head_chunk sets the head's logits per chunk (0: the
     * default; tests lower it to cover the chunk boundaries). */
    size_t (*scratch_bytes)(gta_ctx *c, int n, int nlp, int d, int kvdim, int V, int backward);
    void (*set_head_chunk)(gta_ctx *c, size_t logits);
    void (*scratch_release)(gta_ctx *c);

    /* ---- layer ops ---- */
    /* x[t] = table[ids[t]]; backward: dtable[ids[t]] += dx[t] */
    void (*embed)(gta_ctx *c, float *x, const float *table, const int *ids, int n, int d);
    void (*embed_backward)(gta_ctx *c, float *dtable, const float *dx, const int *ids, int n, int d);
    /* y = x * rstd * w per row (rstd[n] saved); apply: with a known rstd (recomputation);
     * backward: dx (+)= (accumulate selects), dw += (dw NULL: frozen, not computed) */
    void (*rmsnorm)(gta_ctx *c, float *y, float *rstd, const float *x, const float *w, int n, int d, float eps);
    void (*rmsnorm_apply)(gta_ctx *c, float *y, const float *x, const float *rstd, const float *w, int n, int d);
    void (*rmsnorm_backward)(gta_ctx *c, float *dx, float *dw, const float *dy, const float *x, const float *rstd,
                             const float *w, int n, int d, int accumulate);
    /* per-head RMSNorm (Qwen3's q/k norms) over rows of hd inside rows of stride floats;
     * backward's dw may be NULL (frozen) */
    void (*headnorm)(gta_ctx *c, float *x, float *rstd, const float *w, int n, int nheads, int hd, int stride,
                     float eps, const float *src);
    void (*headnorm_backward)(gta_ctx *c, float *dx, float *dw, const float *dy, const float *xin, const float *rstd,
                              const float *w, int n, int nheads, int hd, int stride);
    /* RoPE (rotate-half): cs[n, hd] = cos | sin of pos[t] * inv_freq (inv_freq carries the
     * llama3 / linear scaling); rope rotates nheads heads of each row, sign -1 inverts */
    void (*rope_table)(gta_ctx *c, float *cs, const int *pos, const float *inv_freq, int n, int hd);
    void (*rope)(gta_ctx *c, float *x, const float *cs, int n, int nheads, int hd, int stride, int sign);
    /* y[n,out] = x W^T (+ b), beta 1 accumulates into y; dx (+)= dy W; dW += dy^T x, db += */
    void (*linear)(gta_ctx *c, float *y, const float *x, const float *w, const float *b, int n, int in, int out,
                   float beta);
    void (*linear_dx)(gta_ctx *c, float *dx, const float *dy, const float *w, int n, int in, int out, float beta);
    void (*linear_dw)(gta_ctx *c, float *dw, float *db, const float *dy, const float *x, int n, int in, int out);
    /* The general product C[M,N] = alpha op(A) op(B) + beta C (op: transposed when ta / tb),
     * row-major with leading dimensions: LoRA's low-rank products over row ranges of the
     * stacked q/k/v and gate/up outputs. beta 1 adds exactly (C + alpha AB). */
    void (*gemm)(gta_ctx *c, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);
    /* Inverted dropout with a counter-based mask: y[k] = x[k] / (1 - p) where
     * uniform(seed, stream, k) >= p, else 0 (y may be x). The same call on a gradient is the
     * backward (the mask is a function of seed, stream and k alone). */
    void (*dropout)(gta_ctx *c, float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t stream);
    /* attention over a tree batch: qkv[n, (H+2KV)*hd] post-RoPE, out[n, H*hd], lse[n, H];
     * backward overwrites dqkv */
    void (*attention)(gta_ctx *c, float *out, float *lse, const float *qkv, const gta_segs *s, int n, int H, int KV,
                      int hd);
    void (*attention_backward)(gta_ctx *c, float *dqkv, const float *dout, const float *out, const float *lse,
                               const float *qkv, const gta_segs *s, int n, int H, int KV, int hd);
    /* B single query rows over cached keys/values kc/vc [cap, KV*hd]: row i attends to the
     * nr ranges rs[i*nr + r] .. + rl[i*nr + r]; q rows have stride ldq */
    void (*attention_decode)(gta_ctx *c, float *out, const float *q, int ldq, const float *kc, const float *vc,
                             const int *rs, const int *rl, int nr, int B, int H, int KV, int hd);
    /* rows: dst[idx[t]] = src[t] (scatter, e.g. into the KV cache) or dst[t] = src[idx[t]]
     * (gather), width floats of rows with strides ldd / lds */
    void (*scatter_rows)(gta_ctx *c, float *dst, int ldd, const float *src, int lds, const int *idx, int n,
                         int width);
    void (*gather_rows)(gta_ctx *c, float *dst, int ldd, const float *src, int lds, const int *idx, int n, int width);
    /* gu[n, 2f] = [gate | up]; h = silu(gate) * up */
    void (*swiglu)(gta_ctx *c, float *h, const float *gu, int n, int f);
    void (*swiglu_backward)(gta_ctx *c, float *dgu, const float *dh, const float *gu, int n, int f);
    /* the residual: y = a + b (y may be a or b) */
    void (*add)(gta_ctx *c, float *y, const float *a, const float *b, size_t n);
    /* The log-prob head: lp[k] = log softmax(x[row_k] W^T)[target_k] (lp host memory);
     * with dlp (host) also dx (overwritten) and dW +=, in chunks of rows so vocab-sized
     * logits are never kept for all of them. fused: dlp computed chunk by chunk by fn.
     * dw NULL: the head is frozen (LoRA), only dx. */
    void (*logprob_head)(gta_ctx *c, float *lp, float *dx, float *dw, const float *dlp, const float *x,
                         const float *w, const int *row, const int *target, int nlp, int n, int d, int V);
    void (*logprob_head_fused)(gta_ctx *c, float *lp, float *dlp_out, gta_dlp_fn fn, void *fctx, float *dx, float *dw,
                               const float *x, const float *w, const int *row, const int *target, int nlp, int n,
                               int d, int V);

    /* ---- decode preparation: weights re-laid out for few-row products ---- */
    /* bytes of the decode layout of W [out, in] (0: this backend decodes from W as it is),
     * pack it, and the product y = x W^T (+ b) from it; bf16 rounds the weights to
     * bfloat16 (nearest even), products and sums fp32 */
    size_t (*pack_bytes)(gta_ctx *c, int out, int in, int bf16);
    void (*pack)(gta_ctx *c, void *dst, const float *w, int out, int in, int bf16);
    void (*linear_packed)(gta_ctx *c, float *y, const float *x, const void *packed, int bf16, const float *b, int n,
                          int in, int out, float beta);
    /* ---- products from weights kept in bfloat16: W [out, in] as uint16, either a frozen
     * base (LoRA's, gta_model_load_bf16) or bf16 compute's copy of the fp32 weights
     * (gta_model_set_compute), one op set for both. xr 0: fp32 activations times the
     * widened weights (one tile of rows at a time in the context's scratch), products and
     * sums fp32: the fp32 ops on the rounded weights up to summation order. xr 1 (bf16
     * compute): the activations (x, dy) are rounded to bf16 (nearest even) at the
     * product's input too: bf16 products, fp32 sums (vdpbf16ps, oneDNN, or the fallback).
     * The heads are logprob_head's, dw NULL for a frozen head; linear_dw_bf16 is
     * linear_dw with dy and x rounded to bf16 (bf16 compute's weight gradients).
     * bf16_kernel names the bf16 x bf16 product that runs. ---- */
    void (*linear_bf16)(gta_ctx *c, float *y, const float *x, const uint16_t *w, const float *b, int n,
                        int in, int out, float beta, int xr);
    void (*linear_dx_bf16)(gta_ctx *c, float *dx, const float *dy, const uint16_t *w, int n, int in, int out,
                           float beta, int xr);
    void (*linear_dw_bf16)(gta_ctx *c, float *dw, float *db, const float *dy, const float *x, int n, int in,
                           int out);
    void (*embed_bf16)(gta_ctx *c, float *x, const uint16_t *table, const int *ids, int n, int d);
    void (*logprob_head_bf16)(gta_ctx *c, float *lp, float *dx, float *dw, const float *dlp, const float *x,
                              const uint16_t *w, const int *row, const int *target, int nlp, int n, int d,
                              int V, int xr);
    void (*logprob_head_fused_bf16)(gta_ctx *c, float *lp, float *dlp_out, gta_dlp_fn fn, void *fctx,
                                    float *dx, float *dw, const float *x, const uint16_t *w, const int *row,
                                    const int *target, int nlp, int n, int d, int V, int xr);
    const char *(*bf16_kernel)(gta_ctx *c);
    /* why that product is the default (a sentence; NULL: no reason to give) */
    const char *(*bf16_choice)(gta_ctx *c);
    /* round to bfloat16 (nearest even, inf and nan kept) and back, n elements */
    void (*to_bf16)(gta_ctx *c, uint16_t *dst, const float *src, size_t n);
    void (*from_bf16)(gta_ctx *c, float *dst, const uint16_t *src, size_t n);

    /* ---- sampling: one draw for each of n rows: from logits row[i] (rows of V floats,
     * device), with the uniform u[i] (host): tok[i] and its log-prob lp[i] under the
     * filtered, renormalized distribution (host) ---- */
    void (*sample)(gta_ctx *c, const float *logits, int V, int n, const int *row, const gta_draw *p, const double *u,
                   int *tok, float *lp);
    size_t (*sample_bytes)(gta_ctx *c, int V); /* the scratch sample keeps */

    /* ---- vector ops of the optimizer and the gate (n floats, device buffers) ---- */
    /* dot = a.b, na = |a|^2, nb = |b|^2 in double, summed in fixed blocks in a fixed order:
     * the result does not depend on the thread count */
    void (*dot3)(gta_ctx *c, size_t n, const float *a, const float *b, double *dot, double *na, double *nb);
    double (*sumsq)(gta_ctx *c, size_t n, const float *a);
    void (*axpby)(gta_ctx *c, size_t n, float alpha, const float *x, float beta, float *y); /* y = a x + b y */
    void (*scale)(gta_ctx *c, size_t n, float s, float *x);
    /* the fp32 parameters and their moments, torch.optim.AdamW's update: p *= keep (the
     * decoupled decay), m, v moments, p -= step_size m / (sqrt(v) inv_bc2_sqrt + eps) */
    void (*adamw)(gta_ctx *c, size_t n, float *p, const float *g, float *m, float *v, float beta1, float beta2,
                  float step_size, float inv_bc2_sqrt, float eps, float keep);
    /* fill with normal(0, std) (counter-based: element k of stream s of seed) or a constant */
    void (*fill_normal)(gta_ctx *c, float *x, size_t n, uint64_t seed, uint64_t stream, double std);
    void (*fill)(gta_ctx *c, float *x, size_t n, float v);

    /* ---- the machine, for benchmarks: threads the ops use, and the measured peak fp32
     * multiply-add rate (GFLOP/s) ---- */
    int (*threads)(gta_ctx *c);
    void (*set_threads)(gta_ctx *c, int n); /* host threads the ops may use (tests of determinism) */
    double (*peak_gflops)(gta_ctx *c);

    /* ---- for the communication seam (src/comm/comm.h) of a run of several processes, on
     * a backend whose buffers live on CUDA devices; NULL on one whose buffers are host
     * memory (the CPU backend), whose collectives then go over MPI ---- */
    /* the CUDA devices this process sees (0 when none); set_device makes device k the
     * device of the contexts made from then on (the seam calls it before the first
     * ctx_new): 0, or -1 with the reason in why */
    int (*device_count)(void);
    int (*set_device)(int k, char *why, size_t n);
    /* the context's stream (a cudaStream_t): a collective (NCCL) enqueued on it follows
     * the context's ops before it and precedes those after it, as the ops do */
    void *(*cuda_stream)(gta_ctx *c);
} gta_backend_ops;

/* The backends this build has: "cpu" always; NULL (and an error set) for an unknown or
 * absent one, with a message that says why. */
const gta_backend_ops *gta_backend(const char *name);
const gta_backend_ops *gta_backend_cpu(void);

#endif
