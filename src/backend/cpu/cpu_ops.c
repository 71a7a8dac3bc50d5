#include "backend/cpu/cpu_ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/vec.h"
#include "base/error.h"

float *cpu_scratch(cpu_ws *ws, int slot, size_t nfloats) {
    if (ws->cap[slot] < nfloats) {
        if (ws->buf[slot]) gta_free_aligned(ws->buf[slot]);
        ws->buf[slot] = gta_malloc_aligned(sizeof(float) * nfloats);
        ws->cap[slot] = nfloats;
    }
    return ws->buf[slot];
}

void cpu_scratch_release(cpu_ws *ws) {
    for (int i = 0; i < (int)(sizeof ws->buf / sizeof ws->buf[0]); i++) {
        if (ws->buf[i]) gta_free_aligned(ws->buf[i]);
        ws->buf[i] = NULL;
        ws->cap[i] = 0;
    }
}

/* slot 6 is also the sampler's (cpu_sample.c); SLOT_XB holds activations rounded to bf16
 * (uint16) for a bf16 GEMM, SLOT_XR and SLOT_XR2 the same rounded values kept in fp32 for
 * the fallback (cpu_bf16.h) */
enum {
    SLOT_HEAD_X,
    SLOT_HEAD_LOGITS,
    SLOT_HEAD_DX,
    SLOT_HEAD_LSE,
    SLOT_ATT_ACC,
    SLOT_NORM_PART,
    SLOT_W16,
    SLOT_XB,
    SLOT_XR,
    SLOT_XR2
};

/* Parallel regions cost a few microseconds each; below this much work (in floats touched)
 * a loop runs on the calling thread. Decoding a few rows at a time is made of such loops. */
#define PAR_WORTH(work) ((work) >= 32768)

/* ---------------------------------------------------------------- linear layers */

/* The fp32 products of the layers and the head: OpenBLAS's sgemm, or with
 * GTA_CPU_SGEMM=dnnl oneDNN's (a measured candidate: docs/benchmarks.md); the same
 * products and fp32 sums in another order */
static void sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc) {
    const char *e = getenv("GTA_CPU_SGEMM");
    if (e && !strcmp(e, "dnnl") && !cpu_dnnl_sgemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc)) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f,
                A, lda, B, ldb, beta, C, ldc);
}

void cpu_linear(float *y, const float *x, const float *w, const float *b, int n, int in, int out, float beta) {
    if (n <= 24) {
        cpu_linear_skinny(y, x, w, b, n, in, out, beta);
        return;
    }
    beta = cpu_bias_rows(y, b, n, out, beta);
    sgemm(0, 1, n, out, in, x, in, w, in, beta, y, out);
}

float cpu_bias_rows(float *y, const float *b, int n, int out, float beta) {
    if (b && beta == 0.0f) {
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * out))
        for (int t = 0; t < n; t++) memcpy(y + (size_t)t * out, b, sizeof(float) * (size_t)out);
        return 1.0f;
    }
    if (b) {
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * out))
        for (int t = 0; t < n; t++)
            for (int o = 0; o < out; o++) y[(size_t)t * out + o] += b[o];
    }
    return beta;
}

void cpu_linear_dx(float *dx, const float *dy, const float *w, int n, int in, int out, float beta) {
    sgemm(0, 0, n, in, out, dy, out, w, in, beta, dx, in);
}

void cpu_linear_dw(float *dw, float *db, const float *dy, const float *x, int n, int in, int out) {
    sgemm(1, 0, out, in, n, dy, out, x, in, 1.0f, dw, in);
    if (db) cpu_colsum_add(db, dy, n, out);
}

void cpu_colsum_add(float *db, const float *dy, int n, int out) {
    /* column sums in blocks of 16 columns, walking rows in order (contiguous reads) */
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * out))
    for (int o0 = 0; o0 < out; o0 += 16) {
        int w = out - o0 < 16 ? out - o0 : 16;
        double s[16] = {0};
        for (int t = 0; t < n; t++) {
            const float *r = dy + (size_t)t * out + o0;
            for (int o = 0; o < w; o++) s[o] += r[o];
        }
        for (int o = 0; o < w; o++) db[o0 + o] += (float)s[o];
    }
}

/* ---------------------------------------------------------------- RMSNorm */

void cpu_rmsnorm(float *y, float *rstd, const float *x, const float *w, int n, int d, float eps) {
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * d))
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * d;
        float *yr = y + (size_t)t * d;
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
        float r = (float)(1.0 / sqrt(ss / d + eps));
        rstd[t] = r;
        for (int i = 0; i < d; i++) yr[i] = w[i] * (xr[i] * r);
    }
}

