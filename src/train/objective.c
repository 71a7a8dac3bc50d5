/* Objective math: see objective.h for the formulas and the decisions behind them. */
#include "train/objective.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

/* ---- group advantages ---- */

void gta_group_advantages(const float *rewards, int G, double eps, float *adv, gta_group_stats *st) {
    double mean = 0, ss = 0, sd = 0;
    for (int i = 0; i < G; i++) mean += rewards[i];
    if (G > 0) mean /= G;
    for (int i = 0; i < G; i++) ss += ((double)rewards[i] - mean) * ((double)rewards[i] - mean);
    if (G > 1) sd = sqrt(ss / (G - 1));
    /* equal rewards: set 0 exactly (R_i - mean can be a rounding error, not 0) */
    int zero = 1;
    for (int i = 1; i < G; i++)
        if (rewards[i] != rewards[0]) zero = 0;
    if (G <= 1) sd = 0;
    for (int i = 0; i < G; i++) adv[i] = zero ? 0.0f : (float)(((double)rewards[i] - mean) / (sd + eps));
    if (st) {
        st->mean = mean;
        st->std = sd;
        st->zero_std = zero;
    }
}

/* ---- GRPO ---- */

int gta_loss_agg_from_name(const char *name, gta_loss_agg *out) {
    if (name && strcmp(name, "sequence") == 0)
        *out = GTA_AGG_SEQUENCE;
    else if (name && strcmp(name, "token") == 0)
        *out = GTA_AGG_TOKEN;
    else
        return gta_err_set(GTA_EINPUT, "unknown loss aggregation '%s' (expected sequence or token)",
                           name ? name : "");
    return GTA_OK;
}

const char *gta_loss_agg_name(gta_loss_agg a) { return a == GTA_AGG_TOKEN ? "token" : "sequence"; }

size_t gta_grpo_weights(size_t n_tok, const int32_t *seq, const uint8_t *mask, size_t n_seq,
                        const float *seq_adv, gta_loss_agg agg, float *w, float *adv) {
    size_t *cnt = gta_calloc(n_seq ? n_seq : 1, sizeof *cnt);
    size_t total = 0;
    for (size_t k = 0; k < n_tok; k++)
        if (mask[k]) cnt[seq[k]]++, total++;
    for (size_t k = 0; k < n_tok; k++) {
        adv[k] = seq_adv[seq[k]];
        if (!mask[k])
            w[k] = 0;
        else if (agg == GTA_AGG_TOKEN)
            w[k] = (float)(1.0 / (double)total);
        else
            w[k] = (float)(1.0 / ((double)cnt[seq[k]] * (double)n_seq));
    }
    free(cnt);
    return total;
}

double gta_grpo_acc_kl(const gta_grpo_acc *a) { return a->n_tokens > 0 ? a->kl_sum / a->n_tokens : 0; }
double gta_grpo_acc_clip_frac(const gta_grpo_acc *a) {
    return a->n_tokens > 0 ? a->n_clipped / a->n_tokens : 0;
}

double gta_grpo_token(double lp, double old_lp, double ref_lp, double adv, const gta_grpo_params *p,
                      double *dlp, double *k3_out, int *clipped) {
    double r = exp(lp - old_lp);
    double lo = 1.0 - p->epsilon, hi = 1.0 + p->epsilon;
    double rc = r < lo ? lo : (r > hi ? hi : r);
    int clip = (adv > 0 && r > hi) || (adv < 0 && r < lo);
    /* -min(r A, clip(r) A): the clipped branch is the min exactly when clip is set */
    double loss = clip ? -rc * adv : -r * adv;
    double g = clip ? 0.0 : -adv * r;
    double k3 = 0;
    if (p->beta != 0) {
        double d = ref_lp - lp, ed = exp(d);
        k3 = ed - d - 1.0;
        loss += p->beta * k3;
        g += p->beta * (1.0 - ed);
    }
    if (dlp) *dlp = g;
    if (k3_out) *k3_out = k3;
    if (clipped) *clipped = clip;
    return loss;
}

