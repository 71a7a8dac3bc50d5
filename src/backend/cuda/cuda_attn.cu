/* Attention over tree batches (forward and backward) and decode attention over the KV
 * cache, flash-style: scores live in registers a tile of 32 keys at a time (online
 * softmax), never as a T x T matrix. The tree mask: a query of segment s sees every key of
 * s's ancestors and the keys of s up to itself.
 *
 * Layout of the work: a block takes 16 queries of one head (8 warps of 2 queries) and
 * walks its key ranges in tiles held in shared memory; inside a warp each lane scores one
 * key of the tile, then lanes own head dimensions (lane, lane + 32, ...) for the weighted
 * sums. Backward is two passes with no atomics (deterministic): dQ by query blocks as the
 * forward, dK/dV by key blocks that walk every query that sees them (their own segment
 * causally, then every descendant segment) for each query head of their group.
 * Head dims up to 256. Semantics: cpu_attention* in cpu_ops.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_int.h"

#define AW 8          /* warps per block */
#define QPW 2         /* queries (or keys, backward) per warp */
#define QB (AW * QPW) /* queries per block */
#define KT 32         /* keys per tile (one a lane) */
#define MAXD 8        /* head dims a lane owns: hd <= 256 */
#define NEG (-INFINITY)

typedef struct {
    int t0, n, r0, nr; /* first row and rows of the block (queries or keys), its ranges */
} att_task;

typedef struct {
    const float *q, *k, *v, *dout, *lse_in, *dd;
    float *out, *lse, *dq;
    int ldq, ldk, ldo, H, KV, hd, qpg, mode, nr; /* mode 0: tree batch, 1: decode */
    const att_task *task;
    const int2 *rng;
    float scale;
} att_args;

/* ---------------------------------------------------------------- query blocks */

/* Where block (bx, by) gets its queries: head h of rows t0 .. t0 + n (tree), or heads of one
 * decode row (decode: by = group * splits + split). */
struct qblock {
    int nq, r0, nr, g, h0, t0, row;
};

__device__ __forceinline__ qblock get_qblock(const att_args &a) {
    qblock b;
    if (a.mode == 0) {
        att_task tk = a.task[blockIdx.x];
        b.h0 = blockIdx.y;
        b.g = b.h0 / a.qpg;
        b.nq = tk.n, b.r0 = tk.r0, b.nr = tk.nr, b.t0 = tk.t0, b.row = 0;
    } else {
        int splits = (a.qpg + QB - 1) / QB, sp = blockIdx.y % splits;
        b.g = blockIdx.y / splits;
        b.h0 = b.g * a.qpg + sp * QB;
        b.nq = min(QB, a.qpg - sp * QB);
        b.row = blockIdx.x, b.r0 = blockIdx.x * a.nr, b.nr = a.nr, b.t0 = 0;
    }
    return b;
}

/* offset of local query qi's head row in q (ld ldq) and in out (ld ldo); its lse index */
__device__ __forceinline__ size_t q_off(const att_args &a, const qblock &b, int qi, int ld) {
    if (a.mode == 0) return (size_t)(b.t0 + qi) * ld + (size_t)b.h0 * a.hd;
    return (size_t)b.row * ld + (size_t)(b.h0 + qi) * a.hd;
}

__device__ __forceinline__ void load_tile(float *dst, int pitch, const float *src, int ld, int start, int n,
                                          int cnt, int hd) {
    for (int idx = threadIdx.x; idx < cnt * hd; idx += blockDim.x) {
        int j = idx / hd, e = idx % hd;
        dst[j * pitch + e] = j < n ? src[(size_t)(start + j) * ld + e] : 0.0f;
    }
}