void cpu_rmsnorm_apply(float *y, const float *x, const float *rstd, const float *w, int n, int d) {
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * d))
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * d;
        float *yr = y + (size_t)t * d;
        float r = rstd[t];
        for (int i = 0; i < d; i++) yr[i] = w[i] * (xr[i] * r);
    }
}

void cpu_rmsnorm_backward(cpu_ws *ws, float *dx, float *dw, const float *dy, const float *x, const float *rstd, const float *w,
                          int n, int d, int accumulate) {
    int nth = PAR_WORTH((size_t)n * d) ? omp_get_max_threads() : 1;
    float *part = cpu_scratch(ws, SLOT_NORM_PART, (size_t)nth * d);
#pragma omp parallel num_threads(nth)
    {
        float *mine = part + (size_t)omp_get_thread_num() * d;
        memset(mine, 0, sizeof(float) * (size_t)d);
#pragma omp for schedule(static)
        for (int t = 0; t < n; t++) {
            const float *xr = x + (size_t)t * d, *gr = dy + (size_t)t * d;
            float *dr = dx + (size_t)t * d;
            float r = rstd[t];
            double dot = 0;
            for (int i = 0; i < d; i++) {
                dot += (double)gr[i] * w[i] * xr[i];
                mine[i] += gr[i] * xr[i] * r;
            }
            float c = (float)(dot * r * r * r / d);
            if (accumulate)
                for (int i = 0; i < d; i++) dr[i] += r * w[i] * gr[i] - c * xr[i];
            else
                for (int i = 0; i < d; i++) dr[i] = r * w[i] * gr[i] - c * xr[i];
        }
        /* fixed reduction order: the result does not depend on timing */
#pragma omp for schedule(static)
        for (int i = 0; i < d; i++) {
            if (!dw) continue;
            float s = 0;
            for (int th = 0; th < nth; th++) s += part[(size_t)th * d + i];
            dw[i] += s;
        }
    }
}

void cpu_headnorm(float *x, float *rstd, const float *w, int n, int nheads, int hd, int stride, float eps,
                  const float *src) {
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * nheads * hd))
    for (int t = 0; t < n; t++)
        for (int h = 0; h < nheads; h++) {
            const float *s = src + (size_t)t * stride + (size_t)h * hd;
            float *y = x + (size_t)t * stride + (size_t)h * hd;
            double ss = 0;
            for (int i = 0; i < hd; i++) ss += (double)s[i] * s[i];
            float r = (float)(1.0 / sqrt(ss / hd + eps));
            rstd[(size_t)t * nheads + h] = r;
            for (int i = 0; i < hd; i++) y[i] = w[i] * (s[i] * r);
        }
}

void cpu_headnorm_backward(float *dx, float *dw, const float *dy, const float *xin, const float *rstd,
                           const float *w, int n, int nheads, int hd, int stride) {
    if (dw) {
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * nheads * hd))
        for (int i = 0; i < hd; i++) {
            double s = 0;
            for (int t = 0; t < n; t++)
                for (int h = 0; h < nheads; h++) {
                    size_t o = (size_t)t * stride + (size_t)h * hd + i;
                    s += (double)dy[o] * xin[o] * rstd[(size_t)t * nheads + h];
                }
            dw[i] += (float)s;
        }
    }
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * nheads * hd))
    for (int t = 0; t < n; t++)
        for (int h = 0; h < nheads; h++) {
            size_t o = (size_t)t * stride + (size_t)h * hd;
            const float *xr = xin + o, *gr = dy + o;
            float *dr = dx + o;
            float r = rstd[(size_t)t * nheads + h];
            double dot = 0;
            for (int i = 0; i < hd; i++) dot += (double)gr[i] * w[i] * xr[i];
            float c = (float)(dot * r * r * r / hd);
            for (int i = 0; i < hd; i++) dr[i] = r * w[i] * gr[i] - c * xr[i];
        }
}

/* ---------------------------------------------------------------- RoPE */

void cpu_rope_table(float *cs, const int *pos, const float *inv_freq, int n, int hd) {
    int half = hd / 2;
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * hd * 8))
    for (int t = 0; t < n; t++)
        for (int i = 0; i < half; i++) {
            /* the angle is rounded to float first, as transformers computes it in fp32 */
            float a = (float)pos[t] * inv_freq[i];
            cs[(size_t)t * hd + i] = (float)cos((double)a);
            cs[(size_t)t * hd + half + i] = (float)sin((double)a);
        }
}

