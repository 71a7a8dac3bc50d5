/* Datasets: labels.txt plus JSONL/CSV splits.  See dataset.h for the accepted formats. */
#include "io/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "io/json.h"

/* ---- UTF-8 and normalization ---- */

size_t gta_utf8_check(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned cp, min;
        if (c >= 0xC2 && c <= 0xDF)
            k = 1, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3, cp = c & 0x07, min = 0x10000;
        else
            return i; /* continuation byte, C0/C1 (overlong two-byte) or F5..FF */
        if (len - i <= k) return i;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += k + 1;
    }
    return len;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

size_t gta_label_norm(const char *s, size_t len, char *out) {
    size_t n = 0;
    int pending_space = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (is_ws(c)) {
            pending_space = n > 0; /* leading white space is dropped, inner runs fold */
            continue;
        }
        if (pending_space) out[n++] = ' ';
        pending_space = 0;
        out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = 0;
    return n;
}

/* ---- labels ---- */

static const char *const completion_tags[] = {"<guess>",  "</guess>", "<think>",
                                              "</think>", "<answer>", "</answer>"};

void gta_labels_free(gta_labels *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->names[i]);
        if (l->norm) free(l->norm[i]);
    }
    free(l->names);
    free(l->norm);
    memset(l, 0, sizeof *l);
}

/* qsort has no context argument in C11; labels are checked on one thread at a time. */
static char *const *g_sort_norm;
static int cmp_norm(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(g_sort_norm[x], g_sort_norm[y]);
    return c ? c : (x > y) - (x < y);
}

/* Checks names[0..n) and fills out (copies); line numbers in messages are i + 1. */
int gta_labels_from(const char *const *names, size_t n, const char *name, gta_labels *out) {
    memset(out, 0, sizeof *out);
    if (n == 0) return gta_err_set(GTA_EINPUT, "%s: no labels (expected one label name per line)", name);
    gta_labels l = {gta_calloc(n, sizeof(char *)), gta_calloc(n, sizeof(char *)), 0};
    int rc = GTA_OK;
    for (size_t i = 0; i < n && rc == GTA_OK; i++) {
        const char *s = names[i];
        size_t len = strlen(s);
        int line = (int)i + 1;
        size_t bad = gta_utf8_check(s, len);
        if (bad != len) {
            rc =
                gta_err_set(GTA_EINPUT, "%s:%d: invalid UTF-8 at byte %zu of the label", name, line, bad + 1);
            break;
        }
        char *norm = gta_malloc(len + 1);
        size_t nn = gta_label_norm(s, len, norm);
        l.names[i] = gta_strdup(s);
        l.norm[i] = norm;
        l.n = i + 1;
        if (nn == 0) {
            rc = gta_err_set(GTA_EINPUT, "%s:%d: empty label", name, line);
        } else if (is_ws(s[0]) || is_ws(s[len - 1])) {
            rc = gta_err_set(GTA_EINPUT, "%s:%d: label '%s' has leading or trailing white space", name, line,
                             s);
        } else {
            for (size_t t = 0; t < sizeof completion_tags / sizeof *completion_tags; t++)
                if (strstr(s, completion_tags[t])) {
                    rc = gta_err_set(GTA_EINPUT, "%s:%d: label '%s' contains the completion tag %s", name,
                                     line, s, completion_tags[t]);
                    break;
                }
        }
    }
    if (rc == GTA_OK) {
        /* duplicates by sorting (norm, line): the first pair in file order is reported */
        size_t *ord = gta_malloc(n * sizeof *ord), dup = SIZE_MAX, first = 0;
        for (size_t i = 0; i < n; i++) ord[i] = i;
        g_sort_norm = l.norm;
        qsort(ord, n, sizeof *ord, cmp_norm);
        for (size_t k = 1; k < n; k++) {
            if (strcmp(l.norm[ord[k - 1]], l.norm[ord[k]]) != 0) continue;
            size_t g = k - 1;
            while (g > 0 && strcmp(l.norm[ord[g - 1]], l.norm[ord[k]]) == 0) g--;
            if (ord[k] < dup) dup = ord[k], first = ord[g];
        }
        free(ord);
        if (dup != SIZE_MAX)
            rc = gta_err_set(GTA_EINPUT,
                             "%s:%zu: label '%s' duplicates line %zu ('%s'; labels are compared trimmed, "
                             "lower-cased and with white space folded)",
                             name, dup + 1, l.names[dup], first + 1, l.names[first]);
    }
    if (rc != GTA_OK) {
        gta_labels_free(&l);
        return rc;
    }
    *out = l;
    return GTA_OK;
}

