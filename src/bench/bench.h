/* Built-in benchmarks behind `gta bench`. Each returns a JSON object (caller frees)
 * with what, the configuration, runs, median/min/max rate. */
#ifndef GTA_BENCH_BENCH_H
#define GTA_BENCH_BENCH_H

#include "backend/backend.h"
#include "model/config.h"

/* The backend the benchmarks run on (default: the CPU's). */
void gta_bench_set_backend(const gta_backend_ops *be);
const gta_backend_ops *gta_bench_backend(void);
/* The compute precision (model.h's gta_compute) of the benchmarks' models (default f32),
 * and a model on the benchmarks' backend with it: random weights of seed 0 (NULL, an
 * error set, where the backend has no bf16 compute). */
void gta_bench_set_compute(int compute);
int gta_bench_compute(void);
struct gta_model *gta_bench_model(const gta_config *c);
/* The linear products at the shapes of c for n tokens (forward, dx, dW of each layer
 * matrix; fp32 or bf16 as gta_bench_compute), GFLOP/s per product. */
int gta_bench_gemm(const gta_config *c, const char *name, int n, int runs, char **json);

/* The named configurations of bench/README.md (tiny, small, q05-4L, q05) or a config.json. */
int gta_bench_config(const char *name, gta_config *c);
/* forward + cross-entropy + backward + AdamW + zero_grad on B x T random tokens. */
int gta_bench_train(const gta_config *c, const char *name, int B, int T, int runs, char **json);
/* B sequences of P random prompt tokens, N new tokens at temperature 1 (distinct prompts);
 * with share, B samples of one prompt against B independent copies of it. */
int gta_bench_generate(const gta_config *c, const char *name, int B, int P, int N, int runs, int share, int bf16,
                       char **json);
/* A GTA step's forward+backward on one P-token prompt with G completions of L tokens,
 * prefix-shared (tree batch) versus G+1 independent sequences. */
int gta_bench_prefix(const gta_config *c, const char *name, int P, int G, int L, int runs, char **json);
/* The shape of a whole RL step (gta_bench_step). */
typedef struct {
    int prompts, group, prompt_len, new_tokens, iterations, runs;
} gta_step_shape;
/* One whole GRPO step (gta: GTA step) the way the trainer runs it, with the shape and work of
 * ../shared/bench/torch_grpo_step.py; the median over runs of each phase and of the step. */
int gta_bench_step(const gta_config *c, const char *name, int gta, const gta_step_shape *shape, char **json);
/* Measured fp32 FMA peak of this machine on all OpenMP threads, GFLOP/s. */
double gta_bench_peak_gflops(void);
/* Median of v[0..n) (sorts v). */
double gta_bench_median(double *v, int n);
/* Peak resident set size of this process, MiB. */
double gta_bench_peak_rss_mib(void);
/* Adds the BLAS to a result: "blas", "blas_core" (the kernels OpenBLAS runs) and, when gta
 * chose them over OpenBLAS's own detection, "blas_core_detected" (backend/blas_core.h). */
struct cJSON;
void gta_bench_add_blas(struct cJSON *j);

#endif