void cpu_rope(float *x, const float *cs, int n, int nheads, int hd, int stride, int sign) {
    int half = hd / 2;
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * nheads * hd))
    for (int t = 0; t < n; t++) {
        const float *c = cs + (size_t)t * hd, *s = c + half;
        for (int h = 0; h < nheads; h++) {
            float *v = x + (size_t)t * stride + (size_t)h * hd;
            for (int i = 0; i < half; i++) {
                float x1 = v[i], x2 = v[i + half], si = sign * s[i];
                v[i] = x1 * c[i] - x2 * si;
                v[i + half] = x2 * c[i] + x1 * si;
            }
        }
    }
}

/* ---------------------------------------------------------------- SwiGLU */

void cpu_swiglu(float *h, const float *gu, int n, int f) {
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * f * 4))
    for (int t = 0; t < n; t++) {
        const float *g = gu + (size_t)t * 2 * f, *u = g + f;
        float *hr = h + (size_t)t * f;
        int i = 0;
        for (; i + 8 <= f; i += 8) {
            __m256 gv = _mm256_loadu_ps(g + i);
            _mm256_storeu_ps(hr + i, _mm256_mul_ps(_mm256_mul_ps(gv, vec_sigmoid(gv)), _mm256_loadu_ps(u + i)));
        }
        for (; i < f; i++) hr[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void cpu_swiglu_backward(float *dgu, const float *dh, const float *gu, int n, int f) {
#pragma omp parallel for schedule(static) if (PAR_WORTH((size_t)n * f * 4))
    for (int t = 0; t < n; t++) {
        const float *g = gu + (size_t)t * 2 * f, *u = g + f, *d = dh + (size_t)t * f;
        float *dg = dgu + (size_t)t * 2 * f, *du = dg + f;
        int i = 0;
        const __m256 one = _mm256_set1_ps(1.0f);
        for (; i + 8 <= f; i += 8) {
            __m256 gv = _mm256_loadu_ps(g + i), sg = vec_sigmoid(gv), dv = _mm256_loadu_ps(d + i);
            _mm256_storeu_ps(du + i, _mm256_mul_ps(dv, _mm256_mul_ps(gv, sg)));
            __m256 dsilu = _mm256_mul_ps(sg, _mm256_fmadd_ps(gv, _mm256_sub_ps(one, sg), one));
            _mm256_storeu_ps(dg + i, _mm256_mul_ps(_mm256_mul_ps(dv, _mm256_loadu_ps(u + i)), dsilu));
        }
        for (; i < f; i++) {
            float sg = 1.0f / (1.0f + expf(-g[i]));
            float silu = g[i] * sg;
            du[i] = d[i] * silu;
            dg[i] = d[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
        }
    }
}

/* ---------------------------------------------------------------- attention */

#define ATT_QB 64 /* query rows per task */

typedef struct {
    int seg, t0, nq;
} att_task;

static int ancestor_ranges(const cpu_segs *s, int seg, int *rs, int *rl) {
    int chain[64], depth = 0;
    for (int p = s->parent[seg]; p >= 0 && depth < 64; p = s->parent[p]) chain[depth++] = p;
    for (int i = 0; i < depth; i++) {
        rs[i] = s->start[chain[depth - 1 - i]];
        rl[i] = s->len[chain[depth - 1 - i]];
    }
    return depth;
}

static att_task *make_tasks(const cpu_segs *s, int *ntasks) {
    int cnt = 0;
    for (int i = 0; i < s->nseg; i++) cnt += (s->len[i] + ATT_QB - 1) / ATT_QB;
    att_task *t = gta_malloc(sizeof(att_task) * (size_t)(cnt ? cnt : 1));
    int k = 0;
    for (int i = 0; i < s->nseg; i++)
        for (int q = 0; q < s->len[i]; q += ATT_QB)
            t[k++] = (att_task){i, s->start[i] + q, s->len[i] - q < ATT_QB ? s->len[i] - q : ATT_QB};
    *ntasks = cnt;
    return t;
}

/* Scores S[nq, L] = scale * Q K^T over the key ranges, the own range masked causally. */
static void att_scores(float *S, int L, const float *Q, int ld, const float *kbase, const int *rs, const int *rl,
                       int nr, int t0, int nq, int hd, float scale) {
    int off = 0;
    for (int r = 0; r < nr; r++) {
        if (rl[r])
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, rl[r], hd, scale, Q, ld,
                        kbase + (size_t)rs[r] * ld, ld, 0.0f, S + off, L);
        off += rl[r];
    }
    /* own range is the last: key index rs+j is visible to query t0+i iff rs+j <= t0+i */
    int own_off = L - rl[nr - 1], own_start = rs[nr - 1];
    for (int i = 0; i < nq; i++)
        for (int j = t0 + i + 1 - own_start; j < rl[nr - 1]; j++) S[(size_t)i * L + own_off + j] = -INFINITY;
}

void cpu_attention(float *out, float *lse, const float *qkv, const cpu_segs *s, int n, int H, int KV, int hd) {
    int ld = (H + 2 * KV) * hd, ldo = H * hd, qpg = H / KV;
    float scale = 1.0f / sqrtf((float)hd);
    int ntasks;
    att_task *tasks = make_tasks(s, &ntasks);
#pragma omp parallel
    {
        float *S = gta_malloc_aligned(sizeof(float) * (size_t)ATT_QB * (size_t)s->max_keys);
        int rs[66], rl[66];
#pragma omp for schedule(dynamic, 1) collapse(2)
        for (int k = 0; k < ntasks; k++)
            for (int h = 0; h < H; h++) {
                const att_task *tk = &tasks[k];
                int g = h / qpg, nr = ancestor_ranges(s, tk->seg, rs, rl);
                rs[nr] = s->start[tk->seg];
                rl[nr] = tk->t0 + tk->nq - s->start[tk->seg];
                nr++;
                int L = 0;
                for (int r = 0; r < nr; r++) L += rl[r];
                const float *Q = qkv + (size_t)tk->t0 * ld + (size_t)h * hd;
                att_scores(S, L, Q, ld, qkv + (size_t)(H + g) * hd, rs, rl, nr, tk->t0, tk->nq, hd, scale);
                for (int i = 0; i < tk->nq; i++) {
                    float *row = S + (size_t)i * L, m = vec_max(row, L);
                    double sum = vec_exp_scale(row, row, L, m, 1.0f);
                    float inv = (float)(1.0 / sum);
                    for (int j = 0; j < L; j++) row[j] *= inv;
                    lse[(size_t)(tk->t0 + i) * H + h] = m + (float)log(sum);
                }
                float *O = out + (size_t)tk->t0 * ldo + (size_t)h * hd;
                const float *vbase = qkv + (size_t)(H + KV + g) * hd;
                int off = 0;
                for (int r = 0; r < nr; r++) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, tk->nq, hd, rl[r], 1.0f, S + off, L,
                                vbase + (size_t)rs[r] * ld, ld, r ? 1.0f : 0.0f, O, ldo);
                    off += rl[r];
                }
            }
        gta_free_aligned(S);
    }
    free(tasks);
}

