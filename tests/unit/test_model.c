/* The model beyond the transformers fixtures: finite-difference gradients on several
 * shapes (head counts, head_dim != hidden/heads, GQA ratios, tied/untied, biases, qk-norm,
 * llama3 rope), prefix-shared tree batches equal to independent sequences, the part of a
 * batch some pairs depend on (gta_batch_select), save/reload,
 * AdamW against hand-computed values, gradient clipping, and the pretrained
 * stories260K against its float64 reference. */
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
#include "model/generate.h"
#include "model/model.h"
#include "train/optim.h"

/* weighted log-prob objective L = sum_k w_k lp_k, in double */
static double objective(gta_model *m, const gta_batch *b, const float *w) {
    float *lp = malloc(sizeof(float) * (size_t)b->nlp);
    assert_int_equal(gta_forward(m, b, lp, NULL, 0), GTA_OK);
    double L = 0;
    for (int k = 0; k < b->nlp; k++) L += (double)w[k] * lp[k];
    free(lp);
    return L;
}

static void fd_check(const gta_config *c, const char *label) {
    gta_model *m = tu_random_model(c, 11);
    int B = 2, T = 9, ids[18];
    for (int i = 0; i < B * T; i++) ids[i] = (int)(gta_rng_u64(3, 0, (uint64_t)i) % (uint64_t)c->vocab_size);
    gta_batch b;
    gta_batch_simple(&b, ids, B, T);
    float *w = malloc(sizeof(float) * (size_t)b.nlp), *lp = malloc(sizeof(float) * (size_t)b.nlp);
    for (int k = 0; k < b.nlp; k++) w[k] = (float)(2.0 * gta_rng_uniform(5, 0, (uint64_t)k) - 1.0);
    gta_model_alloc_grads(m);
    assert_int_equal(gta_forward(m, &b, lp, NULL, 1), GTA_OK);
    assert_int_equal(gta_backward(m, &b, w), GTA_OK);
    int checked = 0;
    double worst = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const gta_param *p = &m->tensors[i];
        size_t cnt = (size_t)p->shape[0] * (size_t)(p->ndim == 2 ? p->shape[1] : 1);
        /* the entry with the largest gradient and two random ones */
        size_t pick[3] = {0, gta_rng_u64(9, (uint64_t)i, 0) % cnt, gta_rng_u64(9, (uint64_t)i, 1) % cnt};
        for (size_t k = 0; k < cnt; k++)
            if (fabsf(m->grads[p->offset + k]) > fabsf(m->grads[p->offset + pick[0]])) pick[0] = k;
        for (int s = 0; s < 3; s++) {
            size_t at = p->offset + pick[s];
            float keep = m->params[at], h = 1e-2f;
            m->params[at] = keep + h;
            double lplus = objective(m, &b, w);
            m->params[at] = keep - h;
            double lminus = objective(m, &b, w);
            m->params[at] = keep;
            double fd = (lplus - lminus) / (2.0 * h), an = m->grads[at];
            /* fp32 forward: the central difference is good to about 1e-3 absolute here */
            double tol = 3e-3 + 2e-2 * fabs(an);
            if (fabs(fd - an) / tol > worst) worst = fabs(fd - an) / tol;
            if (fabs(fd - an) > tol)
                fail_msg("%s: %s[%zu]: analytic %.6g, finite difference %.6g", label, p->name, pick[s], an, fd);
            checked++;
        }
    }
    printf("  %-34s %3d entries, worst |fd-an|/tol %.3f\n", label, checked, worst);
    free(w);
    free(lp);
    gta_batch_free_simple(&b);
    gta_model_free(m);
}

static void test_fd_qwen2_gqa(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_QWEN2);
    c.tie_word_embeddings = 1;
    fd_check(&c, "qwen2 H4/KV2 hd6 bias tied");
}

static void test_fd_qwen3_headdim(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_QWEN3);
    c.num_heads = 6;
    c.num_kv_heads = 3;
    c.head_dim = 8; /* 6 * 8 = 48 != hidden 24 */
    fd_check(&c, "qwen3 H6/KV3 hd8!=d/H qk-norm untied");
}

