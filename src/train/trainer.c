#include "train/trainer.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/hooks.h"
#include "base/rng.h"
#include "base/util.h"
#include "eval/eval.h"
#include "io/dataset.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/sampler.h"
#include "text/tokenizer.h"
#include "train/objective.h"
#include "train/optim.h"
#include "train/prompt.h"
#include "train/reward.h"
#include "train/state.h"

enum { M_SFT, M_GRPO, M_GTA, M_GTARL };

/* One rollout, as a tree batch plus the fixed per-pair data of the objective. Kept across
 * the num_iterations optimizer steps that reuse it (and saved with a checkpoint taken
 * between them). */
typedef struct {
    int n, nseg, nlp, nseq;
    int *ids, *pos, *seg_start, *seg_len, *seg_parent, *lp_row, *lp_target;
    int32_t *seq;
    uint8_t *rl_mask, *sft_mask;
    float *old_lp, *ref_lp, *seq_adv, *w_rl, *adv, *w_sft;
    /* statistics of the rollout, logged with each of its steps */
    double reward, reward_format, reward_accuracy, guess_accuracy, frac_zero_std, completion_tokens_mean;
    double sample_seconds;
    int valid;
} rollout;

typedef struct {
    gta_train_cfg cfg;
    int method;
    gta_format fmt;
    gta_model *policy, *ref;
    gta_tokenizer *tok;
    gta_dataset ds;
    gta_adamw opt;
    float *g_sft;
    gta_ids *prompt_ids, *target_ids; /* per train example, built on first use */
    gta_prompt_opts popts;
    int eos[8], neos;
    long long total_steps, step, cursor;
    rollout ro;
    FILE *metrics, *samples, *evals;
    gta_split eval_split;
    char *run_dir;
    double t0;
} trainer;

/* ------------------------------------------------------------------ small helpers */

static void ro_free(rollout *r) {
    free(r->ids), free(r->pos), free(r->seg_start), free(r->seg_len), free(r->seg_parent);
    free(r->lp_row), free(r->lp_target), free(r->seq), free(r->rl_mask), free(r->sft_mask);
    free(r->old_lp), free(r->ref_lp), free(r->seq_adv), free(r->w_rl), free(r->adv), free(r->w_sft);
    memset(r, 0, sizeof *r);
}

static gta_batch ro_batch(const rollout *r) {
    return (gta_batch){r->n, r->ids, r->pos, r->nseg, r->seg_start, r->seg_len, r->seg_parent,
                       r->nlp, r->lp_row, r->lp_target};
}

/* the example at position k of the data stream: epoch k / n, a seeded permutation each */
static size_t example_at(const trainer *t, long long k) {
    size_t n = t->ds.train.n;
    long long epoch = k / (long long)n, pos = k % (long long)n;
    /* Fisher-Yates on the fly would need the whole permutation; n is small (thousands) */
    static size_t *perm = NULL, perm_n = 0;
    static long long perm_epoch = -1, perm_seed = -1;
    if (perm_n != n || perm_epoch != epoch || perm_seed != t->cfg.seed) {
        perm = gta_realloc(perm, sizeof(size_t) * n);
        for (size_t i = 0; i < n; i++) perm[i] = i;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)(gta_rng_u64((uint64_t)t->cfg.seed, 1000 + (uint64_t)epoch, i) % (i + 1));
            size_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        perm_n = n;
        perm_epoch = epoch;
        perm_seed = t->cfg.seed;
    }
    return perm[pos];
}

static int prompt_of(trainer *t, size_t i) {
    if (t->prompt_ids[i].n) return GTA_OK;
    const gta_example *e = &t->ds.train.ex[i];
    gta_prompt p;
    int rc = gta_prompt_build(t->tok, &t->popts, &t->ds.labels, e->text, e->text_len, &p);
    if (rc) return gta_err_prefix(rc, "%s:%d", t->ds.train.path, e->line);
    t->prompt_ids[i] = p.ids;
    p.ids = (gta_ids){0};
    gta_prompt_free(&p);
    const char *gold = t->ds.labels.names[e->label];
    if (t->method == M_SFT)
        rc = gta_prompt_sft_target(t->tok, gold, &t->target_ids[i]);
    else if (t->method == M_GTA)
        rc = gta_prompt_guess_branch(t->tok, gold, &t->target_ids[i]);
    return rc;
}

static double lr_at(const trainer *t, long long step) {
    /* transformers' cosine schedule with linear warmup */
    long long warm = (long long)ceil(t->cfg.warmup_ratio * (double)t->total_steps);
    if (step < warm) return t->cfg.learning_rate * (double)step / (double)(warm > 1 ? warm : 1);
    double prog = (double)(step - warm) / (double)(t->total_steps - warm > 1 ? t->total_steps - warm : 1);
    return t->cfg.learning_rate * 0.5 * (1.0 + cos(M_PI * prog));
}

/* ------------------------------------------------------------------ rollout */

/* byte length of the decoded prefix ids[0..k) */
static size_t prefix_bytes(const gta_tokenizer *tok, const int *ids, int k) {
    if (k <= 0) return 0;
    int32_t buf[512];
    int32_t *p = k <= 512 ? buf : gta_malloc(sizeof(int32_t) * (size_t)k);
    for (int i = 0; i < k; i++) p[i] = ids[i];
    char *text = NULL;
    size_t len = 0;
    if (gta_tokenizer_decode(tok, p, (size_t)k, 1, &text, &len) != GTA_OK) len = 0;
    free(text);
    if (p != buf) free(p);
    return len;
}