void cpu_attention_backward(cpu_ws *ws, float *dqkv, const float *dout, const float *out, const float *lse, const float *qkv,
                            const cpu_segs *s, int n, int H, int KV, int hd) {
    int ld = (H + 2 * KV) * hd, ldo = H * hd, ldkv = KV * hd, qpg = H / KV;
    float scale = 1.0f / sqrtf((float)hd);
    int ntasks, nthreads = omp_get_max_threads();
    att_task *tasks = make_tasks(s, &ntasks);
    /* keys are shared between tasks (a prompt by all its branches), so each thread
     * accumulates dK/dV privately; the fixed static schedule and the fixed reduction
     * order keep results identical from run to run */
    size_t priv = (size_t)n * 2 * ldkv;
    float *acc = cpu_scratch(ws, SLOT_ATT_ACC, priv * (size_t)nthreads);
#pragma omp parallel num_threads(nthreads)
    {
        int tid = omp_get_thread_num();
        float *dK = acc + priv * (size_t)tid, *dV = dK + (size_t)n * ldkv;
        memset(dK, 0, sizeof(float) * priv);
        float *P = gta_malloc_aligned(sizeof(float) * (size_t)ATT_QB * (size_t)s->max_keys);
        float *dP = gta_malloc_aligned(sizeof(float) * (size_t)ATT_QB * (size_t)s->max_keys);
        float D[ATT_QB];
        int rs[66], rl[66];
#pragma omp for schedule(static, 1) collapse(2)
        for (int k = 0; k < ntasks; k++)
            for (int h = 0; h < H; h++) {
                const att_task *tk = &tasks[k];
                int g = h / qpg, nr = ancestor_ranges(s, tk->seg, rs, rl), nq = tk->nq;
                rs[nr] = s->start[tk->seg];
                rl[nr] = tk->t0 + nq - s->start[tk->seg];
                nr++;
                int L = 0;
                for (int r = 0; r < nr; r++) L += rl[r];
                const float *Q = qkv + (size_t)tk->t0 * ld + (size_t)h * hd;
                const float *kb = qkv + (size_t)(H + g) * hd, *vb = qkv + (size_t)(H + KV + g) * hd;
                const float *dO = dout + (size_t)tk->t0 * ldo + (size_t)h * hd;
                const float *O = out + (size_t)tk->t0 * ldo + (size_t)h * hd;
                att_scores(P, L, Q, ld, kb, rs, rl, nr, tk->t0, nq, hd, scale);
                for (int i = 0; i < nq; i++) {
                    float l = lse[(size_t)(tk->t0 + i) * H + h];
                    float *row = P + (size_t)i * L;
                    vec_exp_scale(row, row, L, l, 1.0f);
                    double dd = 0;
                    for (int e = 0; e < hd; e++) dd += (double)dO[(size_t)i * ldo + e] * O[(size_t)i * ldo + e];
                    D[i] = (float)dd;
                }
                int off = 0;
                for (int r = 0; r < nr; r++) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, rl[r], hd, 1.0f, dO, ldo,
                                vb + (size_t)rs[r] * ld, ld, 0.0f, dP + off, L);
                    off += rl[r];
                }
                for (int i = 0; i < nq; i++) {
                    float *pr = P + (size_t)i * L, *dr = dP + (size_t)i * L;
                    for (int j = 0; j < L; j++) dr[j] = pr[j] * (dr[j] - D[i]);
                }
                float *dQ = dqkv + (size_t)tk->t0 * ld + (size_t)h * hd;
                off = 0;
                for (int r = 0; r < nr; r++) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, hd, rl[r], scale, dP + off, L,
                                kb + (size_t)rs[r] * ld, ld, r ? 1.0f : 0.0f, dQ, ld);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rl[r], hd, nq, scale, dP + off, L, Q, ld,
                                1.0f, dK + (size_t)rs[r] * ldkv + (size_t)g * hd, ldkv);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rl[r], hd, nq, 1.0f, P + off, L, dO, ldo,
                                1.0f, dV + (size_t)rs[r] * ldkv + (size_t)g * hd, ldkv);
                    off += rl[r];
                }
            }
        gta_free_aligned(P);
        gta_free_aligned(dP);