static void test_fd_llama_mqa_scaled(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_LLAMA);
    c.num_heads = 4;
    c.num_kv_heads = 1; /* multi-query */
    c.rope_theta = 500000;
    c.rope_type = GTA_ROPE_LLAMA3;
    c.rope_factor = 8;
    c.rope_low_freq_factor = 1;
    c.rope_high_freq_factor = 4;
    c.rope_original_max_position = 16;
    c.tie_word_embeddings = 1;
    fd_check(&c, "llama H4/KV1 llama3-rope tied");
}

static void test_fd_llama_biases_mha(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_LLAMA);
    c.num_heads = 3;
    c.num_kv_heads = 3;
    c.head_dim = 10;
    c.qkv_bias = c.o_bias = c.mlp_bias = 1;
    c.num_layers = 3;
    fd_check(&c, "llama MHA H3 hd10 all biases 3 layers");
}

/* A prompt shared by three branches gives the same log-probs and the same gradient as the
 * three sequences [prompt | branch] run independently. */
static void test_tree_batch_equals_independent(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_QWEN3);
    gta_model *m = tu_random_model(&c, 21);
    enum { P = 70, NB = 3 }; /* prompt longer than one 64-row attention block */
    int blen[NB] = {5, 1, 66};
    int prompt[P], br[NB][80];
    for (int i = 0; i < P; i++) prompt[i] = (int)(gta_rng_u64(1, 0, (uint64_t)i) % 50);
    for (int j = 0; j < NB; j++)
        for (int i = 0; i < blen[j]; i++) br[j][i] = (int)(gta_rng_u64(2, (uint64_t)j, (uint64_t)i) % 50);
    /* tree: [prompt | b0 | b1 | b2]; pairs: the prompt's last row predicts each branch's
     * first token, every branch row predicts its next token */
    int n = P, nseg = 1 + NB, ids[400], pos[400], ss[4], sl[4], sp[4], row[400], tg[400], nlp = 0;
    memcpy(ids, prompt, sizeof prompt);
    for (int i = 0; i < P; i++) pos[i] = i;
    ss[0] = 0, sl[0] = P, sp[0] = -1;
    for (int j = 0; j < NB; j++) {
        ss[1 + j] = n, sl[1 + j] = blen[j], sp[1 + j] = 0;
        row[nlp] = P - 1, tg[nlp++] = br[j][0];
        for (int i = 0; i < blen[j]; i++) {
            ids[n] = br[j][i];
            pos[n] = P + i;
            if (i + 1 < blen[j]) row[nlp] = n, tg[nlp++] = br[j][i + 1];
            n++;
        }
    }
    gta_batch tree = {n, ids, pos, nseg, ss, sl, sp, nlp, row, tg};
    float w[400], lp_tree[400];
    for (int k = 0; k < nlp; k++) w[k] = (float)(gta_rng_uniform(4, 0, (uint64_t)k) - 0.5);
    gta_model_alloc_grads(m);
    assert_int_equal(gta_forward(m, &tree, lp_tree, NULL, 1), GTA_OK);
    assert_int_equal(gta_backward(m, &tree, w), GTA_OK);
    float *g_tree = malloc(sizeof(float) * m->n_params);
    memcpy(g_tree, m->grads, sizeof(float) * m->n_params);

    /* independent: one sequence per branch, pairs (P-1 .. P+len-2) in the same order */
    gta_model_zero_grads(m);
    int k0 = 0;
    double worst_lp = 0;
    for (int j = 0; j < NB; j++) {
        int sid[200], spos[200], srow[200], stg[200], L = P + blen[j], z = 0, par = -1, cnt = 0;
        memcpy(sid, prompt, sizeof prompt);
        memcpy(sid + P, br[j], sizeof(int) * (size_t)blen[j]);
        for (int i = 0; i < L; i++) spos[i] = i;
        for (int i = P - 1; i < L - 1; i++) srow[cnt] = i, stg[cnt++] = sid[i + 1];
        gta_batch one = {L, sid, spos, 1, &z, &L, &par, cnt, srow, stg};
        float lp[200];
        assert_int_equal(gta_forward(m, &one, lp, NULL, 1), GTA_OK);
        assert_int_equal(gta_backward(m, &one, w + k0), GTA_OK);
        for (int k = 0; k < cnt; k++) {
            double d = fabs(lp[k] - lp_tree[k0 + k]);
            if (d > worst_lp) worst_lp = d;
        }
        k0 += cnt;
    }
    assert_int_equal(k0, nlp);
    size_t at;
    double gmax = tu_max_abs(g_tree, m->n_params), gd = tu_max_abs_diff(g_tree, m->grads, m->n_params, &at);
    printf("  tree vs independent: lp max diff %.3g, grad max diff %.3g (max |g| %.3g)\n", worst_lp, gd, gmax);
    assert_true(worst_lp < 2e-5);
    assert_true(gd < 1e-5 + 1e-5 * gmax);
    free(g_tree);
    gta_model_free(m);
}