int gta_labels_load(const char *path, gta_labels *out) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    int rc = gta_read_file(path, &buf, &len);
    if (rc) return rc;
    if (len == 0) {
        free(buf);
        return gta_err_set(GTA_EINPUT, "%s: empty file (expected one label name per line)", path);
    }
    /* split in place into lines; the empty piece after a final "\n" is not a line */
    size_t cap = 16, n = 0;
    const char **lines = gta_malloc(cap * sizeof *lines);
    char *p = buf, *end = buf + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        if (e > p && e[-1] == '\r') e--;
        *e = 0;
        if (memchr(p, 0, (size_t)(e - p))) {
            rc = gta_err_set(GTA_EINPUT, "%s:%zu: NUL byte in the label", path, n + 1);
            break;
        }
        if (n == cap) lines = gta_realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    if (rc == GTA_OK) rc = gta_labels_from(lines, n, path, out);
    free(lines);
    free(buf);
    return rc;
}

int32_t gta_labels_find(const gta_labels *l, const char *s, size_t len) {
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->names[i]) == len && memcmp(l->names[i], s, len) == 0) return (int32_t)i;
    return -1;
}

int32_t gta_labels_find_norm(const gta_labels *l, const char *s, size_t len) {
    char small[256];
    char *buf = len < sizeof small ? small : gta_malloc(len + 1);
    gta_label_norm(s, len, buf);
    int32_t id = -1;
    for (size_t i = 0; i < l->n && id < 0; i++)
        if (strcmp(l->norm[i], buf) == 0) id = (int32_t)i;
    if (buf != small) free(buf);
    return id;
}

/* ---- splits ---- */

typedef struct {
    gta_split *s;
    size_t cap;
} ex_vec;

static void ex_push(ex_vec *v, const char *text, size_t len, int32_t label, int32_t line) {
    if (v->s->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 1024;
        v->s->ex = gta_realloc(v->s->ex, v->cap * sizeof *v->s->ex);
    }
    gta_example *e = &v->s->ex[v->s->n++];
    e->text = gta_malloc(len + 1);
    memcpy(e->text, text, len);
    e->text[len] = 0;
    e->text_len = len;
    e->label = label;
    e->line = line;
}

void gta_split_free(gta_split *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free(s->ex[i].text);
    free(s->ex);
    free(s->path);
    memset(s, 0, sizeof *s);
}

/* Messages quote at most this many bytes of a bad label. */
#define QUOTE_MAX 80

static int bad_label(const char *path, long line, const char *s, size_t len) {
    int q = (int)(len > QUOTE_MAX ? QUOTE_MAX : len);
    return gta_err_set(GTA_EINPUT, "%s:%ld: label '%.*s%s' is not in labels.txt", path, line, q, s,
                       len > QUOTE_MAX ? "..." : "");
}

static int check_text(const char *path, long line, const char *s, size_t len) {
    if (memchr(s, 0, len))
        return gta_err_set(GTA_EINPUT, "%s:%ld: the text contains a NUL character", path, line);
    size_t bad = gta_utf8_check(s, len);
    if (bad != len)
        return gta_err_set(GTA_EINPUT, "%s:%ld: invalid UTF-8 in the text at byte %zu of the field", path,
                           line, bad + 1);
    return GTA_OK;
}

/* A "\u0000" escape (preceded by an even number of backslashes) would silently cut a
 * cJSON string short: reject it. */
static int has_nul_escape(const char *s, size_t len) {
    for (size_t i = 0; i + 6 <= len; i++) {
        if (s[i] != '\\' || s[i + 1] != 'u' || memcmp(s + i + 2, "0000", 4) != 0) continue;
        size_t nb = 0;
        while (nb < i && s[i - 1 - nb] == '\\') nb++;
        if (nb % 2 == 0) return 1;
    }
    return 0;
}

