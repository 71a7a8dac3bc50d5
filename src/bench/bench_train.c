#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "backend/blas_core.h"
#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "bench/bench.h"
#include "model/model.h"
#include "train/objective.h"
#include "train/optim.h"

int gta_bench_config(const char *name, gta_config *c) {
    static const struct {
        const char *name;
        int vocab, d, layers, heads, kv, ffn;
    } named[] = {
        {"tiny", 8192, 256, 4, 4, 2, 768},
        {"small", 32768, 512, 8, 8, 4, 1536},
        {"q05-4L", 151936, 896, 4, 14, 2, 4864},
        {"q05", 151936, 896, 24, 14, 2, 4864},
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strcmp(name, named[i].name) != 0) continue;
        /* Qwen2-shaped, as bench/torch_qwen_cpu.py: q/k/v bias, tied lm_head, rope 1e6 */
        memset(c, 0, sizeof *c);
        c->arch = GTA_ARCH_QWEN2;
        c->vocab_size = named[i].vocab;
        c->hidden_size = named[i].d;
        c->num_layers = named[i].layers;
        c->num_heads = named[i].heads;
        c->num_kv_heads = named[i].kv;
        c->head_dim = named[i].d / named[i].heads;
        c->intermediate_size = named[i].ffn;
        c->max_position_embeddings = 32768;
        c->rms_norm_eps = 1e-6;
        c->rope_theta = 1e6;
        c->tie_word_embeddings = 1;
        c->qkv_bias = 1;
        c->bos_token_id = -1;
        snprintf(c->dtype, sizeof c->dtype, "float32");
        return GTA_OK;
    }
    if (gta_file_exists(name)) return gta_config_load(name, c);
    return gta_err_set(
        GTA_EINPUT, "bench: --config '%s' is neither tiny, small, q05-4L, q05 nor a config.json file", name);
}

double gta_bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

void gta_bench_add_blas(cJSON *j) {
    const char *det = gta_blas_core_detected();
    cJSON_AddStringToObject(j, "blas",
                            !det && getenv("OPENBLAS_CORETYPE") ? "openblas-openmp (OPENBLAS_CORETYPE set)"
                                                                : "openblas-openmp");
    cJSON_AddStringToObject(j, "blas_core", gta_blas_core());
    if (det) cJSON_AddStringToObject(j, "blas_core_detected", det);
}

/* Independent FMA chains, enough to cover the FMA latency on two pipes. */
static const gta_backend_ops *bench_be;

void gta_bench_set_backend(const gta_backend_ops *be) { bench_be = be; }
const gta_backend_ops *gta_bench_backend(void) { return bench_be ? bench_be : gta_backend_cpu(); }

static int bench_compute;

void gta_bench_set_compute(int compute) { bench_compute = compute; }
int gta_bench_compute(void) { return bench_compute; }

gta_model *gta_bench_model(const gta_config *c) {
    gta_model *m = gta_model_init_random_on(c, 0, gta_bench_backend());
    if (bench_compute != GTA_COMPUTE_F32 && gta_model_set_compute(m, bench_compute)) {
        gta_model_free(m);
        return NULL;
    }
    return m;
}

