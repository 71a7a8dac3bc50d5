/* LoRA (model/lora.h) and activation recomputation: with B = 0 the base's logits bit for
 * bit; finite-difference gradients of A and B (and through the dropout masks); merging
 * (W + s B A, and the merged model's logits against the adapter's); an adapter written here
 * in PEFT's layout with known values against logits of weights changed by hand; PEFT's
 * names, shapes and config keys; recomputation against the kept activations, bit for bit. */
#include "testutil.h"

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
#include "model/lora.h"
#include "model/model.h"

static gta_lora_cfg lcfg(int r, double alpha, double drop, unsigned targets, int rs) {
    return (gta_lora_cfg){r, alpha, drop, targets, rs};
}

/* B random too (PEFT's B = 0 gives A no gradient) */
static void randomize_b(gta_model *m, uint64_t seed) {
    gta_lora *a = m->lora;
    for (int i = 1; i < a->n_tensors; i += 2) {
        const gta_param *p = &a->tensors[i];
        for (int64_t k = 0; k < p->shape[0] * p->shape[1]; k++)
            a->params[p->offset + (size_t)k] = (float)(0.3 * gta_rng_normal(seed, (uint64_t)i, (uint64_t)k));
    }
}

typedef struct {
    gta_batch b;
    int ids[18];
} tbatch;

static void make_batch(tbatch *t, int V) {
    for (int i = 0; i < 18; i++) t->ids[i] = (int)(gta_rng_u64(3, 0, (uint64_t)i) % (uint64_t)V);
    gta_batch_simple(&t->b, t->ids, 2, 9);
}

static float *logits_of(gta_model *m, const gta_batch *b) {
    float *lg = malloc(sizeof(float) * (size_t)b->n * (size_t)m->cfg.vocab_size);
    assert_int_equal(gta_forward(m, b, NULL, lg, 0), GTA_OK);
    return lg;
}

static void test_b_zero_is_base(void **s) {
    (void)s;
    const gta_arch archs[3] = {GTA_ARCH_QWEN2, GTA_ARCH_QWEN3, GTA_ARCH_LLAMA};
    for (int ai = 0; ai < 3; ai++) {
        gta_config c = tu_tiny_config(archs[ai]);
        gta_model *m = tu_random_model(&c, 21);
        tbatch t;
        make_batch(&t, c.vocab_size);
        size_t nl = (size_t)t.b.n * (size_t)c.vocab_size;
        float *base = logits_of(m, &t.b);
        gta_lora_cfg lc = lcfg(4, 8, 0, GTA_LORA_ALL, 0);
        assert_int_equal(gta_lora_attach(m, &lc, 5), GTA_OK);
        /* A is PEFT's Kaiming-uniform: inside +-1/sqrt(in), not all zero; B zero */
        const gta_lora *a = m->lora;
        double amax = 0;
        for (int i = 0; i < a->n_tensors; i++) {
            const gta_param *p = &a->tensors[i];
            double bound = 1.0 / sqrt((double)p->shape[1]);
            for (int64_t k = 0; k < p->shape[0] * p->shape[1]; k++) {
                float v = a->params[p->offset + (size_t)k];
                if (i % 2)
                    assert_true(v == 0.0f);
                else
                    assert_true(fabs(v) <= bound), amax = fmax(amax, fabs(v) / bound);
            }
        }
        assert_true(amax > 0.9); /* the uniform reaches near its bound */
        float *with = logits_of(m, &t.b);
        assert_memory_equal(base, with, sizeof(float) * nl);
        /* a training forward with dropout on: still the base (B = 0) */
        gta_lora_cfg ld = lcfg(4, 8, 0.3, GTA_LORA_ALL, 0);
        assert_int_equal(gta_lora_attach(m, &ld, 5), GTA_OK);
        float *lp0 = malloc(sizeof(float) * (size_t)t.b.nlp), *lp1 = malloc(sizeof(float) * (size_t)t.b.nlp);
        gta_lora_detach(m);
        assert_int_equal(gta_forward(m, &t.b, lp0, NULL, 0), GTA_OK);
        assert_int_equal(gta_lora_attach(m, &ld, 5), GTA_OK);
        gta_model_alloc_grads(m);
        assert_int_equal(gta_forward(m, &t.b, lp1, NULL, 1), GTA_OK);
        assert_memory_equal(lp0, lp1, sizeof(float) * (size_t)t.b.nlp);
        free(lp0), free(lp1), free(base), free(with);
        gta_batch_free_simple(&t.b);
        gta_model_free(m);
    }
}

