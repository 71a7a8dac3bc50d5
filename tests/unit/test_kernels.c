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

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_decode_products)};
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