/* forward (tree or decode): out, and lse in tree mode */
__global__ void __launch_bounds__(AW * 32) k_att_fwd(att_args a) {
    extern __shared__ float sm[];
    const int hd = a.hd, hp = hd + 1, w = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float *qs = sm, *ks = qs + QB * hd, *vs = ks + KT * hp;
    qblock b = get_qblock(a);
    for (int idx = threadIdx.x; idx < QB * hd; idx += blockDim.x) {
        int qi = idx / hd, e = idx % hd;
        qs[idx] = qi < b.nq ? a.q[q_off(a, b, qi, a.ldq) + e] : 0.0f;
    }
    float m[QPW], l[QPW], o[QPW][MAXD];
#pragma unroll
    for (int u = 0; u < QPW; u++) {
        m[u] = NEG, l[u] = 0;
#pragma unroll
        for (int d = 0; d < MAXD; d++) o[u][d] = 0;
    }
    const float *kb = a.k + (size_t)b.g * hd, *vb = a.v + (size_t)b.g * hd;
    for (int r = 0; r < b.nr; r++) {
        int2 rg = a.rng[b.r0 + r];
        int causal = a.mode == 0 && r == b.nr - 1;
        for (int kt0 = 0; kt0 < rg.y; kt0 += KT) {
            int cnt = min(KT, rg.y - kt0);
            __syncthreads();
            load_tile(ks, hp, kb, a.ldk, rg.x + kt0, cnt, KT, hd);
            load_tile(vs, hd, vb, a.ldk, rg.x + kt0, cnt, KT, hd);
            __syncthreads();
            int key = rg.x + kt0 + lane;
#pragma unroll
            for (int u = 0; u < QPW; u++) {
                int qi = w * QPW + u;
                if (qi >= b.nq) continue; /* warp-uniform */
                const float *qr = qs + qi * hd, *kr = ks + lane * hp;
                float s = 0;
                for (int e = 0; e < hd; e++) s += qr[e] * kr[e];
                s *= a.scale;
                int valid = lane < cnt && (!causal || key <= b.t0 + qi);
                s = valid ? s : NEG;
                float mn = fmaxf(m[u], warp_max(s));
                if (mn == NEG) continue;
                float p = valid ? expf(s - mn) : 0.0f, corr = m[u] == NEG ? 0.0f : expf(m[u] - mn);
                l[u] = l[u] * corr + warp_sum(p);
#pragma unroll
                for (int d = 0; d < MAXD; d++) o[u][d] *= corr;
                for (int j = 0; j < cnt; j++) {
                    float pj = __shfl_sync(0xffffffffu, p, j);
#pragma unroll
                    for (int d = 0; d < MAXD; d++)
                        if (lane + 32 * d < hd) o[u][d] += pj * vs[j * hd + lane + 32 * d];
                }
                m[u] = mn;
            }
        }
    }
#pragma unroll
    for (int u = 0; u < QPW; u++) {
        int qi = w * QPW + u;
        if (qi >= b.nq) continue;
        float inv = 1.0f / l[u], *orow = a.out + q_off(a, b, qi, a.ldo);
#pragma unroll
        for (int d = 0; d < MAXD; d++)
            if (lane + 32 * d < hd) orow[lane + 32 * d] = o[u][d] * inv;
        if (a.mode == 0 && lane == 0) a.lse[(size_t)(b.t0 + qi) * a.H + b.h0] = m[u] + logf(l[u]);
    }
}

/* D[t, h] = dout . out (double, as the CPU) */
__global__ void k_att_dd(float *dd, const float *dout, const float *out, int n, int H, int hd) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (row >= n * H) return;
    const float *x = dout + (size_t)row * hd, *y = out + (size_t)row * hd; /* [n, H*hd] rows of heads */
    double s = 0;
    for (int e = lane; e < hd; e += 32) s += (double)x[e] * y[e];
    s = warp_sumd(s);
    if (lane == 0) dd[row] = (float)s;
}

