/* gta selftest --device cuda|cpu: every op of a backend against a reference on random
 * inputs of several shapes, every mismatch printed with its op and size, so that one run
 * gives the whole picture.
 *
 *   --device cuda  each op of the CUDA backend against the CPU backend (odd sizes, GQA
 *                  ratios, head_dim 8 to 128, tree batches with several branches and
 *                  levels, head chunk boundaries, long vocabulary rows)
 *   --device cpu   the CPU backend against straightforward double-precision loops here
 *                  (products, norms, RoPE, SwiGLU, tree attention, the log-prob head,
 *                  greedy draws, the vector ops): what a machine without a GPU can check
 *
 *   --nccl         (with --device cuda) only the communication seam's NCCL path over this
 *                  one process: all-reduce and all-gather in place on device buffers,
 *                  against the host's values (what one GPU can check of it)
 *
 * Exit 0 clean, 1 on any mismatch, 2 for bad usage or a backend this build or machine
 * lacks. Uses only backend.h (the same table the model calls) and, for --nccl, the
 * communication seam (comm.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "comm/comm.h"

typedef struct {
    const gta_backend_ops *be;
    gta_ctx *cx;
} dev;

typedef struct {
    int checks, bad;
    int verbose;
    uint64_t seed, stream;
} st_run;

/* ------------------------------------------------------------------ helpers */

static float *rnd(st_run *r, size_t n, double scale) {
    float *x = gta_malloc(sizeof(float) * (n ? n : 1));
    uint64_t s = r->stream++;
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * (2.0 * gta_rng_uniform(r->seed, s, i) - 1.0));
    return x;
}

static float *zeros(size_t n) { return gta_calloc(n ? n : 1, sizeof(float)); }

static float *up(dev *d, const float *h, size_t n) {
    float *p = d->be->alloc(d->cx, sizeof(float) * (n ? n : 1));
    if (n) d->be->from_host(d->cx, p, h, sizeof(float) * n);
    return p;
}

static void down(dev *d, float *h, const float *p, size_t n) {
    if (n) d->be->to_host(d->cx, h, p, sizeof(float) * n);
}

static void dfree(dev *d, void *p) { d->be->free(d->cx, p); }

/* got vs want: |got - want| <= atol + rtol |want| everywhere; one line per check */
static void cmp(st_run *r, const char *op, const char *shape, const float *got, const float *want, size_t n,
                double atol, double rtol) {
    /* GTA_SELFTEST_PLANT=op shifts that op's first reference value: the check bites */
    const char *plant = getenv("GTA_SELFTEST_PLANT");
    float *moved = NULL;
    if (plant && !strcmp(plant, op) && n) {
        moved = gta_malloc(sizeof(float) * n);
        memcpy(moved, want, sizeof(float) * n);
        moved[0] += (float)(10 * (atol + rtol * fabs((double)want[0])) + 1e-3);
        want = moved;
    }
    double worst = 0, worst_bad = 0;
    size_t nbad = 0, at = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]), lim = atol + rtol * fabs((double)want[i]);
        int fail = isnan(got[i]) || isnan(want[i]) ? isnan(got[i]) != isnan(want[i]) : !(e <= lim);
        if (fail && (!nbad++ || e > worst_bad)) worst_bad = e, at = i;
        if (e > worst) worst = e;
    }
    r->checks++;
    if (nbad) {
        r->bad++;
        printf("MISMATCH %-22s %-34s %zu of %zu beyond %.0e + %.0e|ref|: max |err| %.3e, e.g. [%zu] %.7g vs "
               "%.7g\n",
               op, shape, nbad, n, atol, rtol, worst, at, got[at], want[at]);
    } else if (r->verbose) {
        printf("ok       %-22s %-34s max |err| %.2e (n %zu)\n", op, shape, worst, n);
    }
    free(moved);
}

static void cmp_int(st_run *r, const char *op, const char *shape, const int *got, const int *want, int n) {
    int nbad = 0, at = 0;
    for (int i = 0; i < n; i++)
        if (got[i] != want[i]) {
            if (!nbad) at = i;
            nbad++;
        }
    r->checks++;
    if (nbad) {
        r->bad++;
        printf("MISMATCH %-22s %-34s %d of %d differ, e.g. [%d] %d vs %d\n", op, shape, nbad, n, at, got[at],
               want[at]);
    } else if (r->verbose) {
        printf("ok       %-22s %-34s identical (n %d)\n", op, shape, n);
    }
}

/* ------------------------------------------------------------------ products and norms */

typedef struct {
    int n, in, out, bias;
} lin_shape;

/* y = x W^T + b (beta 0), then y += x W^T (beta 1); dx; dW, db */
static void run_linear(dev *d, const lin_shape *s, const float *x, const float *w, const float *b,
                       const float *y0, const float *dy, float *y, float *y1, float *dx, float *dw,
                       float *db) {
    size_t nx = (size_t)s->n * s->in, nw = (size_t)s->out * s->in, ny = (size_t)s->n * s->out;
    float *X = up(d, x, nx), *W = up(d, w, nw), *B = s->bias ? up(d, b, (size_t)s->out) : NULL,
          *Y = up(d, y0, ny), *DY = up(d, dy, ny), *DX = up(d, y0, nx), *DW = up(d, w, nw),
          *DB = s->bias ? up(d, b, (size_t)s->out) : NULL;
    d->be->linear(d->cx, Y, X, W, B, s->n, s->in, s->out, 0.0f);
    down(d, y, Y, ny);
    d->be->linear(d->cx, Y, X, W, B, s->n, s->in, s->out, 1.0f);
    down(d, y1, Y, ny);
    d->be->linear_dx(d->cx, DX, DY, W, s->n, s->in, s->out, 0.0f);
    down(d, dx, DX, nx);
    d->be->linear_dw(d->cx, DW, DB, DY, X, s->n, s->in, s->out); /* += onto W's values */
    down(d, dw, DW, nw);
    if (s->bias) down(d, db, DB, (size_t)s->out);
    dfree(d, X), dfree(d, W), dfree(d, B), dfree(d, Y), dfree(d, DY), dfree(d, DX), dfree(d, DW),
        dfree(d, DB);
}

static void ref_linear(const lin_shape *s, const float *x, const float *w, const float *b, const float *dy,
                       float *y, float *y1, float *dx, float *dw, float *db) {
    for (int t = 0; t < s->n; t++)
        for (int o = 0; o < s->out; o++) {
            double a = s->bias ? b[o] : 0;
            for (int i = 0; i < s->in; i++) a += (double)x[(size_t)t * s->in + i] * w[(size_t)o * s->in + i];
            y[(size_t)t * s->out + o] = (float)a;
            y1[(size_t)t * s->out + o] = (float)(2 * a);
        }
    for (int t = 0; t < s->n; t++)
        for (int i = 0; i < s->in; i++) {
            double a = 0;
            for (int o = 0; o < s->out; o++)
                a += (double)dy[(size_t)t * s->out + o] * w[(size_t)o * s->in + i];
            dx[(size_t)t * s->in + i] = (float)a;
        }
    for (int o = 0; o < s->out; o++) {
        for (int i = 0; i < s->in; i++) {
            double a = w[(size_t)o * s->in + i];
            for (int t = 0; t < s->n; t++) a += (double)dy[(size_t)t * s->out + o] * x[(size_t)t * s->in + i];
            dw[(size_t)o * s->in + i] = (float)a;
        }
        if (s->bias) {
            double a = b[o];
            for (int t = 0; t < s->n; t++) a += dy[(size_t)t * s->out + o];
            db[o] = (float)a;
        }
    }
}

