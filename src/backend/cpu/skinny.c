/* y[n, out] = x[n, in] W[out, in]^T for few rows (decoding): the weights are streamed
 * once, straight from memory, with register blocks of 4 weight rows x 6 input rows.
 * BLAS packs (copies) the whole weight matrix on every call, which costs more than the
 * product itself when n is 16. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"

#define RO 4 /* weight rows per block */
#define RB 6 /* input rows per block */

/* RO weight rows x NB input rows (NB a compile-time constant after inlining), so the
 * 4 x NB accumulators live in registers */
__attribute__((target("avx512f"), always_inline)) static inline void tile512(float *y, int ldy, const float *x,
                                                                           int ldx, const float *w, int ldw, int in,
                                                                           const int NB) {
    __m512 acc[RO][RB];
    for (int a = 0; a < RO; a++)
        for (int b = 0; b < NB; b++) acc[a][b] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= in; k += 16) {
        /* the next tile's weight rows: the loads below are what bounds this loop */
        _mm_prefetch((const char *)(w + 4 * (size_t)ldw + k), _MM_HINT_T0);
        _mm_prefetch((const char *)(w + 5 * (size_t)ldw + k), _MM_HINT_T0);
        _mm_prefetch((const char *)(w + 6 * (size_t)ldw + k), _MM_HINT_T0);
        _mm_prefetch((const char *)(w + 7 * (size_t)ldw + k), _MM_HINT_T0);
        __m512 w0 = _mm512_loadu_ps(w + k), w1 = _mm512_loadu_ps(w + (size_t)ldw + k),
               w2 = _mm512_loadu_ps(w + 2 * (size_t)ldw + k), w3 = _mm512_loadu_ps(w + 3 * (size_t)ldw + k);
        for (int b = 0; b < NB; b++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)b * ldx + k);
            acc[0][b] = _mm512_fmadd_ps(w0, xv, acc[0][b]);
            acc[1][b] = _mm512_fmadd_ps(w1, xv, acc[1][b]);
            acc[2][b] = _mm512_fmadd_ps(w2, xv, acc[2][b]);
            acc[3][b] = _mm512_fmadd_ps(w3, xv, acc[3][b]);
        }
    }
    if (k < in) {
        __mmask16 mk = (__mmask16)((1u << (in - k)) - 1);
        for (int a = 0; a < RO; a++) {
            __m512 wv = _mm512_maskz_loadu_ps(mk, w + (size_t)a * ldw + k);
            for (int b = 0; b < NB; b++)
                acc[a][b] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mk, x + (size_t)b * ldx + k), acc[a][b]);
        }
    }
    /* the four sums of an input row in one go: halve each accumulator to 8 lanes, then
     * horizontal adds leave [s0 s1 s2 s3] in one register, added to y's 4 contiguous floats */
    for (int b = 0; b < NB; b++) {
        __m256 h[RO];
        for (int a = 0; a < RO; a++)
            h[a] = _mm256_add_ps(_mm512_castps512_ps256(acc[a][b]),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[a][b]), 1)));
        __m256 x01 = _mm256_hadd_ps(h[0], h[1]), x23 = _mm256_hadd_ps(h[2], h[3]), q = _mm256_hadd_ps(x01, x23);
        __m128 sum = _mm_add_ps(_mm256_castps256_ps128(q), _mm256_extractf128_ps(q, 1));
        float *yr = y + (size_t)b * ldy;
        _mm_storeu_ps(yr, _mm_add_ps(_mm_loadu_ps(yr), sum));
    }
}

__attribute__((target("avx512f"))) static void tile512_n(float *y, int ldy, const float *x, int ldx, int nb,
                                                       const float *w, int ldw, int in) {
    switch (nb) {
    case 1: tile512(y, ldy, x, ldx, w, ldw, in, 1); break;
    case 2: tile512(y, ldy, x, ldx, w, ldw, in, 2); break;
    case 3: tile512(y, ldy, x, ldx, w, ldw, in, 3); break;
    case 4: tile512(y, ldy, x, ldx, w, ldw, in, 4); break;
    case 5: tile512(y, ldy, x, ldx, w, ldw, in, 5); break;
    default: tile512(y, ldy, x, ldx, w, ldw, in, 6); break;
    }
}

