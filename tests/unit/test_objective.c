/* Objective math against values worked out by hand (the arithmetic is in the comments),
 * finite differences in double, masks, both aggregations, chunking, and the gate. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "train/objective.h"

#define NEAR(a, b, tol)                                                                                      \
    do {                                                                                                     \
        double a_ = (a), b_ = (b);                                                                           \
        if (!(fabs(a_ - b_) <= (tol))) fail_msg("%s = %.9g, expected %.9g (line %d)", #a, a_, b_, __LINE__); \
    } while (0)

/* ---- group advantages ---- */

static void test_advantages(void **state) {
    (void)state;
    float adv[4];
    gta_group_stats st;
    /* R = [2, 0, 1, 1]: mean 1, deviations [1, -1, 0, 0], sum of squares 2, unbiased var 2/3,
     * std = sqrt(2/3) = 0.8164965809; A = +-1 / (0.8164965809 + 1e-4) = +-1.2245948898, 0, 0 */
    const float r1[4] = {2, 0, 1, 1};
    gta_group_advantages(r1, 4, 1e-4, adv, &st);
    NEAR(st.mean, 1.0, 0);
    NEAR(st.std, 0.816496580927726, 1e-12);
    assert_int_equal(st.zero_std, 0);
    NEAR(adv[0], 1.2245948897605123, 1e-6);
    NEAR(adv[1], -1.2245948897605123, 1e-6);
    assert_true(adv[2] == 0.0f && adv[3] == 0.0f);
    /* eps = 0: exactly (R - mean) / std */
    gta_group_advantages(r1, 4, 0, adv, NULL);
    NEAR(adv[0], 1.0 / 0.816496580927726, 1e-6);
    /* G = 2, R = [0, 2]: mean 1, var = (1 + 1) / 1 = 2, std = 1.41421356; A = -+1/(1.41431356) */
    const float r2[2] = {0, 2};
    gta_group_advantages(r2, 2, 1e-4, adv, &st);
    NEAR(adv[0], -0.7070567847218314, 1e-6);
    NEAR(adv[1], 0.7070567847218314, 1e-6);
    /* zero std: all equal -> all exactly 0 (0.1 is not exact in binary: no rounding residue) */
    const float r3[3] = {0.1f, 0.1f, 0.1f};
    gta_group_advantages(r3, 3, 1e-4, adv, &st);
    assert_int_equal(st.zero_std, 1);
    NEAR(st.std, 0, 1e-9);
    for (int i = 0; i < 3; i++) assert_true(adv[i] == 0.0f);
    const float r4[4] = {2, 2, 2, 2};
    gta_group_advantages(r4, 4, 1e-4, adv, &st);
    assert_int_equal(st.zero_std, 1);
    for (int i = 0; i < 4; i++) assert_true(adv[i] == 0.0f);
    /* G = 1: no unbiased std; advantage 0, reported zero-std */
    const float r5[1] = {2};
    gta_group_advantages(r5, 1, 1e-4, adv, &st);
    assert_int_equal(st.zero_std, 1);
    assert_true(adv[0] == 0.0f);
    NEAR(st.std, 0, 0);
    /* in place */
    float r6[3] = {1, 2, 3}; /* mean 2, std 1 */
    gta_group_advantages(r6, 3, 0, r6, NULL);
    NEAR(r6[0], -1, 1e-7);
    NEAR(r6[1], 0, 0);
    NEAR(r6[2], 1, 1e-7);
}

/* ---- per-token GRPO ---- */