/* L = sum_k w_k lp_k of a forward (train: the dropout masks of a training forward) */
static double objective(gta_model *m, const gta_batch *b, const float *w, int train) {
    float *lp = malloc(sizeof(float) * (size_t)b->nlp);
    assert_int_equal(gta_forward(m, b, lp, NULL, train), GTA_OK);
    double L = 0;
    for (int k = 0; k < b->nlp; k++) L += (double)w[k] * lp[k];
    free(lp);
    return L;
}

static void fd_lora(gta_arch arch, double dropout, int rslora, const char *label) {
    gta_config c = tu_tiny_config(arch);
    gta_model *m = tu_random_model(&c, 31);
    gta_lora_cfg lc = lcfg(3, 5, dropout, GTA_LORA_ALL, rslora);
    assert_int_equal(gta_lora_attach(m, &lc, 7), GTA_OK);
    randomize_b(m, 8);
    m->lora->drop_seed = 99;
    tbatch t;
    make_batch(&t, c.vocab_size);
    float *w = malloc(sizeof(float) * (size_t)t.b.nlp), *lp = malloc(sizeof(float) * (size_t)t.b.nlp);
    for (int k = 0; k < t.b.nlp; k++) w[k] = (float)(2.0 * gta_rng_uniform(5, 0, (uint64_t)k) - 1.0);
    gta_model_alloc_grads(m);
    assert_null(m->grads); /* the base is frozen */
    assert_int_equal(gta_forward(m, &t.b, lp, NULL, 1), GTA_OK);
    assert_int_equal(gta_backward(m, &t.b, w), GTA_OK);
    gta_lora *a = m->lora;
    int checked = 0;
    double worst = 0;
    for (int i = 0; i < a->n_tensors; i++) {
        const gta_param *p = &a->tensors[i];
        size_t cnt = (size_t)(p->shape[0] * p->shape[1]);
        size_t pick[3] = {0, gta_rng_u64(9, (uint64_t)i, 0) % cnt, gta_rng_u64(9, (uint64_t)i, 1) % cnt};
        for (size_t k = 0; k < cnt; k++)
            if (fabsf(a->grads[p->offset + k]) > fabsf(a->grads[p->offset + pick[0]])) pick[0] = k;
        for (int s = 0; s < 3; s++) {
            size_t at = p->offset + pick[s];
            float keep = a->params[at], h = 1e-2f;
            a->params[at] = keep + h;
            double lplus = objective(m, &t.b, w, 1);
            a->params[at] = keep - h;
            double lminus = objective(m, &t.b, w, 1);
            a->params[at] = keep;
            double fd = (lplus - lminus) / (2.0 * h), an = a->grads[at];
            double tol = 3e-3 + 2e-2 * fabs(an);
            if (fabs(fd - an) / tol > worst) worst = fabs(fd - an) / tol;
            if (fabs(fd - an) > tol)
                fail_msg("%s: %s[%zu]: analytic %.6g, finite difference %.6g", label, p->name, pick[s], an,
                         fd);
            checked++;
        }
    }
    assert_true(worst > 0); /* gradients were compared, not all zero */
    printf("  %-40s %3d entries, worst |fd-an|/tol %.3f\n", label, checked, worst);
    free(w), free(lp);
    gta_batch_free_simple(&t.b);
    gta_model_free(m);
}

static void test_fd_lora(void **s) {
    (void)s;
    fd_lora(GTA_ARCH_QWEN2, 0, 0, "qwen2 r3 every target");
    fd_lora(GTA_ARCH_QWEN3, 0, 1, "qwen3 r3 rslora qk-norm");
    fd_lora(GTA_ARCH_LLAMA, 0.25, 0, "llama r3 dropout 0.25");
}

