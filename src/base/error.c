#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char err_msg[2048];

int gta_err_set(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    return code;
}

int gta_err_prefix(int code, const char *fmt, ...) {
    char prefix[1024], old[sizeof err_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err_msg - 3) n = sizeof err_msg - 3;
    memcpy(err_msg, prefix, n);
    memcpy(err_msg + n, ": ", 2);
    size_t room = sizeof err_msg - n - 3, m = strlen(old);
    if (m > room) m = room;
    memcpy(err_msg + n + 2, old, m);
    err_msg[n + 2 + m] = 0;
    return code;
}

const char *gta_err_msg(void) { return err_msg[0] ? err_msg : "unknown error"; }

void gta_err_clear(void) { err_msg[0] = 0; }

static void oom(size_t n) {
    fprintf(stderr, "gta: error: out of memory allocating %zu bytes\n", n);
    exit(GTA_EFAIL);
}

void *gta_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *gta_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *gta_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *gta_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = gta_malloc(n);
    memcpy(p, s, n);
    return p;
}

void *gta_malloc_aligned(size_t n) {
    size_t rounded = (n + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) oom(n);
    return p;
}

void gta_free_aligned(void *p) { free(p); }
