/* gta predict: inputs, batched greedy prediction and label scores (see predict.h). */
#include "eval/predict.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "eval/eval.h"
#include "io/json.h"
#include "model/sampler.h"
#include "task/eos.h"
#include "task/prompt.h"

/* ------------------------------------------------------------------ inputs */

void gta_predict_inputs_free(gta_predict_inputs *in) {
    for (size_t i = 0; i < in->n; i++) free(in->x[i].text);
    free(in->x);
    free(in->name);
    memset(in, 0, sizeof *in);
}

static void push_input(gta_predict_inputs *in, size_t *cap, char *text, size_t len, int line) {
    if (in->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        in->x = gta_realloc(in->x, sizeof *in->x * *cap);
    }
    in->x[in->n++] = (gta_predict_input){text, len, line};
}

static int check_text(const char *name, int line, const char *s, size_t len) {
    size_t bad = gta_utf8_check(s, len);
    if (bad != len)
        return gta_err_set(GTA_EINPUT, "%s:%d: the text is not valid UTF-8 (byte %zu)", name, line, bad);
    if (memchr(s, 0, len))
        return gta_err_set(GTA_EINPUT, "%s:%d: the text contains a NUL character", name, line);
    return GTA_OK;
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == '\v' || s[i] == '\f'))
            return 0;
    return 1;
}

static int parse_jsonl(const char *name, const char *buf, size_t len, const char *field,
                       gta_predict_inputs *out, size_t *cap) {
    size_t pos = 0;
    int line = 0;
    while (pos < len) {
        line++;
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len, n = end - pos;
        const char *s = buf + pos;
        pos = nl ? end + 1 : len;
        if (blank(s, n)) continue;
        if (n && s[n - 1] == '\r') n--;
        char where[600];
        snprintf(where, sizeof where, "%s:%d", name, line);
        cJSON *j = NULL;
        int rc = gta_json_parse(where, s, n, &j);
        if (rc) return rc;
        const cJSON *t = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, field) : NULL;
        if (!cJSON_IsObject(j) || !cJSON_IsString(t)) {
            rc = gta_err_set(GTA_EINPUT, "%s: expected a JSON object with a string field '%s'", where, field);
            cJSON_Delete(j);
            return rc;
        }
        size_t tl = strlen(t->valuestring);
        /* cJSON stops at an escaped NUL (\u0000): the text would be cut silently */
        if (memmem(s, n, "\\u0000", 6)) {
            cJSON_Delete(j);
            return gta_err_set(GTA_EINPUT, "%s: the text contains a NUL character", where);
        }
        if ((rc = check_text(name, line, t->valuestring, tl))) {
            cJSON_Delete(j);
            return rc;
        }
        push_input(out, cap, gta_strdup(t->valuestring), tl, line);
        cJSON_Delete(j);
    }
    return GTA_OK;
}

/* One CSV record (RFC 4180) from buf at *pos; fields are fresh strings.  *line counts
 * lines; *rec_line receives the line where the record starts.  Returns GTA_OK with
 * *nf = 0 at the end of the input. */
typedef struct {
    char **f;
    size_t *len;
    int n, cap;
} csv_rec;

static void rec_clear(csv_rec *r) {
    for (int i = 0; i < r->n; i++) free(r->f[i]);
    r->n = 0;
}

static void rec_push(csv_rec *r, const char *s, size_t n) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->f = gta_realloc(r->f, sizeof *r->f * (size_t)r->cap);
        r->len = gta_realloc(r->len, sizeof *r->len * (size_t)r->cap);
    }
    char *c = gta_malloc(n + 1);
    memcpy(c, s, n);
    c[n] = 0;
    r->f[r->n] = c;
    r->len[r->n++] = n;
}

