/* The transformer's forward and backward over tree batches, on the backend's ops.
 *
 * One layer forward (layer_forward) serves training (every layer's activations kept for
 * backward), inference forwards (one layer's buffers reused: the reference model, old
 * log-probs, prefill) and decoding (a few rows attending to the KV cache). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/model_int.h"

/* ------------------------------------------------------------------ activations */

typedef struct {
    float *rstd1, *qkv, *qk_raw, *qk_rstd, *att, *lse, *xmid, *rstd2, *gu;
} layer_acts;

struct gta_acts {
    int cap;       /* tokens */
    int slots;     /* layer slots: num_layers (training) or 1 (inference, recomputation: reused) */
    int recompute; /* training with one slot: backward recomputes each layer from R[l] */
    float *mem, *scratch;
    float **R; /* residual stream into layer l (training: R[0..L]; inference: two, alternating) */
    layer_acts *la;
    float *rstd_f, *xf;
    float *rope; /* [n, head_dim] cos | sin of the batch's positions */
    int n;       /* tokens of the saved training forward, -1 when none */
};

/* floats of one layer's saved activations for n tokens, its input row included */
static size_t layer_floats(const gta_config *c, int n) {
    size_t d = (size_t)c->hidden_size, ld = (size_t)(c->num_heads + 2 * c->num_kv_heads) * (size_t)c->head_dim,
           H = (size_t)c->num_heads, q = H * (size_t)c->head_dim, f = (size_t)c->intermediate_size;
    size_t per = d + 1 + ld + q + H + d + 1 + 2 * f;
    if (c->qk_norm) per += ld + H + (size_t)c->num_kv_heads;
    return per * (size_t)n;
}

/* scratch floats: xn, h for the forward; dx, dxn, dqkv, datt, dh, dgu for backward */
static size_t scratch_floats(const gta_config *c, int n, int train) {
    size_t d = (size_t)c->hidden_size, ld = (size_t)(c->num_heads + 2 * c->num_kv_heads) * (size_t)c->head_dim,
           q = (size_t)c->num_heads * (size_t)c->head_dim, f = (size_t)c->intermediate_size;
    return (size_t)n * (d + f + (train ? d + d + ld + q + f + 2 * f : 0));
}

/* floats besides the layers: R[L] (training) or the second residual row (inference),
 * rstd_f, xf, rope */
static size_t tail_floats(const gta_config *c, int n) {
    return (size_t)n * (2 * (size_t)c->hidden_size + 1 + (size_t)c->head_dim);
}

/* recomputation keeps R[1 .. L-1] besides one slot (whose first row is R[0]) */
static size_t extra_rows(const gta_config *c, int n, int recompute) {
    return recompute && c->num_layers > 1 ? (size_t)(c->num_layers - 1) * (size_t)n * (size_t)c->hidden_size
                                          : 0;
}

static size_t acts_bytes(const gta_config *c, int n, int train, int recompute) {
    size_t slots = train && !recompute ? (size_t)c->num_layers : 1;
    return sizeof(float) * (layer_floats(c, n) * slots + extra_rows(c, n, train && recompute) +
                            tail_floats(c, n) + scratch_floats(c, n, train));
}

size_t gta_model_act_bytes(const gta_config *c, int n) { return acts_bytes(c, n, 1, 0); }
size_t gta_model_infer_bytes(const gta_config *c, int n) { return acts_bytes(c, n, 0, 0); }
size_t gta_model_act_bytes_recompute(const gta_config *c, int n) { return acts_bytes(c, n, 1, 1); }

static void acts_free(gta_model *m, struct gta_acts *a) {
    if (!a) return;
    m->be->free(m->ctx, a->mem);
    m->be->free(m->ctx, a->scratch);
    free(a->R);
    free(a->la);
    free(a);
}

