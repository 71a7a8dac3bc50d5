/* The decode-path products against BLAS: skinny (weights streamed) and packed panels, on
 * shapes that are not multiples of the tiles, with bias and accumulation; and the bf16
 * compute GEMM (each implementation this machine has) against a double-precision
 * reference on the same bf16-rounded inputs. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/cpu_ops.h"
#include "base/rng.h"

static void check_shape(int n, int in, int out, float beta) {
    float *w = malloc(sizeof(float) * (size_t)out * in), *x = malloc(sizeof(float) * (size_t)n * in),
          *b = malloc(sizeof(float) * (size_t)out), *ref = malloc(sizeof(float) * (size_t)n * out),
          *y1 = malloc(sizeof(float) * (size_t)n * out), *y2 = malloc(sizeof(float) * (size_t)n * out),
          *pk = malloc(sizeof(float) * cpu_panel_floats(out, in));
    for (int i = 0; i < out * in; i++) w[i] = (float)gta_rng_normal(1, 0, (uint64_t)i);
    for (int i = 0; i < n * in; i++) x[i] = (float)gta_rng_normal(2, 0, (uint64_t)i);
    for (int i = 0; i < out; i++) b[i] = (float)gta_rng_normal(3, 0, (uint64_t)i);
    for (int i = 0; i < n * out; i++) ref[i] = y1[i] = y2[i] = (float)gta_rng_normal(4, 0, (uint64_t)i);
    /* reference in double */
    for (int t = 0; t < n; t++)
        for (int o = 0; o < out; o++) {
            double s = beta * ref[(size_t)t * out + o] + b[o];
            for (int k = 0; k < in; k++) s += (double)x[(size_t)t * in + k] * w[(size_t)o * in + k];
            ref[(size_t)t * out + o] = (float)s;
        }
    cpu_linear_skinny(y1, x, w, b, n, in, out, beta);
    cpu_pack_panels(pk, w, out, in);
    cpu_linear_panels(y2, x, pk, b, n, in, out, beta);
    double tol = 1e-5 * sqrt((double)in) * 4;
    double d1 = tu_max_abs_diff(y1, ref, (size_t)n * out, NULL), d2 = tu_max_abs_diff(y2, ref, (size_t)n * out, NULL);
    if (d1 > tol || d2 > tol) fail_msg("n=%d in=%d out=%d beta=%g: skinny %g, panels %g (tol %g)", n, in, out, beta, d1, d2, tol);
    free(w), free(x), free(b), free(ref), free(y1), free(y2), free(pk);
}

static void test_decode_products(void **s) {
    (void)s;
    const int ns[] = {1, 5, 6, 7, 16, 17, 23};
    const int shapes[][2] = {{64, 48}, {37, 50}, {100, 17}, {256, 33}};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (size_t j = 0; j < sizeof shapes / sizeof shapes[0]; j++) {
            check_shape(ns[i], shapes[j][0], shapes[j][1], 0.0f);
            check_shape(ns[i], shapes[j][0], shapes[j][1], 1.0f);
        }
}

/* bf16 rounding written independently of the kernel: frexp + round-half-even to the
 * value's quantum (8 significant bits; subnormals share the fixed quantum 2^-133) */
static double to_bf16(double v) {
    int e;
    (void)frexp(v, &e); /* v = m 2^e, 0.5 <= |m| < 1 */
    int q = e - 8 < -133 ? -133 : e - 8;
    return ldexp(nearbyint(ldexp(v, -q)), q);
}

