/* The sampler: greedy identical to transformers' fixtures and to stories260K's reference,
 * alone or inside a batch of mixed-length prompts; reproducible streams; sampling
 * frequencies against softmax(logits / T) (chi-square); exact top-k / top-p / min-p
 * supports; stop strings; the memory plan. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "backend/backend.h"
#include "bench/bench.h"
#include "model/sampler.h"

static gta_model *load(const char *rel) {
    char *dir = tu_shared(rel);
    gta_model *m;
    if (gta_model_load(dir, &m)) fail_msg("%s", gta_err_msg());
    free(dir);
    return m;
}

static gta_sample_params greedy_params(int max_new) {
    gta_sample_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0;
    p.top_p = 1;
    p.max_new_tokens = max_new;
    return p;
}

static void fixture_greedy(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "fixtures/hf/%s", name);
    gta_model *m = load(rel);
    char *dir = tu_shared(rel), *rp = gta_path_join(dir, "reference.safetensors");
    st_set *ref;
    assert_int_equal(st_open_file(rp, &ref), GTA_OK);
    const st_tensor *tp = st_find(ref, "greedy_prompt"), *to = st_find(ref, "greedy_output");
    int64_t p64[64], o64[64];
    assert_int_equal(st_to_i64(ref, tp, p64), GTA_OK);
    assert_int_equal(st_to_i64(ref, to, o64), GTA_OK);
    int np = (int)tp->numel, prompt[64];
    for (int i = 0; i < np; i++) prompt[i] = (int)p64[i];
    const int *pp = prompt;
    gta_sample_params p = greedy_params((int)to->numel);
    gta_sample_seq out;
    assert_int_equal(gta_sample(m, &pp, &np, 1, 1, NULL, &p, &out), GTA_OK);
    assert_int_equal(out.n, (int)to->numel);
    for (int i = 0; i < out.n; i++) assert_int_equal(out.ids[i], (int)o64[i]);
    gta_sample_seq_free(&out, 1);
    st_close(ref);
    free(rp);
    free(dir);
    gta_model_free(m);
}

static void test_greedy_fixtures(void **s) {
    (void)s;
    const char *names[] = {"qwen2", "qwen3", "llama", "qwen2-sharded"};
    for (int i = 0; i < 4; i++) fixture_greedy(names[i]);
}

static void load_stories_ref(int *prompt, int *np, int *all, int *na) {
    char *rp = tu_shared("models/stories260K/reference_logits.json");
    cJSON *ref;
    assert_int_equal(gta_json_load(rp, &ref), GTA_OK);
    const cJSON *g = cJSON_GetObjectItem(ref, "greedy");
    const cJSON *pids = cJSON_GetObjectItem(g, "prompt_ids"), *a = cJSON_GetObjectItem(g, "ids_after_40_greedy_steps");
    *np = cJSON_GetArraySize(pids);
    *na = cJSON_GetArraySize(a);
    for (int i = 0; i < *np; i++) prompt[i] = cJSON_GetArrayItem(pids, i)->valueint;
    for (int i = 0; i < *na; i++) all[i] = cJSON_GetArrayItem(a, i)->valueint;
    cJSON_Delete(ref);
    free(rp);
}

/* stories260K's 40 greedy tokens, alone and as one prompt among others of mixed lengths */
static void test_greedy_batch_mixed(void **s) {
    (void)s;
    gta_model *m = load("models/stories260K");
    int prompt[64], all[128], np, na;
    load_stories_ref(prompt, &np, all, &na);
    int nnew = na - np;
    /* other prompts: prefixes and a longer one, from the reference continuation */
    const int *ps[4] = {all, prompt, all, all + 3};
    int pl[4] = {12, np, 2, 20};
    gta_sample_params p = greedy_params(nnew);
    gta_sample_seq batch[4], alone[4];
    assert_int_equal(gta_sample(m, ps, pl, 4, 1, NULL, &p, batch), GTA_OK);
    for (int i = 0; i < 4; i++) assert_int_equal(gta_sample(m, &ps[i], &pl[i], 1, 1, NULL, &p, &alone[i]), GTA_OK);
    assert_int_equal(batch[1].n, nnew);
    for (int j = 0; j < nnew; j++) assert_int_equal(batch[1].ids[j], all[np + j]);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(batch[i].n, alone[i].n);
        assert_memory_equal(batch[i].ids, alone[i].ids, sizeof(int) * (size_t)batch[i].n);
        for (int j = 0; j < batch[i].n; j++) assert_true(fabsf(batch[i].lp[j] - alone[i].lp[j]) < 1e-4);
    }
    gta_sample_seq_free(batch, 4);
    gta_sample_seq_free(alone, 4);
    gta_model_free(m);
}

