/* bf16 compute (model.h's gta_compute) on the model: logits within 5e-2 of transformers'
 * fp32 logits on every fixture of ../shared/fixtures/hf, gradients near our fp32 ones, the
 * bf16 weight copy remade after the parameters change, the fallback kernel (forced by
 * GTA_CPU_NO_AVX512BF16=1) giving the default one's logits within 1e-2 (the order of the
 * fp32 sums, and the bf16 roundings that order can flip), and LoRA: the one op set serves
 * a frozen bf16 base and bf16 compute's copy of an fp32 base alike (bit for bit on the
 * same bf16 values). */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "io/safetensors.h"
#include "model/lora.h"
#include "model/model.h"

/* the fixture's model, its reference and its input batch (the caller frees all four) */
static gta_model *open_fixture(const char *dir, st_set **ref, gta_batch *b, int **ids) {
    tu_fixture f;
    tu_fixture_open(&f, dir);
    *ref = f.ref;
    *ids = f.ids;
    gta_batch_simple(b, f.ids, f.B, f.T);
    return f.m;
}

static float *logits_of(gta_model *m, const gta_batch *b) {
    float *l = malloc(sizeof(float) * (size_t)b->n * m->cfg.vocab_size);
    assert_int_equal(gta_forward(m, b, NULL, l, 0), GTA_OK);
    return l;
}

static void test_bf16_logits_every_fixture(void **s) {
    (void)s;
    char *root = tu_shared("fixtures/hf");
    DIR *d = opendir(root);
    assert_non_null(d);
    struct dirent *e;
    int checked = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *dir = gta_path_join(root, e->d_name), *rp = gta_path_join(dir, "reference.safetensors");
        int have = gta_file_exists(rp);
        free(rp);
        if (!have) {
            free(dir);
            continue;
        }
        st_set *ref;
        gta_batch b;
        int *ids;
        gta_model *m = open_fixture(dir, &ref, &b, &ids);
        size_t n;
        float *want = tu_ref_f32(ref, "logits", &n), *f32 = logits_of(m, &b);
        assert_int_equal(n, (size_t)b.n * m->cfg.vocab_size);
        assert_int_equal(gta_model_set_compute(m, GTA_COMPUTE_BF16), GTA_OK);
        float *bf = logits_of(m, &b);
        size_t at;
        double diff = tu_max_abs_diff(bf, want, n, &at), own = tu_max_abs_diff(bf, f32, n, NULL);
        printf("  %-22s bf16 (%s) logits: max |diff| %.3g vs transformers, %.3g vs our fp32 (tol 5e-2)\n",
               e->d_name, gta_model_compute_kernel(m), diff, own);
        if (diff > 5e-2)
            fail_msg("%s: bf16 logits differ by %g at %zu (ours %g, ref %g)", e->d_name, diff, at, bf[at],
                     want[at]);
        assert_true(own > 0); /* the products were bf16 indeed */
        free(want), free(f32), free(bf), free(ids), free(dir);
        gta_batch_free_simple(&b);
        st_close(ref);
        gta_model_free(m);
        checked++;
    }
    closedir(d);
    free(root);
    printf("  %d fixtures\n", checked);
    assert_true(checked >= 6);
}

/* the gradient of the mean cross-entropy: forward, dx and dW of the linears in bf16 */
static void grads_of(gta_model *m, const gta_batch *b, float *g, double *loss) {
    float *lp = malloc(sizeof(float) * (size_t)b->nlp), *dlp = malloc(sizeof(float) * (size_t)b->nlp);
    gta_model_alloc_grads(m);
    assert_int_equal(gta_forward(m, b, lp, NULL, 1), GTA_OK);
    *loss = 0;
    for (int k = 0; k < b->nlp; k++) *loss -= lp[k] / b->nlp, dlp[k] = -1.0f / (float)b->nlp;
    assert_int_equal(gta_backward(m, b, dlp), GTA_OK);
    gta_model_read(m, m->grads, g, m->n_params);
    free(lp), free(dlp);
}

