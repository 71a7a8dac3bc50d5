/* Helpers shared by the unit tests (cmocka). */
#ifndef GTA_TESTUTIL_H
#define GTA_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "io/safetensors.h"
#include "model/model.h"

/* Path of ../shared (or $GTA_SHARED) joined with rel; caller frees.  Where the shared
 * folder is absent the calling test is skipped (cmocka skip) with a message. */
char *tu_shared(const char *rel);
/* Skips the current test (cmocka skip) when the shared folder is absent. */
int tu_have_shared(void);
/* Largest |a-b| over n floats; *at receives its index when non-NULL. */
double tu_max_abs_diff(const float *a, const float *b, size_t n, size_t *at);
double tu_max_abs(const float *a, size_t n);
/* Fresh temporary directory under $TMPDIR; caller frees the string (and removes the dir
 * with tu_rm_rf). */
char *tu_tmpdir(void);
void tu_rm_rf(const char *path);

/* A tiny config of arch (vocab 50, hidden 24, 2 layers, 4 query / 2 key-value heads of 6;
 * Qwen2's q/k/v bias, Qwen3's q/k norms), fp32. */
gta_config tu_tiny_config(gta_arch arch);
/* A model of c with every parameter random, norms near 1 (not 1) and biases not 0, so that
 * their gradients are exercised away from the initial values. */
gta_model *tu_random_model(const gta_config *c, uint64_t seed);

/* A transformers-made fixture (../shared/fixtures/hf/NAME, its README): the model of dir,
 * its reference.safetensors and the reference's input_ids [B, T]. */
typedef struct {
    gta_model *m;
    st_set *ref;
    int *ids;
    int B, T;
} tu_fixture;
void tu_fixture_open(tu_fixture *f, const char *dir);
/* Frees the model, the reference and the ids. */
void tu_fixture_close(tu_fixture *f);
/* A reference tensor widened to fp32 (the test fails when it is absent); caller frees;
 * *n its element count when n is non-NULL. */
float *tu_ref_f32(st_set *ref, const char *name, size_t *n);

#endif
