/* The communication seam's one-process side: the shards of a buffer (ZeRO-1, the batch
 * split), the single-process no-ops, the run-time choice without a launcher, AdamW over
 * two shards of the parameters equal to AdamW over all of them, the rank -> CUDA device
 * mapping, bind on the CPU backend, and (CUDA builds) the NCCL loader's errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "comm/comm.h"
#include "model/model.h"
#include "train/optim.h"
#include "train/state.h"

/* every shard contiguous, in order, covering [0, n) once, sizes within one, the longer first */
static void test_shard(void **s) {
    (void)s;
    const size_t ns[] = {0, 1, 4, 7, 260032, 1000003};
    const int sizes[] = {1, 2, 3, 8, 64};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            size_t n = ns[i], at = 0, lo, hi;
            int N = sizes[j];
            for (int r = 0; r < N; r++) {
                gta_comm_shard(n, N, r, &lo, &hi);
                assert_int_equal(lo, at);
                assert_true(hi >= lo);
                assert_int_equal(hi - lo, n / (size_t)N + ((size_t)r < n % (size_t)N));
                at = hi;
            }
            assert_int_equal(at, n);
        }
    size_t lo, hi;
    gta_comm_shard(10, 4, 0, &lo, &hi); /* 3 3 2 2 */
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 3);
    gta_comm_shard(10, 4, 3, &lo, &hi);
    assert_int_equal(lo, 8);
    assert_int_equal(hi, 10);
}

/* one process: rank 0 of 1, every operation succeeds and changes nothing; without a
 * launcher's variables the world is that process */
static void test_single(void **s) {
    (void)s;
    gta_comm *c = gta_comm_single();
    assert_int_equal(c->rank, 0);
    assert_int_equal(c->size, 1);
    const gta_backend_ops *be = gta_backend(NULL);
    float f[5] = {1, -2, 3.5f, 0, 7};
    const float f0[5] = {1, -2, 3.5f, 0, 7};
    double d[3] = {0.25, -1, 9}, d0[3] = {0.25, -1, 9};
    char b[4] = "abc";
    assert_int_equal(c->allreduce_sum(c, be, NULL, f, 5), 0);
    assert_int_equal(c->allgather(c, be, NULL, f, 5), 0);
    assert_int_equal(c->sum_doubles(c, d, 3), 0);
    assert_int_equal(c->broadcast(c, b, 4, 0), 0);
    assert_memory_equal(f, f0, sizeof f);
    assert_memory_equal(d, d0, sizeof d);
    assert_string_equal(b, "abc");
    unsetenv("OMPI_COMM_WORLD_SIZE"), unsetenv("PMI_SIZE"), unsetenv("PMIX_RANK");
    setenv("SLURM_NTASKS", "1", 1); /* a one-task Slurm job is one process */
    assert_ptr_equal(gta_comm_world(), c);
    gta_comm_world_abort(2); /* nothing for one process: the test goes on */
    gta_comm_world_finish();
    unsetenv("SLURM_NTASKS");
}

/* ZeRO-1 on one buffer: two optimizers, each with the moments of one shard (the boundary
 * inside a tensor), stepping the same gradients give the parameters of one optimizer over
 * everything (weight decay on matrices only included); each holds half the moments */
