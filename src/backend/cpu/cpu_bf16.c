/* bf16 compute: the GEMM's dispatch, the rounding of activations, and the fallback
 * (cpu_bf16.h). */
#include "backend/cpu/cpu_bf16.h"

#include <cblas.h>
#include <cpuid.h>
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "base/error.h"

static int forced = -1, dnnl_broken;

static const char *names[CPU_BF16_NIMPL] = {"dnnl", "avx512", "fallback"};

const char *cpu_bf16_impl_name(int i) { return i >= 0 && i < CPU_BF16_NIMPL ? names[i] : "?"; }

int cpu_bf16_impl_available(int i) {
    const char *no = getenv("GTA_CPU_NO_AVX512BF16");
    int have = __builtin_cpu_supports("avx512bf16") && !(no && *no && strcmp(no, "0"));
    if (i == CPU_BF16_DNNL) return have && cpu_bf16_dnnl_built() && !dnnl_broken;
    if (i == CPU_BF16_AVX512) return have;
    return i == CPU_BF16_FALLBACK;
}

void cpu_bf16_impl_set(int i) { forced = i < 0 ? -1 : cpu_bf16_impl_available(i) ? i : CPU_BF16_FALLBACK; }

/* ---- the default: measured, once ----
 * The vdpbf16ps-based products (oneDNN without AMX tiles, our kernel) pay only where the
 * instruction outruns fp32 FMAs: on AVX512-BF16 CPUs whose vdpbf16ps issues at half
 * the FMA rate (measured on a Sapphire Rapids-class VM without AMX: 85 GFLOP/s a core
 * against 174, docs/benchmarks.md) the widened fp32 products of the fallback are faster.
 * So: oneDNN where the CPU has AMX-BF16 tiles; else the vdpbf16ps products where one
 * core's vdpbf16ps rate is at least 1.5x its FMA rate (both timed for a few ms at the
 * first bf16 product); else the fallback. */

static int amx_bf16(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d >> 22 & 1)) return 0;
    /* the OS keeps the tile state (XCR0 bits 17, 18) */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo >> 17 & 3) == 3;
}

__attribute__((target("avx512f"))) static double fma_rate(long iters) {
    __m512 a[12], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    double t = omp_get_wtime();
    for (long k = 0; k < iters; k++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
    t = omp_get_wtime() - t;
    for (int i = 1; i < 12; i++) a[0] = _mm512_add_ps(a[0], a[i]);
    volatile float sink = _mm512_reduce_add_ps(a[0]); /* keeps the loop */
    (void)sink;
    return 2.0 * 16 * 12 * (double)iters / t / 1e9;
}

__attribute__((target("avx512f,avx512bf16"))) static double dpbf16_rate(long iters) {
    __m512 a[12];
    __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3380);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    double t = omp_get_wtime();
    for (long k = 0; k < iters; k++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_dpbf16_ps(a[i], x, y);
    t = omp_get_wtime() - t;
    for (int i = 1; i < 12; i++) a[0] = _mm512_add_ps(a[0], a[i]);
    volatile float sink = _mm512_reduce_add_ps(a[0]);
    (void)sink;
    return 2.0 * 32 * 12 * (double)iters / t / 1e9;
}

static int default_sel = -1;
static char choice[160];

static void choose_default(void) {
    int dnnl = cpu_bf16_impl_available(CPU_BF16_DNNL), own = cpu_bf16_impl_available(CPU_BF16_AVX512);
    if (dnnl && amx_bf16()) {
        default_sel = CPU_BF16_DNNL;
        snprintf(choice, sizeof choice, "dnnl: the CPU has AMX-BF16 tiles");
        return;
    }
    if (!own) {
        default_sel = CPU_BF16_FALLBACK;
        snprintf(choice, sizeof choice, "fallback: no AVX512-BF16%s", dnnl ? "" : " (or no oneDNN)");
        return;
    }
    double f = 0, b = 0;
    for (int rep = 0; rep < 3; rep++) {
        double x = fma_rate(100000), y = dpbf16_rate(100000);
        f = x > f ? x : f, b = y > b ? y : b;
    }
    int fast = b >= 1.5 * f;
    default_sel = fast ? (dnnl ? CPU_BF16_DNNL : CPU_BF16_AVX512) : CPU_BF16_FALLBACK;
    snprintf(choice, sizeof choice,
             "%s: no AMX; one core's vdpbf16ps %.0f GFLOP/s against %.0f for fp32 FMA (%.2fx)",
             names[default_sel], b, f, b / f);
}

const char *cpu_bf16_choice(void) {
    if (default_sel < 0) cpu_bf16_impl();
    return choice;
}

/* chosen at every call from the environment (two getenv: nothing beside a product), so a
 * test can switch it in-process */
int cpu_bf16_impl(void) {
    if (forced >= 0) return forced;
    const char *want = getenv("GTA_CPU_BF16_GEMM");
    const char *no = getenv("GTA_CPU_NO_AVX512BF16");
    int sel;
    if (no && *no && strcmp(no, "0")) {
        sel = CPU_BF16_FALLBACK;
    } else {
        /* measured once; a race of two first callers measures twice and agrees */
        if (default_sel < 0) {
#pragma omp critical(gta_bf16_default)
            if (default_sel < 0) choose_default();
        }
        sel = cpu_bf16_impl_available(default_sel) ? default_sel : CPU_BF16_FALLBACK;
    }
    if (want && *want) {
        static int noted;
        int w = -1;
        for (int i = 0; i < CPU_BF16_NIMPL; i++)
            if (!strcmp(want, names[i])) w = i;
        if (w >= 0 && cpu_bf16_impl_available(w))
            sel = w;
        else if (!noted++)
            fprintf(stderr, "gta: note: GTA_CPU_BF16_GEMM='%s' is not available here; using %s\n", want,
                    names[sel]);
    }
    return sel;
}

/* ---- rounding: nearest even, as cpu_f32_to_bf16, 8 at a time with AVX2 ---- */

static inline __m128i round8(const float *s) {
    __m256i u = _mm256_loadu_si256((const __m256i *)s), e = _mm256_set1_epi32(0x7f800000);
    __m256i r = _mm256_add_epi32(
        u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff),
                            _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))));
    r = _mm256_srli_epi32(r, 16);
    /* inf and nan: the high half, nan kept a nan */
    __m256i lowbits = _mm256_and_si256(u, _mm256_set1_epi32(0xffff));
    __m256i quiet =
        _mm256_andnot_si256(_mm256_cmpeq_epi32(lowbits, _mm256_setzero_si256()), _mm256_set1_epi32(0x40));
    __m256i sp = _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet);
    __m256i isspec = _mm256_cmpeq_epi32(_mm256_and_si256(u, e), e);
    r = _mm256_blendv_epi8(r, sp, isspec);
    __m256i p = _mm256_packus_epi32(r, r); /* lanes: [0..3 0..3 | 4..7 4..7] */
    p = _mm256_permute4x64_epi64(p, 0x08);
    return _mm256_castsi256_si128(p);
}

