#include "model/sampler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"

/* ------------------------------------------------------------------ planning */

static gta_draw draw_of(const gta_sample_params *p) { return (gta_draw){p->temperature, p->top_k, p->top_p, p->min_p}; }

int gta_sample_token(const float *logits, int V, const gta_sample_params *p, double u, float *work, float *lp) {
    (void)work;
    const gta_backend_ops *be = gta_backend(NULL);
    gta_ctx *cx = be->ctx_new();
    gta_draw d = draw_of(p);
    int tok, row = 0;
    be->sample(cx, logits, V, 1, &row, &d, &u, &tok, lp);
    be->ctx_free(cx);
    return tok;
}

void gta_sample_plan_make(const gta_backend_ops *be, const gta_config *c, const int *plen, int nprompts, int G, int max_new, int prefill_tokens,
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
    plan->prefill_bytes = gta_model_infer_bytes(c, pf);
    plan->prefill_tokens = pf;
    plan->logit_bytes = sizeof(float) * (size_t)c->vocab_size * (size_t)(nseq > nprompts ? nseq : nprompts);
    plan->pack_bytes = gta_decode_pack_bytes(be, c, bf16_weights);
    plan->scratch_bytes = be->sample_bytes(NULL, c->vocab_size);
    plan->total = plan->kv_bytes + plan->act_bytes + plan->logit_bytes + plan->pack_bytes + plan->scratch_bytes;
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
    if (gta_tokenizer_decode(p->tok, ids, (size_t)w, GTA_DECODE_SKIP_UNKNOWN, &text, &len) == GTA_OK) {
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
    const gta_backend_ops *be = m->be;
    /* bf16 compute decodes from bf16 panels (unless asked to decode from the weights as they are) */
    int bw = p->bf16_weights == 0 && m->compute == GTA_COMPUTE_BF16 ? 1 : p->bf16_weights;
    gta_sample_plan_make(be, c, plen, nprompts, G, max_new, p->prefill_tokens, bw, &plan);
    size_t limit = p->memory_limit ? p->memory_limit : be->mem_free(m->ctx);
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
    gta_decode_pack(m, bw);

    /* cache layout: every prompt, then max_new slots per sample */
    int *pstart = gta_malloc(sizeof(int) * (size_t)nprompts), at = 0;
    for (int i = 0; i < nprompts; i++) {
        pstart[i] = at;
        at += plen[i];
    }
    int sstart0 = at;
    gta_kv kv;
    gta_kv_init(&kv, m, plan.cache_tokens);
    gta_draw draw = draw_of(p);
    float *logits = be->alloc(m->ctx, sizeof(float) * (size_t)V * (size_t)(nseq > nprompts ? nseq : nprompts));
    int *row = gta_malloc(sizeof(int) * (size_t)nseq), *drawn = gta_malloc(sizeof(int) * (size_t)nseq);
    double *u = gta_malloc(sizeof(double) * (size_t)nseq);
    float *dlp = gta_malloc(sizeof(float) * (size_t)nseq);
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
            int ns = (i1 - i0) * G;
            for (int j = 0; j < ns; j++) {
                int s = i0 * G + j;
                row[j] = s / G - i0;
                u[j] = gta_rng_uniform(p->seed, sample_ids ? sample_ids[s] : (uint64_t)s, 0);
            }
            be->sample(m->ctx, logits, V, ns, row, &draw, u, drawn, dlp);
            for (int j = 0; j < ns; j++) {
                append(&out[i0 * G + j], drawn[j], dlp[j], max_new);
                last[i0 * G + j] = drawn[j];
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
        for (int i = 0; i < nact; i++) {
            int s = active[i];
            row[i] = i;
            u[i] = gta_rng_uniform(p->seed, sample_ids ? sample_ids[s] : (uint64_t)s, (uint64_t)out[s].n);
        }
        be->sample(m->ctx, logits, V, nact, row, &draw, u, drawn, dlp);
        for (int i = 0; i < nact; i++) {
            int s = active[i];
            append(&out[s], drawn[i], dlp[i], max_new);
            last[s] = drawn[i];
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
    free(pstart), free(active), free(last), free(row), free(drawn), free(u), free(dlp);
    be->free(m->ctx, logits);
    gta_kv_free(&kv);
    if (rc) gta_sample_seq_free(out, nseq);
    return rc;
}
