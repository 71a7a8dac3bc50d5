/* The seam's bind under mpirun on a machine without a GPU, through a backend table that
 * claims CUDA device buffers (the CPU's ops, with device_count / set_device / cuda_stream):
 * each rank takes the device of its rank on the node, rank 0's NCCL id reaches the other
 * rank over MPI, and NCCL's failure to form the communicator (no GPU) comes back on every
 * rank as an error that names the rank and NCCL's reason, promptly. With
 * GTA_TEST_ABORT_ON_ERROR set a rank that fails does what gta does (prints gta: error: and
 * ends every rank, gta_comm_world_abort): tests/cli/mpi.sh starts rank 1 alone with a
 * GTA_NCCL that cannot be loaded and checks that the job ends with its message, no hang.
 *
 * Skips unless started by mpirun as 2 ranks in a build with MPI and the CUDA backend:
 *   mpirun -np 2 build/tests/test_comm_nccl        (tests/cli/mpi.sh runs it) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/error.h"
#include "comm/comm.h"

#if defined(GTA_HAVE_MPI) && defined(GTA_HAVE_CUDA)
static int device_set = -1;

static int fake_count(void) { return 1; }

static int fake_set(int k, char *why, size_t n) {
    (void)why, (void)n;
    device_set = k;
    return 0;
}

static void *fake_stream(gta_ctx *c) {
    (void)c;
    return NULL;
}
#endif

static void test_bind(void **s) {
    (void)s;
#if !defined(GTA_HAVE_MPI) || !defined(GTA_HAVE_CUDA)
    skip();
#else
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    if (!size || atoi(size) != 2) skip();
    gta_backend_ops fake = *gta_backend_cpu();
    fake.name = "fake-cuda";
    fake.device_count = fake_count;
    fake.set_device = fake_set;
    fake.cuda_stream = fake_stream;
    gta_comm *c = gta_comm_world();
    assert_non_null(c);
    assert_int_equal(c->size, 2);
    assert_string_equal(c->via, "MPI");
    setenv("GTA_NCCL_TIMEOUT", "60", 1);
    int rc = c->bind(c, &fake);
    if (rc && getenv("GTA_TEST_ABORT_ON_ERROR")) {
        fprintf(stderr, "gta: error: %s\n", gta_err_msg());
        fflush(stderr);
        gta_comm_world_abort(rc);
    }
    if (rc == GTA_EINPUT && !getenv("GTA_NCCL")) {
        /* a machine whose CUDA toolkit has no libnccl: nothing of NCCL to check here */
        printf("[ info ] rank %d: skipped: %s\n", c->rank, gta_err_msg());
        gta_comm_world_finish();
        skip();
    }
    assert_int_equal(device_set, 0); /* one device a process: each rank its device 0 */
    char want[64];
    snprintf(want, sizeof want, "rank %d: NCCL: ", c->rank);
    if (rc) {
        /* no GPU: the communicator cannot form, on either rank */
        assert_int_equal(rc, GTA_EFAIL);
        if (strncmp(gta_err_msg(), want, strlen(want)) || !strstr(gta_err_msg(), "ncclCommInitRank"))
            fail_msg("'%s'", gta_err_msg());
        printf("[ info ] rank %d: %s\n", c->rank, gta_err_msg());
        assert_string_equal(c->via, "MPI");
    } else {
        assert_string_equal(c->via, "NCCL"); /* a machine with GPUs */
    }
    gta_comm_world_finish();
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