double gta_bench_peak_gflops(void) {
    const gta_backend_ops *be = gta_bench_backend();
    return be->peak_gflops(NULL);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double gta_bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int gta_bench_train(const gta_config *c, const char *name, int B, int T, int runs, char **json) {
    if (B <= 0 || T <= 1 || runs <= 0) return gta_err_set(GTA_EINPUT, "bench: --batch, --seq and --runs must be positive");
    gta_model *m = gta_bench_model(c);
    if (!m) return GTA_EINPUT;
    gta_model_alloc_grads(m);
    gta_adamw opt;
    gta_adamw_init(&opt, m, 1e-4, 0.0);
    /* B sequences of T inputs, each position predicting the next of T+1 random tokens */
    int n = B * T, *ids = gta_malloc(sizeof(int) * (size_t)n), *pos = gta_malloc(sizeof(int) * (size_t)n),
        *row = gta_malloc(sizeof(int) * (size_t)n), *tg = gta_malloc(sizeof(int) * (size_t)n),
        *ss = gta_malloc(sizeof(int) * (size_t)B), *sl = gta_malloc(sizeof(int) * (size_t)B),
        *sp = gta_malloc(sizeof(int) * (size_t)B);
    for (int i = 0; i < B; i++) {
        ss[i] = i * T, sl[i] = T, sp[i] = -1;
        for (int t = 0; t <= T; t++) {
            int tok = (int)(gta_rng_u64(1, (uint64_t)i, (uint64_t)t) % (uint64_t)c->vocab_size);
            if (t < T) {
                ids[i * T + t] = tok;
                pos[i * T + t] = t;
                row[i * T + t] = i * T + t;
            }
            if (t > 0) tg[i * T + t - 1] = tok;
        }
    }
    gta_batch b = {n, ids, pos, B, ss, sl, sp, n, row, tg};
    float *lp = gta_malloc(sizeof(float) * (size_t)n), *dlp = gta_malloc(sizeof(float) * (size_t)n);
    int warm = 2, rc = GTA_OK;
    double *rate = gta_malloc(sizeof(double) * (size_t)runs), loss = 0;
    for (int r = 0; r < warm + runs; r++) {
        double t0 = gta_now();
        if ((rc = gta_forward_backward(m, &b, lp, dlp, gta_mean_ce_dlp, &n))) break;
        gta_adamw_step(&opt, m, 1e-4);
        gta_model_zero_grads(m);
        double dt = gta_now() - t0;
        if (r >= warm) rate[r - warm] = n / dt;
        loss = 0;
        for (int k = 0; k < n; k++) loss -= lp[k] / n;
    }
    if (!rc && !isfinite(loss)) rc = gta_err_set(GTA_EFAIL, "bench: loss is not finite");
    if (!rc) {
        double med = gta_bench_median(rate, runs);
        /* the same FLOP count as bench/torch_qwen_cpu.py, so fractions compare directly */
        double d = c->hidden_size, hd = c->head_dim, kv = c->num_kv_heads, f = c->intermediate_size,
               L = c->num_layers, q = (double)c->num_heads * hd;
        double per_tok = L * 2 * (d * q + 2 * d * kv * hd + q * d + 3 * d * f) + 2 * d * c->vocab_size;
        double flop = 3.0 * n * per_tok + 3.0 * L * B * 4.0 * T * T * d;
        double gflops = flop * med / n / 1e9, peak = gta_bench_peak_gflops();
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "what", "train");
        cJSON_AddStringToObject(j, "config", name);
        cJSON_AddNumberToObject(j, "params_m", round(m->n_params / 1e4) / 100);
        cJSON_AddNumberToObject(j, "batch", B);
        cJSON_AddNumberToObject(j, "seq", T);
        cJSON_AddNumberToObject(j, "threads", m->be->threads(m->ctx));
        cJSON_AddStringToObject(j, "compute", gta_compute_name(m->compute));
        cJSON_AddStringToObject(j, "bf16_kernel", gta_model_compute_kernel(m));
        if (gta_model_compute_choice(m))
            cJSON_AddStringToObject(j, "bf16_default", gta_model_compute_choice(m));
        cJSON_AddNumberToObject(j, "runs", runs);
        cJSON_AddNumberToObject(j, "tokens_per_s", round(med));
        cJSON_AddNumberToObject(j, "min", round(rate[0]));
        cJSON_AddNumberToObject(j, "max", round(rate[runs - 1]));
        cJSON_AddNumberToObject(j, "gflops", round(gflops));
        cJSON_AddNumberToObject(j, "peak_gflops", round(peak));
        cJSON_AddNumberToObject(j, "fraction_of_peak", round(1000 * gflops / peak) / 1000);
        cJSON_AddNumberToObject(j, "peak_rss_mib", round(gta_bench_peak_rss_mib()));
        gta_bench_add_blas(j);
        *json = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    }
    free(rate);
    free(lp);
    free(dlp);
    free(ids);
    free(pos);
    free(row);
    free(tg);
    free(ss);
    free(sl);
    free(sp);
    gta_adamw_free(&opt);
    gta_model_free(m);
    return rc;
}

/* A GTA step's forward + backward on one prompt of P tokens with G completions of L
 * tokens and a gold-guess branch of 8 tokens: as a tree batch (the prompt computed once)
 * and as G + 1 independent sequences [prompt | branch]. */