static void check_shape_bf16(int n, int in, int out, float beta) {
    float *w = malloc(sizeof(float) * (size_t)out * in), *x = malloc(sizeof(float) * (size_t)n * in),
          *b = malloc(sizeof(float) * (size_t)out), *y = malloc(sizeof(float) * (size_t)n * out);
    double *ref = malloc(sizeof(double) * (size_t)n * out);
    uint16_t *pk = malloc(sizeof(uint16_t) * cpu_panel_bf16_elems(out, in));
    for (int i = 0; i < out * in; i++) w[i] = (float)gta_rng_normal(1, 0, (uint64_t)i);
    for (int i = 0; i < n * in; i++) x[i] = (float)gta_rng_normal(2, 0, (uint64_t)i);
    for (int i = 0; i < out; i++) b[i] = (float)gta_rng_normal(3, 0, (uint64_t)i);
    for (int i = 0; i < n * out; i++) y[i] = (float)gta_rng_normal(4, 0, (uint64_t)i);
    for (int t = 0; t < n; t++)
        for (int o = 0; o < out; o++) {
            double s = beta * y[(size_t)t * out + o] + b[o], sa = 0, s32 = s;
            for (int k = 0; k < in; k++) {
                s += (double)x[(size_t)t * in + k] * to_bf16(w[(size_t)o * in + k]);
                s32 += (double)x[(size_t)t * in + k] * w[(size_t)o * in + k];
                sa += fabs((double)x[(size_t)t * in + k] * w[(size_t)o * in + k]);
            }
            ref[(size_t)t * out + o] = s;
            /* how far rounding the weights may move the exact fp32-weight product */
            if (fabs(s - s32) > 0x1p-9 * sa)
                fail_msg("bf16 rounding moved output (%d, %d) by more than 2^-9 sum|x w|", t, o);
        }
    cpu_pack_panels_bf16(pk, w, out, in);
    cpu_linear_panels_bf16(y, x, pk, b, n, in, out, beta);
    double tol = 1e-5 * sqrt((double)in) * 4, worst = 0;
    for (int i = 0; i < n * out; i++) worst = fmax(worst, fabs(y[i] - ref[i]));
    if (worst > tol) fail_msg("bf16 n=%d in=%d out=%d beta=%g: %g from the bf16-rounded product (tol %g)", n, in, out, beta, worst, tol);
    free(w), free(x), free(b), free(y), free(ref), free(pk);
}

static void test_decode_products_bf16(void **s) {
    (void)s;
    const int ns[] = {1, 6, 16, 17};
    const int shapes[][2] = {{64, 48}, {37, 50}, {100, 17}, {255, 33}};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (size_t j = 0; j < sizeof shapes / sizeof shapes[0]; j++) {
            check_shape_bf16(ns[i], shapes[j][0], shapes[j][1], 0.0f);
            check_shape_bf16(ns[i], shapes[j][0], shapes[j][1], 1.0f);
        }
    /* the rounding itself: nearest, ties to even, specials kept */
    const float cases[] = {1.0f, 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-9f, -2.5f, 3.1415926f, 1e-40f,
                           65504.0f, 3.0e38f};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* out = 1, in = 1: one panel of 16 x 2 elements, (k 0, j 0) first */
        uint16_t buf[32];
        cpu_pack_panels_bf16(buf, &cases[i], 1, 1);
        double want = to_bf16(cases[i]);
        if (isinf(want)) want = INFINITY; /* 3e38 rounds past FLT_MAX */
        if (cpu_bf16_to_f32(buf[0]) != (float)want)
            fail_msg("bf16(%.9g) = %.9g, want %.9g", (double)cases[i], (double)cpu_bf16_to_f32(buf[0]), want);
        for (int j = 1; j < 32; j++) assert_int_equal(buf[j], 0); /* padding */
    }
    float nan = NAN, inf = -INFINITY;
    uint16_t buf[32];
    cpu_pack_panels_bf16(buf, &nan, 1, 1);
    assert_true(isnan(cpu_bf16_to_f32(buf[0])));
    cpu_pack_panels_bf16(buf, &inf, 1, 1);
    assert_true(cpu_bf16_to_f32(buf[0]) == -INFINITY);
}

/* C = beta C + op(A) op(B) in bf16 against double on the same bf16 values: every element
 * within the fp32 summation bound K * 2^-23 * sum |a b| (and the widening itself exact) */