static void check_linear(st_run *r, dev *d, dev *ref) {
    const lin_shape shapes[] = {
        {1, 7, 5, 1}, {3, 64, 96, 0}, {25, 129, 67, 1}, {37, 896, 130, 1}, {130, 200, 333, 0}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const lin_shape *s = &shapes[k];
        size_t nx = (size_t)s->n * s->in, nw = (size_t)s->out * s->in, ny = (size_t)s->n * s->out;
        float *x = rnd(r, nx, 1), *w = rnd(r, nw, 0.5), *b = rnd(r, (size_t)s->out, 1), *dy = rnd(r, ny, 1),
              *y0 = zeros(ny > nx ? ny : nx);
        float *g[5], *h[5];
        size_t sz[5] = {ny, ny, nx, nw, (size_t)s->out};
        for (int i = 0; i < 5; i++) g[i] = zeros(sz[i]), h[i] = zeros(sz[i]);
        run_linear(d, s, x, w, b, y0, dy, g[0], g[1], g[2], g[3], g[4]);
        if (ref)
            run_linear(ref, s, x, w, b, y0, dy, h[0], h[1], h[2], h[3], h[4]);
        else
            ref_linear(s, x, w, b, dy, h[0], h[1], h[2], h[3], h[4]);
        char shape[64];
        snprintf(shape, sizeof shape, "n %d in %d out %d%s", s->n, s->in, s->out, s->bias ? " +b" : "");
        /* fp32 sums of up to ~900 products of magnitude 1 */
        double tol = 2e-5 * sqrt((double)(s->in > s->n ? s->in : s->n) + 1);
        cmp(r, "linear", shape, g[0], h[0], ny, tol, 1e-5);
        cmp(r, "linear beta 1", shape, g[1], h[1], ny, 2 * tol, 1e-5);
        cmp(r, "linear_dx", shape, g[2], h[2], nx, tol * 2, 1e-5);
        cmp(r, "linear_dw", shape, g[3], h[3], nw, tol * 2, 1e-5);
        if (s->bias) cmp(r, "linear_dw db", shape, g[4], h[4], (size_t)s->out, tol * 2, 1e-5);
        for (int i = 0; i < 5; i++) free(g[i]), free(h[i]);
        free(x), free(w), free(b), free(dy), free(y0);
    }
}

/* rmsnorm, apply, backward (accumulate 0 and 1) */
static void run_norm(dev *d, int n, int dd, const float *x, const float *w, const float *dy, const float *dx0,
                     float *y, float *rstd, float *y2, float *dx, float *dxa, float *dw) {
    size_t nx = (size_t)n * dd;
    float *X = up(d, x, nx), *W = up(d, w, (size_t)dd), *Y = up(d, x, nx), *R = up(d, x, (size_t)n),
          *DY = up(d, dy, nx), *DX = up(d, dx0, nx), *DW = up(d, w, (size_t)dd);
    d->be->rmsnorm(d->cx, Y, R, X, W, n, dd, 1e-6f);
    down(d, y, Y, nx);
    down(d, rstd, R, (size_t)n);
    d->be->rmsnorm_apply(d->cx, Y, X, R, W, n, dd);
    down(d, y2, Y, nx);
    d->be->rmsnorm_backward(d->cx, DX, DW, DY, X, R, W, n, dd, 0);
    down(d, dx, DX, nx);
    d->be->from_host(d->cx, DX, dx0, sizeof(float) * nx);
    d->be->rmsnorm_backward(d->cx, DX, DW, DY, X, R, W, n, dd, 1);
    down(d, dxa, DX, nx);
    down(d, dw, DW, (size_t)dd);
    dfree(d, X), dfree(d, W), dfree(d, Y), dfree(d, R), dfree(d, DY), dfree(d, DX), dfree(d, DW);
}

static void ref_norm(int n, int dd, const float *x, const float *w, float *y, float *rstd) {
    for (int t = 0; t < n; t++) {
        double ss = 0;
        for (int i = 0; i < dd; i++) ss += (double)x[(size_t)t * dd + i] * x[(size_t)t * dd + i];
        double rr = 1.0 / sqrt(ss / dd + 1e-6);
        rstd[t] = (float)rr;
        for (int i = 0; i < dd; i++) y[(size_t)t * dd + i] = (float)(w[i] * x[(size_t)t * dd + i] * rr);
    }
}

static void check_norm(st_run *r, dev *d, dev *ref) {
    const int shapes[][2] = {{1, 7}, {33, 896}, {130, 2048}, {5, 64}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int n = shapes[k][0], dd = shapes[k][1];
        size_t nx = (size_t)n * dd;
        float *x = rnd(r, nx, 2), *w = rnd(r, (size_t)dd, 1), *dy = rnd(r, nx, 1), *dx0 = rnd(r, nx, 1);
        float *g[6], *h[6];
        size_t sz[6] = {nx, (size_t)n, nx, nx, nx, (size_t)dd};
        for (int i = 0; i < 6; i++) g[i] = zeros(sz[i]), h[i] = zeros(sz[i]);
        run_norm(d, n, dd, x, w, dy, dx0, g[0], g[1], g[2], g[3], g[4], g[5]);
        char shape[64];
        snprintf(shape, sizeof shape, "n %d d %d", n, dd);
        if (ref) {
            run_norm(ref, n, dd, x, w, dy, dx0, h[0], h[1], h[2], h[3], h[4], h[5]);
            cmp(r, "rmsnorm", shape, g[0], h[0], nx, 1e-6, 1e-5);
            cmp(r, "rmsnorm rstd", shape, g[1], h[1], (size_t)n, 0, 1e-6);
            cmp(r, "rmsnorm_apply", shape, g[2], h[2], nx, 1e-6, 1e-5);
            cmp(r, "rmsnorm_backward", shape, g[3], h[3], nx, 1e-5, 1e-4);
            cmp(r, "rmsnorm_backward acc", shape, g[4], h[4], nx, 1e-5, 1e-4);
            cmp(r, "rmsnorm_backward dw", shape, g[5], h[5], (size_t)dd, 1e-5 * sqrt(n), 1e-4);
        } else {
            ref_norm(n, dd, x, w, h[0], h[1]);
            cmp(r, "rmsnorm", shape, g[0], h[0], nx, 1e-6, 1e-5);
            cmp(r, "rmsnorm rstd", shape, g[1], h[1], (size_t)n, 0, 1e-6);
            cmp(r, "rmsnorm_apply", shape, g[2], h[0], nx, 1e-6, 1e-5);
        }
        for (int i = 0; i < 6; i++) free(g[i]), free(h[i]);
        free(x), free(w), free(dy), free(dx0);
    }
}

/* q/k head norms over strided rows, forward and backward (dx in place of dy, as the model) */
static void run_headnorm(dev *d, int n, int nh, int hd, int stride, const float *src, const float *w,
                         const float *dy, float *y, float *rstd, float *dx, float *dw) {
    size_t nx = (size_t)n * stride;
    float *S = up(d, src, nx), *Y = up(d, src, nx), *W = up(d, w, (size_t)hd),
          *R = up(d, src, (size_t)n * nh), *G = up(d, dy, nx), *DW = up(d, w, (size_t)hd);
    d->be->headnorm(d->cx, Y, R, W, n, nh, hd, stride, 1e-6f, S);
    down(d, y, Y, nx);
    down(d, rstd, R, (size_t)n * nh);
    d->be->headnorm_backward(d->cx, G, DW, G, S, R, W, n, nh, hd, stride);
    down(d, dx, G, nx);
    down(d, dw, DW, (size_t)hd);
    dfree(d, S), dfree(d, Y), dfree(d, W), dfree(d, R), dfree(d, G), dfree(d, DW);
}

