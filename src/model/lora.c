/* LoRA adapters: layout, PEFT's initialisation, the forward/backward terms on the backend's
 * ops, PEFT's adapter directory, merging. */
#include "model/lora.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/model_int.h"

const char *const gta_lora_module[GTA_LORA_NT] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                  "gate_proj", "up_proj", "down_proj"};
static const char *const short_name[GTA_LORA_NT] = {"q", "k", "v", "o", "gate", "up", "down"};

int gta_lora_targets_parse(const char *list, unsigned *targets) {
    unsigned t = 0;
    const char *p = list;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && *p == ' ') p++, len--;
        while (len && p[len - 1] == ' ') len--;
        int found = 0;
        if (len == 3 && !strncmp(p, "all", 3)) t = GTA_LORA_ALL, found = 1;
        for (int k = 0; k < GTA_LORA_NT && !found; k++)
            if ((strlen(gta_lora_module[k]) == len && !strncmp(p, gta_lora_module[k], len)) ||
                (strlen(short_name[k]) == len && !strncmp(p, short_name[k], len)))
                t |= 1u << k, found = 1;
        if (!found && len)
            return gta_err_set(GTA_EINPUT,
                               "lora targets: '%.*s' is not one of q_proj, k_proj, v_proj, o_proj, "
                               "gate_proj, up_proj, down_proj",
                               (int)len, p);
        p = e ? e + 1 : NULL;
    }
    if (!t) return gta_err_set(GTA_EINPUT, "lora targets: '%s' names no module", list ? list : "");
    *targets = t;
    return GTA_OK;
}

void gta_lora_shape(const gta_config *c, int k, int *in, int *out, int *row0) {
    int d = c->hidden_size, q = c->num_heads * c->head_dim, kv = c->num_kv_heads * c->head_dim,
        f = c->intermediate_size;
    const int ins[GTA_LORA_NT] = {d, d, d, q, d, d, f}, outs[GTA_LORA_NT] = {q, kv, kv, d, f, f, d},
              rows[GTA_LORA_NT] = {0, q, q + kv, 0, 0, f, 0};
    *in = ins[k], *out = outs[k], *row0 = rows[k];
}

size_t gta_lora_n_params(const gta_config *c, const gta_lora_cfg *lc) {
    size_t n = 0;
    for (int k = 0; k < GTA_LORA_NT; k++)
        if (lc->targets & (1u << k)) {
            int in, out, r0;
            gta_lora_shape(c, k, &in, &out, &r0);
            n += (size_t)lc->r * (size_t)(in + out);
        }
    return n * (size_t)c->num_layers;
}

static int max_in(const gta_config *c, const gta_lora_cfg *lc) {
    int mx = 0;
    for (int k = 0; k < GTA_LORA_NT; k++)
        if (lc->targets & (1u << k)) {
            int in, out, r0;
            gta_lora_shape(c, k, &in, &out, &r0);
            if (in > mx) mx = in;
        }
    return mx;
}

static size_t ws_floats(const gta_config *c, const gta_lora_cfg *lc, int n) {
    return (size_t)n * (2 * (size_t)lc->r + (lc->dropout > 0 ? (size_t)max_in(c, lc) : 0));
}

size_t gta_lora_scratch_bytes(const gta_config *c, const gta_lora_cfg *lc, int n) {
    return sizeof(float) * ws_floats(c, lc, n);
}

float gta_lora_scale(const gta_lora_cfg *lc) {
    return (float)(lc->rslora ? lc->alpha / sqrt((double)lc->r) : lc->alpha / (double)lc->r);
}

/* the adapters' products need the backend's general product */
static int check_backend(const gta_model *m) {
    if (m->be->gemm) return GTA_OK;
    return gta_err_set(GTA_EINPUT,
                       "lora: the %s backend has no general product (gemm): LoRA is not supported on %s",
                       m->be->name, m->be->name);
}

static int check_cfg(const gta_lora_cfg *lc) {
    if (lc->r < 1 || !(lc->alpha > 0) || !(lc->dropout >= 0 && lc->dropout < 1) || !lc->targets ||
        (lc->targets & ~GTA_LORA_ALL))
        return gta_err_set(GTA_EINPUT,
                           "lora: r must be >= 1, alpha > 0, 0 <= dropout < 1, and a target named "
                           "(r %d, alpha %g, dropout %g)",
                           lc->r, lc->alpha, lc->dropout);
    return GTA_OK;
}