#pragma omp barrier
#pragma omp for schedule(static)
        for (int t = 0; t < n; t++) {
            float *dk = dqkv + (size_t)t * ld + (size_t)H * hd, *dv = dk + ldkv;
            for (int e = 0; e < ldkv; e++) {
                float sk = 0, sv = 0;
                for (int th = 0; th < nthreads; th++) {
                    const float *b = acc + priv * (size_t)th;
                    sk += b[(size_t)t * ldkv + e];
                    sv += b[(size_t)n * ldkv + (size_t)t * ldkv + e];
                }
                dk[e] = sk;
                dv[e] = sv;
            }
        }
    }
    free(tasks);
}

void cpu_attention_decode(float *out, const float *q, int ldq, const float *kc, const float *vc, const int *rs,
                          const int *rl, int nr, int B, int H, int KV, int hd) {
    int ldkv = KV * hd, qpg = H / KV, maxk = 1;
    for (int i = 0; i < B; i++) {
        int L = 0;
        for (int r = 0; r < nr; r++) L += rl[i * nr + r];
        if (L > maxk) maxk = L;
    }
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel
    {
        float *S = gta_malloc(sizeof(float) * (size_t)maxk);
#pragma omp for schedule(dynamic, 1) collapse(2)
        for (int i = 0; i < B; i++)
            for (int h = 0; h < H; h++) {
                int g = h / qpg, L = 0;
                const float *qr = q + (size_t)i * ldq + (size_t)h * hd;
                for (int r = 0; r < nr; r++) {
                    const float *k = kc + (size_t)rs[i * nr + r] * ldkv + (size_t)g * hd;
                    for (int j = 0; j < rl[i * nr + r]; j++, k += ldkv) {
                        __m256 acc = _mm256_setzero_ps();
                        int e = 0;
                        for (; e + 8 <= hd; e += 8)
                            acc = _mm256_fmadd_ps(_mm256_loadu_ps(qr + e), _mm256_loadu_ps(k + e), acc);
                        float sdot = vec_hsum(acc);
                        for (; e < hd; e++) sdot += qr[e] * k[e];
                        S[L++] = sdot * scale;
                    }
                }
                float m = vec_max(S, L);
                double sum = vec_exp_scale(S, S, L, m, 1.0f);
                float inv = (float)(1.0 / sum);
                float *o = out + (size_t)i * H * hd + (size_t)h * hd;
                memset(o, 0, sizeof(float) * (size_t)hd);
                int j0 = 0;
                for (int r = 0; r < nr; r++) {
                    const float *v = vc + (size_t)rs[i * nr + r] * ldkv + (size_t)g * hd;
                    for (int j = 0; j < rl[i * nr + r]; j++, v += ldkv) {
                        float p = S[j0 + j] * inv;
                        for (int e = 0; e < hd; e++) o[e] += p * v[e];
                    }
                    j0 += rl[i * nr + r];
                }
            }
        free(S);
    }
}