/* a sample's tokens depend on the seed and its id only */
static void test_streams_reproducible(void **s) {
    (void)s;
    gta_model *m = load("models/stories260K");
    int prompt[64], all[128], np, na;
    load_stories_ref(prompt, &np, all, &na);
    const int *pp[2] = {prompt, all};
    int pl[2] = {np, 9};
    gta_sample_params p = greedy_params(30);
    p.temperature = 1.0;
    p.top_p = 0.95;
    p.seed = 1234;
    gta_sample_seq many[8], one;
    assert_int_equal(gta_sample(m, pp, pl, 2, 4, NULL, &p, many), GTA_OK);
    /* sample 6 (prompt 1, g 2) run alone with the same stream id */
    uint64_t sid = 6;
    assert_int_equal(gta_sample(m, &pp[1], &pl[1], 1, 1, &sid, &p, &one), GTA_OK);
    assert_int_equal(one.n, many[6].n);
    assert_memory_equal(one.ids, many[6].ids, sizeof(int) * (size_t)one.n);
    /* different streams of one prompt differ */
    int differ = 0;
    for (int g = 1; g < 4; g++) differ |= many[0].n != many[g].n || memcmp(many[0].ids, many[g].ids, sizeof(int) * (size_t)many[0].n);
    assert_true(differ);
    gta_sample_seq_free(many, 8);
    gta_sample_seq_free(&one, 1);
    gta_model_free(m);
}

/* Pearson chi-square of N draws against softmax(logits / T); df = V - 1 = 11, the
 * critical value at significance 0.001 is 31.264. */
static void test_chi_square(void **s) {
    (void)s;
    enum { V = 12, N = 200000 };
    float logits[V] = {1.0f, 0.5f, -0.3f, 2.0f, 0.0f, -1.0f, 1.5f, 0.7f, -2.0f, 0.2f, 1.1f, -0.5f};
    float work[3 * V], lp;
    gta_sample_params p = greedy_params(1);
    p.temperature = 0.8;
    long count[V] = {0};
    for (int i = 0; i < N; i++) count[gta_sample_token(logits, V, &p, gta_rng_uniform(99, 0, (uint64_t)i), work, &lp)]++;
    double z = 0, mx = 2.0 / 0.8, e[V];
    for (int j = 0; j < V; j++) z += exp(logits[j] / 0.8 - mx);
    double chi = 0;
    for (int j = 0; j < V; j++) {
        e[j] = N * exp(logits[j] / 0.8 - mx) / z;
        chi += (count[j] - e[j]) * (count[j] - e[j]) / e[j];
    }
    printf("  chi-square %.2f (df 11, critical 31.26 at 0.001)\n", chi);
    assert_true(chi < 31.264);
    /* a wrong temperature must be detected by the same test */
    double chi_wrong = 0;
    for (int j = 0; j < V; j++) {
        double w = N * exp(logits[j] - 2.0);
        double zz = 0;
        for (int k = 0; k < V; k++) zz += exp(logits[k] - 2.0);
        w /= zz;
        chi_wrong += (count[j] - w) * (count[j] - w) / w;
    }
    assert_true(chi_wrong > 31.264);
}

/* T = 1 without filters over a vocabulary of several blocks (the rollout default takes a
 * path of its own): chi-square with df 999, critical value 1142.8 at 0.001 (Wilson-Hilferty),
 * and each draw's log-prob equal to the log-softmax of its token. */
