/* Token draws on the device, one block a row: temperature, then top-k (the k-th largest
 * value by a radix select over the order-preserving bit patterns: ties at the threshold
 * kept), top-p (the boundary probability by a bisection over bit patterns, ties at the
 * boundary dropped larger id first, the most probable token always kept), min-p, and the
 * draw: the first token whose running sum passes u * total, from block scans. Greedy is
 * the argmax (the lowest index among equal maxima). Semantics: cpu_sample.c. The weights
 * are the CPU's bit for bit (its Cephes exp of vec.h, its 8-lane float sum), and an
 * unfiltered draw walks them as the CPU does (float sums of 256 tokens, a double running
 * sum), so the same u draws the same token; filtered draws sum in another order (in
 * double), which matters only when u * total falls within 1e-16 of a boundary. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_int.h"

#define ST 1024 /* threads a row */
#define SR 64   /* rows a launch (the scratch holds SR rows of probabilities) */

/* a row's work: V weights, then the float sums of its blocks of 256 */
static size_t row_stride(int V) { return (size_t)V + (size_t)(V + 255) / 256 + 1; }
size_t cu_sample_bytes(int V) { return sizeof(float) * (size_t)SR * row_stride(V) + 64 * (size_t)SR; }

/* vec_exp of backend/cpu/vec.h, one lane: the same Cephes polynomial with the same fused
 * and rounded steps (exp(x) = 0 below -87.3) */