/* ---------------------------------------------------------------- log-prob head */

#define HEAD_CHUNK_DEFAULT ((size_t)160 << 20)

/* rows of a head chunk for nlp pairs */
static int head_rows(const cpu_ws *ws, int nlp, int V) {
    size_t chunk = ws->head_chunk ? ws->head_chunk : HEAD_CHUNK_DEFAULT;
    int C = (int)(chunk / (size_t)V);
    if (C < 16) C = 16;
    if (C > nlp) C = nlp;
    return C;
}

size_t cpu_scratch_bytes(const cpu_ws *ws, int n, int nlp, int d, int kvdim, int V, int backward) {
    size_t C = nlp > 0 ? (size_t)head_rows(ws, nlp, V) : 0, nth = (size_t)omp_get_max_threads();
    /* the head: x rows and logits a chunk (forward); dx rows and the lse (backward) */
    size_t head = C * ((size_t)d + (size_t)V) + (backward ? C * ((size_t)d + 1) : 0);
    /* backward: per-thread dK/dV of the attention, per-thread RMSNorm dw partials */
    size_t bwd = backward ? (size_t)n * 2 * (size_t)kvdim * nth + nth * (size_t)d : 0;
    return sizeof(float) * (head + bwd);
}

/* ---------------------------------------------------------------- bf16 weights */

#define W16_TILE ((size_t)1 << 20) /* floats of widened weights per tile: 4 MiB */

static int w16_rows(int in) {
    size_t r = W16_TILE / (size_t)(in > 0 ? in : 1);
    return r < 1 ? 1 : (int)r;
}

static void widen_rows(float *dst, const uint16_t *src, size_t n) {
#pragma omp parallel for schedule(static) if (PAR_WORTH(n))
    for (size_t i = 0; i < n; i++) dst[i] = cpu_bf16_to_f32(src[i]);
}

/* the activations of a bf16-compute product (xr) rounded to bf16: into SLOT_XB as uint16
 * for a bf16 GEMM (returns 1), or, with the fallback, into an fp32 slot as the same values
 * widened back (*xf, returns 0) for the widened-weight products below */
static int round_acts(cpu_ws *ws, int slot, const float *x, size_t n, uint16_t **xb, const float **xf) {
    if (cpu_bf16_impl() != CPU_BF16_FALLBACK) {
        *xb = (uint16_t *)cpu_scratch(ws, SLOT_XB, (n + 1) / 2);
        cpu_bf16_round(*xb, x, n);
        return 1;
    }
    float *r = cpu_scratch(ws, slot, n);
    cpu_bf16_round_f32(r, x, n);
    *xf = r;
    return 0;
}

void cpu_linear_w16(cpu_ws *ws, float *y, const float *x, const uint16_t *w, const float *b, int n, int in,
                    int out, float beta, int xr) {
    beta = cpu_bias_rows(y, b, n, out, beta);
    uint16_t *xb;
    if (xr && round_acts(ws, SLOT_XR, x, (size_t)n * in, &xb, &x)) {
        cpu_bf16_gemm(0, 1, n, out, in, xb, in, w, in, beta, y, out);
        return;
    }
    int R = w16_rows(in);
    float *tile = cpu_scratch(ws, SLOT_W16, (size_t)R * in);
    for (int o0 = 0; o0 < out; o0 += R) {
        int nr = out - o0 < R ? out - o0 : R;
        widen_rows(tile, w + (size_t)o0 * in, (size_t)nr * in);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nr, in, 1.0f, x, in, tile, in, beta, y + o0,
                    out);
    }
}

void cpu_linear_dx_w16(cpu_ws *ws, float *dx, const float *dy, const uint16_t *w, int n, int in, int out,
                       float beta, int xr) {
    uint16_t *gb;
    if (xr && round_acts(ws, SLOT_XR, dy, (size_t)n * out, &gb, &dy)) {
        cpu_bf16_gemm(0, 0, n, in, out, gb, out, w, in, beta, dx, in);
        return;
    }
    int R = w16_rows(in);
    float *tile = cpu_scratch(ws, SLOT_W16, (size_t)R * in);
    for (int o0 = 0; o0 < out; o0 += R) {
        int nr = out - o0 < R ? out - o0 : R;
        widen_rows(tile, w + (size_t)o0 * in, (size_t)nr * in);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, nr, 1.0f, dy + o0, out, tile, in,
                    o0 ? 1.0f : beta, dx, in);
    }
}

