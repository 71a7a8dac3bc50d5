/* The CPU backend: backend.h's table over the OpenMP + OpenBLAS kernels of cpu_ops.c and
 * skinny.c. Device memory is host memory; a context is its scratch. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/vec.h"
#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"

struct gta_ctx {
    cpu_ws ws;
};

#define PAR_WORTH(work) ((work) >= 32768)
#define WS(c) (&(c)->ws)

static gta_ctx *ctx_new(void) { return gta_calloc(1, sizeof(gta_ctx)); }

static void ctx_free(gta_ctx *c) {
    if (!c) return;
    cpu_scratch_release(WS(c));
    free(c);
}

static void *b_alloc(gta_ctx *c, size_t bytes) {
    (void)c;
    return gta_malloc_aligned(bytes ? bytes : 64);
}

static void b_free(gta_ctx *c, void *p) {
    (void)c;
    if (p) gta_free_aligned(p);
}

static void b_copy(gta_ctx *c, void *dst, const void *src, size_t bytes) {
    (void)c;
    if (dst == src || !bytes) return;
    /* large buffers (a model's parameters) in parallel pieces */
    enum { PIECE = 1 << 22 };
    size_t np = (bytes + PIECE - 1) / PIECE;
#pragma omp parallel for schedule(static) if (np > 1)
    for (size_t i = 0; i < np; i++) {
        size_t a = i * PIECE, n = bytes - a < PIECE ? bytes - a : PIECE;
        memcpy((char *)dst + a, (const char *)src + a, n);
    }
}

static void b_zero(gta_ctx *c, void *dev, size_t bytes) {
    (void)c;
    memset(dev, 0, bytes);
}

static const void *read_begin(gta_ctx *c, const void *dev, size_t bytes) {
    (void)c, (void)bytes;
    return dev;
}

static void read_end(gta_ctx *c, const void *view) { (void)c, (void)view; }

static void *write_begin(gta_ctx *c, void *dev, size_t bytes) {
    (void)c, (void)bytes;
    return dev;
}

static void write_end(gta_ctx *c, void *dev, void *view, size_t bytes) { (void)c, (void)dev, (void)view, (void)bytes; }

static size_t mem_free(gta_ctx *c) {
    (void)c;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
                fclose(f);
                return (size_t)kb * 1024;
            }
        fclose(f);
    }
    long pages = sysconf(_SC_AVPHYS_PAGES), ps = sysconf(_SC_PAGESIZE);
    return pages > 0 && ps > 0 ? (size_t)pages * (size_t)ps : (size_t)-1;
}

static size_t scratch_bytes(gta_ctx *c, int n, int nlp, int d, int kvdim, int V, int backward) {
    cpu_ws none = {{0}, {0}, 0};
    return cpu_scratch_bytes(c ? WS(c) : &none, n, nlp, d, kvdim, V, backward);
}

static void set_head_chunk(gta_ctx *c, size_t logits) { c->ws.head_chunk = logits; }
static void scratch_release(gta_ctx *c) { cpu_scratch_release(WS(c)); }

/* ---------------------------------------------------------------- layer ops */

static void embed(gta_ctx *c, float *x, const float *table, const int *ids, int n, int d) {
    (void)c;
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * d))
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * d, table + (size_t)ids[t] * d, sizeof(float) * (size_t)d);
}

static void embed_backward(gta_ctx *c, float *de, const float *dx, const int *ids, int n, int d) {
    (void)c;
    /* columns split across threads, so no two threads touch one float */
#pragma omp parallel for schedule(static)
    for (int i0 = 0; i0 < d; i0 += 16) {
        int i1 = i0 + 16 < d ? i0 + 16 : d;
        for (int t = 0; t < n; t++) {
            float *row = de + (size_t)ids[t] * d;
            const float *g = dx + (size_t)t * d;
            for (int i = i0; i < i1; i++) row[i] += g[i];
        }
    }
}

static void rmsnorm(gta_ctx *c, float *y, float *rstd, const float *x, const float *w, int n, int d, float eps) {
    (void)c;
    cpu_rmsnorm(y, rstd, x, w, n, d, eps);
}

static void rmsnorm_apply(gta_ctx *c, float *y, const float *x, const float *rstd, const float *w, int n, int d) {
    (void)c;
    cpu_rmsnorm_apply(y, x, rstd, w, n, d);
}

static void rmsnorm_backward(gta_ctx *c, float *dx, float *dw, const float *dy, const float *x, const float *rstd,
                             const float *w, int n, int d, int accumulate) {
    cpu_rmsnorm_backward(WS(c), dx, dw, dy, x, rstd, w, n, d, accumulate);
}