static void test_clipping(void **state) {
    (void)state;
    gta_grpo_params p = {0.2, 0.0}; /* beta 0: surrogate only */
    double g, k3;
    int clip;
    double L;
    /* A > 0, r = 1.5 > 1.2: min(1.5, 1.2) = 1.2 -> clipped, L = -1.2, gradient exactly 0 */
    L = gta_grpo_token(log(1.5), 0, 0, 1.0, &p, &g, &k3, &clip);
    NEAR(L, -1.2, 1e-12);
    assert_true(g == 0.0);
    assert_int_equal(clip, 1);
    /* A > 0, r = 0.5 < 0.8: min(0.5, 0.8) = 0.5 unclipped, L = -0.5, dL/dlp = -A r = -0.5 */
    L = gta_grpo_token(log(0.5), 0, 0, 1.0, &p, &g, &k3, &clip);
    NEAR(L, -0.5, 1e-12);
    NEAR(g, -0.5, 1e-12);
    assert_int_equal(clip, 0);
    /* A < 0, r = 0.5: min(-0.5, -0.8) = -0.8 clipped, L = 0.8, gradient 0 */
    L = gta_grpo_token(log(0.5), 0, 0, -1.0, &p, &g, &k3, &clip);
    NEAR(L, 0.8, 1e-12);
    assert_true(g == 0.0);
    assert_int_equal(clip, 1);
    /* A < 0, r = 1.5: min(-1.5, -1.2) = -1.5 unclipped, L = 1.5, dL/dlp = -A r = 1.5 */
    L = gta_grpo_token(log(1.5), 0, 0, -1.0, &p, &g, &k3, &clip);
    NEAR(L, 1.5, 1e-12);
    NEAR(g, 1.5, 1e-12);
    assert_int_equal(clip, 0);
    /* inside the range, A = 2, r = 1.1 (lp - old = log 1.1): L = -2.2, g = -2.2 */
    L = gta_grpo_token(-3 + log(1.1), -3, 0, 2.0, &p, &g, &k3, &clip);
    NEAR(L, -2.2, 1e-12);
    NEAR(g, -2.2, 1e-12);
    /* A = 0: no surrogate, no gradient, never clipped */
    L = gta_grpo_token(log(3.0), 0, 0, 0.0, &p, &g, &k3, &clip);
    assert_true(L == 0.0 && g == 0.0);
    assert_int_equal(clip, 0);
    /* gradient 0 exactly when clipped: a sweep over r and A */
    for (int i = 0; i < 200; i++) {
        double r = 0.3 + i * 0.01, A = (i % 3) - 1.0 + 0.25;
        L = gta_grpo_token(log(r), 0, 0, A, &p, &g, &k3, &clip);
        int expect = (A > 0 && r > 1.2) || (A < 0 && r < 0.8);
        assert_int_equal(clip, expect);
        if (expect)
            assert_true(g == 0.0);
        else
            NEAR(g, -A * r, 1e-12);
    }
}

static void test_k3(void **state) {
    (void)state;
    gta_grpo_params p = {0.2, 1.0};
    double g, k3;
    int clip;
    /* A = 0 isolates the KL: lp = -1, ref = -0.5, d = 0.5: k3 = e^0.5 - 0.5 - 1 = 0.1487212707,
     * dk3/dlp = 1 - e^0.5 = -0.6487212707 */
    double L = gta_grpo_token(-1, -1, -0.5, 0.0, &p, &g, &k3, &clip);
    NEAR(k3, 0.1487212707001282, 1e-12);
    NEAR(L, 0.1487212707001282, 1e-12);
    NEAR(g, -0.6487212707001282, 1e-12);
    /* k3 = 0 and gradient 0 at lp == ref; k3 >= 0 everywhere */
    gta_grpo_token(-2, -2, -2, 0.0, &p, &g, &k3, &clip);
    assert_true(k3 == 0.0 && g == 0.0);
    /* full token: A = 1, r = e^0.1 = 1.1051709181 (inside), lp = -1, old = -1.1, ref = -0.5,
     * beta = 0.01: L = -1.1051709181 + 0.01 * 0.1487212707 = -1.1036837054,
     * dL/dlp = -1.1051709181 + 0.01 * (-0.6487212707) = -1.1116581308 */
    gta_grpo_params q = {0.2, 0.01};
    L = gta_grpo_token(-1, -1.1, -0.5, 1.0, &q, &g, &k3, &clip);
    NEAR(L, -1.1036837053686464, 1e-12);
    NEAR(g, -1.111658130782649, 1e-12);
    /* central finite differences in double, away from the clip boundaries */
    const double lps[] = {-3.0, -1.0, -0.2, -0.05};
    const double olds[] = {-3.1, -0.5, -0.2, -0.7};
    const double refs[] = {-2.0, -1.5, -0.1, -0.05};
    const double As[] = {1.3, -0.7, 0.4, 2.0};
    for (int i = 0; i < 4; i++)
        for (int bi = 0; bi < 2; bi++) {
            gta_grpo_params pp = {0.2, bi ? 0.04 : 0.0};
            double h = 1e-6, gp, gm;
            double Lp = gta_grpo_token(lps[i] + h, olds[i], refs[i], As[i], &pp, &gp, &k3, &clip);
            double Lm = gta_grpo_token(lps[i] - h, olds[i], refs[i], As[i], &pp, &gm, &k3, &clip);
            gta_grpo_token(lps[i], olds[i], refs[i], As[i], &pp, &g, &k3, &clip);
            NEAR((Lp - Lm) / (2 * h), g, 1e-7);
        }
    /* only the KL part is left when clipped: g = beta (1 - e^(ref - lp)) */
    L = gta_grpo_token(log(2.0), 0, 0, 1.0, &q, &g, &k3, &clip);
    assert_int_equal(clip, 1);
    NEAR(g, 0.01 * (1 - exp(-log(2.0))), 1e-12); /* 0.01 * (1 - 0.5) = 0.005 */
    NEAR(g, 0.005, 1e-12);
}