/* dQ by query blocks (tree mode): dQ = scale * sum_j P (dP - D) K, P from the saved lse */
__global__ void __launch_bounds__(AW * 32) k_att_dq(att_args a) {
    extern __shared__ float sm[];
    const int hd = a.hd, hp = hd + 1, w = threadIdx.x >> 5, lane = threadIdx.x & 31, ldo = a.H * hd;
    float *qs = sm, *dos = qs + QB * hd, *ks = dos + QB * hd, *vs = ks + KT * hp;
    qblock b = get_qblock(a);
    for (int idx = threadIdx.x; idx < QB * hd; idx += blockDim.x) {
        int qi = idx / hd, e = idx % hd;
        qs[idx] = qi < b.nq ? a.q[q_off(a, b, qi, a.ldq) + e] : 0.0f;
        dos[idx] = qi < b.nq ? a.dout[q_off(a, b, qi, ldo) + e] : 0.0f;
    }
    float lse[QPW], D[QPW], dq[QPW][MAXD];
#pragma unroll
    for (int u = 0; u < QPW; u++) {
        int qi = w * QPW + u;
        size_t li = (size_t)(b.t0 + qi) * a.H + b.h0;
        lse[u] = qi < b.nq ? a.lse_in[li] : 0.0f;
        D[u] = qi < b.nq ? a.dd[li] : 0.0f;
#pragma unroll
        for (int d = 0; d < MAXD; d++) dq[u][d] = 0;
    }
    const float *kb = a.k + (size_t)b.g * hd, *vb = a.v + (size_t)b.g * hd;
    for (int r = 0; r < b.nr; r++) {
        int2 rg = a.rng[b.r0 + r];
        int causal = r == b.nr - 1;
        for (int kt0 = 0; kt0 < rg.y; kt0 += KT) {
            int cnt = min(KT, rg.y - kt0);
            __syncthreads();
            load_tile(ks, hp, kb, a.ldk, rg.x + kt0, cnt, KT, hd);
            load_tile(vs, hp, vb, a.ldk, rg.x + kt0, cnt, KT, hd);
            __syncthreads();
            int key = rg.x + kt0 + lane;
#pragma unroll
            for (int u = 0; u < QPW; u++) {
                int qi = w * QPW + u;
                if (qi >= b.nq) continue;
                const float *qr = qs + qi * hd, *dr = dos + qi * hd, *kr = ks + lane * hp,
                            *vr = vs + lane * hp;
                float s = 0, dp = 0;
                for (int e = 0; e < hd; e++) s += qr[e] * kr[e], dp += dr[e] * vr[e];
                int valid = lane < cnt && (!causal || key <= b.t0 + qi);
                float p = valid ? expf(s * a.scale - lse[u]) : 0.0f, ds = p * (dp - D[u]);
                for (int j = 0; j < cnt; j++) {
                    float dsj = __shfl_sync(0xffffffffu, ds, j);
#pragma unroll
                    for (int d = 0; d < MAXD; d++)
                        if (lane + 32 * d < hd) dq[u][d] += dsj * ks[j * hp + lane + 32 * d];
                }
            }
        }
    }
#pragma unroll
    for (int u = 0; u < QPW; u++) {
        int qi = w * QPW + u;
        if (qi >= b.nq) continue;
        float *row = a.dq + q_off(a, b, qi, a.ldq);
#pragma unroll
        for (int d = 0; d < MAXD; d++)
            if (lane + 32 * d < hd) row[lane + 32 * d] = dq[u][d] * a.scale;
    }
}

/* dK, dV by key blocks: block (task, group) owns 16 keys; for each query head of the group
 * it walks the query ranges of its task (the first is its own segment, causal) in tiles
 * of 32 queries, one a lane */