void gta_grpo_range(const gta_grpo_batch *b, size_t k0, size_t n, const float *lp, float *dlp) {
    double loss = 0, kl = 0, nt = 0, nc = 0;
    for (size_t j = 0; j < n; j++) {
        size_t k = k0 + j;
        double w = b->w[k];
        if (w == 0) {
            dlp[j] = 0;
            continue;
        }
        double g, k3;
        int clip;
        double l = gta_grpo_token(lp[j], b->old_lp[k], b->ref_lp ? b->ref_lp[k] : lp[j], b->adv[k], &b->p, &g,
                                  &k3, &clip);
        dlp[j] = (float)(w * g);
        loss += w * l;
        kl += k3;
        nt += 1;
        nc += clip;
    }
    if (b->acc) {
        b->acc->loss += loss;
        b->acc->kl_sum += kl;
        b->acc->n_tokens += nt;
        b->acc->n_clipped += nc;
    }
}

void gta_grpo_dlp(void *ctx, int k0, int n, const float *lp, float *dlp) {
    gta_grpo_range((const gta_grpo_batch *)ctx, (size_t)k0, (size_t)n, lp, dlp);
}

/* ---- SFT ---- */

size_t gta_sft_weights(size_t n_tok, const uint8_t *mask, float *w) {
    size_t N = 0;
    for (size_t k = 0; k < n_tok; k++) N += mask[k] != 0;
    for (size_t k = 0; k < n_tok; k++) w[k] = mask[k] ? (float)(1.0 / (double)N) : 0.0f;
    return N;
}

void gta_sft_dlp(void *ctx, int k0, int n, const float *lp, float *dlp) {
    const gta_sft_batch *b = ctx;
    double loss = 0;
    for (int j = 0; j < n; j++) {
        double w = b->w[k0 + j];
        dlp[j] = w != 0 ? (float)-w : 0.0f; /* +0 outside, not -0 */
        loss -= w * lp[j];
    }
    if (b->loss) *b->loss += loss;
}

double gta_sft_loss(size_t n_tok, const float *lp, const uint8_t *mask, float *dlp, size_t *n_out) {
    size_t N = 0;
    double sum = 0;
    for (size_t k = 0; k < n_tok; k++)
        if (mask[k]) N++, sum -= lp[k];
    if (dlp)
        for (size_t k = 0; k < n_tok; k++) dlp[k] = (mask[k] && N) ? (float)(-1.0 / (double)N) : 0.0f;
    if (n_out) *n_out = N;
    return N ? sum / (double)N : 0.0;
}

/* ---- gradient gate ---- */

void gta_grad_gate(const gta_backend_ops *be, gta_ctx *cx, size_t n, const float *g_sft, const float *g_rl,
                   double lambda_sft, double lambda_rl, float *out, gta_gate_stats *st) {
    gta_gate_stats s;
    double na, nb;
    be->dot3(cx, n, g_sft, g_rl, &s.dot, &na, &nb);
    s.norm_sft = sqrt(na);
    s.norm_rl = sqrt(nb);
    double den = s.norm_sft * s.norm_rl;
    s.cosine = den > 0 ? s.dot / den : 0.0;
    /* conflict = the gradients point against each other (DESIGN.md); a zero dot -- e.g. a
     * group whose rewards are all equal gives g_rl = 0 -- is no conflict, so the guess
     * keeps learning while RL has no signal. NaN counts as conflict: never mix in a
     * broken SFT gradient. */
    s.conflict = s.dot < 0 || isnan(s.dot);
    float ls = (float)lambda_sft, lr = (float)lambda_rl;
    if (!s.conflict) {
        /* out = ls g_sft + lr g_rl (IEEE addition commutes: the same floats in any order) */
        if (out == g_sft) {
            be->axpby(cx, n, lr, g_rl, ls, out);
        } else {
            if (out != g_rl) be->copy(cx, out, g_rl, n * sizeof *out);
            be->axpby(cx, n, ls, g_sft, lr, out);
        }
    } else if (out != g_rl) {
        be->copy(cx, out, g_rl, n * sizeof *out);
    }
    if (st) *st = s;
}

void gta_mean_ce_dlp(void *ctx, int k0, int n, const float *lp, float *dlp) {
    (void)k0, (void)lp;
    float g = -1.0f / (float)*(const int *)ctx;
    for (int k = 0; k < n; k++) dlp[k] = g;
}