static struct gta_acts *acts_get(gta_model *m, int n, int train) {
    const gta_config *c = &m->cfg;
    struct gta_acts **slot = train ? &m->acts : &m->iacts, *a = *slot;
    int rc = train && m->recompute;
    if (a && a->cap >= n && a->recompute == rc) return a;
    acts_free(m, a);
    a = gta_calloc(1, sizeof *a);
    a->cap = n;
    a->recompute = rc;
    a->slots = train && !rc ? c->num_layers : 1;
    size_t d = (size_t)c->hidden_size, ld = (size_t)(c->num_heads + 2 * c->num_kv_heads) * (size_t)c->head_dim,
           H = (size_t)c->num_heads, q = H * (size_t)c->head_dim, f = (size_t)c->intermediate_size, nn = (size_t)n,
           S = (size_t)a->slots;
    size_t L = rc ? (size_t)c->num_layers : S; /* residual rows R[0 .. L] */
    a->mem = m->be->alloc(m->ctx, sizeof(float) *
                                      (layer_floats(c, n) * S + extra_rows(c, n, rc) + tail_floats(c, n)));
    a->scratch = m->be->alloc(m->ctx, sizeof(float) * scratch_floats(c, n, train));
    a->R = gta_calloc(L + 1, sizeof(float *));
    a->la = gta_calloc(S, sizeof(layer_acts));
    float *p = a->mem;
#define TAKE(cnt) (p += (cnt), p - (cnt))
    for (size_t l = 0; l < S; l++) {
        layer_acts *x = &a->la[l];
        a->R[l] = TAKE(nn * d);
        x->rstd1 = TAKE(nn);
        x->qkv = TAKE(nn * ld);
        x->att = TAKE(nn * q);
        x->lse = TAKE(nn * H);
        x->xmid = TAKE(nn * d);
        x->rstd2 = TAKE(nn);
        x->gu = TAKE(nn * 2 * f);
        if (c->qk_norm) {
            x->qk_raw = TAKE(nn * ld);
            x->qk_rstd = TAKE(nn * (H + (size_t)c->num_kv_heads));
        }
    }
    for (size_t l = S; l < L; l++) a->R[l] = TAKE(nn * d);
    a->R[L] = TAKE(nn * d);
    a->rstd_f = TAKE(nn);
    a->xf = TAKE(nn * d);
    a->rope = TAKE(nn * (size_t)c->head_dim);
#undef TAKE
    a->n = -1;
    *slot = a;
    return a;
}

void gta_model_release_infer(gta_model *m) {
    acts_free(m, m->iacts);
    m->iacts = NULL;
    m->be->free(m->ctx, m->dec_ws);
    m->dec_ws = NULL;
    m->dec_cap = 0;
}

void gta_model_release_train(gta_model *m) {
    acts_free(m, m->acts);
    m->acts = NULL;
}

void gta_model_release_work(gta_model *m) {
    acts_free(m, m->acts);
    acts_free(m, m->iacts);
    m->acts = m->iacts = NULL;
    m->be->free(m->ctx, m->dec_ws);
    m->be->free(m->ctx, m->pack);
    m->dec_ws = NULL;
    m->pack = NULL;
    m->dec_cap = m->pack_cap = 0;
    m->be->scratch_release(m->ctx);
}

/* ------------------------------------------------------------------ one layer */

/* What a layer forward runs over: n rows with their rope table and scratch; attention over
 * a tree batch (segs) or, for decoding (segs NULL), each row over its cache ranges; keys
 * and values stored into kv at slot[t] when kv is given. */
typedef struct {
    int n;
    const float *rope;
    float *xn, *h; /* scratch [n, d], [n, f] */
    const gta_segs *segs;
    gta_kv *kv;
    const int *slot;
    const int *rs, *rl; /* decode: row i attends to ranges rs/rl[i*nr .. +nr) */
    int nr;
    int packed; /* decode: products from the panels of gta_decode_pack */
    int drop;   /* a training forward: the adapters' dropout is on */
} layer_run;

/* matrix `which` in bf16 (per layer wqkv, wo, wgu, wd; then the head): a bf16 base's, or
 * bf16 compute's copy of fp32 weights (remade first when stale); NULL: fp32 products */