static void check_headnorm(st_run *r, dev *d, dev *ref) {
    const int shapes[][3] = {{17, 3, 64}, {5, 2, 128}, {9, 4, 32}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int n = shapes[k][0], nh = shapes[k][1], hd = shapes[k][2], stride = (nh + 3) * hd;
        size_t nx = (size_t)n * stride;
        float *src = rnd(r, nx, 2), *w = rnd(r, (size_t)hd, 1), *dy = rnd(r, nx, 1);
        float *g[4], *h[4];
        size_t sz[4] = {nx, (size_t)n * nh, nx, (size_t)hd};
        for (int i = 0; i < 4; i++) g[i] = zeros(sz[i]), h[i] = zeros(sz[i]);
        run_headnorm(d, n, nh, hd, stride, src, w, dy, g[0], g[1], g[2], g[3]);
        run_headnorm(ref, n, nh, hd, stride, src, w, dy, h[0], h[1], h[2], h[3]);
        char shape[64];
        snprintf(shape, sizeof shape, "n %d heads %d hd %d", n, nh, hd);
        cmp(r, "headnorm", shape, g[0], h[0], nx, 1e-6, 1e-5);
        cmp(r, "headnorm rstd", shape, g[1], h[1], (size_t)n * nh, 0, 1e-6);
        cmp(r, "headnorm_backward", shape, g[2], h[2], nx, 1e-5, 1e-4);
        cmp(r, "headnorm_backward dw", shape, g[3], h[3], (size_t)hd, 1e-4, 1e-4);
        for (int i = 0; i < 4; i++) free(g[i]), free(h[i]);
        free(src), free(w), free(dy);
    }
}

/* RoPE table (llama3-like scaled frequencies) and rotation both ways */
static void run_rope(dev *d, int n, int nh, int hd, int stride, const int *pos, const float *inv,
                     const float *x, float *cs, float *y, float *back) {
    size_t nx = (size_t)n * stride;
    float *I = up(d, inv, (size_t)hd / 2), *CS = up(d, x, (size_t)n * hd), *X = up(d, x, nx);
    d->be->rope_table(d->cx, CS, pos, I, n, hd);
    down(d, cs, CS, (size_t)n * hd);
    d->be->rope(d->cx, X, CS, n, nh, hd, stride, 1);
    down(d, y, X, nx);
    d->be->rope(d->cx, X, CS, n, nh, hd, stride, -1);
    down(d, back, X, nx);
    dfree(d, I), dfree(d, CS), dfree(d, X);
}

static void check_rope(st_run *r, dev *d, dev *ref) {
    const int shapes[][3] = {{7, 3, 64}, {40, 5, 128}, {3, 2, 8}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int n = shapes[k][0], nh = shapes[k][1], hd = shapes[k][2], stride = nh * hd + 5;
        size_t nx = (size_t)n * stride;
        int *pos = gta_malloc(sizeof(int) * (size_t)n);
        for (int t = 0; t < n; t++) pos[t] = (t * 37) % 3001;
        float *inv = gta_malloc(sizeof(float) * (size_t)hd / 2);
        for (int i = 0; i < hd / 2; i++) inv[i] = (float)(pow(1e6, -2.0 * i / hd) / (i > hd / 4 ? 8.0 : 1.0));
        float *x = rnd(r, nx, 1), *g[3], *h[3];
        size_t sz[3] = {(size_t)n * hd, nx, nx};
        for (int i = 0; i < 3; i++) g[i] = zeros(sz[i]), h[i] = zeros(sz[i]);
        run_rope(d, n, nh, hd, stride, pos, inv, x, g[0], g[1], g[2]);
        char shape[64];
        snprintf(shape, sizeof shape, "n %d heads %d hd %d", n, nh, hd);
        if (ref) {
            run_rope(ref, n, nh, hd, stride, pos, inv, x, h[0], h[1], h[2]);
        } else {
            for (int t = 0; t < n; t++)
                for (int i = 0; i < hd / 2; i++) {
                    float a = (float)pos[t] * inv[i];
                    h[0][(size_t)t * hd + i] = (float)cos((double)a);
                    h[0][(size_t)t * hd + hd / 2 + i] = (float)sin((double)a);
                }
            memcpy(h[1], x, sizeof(float) * nx);
            for (int t = 0; t < n; t++)
                for (int hh = 0; hh < nh; hh++)
                    for (int i = 0; i < hd / 2; i++) {
                        const float *v = x + (size_t)t * stride + (size_t)hh * hd;
                        double a = (double)((float)pos[t] * inv[i]), c = cos(a), s = sin(a);
                        h[1][(size_t)t * stride + (size_t)hh * hd + i] =
                            (float)(v[i] * c - v[i + hd / 2] * s);
                        h[1][(size_t)t * stride + (size_t)hh * hd + hd / 2 + i] =
                            (float)(v[i + hd / 2] * c + v[i] * s);
                    }
            memcpy(h[2], x, sizeof(float) * nx);
        }
        cmp(r, "rope_table", shape, g[0], h[0], (size_t)n * hd, 1e-6, 0);
        cmp(r, "rope", shape, g[1], h[1], nx, 1e-5, 1e-5);
        cmp(r, "rope inverse", shape, g[2], h[2], nx, 1e-5, 1e-5);
        for (int i = 0; i < 3; i++) free(g[i]), free(h[i]);
        free(x), free(pos), free(inv);
    }
}

/* ------------------------------------------------------------------ element-wise and rows */

static void run_rows(dev *d, int n, int dd, int V, const int *ids, const float *table, const float *dx,
                     const float *gu, const float *dh, int f, float *emb, float *dtab, float *sc, float *ga,
                     float *h, float *dgu, float *sum, float *bfr) {
    size_t ne = (size_t)n * dd, nt = (size_t)V * dd, ng = (size_t)n * 2 * f, nh = (size_t)n * f;
    float *T = up(d, table, nt), *E = up(d, dx, ne), *DX = up(d, dx, ne), *GU = up(d, gu, ng),
          *DH = up(d, dh, nh), *H = up(d, dh, nh), *DGU = up(d, gu, ng);
    d->be->embed(d->cx, E, T, ids, n, dd);
    down(d, emb, E, ne);
    d->be->embed_backward(d->cx, T, DX, ids, n, dd);
    down(d, dtab, T, nt);
    /* scatter rows of dx into rows ids of the table (distinct slots: ids mod V made unique
     * by the caller's first n of a permutation), gather them back */
    d->be->scatter_rows(d->cx, T, dd, DX, dd, ids + n, n, dd);
    down(d, sc, T, nt);
    d->be->gather_rows(d->cx, E, dd, T, dd, ids, n, dd);
    down(d, ga, E, ne);
    d->be->swiglu(d->cx, H, GU, n, f);
    down(d, h, H, nh);
    d->be->swiglu_backward(d->cx, DGU, DH, GU, n, f);
    down(d, dgu, DGU, ng);
    d->be->add(d->cx, E, DX, E, ne);
    down(d, sum, E, ne);
    uint16_t *B = d->be->alloc(d->cx, sizeof(uint16_t) * ne);
    d->be->to_bf16(d->cx, B, DX, ne);
    d->be->from_bf16(d->cx, E, B, ne);
    down(d, bfr, E, ne);
    dfree(d, B);
    dfree(d, T), dfree(d, E), dfree(d, DX), dfree(d, GU), dfree(d, DH), dfree(d, H), dfree(d, DGU);
}

