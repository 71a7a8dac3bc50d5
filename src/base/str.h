/* One growing string buffer for the whole program: append bytes or printf-formatted text,
 * then take the NUL-terminated result. A zeroed gta_str is empty and owns nothing; s stays
 * NULL until the first append, after which s[n] is always 0. */
#ifndef GTA_BASE_STR_H
#define GTA_BASE_STR_H

#include <stddef.h>

#include "base/error.h"

typedef struct {
    char *s;       /* NULL until something is appended */
    size_t n, cap; /* bytes held (without the NUL), bytes allocated */
} gta_str;

/* Makes room for extra more bytes (and the NUL) without changing the contents. */
void gta_str_reserve(gta_str *b, size_t extra);
/* Appends s[0..n); n == 0 still allocates, so that s becomes "". */
void gta_str_putn(gta_str *b, const void *s, size_t n);
void gta_str_puts(gta_str *b, const char *s);
void gta_str_putc(gta_str *b, char c);
void gta_str_printf(gta_str *b, const char *fmt, ...) GTA_PRINTF(2, 3);
/* The text as a fresh NUL-terminated string ("" when nothing was appended); b is empty after. */
char *gta_str_take(gta_str *b);
/* Frees the text; b is empty after. */
void gta_str_free(gta_str *b);

#endif
