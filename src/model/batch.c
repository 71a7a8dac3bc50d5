/* Tree batches: checks, the simple (packed sequences) layout, and the part of a batch some pairs depend on.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "model/model.h"
#include "model/model_int.h"

int gta_batch_check(const gta_model *m, const gta_batch *b) {
    const int V = m->cfg.vocab_size;
    if (b->n <= 0 || b->nseg <= 0) return gta_err_set(GTA_EINPUT, "batch: no tokens");
    int at = 0;
    for (int s = 0; s < b->nseg; s++) {
        if (b->seg_start[s] != at || b->seg_len[s] <= 0)
            return gta_err_set(GTA_EINPUT, "batch: segment %d must start at token %d and be non-empty", s, at);
        if (b->seg_parent[s] < -1 || b->seg_parent[s] >= s)
            return gta_err_set(GTA_EINPUT, "batch: segment %d has parent %d (must be -1 or an earlier segment)", s,
                               b->seg_parent[s]);
        int depth = 0;
        for (int p = b->seg_parent[s]; p >= 0; p = b->seg_parent[p]) depth++;
        if (depth > 60) return gta_err_set(GTA_EINPUT, "batch: segment %d is nested too deeply", s);
        at += b->seg_len[s];
    }
    if (at != b->n) return gta_err_set(GTA_EINPUT, "batch: segments cover %d tokens, batch has %d", at, b->n);
    for (int t = 0; t < b->n; t++) {
        if (b->ids[t] < 0 || b->ids[t] >= V)
            return gta_err_set(GTA_EINPUT, "batch: token %d has id %d outside the vocabulary [0, %d)", t, b->ids[t], V);
        if (b->pos[t] < 0) return gta_err_set(GTA_EINPUT, "batch: token %d has negative position", t);
    }
    for (int k = 0; k < b->nlp; k++) {
        if (b->lp_row[k] < 0 || b->lp_row[k] >= b->n)
            return gta_err_set(GTA_EINPUT, "batch: log-prob %d asks for row %d of %d", k, b->lp_row[k], b->n);
        if (b->lp_target[k] < 0 || b->lp_target[k] >= V)
            return gta_err_set(GTA_EINPUT, "batch: log-prob %d has target %d outside the vocabulary", k,
                               b->lp_target[k]);
    }
    return GTA_OK;
}

int model_seg_max_keys(const gta_batch *b) {
    int mx = 1;
    for (int s = 0; s < b->nseg; s++) {
        int k = b->seg_len[s];
        for (int p = b->seg_parent[s]; p >= 0; p = b->seg_parent[p]) k += b->seg_len[p];
        if (k > mx) mx = k;
    }
    return mx;
}

void gta_batch_simple(gta_batch *b, const gta_tok *ids, int B, int T) {
    int n = B * T, nlp = B * (T - 1);
    int *pos = gta_malloc(sizeof(int) * (size_t)n);
    int *row = gta_malloc(sizeof(int) * (size_t)(nlp > 0 ? nlp : 1)), *tg = gta_malloc(sizeof(int) * (size_t)(nlp > 0 ? nlp : 1));
    int *ss = gta_malloc(sizeof(int) * (size_t)B), *sl = gta_malloc(sizeof(int) * (size_t)B),
        *sp = gta_malloc(sizeof(int) * (size_t)B);
    int k = 0;
    for (int i = 0; i < B; i++) {
        ss[i] = i * T;
        sl[i] = T;
        sp[i] = -1;
        for (int t = 0; t < T; t++) {
            pos[i * T + t] = t;
            if (t + 1 < T) {
                row[k] = i * T + t;
                tg[k++] = ids[i * T + t + 1];
            }
        }
    }
    *b = (gta_batch){n, ids, pos, B, ss, sl, sp, nlp > 0 ? nlp : 0, row, tg};
}

void gta_batch_free_simple(gta_batch *b) {
    free((void *)b->pos);
    free((void *)b->lp_row);
    free((void *)b->lp_target);
    free((void *)b->seg_start);
    free((void *)b->seg_len);
    free((void *)b->seg_parent);
}

/* gta_batch_select: the segments holding the kept pairs' rows and their ancestors */
void gta_batch_select(const gta_batch *b, const uint8_t *mask, gta_batch *out) {
    int *keep = gta_calloc((size_t)b->nseg, sizeof(int)),
        *seg_of = gta_malloc(sizeof(int) * (size_t)(b->n ? b->n : 1));
    for (int s = 0; s < b->nseg; s++)
        for (int i = 0; i < b->seg_len[s]; i++) seg_of[b->seg_start[s] + i] = s;
    int nlp = 0;
    for (int k = 0; k < b->nlp; k++)
        if (mask[k]) {
            nlp++;
            for (int s = seg_of[b->lp_row[k]]; s >= 0 && !keep[s]; s = b->seg_parent[s]) keep[s] = 1;
        }
    /* new index of each kept segment, and the first new row of each */
    int n = 0, nseg = 0;
    int *new_seg = gta_malloc(sizeof(int) * (size_t)b->nseg),
        *new_start = gta_malloc(sizeof(int) * (size_t)b->nseg);
    for (int s = 0; s < b->nseg; s++) {
        new_seg[s] = keep[s] ? nseg++ : -1;
        new_start[s] = n;
        if (keep[s]) n += b->seg_len[s];
    }
    gta_tok *ids = gta_malloc(sizeof(gta_tok) * (size_t)(n ? n : 1)),
            *tg = gta_malloc(sizeof(gta_tok) * (size_t)(nlp ? nlp : 1));
    int *pos = gta_malloc(sizeof(int) * (size_t)(n ? n : 1)),
        *ss = gta_malloc(sizeof(int) * (size_t)(nseg ? nseg : 1)),
        *sl = gta_malloc(sizeof(int) * (size_t)(nseg ? nseg : 1)),
        *sp = gta_malloc(sizeof(int) * (size_t)(nseg ? nseg : 1)),
        *row = gta_malloc(sizeof(int) * (size_t)(nlp ? nlp : 1));
    for (int s = 0; s < b->nseg; s++) {
        if (!keep[s]) continue;
        int q = new_seg[s];
        ss[q] = new_start[s], sl[q] = b->seg_len[s],
        sp[q] = b->seg_parent[s] < 0 ? -1 : new_seg[b->seg_parent[s]];
        memcpy(ids + new_start[s], b->ids + b->seg_start[s], sizeof(gta_tok) * (size_t)b->seg_len[s]);
        memcpy(pos + new_start[s], b->pos + b->seg_start[s], sizeof(int) * (size_t)b->seg_len[s]);
    }
    for (int k = 0, j = 0; k < b->nlp; k++)
        if (mask[k]) {
            int r0 = b->lp_row[k], s = seg_of[r0];
            row[j] = new_start[s] + (r0 - b->seg_start[s]);
            tg[j++] = b->lp_target[k];
        }
    free(keep), free(seg_of), free(new_seg), free(new_start);
    *out = (gta_batch){n, ids, pos, nseg, ss, sl, sp, nlp, row, tg};
}

void gta_batch_free_select(gta_batch *b) {
    free((void *)b->ids), free((void *)b->pos), free((void *)b->seg_start), free((void *)b->seg_len);
    free((void *)b->seg_parent), free((void *)b->lp_row), free((void *)b->lp_target);
}
