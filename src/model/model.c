#include "model/model.h"

#include "model/model_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "io/safetensors.h"
#include "model/lora.h"

/* ------------------------------------------------------------------ layout */

typedef struct {
    gta_param *t;
    int n, cap;
    size_t off;
} layout_b;

static size_t add(layout_b *b, const char *name, int64_t rows, int64_t cols, int decay) {
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->t = gta_realloc(b->t, sizeof(gta_param) * (size_t)b->cap);
    }
    gta_param *p = &b->t[b->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = cols ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols;
    p->offset = b->off;
    p->decay = decay;
    size_t at = b->off;
    b->off += (size_t)rows * (size_t)(cols ? cols : 1);
    return at;
}

typedef struct {
    size_t attn_norm, wqkv, bqkv, q_norm, k_norm, wo, bo, mlp_norm, wgu, bgu, wd, bd;
} layer_off;

/* Lays the parameters out; fills offsets. Returns the total number of floats. */
static size_t build_layout(const gta_config *c, gta_param **tensors, int *nt, layer_off *lo, size_t *embed,
                           size_t *final_norm, size_t *lm_head) {
    layout_b b = {0};
    int64_t d = c->hidden_size, hd = c->head_dim, q = (int64_t)c->num_heads * hd, kv = (int64_t)c->num_kv_heads * hd,
            f = c->intermediate_size;
    char nm[96];
    *embed = add(&b, "model.embed_tokens.weight", c->vocab_size, d, 1);
    for (int l = 0; l < c->num_layers; l++) {
        layer_off *L = &lo[l];
#define NAME(s) (snprintf(nm, sizeof nm, "model.layers.%d.%s", l, s), nm)
        L->attn_norm = add(&b, NAME("input_layernorm.weight"), d, 0, 0);
        L->wqkv = add(&b, NAME("self_attn.q_proj.weight"), q, d, 1);
        add(&b, NAME("self_attn.k_proj.weight"), kv, d, 1);
        add(&b, NAME("self_attn.v_proj.weight"), kv, d, 1);
        L->bqkv = (size_t)-1;
        if (c->qkv_bias) {
            L->bqkv = add(&b, NAME("self_attn.q_proj.bias"), q, 0, 0);
            add(&b, NAME("self_attn.k_proj.bias"), kv, 0, 0);
            add(&b, NAME("self_attn.v_proj.bias"), kv, 0, 0);
        }
        L->q_norm = L->k_norm = (size_t)-1;
        if (c->qk_norm) {
            L->q_norm = add(&b, NAME("self_attn.q_norm.weight"), hd, 0, 0);
            L->k_norm = add(&b, NAME("self_attn.k_norm.weight"), hd, 0, 0);
        }
        L->wo = add(&b, NAME("self_attn.o_proj.weight"), d, q, 1);
        L->bo = c->o_bias ? add(&b, NAME("self_attn.o_proj.bias"), d, 0, 0) : (size_t)-1;
        L->mlp_norm = add(&b, NAME("post_attention_layernorm.weight"), d, 0, 0);
        L->wgu = add(&b, NAME("mlp.gate_proj.weight"), f, d, 1);
        add(&b, NAME("mlp.up_proj.weight"), f, d, 1);
        L->bgu = (size_t)-1;
        if (c->mlp_bias) {
            L->bgu = add(&b, NAME("mlp.gate_proj.bias"), f, 0, 0);
            add(&b, NAME("mlp.up_proj.bias"), f, 0, 0);
        }
        L->wd = add(&b, NAME("mlp.down_proj.weight"), d, f, 1);
        L->bd = c->mlp_bias ? add(&b, NAME("mlp.down_proj.bias"), d, 0, 0) : (size_t)-1;
#undef NAME
    }
    *final_norm = add(&b, "model.norm.weight", d, 0, 0);
    *lm_head = c->tie_word_embeddings ? *embed : add(&b, "lm_head.weight", c->vocab_size, d, 1);
    *tensors = b.t;
    *nt = b.n;
    return b.off;
}