static void check_rows(st_run *r, dev *d, dev *ref) {
    const int shapes[][4] = {{9, 7, 5, 3}, {300, 896, 97, 4864}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int n = shapes[k][0], dd = shapes[k][1], V = shapes[k][2], f = shapes[k][3];
        if (n > V) n = V; /* scatter slots distinct */
        int *ids = gta_malloc(sizeof(int) * 2 * (size_t)n);
        for (int t = 0; t < n; t++)
            ids[t] = (int)(gta_rng_u64(r->seed, 99, (uint64_t)t) % (uint64_t)(V / 3 + 1));
        for (int t = 0; t < n; t++) ids[n + t] = (t * 7 + 3) % V; /* distinct: 7 and V coprime below */
        size_t ne = (size_t)n * dd, nt = (size_t)V * dd, ng = (size_t)n * 2 * f, nh = (size_t)n * f;
        float *table = rnd(r, nt, 1), *dx = rnd(r, ne, 1), *gu = rnd(r, ng, 4), *dh = rnd(r, nh, 1);
        size_t sz[8] = {ne, nt, nt, ne, nh, ng, ne, ne};
        float *g[8], *h[8];
        for (int i = 0; i < 8; i++) g[i] = zeros(sz[i]), h[i] = zeros(sz[i]);
        run_rows(d, n, dd, V, ids, table, dx, gu, dh, f, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]);
        run_rows(ref, n, dd, V, ids, table, dx, gu, dh, f, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
        char shape[64];
        snprintf(shape, sizeof shape, "n %d d %d V %d f %d", n, dd, V, f);
        cmp(r, "embed", shape, g[0], h[0], ne, 0, 0);
        cmp(r, "embed_backward", shape, g[1], h[1], nt, 1e-6, 1e-6);
        cmp(r, "scatter_rows", shape, g[2], h[2], nt, 0, 0);
        cmp(r, "gather_rows", shape, g[3], h[3], ne, 0, 0);
        cmp(r, "swiglu", shape, g[4], h[4], nh, 1e-6, 1e-5);
        cmp(r, "swiglu_backward", shape, g[5], h[5], ng, 1e-6, 1e-5);
        cmp(r, "add", shape, g[6], h[6], ne, 0, 0);
        cmp(r, "to_bf16/from_bf16", shape, g[7], h[7], ne, 0, 0);
        for (int i = 0; i < 8; i++) free(g[i]), free(h[i]);
        free(ids), free(table), free(dx), free(gu), free(dh);
    }
}

/* the bf16 decode product (pack + linear_packed) against the CPU's */
static void check_packed(st_run *r, dev *d, dev *ref) {
    const int shapes[][3] = {{1, 64, 37}, {5, 896, 130}, {33, 130, 64}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int n = shapes[k][0], in = shapes[k][1], out = shapes[k][2];
        float *x = rnd(r, (size_t)n * in, 1), *w = rnd(r, (size_t)out * in, 1), *b = rnd(r, (size_t)out, 1);
        float *y[2] = {zeros((size_t)n * out), zeros((size_t)n * out)};
        dev *dv[2] = {d, ref};
        for (int j = 0; j < 2; j++) {
            size_t pb = dv[j]->be->pack_bytes(dv[j]->cx, out, in, 1);
            float *X = up(dv[j], x, (size_t)n * in), *W = up(dv[j], w, (size_t)out * in),
                  *B = up(dv[j], b, (size_t)out), *Y = up(dv[j], y[j], (size_t)n * out);
            void *P = dv[j]->be->alloc(dv[j]->cx, pb ? pb : 64);
            dv[j]->be->pack(dv[j]->cx, P, W, out, in, 1);
            dv[j]->be->linear_packed(dv[j]->cx, Y, X, P, 1, B, n, in, out, 0.0f);
            down(dv[j], y[j], Y, (size_t)n * out);
            dfree(dv[j], X), dfree(dv[j], W), dfree(dv[j], B), dfree(dv[j], Y), dfree(dv[j], P);
        }
        char shape[64];
        snprintf(shape, sizeof shape, "n %d in %d out %d", n, in, out);
        cmp(r, "linear_packed bf16", shape, y[0], y[1], (size_t)n * out, 2e-5 * sqrt(in), 1e-5);
        free(y[0]), free(y[1]), free(x), free(w), free(b);
    }
}

/* ------------------------------------------------------------------ attention */

typedef struct {
    const char *name;
    int nseg;
    int len[8], parent[8];
} tree;

static const tree trees[] = {
    {"one sequence of 70", 1, {70}, {-1}},
    {"prompt 20 + branches 35, 1, 17", 4, {20, 35, 1, 17}, {-1, 0, 0, 0}},
    {"two levels: 40 > 17 > 9, 40 > 33", 4, {40, 17, 9, 33}, {-1, 0, 1, 0}},
    {"two roots 5, 66 and children", 5, {5, 66, 3, 12, 29}, {-1, -1, 0, 1, 1}},
};

static void tree_segs(const tree *t, gta_segs *s, int *start, int *n) {
    int at = 0, mk = 0;
    for (int i = 0; i < t->nseg; i++) {
        start[i] = at;
        at += t->len[i];
    }
    for (int i = 0; i < t->nseg; i++) {
        int k = t->len[i];
        for (int p = t->parent[i]; p >= 0; p = t->parent[p]) k += t->len[p];
        if (k > mk) mk = k;
    }
    *s = (gta_segs){t->nseg, start, t->len, t->parent, mk};
    *n = at;
}

static void run_attn(dev *d, const gta_segs *s, int n, int H, int KV, int hd, const float *qkv,
                     const float *dout, float *out, float *lse, float *dqkv) {
    int ld = (H + 2 * KV) * hd;
    float *Q = up(d, qkv, (size_t)n * ld), *O = up(d, dout, (size_t)n * H * hd),
          *L = up(d, dout, (size_t)n * H), *DO = up(d, dout, (size_t)n * H * hd),
          *DQ = up(d, qkv, (size_t)n * ld);
    d->be->attention(d->cx, O, L, Q, s, n, H, KV, hd);
    down(d, out, O, (size_t)n * H * hd);
    down(d, lse, L, (size_t)n * H);
    if (dqkv) {
        d->be->attention_backward(d->cx, DQ, DO, O, L, Q, s, n, H, KV, hd);
        down(d, dqkv, DQ, (size_t)n * ld);
    }
    dfree(d, Q), dfree(d, O), dfree(d, L), dfree(d, DO), dfree(d, DQ);
}

/* straightforward: for each query, every key its segment sees, softmax in double */
static void ref_attn(const tree *t, const gta_segs *s, int n, int H, int KV, int hd, const float *qkv,
                     float *out, float *lse) {
    int ld = (H + 2 * KV) * hd, *seg = gta_malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < s->nseg; i++)
        for (int k = 0; k < s->len[i]; k++) seg[s->start[i] + k] = i;
    double *sc = gta_malloc(sizeof(double) * (size_t)n);
    for (int q = 0; q < n; q++)
        for (int h = 0; h < H; h++) {
            int g = h / (H / KV);
            double mx = -INFINITY;
            for (int k = 0; k < n; k++) {
                int vis = seg[k] == seg[q] ? k <= q : 0;
                for (int p = t->parent[seg[q]]; p >= 0 && !vis; p = t->parent[p]) vis = seg[k] == p;
                sc[k] = -INFINITY;
                if (!vis) continue;
                double a = 0;
                for (int e = 0; e < hd; e++)
                    a += (double)qkv[(size_t)q * ld + (size_t)h * hd + e] *
                         qkv[(size_t)k * ld + (size_t)(H + g) * hd + e];
                sc[k] = a / sqrt((double)hd);
                if (sc[k] > mx) mx = sc[k];
            }
            double sum = 0;
            for (int k = 0; k < n; k++) sum += sc[k] == -INFINITY ? 0 : exp(sc[k] - mx);
            for (int e = 0; e < hd; e++) {
                double a = 0;
                for (int k = 0; k < n; k++)
                    if (sc[k] != -INFINITY)
                        a += exp(sc[k] - mx) / sum * qkv[(size_t)k * ld + (size_t)(H + KV + g) * hd + e];
                out[(size_t)q * H * hd + (size_t)h * hd + e] = (float)a;
            }
            lse[(size_t)q * H + h] = (float)(mx + log(sum));
        }
    free(seg), free(sc);
}

