/* gta bench --what gemm: the linear products of one layer at a configuration's shapes for
 * n tokens -- forward y = x W^T, dx = dy W and dW += dy^T x of wqkv, wo, wgu, wd -- in
 * fp32 or bf16 compute (gta_bench_compute), through the backend's ops as the model calls
 * them (bf16: the activations rounded at the input, W from its bf16 copy). GFLOP/s by
 * wall time and per CPU-second of the process (the kernel's rate where the machine is
 * shared: run it with OMP_NUM_THREADS=1, as idle OpenMP threads spinning count too). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/error.h"
#include "base/util.h"
#include "bench/bench.h"
#include "model/model.h"

/* seconds of CPU time the process has used: on a machine shared with other jobs, wall time
 * measures this process's share; with one thread, flop per CPU-second measures the kernel */
static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int gta_bench_gemm(const gta_config *c0, const char *name, int n, int runs, char **json) {
    if (n <= 0 || runs <= 0)
        return gta_err_set(GTA_EINPUT, "bench: --batch x --seq and --runs must be positive");
    gta_config c = *c0;
    c.num_layers = 1;
    c.vocab_size = 16; /* the head is not measured */
    gta_model *m = gta_bench_model(&c);
    if (!m) return GTA_EINPUT;
    const gta_backend_ops *be = m->be;
    gta_ctx *cx = m->ctx;
    int bf = m->compute == GTA_COMPUTE_BF16, d = c.hidden_size, q = c.num_heads * c.head_dim,
        ld = (c.num_heads + 2 * c.num_kv_heads) * c.head_dim, f = c.intermediate_size;
    struct {
        const char *name;
        const float *w;
        int out, in;
    } mats[4] = {{"qkv", m->layers[0].wqkv, ld, d},
                 {"o", m->layers[0].wo, d, q},
                 {"gate_up", m->layers[0].wgu, 2 * f, d},
                 {"down", m->layers[0].wd, d, f}};
    size_t big = (size_t)n * (size_t)(2 * f > ld ? 2 * f : ld);
    float *x = be->alloc(cx, sizeof(float) * big), *y = be->alloc(cx, sizeof(float) * big),
          *dw = be->alloc(cx, sizeof(float) * (size_t)2 * f * d);
    be->fill_normal(cx, x, big, 7, 0, 1.0);
    be->fill_normal(cx, y, big, 7, 1, 1.0);
    be->zero(cx, dw, sizeof(float) * (size_t)2 * f * d);
    double *t = gta_malloc(sizeof(double) * (size_t)runs), *tc = gta_malloc(sizeof(double) * (size_t)runs),
           total_flop = 0, total_s = 0, total_cpu = 0;
    cJSON *j = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddStringToObject(j, "what", "gemm");
    cJSON_AddStringToObject(j, "config", name);
    cJSON_AddNumberToObject(j, "tokens", n);
    cJSON_AddStringToObject(j, "compute", gta_compute_name(m->compute));
    cJSON_AddStringToObject(j, "bf16_kernel", gta_model_compute_kernel(m));
    if (gta_model_compute_choice(m)) cJSON_AddStringToObject(j, "bf16_default", gta_model_compute_choice(m));
    gta_bench_add_blas(j);
    cJSON_AddNumberToObject(j, "threads", be->threads(cx));
    cJSON_AddNumberToObject(j, "runs", runs);
    for (int k = 0; k < 4; k++) {
        const uint16_t *wb = bf ? gta_model_wb(m, k) : NULL;
        int out = mats[k].out, in = mats[k].in;
        double flop = 2.0 * n * out * in;
        for (int op = 0; op < 3; op++) {
            for (int r = -1; r < runs; r++) { /* one warm-up */
                double t0 = gta_now(), u0 = cpu_seconds();
                if (op == 0)
                    bf ? be->linear_bf16(cx, y, x, wb, NULL, n, in, out, 0.0f, 1)
                       : be->linear(cx, y, x, mats[k].w, NULL, n, in, out, 0.0f);
                else if (op == 1)
                    bf ? be->linear_dx_bf16(cx, x, y, wb, n, in, out, 0.0f, 1)
                       : be->linear_dx(cx, x, y, mats[k].w, n, in, out, 0.0f);
                else
                    bf ? be->linear_dw_bf16(cx, dw, NULL, y, x, n, in, out)
                       : be->linear_dw(cx, dw, NULL, y, x, n, in, out);
                if (r >= 0) t[r] = gta_now() - t0, tc[r] = cpu_seconds() - u0;
            }
            double med = gta_bench_median(t, runs), medc = gta_bench_median(tc, runs);
            total_flop += flop;
            total_s += med;
            total_cpu += medc;
            cJSON *e = cJSON_CreateObject();
            char what[32];
            snprintf(what, sizeof what, "%s.%s", mats[k].name, op == 0 ? "fwd" : op == 1 ? "dx" : "dw");
            cJSON_AddStringToObject(e, "product", what);
            cJSON_AddNumberToObject(e, "m", op == 2 ? out : n);
            cJSON_AddNumberToObject(e, "n", op == 1 ? in : op == 2 ? in : out);
            cJSON_AddNumberToObject(e, "k", op == 0 ? in : op == 1 ? out : n);
            cJSON_AddNumberToObject(e, "gflops", round(flop / med / 1e8) / 10);
            cJSON_AddNumberToObject(e, "gflops_per_cpu_s", round(flop / medc / 1e8) / 10);
            cJSON_AddItemToArray(arr, e);
        }
    }
    cJSON_AddNumberToObject(j, "gflops", round(total_flop / total_s / 1e8) / 10);
    cJSON_AddNumberToObject(j, "gflops_per_cpu_s", round(total_flop / total_cpu / 1e8) / 10);
    cJSON_AddItemToObject(j, "products", arr);
    *json = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    free(t);
    free(tc);
    be->free(cx, x);
    be->free(cx, y);
    be->free(cx, dw);
    gta_model_free(m);
    return GTA_OK;
}
