/* The communication seam's one-process side: the shards of a buffer (ZeRO-1, the batch
 * split), the single-process no-ops, the run-time choice without a launcher, and AdamW
 * over two shards of the parameters equal to AdamW over all of them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/error.h"
#include "base/rng.h"
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard),
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_adamw_shards),
        cmocka_unit_test(test_state_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
