/* The trainer's optimizer step and its statistics. */
#include "base/hooks.h"
#include "train/trainer_int.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "io/dataset.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/sampler.h"
#include "task/prompt.h"
#include "task/reward.h"
#include "text/tokenizer.h"
#include "train/objective.h"
#include "train/optim.h"

double lr_at(const trainer *t, long long step) {
    /* transformers' cosine schedule with linear warmup */
    long long warm = (long long)ceil(t->cfg.warmup_ratio * (double)t->total_steps);
    if (step < warm) return t->cfg.learning_rate * (double)step / (double)(warm > 1 ? warm : 1);
    double prog = (double)(step - warm) / (double)(t->total_steps - warm > 1 ? t->total_steps - warm : 1);
    return t->cfg.learning_rate * 0.5 * (1.0 + cos(M_PI * prog));
}

/* ------------------------------------------------------------------ one optimizer step */

int check_weights(const gta_model *m, const char *when, long long step) {
    /* what trains: the adapter under LoRA (the frozen base cannot change) */
    gta_trainable tr = gta_model_trainable(m);
    const float *w = m->be->read_begin(m->ctx, tr.params, sizeof(float) * tr.n);
    int rc = GTA_OK;
    for (int i = 0; i < tr.n_tensors && !rc; i++) {
        const gta_param *p = &tr.tensors[i];
        size_t n = (size_t)p->shape[0] * (size_t)(p->ndim == 2 ? p->shape[1] : 1);
        for (size_t k = 0; k < n; k++)
            if (!isfinite(w[p->offset + k])) {
                rc = gta_err_set(GTA_EFAIL, "train: weight %s[%zu] is %g %s %lld; stopped (the last checkpoint is intact)",
                                 p->name, k, (double)w[p->offset + k], when, step);
                break;
            }
    }
    m->be->read_end(m->ctx, w);
    return rc;
}

/* a gradient buffer summed over the ranks of a data-parallel run (a no-op for one) */
static int reduce_grads(trainer *t, float *g) {
    gta_model *m = t->policy;
    if (t->comm->size == 1) return GTA_OK;
    return t->comm->allreduce_sum(t->comm, m->be, m->ctx, g, gta_model_trainable(m).n);
}

void ref_sync(trainer *t) {
    if (t->lora)
        gta_lora_copy(t->ref, t->policy);
    else if (t->ref->w16)
        gta_model_copy_params_bf16(t->ref, t->policy);
    else
        gta_model_copy_params(t->ref, t->policy);
}

/* The losses and counts of the step over every rank's part of the batch: the loss terms
 * are sums of weighted per-token terms (weights normalised by the global counts), the KL
 * and clip fraction ratios of sums. */
static int sum_stats(trainer *t, step_stats *st, gta_grpo_acc *acc) {
    if (t->comm->size == 1) return GTA_OK;
    double v[7] = {st->loss_sft,
                   st->loss_rl,
                   acc ? acc->loss : 0,
                   acc ? acc->kl_sum : 0,
                   acc ? acc->n_tokens : 0,
                   acc ? acc->n_clipped : 0,
                   (double)st->tokens};
    int rc = t->comm->sum_doubles(t->comm, v, 7);
    st->loss_sft = v[0], st->loss_rl = v[1], st->tokens = (int)v[6];
    if (acc) acc->loss = v[2], acc->kl_sum = v[3], acc->n_tokens = v[4], acc->n_clipped = v[5];
    return rc;
}

/* GTA's guess cross-entropy over every rank's guess tokens: this rank's share of the mean
 * (sum / N of all ranks) with dlp = -1 / N on its tokens */
static int sft_loss_global(trainer *t, size_t n, const float *lp, const uint8_t *mask, float *dlp,
                           double *loss) {
    size_t nsft = 0;
    double mean = gta_sft_loss(n, lp, mask, dlp, &nsft);
    if (t->comm->size == 1) {
        *loss = mean;
        return GTA_OK;
    }
    double all = (double)nsft;
    int rc = t->comm->sum_doubles(t->comm, &all, 1);
    if (rc) return rc;
    for (size_t k = 0; k < n; k++) dlp[k] = mask[k] && all > 0 ? (float)(-1.0 / all) : 0.0f;
    *loss = all > 0 ? mean * (double)nsft / all : 0;
    return GTA_OK;
}