__device__ __forceinline__ float cephes_exp(float x) {
    const float hi = 88.3762626647949f, lo = -87.3365478515625f;
    if (x < lo) return 0.0f;
    x = fminf(fmaxf(x, lo), hi);
    float n = rintf(__fmul_rn(x, 1.44269504088896341f));
    float r = __fmaf_rn(-n, 0.693359375f, x);
    r = __fmaf_rn(-n, -2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = __fmaf_rn(p, r, 1.3981999507e-3f);
    p = __fmaf_rn(p, r, 8.3334519073e-3f);
    p = __fmaf_rn(p, r, 4.1665795894e-2f);
    p = __fmaf_rn(p, r, 1.6666665459e-1f);
    p = __fmaf_rn(p, r, 5.0000001201e-1f);
    p = __fmaf_rn(p, __fmul_rn(r, r), __fadd_rn(r, 1.0f));
    return __fmul_rn(p, __int_as_float(((int)n + 127) << 23));
}

typedef struct {
    float inv_t; /* (float)(1 / temperature), as the CPU */
    int greedy, top_k, use_k, use_p, use_min;
    double top_p, min_p;
} draw_dev;

__device__ __forceinline__ unsigned f2key(float f) {
    unsigned u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float key2f(unsigned k) {
    return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

__device__ double bsum(double v, double *sh) {
    double r = block_sumd(v, sh);
    __syncthreads();
    return r;
}

__device__ float bmax(float v, float *sh) {
    float r = block_maxf(v, sh);
    __syncthreads();
    return r;
}

/* exclusive prefix over threads in thread order */
__device__ double bscan_excl(double v, double *sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    double x = v;
    for (int o = 1; o < 32; o <<= 1) {
        double y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o) x += y;
    }
    if (lane == 31) sh[w] = x;
    __syncthreads();
    if (w == 0) {
        double t = lane < nw ? sh[lane] : 0.0;
        for (int o = 1; o < 32; o <<= 1) {
            double y = __shfl_up_sync(0xffffffffu, t, o);
            if (lane >= o) t += y;
        }
        sh[lane] = t;
    }
    __syncthreads();
    double r = (w ? sh[w - 1] : 0.0) + x - v;
    __syncthreads();
    return r;
}

__global__ void __launch_bounds__(ST)
    k_sample(const float *logits, int V, const int *rows, draw_dev p, const double *u, float *work,
             size_t stride, int *tok, float *lpo) {
    __shared__ double shd[32];
    __shared__ float shf[32];
    __shared__ int pick_sh, last_sh;
    const int b = blockIdx.x, per = (V + ST - 1) / ST, j0 = threadIdx.x * per, j1 = min(V, j0 + per);
    const float *L = logits + (size_t)rows[b] * V;
    float *prob = work + (size_t)b * stride;
    __shared__ float lanes[8];
    __shared__ double sum_sh;
    if (p.greedy) {
        float bv = -INFINITY;
        int bi = V;
        for (int j = j0; j < j1; j++)
            if (L[j] > bv || bi == V) bv = L[j], bi = j;
        /* the largest value, the lowest index among equal ones */
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (ov > bv || (ov == bv && oi < bi)) bv = ov, bi = oi;
        }
        __shared__ float wv[32];
        __shared__ int wi[32];
        if ((threadIdx.x & 31) == 0) wv[threadIdx.x >> 5] = bv, wi[threadIdx.x >> 5] = bi;
        __syncthreads();
        if (threadIdx.x < 32) {
            bv = wv[threadIdx.x], bi = wi[threadIdx.x];
            for (int o = 16; o > 0; o >>= 1) {
                float ov = __shfl_xor_sync(0xffffffffu, bv, o);
                int oi = __shfl_xor_sync(0xffffffffu, bi, o);
                if (ov > bv || (ov == bv && oi < bi)) bv = ov, bi = oi;
            }
            if (threadIdx.x == 0) wi[0] = bi;
        }
        __syncthreads();
        int best = wi[0];
        double mx = L[best], s = 0;
        for (int j = j0; j < j1; j++) s += exp((double)L[j] - mx);
        s = bsum(s, shd);
        if (threadIdx.x == 0) tok[b] = best, lpo[b] = (float)-log(s);
        return;
    }
    const float inv_t = p.inv_t;
    float mx = -INFINITY;
    for (int j = j0; j < j1; j++) {
        float z = inv_t != 1.0f ? __fmul_rn(L[j], inv_t) : L[j];
        prob[j] = z; /* z for now */
        mx = fmaxf(mx, z);
    }
    mx = bmax(mx, shf);
    if (p.use_k) {
        /* the k-th largest z: the largest key T with count(key >= T) >= k */
        unsigned T = 0;
        for (int bit = 31; bit >= 0; bit--) {
            unsigned tr = T | (1u << bit);
            double cnt = 0;
            for (int j = j0; j < j1; j++) cnt += f2key(prob[j]) >= tr;
            if (bsum(cnt, shd) >= p.top_k) T = tr;
        }
        float thr = key2f(T);
        for (int j = j0; j < j1; j++)
            if (prob[j] < thr) prob[j] = -INFINITY;
    }
    int filt = p.use_k || p.use_p || p.use_min, V8 = V & ~7;
    /* exp(z - max) as vec_exp_scale: Cephes on whole groups of 8, expf on the tail */
    for (int j = j0; j < j1; j++) {
        float x = __fsub_rn(prob[j], mx);
        prob[j] = j < V8 ? cephes_exp(x) : expf(x);
    }
    __syncthreads();
    /* its sum: 8 float lanes (lane i sums tokens i, i + 8, ...), combined as vec_hsum,
     * then the tail in double */
    if (threadIdx.x < 8) {
        float a = 0;
        for (int j = threadIdx.x; j < V8; j += 8) a = __fadd_rn(a, prob[j]);
        lanes[threadIdx.x] = a;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float t = __fadd_rn(__fadd_rn(__fadd_rn(lanes[0], lanes[4]), __fadd_rn(lanes[2], lanes[6])),
                            __fadd_rn(__fadd_rn(lanes[1], lanes[5]), __fadd_rn(lanes[3], lanes[7])));
        double r = t;
        for (int j = V8; j < V; j++) r += prob[j];
        sum_sh = r;
    }
    __syncthreads();
    double sum = sum_sh;
    if (!filt) {
        /* the CPU's walk: float sums of blocks of 256, skipped while the running sum stays
         * <= u * total, then token by token */
        int nblk = (V + 255) / 256;
        float *bs = prob + V;
        for (int k = threadIdx.x; k < nblk; k += blockDim.x) {
            float a = 0;
            for (int j = k * 256; j < V && j < k * 256 + 256; j++) a = __fadd_rn(a, prob[j]);
            bs[k] = a;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            double target = u[b] * sum, acc = 0;
            int pick = -1;
            for (int k = 0; k < nblk && pick < 0; k++) {
                if (acc + bs[k] <= target) {
                    acc += bs[k];
                    continue;
                }
                for (int j = k * 256; j < V && j < k * 256 + 256; j++) {
                    if (prob[j] <= 0) continue;
                    acc += prob[j];
                    if (acc > target) {
                        pick = j;
                        break;
                    }
                }
            }
            for (int j = V - 1; j >= 0 && pick < 0; j--) /* u * total rounding at the very top */
                if (prob[j] > 0) pick = j;
            if (pick < 0) pick = 0;
            tok[b] = pick;
            lpo[b] = (float)log(prob[pick] / sum);
        }
        return;
    }
    float norm = (float)(1.0 / sum);
    for (int j = j0; j < j1; j++) prob[j] = __fmul_rn(prob[j], norm);
    if (p.use_p) {
        double drop = 1.0 - p.top_p;
        /* the smallest bit pattern B with F(B) = sum of the probabilities whose pattern is
         * <= B above drop: every token below B goes, the group at B goes larger id first
         * while the running sum stays <= drop */
        unsigned lo = 1, hi = 0x7f800000u;
        while (lo < hi) {
            unsigned mid = lo + (hi - lo) / 2;
            double f = 0;
            for (int j = j0; j < j1; j++)
                if (prob[j] > 0 && __float_as_uint(prob[j]) <= mid) f += prob[j];
            if (bsum(f, shd) > drop)
                hi = mid;
            else
                lo = mid + 1;
        }
        unsigned B = lo;
        double below = 0, cnt = 0;
        float pmax = 0;
        for (int j = j0; j < j1; j++) {
            unsigned k = __float_as_uint(prob[j]);
            if (prob[j] > 0 && k < B) below += prob[j];
            cnt += prob[j] > 0 && k == B;
            pmax = fmaxf(pmax, prob[j]);
        }
        below = bsum(below, shd);
        pmax = bmax(pmax, shf);
        /* the most probable token that sorts last: the lowest index holding pmax */
        if (threadIdx.x == 0) last_sh = V;
        __syncthreads();
        for (int j = j0; j < j1; j++)
            if (prob[j] == pmax) {
                atomicMin(&last_sh, j);
                break;
            }
        __syncthreads();
        int keep1 = last_sh;
        /* members of the boundary group with a larger id: the suffix count over threads */
        double after = bsum(cnt, shd) - bscan_excl(cnt, shd) - cnt;
        float vB = __uint_as_float(B);
        double ge = after;
        for (int j = j1 - 1; j >= j0; j--) {
            unsigned k = __float_as_uint(prob[j]);
            if (!(prob[j] > 0) || j == keep1) continue;
            if (k < B) {
                prob[j] = 0;
            } else if (k == B) {
                ge += 1;
                if (below + ge * vB <= drop) prob[j] = 0;
            }
        }
        __syncthreads();
    }
    if (p.use_min) {
        float pm = 0;
        for (int j = j0; j < j1; j++) pm = fmaxf(pm, prob[j]);
        pm = bmax(pm, shf);
        float thr = (float)(p.min_p * pm);
        for (int j = j0; j < j1; j++)
            if (prob[j] < thr) prob[j] = 0;
    }
    double total = 0;
    for (int j = j0; j < j1; j++) total += prob[j];
    total = bsum(total, shd);
    double target = u[b] * total, mine = 0;
    for (int j = j0; j < j1; j++) mine += prob[j];
    double before = bscan_excl(mine, shd);
    if (threadIdx.x == 0) pick_sh = V, last_sh = -1;
    __syncthreads();
    int lastpos = -1;
    for (int j = j0; j < j1; j++)
        if (prob[j] > 0) lastpos = j;
    if (lastpos >= 0) atomicMax(&last_sh, lastpos);
    if (mine > 0 && before <= target && target < before + mine) {
        double acc = before;
        int pk = -1;
        for (int j = j0; j < j1; j++) {
            if (!(prob[j] > 0)) continue;
            acc += prob[j];
            if (acc > target) {
                pk = j;
                break;
            }
        }
        if (pk < 0) pk = lastpos; /* rounding between the scan and this sum */
        atomicMin(&pick_sh, pk);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int pk = pick_sh < V ? pick_sh : last_sh; /* u * total rounding at the very top */
        if (pk < 0) pk = 0;
        tok[b] = pk;
        lpo[b] = (float)log(prob[pk] / total);
    }
}

void cu_sample(gta_ctx *c, const float *logits, int V, int n, const int *row, const gta_draw *p,
               const double *u, int *tok, float *lp) {
    if (n <= 0) return;
    draw_dev dd;
    memset(&dd, 0, sizeof dd);
    dd.greedy = p->temperature <= 0;
    dd.inv_t = dd.greedy ? 1.0f : (float)(1.0 / p->temperature);
    dd.top_k = p->top_k;
    dd.use_k = p->top_k > 0 && p->top_k < V;
    dd.use_p = p->top_p < 1.0 && p->top_p > 0;
    dd.top_p = p->top_p;
    dd.use_min = p->min_p > 0;
    dd.min_p = p->min_p;
    /* device: rows[n] ints | u[n] doubles | tok[n] ints | lp[n] floats */
    size_t ni = (size_t)n, off_u = (sizeof(int) * ni + 7) & ~(size_t)7;
    size_t bytes = off_u + sizeof(double) * ni + sizeof(int) * ni + sizeof(float) * ni;
    char *h = (char *)malloc(bytes);
    memcpy(h, row, sizeof(int) * ni);
    memcpy(h + off_u, u, sizeof(double) * ni);
    char *d = (char *)cu_scratch(c, CS_IDX, bytes);
    CU(cudaMemcpyAsync(d, h, off_u + sizeof(double) * ni, cudaMemcpyHostToDevice, c->st));
    free(h); /* a pageable source is staged by the time the copy returns */
    int *dtok = (int *)(d + off_u + sizeof(double) * ni);
    float *dlp = (float *)(dtok + ni);
    size_t stride = row_stride(V);
    float *work = (float *)cu_scratch(c, CS_SAMPLE, sizeof(float) * (size_t)SR * stride);
    for (int r0 = 0; r0 < n; r0 += SR) {
        int nb = n - r0 < SR ? n - r0 : SR;
        k_sample<<<nb, ST, 0, c->st>>>(logits, V, (const int *)d + r0, dd, (const double *)(d + off_u) + r0,
                                       work, stride, dtok + r0, dlp + r0);
        KCHECK();
    }
    CU(cudaMemcpyAsync(tok, dtok, sizeof(int) * ni, cudaMemcpyDeviceToHost, c->st));
    CU(cudaMemcpyAsync(lp, dlp, sizeof(float) * ni, cudaMemcpyDeviceToHost, c->st));
    CU(cudaStreamSynchronize(c->st));
}