static void test_adamw_shards(void **s) {
    (void)s;
    gta_config c = tu_tiny_config(GTA_ARCH_LLAMA);
    gta_model *a = gta_model_init_random(&c, 3), *b = gta_model_init_random(&c, 3);
    gta_model_alloc_grads(a), gta_model_alloc_grads(b);
    size_t n = a->n_params, lo, mid, hi;
    assert_memory_equal(a->params, b->params, sizeof(float) * n);
    gta_comm_shard(n, 2, 0, &lo, &mid);
    gta_comm_shard(n, 2, 1, &mid, &hi);
    int inside = 0; /* the boundary falls inside a tensor */
    for (int k = 0; k < a->n_tensors; k++) {
        size_t o = a->tensors[k].offset, len = (size_t)a->tensors[k].shape[0] *
                                               (size_t)(a->tensors[k].ndim == 2 ? a->tensors[k].shape[1] : 1);
        if (o < mid && mid < o + len) inside = 1;
    }
    assert_true(inside);
    gta_adamw full, s0, s1;
    gta_adamw_init(&full, a, 1e-2, 0.1);
    gta_adamw_init_shard(&s0, b, 1e-2, 0.1, lo, mid);
    gta_adamw_init_shard(&s1, b, 1e-2, 0.1, mid, hi);
    assert_int_equal(s0.hi - s0.lo + s1.hi - s1.lo, n);
    assert_true(s0.hi - s0.lo <= n / 2 + 1);
    for (int t = 0; t < 3; t++) {
        for (size_t i = 0; i < n; i++)
            a->grads[i] = b->grads[i] = (float)(gta_rng_u64(9, (uint64_t)t, i) % 2001) / 1000.0f - 1.0f;
        gta_adamw_step(&full, a, 1e-2);
        gta_adamw_step(&s0, b, 1e-2);
        gta_adamw_step(&s1, b, 1e-2);
    }
    size_t at = 0;
    double d = tu_max_abs_diff(a->params, b->params, n, &at);
    assert_true(d <= 1e-6);
    /* and the steps did move the parameters of both shards (by about lr a step), to the
     * last one */
    gta_model *ref = gta_model_init_random(&c, 3);
    double moved0 = tu_max_abs_diff(ref->params, b->params, mid, NULL),
           moved1 = tu_max_abs_diff(ref->params + mid, b->params + mid, n - mid, NULL);
    assert_true(moved0 > 5e-3 && moved1 > 5e-3);
    assert_true(fabs(ref->params[n - 1] - b->params[n - 1]) > 1e-6);
    gta_model_free(ref);
    gta_adamw_free(&full), gta_adamw_free(&s0), gta_adamw_free(&s1);
    gta_model_free(a), gta_model_free(b);
}

static int parse_text(const char *text, gta_train_state *s) {
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    gta_err_clear();
    int rc = gta_train_state_parse("ck/trainer_state.json", j, s);
    cJSON_Delete(j);
    return rc;
}

#define STATE_HEAD                                                                                           \
    "{\"step\": 2, \"cursor\": 4, \"adam_step\": 2, \"metrics_bytes\": 10, \"samples_bytes\": 0, "           \
    "\"rollout\": false"

/* trainer_state.json's ranks and zero: absent in a one-process checkpoint (1, false) and
 * not written for one; written back unchanged for several; refused (named) when out of
 * range or a ZeRO-1 shard without several ranks */
static void test_state_ranks(void **s) {
    (void)s;
    gta_train_state st, st2;
    assert_int_equal(parse_text(STATE_HEAD "}", &st), GTA_OK);
    assert_int_equal(st.ranks, 1);
    assert_int_equal(st.zero, 0);
    char *text = gta_train_state_to_json(&st);
    assert_null(strstr(text, "ranks"));
    assert_null(strstr(text, "zero"));
    free(text);
    assert_int_equal(parse_text(STATE_HEAD ", \"ranks\": 8, \"zero\": true}", &st), GTA_OK);
    assert_int_equal(st.ranks, 8);
    assert_int_equal(st.zero, 1);
    text = gta_train_state_to_json(&st);
    assert_int_equal(parse_text(text, &st2), GTA_OK);
    assert_memory_equal(&st, &st2, sizeof st);
    free(text);
    const struct {
        const char *tail, *needle;
    } bad[] = {
        {", \"ranks\": 0}", "field 'ranks' = 0: expected at least 1"},
        {", \"ranks\": 2.5}", "field 'ranks': expected an integer"},
        {", \"ranks\": \"2\"}", "field 'ranks': expected an integer"},
        {", \"ranks\": 2, \"zero\": 1}", "field 'zero': expected true or false"},
        {", \"zero\": true}", "field 'zero' is true but 'ranks' = 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s%s", STATE_HEAD, bad[i].tail);
        assert_int_equal(parse_text(buf, &st), GTA_EINPUT);
        if (!strstr(gta_err_msg(), "ck/trainer_state.json") || !strstr(gta_err_msg(), bad[i].needle))
            fail_msg("%s: '%s' (wanted '%s')", bad[i].tail, gta_err_msg(), bad[i].needle);
    }
}

/* the rank -> device mapping: the local rank modulo the devices it sees; a rank that
 * sees one device (each its own, CUDA_VISIBLE_DEVICES) takes device 0; no device, or
 * ranks that would share one of several, are errors that say so */
static void test_device_of(void **s) {
    (void)s;
    assert_int_equal(gta_comm_device_of(0, 1, 1), 0);
    assert_int_equal(gta_comm_device_of(0, 8, 8), 0);
    assert_int_equal(gta_comm_device_of(5, 8, 8), 5);
    assert_int_equal(gta_comm_device_of(3, 4, 8), 3); /* fewer ranks than devices */
    assert_int_equal(gta_comm_device_of(1, 2, 1), 0); /* each rank its own device */
    assert_int_equal(gta_comm_device_of(7, 8, 1), 0);
    assert_int_equal(gta_comm_device_of(5, 8, 4), -1);
    assert_non_null(strstr(gta_err_msg(), "8 ranks on one node share its 4 CUDA devices"));
    assert_non_null(strstr(gta_err_msg(), "at most 4 ranks a node"));
    assert_int_equal(gta_comm_device_of(0, 2, 0), -1);
    assert_non_null(strstr(gta_err_msg(), "sees no CUDA device"));
}