static void test_chi_square_t1(void **s) {
    (void)s;
    enum { V = 1000, N = 200000 };
    float *logits = malloc(sizeof(float) * V), *work = malloc(sizeof(float) * 3 * V), lp;
    for (int j = 0; j < V; j++) logits[j] = (float)(2.0 * gta_rng_uniform(5, 0, (uint64_t)j) - 1.0);
    double mx = -1e30, z = 0;
    for (int j = 0; j < V; j++) mx = fmax(mx, logits[j]);
    for (int j = 0; j < V; j++) z += exp(logits[j] - mx);
    gta_sample_params p = greedy_params(1);
    p.temperature = 1.0;
    long *count = calloc(V, sizeof(long));
    double worst_lp = 0;
    for (int i = 0; i < N; i++) {
        int t = gta_sample_token(logits, V, &p, gta_rng_uniform(98, 0, (uint64_t)i), work, &lp);
        count[t]++;
        worst_lp = fmax(worst_lp, fabs(lp - (logits[t] - mx - log(z))));
    }
    double chi = 0;
    for (int j = 0; j < V; j++) {
        double e = N * exp(logits[j] - mx) / z;
        chi += (count[j] - e) * (count[j] - e) / e;
    }
    printf("  chi-square %.1f (df 999, critical 1142.8 at 0.001), log-prob error %.2g\n", chi, worst_lp);
    assert_true(chi < 1142.8);
    assert_true(worst_lp < 1e-5);
    /* the test has power: the same counts reject a uniform distribution */
    double chi_u = 0;
    for (int j = 0; j < V; j++) chi_u += (count[j] - (double)N / V) * (count[j] - (double)N / V) / ((double)N / V);
    assert_true(chi_u > 1142.8);
    free(logits), free(work), free(count);
}

/* the support of the filtered distribution, by sweeping u over [0, 1) */
static void support(const float *logits, int V, const gta_sample_params *p, int *kept, float *lps) {
    float work[64], lp;
    memset(kept, 0, sizeof(int) * (size_t)V);
    for (int i = 0; i < 20000; i++) {
        int t = gta_sample_token(logits, V, p, (i + 0.5) / 20000.0, work, &lp);
        kept[t] = 1;
        lps[t] = lp;
    }
}

static void test_filters_exact(void **s) {
    (void)s;
    /* probabilities 0.5, 0.3, 0.15, 0.05 at T = 1 */
    float logits[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)}, lps[4];
    int kept[4];
    gta_sample_params p = greedy_params(1);
    p.temperature = 1.0;
    p.top_k = 3;
    support(logits, 4, &p, kept, lps);
    assert_true(kept[0] && kept[1] && kept[2] && !kept[3]);
    assert_true(fabsf(lps[2] - logf(0.15f / 0.95f)) < 1e-5);
    /* top-p 0.75: ascending cumulative 0.05, 0.20, 0.50, 1.0; drop while <= 0.25 */
    p.top_k = 0;
    p.top_p = 0.75;
    support(logits, 4, &p, kept, lps);
    assert_true(kept[0] && kept[1] && !kept[2] && !kept[3]);
    assert_true(fabsf(lps[1] - logf(0.3f / 0.8f)) < 1e-5);
    /* top-p 0.9: drop while <= 0.1 -> only the 0.05 token */
    p.top_p = 0.9;
    support(logits, 4, &p, kept, lps);
    assert_true(kept[0] && kept[1] && kept[2] && !kept[3]);
    /* min-p 0.5: keep p >= 0.25 */
    p.top_p = 1.0;
    p.min_p = 0.5;
    support(logits, 4, &p, kept, lps);
    assert_true(kept[0] && kept[1] && !kept[2] && !kept[3]);
    /* min-p 0.29 keeps 0.15 (>= 0.145) */
    p.min_p = 0.29;
    support(logits, 4, &p, kept, lps);
    assert_true(kept[0] && kept[1] && kept[2] && !kept[3]);
    /* top-k 1 is greedy */
    p.min_p = 0;
    p.top_k = 1;
    support(logits, 4, &p, kept, lps);
    assert_true(kept[0] && !kept[1] && !kept[2] && !kept[3]);
    assert_true(fabsf(lps[0]) < 1e-6);
}