/* ---- batches: weights, masks, aggregation, chunks ---- */

/* Two sequences: seq 0 = tokens 0 (guess, masked out), 1; seq 1 = tokens 2, 3, 4.
 * lp == old_lp == ref_lp (r = 1, k3 = 0), A0 = 1, A1 = 0.5, beta = 0, so L_k = -A_i.
 *  sequence: |o_0| = 1, |o_1| = 3, S = 2: loss = (-1 + (-0.5)) / 2 = -0.75,
 *            w = [0, 1/2, 1/6, 1/6, 1/6], dlp = -A w = [0, -0.5, -1/12, -1/12, -1/12]
 *  token:    4 RL tokens: loss = (-1 - 0.5 * 3) / 4 = -0.625,
 *            w = 1/4, dlp = [0, -0.25, -0.125, -0.125, -0.125] */
static void test_aggregation(void **state) {
    (void)state;
    const int32_t seq[5] = {0, 0, 1, 1, 1};
    const uint8_t mask[5] = {0, 1, 1, 1, 1};
    const float seq_adv[2] = {1.0f, 0.5f};
    float lp[5] = {-0.5f, -1, -2, -0.25f, -3}, w[5], adv[5], dlp[5];
    for (int agg = 0; agg < 2; agg++) {
        size_t nrl = gta_grpo_weights(5, seq, mask, 2, seq_adv, (gta_loss_agg)agg, w, adv);
        assert_int_equal(nrl, 4);
        assert_true(adv[0] == 1.0f && adv[1] == 1.0f && adv[4] == 0.5f);
        gta_grpo_acc acc = {0};
        gta_grpo_batch b = {{0.2, 0.0}, lp, lp, adv, w, &acc};
        gta_grpo_range(&b, 0, 5, lp, dlp);
        assert_true(dlp[0] == 0.0f);
        if (agg == GTA_AGG_SEQUENCE) {
            NEAR(acc.loss, -0.75, 1e-7);
            NEAR(w[1], 0.5, 1e-7);
            NEAR(w[2], 1.0 / 6, 1e-7);
            NEAR(dlp[1], -0.5, 1e-7);
            NEAR(dlp[3], -1.0 / 12, 1e-7);
        } else {
            NEAR(acc.loss, -0.625, 1e-7);
            NEAR(dlp[1], -0.25, 1e-7);
            NEAR(dlp[4], -0.125, 1e-7);
        }
        NEAR(acc.n_tokens, 4, 0);
        NEAR(gta_grpo_acc_kl(&acc), 0, 0);
        NEAR(gta_grpo_acc_clip_frac(&acc), 0, 0);
    }
    /* a third sequence with no RL token (cut inside its guess) still counts in the sequence
     * mean (eq. 5's 1/G, TRL's batch mean): S = 3, loss = (-1 - 0.5) / 3 = -0.5,
     * w = [1/3 | 1/9 x3] */
    const int32_t seq3[6] = {0, 1, 1, 1, 2, 2};
    const uint8_t mask3[6] = {1, 1, 1, 1, 0, 0};
    const float adv3[3] = {1.0f, 0.5f, -2.0f};
    float lp3[6] = {-1, -1, -1, -1, -1, -1}, w3[6], a3[6], d3[6];
    gta_grpo_weights(6, seq3, mask3, 3, adv3, GTA_AGG_SEQUENCE, w3, a3);
    NEAR(w3[0], 1.0 / 3, 1e-7);
    NEAR(w3[1], 1.0 / 9, 1e-7);
    assert_true(w3[4] == 0.0f && w3[5] == 0.0f);
    gta_grpo_acc acc = {0};
    gta_grpo_batch b = {{0.2, 0.0}, lp3, lp3, a3, w3, &acc};
    gta_grpo_range(&b, 0, 6, lp3, d3);
    NEAR(acc.loss, -0.5, 1e-7);
    assert_true(d3[4] == 0.0f && d3[5] == 0.0f);

    gta_loss_agg a;
    assert_int_equal(gta_loss_agg_from_name("token", &a), GTA_OK);
    assert_int_equal(a, GTA_AGG_TOKEN);
    assert_int_equal(gta_loss_agg_from_name("sequence", &a), GTA_OK);
    assert_int_equal(a, GTA_AGG_SEQUENCE);
    assert_int_equal(gta_loss_agg_from_name("mean", &a), GTA_EINPUT);
    assert_string_equal(gta_loss_agg_name(GTA_AGG_TOKEN), "token");
}