static void check_attention(st_run *r, dev *d, dev *ref) {
    const int heads[][3] = {{4, 2, 64}, {14, 2, 64}, {8, 8, 128}, {6, 3, 32}, {2, 1, 8}, {16, 2, 128}};
    for (size_t ti = 0; ti < sizeof trees / sizeof trees[0]; ti++)
        for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++) {
            if (!ref && k > 2) continue; /* the double loops are slow: three head shapes */
            int H = heads[k][0], KV = heads[k][1], hd = heads[k][2], start[8], n;
            gta_segs s;
            tree_segs(&trees[ti], &s, start, &n);
            int ld = (H + 2 * KV) * hd;
            float *qkv = rnd(r, (size_t)n * ld, 1.5), *dout = rnd(r, (size_t)n * H * hd, 1);
            float *g[3] = {zeros((size_t)n * H * hd), zeros((size_t)n * H), zeros((size_t)n * ld)};
            float *h[3] = {zeros((size_t)n * H * hd), zeros((size_t)n * H), zeros((size_t)n * ld)};
            char shape[96];
            snprintf(shape, sizeof shape, "H %d KV %d hd %d, %s", H, KV, hd, trees[ti].name);
            run_attn(d, &s, n, H, KV, hd, qkv, dout, g[0], g[1], ref ? g[2] : NULL);
            if (ref) {
                run_attn(ref, &s, n, H, KV, hd, qkv, dout, h[0], h[1], h[2]);
                cmp(r, "attention_backward", shape, g[2], h[2], (size_t)n * ld, 1e-4, 1e-4);
            } else {
                ref_attn(&trees[ti], &s, n, H, KV, hd, qkv, h[0], h[1]);
            }
            cmp(r, "attention out", shape, g[0], h[0], (size_t)n * H * hd, 2e-5, 1e-4);
            cmp(r, "attention lse", shape, g[1], h[1], (size_t)n * H, 2e-5, 1e-5);
            for (int i = 0; i < 3; i++) free(g[i]), free(h[i]);
            free(qkv), free(dout);
        }
}

/* B query rows over cached keys: ranges of a shared prompt and of each row's own tokens */
static void check_decode(st_run *r, dev *d, dev *ref) {
    const int heads[][3] = {{14, 2, 64}, {16, 2, 128}, {8, 8, 64}, {40, 2, 32}};
    for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++) {
        int H = heads[k][0], KV = heads[k][1], hd = heads[k][2], B = 6, nr = 2, cap = 300,
            ldq = (H + 2 * KV) * hd;
        int rs[12], rl[12];
        for (int i = 0; i < B; i++) {
            rs[i * nr] = 0, rl[i * nr] = i % 2 ? 130 : 77;
            rs[i * nr + 1] = 140 + 25 * i, rl[i * nr + 1] = 1 + 4 * i;
        }
        size_t nk = (size_t)cap * KV * hd;
        float *q = rnd(r, (size_t)B * ldq, 1.5), *kc = rnd(r, nk, 1.5), *vc = rnd(r, nk, 1);
        float *o[2] = {zeros((size_t)B * H * hd), zeros((size_t)B * H * hd)};
        dev *dv[2] = {d, ref};
        for (int j = 0; j < 2; j++) {
            float *Q = up(dv[j], q, (size_t)B * ldq), *K = up(dv[j], kc, nk), *Vv = up(dv[j], vc, nk),
                  *O = up(dv[j], o[j], (size_t)B * H * hd);
            dv[j]->be->attention_decode(dv[j]->cx, O, Q, ldq, K, Vv, rs, rl, nr, B, H, KV, hd);
            down(dv[j], o[j], O, (size_t)B * H * hd);
            dfree(dv[j], Q), dfree(dv[j], K), dfree(dv[j], Vv), dfree(dv[j], O);
        }
        char shape[64];
        snprintf(shape, sizeof shape, "B %d H %d KV %d hd %d", B, H, KV, hd);
        cmp(r, "attention_decode", shape, o[0], o[1], (size_t)B * H * hd, 2e-5, 1e-4);
        free(q), free(kc), free(vc), free(o[0]), free(o[1]);
    }
}

/* ------------------------------------------------------------------ the log-prob head */

static void dlp_cb(void *ctx, int k0, int n, const float *lp, float *dlp) {
    (void)ctx;
    for (int i = 0; i < n; i++) dlp[i] = 0.1f * lp[i] + 0.01f * (float)((k0 + i) % 7) - 0.02f;
}

static void run_head(dev *d, int n, int nlp, int dd, int V, size_t chunk, const float *x, const float *w,
                     const int *row, const int *tg, const float *dlp, float *lp, float *dx, float *dw,
                     float *lpf, float *dlpf, float *dxf, float *dwf) {
    float *X = up(d, x, (size_t)n * dd), *W = up(d, w, (size_t)V * dd), *DX = up(d, x, (size_t)n * dd),
          *DW = up(d, w, (size_t)V * dd);
    d->be->set_head_chunk(d->cx, chunk);
    d->be->logprob_head(d->cx, lp, NULL, NULL, NULL, X, W, row, tg, nlp, n, dd, V);
    if (dx) {
        d->be->logprob_head(d->cx, NULL, DX, DW, dlp, X, W, row, tg, nlp, n, dd, V);
        down(d, dx, DX, (size_t)n * dd);
        down(d, dw, DW, (size_t)V * dd);
        d->be->from_host(d->cx, DW, w, sizeof(float) * (size_t)V * dd);
        d->be->logprob_head_fused(d->cx, lpf, dlpf, dlp_cb, NULL, DX, DW, X, W, row, tg, nlp, n, dd, V);
        down(d, dxf, DX, (size_t)n * dd);
        down(d, dwf, DW, (size_t)V * dd);
    }
    d->be->set_head_chunk(d->cx, 0);
    dfree(d, X), dfree(d, W), dfree(d, DX), dfree(d, DW);
}