/* fewer than RO weight rows (the last block): one pair at a time */
__attribute__((target("avx512f"))) static void block512(float *y, int ldy, const float *x, int ldx, int nb,
                                                      const float *w, int ldw, int no, int in) {
    if (no == RO) {
        tile512_n(y, ldy, x, ldx, nb, w, ldw, in);
        return;
    }
    for (int a = 0; a < no; a++)
        for (int b = 0; b < nb; b++) {
            const float *wr = w + (size_t)a * ldw, *xr = x + (size_t)b * ldx;
            __m512 acc = _mm512_setzero_ps();
            int k = 0;
            for (; k + 16 <= in; k += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(wr + k), _mm512_loadu_ps(xr + k), acc);
            if (k < in) {
                __mmask16 mk = (__mmask16)((1u << (in - k)) - 1);
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, wr + k), _mm512_maskz_loadu_ps(mk, xr + k), acc);
            }
            y[(size_t)b * ldy + a] += _mm512_reduce_add_ps(acc);
        }
}

static void block256(float *y, int ldy, const float *x, int ldx, int nb, const float *w, int ldw, int no, int in) {
    __m256 acc[RO][RB];
    for (int a = 0; a < RO; a++)
        for (int b = 0; b < RB; b++) acc[a][b] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= in; k += 8) {
        __m256 wv[RO];
        for (int a = 0; a < RO; a++) wv[a] = a < no ? _mm256_loadu_ps(w + (size_t)a * ldw + k) : _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)b * ldx + k);
            for (int a = 0; a < RO; a++) acc[a][b] = _mm256_fmadd_ps(wv[a], xv, acc[a][b]);
        }
    }
    for (int b = 0; b < nb; b++)
        for (int a = 0; a < no; a++) {
            __m256 v = acc[a][b];
            __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            s = _mm_add_ss(s, _mm_movehdup_ps(s));
            float r = _mm_cvtss_f32(s);
            for (int kk = k; kk < in; kk++) r += w[(size_t)a * ldw + kk] * x[(size_t)b * ldx + kk];
            y[(size_t)b * ldy + a] += r;
        }
}

void cpu_linear_skinny(float *y, const float *x, const float *w, const float *bias, int n, int in, int out,
                       float beta) {
    static int wide = -1;
    if (wide < 0) wide = __builtin_cpu_supports("avx512f");
#pragma omp parallel for schedule(static)
    for (int o0 = 0; o0 < out; o0 += RO) {
        int no = out - o0 < RO ? out - o0 : RO;
        for (int t = 0; t < n; t++) {
            float *yr = y + (size_t)t * out + o0;
            for (int a = 0; a < no; a++) yr[a] = (beta != 0.0f ? yr[a] : 0.0f) + (bias ? bias[o0 + a] : 0.0f);
        }
        /* rows split into equal blocks of at most RB (16 rows: 6, 5, 5) */
        int nblk = (n + RB - 1) / RB;
        for (int bi = 0, b0 = 0; bi < nblk; bi++) {
            int nb = (n - b0) / (nblk - bi);
            if (wide)
                block512(y + (size_t)b0 * out + o0, out, x + (size_t)b0 * in, in, nb, w + (size_t)o0 * in, in, no, in);
            else
                block256(y + (size_t)b0 * out + o0, out, x + (size_t)b0 * in, in, nb, w + (size_t)o0 * in, in, no, in);
            b0 += nb;
        }
    }
}

/* ---- packed panels: the decode path's weights, re-laid out once per generation call ----
 * Panel p holds output rows 16p .. 16p+15 as [in][16] (zero rows past out), so one
 * 16-float load gives a weight column for 16 outputs and each input element is broadcast:
 * no horizontal sums, one load per 16 FMAs. */

#define PW 16

size_t cpu_panel_floats(int out, int in) { return (size_t)((out + PW - 1) / PW) * PW * (size_t)in; }

void cpu_pack_panels(float *dst, const float *w, int out, int in) {
    int np = (out + PW - 1) / PW;
    /* 16 rows read side by side, the panel written in order */
#pragma omp parallel for schedule(static)
    for (int p = 0; p < np; p++) {
        float *pd = dst + (size_t)p * PW * in;
        int no = out - p * PW < PW ? out - p * PW : PW;
        const float *w0 = w + (size_t)p * PW * in;
        for (int k = 0; k < in; k++) {
            float *col = pd + (size_t)k * PW;
            for (int j = 0; j < no; j++) col[j] = w0[(size_t)j * in + k];
            for (int j = no; j < PW; j++) col[j] = 0.0f;
        }
    }
}

