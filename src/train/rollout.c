/* The trainer's rollouts: the data stream, prompts, building a rollout or an SFT batch, reloading a saved
 * one. */
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
#include "base/str.h"
#include "base/util.h"
#include "io/dataset.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/sampler.h"
#include "task/prompt.h"
#include "task/reward.h"
#include "text/tokenizer.h"
#include "train/objective.h"
#include "train/optim.h"

/* ------------------------------------------------------------------ small helpers */

void ro_free(rollout *r) {
    free(r->ids), free(r->pos), free(r->seg_start), free(r->seg_len), free(r->seg_parent);
    free(r->lp_row), free(r->lp_target), free(r->seq), free(r->rl_mask), free(r->sft_mask);
    free(r->old_lp), free(r->ref_lp), free(r->seq_adv), free(r->w_rl), free(r->adv), free(r->w_sft);
    memset(r, 0, sizeof *r);
}

gta_batch ro_batch(const rollout *r) {
    return (gta_batch){r->n,       r->ids,        r->pos, r->nseg,   r->seg_start,
                       r->seg_len, r->seg_parent, r->nlp, r->lp_row, r->lp_target};
}

/* the example at position k of the data stream: epoch k / n, a seeded permutation each */
size_t example_at(const trainer *t, long long k) {
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

int prompt_of(trainer *t, size_t i) {
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

/* ------------------------------------------------------------------ rollout */

/* byte length of the decoded prefix ids[0..k) */
static size_t prefix_bytes(const gta_tokenizer *tok, const gta_tok *ids, int k) {
    if (k <= 0) return 0;
    char *text = NULL;
    size_t len = 0;
    if (gta_tokenizer_decode(tok, ids, (size_t)k, GTA_DECODE_SKIP_SPECIAL | GTA_DECODE_SKIP_UNKNOWN, &text, &len) != GTA_OK) len = 0;
    free(text);
    return len;
}

/* Rank 0 receives every rank's lines (in rank order) and writes them to samples.jsonl:
 * the lines of the first log_examples prompts of the whole batch. */
static int gather_samples(trainer *t, gta_str *lines) {
    gta_comm *cm = t->comm;
    for (int q = 0; q < cm->size; q++) {
        double len = q == cm->rank ? (double)lines->n : 0;
        int rc = cm->broadcast(cm, &len, sizeof len, q);
        if (rc) return rc;
        if (len <= 0) continue;
        char *buf = q == cm->rank ? lines->s : gta_malloc((size_t)len);
        if (!(rc = cm->broadcast(cm, buf, (size_t)len, q)) && t->samples)
            fwrite(buf, 1, (size_t)len, t->samples);
        if (q != cm->rank) free(buf);
        if (rc) return rc;
    }
    return GTA_OK;
}

/* The tree batch of a rollout and its fixed per-pair data (RL and SFT weights, per-token
 * advantages) from P prompts and their P x G samples, r->seq_adv and r->nseq already set:
 * [prompt | G completions | (gta) the gold-guess branch guess[p]]; the first nguess[s]
 * tokens of sample s (its guess span) are left out of the RL loss. */
int ro_assemble(trainer *t, const gta_tok *const *prompts, const int *plen, int P, int G,
                const gta_sample_seq *smp, const gta_ids *const *guess, const int *nguess) {
    const gta_train_cfg *c = &t->cfg;
    rollout *r = &t->ro;
    int nseq = P * G, rc = GTA_OK;
    int n = 0, nlp = 0, nseg = 0;
    for (int p = 0; p < P; p++) {
        n += plen[p];
        nseg++;
        for (int g = 0; g < G; g++) n += smp[p * G + g].n, nlp += smp[p * G + g].n, nseg++;
        if (guess && guess[p]) {
            int gl = (int)guess[p]->n;
            n += gl, nlp += gl, nseg++;
        }
    }
    r->n = n, r->nlp = nlp;
    r->ids = gta_malloc(sizeof(int) * (size_t)n), r->pos = gta_malloc(sizeof(int) * (size_t)n);
    r->seg_start = gta_malloc(sizeof(int) * (size_t)nseg),
    r->seg_len = gta_malloc(sizeof(int) * (size_t)nseg);
    r->seg_parent = gta_malloc(sizeof(int) * (size_t)nseg);
    r->lp_row = gta_malloc(sizeof(int) * (size_t)(nlp ? nlp : 1));
    r->lp_target = gta_malloc(sizeof(int) * (size_t)(nlp ? nlp : 1));
    r->seq = gta_malloc(sizeof(int32_t) * (size_t)(nlp ? nlp : 1));
    r->rl_mask = gta_calloc((size_t)(nlp ? nlp : 1), 1), r->sft_mask = gta_calloc((size_t)(nlp ? nlp : 1), 1);
    int at = 0, k = 0, sg_i = 0;
    for (int p = 0; p < P; p++) {
        int root = sg_i, pstart = at;
        r->seg_start[sg_i] = at, r->seg_len[sg_i] = plen[p], r->seg_parent[sg_i++] = -1;
        for (int i = 0; i < plen[p]; i++) r->ids[at] = prompts[p][i], r->pos[at++] = i;
        int last = pstart + plen[p] - 1;
        int nbr = G + (guess && guess[p]);
        for (int g = 0; g < nbr; g++) {
            int is_guess = g == G, s = p * G + g;
            const gta_tok *tk = is_guess ? guess[p]->ids : smp[s].ids;
            int len = is_guess ? (int)guess[p]->n : smp[s].n;
            /* RL tokens: all of a completion except its guess span */
            int ng = is_guess || !nguess ? 0 : nguess[s];
            int bstart = at;
            r->seg_start[sg_i] = at, r->seg_len[sg_i] = len, r->seg_parent[sg_i++] = root;
            for (int j = 0; j < len; j++) {
                int id = tk[j];
                r->ids[at] = id;
                r->pos[at++] = plen[p] + j;
                r->lp_row[k] = j == 0 ? last : bstart + j - 1;
                r->lp_target[k] = id;
                r->seq[k] = is_guess ? 0 : s;
                if (is_guess)
                    r->sft_mask[k] = 1;
                else
                    r->rl_mask[k] = j >= ng;
                k++;
            }
        }
    }
    r->nseg = nseg;

    /* fixed per-pair data: weights and advantages */
    r->w_rl = gta_malloc(sizeof(float) * (size_t)(nlp ? nlp : 1)),
    r->adv = gta_malloc(sizeof(float) * (size_t)(nlp ? nlp : 1));
    r->w_sft = gta_malloc(sizeof(float) * (size_t)(nlp ? nlp : 1));
    gta_loss_agg agg = GTA_AGG_SEQUENCE;
    gta_loss_agg_from_name(c->loss_aggregation, &agg);
    gta_grpo_weights((size_t)nlp, r->seq, r->rl_mask, (size_t)nseq, r->seq_adv, agg, r->w_rl, r->adv);
    if (t->comm->size > 1) {
        /* the weights normalise by this rank's sequences (or RL tokens); a data-parallel
         * step normalises by all ranks' (the counts summed over the ranks) */
        double cnt[2] = {(double)nseq, 0};
        for (int q = 0; q < nlp; q++) cnt[1] += r->rl_mask[q] != 0;
        double mine = agg == GTA_AGG_SEQUENCE ? cnt[0] : cnt[1];
        if ((rc = t->comm->sum_doubles(t->comm, cnt, 2))) return rc;
        double all = agg == GTA_AGG_SEQUENCE ? cnt[0] : cnt[1];
        if (all > 0)
            for (int q = 0; q < nlp; q++) r->w_rl[q] = (float)((double)r->w_rl[q] * (mine / all));
    }
    gta_sft_weights((size_t)nlp, r->sft_mask, r->w_sft);
    return GTA_OK;
}

/* The old log-probs are those of the weights of the rollout's first update: when its
 * forward computes the same function (no adapter dropout, which draws masks in training
 * forwards only), they are taken from it (optimizer_step) instead of a pass of their own,
 * as TRL does at num_iterations = 1; the ratio of the first update is then exactly 1. */
static int old_lp_from_first_update(const trainer *t) {
    const gta_model *m = t->policy;
    return t->method != M_SFT && !(m->lora && m->lora->cfg.dropout > 0) && !getenv("GTA_OLD_LOGPS_PASS");
}

/* The old (policy) and reference log-probs of the rollout's pairs, no gradient kept; the
 * reference's are the policy's without a reference (beta = 0). Seconds of each pass into
 * old_s, ref_s (either may be NULL). */
int ro_logps(trainer *t, double *old_s, double *ref_s) {
    rollout *r = &t->ro;
    size_t nlp = (size_t)(r->nlp ? r->nlp : 1);
    r->old_lp = gta_malloc(sizeof(float) * nlp);
    r->ref_lp = gta_malloc(sizeof(float) * nlp);
    gta_batch b = ro_batch(r);
    int pending = old_lp_from_first_update(t), rc = GTA_OK;
    double t0 = gta_now();
    if (!pending) rc = gta_forward(t->policy, &b, r->old_lp, NULL, 0);
    double t1 = gta_now();
    if (!rc && t->ref && t->cfg.beta > 0)
        rc = gta_forward(t->ref, &b, r->ref_lp, NULL, 0);
    else if (!rc && !pending)
        memcpy(r->ref_lp, r->old_lp, sizeof(float) * nlp);
    /* 1: old_lp to come; 2: ref_lp as well (a copy of them) */
    r->lp_pending = pending ? (t->ref && t->cfg.beta > 0 ? 1 : 2) : 0;
    if (old_s) *old_s = t1 - t0;
    if (ref_s) *ref_s = gta_now() - t1;
    /* the training step that follows needs none of the inference buffers: the peak is the
     * larger of the two phases, not their sum (the plan still adds them up) */
    gta_model_release_infer(t->policy);
    if (t->ref) {
        gta_model_release_infer(t->ref);
        t->ref->be->scratch_release(t->ref->ctx);
    }
    return rc;
}

/* one line of samples.jsonl: the step, the gold label, a completion and its reward (caller frees) */
static char *sample_line(const trainer *t, int gold, const char *text, double reward) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "step", (double)t->step);
    cJSON_AddStringToObject(j, "gold", t->ds.labels.names[gold]);
    cJSON_AddStringToObject(j, "completion", text);
    cJSON_AddNumberToObject(j, "reward", reward);
    char *line = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return line;
}

