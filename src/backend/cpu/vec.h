/* AVX2 helpers for the element-wise hot loops (the build targets x86-64-v3).
 * vec_exp is the Cephes single-precision exp (max relative error about 2 ulp), with
 * exp(x) = 0 below -87.3 so that masked (-inf) scores give exact zeros. */
#ifndef GTA_BACKEND_CPU_VEC_H
#define GTA_BACKEND_CPU_VEC_H

#include <immintrin.h>
#include <math.h>

static inline __m256 vec_exp(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365478515625f);
    __m256 zero_mask = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(zero_mask, y);
}

static inline float vec_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float vec_hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float vec_max(const float *x, int n) {
    __m256 m = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    float r = vec_hmax(m);
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}

/* sum of exp(x - sub) */
static inline double vec_sum_exp(const float *x, int n, float sub) {
    __m256 acc = _mm256_setzero_ps(), s = _mm256_set1_ps(sub);
    int i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_add_ps(acc, vec_exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), s)));
    double r = vec_hsum(acc);
    for (; i < n; i++) r += expf(x[i] - sub);
    return r;
}

/* y = scale * exp(x - sub) (y may be x); returns the sum of exp(x - sub) */
static inline double vec_exp_scale(float *y, const float *x, int n, float sub, float scale) {
    __m256 acc = _mm256_setzero_ps(), s = _mm256_set1_ps(sub), k = _mm256_set1_ps(scale);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = vec_exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
        acc = _mm256_add_ps(acc, e);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(e, k));
    }
    double r = vec_hsum(acc);
    for (; i < n; i++) {
        float e = expf(x[i] - sub);
        r += e;
        y[i] = scale * e;
    }
    return r;
}

/* sigmoid(x) = 1 / (1 + exp(-x)) */
static inline __m256 vec_sigmoid(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, vec_exp(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

#endif