void cpu_bf16_round(uint16_t *dst, const float *src, size_t n) {
    enum { PIECE = 1 << 16 };
    size_t np = (n + PIECE - 1) / PIECE;
#pragma omp parallel for schedule(static) if (np > 1)
    for (size_t p = 0; p < np; p++) {
        size_t a = p * PIECE, b = a + PIECE < n ? a + PIECE : n, i = a;
        for (; i + 8 <= b; i += 8) _mm_storeu_si128((__m128i *)(dst + i), round8(src + i));
        for (; i < b; i++) dst[i] = cpu_f32_to_bf16(src[i]);
    }
}

void cpu_bf16_round_f32(float *dst, const float *src, size_t n) {
    enum { PIECE = 1 << 16 };
    size_t np = (n + PIECE - 1) / PIECE;
#pragma omp parallel for schedule(static) if (np > 1)
    for (size_t p = 0; p < np; p++) {
        size_t a = p * PIECE, b = a + PIECE < n ? a + PIECE : n, i = a;
        for (; i + 8 <= b; i += 8)
            _mm256_storeu_si256((__m256i *)(dst + i),
                                _mm256_slli_epi32(_mm256_cvtepu16_epi32(round8(src + i)), 16));
        for (; i < b; i++) dst[i] = cpu_bf16_to_f32(cpu_f32_to_bf16(src[i]));
    }
}

/* ---- the fallback: widen (exactly) and multiply in fp32 ---- */

static _Thread_local float *wide[2];
static _Thread_local size_t wide_cap[2];

static float *widen(int k, const uint16_t *src, int rows, int cols, int ld) {
    size_t n = (size_t)rows * (size_t)cols;
    if (wide_cap[k] < n) {
        free(wide[k]);
        wide[k] = gta_malloc(sizeof(float) * n);
        wide_cap[k] = n;
    }
    float *d = wide[k];
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (int r = 0; r < rows; r++) {
        const uint16_t *s = src + (size_t)r * ld;
        float *o = d + (size_t)r * cols;
        int c = 0;
        for (; c + 8 <= cols; c += 8)
            _mm256_storeu_si256(
                (__m256i *)(o + c),
                _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + c))), 16));
        for (; c < cols; c++) o[c] = cpu_bf16_to_f32(s[c]);
    }
    return d;
}

static void gemm_fallback(int ta, int tb, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *B,
                          int ldb, float beta, float *C, int ldc) {
    /* the stored shapes: A [K, M] or [M, K]; B [N, K] or [K, N] */
    const float *a = ta ? widen(0, A, K, M, lda) : widen(0, A, M, K, lda);
    const float *b = tb ? widen(1, B, N, K, ldb) : widen(1, B, K, N, ldb);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f,
                a, ta ? M : K, b, tb ? K : N, beta, C, ldc);
}

void cpu_bf16_gemm(int ta, int tb, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *B,
                   int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta != 0.0f ? beta * C[(size_t)i * ldc + j] : 0.0f;
        return;
    }
    switch (cpu_bf16_impl()) {
    case CPU_BF16_DNNL:
        if (!cpu_bf16_dnnl_gemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc)) return;
        dnnl_broken = 1;
        if (forced == CPU_BF16_DNNL) forced = -1;
        fprintf(stderr, "gta: note: oneDNN's bf16 matmul failed; using %s\n", names[cpu_bf16_impl()]);
        cpu_bf16_gemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    case CPU_BF16_AVX512:
        cpu_bf16_gemm_avx512(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    default:
        gemm_fallback(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    }
}