static int build_rollout(trainer *t, long long rollout_index) {
    const gta_train_cfg *c = &t->cfg;
    const int P = (int)c->batch_prompts, G = (int)c->group_size;
    rollout *r = &t->ro;
    ro_free(r);
    size_t *ex = gta_malloc(sizeof(size_t) * (size_t)P);
    const int **prompts = gta_malloc(sizeof(int *) * (size_t)P);
    int *plen = gta_malloc(sizeof(int) * (size_t)P), rc = GTA_OK;
    int **pint = gta_calloc((size_t)P, sizeof(int *));
    for (int p = 0; p < P && !rc; p++) {
        ex[p] = example_at(t, t->cursor + p);
        if ((rc = prompt_of(t, ex[p]))) break;
        const gta_ids *pi = &t->prompt_ids[ex[p]];
        pint[p] = gta_malloc(sizeof(int) * pi->n);
        for (size_t k = 0; k < pi->n; k++) pint[p][k] = pi->ids[k];
        prompts[p] = pint[p];
        plen[p] = (int)pi->n;
    }
    gta_sample_seq *smp = gta_calloc((size_t)(P * G), sizeof *smp);
    const char *stop[1] = {"</answer>"};
    if (!rc) {
        gta_sample_params sp;
        memset(&sp, 0, sizeof sp);
        sp.temperature = c->temperature;
        sp.top_p = c->top_p;
        sp.bf16_weights = !strcmp(c->rollout_weights, "bf16");
        sp.max_new_tokens = (int)c->max_new_tokens;
        sp.eos = t->eos;
        sp.neos = t->neos;
        sp.stop = stop;
        sp.nstop = 1;
        sp.tok = t->tok;
        sp.seed = gta_rng_u64((uint64_t)c->seed, 7, (uint64_t)rollout_index);
        double ts = gta_now();
        gta_test_kill_point_n("rollout", t->step + 1);
        rc = gta_sample(t->policy, prompts, plen, P, G, NULL, &sp, smp);
        r->sample_seconds = gta_now() - ts;
    }
    if (rc) goto done;

    /* rewards and advantages */
    int nseq = P * G;
    float *rew = gta_malloc(sizeof(float) * (size_t)nseq);
    long *gend = gta_malloc(sizeof(long) * (size_t)nseq);
    double sf = 0, sa = 0, sg = 0, ctok = 0;
    int zero = 0;
    for (int s = 0; s < nseq; s++) {
        const gta_example *e = &t->ds.train.ex[ex[s / G]];
        int32_t *ids32 = gta_malloc(sizeof(int32_t) * (size_t)(smp[s].n ? smp[s].n : 1));
        for (int k = 0; k < smp[s].n; k++) ids32[k] = smp[s].ids[k];
        char *text = NULL;
        size_t len = 0;
        rc = gta_tokenizer_decode(t->tok, ids32, (size_t)smp[s].n, 1, &text, &len);
        free(ids32);
        if (rc) break;
        gta_reward rw;
        gta_reward_score(t->fmt, text, len, &t->ds.labels, e->label, &rw);
        rew[s] = rw.reward;
        gend[s] = rw.guess_end;
        sf += rw.format_ok;
        sa += rw.answer_ok;
        sg += rw.guess_ok;
        ctok += smp[s].n;
        if (t->samples && s % G == 0 && s / G < c->log_examples) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "step", (double)t->step);
            cJSON_AddStringToObject(j, "gold", t->ds.labels.names[e->label]);
            cJSON_AddStringToObject(j, "completion", text);
            cJSON_AddNumberToObject(j, "reward", rw.reward);
            char *line = cJSON_PrintUnformatted(j);
            fprintf(t->samples, "%s\n", line);
            free(line);
            cJSON_Delete(j);
        }
        free(text);
    }
    if (rc) {
        free(rew), free(gend);
        goto done;
    }
    r->nseq = nseq;
    r->seq_adv = gta_malloc(sizeof(float) * (size_t)nseq);
    for (int p = 0; p < P; p++) {
        gta_group_stats st;
        gta_group_advantages(rew + p * G, G, c->adv_eps, r->seq_adv + p * G, &st);
        zero += st.zero_std;
    }
    r->reward_format = sf / nseq;
    r->reward_accuracy = sa / nseq;
    r->reward = (sf + sa) / nseq;
    r->guess_accuracy = sg / nseq;
    r->frac_zero_std = (double)zero / P;
    r->completion_tokens_mean = ctok / nseq;

    /* the tree batch */
    int n = 0, nlp = 0, nseg = 0;
    for (int p = 0; p < P; p++) {
        n += plen[p];
        nseg++;
        for (int g = 0; g < G; g++) n += smp[p * G + g].n, nlp += smp[p * G + g].n, nseg++;
        if (t->method == M_GTA) {
            int gl = (int)t->target_ids[ex[p]].n;
            n += gl, nlp += gl, nseg++;
        }
    }
    r->n = n, r->nlp = nlp;
    r->ids = gta_malloc(sizeof(int) * (size_t)n), r->pos = gta_malloc(sizeof(int) * (size_t)n);
    r->seg_start = gta_malloc(sizeof(int) * (size_t)nseg), r->seg_len = gta_malloc(sizeof(int) * (size_t)nseg);
    r->seg_parent = gta_malloc(sizeof(int) * (size_t)nseg);
    r->lp_row = gta_malloc(sizeof(int) * (size_t)nlp), r->lp_target = gta_malloc(sizeof(int) * (size_t)nlp);
    r->seq = gta_malloc(sizeof(int32_t) * (size_t)nlp);
    r->rl_mask = gta_calloc((size_t)nlp, 1), r->sft_mask = gta_calloc((size_t)nlp, 1);
    int at = 0, k = 0, sg_i = 0;
    for (int p = 0; p < P; p++) {
        int root = sg_i, pstart = at;
        r->seg_start[sg_i] = at, r->seg_len[sg_i] = plen[p], r->seg_parent[sg_i++] = -1;
        for (int i = 0; i < plen[p]; i++) r->ids[at] = prompts[p][i], r->pos[at++] = i;
        int last = pstart + plen[p] - 1;
        int nbr = G + (t->method == M_GTA);
        for (int g = 0; g < nbr; g++) {
            int is_guess = g == G, s = p * G + g;
            const int *tk = is_guess ? NULL : smp[s].ids;
            int len = is_guess ? (int)t->target_ids[ex[p]].n : smp[s].n;
            /* RL tokens: all of a completion except, for gta, its guess span */
            int nguess = 0;
            if (!is_guess && t->method == M_GTA && gend[s] > 0) {
                while (nguess < len && prefix_bytes(t->tok, tk, nguess) < (size_t)gend[s]) nguess++;
            }
            int bstart = at;
            r->seg_start[sg_i] = at, r->seg_len[sg_i] = len, r->seg_parent[sg_i++] = root;
            for (int j = 0; j < len; j++) {
                int id = is_guess ? t->target_ids[ex[p]].ids[j] : tk[j];
                r->ids[at] = id;
                r->pos[at++] = plen[p] + j;
                r->lp_row[k] = j == 0 ? last : bstart + j - 1;
                r->lp_target[k] = id;
                r->seq[k] = is_guess ? 0 : s;
                if (is_guess)
                    r->sft_mask[k] = 1;
                else
                    r->rl_mask[k] = j >= nguess;
                k++;
            }
        }
    }
    r->nseg = nseg;
    free(rew), free(gend);

    /* fixed per-pair data: weights, advantages, old and reference log-probs */
    r->w_rl = gta_malloc(sizeof(float) * (size_t)nlp), r->adv = gta_malloc(sizeof(float) * (size_t)nlp);
    r->w_sft = gta_malloc(sizeof(float) * (size_t)nlp);
    gta_loss_agg agg = GTA_AGG_SEQUENCE;
    gta_loss_agg_from_name(c->loss_aggregation, &agg);
    gta_grpo_weights((size_t)nlp, r->seq, r->rl_mask, (size_t)nseq, r->seq_adv, agg, r->w_rl, r->adv);
    gta_sft_weights((size_t)nlp, r->sft_mask, r->w_sft);
    r->old_lp = gta_malloc(sizeof(float) * (size_t)nlp);
    r->ref_lp = gta_malloc(sizeof(float) * (size_t)nlp);
    gta_batch b = ro_batch(r);
    if ((rc = gta_forward(t->policy, &b, r->old_lp, NULL, 0))) goto done;
    if (t->ref && c->beta > 0) {
        if ((rc = gta_forward(t->ref, &b, r->ref_lp, NULL, 0))) goto done;
    } else {
        memcpy(r->ref_lp, r->old_lp, sizeof(float) * (size_t)nlp);
    }
    r->valid = 1;
    t->cursor += P;