static void test_bf16_gradients(void **s) {
    (void)s;
    char *dir = tu_shared("fixtures/hf/qwen2");
    st_set *ref;
    gta_batch b;
    int *ids;
    gta_model *m = open_fixture(dir, &ref, &b, &ids);
    float *g32 = malloc(sizeof(float) * m->n_params), *g16 = malloc(sizeof(float) * m->n_params);
    double l32, l16;
    grads_of(m, &b, g32, &l32);
    assert_int_equal(gta_model_set_compute(m, GTA_COMPUTE_BF16), GTA_OK);
    grads_of(m, &b, g16, &l16);
    printf("  loss fp32 %.6f bf16 %.6f\n", l32, l16);
    assert_true(fabs(l32 - l16) < 1e-2);
    /* every tensor's gradient within 3% of its largest fp32 entry */
    double worst = 0, sumdiff = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const gta_param *p = &m->tensors[k];
        size_t n = (size_t)p->shape[0] * (size_t)(p->ndim == 2 ? p->shape[1] : 1);
        double mx = tu_max_abs(g32 + p->offset, n),
               diff = tu_max_abs_diff(g16 + p->offset, g32 + p->offset, n, NULL);
        sumdiff += diff;
        if (mx > 0 && diff / mx > worst) worst = diff / mx;
        if (diff > 3e-2 * mx + 1e-7)
            fail_msg("%s: bf16 gradient differs by %g (largest fp32 %g)", p->name, diff, mx);
    }
    printf("  gradients: worst max|bf16 - fp32| / max|fp32| %.4f\n", worst);
    assert_true(sumdiff > 0);
    /* the bf16 head in chunks of 16 rows: the same gradient as in one chunk (up to the
     * order of the dW sums over chunks) */
    assert_true(b.nlp > 16);
    m->be->set_head_chunk(m->ctx, (size_t)16 * m->cfg.vocab_size);
    float *g16c = malloc(sizeof(float) * m->n_params);
    double l16c;
    grads_of(m, &b, g16c, &l16c);
    m->be->set_head_chunk(m->ctx, 0);
    double dchunk = tu_max_abs_diff(g16c, g16, m->n_params, NULL);
    printf("  bf16 head in 16-row chunks: loss %.6f, gradients within %.3g of one chunk's\n", l16c, dchunk);
    assert_true(fabs(l16c - l16) < 1e-5);
    assert_true(dchunk < 1e-4 * tu_max_abs(g16, m->n_params));
    free(g16c);
    free(g32), free(g16), free(ids), free(dir);
    gta_batch_free_simple(&b);
    st_close(ref);
    gta_model_free(m);
}

/* after gta_model_write the bf16 products use the new weights: the same logits as a
 * fresh model loaded with them */
static void test_bf16_copy_follows_writes(void **s) {
    (void)s;
    char *dir = tu_shared("fixtures/hf/qwen2");
    st_set *ref;
    gta_batch b;
    int *ids;
    gta_model *m = open_fixture(dir, &ref, &b, &ids);
    assert_int_equal(gta_model_set_compute(m, GTA_COMPUTE_BF16), GTA_OK);
    float *before = logits_of(m, &b);
    size_t nw = (size_t)m->cfg.intermediate_size * 2 * m->cfg.hidden_size;
    float *w = malloc(sizeof(float) * nw);
    gta_model_read(m, m->layers[0].wgu, w, nw);
    for (size_t i = 0; i < nw; i++) w[i] *= 1.5f;
    gta_model_write(m, m->layers[0].wgu, w, nw);
    float *after = logits_of(m, &b);
    gta_model *fresh = gta_model_clone(m); /* the new weights, and a bf16 copy made from them */
    float *want = logits_of(fresh, &b);
    size_t n = (size_t)b.n * m->cfg.vocab_size;
    double moved = tu_max_abs_diff(after, before, n, NULL), same = tu_max_abs_diff(after, want, n, NULL);
    printf("  after a write: logits moved %.3g; against a fresh copy %.3g\n", moved, same);
    assert_true(moved > 1e-3);
    assert_true(same < 1e-6);
    free(before), free(after), free(want), free(w), free(ids), free(dir);
    gta_batch_free_simple(&b);
    st_close(ref);
    gta_model_free(fresh);
    gta_model_free(m);
}