/* bind on the CPU backend, or for one process, changes nothing: the collectives stay
 * what they were (MPI's host path for several processes: tests/cli/mpi.sh), and asking
 * for NCCL on the CPU backend's host buffers is an error that says why */
static void test_bind_cpu(void **s) {
    (void)s;
    gta_comm one = *gta_comm_single();
    const gta_backend_ops *cpu = gta_backend_cpu();
    assert_null(cpu->cuda_stream);
    assert_null(cpu->device_count);
    assert_int_equal(one.bind(&one, cpu), 0);
    assert_string_equal(one.via, "none");
    assert_ptr_equal(one.allreduce_sum, gta_comm_single()->allreduce_sum);
    assert_int_equal(gta_comm_use_nccl(&one, cpu), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "NCCL"));
#ifdef GTA_HAVE_CUDA
    assert_non_null(strstr(gta_err_msg(), "--device cpu has no CUDA device buffers"));
#else
    assert_non_null(strstr(gta_err_msg(), "this build has no CUDA backend"));
#endif
    assert_string_equal(one.via, "none");
    gta_comm_nccl_end(&one, 1); /* none to end */
}

#ifdef GTA_HAVE_CUDA
static void *fake_stream(gta_ctx *c) {
    (void)c;
    return NULL; /* the legacy default stream: never used, no collective runs here */
}

/* The NCCL loader without a GPU (a backend table that claims CUDA buffers): a GTA_NCCL
 * that cannot be loaded is a clear error naming it, and the comm is left as it was;
 * with the toolkit's libnccl it loads, and the communicator over one rank either forms
 * (a machine with a GPU) or fails with NCCL's reason, promptly, the comm unchanged */
static void test_nccl_load(void **s) {
    (void)s;
    gta_backend_ops fake = *gta_backend_cpu();
    fake.name = "fake-cuda";
    fake.cuda_stream = fake_stream;
    gta_comm one = *gta_comm_single();
    setenv("GTA_NCCL", "/nonexistent/libnccl.so.2", 1);
    assert_int_equal(gta_comm_use_nccl(&one, &fake), GTA_EINPUT);
    if (!strstr(gta_err_msg(), "NCCL: GTA_NCCL=/nonexistent/libnccl.so.2 cannot be loaded (") ||
        !strstr(gta_err_msg(), "No such file"))
        fail_msg("'%s'", gta_err_msg());
    assert_string_equal(one.via, "none");
    assert_ptr_equal(one.allreduce_sum, gta_comm_single()->allreduce_sum);
    assert_null(one.impl);
    unsetenv("GTA_NCCL");
    if (access("/usr/local/cuda/lib64/libnccl.so.2", R_OK)) {
        printf("[ skip ] no /usr/local/cuda/lib64/libnccl.so.2: the loading half\n");
        return;
    }
    setenv("GTA_NCCL_TIMEOUT", "30", 1);
    double t0 = gta_now();
    int rc = gta_comm_use_nccl(&one, &fake);
    unsetenv("GTA_NCCL_TIMEOUT");
    if (rc) {
        /* loaded (a missing symbol or an old version would be GTA_EINPUT), then NCCL failed */
        assert_int_equal(rc, GTA_EFAIL);
        if (strncmp(gta_err_msg(), "NCCL: ", 6) || !strstr(gta_err_msg(), "failed"))
            fail_msg("'%s'", gta_err_msg());
        printf("[ info ] no GPU: %s\n", gta_err_msg());
        assert_string_equal(one.via, "none");
        assert_null(one.impl);
    } else {
        assert_string_equal(one.via, "NCCL");
        gta_comm_nccl_end(&one, 0);
        assert_null(one.impl);
    }
    assert_true(gta_now() - t0 < 30);
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard),        cmocka_unit_test(test_single),
        cmocka_unit_test(test_device_of),    cmocka_unit_test(test_bind_cpu),
#ifdef GTA_HAVE_CUDA
        cmocka_unit_test(test_nccl_load),
#endif
        cmocka_unit_test(test_adamw_shards), cmocka_unit_test(test_state_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
