/* NCCL for the communication seam's device buffers, one CUDA device a rank, as llm.c does:
 * rank 0's ncclGetUniqueId reaches the other ranks through the host comm's broadcast
 * (MPI_Bcast under mpirun), every rank joins with ncclCommInitRankConfig, and
 * allreduce_sum / allgather become ncclAllReduce / ncclAllGather (ncclBroadcast of each
 * shard when the shards are uneven) in place on the context's stream: the buffers never
 * pass through the host, and the stream orders the collective after the kernels that
 * wrote the buffer and before those that read it. sum_doubles and broadcast stay the host
 * comm's (MPI on host memory). Built with the CUDA backend (nccl.h is the toolkit's);
 * libnccl itself is opened with dlopen on first use, so gta starts without it.
 *
 * The communicator is non-blocking (config.blocking = 0): a call that NCCL leaves in
 * progress (the initialisation, the connections to the peers that the first collective
 * makes) is polled with ncclCommGetAsyncError for up to GTA_NCCL_TIMEOUT seconds (300),
 * then aborted (ncclCommAbort) with an error, so a rank that never arrives ends this one
 * with a message (and, through the caller's gta_comm_world_abort, every rank) instead of
 * a hang. */
#include <dlfcn.h>
#include <limits.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "comm/comm.h"

#define NC_FUNCS(X)                                                                                          \
    X(ncclGetVersion)                                                                                        \
    X(ncclGetUniqueId)                                                                                       \
    X(ncclCommInitRankConfig)                                                                                \
    X(ncclCommGetAsyncError)                                                                                 \
    X(ncclCommFinalize)                                                                                      \
    X(ncclCommDestroy)                                                                                       \
    X(ncclCommAbort)                                                                                         \
    X(ncclGetErrorString)                                                                                    \
    X(ncclGetLastError)                                                                                      \
    X(ncclAllReduce)                                                                                         \
    X(ncclAllGather)                                                                                         \
    X(ncclBroadcast)                                                                                         \
    X(ncclGroupStart)                                                                                        \
    X(ncclGroupEnd)
#define NC_DECL(f) static __typeof__(&f) p_##f;
NC_FUNCS(NC_DECL)
#define STR2(x) #x
#define STR(x) STR2(x)
#define NC_SONAME "libnccl.so." STR(NCCL_MAJOR)
#ifndef GTA_CUDA_LIB
#define GTA_CUDA_LIB "/usr/local/cuda/lib64"
#endif
/* ncclCommInitRankConfig with a non-blocking config, ncclCommFinalize: NCCL 2.14 */
#define NC_MIN_VERSION 21400

typedef struct {
    ncclComm_t comm; /* NULL once aborted */
    int version;
} nccl_state;

static int loaded_version;

/* GTA_NCCL (a path: that file only), else the loader's search, then the toolkit's lib64 */
static int nccl_load(void) {
    if (loaded_version) return GTA_OK;
    const char *env = getenv("GTA_NCCL"), *path = env && *env ? env : NC_SONAME;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h && !(env && *env)) h = dlopen(path = GTA_CUDA_LIB "/" NC_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        if (env && *env)
            return gta_err_set(GTA_EINPUT, "NCCL: GTA_NCCL=%s cannot be loaded (%s)", env, why ? why : "?");
        return gta_err_set(
            GTA_EINPUT,
            "NCCL (%s) not found (%s): a run of several processes on --device cuda needs it for "
            "the device buffers' all-reduce and all-gather; install NCCL (Debian: libnccl2) or "
            "set GTA_NCCL to the library's path",
            NC_SONAME, why ? why : "?");
    }