static double gemm_bf16_case(int ta, int tb, int M, int N, int K, float beta, uint64_t seed) {
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *fa = malloc(sizeof(float) * na), *fb = malloc(sizeof(float) * nb), *c = malloc(sizeof(float) * nc);
    uint16_t *a = malloc(sizeof(uint16_t) * na), *b = malloc(sizeof(uint16_t) * nb);
    for (size_t i = 0; i < na; i++) fa[i] = (float)gta_rng_normal(seed, 1, i);
    for (size_t i = 0; i < nb; i++) fb[i] = (float)gta_rng_normal(seed, 2, i);
    for (size_t i = 0; i < nc; i++) c[i] = (float)gta_rng_normal(seed, 3, i);
    cpu_bf16_round(a, fa, na);
    cpu_bf16_round(b, fb, nb);
    for (size_t i = 0; i < na; i++) assert_int_equal(a[i], cpu_f32_to_bf16(fa[i])); /* the vector rounding */
    float *fr = malloc(sizeof(float) * na); /* the same rounding kept in fp32 (the fallback's) */
    cpu_bf16_round_f32(fr, fa, na);
    for (size_t i = 0; i < na; i++) assert_true(fr[i] == cpu_bf16_to_f32(a[i]));
    free(fr);
    double *ref = malloc(sizeof(double) * nc), *bound = malloc(sizeof(double) * nc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double sum = beta != 0.0f ? (double)beta * c[(size_t)i * ldc + j] : 0.0, mag = fabs(sum);
            for (int k = 0; k < K; k++) {
                double x = cpu_bf16_to_f32(ta ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k]),
                       y = cpu_bf16_to_f32(tb ? b[(size_t)j * ldb + k] : b[(size_t)k * ldb + j]);
                sum += x * y;
                mag += fabs(x * y);
            }
            ref[(size_t)i * ldc + j] = sum;
            bound[(size_t)i * ldc + j] = (K + 2) * 0x1p-23 * mag + 1e-30;
        }
    cpu_bf16_gemm(ta, tb, M, N, K, a, lda, b, ldb, beta, c, ldc);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            size_t at = (size_t)i * ldc + j;
            double e = fabs(c[at] - ref[at]) / bound[at];
            if (e > worst) worst = e;
            if (e > 1)
                fail_msg("%s ta=%d tb=%d %dx%dx%d beta=%g: C[%d,%d] = %.9g, want %.9g (bound %.3g)",
                         cpu_bf16_impl_name(cpu_bf16_impl()), ta, tb, M, N, K, beta, i, j, c[at], ref[at],
                         bound[at]);
        }
    free(fa), free(fb), free(c), free(a), free(b), free(ref), free(bound);
    return worst;
}

static void gemm_bf16_all(void) {
    const int shapes[][3] = {{1, 1, 1},    {12, 32, 2},    {13, 33, 3},
                             {37, 45, 67}, {100, 17, 513}, {7, 130, 1030}};
    double worst = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int be = 0; be < 2; be++) {
                double w = gemm_bf16_case(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                          be ? 1.0f : 0.0f, (uint64_t)(s * 8 + (size_t)t * 2 + (size_t)be));
                if (w > worst) worst = w;
            }
    printf("  bf16 gemm %-8s worst |err| / bound %.3f\n", cpu_bf16_impl_name(cpu_bf16_impl()), worst);
}

static void test_bf16_gemm(void **s) {
    (void)s;
    int ran = 0;
    for (int i = 0; i < CPU_BF16_NIMPL; i++) {
        if (!cpu_bf16_impl_available(i)) {
            printf("  bf16 gemm %-8s not available here (skipped)\n", cpu_bf16_impl_name(i));
            continue;
        }
        cpu_bf16_impl_set(i);
        assert_int_equal(cpu_bf16_impl(), i);
        gemm_bf16_all();
        ran++;
    }
    cpu_bf16_impl_set(-1);
    assert_true(ran >= 1); /* the fallback at least */
}

/* GTA_CPU_NO_AVX512BF16=1 selects the fallback (in-process: the choice is made at each
 * call), which is then correct; without it, the measured default (cpu_bf16.h) */