done:
    for (int p = 0; p < P; p++) free(pint[p]);
    free(pint);
    gta_sample_seq_free(smp, P * G);
    free(smp), free(ex), free(prompts), free(plen);
    return rc;
}

/* SFT: batch_prompts examples, each [prompt | target] as its own sequence */
static int build_sft_batch(trainer *t) {
    rollout *r = &t->ro;
    ro_free(r);
    int P = (int)t->cfg.batch_prompts, n = 0, nlp = 0, rc = GTA_OK;
    size_t *ex = gta_malloc(sizeof(size_t) * (size_t)P);
    for (int p = 0; p < P && !rc; p++) {
        ex[p] = example_at(t, t->cursor + p);
        rc = prompt_of(t, ex[p]);
        n += (int)(t->prompt_ids[ex[p]].n + t->target_ids[ex[p]].n);
        nlp += (int)t->target_ids[ex[p]].n;
    }
    if (rc) {
        free(ex);
        return rc;
    }
    r->n = n, r->nlp = nlp, r->nseg = P;
    r->ids = gta_malloc(sizeof(int) * (size_t)n), r->pos = gta_malloc(sizeof(int) * (size_t)n);
    r->seg_start = gta_malloc(sizeof(int) * (size_t)P), r->seg_len = gta_malloc(sizeof(int) * (size_t)P);
    r->seg_parent = gta_malloc(sizeof(int) * (size_t)P);
    r->lp_row = gta_malloc(sizeof(int) * (size_t)nlp), r->lp_target = gta_malloc(sizeof(int) * (size_t)nlp);
    r->sft_mask = gta_malloc((size_t)nlp), r->w_sft = gta_malloc(sizeof(float) * (size_t)nlp);
    int at = 0, k = 0;
    for (int p = 0; p < P; p++) {
        const gta_ids *pi = &t->prompt_ids[ex[p]], *ti = &t->target_ids[ex[p]];
        r->seg_start[p] = at, r->seg_len[p] = (int)(pi->n + ti->n), r->seg_parent[p] = -1;
        int s0 = at;
        for (size_t i = 0; i < pi->n; i++) r->ids[at] = pi->ids[i], r->pos[at] = at - s0, at++;
        for (size_t i = 0; i < ti->n; i++) {
            r->lp_row[k] = at - 1;
            r->lp_target[k] = ti->ids[i];
            r->sft_mask[k++] = 1;
            r->ids[at] = ti->ids[i], r->pos[at] = at - s0, at++;
        }
    }
    gta_sft_weights((size_t)nlp, r->sft_mask, r->w_sft);
    r->valid = 1;
    t->cursor += P;
    free(ex);
    return GTA_OK;
}

/* ------------------------------------------------------------------ one optimizer step */

typedef struct {
    double loss, loss_sft, loss_rl, kl, clip_frac, cos, conflict, grad_norm, lr, seconds;
    int tokens, skipped;
} step_stats;

/* GTA_EFAIL naming the first tensor with a non-finite weight, or GTA_OK. */
static int check_weights(const gta_model *m, const char *when, long long step) {
    for (int i = 0; i < m->n_tensors; i++) {
        const gta_param *p = &m->tensors[i];
        size_t n = (size_t)p->shape[0] * (size_t)(p->ndim == 2 ? p->shape[1] : 1);
        const float *w = m->params + p->offset;
        for (size_t k = 0; k < n; k++)
            if (!isfinite(w[k]))
                return gta_err_set(GTA_EFAIL,
                                   "train: weight %s[%zu] is %g %s %lld; stopped (the last checkpoint is "
                                   "intact)",
                                   p->name, k, (double)w[k], when, step);
    }
    return GTA_OK;
}

