/* The communication seam: what the processes of a data-parallel run must agree on. A
 * single process is the no-op implementation (gta_comm_single); MPI (processes started
 * by mpirun / srun) and NCCL (GPU buffers) implement the same table. The trainer sums
 * gradients before the gate, so every rank takes the gate's decision a single process
 * would, and sums sequence and token counts before the GRPO weights. */
#ifndef GTA_COMM_COMM_H
#define GTA_COMM_COMM_H

#include <stddef.h>

#include "backend/backend.h"

typedef struct gta_comm gta_comm;

struct gta_comm {
    int rank, size;
    /* sum of n floats of a device buffer over the ranks, in place (every rank gets it) */
    int (*allreduce_sum)(gta_comm *c, const gta_backend_ops *be, gta_ctx *ctx, float *buf, size_t n);
    /* sum of n host doubles over the ranks, in place */
    int (*sum_doubles)(gta_comm *c, double *v, int n);
    /* bytes of a host buffer from root to every rank */
    int (*broadcast)(gta_comm *c, void *buf, size_t bytes, int root);
    void (*finish)(gta_comm *c);
    void *impl;
};

/* The one-process run: rank 0 of 1, every operation a no-op. */
gta_comm *gta_comm_single(void);

#endif