static void test_bf16_fallback_forced(void **s) {
    (void)s;
    cpu_bf16_impl_set(-1);
    setenv("GTA_CPU_NO_AVX512BF16", "1", 1);
    assert_int_equal(cpu_bf16_impl(), CPU_BF16_FALLBACK);
    assert_false(cpu_bf16_impl_available(CPU_BF16_AVX512));
    gemm_bf16_all();
    unsetenv("GTA_CPU_NO_AVX512BF16");
    /* the measured default: the reason names the implementation chosen; without
     * AVX512-BF16 it is the fallback */
    const char *why = cpu_bf16_choice(), *name = cpu_bf16_impl_name(cpu_bf16_impl());
    assert_int_equal(strncmp(why, name, strlen(name)), 0);
    if (!__builtin_cpu_supports("avx512bf16")) assert_int_equal(cpu_bf16_impl(), CPU_BF16_FALLBACK);
    setenv("GTA_CPU_BF16_GEMM", "avx512", 1); /* our own kernel, by name */
    assert_int_equal(cpu_bf16_impl(),
                     __builtin_cpu_supports("avx512bf16") ? CPU_BF16_AVX512 : CPU_BF16_FALLBACK);
    unsetenv("GTA_CPU_BF16_GEMM");
    printf("  default bf16 gemm here: %s\n", cpu_bf16_choice());
}

/* the fused head's objective: dL/dlp_k = coef_k, whatever the log-probs */
static void head_coef(void *ctx, int k0, int n, const float *lp, float *dlp) {
    (void)lp;
    for (int i = 0; i < n; i++) dlp[i] = ((const float *)ctx)[k0 + i];
}

/* The log-prob head in bf16 compute (bf16 weights, rows and logits' gradient rounded at
 * the products' inputs), in chunks, with pairs sharing rows, given dL/dlp and fused with
 * an objective, under each bf16 GEMM this machine has, against double sums of the same
 * rounded rows and weights. The log-probs' bound is fp32 summation; dx and dW take the
 * exact gradient g (onehot - softmax) where the head multiplies its bf16 rounding (at most
 * 2^-8 of each entry: half a unit of bf16's 8-bit significand), so their bound is 2^-7 of
 * the sum of the terms' magnitudes (twice the rounding's worst, for the fp32 logits' last
 * bits). A wrong operand or layout, or rows not rounded, is off by far more (the log-probs
 * by 7e-4 without the rows' rounding); a gradient left unrounded is closer to the reference,
 * not further, so this does not check that rounding. */