size_t gta_model_n_params(const gta_config *c) {
    layer_off *lo = gta_calloc((size_t)(c->num_layers > 0 ? c->num_layers : 1), sizeof *lo);
    gta_param *tensors;
    int nt;
    size_t e, fn, lm, n = build_layout(c, &tensors, &nt, lo, &e, &fn, &lm);
    free(tensors);
    free(lo);
    return n;
}

static gta_model *model_new_over(const gta_config *c, const gta_backend_ops *be, const gta_model *share,
                                 int bf16);
static gta_model *model_new(const gta_config *c, const gta_backend_ops *be) {
    return model_new_over(c, be, NULL, 0);
}

/* floats of the 1-D tensors (norms, biases): what a bf16 base keeps in fp32 */
static size_t small_floats(const gta_param *t, int n) {
    size_t s = 0;
    for (int i = 0; i < n; i++)
        if (t[i].ndim == 1) s += (size_t)t[i].shape[0];
    return s;
}

size_t gta_model_weight_bytes(const gta_config *c, int bf16) {
    size_t n = gta_model_n_params(c);
    if (!bf16) return sizeof(float) * n;
    layer_off *lo = gta_calloc((size_t)(c->num_layers > 0 ? c->num_layers : 1), sizeof *lo);
    gta_param *tensors;
    int nt;
    size_t e, fn, lm;
    build_layout(c, &tensors, &nt, lo, &e, &fn, &lm);
    size_t s = small_floats(tensors, nt);
    free(tensors);
    free(lo);
    return sizeof(uint16_t) * n + sizeof(float) * s;
}

/* A model over a buffer of its own, or over share's (borrowed: the reference under LoRA);
 * bf16: the matrices in bfloat16 (w16), the 1-D tensors in fp32 (small). */