__global__ void __launch_bounds__(AW * 32) k_att_dkv(att_args a, float *dqkv, int ld) {
    extern __shared__ float sm[];
    const int hd = a.hd, hp = hd + 1, w = threadIdx.x >> 5, lane = threadIdx.x & 31, ldo = a.H * hd;
    float *kst = sm, *vst = kst + QB * hd, *qs = vst + QB * hd, *dos = qs + KT * hp, *ls = dos + KT * hp,
          *Ds = ls + KT;
    att_task tk = a.task[blockIdx.x];
    const int g = blockIdx.y;
    const float *kb = a.k + (size_t)g * hd, *vb = a.v + (size_t)g * hd;
    load_tile(kst, hd, kb, a.ldk, tk.t0, tk.n, QB, hd);
    load_tile(vst, hd, vb, a.ldk, tk.t0, tk.n, QB, hd);
    float dk[QPW][MAXD], dv[QPW][MAXD];
#pragma unroll
    for (int u = 0; u < QPW; u++)
#pragma unroll
        for (int d = 0; d < MAXD; d++) dk[u][d] = dv[u][d] = 0;
    for (int h = g * a.qpg; h < (g + 1) * a.qpg; h++) {
        for (int r = 0; r < tk.nr; r++) {
            int2 rg = a.rng[tk.r0 + r];
            int causal = r == 0;
            for (int qt0 = 0; qt0 < rg.y; qt0 += KT) {
                int cnt = min(KT, rg.y - qt0);
                __syncthreads();
                load_tile(qs, hp, a.q + (size_t)h * hd, a.ldq, rg.x + qt0, cnt, KT, hd);
                load_tile(dos, hp, a.dout + (size_t)h * hd, ldo, rg.x + qt0, cnt, KT, hd);
                if (threadIdx.x < KT) {
                    int j = threadIdx.x;
                    size_t li = (size_t)(rg.x + qt0 + j) * a.H + h;
                    ls[j] = j < cnt ? a.lse_in[li] : 0.0f;
                    Ds[j] = j < cnt ? a.dd[li] : 0.0f;
                }
                __syncthreads();
                int tq = rg.x + qt0 + lane;
                const float *qr = qs + lane * hp, *dr = dos + lane * hp;
#pragma unroll
                for (int u = 0; u < QPW; u++) {
                    int ki = w * QPW + u;
                    if (ki >= tk.n) continue; /* warp-uniform */
                    const float *kr = kst + ki * hd, *vr = vst + ki * hd;
                    float s = 0, dp = 0;
                    for (int e = 0; e < hd; e++) s += qr[e] * kr[e], dp += dr[e] * vr[e];
                    int valid = lane < cnt && (!causal || tq >= tk.t0 + ki);
                    float p = valid ? expf(s * a.scale - ls[lane]) : 0.0f, ds = p * (dp - Ds[lane]);
                    for (int j = 0; j < cnt; j++) {
                        float pj = __shfl_sync(0xffffffffu, p, j), dsj = __shfl_sync(0xffffffffu, ds, j);
#pragma unroll
                        for (int d = 0; d < MAXD; d++)
                            if (lane + 32 * d < hd) {
                                dv[u][d] += pj * dos[j * hp + lane + 32 * d];
                                dk[u][d] += dsj * qs[j * hp + lane + 32 * d];
                            }
                    }
                }
            }
        }
    }
#pragma unroll
    for (int u = 0; u < QPW; u++) {
        int ki = w * QPW + u;
        if (ki >= tk.n) continue;
        float *kr = dqkv + (size_t)(tk.t0 + ki) * ld + (size_t)(a.H + g) * hd, *vr = kr + (size_t)a.KV * hd;
#pragma unroll
        for (int d = 0; d < MAXD; d++)
            if (lane + 32 * d < hd) {
                kr[lane + 32 * d] = dk[u][d] * a.scale;
                vr[lane + 32 * d] = dv[u][d];
            }
    }
}

/* ---------------------------------------------------------------- host side */

static size_t fwd_smem(int hd) {
    return sizeof(float) * ((size_t)QB * hd + (size_t)KT * (hd + 1) + (size_t)KT * hd);
}
static size_t dq_smem(int hd) { return sizeof(float) * (2 * (size_t)QB * hd + 2 * (size_t)KT * (hd + 1)); }
static size_t dkv_smem(int hd) {
    return sizeof(float) * (2 * (size_t)QB * hd + 2 * (size_t)KT * (hd + 1) + 2 * KT);
}

static void check_hd(int hd) {
    if (hd < 1 || hd > 32 * MAXD)
        cu_fail("attention", "head_dim above 256 is not supported", __FILE__, __LINE__);
    static int done;
    if (!done) { /* shared memory above 48 KiB needs the opt-in */
        CU(cudaFuncSetAttribute(k_att_fwd, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)fwd_smem(32 * MAXD)));
        CU(cudaFuncSetAttribute(k_att_dq, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)dq_smem(32 * MAXD)));
        CU(cudaFuncSetAttribute(k_att_dkv, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)dkv_smem(32 * MAXD)));
        done = 1;
    }
}

/* ancestors of seg, root first, into out (returns how many) */
static int chain_of(const gta_segs *s, int seg, int *out) {
    int depth = 0;
    for (int p = s->parent[seg]; p >= 0; p = s->parent[p]) out[depth++] = p;
    for (int i = 0; i < depth / 2; i++) {
        int t = out[i];
        out[i] = out[depth - 1 - i];
        out[depth - 1 - i] = t;
    }
    return depth;
}

