/* The communication seam: what the processes of a data-parallel run must agree on. A
 * single process is the no-op implementation (gta_comm_single); MPI (processes started
 * by mpirun / srun, src/comm/comm_mpi.c) implements the table over host memory, and on a
 * backend with CUDA devices bind hands the device buffers' allreduce_sum and allgather to
 * NCCL (src/comm/comm_nccl.c, one device a rank). The trainer sums gradients before the
 * gate, so every rank takes the gate's decision a single process would, and sums sequence
 * and token counts before the GRPO weights. */
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
    /* Binds this rank to the run's backend, once, before the backend's first context
     * (gta train calls it right after choosing the backend). On a backend with CUDA
     * devices (be->cuda_stream) and several ranks: this rank's device (gta_comm_device_of
     * its rank among the ranks of its node) and NCCL for allreduce_sum and allgather on
     * the device buffers, on the context's stream. Nothing for one process or on the CPU
     * backend (MPI on host memory). */
    int (*bind)(gta_comm *c, const gta_backend_ops *be);
    void *impl;
    /* bytes this process has sent into reductions, gathers and broadcasts (for the
     * benchmark: the payload, not the wire protocol's own traffic) */
    double bytes;
    /* what carries allreduce_sum and allgather: "none" (one process), "MPI" (host
     * memory, or a host copy of a device buffer) or "NCCL" (device buffers) */
    const char *via;
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

/* The CUDA device of the rank local_rank of the local_size ranks of a node whose
 * processes each see ndev devices: local_rank modulo ndev (a launcher that gives each rank
 * its own device, CUDA_VISIBLE_DEVICES, leaves ndev 1 and every rank device 0). -1 with
 * the error set when ndev is 0, or when ranks would share a device (local_size > ndev > 1:
 * NCCL wants one device a rank). */
int gta_comm_device_of(int local_rank, int local_size, int ndev);

/* NCCL for c's allreduce_sum and allgather on be's device buffers (c->via "NCCL"), over
 * c's ranks: rank 0's ncclGetUniqueId reaches the others through c->broadcast, then
 * every rank joins (ncclCommInitRank on the current device; a run of several processes
 * sets it in bind). libnccl is opened at run time (dlopen: GTA_NCCL, a path, when set;
 * else libnccl.so.2 from the loader's search, then the CUDA toolkit's lib64), so gta runs
 * without it where no NCCL is needed. The error set (GTA_EINPUT) when it cannot be
 * loaded or be has no CUDA stream; GTA_EFAIL when NCCL fails or does not finish within
 * GTA_NCCL_TIMEOUT seconds (300). bind uses it; so does the one-device GPU check (gta
 * selftest --nccl, over a copy of gta_comm_single). */
int gta_comm_use_nccl(gta_comm *c, const gta_backend_ops *be);
/* Ends c's NCCL communicator: flushed and destroyed, or with abort ncclCommAbort (an
 * error on this rank: nothing waits for the others). Nothing when c has none. */
void gta_comm_nccl_end(gta_comm *c, int abort);

#if GTA_HAVE_MPI
/* MPI's world (MPI_Init on first call); NULL with the error set when it fails. */
gta_comm *gta_comm_mpi(void);
void gta_comm_mpi_finish(void);
void gta_comm_mpi_abort(int code);
#endif

#endif
