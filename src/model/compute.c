/* Compute precision of a model's linear products (model.h): the bf16 weight copy of a
 * model with fp32 weights and its upkeep. The copy holds the layers' four matrices per
 * layer and the head's [V, d] (the embedding's rows themselves are looked up in fp32); it
 * is remade lazily, before the first product after the parameters changed, so a training
 * step rounds the weights once however many forwards it runs. A bf16 base (m->w16) needs
 * no copy: its matrices are the products' bf16 weights. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "model/model.h"

int gta_compute_parse(const char *s, int *out) {
    if (s && (!strcmp(s, "f32") || !strcmp(s, "fp32"))) {
        *out = GTA_COMPUTE_F32;
        return GTA_OK;
    }
    if (s && !strcmp(s, "bf16")) {
        *out = GTA_COMPUTE_BF16;
        return GTA_OK;
    }
    return gta_err_set(GTA_EINPUT, "compute '%s': expected f32 or bf16", s ? s : "");
}

const char *gta_compute_name(int compute) { return compute == GTA_COMPUTE_BF16 ? "bf16" : "f32"; }

static void mat_shape(const gta_config *c, int k, int *out, int *in) {
    if (k == 4 * c->num_layers) { /* the head */
        *out = c->vocab_size, *in = c->hidden_size;
        return;
    }
    int d = c->hidden_size, q = c->num_heads * c->head_dim,
        ld = (c->num_heads + 2 * c->num_kv_heads) * c->head_dim, f = c->intermediate_size;
    switch (k & 3) {
    case 0:
        *out = ld, *in = d;
        break;
    case 1:
        *out = d, *in = q;
        break;
    case 2:
        *out = 2 * f, *in = d;
        break;
    default:
        *out = d, *in = f;
        break;
    }
}

size_t gta_model_compute_bytes(const gta_config *c, int compute) {
    if (compute != GTA_COMPUTE_BF16) return 0;
    size_t n = 0;
    for (int k = 0, out, in; k < 4; k++) {
        mat_shape(c, k, &out, &in);
        n += (size_t)out * (size_t)in;
    }
    return sizeof(uint16_t) * (n * (size_t)c->num_layers + (size_t)c->vocab_size * (size_t)c->hidden_size);
}

size_t gta_model_compute_scratch_bytes(const gta_config *c, int n, int compute) {
    if (compute != GTA_COMPUTE_BF16) return 0;
    size_t widest = 0;
    for (int k = 0, out, in; k < 4; k++) {
        mat_shape(c, k, &out, &in);
        if ((size_t)out + (size_t)in > widest) widest = (size_t)out + (size_t)in;
    }
    return sizeof(float) * (size_t)n * widest;
}

int gta_model_set_compute(gta_model *m, int compute) {
    if (compute == GTA_COMPUTE_BF16 && !(gta_model_bf16_supported(m->be) && m->be->linear_dw_bf16))
        return gta_err_set(
            GTA_EINPUT, "compute bf16: the %s backend has no bf16 compute%s", m->be->name,
            !strcmp(m->be->name, "cuda") ? " (its GTA_CUDA_MATH=bf16 setting multiplies in bf16)" : "");
    m->compute = compute;
    if (compute != GTA_COMPUTE_BF16) {
        m->be->free(m->ctx, m->wb);
        m->wb = NULL;
        free(m->wbk);
        m->wbk = NULL;
    }
    m->wb_stale = 1;
    return GTA_OK;
}

void gta_model_params_changed(gta_model *m) { m->wb_stale = 1; }

static const float *mat(const gta_model *m, int k) {
    if (k == 4 * m->cfg.num_layers) return m->lm_head;
    const gta_layer_w *w = &m->layers[k >> 2];
    switch (k & 3) {
    case 0:
        return w->wqkv;
    case 1:
        return w->wo;
    case 2:
        return w->wgu;
    default:
        return w->wd;
    }
}

const uint16_t *gta_model_wb(gta_model *m, int k) {
    if (m->compute != GTA_COMPUTE_BF16 || m->w16) return NULL;
    /* over another model's parameters (gta_model_share): its copy, when it computes in bf16 */
    if (m->wb_from) return gta_model_wb(m->wb_from, k);
    const gta_config *c = &m->cfg;
    int nk = 4 * c->num_layers + 1;
    if (!m->wb) {
        m->wb = m->be->alloc(m->ctx, gta_model_compute_bytes(c, GTA_COMPUTE_BF16));
        m->wbk = gta_calloc((size_t)nk, sizeof *m->wbk);
        uint16_t *at = m->wb;
        for (int j = 0, out, in; j < nk; j++) {
            mat_shape(c, j, &out, &in);
            m->wbk[j] = at;
            at += (size_t)out * (size_t)in;
        }
        m->wb_stale = 1;
    }
    if (m->wb_stale) {
        for (int j = 0, out, in; j < nk; j++) {
            mat_shape(c, j, &out, &in);
            m->be->to_bf16(m->ctx, m->wbk[j], mat(m, j), (size_t)out * (size_t)in);
        }
        m->wb_stale = 0;
    }
    return m->wbk[k];
}

const char *gta_model_compute_kernel(const gta_model *m) {
    if (m->compute != GTA_COMPUTE_BF16 || !m->be->bf16_kernel) return "none";
    return m->be->bf16_kernel(m->ctx);
}

const char *gta_model_compute_choice(const gta_model *m) {
    if (m->compute != GTA_COMPUTE_BF16 || !m->be->bf16_choice) return NULL;
    return m->be->bf16_choice(m->ctx);
}
