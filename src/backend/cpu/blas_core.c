#include "backend/blas_core.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *gta_blas_core(void) {
    const char *c = openblas_get_corename();
    return c ? c : "unknown";
}

const char *gta_blas_core_detected(void) { return getenv("GTA_BLAS_CORE_DETECTED"); }

/* 1 when OpenBLAS already runs AVX2 kernels or better */
static int core_has_avx2(const char *c) {
    static const char *good[] = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!strcasecmp(c, good[i])) return 1;
    return 0;
}

/* the core OpenBLAS should be told to use, or NULL when its own choice stands */
static const char *core_wanted(void) {
    if (getenv("OPENBLAS_CORETYPE")) return NULL;
    const char *keep = getenv("GTA_BLAS_CORE");
    if (keep && !strcmp(keep, "keep")) return NULL;
    if (core_has_avx2(gta_blas_core())) return NULL;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

void gta_blas_core_fix(char **argv) {
    const char *want = core_wanted();
    if (!want) return;
    if (setenv("GTA_BLAS_CORE_DETECTED", gta_blas_core(), 1) != 0) return;
    if (setenv("OPENBLAS_CORETYPE", want, 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* the exec failed: run on as we are */
    unsetenv("GTA_BLAS_CORE_DETECTED");
}