/* Changing a masked-out token's lp changes no RL gradient; chunked calls equal one call;
 * KL and clip fraction are token means over RL tokens. */
static void test_masks_chunks_stats(void **state) {
    (void)state;
    enum { N = 9 };
    const int32_t seq[N] = {0, 0, 0, 0, 1, 1, 1, 1, 1};
    const uint8_t mask[N] = {0, 0, 1, 1, 0, 1, 1, 1, 1}; /* tokens 0,1 and 4 are guess tokens */
    const float seq_adv[2] = {1.0f, -1.0f};
    /* r per token: token 2: e^0.5 = 1.65 (A>0, clipped), 3: 1 (inside), 5: e^-0.5 = 0.61
     * (A<0, clipped), 6: e^0.1 (inside), 7: 1, 8: e^-1 (A<0, clipped) -> 3 of 6 clipped */
    float old[N] = {-1, -1, -1.5f, -2, -1, -0.5f, -1.1f, -3, 0};
    float lp[N] = {-1, -1, -1, -2, -1, -1, -1, -3, -1};
    float ref[N] = {-1, -1, -1, -1, -1, -1, -1, -1, -1};
    float w[N], adv[N], d1[N], d2[N];
    gta_grpo_weights(N, seq, mask, 2, seq_adv, GTA_AGG_SEQUENCE, w, adv);
    gta_grpo_acc a1 = {0}, a2 = {0};
    gta_grpo_batch b1 = {{0.2, 0.01}, old, ref, adv, w, &a1};
    gta_grpo_range(&b1, 0, N, lp, d1);
    NEAR(a1.n_tokens, 6, 0);
    NEAR(a1.n_clipped, 3, 0);
    NEAR(gta_grpo_acc_clip_frac(&a1), 0.5, 1e-12);
    /* KL: k3 = e^d - d - 1, d = ref - lp: tokens 2: 0, 3: e - 2, 5: 0, 6: 0, 7: e^2 - 3, 8: 0 */
    NEAR(gta_grpo_acc_kl(&a1), ((exp(1.0) - 2) + (exp(2.0) - 3)) / 6, 1e-6);
    for (int k = 0; k < N; k++)
        if (!mask[k]) assert_true(d1[k] == 0.0f);
    /* the clipped tokens keep only the KL gradient: token 2 has ref == lp, so exactly 0 */
    assert_true(d1[2] == 0.0f);
    /* perturb the masked-out tokens' lp: nothing changes */
    float lp2[N];
    memcpy(lp2, lp, sizeof lp);
    lp2[0] = -7, lp2[1] = 0, lp2[4] = -0.001f;
    gta_grpo_batch b2 = {{0.2, 0.01}, old, ref, adv, w, &a2};
    /* chunks [0,2), [2,5), [5,9) through the gta_dlp_fn form */
    gta_grpo_dlp(&b2, 0, 2, lp2, d2);
    gta_grpo_dlp(&b2, 2, 3, lp2 + 2, d2 + 2);
    gta_grpo_dlp(&b2, 5, 4, lp2 + 5, d2 + 5);
    assert_memory_equal(d1, d2, sizeof d1);
    NEAR(a2.loss, a1.loss, 1e-12);
    NEAR(a2.kl_sum, a1.kl_sum, 1e-12);
    NEAR(a2.n_clipped, a1.n_clipped, 0);
    /* a NULL ref_lp with beta 0 works (no KL) */
    gta_grpo_batch b3 = {{0.2, 0.0}, old, NULL, adv, w, NULL};
    gta_grpo_range(&b3, 0, N, lp, d2);
    NEAR(d2[3], -1.0 * 1.0 / (2 * 2), 1e-7); /* token 3: r = 1, A = 1, w = 1/(2 seqs * 2 tokens) */
}