static void check_head(st_run *r, dev *d, dev *ref) {
    /* n rows, nlp pairs, d, V, logits a chunk (0: default): rows shared by several pairs */
    const int shapes[][5] = {{9, 12, 32, 97, 0}, {40, 70, 64, 1000, 16 * 1000}, {6, 6, 896, 151936, 0}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int n = shapes[k][0], nlp = shapes[k][1], dd = shapes[k][2], V = shapes[k][3];
        size_t chunk = (size_t)shapes[k][4];
        if (!ref && V > 2000) continue;
        int *row = gta_malloc(sizeof(int) * (size_t)nlp), *tg = gta_malloc(sizeof(int) * (size_t)nlp);
        for (int i = 0; i < nlp; i++) {
            row[i] = i < n ? i : (int)(gta_rng_u64(r->seed, 7, (uint64_t)i) % (uint64_t)n);
            tg[i] = (int)(gta_rng_u64(r->seed, 8, (uint64_t)i) % (uint64_t)V);
        }
        float *x = rnd(r, (size_t)n * dd, 1), *w = rnd(r, (size_t)V * dd, 0.3), *dlp = rnd(r, (size_t)nlp, 1);
        size_t sz[7] = {(size_t)nlp, (size_t)n * dd, (size_t)V * dd, (size_t)nlp,
                        (size_t)nlp, (size_t)n * dd, (size_t)V * dd};
        float *g[7], *h[7];
        for (int i = 0; i < 7; i++) g[i] = zeros(sz[i]), h[i] = zeros(sz[i]);
        char shape[80];
        snprintf(shape, sizeof shape, "n %d pairs %d d %d V %d chunk %zu", n, nlp, dd, V, chunk);
        if (ref) {
            run_head(d, n, nlp, dd, V, chunk, x, w, row, tg, dlp, g[0], g[1], g[2], g[3], g[4], g[5], g[6]);
            run_head(ref, n, nlp, dd, V, chunk, x, w, row, tg, dlp, h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
            double tol = 3e-5 * sqrt(dd);
            cmp(r, "logprob_head lp", shape, g[0], h[0], (size_t)nlp, tol, 1e-5);
            cmp(r, "logprob_head dx", shape, g[1], h[1], (size_t)n * dd, tol, 1e-4);
            cmp(r, "logprob_head dW", shape, g[2], h[2], (size_t)V * dd, tol, 1e-4);
            cmp(r, "logprob_head_fused lp", shape, g[3], h[3], (size_t)nlp, tol, 1e-5);
            cmp(r, "logprob_head_fused dlp", shape, g[4], h[4], (size_t)nlp, tol, 1e-5);
            cmp(r, "logprob_head_fused dx", shape, g[5], h[5], (size_t)n * dd, tol, 1e-4);
            cmp(r, "logprob_head_fused dW", shape, g[6], h[6], (size_t)V * dd, tol, 1e-4);
        } else {
            run_head(d, n, nlp, dd, V, chunk, x, w, row, tg, dlp, g[0], NULL, NULL, NULL, NULL, NULL, NULL);
            double *lg = gta_malloc(sizeof(double) * (size_t)V);
            for (int i = 0; i < nlp; i++) {
                double mx = -INFINITY, s = 0;
                for (int v = 0; v < V; v++) {
                    double a = 0;
                    for (int e = 0; e < dd; e++)
                        a += (double)x[(size_t)row[i] * dd + e] * w[(size_t)v * dd + e];
                    lg[v] = a;
                    mx = a > mx ? a : mx;
                }
                for (int v = 0; v < V; v++) s += exp(lg[v] - mx);
                h[0][i] = (float)(lg[tg[i]] - mx - log(s));
            }
            free(lg);
            cmp(r, "logprob_head lp", shape, g[0], h[0], (size_t)nlp, 1e-4, 1e-5);
        }
        for (int i = 0; i < 7; i++) free(g[i]), free(h[i]);
        free(row), free(tg), free(x), free(w), free(dlp);
    }
}

/* ------------------------------------------------------------------ draws */

static void check_sample(st_run *r, dev *d, dev *ref) {
    const gta_draw draws[] = {{0, 0, 1, 0},     {1, 0, 1, 0},    {0.7, 0, 1, 0},       {1, 5, 1, 0},
                              {0.9, 0, 0.9, 0}, {1, 0, 1, 0.05}, {0.8, 40, 0.95, 0.02}};
    const char *names[] = {
        "greedy", "T 1", "T 0.7", "top-k 5", "T 0.9 top-p 0.9", "min-p 0.05", "k 40 p 0.95 min 0.02"};
    const int Vs[] = {97, 1000, 151936};
    for (size_t vi = 0; vi < sizeof Vs / sizeof Vs[0]; vi++) {
        int V = Vs[vi], n = 7, nrow = 5;
        /* spread logits with a few ties at the top (greedy's tie rule) */
        float *lg = rnd(r, (size_t)nrow * V, 6);
        for (int i = 0; i < nrow; i++) lg[(size_t)i * V + V / 2] = lg[(size_t)i * V + V / 3] = 7.5f;
        int row[7] = {0, 1, 2, 3, 4, 2, 0};
        double u[7];
        for (int i = 0; i < n; i++) u[i] = gta_rng_uniform(r->seed, 1234, (uint64_t)(vi * 16 + (size_t)i));
        for (size_t k = 0; k < sizeof draws / sizeof draws[0]; k++) {
            if (!ref && k) continue; /* the CPU alone: greedy against a plain argmax */
            int tok[2][7];
            float lp[2][7];
            float *L = up(d, lg, (size_t)nrow * V);
            d->be->sample(d->cx, L, V, n, row, &draws[k], u, tok[0], lp[0]);
            dfree(d, L);
            if (ref) {
                L = up(ref, lg, (size_t)nrow * V);
                ref->be->sample(ref->cx, L, V, n, row, &draws[k], u, tok[1], lp[1]);
                dfree(ref, L);
            } else {
                for (int i = 0; i < n; i++) {
                    const float *z = lg + (size_t)row[i] * V;
                    int b = 0;
                    for (int j = 1; j < V; j++)
                        if (z[j] > z[b]) b = j;
                    double s = 0;
                    for (int j = 0; j < V; j++) s += exp((double)z[j] - z[b]);
                    tok[1][i] = b, lp[1][i] = (float)-log(s);
                }
            }
            char shape[64];
            snprintf(shape, sizeof shape, "%s, V %d, %d rows", names[k], V, n);
            cmp_int(r, "sample tokens", shape, tok[0], tok[1], n);
            cmp(r, "sample lp", shape, lp[0], lp[1], (size_t)n, 1e-5, 1e-4);
        }
        free(lg);
    }
}

/* ------------------------------------------------------------------ vector ops */

static void check_vec(st_run *r, dev *d, dev *ref) {
    const size_t sizes[] = {1, 1000, 65536 * 3 + 17};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        float *a = rnd(r, n, 1), *b = rnd(r, n, 1), *m = rnd(r, n, 0.1), *v = rnd(r, n, 0.01);
        for (size_t i = 0; i < n; i++) v[i] = fabsf(v[i]);
        double dot[2], na[2], nb[2], ss[2];
        float *out[2][6];
        dev *dv[2] = {d, ref};
        for (int j = 0; j < 2; j++) {
            for (int i = 0; i < 6; i++) out[j][i] = zeros(n);
            if (!ref && j == 1) break;
            dev *e = dv[j];
            float *A = up(e, a, n), *B = up(e, b, n), *M = up(e, m, n), *Vv = up(e, v, n), *P = up(e, a, n);
            e->be->dot3(e->cx, n, A, B, &dot[j], &na[j], &nb[j]);
            ss[j] = e->be->sumsq(e->cx, n, B);
            e->be->axpby(e->cx, n, 0.3f, A, -1.7f, B);
            down(e, out[j][0], B, n);
            e->be->scale(e->cx, n, 0.37f, B);
            down(e, out[j][1], B, n);
            e->be->adamw(e->cx, n, P, A, M, Vv, 0.9f, 0.999f, 1e-3f, 1.0f / sqrtf(1 - 0.999f), 1e-8f,
                         0.9999f);
            down(e, out[j][2], P, n);
            down(e, out[j][3], M, n);
            e->be->fill_normal(e->cx, P, n, 42, 7, 0.02);
            down(e, out[j][4], P, n);
            e->be->fill(e->cx, P, n, 0.125f);
            down(e, out[j][5], P, n);
            dfree(e, A), dfree(e, B), dfree(e, M), dfree(e, Vv), dfree(e, P);
        }
        if (!ref) { /* the double-precision loops */
            dot[1] = na[1] = nb[1] = 0;
            for (size_t i = 0; i < n; i++) {
                dot[1] += (double)a[i] * b[i], na[1] += (double)a[i] * a[i], nb[1] += (double)b[i] * b[i];
                out[1][0][i] = (float)(0.3 * a[i] - 1.7 * b[i]);
                out[1][1][i] = (float)(0.37 * out[1][0][i]);
                double mm = 0.9 * m[i] + 0.1 * a[i], vv = 0.999 * v[i] + 0.001 * (double)a[i] * a[i];
                out[1][2][i] = (float)(a[i] * 0.9999 - 1e-3 * mm / (sqrt(vv) / sqrt(1 - 0.999) + 1e-8));
                out[1][3][i] = (float)mm;
                out[1][4][i] = (float)(0.02 * gta_rng_normal(42, 7, i));
                out[1][5][i] = 0.125f;
            }
            ss[1] = nb[1];
        }
        char shape[32];
        snprintf(shape, sizeof shape, "n %zu", n);
        float got[4] = {(float)dot[0], (float)na[0], (float)nb[0], (float)ss[0]},
              want[4] = {(float)dot[1], (float)na[1], (float)nb[1], (float)ss[1]};
        cmp(r, "dot3 (dot, |a|2, |b|2), sumsq", shape, got, want, 4, 1e-9, 1e-6);
        cmp(r, "axpby", shape, out[0][0], out[1][0], n, 1e-6, 1e-6);
        cmp(r, "scale", shape, out[0][1], out[1][1], n, 1e-6, 1e-6);
        cmp(r, "adamw p", shape, out[0][2], out[1][2], n, 1e-6, 1e-5);
        cmp(r, "adamw m", shape, out[0][3], out[1][3], n, 1e-7, 1e-6);
        cmp(r, "fill_normal", shape, out[0][4], out[1][4], n, 0, 1e-6);
        cmp(r, "fill", shape, out[0][5], out[1][5], n, 0, 0);
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < 6; i++) free(out[j][i]);
        free(a), free(b), free(m), free(v);
    }
}