static gta_model *model_new_over(const gta_config *c, const gta_backend_ops *be, const gta_model *share,
                                 int bf16) {
    gta_model *m = gta_calloc(1, sizeof *m);
    m->save_dtype = ST_F32;
    m->cfg = *c;
    m->be = be;
    m->ctx = be->ctx_new();
    layer_off *lo = gta_calloc((size_t)c->num_layers, sizeof *lo);
    size_t e, fn, lm;
    m->n_params = build_layout(c, &m->tensors, &m->n_tensors, lo, &e, &fn, &lm);
    if (share) bf16 = share->w16 != NULL;
    m->params_borrowed = share != NULL;
    m->layers = gta_calloc((size_t)c->num_layers, sizeof *m->layers);
    if (!bf16) {
        m->params = share ? share->params : be->alloc(m->ctx, sizeof(float) * m->n_params);
        m->embed = m->params + e;
        m->final_norm = m->params + fn;
        m->lm_head = m->params + lm;
#define P(o) ((o) == (size_t)-1 ? NULL : m->params + (o))
        for (int l = 0; l < c->num_layers; l++) {
            gta_layer_w *w = &m->layers[l];
            layer_off *L = &lo[l];
            *w = (gta_layer_w){P(L->attn_norm), P(L->wqkv), P(L->bqkv), P(L->q_norm),
                               P(L->k_norm),    P(L->wo),   P(L->bo),   P(L->mlp_norm),
                               P(L->wgu),       P(L->bgu),  P(L->wd),   P(L->bd)};
        }
#undef P
    } else {
        size_t ns = 0;
        for (int i = 0; i < m->n_tensors; i++)
            if (m->tensors[i].ndim == 1) m->tensors[i].soff = ns, ns += (size_t)m->tensors[i].shape[0];
        m->w16 = share ? share->w16 : be->alloc(m->ctx, sizeof(uint16_t) * m->n_params);
        m->small = share ? share->small : be->alloc(m->ctx, sizeof(float) * (ns ? ns : 1));
        m->layers16 = gta_calloc((size_t)c->num_layers, sizeof *m->layers16);
        m->embed16 = m->w16 + e;
        m->lm_head16 = m->w16 + lm;
        m->final_norm = NULL;
        for (int i = 0; i < m->n_tensors; i++)
            if (m->tensors[i].offset == fn && m->tensors[i].ndim == 1)
                m->final_norm = m->small + m->tensors[i].soff;
        for (int l = 0; l < c->num_layers; l++) {
            layer_off *L = &lo[l];
            /* the 1-D tensors by their layout offset */
            size_t want[8] = {L->attn_norm, L->bqkv, L->q_norm, L->k_norm, L->bo, L->mlp_norm, L->bgu, L->bd};
            float *got[8] = {0};
            for (int i = 0; i < m->n_tensors; i++) {
                const gta_param *p = &m->tensors[i];
                if (p->ndim != 1) continue;
                for (int k = 0; k < 8; k++)
                    if (want[k] == p->offset) got[k] = m->small + p->soff;
            }
            m->layers[l] = (gta_layer_w){got[0], NULL,   got[1], got[2], got[3], NULL,
                                         got[4], got[5], NULL,   got[6], NULL,   got[7]};
            m->layers16[l] =
                (gta_layer_w16){m->w16 + L->wqkv, m->w16 + L->wo, m->w16 + L->wgu, m->w16 + L->wd};
        }
    }
    free(lo);
    /* inverse frequencies in fp32 as transformers computes them, then rope scaling */
    int half = c->head_dim / 2;
    float *inv = gta_malloc(sizeof(float) * (size_t)(half ? half : 1));
    for (int i = 0; i < half; i++) {
        float ex = (float)(2 * i) / (float)c->head_dim;
        float f = 1.0f / powf((float)c->rope_theta, ex);
        if (c->rope_type == GTA_ROPE_LINEAR) {
            f = (float)(f / c->rope_factor);
        } else if (c->rope_type == GTA_ROPE_LLAMA3) {
            double orig = c->rope_original_max_position, lo_f = c->rope_low_freq_factor,
                   hi_f = c->rope_high_freq_factor, factor = c->rope_factor;
            double wavelen = 2 * M_PI / f, low_wl = orig / lo_f, high_wl = orig / hi_f;
            if (wavelen > low_wl) {
                f = (float)(f / factor);
            } else if (wavelen >= high_wl) {
                double smooth = (orig / wavelen - lo_f) / (hi_f - lo_f);
                f = (float)((1 - smooth) * f / factor + smooth * f);
            }
        }
        inv[i] = f;
    }
    m->inv_freq = be->alloc(m->ctx, sizeof(float) * (size_t)(half ? half : 1));
    be->from_host(m->ctx, m->inv_freq, inv, sizeof(float) * (size_t)half);
    free(inv);
    return m;
}