static const uint16_t *mat16(gta_model *m, int which) {
    if (!m->w16) return gta_model_wb(m, which);
    if (which == 4 * m->cfg.num_layers) return m->lm_head16;
    const gta_layer_w16 *w = &m->layers16[which / 4];
    const uint16_t *src[4] = {w->wqkv, w->wo, w->wgu, w->wd};
    return src[which % 4];
}

/* bf16 compute: the bf16 products round the activations too (else fp32 activations) */
static int xr16(const gta_model *m) { return m->compute == GTA_COMPUTE_BF16; }

/* the product y = x W^T (+ b): from a bf16 base's matrices, or from the decode panels when
 * asked and made, or from bf16 compute's copy, else fp32 */
static void lin(gta_model *m, const layer_run *r, int which, float *y, const float *x, const float *w, const float *b,
                int n, int in, int out, float beta) {
    const uint16_t *w16;
    if (m->w16)
        m->be->linear_bf16(m->ctx, y, x, mat16(m, which), b, n, in, out, beta, xr16(m));
    else if (r->packed && m->pack && m->pk && m->pk[which])
        m->be->linear_packed(m->ctx, y, x, m->pk[which], m->pack_bf16, b, n, in, out, beta);
    else if ((w16 = mat16(m, which)))
        m->be->linear_bf16(m->ctx, y, x, w16, b, n, in, out, beta, 1);
    else
        m->be->linear(m->ctx, y, x, w, b, n, in, out, beta);
}

/* the adapters' terms of targets k0 .. k1 on a product's output y (rows of ldy) */
static void lora_fwd(gta_model *m, const layer_run *r, int l, int k0, int k1, float *y, int ldy,
                     const float *x) {
    if (!m->lora) return;
    for (int k = k0; k <= k1; k++) gta_lora_forward(m, l, k, y, ldy, x, r->n, r->drop);
}

/* dx (+)= dy W for matrix `which` (backward) */
static void lin_dx(gta_model *m, int which, float *dx, const float *dy, const float *w, int n, int in,
                   int out) {
    const uint16_t *w16 = mat16(m, which);
    if (w16)
        m->be->linear_dx_bf16(m->ctx, dx, dy, w16, n, in, out, 0.0f, xr16(m));
    else
        m->be->linear_dx(m->ctx, dx, dy, w, n, in, out, 0.0f);
}

/* dW += dy^T x, db += column sums of dy (a trainable base): bf16 products in bf16 compute */
static void lin_dw(gta_model *m, float *dw, float *db, const float *dy, const float *x, int n, int in,
                   int out) {
    if (xr16(m))
        m->be->linear_dw_bf16(m->ctx, dw, db, dy, x, n, in, out);
    else
        m->be->linear_dw(m->ctx, dw, db, dy, x, n, in, out);
}

static void embed_rows(gta_model *m, float *x, const int *ids, int n) {
    if (m->w16)
        m->be->embed_bf16(m->ctx, x, m->embed16, ids, n, m->cfg.hidden_size);
    else
        m->be->embed(m->ctx, x, m->embed, ids, n, m->cfg.hidden_size);
}

/* Layer l from x into xout, A receiving what backward needs. xmid (the residual after
 * attention) and xout may be x itself (decoding): the products then accumulate into it. */
