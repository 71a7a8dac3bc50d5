/* The communication seam of a one-process run: every sum over one rank is the value. */
#include "comm/comm.h"

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

static void finish(gta_comm *c) { (void)c; }

gta_comm *gta_comm_single(void) {
    static gta_comm one = {0, 1, allreduce_sum, sum_doubles, broadcast, finish, NULL};
    return &one;
}