#define NC_LOAD(f)                                                                                           \
    if (!(p_##f = (__typeof__(&f))dlsym(h, #f))) {                                                           \
        dlclose(h);                                                                                          \
        return gta_err_set(GTA_EINPUT, "NCCL: %s lacks %s (NCCL 2.14 or later is needed)", path, #f);        \
    }
    NC_FUNCS(NC_LOAD)
    int v = 0;
    if (p_ncclGetVersion(&v) != ncclSuccess || v < NC_MIN_VERSION) {
        dlclose(h);
        return gta_err_set(GTA_EINPUT, "NCCL: %s is version %d; NCCL 2.14 (%d) or later is needed", path, v,
                           NC_MIN_VERSION);
    }
    loaded_version = v;
    return GTA_OK;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double limit_s(void) {
    const char *s = getenv("GTA_NCCL_TIMEOUT");
    double v = s && *s ? atof(s) : 0;
    return v > 0 ? v : 300;
}

/* the outcome of a call on comm that returned r, once NCCL has finished with it (its
 * state polled while in progress, for up to limit seconds: ncclInProgress after that) */
static ncclResult_t settle(ncclComm_t comm, ncclResult_t r, double limit) {
    if (r != ncclSuccess && r != ncclInProgress) return r;
    double t0 = now_s();
    for (;;) {
        ncclResult_t st = ncclSuccess;
        if (p_ncclCommGetAsyncError(comm, &st) != ncclSuccess) return ncclInternalError;
        if (st != ncclInProgress) return st;
        if (now_s() - t0 > limit) return ncclInProgress;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

/* what failed and why, with NCCL's own last message; the communicator aborted */
static int nccl_fail(nccl_state *s, const char *what, ncclResult_t r, double limit) {
    if (r == ncclInProgress) {
        gta_err_set(GTA_EFAIL,
                    "NCCL: %s did not finish within %.0f s (a rank that never came, or a node that cannot be "
                    "reached; GTA_NCCL_TIMEOUT sets the limit)",
                    what, limit);
    } else {
        const char *last = p_ncclGetLastError(s ? s->comm : NULL);
        gta_err_set(GTA_EFAIL, "NCCL: %s failed: %s%s%s", what, p_ncclGetErrorString(r),
                    last && *last ? ": " : "", last && *last ? last : "");
    }
    if (s && s->comm) {
        p_ncclCommAbort(s->comm);
        s->comm = NULL;
    }
    return GTA_EFAIL;
}

static int gone(void) {
    return gta_err_set(GTA_EFAIL, "NCCL: the communicator was ended (aborted after an error)");
}

static int nccl_allreduce(gta_comm *c, const gta_backend_ops *be, gta_ctx *ctx, float *buf, size_t n) {
    nccl_state *s = c->impl;
    c->bytes += sizeof(float) * (double)n;
    if (!n) return GTA_OK;
    if (!s || !s->comm) return gone();
    double limit = limit_s();
    ncclResult_t r = settle(
        s->comm,
        p_ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, s->comm, (cudaStream_t)be->cuda_stream(ctx)), limit);
    if (r == ncclSuccess) return GTA_OK;
    char what[96];
    snprintf(what, sizeof what, "ncclAllReduce of %zu floats", n);
    return nccl_fail(s, what, r, limit);
}

/* shard r of buf (gta_comm_shard) from rank r to every rank, in place: one ncclAllGather
 * when the shards are equal (n a multiple of the ranks), else one ncclBroadcast of each
 * shard in a group. GTA_NCCL_GATHER=broadcast takes the second way always (the GPU check
 * covers it with one rank). */
static int nccl_allgather(gta_comm *c, const gta_backend_ops *be, gta_ctx *ctx, float *buf, size_t n) {
    nccl_state *s = c->impl;
    size_t lo, hi;
    gta_comm_shard(n, c->size, c->rank, &lo, &hi);
    c->bytes += sizeof(float) * (double)(hi - lo);
    if (!n) return GTA_OK;
    if (!s || !s->comm) return gone();
    cudaStream_t st = (cudaStream_t)be->cuda_stream(ctx);
    const char *how = getenv("GTA_NCCL_GATHER");
    int bcast = n % (size_t)c->size != 0 || (how && !strcmp(how, "broadcast"));
    double limit = limit_s();
    ncclResult_t r;
    if (!bcast) {
        r = p_ncclAllGather(buf + lo, buf, n / (size_t)c->size, ncclFloat, s->comm, st);
    } else {
        r = p_ncclGroupStart();
        for (int k = 0; k < c->size && r == ncclSuccess; k++) {
            size_t a, b;
            gta_comm_shard(n, c->size, k, &a, &b);
            if (b > a) r = p_ncclBroadcast(buf + a, buf + a, b - a, ncclFloat, k, s->comm, st);
        }
        ncclResult_t e = p_ncclGroupEnd();
        if (r == ncclSuccess) r = e;
    }
    r = settle(s->comm, r, limit);
    if (r == ncclSuccess) return GTA_OK;
    char what[96];
    snprintf(what, sizeof what, "%s of %zu floats over %d ranks",
             bcast ? "ncclBroadcast of each shard" : "ncclAllGather", n, c->size);
    return nccl_fail(s, what, r, limit);
}

int gta_comm_use_nccl(gta_comm *c, const gta_backend_ops *be) {
    if (!be || !be->cuda_stream)
        return gta_err_set(GTA_EINPUT,
                           "NCCL: --device %s has no CUDA device buffers (NCCL carries only those)",
                           be ? be->name : "?");
    int rc = nccl_load();
    if (rc) return rc;
    /* rank 0's id, or word that it has none: no rank waits for an id that will not come */
    struct {
        int ok;
        ncclUniqueId id;
    } msg;
    memset(&msg, 0, sizeof msg);
    char why[256] = "";
    if (c->rank == 0) {
        ncclResult_t r = p_ncclGetUniqueId(&msg.id);
        msg.ok = r == ncclSuccess;
        if (!msg.ok) {
            const char *last = p_ncclGetLastError(NULL);
            snprintf(why, sizeof why, "%s%s%s", p_ncclGetErrorString(r), last && *last ? ": " : "",
                     last && *last ? last : "");
        }
    }
    if ((rc = c->broadcast(c, &msg, sizeof msg, 0))) return rc;
    if (!msg.ok)
        return c->rank == 0 ? gta_err_set(GTA_EFAIL, "NCCL: ncclGetUniqueId failed: %s", why)
                            : gta_err_set(GTA_EFAIL, "NCCL: rank 0 could not make the communicator's id "
                                                     "(ncclGetUniqueId failed there)");
    nccl_state *s = gta_calloc(1, sizeof *s);
    s->version = loaded_version;
    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0;
    double limit = limit_s();
    ncclResult_t r = p_ncclCommInitRankConfig(&s->comm, c->size, msg.id, c->rank, &cfg);
    if (s->comm) r = settle(s->comm, r, limit);
    if (r != ncclSuccess || !s->comm) {
        char what[96];
        snprintf(what, sizeof what, "ncclCommInitRank (rank %d of %d)", c->rank, c->size);
        rc = nccl_fail(s, what, r == ncclSuccess ? ncclInternalError : r, limit);
        free(s);
        return rc;
    }
    c->impl = s;
    c->allreduce_sum = nccl_allreduce;
    c->allgather = nccl_allgather;
    c->via = "NCCL";
    return GTA_OK;
}

void gta_comm_nccl_end(gta_comm *c, int abort) {
    if (!c || !c->via || strcmp(c->via, "NCCL") || !c->impl) return;
    nccl_state *s = c->impl;
    if (s->comm) {
        if (abort) {
            p_ncclCommAbort(s->comm);
        } else {
            /* flushed on every rank, then freed here; aborted when that does not finish */
            ncclResult_t r = settle(s->comm, p_ncclCommFinalize(s->comm), limit_s());
            if (r == ncclSuccess)
                p_ncclCommDestroy(s->comm);
            else
                p_ncclCommAbort(s->comm);
        }
        s->comm = NULL;
    }
    free(s);
    c->impl = NULL;
}