static void layer_forward(gta_model *m, int l, const layer_run *r, float *x, float *xmid, float *xout,
                          const layer_acts *A) {
    const gta_backend_ops *be = m->be;
    gta_ctx *cx = m->ctx;
    const gta_config *c = &m->cfg;
    const gta_layer_w *w = &m->layers[l];
    const int n = r->n, d = c->hidden_size, H = c->num_heads, KV = c->num_kv_heads, hd = c->head_dim,
              f = c->intermediate_size, ld = (H + 2 * KV) * hd;
    const float eps = (float)c->rms_norm_eps;
    be->rmsnorm(cx, r->xn, A->rstd1, x, w->attn_norm, n, d, eps);
    lin(m, r, 4 * l, A->qkv, r->xn, w->wqkv, w->bqkv, n, d, ld, 0.0f);
    lora_fwd(m, r, l, GTA_LORA_Q, GTA_LORA_V, A->qkv, ld, r->xn);
    if (c->qk_norm) {
        be->copy(cx, A->qk_raw, A->qkv, sizeof(float) * (size_t)n * ld);
        be->headnorm(cx, A->qkv, A->qk_rstd, w->q_norm, n, H, hd, ld, eps, A->qk_raw);
        be->headnorm(cx, A->qkv + (size_t)H * hd, A->qk_rstd + (size_t)n * H, w->k_norm, n, KV, hd, ld, eps,
                     A->qk_raw + (size_t)H * hd);
    }
    be->rope(cx, A->qkv, r->rope, n, H + KV, hd, ld, 1);
    const float *kc = NULL, *vc = NULL;
    if (r->kv) {
        size_t kd = (size_t)r->kv->kvdim, base = (size_t)l * r->kv->cap * kd;
        be->scatter_rows(cx, r->kv->k + base, (int)kd, A->qkv + (size_t)H * hd, ld, r->slot, n, (int)kd);
        be->scatter_rows(cx, r->kv->v + base, (int)kd, A->qkv + (size_t)(H + KV) * hd, ld, r->slot, n, (int)kd);
        kc = r->kv->k + base, vc = r->kv->v + base;
    }
    if (r->segs)
        be->attention(cx, A->att, A->lse, A->qkv, r->segs, n, H, KV, hd);
    else
        be->attention_decode(cx, A->att, A->qkv, ld, kc, vc, r->rs, r->rl, r->nr, n, H, KV, hd);
    if (xmid == x) {
        lin(m, r, 4 * l + 1, xmid, A->att, w->wo, w->bo, n, H * hd, d, 1.0f);
        lora_fwd(m, r, l, GTA_LORA_O, GTA_LORA_O, xmid, d, A->att);
    } else {
        lin(m, r, 4 * l + 1, xmid, A->att, w->wo, w->bo, n, H * hd, d, 0.0f);
        lora_fwd(m, r, l, GTA_LORA_O, GTA_LORA_O, xmid, d, A->att);
        be->add(cx, xmid, xmid, x, (size_t)n * d);
    }
    be->rmsnorm(cx, r->xn, A->rstd2, xmid, w->mlp_norm, n, d, eps);
    lin(m, r, 4 * l + 2, A->gu, r->xn, w->wgu, w->bgu, n, d, 2 * f, 0.0f);
    lora_fwd(m, r, l, GTA_LORA_GATE, GTA_LORA_UP, A->gu, 2 * f, r->xn);
    be->swiglu(cx, r->h, A->gu, n, f);
    if (xout == xmid) {
        lin(m, r, 4 * l + 3, xout, r->h, w->wd, w->bd, n, f, d, 1.0f);
        lora_fwd(m, r, l, GTA_LORA_DOWN, GTA_LORA_DOWN, xout, d, r->h);
    } else {
        lin(m, r, 4 * l + 3, xout, r->h, w->wd, w->bd, n, f, d, 0.0f);
        lora_fwd(m, r, l, GTA_LORA_DOWN, GTA_LORA_DOWN, xout, d, r->h);
        be->add(cx, xout, xout, xmid, (size_t)n * d);
    }
}

/* ------------------------------------------------------------------ trunk */

/* Embedding, layers and final norm: leaves the normed hidden states in the acts' xf.
 * train keeps every layer's activations (m->acts); otherwise one layer's buffers are
 * reused (m->iacts). */