/* gta_batch_select: the part of a tree batch two prompts' last branches depend on (the
 * GTA step's gold-guess branches) gives those pairs the log-probs and the gradient of the
 * whole batch with zero weight elsewhere; branches of other prompts and siblings are left out. */
static void test_batch_select(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_QWEN2);
    gta_model *m = tu_random_model(&c, 31);
    enum { NP = 2, NB = 3 };
    int plen[NP] = {9, 70}, blen[NB] = {6, 4, 3};
    int ids[400], pos[400], ss[16], sl[16], sp[16], row[400], tg[400], n = 0, nseg = 0, nlp = 0;
    uint8_t mask[400];
    for (int p = 0; p < NP; p++) {
        int root = nseg, last = n + plen[p] - 1;
        ss[nseg] = n, sl[nseg] = plen[p], sp[nseg++] = -1;
        for (int i = 0; i < plen[p]; i++)
            ids[n] = (int)(gta_rng_u64(3, (uint64_t)p, (uint64_t)i) % 50), pos[n++] = i;
        for (int j = 0; j < NB; j++) {
            int b0 = n;
            ss[nseg] = n, sl[nseg] = blen[j], sp[nseg++] = root;
            for (int i = 0; i < blen[j]; i++) {
                int id = (int)(gta_rng_u64(4, (uint64_t)(p * NB + j), (uint64_t)i) % 50);
                row[nlp] = i == 0 ? last : b0 + i - 1, tg[nlp] = id, mask[nlp++] = j == NB - 1;
                ids[n] = id, pos[n++] = plen[p] + i;
            }
        }
    }
    gta_batch full = {n, ids, pos, nseg, ss, sl, sp, nlp, row, tg}, sel;
    gta_batch_select(&full, mask, &sel);
    assert_int_equal(gta_batch_check(m, &sel), GTA_OK);
    assert_int_equal(sel.nseg, 2 * NP);
    assert_int_equal(sel.n, plen[0] + plen[1] + 2 * blen[NB - 1]);
    assert_int_equal(sel.nlp, NP * blen[NB - 1]);
    float w[400], lp[400], lps[400], ws[400];
    for (int k = 0, j = 0; k < nlp; k++) {
        w[k] = mask[k] ? (float)(gta_rng_uniform(5, 0, (uint64_t)k) - 0.5) : 0.0f;
        if (mask[k]) ws[j++] = w[k];
    }
    gta_model_alloc_grads(m);
    assert_int_equal(gta_forward(m, &full, lp, NULL, 1), GTA_OK);
    assert_int_equal(gta_backward(m, &full, w), GTA_OK);
    float *g_full = malloc(sizeof(float) * m->n_params);
    memcpy(g_full, m->grads, sizeof(float) * m->n_params);
    gta_model_zero_grads(m);
    assert_int_equal(gta_forward(m, &sel, lps, NULL, 1), GTA_OK);
    assert_int_equal(gta_backward(m, &sel, ws), GTA_OK);
    double worst = 0;
    for (int k = 0, j = 0; k < nlp; k++)
        if (mask[k]) {
            assert_int_equal(sel.lp_target[j], tg[k]);
            worst = fmax(worst, fabs(lp[k] - lps[j++]));
        }
    double gmax = tu_max_abs(g_full, m->n_params), gd = tu_max_abs_diff(g_full, m->grads, m->n_params, NULL);
    printf("  selected vs whole batch: lp max diff %.3g, grad max diff %.3g (max |g| %.3g)\n", worst, gd,
           gmax);
    assert_true(gmax > 1e-3);
    assert_true(worst < 2e-5);
    assert_true(gd < 1e-5 + 1e-5 * gmax);
    /* nothing selected: an empty batch */
    memset(mask, 0, sizeof mask);
    gta_batch none;
    gta_batch_select(&full, mask, &none);
    assert_int_equal(none.n, 0);
    assert_int_equal(none.nlp, 0);
    gta_batch_free_select(&none);
    gta_batch_free_select(&sel);
    free(g_full);
    gta_model_free(m);
}

