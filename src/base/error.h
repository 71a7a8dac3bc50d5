/* Error reporting shared by every module.
 *
 * A failing function records one message (file, place, what was expected) with
 * gta_err_set() and returns its code; callers either add context with
 * gta_err_prefix() or pass the code up.  The CLI prints "gta: error: <message>" and
 * exits with the code: 2 for bad usage or input, 1 for a failure while running. */
#ifndef GTA_BASE_ERROR_H
#define GTA_BASE_ERROR_H

#include <stddef.h>

enum {
    GTA_OK = 0,
    GTA_EFAIL = 1,  /* failure while running (out of memory, I/O error, ...) */
    GTA_EINPUT = 2, /* bad usage or bad input: the user can fix it */
};

#if defined(__GNUC__)
#define GTA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GTA_PRINTF(a, b)
#endif

/* Records the message and returns code, so that `return gta_err_set(...)` works. */
int gta_err_set(int code, const char *fmt, ...) GTA_PRINTF(2, 3);
/* Prepends "<prefix>: " to the current message; returns code. */
int gta_err_prefix(int code, const char *fmt, ...) GTA_PRINTF(2, 3);
const char *gta_err_msg(void);
void gta_err_clear(void);

/* Allocation that never returns NULL: prints and exits(1) on exhaustion. */
void *gta_malloc(size_t n);
void *gta_calloc(size_t n, size_t size);
void *gta_realloc(void *p, size_t n);
char *gta_strdup(const char *s);
/* 64-byte aligned allocation (for SIMD and BLAS buffers); free with gta_free_aligned. */
void *gta_malloc_aligned(size_t n);
void gta_free_aligned(void *p);

#endif