__attribute__((target("avx512f"), always_inline)) static inline void panel_tile(float *y, int ldy, const float *x,
                                                                              int ldx, const float *pn, int in,
                                                                              __mmask16 mo, const int NB) {
    __m512 acc[16];
    for (int b = 0; b < NB; b++) acc[b] = _mm512_setzero_ps();
    for (int k = 0; k < in; k++) {
        /* each k step reads one cache line of the panel: fetch 128 lines (8 KiB) ahead */
        _mm_prefetch((const char *)(pn + (size_t)(k + 128) * PW), _MM_HINT_T0);
        __m512 pv = _mm512_loadu_ps(pn + (size_t)k * PW);
        for (int b = 0; b < NB; b++) acc[b] = _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)b * ldx + k]), pv, acc[b]);
    }
    for (int b = 0; b < NB; b++) {
        float *yr = y + (size_t)b * ldy;
        _mm512_mask_storeu_ps(yr, mo, _mm512_add_ps(_mm512_maskz_loadu_ps(mo, yr), acc[b]));
    }
}

/* a panel tile kernel called with its row count nb (1..16) as a compile-time constant */
#define PANEL_TILE_DISPATCH(kernel, nb, ...)                                                                           \
    switch (nb) {                                                                                                      \
    case 1: kernel(__VA_ARGS__, 1); break;                                                                             \
    case 2: kernel(__VA_ARGS__, 2); break;                                                                             \
    case 3: kernel(__VA_ARGS__, 3); break;                                                                             \
    case 4: kernel(__VA_ARGS__, 4); break;                                                                             \
    case 5: kernel(__VA_ARGS__, 5); break;                                                                             \
    case 6: kernel(__VA_ARGS__, 6); break;                                                                             \
    case 7: kernel(__VA_ARGS__, 7); break;                                                                             \
    case 8: kernel(__VA_ARGS__, 8); break;                                                                             \
    case 9: kernel(__VA_ARGS__, 9); break;                                                                             \
    case 10: kernel(__VA_ARGS__, 10); break;                                                                           \
    case 11: kernel(__VA_ARGS__, 11); break;                                                                           \
    case 12: kernel(__VA_ARGS__, 12); break;                                                                           \
    case 13: kernel(__VA_ARGS__, 13); break;                                                                           \
    case 14: kernel(__VA_ARGS__, 14); break;                                                                           \
    case 15: kernel(__VA_ARGS__, 15); break;                                                                           \
    default: kernel(__VA_ARGS__, 16); break;                                                                           \
    }

__attribute__((target("avx512f"))) static void panel_tile_n(float *y, int ldy, const float *x, int ldx, int nb,
                                                          const float *pn, int in, __mmask16 mo) {
    PANEL_TILE_DISPATCH(panel_tile, nb, y, ldy, x, ldx, pn, in, mo)
}

/* without AVX-512: the same product from the panels, plain loops */
static void panel_tile_plain(float *y, int ldy, const float *x, int ldx, int nb, const float *pn, int in, int no) {
    for (int b = 0; b < nb; b++) {
        float acc[PW] = {0};
        for (int k = 0; k < in; k++) {
            float xv = x[(size_t)b * ldx + k];
            for (int j = 0; j < PW; j++) acc[j] += xv * pn[(size_t)k * PW + j];
        }
        for (int j = 0; j < no; j++) y[(size_t)b * ldy + j] += acc[j];
    }
}

/* ---- bf16 panels: the same layout at half the bytes (opt-in, for rollouts) ----
 * Decoding streams every weight once per step, so it runs at memory speed: panels of
 * bfloat16 weights (rounded to nearest even) halve the bytes. Two k steps are interleaved
 * per 32-bit lane ([in/2][16][2], in padded to even), so one 64-byte load carries two
 * weight columns; a shift and a mask turn them into fp32 exactly, and the products and
 * sums stay fp32. Only the weights are rounded: the activations are not. */

uint16_t cpu_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return (uint16_t)((u >> 16) | ((u & 0xffffu) ? 0x40u : 0u)); /* inf, nan */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

size_t cpu_panel_bf16_elems(int out, int in) { return (size_t)((out + PW - 1) / PW) * PW * (size_t)((in + 1) & ~1); }