/* Two runs of the same step give bit-identical gradients (fixed schedules, fixed
 * reduction order). */
static void test_backward_deterministic(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_QWEN2);
    gta_model *m = tu_random_model(&c, 5);
    int ids[3 * 40];
    for (int i = 0; i < 120; i++) ids[i] = (int)(gta_rng_u64(8, 0, (uint64_t)i) % 50);
    gta_batch b;
    gta_batch_simple(&b, ids, 3, 40);
    float *dlp = malloc(sizeof(float) * (size_t)b.nlp), *lp = malloc(sizeof(float) * (size_t)b.nlp);
    for (int k = 0; k < b.nlp; k++) dlp[k] = -1.0f / (float)b.nlp;
    gta_model_alloc_grads(m);
    float *g1 = malloc(sizeof(float) * m->n_params);
    for (int r = 0; r < 2; r++) {
        gta_model_zero_grads(m);
        assert_int_equal(gta_forward(m, &b, lp, NULL, 1), GTA_OK);
        assert_int_equal(gta_backward(m, &b, dlp), GTA_OK);
        if (r == 0) memcpy(g1, m->grads, sizeof(float) * m->n_params);
    }
    assert_memory_equal(g1, m->grads, sizeof(float) * m->n_params);
    free(g1);
    free(dlp);
    free(lp);
    gta_batch_free_simple(&b);
    gta_model_free(m);
}

static void const_dlp(void *ctx, int k0, int n, const float *lp, float *dlp) {
    (void)lp;
    const float *w = ctx;
    for (int k = 0; k < n; k++) dlp[k] = w[k0 + k];
}

/* The fused forward+backward gives the same log-probs and gradients as the two calls. */
static void test_forward_backward_fused(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_LLAMA);
    c.vocab_size = 3000;
    gta_model *m = tu_random_model(&c, 9);
    m->be->set_head_chunk(m->ctx, 3000 * 100); /* 100-row head chunks: 28 of them, the last partial */
    int B = 4, T = 700, *ids = malloc(sizeof(int) * (size_t)(B * T));
    for (int i = 0; i < B * T; i++) ids[i] = (int)(gta_rng_u64(2, 0, (uint64_t)i) % 3000);
    gta_batch b;
    gta_batch_simple(&b, ids, B, T);
    float *w = malloc(sizeof(float) * (size_t)b.nlp), *lp1 = malloc(sizeof(float) * (size_t)b.nlp),
          *lp2 = malloc(sizeof(float) * (size_t)b.nlp), *dlp = malloc(sizeof(float) * (size_t)b.nlp);
    for (int k = 0; k < b.nlp; k++) w[k] = (float)(gta_rng_uniform(3, 0, (uint64_t)k) - 0.5) / (float)b.nlp;
    gta_model_alloc_grads(m);
    assert_int_equal(gta_forward(m, &b, lp1, NULL, 1), GTA_OK);
    assert_int_equal(gta_backward(m, &b, w), GTA_OK);
    float *g1 = malloc(sizeof(float) * m->n_params);
    memcpy(g1, m->grads, sizeof(float) * m->n_params);
    gta_model_zero_grads(m);
    assert_int_equal(gta_forward_backward(m, &b, lp2, dlp, const_dlp, w), GTA_OK);
    assert_memory_equal(lp1, lp2, sizeof(float) * (size_t)b.nlp);
    assert_memory_equal(dlp, w, sizeof(float) * (size_t)b.nlp);
    double gmax = tu_max_abs(g1, m->n_params), gd = tu_max_abs_diff(g1, m->grads, m->n_params, NULL);
    assert_true(gd <= 1e-6 * gmax);
    free(g1);
    free(w);
    free(lp1);
    free(lp2);
    free(dlp);
    free(ids);
    gta_batch_free_simple(&b);
    gta_model_free(m);
}

