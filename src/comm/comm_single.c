/* The communication seam of a one-process run: every sum over one rank is the value; and
 * the choice, at run time, between it and MPI's world. */
#include "comm/comm.h"

#include <stdlib.h>

#include "base/error.h"

static int allreduce_sum(gta_comm *c, const gta_backend_ops *be, gta_ctx *ctx, float *buf, size_t n) {
    (void)c, (void)be, (void)ctx, (void)buf, (void)n;
    return 0;
}

static int sum_doubles(gta_comm *c, double *v, int n) {
    (void)c, (void)v, (void)n;
    return 0;
}

static int broadcast(gta_comm *c, void *buf, size_t bytes, int root) {
    (void)c, (void)buf, (void)bytes, (void)root;
    return 0;
}

static int allgather(gta_comm *c, const gta_backend_ops *be, gta_ctx *ctx, float *buf, size_t n) {
    (void)c, (void)be, (void)ctx, (void)buf, (void)n;
    return 0;
}

static void finish(gta_comm *c) { (void)c; }

/* one process: the backend's current device (device 0 unless the caller chose), no collectives */
static int bind(gta_comm *c, const gta_backend_ops *be) {
    (void)c, (void)be;
    return 0;
}

gta_comm *gta_comm_single(void) {
    static gta_comm one = {.rank = 0,
                           .size = 1,
                           .allreduce_sum = allreduce_sum,
                           .sum_doubles = sum_doubles,
                           .broadcast = broadcast,
                           .allgather = allgather,
                           .finish = finish,
                           .bind = bind,
                           .via = "none"};
    return &one;
}

int gta_comm_device_of(int local_rank, int local_size, int ndev) {
    if (ndev <= 0) {
        gta_err_set(GTA_EINPUT, "--device cuda: rank %d of its node sees no CUDA device", local_rank);
        return -1;
    }
    if (local_size > ndev && ndev > 1) {
        gta_err_set(GTA_EINPUT,
                    "--device cuda: %d ranks on one node share its %d CUDA devices; NCCL wants one device a "
                    "rank: start at most %d ranks a node (or give each rank its own device with "
                    "CUDA_VISIBLE_DEVICES)",
                    local_size, ndev, ndev);
        return -1;
    }
    return local_rank % ndev;
}

#ifndef GTA_HAVE_CUDA
/* no CUDA backend in this build: no device buffers for NCCL to carry */
int gta_comm_use_nccl(gta_comm *c, const gta_backend_ops *be) {
    (void)c, (void)be;
    return gta_err_set(GTA_EINPUT, "NCCL: this build has no CUDA backend (built without nvcc)");
}

void gta_comm_nccl_end(gta_comm *c, int abort) { (void)c, (void)abort; }
#endif

void gta_comm_shard(size_t n, int size, int r, size_t *lo, size_t *hi) {
    size_t s = (size_t)(size > 0 ? size : 1), q = n / s, rem = n % s, k = (size_t)r;
    *lo = k * q + (k < rem ? k : rem);
    *hi = *lo + q + (k < rem);
}

/* launched as one of several processes: the launchers' variables (OpenMPI, PMI/PMIx, Slurm) */
static int launched_parallel(void) {
    const char *v[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const char *s = getenv(v[i]);
        if (s && *s && (i == 2 || atoi(s) > 1)) return 1;
    }
    return 0;
}

static gta_comm *world;

gta_comm *gta_comm_world(void) {
    if (world) return world;
    if (!launched_parallel()) return world = gta_comm_single();
#if GTA_HAVE_MPI
    return world = gta_comm_mpi();
#else
    gta_err_set(GTA_EINPUT,
                "started as one of several processes (mpirun/srun), but this gta was built without "
                "MPI (install libopenmpi-dev and rebuild)");
    return NULL;
#endif
}

void gta_comm_world_finish(void) {
#if GTA_HAVE_MPI
    if (world && world != gta_comm_single()) gta_comm_mpi_finish();
#endif
}

void gta_comm_world_abort(int code) {
#if GTA_HAVE_MPI
    if (world && world->size > 1) gta_comm_mpi_abort(code);
#endif
    (void)code;
}