int build_rollout(trainer *t, long long rollout_index) {
    const gta_train_cfg *c = &t->cfg;
    const int G = (int)c->group_size, P_all = (int)c->batch_prompts;
    /* this rank's prompts: [p0, p0 + P) of the batch, by their global index (the sample
     * ids, hence the rollouts, are those of one process whatever the number of ranks) */
    size_t plo, phi;
    gta_comm_shard((size_t)P_all, t->comm->size, t->comm->rank, &plo, &phi);
    const int P = (int)(phi - plo), p0 = (int)plo;
    rollout *r = &t->ro;
    ro_free(r);
    size_t *ex = gta_malloc(sizeof(size_t) * (size_t)P);
    const gta_tok **prompts = gta_malloc(sizeof(gta_tok *) * (size_t)P);
    int *plen = gta_malloc(sizeof(int) * (size_t)P), rc = GTA_OK;
    uint64_t *sid = gta_malloc(sizeof(uint64_t) * (size_t)(P * G));
    for (int s = 0; s < P * G; s++) sid[s] = (uint64_t)p0 * (uint64_t)G + (uint64_t)s;
    gta_str lines = {0};
    for (int p = 0; p < P && !rc; p++) {
        ex[p] = example_at(t, t->cursor + p0 + p);
        if ((rc = prompt_of(t, ex[p]))) break;
        const gta_ids *pi = &t->prompt_ids[ex[p]];
        prompts[p] = pi->ids;
        plen[p] = (int)pi->n;
    }
    gta_sample_seq *smp = gta_calloc((size_t)(P * G), sizeof *smp);
    const char *stop[1] = {"</answer>"};
    if (!rc) {
        gta_sample_params sp;
        memset(&sp, 0, sizeof sp);
        sp.temperature = c->temperature;
        sp.top_p = c->top_p;
        /* a bf16 base decodes from its own matrices; "model": from the weights, no panels */
        sp.bf16_weights =
            t->base16 || !strcmp(c->rollout_weights, "model") ? -1 : !strcmp(c->rollout_weights, "bf16");
        sp.max_new_tokens = (int)c->max_new_tokens;
        sp.eos = t->eos;
        sp.neos = t->neos;
        sp.stop = stop;
        sp.nstop = 1;
        sp.tok = t->tok;
        sp.seed = gta_rng_u64((uint64_t)c->seed, 7, (uint64_t)rollout_index);
        double ts = gta_now();
        gta_test_kill_point_n("rollout", t->step + 1);
        rc = gta_sample(t->policy, prompts, plen, P, G, sid, &sp, smp);
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
        char *text = NULL;
        size_t len = 0;
        rc = gta_tokenizer_decode(t->tok, smp[s].ids, (size_t)smp[s].n, GTA_DECODE_SKIP_SPECIAL | GTA_DECODE_SKIP_UNKNOWN,
                                  &text, &len);
        if (rc) break;
        gta_reward rw;
        gta_reward_score(t->fmt, text, len, &t->ds.labels, e->label, &rw);
        rew[s] = rw.reward;
        gend[s] = rw.guess_end;
        sf += rw.format_ok;
        sa += rw.answer_ok;
        sg += rw.guess_ok;
        ctok += smp[s].n;
        if (t->comm->rank == 0 && t->comm->size == 1 && t->samples && s % G == 0 && s / G < c->log_examples) {
            char *line = sample_line(t, e->label, text, rw.reward);
            fprintf(t->samples, "%s\n", line);
            free(line);
        } else if (t->comm->size > 1 && s % G == 0 && p0 + s / G < c->log_examples) {
            /* gathered on rank 0 below, in the order of the global prompt index */
            char *line = sample_line(t, e->label, text, rw.reward);
            gta_str_printf(&lines, "%s\n", line);
            free(line);
        }
        free(text);
    }
    if (rc) {
        free(rew), free(gend);
        goto done;
    }
    if (t->comm->size > 1 && (rc = gather_samples(t, &lines))) {
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
    /* the statistics of the whole batch: sums over the ranks */
    double tot[7] = {sf, sa, sg, ctok, zero, nseq, P};
    if (t->comm->size > 1 && (rc = t->comm->sum_doubles(t->comm, tot, 7))) {
        free(rew), free(gend);
        goto done;
    }
    r->reward_format = tot[0] / tot[5];
    r->reward_accuracy = tot[1] / tot[5];
    r->reward = (tot[0] + tot[1]) / tot[5];
    r->guess_accuracy = tot[2] / tot[5];
    r->frac_zero_std = tot[4] / tot[6];
    r->completion_tokens_mean = tot[3] / tot[5];

    /* each sample's guess span (gta): its tokens up to the end of the guess, excluded from the RL loss */
    int *nguess = gta_calloc((size_t)nseq, sizeof(int));
    const gta_ids **guess = gta_calloc((size_t)P, sizeof *guess);
    for (int s = 0; s < nseq && t->method == M_GTA; s++)
        if (gend[s] > 0)
            while (nguess[s] < smp[s].n && prefix_bytes(t->tok, smp[s].ids, nguess[s]) < (size_t)gend[s])
                nguess[s]++;
    for (int p = 0; p < P && t->method == M_GTA; p++) guess[p] = &t->target_ids[ex[p]];
    free(rew), free(gend);
    rc = ro_assemble(t, prompts, plen, P, G, smp, guess, nguess);
    free(nguess), free(guess);
    if (rc || (rc = ro_logps(t, NULL, NULL))) goto done;
    r->valid = 1;
    t->cursor += P_all;
done:
    free(sid);
    gta_str_free(&lines);
    gta_sample_seq_free(smp, P * G);
    free(smp), free(ex), free(prompts), free(plen);
    return rc;
}

/* SFT: batch_prompts examples, each [prompt | target] as its own sequence */
int build_sft_batch(trainer *t) {
    rollout *r = &t->ro;
    ro_free(r);
    size_t plo, phi;
    gta_comm_shard((size_t)t->cfg.batch_prompts, t->comm->size, t->comm->rank, &plo, &phi);
    int P = (int)(phi - plo), p0 = (int)plo, n = 0, nlp = 0, rc = GTA_OK;
    size_t *ex = gta_malloc(sizeof(size_t) * (size_t)P);
    for (int p = 0; p < P && !rc; p++) {
        ex[p] = example_at(t, t->cursor + p0 + p);
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
    if (t->comm->size > 1) {
        /* the mean over every rank's target tokens */
        double all = nlp;
        if ((rc = t->comm->sum_doubles(t->comm, &all, 1))) {
            free(ex);
            return rc;
        }
        for (int q = 0; q < nlp; q++) r->w_sft[q] = (float)(1.0 / all);
    }
    r->valid = 1;
    t->cursor += t->cfg.batch_prompts;
    free(ex);
    return GTA_OK;
}

/* rollout.safetensors of a checkpoint taken between the steps that reuse one rollout
 * (rollout-rankR.safetensors, rank R's part, in a run of several ranks): every tensor
 * present with its dtype and a size consistent with the others, the sequences those of
 * this rank's prompts, the batch valid for the model, the per-pair data finite, before
 * any of it is used. */
int load_rollout(trainer *t, const char *dir, const gta_train_state *stats) {
    char name[64];
    if (t->comm->size > 1)
        snprintf(name, sizeof name, "rollout-rank%d.safetensors", t->comm->rank);
    else
        snprintf(name, sizeof name, "rollout.safetensors");
    char *p = gta_path_join(dir, name);
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
        size_t plo, phi;
        gta_comm_shard((size_t)t->cfg.batch_prompts, t->comm->size, t->comm->rank, &plo, &phi);
        long long want_seq = (long long)(phi - plo) * t->cfg.group_size;
        gta_batch b = ro_batch(r);
        if (r->nseq != want_seq)
            rc = gta_err_set(
                GTA_EINPUT,
                "%s: tensor 'seq_adv' has %d sequences: rank %d of %d expects %lld (%zu prompts x "
                "group_size %lld)",
                p, r->nseq, t->comm->rank, t->comm->size, want_seq, phi - plo, t->cfg.group_size);
        else if ((rc = gta_batch_check(t->policy, &b)))
            gta_err_prefix(rc, "%s", p);
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