/* The dropout mask is on: a training forward differs from an inference one, and the masks
 * repeat for the same seed. */
static void test_dropout_masks(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_LLAMA);
    gta_model *m = tu_random_model(&c, 41);
    gta_lora_cfg lc = lcfg(4, 8, 0.5, GTA_LORA_ALL, 0);
    assert_int_equal(gta_lora_attach(m, &lc, 7), GTA_OK);
    randomize_b(m, 8);
    gta_model_alloc_grads(m);
    tbatch t;
    make_batch(&t, c.vocab_size);
    size_t np = (size_t)t.b.nlp;
    float *a = malloc(sizeof(float) * np), *b = malloc(sizeof(float) * np), *e = malloc(sizeof(float) * np);
    m->lora->drop_seed = 1;
    assert_int_equal(gta_forward(m, &t.b, a, NULL, 1), GTA_OK);
    assert_int_equal(gta_forward(m, &t.b, b, NULL, 1), GTA_OK);
    assert_memory_equal(a, b, sizeof(float) * np);
    assert_int_equal(gta_forward(m, &t.b, e, NULL, 0), GTA_OK);
    assert_true(tu_max_abs_diff(a, e, np, NULL) > 1e-3);
    m->lora->drop_seed = 2;
    assert_int_equal(gta_forward(m, &t.b, b, NULL, 1), GTA_OK);
    assert_true(tu_max_abs_diff(a, b, np, NULL) > 1e-3);
    /* the backend's mask keeps 1 - p of the entries, scaled by 1/(1-p) */
    size_t n = 100000, kept = 0;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) x[i] = 1.0f;
    m->be->dropout(m->ctx, y, x, n, 0.3f, 5, 6);
    for (size_t i = 0; i < n; i++) {
        assert_true(y[i] == 0.0f || fabsf(y[i] - 1.0f / 0.7f) < 1e-6f);
        kept += y[i] != 0.0f;
    }
    assert_true(fabs((double)kept / n - 0.7) < 0.01); /* 7 sigma of a binomial(1e5, .7) is 0.01 */
    free(x), free(y), free(a), free(b), free(e);
    gta_batch_free_simple(&t.b);
    gta_model_free(m);
}

/* W + s B A by hand in double, for target k of layer l, into the host weights w */
static void add_by_hand(const gta_config *c, const gta_layer_w *lw, float *params_base, float *dst_params,
                        const float *A, const float *B, int r, double s, int k) {
    int in, out, r0;
    gta_lora_shape(c, k, &in, &out, &r0);
    const float *mats[GTA_LORA_NT] = {lw->wqkv, lw->wqkv, lw->wqkv, lw->wo, lw->wgu, lw->wgu, lw->wd};
    size_t off = (size_t)(mats[k] - params_base) + (size_t)r0 * in;
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) {
            double acc = 0;
            for (int j = 0; j < r; j++) acc += (double)B[o * r + j] * A[j * in + i];
            dst_params[off + (size_t)o * in + i] += (float)(s * acc);
        }
}