static void headnorm(gta_ctx *c, float *x, float *rstd, const float *w, int n, int nheads, int hd, int stride,
                     float eps, const float *src) {
    (void)c;
    cpu_headnorm(x, rstd, w, n, nheads, hd, stride, eps, src);
}

static void headnorm_backward(gta_ctx *c, float *dx, float *dw, const float *dy, const float *xin, const float *rstd,
                              const float *w, int n, int nheads, int hd, int stride) {
    (void)c;
    cpu_headnorm_backward(dx, dw, dy, xin, rstd, w, n, nheads, hd, stride);
}

static void rope_table(gta_ctx *c, float *cs, const int *pos, const float *inv_freq, int n, int hd) {
    (void)c;
    cpu_rope_table(cs, pos, inv_freq, n, hd);
}

static void rope(gta_ctx *c, float *x, const float *cs, int n, int nheads, int hd, int stride, int sign) {
    (void)c;
    cpu_rope(x, cs, n, nheads, hd, stride, sign);
}

static void linear(gta_ctx *c, float *y, const float *x, const float *w, const float *b, int n, int in, int out,
                   float beta) {
    (void)c;
    cpu_linear(y, x, w, b, n, in, out, beta);
}

static void linear_dx(gta_ctx *c, float *dx, const float *dy, const float *w, int n, int in, int out, float beta) {
    (void)c;
    cpu_linear_dx(dx, dy, w, n, in, out, beta);
}

static void linear_dw(gta_ctx *c, float *dw, float *db, const float *dy, const float *x, int n, int in, int out) {
    (void)c;
    cpu_linear_dw(dw, db, dy, x, n, in, out);
}

static void gemm(gta_ctx *c, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    (void)c;
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                A, lda, B, ldb, beta, C, ldc);
}

static void dropout(gta_ctx *c, float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t stream) {
    (void)c;
    const float keep = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static) if (PAR_WORTH(n))
    for (size_t k = 0; k < n; k++) y[k] = gta_rng_uniform(seed, stream, k) >= (double)p ? x[k] * keep : 0.0f;
}

static void linear_bf16(gta_ctx *c, float *y, const float *x, const uint16_t *w, const float *b, int n,
                        int in, int out, float beta, int xr) {
    cpu_linear_w16(WS(c), y, x, w, b, n, in, out, beta, xr);
}

static void linear_dx_bf16(gta_ctx *c, float *dx, const float *dy, const uint16_t *w, int n, int in, int out,
                           float beta, int xr) {
    cpu_linear_dx_w16(WS(c), dx, dy, w, n, in, out, beta, xr);
}

static void linear_dw_bf16(gta_ctx *c, float *dw, float *db, const float *dy, const float *x, int n, int in,
                           int out) {
    cpu_linear_dw_xr(WS(c), dw, db, dy, x, n, in, out);
}

static void embed_bf16(gta_ctx *c, float *x, const uint16_t *table, const int *ids, int n, int d) {
    (void)c;
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * d))
    for (int t = 0; t < n; t++) {
        const uint16_t *r = table + (size_t)ids[t] * d;
        float *y = x + (size_t)t * d;
        for (int i = 0; i < d; i++) y[i] = cpu_bf16_to_f32(r[i]);
    }
}

static void logprob_head_bf16(gta_ctx *c, float *lp, float *dx, float *dw, const float *dlp, const float *x,
                              const uint16_t *w, const int *row, const int *target, int nlp, int n, int d,
                              int V, int xr) {
    cpu_logprob_head_w16(WS(c), lp, dx, dw, dlp, x, w, row, target, nlp, n, d, V, xr);
}

static void logprob_head_fused_bf16(gta_ctx *c, float *lp, float *dlp_out, gta_dlp_fn fn, void *fctx,
                                    float *dx, float *dw, const float *x, const uint16_t *w, const int *row,
                                    const int *target, int nlp, int n, int d, int V, int xr) {
    cpu_logprob_head_fused_w16(WS(c), lp, dlp_out, fn, fctx, dx, dw, x, w, row, target, nlp, n, d, V, xr);
}

static const char *bf16_kernel(gta_ctx *c) {
    (void)c;
    return cpu_bf16_impl_name(cpu_bf16_impl());
}

static const char *bf16_choice(gta_ctx *c) {
    (void)c;
    return cpu_bf16_choice();
}

static void attention(gta_ctx *c, float *out, float *lse, const float *qkv, const gta_segs *s, int n, int H, int KV,
                      int hd) {
    (void)c;
    cpu_attention(out, lse, qkv, s, n, H, KV, hd);
}