static int optimizer_step(trainer *t, step_stats *st) {
    rollout *r = &t->ro;
    gta_batch b = ro_batch(r);
    const gta_train_cfg *c = &t->cfg;
    gta_model *m = t->policy;
    float *lp = gta_malloc(sizeof(float) * (size_t)(r->nlp ? r->nlp : 1));
    float *dlp = gta_malloc(sizeof(float) * (size_t)(r->nlp ? r->nlp : 1));
    int rc = GTA_OK;
    memset(st, 0, sizeof *st);
    gta_model_zero_grads(m);
    if (t->method == M_SFT) {
        double loss = 0;
        gta_sft_batch sb = {r->w_sft, &loss};
        rc = gta_forward_backward(m, &b, lp, dlp, gta_sft_dlp, &sb);
        st->loss = st->loss_sft = loss;
    } else {
        gta_grpo_acc acc;
        memset(&acc, 0, sizeof acc);
        gta_grpo_batch gb = {{c->epsilon, c->beta}, r->old_lp, r->ref_lp, r->adv, r->w_rl, &acc};
        if (t->method != M_GTA) {
            rc = gta_forward_backward(m, &b, lp, dlp, gta_grpo_dlp, &gb);
            st->loss = st->loss_rl = acc.loss;
        } else {
            /* g_sft and g_rl separately, then the gate of eq. 11 */
            if (!(rc = gta_forward(m, &b, lp, NULL, 1))) {
                size_t nsft = 0;
                st->loss_sft = gta_sft_loss((size_t)r->nlp, lp, r->sft_mask, dlp, &nsft);
                rc = gta_backward(m, &b, dlp);
            }
            if (!rc) {
                memcpy(t->g_sft, m->grads, sizeof(float) * m->n_params);
                gta_model_zero_grads(m);
                gta_grpo_range(&gb, 0, (size_t)r->nlp, lp, dlp);
                st->loss_rl = acc.loss;
                rc = gta_backward(m, &b, dlp);
            }
            if (!rc) {
                gta_gate_stats gs;
                gta_grad_gate(m->n_params, t->g_sft, m->grads, c->lambda_sft, c->lambda_rl, m->grads, &gs);
                st->cos = gs.cosine;
                st->conflict = gs.conflict;
                st->loss = gs.conflict ? st->loss_rl : c->lambda_sft * st->loss_sft + c->lambda_rl * st->loss_rl;
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
        gta_test_kill_point_n("update", t->step + 1);
        if (bad && !c->skip_nonfinite) {
            rc = gta_err_set(
                GTA_EFAIL,
                "train: step %lld: the %s is %g; stopped without applying it (the last checkpoint is "
                "intact; --skip-nonfinite skips such updates)",
                t->step + 1, bad, val);
        } else if (bad) {
            st->skipped = 1;
            fprintf(stderr, "%sgta train: step %lld: the %s is %g; update skipped (--skip-nonfinite)\n",
                    isatty(2) ? "\n" : "", t->step + 1, bad, val);
        } else {
            gta_adamw_step(&t->opt, m, st->lr);
        }
    }
    if (!rc) {
        const char *nan_at = getenv("GTA_TEST_NAN_AT"); /* test hook */
        if (nan_at && atoll(nan_at) == t->step + 1) m->params[m->n_params / 2] = NAN;
        if ((rc = check_weights(m, "after the update of step", t->step + 1))) goto out;
        t->step++;
        if (t->ref && c->ref_sync_steps > 0 && t->step % c->ref_sync_steps == 0)
            memcpy(t->ref->params, m->params, sizeof(float) * m->n_params);
    }
out:
    st->tokens = r->n;
    free(lp);
    free(dlp);
    return rc;
}

/* ------------------------------------------------------------------ checkpoints */

/* a model directory: weights, config, and the source model's tokenizer files */
static int save_model_dir(trainer *t, const char *dir) {
    int rc = gta_model_save(t->policy, dir);
    return rc ? rc : gta_tokenizer_copy_files(t->cfg.model, dir);
}

/* Writes RUN/checkpoint.tmp completely, then swaps it in (gta_ckpt_commit): a kill at any
 * moment leaves the previous checkpoint or this one, and a failed write (full disk, file
 * size limit) leaves the previous one and an error naming the file. */
static int save_checkpoint(trainer *t) {
    char *tmp = gta_path_join(t->run_dir, "checkpoint.tmp");
    gta_rm_rf(tmp);
    /* never a checkpoint of non-finite weights */
    int rc = check_weights(t->policy, "at the checkpoint of step", t->step);
    if (!rc) rc = save_model_dir(t, tmp);
    gta_test_kill_point_n("checkpoint:model", t->step);
    size_t np = t->policy->n_params;
    if (!rc) {
        st_entry e[2] = {{"exp_avg", ST_F32, 1, {(int64_t)np}, t->opt.m}, {"exp_avg_sq", ST_F32, 1, {(int64_t)np}, t->opt.v}};
        char *p = gta_path_join(tmp, "optimizer.safetensors");
        rc = st_write(p, e, 2, NULL);
        free(p);
        gta_test_kill_point_n("checkpoint:optimizer", t->step);
    }
    if (!rc && t->ref) {
        st_entry e = {"params", ST_F32, 1, {(int64_t)np}, t->ref->params};
        char *p = gta_path_join(tmp, "reference.safetensors");
        rc = st_write(p, &e, 1, NULL);
        free(p);
    }
    rollout *r = &t->ro;
    int keep_ro = r->valid && t->method != M_SFT && t->step % t->cfg.num_iterations != 0;
    if (!rc && keep_ro) {
        st_entry e[] = {
            {"ids", ST_I32, 1, {r->n}, r->ids},
            {"pos", ST_I32, 1, {r->n}, r->pos},
            {"seg_start", ST_I32, 1, {r->nseg}, r->seg_start},
            {"seg_len", ST_I32, 1, {r->nseg}, r->seg_len},
            {"seg_parent", ST_I32, 1, {r->nseg}, r->seg_parent},
            {"lp_row", ST_I32, 1, {r->nlp}, r->lp_row},
            {"lp_target", ST_I32, 1, {r->nlp}, r->lp_target},
            {"seq", ST_I32, 1, {r->nlp}, r->seq},
            {"rl_mask", ST_U8, 1, {r->nlp}, r->rl_mask},
            {"sft_mask", ST_U8, 1, {r->nlp}, r->sft_mask},
            {"old_lp", ST_F32, 1, {r->nlp}, r->old_lp},
            {"ref_lp", ST_F32, 1, {r->nlp}, r->ref_lp},
            {"w_rl", ST_F32, 1, {r->nlp}, r->w_rl},
            {"adv", ST_F32, 1, {r->nlp}, r->adv},
            {"w_sft", ST_F32, 1, {r->nlp}, r->w_sft},
            {"seq_adv", ST_F32, 1, {r->nseq}, r->seq_adv},
        };
        char *p = gta_path_join(tmp, "rollout.safetensors");
        rc = st_write(p, e, (int)(sizeof e / sizeof e[0]), NULL);
        free(p);
    }
    if (!rc) {
        /* the logs on disk at least as far as the state says (a SIGKILL loses stdio buffers) */
        FILE *logs[3] = {t->metrics, t->samples, t->evals};
        for (int i = 0; i < 3 && !rc; i++)
            if (logs[i] && (fflush(logs[i]) != 0 || fsync(fileno(logs[i])) != 0))
                rc = gta_err_set(GTA_EFAIL, "%s: cannot write the logs: %s", t->run_dir, strerror(errno));
    }
    if (!rc) {
        gta_train_state ts = {t->step,
                              t->cursor,
                              t->opt.step,
                              ftell(t->metrics),
                              t->samples ? ftell(t->samples) : 0,
                              t->evals ? ftell(t->evals) : 0,
                              keep_ro,
                              0,
                              0,
                              0,
                              0,
                              0,
                              0};
        if (keep_ro) {
            ts.reward = r->reward, ts.reward_format = r->reward_format,
            ts.reward_accuracy = r->reward_accuracy;
            ts.guess_accuracy = r->guess_accuracy, ts.frac_zero_std = r->frac_zero_std;
            ts.completion_tokens_mean = r->completion_tokens_mean;
        }
        char *text = gta_train_state_to_json(&ts);
        char *p = gta_path_join(tmp, "trainer_state.json");
        rc = gta_write_file_atomic(p, text, strlen(text));
        free(p);
        free(text);
        gta_test_kill_point_n("checkpoint:state", t->step);
    }
    if (!rc) rc = gta_ckpt_commit(t->run_dir, t->step);
    if (rc) {
        gta_rm_rf(tmp);
        gta_err_prefix(rc, "train: checkpoint of step %lld not written (the previous one is intact)",
                       t->step);
    }
    free(tmp);
    return rc;
}

static int load_f32(const char *path, const char *name, float *dst, size_t n) {
    st_set *s;
    int rc = st_open_file(path, &s);
    if (rc) return rc;
    const st_tensor *t = st_find(s, name);
    if (!t || t->dtype != ST_F32 || (size_t)t->numel != n)
        rc = gta_err_set(GTA_EINPUT, "%s: expected tensor '%s' of %zu floats", path, name, n);
    else
        rc = st_to_f32(s, t, dst);
    st_close(s);
    return rc;
}

/* rollout.safetensors of a checkpoint taken between the steps that reuse one rollout:
 * every tensor present with its dtype and a size consistent with the others, the batch
 * valid for the model, the per-pair data finite, before any of it is used. */
static int load_rollout(trainer *t, const char *dir, const gta_train_state *stats) {
    char *p = gta_path_join(dir, "rollout.safetensors");
    st_set *s;
    int rc = st_open_file(p, &s);
    if (rc) {
        free(p);
        return rc;
    }
    rollout *r = &t->ro;
    ro_free(r);
    static const struct {
        const char *name;
        st_dtype dtype;
        int size; /* 0: n tokens, 1: nseg segments, 2: nlp pairs, 3: nseq sequences */
    } want[] = {
        {"ids", ST_I32, 0},        {"pos", ST_I32, 0},     {"seg_start", ST_I32, 1}, {"seg_len", ST_I32, 1},
        {"seg_parent", ST_I32, 1}, {"lp_row", ST_I32, 2},  {"lp_target", ST_I32, 2}, {"seq", ST_I32, 2},
        {"rl_mask", ST_U8, 2},     {"sft_mask", ST_U8, 2}, {"old_lp", ST_F32, 2},    {"ref_lp", ST_F32, 2},
        {"w_rl", ST_F32, 2},       {"adv", ST_F32, 2},     {"w_sft", ST_F32, 2},     {"seq_adv", ST_F32, 3}};
    void **field[] = {
        (void **)&r->ids,        (void **)&r->pos,      (void **)&r->seg_start, (void **)&r->seg_len,
        (void **)&r->seg_parent, (void **)&r->lp_row,   (void **)&r->lp_target, (void **)&r->seq,
        (void **)&r->rl_mask,    (void **)&r->sft_mask, (void **)&r->old_lp,    (void **)&r->ref_lp,
        (void **)&r->w_rl,       (void **)&r->adv,      (void **)&r->w_sft,     (void **)&r->seq_adv};
    const char *size_of[4] = {"ids", "seg_start", "lp_row", "seq_adv"};
    int64_t size[4];
    for (int k = 0; k < 4; k++) {
        const st_tensor *x = st_find(s, size_of[k]);
        size[k] = x && x->ndim == 1 ? x->numel : -1;
    }
    for (size_t k = 0; k < sizeof want / sizeof want[0] && !rc; k++) {
        const st_tensor *x = st_find(s, want[k].name);
        int64_t n = size[want[k].size];
        if (!x)
            rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s' is missing", p, want[k].name);
        else if (x->dtype != want[k].dtype || x->ndim != 1 || n < 0 || x->numel != n || n > INT32_MAX / 2)
            rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s': expected %s of %lld values (like '%s')", p,
                             want[k].name, st_dtype_name(want[k].dtype), (long long)n, size_of[want[k].size]);
        if (rc) break;
        *field[k] = gta_malloc(x->nbytes ? x->nbytes : 1);
        if (x->nbytes) memcpy(*field[k], x->data, x->nbytes);
        if (want[k].dtype == ST_F32)
            for (int64_t i = 0; i < n && !rc; i++)
                if (!isfinite(((const float *)*field[k])[i]))
                    rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s'[%lld] is not finite", p, want[k].name,
                                     (long long)i);
    }
    if (!rc) {
        r->n = (int)size[0], r->nseg = (int)size[1], r->nlp = (int)size[2], r->nseq = (int)size[3];
        gta_batch b = ro_batch(r);
        if ((rc = gta_batch_check(t->policy, &b))) gta_err_prefix(rc, "%s", p);
        for (int k = 0; k < r->nlp && !rc; k++)
            if (r->seq[k] < 0 || r->seq[k] >= r->nseq)
                rc = gta_err_set(GTA_EINPUT, "%s: tensor 'seq'[%d] = %d outside [0, %d)", p, k, r->seq[k],
                                 r->nseq);
    }
    if (!rc) {
        r->reward = stats->reward;
        r->reward_format = stats->reward_format;
        r->reward_accuracy = stats->reward_accuracy;
        r->guess_accuracy = stats->guess_accuracy;
        r->frac_zero_std = stats->frac_zero_std;
        r->completion_tokens_mean = stats->completion_tokens_mean;
        r->valid = 1;
    } else {
        ro_free(r);
    }
    st_close(s);
    free(p);
    return rc;
}