static struct gta_acts *forward_trunk(gta_model *m, const gta_batch *b, int train, gta_kv *kv, const int *slot,
                                      int *rc) {
    if ((*rc = gta_batch_check(m, b))) return NULL;
    const gta_config *c = &m->cfg;
    const int n = b->n, d = c->hidden_size, L = c->num_layers;
    struct gta_acts *a = acts_get(m, n, train);
    a->n = -1;
    if (!train && m->acts) m->acts->n = -1; /* a backward needs the training forward just before it */
    gta_segs segs = {b->nseg, b->seg_start, b->seg_len, b->seg_parent, model_seg_max_keys(b)};
    layer_run r = {n, a->rope, a->scratch, a->scratch + (size_t)n * d, &segs, kv, slot, NULL, NULL,
                   0, 0,       train};
    m->be->rope_table(m->ctx, a->rope, b->pos, m->inv_freq, n, c->head_dim);
    embed_rows(m, a->R[0], b->ids, n);
    float *x = a->R[0];
    for (int l = 0; l < L; l++) {
        float *xout = train ? a->R[l + 1] : a->R[(l + 1) & 1];
        const layer_acts *A = &a->la[train && !a->recompute ? l : 0];
        layer_forward(m, l, &r, x, A->xmid, xout, A);
        x = xout;
    }
    m->be->rmsnorm(m->ctx, a->xf, a->rstd_f, x, m->final_norm, n, d, (float)c->rms_norm_eps);
    if (train) a->n = n;
    return a;
}

int gta_forward(gta_model *m, const gta_batch *b, float *lp, float *logits, int train) {
    int rc;
    struct gta_acts *a = forward_trunk(m, b, train, NULL, NULL, &rc);
    if (!a) return rc;
    const int n = b->n, d = m->cfg.hidden_size, V = m->cfg.vocab_size;
    if (logits) {
        size_t bytes = sizeof(float) * (size_t)n * V;
        float *dl = m->be->alloc(m->ctx, bytes);
        layer_run none = {0};
        lin(m, &none, 4 * m->cfg.num_layers, dl, a->xf, m->lm_head, NULL, n, d, V, 0.0f);
        m->be->to_host(m->ctx, logits, dl, bytes);
        m->be->free(m->ctx, dl);
    }
    const uint16_t *h16 = lp ? mat16(m, 4 * m->cfg.num_layers) : NULL;
    if (h16)
        m->be->logprob_head_bf16(m->ctx, lp, NULL, NULL, NULL, a->xf, h16, b->lp_row, b->lp_target, b->nlp, n,
                                 d, V, xr16(m));
    else if (lp)
        m->be->logprob_head(m->ctx, lp, NULL, NULL, NULL, a->xf, m->lm_head, b->lp_row, b->lp_target, b->nlp,
                            n, d, V);
    return GTA_OK;
}

/* ------------------------------------------------------------------ backward */

/* where backward_trunk expects d loss / d xf */
static float *dxf_slot(gta_model *m, int n) {
    const gta_config *c = &m->cfg;
    return m->acts->scratch + (size_t)n * (2 * (size_t)c->hidden_size + (size_t)c->intermediate_size);
}