static void attention_backward(gta_ctx *c, float *dqkv, const float *dout, const float *out, const float *lse,
                               const float *qkv, const gta_segs *s, int n, int H, int KV, int hd) {
    cpu_attention_backward(WS(c), dqkv, dout, out, lse, qkv, s, n, H, KV, hd);
}

static void attention_decode(gta_ctx *c, float *out, const float *q, int ldq, const float *kc, const float *vc,
                             const int *rs, const int *rl, int nr, int B, int H, int KV, int hd) {
    (void)c;
    cpu_attention_decode(out, q, ldq, kc, vc, rs, rl, nr, B, H, KV, hd);
}

static void scatter_rows(gta_ctx *c, float *dst, int ldd, const float *src, int lds, const int *idx, int n,
                         int width) {
    (void)c;
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * width))
    for (int t = 0; t < n; t++)
        memcpy(dst + (size_t)idx[t] * ldd, src + (size_t)t * lds, sizeof(float) * (size_t)width);
}

static void gather_rows(gta_ctx *c, float *dst, int ldd, const float *src, int lds, const int *idx, int n,
                        int width) {
    (void)c;
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * width))
    for (int t = 0; t < n; t++)
        memcpy(dst + (size_t)t * ldd, src + (size_t)idx[t] * lds, sizeof(float) * (size_t)width);
}

static void swiglu(gta_ctx *c, float *h, const float *gu, int n, int f) {
    (void)c;
    cpu_swiglu(h, gu, n, f);
}

static void swiglu_backward(gta_ctx *c, float *dgu, const float *dh, const float *gu, int n, int f) {
    (void)c;
    cpu_swiglu_backward(dgu, dh, gu, n, f);
}

static void add(gta_ctx *c, float *y, const float *a, const float *b, size_t n) {
    (void)c;
#pragma omp parallel for schedule(static) if (PAR_WORTH(n))
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

static void logprob_head(gta_ctx *c, float *lp, float *dx, float *dw, const float *dlp, const float *x,
                         const float *w, const int *row, const int *target, int nlp, int n, int d, int V) {
    cpu_logprob_head(WS(c), lp, dx, dw, dlp, x, w, row, target, nlp, n, d, V);
}

static void logprob_head_fused(gta_ctx *c, float *lp, float *dlp_out, gta_dlp_fn fn, void *fctx, float *dx, float *dw,
                               const float *x, const float *w, const int *row, const int *target, int nlp, int n,
                               int d, int V) {
    cpu_logprob_head_fused(WS(c), lp, dlp_out, fn, fctx, dx, dw, x, w, row, target, nlp, n, d, V);
}

/* ---------------------------------------------------------------- decode preparation */

static int have_avx512(void) {
    static int s = -1;
    if (s < 0) s = __builtin_cpu_supports("avx512f");
    return s;
}

static size_t pack_bytes(gta_ctx *c, int out, int in, int bf16) {
    (void)c;
    /* fp32 panels pay off only with AVX-512 (elsewhere the skinny kernels stream W as it
     * is); bf16 panels halve the bytes on any machine (AVX2 kernels without AVX-512) */
    if (bf16) return sizeof(uint16_t) * cpu_panel_bf16_elems(out, in);
    return have_avx512() ? sizeof(float) * cpu_panel_floats(out, in) : 0;
}

static void pack(gta_ctx *c, void *dst, const float *w, int out, int in, int bf16) {
    (void)c;
    if (bf16)
        cpu_pack_panels_bf16(dst, w, out, in);
    else
        cpu_pack_panels(dst, w, out, in);
}

static void linear_packed(gta_ctx *c, float *y, const float *x, const void *packed, int bf16, const float *b, int n,
                          int in, int out, float beta) {
    (void)c;
    if (bf16)
        cpu_linear_panels_bf16(y, x, packed, b, n, in, out, beta);
    else
        cpu_linear_panels(y, x, packed, b, n, in, out, beta);
}

static void to_bf16(gta_ctx *c, uint16_t *dst, const float *src, size_t n) {
    (void)c;
    cpu_bf16_round(dst, src, n); /* cpu_f32_to_bf16 of each, 8 at a time */
}

static void from_bf16(gta_ctx *c, float *dst, const uint16_t *src, size_t n) {
    (void)c;
#pragma omp parallel for schedule(static) if (PAR_WORTH(n))
    for (size_t i = 0; i < n; i++) dst[i] = cpu_bf16_to_f32(src[i]);
}

/* ---------------------------------------------------------------- sampling */

static void sample(gta_ctx *c, const float *logits, int V, int n, const int *row, const gta_draw *p, const double *u,
                   int *tok, float *lp) {
    cpu_sample_rows(WS(c), logits, V, n, row, p, u, tok, lp);
}

static size_t sample_bytes(gta_ctx *c, int V) {
    (void)c;
    return cpu_sample_bytes(V);
}

/* ---------------------------------------------------------------- vector ops */

#define DOT_BLOCK 65536

/* One block's three sums in double: the products of two floats are exact in double, so
 * the FMAs add exact products; 4 lanes x 2 accumulators, combined in a fixed order (the
 * result depends on the block, never on the number of threads). b may be NULL (|a|2 only). */
static void dot3_block(const float *a, const float *b, size_t n, double out[3]) {
    __m256d d0 = _mm256_setzero_pd(), d1 = d0, a0 = d0, a1 = d0, b0 = d0, b1 = d0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(a + i);
        __m256d xl = _mm256_cvtps_pd(_mm256_castps256_ps128(x)),
                xh = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
        a0 = _mm256_fmadd_pd(xl, xl, a0), a1 = _mm256_fmadd_pd(xh, xh, a1);
        if (b) {
            __m256 y = _mm256_loadu_ps(b + i);
            __m256d yl = _mm256_cvtps_pd(_mm256_castps256_ps128(y)),
                    yh = _mm256_cvtps_pd(_mm256_extractf128_ps(y, 1));
            d0 = _mm256_fmadd_pd(xl, yl, d0), d1 = _mm256_fmadd_pd(xh, yh, d1);
            b0 = _mm256_fmadd_pd(yl, yl, b0), b1 = _mm256_fmadd_pd(yh, yh, b1);
        }
    }
    double l[3][8];
    _mm256_storeu_pd(l[0], d0), _mm256_storeu_pd(l[0] + 4, d1);
    _mm256_storeu_pd(l[1], a0), _mm256_storeu_pd(l[1] + 4, a1);
    _mm256_storeu_pd(l[2], b0), _mm256_storeu_pd(l[2] + 4, b1);
    for (int q = 0; q < 3; q++) {
        out[q] = 0;
        for (int k = 0; k < 8; k++) out[q] += l[q][k];
    }
    for (; i < n; i++) {
        double x = a[i], y = b ? b[i] : 0;
        out[0] += x * y, out[1] += x * x, out[2] += y * y;
    }
}