/* ------------------------------------------------------------------ setup */

static int method_of(const char *name, int *m) {
    if (!strcmp(name, "sft")) *m = M_SFT;
    else if (!strcmp(name, "grpo")) *m = M_GRPO;
    else if (!strcmp(name, "gta")) *m = M_GTA;
    else if (!strcmp(name, "gta-rl")) *m = M_GTARL;
    else return gta_err_set(GTA_EINPUT, "train: --method '%s': expected sft, grpo, gta or gta-rl", name);
    return GTA_OK;
}

static int check_cfg(const gta_train_cfg *c) {
    int m = M_SFT;
    int rc = method_of(c->method, &m);
    if (rc) return rc;
    gta_loss_agg agg;
    if (gta_loss_agg_from_name(c->loss_aggregation, &agg))
        return gta_err_set(GTA_EINPUT, "train: loss_aggregation '%s': expected sequence or token", c->loss_aggregation);
    if (!c->model[0] || !c->data[0] || !c->out[0]) return gta_err_set(GTA_EINPUT, "train: --model, --data and --out are required");
    if (c->group_size < 1 || c->num_iterations < 1 || c->batch_prompts < 1 || c->max_new_tokens < 1 ||
        c->max_prompt_tokens < 1 || c->steps < 0 || !(c->epochs > 0 || c->steps > 0) || !(c->learning_rate >= 0) ||
        !(c->temperature > 0) || !(c->top_p > 0 && c->top_p <= 1) || !(c->epsilon >= 0) || !(c->beta >= 0) ||
        c->save_steps < 0 || c->ref_sync_steps < 0)
        return gta_err_set(GTA_EINPUT, "train: a setting is out of range (sizes >= 1, learning rate >= 0, temperature > 0, "
                                       "0 < top_p <= 1, epsilon, beta >= 0)");
    if (strcmp(c->prompt_style, "full") != 0 && strcmp(c->prompt_style, "compact") != 0)
        return gta_err_set(GTA_EINPUT, "train: prompt_style '%s': expected full or compact", c->prompt_style);
    if (strcmp(c->rollout_weights, "fp32") != 0 && strcmp(c->rollout_weights, "bf16") != 0)
        return gta_err_set(GTA_EINPUT, "train: rollout_weights '%s': expected fp32 or bf16", c->rollout_weights);
    if (m == M_GTA || m == M_GRPO || m == M_GTARL)
        if (c->group_size < 2) return gta_err_set(GTA_EINPUT, "train: group_size must be at least 2 for %s", c->method);
    return GTA_OK;
}

