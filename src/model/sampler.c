#include "model/sampler.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/cpu/vec.h"
#include "base/error.h"
#include "base/rng.h"

/* ------------------------------------------------------------------ one draw */

typedef struct {
    float p;
    int id;
} cand;

static int cand_cmp_asc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? -1 : 1;
    return x->id > y->id ? -1 : x->id < y->id; /* equal probs: the larger id is "smaller" (sorted first) */
}

/* k-th largest value of v[0..n) (1-based k), by quickselect on a copy in tmp */
static float kth_largest(const float *v, int n, int k, float *tmp) {
    memcpy(tmp, v, sizeof(float) * (size_t)n);
    int lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float pivot = tmp[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (tmp[i] > pivot) i++;
            while (tmp[j] < pivot) j--;
            if (i <= j) {
                float t = tmp[i];
                tmp[i] = tmp[j];
                tmp[j] = t;
                i++;
                j--;
            }
        }
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            break;
    }
    return tmp[want];
}

int gta_sample_token(const float *logits, int V, const gta_sample_params *p, double u, float *work, float *lp) {
    float *z = work, *prob = work + V;
    if (p->temperature <= 0) {
        int best = 0;
        for (int j = 1; j < V; j++)
            if (logits[j] > logits[best]) best = j;
        double mx = logits[best], s = 0;
        for (int j = 0; j < V; j++) s += exp((double)logits[j] - mx);
        *lp = (float)-log(s);
        return best;
    }
    float inv_t = (float)(1.0 / p->temperature);
    const float *zs = logits;
    if (inv_t != 1.0f) {
        for (int j = 0; j < V; j++) z[j] = logits[j] * inv_t;
        zs = z;
    }
    float mx = vec_max(zs, V);
    if (!(p->top_k > 0 && p->top_k < V) && !(p->top_p < 1.0 && p->top_p > 0) && !(p->min_p > 0)) {
        /* no filter (the rollout default): draw from the unnormalized weights exp(z - max)
         * directly, finding the block where the running sum passes u * total from block
         * sums, then the token inside it */
        double total = vec_exp_scale(prob, zs, V, mx, 1.0f), target = u * total, acc = 0;
        enum { BLK = 256 };
        int pick = -1;
        for (int b0 = 0; b0 < V && pick < 0; b0 += BLK) {
            int b1 = b0 + BLK < V ? b0 + BLK : V;
            float bs = 0;
            for (int j = b0; j < b1; j++) bs += prob[j];
            if (acc + bs <= target) {
                acc += bs;
                continue;
            }
            for (int j = b0; j < b1; j++) {
                if (prob[j] <= 0) continue;
                acc += prob[j];
                if (acc > target) {
                    pick = j;
                    break;
                }
            }
        }
        if (pick < 0) /* u * total rounding at the very top: the last token with weight */
            for (int j = V - 1; j >= 0 && pick < 0; j--)
                if (prob[j] > 0) pick = j;
        *lp = (float)log(prob[pick] / total);
        return pick;
    }
    if (zs != z) memcpy(z, logits, sizeof(float) * (size_t)V);
    if (p->top_k > 0 && p->top_k < V) {
        float thr = kth_largest(z, V, p->top_k, prob);
        for (int j = 0; j < V; j++)
            if (z[j] < thr) z[j] = -INFINITY; /* vec_exp gives exact zeros for these */
    }
    double sum = vec_exp_scale(prob, z, V, mx, 1.0f);
    float norm = (float)(1.0 / sum);
    int kept = 0;
    for (int j = 0; j < V; j++) {
        prob[j] *= norm;
        kept += prob[j] > 0;
    }
    if (p->top_p < 1.0 && p->top_p > 0) {
        /* transformers: sort ascending, drop tokens while the cumulative mass is <= 1 - top_p.
         * Tokens below (1 - top_p) / kept are dropped for sure (all of them together weigh
         * less than 1 - top_p and come first), so only the rest needs sorting. */
        double drop = 1.0 - p->top_p, below = 0;
        float t0 = (float)(drop / (kept ? kept : 1));
        cand *buf = gta_malloc(sizeof(cand) * (size_t)kept);
        int nc = 0;
        for (int j = 0; j < V; j++) {
            if (prob[j] <= 0) continue;
            if (prob[j] < t0) {
                below += prob[j];
                prob[j] = 0;
            } else {
                buf[nc++] = (cand){prob[j], j};
            }
        }
        qsort(buf, (size_t)nc, sizeof(cand), cand_cmp_asc);
        double cum = below;
        for (int i = 0; i < nc - 1; i++) { /* keep at least one */
            cum += buf[i].p;
            if (cum <= drop)
                prob[buf[i].id] = 0;
            else
                break;
        }
        free(buf);
    }
    if (p->min_p > 0) {
        float pmax = 0;
        for (int j = 0; j < V; j++) pmax = prob[j] > pmax ? prob[j] : pmax;
        float thr = (float)(p->min_p * pmax);
        for (int j = 0; j < V; j++)
            if (prob[j] < thr) prob[j] = 0;
    }
    double total = 0;
    for (int j = 0; j < V; j++) total += prob[j];
    double target = u * total, acc = 0;
    int pick = -1, last = -1;
    for (int j = 0; j < V; j++) {
        if (prob[j] <= 0) continue;
        last = j;
        acc += prob[j];
        if (acc > target) {
            pick = j;
            break;
        }
    }
    if (pick < 0) pick = last; /* u * total rounding at the very top */
    *lp = (float)log(prob[pick] / total);
    return pick;
}