/* the blocks' sums, each block by one thread, combined in block order */
static void dot3_blocks(size_t n, const float *a, const float *b, double out[3]) {
    size_t nbk = (n + DOT_BLOCK - 1) / DOT_BLOCK;
    double *part = gta_malloc((nbk ? nbk : 1) * 3 * sizeof *part);
#pragma omp parallel for schedule(static) if (nbk > 1)
    for (size_t blk = 0; blk < nbk; blk++) {
        size_t i0 = blk * DOT_BLOCK, i1 = i0 + DOT_BLOCK < n ? i0 + DOT_BLOCK : n;
        dot3_block(a + i0, b ? b + i0 : NULL, i1 - i0, part + 3 * blk);
    }
    out[0] = out[1] = out[2] = 0;
    for (size_t blk = 0; blk < nbk; blk++)
        out[0] += part[3 * blk], out[1] += part[3 * blk + 1], out[2] += part[3 * blk + 2];
    free(part);
}

static void dot3(gta_ctx *c, size_t n, const float *a, const float *b, double *dot, double *na, double *nb) {
    (void)c;
    double s[3];
    dot3_blocks(n, a, b, s);
    *dot = s[0];
    if (na) *na = s[1];
    if (nb) *nb = s[2];
}

static double sumsq(gta_ctx *c, size_t n, const float *a) {
    (void)c;
    double s[3];
    dot3_blocks(n, a, NULL, s);
    return s[1];
}

static void axpby(gta_ctx *c, size_t n, float alpha, const float *x, float beta, float *y) {
    (void)c;
    if (beta == 0.0f) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) y[i] = alpha * x[i];
    } else {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) y[i] = alpha * x[i] + beta * y[i];
    }
}

static void scale(gta_ctx *c, size_t n, float s, float *x) {
    (void)c;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

static void adamw(gta_ctx *c, size_t n, float *p, const float *g, float *m, float *v, float b1, float b2,
                  float step_size, float inv_bc2_sqrt, float eps, float keep) {
    (void)c;
#pragma omp parallel for simd schedule(static) if (PAR_WORTH(n))
    for (size_t i = 0; i < n; i++) {
        p[i] *= keep;
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_bc2_sqrt + eps);
    }
}

