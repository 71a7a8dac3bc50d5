#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "io/safetensors.h"

static const char *shared_root(void) {
    const char *root = getenv("GTA_SHARED");
    return root && *root ? root : "../shared";
}

int tu_have_shared(void) {
    char *p = gta_path_join(shared_root(), "fixtures");
    int ok = gta_is_dir(p);
    free(p);
    return ok;
}

char *tu_shared(const char *rel) {
    char *p = gta_path_join(shared_root(), rel);
    if (!tu_have_shared()) {
        /* a test that needs ../shared is skipped, with a message, where it is absent */
        print_message("skipped: %s needs %s, which is absent\n", p, shared_root());
        free(p);
        skip();
    }
    return p;
}

double tu_max_abs_diff(const float *a, const float *b, size_t n, size_t *at) {
    double m = 0;
    size_t where = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d)) {
            m = isnan(d) ? INFINITY : d;
            where = i;
        }
    }
    if (at) *at = where;
    return m;
}

double tu_max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

char *tu_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/gta-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return gta_strdup(d);
}

void tu_rm_rf(const char *path) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

gta_config tu_tiny_config(gta_arch arch) {
    gta_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.vocab_size = 50;
    c.hidden_size = 24;
    c.intermediate_size = 40;
    c.num_layers = 2;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 6;
    c.max_position_embeddings = 128;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 10000;
    c.bos_token_id = -1;
    c.qkv_bias = arch == GTA_ARCH_QWEN2;
    c.qk_norm = arch == GTA_ARCH_QWEN3;
    snprintf(c.dtype, sizeof c.dtype, "float32");
    return c;
}

gta_model *tu_random_model(const gta_config *c, uint64_t seed) {
    gta_model *m = gta_model_init_random(c, seed);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = (float)(0.3 * gta_rng_normal(seed + 1, 7, i));
    for (int i = 0; i < m->n_tensors; i++)
        if (strstr(m->tensors[i].name, "norm")) {
            const gta_param *p = &m->tensors[i];
            for (int64_t k = 0; k < p->shape[0]; k++)
                m->params[p->offset + (size_t)k] = 1.0f + 0.2f * (float)gta_rng_normal(seed + 2, (uint64_t)i, (uint64_t)k);
        }
    return m;
}


void tu_fixture_open(tu_fixture *f, const char *dir) {
    if (gta_model_load(dir, &f->m)) fail_msg("%s: %s", dir, gta_err_msg());
    char *rp = gta_path_join(dir, "reference.safetensors");
    assert_int_equal(st_open_file(rp, &f->ref), GTA_OK);
    free(rp);
    const st_tensor *t = st_find(f->ref, "input_ids");
    assert_non_null(t);
    f->B = (int)t->shape[0];
    f->T = (int)t->shape[1];
    int64_t *ids64 = malloc(sizeof(int64_t) * (size_t)t->numel);
    assert_int_equal(st_to_i64(f->ref, t, ids64), GTA_OK);
    f->ids = malloc(sizeof(int) * (size_t)t->numel);
    for (int i = 0; i < t->numel; i++) f->ids[i] = (int)ids64[i];
    free(ids64);
}

void tu_fixture_close(tu_fixture *f) {
    gta_model_free(f->m);
    st_close(f->ref);
    free(f->ids);
}

float *tu_ref_f32(st_set *ref, const char *name, size_t *n) {
    const st_tensor *t = st_find(ref, name);
    if (!t) fail_msg("reference lacks %s", name);
    float *v = malloc(sizeof(float) * (size_t)t->numel);
    assert_int_equal(st_to_f32(ref, t, v), GTA_OK);
    if (n) *n = (size_t)t->numel;
    return v;
}
