/* CPU kernels (fp32, OpenMP, BLAS) behind the model's forward and backward.
 *
 * Matrices are row-major.  Weights follow PyTorch's nn.Linear layout [out, in].
 * The attention kernels work on "tree batches": tokens packed into segments, where a
 * segment attends to all tokens of its ancestor segments and causally to itself. */
#ifndef GTA_BACKEND_CPU_OPS_H
#define GTA_BACKEND_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

/* Scratch: slot-indexed buffers that grow and are kept between calls, so hot loops do not
 * fault in fresh pages every step; one set per context (the policy and the reference
 * model never share one). */
typedef struct cpu_ws {
    float *buf[10];
    size_t cap[10];
    size_t head_chunk; /* logits per head chunk; 0: the default (160M) */
} cpu_ws;
float *cpu_scratch(cpu_ws *ws, int slot, size_t nfloats);
void cpu_scratch_release(cpu_ws *ws);
/* bytes of scratch the ops below keep for n tokens and nlp head pairs */
size_t cpu_scratch_bytes(const cpu_ws *ws, int n, int nlp, int d, int kvdim, int V, int backward);

/* y[n,out] = x[n,in] W[out,in]^T (+ b) ; beta 0 overwrites y, 1 accumulates */
void cpu_linear(float *y, const float *x, const float *w, const float *b, int n, int in, int out, float beta);
/* The same for few rows (n up to a few dozen, as in decoding): streams W once instead of
 * letting BLAS pack it (skinny.c). cpu_linear switches to it by itself for n <= 24. */
void cpu_linear_skinny(float *y, const float *x, const float *w, const float *b, int n, int in, int out, float beta);
/* Decoding with packed weights (AVX-512 machines): cpu_pack_panels re-lays W [out, in]
 * into panels of 16 output rows stored column by column (cpu_panel_floats floats), and
 * cpu_linear_panels computes the same product as cpu_linear from them. */
size_t cpu_panel_floats(int out, int in);
void cpu_pack_panels(float *dst, const float *w, int out, int in);
void cpu_linear_panels(float *y, const float *x, const float *panels, const float *b, int n, int in, int out,
                       float beta);
/* The same panels with the weights rounded to bfloat16 (nearest even), two input columns
 * interleaved per 32-bit lane: half the bytes to stream per decode step. The products and
 * sums are fp32; the result equals cpu_linear with W rounded to bf16 (up to summation
 * order). cpu_panel_bf16_elems counts uint16 elements. */
size_t cpu_panel_bf16_elems(int out, int in);
void cpu_pack_panels_bf16(uint16_t *dst, const float *w, int out, int in);
void cpu_linear_panels_bf16(float *y, const float *x, const uint16_t *panels, const float *b, int n, int in, int out,
                            float beta);
uint16_t cpu_f32_to_bf16(float f); /* round to nearest even; inf and nan kept */
float cpu_bf16_to_f32(uint16_t h);
/* The products from bfloat16 weights W16 [out, in] (backend.h's *_bf16 ops: a frozen bf16
 * base, or the bf16 copy of bf16 compute). xr 0: the activations stay fp32 and W16 is
 * widened a tile of rows at a time into the scratch (fp32 products, bit for bit those of
 * cpu_linear on the widened weights up to summation order); xr 1 (bf16 compute): the
 * activations (x, dy; for dW both operands) are rounded to bf16 too and the product is
 * cpu_bf16_gemm's (the fallback: the rounded activations widened back and the tile path).
 * The heads take dw NULL for a frozen head. */
void cpu_linear_w16(cpu_ws *ws, float *y, const float *x, const uint16_t *w, const float *b, int n, int in,
                    int out, float beta, int xr);
void cpu_linear_dx_w16(cpu_ws *ws, float *dx, const float *dy, const uint16_t *w, int n, int in, int out,
                       float beta, int xr);
void cpu_linear_dw_xr(cpu_ws *ws, float *dw, float *db, const float *dy, const float *x, int n, int in,
                      int out);
void cpu_logprob_head_w16(cpu_ws *ws, float *lp, float *dx, float *dw, const float *dlp, const float *x,
                          const uint16_t *w, const int *row, const int *target, int nlp, int n, int d, int V,
                          int xr);
void cpu_logprob_head_fused_w16(cpu_ws *ws, float *lp, float *dlp_out, gta_dlp_fn fn, void *ctx, float *dx,
                                float *dw, const float *x, const uint16_t *w, const int *row,
                                const int *target, int nlp, int n, int d, int V, int xr);
