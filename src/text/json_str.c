/* Reading one string field of a JSON object with its exact bytes. cJSON keeps strings
 * NUL-terminated, so a text holding "\u0000" would be cut short there; texts are data here
 * and must arrive whole. */
#include <string.h>

#include "text/tok_internal.h"

static size_t skip_ws(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

static int hex4(const char *s, size_t n, size_t i, int32_t *v) {
    if (i + 4 > n) return 0;
    *v = 0;
    for (size_t k = 0; k < 4; k++) {
        char c = s[i + k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return 0;
        *v = *v * 16 + d;
    }
    return 1;
}

/* Parses the string starting at s[i] == '"'; appends its bytes to out when out != NULL.
 * Returns the index after the closing quote, or 0 when malformed. */
static size_t parse_str(const char *s, size_t n, size_t i, tok_buf *out) {
    if (i >= n || s[i] != '"') return 0;
    i++;
    while (i < n) {
        size_t run = i;
        while (i < n && s[i] != '"' && s[i] != '\\' && (unsigned char)s[i] >= 0x20) i++;
        if (out) tok_buf_put(out, s + run, i - run);
        if (i >= n || (unsigned char)s[i] < 0x20) return 0;
        if (s[i] == '"') return i + 1;
        if (++i >= n) return 0;
        char c = s[i++], e;
        switch (c) {
        case '"':
            e = '"';
            break;
        case '\\':
            e = '\\';
            break;
        case '/':
            e = '/';
            break;
        case 'b':
            e = '\b';
            break;
        case 'f':
            e = '\f';
            break;
        case 'n':
            e = '\n';
            break;
        case 'r':
            e = '\r';
            break;
        case 't':
            e = '\t';
            break;
        case 'u': {
            int32_t cp, lo;
            if (!hex4(s, n, i, &cp)) return 0;
            i += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return 0; /* lone low surrogate: not text */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' || !hex4(s, n, i + 2, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return 0;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            char u[4];
            int k = tok_utf8_encode(cp, u);
            if (out) tok_buf_put(out, u, (size_t)k);
            continue;
        }
        default:
            return 0;
        }
        if (out) tok_buf_putc(out, e);
    }
    return 0;
}

/* Skips any JSON value at s[i]; returns the index after it, or 0 when malformed. */
static size_t skip_value(const char *s, size_t n, size_t i) {
    i = skip_ws(s, n, i);
    if (i >= n) return 0;
    if (s[i] == '"') return parse_str(s, n, i, NULL);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        while (i < n) {
            char c = s[i];
            if (c == '"') {
                i = parse_str(s, n, i, NULL);
                if (!i) return 0;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
            i++;
        }
        return 0;
    }
    size_t st = i;
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\r' && s[i] != '\n')
        i++;
    return i > st ? i : 0;
}

int tok_json_field_str(const char *s, size_t n, const char *key, tok_buf *out) {
    tok_buf k = {0};
    size_t i = skip_ws(s, n, 0);
    int result = -1;
    if (i >= n || s[i] != '{') goto done;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}') {
        result = 0;
        goto done;
    }
    while (i < n) {
        k.n = 0;
        if (!(i = parse_str(s, n, i, &k))) goto done;
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != ':') goto done;
        i = skip_ws(s, n, i + 1);
        if (k.n == strlen(key) && !memcmp(k.p, key, k.n)) {
            if (i >= n || s[i] != '"') goto done;
            out->n = 0;
            if (!parse_str(s, n, i, out)) goto done;
            if (!out->p) tok_buf_put(out, "", 0);
            result = 1;
            goto done;
        }
        if (!(i = skip_value(s, n, i))) goto done;
        i = skip_ws(s, n, i);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, n, i + 1);
            continue;
        }
        if (i < n && s[i] == '}') result = 0;
        goto done;
    }
done:
    tok_buf_free(&k);
    return result;
}