void cpu_linear_dw_xr(cpu_ws *ws, float *dw, float *db, const float *dy, const float *x, int n, int in,
                      int out) {
    if (cpu_bf16_impl() != CPU_BF16_FALLBACK) {
        size_t ng = (size_t)n * out, nx = (size_t)n * in;
        uint16_t *gb = (uint16_t *)cpu_scratch(ws, SLOT_XB, (ng + nx + 1) / 2), *xb = gb + ng;
        cpu_bf16_round(gb, dy, ng);
        cpu_bf16_round(xb, x, nx);
        cpu_bf16_gemm(1, 0, out, in, n, gb, out, xb, in, 1.0f, dw, in);
    } else {
        float *g = cpu_scratch(ws, SLOT_XR, (size_t)n * out), *xf = cpu_scratch(ws, SLOT_XR2, (size_t)n * in);
        cpu_bf16_round_f32(g, dy, (size_t)n * out);
        cpu_bf16_round_f32(xf, x, (size_t)n * in);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, g, out, xf, in, 1.0f, dw, in);
    }
    if (db) cpu_colsum_add(db, dy, n, out);
}

/* the head's products: lg[nc, V] = xc W^T, dxc[nc, d] = lg W and dW += lg^T xc, from W or
 * W16 (the bf16 layer products above, with no bias and beta 0; xr: bf16 compute) */
static void head_logits(cpu_ws *ws, float *lg, const float *xc, const float *w, const uint16_t *w16, int nc,
                        int d, int V, int xr) {
    if (w16)
        cpu_linear_w16(ws, lg, xc, w16, NULL, nc, d, V, 0.0f, xr);
    else
        sgemm(0, 1, nc, V, d, xc, d, w, d, 0.0f, lg, V);
}

static void head_dx(cpu_ws *ws, float *dxc, const float *lg, const float *w, const uint16_t *w16, int nc,
                    int d, int V, int xr) {
    if (w16)
        cpu_linear_dx_w16(ws, dxc, lg, w16, nc, d, V, 0.0f, xr);
    else
        sgemm(0, 0, nc, d, V, lg, V, w, d, 0.0f, dxc, d);
}

static void head_dw(cpu_ws *ws, float *dw, const float *lg, const float *xc, int nc, int d, int V, int xr) {
    if (xr)
        cpu_linear_dw_xr(ws, dw, NULL, lg, xc, nc, d, V);
    else
        sgemm(1, 0, V, d, nc, lg, V, xc, d, 1.0f, dw, d);
}