/* Backward through the layers from d loss / d xf (in the scratch's dxn slot). */
static void backward_trunk(gta_model *m, const gta_batch *b) {
    const gta_backend_ops *be = m->be;
    gta_ctx *cx = m->ctx;
    struct gta_acts *a = m->acts;
    const gta_config *c = &m->cfg;
    const int n = b->n, d = c->hidden_size, H = c->num_heads, KV = c->num_kv_heads, hd = c->head_dim,
              f = c->intermediate_size, ld = (H + 2 * KV) * hd, q = H * hd;
    gta_segs segs = {b->nseg, b->seg_start, b->seg_len, b->seg_parent, model_seg_max_keys(b)};
    /* with an adapter the base is frozen: no gradients of its weights, the adapters' terms */
    const int fz = m->lora != NULL;
#define G(p) (fz ? NULL : m->grads + ((p)-m->params))
#define GN(p) ((p) && !fz ? G(p) : NULL)
    float *xn = a->scratch, *h = xn + (size_t)n * d, *dx = h + (size_t)n * f, *dxn = dx + (size_t)n * d,
          *dqkv = dxn + (size_t)n * d, *datt = dqkv + (size_t)n * ld, *dh = datt + (size_t)n * q,
          *dgu = dh + (size_t)n * f;
    be->rmsnorm_backward(cx, dx, G(m->final_norm), dxn, a->R[c->num_layers], a->rstd_f, m->final_norm, n, d, 0);
    /* recomputation: the layer's forward again from its input, into the one slot (and R[l+1],
     * the same values again: backward no longer needs it) */
    layer_run rr = {n, a->rope, xn, h, &segs, NULL, NULL, NULL, NULL, 0, 0, 1};
    for (int l = c->num_layers - 1; l >= 0; l--) {
        const gta_layer_w *w = &m->layers[l];
        layer_acts *A = &a->la[a->recompute ? 0 : l];
        if (a->recompute) layer_forward(m, l, &rr, a->R[l], A->xmid, a->R[l + 1], A);
        /* MLP */
        be->rmsnorm_apply(cx, xn, A->xmid, A->rstd2, w->mlp_norm, n, d);
        be->swiglu(cx, h, A->gu, n, f);
        if (!fz) lin_dw(m, G(w->wd), GN(w->bd), dx, h, n, f, d);
        lin_dx(m, 4 * l + 3, dh, dx, w->wd, n, f, d);
        if (fz) gta_lora_backward(m, l, GTA_LORA_DOWN, dx, d, h, dh, n);
        be->swiglu_backward(cx, dgu, dh, A->gu, n, f);
        if (!fz) lin_dw(m, G(w->wgu), GN(w->bgu), dgu, xn, n, d, 2 * f);
        lin_dx(m, 4 * l + 2, dxn, dgu, w->wgu, n, d, 2 * f);
        if (fz)
            for (int k = GTA_LORA_GATE; k <= GTA_LORA_UP; k++)
                gta_lora_backward(m, l, k, dgu, 2 * f, xn, dxn, n);
        be->rmsnorm_backward(cx, dx, G(w->mlp_norm), dxn, A->xmid, A->rstd2, w->mlp_norm, n, d, 1);
        /* attention */
        if (!fz) lin_dw(m, G(w->wo), GN(w->bo), dx, A->att, n, q, d);
        lin_dx(m, 4 * l + 1, datt, dx, w->wo, n, q, d);
        if (fz) gta_lora_backward(m, l, GTA_LORA_O, dx, d, A->att, datt, n);
        be->attention_backward(cx, dqkv, datt, A->att, A->lse, A->qkv, &segs, n, H, KV, hd);
        be->rope(cx, dqkv, a->rope, n, H + KV, hd, ld, -1);
        if (c->qk_norm) {
            be->headnorm_backward(cx, dqkv, G(w->q_norm), dqkv, A->qk_raw, A->qk_rstd, w->q_norm, n, H, hd, ld);
            be->headnorm_backward(cx, dqkv + (size_t)H * hd, G(w->k_norm), dqkv + (size_t)H * hd,
                                  A->qk_raw + (size_t)H * hd, A->qk_rstd + (size_t)n * H, w->k_norm, n, KV, hd, ld);
        }
        be->rmsnorm_apply(cx, xn, a->R[l], A->rstd1, w->attn_norm, n, d);
        if (!fz) lin_dw(m, G(w->wqkv), GN(w->bqkv), dqkv, xn, n, d, ld);
        lin_dx(m, 4 * l, dxn, dqkv, w->wqkv, n, d, ld);
        if (fz)
            for (int k = GTA_LORA_Q; k <= GTA_LORA_V; k++) gta_lora_backward(m, l, k, dqkv, ld, xn, dxn, n);
        be->rmsnorm_backward(cx, dx, G(w->attn_norm), dxn, a->R[l], A->rstd1, w->attn_norm, n, d, 1);
    }
    if (!fz) be->embed_backward(cx, G(m->embed), dx, b->ids, n, d);
#undef G
#undef GN
}

