/* gta bench --what tokenize: encoding throughput, one text at a time on one thread (the way
 * a training step encodes), over the "text" fields of a jsonl file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "io/json.h"
#include "text/tok_internal.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads the "text" of every non-empty line; texts point into *data (modified in place). */
static int read_texts(const char *path, char **data, char ***texts, size_t **lens, size_t *count) {
    size_t len;
    int rc = gta_read_file(path, data, &len);
    if (rc) return rc;
    size_t n = 0, cap = 1024, lineno = 0;
    char **t = gta_malloc(cap * sizeof *t);
    size_t *l = gta_malloc(cap * sizeof *l);
    char *p = *data, *end = *data + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        lineno++;
        char *s = p;
        p = nl ? nl + 1 : end;
        while (s < le && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
        if (s == le) continue;
        size_t tl;
        {
            tok_buf tb = {0};
            int got = tok_json_field_str(s, (size_t)(le - s), "text", &tb);
            if (got != 1) {
                tok_buf_free(&tb);
                free(t);
                free(l);
                free(*data);
                *data = NULL;
                return gta_err_set(GTA_EINPUT, "%s:%zu: expected a JSON object with a string \"text\"", path,
                                   lineno);
            }
            /* the decoded text is never longer than its JSON form: store it over the line */
            memcpy(s, tb.p, tb.n);
            tl = tb.n;
            tok_buf_free(&tb);
        }
        if (n == cap) {
            cap *= 2;
            t = gta_realloc(t, cap * sizeof *t);
            l = gta_realloc(l, cap * sizeof *l);
        }
        t[n] = s, l[n] = tl, n++;
    }
    *texts = t, *lens = l, *count = n;
    return GTA_OK;
}

int gta_bench_tokenize(const char *tokenizer_path, const char *data_path, int runs, char **json_out) {
    *json_out = NULL;
    if (runs < 1) return gta_err_set(GTA_EINPUT, "bench tokenize: --runs must be at least 1");
    gta_tokenizer *tok = NULL;
    int rc = gta_tokenizer_load(tokenizer_path, &tok);
    if (rc) return rc;
    char *data = NULL, **texts = NULL;
    size_t *lens = NULL, n = 0;
    if ((rc = read_texts(data_path, &data, &texts, &lens, &n))) {
        gta_tokenizer_free(tok);
        return rc;
    }
    size_t bytes = 0, tokens = 0;
    for (size_t i = 0; i < n; i++) bytes += lens[i];
    double *rate = gta_malloc((size_t)runs * sizeof *rate);
    gta_ids ids = {0};
    for (int r = 0; r < runs && !rc; r++) {
        size_t ntok = 0;
        double t0 = gta_now();
        for (size_t i = 0; i < n; i++) {
            ids.n = 0;
            if ((rc = gta_tokenizer_encode(tok, texts[i], lens[i], 0, &ids))) {
                gta_err_prefix(rc, "%s: text %zu", data_path, i + 1);
                break;
            }
            ntok += ids.n;
        }
        double dt = gta_now() - t0;
        rate[r] = dt > 0 ? (double)bytes / dt / 1e6 : 0;
        tokens = ntok;
    }
    if (!rc) {
        double *sorted = gta_malloc((size_t)runs * sizeof *sorted);
        memcpy(sorted, rate, (size_t)runs * sizeof *sorted);
        qsort(sorted, (size_t)runs, sizeof *sorted, cmp_double);
        double med = runs % 2 ? sorted[runs / 2] : 0.5 * (sorted[runs / 2 - 1] + sorted[runs / 2]);
        tok_buf b = {0};
        char num[512];
        tok_buf_puts(&b, "{\"what\":\"tokenize\",\"tokenizer\":");
        tok_buf_put_json_str(&b, tokenizer_path, strlen(tokenizer_path));
        tok_buf_puts(&b, ",\"data\":");
        tok_buf_put_json_str(&b, data_path, strlen(data_path));
        snprintf(
            num, sizeof num,
            ",\"threads\":1,\"add_special\":false,\"texts\":%zu,\"bytes\":%zu,\"tokens\":%zu,\"runs\":%d,"
            "\"mb_per_s\":%.3f,\"mb_per_s_min\":%.3f,\"mb_per_s_max\":%.3f,\"per_run_mb_per_s\":[",
            n, bytes, tokens, runs, med, sorted[0], sorted[runs - 1]);
        tok_buf_puts(&b, num);
        for (int r = 0; r < runs; r++) {
            snprintf(num, sizeof num, "%s%.3f", r ? "," : "", rate[r]);
            tok_buf_puts(&b, num);
        }
        tok_buf_puts(&b, "]}");
        free(sorted);
        *json_out = b.p;
    }
    gta_ids_free(&ids);
    free(rate);
    free(texts);
    free(lens);
    free(data);
    gta_tokenizer_free(tok);
    return rc;
}
