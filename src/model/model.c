#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "io/safetensors.h"

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

static gta_model *model_new(const gta_config *c) {
    gta_model *m = gta_calloc(1, sizeof *m);
    m->cfg = *c;
    layer_off *lo = gta_calloc((size_t)c->num_layers, sizeof *lo);
    size_t e, fn, lm;
    m->n_params = build_layout(c, &m->tensors, &m->n_tensors, lo, &e, &fn, &lm);
    m->params = gta_malloc_aligned(sizeof(float) * m->n_params);
    m->embed = m->params + e;
    m->final_norm = m->params + fn;
    m->lm_head = m->params + lm;
    m->layers = gta_calloc((size_t)c->num_layers, sizeof *m->layers);
#define P(o) ((o) == (size_t)-1 ? NULL : m->params + (o))
    for (int l = 0; l < c->num_layers; l++) {
        gta_layer_w *w = &m->layers[l];
        layer_off *L = &lo[l];
        *w = (gta_layer_w){P(L->attn_norm), P(L->wqkv), P(L->bqkv), P(L->q_norm), P(L->k_norm), P(L->wo),
                           P(L->bo),        P(L->mlp_norm), P(L->wgu), P(L->bgu), P(L->wd), P(L->bd)};
    }
#undef P
    free(lo);
    /* inverse frequencies in fp32 as transformers computes them, then rope scaling */
    int half = c->head_dim / 2;
    m->inv_freq = gta_malloc(sizeof(float) * (size_t)half);
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
        m->inv_freq[i] = f;
    }
    return m;
}