/* the head's weight gradient: none when the base is frozen */
static float *head_grad(gta_model *m) {
    return m->lora || !m->grads ? NULL : m->grads + (m->lm_head - m->params);
}

int gta_backward(gta_model *m, const gta_batch *b, const float *dlp) {
    struct gta_acts *a = m->acts;
    if (!a || a->n != b->n || !(m->lora ? m->lora->grads != NULL : m->grads != NULL))
        return gta_err_set(GTA_EFAIL, "backward without a matching training forward (or without gradients)");
    const int n = b->n, d = m->cfg.hidden_size, V = m->cfg.vocab_size;
    /* pairs with dL/dlp == 0 add nothing: leave them out of the head, whose cost is per
     * pair (GTA's SFT backward has a few guess tokens among all the completions') */
    int keep = 0;
    for (int k = 0; k < b->nlp; k++) keep += dlp[k] != 0.0f;
    int *row = (int *)b->lp_row, *tg = (int *)b->lp_target;
    float *g = (float *)dlp;
    if (keep < b->nlp) {
        row = gta_malloc(sizeof(int) * (size_t)(keep + 1));
        tg = gta_malloc(sizeof(int) * (size_t)(keep + 1));
        g = gta_malloc(sizeof(float) * (size_t)(keep + 1));
        for (int k = 0, j = 0; k < b->nlp; k++)
            if (dlp[k] != 0.0f) row[j] = b->lp_row[k], tg[j] = b->lp_target[k], g[j++] = dlp[k];
    }
    const uint16_t *h16 = mat16(m, 4 * m->cfg.num_layers);
    if (h16)
        m->be->logprob_head_bf16(m->ctx, NULL, dxf_slot(m, n), head_grad(m), g, a->xf, h16, row, tg, keep, n,
                                 d, V, xr16(m));
    else
        m->be->logprob_head(m->ctx, NULL, dxf_slot(m, n), head_grad(m), g, a->xf, m->lm_head, row, tg, keep,
                            n, d, V);
    if (keep < b->nlp) free(row), free(tg), free(g);
    backward_trunk(m, b);
    return GTA_OK;
}

int gta_forward_backward(gta_model *m, const gta_batch *b, float *lp, float *dlp, gta_dlp_fn fn, void *ctx) {
    if (!(m->lora ? m->lora->grads != NULL : m->grads != NULL))
        return gta_err_set(GTA_EFAIL, "forward_backward without gradients allocated");
    int rc;
    struct gta_acts *a = forward_trunk(m, b, 1, NULL, NULL, &rc);
    if (!a) return rc;
    const int n = b->n, d = m->cfg.hidden_size, V = m->cfg.vocab_size;
    const uint16_t *h16 = mat16(m, 4 * m->cfg.num_layers);
    if (h16)
        m->be->logprob_head_fused_bf16(m->ctx, lp, dlp, fn, ctx, dxf_slot(m, n), head_grad(m), a->xf, h16,
                                       b->lp_row, b->lp_target, b->nlp, n, d, V, xr16(m));
    else
        m->be->logprob_head_fused(m->ctx, lp, dlp, fn, ctx, dxf_slot(m, n), head_grad(m), a->xf, m->lm_head,
                                  b->lp_row, b->lp_target, b->nlp, n, d, V);
    backward_trunk(m, b);
    return GTA_OK;
}

/* ------------------------------------------------------------------ prefill and decode */

int gta_prefill(gta_model *m, const gta_batch *b, gta_kv *kv, const int *slot, const int *rows, int nrows,
                float *logits) {
    for (int t = 0; t < b->n; t++)
        if (slot[t] < 0 || slot[t] >= kv->cap) return gta_err_set(GTA_EFAIL, "prefill: slot %d outside the cache", slot[t]);
    int rc;
    struct gta_acts *a = forward_trunk(m, b, 0, kv, slot, &rc);
    if (!a) return rc;
    const int d = m->cfg.hidden_size, V = m->cfg.vocab_size;
    float *x = m->be->alloc(m->ctx, sizeof(float) * (size_t)nrows * d); /* a few rows: the prompts' last */
    m->be->gather_rows(m->ctx, x, d, a->xf, d, rows, nrows, d);
    layer_run none = {0};
    lin(m, &none, 4 * m->cfg.num_layers, logits, x, m->lm_head, NULL, nrows, d, V, 0.0f);
    m->be->free(m->ctx, x);
    return GTA_OK;
}