static void test_stop_string_and_eos(void **s) {
    (void)s;
    char *dir = tu_shared("models/stories260K");
    gta_model *m = load("models/stories260K");
    gta_tokenizer *tok;
    assert_int_equal(gta_tokenizer_load(dir, &tok), GTA_OK);
    int prompt[64], all[128], np, na;
    load_stories_ref(prompt, &np, all, &na);
    const int *pp = prompt;
    gta_sample_params p = greedy_params(40);
    const char *stop[1] = {"Lily."};
    p.stop = stop;
    p.nstop = 1;
    p.tok = tok;
    gta_sample_seq out;
    assert_int_equal(gta_sample(m, &pp, &np, 1, 1, NULL, &p, &out), GTA_OK);
    assert_int_equal(out.finish, GTA_FINISH_STOP);
    int32_t ids[64];
    for (int i = 0; i < out.n; i++) ids[i] = out.ids[i];
    char *text;
    assert_int_equal(gta_tokenizer_decode(tok, ids, (size_t)out.n, 0, &text, NULL), GTA_OK);
    assert_non_null(strstr(text, "Lily."));
    assert_true(out.n < 40);
    free(text);
    gta_sample_seq_free(&out, 1);
    /* eos: declare the 5th greedy token an end-of-sequence id */
    int eos = all[np + 4];
    p.nstop = 0;
    p.eos = &eos;
    p.neos = 1;
    assert_int_equal(gta_sample(m, &pp, &np, 1, 1, NULL, &p, &out), GTA_OK);
    assert_int_equal(out.finish, GTA_FINISH_EOS);
    assert_int_equal(out.n, 5);
    assert_int_equal(out.ids[4], eos);
    gta_sample_seq_free(&out, 1);
    gta_tokenizer_free(tok);
    gta_model_free(m);
    free(dir);
}

static void test_memory_plan(void **s) {
    (void)s;
    gta_model *m = load("models/stories260K");
    int prompt[8] = {1, 403, 407, 261, 378};
    const int *pp = prompt;
    int np = 5;
    gta_sample_params p = greedy_params(100);
    p.memory_limit = 1 << 20; /* 1 MiB cannot hold 1000 sequences */
    gta_sample_seq *out = calloc(1000, sizeof *out);
    assert_int_equal(gta_sample(m, &pp, &np, 1, 1000, NULL, &p, out), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "MiB"));
    assert_null(out[0].ids);
    free(out);
    /* the plan grows with the cache exactly as layers x tokens x kv width x 2 x 4 bytes */
    gta_sample_plan a, b;
    gta_sample_plan_make(m->be, &m->cfg, &np, 1, 16, 64, 0, 0, &a);
    gta_sample_plan_make(m->be, &m->cfg, &np, 1, 16, 65, 0, 0, &b);
    assert_int_equal(b.kv_bytes - a.kv_bytes, (size_t)16 * 5 * 4 * 8 * 2 * 4);
    gta_model_free(m);
}

/* bf16 decoding: each decode step is exactly a step of "the model with its matrices
 * rounded to bfloat16" (embeddings and norms are not rounded by the decode path, so the
 * model is untied here); prompts are still prefilled with the fp32 weights. */
static void round_bf16(float *w, size_t n) {
    const gta_backend_ops *be = gta_backend_cpu();
    uint16_t *h = malloc(sizeof(uint16_t) * n);
    be->to_bf16(NULL, h, w, n);
    be->from_bf16(NULL, w, h, n);
    free(h);
}

