/* The communication seam over MPI (OpenMPI from mpirun, or Slurm's srun): one rank a
 * process, MPI_COMM_WORLD. Device buffers go through a host view (the buffer itself on
 * the CPU backend); on a backend with CUDA devices, bind gives each rank its device and
 * hands allreduce_sum and allgather to NCCL (comm_nccl.c), whose id MPI_Bcast carries. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "comm/comm.h"

/* MPI counts are ints: a large buffer goes in chunks */
#define CHUNK ((size_t)1 << 28)

static int sum_host(float *h, size_t n) {
    for (size_t a = 0; a < n; a += CHUNK) {
        int k = (int)(n - a < CHUNK ? n - a : CHUNK);
        if (MPI_Allreduce(MPI_IN_PLACE, h + a, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return gta_err_set(GTA_EFAIL, "MPI_Allreduce of %d floats failed", k);
    }
    return GTA_OK;
}

/* a host view of a device buffer for reading and writing: the buffer itself when the
 * host can address it, else a copy that put_back returns */
static float *host_view(const gta_backend_ops *be, gta_ctx *ctx, float *buf, size_t n, int *staged) {
    const void *rv = be->read_begin(ctx, buf, sizeof(float) * n);
    if (rv == (const void *)buf) {
        be->read_end(ctx, rv);
        *staged = 0;
        return buf;
    }
    float *h = gta_malloc(sizeof(float) * (n ? n : 1));
    memcpy(h, rv, sizeof(float) * n);
    be->read_end(ctx, rv);
    *staged = 1;
    return h;
}

static void put_back(const gta_backend_ops *be, gta_ctx *ctx, float *buf, float *h, size_t n, int staged) {
    if (!staged) return;
    be->from_host(ctx, buf, h, sizeof(float) * n);
    free(h);
}

static int allreduce_sum(gta_comm *c, const gta_backend_ops *be, gta_ctx *ctx, float *buf, size_t n) {
    int staged;
    float *h = host_view(be, ctx, buf, n, &staged);
    int rc = sum_host(h, n);
    put_back(be, ctx, buf, h, n, staged);
    c->bytes += sizeof(float) * (double)n;
    return rc;
}

static int sum_doubles(gta_comm *c, double *v, int n) {
    c->bytes += sizeof(double) * (double)n;
    if (MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return gta_err_set(GTA_EFAIL, "MPI_Allreduce of %d doubles failed", n);
    return GTA_OK;
}

static int broadcast(gta_comm *c, void *buf, size_t bytes, int root) {
    if (c->rank == root) c->bytes += (double)bytes;
    for (size_t a = 0; a < bytes; a += CHUNK) {
        int k = (int)(bytes - a < CHUNK ? bytes - a : CHUNK);
        if (MPI_Bcast((char *)buf + a, k, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            return gta_err_set(GTA_EFAIL, "MPI_Bcast of %d bytes failed", k);
    }
    return GTA_OK;
}

static int allgather(gta_comm *c, const gta_backend_ops *be, gta_ctx *ctx, float *buf, size_t n) {
    int *cnt = gta_malloc(sizeof(int) * (size_t)c->size), *off = gta_malloc(sizeof(int) * (size_t)c->size),
        rc = GTA_OK;
    size_t lo, hi;
    gta_comm_shard(n, c->size, c->size - 1, &lo, &hi);
    if (hi > (size_t)INT_MAX) {
        /* displacements are ints too: gather in rounds of whole shards' slices */
        rc = gta_err_set(GTA_EFAIL,
                         "all-gather of %zu floats over %d ranks: more than MPI's int displacements", n,
                         c->size);
    } else {
        for (int r = 0; r < c->size; r++) {
            gta_comm_shard(n, c->size, r, &lo, &hi);
            cnt[r] = (int)(hi - lo), off[r] = (int)lo;
        }
        int staged;
        float *h = host_view(be, ctx, buf, n, &staged);
        if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, h, cnt, off, MPI_FLOAT, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            rc = gta_err_set(GTA_EFAIL, "MPI_Allgatherv of %zu floats failed", n);
        put_back(be, ctx, buf, h, n, staged);
        c->bytes += sizeof(float) * (double)cnt[c->rank];
    }
    free(cnt), free(off);
    return rc;
}

static void finish(gta_comm *c) {
    (void)c;
    gta_comm_mpi_finish();
}

/* the ranks of this node (the processes that share its memory): this rank's index among
 * them and their number */
static int node_rank(int *lr, int *ls) {
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS)
        return gta_err_set(GTA_EFAIL, "MPI_Comm_split_type (the ranks of this node) failed");
    MPI_Comm_rank(node, lr);
    MPI_Comm_size(node, ls);
    MPI_Comm_free(&node);
    return GTA_OK;
}

/* the CPU backend (no CUDA stream): MPI on host memory, as it is. A backend with CUDA
 * devices: this rank's device by its rank on its node, then NCCL over the world. */
static int bind(gta_comm *c, const gta_backend_ops *be) {
    if (!be->cuda_stream || c->size == 1) return GTA_OK;
    if (!be->device_count || !be->set_device)
        return gta_err_set(GTA_EFAIL, "--device %s: the backend's table lacks device_count / set_device",
                           be->name);
    int lr = 0, ls = 1, rc = node_rank(&lr, &ls);
    if (rc) return rc;
    int ndev = be->device_count(), dev = gta_comm_device_of(lr, ls, ndev);
    if (dev < 0) return gta_err_prefix(GTA_EINPUT, "rank %d", c->rank);
    char why[256];
    if (be->set_device(dev, why, sizeof why)) return gta_err_set(GTA_EFAIL, "rank %d: %s", c->rank, why);
    if ((rc = gta_comm_use_nccl(c, be))) return gta_err_prefix(rc, "rank %d", c->rank);
    if (c->rank == 0)
        fprintf(
            stderr,
            "gta: %d ranks; NCCL carries the device buffers' all-reduce and all-gather, one CUDA device a "
            "rank (rank 0: device %d of the %d it sees, local rank %d of %d)\n",
            c->size, dev, ndev, lr, ls);
    return GTA_OK;
}

static gta_comm mpi_world = {.rank = 0,
                             .size = 1,
                             .allreduce_sum = allreduce_sum,
                             .sum_doubles = sum_doubles,
                             .broadcast = broadcast,
                             .allgather = allgather,
                             .finish = finish,
                             .bind = bind,
                             .via = "MPI"};
static int started;

gta_comm *gta_comm_mpi(void) {
    if (started) return &mpi_world;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        gta_err_set(GTA_EFAIL, "MPI_Init failed");
        return NULL;
    }
    started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_world.size);
    return &mpi_world;
}

void gta_comm_mpi_finish(void) {
    int fin = 0;
    if (started && MPI_Finalized(&fin) == MPI_SUCCESS && !fin) {
        gta_comm_nccl_end(&mpi_world, 0);
        MPI_Finalize();
    }
}

void gta_comm_mpi_abort(int code) {
    if (!started) return;
    if (mpi_world.impl) {
        /* NCCL's kernels and proxy threads stopped first; should that itself stall,
         * SIGALRM ends this process (and mpirun the others) after 10 s */
        alarm(10);
        gta_comm_nccl_end(&mpi_world, 1);
    }
    MPI_Abort(MPI_COMM_WORLD, code);
}