/* A growable host list of tasks and ranges, staged to the device in one copy. */
typedef struct {
    att_task *t;
    int2 *r;
    int nt, nr, ct, cr;
} plan;

static void plan_task(plan *p, att_task t) {
    if (p->nt == p->ct) {
        p->ct = p->ct ? 2 * p->ct : 64;
        p->t = (att_task *)realloc(p->t, sizeof(att_task) * (size_t)p->ct);
        if (!p->t) cu_fail("realloc", "out of host memory", __FILE__, __LINE__);
    }
    p->t[p->nt++] = t;
}

static void plan_range(plan *p, int start, int len) {
    if (p->nr == p->cr) {
        p->cr = p->cr ? 2 * p->cr : 64;
        p->r = (int2 *)realloc(p->r, sizeof(int2) * (size_t)p->cr);
        if (!p->r) cu_fail("realloc", "out of host memory", __FILE__, __LINE__);
    }
    p->r[p->nr++] = make_int2(start, len);
}

/* query blocks: QB rows of a segment, ranges = ancestors then its own prefix */
static void plan_queries(plan *p, const gta_segs *s) {
    int *chain = (int *)malloc(sizeof(int) * (size_t)(s->nseg + 1));
    for (int i = 0; i < s->nseg; i++) {
        int depth = chain_of(s, i, chain);
        for (int q = 0; q < s->len[i]; q += QB) {
            int nq = s->len[i] - q < QB ? s->len[i] - q : QB;
            plan_task(p, (att_task){s->start[i] + q, nq, p->nr, depth + 1});
            for (int k = 0; k < depth; k++) plan_range(p, s->start[chain[k]], s->len[chain[k]]);
            plan_range(p, s->start[i], q + nq);
        }
    }
    free(chain);
}

/* key blocks: QB keys of a segment, ranges = the rest of its segment then every descendant */
static void plan_keys(plan *p, const gta_segs *s) {
    /* desc[a] lists the descendants of a: CSR built from every segment's ancestor chain */
    int n = s->nseg, *cnt = (int *)calloc((size_t)n + 1, sizeof(int)),
        *chain = (int *)malloc(sizeof(int) * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        for (int a = s->parent[i]; a >= 0; a = s->parent[a]) cnt[a + 1]++;
    for (int i = 0; i < n; i++) cnt[i + 1] += cnt[i];
    int *desc = (int *)malloc(sizeof(int) * (size_t)(cnt[n] + 1)),
        *fill = (int *)calloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++)
        for (int a = s->parent[i]; a >= 0; a = s->parent[a]) desc[cnt[a] + fill[a]++] = i;
    for (int i = 0; i < n; i++)
        for (int k0 = 0; k0 < s->len[i]; k0 += QB) {
            int nk = s->len[i] - k0 < QB ? s->len[i] - k0 : QB;
            plan_task(p, (att_task){s->start[i] + k0, nk, p->nr, 1 + cnt[i + 1] - cnt[i]});
            plan_range(p, s->start[i] + k0, s->len[i] - k0);
            for (int k = cnt[i]; k < cnt[i + 1]; k++) plan_range(p, s->start[desc[k]], s->len[desc[k]]);
        }
    free(cnt), free(desc), free(fill);
}

/* the plan on the device: tasks, then ranges */
static void plan_stage(gta_ctx *c, plan *p, const att_task **t, const int2 **r) {
    size_t bt = sizeof(att_task) * (size_t)p->nt, br = sizeof(int2) * (size_t)p->nr;
    char *h = (char *)malloc(bt + br + 16);
    memcpy(h, p->t, bt);
    memcpy(h + bt, p->r, br);
    char *d = (char *)cu_stage(c, CS_ATT, h, bt + br);
    free(h);
    *t = (const att_task *)d;
    *r = (const int2 *)(d + bt);
}

static void plan_free(plan *p) {
    free(p->t);
    free(p->r);
    memset(p, 0, sizeof *p);
}

