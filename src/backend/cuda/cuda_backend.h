/* The CUDA backend's entry for the registry (src/backend/backend.c), in builds made with
 * nvcc (GTA_HAVE_CUDA). */
#ifndef GTA_BACKEND_CUDA_BACKEND_H
#define GTA_BACKEND_CUDA_BACKEND_H

#include <stddef.h>

#include "backend/backend.h"

#ifdef __cplusplus
extern "C" {
#endif
/* the table when a CUDA device can be used, else NULL with the reason in why */
const gta_backend_ops *gta_backend_cuda_probe(char *why, size_t n);
#ifdef __cplusplus
}
#endif

#endif