/* ---- SFT ---- */

static void test_sft(void **state) {
    (void)state;
    /* lp = [-1, -2, -3, -4], SFT tokens 1 and 2: loss = (2 + 3) / 2 = 2.5, dlp = -1/2 there */
    const float lp[4] = {-1, -2, -3, -4};
    const uint8_t mask[4] = {0, 1, 1, 0};
    float dlp[4];
    size_t n;
    NEAR(gta_sft_loss(4, lp, mask, dlp, &n), 2.5, 1e-12);
    assert_int_equal(n, 2);
    assert_true(dlp[0] == 0.0f && dlp[3] == 0.0f);
    assert_true(dlp[1] == -0.5f && dlp[2] == -0.5f);
    /* chunked form: same loss and gradient */
    float w[4], d2[4];
    double loss = 0;
    assert_int_equal(gta_sft_weights(4, mask, w), 2);
    gta_sft_batch b = {w, &loss};
    gta_sft_dlp(&b, 0, 3, lp, d2);
    gta_sft_dlp(&b, 3, 1, lp + 3, d2 + 3);
    NEAR(loss, 2.5, 1e-12);
    assert_memory_equal(dlp, d2, sizeof dlp);
    /* no SFT token: 0 and a zero gradient */
    const uint8_t none[4] = {0};
    NEAR(gta_sft_loss(4, lp, none, dlp, &n), 0, 0);
    assert_int_equal(n, 0);
    for (int k = 0; k < 4; k++) assert_true(dlp[k] == 0.0f);
}

/* ---- gate ---- */

static void test_gate_branches(void **state) {
    (void)state;
    gta_gate_stats st;
    /* no conflict: g_sft = [1, 2, 0], g_rl = [1, 0, 1]: dot = 1 > 0, |g_sft| = sqrt 5,
     * |g_rl| = sqrt 2, cos = 1 / sqrt 10 = 0.316227766; with lambda_sft = 0.5, lambda_rl = 2:
     * g = [0.5 + 2, 1 + 0, 0 + 2] = [2.5, 1, 2] */
    const float s1[3] = {1, 2, 0};
    float r1[3] = {1, 0, 1}, out[3];
    gta_grad_gate(gta_backend_cpu(), NULL, 3, s1, r1, 0.5, 2.0, out, &st);
    NEAR(st.dot, 1, 0);
    NEAR(st.cosine, 0.31622776601683794, 1e-12);
    NEAR(st.norm_sft, sqrt(5.0), 1e-12);
    assert_int_equal(st.conflict, 0);
    assert_true(out[0] == 2.5f && out[1] == 1.0f && out[2] == 2.0f);
    /* in place into g_rl */
    gta_grad_gate(gta_backend_cpu(), NULL, 3, s1, r1, 0.5, 2.0, r1, &st);
    assert_true(r1[0] == 2.5f && r1[1] == 1.0f && r1[2] == 2.0f);
    /* conflict: g_sft = [1, -2, 0], g_rl = [-1, 1, 3]: dot = -1 - 2 = -3, cos = -3 / sqrt(5 * 11)
     * = -0.4045199175; g = g_rl unweighted even with lambda_rl = 2 */
    const float s2[3] = {1, -2, 0};
    float r2[3] = {-1, 1, 3};
    gta_grad_gate(gta_backend_cpu(), NULL, 3, s2, r2, 0.5, 2.0, out, &st);
    NEAR(st.dot, -3, 0);
    NEAR(st.cosine, -0.40451991747794525, 1e-12);
    assert_int_equal(st.conflict, 1);
    assert_true(out[0] == -1.0f && out[1] == 1.0f && out[2] == 3.0f);
    gta_grad_gate(gta_backend_cpu(), NULL, 3, s2, r2, 0.5, 2.0, r2, &st); /* in place: untouched */
    assert_true(r2[0] == -1.0f && r2[1] == 1.0f && r2[2] == 3.0f);
    /* dot == 0 (no RL signal, g_rl = 0): no conflict, lambda_sft g_sft is applied */
    const float s3[3] = {1, -2, 4}, r3[3] = {0, 0, 0};
    gta_grad_gate(gta_backend_cpu(), NULL, 3, s3, r3, 0.5, 1.0, out, &st);
    assert_int_equal(st.conflict, 0);
    NEAR(st.cosine, 0, 0);
    assert_true(out[0] == 0.5f && out[1] == -1.0f && out[2] == 2.0f);
    /* NaN: RL only */
    const float s4[3] = {NAN, 0, 0};
    gta_grad_gate(gta_backend_cpu(), NULL, 3, s4, r2, 1.0, 1.0, out, &st);
    assert_int_equal(st.conflict, 1);
    assert_true(out[0] == -1.0f && out[1] == 1.0f && out[2] == 3.0f);
}

