/* gta bench --what generate: the shape of bench/torch_qwen_cpu.py's sample benchmark
 * (16 sequences, 64-token prompts, one prefill, 64 new tokens at temperature 1 over the
 * full vocabulary), and the prefix-sharing comparison (G samples of one prompt versus G
 * independent copies of it). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "bench/bench.h"
#include "model/sampler.h"


/* one timed request; returns seconds */
static int run_once(gta_model *m, const int *const *prompts, const int *plen, int np, int G, int N, uint64_t seed,
                    int bf16, double *secs) {
    gta_sample_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 1.0;
    p.top_p = 1.0;
    p.max_new_tokens = N;
    p.seed = seed;
    p.bf16_weights = bf16;
    gta_sample_seq *out = gta_calloc((size_t)(np * G), sizeof *out);
    double t = gta_now();
    int rc = gta_sample(m, prompts, plen, np, G, NULL, &p, out);
    *secs = gta_now() - t;
    if (!rc)
        for (int s = 0; s < np * G; s++)
            if (out[s].n != N) rc = gta_err_set(GTA_EFAIL, "bench: sample %d stopped after %d tokens", s, out[s].n);
    if (!rc) gta_sample_seq_free(out, np * G);
    free(out);
    return rc;
}

int gta_bench_generate(const gta_config *c, const char *name, int B, int P, int N, int runs, int share, int bf16,
                       char **json) {
    if (B <= 0 || P <= 0 || N <= 0 || runs <= 0)
        return gta_err_set(GTA_EINPUT, "bench: --batch, --prompt-len, --new-tokens and --runs must be positive");
    gta_model *m = gta_bench_model(c);
    if (!m) return GTA_EINPUT;
    int *buf = gta_malloc(sizeof(int) * (size_t)B * P), *plen = gta_malloc(sizeof(int) * (size_t)B);
    const int **prompts = gta_malloc(sizeof(int *) * (size_t)B);
    for (int i = 0; i < B; i++) {
        for (int t = 0; t < P; t++) buf[i * P + t] = (int)(gta_rng_u64(3, (uint64_t)i, (uint64_t)t) % (uint64_t)c->vocab_size);
        /* with share, every "copy" is the same prompt */
        prompts[i] = share ? buf : buf + (size_t)i * P;
        plen[i] = P;
    }
    double *rate = gta_malloc(sizeof(double) * (size_t)runs), *rate2 = gta_malloc(sizeof(double) * (size_t)runs), secs;
    int rc = run_once(m, prompts, plen, share ? 1 : B, share ? B : 1, 8, 1, bf16, &secs); /* warm-up */
    for (int r = 0; r < runs && !rc; r++) {
        /* distinct prompts (or, with share, G samples of one prompt: prefilled once) */
        rc = run_once(m, prompts, plen, share ? 1 : B, share ? B : 1, N, (uint64_t)r, bf16, &secs);
        rate[r] = (double)B * N / secs;
        if (!rc && share) {
            /* the same prompt given B times as independent prompts: B prefills, B caches */
            rc = run_once(m, prompts, plen, B, 1, N, (uint64_t)r, bf16, &secs);
            rate2[r] = (double)B * N / secs;
        }
    }
    if (!rc) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "what", "generate");
        cJSON_AddStringToObject(j, "config", name);
        cJSON_AddNumberToObject(j, "sequences", B);
        cJSON_AddNumberToObject(j, "prompt_tokens", P);
        cJSON_AddNumberToObject(j, "new_tokens", N);
        cJSON_AddNumberToObject(j, "temperature", 1.0);
        /* bf16 compute decodes from bf16 panels (sampler.c) */
        cJSON_AddStringToObject(j, "weights", bf16 || m->compute == GTA_COMPUTE_BF16 ? "bf16" : "fp32");
        cJSON_AddStringToObject(j, "compute", gta_compute_name(m->compute));
        cJSON_AddNumberToObject(j, "threads", m->be->threads(m->ctx));
        cJSON_AddNumberToObject(j, "runs", runs);
        double lo = 1e300, hi = 0;
        for (int r = 0; r < runs; r++) lo = fmin(lo, rate[r]), hi = fmax(hi, rate[r]);
        cJSON_AddNumberToObject(j, "tokens_per_s", round(gta_bench_median(rate, runs)));
        cJSON_AddNumberToObject(j, "min", round(lo));
        cJSON_AddNumberToObject(j, "max", round(hi));
        if (share) {
            gta_sample_plan ps, pc;
            int one = P;
            gta_sample_plan_make(m->be, c, &one, 1, B, N, 0, bf16, &ps);
            gta_sample_plan_make(m->be, c, plen, B, 1, N, 0, bf16, &pc);
            double med2 = gta_bench_median(rate2, runs);
            cJSON *s = cJSON_AddObjectToObject(j, "prefix_sharing");
            cJSON_AddStringToObject(s, "shared", "one prompt, G samples (prefilled once, one KV copy)");
            cJSON_AddStringToObject(s, "copies", "G independent copies of the prompt");
            cJSON_AddNumberToObject(s, "shared_tokens_per_s", round(gta_bench_median(rate, runs)));
            cJSON_AddNumberToObject(s, "copies_tokens_per_s", round(med2));
            cJSON_AddNumberToObject(s, "speedup", round(100 * gta_bench_median(rate, runs) / med2) / 100);
            cJSON_AddNumberToObject(s, "shared_kv_mib", round(ps.kv_bytes / 1048576.0 * 100) / 100);
            cJSON_AddNumberToObject(s, "copies_kv_mib", round(pc.kv_bytes / 1048576.0 * 100) / 100);
        }
        cJSON_AddNumberToObject(j, "peak_rss_mib", round(gta_bench_peak_rss_mib()));
        *json = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    }
    free(rate);
    free(rate2);
    free(buf);
    free(plen);
    free(prompts);
    gta_model_free(m);
    return rc;
}