/* the layout: per layer, per target, A then B (PEFT's names) */
static gta_lora *lora_new(gta_model *m, const gta_lora_cfg *lc) {
    const gta_config *c = &m->cfg;
    gta_lora *a = gta_calloc(1, sizeof *a);
    a->cfg = *lc;
    a->scale = gta_lora_scale(lc);
    a->n = gta_lora_n_params(c, lc);
    int nt = 0;
    for (int k = 0; k < GTA_LORA_NT; k++) nt += (lc->targets >> k) & 1;
    a->n_tensors = 2 * nt * c->num_layers;
    a->tensors = gta_calloc((size_t)(a->n_tensors ? a->n_tensors : 1), sizeof(gta_param));
    a->A = gta_calloc((size_t)c->num_layers * GTA_LORA_NT, sizeof(float *));
    a->B = gta_calloc((size_t)c->num_layers * GTA_LORA_NT, sizeof(float *));
    a->params = m->be->alloc(m->ctx, sizeof(float) * (a->n ? a->n : 1));
    size_t off = 0;
    int i = 0;
    for (int l = 0; l < c->num_layers; l++)
        for (int k = 0; k < GTA_LORA_NT; k++) {
            if (!(lc->targets & (1u << k))) continue;
            int in, out, r0;
            gta_lora_shape(c, k, &in, &out, &r0);
            const char *blk = k <= GTA_LORA_O ? "self_attn" : "mlp";
            for (int ab = 0; ab < 2; ab++) {
                gta_param *p = &a->tensors[i++];
                snprintf(p->name, sizeof p->name, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", l,
                         blk, gta_lora_module[k], ab ? 'B' : 'A');
                p->ndim = 2;
                p->shape[0] = ab ? out : lc->r;
                p->shape[1] = ab ? lc->r : in;
                p->offset = off;
                p->decay = 1; /* transformers' Trainer decays every weight but biases and norms */
                (ab ? a->B : a->A)[l * GTA_LORA_NT + k] = a->params + off;
                off += (size_t)p->shape[0] * (size_t)p->shape[1];
            }
        }
    return a;
}

int gta_lora_attach(gta_model *m, const gta_lora_cfg *lc, uint64_t seed) {
    int rc = check_cfg(lc);
    if (!rc) rc = check_backend(m);
    if (rc) return rc;
    gta_lora_detach(m);
    gta_lora *a = lora_new(m, lc);
    /* PEFT: kaiming_uniform_(A, a=sqrt(5)): bound = sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(in); B = 0 */
    float *h = m->be->write_begin(m->ctx, a->params, sizeof(float) * a->n);
    for (int i = 0; i < a->n_tensors; i++) {
        const gta_param *p = &a->tensors[i];
        size_t cnt = (size_t)p->shape[0] * (size_t)p->shape[1];
        float *w = h + p->offset;
        if (i % 2) {
            memset(w, 0, sizeof(float) * cnt);
        } else {
            double bound = 1.0 / sqrt((double)p->shape[1]);
            for (size_t j = 0; j < cnt; j++)
                w[j] = (float)((2.0 * gta_rng_uniform(seed, 0x10a0000u + (uint64_t)i, j) - 1.0) * bound);
        }
    }
    m->be->write_end(m->ctx, a->params, h, sizeof(float) * a->n);
    m->lora = a;
    return GTA_OK;
}

void gta_lora_copy(gta_model *dst, const gta_model *src) {
    dst->be->copy(dst->ctx, dst->lora->params, src->lora->params, sizeof(float) * src->lora->n);
}

void gta_lora_detach(gta_model *m) {
    gta_lora *a = m->lora;
    if (!a) return;
    m->be->free(m->ctx, a->params);
    m->be->free(m->ctx, a->grads);
    m->be->free(m->ctx, a->ws);
    free(a->tensors);
    free(a->A);
    free(a->B);
    free(a);
    m->lora = NULL;
}

/* ------------------------------------------------------------------ forward / backward */