/* dx[n,in] (+)= dy[n,out] W[out,in] */
void cpu_linear_dx(float *dx, const float *dy, const float *w, int n, int in, int out, float beta);
/* dW[out,in] += dy^T x ; db[out] += column sums of dy (db may be NULL) */
void cpu_linear_dw(float *dw, float *db, const float *dy, const float *x, int n, int in, int out);
/* db[out] += column sums of dy[n, out]; and the bias of y[n, out] = ... + b before a
 * product with beta (returns the beta the product then takes: 1 once b is in y) */
void cpu_colsum_add(float *db, const float *dy, int n, int out);
float cpu_bias_rows(float *y, const float *b, int n, int out, float beta);

/* y = x * rstd * w per row; rstd[n] saved. */
void cpu_rmsnorm(float *y, float *rstd, const float *x, const float *w, int n, int d, float eps);
/* y = x * rstd * w with a known rstd (recomputation in backward). */
void cpu_rmsnorm_apply(float *y, const float *x, const float *rstd, const float *w, int n, int d);
/* dx (+)= ..., dw += ... ; accumulate selects dx += (1) or dx = (0). */
void cpu_rmsnorm_backward(cpu_ws *ws, float *dx, float *dw, const float *dy, const float *x, const float *rstd, const float *w,
                          int n, int d, int accumulate);
/* Per-head RMSNorm over rows of length hd inside a strided row: rows[t*stride + h*hd]. */
void cpu_headnorm(float *x, float *rstd, const float *w, int n, int nheads, int hd, int stride, float eps,
                  const float *src);
void cpu_headnorm_backward(float *dx, float *dw, const float *dy, const float *xin, const float *rstd,
                           const float *w, int n, int nheads, int hd, int stride);

/* RoPE (rotate-half, as transformers). cpu_rope_table fills cs[n, hd] with the cos
 * (first half) and sin (second half) of each token's angles; cpu_rope rotates nheads
 * heads of each row in place, sign=-1 applying the inverse rotation (backward). */
void cpu_rope_table(float *cs, const int *pos, const float *inv_freq, int n, int hd);
void cpu_rope(float *x, const float *cs, int n, int nheads, int hd, int stride, int sign);

/* gu[n, 2f] = [gate | up]; h = silu(gate) * up */
void cpu_swiglu(float *h, const float *gu, int n, int f);
void cpu_swiglu_backward(float *dgu, const float *dh, const float *gu, int n, int f);

typedef gta_segs cpu_segs;

/* qkv[n, (H+2KV)*hd] holds q, k, v (post-RoPE) per token; out[n, H*hd]; lse[n, H]. */
void cpu_attention(float *out, float *lse, const float *qkv, const cpu_segs *s, int n, int H, int KV, int hd);
/* dqkv[n, (H+2KV)*hd] is overwritten. */
void cpu_attention_backward(cpu_ws *ws, float *dqkv, const float *dout, const float *out, const float *lse, const float *qkv,
                            const cpu_segs *s, int n, int H, int KV, int hd);

/* Attention of B single query rows over cached keys/values: row i attends to the nr
 * ranges rs[i*nr + r] .. + rl[i*nr + r] of kc/vc ([cap, KV*hd]). q rows have stride ldq
 * (heads first), out is [B, H*hd]. */
void cpu_attention_decode(float *out, const float *q, int ldq, const float *kc, const float *vc, const int *rs,
                          const int *rl, int nr, int B, int H, int KV, int hd);

/* Log-prob head: lp[k] = log softmax(x[row_k] W^T)[target_k] for k < nlp.  When dlp is
 * given, also dx[n,d] = sum_k d lp_k / d x * dlp_k (overwritten) and dW += ..., working
 * in chunks of rows so vocab-sized logits are never kept for all of them. */
typedef gta_dlp_fn cpu_dlp_fn;
void cpu_logprob_head(cpu_ws *ws, float *lp, float *dx, float *dw, const float *dlp, const float *x, const float *w,
                      const int *row, const int *target, int nlp, int n, int d, int V);
/* The same with dlp computed chunk by chunk from lp by fn (into dlp_out): forward and
 * backward of the head in one pass, each chunk's logits computed once. */
void cpu_logprob_head_fused(cpu_ws *ws, float *lp, float *dlp_out, cpu_dlp_fn fn, void *ctx, float *dx, float *dw,
                            const float *x, const float *w, const int *row, const int *target, int nlp, int n, int d,
                            int V);

/* Token draws (cpu_sample.c): one from logits[V] (work: 2*V floats), and one per row
 * index row[i] of logits[., V] with uniforms u[i], in parallel, work from slot 6. */
int cpu_sample_token(const float *logits, int V, const gta_draw *p, double u, float *work, float *lp);
void cpu_sample_rows(cpu_ws *ws, const float *logits, int V, int n, const int *row, const gta_draw *p,
                     const double *u, int *tok, float *lp);
size_t cpu_sample_bytes(int V);

#endif