const gta_param *gta_model_find(const gta_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

/* ------------------------------------------------------------------ load / save */

static int check_tensor(const char *dir, const st_set *st, const gta_param *p);

int gta_model_load(const char *dir, gta_model **out) { return gta_model_load_on(dir, gta_backend_cpu(), out); }

static int model_load(const char *dir, const gta_backend_ops *be, int bf16, gta_model **out);

int gta_model_load_on(const char *dir, const gta_backend_ops *be, gta_model **out) {
    return model_load(dir, be, 0, out);
}

int gta_model_bf16_supported(const gta_backend_ops *be) {
    return be->linear_bf16 && be->linear_dx_bf16 && be->embed_bf16 && be->logprob_head_bf16 &&
           be->logprob_head_fused_bf16;
}

int gta_model_load_bf16(const char *dir, const gta_backend_ops *be, gta_model **out) {
    if (!gta_model_bf16_supported(be))
        return gta_err_set(GTA_EINPUT,
                           "%s: the %s backend cannot keep weights in bf16 (not supported on %s); "
                           "load them in fp32",
                           dir, be->name, be->name);
    return model_load(dir, be, 1, out);
}

/* one tensor into a bf16 base: matrices as bfloat16 (a bf16 checkpoint's bits as they are),
 * 1-D tensors as fp32 */
static int load_bf16_tensor(const st_set *st, const st_tensor *t, const gta_param *p, uint16_t *h16,
                            float *hs) {
    if (p->ndim == 1) return st_to_f32(st, t, hs + p->soff);
    uint16_t *dst = h16 + p->offset;
    size_t n = (size_t)t->numel;
    if (t->dtype == ST_BF16) {
        memcpy(dst, t->data, sizeof(uint16_t) * n);
        return GTA_OK;
    }
    if (t->dtype == ST_F32) {
        const float *src = t->data;
        for (size_t i = 0; i < n; i++) dst[i] = st_f32_to_bf16(src[i]);
        return GTA_OK;
    }
    float *tmp = gta_malloc(sizeof(float) * (n ? n : 1));
    int rc = st_to_f32(st, t, tmp);
    for (size_t i = 0; !rc && i < n; i++) dst[i] = st_f32_to_bf16(tmp[i]);
    free(tmp);
    return rc;
}

static int model_load(const char *dir, const gta_backend_ops *be, int bf16, gta_model **out) {
    char *cpath = gta_path_join(dir, "config.json");
    gta_config c;
    int rc = gta_config_load(cpath, &c);
    free(cpath);
    if (rc) return rc;
    st_set *st = NULL;
    if ((rc = st_open_dir(dir, &st))) return rc;
    /* every tensor's presence and shape is checked before the parameters are allocated, so
     * a small config.json cannot make gta ask for memory the checkpoint does not hold */
    gta_param *lay = NULL;
    int nlay = 0;
    layer_off *lo = gta_calloc((size_t)(c.num_layers > 0 ? c.num_layers : 1), sizeof *lo);
    size_t e_, fn_, lm_;
    build_layout(&c, &lay, &nlay, lo, &e_, &fn_, &lm_);
    free(lo);
    for (int i = 0; i < nlay && !rc; i++) rc = check_tensor(dir, st, &lay[i]);
    free(lay);
    if (rc) {
        st_close(st);
        return rc;
    }
    gta_model *m = model_new_over(&c, be, NULL, bf16);
    size_t ns = bf16 ? small_floats(m->tensors, m->n_tensors) : 0;
    float *host = bf16 ? NULL : be->write_begin(m->ctx, m->params, sizeof(float) * m->n_params);
    uint16_t *h16 = bf16 ? be->write_begin(m->ctx, m->w16, sizeof(uint16_t) * m->n_params) : NULL;
    float *hs = bf16 ? be->write_begin(m->ctx, m->small, sizeof(float) * ns) : NULL;
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const gta_param *p = &m->tensors[i];
        const st_tensor *t = st_find(st, p->name);
        rc = bf16 ? load_bf16_tensor(st, t, p, h16, hs) : st_to_f32(st, t, host + p->offset);
        if (bf16) st_drop_pages(t); /* the file's pages need not stay beside the bf16 copy */
    }
    m->save_dtype = (int)st_float_dtype(st);
    if (bf16) {
        be->write_end(m->ctx, m->w16, h16, sizeof(uint16_t) * m->n_params);
        be->write_end(m->ctx, m->small, hs, sizeof(float) * ns);
    } else {
        be->write_end(m->ctx, m->params, host, sizeof(float) * m->n_params);
    }
    st_close(st);
    if (rc) {
        gta_model_free(m);
        return rc;
    }
    *out = m;
    return GTA_OK;
}

static int check_tensor(const char *dir, const st_set *st, const gta_param *p) {
    const st_tensor *t = st_find(st, p->name);
    if (!t) return gta_err_set(GTA_EINPUT, "%s: tensor '%s' is missing from the checkpoint", dir, p->name);
    int ok = t->ndim == p->ndim && t->shape[0] == p->shape[0] && (p->ndim == 1 || t->shape[1] == p->shape[1]);
    if (ok) return GTA_OK;
    char got[128] = "", want[64], *w = got;
    for (int k = 0; k < t->ndim && k < 4; k++)
        w += snprintf(w, sizeof got - (size_t)(w - got), "%s%lld", k ? ", " : "", (long long)t->shape[k]);
    if (p->ndim == 2)
        snprintf(want, sizeof want, "%lld, %lld", (long long)p->shape[0], (long long)p->shape[1]);
    else
        snprintf(want, sizeof want, "%lld", (long long)p->shape[0]);
    return gta_err_set(GTA_EINPUT, "%s: tensor '%s' has shape [%s], config.json implies [%s]",
                       st_file_of(st, t), p->name, got, want);
}