static float *lora_ws(gta_model *m, int n) {
    gta_lora *a = m->lora;
    size_t need = ws_floats(&m->cfg, &a->cfg, n);
    if (a->ws_cap < need) {
        m->be->free(m->ctx, a->ws);
        a->ws = m->be->alloc(m->ctx, sizeof(float) * need);
        a->ws_cap = need;
    }
    return a->ws;
}

void gta_lora_forward(gta_model *m, int l, int k, float *y, int ldy, const float *x, int n, int drop) {
    gta_lora *a = m->lora;
    const float *A = a->A[l * GTA_LORA_NT + k], *B = a->B[l * GTA_LORA_NT + k];
    if (!A || n <= 0) return;
    const gta_backend_ops *be = m->be;
    int in, out, r0, r = a->cfg.r;
    gta_lora_shape(&m->cfg, k, &in, &out, &r0);
    float *u = lora_ws(m, n), *xd = u + 2 * (size_t)n * r;
    const float *xin = x;
    if (drop && a->cfg.dropout > 0) {
        be->dropout(m->ctx, xd, x, (size_t)n * in, (float)a->cfg.dropout, a->drop_seed,
                    (uint64_t)l * GTA_LORA_NT + (uint64_t)k);
        xin = xd;
    }
    /* u = drop(x) A^T [n, r]; y[:, r0 .. r0+out) += s u B^T */
    be->gemm(m->ctx, 0, 1, n, r, in, 1.0f, xin, in, A, in, 0.0f, u, r);
    be->gemm(m->ctx, 0, 1, n, out, r, a->scale, u, r, B, r, 1.0f, y + r0, ldy);
}

void gta_lora_backward(gta_model *m, int l, int k, const float *dy, int ldy, const float *x, float *dx,
                       int n) {
    gta_lora *a = m->lora;
    const float *A = a->A[l * GTA_LORA_NT + k], *B = a->B[l * GTA_LORA_NT + k];
    if (!A || n <= 0) return;
    const gta_backend_ops *be = m->be;
    int in, out, r0, r = a->cfg.r;
    gta_lora_shape(&m->cfg, k, &in, &out, &r0);
    float *dA = a->grads + (A - a->params), *dB = a->grads + (B - a->params);
    float *u = lora_ws(m, n), *du = u + (size_t)n * r, *xd = du + (size_t)n * r;
    int drop = a->cfg.dropout > 0;
    uint64_t stream = (uint64_t)l * GTA_LORA_NT + (uint64_t)k;
    const float *xin = x;
    if (drop) {
        be->dropout(m->ctx, xd, x, (size_t)n * in, (float)a->cfg.dropout, a->drop_seed, stream);
        xin = xd;
    }
    const float *g = dy + r0;
    be->gemm(m->ctx, 0, 1, n, r, in, 1.0f, xin, in, A, in, 0.0f, u, r);     /* u = drop(x) A^T */
    be->gemm(m->ctx, 1, 0, out, r, n, a->scale, g, ldy, u, r, 1.0f, dB, r); /* dB += s dy^T u */
    be->gemm(m->ctx, 0, 0, n, r, out, a->scale, g, ldy, B, r, 0.0f, du, r); /* du = s dy B */
    be->gemm(m->ctx, 1, 0, r, in, n, 1.0f, du, r, xin, in, 1.0f, dA, in);   /* dA += du^T drop(x) */
    if (!drop) {
        be->gemm(m->ctx, 0, 0, n, in, r, 1.0f, du, r, A, in, 1.0f, dx, in); /* dx += du A */
    } else {
        be->gemm(m->ctx, 0, 0, n, in, r, 1.0f, du, r, A, in, 0.0f, xd, in);
        be->dropout(m->ctx, xd, xd, (size_t)n * in, (float)a->cfg.dropout, a->drop_seed, stream);
        be->add(m->ctx, dx, dx, xd, (size_t)n * in);
    }
}

/* ------------------------------------------------------------------ PEFT's directory */