static void trainer_free(trainer *t) {
    if (t->prompt_ids)
        for (size_t i = 0; i < t->ds.train.n; i++) gta_ids_free(&t->prompt_ids[i]), gta_ids_free(&t->target_ids[i]);
    free(t->prompt_ids);
    free(t->target_ids);
    ro_free(&t->ro);
    gta_adamw_free(&t->opt);
    if (t->g_sft) gta_free_aligned(t->g_sft);
    gta_model_free(t->policy);
    gta_model_free(t->ref);
    gta_tokenizer_free(t->tok);
    gta_dataset_free(&t->ds);
    if (t->metrics) fclose(t->metrics);
    if (t->evals) fclose(t->evals);
    gta_split_free(&t->eval_split);
    if (t->samples) fclose(t->samples);
    free(t->run_dir);
}

static double mib(size_t b) { return (double)b / 1048576.0; }

/* memory plan of a step, from the batch shape; GTA_EINPUT when it cannot fit */
static int plan_memory(trainer *t) {
    const gta_train_cfg *c = &t->cfg;
    const gta_config *mc = &t->policy->cfg;
    size_t np = t->policy->n_params, w = sizeof(float) * np;
    size_t weights = w * (1 + (t->ref != NULL)), optim = 3 * w + (t->g_sft ? w : 0);
    long long P = c->batch_prompts, G = t->method == M_SFT ? 0 : c->group_size;
    long long tokens = P * (c->max_prompt_tokens + G * c->max_new_tokens + 64);
    if (t->method == M_SFT) tokens = P * (c->max_prompt_tokens + 64);
    if (tokens > (long long)1 << 30) return gta_err_set(GTA_EINPUT, "train: the batch shape implies %lld tokens a step", tokens);
    size_t acts = gta_model_act_bytes(mc, (int)tokens) * (1 + (t->ref != NULL));
    size_t sampler = 0;
    if (G) {
        int *pl = gta_malloc(sizeof(int) * (size_t)P);
        for (int i = 0; i < P; i++) pl[i] = (int)c->max_prompt_tokens;
        gta_sample_plan sp;
        gta_sample_plan_make(mc, pl, (int)P, (int)G, (int)c->max_new_tokens, 0, !strcmp(c->rollout_weights, "bf16"),
                             &sp);
        sampler = sp.total;
        free(pl);
    }
    size_t total = weights + optim + acts + sampler, avail = gta_mem_available();
    fprintf(stderr,
            "gta train: memory plan: weights %.0f MiB, gradients+optimizer %.0f MiB, activations %.0f MiB (up to %lld "
            "tokens a step), sampler %.0f MiB; total %.0f MiB of %.0f MiB available\n",
            mib(weights), mib(optim), mib(acts), tokens, mib(sampler), mib(total), mib(avail));
    if (total > avail)
        return gta_err_set(GTA_EINPUT,
                           "train: a step needs %.0f MiB but %.0f MiB are available; lower batch_prompts, group_size, "
                           "max_prompt_tokens or max_new_tokens",
                           mib(total), mib(avail));
    return GTA_OK;
}

static int setup(trainer *t, const gta_train_cfg *c, int resume) {
    memset(t, 0, sizeof *t);
    t->cfg = *c;
    int rc = check_cfg(c);
    if (rc) return rc;
    method_of(c->method, &t->method);
    t->fmt = t->method == M_SFT ? GTA_FORMAT_SFT : t->method == M_GRPO ? GTA_FORMAT_GRPO : GTA_FORMAT_GTA;
    if ((rc = gta_dataset_load(c->data, 1, &t->ds))) return rc;
    if (!t->ds.train.n) return gta_err_set(GTA_EINPUT, "%s: the training split is empty", c->data);
    if ((rc = gta_tokenizer_load(c->model, &t->tok))) return rc;
    if (c->eval_steps > 0) {
        /* the periodic evaluation split: validation, falling back to test when absent */
        const char *split = c->eval_split;
        if (!strcmp(split, "validation") && !gta_split_exists(c->data, split)) {
            split = "test";
            snprintf(t->cfg.eval_split, sizeof t->cfg.eval_split, "test");
        }
        if ((rc = gta_split_load(c->data, split, &t->ds.labels, &t->eval_split))) return rc;
    }
    char *ck = gta_path_join(c->out, "checkpoint");
    const char *src = resume ? ck : c->model;
    rc = gta_model_load(src, &t->policy);
    /* the reference starts as the policy; on resume its saved weights replace these */
    if (!rc && t->method != M_SFT && c->beta > 0) rc = gta_model_load(src, &t->ref);
    free(ck);
    if (rc) return rc;
    gta_model_alloc_grads(t->policy);
    if (t->method == M_GTA) t->g_sft = gta_malloc_aligned(sizeof(float) * t->policy->n_params);
    gta_adamw_init(&t->opt, t->policy, c->learning_rate, c->weight_decay);
    /* end of a completion: the tokenizer's end of turn and the model's eos ids */
    int32_t end = gta_prompt_end_id(t->tok);
    if (end >= 0) t->eos[t->neos++] = end;
    for (int i = 0; i < t->policy->cfg.n_eos && t->neos < 8; i++)
        if (t->policy->cfg.eos_token_ids[i] != end) t->eos[t->neos++] = t->policy->cfg.eos_token_ids[i];
    t->popts.format = t->fmt;
    t->popts.max_prompt_tokens = (int)c->max_prompt_tokens;
    t->popts.system = c->system_prompt[0] ? c->system_prompt : NULL;
    t->popts.compact = !strcmp(c->prompt_style, "compact");
    t->prompt_ids = gta_calloc(t->ds.train.n, sizeof(gta_ids));
    t->target_ids = gta_calloc(t->ds.train.n, sizeof(gta_ids));
    /* every prompt is built before the first step: a bad example stops the run here */
    for (size_t i = 0; i < t->ds.train.n; i++)
        if ((rc = prompt_of(t, i))) return rc;
    long long per_step_examples = c->batch_prompts;
    long long rollouts = (long long)ceil(c->epochs * (double)t->ds.train.n / (double)per_step_examples);
    t->total_steps = c->steps > 0 ? c->steps : rollouts * (t->method == M_SFT ? 1 : c->num_iterations);
    return plan_memory(t);
}

/* ------------------------------------------------------------------ periodic evaluation */