static size_t decode_floats(const gta_config *c, int B) {
    size_t d = (size_t)c->hidden_size, ld = (size_t)(c->num_heads + 2 * c->num_kv_heads) * (size_t)c->head_dim,
           q = (size_t)c->num_heads * (size_t)c->head_dim, f = (size_t)c->intermediate_size;
    /* x, xn, qkv, raw, att, gu, h, rope, rstd, q/k rstd */
    return (size_t)B * (2 * d + 2 * ld + q + 3 * f + (size_t)c->head_dim + (size_t)(c->num_heads + c->num_kv_heads) + 2);
}

size_t gta_decode_bytes(const gta_config *c, int prefill_tokens, int B) {
    return gta_model_infer_bytes(c, prefill_tokens) + sizeof(float) * decode_floats(c, B);
}

int gta_decode(gta_model *m, gta_kv *kv, int B, const gta_tok *tok, const int *pos, const int *slot,
               const gta_range *ranges, int nr, float *logits) {
    const gta_config *c = &m->cfg;
    const int d = c->hidden_size, H = c->num_heads, KV = c->num_kv_heads, hd = c->head_dim, f = c->intermediate_size,
              ld = (H + 2 * KV) * hd, V = c->vocab_size;
    for (int i = 0; i < B; i++) {
        if (tok[i] < 0 || tok[i] >= V || slot[i] < 0 || slot[i] >= kv->cap)
            return gta_err_set(GTA_EFAIL, "decode: row %d has token %d / slot %d out of range", i, tok[i], slot[i]);
        for (int r = 0; r < nr; r++) {
            const gta_range *g = &ranges[i * nr + r];
            if (g->start < 0 || g->len < 0 || g->start + g->len > kv->cap)
                return gta_err_set(GTA_EFAIL, "decode: row %d range %d outside the cache", i, r);
        }
    }
    size_t need = decode_floats(c, B);
    if (m->dec_cap < need) {
        m->be->free(m->ctx, m->dec_ws);
        m->dec_ws = m->be->alloc(m->ctx, sizeof(float) * need);
        m->dec_cap = need;
    }
    float *x = m->dec_ws, *xn = x + (size_t)B * d, *qkv = xn + (size_t)B * d, *raw = qkv + (size_t)B * ld,
          *att = raw + (size_t)B * ld, *gu = att + (size_t)B * H * hd, *h = gu + (size_t)B * 2 * f,
          *rope = h + (size_t)B * f, *rstd = rope + (size_t)B * hd, *qk_rstd = rstd + B;
    int *rs = gta_malloc(sizeof(int) * (size_t)(B * nr)), *rl = gta_malloc(sizeof(int) * (size_t)(B * nr));
    for (int i = 0; i < B * nr; i++) rs[i] = ranges[i].start, rl[i] = ranges[i].len;
    m->be->rope_table(m->ctx, rope, pos, m->inv_freq, B, hd);
    embed_rows(m, x, tok, B);
    const layer_acts A = {rstd, qkv, raw, qk_rstd, att, NULL, x, rstd, gu};
    layer_run r = {B, rope, xn, h, NULL, kv, slot, rs, rl, nr, 1, 0};
    for (int l = 0; l < c->num_layers; l++) layer_forward(m, l, &r, x, x, x, &A);
    m->be->rmsnorm(m->ctx, xn, rstd, x, m->final_norm, B, d, (float)c->rms_norm_eps);
    lin(m, &r, 4 * c->num_layers, logits, xn, m->lm_head, NULL, B, d, V, 0.0f);
    free(rs);
    free(rl);
    return GTA_OK;
}
