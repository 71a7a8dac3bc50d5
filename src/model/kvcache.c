/* The KV cache and the decode layout of the weights (panels the backend re-lays them
 * into for few-row products). */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "model/model.h"
#include "model/model_int.h"

size_t gta_kv_bytes(const gta_config *c, int cap) {
    return sizeof(float) * 2 * (size_t)c->num_layers * (size_t)cap * (size_t)c->num_kv_heads * (size_t)c->head_dim;
}

void gta_kv_init(gta_kv *kv, const gta_model *m, int cap) {
    const gta_config *c = &m->cfg;
    kv->cap = cap;
    kv->layers = c->num_layers;
    kv->kvdim = c->num_kv_heads * c->head_dim;
    kv->be = m->be;
    kv->ctx = m->ctx;
    size_t n = (size_t)kv->layers * (size_t)cap * (size_t)kv->kvdim;
    kv->k = m->be->alloc(m->ctx, sizeof(float) * n);
    kv->v = m->be->alloc(m->ctx, sizeof(float) * n);
}

void gta_kv_free(gta_kv *kv) {
    if (kv->be) {
        kv->be->free(kv->ctx, kv->k);
        kv->be->free(kv->ctx, kv->v);
    }
    kv->k = kv->v = NULL;
}

/* The decode path's matrices in panel order, k = 0 .. 4L: per layer wqkv, wo, wgu, wd, then
 * the head. */
static void decode_mat_shape(const gta_config *c, int k, int *out, int *in) {
    int d = c->hidden_size, ld = (c->num_heads + 2 * c->num_kv_heads) * c->head_dim, q = c->num_heads * c->head_dim,
        f = c->intermediate_size;
    const int outs[4] = {ld, d, 2 * f, d}, ins[4] = {d, q, d, f};
    *out = k == 4 * c->num_layers ? c->vocab_size : outs[k % 4];
    *in = k == 4 * c->num_layers ? d : ins[k % 4];
}

static const float *decode_mat(const gta_model *m, int k) {
    if (k == 4 * m->cfg.num_layers) return m->lm_head;
    const gta_layer_w *w = &m->layers[k / 4];
    const float *src[4] = {w->wqkv, w->wo, w->wgu, w->wd};
    return src[k % 4];
}

size_t gta_decode_pack_bytes(const gta_backend_ops *be, const gta_config *c, int bf16) {
    size_t bytes = 0;
    if (bf16 < 0) return 0; /* decode from the weights as they are */
    for (int k = 0, out, in; k <= 4 * c->num_layers; k++) {
        decode_mat_shape(c, k, &out, &in);
        bytes += be->pack_bytes(NULL, out, in, bf16);
    }
    return bytes;
}

void gta_decode_pack(gta_model *m, int bf16) {
    const gta_config *c = &m->cfg;
    /* a bf16 base decodes from its own bf16 matrices: no second copy */
    size_t bytes = m->w16 ? 0 : gta_decode_pack_bytes(m->be, c, bf16);
    if (!bytes) { /* decode from the weights as they are; drop panels of an earlier call */
        m->be->free(m->ctx, m->pack);
        m->pack = NULL;
        m->pack_cap = 0;
        return;
    }
    if (m->pack_cap < bytes) {
        m->be->free(m->ctx, m->pack);
        m->pack = m->be->alloc(m->ctx, bytes);
        m->pack_cap = bytes;
    }
    if (!m->pk) m->pk = gta_calloc((size_t)(4 * c->num_layers + 1), sizeof(void *));
    m->pack_bf16 = bf16;
    char *at = m->pack;
    for (int k = 0, out, in; k <= 4 * c->num_layers; k++) {
        decode_mat_shape(c, k, &out, &in);
        m->pk[k] = at;
        m->be->pack(m->ctx, at, decode_mat(m, k), out, in, bf16);
        at += m->be->pack_bytes(m->ctx, out, in, bf16);
    }
}