/* the fallback (fp32 sgemm over the same bf16 values), forced by the environment */
static void test_bf16_fallback_forced(void **s) {
    (void)s;
    char *dir = tu_shared("fixtures/hf/qwen3");
    st_set *ref;
    gta_batch b;
    int *ids;
    gta_model *m = open_fixture(dir, &ref, &b, &ids);
    assert_int_equal(gta_model_set_compute(m, GTA_COMPUTE_BF16), GTA_OK);
    unsetenv("GTA_CPU_NO_AVX512BF16");
    const char *dflt = gta_model_compute_kernel(m);
    float *l0 = logits_of(m, &b);
    setenv("GTA_CPU_NO_AVX512BF16", "1", 1);
    assert_string_equal(gta_model_compute_kernel(m), "fallback");
    float *l1 = logits_of(m, &b);
    unsetenv("GTA_CPU_NO_AVX512BF16");
    size_t n;
    float *want = tu_ref_f32(ref, "logits", &n);
    double d01 = tu_max_abs_diff(l0, l1, n, NULL), d1 = tu_max_abs_diff(l1, want, n, NULL);
    printf("  %s vs fallback logits %.3g; fallback vs transformers %.3g\n", dflt, d01, d1);
    /* the same products, another order of the fp32 sums: a sum that differs in its last fp32
     * bit can round to the neighbouring bf16 value at the next product's input (one bf16
     * step is 2^-8 relative), so the logits agree to 1e-2, not to fp32 rounding */
    assert_true(d01 > 0 || !strcmp(dflt, "fallback"));
    assert_true(d01 < 1e-2);
    assert_true(d1 < 5e-2);
    free(l0), free(l1), free(want), free(ids), free(dir);
    gta_batch_free_simple(&b);
    st_close(ref);
    gta_model_free(m);
}

/* LoRA with bf16 compute: over a frozen bf16 base (gta_model_load_bf16) the products take
 * its matrices; over an fp32 base whose weights are bf16 values, bf16 compute's copy of
 * them: the same bf16 x bf16 products, so the same log-probs, logits and adapter
 * gradients bit for bit. And the adapter's gradients near those of fp32 compute. */
static void test_bf16_compute_lora(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_QWEN2);
    c.vocab_size = 300;
    gta_model *src = tu_random_model(&c, 17);
    for (int i = 0; i < src->n_tensors; i++) { /* matrices of bf16 values (fp32 storage) */
        const gta_param *p = &src->tensors[i];
        if (p->ndim != 2) continue;
        for (int64_t k = 0; k < p->shape[0] * p->shape[1]; k++) {
            float *w = &src->params[p->offset + (size_t)k];
            *w = st_bf16_to_f32(st_f32_to_bf16(*w));
        }
    }
    char *dir = tu_tmpdir();
    assert_int_equal(gta_model_save(src, dir), GTA_OK);
    gta_model *ms[3] = {0};
    assert_int_equal(gta_model_load_bf16(dir, gta_backend_cpu(), &ms[0]), GTA_OK);
    assert_int_equal(gta_model_load(dir, &ms[1]), GTA_OK);
    assert_int_equal(gta_model_load(dir, &ms[2]), GTA_OK); /* fp32 compute */
    int T = 12, B = 3, *ids = malloc(sizeof(int) * (size_t)(B * T));
    for (int i = 0; i < B * T; i++) ids[i] = (int)(gta_rng_uniform(4, 0, (uint64_t)i) * c.vocab_size);
    gta_batch b;
    gta_batch_simple(&b, ids, B, T);
    gta_lora_cfg lc = {4, 8.0, 0.0, GTA_LORA_ALL, 0};
    size_t np = (size_t)b.nlp, nl = (size_t)b.n * (size_t)c.vocab_size;
    float *lp[3], *lg[3], *g[3], *dlp = malloc(sizeof(float) * np);
    for (size_t k = 0; k < np; k++) dlp[k] = (float)(2.0 * gta_rng_uniform(5, 0, (uint64_t)k) - 1.0);
    for (int i = 0; i < 3; i++) {
        gta_model *m = ms[i];
        if (i < 2) assert_int_equal(gta_model_set_compute(m, GTA_COMPUTE_BF16), GTA_OK);
        assert_int_equal(gta_lora_attach(m, &lc, 3), GTA_OK);
        float *h = malloc(sizeof(float) * m->lora->n); /* B != 0: every product matters */
        for (size_t k = 0; k < m->lora->n; k++) h[k] = (float)(0.05 * gta_rng_normal(8, 1, k));
        gta_model_write(m, m->lora->params, h, m->lora->n);
        free(h);
        gta_model_alloc_grads(m);
        lp[i] = malloc(sizeof(float) * np);
        assert_int_equal(gta_forward(m, &b, lp[i], NULL, 1), GTA_OK);
        assert_int_equal(gta_backward(m, &b, dlp), GTA_OK);
        g[i] = malloc(sizeof(float) * m->lora->n);
        gta_model_read(m, m->lora->grads, g[i], m->lora->n);
        lg[i] = logits_of(m, &b);
    }
    assert_non_null(ms[0]->w16);
    assert_null(ms[0]->wb);     /* a bf16 base makes no second copy */
    assert_non_null(ms[1]->wb); /* an fp32 base: bf16 compute's copy */
    assert_memory_equal(lp[0], lp[1], sizeof(float) * np);
    assert_memory_equal(lg[0], lg[1], sizeof(float) * nl);
    assert_memory_equal(g[0], g[1], sizeof(float) * ms[0]->lora->n);
    /* the reference under LoRA: the same base, and the policy's bf16 copy of it */
    gta_model *ref = gta_model_share(ms[1]);
    assert_int_equal(gta_lora_attach(ref, &lc, 0), GTA_OK);
    gta_lora_copy(ref, ms[1]);
    float *lr = malloc(sizeof(float) * np), *lm = malloc(sizeof(float) * np);
    assert_int_equal(gta_forward(ref, &b, lr, NULL, 0), GTA_OK);
    assert_int_equal(gta_forward(ms[1], &b, lm, NULL, 0), GTA_OK);
    assert_null(ref->wb);
    assert_memory_equal(lr, lm, sizeof(float) * np);
    assert_memory_equal(lr, lp[1], sizeof(float) * np);
    gta_model_free(ref);
    free(lr), free(lm);
    size_t ng = ms[2]->lora->n;
    double dlpv = tu_max_abs_diff(lp[1], lp[2], np, NULL), dg = tu_max_abs_diff(g[1], g[2], ng, NULL),
           gmax = tu_max_abs(g[2], ng);
    printf("  LoRA, bf16 base = fp32 base in bf16 compute (bit for bit); against fp32 compute: log-probs "
           "%.3g, adapter gradients %.3g (largest %.3g)\n",
           dlpv, dg, gmax);
    assert_true(dlpv > 0 && dlpv < 5e-2);
    assert_true(dg > 0 && dg < 3e-2 * gmax);
    for (int i = 0; i < 3; i++) free(lp[i]), free(lg[i]), free(g[i]), gta_model_free(ms[i]);
    free(dlp), free(ids);
    gta_batch_free_simple(&b);
    gta_model_free(src);
    tu_rm_rf(dir);
    free(dir);
}