/* ZeRO-1: each rank updated its shard of the parameters; every rank gets all of them */
static int gather_params(trainer *t) {
    gta_model *m = t->policy;
    if (t->comm->size == 1 || !t->cfg.zero) return GTA_OK;
    gta_trainable tr = gta_model_trainable(m);
    return t->comm->allgather(t->comm, m->be, m->ctx, tr.params, tr.n);
}

/* A non-finite loss or gradient norm seen by any rank (a sum of the flags): every rank
 * skips the update, or stops, together; *bad names what the first such rank saw. */
static int agree_nonfinite(trainer *t, const char **bad, double *val) {
    if (t->comm->size == 1) return GTA_OK;
    double f[3] = {*bad && !strcmp(*bad, "loss"), *bad && strcmp(*bad, "loss") != 0, 0};
    int rc = t->comm->sum_doubles(t->comm, f, 2);
    if (rc) return rc;
    if (!*bad && (f[0] > 0 || f[1] > 0)) {
        *bad = f[0] > 0 ? "loss (on another rank)" : "gradient norm (on another rank)";
        *val = NAN;
    }
    return GTA_OK;
}

/* The RL loss's dL/dlp, after taking the old log-probs (and the reference's, when they are
 * a copy of them) from this forward where the rollout left them to come (ro_logps) */
typedef struct {
    gta_grpo_batch *gb;
    rollout *r;
} first_update;

static void grpo_dlp_first(void *ctx, int k0, int n, const float *lp, float *dlp) {
    first_update *f = ctx;
    memcpy(f->r->old_lp + k0, lp, sizeof(float) * (size_t)n);
    if (f->r->lp_pending == 2) memcpy(f->r->ref_lp + k0, lp, sizeof(float) * (size_t)n);
    gta_grpo_dlp(f->gb, k0, n, lp, dlp);
}

static int rl_forward_backward(gta_model *m, const gta_batch *b, float *lp, float *dlp, rollout *r,
                               gta_grpo_batch *gb) {
    if (!r->lp_pending) return gta_forward_backward(m, b, lp, dlp, gta_grpo_dlp, gb);
    first_update f = {gb, r};
    int rc = gta_forward_backward(m, b, lp, dlp, grpo_dlp_first, &f);
    if (!rc) r->lp_pending = 0;
    return rc;
}

