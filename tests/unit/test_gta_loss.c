/* The complete GTA loss through a tiny model, against central finite differences:
 *   L(theta) = lambda_sft * CE(gold-guess branch) + lambda_rl * GRPO(completions)
 * with the guess span of each completion masked out of the RL loss, clipped ratios against
 * fixed old log-probs (some tokens clipped on each side), the k3 KL against fixed reference
 * log-probs, sequence-mean aggregation, all on one prefix-shared tree batch -- the exact
 * path the trainer takes (forward -> per-token objective -> backward). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "model/model.h"
#include "train/objective.h"

enum { P = 9, G = 3, L = 6, GL = 4, NTOK = P + G * L + GL, NLP = G * L + GL };

typedef struct {
    gta_batch b;
    int ids[NTOK], pos[NTOK], ss[1 + G + 1], sl[1 + G + 1], sp[1 + G + 1], row[NLP], tg[NLP];
    int32_t seq[NLP];
    uint8_t rl_mask[NLP], sft_mask[NLP];
    float old_lp[NLP], ref_lp[NLP], w_rl[NLP], adv[NLP], w_sft[NLP];
} gta_case;

static void build(gta_case *c, int V) {
    int at = 0, k = 0, s = 0;
    c->ss[s] = 0, c->sl[s] = P, c->sp[s++] = -1;
    for (int t = 0; t < P; t++) c->ids[at] = (int)(gta_rng_u64(1, 0, (uint64_t)t) % (uint64_t)V), c->pos[at++] = t;
    for (int br = 0; br <= G; br++) {
        int len = br < G ? L : GL, b0 = at;
        c->ss[s] = at, c->sl[s] = len, c->sp[s++] = 0;
        for (int j = 0; j < len; j++) {
            int id = (int)(gta_rng_u64(2, (uint64_t)br, (uint64_t)j) % (uint64_t)V);
            c->row[k] = j == 0 ? P - 1 : b0 + j - 1;
            c->tg[k] = id;
            c->seq[k] = br < G ? br : 0;
            c->sft_mask[k] = br == G;
            c->rl_mask[k] = br < G && j >= 2; /* the first two tokens: the guess span */
            k++;
            c->ids[at] = id, c->pos[at++] = P + j;
        }
    }
    c->b = (gta_batch){NTOK, c->ids, c->pos, 1 + G + 1, c->ss, c->sl, c->sp, NLP, c->row, c->tg};
}

/* the loss at the current weights (double), and optionally its dL/dlp */
static double loss_of(gta_model *m, gta_case *c, double lsft, double lrl, float *dlp_total) {
    float lp[NLP], d_sft[NLP], d_rl[NLP];
    assert_int_equal(gta_forward(m, &c->b, lp, NULL, dlp_total != NULL), GTA_OK);
    size_t nsft;
    double l_sft = gta_sft_loss(NLP, lp, c->sft_mask, d_sft, &nsft);
    gta_grpo_acc acc;
    memset(&acc, 0, sizeof acc);
    gta_grpo_batch gb = {{0.2, 0.05}, c->old_lp, c->ref_lp, c->adv, c->w_rl, &acc};
    gta_grpo_range(&gb, 0, NLP, lp, d_rl);
    if (dlp_total)
        for (int k = 0; k < NLP; k++) dlp_total[k] = (float)(lsft * d_sft[k] + lrl * d_rl[k]);
    return lsft * l_sft + lrl * acc.loss;
}

static void test_gta_loss_fd(void **s) {
    (void)s;
    gta_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.arch = GTA_ARCH_QWEN3;
    cfg.vocab_size = 40, cfg.hidden_size = 16, cfg.intermediate_size = 24, cfg.num_layers = 2;
    cfg.num_heads = 4, cfg.num_kv_heads = 2, cfg.head_dim = 6, cfg.max_position_embeddings = 64;
    cfg.rms_norm_eps = 1e-6, cfg.rope_theta = 10000, cfg.bos_token_id = -1;
    gta_model *m = gta_model_init_random(&cfg, 3);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = (float)(0.4 * gta_rng_normal(4, 0, i));
    gta_case *c = calloc(1, sizeof *c);
    build(c, cfg.vocab_size);
    /* old and reference log-probs: the current ones shifted so that some ratios fall
     * outside [0.8, 1.2] on both sides and the KL is not zero */
    float lp0[NLP];
    assert_int_equal(gta_forward(m, &c->b, lp0, NULL, 0), GTA_OK);
    const float seq_adv[G] = {1.2f, -0.7f, -0.5f};
    gta_grpo_weights(NLP, c->seq, c->rl_mask, G, seq_adv, GTA_AGG_SEQUENCE, c->w_rl, c->adv);
    int clipped_hi = 0, clipped_lo = 0;
    for (int k = 0; k < NLP; k++) {
        /* ratios 1.42, 0.70, 1.05, 0.95 in turn: far from the clip edges 1.2 and 0.8, so the
         * finite differences never straddle one */
        static const float shifts[4] = {0.35f, -0.35f, 0.05f, -0.05f};
        float shift = shifts[k % 4];
        c->old_lp[k] = lp0[k] - shift;
        c->ref_lp[k] = lp0[k] + (float)(0.3 * gta_rng_uniform(6, 0, (uint64_t)k) - 0.15);
        if (c->rl_mask[k] && shift > 0.1823f && c->adv[k] > 0) clipped_hi++;
        if (c->rl_mask[k] && shift < -0.2232f && c->adv[k] < 0) clipped_lo++;
    }
    assert_true(clipped_hi > 0 && clipped_lo > 0); /* both sides of the clip are exercised */
    float dlp[NLP];
    gta_model_alloc_grads(m);
    double L0 = loss_of(m, c, 1.0, 1.0, dlp);
    assert_int_equal(gta_backward(m, &c->b, dlp), GTA_OK);
    int checked = 0;
    double worst = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const gta_param *p = &m->tensors[i];
        size_t cnt = (size_t)p->shape[0] * (size_t)(p->ndim == 2 ? p->shape[1] : 1), big = 0;
        for (size_t k = 0; k < cnt; k++)
            if (fabsf(m->grads[p->offset + k]) > fabsf(m->grads[p->offset + big])) big = k;
        size_t pick[2] = {big, gta_rng_u64(7, (uint64_t)i, 0) % cnt};
        for (int q = 0; q < 2; q++) {
            size_t at = p->offset + pick[q];
            float keep = m->params[at], h = 3e-3f;
            m->params[at] = keep + h;
            double lp_ = loss_of(m, c, 1.0, 1.0, NULL);
            m->params[at] = keep - h;
            double lm_ = loss_of(m, c, 1.0, 1.0, NULL);
            m->params[at] = keep;
            double fd = (lp_ - lm_) / (2.0 * h), an = m->grads[at], tol = 2e-3 + 3e-2 * fabs(an);
            if (fabs(fd - an) / tol > worst) worst = fabs(fd - an) / tol;
            if (fabs(fd - an) > tol) fail_msg("%s[%zu]: analytic %.6g, finite difference %.6g", p->name, pick[q], an, fd);
            checked++;
        }
    }
    printf("  GTA loss %.5f: %d weights, worst |fd-an|/tol %.3f (clipped above %d, below %d)\n", L0, checked, worst,
           clipped_hi, clipped_lo);
    free(c);
    gta_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gta_loss_fd)};
    return cmocka_run_group_tests_name("gta_loss", tests, NULL, NULL);
}