/* buffers: to/from host, copy, zero, the host views */
static void check_buffers(st_run *r, dev *d) {
    size_t n = 100003;
    float *a = rnd(r, n, 1), *b = zeros(n), *want = zeros(n);
    float *A = up(d, a, n), *B = d->be->alloc(d->cx, sizeof(float) * n);
    d->be->copy(d->cx, B, A, sizeof(float) * n);
    d->be->zero(d->cx, A + 10, sizeof(float) * 20);
    float *w = d->be->write_begin(d->cx, A + 100, sizeof(float) * 50);
    for (int i = 0; i < 50; i++) w[i] = (float)i;
    d->be->write_end(d->cx, A + 100, w, sizeof(float) * 50);
    const float *rv = d->be->read_begin(d->cx, A, sizeof(float) * n);
    memcpy(b, rv, sizeof(float) * n);
    d->be->read_end(d->cx, rv);
    memcpy(want, a, sizeof(float) * n);
    memset(want + 10, 0, sizeof(float) * 20);
    for (int i = 0; i < 50; i++) want[100 + i] = (float)i;
    cmp(r, "copy/zero/write/read views", "n 100003", b, want, n, 0, 0);
    down(d, b, B, n);
    cmp(r, "copy", "n 100003", b, a, n, 0, 0);
    dfree(d, A), dfree(d, B);
    free(a), free(b), free(want);
}

/* ------------------------------------------------------------------ LoRA's ops */

static float widen16(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

/* gemm in its four transpositions with leading dimensions wider than the rows (row ranges
 * of a stacked output, beta 1), dropout (the counter-based mask), the norm backward with
 * dw NULL (a frozen base), and the bf16-weight products where the backend has them */
static void check_lora(st_run *r, dev *d, dev *ref) {
    const int M = 37, N = 19, K = 23, ld = 29; /* C [M, N] inside rows of ld + N floats */
    char shape[64];
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1, lda = ta ? M + 3 : K + 3, ldb = tb ? K + 5 : N + 5, ldc = ld + N;
        size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
        float *a = rnd(r, na, 1), *b = rnd(r, nb, 1), *c0 = rnd(r, nc, 1), *got = zeros(nc),
              *want = zeros(nc);
        dev *dv[2] = {d, ref};
        for (int j = 0; j < (ref ? 2 : 1); j++) {
            float *A = up(dv[j], a, na), *B = up(dv[j], b, nb), *C = up(dv[j], c0, nc);
            dv[j]->be->gemm(dv[j]->cx, ta, tb, M, N, K, 0.75f, A, lda, B, ldb, 1.0f, C + ld, ldc);
            down(dv[j], j ? want : got, C, nc);
            dfree(dv[j], A), dfree(dv[j], B), dfree(dv[j], C);
        }
        if (!ref) {
            memcpy(want, c0, sizeof(float) * nc);
            for (int i = 0; i < M; i++)
                for (int jn = 0; jn < N; jn++) {
                    double acc = 0;
                    for (int k = 0; k < K; k++)
                        acc += (double)(ta ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k]) *
                               (tb ? b[(size_t)jn * ldb + k] : b[(size_t)k * ldb + jn]);
                    want[(size_t)i * ldc + ld + jn] = (float)(c0[(size_t)i * ldc + ld + jn] + 0.75 * acc);
                }
        }
        snprintf(shape, sizeof shape, "%s%s M %d N %d K %d, beta 1", ta ? "A^T" : "A", tb ? " B^T" : " B", M,
                 N, K);
        cmp(r, "gemm", shape, got, want, nc, 1e-5, 1e-5);
        free(a), free(b), free(c0), free(got), free(want);
    }
    {
        size_t n = 100003;
        float *x = rnd(r, n, 1), *got = zeros(n), *want = zeros(n);
        dev *dv[2] = {d, ref};
        for (int j = 0; j < (ref ? 2 : 1); j++) {
            float *X = up(dv[j], x, n);
            dv[j]->be->dropout(dv[j]->cx, X, X, n, 0.3f, 77, 5);
            down(dv[j], j ? want : got, X, n);
            dfree(dv[j], X);
        }
        if (!ref)
            for (size_t i = 0; i < n; i++)
                want[i] = gta_rng_uniform(77, 5, i) >= (double)0.3f ? x[i] * (1.0f / (1.0f - 0.3f)) : 0.0f;
        cmp(r, "dropout", "n 100003, p 0.3, in place", got, want, n, 0, 0);
        free(x), free(got), free(want);
    }
    { /* rmsnorm backward: dx with dw NULL equals dx with dw */
        int n = 9, dd = 67;
        float *x = rnd(r, (size_t)n * dd, 1), *w = rnd(r, (size_t)dd, 1), *dy = rnd(r, (size_t)n * dd, 1),
              *got = zeros((size_t)n * dd), *want = zeros((size_t)n * dd), *rs = zeros((size_t)n);
        float *X = up(d, x, (size_t)n * dd), *W = up(d, w, (size_t)dd), *DY = up(d, dy, (size_t)n * dd),
              *Y = up(d, got, (size_t)n * dd), *R = up(d, rs, (size_t)n), *DX = up(d, got, (size_t)n * dd),
              *DW = up(d, w, (size_t)dd);
        d->be->rmsnorm(d->cx, Y, R, X, W, n, dd, 1e-6f);
        d->be->rmsnorm_backward(d->cx, DX, DW, DY, X, R, W, n, dd, 0);
        down(d, want, DX, (size_t)n * dd);
        d->be->rmsnorm_backward(d->cx, DX, NULL, DY, X, R, W, n, dd, 0);
        down(d, got, DX, (size_t)n * dd);
        cmp(r, "rmsnorm_backward dw NULL", "n 9, d 67", got, want, (size_t)n * dd, 0, 0);
        dfree(d, X), dfree(d, W), dfree(d, DY), dfree(d, Y), dfree(d, R), dfree(d, DX), dfree(d, DW);
        free(x), free(w), free(dy), free(got), free(want), free(rs);
    }
    if (!d->be->linear_bf16 || (ref && !ref->be->linear_bf16)) {
        if (r->verbose)
            printf("skip     %-22s the %s backend keeps no bf16 weights\n", "linear_bf16", d->be->name);
        return;
    }
    { /* y = x W16^T (+ b), dx = dy W16: against fp32 products of the widened weights */
        int n = 13, in = 70, out = 45;
        float *x = rnd(r, (size_t)n * in, 1), *wf = rnd(r, (size_t)out * in, 1), *b = rnd(r, (size_t)out, 1),
              *dy = rnd(r, (size_t)n * out, 1);
        uint16_t *w16 = gta_malloc(sizeof(uint16_t) * (size_t)out * in);
        for (size_t i = 0; i < (size_t)out * in; i++) {
            union {
                float f;
                uint32_t u;
            } v = {wf[i]};
            w16[i] = (uint16_t)(v.u >> 16); /* truncated: any bf16 values do */
            wf[i] = widen16(w16[i]);
        }
        float *got[2] = {zeros((size_t)n * out), zeros((size_t)n * in)},
              *want[2] = {zeros((size_t)n * out), zeros((size_t)n * in)};
        float *X = up(d, x, (size_t)n * in), *B = up(d, b, (size_t)out), *DY = up(d, dy, (size_t)n * out),
              *Y = d->be->alloc(d->cx, sizeof(float) * (size_t)n * out),
              *DX = d->be->alloc(d->cx, sizeof(float) * (size_t)n * in);
        uint16_t *W = d->be->alloc(d->cx, sizeof(uint16_t) * (size_t)out * in);
        d->be->from_host(d->cx, W, w16, sizeof(uint16_t) * (size_t)out * in);
        d->be->linear_bf16(d->cx, Y, X, W, B, n, in, out, 0.0f, 0);
        d->be->linear_dx_bf16(d->cx, DX, DY, W, n, in, out, 0.0f, 0);
        down(d, got[0], Y, (size_t)n * out);
        down(d, got[1], DX, (size_t)n * in);
        for (int t = 0; t < n; t++) {
            for (int o = 0; o < out; o++) {
                double acc = b[o];
                for (int i = 0; i < in; i++) acc += (double)x[(size_t)t * in + i] * wf[(size_t)o * in + i];
                want[0][(size_t)t * out + o] = (float)acc;
            }
            for (int i = 0; i < in; i++) {
                double acc = 0;
                for (int o = 0; o < out; o++) acc += (double)dy[(size_t)t * out + o] * wf[(size_t)o * in + i];
                want[1][(size_t)t * in + i] = (float)acc;
            }
        }
        cmp(r, "linear_bf16", "n 13, in 70, out 45, bias", got[0], want[0], (size_t)n * out, 1e-5, 1e-5);
        cmp(r, "linear_dx_bf16", "n 13, in 70, out 45", got[1], want[1], (size_t)n * in, 1e-5, 1e-5);
        dfree(d, X), dfree(d, B), dfree(d, DY), dfree(d, Y), dfree(d, DX), dfree(d, W);
        for (int j = 0; j < 2; j++) free(got[j]), free(want[j]);
        free(x), free(wf), free(b), free(dy), free(w16);
    }
}