static int csv_record(const char *name, const char *buf, size_t len, size_t *pos, int *line, int *rec_line,
                      csv_rec *r) {
    rec_clear(r);
    /* skip blank lines */
    while (*pos < len) {
        size_t p = *pos;
        while (p < len && buf[p] != '\n' && (buf[p] == ' ' || buf[p] == '\t' || buf[p] == '\r')) p++;
        if (p < len && buf[p] == '\n') {
            *pos = p + 1;
            (*line)++;
            continue;
        }
        if (p == len) *pos = len;
        break;
    }
    if (*pos >= len) return GTA_OK;
    *rec_line = *line;
    size_t fcap = 256, fn = 0;
    char *fb = gta_malloc(fcap);
    size_t p = *pos;
    for (;;) {
        fn = 0;
        if (p < len && buf[p] == '"') {
            int qline = *line;
            p++;
            for (;;) {
                if (p >= len) {
                    free(fb);
                    return gta_err_set(GTA_EINPUT, "%s:%d: a quoted field is not closed", name, qline);
                }
                char c = buf[p++];
                if (c == '"') {
                    if (p < len && buf[p] == '"') {
                        p++;
                    } else {
                        break;
                    }
                }
                if (c == '\n') (*line)++;
                if (fn + 1 >= fcap) fb = gta_realloc(fb, fcap *= 2);
                fb[fn++] = c;
            }
            if (p < len && buf[p] != ',' && buf[p] != '\n' &&
                !(buf[p] == '\r' && (p + 1 == len || buf[p + 1] == '\n'))) {
                free(fb);
                return gta_err_set(GTA_EINPUT, "%s:%d: text after the closing quote of a field", name, *line);
            }
        } else {
            while (p < len && buf[p] != ',' && buf[p] != '\n') {
                if (buf[p] == '"') {
                    free(fb);
                    return gta_err_set(GTA_EINPUT, "%s:%d: a quote inside an unquoted field", name, *line);
                }
                if (fn + 1 >= fcap) fb = gta_realloc(fb, fcap *= 2);
                fb[fn++] = buf[p++];
            }
            if (fn && fb[fn - 1] == '\r' && (p == len || buf[p] == '\n')) fn--;
        }
        if (p < len && buf[p] == '\r') p++;
        rec_push(r, fb, fn);
        if (p < len && buf[p] == ',') {
            p++;
            continue;
        }
        if (p < len && buf[p] == '\n') {
            p++;
            (*line)++;
        }
        break;
    }
    free(fb);
    *pos = p;
    return GTA_OK;
}

static int parse_csv(const char *name, const char *buf, size_t len, const char *field,
                     gta_predict_inputs *out, size_t *cap) {
    size_t pos = 0;
    int line = 1, rl = 1, rc, col = -1, ncol;
    csv_rec r = {0};
    if ((rc = csv_record(name, buf, len, &pos, &line, &rl, &r))) goto done;
    if (r.n == 0) {
        rc = gta_err_set(GTA_EINPUT, "%s: no header line", name);
        goto done;
    }
    for (int i = 0; i < r.n; i++)
        if (!strcmp(r.f[i], field)) col = i;
    if (col < 0) {
        rc = gta_err_set(GTA_EINPUT, "%s:%d: the header has no column '%s'", name, rl, field);
        goto done;
    }
    ncol = r.n;
    for (;;) {
        if ((rc = csv_record(name, buf, len, &pos, &line, &rl, &r))) goto done;
        if (r.n == 0) break;
        if (r.n != ncol) {
            rc = gta_err_set(GTA_EINPUT, "%s:%d: %d fields where the header has %d", name, rl, r.n, ncol);
            goto done;
        }
        if ((rc = check_text(name, rl, r.f[col], r.len[col]))) goto done;
        push_input(out, cap, r.f[col], r.len[col], rl);
        r.f[col] = NULL;
    }
done:
    rec_clear(&r);
    free(r.f);
    free(r.len);
    return rc;
}

int gta_predict_parse(const char *name, const char *buf, size_t len, const char *field, int csv,
                      gta_predict_inputs *out) {
    memset(out, 0, sizeof *out);
    out->name = gta_strdup(name);
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) buf += 3, len -= 3;
    size_t cap = 0;
    int rc =
        csv ? parse_csv(name, buf, len, field, out, &cap) : parse_jsonl(name, buf, len, field, out, &cap);
    if (!rc && out->n == 0) rc = gta_err_set(GTA_EINPUT, "%s: no input records", name);
    if (rc) gta_predict_inputs_free(out);
    return rc;
}