/* AdamW on one parameter against torch.optim.AdamW's update written out by hand. */
static void test_adamw_by_hand(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_LLAMA);
    gta_model *m = gta_model_init_random(&c, 1);
    gta_model_alloc_grads(m);
    gta_adamw o;
    gta_adamw_init(&o, m, 1e-2, 0.1);
    const gta_param *emb = gta_model_find(m, "model.embed_tokens.weight"),
                    *nrm = gta_model_find(m, "model.norm.weight");
    size_t ie = emb->offset + 3, in = nrm->offset + 2;
    double pe = m->params[ie], pn = m->params[in], me = 0, ve = 0, mn = 0, vn = 0;
    const double g[3] = {0.5, -0.25, 2.0}, lr = 1e-2, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (int t = 1; t <= 3; t++) {
        m->grads[ie] = (float)g[t - 1];
        m->grads[in] = (float)g[t - 1];
        gta_adamw_step(&o, m, lr);
        pe -= lr * wd * pe; /* embedding matrix: decayed */
        me = b1 * me + (1 - b1) * g[t - 1];
        ve = b2 * ve + (1 - b2) * g[t - 1] * g[t - 1];
        pe -= lr / (1 - pow(b1, t)) * me / (sqrt(ve) / sqrt(1 - pow(b2, t)) + eps);
        mn = b1 * mn + (1 - b1) * g[t - 1]; /* norm weight: not decayed */
        vn = b2 * vn + (1 - b2) * g[t - 1] * g[t - 1];
        pn -= lr / (1 - pow(b1, t)) * mn / (sqrt(vn) / sqrt(1 - pow(b2, t)) + eps);
        assert_true(fabs(m->params[ie] - pe) < 1e-6);
        assert_true(fabs(m->params[in] - pn) < 1e-6);
    }
    gta_adamw_free(&o);
    gta_model_free(m);
}

static void test_clip_grad_norm(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_LLAMA);
    gta_model *m = gta_model_init_random(&c, 1);
    gta_model_alloc_grads(m);
    m->grads[0] = 3.0f;
    m->grads[m->n_params - 1] = 4.0f;
    assert_true(fabs(gta_clip_grad_norm(m, 10.0) - 5.0) < 1e-9); /* below the limit: untouched */
    assert_true(m->grads[0] == 3.0f);
    assert_true(fabs(gta_clip_grad_norm(m, 1.0) - 5.0) < 1e-9);
    assert_true(fabs(m->grads[0] - 3.0 / (5.0 + 1e-6)) < 1e-7);
    assert_true(fabs(m->grads[m->n_params - 1] - 4.0 / (5.0 + 1e-6)) < 1e-7);
    gta_model_free(m);
}

/* A few AdamW steps, save, reload: identical logits, and the directory is what
 * transformers reads (config.json with the same fields, every tensor named as HF). */
static void test_train_save_reload(void **s) {
    (void)s;
    char *dir = tu_shared("fixtures/hf/qwen3");
    gta_model *m;
    assert_int_equal(gta_model_load(dir, &m), GTA_OK);
    free(dir);
    int ids[2 * 16];
    for (int i = 0; i < 32; i++) ids[i] = (int)(gta_rng_u64(6, 0, (uint64_t)i) % (uint64_t)m->cfg.vocab_size);
    gta_batch b;
    gta_batch_simple(&b, ids, 2, 16);
    float *lp = malloc(sizeof(float) * (size_t)b.nlp), *dlp = malloc(sizeof(float) * (size_t)b.nlp);
    for (int k = 0; k < b.nlp; k++) dlp[k] = -1.0f / (float)b.nlp;
    gta_model_alloc_grads(m);
    gta_adamw o;
    gta_adamw_init(&o, m, 1e-3, 0.01);
    double first = 0, last = 0;
    for (int step = 0; step < 5; step++) {
        gta_model_zero_grads(m);
        assert_int_equal(gta_forward(m, &b, lp, NULL, 1), GTA_OK);
        double loss = 0;
        for (int k = 0; k < b.nlp; k++) loss -= lp[k] / b.nlp;
        if (step == 0) first = loss;
        last = loss;
        assert_int_equal(gta_backward(m, &b, dlp), GTA_OK);
        gta_clip_grad_norm(m, 1.0);
        gta_adamw_step(&o, m, 1e-3);
    }
    assert_true(last < first); /* it learns the batch */
    char *tmp = tu_tmpdir(), *out = gta_path_join(tmp, "saved");
    assert_int_equal(gta_model_save(m, out), GTA_OK);
    gta_model *r;
    assert_int_equal(gta_model_load(out, &r), GTA_OK);
    assert_int_equal(r->n_params, m->n_params);
    assert_memory_equal(r->params, m->params, sizeof(float) * m->n_params);
    size_t V = (size_t)m->cfg.vocab_size;
    float *l1 = malloc(sizeof(float) * (size_t)b.n * V), *l2 = malloc(sizeof(float) * (size_t)b.n * V);
    assert_int_equal(gta_forward(m, &b, NULL, l1, 0), GTA_OK);
    assert_int_equal(gta_forward(r, &b, NULL, l2, 0), GTA_OK);
    assert_memory_equal(l1, l2, sizeof(float) * (size_t)b.n * V);
    /* config.json keeps the architecture */
    char *cp = gta_path_join(out, "config.json");
    gta_config rc;
    assert_int_equal(gta_config_load(cp, &rc), GTA_OK);
    assert_int_equal(rc.arch, GTA_ARCH_QWEN3);
    assert_int_equal(rc.head_dim, m->cfg.head_dim);
    assert_int_equal(rc.tie_word_embeddings, 0);
    assert_true(rc.rope_theta == m->cfg.rope_theta);
    free(cp);
    gta_model_free(r);
    free(l1);
    free(l2);
    free(out);
    tu_rm_rf(tmp);
    free(tmp);
    free(lp);
    free(dlp);
    gta_adamw_free(&o);
    gta_batch_free_simple(&b);
    gta_model_free(m);
}