const gta_param *gta_model_find(const gta_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

/* ------------------------------------------------------------------ load / save */

static int check_tensor(const char *dir, const st_set *st, const gta_param *p);

int gta_model_load(const char *dir, gta_model **out) {
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
    layer_off *lo = gta_calloc((size_t)c.num_layers, sizeof *lo);
    size_t e_, fn_, lm_;
    build_layout(&c, &lay, &nlay, lo, &e_, &fn_, &lm_);
    free(lo);
    for (int i = 0; i < nlay && !rc; i++) rc = check_tensor(dir, st, &lay[i]);
    free(lay);
    if (rc) {
        st_close(st);
        return rc;
    }
    gta_model *m = model_new(&c);
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const gta_param *p = &m->tensors[i];
        const st_tensor *t = st_find(st, p->name);
        rc = st_to_f32(st, t, m->params + p->offset);
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
    gta_model *m = model_new(cfg);
    for (int i = 0; i < m->n_tensors; i++) {
        const gta_param *p = &m->tensors[i];
        float *w = m->params + p->offset;
        size_t n = (size_t)p->shape[0] * (size_t)(p->ndim == 2 ? p->shape[1] : 1);
        int is_norm = strstr(p->name, "norm") != NULL, is_bias = strstr(p->name, ".bias") != NULL;
#pragma omp parallel for schedule(static)
        for (size_t k = 0; k < n; k++)
            w[k] = is_norm ? 1.0f : is_bias ? 0.0f : (float)(0.02 * gta_rng_normal(seed, (uint64_t)i, k));
    }
    return m;
}

int gta_model_save(const gta_model *m, const char *dir) {
    int rc = gta_mkdir_p(dir);
    if (rc) return rc;
    st_entry *e = gta_calloc((size_t)m->n_tensors, sizeof *e);
    for (int i = 0; i < m->n_tensors; i++) {
        const gta_param *p = &m->tensors[i];
        e[i] = (st_entry){p->name, ST_F32, p->ndim, {p->shape[0], p->shape[1]}, m->params + p->offset};
    }
    char *path = gta_path_join(dir, "model.safetensors");
    rc = st_write(path, e, m->n_tensors, "{\"format\":\"pt\"}");
    free(path);
    free(e);
    if (rc) return rc;
    char *cj = gta_config_to_json(&m->cfg);
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

/* ------------------------------------------------------------------ activations */

typedef struct {
    float *rstd1, *qkv, *qk_raw, *qk_rstd, *att, *lse, *xmid, *rstd2, *gu;
} layer_acts;

struct gta_acts {
    int cap; /* tokens */
    float *mem, *scratch;
    float **R;   /* residual stream into layer l; R[L] after the last layer */
    layer_acts *la;
    float *rstd_f, *xf;
    float *rope; /* [n, head_dim] cos | sin of the saved batch's positions */
    int n;       /* tokens of the saved forward, -1 when none */
};

static size_t layer_floats(const gta_config *c, int n) {
    size_t d = (size_t)c->hidden_size, ld = (size_t)(c->num_heads + 2 * c->num_kv_heads) * (size_t)c->head_dim,
           H = (size_t)c->num_heads, q = H * (size_t)c->head_dim, f = (size_t)c->intermediate_size;
    size_t per = d + 1 + ld + q + H + d + 1 + 2 * f;
    if (c->qk_norm) per += ld + H + (size_t)c->num_kv_heads;
    return per * (size_t)n;
}

static size_t scratch_floats(const gta_config *c, int n) {
    size_t d = (size_t)c->hidden_size, ld = (size_t)(c->num_heads + 2 * c->num_kv_heads) * (size_t)c->head_dim,
           q = (size_t)c->num_heads * (size_t)c->head_dim, f = (size_t)c->intermediate_size;
    /* xn, h, dx, dxn, dqkv, datt, dh, dgu */
    return (size_t)n * (d + f + d + d + ld + q + f + 2 * f);
}

size_t gta_model_act_bytes(const gta_config *c, int n) {
    size_t d = (size_t)c->hidden_size;
    return sizeof(float) * (layer_floats(c, n) * (size_t)c->num_layers + (size_t)n * (2 * d + 1 + (size_t)c->head_dim) +
                            scratch_floats(c, n));
}

static void acts_free(struct gta_acts *a) {
    if (!a) return;
    gta_free_aligned(a->mem);
    gta_free_aligned(a->scratch);
    free(a->R);
    free(a->la);
    free(a);
}

static struct gta_acts *acts_get(gta_model *m, int n) {
    const gta_config *c = &m->cfg;
    struct gta_acts *a = m->acts;
    if (a && a->cap >= n) return a;
    acts_free(a);
    a = gta_calloc(1, sizeof *a);
    a->cap = n;
    size_t d = (size_t)c->hidden_size, ld = (size_t)(c->num_heads + 2 * c->num_kv_heads) * (size_t)c->head_dim,
           H = (size_t)c->num_heads, q = H * (size_t)c->head_dim, f = (size_t)c->intermediate_size,
           nn = (size_t)n, L = (size_t)c->num_layers;
    a->mem = gta_malloc_aligned(sizeof(float) * (layer_floats(c, n) * L + nn * (2 * d + 1 + (size_t)c->head_dim)));
    a->scratch = gta_malloc_aligned(sizeof(float) * scratch_floats(c, n));
    a->R = gta_calloc(L + 1, sizeof(float *));
    a->la = gta_calloc(L, sizeof(layer_acts));
    float *p = a->mem;
#define TAKE(cnt) (p += (cnt), p - (cnt))
    for (size_t l = 0; l < L; l++) {
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
    a->R[L] = TAKE(nn * d);
    a->rstd_f = TAKE(nn);
    a->xf = TAKE(nn * d);
    a->rope = TAKE(nn * (size_t)c->head_dim);
#undef TAKE
    a->n = -1;
    m->acts = a;
    return a;
}

void gta_model_free(gta_model *m) {
    if (!m) return;
    gta_free_aligned(m->params);
    if (m->grads) gta_free_aligned(m->grads);
    free(m->tensors);
    free(m->layers);
    free(m->inv_freq);
    acts_free(m->acts);
    if (m->dec_ws) gta_free_aligned(m->dec_ws);
    if (m->pack) gta_free_aligned(m->pack);
    free(m->pk);
    free(m);
}

void gta_model_alloc_grads(gta_model *m) {
    if (!m->grads) m->grads = gta_malloc_aligned(sizeof(float) * m->n_params);
    gta_model_zero_grads(m);
}

void gta_model_zero_grads(gta_model *m) {
    if (m->grads) memset(m->grads, 0, sizeof(float) * m->n_params);
}

/* ------------------------------------------------------------------ batches */

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

static int seg_max_keys(const gta_batch *b) {
    int mx = 1;
    for (int s = 0; s < b->nseg; s++) {
        int k = b->seg_len[s];
        for (int p = b->seg_parent[s]; p >= 0; p = b->seg_parent[p]) k += b->seg_len[p];
        if (k > mx) mx = k;
    }
    return mx;
}

void gta_batch_simple(gta_batch *b, const int *ids, int B, int T) {
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

/* ------------------------------------------------------------------ forward */

/* Embedding, layers and final norm: leaves the normed hidden states in acts->xf. */
static int forward_trunk(gta_model *m, const gta_batch *b, int train, gta_kv *kv, const int *slot) {
    int rc = gta_batch_check(m, b);
    if (rc) return rc;
    const gta_config *c = &m->cfg;
    const int n = b->n, d = c->hidden_size, H = c->num_heads, KV = c->num_kv_heads, hd = c->head_dim,
              f = c->intermediate_size, ld = (H + 2 * KV) * hd;
    const float eps = (float)c->rms_norm_eps;
    struct gta_acts *a = acts_get(m, n);
    a->n = -1;
    cpu_segs segs = {b->nseg, b->seg_start, b->seg_len, b->seg_parent, seg_max_keys(b)};
    float *xn = a->scratch, *h = xn + (size_t)n * d;
    float *x = a->R[0];
    cpu_rope_table(a->rope, b->pos, m->inv_freq, n, hd);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * d, m->embed + (size_t)b->ids[t] * d, sizeof(float) * (size_t)d);
    for (int l = 0; l < c->num_layers; l++) {
        const gta_layer_w *w = &m->layers[l];
        layer_acts *A = &a->la[l];
        float *xin = a->R[l], *xout = a->R[l + 1];
        cpu_rmsnorm(xn, A->rstd1, xin, w->attn_norm, n, d, eps);
        cpu_linear(A->qkv, xn, w->wqkv, w->bqkv, n, d, ld, 0.0f);
        if (c->qk_norm) {
            memcpy(A->qk_raw, A->qkv, sizeof(float) * (size_t)n * ld);
            cpu_headnorm(A->qkv, A->qk_rstd, w->q_norm, n, H, hd, ld, eps, A->qk_raw);
            cpu_headnorm(A->qkv + (size_t)H * hd, A->qk_rstd + (size_t)n * H, w->k_norm, n, KV, hd, ld, eps,
                         A->qk_raw + (size_t)H * hd);
        }
        cpu_rope(A->qkv, a->rope, n, H + KV, hd, ld, 1);
        if (kv) {
            size_t kd = (size_t)kv->kvdim, base = (size_t)l * kv->cap * kd;
#pragma omp parallel for schedule(static)
            for (int t = 0; t < n; t++) {
                memcpy(kv->k + base + (size_t)slot[t] * kd, A->qkv + (size_t)t * ld + (size_t)H * hd, sizeof(float) * kd);
                memcpy(kv->v + base + (size_t)slot[t] * kd, A->qkv + (size_t)t * ld + (size_t)(H + KV) * hd,
                       sizeof(float) * kd);
            }
        }
        cpu_attention(A->att, A->lse, A->qkv, &segs, n, H, KV, hd);
        cpu_linear(A->xmid, A->att, w->wo, w->bo, n, H * hd, d, 0.0f);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < (size_t)n * d; i++) A->xmid[i] += xin[i];
        cpu_rmsnorm(xn, A->rstd2, A->xmid, w->mlp_norm, n, d, eps);
        cpu_linear(A->gu, xn, w->wgu, w->bgu, n, d, 2 * f, 0.0f);
        cpu_swiglu(h, A->gu, n, f);
        cpu_linear(xout, h, w->wd, w->bd, n, f, d, 0.0f);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < (size_t)n * d; i++) xout[i] += A->xmid[i];
        x = xout;
    }
    cpu_rmsnorm(a->xf, a->rstd_f, x, m->final_norm, n, d, eps);
    if (train) a->n = n;
    return GTA_OK;
}

int gta_forward(gta_model *m, const gta_batch *b, float *lp, float *logits, int train) {
    int rc = forward_trunk(m, b, train, NULL, NULL);
    if (rc) return rc;
    const int n = b->n, d = m->cfg.hidden_size, V = m->cfg.vocab_size;
    struct gta_acts *a = m->acts;
    if (logits) cpu_linear(logits, a->xf, m->lm_head, NULL, n, d, V, 0.0f);
    if (lp) cpu_logprob_head(lp, NULL, NULL, NULL, a->xf, m->lm_head, b->lp_row, b->lp_target, b->nlp, n, d, V);
    return GTA_OK;
}

/* ------------------------------------------------------------------ backward */

/* Backward through the layers from d loss / d xf (in the scratch's dxn slot). */
static void backward_trunk(gta_model *m, const gta_batch *b) {
    struct gta_acts *a = m->acts;
    const gta_config *c = &m->cfg;
    const int n = b->n, d = c->hidden_size, H = c->num_heads, KV = c->num_kv_heads, hd = c->head_dim,
              f = c->intermediate_size, ld = (H + 2 * KV) * hd, q = H * hd;
    cpu_segs segs = {b->nseg, b->seg_start, b->seg_len, b->seg_parent, seg_max_keys(b)};
#define G(p) (m->grads + ((p) - m->params))
#define GN(p) ((p) ? G(p) : NULL)
    float *xn = a->scratch, *h = xn + (size_t)n * d, *dx = h + (size_t)n * f, *dxn = dx + (size_t)n * d,
          *dqkv = dxn + (size_t)n * d, *datt = dqkv + (size_t)n * ld, *dh = datt + (size_t)n * q,
          *dgu = dh + (size_t)n * f;
    cpu_rmsnorm_backward(dx, G(m->final_norm), dxn, a->R[c->num_layers], a->rstd_f, m->final_norm, n, d, 0);
    for (int l = c->num_layers - 1; l >= 0; l--) {
        const gta_layer_w *w = &m->layers[l];
        layer_acts *A = &a->la[l];
        /* MLP */
        cpu_rmsnorm_apply(xn, A->xmid, A->rstd2, w->mlp_norm, n, d);
        cpu_swiglu(h, A->gu, n, f);
        cpu_linear_dw(G(w->wd), GN(w->bd), dx, h, n, f, d);
        cpu_linear_dx(dh, dx, w->wd, n, f, d, 0.0f);
        cpu_swiglu_backward(dgu, dh, A->gu, n, f);
        cpu_linear_dw(G(w->wgu), GN(w->bgu), dgu, xn, n, d, 2 * f);
        cpu_linear_dx(dxn, dgu, w->wgu, n, d, 2 * f, 0.0f);
        cpu_rmsnorm_backward(dx, G(w->mlp_norm), dxn, A->xmid, A->rstd2, w->mlp_norm, n, d, 1);
        /* attention */
        cpu_linear_dw(G(w->wo), GN(w->bo), dx, A->att, n, q, d);
        cpu_linear_dx(datt, dx, w->wo, n, q, d, 0.0f);
        cpu_attention_backward(dqkv, datt, A->att, A->lse, A->qkv, &segs, n, H, KV, hd);
        cpu_rope(dqkv, a->rope, n, H + KV, hd, ld, -1);
        if (c->qk_norm) {
            cpu_headnorm_backward(dqkv, G(w->q_norm), dqkv, A->qk_raw, A->qk_rstd, w->q_norm, n, H, hd, ld);
            cpu_headnorm_backward(dqkv + (size_t)H * hd, G(w->k_norm), dqkv + (size_t)H * hd,
                                  A->qk_raw + (size_t)H * hd, A->qk_rstd + (size_t)n * H, w->k_norm, n, KV, hd, ld);
        }
        cpu_rmsnorm_apply(xn, a->R[l], A->rstd1, w->attn_norm, n, d);
        cpu_linear_dw(G(w->wqkv), GN(w->bqkv), dqkv, xn, n, d, ld);
        cpu_linear_dx(dxn, dqkv, w->wqkv, n, d, ld, 0.0f);
        cpu_rmsnorm_backward(dx, G(w->attn_norm), dxn, a->R[l], A->rstd1, w->attn_norm, n, d, 1);
    }
    /* embedding: columns split across threads, so no two threads touch one float */
    float *de = G(m->embed);
#pragma omp parallel for schedule(static)
    for (int i0 = 0; i0 < d; i0 += 16) {
        int i1 = i0 + 16 < d ? i0 + 16 : d;
        for (int t = 0; t < n; t++) {
            float *row = de + (size_t)b->ids[t] * d;
            const float *g = dx + (size_t)t * d;
            for (int i = i0; i < i1; i++) row[i] += g[i];
        }
    }
#undef G
#undef GN
}

/* where backward_trunk expects d loss / d xf */
static float *dxf_slot(gta_model *m, int n) {
    const gta_config *c = &m->cfg;
    return m->acts->scratch + (size_t)n * (2 * (size_t)c->hidden_size + (size_t)c->intermediate_size);
}

int gta_backward(gta_model *m, const gta_batch *b, const float *dlp) {
    struct gta_acts *a = m->acts;
    if (!a || a->n != b->n || !m->grads)
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
    cpu_logprob_head(NULL, dxf_slot(m, n), m->grads + (m->lm_head - m->params), g, a->xf, m->lm_head, row, tg, keep,
                     n, d, V);
    if (keep < b->nlp) free(row), free(tg), free(g);
    backward_trunk(m, b);
    return GTA_OK;
}

int gta_forward_backward(gta_model *m, const gta_batch *b, float *lp, float *dlp, gta_dlp_fn fn, void *ctx) {
    if (!m->grads) return gta_err_set(GTA_EFAIL, "forward_backward without gradients allocated");
    int rc = forward_trunk(m, b, 1, NULL, NULL);
    if (rc) return rc;
    const int n = b->n, d = m->cfg.hidden_size, V = m->cfg.vocab_size;
    cpu_logprob_head_fused(lp, dlp, fn, ctx, dxf_slot(m, n), m->grads + (m->lm_head - m->params), m->acts->xf,
                           m->lm_head, b->lp_row, b->lp_target, b->nlp, n, d, V);
    backward_trunk(m, b);
    return GTA_OK;
}

/* ------------------------------------------------------------------ KV cache, decoding */

size_t gta_kv_bytes(const gta_config *c, int cap) {
    return sizeof(float) * 2 * (size_t)c->num_layers * (size_t)cap * (size_t)c->num_kv_heads * (size_t)c->head_dim;
}

void gta_kv_init(gta_kv *kv, const gta_config *c, int cap) {
    kv->cap = cap;
    kv->layers = c->num_layers;
    kv->kvdim = c->num_kv_heads * c->head_dim;
    size_t n = (size_t)kv->layers * (size_t)cap * (size_t)kv->kvdim;
    kv->k = gta_malloc_aligned(sizeof(float) * n);
    kv->v = gta_malloc_aligned(sizeof(float) * n);
}

void gta_kv_free(gta_kv *kv) {
    if (kv->k) gta_free_aligned(kv->k);
    if (kv->v) gta_free_aligned(kv->v);
    kv->k = kv->v = NULL;
}

int gta_prefill(gta_model *m, const gta_batch *b, gta_kv *kv, const int *slot, const int *rows, int nrows,
                float *logits) {
    for (int t = 0; t < b->n; t++)
        if (slot[t] < 0 || slot[t] >= kv->cap) return gta_err_set(GTA_EFAIL, "prefill: slot %d outside the cache", slot[t]);
    int rc = forward_trunk(m, b, 0, kv, slot);
    if (rc) return rc;
    const int d = m->cfg.hidden_size, V = m->cfg.vocab_size;
    float *x = gta_malloc(sizeof(float) * (size_t)nrows * d); /* a few rows: the prompts' last */
    for (int i = 0; i < nrows; i++) memcpy(x + (size_t)i * d, m->acts->xf + (size_t)rows[i] * d, sizeof(float) * (size_t)d);
    cpu_linear(logits, x, m->lm_head, NULL, nrows, d, V, 0.0f);
    free(x);
    return GTA_OK;
}

static size_t decode_floats(const gta_config *c, int B) {
    size_t d = (size_t)c->hidden_size, ld = (size_t)(c->num_heads + 2 * c->num_kv_heads) * (size_t)c->head_dim,
           q = (size_t)c->num_heads * (size_t)c->head_dim, f = (size_t)c->intermediate_size;
    /* x, xn, qkv, raw, att, gu, h, rope, rstd */
    return (size_t)B * (2 * d + 2 * ld + q + 3 * f + (size_t)c->head_dim + (size_t)(c->num_heads + c->num_kv_heads) + 2);
}

size_t gta_decode_bytes(const gta_config *c, int prefill_tokens, int B) {
    return gta_model_act_bytes(c, prefill_tokens) + sizeof(float) * decode_floats(c, B);
}

static int pack_supported(void) {
    static int s = -1;
    if (s < 0) s = __builtin_cpu_supports("avx512f");
    return s;
}

static size_t panel_bytes(int out, int in, int bf16) {
    return bf16 ? sizeof(uint16_t) * cpu_panel_bf16_elems(out, in) : sizeof(float) * cpu_panel_floats(out, in);
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

size_t gta_decode_pack_bytes(const gta_config *c, int bf16) {
    /* fp32 panels only pay off with AVX-512 (elsewhere the skinny kernels stream W as it
     * is); bf16 panels halve the bytes on any machine (AVX2 kernels without AVX-512) */
    if (!bf16 && !pack_supported()) return 0;
    size_t bytes = 0;
    for (int k = 0, out, in; k <= 4 * c->num_layers; k++) {
        decode_mat_shape(c, k, &out, &in);
        bytes += panel_bytes(out, in, bf16);
    }
    return bytes;
}

void gta_decode_pack(gta_model *m, int bf16) {
    const gta_config *c = &m->cfg;
    size_t bytes = gta_decode_pack_bytes(c, bf16);
    if (!bytes) { /* decode from the weights as they are; drop panels of an earlier call */
        if (m->pack) gta_free_aligned(m->pack);
        m->pack = NULL;
        m->pack_cap = 0;
        return;
    }
    if (m->pack_cap < bytes) {
        if (m->pack) gta_free_aligned(m->pack);
        m->pack = gta_malloc_aligned(bytes);
        m->pack_cap = bytes;
    }
    if (!m->pk) m->pk = gta_calloc((size_t)(4 * c->num_layers + 1), sizeof(void *));
    m->pack_bf16 = bf16;
    char *at = m->pack;
    for (int k = 0, out, in; k <= 4 * c->num_layers; k++) {
        decode_mat_shape(c, k, &out, &in);
        m->pk[k] = at;
        if (bf16)
            cpu_pack_panels_bf16((uint16_t *)at, decode_mat(m, k), out, in);
        else
            cpu_pack_panels((float *)at, decode_mat(m, k), out, in);
        at += panel_bytes(out, in, bf16);
    }
}

/* a decode product: from the packed panels when gta_decode_pack made them */
static void dec_linear(const gta_model *m, int which, float *y, const float *x, const float *w, const float *b, int n,
                       int in, int out, float beta) {
    if (m->pack && m->pk && m->pk[which]) {
        if (m->pack_bf16)
            cpu_linear_panels_bf16(y, x, m->pk[which], b, n, in, out, beta);
        else
            cpu_linear_panels(y, x, m->pk[which], b, n, in, out, beta);
    } else
        cpu_linear(y, x, w, b, n, in, out, beta);
}

int gta_decode(gta_model *m, gta_kv *kv, int B, const int *tok, const int *pos, const int *slot,
               const gta_range *ranges, int nr, float *logits) {
    const gta_config *c = &m->cfg;
    const int d = c->hidden_size, H = c->num_heads, KV = c->num_kv_heads, hd = c->head_dim, f = c->intermediate_size,
              ld = (H + 2 * KV) * hd, V = c->vocab_size;
    const float eps = (float)c->rms_norm_eps;
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
        if (m->dec_ws) gta_free_aligned(m->dec_ws);
        m->dec_ws = gta_malloc_aligned(sizeof(float) * need);
        m->dec_cap = need;
    }
    float *x = m->dec_ws, *xn = x + (size_t)B * d, *qkv = xn + (size_t)B * d, *raw = qkv + (size_t)B * ld,
          *att = raw + (size_t)B * ld, *gu = att + (size_t)B * H * hd, *h = gu + (size_t)B * 2 * f,
          *rope = h + (size_t)B * f, *rstd = rope + (size_t)B * hd, *qk_rstd = rstd + B;
    int *rs = gta_malloc(sizeof(int) * (size_t)(B * nr)), *rl = gta_malloc(sizeof(int) * (size_t)(B * nr));
    for (int i = 0; i < B * nr; i++) rs[i] = ranges[i].start, rl[i] = ranges[i].len;
    cpu_rope_table(rope, pos, m->inv_freq, B, hd);
    for (int i = 0; i < B; i++) memcpy(x + (size_t)i * d, m->embed + (size_t)tok[i] * d, sizeof(float) * (size_t)d);
    size_t kd = (size_t)kv->kvdim;
    for (int l = 0; l < c->num_layers; l++) {
        const gta_layer_w *w = &m->layers[l];
        cpu_rmsnorm(xn, rstd, x, w->attn_norm, B, d, eps);
        dec_linear(m, 4 * l, qkv, xn, w->wqkv, w->bqkv, B, d, ld, 0.0f);
        if (c->qk_norm) {
            memcpy(raw, qkv, sizeof(float) * (size_t)B * ld);
            cpu_headnorm(qkv, qk_rstd, w->q_norm, B, H, hd, ld, eps, raw);
            cpu_headnorm(qkv + (size_t)H * hd, qk_rstd, w->k_norm, B, KV, hd, ld, eps, raw + (size_t)H * hd);
        }
        cpu_rope(qkv, rope, B, H + KV, hd, ld, 1);
        float *kl = kv->k + (size_t)l * kv->cap * kd, *vl = kv->v + (size_t)l * kv->cap * kd;
        for (int i = 0; i < B; i++) {
            memcpy(kl + (size_t)slot[i] * kd, qkv + (size_t)i * ld + (size_t)H * hd, sizeof(float) * kd);
            memcpy(vl + (size_t)slot[i] * kd, qkv + (size_t)i * ld + (size_t)(H + KV) * hd, sizeof(float) * kd);
        }
        cpu_attention_decode(att, qkv, ld, kl, vl, rs, rl, nr, B, H, KV, hd);
        dec_linear(m, 4 * l + 1, x, att, w->wo, w->bo, B, H * hd, d, 1.0f); /* residual: accumulate into x */
        cpu_rmsnorm(xn, rstd, x, w->mlp_norm, B, d, eps);
        dec_linear(m, 4 * l + 2, gu, xn, w->wgu, w->bgu, B, d, 2 * f, 0.0f);
        cpu_swiglu(h, gu, B, f);
        dec_linear(m, 4 * l + 3, x, h, w->wd, w->bd, B, f, d, 1.0f);
    }
    cpu_rmsnorm(xn, rstd, x, m->final_norm, B, d, eps);
    dec_linear(m, 4 * c->num_layers, logits, xn, m->lm_head, NULL, B, d, V, 0.0f);
    free(rs);
    free(rl);
    return GTA_OK;
}
