/* The decode-path products against BLAS: skinny (weights streamed) and packed panels, on
 * shapes that are not multiples of the tiles, with bias and accumulation. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_decode_products), cmocka_unit_test(test_decode_products_bf16)};
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
