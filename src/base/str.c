#include "base/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gta_str_reserve(gta_str *b, size_t extra) {
    if (b->s && b->n + extra + 1 <= b->cap) return;
    size_t c = b->cap ? b->cap : 64;
    while (c < b->n + extra + 1) c *= 2;
    b->s = gta_realloc(b->s, c);
    b->cap = c;
}

void gta_str_putn(gta_str *b, const void *s, size_t n) {
    gta_str_reserve(b, n);
    if (n) memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void gta_str_puts(gta_str *b, const char *s) { gta_str_putn(b, s, strlen(s)); }

void gta_str_putc(gta_str *b, char c) { gta_str_putn(b, &c, 1); }

void gta_str_printf(gta_str *b, const char *fmt, ...) {
    gta_str_reserve(b, 0);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k < 0) {
        b->s[b->n] = 0;
        return;
    }
    if ((size_t)k >= b->cap - b->n) {
        gta_str_reserve(b, (size_t)k);
        va_start(ap, fmt);
        vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
    }
    b->n += (size_t)k;
}

char *gta_str_take(gta_str *b) {
    if (!b->s) gta_str_putn(b, "", 0);
    char *s = b->s;
    *b = (gta_str){0};
    return s;
}

void gta_str_free(gta_str *b) {
    free(b->s);
    *b = (gta_str){0};
}