static void fill_normal(gta_ctx *c, float *x, size_t n, uint64_t seed, uint64_t stream, double std) {
    (void)c;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < n; k++) x[k] = (float)(std * gta_rng_normal(seed, stream, k));
}

static void fill(gta_ctx *c, float *x, size_t n, float v) {
    (void)c;
#pragma omp parallel for simd schedule(static) if (PAR_WORTH(n))
    for (size_t k = 0; k < n; k++) x[k] = v;
}

/* ---------------------------------------------------------------- the machine */

__attribute__((target("avx512f"))) static double fma_loop_avx512(long iters) {
    __m512 a[12], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < iters; k++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    return (double)_mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static double fma_loop_avx2(long iters) {
    __m256 a[12], b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (long k = 0; k < iters; k++)
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
    float out[8];
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    _mm256_storeu_ps(out, s);
    return (double)(out[0] + out[7]);
}

static double peak_gflops(gta_ctx *c) {
    (void)c;
    int wide = __builtin_cpu_supports("avx512f");
    long iters = 20000000;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double flops = 0, sink = 0, t = gta_now();
#pragma omp parallel reduction(+ : flops, sink)
        {
            /* the returned value keeps the loop from being optimized away */
            sink += wide ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
            flops += 2.0 * (wide ? 16 : 8) * 12 * (double)iters;
        }
        if (!isfinite(sink)) flops = 0;
        t = gta_now() - t;
        if (flops / t > best) best = flops / t;
    }
    return best / 1e9;
}

static int threads(gta_ctx *c) {
    (void)c;
    return omp_get_max_threads();
}

static void set_threads(gta_ctx *c, int n) {
    (void)c;
    omp_set_num_threads(n > 0 ? n : 1);
}

static void to_host(gta_ctx *c, void *host, const void *dev, size_t bytes) { b_copy(c, host, dev, bytes); }
static void from_host(gta_ctx *c, void *dev, const void *host, size_t bytes) { b_copy(c, dev, host, bytes); }

static const gta_backend_ops cpu_ops = {
    .version = GTA_BACKEND_VERSION,
    .name = "cpu",
    .ctx_new = ctx_new,
    .ctx_free = ctx_free,
    .alloc = b_alloc,
    .free = b_free,
    .to_host = to_host,
    .from_host = from_host,
    .copy = b_copy,
    .zero = b_zero,
    .read_begin = read_begin,
    .read_end = read_end,
    .write_begin = write_begin,
    .write_end = write_end,
    .mem_free = mem_free,
    .scratch_bytes = scratch_bytes,
    .set_head_chunk = set_head_chunk,
    .scratch_release = scratch_release,
    .embed = embed,
    .embed_backward = embed_backward,
    .rmsnorm = rmsnorm,
    .rmsnorm_apply = rmsnorm_apply,
    .rmsnorm_backward = rmsnorm_backward,
    .headnorm = headnorm,
    .headnorm_backward = headnorm_backward,
    .rope_table = rope_table,
    .rope = rope,
    .linear = linear,
    .linear_dx = linear_dx,
    .linear_dw = linear_dw,
    .gemm = gemm,
    .dropout = dropout,
    .attention = attention,
    .attention_backward = attention_backward,
    .attention_decode = attention_decode,
    .scatter_rows = scatter_rows,
    .gather_rows = gather_rows,
    .swiglu = swiglu,
    .swiglu_backward = swiglu_backward,
    .add = add,
    .logprob_head = logprob_head,
    .logprob_head_fused = logprob_head_fused,
    .pack_bytes = pack_bytes,
    .pack = pack,
    .linear_packed = linear_packed,
    .linear_bf16 = linear_bf16,
    .linear_dx_bf16 = linear_dx_bf16,
    .linear_dw_bf16 = linear_dw_bf16,
    .embed_bf16 = embed_bf16,
    .logprob_head_bf16 = logprob_head_bf16,
    .logprob_head_fused_bf16 = logprob_head_fused_bf16,
    .bf16_kernel = bf16_kernel,
    .bf16_choice = bf16_choice,
    .to_bf16 = to_bf16,
    .from_bf16 = from_bf16,
    .sample = sample,
    .sample_bytes = sample_bytes,
    .dot3 = dot3,
    .sumsq = sumsq,
    .axpby = axpby,
    .scale = scale,
    .adamw = adamw,
    .fill_normal = fill_normal,
    .fill = fill,
    .threads = threads,
    .set_threads = set_threads,
    .peak_gflops = peak_gflops,
};

const gta_backend_ops *gta_backend_cpu(void) { return &cpu_ops; }
