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

gta_comm *gta_comm_single(void) {
    static gta_comm one = {0, 1, allreduce_sum, sum_doubles, broadcast, allgather, finish, NULL, 0};
    return &one;
}

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