/* ------------------------------------------------------------------ planning */

size_t gta_mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
                fclose(f);
                return (size_t)kb * 1024;
            }
        fclose(f);
    }
    long pages = sysconf(_SC_AVPHYS_PAGES), ps = sysconf(_SC_PAGESIZE);
    return pages > 0 && ps > 0 ? (size_t)pages * (size_t)ps : (size_t)-1;
}

void gta_sample_plan_make(const gta_config *c, const int *plen, int nprompts, int G, int max_new, int prefill_tokens,
                          int bf16_weights, gta_sample_plan *plan) {
    long long total_p = 0, maxp = 0;
    for (int i = 0; i < nprompts; i++) {
        total_p += plen[i];
        if (plen[i] > maxp) maxp = plen[i];
    }
    int pf = prefill_tokens > 0 ? prefill_tokens : 8192;
    if (pf < maxp) pf = (int)maxp; /* a prompt is prefilled in one call */
    if (pf > total_p) pf = (int)total_p;
    long long nseq = (long long)nprompts * G;
    plan->cache_tokens = (int)(total_p + nseq * max_new);
    plan->kv_bytes = gta_kv_bytes(c, plan->cache_tokens);
    plan->act_bytes = gta_decode_bytes(c, pf, (int)nseq);
    plan->logit_bytes = sizeof(float) * (size_t)c->vocab_size * (size_t)(nseq + nprompts) +
                        sizeof(float) * 3 * (size_t)c->vocab_size * (size_t)omp_get_max_threads();
    plan->total = plan->kv_bytes + plan->act_bytes + plan->logit_bytes + gta_decode_pack_bytes(c, bf16_weights);
}

/* ------------------------------------------------------------------ the loop */

void gta_sample_seq_free(gta_sample_seq *s, int n) {
    for (int i = 0; i < n; i++) {
        free(s[i].ids);
        free(s[i].lp);
        s[i].ids = NULL;
        s[i].lp = NULL;
    }
}

/* Did the newest token complete one of the stop strings?  An earlier occurrence would have
 * stopped the sequence already, so only the tail is decoded: an occurrence ending in the
 * newest token spans at most maxlen bytes, so at most maxlen tokens (each decodes to at
 * least a byte), and 4 more tokens keep a character cut at the window's start (at most 3
 * bytes of it) clear of the match. Decoding the whole completion at every step would
 * make each sequence cost quadratic time. */
static int hits_stop(const gta_sample_params *p, const gta_sample_seq *s) {
    if (!p->nstop || !p->tok) return 0;
    size_t maxlen = 0;
    for (int k = 0; k < p->nstop; k++)
        if (strlen(p->stop[k]) > maxlen) maxlen = strlen(p->stop[k]);
    int w = s->n < (int)maxlen + 4 ? s->n : (int)maxlen + 4;
    int32_t *ids = gta_malloc(sizeof(int32_t) * (size_t)(w ? w : 1));
    for (int i = 0; i < w; i++) ids[i] = s->ids[s->n - w + i];
    char *text = NULL;
    size_t len = 0;
    int hit = 0;
    if (gta_tokenizer_decode(p->tok, ids, (size_t)w, 0, &text, &len) == GTA_OK) {
        for (int k = 0; k < p->nstop && !hit; k++) hit = strstr(text, p->stop[k]) != NULL;
        free(text);
    }
    free(ids);
    return hit;
}

