/* Objective math over per-token log-probs (paper eqs. 1, 5-11): group advantages, the
 * clipped GRPO surrogate with the k3 KL, SFT cross-entropy, and the gradient gate.  Pure
 * functions over float arrays; no model.
 *
 * Decisions:
 *  - Advantages (gta_group_advantages): A_i = (R_i - mean) / (std + eps) with the unbiased
 *    (N-1) standard deviation, as TRL computes it (torch .std()); eps is a parameter (TRL
 *    and our default: 1e-4).  When every reward of the group is equal (std == 0), every
 *    advantage is exactly 0 and the group is reported zero-std.  A group of one (G = 1) has
 *    no unbiased std: it is treated as zero-std (advantage 0), where torch would give NaN.
 *  - GRPO loss per RL token k of sequence i (eq. 5 negated, eq. 8):
 *        r = exp(lp - old_lp),   d = ref_lp - lp,   k3 = exp(d) - d - 1
 *        L_k = -min(r A_i, clip(r, 1-eps, 1+eps) A_i) + beta k3
 *    and the batch loss is sum_k w_k L_k with the weights of gta_grpo_weights:
 *      "sequence" (eq. 5, TRL's "grpo" loss): w_k = 1 / (|o_i| * S), |o_i| = RL tokens of
 *        sequence i, S = the number of sequences passed (all of them: a sequence with no RL
 *        token -- e.g. cut inside its guess -- contributes 0 but still counts, as the
 *        1/G of eq. 5 and TRL's mean over the batch do);
 *      "token" (DAPO / TRL "dapo"): w_k = 1 / (total RL tokens of the batch).
 *  - Clipping is active on token k when (r > 1+eps and A > 0) or (r < 1-eps and A < 0) --
 *    exactly when the min picks the clipped branch and it differs from r A; the
 *    surrogate's gradient is then exactly 0 (TRL's clip_ratio counts the same tokens).  At
 *    r == 1 +- eps exactly the branches are equal and the unclipped gradient is used.
 *  - dL_k/dlp = -A r (0 when clipped) + beta (1 - exp(ref_lp - lp)); the batch gradient is
 *    w_k times that.  Everything is computed in double and stored as float.
 *  - Reported KL = mean of k3 over the RL tokens, clip fraction = clipped RL tokens / RL
 *    tokens (token means whatever the aggregation, as TRL logs them).
 *  - SFT (eq. 1): the mean of -lp over the guess tokens (a mean, as HF's cross-entropy with
 *    -100 labels, so lambda_sft keeps one meaning whatever the label length).
 *  - Gate (eqs. 10, 11): g = g_rl unweighted (L_Final = L_RL) when the gradients conflict,
 *    dot(g_sft, g_rl) < 0 (or NaN); otherwise g = lambda_sft g_sft + lambda_rl g_rl.  At
 *    dot == 0 -- typically g_rl == 0 because every reward of every group was equal, as for
 *    a model that has not learnt the format yet -- nothing conflicts, so the SFT gradient
 *    is kept (DESIGN.md: "when the two gradients point against each other (dot < 0) only
 *    the RL gradient is applied"); eq. 11 read literally would drop it and such a model
 *    could never start learning.  Cosine is 0 when a norm is 0.  Sums run in
 *    double over fixed blocks of GATE_BLOCK floats, then over the blocks in order, so the
 *    result is the same for any thread count.
 *
 * Chunked use: gta_grpo_weights fixes every per-token quantity except lp, so the GRPO
 * gradient of token k depends only on lp_k.  gta_grpo_dlp has the signature of the model's
 * gta_dlp_fn (model.h) and can be handed to gta_forward_backward directly. */
#ifndef GTA_TRAIN_OBJECTIVE_H
#define GTA_TRAIN_OBJECTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

/* ---- group advantages ---- */

typedef struct {
    double mean, std; /* std: unbiased; 0 for G = 1 */
    int zero_std;     /* every advantage was set to 0 */
} gta_group_stats;

/* rewards[G] -> adv[G] (adv may equal rewards). st may be NULL. */
void gta_group_advantages(const float *rewards, int G, double eps, float *adv, gta_group_stats *st);

/* ---- GRPO ---- */

typedef enum { GTA_AGG_SEQUENCE = 0, GTA_AGG_TOKEN = 1 } gta_loss_agg;
/* "sequence" / "token" (GTA_EINPUT otherwise). */
int gta_loss_agg_from_name(const char *name, gta_loss_agg *out);
const char *gta_loss_agg_name(gta_loss_agg a);

typedef struct {
    double epsilon; /* clip range (0.2) */
    double beta;    /* KL weight (0.01); 0 skips the KL term and its gradient */
} gta_grpo_params;

