/* The model against transformers' own numbers (../shared/fixtures/hf, README there):
 * logits and loss within 1e-4, every gradient within 1e-4 + 1e-3 * max|ref|, greedy
 * output identical; bf16 logits within 5e-2, f16 within 2e-2. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "io/safetensors.h"
#include "model/generate.h"
#include "model/model.h"

typedef tu_fixture fx;

static void fx_open(fx *f, const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/hf/%s", name);
    char *dir = tu_shared(rel);
    tu_fixture_open(f, dir);
    free(dir);
}

static void fx_close(fx *f) { tu_fixture_close(f); }

static float *ref_f32(fx *f, const char *name, size_t *n) { return tu_ref_f32(f->ref, name, n); }

static void check_logits(const char *name, double tol) {
    fx f;
    fx_open(&f, name);
    gta_batch b;
    gta_batch_simple(&b, f.ids, f.B, f.T);
    size_t n;
    float *ref = ref_f32(&f, "logits", &n);
    assert_int_equal(n, (size_t)b.n * f.m->cfg.vocab_size);
    float *logits = malloc(sizeof(float) * n);
    assert_int_equal(gta_forward(f.m, &b, NULL, logits, 0), GTA_OK);
    size_t at;
    double diff = tu_max_abs_diff(logits, ref, n, &at);
    printf("  %-22s logits max |diff| %.3g (tol %.0e)\n", name, diff, tol);
    if (diff > tol) fail_msg("%s: logits differ by %g at %zu (ours %g, ref %g)", name, diff, at, logits[at], ref[at]);
    free(logits);
    free(ref);
    gta_batch_free_simple(&b);
    fx_close(&f);
}

/* loss and every gradient */
static void check_grads(const char *name) {
    fx f;
    fx_open(&f, name);
    gta_batch b;
    gta_batch_simple(&b, f.ids, f.B, f.T);
    float *lp = malloc(sizeof(float) * (size_t)b.n), *dlp = malloc(sizeof(float) * (size_t)b.n);
    gta_model_alloc_grads(f.m);
    assert_int_equal(gta_forward(f.m, &b, lp, NULL, 1), GTA_OK);
    int cnt = b.nlp;
    double loss = 0;
    for (int k = 0; k < cnt; k++) loss -= lp[k];
    loss /= cnt;
    for (int k = 0; k < cnt; k++) dlp[k] = -1.0f / (float)cnt;
    float *ref_loss = ref_f32(&f, "loss", NULL);
    printf("  %-22s loss %.7f ref %.7f\n", name, loss, ref_loss[0]);
    assert_true(fabs(loss - ref_loss[0]) < 1e-4);
    free(ref_loss);
    assert_int_equal(gta_backward(f.m, &b, dlp), GTA_OK);
    int checked = 0;
    double worst = 0;
    for (int i = 0; i < st_count(f.ref); i++) {
        const st_tensor *t = st_at(f.ref, i);
        if (strncmp(t->name, "grad.", 5) != 0) continue;
        const gta_param *p = gta_model_find(f.m, t->name + 5);
        if (!p && !strcmp(t->name + 5, "lm_head.weight") && f.m->cfg.tie_word_embeddings) continue;
        if (!p) fail_msg("%s: no parameter %s", name, t->name + 5);
        size_t n;
        float *ref = ref_f32(&f, t->name, &n);
        double tol = 1e-4 + 1e-3 * tu_max_abs(ref, n);
        size_t at;
        double diff = tu_max_abs_diff(f.m->grads + p->offset, ref, n, &at);
        if (diff / tol > worst) worst = diff / tol;
        if (diff > tol) fail_msg("%s: %s differs by %g (tol %g) at %zu: ours %g ref %g", name, t->name, diff, tol, at,
                                 f.m->grads[p->offset + at], ref[at]);
        free(ref);
        checked++;
    }
    printf("  %-22s %d gradients, worst diff/tol %.3f\n", name, checked, worst);
    assert_true(checked >= 10);
    free(lp);
    free(dlp);
    gta_batch_free_simple(&b);
    fx_close(&f);
}

static void check_greedy(const char *name) {
    fx f;
    fx_open(&f, name);
    const st_tensor *tp = st_find(f.ref, "greedy_prompt"), *to = st_find(f.ref, "greedy_output");
    assert_non_null(tp);
    assert_non_null(to);
    int64_t p64[64], o64[64];
    assert_int_equal(st_to_i64(f.ref, tp, p64), GTA_OK);
    assert_int_equal(st_to_i64(f.ref, to, o64), GTA_OK);
    int np = (int)tp->numel, no = (int)to->numel, prompt[64], out[64], n_out;
    for (int i = 0; i < np; i++) prompt[i] = (int)p64[i];
    gta_finish fin;
    /* fixtures decode a fixed 16 tokens: eos is not a stop here */
    assert_int_equal(gta_generate_greedy(f.m, prompt, np, no, NULL, 0, out, &n_out, &fin), GTA_OK);
    assert_int_equal(n_out, no);
    for (int i = 0; i < no; i++)
        if (out[i] != (int)o64[i]) fail_msg("%s: greedy token %d: ours %d, transformers %d", name, i, out[i], (int)o64[i]);
    fx_close(&f);
}

#define FIXTURE_TESTS(id, dir)                                                                                         \
    static void test_logits_##id(void **s) {                                                                           \
        (void)s;                                                                                                       \
        check_logits(dir, 1e-4);                                                                                       \
    }                                                                                                                  \
    static void test_grads_##id(void **s) {                                                                            \
        (void)s;                                                                                                       \
        check_grads(dir);                                                                                              \
    }                                                                                                                  \
    static void test_greedy_##id(void **s) {                                                                           \
        (void)s;                                                                                                       \
        check_greedy(dir);                                                                                             \
    }

FIXTURE_TESTS(qwen2, "qwen2")
FIXTURE_TESTS(qwen3, "qwen3")
FIXTURE_TESTS(llama, "llama")
FIXTURE_TESTS(qwen2_sharded, "qwen2-sharded")
FIXTURE_TESTS(qwen2_legacy, "qwen2-legacy-config")
FIXTURE_TESTS(llama_legacy, "llama-legacy-config")

static void test_logits_bf16(void **s) {
    (void)s;
    check_logits("qwen2-bf16", 5e-2);
}
static void test_logits_fp16(void **s) {
    (void)s;
    check_logits("qwen2-fp16", 2e-2);
}

#define T3(id) cmocka_unit_test(test_logits_##id), cmocka_unit_test(test_grads_##id), cmocka_unit_test(test_greedy_##id)

int main(void) {
    const struct CMUnitTest tests[] = {
        T3(qwen2), T3(qwen3), T3(llama), T3(qwen2_sharded), T3(qwen2_legacy), T3(llama_legacy),
        cmocka_unit_test(test_logits_bf16), cmocka_unit_test(test_logits_fp16),
    };
    return cmocka_run_group_tests_name("model_fixtures", tests, NULL, NULL);
}