static void test_merge(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_QWEN2);
    gta_model *m = tu_random_model(&c, 51);
    gta_model *ref = gta_model_clone(m);
    gta_lora_cfg lc = lcfg(4, 6, 0, GTA_LORA_ALL & ~(1u << GTA_LORA_K), 1);
    assert_int_equal(gta_lora_attach(m, &lc, 9), GTA_OK);
    randomize_b(m, 10);
    double sc = 6 / sqrt(4.0);
    assert_true(fabs(m->lora->scale - sc) < 1e-6);
    for (int l = 0; l < c.num_layers; l++)
        for (int k = 0; k < GTA_LORA_NT; k++)
            if (m->lora->A[l * GTA_LORA_NT + k])
                add_by_hand(&c, &m->layers[l], m->params, ref->params, m->lora->A[l * GTA_LORA_NT + k],
                            m->lora->B[l * GTA_LORA_NT + k], 4, sc, k);
    tbatch t;
    make_batch(&t, c.vocab_size);
    size_t nl = (size_t)t.b.n * (size_t)c.vocab_size;
    float *adapted = logits_of(m, &t.b);
    assert_int_equal(gta_lora_merge(m), GTA_OK);
    assert_null(m->lora);
    size_t at;
    double dw = tu_max_abs_diff(m->params, ref->params, m->n_params, &at);
    printf("  merged weights vs W + s B A in double: max |diff| %.3g\n", dw);
    assert_true(dw < 1e-6);
    float *merged = logits_of(m, &t.b);
    double dl = tu_max_abs_diff(adapted, merged, nl, NULL);
    printf("  merged model's logits vs the adapter model's: max |diff| %.3g\n", dl);
    assert_true(dl < 1e-5);
    assert_true(tu_max_abs(adapted, nl) > 0.1);
    free(adapted), free(merged);
    gta_batch_free_simple(&t.b);
    gta_model_free(m);
    gta_model_free(ref);
}

/* An adapter directory written here as PEFT writes one (names, shapes, config keys), with
 * known values, loads and gives the logits of the base with W + s B A put in by hand. */
static void test_load_peft_layout(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_LLAMA);
    gta_model *m = tu_random_model(&c, 61);
    gta_model *ref = gta_model_clone(m);
    char *dir = tu_tmpdir();
    const int r = 2;
    const double alpha = 3;
    /* q_proj and down_proj only, values k/100-ish known in closed form */
    const char *cfg =
        "{\n \"alpha_pattern\": {},\n \"base_model_name_or_path\": \"x/base\",\n \"bias\": \"none\",\n"
        " \"fan_in_fan_out\": false,\n \"inference_mode\": true,\n \"init_lora_weights\": true,\n"
        " \"lora_alpha\": 3,\n \"lora_dropout\": 0.05,\n \"modules_to_save\": null,\n"
        " \"peft_type\": \"LORA\",\n \"r\": 2,\n \"rank_pattern\": {},\n"
        " \"target_modules\": [\"down_proj\", \"q_proj\"],\n \"task_type\": \"CAUSAL_LM\",\n"
        " \"use_rslora\": false\n}\n";
    char *p = gta_path_join(dir, "adapter_config.json");
    assert_int_equal(gta_write_file_atomic(p, cfg, strlen(cfg)), GTA_OK);
    free(p);
    int d = c.hidden_size, q = c.num_heads * c.head_dim, f = c.intermediate_size;
    int n_e = 4 * c.num_layers;
    st_entry *e = calloc((size_t)n_e, sizeof *e);
    char(*names)[128] = calloc((size_t)n_e, 128);
    uint16_t **bufs = calloc((size_t)n_e, sizeof *bufs); /* bf16, as PEFT saves a bf16 run's adapter */
    float **vals = calloc((size_t)n_e, sizeof *vals);
    int k = 0;
    for (int l = 0; l < c.num_layers; l++)
        for (int t2 = 0; t2 < 2; t2++) {
            const char *mod = t2 ? "mlp.down_proj" : "self_attn.q_proj";
            int in = t2 ? f : d, out = t2 ? d : q;
            for (int ab = 0; ab < 2; ab++, k++) {
                snprintf(names[k], 128, "base_model.model.model.layers.%d.%s.lora_%c.weight", l, mod,
                         ab ? 'B' : 'A');
                int rows = ab ? out : r, cols = ab ? r : in;
                bufs[k] = malloc(sizeof(uint16_t) * (size_t)rows * cols);
                vals[k] = malloc(sizeof(float) * (size_t)rows * cols);
                for (int i = 0; i < rows * cols; i++) {
                    /* multiples of 1/64 below 2: exact in bf16 */
                    float v = (float)(((i * 7 + k * 3 + l) % 23) - 11) / 64.0f;
                    vals[k][i] = v;
                    uint32_t u;
                    memcpy(&u, &v, 4);
                    bufs[k][i] = (uint16_t)(u >> 16);
                }
                e[k] = (st_entry){names[k], ST_BF16, 2, {rows, cols}, bufs[k]};
            }
        }
    p = gta_path_join(dir, "adapter_model.safetensors");
    assert_int_equal(st_write(p, e, n_e, "{\"format\":\"pt\"}"), GTA_OK);
    free(p);
    assert_int_equal(gta_lora_load(m, dir), GTA_OK);
    assert_int_equal(m->lora->cfg.r, 2);
    assert_true(m->lora->cfg.targets == ((1u << GTA_LORA_Q) | (1u << GTA_LORA_DOWN)));
    assert_true(fabs(m->lora->scale - 1.5) < 1e-7);
    /* the expected weights, by hand */
    for (int l = 0, kk = 0; l < c.num_layers; l++)
        for (int t2 = 0; t2 < 2; t2++, kk += 2)
            add_by_hand(&c, &ref->layers[l], ref->params, ref->params, vals[kk], vals[kk + 1], r, alpha / r,
                        t2 ? GTA_LORA_DOWN : GTA_LORA_Q);
    tbatch t;
    make_batch(&t, c.vocab_size);
    size_t nl = (size_t)t.b.n * (size_t)c.vocab_size;
    float *got = logits_of(m, &t.b), *want = logits_of(ref, &t.b);
    double dl = tu_max_abs_diff(got, want, nl, NULL);
    printf("  PEFT-layout adapter's logits vs W + s B A by hand: max |diff| %.3g\n", dl);
    assert_true(dl < 1e-4);
    /* and the adapter changed them */
    gta_lora_detach(m);
    float *base = logits_of(m, &t.b);
    assert_true(tu_max_abs_diff(base, want, nl, NULL) > 1e-2);
    /* a wrong shape is an error naming the file and the tensor */
    uint16_t *big = calloc((size_t)(q + 1) * r, sizeof(uint16_t)); /* the data of the wrong shape */
    e[1].shape[0] = q + 1;
    e[1].data = big;
    p = gta_path_join(dir, "adapter_model.safetensors");
    assert_int_equal(st_write(p, e, n_e, NULL), GTA_OK);
    free(p);
    assert_int_equal(gta_lora_load(m, dir), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "adapter_model.safetensors"));
    assert_non_null(strstr(gta_err_msg(), "layers.0.self_attn.q_proj.lora_B.weight"));
    assert_null(m->lora);
    free(big);
    for (int i = 0; i < n_e; i++) free(bufs[i]), free(vals[i]);
    free(bufs), free(vals), free(names), free(e), free(got), free(want), free(base);
    gta_batch_free_simple(&t.b);
    tu_rm_rf(dir);
    free(dir);
    gta_model_free(m);
    gta_model_free(ref);
}