/* greedy decoding of the first eval_limit examples of eval_split, one line of eval.jsonl */
static int periodic_eval(trainer *t) {
    gta_eval_opts o;
    gta_eval_opts_default(&o);
    o.format = t->fmt;
    o.limit = t->cfg.eval_limit;
    o.max_new_tokens = (int)t->cfg.max_new_tokens;
    o.max_prompt_tokens = (int)t->cfg.max_prompt_tokens;
    o.system = t->cfg.system_prompt[0] ? t->cfg.system_prompt : NULL;
    o.compact_prompt = t->popts.compact;
    o.eos = t->eos;
    o.neos = t->neos;
    o.n_examples = 2;
    o.n_diff_examples = 1;
    cJSON *res = NULL;
    int rc = gta_eval_run(t->policy, t->tok, &t->ds.labels, &t->eval_split, &o, &res);
    if (rc) return gta_err_prefix(rc, "evaluation at step %lld", t->step);
    cJSON *line = cJSON_CreateObject();
    cJSON_AddNumberToObject(line, "step", (double)t->step);
    cJSON_AddStringToObject(line, "split", t->cfg.eval_split);
    const char *keep[] = {"n", "accuracy", "f1_weighted", "f1_macro", "format_ok_rate", "guess_accuracy", "seconds",
                          "per_class", "confusion", "labels"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        cJSON *v = cJSON_GetObjectItem(res, keep[i]);
        if (v) cJSON_AddItemToObject(line, keep[i], cJSON_Duplicate(v, 1));
    }
    char *text = cJSON_PrintUnformatted(line);
    fprintf(t->evals, "%s\n", text);
    fflush(t->evals);
    fprintf(stderr, "%seval step %lld: %s accuracy %.4f, weighted F1 %.4f\n", isatty(2) ? "\n" : "", t->step,
            t->cfg.eval_split, cJSON_GetObjectItem(res, "accuracy")->valuedouble,
            cJSON_GetObjectItem(res, "f1_weighted")->valuedouble);
    free(text);
    cJSON_Delete(line);
    cJSON_Delete(res);
    return GTA_OK;
}

/* ------------------------------------------------------------------ the loop */

static void write_metrics(trainer *t, const step_stats *st, double step_seconds) {
    const rollout *r = &t->ro;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "step", (double)t->step);
    cJSON_AddNumberToObject(j, "epoch", (double)t->cursor / (double)t->ds.train.n);
    cJSON_AddNumberToObject(j, "lr", st->lr);
    cJSON_AddNumberToObject(j, "loss", st->loss);
    cJSON_AddNumberToObject(j, "loss_sft", st->loss_sft);
    cJSON_AddNumberToObject(j, "loss_rl", st->loss_rl);
    cJSON_AddNumberToObject(j, "kl", st->kl);
    int rl = t->method != M_SFT;
    cJSON_AddNumberToObject(j, "reward", rl ? r->reward : 0);
    cJSON_AddNumberToObject(j, "reward_format", rl ? r->reward_format : 0);
    cJSON_AddNumberToObject(j, "reward_accuracy", rl ? r->reward_accuracy : 0);
    if (t->method == M_GTA || t->method == M_GTARL) cJSON_AddNumberToObject(j, "guess_accuracy", r->guess_accuracy);
    if (t->method == M_GTA) {
        cJSON_AddNumberToObject(j, "cos_sft_rl", st->cos);
        cJSON_AddNumberToObject(j, "conflict", st->conflict);
    }
    cJSON_AddNumberToObject(j, "clip_frac", st->clip_frac);
    cJSON_AddNumberToObject(j, "frac_zero_std_groups", rl ? r->frac_zero_std : 0);
    cJSON_AddNumberToObject(j, "completion_tokens_mean", rl ? r->completion_tokens_mean : 0);
    cJSON_AddNumberToObject(j, "grad_norm", st->grad_norm);
    cJSON_AddNumberToObject(j, "tokens_per_s", st->tokens / (step_seconds > 0 ? step_seconds : 1e-9));
    cJSON_AddNumberToObject(j, "seconds", step_seconds);
    if (st->skipped) cJSON_AddBoolToObject(j, "skipped_nonfinite", 1);
    char *line = cJSON_PrintUnformatted(j);
    fprintf(t->metrics, "%s\n", line);
    fflush(t->metrics);
    free(line);
    cJSON_Delete(j);
}

static void progress(const trainer *t, const step_stats *st, double elapsed, long long done_here) {
    double per = done_here ? elapsed / (double)done_here : 0, eta = per * (double)(t->total_steps - t->step);
    int tty = isatty(2);
    char what[96];
    if (t->method == M_SFT)
        snprintf(what, sizeof what, "loss %.4f", st->loss);
    else
        snprintf(what, sizeof what, "reward %.3f acc %.3f", t->ro.reward, t->ro.reward_accuracy);
    fprintf(stderr, "%sstep %lld/%lld  %s  lr %.2e  %.2f s/step  ETA %dm%02ds%s", tty ? "\r" : "", t->step,
            t->total_steps, what, st->lr, per, (int)(eta / 60), (int)fmod(eta, 60), tty ? "   " : "\n");
}

static int open_logs(trainer *t, int resume, long long mbytes, long long sbytes, long long ebytes) {
    char *mp = gta_path_join(t->run_dir, "metrics.jsonl"), *sp = gta_path_join(t->run_dir, "samples.jsonl");
    int rc = GTA_OK;
    if (resume) {
        /* what was logged after the checkpoint is redone */
        if (truncate(mp, mbytes) != 0 || (gta_file_exists(sp) && truncate(sp, sbytes) != 0))
            rc = gta_err_set(GTA_EFAIL, "%s: cannot truncate to the checkpoint: %s", mp, strerror(errno));
    }
    if (!rc) {
        t->metrics = fopen(mp, resume ? "a" : "w");
        if (t->cfg.eval_steps > 0) {
            char *ep = gta_path_join(t->run_dir, "eval.jsonl");
            if (resume && gta_file_exists(ep) && truncate(ep, ebytes) != 0)
                rc = gta_err_set(GTA_EFAIL, "%s: cannot truncate to the checkpoint: %s", ep, strerror(errno));
            t->evals = fopen(ep, resume ? "a" : "w");
            if (!t->evals) rc = gta_err_set(GTA_EFAIL, "%s: cannot open for writing", ep);
            free(ep);
        }
        t->samples = fopen(sp, resume ? "a" : "w");
        if (!t->metrics || !t->samples) rc = gta_err_set(GTA_EFAIL, "%s: cannot open for writing", mp);
    }
    free(mp);
    free(sp);
    return rc;
}

/* trainer_state.json against the run it belongs to: the counts within the run's plan and
 * the log files at least as long as the checkpoint says. */
