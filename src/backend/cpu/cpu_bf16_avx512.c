/* Our own bf16 GEMM with vdpbf16ps (AVX512-BF16): C = beta C + op(A) op(B), cpu_bf16.h.
 *
 * Both operands are packed per call (a copy: they are bf16 already): A into rows of k
 * pairs [M][K2] (K2 = K rounded up to even, zero padded), B into panels of 16 columns,
 * two k steps interleaved per 32-bit lane ([K2/2][16][2], as the decode panels of
 * skinny.c), so one vdpbf16ps multiplies a broadcast pair of A by a panel row and adds
 * the two products to 16 fp32 sums. Register tile: 12 rows x 32 columns (24 zmm sums);
 * k in blocks of KB so a tile's A rows and B panels stay in L1/L2. */
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_bf16.h"
#include "base/error.h"

#define MR 12
#define NR 32
#define KB 512 /* k steps per block (even) */
#define MB 96  /* rows per job */

static _Thread_local uint16_t *pa, *pb;
static _Thread_local size_t pa_cap, pb_cap;

static uint16_t *grow(uint16_t **p, size_t *cap, size_t n) {
    if (*cap < n) {
        if (*p) gta_free_aligned(*p);
        *p = gta_malloc_aligned(sizeof(uint16_t) * n);
        *cap = n;
    }
    return *p;
}

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* rows i0.. of A's nr rows x columns [k0, k0 + kn) (kn even) of C's tile at (i, j) */
TGT __attribute__((always_inline)) static inline void tile(const uint16_t *a, int K2, const uint16_t *b,
                                                           int kp, float *c, int ldc, int nc, int first,
                                                           float beta, const int nr) {
    __m512 acc[MR][2];
    for (int r = 0; r < nr; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const uint16_t *b1 = b + (size_t)kp * 32; /* the second panel of the pair: its block follows */
    for (int p = 0; p < kp; p++) {
        __m512bh w0 = (__m512bh)_mm512_loadu_si512(b + (size_t)p * 32),
                 w1 = (__m512bh)_mm512_loadu_si512(b1 + (size_t)p * 32);
        for (int r = 0; r < nr; r++) {
            uint32_t pair;
            memcpy(&pair, a + (size_t)r * K2 + 2 * (size_t)p, 4);
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)pair);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, w0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, w1);
        }
    }
    __mmask16 m0 = nc >= 16 ? 0xffff : (__mmask16)((1u << nc) - 1),
              m1 = nc >= 32   ? 0xffff
                   : nc <= 16 ? 0
                              : (__mmask16)((1u << (nc - 16)) - 1);
    for (int r = 0; r < nr; r++) {
        float *cr = c + (size_t)r * ldc;
        __m512 c0 = acc[r][0], c1 = acc[r][1];
        if (!first || beta != 0.0f) {
            __m512 s = _mm512_set1_ps(first ? beta : 1.0f);
            c0 = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(m0, cr), c0);
            c1 = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(m1, cr + 16), c1);
        }
        _mm512_mask_storeu_ps(cr, m0, c0);
        _mm512_mask_storeu_ps(cr + 16, m1, c1);
    }
}

TGT static void tile_n(const uint16_t *a, int K2, const uint16_t *b, int kp, float *c, int ldc, int nc,
                       int first, float beta, int nr) {
    /* nr a constant in each call, so the sums stay in registers */
    switch (nr) {
    case 1:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, 1);
        break;
    case 2:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, 2);
        break;
    case 3:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, 3);
        break;
    case 4:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, 4);
        break;
    case 5:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, 5);
        break;
    case 6:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, 6);
        break;
    case 7:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, 7);
        break;
    case 8:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, 8);
        break;
    case 9:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, 9);
        break;
    case 10:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, 10);
        break;
    case 11:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, 11);
        break;
    default:
        tile(a, K2, b, kp, c, ldc, nc, first, beta, MR);
        break;
    }
}

void cpu_bf16_gemm_avx512(int ta, int tb, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *B,
                          int ldb, float beta, float *C, int ldc) {
    const int K2 = (K + 1) & ~1, npair = (N + NR - 1) / NR, nkb = (K2 + KB - 1) / KB;
    uint16_t *a = grow(&pa, &pa_cap, (size_t)M * K2);
    /* B: for each k block, for each panel pair, [kp][32][2]... laid out as panel 0 of the
     * pair ([kp][16][2]) then panel 1, so a tile reads two contiguous streams */
    uint16_t *b = grow(&pb, &pb_cap, (size_t)npair * NR * K2);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < M; i++) {
        uint16_t *ar = a + (size_t)i * K2;
        if (!ta)
            memcpy(ar, A + (size_t)i * lda, sizeof(uint16_t) * (size_t)K);
        else
            for (int k = 0; k < K; k++) ar[k] = A[(size_t)k * lda + i];
        if (K2 > K) ar[K] = 0;
    }
#pragma omp parallel for schedule(static) collapse(2)
    for (int kb = 0; kb < nkb; kb++)
        for (int jp = 0; jp < npair; jp++) {
            int k0 = kb * KB, kn = K2 - k0 < KB ? K2 - k0 : KB, kp = kn / 2;
            /* block (kb, jp) at: every earlier block of k is full */
            uint16_t *blk = b + (size_t)k0 * npair * NR + (size_t)jp * NR * kn;
            for (int half = 0; half < 2; half++) {
                uint16_t *pn = blk + (size_t)half * kp * 32;
                int c0 = jp * NR + half * 16, nc = N - c0 < 16 ? (N - c0 > 0 ? N - c0 : 0) : 16;
                int kend = K - k0 < kn ? K - k0 : kn; /* real k steps of this block */
                if (nc < 16 || kend < kn) memset(pn, 0, sizeof(uint16_t) * (size_t)kp * 32);
                if (tb) /* B [N, K]: each column's k run is contiguous */
                    for (int j = 0; j < nc; j++) {
                        const uint16_t *src = B + (size_t)(c0 + j) * ldb + k0;
                        for (int k = 0; k < kend; k++) pn[(size_t)(k >> 1) * 32 + 2 * j + (k & 1)] = src[k];
                    }
                else /* B [K, N]: each k row's 16 columns are contiguous */
                    for (int k = 0; k < kend; k++) {
                        const uint16_t *src = B + (size_t)(k0 + k) * ldb + c0;
                        uint16_t *dst = pn + (size_t)(k >> 1) * 32 + (k & 1);
                        for (int j = 0; j < nc; j++) dst[2 * j] = src[j];
                    }
            }
        }
    const int nmb = (M + MB - 1) / MB;
    for (int kb = 0; kb < nkb; kb++) {
        int k0 = kb * KB, kn = K2 - k0 < KB ? K2 - k0 : KB, kp = kn / 2;
#pragma omp parallel for schedule(static) collapse(2)
        for (int jp = 0; jp < npair; jp++)
            for (int mb = 0; mb < nmb; mb++) {
                const uint16_t *blk = b + (size_t)k0 * npair * NR + (size_t)jp * NR * kn;
                int j0 = jp * NR, nc = N - j0 < NR ? N - j0 : NR, i1 = (mb + 1) * MB < M ? (mb + 1) * MB : M;
                for (int i = mb * MB; i < i1; i += MR) {
                    int nr = i1 - i < MR ? i1 - i : MR;
                    tile_n(a + (size_t)i * K2 + k0, K2, blk, kp, C + (size_t)i * ldc + j0, ldc, nc, kb == 0,
                           beta, nr);
                }
            }
    }
}
