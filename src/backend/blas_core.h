#ifndef GTA_BACKEND_BLAS_CORE_H
#define GTA_BACKEND_BLAS_CORE_H
/* The host BLAS (OpenBLAS, under the CPU backend) and its kernel choice. OpenBLAS's run-time
 * detection (DYNAMIC_ARCH) reads the CPUID family and model; a virtual machine that reports a
 * generic model ("Intel(R) Xeon(R) Processor") gets its Prescott kernels (SSE3), several
 * times slower than the AVX2 or AVX-512 ones the CPU has. OpenBLAS picks its kernels before
 * main, from OPENBLAS_CORETYPE, so the fix is to set that and run the program again. */

/* The kernels OpenBLAS runs now ("SkylakeX", "Haswell", "Prescott", ...). */
const char *gta_blas_core(void);

/* What OpenBLAS had picked by itself when gta_blas_core_fix re-executed the program with
 * another core (GTA_BLAS_CORE_DETECTED), else NULL. */
const char *gta_blas_core_detected(void);

/* When OpenBLAS's own choice has no AVX2 kernels (and OPENBLAS_CORETYPE is unset and
 * GTA_BLAS_CORE is not "keep") but the CPU has AVX-512 F/BW/DQ/VL/CD ("SkylakeX") or AVX2 and
 * FMA ("Haswell"): sets OPENBLAS_CORETYPE to that core and re-executes
 * /proc/self/exe with argv (the process keeps its pid, environment and arguments), with
 * GTA_BLAS_CORE_DETECTED naming OpenBLAS's own choice. Returns
 * only when nothing is to be done or the exec failed. Call first thing in main. */
void gta_blas_core_fix(char **argv);

#endif