/* A saved directory has what transformers reads: the fixture's tensor names, shapes and
 * dtypes exactly, and a config.json whose architecture fields equal the fixture's. */
static void save_layout_case(const char *fixture) {
    char rel[128];
    snprintf(rel, sizeof rel, "fixtures/hf/%s", fixture);
    char *dir = tu_shared(rel), *tmp = tu_tmpdir(), *out = gta_path_join(tmp, "m");
    gta_model *m;
    assert_int_equal(gta_model_load(dir, &m), GTA_OK);
    assert_int_equal(gta_model_save(m, out), GTA_OK);
    st_set *a, *b;
    assert_int_equal(st_open_dir(dir, &a), GTA_OK);
    assert_int_equal(st_open_dir(out, &b), GTA_OK);
    assert_int_equal(st_count(a), st_count(b));
    for (int i = 0; i < st_count(a); i++) {
        const st_tensor *x = st_at(a, i), *y = st_find(b, x->name);
        if (!y) fail_msg("%s: saved model lacks %s", fixture, x->name);
        assert_int_equal(x->dtype, y->dtype);
        assert_int_equal(x->ndim, y->ndim);
        for (int k = 0; k < x->ndim; k++) assert_int_equal(x->shape[k], y->shape[k]);
        assert_memory_equal(x->data, y->data, x->nbytes);
    }
    st_close(a);
    st_close(b);
    char *p1 = gta_path_join(dir, "config.json"), *p2 = gta_path_join(out, "config.json");
    cJSON *j1, *j2;
    assert_int_equal(gta_json_load(p1, &j1), GTA_OK);
    assert_int_equal(gta_json_load(p2, &j2), GTA_OK);
    const char *keys[] = {"architectures",       "model_type",          "vocab_size",        "hidden_size",
                          "intermediate_size",   "num_hidden_layers",   "num_attention_heads",
                          "num_key_value_heads", "rms_norm_eps",        "tie_word_embeddings",
                          "bos_token_id",        "eos_token_id",        "max_position_embeddings",
                          "hidden_act",          "rope_parameters"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const cJSON *v1 = cJSON_GetObjectItem(j1, keys[k]), *v2 = cJSON_GetObjectItem(j2, keys[k]);
        if (!v1) continue;
        if (!v2 || !cJSON_Compare(v1, v2, 1)) {
            char *t1 = cJSON_PrintUnformatted(v1), *t2 = v2 ? cJSON_PrintUnformatted(v2) : NULL;
            fail_msg("%s: config.json '%s': fixture %s, saved %s", fixture, keys[k], t1, t2 ? t2 : "(missing)");
        }
    }
    const cJSON *hd = cJSON_GetObjectItem(j1, "head_dim");
    if (hd) assert_true(cJSON_Compare(hd, cJSON_GetObjectItem(j2, "head_dim"), 1));
    cJSON_Delete(j1);
    cJSON_Delete(j2);
    free(p1);
    free(p2);
    gta_model_free(m);
    tu_rm_rf(tmp);
    free(tmp);
    free(out);
    free(dir);
}