static int check_state(const trainer *t, const gta_train_state *s) {
    char *sp = gta_path_join(t->run_dir, "checkpoint/trainer_state.json");
    int rc = GTA_OK;
    struct {
        const char *file;
        long long bytes;
        const char *field;
    } logs[3] = {{"metrics.jsonl", s->metrics_bytes, "metrics_bytes"},
                 {"samples.jsonl", s->samples_bytes, "samples_bytes"},
                 {"eval.jsonl", s->eval_bytes, "eval_bytes"}};
    if (s->step > t->total_steps)
        rc = gta_err_set(GTA_EINPUT, "%s: field 'step' = %lld: the run has %lld steps", sp, s->step,
                         t->total_steps);
    else if (t->method == M_SFT ? s->cursor != s->step * t->cfg.batch_prompts
                                : s->cursor != (s->step + t->cfg.num_iterations - 1) / t->cfg.num_iterations *
                                                   t->cfg.batch_prompts)
        rc = gta_err_set(GTA_EINPUT, "%s: field 'cursor' = %lld does not match step %lld of this run", sp,
                         s->cursor, s->step);
    else if (s->rollout && (t->method == M_SFT || s->step % t->cfg.num_iterations == 0))
        rc = gta_err_set(GTA_EINPUT, "%s: field 'rollout': no rollout is reused at step %lld of this run", sp,
                         s->step);
    for (int i = 0; i < 3 && !rc; i++) {
        char *lp = gta_path_join(t->run_dir, logs[i].file);
        struct stat st;
        long long have = stat(lp, &st) == 0 ? (long long)st.st_size : 0;
        if (have < logs[i].bytes)
            rc = gta_err_set(GTA_EINPUT, "%s: field '%s' = %lld but %s has %lld bytes", sp, logs[i].field,
                             logs[i].bytes, lp, have);
        free(lp);
    }
    free(sp);
    return rc;
}

static int g_stopped_by;
int gta_train_stopped_by(void) { return g_stopped_by; }

int gta_train_run(const gta_train_cfg *c0, int resume, long long stop_at) {
    gta_train_cfg c = *c0;
    trainer t;
    int rc;
    gta_train_state state;
    memset(&state, 0, sizeof state);
    if (resume) {
        /* the run's own settings; only steps may be extended */
        char *cp = gta_path_join(c0->out, "config.json"), *sp = gta_path_join(c0->out, "checkpoint/trainer_state.json");
        cJSON *j = NULL;
        rc = gta_json_load(cp, &j);
        if (!rc) {
            gta_train_defaults(&c, c0->method);
            rc = gta_train_cfg_apply_json(&c, j, cp);
        }
        cJSON_Delete(j);
        /* a kill inside an earlier checkpoint write left at most a partial .tmp */
        if (!rc) rc = gta_ckpt_recover(c0->out);
        if (!rc) rc = gta_train_state_load(sp, &state);
        free(cp);
        free(sp);
        if (rc) return rc;
        if (c0->steps > c.steps) c.steps = c0->steps;
        /* the run is where --out says, even when its directory was moved or copied */
        snprintf(c.out, sizeof c.out, "%s", c0->out);
    }
    if ((rc = setup(&t, &c, resume))) goto done;
    t.run_dir = gta_strdup(c.out);
    if ((rc = gta_mkdir_p(t.run_dir))) goto done;
    if (!resume) {
        char *cj = gta_train_cfg_to_json(&t.cfg), *cp = gta_path_join(t.run_dir, "config.json");
        rc = gta_write_file_atomic(cp, cj, strlen(cj));
        free(cj);
        free(cp);
        if (rc) goto done;
    }
    long long mbytes = 0, sbytes = 0, ebytes = 0;
    if (resume) {
        if ((rc = check_state(&t, &state))) goto done;
        t.step = state.step;
        t.cursor = state.cursor;
        t.opt.step = state.adam_step;
        mbytes = state.metrics_bytes;
        sbytes = state.samples_bytes;
        ebytes = state.eval_bytes;
        char *ck = gta_path_join(t.run_dir, "checkpoint"), *op = gta_path_join(ck, "optimizer.safetensors"),
             *rp = gta_path_join(ck, "reference.safetensors");
        size_t np = t.policy->n_params;
        rc = load_f32(op, "exp_avg", t.opt.m, np);
        if (!rc) rc = load_f32(op, "exp_avg_sq", t.opt.v, np);
        if (!rc && t.ref) rc = load_f32(rp, "params", t.ref->params, np);
        if (!rc && state.rollout) rc = load_rollout(&t, ck, &state);
        free(ck), free(op), free(rp);
        if (rc) goto done;
        fprintf(stderr, "gta train: resuming %s at step %lld of %lld\n", t.run_dir, t.step, t.total_steps);
    }
    if ((rc = open_logs(&t, resume, mbytes, sbytes, ebytes))) goto done;
    fprintf(stderr, "gta train: %s on %s (%zu examples), %lld steps\n", t.cfg.method, t.cfg.data, t.ds.train.n,
            t.total_steps);
    /* SIGINT/SIGTERM: finish the step, checkpoint, and say how to go on */
    g_stopped_by = 0;
    gta_stop_install();
    double t_start = gta_now();
    long long first = t.step;
    long long last = stop_at > 0 && stop_at < t.total_steps ? stop_at : t.total_steps;
    while (t.step < last) {
        double ts = gta_now();
        if (t.method == M_SFT)
            rc = build_sft_batch(&t);
        else if (t.step % t.cfg.num_iterations == 0 || !t.ro.valid)
            rc = build_rollout(&t, t.step / t.cfg.num_iterations);
        if (rc) break;
        step_stats st;
        if ((rc = optimizer_step(&t, &st))) break;
        double secs = gta_now() - ts;
        write_metrics(&t, &st, secs);
        progress(&t, &st, gta_now() - t_start, t.step - first);
        if (t.cfg.eval_steps > 0 && (t.step % t.cfg.eval_steps == 0 || t.step == t.total_steps))
            if ((rc = periodic_eval(&t))) break;
        if (gta_stop_requested()) break;
        if (t.cfg.save_steps > 0 && t.step % t.cfg.save_steps == 0 && t.step < last)
            if ((rc = save_checkpoint(&t))) break;
    }
    if (isatty(2)) fprintf(stderr, "\n");
    if (!rc) rc = save_checkpoint(&t);
    if (!rc && gta_stop_requested()) {
        int sig = g_stopped_by = gta_stop_requested();
        fprintf(stderr,
                "gta train: %s received: stopped at step %lld of %lld with a checkpoint in %s/checkpoint; "
                "continue "
                "with: gta train --out %s --resume\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM", t.step, t.total_steps, t.run_dir, t.run_dir);
    } else if (!rc && t.step < t.total_steps) {
        fprintf(stderr, "gta train: stopped at step %lld of %lld; continue with --resume\n", t.step, t.total_steps);
    } else if (!rc) {
        char *fin = gta_path_join(t.run_dir, "final");
        rc = save_model_dir(&t, fin);
        if (!rc) fprintf(stderr, "gta train: done; model in %s\n", fin);
        free(fin);
    }
done:
    gta_stop_uninstall();
    trainer_free(&t);
    return rc;
}