int gta_lora_save(const gta_model *m, const char *dir, const char *base, int dtype) {
    st_dtype dt = dtype == ST_BF16 || dtype == ST_F16 ? (st_dtype)dtype : ST_F32;
    const gta_lora *a = m->lora;
    if (!a) return gta_err_set(GTA_EFAIL, "lora save: the model has no adapter");
    int rc = gta_mkdir_p(dir);
    if (rc) return rc;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "base_model_name_or_path", base ? base : "");
    cJSON_AddStringToObject(j, "bias", "none");
    cJSON_AddBoolToObject(j, "fan_in_fan_out", 0);
    cJSON_AddBoolToObject(j, "inference_mode", 1);
    cJSON_AddNumberToObject(j, "lora_alpha", a->cfg.alpha);
    cJSON_AddNumberToObject(j, "lora_dropout", a->cfg.dropout);
    cJSON_AddStringToObject(j, "peft_type", "LORA");
    cJSON_AddNumberToObject(j, "r", a->cfg.r);
    cJSON *tm = cJSON_AddArrayToObject(j, "target_modules");
    for (int k = 0; k < GTA_LORA_NT; k++)
        if (a->cfg.targets & (1u << k)) cJSON_AddItemToArray(tm, cJSON_CreateString(gta_lora_module[k]));
    cJSON_AddStringToObject(j, "task_type", "CAUSAL_LM");
    cJSON_AddBoolToObject(j, "use_rslora", a->cfg.rslora);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    char *path = gta_path_join(dir, "adapter_config.json");
    rc = gta_write_file_atomic(path, text, strlen(text));
    free(path);
    free(text);
    if (rc) return rc;
    st_entry *e = gta_calloc((size_t)(a->n_tensors ? a->n_tensors : 1), sizeof *e);
    const float *h = m->be->read_begin(m->ctx, a->params, sizeof(float) * a->n);
    uint16_t *half = dt == ST_F32 ? NULL : gta_malloc(sizeof(uint16_t) * (a->n ? a->n : 1));
    if (half) st_f32_to_dtype(h, a->n, dt, half);
    for (int i = 0; i < a->n_tensors; i++) {
        const gta_param *p = &a->tensors[i];
        const void *data = half ? (const void *)(half + p->offset) : (const void *)(h + p->offset);
        e[i] = (st_entry){p->name, dt, 2, {p->shape[0], p->shape[1]}, data};
    }
    path = gta_path_join(dir, "adapter_model.safetensors");
    rc = st_write(path, e, a->n_tensors, "{\"format\":\"pt\"}");
    m->be->read_end(m->ctx, h);
    free(half);
    free(path);
    free(e);
    return rc;
}

int gta_lora_read_config(const char *dir, gta_lora_cfg *lc) {
    char *path = gta_path_join(dir, "adapter_config.json");
    cJSON *j = NULL;
    int rc = gta_json_load(path, &j);
    memset(lc, 0, sizeof *lc);
    const char *s = NULL;
    long long r = 0;
    double alpha = 8, drop = 0;
    int rs = 0, fifo = 0;
    if (!rc) rc = gta_json_str_opt(path, j, "peft_type", &s);
    if (!rc && (!s || strcmp(s, "LORA") != 0))
        rc =
            gta_err_set(GTA_EINPUT, "%s: peft_type '%s': only LORA adapters are supported", path, s ? s : "");
    if (!rc) rc = gta_json_int_req(path, j, "r", &r);
    if (!rc) rc = gta_json_num_opt(path, j, "lora_alpha", &alpha);
    if (!rc) rc = gta_json_num_opt(path, j, "lora_dropout", &drop);
    if (!rc) rc = gta_json_bool_opt(path, j, "use_rslora", &rs);
    if (!rc) rc = gta_json_bool_opt(path, j, "fan_in_fan_out", &fifo);
    if (!rc && fifo) rc = gta_err_set(GTA_EINPUT, "%s: fan_in_fan_out true is not supported", path);
    s = NULL;
    if (!rc) rc = gta_json_str_opt(path, j, "bias", &s);
    if (!rc && s && strcmp(s, "none") != 0)
        rc = gta_err_set(GTA_EINPUT, "%s: bias '%s': only \"none\" is supported", path, s);
    unsigned t = 0;
    if (!rc) {
        const cJSON *tm = cJSON_GetObjectItem(j, "target_modules");
        if (cJSON_IsString(tm)) {
            rc = gta_lora_targets_parse(!strcmp(tm->valuestring, "all-linear") ? "all" : tm->valuestring, &t);
        } else if (cJSON_IsArray(tm)) {
            const cJSON *it;
            cJSON_ArrayForEach(it, tm) {
                unsigned one = 0;
                if (!cJSON_IsString(it)) {
                    rc = gta_err_set(GTA_EINPUT, "%s: target_modules: expected strings", path);
                    break;
                }
                if ((rc = gta_lora_targets_parse(it->valuestring, &one))) break;
                t |= one;
            }
        } else {
            rc = gta_err_set(GTA_EINPUT, "%s: target_modules: expected a list of module names", path);
        }
        if (rc) rc = gta_err_prefix(rc, "%s", path);
    }
    if (!rc && (r < 1 || r > 65536)) rc = gta_err_set(GTA_EINPUT, "%s: r %lld: expected 1 .. 65536", path, r);
    if (!rc) {
        *lc = (gta_lora_cfg){(int)r, alpha, drop, t, rs};
        rc = check_cfg(lc);
        if (rc) rc = gta_err_prefix(rc, "%s", path);
    }
    cJSON_Delete(j);
    free(path);
    return rc;
}