static void test_save_matches_hf_layout(void **s) {
    (void)s;
    save_layout_case("qwen2");
    save_layout_case("qwen3");
    save_layout_case("llama");
}

/* stories260K (real pretrained weights) against its float64 reference. */
static void test_stories260k(void **s) {
    (void)s;
    char *dir = tu_shared("models/stories260K"), *rp = gta_path_join(dir, "reference_logits.json");
    gta_model *m;
    assert_int_equal(gta_model_load(dir, &m), GTA_OK);
    cJSON *ref;
    assert_int_equal(gta_json_load(rp, &ref), GTA_OK);
    const cJSON *g = cJSON_GetObjectItem(ref, "greedy");
    const cJSON *pids = cJSON_GetObjectItem(g, "prompt_ids"), *all = cJSON_GetObjectItem(g, "ids_after_40_greedy_steps");
    int np = cJSON_GetArraySize(pids), na = cJSON_GetArraySize(all), prompt[64], out[64], n_out;
    for (int i = 0; i < np; i++) prompt[i] = cJSON_GetArrayItem(pids, i)->valueint;
    gta_finish fin;
    assert_int_equal(gta_generate_greedy(m, prompt, np, na - np, NULL, 0, out, &n_out, &fin), GTA_OK);
    assert_int_equal(n_out, na - np);
    for (int i = 0; i < n_out; i++) assert_int_equal(out[i], cJSON_GetArrayItem(all, np + i)->valueint);
    /* per-case logits and loss */
    const cJSON *cs;
    int ncase = 0;
    double worst = 0;
    cJSON_ArrayForEach(cs, cJSON_GetObjectItem(ref, "cases")) {
        const cJSON *jids = cJSON_GetObjectItem(cs, "ids"), *lastl = cJSON_GetObjectItem(cs, "last_position_logits"),
                    *am = cJSON_GetObjectItem(cs, "argmax_per_position");
        int T = cJSON_GetArraySize(jids), ids[512];
        for (int i = 0; i < T; i++) ids[i] = cJSON_GetArrayItem(jids, i)->valueint;
        gta_batch b;
        gta_batch_simple(&b, ids, 1, T);
        float *logits = malloc(sizeof(float) * (size_t)T * 512), *lp = malloc(sizeof(float) * (size_t)T);
        assert_int_equal(gta_forward(m, &b, lp, logits, 0), GTA_OK);
        for (int j = 0; j < 512; j++) {
            double d = fabs(logits[(size_t)(T - 1) * 512 + j] - cJSON_GetArrayItem(lastl, j)->valuedouble);
            if (d > worst) worst = d;
        }
        for (int t = 0; t < T; t++) {
            int best = 0;
            for (int j = 1; j < 512; j++)
                if (logits[(size_t)t * 512 + j] > logits[(size_t)t * 512 + best]) best = j;
            assert_int_equal(best, cJSON_GetArrayItem(am, t)->valueint);
        }
        double nll = 0;
        for (int k = 0; k < b.nlp; k++) nll -= lp[k] / b.nlp;
        assert_true(fabs(nll - cJSON_GetObjectItem(cs, "mean_next_token_nll")->valuedouble) < 1e-4);
        free(logits);
        free(lp);
        gta_batch_free_simple(&b);
        ncase++;
    }
    printf("  stories260K: greedy %d tokens identical, %d cases, last-position logits max diff %.3g\n", n_out, ncase,
           worst);
    assert_true(ncase >= 3);
    assert_true(worst < 1e-4);
    cJSON_Delete(ref);
    gta_model_free(m);
    free(dir);
    free(rp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_qwen2_gqa),
        cmocka_unit_test(test_fd_qwen3_headdim),
        cmocka_unit_test(test_fd_llama_mqa_scaled),
        cmocka_unit_test(test_fd_llama_biases_mha),
        cmocka_unit_test(test_tree_batch_equals_independent),
        cmocka_unit_test(test_batch_select),
        cmocka_unit_test(test_backward_deterministic),
        cmocka_unit_test(test_forward_backward_fused),
        cmocka_unit_test(test_adamw_by_hand),
        cmocka_unit_test(test_clip_grad_norm),
        cmocka_unit_test(test_train_save_reload),
        cmocka_unit_test(test_save_matches_hf_layout),
        cmocka_unit_test(test_stories260k),
    };
    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