gta_model *gta_model_init_random(const gta_config *cfg, uint64_t seed) {
    return gta_model_init_random_on(cfg, seed, gta_backend_cpu());
}

gta_model *gta_model_init_random_on(const gta_config *cfg, uint64_t seed, const gta_backend_ops *be) {
    gta_model *m = model_new(cfg, be);
    for (int i = 0; i < m->n_tensors; i++) {
        const gta_param *p = &m->tensors[i];
        float *w = m->params + p->offset;
        size_t n = (size_t)p->shape[0] * (size_t)(p->ndim == 2 ? p->shape[1] : 1);
        if (strstr(p->name, "norm"))
            be->fill(m->ctx, w, n, 1.0f);
        else if (strstr(p->name, ".bias"))
            be->fill(m->ctx, w, n, 0.0f);
        else
            be->fill_normal(m->ctx, w, n, seed, (uint64_t)i, 0.02);
    }
    return m;
}

int gta_model_save(const gta_model *m, const char *dir) {
    int rc = gta_mkdir_p(dir);
    if (rc) return rc;
    st_dtype dt = m->save_dtype == ST_BF16 || m->save_dtype == ST_F16 ? (st_dtype)m->save_dtype : ST_F32;
    st_entry *e = gta_calloc((size_t)m->n_tensors, sizeof *e);
    const float *host = m->be->read_begin(m->ctx, m->params, sizeof(float) * m->n_params);
    uint16_t *half = dt == ST_F32 ? NULL : gta_malloc(sizeof(uint16_t) * (m->n_params ? m->n_params : 1));
    if (half) st_f32_to_dtype(host, m->n_params, dt, half);
    for (int i = 0; i < m->n_tensors; i++) {
        const gta_param *p = &m->tensors[i];
        const void *data = half ? (const void *)(half + p->offset) : (const void *)(host + p->offset);
        e[i] = (st_entry){p->name, dt, p->ndim, {p->shape[0], p->shape[1]}, data};
    }
    char *path = gta_path_join(dir, "model.safetensors");
    rc = st_write(path, e, m->n_tensors, "{\"format\":\"pt\"}");
    m->be->read_end(m->ctx, host);
    free(path);
    free(e);
    free(half);
    if (rc) return rc;
    char *cj = gta_config_to_json(&m->cfg, dt == ST_BF16 ? "bfloat16" : dt == ST_F16 ? "float16" : "float32");
    path = gta_path_join(dir, "config.json");
    rc = gta_write_file_atomic(path, cj, strlen(cj));
    free(path);
    free(cj);
    if (rc) return rc;
    char gen[256];
    int k = snprintf(gen, sizeof gen, "{\n  \"_from_model_config\": true");
    if (m->cfg.bos_token_id >= 0) k += snprintf(gen + k, sizeof gen - (size_t)k, ",\n  \"bos_token_id\": %d", m->cfg.bos_token_id);
    if (m->cfg.n_eos > 0) k += snprintf(gen + k, sizeof gen - (size_t)k, ",\n  \"eos_token_id\": %d", m->cfg.eos_token_ids[0]);
    snprintf(gen + k, sizeof gen - (size_t)k, "\n}\n");
    path = gta_path_join(dir, "generation_config.json");
    rc = gta_write_file_atomic(path, gen, strlen(gen));
    free(path);
    return rc;
}

void gta_model_free(gta_model *m) {
    if (!m) return;
    const gta_backend_ops *be = m->be;
    gta_lora_detach(m);
    if (!m->params_borrowed) {
        be->free(m->ctx, m->params);
        be->free(m->ctx, m->w16);
        be->free(m->ctx, m->small);
    }
    free(m->layers16);
    be->free(m->ctx, m->wb);
    free(m->wbk);
    be->free(m->ctx, m->grads);
    be->free(m->ctx, m->inv_freq);
    gta_model_release_work(m);
    free(m->tensors);
    free(m->layers);
    free(m->pk);
    be->ctx_free(m->ctx);
    free(m);
}