/* ------------------------------------------------------------------ NCCL through the seam */

/* one collective of the seam on n floats at an offset into a device buffer, between two
 * kernels of the context's stream (x 2 before, x 1/2 after: exact), guard floats on both
 * sides; over one rank both collectives leave the values as they were */
static void run_collective(st_run *r, dev *d, gta_comm *c, int gather, size_t n, const char *shape) {
    const size_t g = 3;
    float *x = rnd(r, n, 3.0), *all = gta_malloc(sizeof(float) * (n + 2 * g)),
          *got = gta_malloc(sizeof(float) * (n + 2 * g));
    for (size_t i = 0; i < n + 2 * g; i++) all[i] = i < g || i >= n + g ? -7.25f : x[i - g];
    float *B = up(d, all, n + 2 * g);
    d->be->scale(d->cx, n, 2.0f, B + g);
    int rc = gather ? c->allgather(c, d->be, d->cx, B + g, n) : c->allreduce_sum(c, d->be, d->cx, B + g, n);
    const char *op = gather ? "nccl allgather" : "nccl allreduce_sum";
    if (rc) {
        r->checks++, r->bad++;
        printf("MISMATCH %-22s %-34s %s\n", op, shape, gta_err_msg());
    } else {
        d->be->scale(d->cx, n, 0.5f, B + g);
        down(d, got, B, n + 2 * g);
        cmp(r, op, shape, got, all, n + 2 * g, 0.0, 0.0);
    }
    dfree(d, B);
    free(x), free(all), free(got);
}

static void check_nccl(st_run *r, dev *d) {
    gta_comm one = *gta_comm_single();
    int rc = gta_comm_use_nccl(&one, d->be);
    r->checks++;
    if (rc || strcmp(one.via, "NCCL")) {
        r->bad++;
        printf("MISMATCH %-22s %-34s %s\n", "nccl init", "1 rank", rc ? gta_err_msg() : one.via);
        return;
    }
    if (r->verbose) printf("ok       %-22s %-34s ncclCommInitRank on this device\n", "nccl init", "1 rank");
    double b0 = one.bytes;
    const size_t ns[] = {1, 4099, 1000003};
    char shape[64];
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        snprintf(shape, sizeof shape, "1 rank, n %zu at offset 3", ns[i]);
        run_collective(r, d, &one, 0, ns[i], shape);
        run_collective(r, d, &one, 1, ns[i], shape); /* one ncclAllGather */
        setenv("GTA_NCCL_GATHER", "broadcast", 1);   /* a broadcast a shard, in a group */
        snprintf(shape, sizeof shape, "1 rank, n %zu, as broadcasts", ns[i]);
        run_collective(r, d, &one, 1, ns[i], shape);
        unsetenv("GTA_NCCL_GATHER");
    }
    /* the payload counted as MPI's is: n floats a reduction, this rank's shard a gather */
    double want = 0;
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) want += sizeof(float) * 3.0 * (double)ns[i];
    float gb = (float)(one.bytes - b0), wb = (float)want;
    cmp(r, "nccl bytes", "payload counted", &gb, &wb, 1, 0.0, 0.0);
    gta_comm_nccl_end(&one, 0);
}

/* ------------------------------------------------------------------ the command */

int cmd_selftest(int argc, char **argv) {
    const char *device = NULL;
    long long seed = 1;
    int verbose = 0, nccl = 0;
    const arg_spec specs[] = {
        {"device", ARG_STR, &device,
         "the backend to check: cuda (against the CPU backend) or cpu (against "
         "double-precision loops) (required)"},
        {"seed", ARG_INT, &seed, "seed of the random inputs [1]"},
        {"verbose", ARG_FLAG, &verbose, "print the checks that pass too"},
        {"nccl", ARG_FLAG, &nccl,
         "only NCCL through the communication seam: all-reduce and all-gather on device buffers over "
         "this one process (--device cuda)"},
    };
    const int ns = (int)(sizeof specs / sizeof specs[0]);
    int rc = args_parse("selftest", argc, argv, specs, ns);
    if (rc < 0) {
        args_usage("selftest", "--device cuda|cpu [--seed S] [--verbose] [--nccl]", specs, ns);
        return 0;
    }
    if (!rc && !device) rc = gta_err_set(GTA_EINPUT, "gta selftest: --device is required (cuda or cpu)");
    if (rc) return cli_fail(rc);
    const gta_backend_ops *be = NULL;
    if (!rc && nccl && strcmp(device, "cuda"))
        rc = gta_err_set(GTA_EINPUT,
                         "gta selftest: --nccl needs --device cuda (NCCL carries CUDA device buffers)");
    if (rc) return cli_fail(rc);
    if ((rc = cli_device_arg("selftest", device, &be))) return cli_fail(rc);
    if (nccl) {
        dev g = {be, be->ctx_new()};
        st_run rn = {0, 0, verbose, (uint64_t)seed, 1};
        double t0 = gta_now();
        printf("gta selftest: NCCL through the communication seam, one rank on this device\n");
        check_nccl(&rn, &g);
        printf("selftest nccl: %d checks, %d mismatches (%.1f s)\n", rn.checks, rn.bad, gta_now() - t0);
        be->ctx_free(g.cx);
        return rn.bad ? 1 : 0;
    }
    int is_cpu = be == gta_backend_cpu();
    dev d = {be, be->ctx_new()}, cpu = {gta_backend_cpu(), NULL};
    dev *ref = NULL;
    if (!is_cpu) {
        cpu.cx = cpu.be->ctx_new();
        ref = &cpu;
    }
    st_run r = {0, 0, verbose, (uint64_t)seed, 1};
    double t0 = gta_now();
    printf("gta selftest: the %s backend against %s\n", be->name,
           ref ? "the CPU backend" : "double-precision loops");
    check_buffers(&r, &d);
    check_linear(&r, &d, ref);
    check_norm(&r, &d, ref);
    check_rope(&r, &d, ref);
    check_attention(&r, &d, ref);
    check_head(&r, &d, ref);
    check_sample(&r, &d, ref);
    check_vec(&r, &d, ref);
    check_lora(&r, &d, ref);
    if (ref) {
        check_headnorm(&r, &d, ref);
        check_rows(&r, &d, ref);
        check_packed(&r, &d, ref);
        check_decode(&r, &d, ref);
    }
    printf("selftest %s: %d checks, %d mismatches (%.1f s)\n", be->name, r.checks, r.bad, gta_now() - t0);
    be->ctx_free(d.cx);
    if (cpu.cx) cpu.be->ctx_free(cpu.cx);
    return r.bad ? 1 : 0;
}