int gta_predict_read(const char *path, const char *field, int csv, gta_predict_inputs *out) {
    char *buf = NULL;
    size_t len = 0;
    int rc;
    const char *name = path;
    if (!strcmp(path, "-")) {
        name = "<stdin>";
        size_t cap = 1 << 16;
        buf = gta_malloc(cap + 1);
        size_t k;
        while ((k = fread(buf + len, 1, cap - len, stdin)) > 0) {
            len += k;
            if (len == cap) buf = gta_realloc(buf, (cap *= 2) + 1);
        }
        if (ferror(stdin)) {
            free(buf);
            return gta_err_set(GTA_EFAIL, "<stdin>: read error");
        }
        buf[len] = 0;
    } else if ((rc = gta_read_file(path, &buf, &len))) {
        return rc;
    }
    rc = gta_predict_parse(name, buf, len, field, csv, out);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------ prediction */

void gta_predict_opts_default(gta_predict_opts *o) {
    memset(o, 0, sizeof *o);
    o->format = GTA_FORMAT_GTA;
    o->max_new_tokens = 256;
}

void gta_prediction_free(gta_prediction *p) {
    free(p->think);
    free(p->completion);
    free(p->scores);
    memset(p, 0, sizeof *p);
}

static char *think_span(const char *s) {
    const char *a = strstr(s, "<think>"), *b = strstr(s, "</think>");
    if (!a || !b || b < a + 7) return NULL;
    if (strstr(a + 7, "<think>") || strstr(b + 8, "</think>")) return NULL;
    size_t n = (size_t)(b - (a + 7));
    char *r = gta_malloc(n + 1);
    memcpy(r, a + 7, n);
    r[n] = 0;
    return r;
}

static int decode_ints(const gta_tokenizer *tok, const int *ids, int n, char **text, size_t *len) {
    int32_t *p = gta_malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) p[i] = ids[i];
    int rc = gta_tokenizer_decode(tok, p, (size_t)n, 1, text, len);
    free(p);
    return rc;
}

/* per text: the shared prefix of the scores and the continuation of each label */
typedef struct {
    int *prefix, np;
    gta_ids *cont; /* [labels] */
} score_tree;

static int build_tree(gta_tokenizer *tok, const gta_labels *labels, const int *prompt, int plen,
                      const int *gen, int ng, const char *text, size_t tl, score_tree *st) {
    const char *ans = strstr(text, "<answer>");
    size_t a = ans ? (size_t)(ans - text) : tl;
    /* the longest run of generated tokens whose decoding is a prefix of text[0..a) */
    int j = 0;
    size_t jb = 0;
    for (int k = 1; k <= ng; k++) {
        char *d = NULL;
        size_t dl = 0;
        int rc = decode_ints(tok, gen, k, &d, &dl);
        if (rc) return rc;
        int fits = dl <= a && !memcmp(d, text, dl);
        free(d);
        if (dl > a) break;
        if (fits) j = k, jb = dl;
    }
    st->np = plen + j;
    st->prefix = gta_malloc(sizeof(int) * (size_t)st->np);
    memcpy(st->prefix, prompt, sizeof(int) * (size_t)plen);
    memcpy(st->prefix + plen, gen, sizeof(int) * (size_t)j);
    st->cont = gta_calloc(labels->n, sizeof(gta_ids));
    size_t rest = a - jb;
    for (size_t l = 0; l < labels->n; l++) {
        size_t ln = strlen(labels->names[l]), n = rest + 8 + ln + 9;
        char *c = gta_malloc(n + 1);
        memcpy(c, text + jb, rest);
        memcpy(c + rest, "<answer>", 8);
        memcpy(c + rest + 8, labels->names[l], ln);
        memcpy(c + rest + 8 + ln, "</answer>", 10);
        int rc = gta_tokenizer_encode(tok, c, n, 0, &st->cont[l]);
        free(c);
        if (rc) return rc;
    }
    return GTA_OK;
}