static void build_step_batch(int shared, int P, int G, int L, int V, gta_batch *b) {
    int nb = G + 1, n = shared ? P + G * L + 8 : nb * P + G * L + 8, nseg = shared ? 1 + nb : nb;
    int *ids = gta_malloc(sizeof(int) * (size_t)n), *pos = gta_malloc(sizeof(int) * (size_t)n),
        *ss = gta_malloc(sizeof(int) * (size_t)nseg), *sl = gta_malloc(sizeof(int) * (size_t)nseg),
        *sp = gta_malloc(sizeof(int) * (size_t)nseg), *row = gta_malloc(sizeof(int) * (size_t)(G * L + 8)),
        *tg = gta_malloc(sizeof(int) * (size_t)(G * L + 8));
    int at = 0, k = 0, s = 0, last = -1;
    if (shared) {
        ss[s] = 0, sl[s] = P, sp[s++] = -1;
        for (int t = 0; t < P; t++) ids[at] = (int)(gta_rng_u64(5, 0, (uint64_t)t) % (uint64_t)V), pos[at++] = t;
        last = P - 1;
    }
    for (int br = 0; br < nb; br++) {
        int len = br < G ? L : 8;
        if (!shared) {
            ss[s] = at, sl[s] = P + len, sp[s++] = -1;
            for (int t = 0; t < P; t++) ids[at] = (int)(gta_rng_u64(5, 0, (uint64_t)t) % (uint64_t)V), pos[at++] = t;
            last = at - 1;
        } else {
            ss[s] = at, sl[s] = len, sp[s++] = 0;
        }
        int b0 = at;
        for (int j = 0; j < len; j++) {
            int id = (int)(gta_rng_u64(6, (uint64_t)br, (uint64_t)j) % (uint64_t)V);
            row[k] = j == 0 ? last : b0 + j - 1;
            tg[k++] = id;
            ids[at] = id, pos[at++] = P + j;
        }
    }
    *b = (gta_batch){n, ids, pos, nseg, ss, sl, sp, k, row, tg};
}

int gta_bench_prefix(const gta_config *c, const char *name, int P, int G, int L, int runs, char **json) {
    if (P <= 0 || G <= 0 || L <= 0 || runs <= 0) return gta_err_set(GTA_EINPUT, "bench: sizes and --runs must be positive");
    gta_model *m = gta_bench_model(c);
    if (!m) return GTA_EINPUT;
    gta_model_alloc_grads(m);
    double med[2], tok[2];
    int rc = GTA_OK;
    for (int shared = 1; shared >= 0 && !rc; shared--) {
        gta_batch b;
        build_step_batch(shared, P, G, L, c->vocab_size, &b);
        float *lp = gta_malloc(sizeof(float) * (size_t)b.nlp), *dlp = gta_malloc(sizeof(float) * (size_t)b.nlp);
        int nlp = b.nlp;
        double *sec = gta_malloc(sizeof(double) * (size_t)runs);
        for (int r = 0; r < runs + 1 && !rc; r++) {
            double t0 = gta_now();
            rc = gta_forward_backward(m, &b, lp, dlp, gta_mean_ce_dlp, &nlp);
            if (r > 0) sec[r - 1] = gta_now() - t0;
        }
        med[shared] = gta_bench_median(sec, runs);
        tok[shared] = b.n;
        free(sec), free(lp), free(dlp);
        free((void *)b.ids), free((void *)b.pos), free((void *)b.seg_start), free((void *)b.seg_len);
        free((void *)b.seg_parent), free((void *)b.lp_row), free((void *)b.lp_target);
    }
    if (!rc) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "what", "train-prefix");
        cJSON_AddStringToObject(j, "config", name);
        cJSON_AddNumberToObject(j, "prompt_tokens", P);
        cJSON_AddNumberToObject(j, "group_size", G);
        cJSON_AddNumberToObject(j, "completion_tokens", L);
        cJSON_AddNumberToObject(j, "runs", runs);
        cJSON_AddNumberToObject(j, "shared_tokens", tok[1]);
        cJSON_AddNumberToObject(j, "unshared_tokens", tok[0]);
        cJSON_AddNumberToObject(j, "shared_seconds", round(med[1] * 1000) / 1000);
        cJSON_AddNumberToObject(j, "unshared_seconds", round(med[0] * 1000) / 1000);
        cJSON_AddNumberToObject(j, "speedup", round(100 * med[0] / med[1]) / 100);
        cJSON_AddNumberToObject(j, "threads", m->be->threads(m->ctx));
        *json = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    }
    gta_model_free(m);
    return rc;
}