void cu_attention(gta_ctx *c, float *out, float *lse, const float *qkv, const gta_segs *s, int n, int H,
                  int KV, int hd) {
    if (n <= 0 || s->nseg <= 0) return;
    check_hd(hd);
    plan p;
    memset(&p, 0, sizeof p);
    plan_queries(&p, s);
    att_args a;
    memset(&a, 0, sizeof a);
    int ld = (H + 2 * KV) * hd;
    a.q = qkv, a.k = qkv + (size_t)H * hd, a.v = qkv + (size_t)(H + KV) * hd;
    a.out = out, a.lse = lse, a.ldq = ld, a.ldk = ld, a.ldo = H * hd;
    a.H = H, a.KV = KV, a.hd = hd, a.qpg = H / KV, a.mode = 0, a.scale = 1.0f / sqrtf((float)hd);
    plan_stage(c, &p, &a.task, &a.rng);
    k_att_fwd<<<dim3(p.nt, H), AW * 32, fwd_smem(hd), c->st>>>(a);
    KCHECK();
    plan_free(&p);
}

void cu_attention_backward(gta_ctx *c, float *dqkv, const float *dout, const float *out, const float *lse,
                           const float *qkv, const gta_segs *s, int n, int H, int KV, int hd) {
    if (n <= 0) return;
    int ld = (H + 2 * KV) * hd;
    CU(cudaMemsetAsync(dqkv, 0, sizeof(float) * (size_t)n * ld, c->st));
    if (s->nseg <= 0) return;
    check_hd(hd);
    /* D[n, H] first (its own scratch), then the two passes */
    float *dd = (float *)cu_scratch(c, CS_PART, sizeof(float) * (size_t)n * H);
    k_att_dd<<<(n * H + 7) / 8, 256, 0, c->st>>>(dd, dout, out, n, H, hd);
    KCHECK();
    plan p;
    memset(&p, 0, sizeof p);
    plan_queries(&p, s);
    int nq_tasks = p.nt;
    plan_keys(&p, s); /* tasks [nq_tasks, nt) and their ranges follow the query plan's */
    const att_task *t;
    const int2 *r;
    plan_stage(c, &p, &t, &r);
    att_args a;
    memset(&a, 0, sizeof a);
    a.q = qkv, a.k = qkv + (size_t)H * hd, a.v = qkv + (size_t)(H + KV) * hd, a.dout = dout, a.lse_in = lse,
    a.dd = dd;
    a.dq = dqkv, a.ldq = ld, a.ldk = ld, a.ldo = H * hd;
    a.H = H, a.KV = KV, a.hd = hd, a.qpg = H / KV, a.mode = 0, a.scale = 1.0f / sqrtf((float)hd);
    a.task = t, a.rng = r;
    k_att_dq<<<dim3(nq_tasks, H), AW * 32, dq_smem(hd), c->st>>>(a);
    KCHECK();
    a.task = t + nq_tasks;
    if (p.nt > nq_tasks) k_att_dkv<<<dim3(p.nt - nq_tasks, KV), AW * 32, dkv_smem(hd), c->st>>>(a, dqkv, ld);
    KCHECK();
    plan_free(&p);
}

void cu_attention_decode(gta_ctx *c, float *out, const float *q, int ldq, const float *kc, const float *vc,
                         const int *rs, const int *rl, int nr, int B, int H, int KV, int hd) {
    if (B <= 0) return;
    check_hd(hd);
    int2 *h = (int2 *)malloc(sizeof(int2) * (size_t)(B * nr + 1));
    for (int i = 0; i < B * nr; i++) h[i] = make_int2(rs[i], rl[i]);
    const int2 *d = (const int2 *)cu_stage(c, CS_ATT, h, sizeof(int2) * (size_t)(B * nr));
    free(h);
    att_args a;
    memset(&a, 0, sizeof a);
    a.q = q, a.k = kc, a.v = vc, a.out = out, a.ldq = ldq, a.ldk = KV * hd, a.ldo = H * hd;
    a.H = H, a.KV = KV, a.hd = hd, a.qpg = H / KV, a.mode = 1, a.nr = nr, a.rng = d;
    a.scale = 1.0f / sqrtf((float)hd);
    int splits = (a.qpg + QB - 1) / QB;
    k_att_fwd<<<dim3(B, KV * splits), AW * 32, fwd_smem(hd), c->st>>>(a);
    KCHECK();
}