static void head_impl(cpu_ws *ws, float *lp, float *dlp_out, const float *dlp_in, cpu_dlp_fn fn, void *ctx,
                      float *dx, float *dw, const float *x, const float *w, const uint16_t *w16,
                      const int *row, const int *target, int nlp, int n, int d, int V, int xr) {
    int grad = dlp_in || fn;
    if (dx) memset(dx, 0, sizeof(float) * (size_t)n * d);
    if (nlp <= 0) return;
    /* chunks of at most 160M logits (640 MiB; 1,100 rows of a 151,936-token vocabulary):
     * dW += dlogits^T x streams the whole [V, d] gradient once per chunk, so short chunks
     * cost bandwidth (q05-4L trains 236 tok/s with 220-row chunks, 275 with 1,024); the
     * logits and their gradient share one buffer, and the memory stays bounded for any
     * number of rows */
    int C = head_rows(ws, nlp, V);
    /* bf16 compute: the logits' gradient is rounded into a second buffer (bf16) beside the
     * logits (the fallback rounds it in place, in chunks of the same rows); half the rows
     * keep the chunk's memory */
    if (xr && C > 16) C = (C + 1) / 2 > 16 ? (C + 1) / 2 : 16;
    float *xc = cpu_scratch(ws, SLOT_HEAD_X, (size_t)C * d), *lg = cpu_scratch(ws, SLOT_HEAD_LOGITS, (size_t)C * V);
    float *dxc = grad ? cpu_scratch(ws, SLOT_HEAD_DX, (size_t)C * d) : NULL;
    float *chunk_lse = fn ? cpu_scratch(ws, SLOT_HEAD_LSE, (size_t)C) : NULL;
    /* bf16 compute: the chunk's rows and its logits' gradient are rounded once each, for
     * the logits, dx and dW products alike (head_logits, head_dx and head_dw would round
     * each operand at each use): into bf16 buffers for a bf16 GEMM, or in place, the same
     * values kept in fp32, for the fallback, whose fp32 products then take them as they are */
    const int pre = xr && w16, b16 = pre && cpu_bf16_impl() != CPU_BF16_FALLBACK, xr_left = pre ? 0 : xr;
    uint16_t *xb = NULL, *gb = NULL;
    if (b16) {
        size_t nx = (size_t)C * d, ng = grad ? (size_t)C * V : 0;
        xb = (uint16_t *)cpu_scratch(ws, SLOT_XR, (nx + ng + 1) / 2);
        gb = grad ? xb + nx : NULL;
    }
    for (int c0 = 0; c0 < nlp; c0 += C) {
        int nc = nlp - c0 < C ? nlp - c0 : C;
        for (int i = 0; i < nc; i++) memcpy(xc + (size_t)i * d, x + (size_t)row[c0 + i] * d, sizeof(float) * (size_t)d);
        if (b16) {
            cpu_bf16_round(xb, xc, (size_t)nc * d);
            cpu_bf16_gemm(0, 1, nc, V, d, xb, d, w16, d, 0.0f, lg, V);
        } else {
            if (pre) cpu_bf16_round_f32(xc, xc, (size_t)nc * d);
            head_logits(ws, lg, xc, w, w16, nc, d, V, xr_left);
        }
#pragma omp parallel for schedule(static)
        for (int i = 0; i < nc; i++) {
            int k = c0 + i, y = target[k];
            float *r = lg + (size_t)i * V, mx = vec_max(r, V);
            float l = mx + (float)log(vec_sum_exp(r, V, mx));
            if (lp) lp[k] = r[y] - l;
            if (chunk_lse) chunk_lse[i] = l;
            if (dlp_in) {
                float g = dlp_in[k];
                vec_exp_scale(r, r, V, l, -g);
                r[y] += g;
            }
        }
        if (fn) {
            /* the objective sees this chunk's log-probs, then the gradient follows */
            fn(ctx, c0, nc, lp + c0, dlp_out + c0);
#pragma omp parallel for schedule(static)
            for (int i = 0; i < nc; i++) {
                int k = c0 + i, y = target[k];
                float *r = lg + (size_t)i * V, g = dlp_out[k];
                vec_exp_scale(r, r, V, chunk_lse[i], -g);
                r[y] += g;
            }
        }
        if (grad) {
            if (b16) {
                cpu_bf16_round(gb, lg, (size_t)nc * V);
                cpu_bf16_gemm(0, 0, nc, d, V, gb, V, w16, d, 0.0f, dxc, d);
                if (dw) cpu_bf16_gemm(1, 0, V, d, nc, gb, V, xb, d, 1.0f, dw, d);
            } else {
                if (pre) cpu_bf16_round_f32(lg, lg, (size_t)nc * V);
                head_dx(ws, dxc, lg, w, w16, nc, d, V, xr_left);
                if (dw) head_dw(ws, dw, lg, xc, nc, d, V, xr_left);
            }
            /* several pairs may share a row (a prompt's last row predicts every branch) */
            for (int i = 0; i < nc; i++) {
                float *dst = dx + (size_t)row[c0 + i] * d;
                const float *src = dxc + (size_t)i * d;
                for (int e = 0; e < d; e++) dst[e] += src[e];
            }
        }
    }
}

void cpu_logprob_head(cpu_ws *ws, float *lp, float *dx, float *dw, const float *dlp, const float *x, const float *w,
                      const int *row, const int *target, int nlp, int n, int d, int V) {
    head_impl(ws, lp, NULL, dlp, NULL, NULL, dx, dw, x, w, NULL, row, target, nlp, n, d, V, 0);
}

void cpu_logprob_head_w16(cpu_ws *ws, float *lp, float *dx, float *dw, const float *dlp, const float *x,
                          const uint16_t *w, const int *row, const int *target, int nlp, int n, int d, int V,
                          int xr) {
    head_impl(ws, lp, NULL, dlp, NULL, NULL, dx, dw, x, NULL, w, row, target, nlp, n, d, V, xr);
}

void cpu_logprob_head_fused_w16(cpu_ws *ws, float *lp, float *dlp_out, gta_dlp_fn fn, void *ctx, float *dx,
                                float *dw, const float *x, const uint16_t *w, const int *row,
                                const int *target, int nlp, int n, int d, int V, int xr) {
    head_impl(ws, lp, dlp_out, NULL, fn, ctx, dx, dw, x, NULL, w, row, target, nlp, n, d, V, xr);
}

void cpu_logprob_head_fused(cpu_ws *ws, float *lp, float *dlp_out, cpu_dlp_fn fn, void *ctx, float *dx, float *dw,
                            const float *x, const float *w, const int *row, const int *target, int nlp, int n, int d,
                            int V) {
    head_impl(ws, lp, dlp_out, NULL, fn, ctx, dx, dw, x, w, NULL, row, target, nlp, n, d, V, 0);
}
