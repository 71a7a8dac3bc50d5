/* bf16 compute on the CPU: products of bfloat16 inputs summed in fp32 (cpu_bf16.c).
 *
 * One GEMM, C[M,N] = beta C + op(A) op(B) over bf16 matrices (row-major; ta: A is stored
 * [K, M], else [M, K]; tb: B is stored [N, K], else [K, N]), with three implementations
 * (chosen at each call from the CPU and the environment):
 *   dnnl      oneDNN's matmul primitive (AMX or AVX512-BF16), when the build has oneDNN
 *             and the CPU AVX512-BF16
 *   avx512    our own vdpbf16ps kernel (cpu_bf16_avx512.c), on CPUs with AVX512-BF16
 *   fallback  the bf16 inputs widened to fp32 (exactly) and OpenBLAS's sgemm: the same
 *             products, fp32 sums, on any x86-64-v3 CPU
 * The default is measured once (cpu_bf16_choice says why): dnnl where the CPU has AMX-BF16
 * tiles; else dnnl (or, without oneDNN, avx512) where one core's vdpbf16ps rate is at
 * least 1.5x its fp32 FMA rate; else the fallback. GTA_CPU_NO_AVX512BF16=1 selects the
 * fallback; GTA_CPU_BF16_GEMM=dnnl|avx512|fallback
 * names one (an unavailable one falls back, with a note on stderr). The three differ only
 * in the order of the fp32 sums (and the AMX/vdpbf16ps flush of fp32 denormals). */
#ifndef GTA_BACKEND_CPU_BF16_H
#define GTA_BACKEND_CPU_BF16_H

#include <stddef.h>
#include <stdint.h>

enum { CPU_BF16_DNNL, CPU_BF16_AVX512, CPU_BF16_FALLBACK, CPU_BF16_NIMPL };

void cpu_bf16_gemm(int ta, int tb, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *B,
                   int ldb, float beta, float *C, int ldc);
/* the implementation cpu_bf16_gemm uses, its name, whether one is available here, and
 * (tests) using another from now on (-1: back to the environment's choice) */
int cpu_bf16_impl(void);
const char *cpu_bf16_impl_name(int impl);
int cpu_bf16_impl_available(int impl);
void cpu_bf16_impl_set(int impl);
/* the default's reason, a sentence ("fallback: no AMX; one core's vdpbf16ps 85 GFLOP/s
 * against 174 for fp32 FMA (0.49x)") */
const char *cpu_bf16_choice(void);

/* n floats rounded to bfloat16 (nearest even, nan kept quiet), in parallel */
void cpu_bf16_round(uint16_t *dst, const float *src, size_t n);

/* the same rounding kept in fp32 (the bf16 values widened back, exactly): what the
 * fallback multiplies; dst may be src */
void cpu_bf16_round_f32(float *dst, const float *src, size_t n);

/* the implementations (same contract as cpu_bf16_gemm) */
void cpu_bf16_gemm_avx512(int ta, int tb, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *B,
                          int ldb, float beta, float *C, int ldc);
int cpu_bf16_dnnl_gemm(int ta, int tb, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *B,
                       int ldb, float beta, float *C,
                       int ldc); /* nonzero: oneDNN refused (then not used again) */
int cpu_bf16_dnnl_built(void);

/* fp32 C[M,N] = beta C + op(A) op(B) (the layouts of cpu_bf16_gemm) in oneDNN's sgemm;
 * nonzero: not built with oneDNN, or it refused */
int cpu_dnnl_sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc);

#endif