static void append(gta_sample_seq *s, int tok, float lp, int cap) {
    if (s->n < cap) {
        s->ids[s->n] = tok;
        s->lp[s->n] = lp;
        s->n++;
    }
}

int gta_sample(gta_model *m, const gta_tok *const *prompts, const int *plen, int nprompts, int G,
               const uint64_t *sample_ids, const gta_sample_params *p, gta_sample_seq *out) {
    const gta_config *c = &m->cfg;
    const int V = c->vocab_size, nseq = nprompts * G, max_new = p->max_new_tokens;
    if (nprompts <= 0 || G <= 0 || max_new < 0)
        return gta_err_set(GTA_EINPUT, "sample: need at least one prompt, G >= 1 and max_new_tokens >= 0");
    for (int i = 0; i < nprompts; i++) {
        if (plen[i] <= 0) return gta_err_set(GTA_EINPUT, "sample: prompt %d is empty", i);
        for (int t = 0; t < plen[i]; t++)
            if (prompts[i][t] < 0 || prompts[i][t] >= V)
                return gta_err_set(GTA_EINPUT, "sample: prompt %d token %d = %d is outside the vocabulary [0, %d)", i,
                                   t, prompts[i][t], V);
    }
    if (p->nstop && !p->tok) return gta_err_set(GTA_EINPUT, "sample: stop strings need a tokenizer");
    gta_sample_plan plan;
    gta_sample_plan_make(c, plen, nprompts, G, max_new, p->prefill_tokens, p->bf16_weights, &plan);
    size_t limit = p->memory_limit ? p->memory_limit : gta_mem_available();
    if (plan.total > limit)
        return gta_err_set(GTA_EINPUT,
                           "sample: %d sequences of up to %d new tokens need %.1f MiB (KV cache %.1f MiB for %d tokens, "
                           "activations %.1f MiB, logits %.1f MiB) but only %.1f MiB are available; use fewer "
                           "prompts or samples, shorter prompts or fewer new tokens",
                           nseq, max_new, plan.total / 1048576.0, plan.kv_bytes / 1048576.0, plan.cache_tokens,
                           plan.act_bytes / 1048576.0, plan.logit_bytes / 1048576.0, limit / 1048576.0);
    for (int s = 0; s < nseq; s++) {
        out[s].ids = gta_malloc(sizeof(int) * (size_t)(max_new ? max_new : 1));
        out[s].lp = gta_malloc(sizeof(float) * (size_t)(max_new ? max_new : 1));
        out[s].n = 0;
        out[s].finish = GTA_FINISH_LENGTH;
    }
    if (max_new == 0) return GTA_OK;
    /* the weights may have changed since the last call (training): re-lay them out */
    gta_decode_pack(m, p->bf16_weights);

    /* cache layout: every prompt, then max_new slots per sample */
    int *pstart = gta_malloc(sizeof(int) * (size_t)nprompts), at = 0;
    for (int i = 0; i < nprompts; i++) {
        pstart[i] = at;
        at += plen[i];
    }
    int sstart0 = at;
    gta_kv kv;
    gta_kv_init(&kv, c, plan.cache_tokens);
    int nth = omp_get_max_threads();
    float *work = gta_malloc(sizeof(float) * 2 * (size_t)V * (size_t)nth);
    float *logits = gta_malloc(sizeof(float) * (size_t)V * (size_t)(nseq > nprompts ? nseq : nprompts));
    int *active = gta_malloc(sizeof(int) * (size_t)nseq), *last = gta_malloc(sizeof(int) * (size_t)nseq);
    int rc = GTA_OK;

    /* prefill, a group of whole prompts per call */
    int pf = p->prefill_tokens > 0 ? p->prefill_tokens : 8192;
    for (int i0 = 0; i0 < nprompts && !rc;) {
        int i1 = i0, ntok = 0;
        while (i1 < nprompts && (i1 == i0 || ntok + plen[i1] <= pf)) ntok += plen[i1++];
        int np = i1 - i0;
        int *ids = gta_malloc(sizeof(int) * (size_t)ntok), *pos = gta_malloc(sizeof(int) * (size_t)ntok),
            *slot = gta_malloc(sizeof(int) * (size_t)ntok), *ss = gta_malloc(sizeof(int) * (size_t)np),
            *sl = gta_malloc(sizeof(int) * (size_t)np), *sp = gta_malloc(sizeof(int) * (size_t)np),
            *rows = gta_malloc(sizeof(int) * (size_t)np);
        int k = 0;
        for (int i = i0; i < i1; i++) {
            ss[i - i0] = k;
            sl[i - i0] = plen[i];
            sp[i - i0] = -1;
            for (int t = 0; t < plen[i]; t++, k++) {
                ids[k] = prompts[i][t];
                pos[k] = t;
                slot[k] = pstart[i] + t;
            }
            rows[i - i0] = k - 1;
        }
        gta_batch b = {ntok, ids, pos, np, ss, sl, sp, 0, NULL, NULL};
        rc = gta_prefill(m, &b, &kv, slot, rows, np, logits);
        /* first token of every sample of these prompts */
        if (!rc) {
#pragma omp parallel for schedule(static)
            for (int s = i0 * G; s < i1 * G; s++) {
                int pi = s / G;
                uint64_t sid = sample_ids ? sample_ids[s] : (uint64_t)s;
                float lp;
                int tok = gta_sample_token(logits + (size_t)(pi - i0) * V, V, p,
                                           gta_rng_uniform(p->seed, sid, 0), work + 2 * (size_t)V * omp_get_thread_num(), &lp);
                append(&out[s], tok, lp, max_new);
                last[s] = tok;
            }
        }
        free(ids), free(pos), free(slot), free(ss), free(sl), free(sp), free(rows);
        i0 = i1;
    }

    /* decode: every active sample feeds its last token */
    int nact = 0;
    for (int s = 0; s < nseq && !rc; s++) {
        int fin = 0;
        for (int e = 0; e < p->neos; e++) fin |= last[s] == p->eos[e];
        if (fin) {
            out[s].finish = GTA_FINISH_EOS;
        } else if (hits_stop(p, &out[s])) {
            out[s].finish = GTA_FINISH_STOP;
        } else if (out[s].n < max_new) {
            active[nact++] = s;
        }
    }
    int *tok = gta_malloc(sizeof(int) * (size_t)nseq), *pos = gta_malloc(sizeof(int) * (size_t)nseq),
        *slot = gta_malloc(sizeof(int) * (size_t)nseq);
    gta_range *rg = gta_malloc(sizeof(gta_range) * 2 * (size_t)nseq);
    while (nact > 0 && !rc) {
        for (int i = 0; i < nact; i++) {
            int s = active[i], pi = s / G, j = out[s].n - 1; /* the token being fed is the j-th new one */
            tok[i] = last[s];
            pos[i] = plen[pi] + j;
            slot[i] = sstart0 + s * max_new + j;
            rg[2 * i] = (gta_range){pstart[pi], plen[pi]};
            rg[2 * i + 1] = (gta_range){sstart0 + s * max_new, j + 1};
        }
        if ((rc = gta_decode(m, &kv, nact, tok, pos, slot, rg, 2, logits))) break;
#pragma omp parallel for schedule(static)
        for (int i = 0; i < nact; i++) {
            int s = active[i];
            uint64_t sid = sample_ids ? sample_ids[s] : (uint64_t)s;
            float lp;
            int t = gta_sample_token(logits + (size_t)i * V, V, p, gta_rng_uniform(p->seed, sid, (uint64_t)out[s].n),
                                     work + 2 * (size_t)V * omp_get_thread_num(), &lp);
            append(&out[s], t, lp, max_new);
            last[s] = t;
        }
        int keep = 0;
        for (int i = 0; i < nact; i++) {
            int s = active[i], fin = 0;
            for (int e = 0; e < p->neos; e++) fin |= last[s] == p->eos[e];
            if (fin)
                out[s].finish = GTA_FINISH_EOS;
            else if (hits_stop(p, &out[s]))
                out[s].finish = GTA_FINISH_STOP;
            else if (out[s].n < max_new)
                active[keep++] = s;
        }
        nact = keep;
    }
    free(tok), free(pos), free(slot), free(rg);
    free(pstart), free(work), free(logits), free(active), free(last);
    gta_kv_free(&kv);
    if (rc) gta_sample_seq_free(out, nseq);
    return rc;
}