static int is_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!is_ws(s[i])) return 0;
    return 1;
}

static int load_jsonl(const char *path, char *buf, size_t len, const gta_labels *labels, ex_vec *v) {
    char *p = buf, *end = buf + len;
    long line = 0;
    while (p < end) {
        line++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        if (e > p && e[-1] == '\r') e--;
        size_t n = (size_t)(e - p);
        char *next = nl ? nl + 1 : end;
        if (is_blank(p, n)) {
            p = next;
            continue;
        }
        if (memchr(p, 0, n)) return gta_err_set(GTA_EINPUT, "%s:%ld: NUL byte in the line", path, line);
        size_t bad = gta_utf8_check(p, n);
        if (bad != n)
            return gta_err_set(GTA_EINPUT, "%s:%ld: invalid UTF-8 at column %zu", path, line, bad + 1);
        if (has_nul_escape(p, n))
            return gta_err_set(GTA_EINPUT, "%s:%ld: \\u0000 (NUL) escapes are not accepted", path, line);
        *e = 0; /* the line is parsed as a C string; e is '\r', '\n' or the buffer's NUL */
        const char *errp = NULL;
        cJSON *o = cJSON_ParseWithOpts(p, &errp, 1);
        if (!o) {
            size_t col = errp && errp >= p && errp <= e ? (size_t)(errp - p) + 1 : 1;
            return gta_err_set(GTA_EINPUT, "%s:%ld: invalid JSON near column %zu", path, line, col);
        }
        int rc = GTA_OK;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
        const cJSON *lb = cJSON_GetObjectItemCaseSensitive(o, "label");
        int32_t id = -1;
        if (!cJSON_IsObject(o))
            rc = gta_err_set(GTA_EINPUT, "%s:%ld: expected a JSON object", path, line);
        else if (!t)
            rc = gta_err_set(GTA_EINPUT, "%s:%ld: missing \"text\"", path, line);
        else if (!cJSON_IsString(t))
            rc = gta_err_set(GTA_EINPUT, "%s:%ld: \"text\" is not a string", path, line);
        else if (!lb)
            rc = gta_err_set(GTA_EINPUT, "%s:%ld: missing \"label\"", path, line);
        else if (cJSON_IsString(lb)) {
            id = gta_labels_find(labels, lb->valuestring, strlen(lb->valuestring));
            if (id < 0) rc = bad_label(path, line, lb->valuestring, strlen(lb->valuestring));
        } else if (cJSON_IsNumber(lb)) {
            double d = lb->valuedouble;
            if (d != floor(d) || d < 0 || d >= (double)labels->n)
                rc = gta_err_set(GTA_EINPUT, "%s:%ld: label id %g is not an integer in [0, %zu)", path, line,
                                 d, labels->n);
            else
                id = (int32_t)d;
        } else {
            rc = gta_err_set(GTA_EINPUT, "%s:%ld: \"label\" is neither a string nor an integer id", path,
                             line);
        }
        if (rc == GTA_OK) {
            size_t tl = strlen(t->valuestring);
            rc = check_text(path, line, t->valuestring, tl);
            if (rc == GTA_OK) ex_push(v, t->valuestring, tl, id, (int32_t)line);
        }
        cJSON_Delete(o);
        if (rc) return rc;
        p = next;
    }
    return GTA_OK;
}

/* ---- CSV (RFC 4180) ---- */

typedef struct {
    size_t off, len; /* into the (unescaped in place) buffer */
} csv_field;

typedef struct {
    csv_field *f;
    size_t n, cap;
} csv_rec;

/* Parses one record at *pos; doubled quotes are unescaped in place (the output never
 * outruns the input).  Returns 1 with a record, 0 at the end, or an error code.  Blank
 * lines are skipped.  *line is the current 1-based line, *rec_line receives the record's. */