void cpu_pack_panels_bf16(uint16_t *dst, const float *w, int out, int in) {
    int np = (out + PW - 1) / PW, in2 = (in + 1) & ~1;
#pragma omp parallel for schedule(static)
    for (int p = 0; p < np; p++) {
        uint16_t *pd = dst + (size_t)p * PW * in2;
        int no = out - p * PW < PW ? out - p * PW : PW;
        const float *w0 = w + (size_t)p * PW * in;
        for (int k = 0; k < in2; k++) {
            uint16_t *col = pd + (size_t)(k >> 1) * 2 * PW + (k & 1);
            for (int j = 0; j < PW; j++) col[2 * j] = (j < no && k < in) ? cpu_f32_to_bf16(w0[(size_t)j * in + k]) : 0;
        }
    }
}

float cpu_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

__attribute__((target("avx512f"), always_inline)) static inline void panel_tile_bf16(float *y, int ldy, const float *x,
                                                                                   int ldx, const uint16_t *pn,
                                                                                   int in, __mmask16 mo, const int NB) {
    __m512 acc[16];
    for (int b = 0; b < NB; b++) acc[b] = _mm512_setzero_ps();
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    int k = 0;
    for (; k + 1 < in; k += 2) {
        _mm_prefetch((const char *)(pn + (size_t)(k + 256) * PW), _MM_HINT_T0);
        __m512i v = _mm512_loadu_si512((const void *)(pn + (size_t)k * PW));
        __m512 w0 = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), w1 = _mm512_castsi512_ps(_mm512_and_si512(v, hi));
        for (int b = 0; b < NB; b++) {
            acc[b] = _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)b * ldx + k]), w0, acc[b]);
            acc[b] = _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)b * ldx + k + 1]), w1, acc[b]);
        }
    }
    if (k < in) { /* odd in: the last pair's second column is zero padding */
        __m512i v = _mm512_loadu_si512((const void *)(pn + (size_t)k * PW));
        __m512 w0 = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
        for (int b = 0; b < NB; b++) acc[b] = _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)b * ldx + k]), w0, acc[b]);
    }
    for (int b = 0; b < NB; b++) {
        float *yr = y + (size_t)b * ldy;
        _mm512_mask_storeu_ps(yr, mo, _mm512_add_ps(_mm512_maskz_loadu_ps(mo, yr), acc[b]));
    }
}

__attribute__((target("avx512f"))) static void panel_tile_bf16_n(float *y, int ldy, const float *x, int ldx, int nb,
                                                               const uint16_t *pn, int in, __mmask16 mo) {
    PANEL_TILE_DISPATCH(panel_tile_bf16, nb, y, ldy, x, ldx, pn, in, mo)
}

/* without AVX-512: the bf16 panels with AVX2, tiles of up to 4 rows (two 8-float
 * accumulators per row; the panel, a few KiB per 16 outputs, stays in cache across them) */
__attribute__((always_inline)) static inline void panel_tile_bf16_avx2(float *y, int ldy, const float *x, int ldx,
                                                                       const uint16_t *pn, int in, int no,
                                                                       const int NB) {
    __m256 acc[4][2];
    for (int b = 0; b < NB; b++) acc[b][0] = acc[b][1] = _mm256_setzero_ps();
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    int k = 0;
    for (; k + 1 < in; k += 2) {
        const uint16_t *col = pn + (size_t)k * PW;
        __m256i v0 = _mm256_loadu_si256((const __m256i *)col), v1 = _mm256_loadu_si256((const __m256i *)(col + PW));
        __m256 a0 = _mm256_castsi256_ps(_mm256_slli_epi32(v0, 16)), b0 = _mm256_castsi256_ps(_mm256_and_si256(v0, hi));
        __m256 a1 = _mm256_castsi256_ps(_mm256_slli_epi32(v1, 16)), b1 = _mm256_castsi256_ps(_mm256_and_si256(v1, hi));
        for (int b = 0; b < NB; b++) {
            __m256 x0 = _mm256_set1_ps(x[(size_t)b * ldx + k]), x1 = _mm256_set1_ps(x[(size_t)b * ldx + k + 1]);
            acc[b][0] = _mm256_fmadd_ps(x1, b0, _mm256_fmadd_ps(x0, a0, acc[b][0]));
            acc[b][1] = _mm256_fmadd_ps(x1, b1, _mm256_fmadd_ps(x0, a1, acc[b][1]));
        }
    }
    if (k < in) { /* odd in: the last pair's second column is zero padding */
        const uint16_t *col = pn + (size_t)k * PW;
        __m256 a0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)col), 16));
        __m256 a1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(col + PW)), 16));
        for (int b = 0; b < NB; b++) {
            __m256 x0 = _mm256_set1_ps(x[(size_t)b * ldx + k]);
            acc[b][0] = _mm256_fmadd_ps(x0, a0, acc[b][0]);
            acc[b][1] = _mm256_fmadd_ps(x0, a1, acc[b][1]);
        }
    }
    for (int b = 0; b < NB; b++) {
        float tmp[PW];
        _mm256_storeu_ps(tmp, acc[b][0]);
        _mm256_storeu_ps(tmp + 8, acc[b][1]);
        for (int j = 0; j < no; j++) y[(size_t)b * ldy + j] += tmp[j];
    }
}

