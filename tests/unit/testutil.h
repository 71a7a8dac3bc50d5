/* Helpers shared by the unit tests (cmocka). */
#ifndef GTA_TESTUTIL_H
#define GTA_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

#endif
