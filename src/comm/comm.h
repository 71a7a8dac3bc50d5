/* The communication seam: what the processes of a data-parallel run must agree on. A
 * single process is the no-op implementation (gta_comm_single); MPI (processes started
 * by mpirun / srun, src/comm/comm_mpi.c) and NCCL (GPU buffers) implement the same table.
 * The trainer sums gradients before the gate, so every rank takes the gate's decision a
 * single process would, and sums sequence and token counts before the GRPO weights. */
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
    /* a device buffer of n floats whose shard r (gta_comm_shard) rank r holds: afterwards
     * every rank holds all of it (ZeRO-1's parameter all-gather) */
    int (*allgather)(gta_comm *c, const gta_backend_ops *be, gta_ctx *ctx, float *buf, size_t n);
    void (*finish)(gta_comm *c);
    void *impl;
    /* bytes this process has sent into reductions, gathers and broadcasts (for the
     * benchmark: the payload, not the wire protocol's own traffic) */
    double bytes;
};

/* The one-process run: rank 0 of 1, every operation a no-op. */
gta_comm *gta_comm_single(void);

/* The processes of this run: MPI's world when gta was started by mpirun or srun
 * (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK or SLURM_NTASKS set) and built with MPI,
 * else gta_comm_single. Initialised on first use; NULL with the error set when the
 * environment asks for several processes and this build has no MPI. */
gta_comm *gta_comm_world(void);
/* Ends the world started by gta_comm_world (MPI_Finalize); nothing when none was. */
void gta_comm_world_finish(void);
/* On an error of a run of several processes: ends every rank (MPI_Abort with code) so
 * that no rank waits for this one. Nothing for a single process. */
void gta_comm_world_abort(int code);

/* Shard r of n elements over size ranks: [*lo, *hi), contiguous, the first n % size
 * shards one element longer. */
void gta_comm_shard(size_t n, int size, int r, size_t *lo, size_t *hi);

#if GTA_HAVE_MPI
/* MPI's world (MPI_Init on first call); NULL with the error set when it fails. */
gta_comm *gta_comm_mpi(void);
void gta_comm_mpi_finish(void);
void gta_comm_mpi_abort(int code);
#endif

#endif