static void panel_tile_bf16_avx2_n(float *y, int ldy, const float *x, int ldx, int nb, const uint16_t *pn, int in,
                                   int no) {
    for (int b0 = 0; b0 < nb; b0 += 4) {
        float *yt = y + (size_t)b0 * ldy;
        const float *xt = x + (size_t)b0 * ldx;
        switch (nb - b0 < 4 ? nb - b0 : 4) {
        case 1: panel_tile_bf16_avx2(yt, ldy, xt, ldx, pn, in, no, 1); break;
        case 2: panel_tile_bf16_avx2(yt, ldy, xt, ldx, pn, in, no, 2); break;
        case 3: panel_tile_bf16_avx2(yt, ldy, xt, ldx, pn, in, no, 3); break;
        default: panel_tile_bf16_avx2(yt, ldy, xt, ldx, pn, in, no, 4); break;
        }
    }
}

/* y = x W^T (+ b) from panels of either kind: per panel of 16 outputs, bias (or y) first,
 * then tiles of up to 16 rows */
static void panels_product(float *y, const float *x, const void *panels, int bf16, const float *bias, int n, int in,
                           int out, float beta) {
    static int wide = -1;
    if (wide < 0) wide = __builtin_cpu_supports("avx512f");
    int np = (out + PW - 1) / PW;
    size_t per_panel = bf16 ? (size_t)PW * (size_t)((in + 1) & ~1) : (size_t)PW * (size_t)in;
#pragma omp parallel for schedule(static)
    for (int p = 0; p < np; p++) {
        int o0 = p * PW, no = out - o0 < PW ? out - o0 : PW;
        for (int t = 0; t < n; t++) {
            float *yr = y + (size_t)t * out + o0;
            for (int a = 0; a < no; a++) yr[a] = (beta != 0.0f ? yr[a] : 0.0f) + (bias ? bias[o0 + a] : 0.0f);
        }
        const float *pf = bf16 ? NULL : (const float *)panels + (size_t)p * per_panel;
        const uint16_t *ph = bf16 ? (const uint16_t *)panels + (size_t)p * per_panel : NULL;
        for (int b0 = 0; b0 < n; b0 += 16) {
            int nb = n - b0 < 16 ? n - b0 : 16;
            float *yt = y + (size_t)b0 * out + o0;
            const float *xt = x + (size_t)b0 * in;
            __mmask16 mo = (__mmask16)((1u << no) - 1);
            if (bf16 && wide)
                panel_tile_bf16_n(yt, out, xt, in, nb, ph, in, mo);
            else if (bf16)
                panel_tile_bf16_avx2_n(yt, out, xt, in, nb, ph, in, no);
            else if (wide)
                panel_tile_n(yt, out, xt, in, nb, pf, in, mo);
            else
                panel_tile_plain(yt, out, xt, in, nb, pf, in, no);
        }
    }
}

void cpu_linear_panels(float *y, const float *x, const float *panels, const float *bias, int n, int in, int out,
                       float beta) {
    panels_product(y, x, panels, 0, bias, n, in, out, beta);
}

void cpu_linear_panels_bf16(float *y, const float *x, const uint16_t *panels, const float *bias, int n, int in,
                            int out, float beta) {
    panels_product(y, x, panels, 1, bias, n, in, out, beta);
}