static void tree_free(score_tree *st, size_t nl) {
    free(st->prefix);
    if (st->cont)
        for (size_t l = 0; l < nl; l++) gta_ids_free(&st->cont[l]);
    free(st->cont);
    memset(st, 0, sizeof *st);
}

/* One tree batch for all texts: per text its prefix segment and one child per label. */
static int score_trees(gta_model *m, const gta_labels *labels, score_tree *st, int n, gta_prediction *out) {
    size_t L = labels->n;
    int ntok = 0, nseg = 0, nlp = 0;
    for (int i = 0; i < n; i++) {
        ntok += st[i].np;
        nseg += 1 + (int)L;
        for (size_t l = 0; l < L; l++) ntok += (int)st[i].cont[l].n, nlp += (int)st[i].cont[l].n;
    }
    int *ids = gta_malloc(sizeof(int) * (size_t)ntok), *pos = gta_malloc(sizeof(int) * (size_t)ntok);
    int *ss = gta_malloc(sizeof(int) * (size_t)nseg), *sl = gta_malloc(sizeof(int) * (size_t)nseg),
        *sp = gta_malloc(sizeof(int) * (size_t)nseg);
    int *row = gta_malloc(sizeof(int) * (size_t)nlp), *tg = gta_malloc(sizeof(int) * (size_t)nlp);
    float *lp = gta_malloc(sizeof(float) * (size_t)nlp);
    int t = 0, s = 0, k = 0;
    for (int i = 0; i < n; i++) {
        int root = s, rs = t;
        ss[s] = t, sl[s] = st[i].np, sp[s] = -1, s++;
        for (int q = 0; q < st[i].np; q++) ids[t] = st[i].prefix[q], pos[t] = q, t++;
        for (size_t l = 0; l < L; l++) {
            const gta_ids *c = &st[i].cont[l];
            ss[s] = t, sl[s] = (int)c->n, sp[s] = root, s++;
            for (size_t q = 0; q < c->n; q++) {
                row[k] = q == 0 ? rs + st[i].np - 1 : t - 1;
                tg[k] = c->ids[q];
                k++;
                ids[t] = c->ids[q], pos[t] = st[i].np + (int)q, t++;
            }
        }
    }
    gta_batch b = {ntok, ids, pos, nseg, ss, sl, sp, nlp, row, tg};
    int rc = gta_forward(m, &b, lp, NULL, 0);
    if (!rc) {
        k = 0;
        for (int i = 0; i < n; i++) {
            double *sc = gta_malloc(sizeof(double) * L), mx = -INFINITY, z = 0;
            for (size_t l = 0; l < L; l++) {
                double sum = 0;
                for (size_t q = 0; q < st[i].cont[l].n; q++) sum += lp[k++];
                sc[l] = sum;
                if (sum > mx) mx = sum;
            }
            for (size_t l = 0; l < L; l++) z += exp(sc[l] - mx);
            for (size_t l = 0; l < L; l++) sc[l] = exp(sc[l] - mx) / z;
            out[i].scores = sc;
        }
    }
    free(ids), free(pos), free(ss), free(sl), free(sp), free(row), free(tg), free(lp);
    return rc;
}