/* Per-token weights and advantages for n_tok tokens: seq[k] in [0, n_seq) is the token's
 * sequence, mask[k] != 0 puts it in the RL loss (0 for prompt/guess/padding), seq_adv[i]
 * is sequence i's advantage.  Writes w[k] (0 outside the mask) and adv[k] =
 * seq_adv[seq[k]].  Returns the number of RL tokens. */
size_t gta_grpo_weights(size_t n_tok, const int32_t *seq, const uint8_t *mask, size_t n_seq,
                        const float *seq_adv, gta_loss_agg agg, float *w, float *adv);

/* Loss statistics, summed over chunks in call order (double). */
typedef struct {
    double loss;      /* sum_k w_k L_k: after all tokens, the batch loss */
    double kl_sum;    /* sum of k3 over RL tokens */
    double n_tokens;  /* RL tokens seen (w_k != 0) */
    double n_clipped; /* of which clipped */
} gta_grpo_acc;

/* Token-mean KL and clip fraction of an accumulator (0 when it saw no RL token). */
double gta_grpo_acc_kl(const gta_grpo_acc *a);
double gta_grpo_acc_clip_frac(const gta_grpo_acc *a);

/* One token: returns L_k (unweighted); *dlp = dL_k/dlp (unweighted); *k3 and *clipped
 * report the KL value and whether the clipped branch was taken. */
double gta_grpo_token(double lp, double old_lp, double ref_lp, double adv, const gta_grpo_params *p,
                      double *dlp, double *k3, int *clipped);

/* Fixed per-token data of a batch (arrays of n_tok, indexed by absolute token index). */
typedef struct {
    gta_grpo_params p;
    const float *old_lp, *ref_lp, *adv, *w; /* ref_lp may be NULL when beta == 0 */
    gta_grpo_acc *acc;                      /* may be NULL */
} gta_grpo_batch;

/* Tokens [k0, k0 + n): lp[j] and dlp[j] are those of token k0 + j (chunk-relative, as the
 * model's head hands them over); writes dlp[j] = w dL/dlp (0 where w == 0) and adds to
 * b->acc.  Not thread-safe on one accumulator: call chunks in order from one thread. */
void gta_grpo_range(const gta_grpo_batch *b, size_t k0, size_t n, const float *lp, float *dlp);
/* The same as a gta_dlp_fn (ctx = const gta_grpo_batch *). */
void gta_grpo_dlp(void *ctx, int k0, int n, const float *lp, float *dlp);

/* ---- SFT cross-entropy ---- */

/* Mean over the tokens with mask[k] != 0 of -lp[k]; dlp[k] = -1/N on them, 0 elsewhere
 * (dlp may be NULL).  N == 0 gives loss 0 and a zero gradient.  *n_out (may be NULL)
 * receives N. */
double gta_sft_loss(size_t n_tok, const float *lp, const uint8_t *mask, float *dlp, size_t *n_out);

/* Chunked form: weights w[k] = 1/N on the SFT tokens (0 elsewhere) from gta_sft_weights,
 * then gta_sft_dlp (a gta_dlp_fn, ctx = const gta_sft_batch *) writes dlp = -w and adds
 * sum w (-lp) to *loss. */
size_t gta_sft_weights(size_t n_tok, const uint8_t *mask, float *w);
typedef struct {
    const float *w;
    double *loss; /* may be NULL */
} gta_sft_batch;
void gta_sft_dlp(void *ctx, int k0, int n, const float *lp, float *dlp);

/* Mean cross-entropy over every pair of the batch, as a gta_dlp_fn: dlp = -1/N for each
 * pair, with ctx = const int *N (pretraining, the training benchmark). */
void gta_mean_ce_dlp(void *ctx, int k0, int n, const float *lp, float *dlp);

/* ---- gradient gate ---- */

typedef struct {
    double dot, norm_sft, norm_rl, cosine;
    int conflict; /* dot < 0 (or NaN): the SFT gradient was dropped, out = g_rl */
} gta_gate_stats;

/* out = lambda_sft g_sft + lambda_rl g_rl when dot >= 0, else g_rl; the dot product and
 * norms by the backend's dot3 (fixed blocks in a fixed order: independent of the thread
 * count). The buffers are the backend's (ctx theirs; NULL for the CPU's); out may be g_rl
 * or g_sft (in place) or a separate buffer. */
void gta_grad_gate(const gta_backend_ops *be, gta_ctx *ctx, size_t n, const float *g_sft, const float *g_rl,
                   double lambda_sft, double lambda_rl, float *out, gta_gate_stats *st);

#endif
