/* Token draws on the CPU: temperature, then top-k, top-p, min-p (the order transformers
 * applies them), from a uniform u in [0, 1). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/vec.h"
#include "base/error.h"

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

int cpu_sample_token(const float *logits, int V, const gta_draw *p, double u, float *work, float *lp) {
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

void cpu_sample_rows(cpu_ws *ws, const float *logits, int V, int n, const int *row, const gta_draw *p,
                     const double *u, int *tok, float *lp) {
    int nth = omp_get_max_threads();
    float *work = cpu_scratch(ws, 6, 2 * (size_t)V * (size_t)nth);
#pragma omp parallel for schedule(static) if (n > 1)
    for (int i = 0; i < n; i++)
        tok[i] = cpu_sample_token(logits + (size_t)row[i] * V, V, p, u[i], work + 2 * (size_t)V * omp_get_thread_num(),
                                  &lp[i]);
}

size_t cpu_sample_bytes(int V) { return sizeof(float) * 2 * (size_t)V * (size_t)omp_get_max_threads(); }