static int csv_next(const char *path, char *buf, size_t len, size_t *pos, long *line, long *rec_line,
                    csv_rec *r) {
    size_t p = *pos;
    /* skip blank lines */
    for (;;) {
        if (p >= len) return 0;
        if (buf[p] == '\n')
            p++, (*line)++;
        else if (buf[p] == '\r' && (p + 1 == len || buf[p + 1] == '\n'))
            p += (p + 1 < len) ? 2 : 1, (*line)++;
        else
            break;
    }
    *rec_line = *line;
    r->n = 0;
    size_t w = p;
    for (;;) {
        size_t start = w;
        int end_rec = 0;
        if (p < len && buf[p] == '"') {
            p++;
            for (;;) {
                if (p >= len)
                    return gta_err_set(GTA_EINPUT,
                                       "%s:%ld: quoted field not closed before the end of the file", path,
                                       *rec_line);
                char c = buf[p];
                if (c == '"') {
                    if (p + 1 < len && buf[p + 1] == '"') {
                        buf[w++] = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (c == '\n') (*line)++;
                buf[w++] = c;
                p++;
            }
            if (p >= len)
                end_rec = 1;
            else if (buf[p] == ',')
                p++;
            else if (buf[p] == '\n')
                p++, end_rec = 1;
            else if (buf[p] == '\r' && (p + 1 == len || buf[p + 1] == '\n'))
                p += (p + 1 < len) ? 2 : 1, end_rec = 1;
            else
                return gta_err_set(GTA_EINPUT,
                                   "%s:%ld: unexpected character after a closing quote (a quote "
                                   "inside a quoted field is written \"\")",
                                   path, *line);
            if (end_rec) (*line)++;
        } else {
            for (;;) {
                if (p >= len) {
                    end_rec = 1;
                    break;
                }
                char c = buf[p];
                if (c == ',') {
                    p++;
                    break;
                }
                if (c == '\n') {
                    p++, end_rec = 1, (*line)++;
                    break;
                }
                if (c == '\r' && (p + 1 == len || buf[p + 1] == '\n')) {
                    p += (p + 1 < len) ? 2 : 1, end_rec = 1, (*line)++;
                    break;
                }
                if (c == '"')
                    return gta_err_set(GTA_EINPUT,
                                       "%s:%ld: quote inside an unquoted field (quote the whole field)", path,
                                       *line);
                buf[w++] = c;
                p++;
            }
        }
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 8;
            r->f = gta_realloc(r->f, r->cap * sizeof *r->f);
        }
        r->f[r->n++] = (csv_field){start, w - start};
        if (end_rec) break;
        /* after a ",": a field follows, possibly empty at the very end of the file */
    }
    *pos = p;
    return 1;
}

static int load_csv(const char *path, char *buf, size_t len, const gta_labels *labels, ex_vec *v) {
    size_t bad = gta_utf8_check(buf, len);
    if (bad != len) {
        int line, col;
        gta_line_col(buf, bad, &line, &col);
        return gta_err_set(GTA_EINPUT, "%s:%d: invalid UTF-8 at column %d", path, line, col);
    }
    if (memchr(buf, 0, len)) {
        int line, col;
        gta_line_col(buf, (size_t)((char *)memchr(buf, 0, len) - buf), &line, &col);
        return gta_err_set(GTA_EINPUT, "%s:%d: NUL byte", path, line);
    }
    csv_rec r = {0};
    size_t pos = 0;
    long line = 1, rec_line = 1;
    int rc = csv_next(path, buf, len, &pos, &line, &rec_line, &r);
    if (rc == 0) rc = gta_err_set(GTA_EINPUT, "%s: empty file (expected a header text,label)", path);
    if (rc != 1) {
        free(r.f);
        return rc;
    }
    size_t ncol = r.n, ti = (size_t)-1, li = (size_t)-1;
    for (size_t i = 0; i < r.n; i++) {
        const char *s = buf + r.f[i].off;
        if (r.f[i].len == 4 && memcmp(s, "text", 4) == 0 && ti == (size_t)-1) ti = i;
        if (r.f[i].len == 5 && memcmp(s, "label", 5) == 0 && li == (size_t)-1) li = i;
    }
    if (ti == (size_t)-1 || li == (size_t)-1) {
        free(r.f);
        return gta_err_set(GTA_EINPUT, "%s:%ld: the header must name the columns text and label", path,
                           rec_line);
    }
    rc = GTA_OK;
    for (;;) {
        int got = csv_next(path, buf, len, &pos, &line, &rec_line, &r);
        if (got == 0) break;
        if (got != 1) {
            rc = got;
            break;
        }
        if (r.n != ncol) {
            rc = gta_err_set(GTA_EINPUT, "%s:%ld: %zu fields, the header has %zu", path, rec_line, r.n, ncol);
            break;
        }
        const char *t = buf + r.f[ti].off, *l = buf + r.f[li].off;
        int32_t id = gta_labels_find(labels, l, r.f[li].len);
        if (id < 0) {
            rc = bad_label(path, rec_line, l, r.f[li].len);
            break;
        }
        ex_push(v, t, r.f[ti].len, id, (int32_t)rec_line);
    }
    free(r.f);
    return rc;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int gta_split_load_file(const char *path, const gta_labels *labels, gta_split *out) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    int rc = gta_read_file(path, &buf, &len);
    if (rc) return rc;
    char *b = buf;
    if (len >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) b += 3, len -= 3;
    ex_vec v = {out, 0};
    if (ends_with(path, ".csv"))
        rc = load_csv(path, b, len, labels, &v);
    else
        rc = load_jsonl(path, b, len, labels, &v);
    free(buf);
    if (rc == GTA_OK && out->n == 0)
        rc = gta_err_set(GTA_EINPUT, "%s: %s", path, len == 0 ? "empty file" : "no examples in the file");
    if (rc != GTA_OK) {
        gta_split_free(out);
        return rc;
    }
    out->path = gta_strdup(path);
    return GTA_OK;
}

/* The file a split is read from (.jsonl preferred), or NULL. */
static char *split_file(const char *dir, const char *split) {
    size_t n = strlen(split) + 8;
    char *name = gta_malloc(n);
    snprintf(name, n, "%s.jsonl", split);
    char *p = gta_path_join(dir, name);
    if (!gta_file_exists(p)) {
        free(p);
        snprintf(name, n, "%s.csv", split);
        p = gta_path_join(dir, name);
        if (!gta_file_exists(p)) {
            free(p);
            p = NULL;
        }
    }
    free(name);
    return p;
}

int gta_split_exists(const char *dir, const char *split) {
    char *p = split_file(dir, split);
    free(p);
    return p != NULL;
}

int gta_split_load(const char *dir, const char *split, const gta_labels *labels, gta_split *out) {
    memset(out, 0, sizeof *out);
    char *p = split_file(dir, split);
    if (!p) return gta_err_set(GTA_EINPUT, "%s: no %s.jsonl or %s.csv", dir, split, split);
    int rc = gta_split_load_file(p, labels, out);
    free(p);
    return rc;
}

void gta_dataset_free(gta_dataset *d) {
    if (!d) return;
    gta_labels_free(&d->labels);
    gta_split_free(&d->train);
    gta_split_free(&d->validation);
    gta_split_free(&d->test);
}

int gta_dataset_load(const char *dir, int require_train, gta_dataset *out) {
    memset(out, 0, sizeof *out);
    if (!gta_is_dir(dir)) return gta_err_set(GTA_EINPUT, "%s: not a directory", dir);
    char *lp = gta_path_join(dir, "labels.txt");
    int rc = gta_file_exists(lp) ? gta_labels_load(lp, &out->labels)
                                 : gta_err_set(GTA_EINPUT, "%s: missing (one label name per line)", lp);
    free(lp);
    const char *names[3] = {"train", "validation", "test"};
    gta_split *dst[3] = {&out->train, &out->validation, &out->test};
    for (int i = 0; i < 3 && rc == GTA_OK; i++) {
        if (!gta_split_exists(dir, names[i])) {
            if (i == 0 && require_train) rc = gta_split_load(dir, names[i], &out->labels, dst[i]);
            continue;
        }
        rc = gta_split_load(dir, names[i], &out->labels, dst[i]);
    }
    if (rc != GTA_OK) gta_dataset_free(out);
    return rc;
}