static void test_bf16_head_impls(void **s) {
    (void)s;
    enum { N = 9, D = 70, V = 300, P = 40 };
    float *x = malloc(sizeof(float) * N * D), *wf = malloc(sizeof(float) * V * D),
          *coef = malloc(sizeof(float) * P);
    uint16_t *w16 = malloc(sizeof(uint16_t) * V * D);
    int row[P], tg[P];
    for (int i = 0; i < N * D; i++) x[i] = (float)gta_rng_normal(21, 0, (uint64_t)i);
    for (int i = 0; i < V * D; i++) {
        w16[i] = cpu_f32_to_bf16(0.3f * (float)gta_rng_normal(22, 0, (uint64_t)i));
        wf[i] = cpu_bf16_to_f32(w16[i]);
    }
    for (int k = 0; k < P; k++) {
        row[k] = (k * 7) % N; /* every row predicts several targets */
        tg[k] = (int)(gta_rng_u64(23, 0, (uint64_t)k) % V);
        coef[k] = (float)gta_rng_normal(24, 0, (uint64_t)k);
    }
    /* the reference: double sums of the rounded rows and weights */
    double *lp = malloc(sizeof(double) * P), *dx = calloc(N * D, sizeof(double)),
           *dxb = calloc(N * D, sizeof(double)), *dw = calloc(V * D, sizeof(double)),
           *dwb = calloc(V * D, sizeof(double)), *z = malloc(sizeof(double) * V);
    for (int k = 0; k < P; k++) {
        const float *xr = x + (size_t)row[k] * D;
        double mx = -1e300, se = 0;
        for (int v = 0; v < V; v++) {
            double a = 0;
            for (int e = 0; e < D; e++)
                a += (double)cpu_bf16_to_f32(cpu_f32_to_bf16(xr[e])) * wf[(size_t)v * D + e];
            z[v] = a, mx = a > mx ? a : mx;
        }
        for (int v = 0; v < V; v++) se += exp(z[v] - mx);
        double lse = mx + log(se);
        lp[k] = z[tg[k]] - lse;
        for (int v = 0; v < V; v++) {
            double g = coef[k] * ((v == tg[k]) - exp(z[v] - lse));
            for (int e = 0; e < D; e++) {
                double xe = cpu_bf16_to_f32(cpu_f32_to_bf16(xr[e]));
                dx[(size_t)row[k] * D + e] += g * wf[(size_t)v * D + e];
                dxb[(size_t)row[k] * D + e] += fabs(g * wf[(size_t)v * D + e]);
                dw[(size_t)v * D + e] += g * xe;
                dwb[(size_t)v * D + e] += fabs(g * xe);
            }
        }
    }
    float *glp = malloc(sizeof(float) * P), *gdlp = malloc(sizeof(float) * P),
          *gdx = malloc(sizeof(float) * N * D), *gdw = malloc(sizeof(float) * V * D);
    int ran = 0;
    for (int impl = 0; impl < CPU_BF16_NIMPL; impl++) {
        if (!cpu_bf16_impl_available(impl)) continue;
        cpu_bf16_impl_set(impl);
        double worst = 0;
        for (int fused = 0; fused < 2; fused++) {
            cpu_ws ws;
            memset(&ws, 0, sizeof ws);
            ws.head_chunk = (size_t)16 * V;                /* chunks of 16 pairs: 16, 16, 8 */
            for (int i = 0; i < V * D; i++) gdw[i] = 0.5f; /* dW accumulates */
            if (fused)
                cpu_logprob_head_fused_w16(&ws, glp, gdlp, head_coef, coef, gdx, gdw, x, w16, row, tg, P, N,
                                           D, V, 1);
            else
                cpu_logprob_head_w16(&ws, glp, gdx, gdw, coef, x, w16, row, tg, P, N, D, V, 1);
            for (int k = 0; k < P; k++) {
                if (fabs(glp[k] - lp[k]) > 1e-4)
                    fail_msg("%s fused=%d: lp[%d] = %.7g, want %.7g", cpu_bf16_impl_name(impl), fused, k,
                             glp[k], lp[k]);
                if (fused && gdlp[k] != coef[k])
                    fail_msg("fused: dlp[%d] = %g, want %g", k, gdlp[k], coef[k]);
            }
            for (int i = 0; i < N * D + V * D; i++) {
                int isdx = i < N * D, j = isdx ? i : i - N * D;
                double got = isdx ? gdx[j] : gdw[j] - 0.5, want = isdx ? dx[j] : dw[j];
                double bound = (isdx ? dxb[j] : dwb[j]) / 128 + 1e-6, e = fabs(got - want);
                worst = fmax(worst, e / bound);
                if (e > bound)
                    fail_msg("%s fused=%d: %s[%d] = %.7g, want %.7g (bound %.3g)", cpu_bf16_impl_name(impl),
                             fused, isdx ? "dx" : "dW", j, got, want, bound);
            }
            cpu_scratch_release(&ws);
        }
        printf("  bf16 head %-8s log-probs, dx and dW within their bounds (given dL/dlp and fused; worst "
               "|err| / bound %.3f)\n",
               cpu_bf16_impl_name(impl), worst);
        ran++;
    }
    cpu_bf16_impl_set(-1);
    assert_true(ran >= 1);
    free(x), free(wf), free(coef), free(w16), free(lp), free(dx), free(dxb), free(dw), free(dwb), free(z);
    free(glp), free(gdlp), free(gdx), free(gdw);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_products), cmocka_unit_test(test_decode_products_bf16),
        cmocka_unit_test(test_bf16_gemm), cmocka_unit_test(test_bf16_fallback_forced),
        cmocka_unit_test(test_bf16_head_impls)};
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