int gta_predict_batch(gta_model *m, gta_tokenizer *tok, const gta_labels *labels, const gta_predict_opts *o,
                      const char *const *texts, const size_t *lens, int n, gta_prediction *out) {
    memset(out, 0, sizeof *out * (size_t)n);
    if (n <= 0) return GTA_OK;
    if (o->max_new_tokens < 1 || o->max_prompt_tokens < 0)
        return gta_err_set(GTA_EINPUT, "predict: need max_new_tokens >= 1, max_prompt_tokens >= 0");
    /* end of a completion: as gta eval (the caller's gta_eos_ids, else the model's and tokenizer's) */
    gta_greedy_ends ends;
    gta_sample_params sp;
    gta_greedy_params(m, tok, o->eos, o->neos, o->max_new_tokens, o->memory_limit, &ends, &sp);
    gta_prompt_opts po;
    memset(&po, 0, sizeof po);
    po.format = o->format;
    po.max_prompt_tokens = o->max_prompt_tokens;
    po.system = o->system;
    po.compact = o->compact;

    int **pint = gta_calloc((size_t)n, sizeof(int *));
    const int **pp = gta_calloc((size_t)n, sizeof(int *));
    int *plen = gta_calloc((size_t)n, sizeof(int));
    gta_sample_seq *smp = gta_calloc((size_t)n, sizeof *smp);
    score_tree *st = o->scores ? gta_calloc((size_t)n, sizeof *st) : NULL;
    int rc = GTA_OK;
    for (int i = 0; i < n && !rc; i++) {
        gta_prompt pr;
        if ((rc = gta_prompt_build(tok, &po, labels, texts[i], lens[i], &pr))) break;
        out[i].truncated = pr.truncated;
        pint[i] = gta_malloc(sizeof(int) * (pr.ids.n ? pr.ids.n : 1));
        for (size_t k = 0; k < pr.ids.n; k++) pint[i][k] = pr.ids.ids[k];
        pp[i] = pint[i];
        plen[i] = (int)pr.ids.n;
        gta_prompt_free(&pr);
    }
    if (!rc) rc = gta_sample(m, pp, plen, n, 1, NULL, &sp, smp);
    for (int i = 0; i < n && !rc; i++) {
        gta_sample_seq *s = &smp[i];
        int len = s->n;
        if (s->finish == GTA_FINISH_EOS && len > 0) len--;
        char *text = NULL;
        size_t tl = 0;
        if ((rc = decode_ints(tok, s->ids, len, &text, &tl))) break;
        gta_reward rw;
        gta_reward_score(o->format, text, tl, labels, -1, &rw);
        out[i].label = rw.answer_label;
        out[i].guess = o->format == GTA_FORMAT_GTA ? rw.guess_label : -1;
        out[i].format_ok = rw.format_ok;
        out[i].finish = s->finish;
        out[i].think = o->format == GTA_FORMAT_SFT ? NULL : think_span(text);
        out[i].completion = text;
        if (st) rc = build_tree(tok, labels, pint[i], plen[i], s->ids, len, text, tl, &st[i]);
    }
    if (!rc && st) rc = score_trees(m, labels, st, n, out);
    if (st)
        for (int i = 0; i < n; i++) tree_free(&st[i], labels->n);
    free(st);
    for (int i = 0; i < n; i++) free(pint[i]);
    gta_sample_seq_free(smp, n);
    free(smp);
    free(pint);
    free(pp);
    free(plen);
    if (rc)
        for (int i = 0; i < n; i++) gta_prediction_free(&out[i]);
    return rc;
}

cJSON *gta_prediction_json(const gta_prediction *p, const gta_labels *labels, gta_format format, int line) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "line", line);
    if (p->label >= 0)
        cJSON_AddStringToObject(j, "label", labels->names[p->label]);
    else
        cJSON_AddNullToObject(j, "label");
    if (format == GTA_FORMAT_GTA) {
        if (p->guess >= 0)
            cJSON_AddStringToObject(j, "guess", labels->names[p->guess]);
        else
            cJSON_AddNullToObject(j, "guess");
    }
    if (format != GTA_FORMAT_SFT) {
        if (p->think)
            cJSON_AddStringToObject(j, "think", p->think);
        else
            cJSON_AddNullToObject(j, "think");
    }
    cJSON_AddStringToObject(j, "completion", p->completion ? p->completion : "");
    cJSON_AddStringToObject(j, "finish", gta_finish_name(p->finish));
    cJSON_AddBoolToObject(j, "format_ok", p->format_ok);
    cJSON_AddBoolToObject(j, "truncated", p->truncated);
    if (p->scores) {
        cJSON *s = cJSON_AddObjectToObject(j, "scores");
        for (size_t l = 0; l < labels->n; l++) cJSON_AddNumberToObject(s, labels->names[l], p->scores[l]);
    }
    return j;
}