static void test_compute_parse(void **s) {
    (void)s;
    int c = -1;
    assert_int_equal(gta_compute_parse("bf16", &c), GTA_OK);
    assert_int_equal(c, GTA_COMPUTE_BF16);
    assert_int_equal(gta_compute_parse("f32", &c), GTA_OK);
    assert_int_equal(c, GTA_COMPUTE_F32);
    assert_int_equal(gta_compute_parse("fp16", &c), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "fp16"));
    gta_config cfg = {0};
    cfg.hidden_size = 8, cfg.num_heads = 2, cfg.num_kv_heads = 1, cfg.head_dim = 4,
    cfg.intermediate_size = 12;
    cfg.num_layers = 3;
    /* per layer: qkv 16x8, o 8x8, gate/up 24x8, down 8x12, two bytes each */
    assert_int_equal(gta_model_compute_bytes(&cfg, GTA_COMPUTE_BF16), 3 * 2 * (128 + 64 + 192 + 96));
    assert_int_equal(gta_model_compute_bytes(&cfg, GTA_COMPUTE_F32), 0);
    /* the widest product's x and dy (gate/up: 24 + 8) for 10 rows, as fp32 */
    assert_int_equal(gta_model_compute_scratch_bytes(&cfg, 10, GTA_COMPUTE_BF16), 4 * 10 * 32);
    assert_int_equal(gta_model_compute_scratch_bytes(&cfg, 10, GTA_COMPUTE_F32), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compute_parse),        cmocka_unit_test(test_bf16_logits_every_fixture),
        cmocka_unit_test(test_bf16_gradients),       cmocka_unit_test(test_bf16_copy_follows_writes),
        cmocka_unit_test(test_bf16_fallback_forced), cmocka_unit_test(test_bf16_compute_lora),
    };
    return cmocka_run_group_tests_name("compute", tests, NULL, NULL);
}