int gta_lora_load(gta_model *m, const char *dir) {
    gta_lora_cfg lc;
    int rc = gta_lora_read_config(dir, &lc);
    if (!rc) rc = check_backend(m);
    if (rc) return rc;
    char *path = gta_path_join(dir, "adapter_model.safetensors");
    st_set *st = NULL;
    rc = st_open_file(path, &st);
    if (rc) {
        free(path);
        return rc;
    }
    gta_lora_detach(m);
    gta_lora *a = lora_new(m, &lc);
    m->lora = a;
    float *h = m->be->write_begin(m->ctx, a->params, sizeof(float) * a->n);
    for (int i = 0; i < a->n_tensors && !rc; i++) {
        const gta_param *p = &a->tensors[i];
        const st_tensor *t = st_find(st, p->name);
        if (!t) {
            /* PEFT before 0.7 kept the adapter's name in the key */
            char alt[128];
            snprintf(alt, sizeof alt, "%.*s.default.weight", (int)(strlen(p->name) - strlen(".weight")),
                     p->name);
            t = st_find(st, alt);
        }
        if (!t) {
            rc = gta_err_set(GTA_EINPUT,
                             "%s: tensor '%s' is missing (adapter_config.json's target_modules and "
                             "the model's layers imply it)",
                             path, p->name);
            break;
        }
        if (t->ndim != 2 || t->shape[0] != p->shape[0] || t->shape[1] != p->shape[1]) {
            rc = gta_err_set(
                GTA_EINPUT, "%s: tensor '%s' has shape [%lld, %lld], the model and r = %d imply [%lld, %lld]",
                path, p->name, (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0), lc.r,
                (long long)p->shape[0], (long long)p->shape[1]);
            break;
        }
        rc = st_to_f32(st, t, h + p->offset);
    }
    m->be->write_end(m->ctx, a->params, h, sizeof(float) * a->n);
    st_close(st);
    free(path);
    if (rc) gta_lora_detach(m);
    return rc;
}

int gta_lora_merge(gta_model *m) {
    gta_lora *a = m->lora;
    if (!a) return GTA_OK;
    if (m->w16)
        return gta_err_set(GTA_EFAIL, "lora merge: the base is held in bf16; load it in fp32 to merge");
    const gta_config *c = &m->cfg;
    for (int l = 0; l < c->num_layers; l++) {
        const gta_layer_w *w = &m->layers[l];
        float *mat[GTA_LORA_NT] = {w->wqkv, w->wqkv, w->wqkv, w->wo, w->wgu, w->wgu, w->wd};
        for (int k = 0; k < GTA_LORA_NT; k++) {
            const float *A = a->A[l * GTA_LORA_NT + k], *B = a->B[l * GTA_LORA_NT + k];
            if (!A) continue;
            int in, out, r0;
            gta_lora_shape(c, k, &in, &out, &r0);
            /* W[r0 .. r0+out) += s B A */
            m->be->gemm(m->ctx, 0, 0, out, in, a->cfg.r, a->scale, B, a->cfg.r, A, in, 1.0f,
                        mat[k] + (size_t)r0 * in, in);
        }
    }
    gta_lora_detach(m);
    gta_model_params_changed(m); /* bf16 compute: the merged matrices rounded again */
    return GTA_OK;
}