/* What gta writes: PEFT's file names, tensor names and shapes, config keys and values. */
static void test_save_is_peft(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_QWEN2);
    gta_model *m = tu_random_model(&c, 71);
    gta_lora_cfg lc = lcfg(4, 16, 0.05, GTA_LORA_ALL, 0);
    assert_int_equal(gta_lora_attach(m, &lc, 1), GTA_OK);
    randomize_b(m, 2);
    char *dir = tu_tmpdir();
    assert_int_equal(gta_lora_save(m, dir, "Qwen/Qwen2.5-0.5B", ST_F32), GTA_OK);
    char *p = gta_path_join(dir, "adapter_config.json");
    cJSON *j = NULL;
    assert_int_equal(gta_json_load(p, &j), GTA_OK);
    free(p);
    assert_string_equal(cJSON_GetObjectItem(j, "peft_type")->valuestring, "LORA");
    assert_string_equal(cJSON_GetObjectItem(j, "task_type")->valuestring, "CAUSAL_LM");
    assert_string_equal(cJSON_GetObjectItem(j, "bias")->valuestring, "none");
    assert_string_equal(cJSON_GetObjectItem(j, "base_model_name_or_path")->valuestring, "Qwen/Qwen2.5-0.5B");
    assert_int_equal(cJSON_GetObjectItem(j, "r")->valueint, 4);
    assert_true(cJSON_GetObjectItem(j, "lora_alpha")->valuedouble == 16);
    assert_true(cJSON_GetObjectItem(j, "lora_dropout")->valuedouble == 0.05);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "fan_in_fan_out")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "use_rslora")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "inference_mode")));
    const cJSON *tm = cJSON_GetObjectItem(j, "target_modules");
    assert_int_equal(cJSON_GetArraySize(tm), 7);
    const char *want_mods[7] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    for (int i = 0; i < 7; i++) assert_string_equal(cJSON_GetArrayItem(tm, i)->valuestring, want_mods[i]);
    cJSON_Delete(j);
    p = gta_path_join(dir, "adapter_model.safetensors");
    st_set *st;
    assert_int_equal(st_open_file(p, &st), GTA_OK);
    free(p);
    assert_int_equal(st_count(st), 2 * 7 * c.num_layers);
    int d = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim,
        f = c.intermediate_size;
    struct {
        const char *name;
        int64_t r0, r1;
    } want[] = {
        {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", 4, d},
        {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", q, 4},
        {"base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight", kv, 4},
        {"base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight", 4, d},
        {"base_model.model.model.layers.0.self_attn.o_proj.lora_A.weight", 4, q},
        {"base_model.model.model.layers.1.mlp.gate_proj.lora_B.weight", f, 4},
        {"base_model.model.model.layers.0.mlp.up_proj.lora_A.weight", 4, d},
        {"base_model.model.model.layers.1.mlp.down_proj.lora_A.weight", 4, f},
        {"base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", d, 4},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const st_tensor *t = st_find(st, want[i].name);
        if (!t) fail_msg("missing %s", want[i].name);
        assert_int_equal(t->ndim, 2);
        assert_int_equal(t->shape[0], want[i].r0);
        assert_int_equal(t->shape[1], want[i].r1);
    }
    st_close(st);
    /* and it loads back to the same parameters */
    gta_model *m2 = tu_random_model(&c, 71);
    assert_int_equal(gta_lora_load(m2, dir), GTA_OK);
    assert_int_equal(m2->lora->n, m->lora->n);
    assert_memory_equal(m2->lora->params, m->lora->params, sizeof(float) * m->lora->n);
    tu_rm_rf(dir);
    free(dir);
    gta_model_free(m);
    gta_model_free(m2);
}

/* Recomputation gives the kept activations' log-probs and gradients bit for bit: the same
 * ops on the same inputs in the same order. */
static void recompute_case(int lora, gta_arch arch) {
    gta_config c = tu_tiny_config(arch);
    c.num_layers = 3;
    float *lp[2], *g[2];
    tbatch t;
    make_batch(&t, c.vocab_size);
    size_t np = (size_t)t.b.nlp, ng = 0;
    float *w = malloc(sizeof(float) * np);
    for (size_t k = 0; k < np; k++) w[k] = (float)(2.0 * gta_rng_uniform(5, 0, (uint64_t)k) - 1.0);
    for (int rc = 0; rc < 2; rc++) {
        gta_model *m = tu_random_model(&c, 81);
        if (lora) {
            gta_lora_cfg lc = lcfg(3, 6, 0.2, GTA_LORA_ALL, 0);
            assert_int_equal(gta_lora_attach(m, &lc, 3), GTA_OK);
            randomize_b(m, 4);
            m->lora->drop_seed = 17;
        }
        m->recompute = rc;
        gta_model_alloc_grads(m);
        lp[rc] = malloc(sizeof(float) * np);
        assert_int_equal(gta_forward(m, &t.b, lp[rc], NULL, 1), GTA_OK);
        assert_int_equal(gta_backward(m, &t.b, w), GTA_OK);
        gta_trainable tr = gta_model_trainable(m);
        ng = tr.n;
        g[rc] = malloc(sizeof(float) * ng);
        memcpy(g[rc], tr.grads, sizeof(float) * ng);
        assert_true(tu_max_abs(g[rc], ng) > 1e-3);
        gta_model_free(m);
    }
    assert_memory_equal(lp[0], lp[1], sizeof(float) * np);
    assert_memory_equal(g[0], g[1], sizeof(float) * ng);
    /* the plan's numbers: recomputation keeps far less */
    assert_true(gta_model_act_bytes_recompute(&c, 100) < gta_model_act_bytes(&c, 100));
    for (int i = 0; i < 2; i++) free(lp[i]), free(g[i]);
    free(w);
    gta_batch_free_simple(&t.b);
}

static void test_recompute_bitwise(void **s) {
    (void)s;
    recompute_case(0, GTA_ARCH_QWEN2);
    recompute_case(0, GTA_ARCH_QWEN3);
    recompute_case(1, GTA_ARCH_LLAMA);
    recompute_case(1, GTA_ARCH_QWEN3);
}

/* A frozen base kept in bf16 (widened per product tile) equals an fp32 base whose weights
 * were rounded to bf16: log-probs, the adapter's gradients, logits and decoding, up to
 * summation order. No fp32 copy of the matrices exists. */
static void test_bf16_base(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_QWEN2);
    c.vocab_size = 50000; /* V * d = 1.2M floats: the head takes two 4 MiB tiles */
    gta_model *src = tu_random_model(&c, 91);
    char *dir = tu_tmpdir();
    assert_int_equal(gta_model_save(src, dir), GTA_OK);
    gta_model *m16 = NULL, *m32 = NULL;
    assert_int_equal(gta_model_load_bf16(dir, gta_backend_cpu(), &m16), GTA_OK);
    assert_int_equal(gta_model_load(dir, &m32), GTA_OK);
    assert_null(m16->params);
    assert_non_null(m16->w16);
    assert_int_equal(gta_model_weight_bytes(&c, 1), 2 * m16->n_params +
                                                        4 * (size_t)(2 * c.num_layers + 1) * 24 +
                                                        4 * (size_t)c.num_layers * (24 + 12 + 12));
    for (int i = 0; i < m32->n_tensors; i++) {
        const gta_param *p = &m32->tensors[i];
        if (p->ndim != 2) continue;
        for (int64_t k = 0; k < p->shape[0] * p->shape[1]; k++) {
            float *w = &m32->params[p->offset + (size_t)k];
            *w = st_bf16_to_f32(st_f32_to_bf16(*w));
        }
    }
    gta_lora_cfg lc = lcfg(3, 6, 0.1, GTA_LORA_ALL, 0);
    gta_model *ms[2] = {m16, m32};
    tbatch t;
    make_batch(&t, c.vocab_size);
    size_t np = (size_t)t.b.nlp, nl = (size_t)t.b.n * (size_t)c.vocab_size;
    float *lp[2], *g[2], *lg[2], *w = malloc(sizeof(float) * np);
    for (size_t k = 0; k < np; k++) w[k] = (float)(2.0 * gta_rng_uniform(5, 0, (uint64_t)k) - 1.0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(gta_lora_attach(ms[i], &lc, 3), GTA_OK);
        randomize_b(ms[i], 4);
        ms[i]->lora->drop_seed = 5;
        gta_model_alloc_grads(ms[i]);
        lp[i] = malloc(sizeof(float) * np);
        assert_int_equal(gta_forward(ms[i], &t.b, lp[i], NULL, 1), GTA_OK);
        assert_int_equal(gta_backward(ms[i], &t.b, w), GTA_OK);
        g[i] = ms[i]->lora->grads;
        lg[i] = logits_of(ms[i], &t.b);
    }
    double dlp = tu_max_abs_diff(lp[0], lp[1], np, NULL),
           dg = tu_max_abs_diff(g[0], g[1], m16->lora->n, NULL), dl = tu_max_abs_diff(lg[0], lg[1], nl, NULL),
           gmax = tu_max_abs(g[1], m16->lora->n);
    printf(
        "  bf16 base vs fp32 base rounded to bf16: log-probs %.2g, logits %.2g, gradients %.2g (of %.2g)\n",
        dlp, dl, dg, gmax);
    assert_true(dlp < 1e-5 && dl < 1e-5 && dg < 1e-5 * (1 + gmax));
    /* decoding (the sampler's engine) from the bf16 matrices */
    float *dec[2];
    for (int i = 0; i < 2; i++) {
        gta_kv kv;
        gta_kv_init(&kv, ms[i], 16);
        int tok[2] = {3, 7}, pos[2] = {0, 0}, slot[2] = {0, 1};
        gta_range rg[2] = {{0, 1}, {1, 1}};
        float *d_lg = ms[i]->be->alloc(ms[i]->ctx, sizeof(float) * 2 * (size_t)c.vocab_size);
        gta_decode_pack(ms[i], 0);
        assert_int_equal(gta_decode(ms[i], &kv, 2, tok, pos, slot, rg, 1, d_lg), GTA_OK);
        dec[i] = malloc(sizeof(float) * 2 * (size_t)c.vocab_size);
        memcpy(dec[i], d_lg, sizeof(float) * 2 * (size_t)c.vocab_size);
        ms[i]->be->free(ms[i]->ctx, d_lg);
        gta_kv_free(&kv);
    }
    assert_null(m16->pack); /* no second (packed) copy of the bf16 base */
    double dd = tu_max_abs_diff(dec[0], dec[1], 2 * (size_t)c.vocab_size, NULL);
    printf("  decode logits: %.2g\n", dd);
    assert_true(dd < 1e-5);
    /* the reference under LoRA: the same bf16 base shared, its own adapter */
    gta_model *ref = gta_model_share(m16);
    assert_true(ref->w16 == m16->w16);
    assert_int_equal(gta_lora_attach(ref, &m16->lora->cfg, 0), GTA_OK);
    gta_lora_copy(ref, m16);
    float *lr = malloc(sizeof(float) * np), *lm = malloc(sizeof(float) * np);
    assert_int_equal(gta_forward(ref, &t.b, lr, NULL, 0), GTA_OK);
    assert_int_equal(gta_forward(m16, &t.b, lm, NULL, 0), GTA_OK);
    assert_memory_equal(lr, lm, sizeof(float) * np);
    assert_int_equal(gta_lora_merge(m16), GTA_EFAIL);
    gta_model_free(ref);
    for (int i = 0; i < 2; i++) free(lp[i]), free(lg[i]), free(dec[i]);
    free(w), free(lr), free(lm);
    gta_batch_free_simple(&t.b);
    gta_model_free(m16);
    gta_model_free(m32);
    gta_model_free(src);
    tu_rm_rf(dir);
    free(dir);
}

