#include "io/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "io/dataset.h"

/* 1 when text[0..n) opens more than CJSON_NESTING_LIMIT arrays/objects (outside strings):
 * the reason cJSON gave up, for the message. */
static int too_deep(const char *s, size_t n) {
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > CJSON_NESTING_LIMIT) return 1;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

int gta_json_parse(const char *name, const char *text, size_t len, cJSON **out) {
    /* RFC 8259: JSON text is UTF-8. cJSON copies string bytes as they are, so invalid
     * UTF-8 would reach every consumer (tokenizer strings, labels, templates): refuse it
     * here, once, for every JSON file gta reads. cJSON's own \u escapes always yield valid
     * UTF-8 (it rejects lone surrogates). */
    size_t bad = gta_utf8_check(text, len);
    if (bad != len) {
        int line, col;
        gta_line_col(text, bad, &line, &col);
        return gta_err_set(GTA_EINPUT, "%s:%d:%d: invalid UTF-8 (byte offset %zu; JSON text must be UTF-8)",
                           name, line, col, bad);
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) {
        size_t off = end ? (size_t)(end - text) : 0;
        if (off > len) off = len;
        int line, col;
        gta_line_col(text, off, &line, &col);
        if (too_deep(text, off < len ? off + 1 : len))
            return gta_err_set(GTA_EINPUT, "%s:%d:%d: JSON nested deeper than %d levels (cJSON's limit)",
                               name, line, col, CJSON_NESTING_LIMIT);
        return gta_err_set(GTA_EINPUT, "%s:%d:%d: invalid JSON%s", name, line, col,
                           off >= len ? " (truncated?)" : "");
    }
    *out = j;
    return GTA_OK;
}

int gta_json_load(const char *path, cJSON **out) {
    char *text;
    size_t len;
    int rc = gta_read_file(path, &text, &len);
    if (rc) return rc;
    rc = gta_json_parse(path, text, len, out);
    free(text);
    return rc;
}

int gta_json_int_opt(const char *file, const cJSON *obj, const char *key, long long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return GTA_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9e15)
        return gta_err_set(GTA_EINPUT, "%s: field '%s': expected an integer", file, key);
    *out = (long long)v->valuedouble;
    return GTA_OK;
}

int gta_json_int_req(const char *file, const cJSON *obj, const char *key, long long *out) {
    if (!cJSON_GetObjectItemCaseSensitive(obj, key))
        return gta_err_set(GTA_EINPUT, "%s: missing field '%s'", file, key);
    return gta_json_int_opt(file, obj, key, out);
}

int gta_json_num_opt(const char *file, const cJSON *obj, const char *key, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return GTA_OK;
    /* 1e999 parses as infinity, which no setting means */
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return gta_err_set(GTA_EINPUT, "%s: field '%s': expected a finite number", file, key);
    *out = v->valuedouble;
    return GTA_OK;
}

int gta_json_bool_opt(const char *file, const cJSON *obj, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return GTA_OK;
    if (!cJSON_IsBool(v)) return gta_err_set(GTA_EINPUT, "%s: field '%s': expected true or false", file, key);
    *out = cJSON_IsTrue(v);
    return GTA_OK;
}

int gta_json_str_opt(const char *file, const cJSON *obj, const char *key, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return GTA_OK;
    if (!cJSON_IsString(v)) return gta_err_set(GTA_EINPUT, "%s: field '%s': expected a string", file, key);
    *out = v->valuestring;
    return GTA_OK;
}

cJSON *gta_json_number(double v) {
    if (!isfinite(v)) return cJSON_CreateNull();
    /* cJSON prints 15 significant digits and accepts them when they read back within an
     * epsilon: not exact. The shortest of %.15g..%.17g that reads back as v is. */
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return cJSON_CreateRaw(buf);
}