void gta_model_alloc_grads(gta_model *m) {
    if (m->lora) {
        /* the base is frozen: only the adapter has gradients */
        if (!m->lora->grads)
            m->lora->grads = m->be->alloc(m->ctx, sizeof(float) * (m->lora->n ? m->lora->n : 1));
    } else if (!m->grads) {
        m->grads = m->be->alloc(m->ctx, sizeof(float) * m->n_params);
    }
    gta_model_zero_grads(m);
}

void gta_model_zero_grads(gta_model *m) {
    if (m->grads) m->be->zero(m->ctx, m->grads, sizeof(float) * m->n_params);
    if (m->lora && m->lora->grads) m->be->zero(m->ctx, m->lora->grads, sizeof(float) * m->lora->n);
}

gta_trainable gta_model_trainable(const gta_model *m) {
    if (m->lora)
        return (gta_trainable){m->lora->params, m->lora->grads, m->lora->n, m->lora->tensors,
                               m->lora->n_tensors};
    return (gta_trainable){m->params, m->grads, m->n_params, m->tensors, m->n_tensors};
}

size_t gta_model_small_floats(const gta_model *m) { return small_floats(m->tensors, m->n_tensors); }

gta_model *gta_model_clone_bf16(const gta_model *src) {
    if (!gta_model_bf16_supported(src->be)) return NULL; /* the caller checks (trainer setup) */
    gta_model *m = model_new_over(&src->cfg, src->be, NULL, 1);
    m->compute = src->compute; /* bf16 compute: the products from its bf16 matrices */
    gta_model_copy_params_bf16(m, src);
    return m;
}

void gta_model_copy_params_bf16(gta_model *dst, const gta_model *src) {
    const gta_backend_ops *be = src->be;
    size_t ns = small_floats(dst->tensors, dst->n_tensors);
    const float *hp = be->read_begin(src->ctx, src->params, sizeof(float) * src->n_params);
    uint16_t *h16 = be->write_begin(dst->ctx, dst->w16, sizeof(uint16_t) * dst->n_params);
    float *hs = be->write_begin(dst->ctx, dst->small, sizeof(float) * ns);
    for (int i = 0; i < dst->n_tensors; i++) {
        const gta_param *p = &dst->tensors[i];
        if (p->ndim == 1) {
            memcpy(hs + p->soff, hp + p->offset, sizeof(float) * (size_t)p->shape[0]);
        } else {
            size_t n = (size_t)p->shape[0] * (size_t)p->shape[1];
            for (size_t k = 0; k < n; k++) h16[p->offset + k] = st_f32_to_bf16(hp[p->offset + k]);
        }
    }
    be->write_end(dst->ctx, dst->small, hs, sizeof(float) * ns);
    be->write_end(dst->ctx, dst->w16, h16, sizeof(uint16_t) * dst->n_params);
    be->read_end(src->ctx, hp);
}

gta_model *gta_model_share(const gta_model *src) {
    gta_model *m = model_new_over(&src->cfg, src->be, src, 0);
    /* bf16 compute: the owner's bf16 copy of the shared weights (made and remade by it) */
    m->compute = src->compute;
    m->wb_from = (gta_model *)src;
    return m;
}

gta_model *gta_model_clone(const gta_model *src) {
    gta_model *m = model_new(&src->cfg, src->be);
    m->save_dtype = src->save_dtype;
    m->compute = src->compute;
    gta_model_copy_params(m, src);
    return m;
}

void gta_model_copy_params(gta_model *dst, const gta_model *src) {
    dst->be->copy(dst->ctx, dst->params, src->params, sizeof(float) * src->n_params);
    dst->wb_stale = 1;
}

void gta_model_read(const gta_model *m, const float *dev, float *host, size_t n) {
    m->be->to_host(m->ctx, host, dev, sizeof(float) * n);
}

void gta_model_write(gta_model *m, float *dev, const float *host, size_t n) {
    m->be->from_host(m->ctx, dev, host, sizeof(float) * n);
    m->wb_stale = 1;
}