/* 2M + 7 floats: the same bits with 1, 2 and 3 threads, and close to a plain double sum. */
static void test_gate_deterministic(void **state) {
    (void)state;
    size_t n = 2 * 1000 * 1000 + 7;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *o1 = malloc(n * sizeof *o1),
          *o2 = malloc(n * sizeof *o2);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        a[i] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[i] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.49);
    }
    double ref = 0, refbb = 0;
    for (size_t i = 0; i < n; i++) ref += (double)a[i] * b[i], refbb += (double)b[i] * b[i];
    const gta_backend_ops *be = gta_backend_cpu();
    int saved = be->threads(NULL);
    gta_gate_stats s1, s2, s3;
    double ss[3];
    be->set_threads(NULL, 1);
    gta_grad_gate(gta_backend_cpu(), NULL, n, a, b, 1.0, 1.0, o1, &s1);
    ss[0] = be->sumsq(NULL, n, b);
    be->set_threads(NULL, 2);
    gta_grad_gate(gta_backend_cpu(), NULL, n, a, b, 1.0, 1.0, o2, &s2);
    ss[1] = be->sumsq(NULL, n, b);
    be->set_threads(NULL, 3);
    gta_grad_gate(gta_backend_cpu(), NULL, n, a, b, 1.0, 1.0, o2, &s3);
    ss[2] = be->sumsq(NULL, n, b);
    be->set_threads(NULL, saved);
    /* the sum of squares (the gradient norm's) is the same whatever the threads, and that
     * of the sums in index order within 1e-12 relative (double sums of exact products) */
    assert_memory_equal(&ss[0], &ss[1], sizeof(double));
    assert_memory_equal(&ss[0], &ss[2], sizeof(double));
    NEAR(ss[0], refbb, 1e-12 * refbb);
    assert_memory_equal(&s1.dot, &s2.dot, sizeof(double));
    assert_memory_equal(&s1.dot, &s3.dot, sizeof(double));
    assert_memory_equal(&s1.norm_rl, &s3.norm_rl, sizeof(double));
    assert_memory_equal(o1, o2, n * sizeof *o1);
    NEAR(s1.dot, ref, 1e-6 * fabs(ref) + 1e-6);
    free(a), free(b), free(o1), free(o2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advantages),
        cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_k3),
        cmocka_unit_test(test_aggregation),
        cmocka_unit_test(test_masks_chunks_stats),
        cmocka_unit_test(test_sft),
        cmocka_unit_test(test_gate_branches),
        cmocka_unit_test(test_gate_deterministic),
    };
    return cmocka_run_group_tests_name("objective", tests, NULL, NULL);
}
