/* The registry of backends: "cpu" always; "cuda" in builds made with nvcc (GTA_HAVE_CUDA)
 * when a CUDA device can be used. */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "base/error.h"
#ifdef GTA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

const gta_backend_ops *gta_backend(const char *name) {
    if (!name || !strcmp(name, "cpu")) return gta_backend_cpu();
    if (!strcmp(name, "cuda")) {
#ifdef GTA_HAVE_CUDA
        char why[256];
        const gta_backend_ops *be = gta_backend_cuda_probe(why, sizeof why);
        if (!be) gta_err_set(GTA_EINPUT, "%s", why);
        return be;
#else
        gta_err_set(GTA_EINPUT, "--device cuda: this build has no CUDA backend (built without nvcc)");
        return NULL;
#endif
    }
    gta_err_set(GTA_EINPUT, "--device '%s': expected cpu or cuda", name);
    return NULL;
}