static void test_bf16_weights(void **s) {
    (void)s;
    gta_config c;
    assert_int_equal(gta_bench_config("tiny", &c), GTA_OK);
    c.vocab_size = 512;
    c.tie_word_embeddings = 0;
    gta_model *a = gta_model_init_random(&c, 7), *b = gta_model_init_random(&c, 7), *f32 = gta_model_init_random(&c, 7);
    int d = c.hidden_size, ld = (c.num_heads + 2 * c.num_kv_heads) * c.head_dim, q = c.num_heads * c.head_dim,
        f = c.intermediate_size, V = c.vocab_size;
    for (int l = 0; l < c.num_layers; l++) {
        round_bf16(b->layers[l].wqkv, (size_t)ld * d);
        round_bf16(b->layers[l].wo, (size_t)d * q);
        round_bf16(b->layers[l].wgu, (size_t)2 * f * d);
        round_bf16(b->layers[l].wd, (size_t)d * f);
    }
    round_bf16(b->lm_head, (size_t)V * d);
    gta_decode_pack(a, 1);
    gta_decode_pack(b, 0);
    gta_decode_pack(f32, 0);
    enum { R = 3, STEPS = 12 };
    gta_kv ka, kb, kf;
    gta_kv_init(&ka, a, R * 16);
    gta_kv_init(&kb, b, R * 16);
    gta_kv_init(&kf, f32, R * 16);
    float *la = malloc(sizeof(float) * R * V), *lb = malloc(sizeof(float) * R * V), *lf = malloc(sizeof(float) * R * V);
    double worst = 0, moved = 0;
    for (int j = 0; j < STEPS; j++) {
        int tok[R], pos[R], slot[R];
        gta_range rg[R];
        for (int i = 0; i < R; i++) {
            tok[i] = (i * 37 + j * 11) % V, pos[i] = j, slot[i] = i * 16 + j;
            rg[i] = (gta_range){i * 16, j + 1};
        }
        assert_int_equal(gta_decode(a, &ka, R, tok, pos, slot, rg, 1, la), GTA_OK);
        assert_int_equal(gta_decode(b, &kb, R, tok, pos, slot, rg, 1, lb), GTA_OK);
        assert_int_equal(gta_decode(f32, &kf, R, tok, pos, slot, rg, 1, lf), GTA_OK);
        worst = fmax(worst, tu_max_abs_diff(la, lb, (size_t)R * V, NULL));
        moved = fmax(moved, tu_max_abs_diff(la, lf, (size_t)R * V, NULL));
    }
    /* the same products in the same order: equal up to rounding of the sums */
    if (worst > 1e-5) fail_msg("bf16 decode differs from the rounded model's by %g", worst);
    /* and the rounding is real (logits of size ~1 move by ~1e-3) */
    if (!(moved > 1e-4 && moved < 0.1)) fail_msg("bf16 vs fp32 logits differ by %g", moved);
    /* through the sampler: the flag reaches the decode path */
    int prompts[2][5] = {{1, 2, 3, 4, 5}, {9, 8, 7}};
    const int *pp[2] = {prompts[0], prompts[1]};
    int pl[2] = {5, 3};
    gta_sample_params p = greedy_params(16);
    gta_sample_seq x[2], z[2];
    p.bf16_weights = 1;
    assert_int_equal(gta_sample(a, pp, pl, 2, 1, NULL, &p, x), GTA_OK);
    p.bf16_weights = 0;
    assert_int_equal(gta_sample(a, pp, pl, 2, 1, NULL, &p, z), GTA_OK);
    double dlp = 0;
    for (int i = 0; i < 2; i++) {
        /* the first token comes from the (fp32) prefill: identical; later ones from decode */
        assert_int_equal(x[i].ids[0], z[i].ids[0]);
        assert_true(x[i].lp[0] == z[i].lp[0]);
        for (int t = 1; t < x[i].n && t < z[i].n && x[i].ids[t - 1] == z[i].ids[t - 1]; t++)
            dlp = fmax(dlp, fabs(x[i].lp[t] - z[i].lp[t]));
    }
    assert_true(dlp > 0 && dlp < 0.05);
    /* the plan counts half the panel bytes */
    gta_sample_plan p32, p16;
    gta_sample_plan_make(a->be, &c, pl, 2, 1, 16, 0, 0, &p32);
    gta_sample_plan_make(a->be, &c, pl, 2, 1, 16, 0, 1, &p16);
    /* (bf16 panels exist on any machine, fp32 ones only where they pay off) */
    if (gta_decode_pack_bytes(a->be, &c, 0))
        assert_true(p32.total - p16.total == gta_decode_pack_bytes(a->be, &c, 0) / 2);
    gta_sample_seq_free(x, 2);
    gta_sample_seq_free(z, 2);
    gta_kv_free(&ka), gta_kv_free(&kb), gta_kv_free(&kf);
    free(la), free(lb), free(lf);
    gta_model_free(a), gta_model_free(b), gta_model_free(f32);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_fixtures),   cmocka_unit_test(test_greedy_batch_mixed),
        cmocka_unit_test(test_streams_reproducible), cmocka_unit_test(test_chi_square), cmocka_unit_test(test_chi_square_t1),
        cmocka_unit_test(test_filters_exact),     cmocka_unit_test(test_stop_string_and_eos),
        cmocka_unit_test(test_memory_plan),       cmocka_unit_test(test_bf16_weights),
    };
    return cmocka_run_group_tests_name("sampler", tests, NULL, NULL);
}
