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

/* The core OpenBLAS should be told to use, or NULL when its own choice stands: it does when
 * OPENBLAS_CORETYPE is set, when GTA_BLAS_CORE=keep, or when it already runs AVX2 kernels
 * or better. Otherwise "SkylakeX" where the CPU has AVX-512 F/BW/DQ/VL/CD, "Haswell" where it
 * has AVX2 and FMA, NULL where it has neither. */
const char *gta_blas_core_wanted(void);

/* When gta_blas_core_wanted() names a core: sets OPENBLAS_CORETYPE to it and re-executes
 * /proc/self/exe with argv (the process keeps its pid, environment and arguments), with
 * GTA_BLAS_CORE_DETECTED naming OpenBLAS's own choice. Returns
 * only when nothing is to be done or the exec failed. Call first thing in main. */
void gta_blas_core_fix(char **argv);

#endif