static void test_targets_parse(void **s) {
    (void)s;
    unsigned t = 0;
    assert_int_equal(gta_lora_targets_parse("q_proj,v_proj", &t), GTA_OK);
    assert_true(t == ((1u << GTA_LORA_Q) | (1u << GTA_LORA_V)));
    assert_int_equal(gta_lora_targets_parse("gate, up ,down", &t), GTA_OK);
    assert_true(t == ((1u << GTA_LORA_GATE) | (1u << GTA_LORA_UP) | (1u << GTA_LORA_DOWN)));
    assert_int_equal(gta_lora_targets_parse("all", &t), GTA_OK);
    assert_true(t == GTA_LORA_ALL);
    assert_int_equal(gta_lora_targets_parse("q_proj,lm_head", &t), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "lm_head"));
    gta_config c = tu_tiny_config(GTA_ARCH_QWEN2);
    gta_lora_cfg lc = lcfg(8, 16, 0, GTA_LORA_ALL, 0);
    /* 2 layers x r (in + out) summed: q (24+24), k (24+12), v (24+12), o (24+24), gate, up (24+40), down
     * (40+24) */
    assert_int_equal(gta_lora_n_params(&c, &lc), 2 * 8 * (48 + 36 + 36 + 48 + 64 + 64 + 64));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets_parse), cmocka_unit_test(test_b_zero_is_base),
        cmocka_unit_test(test_fd_lora),       cmocka_unit_test(test_dropout_masks),
        cmocka_unit_test(test_merge),         cmocka_unit_test(test_load_peft_layout),
        cmocka_unit_test(test_save_is_peft),  cmocka_unit_test(test_recompute_bitwise),
        cmocka_unit_test(test_bf16_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