int optimizer_step(trainer *t, step_stats *st) {
    rollout *r = &t->ro;
    gta_batch b = ro_batch(r);
    const gta_train_cfg *c = &t->cfg;
    gta_model *m = t->policy;
    float *lp = gta_malloc(sizeof(float) * (size_t)(r->nlp ? r->nlp : 1));
    float *dlp = gta_malloc(sizeof(float) * (size_t)(r->nlp ? r->nlp : 1));
    int rc = GTA_OK;
    memset(st, 0, sizeof *st);
    gta_model_zero_grads(m);
    /* the adapters' dropout masks of this step (and of its backward): a function of the
     * seed and the step, so a resumed run draws the same */
    if (m->lora) m->lora->drop_seed = gta_rng_u64((uint64_t)c->seed, 0x4c44u, (uint64_t)t->step);
    gta_trainable tr = gta_model_trainable(m);
    if (t->method == M_SFT) {
        double loss = 0;
        gta_sft_batch sb = {r->w_sft, &loss};
        rc = gta_forward_backward(m, &b, lp, dlp, gta_sft_dlp, &sb);
        if (!rc) rc = reduce_grads(t, tr.grads);
        st->loss_sft = loss;
        st->tokens = r->n;
        if (!rc) rc = sum_stats(t, st, NULL);
        st->loss = st->loss_sft;
    } else {
        gta_grpo_acc acc;
        memset(&acc, 0, sizeof acc);
        gta_grpo_batch gb = {{c->epsilon, c->beta}, r->old_lp, r->ref_lp, r->adv, r->w_rl, &acc};
        if (t->method != M_GTA) {
            rc = rl_forward_backward(m, &b, lp, dlp, r, &gb);
            if (!rc) rc = reduce_grads(t, tr.grads);
            st->tokens = r->n;
            if (!rc) rc = sum_stats(t, st, &acc);
            st->loss = st->loss_rl = acc.loss;
        } else {
            /* g_sft and g_rl separately, then the gate of eq. 11. The SFT loss lives on the
             * gold-guess branches: its forward and backward run on them and their prompts
             * alone (gta_batch_select), not on the G completions, whose rows carry no SFT gradient.
             * Its mean is over every rank's guess tokens (sft_loss_global: a collective, so a
             * rank without guess tokens takes part too) */
            gta_batch sb;
            gta_batch_select(&b, r->sft_mask, &sb);
            size_t ns = sb.nlp > 0 ? (size_t)sb.nlp : 0;
            float *slp = gta_malloc(sizeof(float) * (ns ? ns : 1)),
                  *sdlp = gta_malloc(sizeof(float) * (ns ? ns : 1));
            uint8_t *all = gta_malloc(ns ? ns : 1);
            memset(all, 1, ns ? ns : 1);
            st->loss_sft = 0;
            if (ns) rc = gta_forward(m, &sb, slp, NULL, 1);
            if (!rc) rc = sft_loss_global(t, ns, slp, all, sdlp, &st->loss_sft);
            if (!rc && ns) rc = gta_backward(m, &sb, sdlp);
            free(slp), free(sdlp), free(all);
            gta_batch_free_select(&sb);
            if (!rc) {
                m->be->copy(m->ctx, t->g_sft, tr.grads, sizeof(float) * tr.n);
                gta_model_zero_grads(m);
                rc = rl_forward_backward(m, &b, lp, dlp, r, &gb);
                st->loss_rl = acc.loss;
            }
            /* both gradients summed over the ranks before the gate: every rank takes the
             * decision of the global gradients */
            if (!rc) rc = reduce_grads(t, t->g_sft);
            if (!rc) rc = reduce_grads(t, tr.grads);
            st->tokens = r->n;
            if (!rc) rc = sum_stats(t, st, &acc);
            st->loss_rl = acc.loss;
            if (!rc) {
                gta_gate_stats gs;
                gta_grad_gate(m->be, m->ctx, tr.n, t->g_sft, tr.grads, c->lambda_sft, c->lambda_rl, tr.grads,
                              &gs);
                st->cos = gs.cosine;
                st->conflict = gs.conflict;
                st->loss =
                    gs.conflict ? st->loss_rl : c->lambda_sft * st->loss_sft + c->lambda_rl * st->loss_rl;
            }
        }
        st->kl = gta_grpo_acc_kl(&acc);
        st->clip_frac = gta_grpo_acc_clip_frac(&acc);
    }
    if (!rc) {
        st->grad_norm = gta_clip_grad_norm(m, c->max_grad_norm);
        st->lr = lr_at(t, t->step);
        /* a non-finite loss or gradient never reaches the weights */
        const char *nan_loss = getenv("GTA_TEST_NAN_LOSS_AT"); /* test hook */
        if (nan_loss && atoll(nan_loss) == t->step + 1) st->loss = NAN;
        const char *bad = !isfinite(st->loss) ? "loss" : !isfinite(st->grad_norm) ? "gradient norm" : NULL;
        double val = !isfinite(st->loss) ? st->loss : st->grad_norm;
        /* every rank takes the same decision: skipped (or stopped) when any rank saw it */
        if ((rc = agree_nonfinite(t, &bad, &val))) goto out;
        gta_test_kill_point_n("update", t->step + 1);
        if (bad && !c->skip_nonfinite) {
            rc = gta_err_set(GTA_EFAIL,
                             "train: step %lld: the %s is %g; stopped without applying it (the last checkpoint is "
                             "intact; --skip-nonfinite skips such updates)",
                             t->step + 1, bad, val);
        } else if (bad) {
            st->skipped = 1;
            if (t->comm->rank == 0)
                fprintf(stderr, "%sgta train: step %lld: the %s is %g; update skipped (--skip-nonfinite)\n",
                        isatty(2) ? "\n" : "", t->step + 1, bad, val);
        } else {
            gta_adamw_step(&t->opt, m, st->lr);
            rc = gather_params(t);
        }
    }
    if (!rc) {
        const char *nan_at = getenv("GTA_TEST_NAN_AT"); /* test hook */
        if (nan_at && atoll(nan_at) == t->step + 1) {
            float nan = NAN;
            gta_trainable tw = gta_model_trainable(m);
            gta_model_write(m, tw.params + tw.n / 2, &nan, 1);
        }
        if ((rc = check_weights(m, "after the update of step", t->step + 1))) goto out;
        t->step++;
        if (t->ref && c->ref_sync_steps > 0 && t->step % c->ref_sync_steps == 0) ref_sync(t);
    }
out:
    /* a new rollout follows: it needs the memory of the saved activations */
    if (!rc && t->method != M_SFT && t->step % c->num_iterations == 0) gta_model_release_train(m);
    free(lp);
    free(dlp);
    return rc;
}
