/* gta report: runs -> one self-contained HTML page (see report.h).
 *
 * Layout decisions:
 *  - One colour per method everywhere (sft purple, grpo orange, gta blue as in the
 *    paper's Figure 5, gta-rl green, base grey); a second run of the same method gets a
 *    darker shade, so curves stay apart and still read as that method.
 *  - GTA's guess curves use the method's colour, dashed (the paper uses a separate green;
 *    a per-method colour keeps many runs readable).
 *  - Training curves: the raw per-step value faint, a centred moving average bold
 *    (window about 1/15 of the points, odd, at least 1); evaluation curves (few points)
 *    are drawn raw with markers.  Reward charts are per dataset (the paper's panels), the
 *    optimization charts hold every run.
 *  - SFT runs log reward 0 (they do not sample), so they are left out of the reward, KL
 *    and gradient charts and said so.
 *  - No xmlns on the inline SVG (HTML5 does not need it), so the page holds no URL at all. */
#include "eval/report.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "io/dataset.h"
#include "io/json.h"

/* ---------------------------------------------------------------- string builder */

typedef struct {
    char *s;
    size_t n, cap;
} sb;

static void sb_putn(sb *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + n + 1) c *= 2;
        b->s = gta_realloc(b->s, c);
        b->cap = c;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void sb_puts(sb *b, const char *s) { sb_putn(b, s, strlen(s)); }
GTA_PRINTF(2, 3) static void sb_printf(sb *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k < sizeof tmp) {
        sb_putn(b, tmp, (size_t)k);
        return;
    }
    char *big = gta_malloc((size_t)k + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    va_end(ap);
    sb_putn(b, big, (size_t)k);
    free(big);
}

/* escaped text; invalid UTF-8 and control bytes other than \n \t become U+FFFD */
static void sb_escn(sb *b, const char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        size_t ok = gta_utf8_check(s + i, len - i);
        for (size_t j = i; j < i + ok; j++) {
            unsigned char c = (unsigned char)s[j];
            switch (c) {
            case '&':
                sb_puts(b, "&amp;");
                break;
            case '<':
                sb_puts(b, "&lt;");
                break;
            case '>':
                sb_puts(b, "&gt;");
                break;
            case '"':
                sb_puts(b, "&quot;");
                break;
            case '\'':
                sb_puts(b, "&#39;");
                break;
            default:
                if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
                    sb_puts(b, "\xEF\xBF\xBD");
                else
                    sb_putn(b, (const char *)&s[j], 1);
            }
        }
        i += ok;
        if (i < len) {
            sb_puts(b, "\xEF\xBF\xBD");
            i++;
        }
    }
}
static void sb_esc(sb *b, const char *s) { sb_escn(b, s ? s : "", s ? strlen(s) : 0); }

char *gta_html_escape(const char *s, size_t len) {
    sb b = {0};
    sb_putn(&b, "", 0);
    sb_escn(&b, s, len);
    return b.s;
}

/* ---------------------------------------------------------------- run data */

typedef struct {
    char *path;  /* file it came from */
    char *label; /* what the page calls it (file name) */
    cJSON *j;
} evfile;

typedef struct {
    char *dir, *name;
    char *method, *model, *data; /* short names */
    int standalone;              /* a --eval file, not a run */
    cJSON **met;
    int nmet, bad_met;
    cJSON **pev; /* eval.jsonl */
    int npev, bad_pev;
    evfile *fev; /* eval.json, *.eval.json */
    int nfev;
    cJSON **smp; /* last lines of samples.jsonl */
    int nsmp, bad_smp;
    sb notes; /* problems met while reading, escaped HTML */
    const char *color;
    const char *shade; /* this run's own shade of the method colour */
} run_t;

/* the last path component; "final"/"checkpoint" keep their parent ("run/final") */
static char *short_name(const char *path) {
    if (!path || !*path) return gta_strdup("?");
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t a = n;
    while (a > 0 && path[a - 1] != '/') a--;
    if ((n - a == 5 && !strncmp(path + a, "final", 5)) ||
        (n - a == 10 && !strncmp(path + a, "checkpoint", 10))) {
        if (a > 1) {
            size_t p = a - 1;
            while (p > 0 && path[p - 1] != '/') p--;
            a = p;
        }
    }
    char *r = gta_malloc(n - a + 1);
    memcpy(r, path + a, n - a);
    r[n - a] = 0;
    return r;
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
/* a finite number, else NAN */
static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : NAN;
}

/* parses every line of a JSON Lines file into objects; keep_last > 0 keeps only the last ones */
static int read_jsonl(const char *path, cJSON ***out, int *n, int *bad, int keep_last) {
    char *data = NULL;
    size_t len = 0;
    *out = NULL, *n = 0, *bad = 0;
    if (!gta_file_exists(path)) return 0;
    if (gta_read_file(path, &data, &len)) {
        gta_err_clear();
        return -1;
    }
    int cap = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q < e) {
            cJSON *j = cJSON_ParseWithLength(p, (size_t)(e - p));
            if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                (*bad)++;
            } else {
                if (*n == cap) *out = gta_realloc(*out, sizeof(cJSON *) * (size_t)(cap = cap ? cap * 2 : 64));
                (*out)[(*n)++] = j;
            }
        }
        p = e + 1;
    }
    free(data);
    if (keep_last > 0 && *n > keep_last) {
        int drop = *n - keep_last;
        for (int i = 0; i < drop; i++) cJSON_Delete((*out)[i]);
        memmove(*out, *out + drop, sizeof(cJSON *) * (size_t)keep_last);
        *n = keep_last;
    }
    return 1;
}

/* an eval object: it has accuracy and labels */
static int is_eval(const cJSON *j) {
    return cJSON_IsObject(j) && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "accuracy")) &&
           cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "labels"));
}

static void add_fev(run_t *r, const char *path, const char *label, cJSON *j) {
    r->fev = gta_realloc(r->fev, sizeof(evfile) * (size_t)(r->nfev + 1));
    r->fev[r->nfev].path = gta_strdup(path);
    r->fev[r->nfev].label = gta_strdup(label);
    r->fev[r->nfev].j = j;
    r->nfev++;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int load_run(const char *dir, run_t *r) {
    memset(r, 0, sizeof *r);
    r->dir = gta_strdup(dir);
    r->name = short_name(dir);
    if (!gta_is_dir(dir)) return gta_err_set(GTA_EINPUT, "%s: not a run directory", dir);
    int found = 0;
    char *p = gta_path_join(dir, "config.json");
    cJSON *cfg = NULL;
    if (gta_file_exists(p)) {
        found = 1;
        if (gta_json_load(p, &cfg) || !cJSON_IsObject(cfg)) {
            sb_puts(&r->notes, "config.json does not parse: ");
            sb_esc(&r->notes, gta_err_msg());
            sb_puts(&r->notes, ". ");
            gta_err_clear();
            cJSON_Delete(cfg);
            cfg = NULL;
        }
    } else {
        sb_puts(&r->notes, "No config.json. ");
    }
    free(p);
    if (cfg) {
        const char *m = jstr(cfg, "method");
        r->method = gta_strdup(m ? m : "?");
        r->model = short_name(jstr(cfg, "model"));
        r->data = short_name(jstr(cfg, "data"));
        cJSON_Delete(cfg);
    }
    struct {
        const char *file;
        cJSON ***arr;
        int *n, *bad, keep;
    } jl[] = {{"metrics.jsonl", &r->met, &r->nmet, &r->bad_met, 0},
              {"eval.jsonl", &r->pev, &r->npev, &r->bad_pev, 0},
              {"samples.jsonl", &r->smp, &r->nsmp, &r->bad_smp, 64}};
    for (size_t k = 0; k < sizeof jl / sizeof jl[0]; k++) {
        p = gta_path_join(dir, jl[k].file);
        int got = read_jsonl(p, jl[k].arr, jl[k].n, jl[k].bad, jl[k].keep);
        free(p);
        if (got) found = 1;
        if (got < 0) sb_printf(&r->notes, "%s cannot be read. ", jl[k].file);
        if (*jl[k].bad)
            sb_printf(&r->notes, "%d line(s) of %s do not parse and were skipped. ", *jl[k].bad, jl[k].file);
    }
    /* final eval results: eval.json first, then *.eval.json in name order */
    char **names = NULL;
    int nn = 0;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t L = strlen(e->d_name);
            if (!strcmp(e->d_name, "eval.json") || (L > 10 && !strcmp(e->d_name + L - 10, ".eval.json"))) {
                names = gta_realloc(names, sizeof(char *) * (size_t)(nn + 1));
                names[nn++] = gta_strdup(e->d_name);
            }
        }
        closedir(d);
    }
    if (nn > 1) qsort(names, (size_t)nn, sizeof(char *), cmp_str);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nn; i++) {
            if ((pass == 0) != !strcmp(names[i], "eval.json")) continue;
            found = 1;
            p = gta_path_join(dir, names[i]);
            cJSON *j = NULL;
            if (gta_json_load(p, &j) || !is_eval(j)) {
                sb_esc(&r->notes, names[i]);
                sb_puts(&r->notes, " is not an eval result and was skipped. ");
                gta_err_clear();
                cJSON_Delete(j);
            } else {
                add_fev(r, p, names[i], j);
            }
            free(p);
        }
    for (int i = 0; i < nn; i++) free(names[i]);
    free(names);
    if (!found)
        return gta_err_set(
            GTA_EINPUT,
            "%s: not a run directory (no config.json, metrics.jsonl, eval.jsonl, eval.json, *.eval.json "
            "or samples.jsonl)",
            dir);
    /* without config.json, an eval file may still say what was evaluated */
    if (!r->model && r->nfev) r->model = short_name(jstr(r->fev[0].j, "model"));
    if (!r->data && r->nfev) r->data = short_name(jstr(r->fev[0].j, "data"));
    if (!r->method) r->method = gta_strdup("?");
    if (!r->model) r->model = gta_strdup("?");
    if (!r->data) r->data = gta_strdup("?");
    return GTA_OK;
}

static int load_standalone(const char *path, run_t *r) {
    memset(r, 0, sizeof *r);
    r->dir = gta_strdup(path);
    r->name = short_name(path);
    r->standalone = 1;
    cJSON *j = NULL;
    int rc = gta_json_load(path, &j);
    if (rc) return rc;
    if (!is_eval(j)) {
        cJSON_Delete(j);
        return gta_err_set(GTA_EINPUT, "%s: not an eval result (expected an object with accuracy and labels)",
                           path);
    }
    r->method = gta_strdup("base");
    r->model = short_name(jstr(j, "model"));
    r->data = short_name(jstr(j, "data"));
    add_fev(r, path, r->name, j);
    return GTA_OK;
}

static void free_run(run_t *r) {
    for (int i = 0; i < r->nmet; i++) cJSON_Delete(r->met[i]);
    for (int i = 0; i < r->npev; i++) cJSON_Delete(r->pev[i]);
    for (int i = 0; i < r->nsmp; i++) cJSON_Delete(r->smp[i]);
    for (int i = 0; i < r->nfev; i++) {
        cJSON_Delete(r->fev[i].j);
        free(r->fev[i].path);
        free(r->fev[i].label);
    }
    free(r->met), free(r->pev), free(r->smp), free(r->fev);
    free(r->dir), free(r->name), free(r->method), free(r->model), free(r->data);
    free(r->notes.s);
}

/* the final eval the table uses: the one whose split_name is "test", else the first */
static const evfile *main_eval(const run_t *r) {
    for (int i = 0; i < r->nfev; i++) {
        const char *s = jstr(r->fev[i].j, "split_name");
        if (s && !strcmp(s, "test")) return &r->fev[i];
    }
    return r->nfev ? &r->fev[0] : NULL;
}

/* ---------------------------------------------------------------- colours */

static const char *METHODS[] = {"base", "sft", "grpo", "gta", "gta-rl"};
static const char *METHOD_TITLE[] = {"Base", "SFT", "GRPO", "GTA", "GTA (RL)"};
enum { NMETHODS = 5 };
/* per method: its colour and two darker shades for further runs */
static const char *SHADES[NMETHODS + 1][3] = {
    {"#7f7f7f", "#4d4d4d", "#a6a6a6"}, {"#9467bd", "#5e3c99", "#c5b0d5"}, {"#ff7f0e", "#b35806", "#fdb863"},
    {"#1f77b4", "#08306b", "#6baed6"}, {"#2ca02c", "#00441b", "#74c476"}, {"#17becf", "#0b6e79", "#9edae5"},
};

static int method_index(const char *m) {
    for (int i = 0; i < NMETHODS; i++)
        if (!strcmp(m, METHODS[i])) return i;
    return NMETHODS;
}

static int is_rl(const run_t *r) {
    return !strcmp(r->method, "grpo") || !strcmp(r->method, "gta") || !strcmp(r->method, "gta-rl");
}
static int is_gta(const run_t *r) { return !strcmp(r->method, "gta") || !strcmp(r->method, "gta-rl"); }

/* ---------------------------------------------------------------- charts */

typedef struct {
    char label[320];
    const char *color;
    const char *dash; /* NULL: solid */
    double *x, *y;
    int n;
} series;

static void series_free(series *s, int n) {
    for (int i = 0; i < n; i++) free(s[i].x), free(s[i].y);
}

/* (step, field) pairs of objects that have both as finite numbers */
static int collect(cJSON *const *objs, int n, const char *field, series *s) {
    s->x = gta_malloc(sizeof(double) * (size_t)(n ? n : 1));
    s->y = gta_malloc(sizeof(double) * (size_t)(n ? n : 1));
    s->n = 0;
    for (int i = 0; i < n; i++) {
        double x = jnum(objs[i], "step"), y = jnum(objs[i], field);
        if (isnan(x) || isnan(y)) continue;
        s->x[s->n] = x;
        s->y[s->n] = y;
        s->n++;
    }
    return s->n;
}

static double nice_step(double range, int target) {
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static void fmt_tick(char *buf, size_t n, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    if (fabs(v) < step * 1e-6) v = 0;
    if (fabs(v) >= 1e5 || (fabs(v) > 0 && fabs(v) < 1e-4))
        snprintf(buf, n, "%.2g", v);
    else
        snprintf(buf, n, "%.*f", dec, v);
}

static int chart_id = 0;

/* centred moving average, window 2h+1 cut at the ends */
static void moving_average(const double *y, int n, int h, double *out) {
    for (int i = 0; i < n; i++) {
        int a = i - h < 0 ? 0 : i - h, b = i + h >= n ? n - 1 : i + h;
        double s = 0;
        for (int k = a; k <= b; k++) s += y[k];
        out[i] = s / (b - a + 1);
    }
}

/* polyline of at most ~900 drawn points */
static void polyline(sb *h, const double *x, const double *y, int n, double (*X)(double, const double *),
                     double (*Y)(double, const double *), const double *tr, const char *attrs) {
    int stride = n > 900 ? (n + 899) / 900 : 1;
    sb_printf(h, "<polyline %s points=\"", attrs);
    for (int i = 0; i < n; i += stride) sb_printf(h, "%.1f,%.1f ", X(x[i], tr), Y(y[i], tr));
    if ((n - 1) % stride) sb_printf(h, "%.1f,%.1f", X(x[n - 1], tr), Y(y[n - 1], tr));
    sb_puts(h, "\"/>\n");
}

enum { CW = 640, CH = 300, ML = 64, MR = 18, MT = 14, MB = 50 };
/* tr: x0, x1, y0, y1 of the data range */
static double map_x(double v, const double *tr) {
    return ML + (v - tr[0]) / (tr[1] - tr[0]) * (CW - ML - MR);
}
static double map_y(double v, const double *tr) {
    return CH - MB - (v - tr[2]) / (tr[3] - tr[2]) * (CH - MT - MB);
}

/* A line chart with axes, ticks, axis titles and a legend.  smooth: draw raw faintly and
 * a moving average bold; else lines with markers.  ylo/yhi: a fixed range (NAN: from
 * the data). */
static void chart(sb *h, const char *title, const char *xlab, const char *ylab, const series *s, int ns,
                  int smooth, double ylo, double yhi, const char *note) {
    int any = 0;
    double tr[4] = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (int i = 0; i < ns; i++)
        for (int k = 0; k < s[i].n; k++) {
            any = 1;
            if (s[i].x[k] < tr[0]) tr[0] = s[i].x[k];
            if (s[i].x[k] > tr[1]) tr[1] = s[i].x[k];
            if (s[i].y[k] < tr[2]) tr[2] = s[i].y[k];
            if (s[i].y[k] > tr[3]) tr[3] = s[i].y[k];
        }
    sb_puts(h, "<figure class=\"chart\"><figcaption>");
    sb_esc(h, title);
    sb_puts(h, "</figcaption>\n");
    if (!any) {
        sb_puts(h, "<p class=\"empty\">No data for this chart in the selected runs.</p>");
        if (note) {
            sb_puts(h, "<p class=\"note\">");
            sb_esc(h, note);
            sb_puts(h, "</p>");
        }
        sb_puts(h, "</figure>\n");
        return;
    }
    if (!isnan(ylo) && ylo < tr[2]) tr[2] = ylo;
    if (!isnan(yhi) && yhi > tr[3]) tr[3] = yhi;
    if (isnan(ylo) || isnan(yhi)) {
        double pad = (tr[3] - tr[2]) * 0.06;
        if (pad == 0) pad = fabs(tr[3]) > 0 ? fabs(tr[3]) * 0.1 : 1;
        if (isnan(ylo)) tr[2] -= pad;
        if (isnan(yhi)) tr[3] += pad;
    }
    if (tr[1] == tr[0]) tr[0] -= 1, tr[1] += 1;
    double xs = nice_step(tr[1] - tr[0], 6), ys = nice_step(tr[3] - tr[2], 5);
    if (xs < 1 && tr[1] - tr[0] >= 1) xs = 1; /* steps are integers */
    int id = ++chart_id;
    sb_printf(
        h, "<svg class=\"plot\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
        CW, CH, CW, CH);
    sb_esc(h, title);
    sb_printf(h,
              "\">\n<defs><clipPath id=\"c%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
              "height=\"%d\"/></clipPath></defs>\n",
              id, ML, MT - 2, CW - ML - MR, CH - MT - MB + 4);
    sb_printf(h, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"bg\"/>\n", ML, MT, CW - ML - MR,
              CH - MT - MB);
    char buf[64];
    for (double v = ceil(tr[2] / ys - 1e-9) * ys; v <= tr[3] + ys * 1e-9; v += ys) {
        double yy = map_y(v, tr);
        fmt_tick(buf, sizeof buf, v, ys);
        sb_printf(h, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>", ML, CW - MR, yy,
                  yy);
        sb_printf(h, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" dy=\"4\">%s</text>\n",
                  ML - 6, yy, buf);
    }
    for (double v = ceil(tr[0] / xs - 1e-9) * xs; v <= tr[1] + xs * 1e-9; v += xs) {
        double xx = map_x(v, tr);
        fmt_tick(buf, sizeof buf, v, xs);
        sb_printf(h, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>", xx, xx, MT,
                  CH - MB);
        sb_printf(h, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", xx,
                  CH - MB + 17, buf);
    }
    sb_printf(h, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", ML, CW - MR, CH - MB,
              CH - MB);
    sb_printf(h, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>\n", ML, ML, MT, CH - MB);
    sb_printf(h, "<text class=\"atitle\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + CW - MR) / 2,
              CH - 10);
    sb_esc(h, xlab);
    sb_printf(
        h, "</text><text class=\"atitle\" transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">",
        (MT + CH - MB) / 2);
    sb_esc(h, ylab);
    sb_puts(h, "</text>\n");
    int window = 1;
    sb_printf(h, "<g clip-path=\"url(#c%d)\">\n", id);
    for (int i = 0; i < ns; i++) {
        const series *q = &s[i];
        if (!q->n) continue;
        char attrs[256];
        snprintf(attrs, sizeof attrs, "fill=\"none\" stroke=\"%s\"%s%s%s", q->color,
                 q->dash ? " stroke-dasharray=\"" : "", q->dash ? q->dash : "", q->dash ? "\"" : "");
        int hw = smooth ? q->n / 30 : 0;
        if (smooth && hw > 0) {
            char a2[320];
            snprintf(a2, sizeof a2, "%s stroke-width=\"1.2\" stroke-opacity=\"0.28\"", attrs);
            polyline(h, q->x, q->y, q->n, map_x, map_y, tr, a2);
            double *m = gta_malloc(sizeof(double) * (size_t)q->n);
            moving_average(q->y, q->n, hw, m);
            snprintf(a2, sizeof a2, "%s stroke-width=\"2.4\"", attrs);
            polyline(h, q->x, m, q->n, map_x, map_y, tr, a2);
            free(m);
            if (2 * hw + 1 > window) window = 2 * hw + 1;
        } else {
            char a2[320];
            snprintf(a2, sizeof a2, "%s stroke-width=\"2.2\"", attrs);
            polyline(h, q->x, q->y, q->n, map_x, map_y, tr, a2);
            if (q->n <= 60)
                for (int k = 0; k < q->n; k++)
                    sb_printf(h, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", map_x(q->x[k], tr),
                              map_y(q->y[k], tr), q->color);
            sb_puts(h, "\n");
        }
    }
    sb_puts(h, "</g></svg>\n<div class=\"legend\">");
    for (int i = 0; i < ns; i++) {
        if (!s[i].n) continue;
        sb_printf(
            h,
            "<span><svg width=\"30\" height=\"10\"><line x1=\"1\" x2=\"29\" y1=\"5\" y2=\"5\" stroke=\"%s\" "
            "stroke-width=\"3\"%s%s%s/></svg>",
            s[i].color, s[i].dash ? " stroke-dasharray=\"" : "", s[i].dash ? s[i].dash : "",
            s[i].dash ? "\"" : "");
        sb_esc(h, s[i].label);
        sb_puts(h, "</span>");
    }
    sb_puts(h, "</div>");
    if (smooth || note) {
        sb_puts(h, "<p class=\"note\">");
        if (smooth && window > 1)
            sb_printf(h, "Faint: value at each step; bold: centred moving average over %d steps. ", window);
        if (note) sb_esc(h, note);
        sb_puts(h, "</p>");
    }
    sb_puts(h, "</figure>\n");
}

/* one series per run (that has the field), run colour; label "run" or "run suffix" */
static int run_series(run_t *const *runs, int nr, int which, const char *field, const char *suffix,
                      const char *dash, series *s, int max) {
    int n = 0;
    for (int i = 0; i < nr && n < max; i++) {
        const run_t *r = runs[i];
        cJSON *const *objs = which == 0 ? r->met : r->pev;
        int no = which == 0 ? r->nmet : r->npev;
        series *q = &s[n];
        memset(q, 0, sizeof *q);
        if (!collect(objs, no, field, q)) {
            free(q->x), free(q->y);
            continue;
        }
        snprintf(q->label, sizeof q->label, "%s (%s)%s%s", r->name, r->method, suffix ? " " : "",
                 suffix ? suffix : "");
        q->color = r->shade;
        q->dash = dash;
        n++;
    }
    return n;
}

/* ---------------------------------------------------------------- sections */

static void pct_cell(sb *h, double v, int bold) {
    if (isnan(v))
        sb_puts(h, "<td class=\"num na\">&ndash;</td>");
    else
        sb_printf(h, "<td class=\"num\">%s%.2f%s</td>", bold ? "<b>" : "", 100 * v, bold ? "</b>" : "");
}

/* The paper's Table 2: rows = dataset grouped under model, columns = method (Acc, F1). */
static void table2(sb *h, run_t *const *runs, int nr) {
    sb_puts(h, "<section id=\"table\"><h2>Comparison (layout of the paper's Table 2)</h2>\n");
    int used[NMETHODS + 1] = {0};
    int ncell = 0;
    for (int i = 0; i < nr; i++) {
        const run_t *r = runs[i];
        if (main_eval(r) || r->npev) used[method_index(r->method)] = 1, ncell++;
    }
    if (!ncell) {
        sb_puts(
            h,
            "<p class=\"empty\">No run has eval results (eval.json, *.eval.json or eval.jsonl), so there is "
            "nothing to compare. Run <code>gta eval --model RUN/final --data DIR --out "
            "RUN/eval.json</code>.</p>"
            "</section>\n");
        return;
    }
    int nm = 0;
    for (int m = 0; m <= NMETHODS; m++) nm += used[m];
    sb_puts(h, "<table class=\"t2\"><thead><tr><th rowspan=\"2\">Dataset</th>");
    for (int m = 0; m <= NMETHODS; m++)
        if (used[m]) {
            sb_printf(h, "<th colspan=\"2\" style=\"border-bottom:3px solid %s\">%s</th>", SHADES[m][0],
                      m < NMETHODS ? METHOD_TITLE[m] : "Other");
        }
    sb_puts(h, "</tr><tr>");
    for (int m = 0; m < nm; m++) sb_puts(h, "<th>Acc</th><th>F1</th>");
    sb_puts(h, "</tr></thead><tbody>\n");
    /* distinct models in order of appearance, then datasets within */
    int *done_model = gta_calloc((size_t)nr, sizeof(int));
    sb foot = {0};
    int nfoot = 0;
    for (int i = 0; i < nr; i++) {
        if (done_model[i] || !(main_eval(runs[i]) || runs[i]->npev)) continue;
        const char *model = runs[i]->model;
        sb_printf(h, "<tr class=\"group\"><td colspan=\"%d\">", 1 + 2 * nm);
        sb_esc(h, model);
        sb_puts(h, "</td></tr>\n");
        int *done_data = gta_calloc((size_t)nr, sizeof(int));
        for (int j = i; j < nr; j++) {
            if (strcmp(runs[j]->model, model) || done_data[j] || !(main_eval(runs[j]) || runs[j]->npev))
                continue;
            const char *data = runs[j]->data;
            double acc[NMETHODS + 1], f1[NMETHODS + 1];
            int cnt[NMETHODS + 1] = {0}, marked[NMETHODS + 1] = {0};
            for (int m = 0; m <= NMETHODS; m++) acc[m] = f1[m] = NAN;
            for (int k = j; k < nr; k++) {
                const run_t *r = runs[k];
                if (strcmp(r->model, model) || strcmp(r->data, data)) continue;
                done_model[k] = 1;
                done_data[k] = 1;
                int m = method_index(r->method);
                const evfile *e = main_eval(r);
                const cJSON *src = e ? e->j : r->npev ? r->pev[r->npev - 1] : NULL;
                if (!src) continue;
                /* the last run given for a cell wins; the footnote says so */
                acc[m] = jnum(src, "accuracy");
                f1[m] = jnum(src, "f1_weighted");
                cnt[m]++;
                marked[m] = !e;
                sb_printf(&foot, "<li>%s, ", m < NMETHODS ? METHOD_TITLE[m] : "Other");
                sb_esc(&foot, data);
                sb_puts(&foot, ": ");
                sb_esc(&foot, r->name);
                sb_puts(&foot, " &rarr; ");
                if (e) {
                    sb_esc(&foot, e->label);
                } else {
                    sb_printf(&foot, "last line of eval.jsonl (step %.0f)", jnum(src, "step"));
                }
                const char *sp = jstr(src, "split_name");
                if (!sp) sp = jstr(src, "split");
                if (sp) {
                    sb_puts(&foot, ", split ");
                    sb_esc(&foot, sp);
                }
                double n = jnum(src, "n");
                if (!isnan(n)) sb_printf(&foot, ", n = %.0f", n);
                sb_puts(&foot, "</li>");
                nfoot++;
            }
            double best_a = -1, best_f = -1;
            for (int m = 0; m <= NMETHODS; m++) {
                if (!isnan(acc[m]) && acc[m] > best_a) best_a = acc[m];
                if (!isnan(f1[m]) && f1[m] > best_f) best_f = f1[m];
            }
            sb_puts(h, "<tr><td>");
            sb_esc(h, data);
            sb_puts(h, "</td>");
            for (int m = 0; m <= NMETHODS; m++) {
                if (!used[m]) continue;
                pct_cell(h, acc[m], !isnan(acc[m]) && acc[m] == best_a);
                pct_cell(h, f1[m], !isnan(f1[m]) && f1[m] == best_f);
                if (marked[m] || cnt[m] > 1) {
                    /* mark the cell pair: periodic eval, or several runs */
                    h->n -= 5; /* reopen the last </td> */
                    h->s[h->n] = 0;
                    sb_printf(h, "%s%s</td>", marked[m] ? "<sup>*</sup>" : "",
                              cnt[m] > 1 ? "<sup>+</sup>" : "");
                }
            }
            sb_puts(h, "</tr>\n");
        }
        free(done_data);
    }
    free(done_model);
    sb_puts(h,
            "</tbody></table>\n<p class=\"note\">Accuracy and weighted F1 (support-weighted mean of "
            "per-class F1, as "
            "in the paper), in %; best of each row in bold. <sup>*</sup> from the last periodic evaluation "
            "(eval.jsonl), not a final eval file. <sup>+</sup> several runs share the cell; the last one "
            "given is "
            "shown. Sources:</p><ul class=\"src\">");
    if (foot.s) sb_puts(h, foot.s);
    free(foot.s);
    (void)nfoot;
    sb_puts(h, "</ul></section>\n");
}

/* distinct datasets of the runs that pass keep(), in order */
static int datasets(run_t *const *runs, int nr, int (*keep)(const run_t *), const char **out) {
    int n = 0;
    for (int i = 0; i < nr; i++) {
        if (keep && !keep(runs[i])) continue;
        int seen = 0;
        for (int k = 0; k < n; k++) seen |= !strcmp(out[k], runs[i]->data);
        if (!seen) out[n++] = runs[i]->data;
    }
    return n;
}

static int keep_rl(const run_t *r) { return !r->standalone && is_rl(r); }
static int keep_pev(const run_t *r) { return r->npev > 0; }
static int keep_train(const run_t *r) { return !r->standalone && r->nmet > 0; }

static int subset(run_t *const *runs, int nr, const char *data, int (*keep)(const run_t *), run_t **out) {
    int n = 0;
    for (int i = 0; i < nr; i++)
        if ((!data || !strcmp(runs[i]->data, data)) && (!keep || keep(runs[i]))) out[n++] = runs[i];
    return n;
}

static void rewards_section(sb *h, run_t *const *runs, int nr) {
    sb_puts(h, "<section id=\"rewards\"><h2>Training rewards (paper Figure 5)</h2>\n");
    const char **ds = gta_malloc(sizeof(char *) * (size_t)(nr + 1));
    run_t **sub = gta_malloc(sizeof(run_t *) * (size_t)(nr + 1));
    int nd = datasets(runs, nr, keep_rl, ds);
    int nsft = 0;
    for (int i = 0; i < nr; i++) nsft += !runs[i]->standalone && !is_rl(runs[i]);
    if (!nd) sb_puts(h, "<p class=\"empty\">No RL run (grpo, gta, gta-rl) among the selected runs.</p>");
    series *s = gta_malloc(sizeof(series) * (size_t)(2 * nr + 2));
    for (int d = 0; d < nd; d++) {
        int ns = subset(runs, nr, ds[d], keep_rl, sub);
        sb_puts(h, "<h3>Dataset ");
        sb_esc(h, ds[d]);
        sb_puts(h, "</h3><div class=\"charts\">\n");
        char title[512];
        snprintf(title, sizeof title, "Accuracy reward: answer (solid) and guess (dashed) \xE2\x80\x94 %s",
                 ds[d]);
        int n = run_series(sub, ns, 0, "reward_accuracy", "answer", NULL, s, 2 * nr);
        int gtas = 0;
        run_t **g = gta_malloc(sizeof(run_t *) * (size_t)(ns + 1));
        for (int i = 0; i < ns; i++)
            if (is_gta(sub[i])) g[gtas++] = sub[i];
        n += run_series(g, gtas, 0, "guess_accuracy", "guess", "7 4", s + n, 2 * nr - n);
        free(g);
        chart(h, title, "optimizer step", "R_accuracy (mean)", s, n, 1, 0, 1,
              "Answer: R_accuracy of the final <answer>; guess: the same test on <guess> (logged, never "
              "rewarded).");
        series_free(s, n);
        snprintf(title, sizeof title, "Total reward R = R_format + R_accuracy \xE2\x80\x94 %s", ds[d]);
        n = run_series(sub, ns, 0, "reward", NULL, NULL, s, 2 * nr);
        chart(h, title, "optimizer step", "R (mean)", s, n, 1, 0, 2, NULL);
        series_free(s, n);
        snprintf(title, sizeof title, "Format reward \xE2\x80\x94 %s", ds[d]);
        n = run_series(sub, ns, 0, "reward_format", NULL, NULL, s, 2 * nr);
        chart(h, title, "optimizer step", "R_format (mean)", s, n, 1, 0, 1, NULL);
        series_free(s, n);
        snprintf(title, sizeof title, "Completion length \xE2\x80\x94 %s", ds[d]);
        n = run_series(sub, ns, 0, "completion_tokens_mean", NULL, NULL, s, 2 * nr);
        chart(h, title, "optimizer step", "mean completion tokens", s, n, 1, 0, NAN, NULL);
        series_free(s, n);
        sb_puts(h, "</div>\n");
    }
    if (nsft)
        sb_printf(h,
                  "<p class=\"note\">%d SFT run(s) not shown: SFT does not sample, so it has no reward.</p>",
                  nsft);
    sb_puts(h, "</section>\n");

    sb_puts(h, "<section id=\"evalcurve\"><h2>Evaluation accuracy over steps (paper Figure 6)</h2>\n");
    nd = datasets(runs, nr, keep_pev, ds);
    if (!nd)
        sb_puts(h, "<p class=\"empty\">No run has eval.jsonl (periodic evaluation during training, "
                   "<code>gta train --eval-steps N</code>).</p>");
    if (nd) sb_puts(h, "<div class=\"charts\">\n");
    for (int d = 0; d < nd; d++) {
        int ns = subset(runs, nr, ds[d], keep_pev, sub);
        int n = run_series(sub, ns, 1, "accuracy", "accuracy", NULL, s, 2 * nr);
        n += run_series(sub, ns, 1, "f1_weighted", "weighted F1", "7 4", s + n, 2 * nr - n);
        char title[512], note[512];
        snprintf(title, sizeof title, "Accuracy and weighted F1 during training \xE2\x80\x94 %s", ds[d]);
        const char *split = sub[0]->npev ? jstr(sub[0]->pev[0], "split") : NULL;
        double nn = sub[0]->npev ? jnum(sub[0]->pev[0], "n") : NAN;
        snprintf(note, sizeof note, "From eval.jsonl%s%s%s; greedy decoding.", split ? ", split " : "",
                 split ? split : "", !isnan(nn) ? "" : "");
        if (!isnan(nn))
            snprintf(note + strlen(note), sizeof note - strlen(note), " n = %.0f examples per point.", nn);
        chart(h, title, "optimizer step", "fraction", s, n, 0, 0, 1, note);
        series_free(s, n);
    }
    if (nd) sb_puts(h, "</div>\n");
    sb_puts(h, "</section>\n");
    free(s);
    free(ds);
    free(sub);
}

static void optim_section(sb *h, run_t *const *runs, int nr) {
    sb_puts(h, "<section id=\"optim\"><h2>Optimization</h2>\n");
    run_t **rl = gta_malloc(sizeof(run_t *) * (size_t)(nr + 1)),
          **tr = gta_malloc(sizeof(run_t *) * (size_t)(nr + 1)),
          **gt = gta_malloc(sizeof(run_t *) * (size_t)(nr + 1));
    int nrl = subset(runs, nr, NULL, keep_rl, rl), ntr = subset(runs, nr, NULL, keep_train, tr), ngt = 0;
    for (int i = 0; i < nrl; i++)
        if (is_gta(rl[i])) gt[ngt++] = rl[i];
    if (!ntr) {
        sb_puts(h, "<p class=\"empty\">No run has metrics.jsonl.</p></section>\n");
        free(rl), free(tr), free(gt);
        return;
    }
    series *s = gta_malloc(sizeof(series) * (size_t)(3 * nr + 3));
    sb_puts(h, "<div class=\"charts\">\n");
    int n = run_series(rl, nrl, 0, "kl", NULL, NULL, s, 3 * nr);
    chart(h, "KL to the reference policy (k3 estimator)", "optimizer step", "KL per token", s, n, 1, 0, NAN,
          NULL);
    series_free(s, n);
    n = run_series(gt, ngt, 0, "cos_sft_rl", NULL, NULL, s, 3 * nr);
    chart(h, "cos(g_sft, g_rl): agreement of the guess and RL gradients", "optimizer step",
          "cosine similarity", s, n, 1, NAN, NAN,
          "GTA only. Negative values are conflicts, which the gradient gate resolves.");
    series_free(s, n);
    n = run_series(gt, ngt, 0, "conflict", NULL, NULL, s, 3 * nr);
    chart(h, "Gradient conflict rate (cos < 0)", "optimizer step", "conflict (0/1)", s, n, 1, 0, 1,
          "GTA only. Per step 0 or 1; the moving average is the conflict rate.");
    series_free(s, n);
    n = run_series(tr, ntr, 0, "loss", "total", NULL, s, 3 * nr);
    chart(h, "Loss (total)", "optimizer step", "loss", s, n, 1, NAN, NAN, NULL);
    series_free(s, n);
    n = run_series(tr, ntr, 0, "loss_sft", "SFT part", NULL, s, 3 * nr);
    chart(h, "Loss: SFT part (SFT cross-entropy; GTA guess cross-entropy)", "optimizer step",
          "cross-entropy per token", s, n, 1, NAN, NAN, NULL);
    series_free(s, n);
    n = run_series(rl, nrl, 0, "loss_rl", "RL part", NULL, s, 3 * nr);
    chart(h, "Loss: RL part (clipped surrogate + \xCE\xB2\xC2\xB7KL)", "optimizer step", "loss", s, n, 1, NAN,
          NAN, NULL);
    series_free(s, n);
    n = run_series(tr, ntr, 0, "grad_norm", NULL, NULL, s, 3 * nr);
    chart(h, "Gradient norm (before clipping)", "optimizer step", "global L2 norm", s, n, 1, 0, NAN, NULL);
    series_free(s, n);
    n = run_series(tr, ntr, 0, "lr", NULL, NULL, s, 3 * nr);
    chart(h, "Learning rate", "optimizer step", "learning rate", s, n, 0, 0, NAN, NULL);
    series_free(s, n);
    sb_puts(h, "</div></section>\n");
    free(s);
    free(rl), free(tr), free(gt);
}

/* white -> colour by t in [0,1] */
static void mix(char *buf, size_t n, int r, int g, int b, double t) {
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    snprintf(buf, n, "#%02x%02x%02x", (int)(255 + (r - 255) * t), (int)(255 + (g - 255) * t),
             (int)(255 + (b - 255) * t));
}

static void confusion_svg(sb *h, const cJSON *ev) {
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(ev, "labels"),
                *conf = cJSON_GetObjectItemCaseSensitive(ev, "confusion"),
                *unp = cJSON_GetObjectItemCaseSensitive(ev, "unparsed");
    int K = cJSON_GetArraySize(labels);
    if (K < 1 || K > 200 || cJSON_GetArraySize(conf) != K) {
        sb_puts(h, "<p class=\"empty\">No confusion matrix in this eval result.</p>");
        return;
    }
    int cs = K <= 8 ? 48 : K <= 14 ? 36 : K <= 24 ? 24 : 14, showc = cs >= 24;
    size_t maxl = 10; /* "(unparsed)" */
    for (int i = 0; i < K; i++) {
        const cJSON *l = cJSON_GetArrayItem(labels, i);
        size_t L = cJSON_IsString(l) ? strlen(l->valuestring) : 1;
        if (L > maxl) maxl = L;
    }
    if (maxl > 22) maxl = 22;
    int left = 30 + (int)maxl * 7, top = 26 + (int)((double)maxl * 5.2), cols = K + 1;
    int W = left + cols * cs + 20, H = top + K * cs + 40;
    sb_printf(h,
              "<svg class=\"cm\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
              "aria-label=\"confusion matrix\">\n",
              W, H, W, H);
    for (int c = 0; c < cols; c++) {
        double x = left + c * cs + cs / 2.0;
        sb_printf(h, "<text class=\"tick\" transform=\"translate(%.1f %d) rotate(-45)\">", x + 4, top - 6);
        if (c < K) {
            const cJSON *l = cJSON_GetArrayItem(labels, c);
            const char *t = cJSON_IsString(l) ? l->valuestring : "?";
            char cut[96];
            snprintf(cut, sizeof cut, "%.*s%s", 20, t, strlen(t) > 22 ? "\xE2\x80\xA6" : "");
            sb_esc(h, strlen(t) > 22 ? cut : t);
        } else {
            sb_puts(h, "(unparsed)");
        }
        sb_puts(h, "</text>\n");
    }
    for (int g = 0; g < K; g++) {
        const cJSON *row = cJSON_GetArrayItem(conf, g);
        double tot = 0, v[201];
        for (int c = 0; c < cols; c++) {
            const cJSON *it = c < K ? cJSON_GetArrayItem(row, c) : cJSON_GetArrayItem(unp, g);
            v[c] = cJSON_IsNumber(it) ? it->valuedouble : 0;
            tot += v[c];
        }
        const cJSON *l = cJSON_GetArrayItem(labels, g);
        const char *t = cJSON_IsString(l) ? l->valuestring : "?";
        sb_printf(h, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" dy=\"4\">", left - 6,
                  top + g * cs + cs / 2.0);
        char cut[96];
        snprintf(cut, sizeof cut, "%.*s%s", 20, t, strlen(t) > 22 ? "\xE2\x80\xA6" : "");
        sb_esc(h, strlen(t) > 22 ? cut : t);
        sb_puts(h, "</text>\n");
        for (int c = 0; c < cols; c++) {
            double f = tot > 0 ? v[c] / tot : 0;
            char col[16];
            if (c < K)
                mix(col, sizeof col, 0x08, 0x45, 0x94, f);
            else
                mix(col, sizeof col, 0xb2, 0x18, 0x2b, f);
            int x = left + c * cs, y = top + g * cs;
            sb_printf(h,
                      "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"%s\" "
                      "stroke-width=\"%s\"><title>gold ",
                      x, y, cs, cs, col, c == g ? "#222" : "#ddd", c == g ? "1.6" : "0.6");
            sb_esc(h, t);
            sb_printf(h, ", %s: %.0f (%.1f%% of the row)</title></rect>",
                      c < K ? "predicted as column" : "unparsed", v[c], 100 * f);
            if (showc && v[c] > 0)
                sb_printf(h,
                          "<text class=\"cell\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" dy=\"4\" "
                          "fill=\"%s\">%.0f</text>",
                          x + cs / 2.0, y + cs / 2.0, f > 0.55 ? "#fff" : "#111", v[c]);
            sb_puts(h, "\n");
        }
    }
    sb_printf(h, "<text class=\"atitle\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">predicted</text>",
              left + cols * cs / 2, H - 12);
    sb_printf(h,
              "<text class=\"atitle\" transform=\"translate(12 %d) rotate(-90)\" "
              "text-anchor=\"middle\">gold</text>",
              top + K * cs / 2);
    sb_puts(h, "</svg>\n");
}

static void eval_summary(sb *h, const cJSON *ev) {
    sb_puts(h, "<p class=\"kv\">");
    struct {
        const char *k, *name;
        int pct;
    } f[] = {{"n", "n", 0},
             {"accuracy", "accuracy", 1},
             {"f1_weighted", "weighted F1", 1},
             {"f1_macro", "macro F1", 1},
             {"format_ok_rate", "format ok", 1},
             {"guess_accuracy", "guess accuracy", 1},
             {"n_unparsed", "unparsed", 0},
             {"seconds", "seconds", 0}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        double v = jnum(ev, f[i].k);
        if (isnan(v)) continue;
        if (f[i].pct)
            sb_printf(h, "<span><b>%s</b> %.2f%%</span>", f[i].name, 100 * v);
        else
            sb_printf(h, "<span><b>%s</b> %.*f</span>", f[i].name, strcmp(f[i].k, "seconds") ? 0 : 1, v);
    }
    const char *fm = jstr(ev, "format"), *sp = jstr(ev, "split");
    if (fm) {
        sb_puts(h, "<span><b>format</b> ");
        sb_esc(h, fm);
        sb_puts(h, "</span>");
    }
    if (sp) {
        sb_puts(h, "<span><b>split</b> ");
        sb_esc(h, sp);
        sb_puts(h, "</span>");
    }
    sb_puts(h, "</p>\n");
}

static void per_class_table(sb *h, const cJSON *ev) {
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(ev, "per_class"), *it;
    if (!cJSON_IsArray(pc)) return;
    sb_puts(h, "<table class=\"pc\"><thead><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th>"
               "<th>support</th></tr></thead><tbody>");
    cJSON_ArrayForEach(it, pc) {
        sb_puts(h, "<tr><td>");
        sb_esc(h, jstr(it, "label"));
        sb_puts(h, "</td>");
        pct_cell(h, jnum(it, "precision"), 0);
        pct_cell(h, jnum(it, "recall"), 0);
        pct_cell(h, jnum(it, "f1"), 0);
        double s = jnum(it, "support");
        sb_printf(h, "<td class=\"num\">%.0f</td></tr>", isnan(s) ? 0 : s);
    }
    sb_puts(h, "</tbody></table>\n");
}

static void completion_block(sb *h, const char *head, const cJSON *o, const char *text) {
    sb_puts(h, "<div class=\"sample\"><div class=\"shead\">");
    sb_puts(h, head ? head : "");
    sb_puts(h, "</div>");
    const char *in = jstr(o, "input");
    if (in) {
        sb_puts(h, "<div class=\"input\"><b>input</b> ");
        sb_esc(h, in);
        sb_puts(h, "</div>");
    }
    sb_puts(h, "<pre>");
    sb_esc(h, text ? text : "");
    if (!text || !*text) sb_puts(h, "<i>(empty completion)</i>");
    sb_puts(h, "</pre></div>\n");
}

static void label_span(sb *h, const char *what, const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return;
    sb_printf(h, "<span><b>%s</b> ", what);
    if (cJSON_IsString(v))
        sb_esc(h, v->valuestring);
    else if (cJSON_IsNumber(v))
        sb_printf(h, "%g", v->valuedouble);
    else
        sb_puts(h, "<i>none</i>");
    sb_puts(h, "</span> ");
}

static void guess_answer(sb *h, const run_t *r, const cJSON *ev, int nshow) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(ev, "guess_answer");
    if (!cJSON_IsObject(g)) return;
    double n = jnum(ev, "n");
    double same = jnum(g, "same"), cor = jnum(g, "corrected"), brk = jnum(g, "broken"),
           bw = jnum(g, "both_wrong_different"), both = jnum(g, "both_parsed");
    if (isnan(n) || n <= 0 || isnan(same) || isnan(cor) || isnan(brk) || isnan(bw) || isnan(both)) return;
    double nc = n - both;
    struct {
        const char *name, *color;
        double v;
    } part[] = {{"answer = guess", "#9ecae1", same},
                {"corrected (guess wrong, answer right)", "#2ca02c", cor},
                {"broken (guess right, answer wrong)", "#d62728", brk},
                {"both wrong, different", "#ff7f0e", bw},
                {"guess or answer names no label", "#d9d9d9", nc}};
    sb_puts(h, "<h4>Guess vs answer (paper section 5.5)</h4>\n");
    int W = 620, BH = 26;
    sb_printf(
        h,
        "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"guess vs answer\">",
        W, BH + 4, W, BH + 4);
    double x = 0;
    for (int i = 0; i < 5; i++) {
        double w = part[i].v / n * W;
        if (w <= 0) continue;
        sb_printf(h,
                  "<rect x=\"%.1f\" y=\"2\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%s: "
                  "%.0f</title></rect>",
                  x, w, BH, part[i].color, part[i].name, part[i].v);
        if (w > 34)
            sb_printf(h, "<text class=\"cell\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f%%</text>",
                      x + w / 2, BH / 2 + 7, 100 * part[i].v / n);
        x += w;
    }
    sb_puts(h, "</svg><div class=\"legend\">");
    for (int i = 0; i < 5; i++)
        sb_printf(
            h,
            "<span><svg width=\"14\" height=\"14\"><rect width=\"14\" height=\"14\" fill=\"%s\"/></svg>%s: "
            "%.0f (%.1f%%)</span>",
            part[i].color, part[i].name, part[i].v, 100 * part[i].v / n);
    sb_puts(h, "</div>\n");
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(g, "examples");
    const char *kinds[] = {"corrected", "broken", "both_wrong_different"};
    for (int k = 0; k < 3; k++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(ex, kinds[k]), *it;
        int shown = 0;
        cJSON_ArrayForEach(it, arr) {
            if (shown++ >= nshow) break;
            sb hd = {0};
            sb_printf(&hd, "<span class=\"tag\">%s</span> ", kinds[k]);
            label_span(&hd, "gold", it, "gold");
            label_span(&hd, "guess", it, "guess");
            label_span(&hd, "answer", it, "answer");
            completion_block(h, hd.s, it, jstr(it, "completion"));
            free(hd.s);
        }
    }
    (void)r;
}

static void evals_section(sb *h, run_t *const *runs, int nr, int nshow) {
    sb_puts(h, "<section id=\"evals\"><h2>Eval results: confusion matrices and per-class scores</h2>\n");
    for (int i = 0; i < nr; i++) {
        const run_t *r = runs[i];
        sb_printf(h, "<div class=\"run\"><h3><span class=\"sw\" style=\"background:%s\"></span>", r->shade);
        sb_esc(h, r->name);
        sb_puts(h, " <small>(");
        sb_esc(h, r->method);
        sb_puts(h, ", ");
        sb_esc(h, r->model);
        sb_puts(h, ", ");
        sb_esc(h, r->data);
        sb_puts(h, ")</small></h3>\n");
        if (!r->nfev) {
            sb_puts(h, "<p class=\"empty\">No final eval result in this run (looked for eval.json and "
                       "*.eval.json).");
            if (r->npev) sb_puts(h, " Its periodic evaluations are in the chart above.");
            sb_puts(h, "</p></div>\n");
            continue;
        }
        for (int e = 0; e < r->nfev; e++) {
            const cJSON *ev = r->fev[e].j;
            sb_puts(h, "<h4>");
            sb_esc(h, r->fev[e].label);
            sb_puts(h, "</h4>\n");
            eval_summary(h, ev);
            sb_puts(h, "<div class=\"evrow\"><div>");
            confusion_svg(h, ev);
            sb_puts(h, "<p class=\"note\">Rows: gold label; columns: predicted label, and the completions "
                       "whose answer "
                       "names no label. Colour: share of the row.</p></div><div>");
            per_class_table(h, ev);
            sb_puts(h, "</div></div>\n");
            guess_answer(h, r, ev, nshow > 2 ? 2 : nshow);
        }
        sb_puts(h, "</div>\n");
    }
    sb_puts(h, "</section>\n");
}

static void samples_section(sb *h, run_t *const *runs, int nr, int nshow) {
    sb_puts(h, "<section id=\"samples\"><h2>Sample completions</h2>\n");
    for (int i = 0; i < nr; i++) {
        const run_t *r = runs[i];
        sb_printf(h, "<div class=\"run\"><h3><span class=\"sw\" style=\"background:%s\"></span>", r->shade);
        sb_esc(h, r->name);
        sb_puts(h, "</h3>\n");
        int any = 0;
        const evfile *e = main_eval(r);
        if (e) {
            const cJSON *ex = cJSON_GetObjectItemCaseSensitive(e->j, "examples"), *it;
            int k = 0;
            if (cJSON_GetArraySize(ex) > 0) {
                sb_puts(h, "<h4>From ");
                sb_esc(h, e->label);
                sb_puts(h, " (greedy)</h4>\n");
            }
            cJSON_ArrayForEach(it, ex) {
                if (k++ >= nshow) break;
                sb hd = {0};
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "correct");
                sb_printf(&hd, "<span class=\"tag %s\">%s</span> ", cJSON_IsTrue(c) ? "ok" : "bad",
                          cJSON_IsTrue(c) ? "correct" : "wrong");
                label_span(&hd, "gold", it, "gold");
                label_span(&hd, "guess", it, "guess");
                label_span(&hd, "prediction", it, "prediction");
                label_span(&hd, "finish", it, "finish");
                completion_block(h, hd.s, it, jstr(it, "completion"));
                free(hd.s);
                any = 1;
            }
        }
        if (r->nsmp) {
            sb_puts(h, "<h4>Last rollouts from samples.jsonl (sampled)</h4>\n");
            int from = r->nsmp > nshow ? r->nsmp - nshow : 0;
            for (int k = from; k < r->nsmp; k++) {
                const cJSON *it = r->smp[k];
                sb hd = {0};
                label_span(&hd, "step", it, "step");
                label_span(&hd, "gold", it, "gold");
                label_span(&hd, "reward", it, "reward");
                completion_block(h, hd.s, it, jstr(it, "completion"));
                free(hd.s);
                any = 1;
            }
        }
        if (!any) sb_puts(h, "<p class=\"empty\">No completions (no eval examples, no samples.jsonl).</p>");
        sb_puts(h, "</div>\n");
    }
    sb_puts(h, "</section>\n");
}

static const char *CSS =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#1a1a1a;"
    "margin:0;background:#f6f7f9}\n"
    "main{max-width:1360px;margin:0 auto;padding:18px 22px 40px}\n"
    "h1{font-size:26px;margin:6px 0 2px}h2{font-size:21px;margin:30px 0 8px;padding-bottom:4px;"
    "border-bottom:2px solid #d0d4da}h3{font-size:17px;margin:18px 0 6px}h4{font-size:15px;margin:14px 0 "
    "6px}\n"
    "section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:4px 18px 14px;margin:16px "
    "0}\n"
    ".sub{color:#555;margin:0 0 8px}nav{font-size:14px}nav a{margin-right:16px;color:#1f5fa8}\n"
    ".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(650px,1fr));gap:10px 18px}\n"
    "figure{margin:6px 0}figcaption{font-weight:600;font-size:15px;margin-bottom:2px}\n"
    "svg text{font-family:system-ui,'DejaVu Sans',sans-serif}\n"
    "svg.plot .bg{fill:#fbfbfc;stroke:none}svg line.grid{stroke:#e3e6ea;stroke-width:1}\n"
    "svg .axis{stroke:#444;stroke-width:1.2}svg .tick{font-size:12px;fill:#333}\n"
    "svg .atitle{font-size:13px;fill:#222;font-weight:600}svg .cell{font-size:12px;font-weight:600}\n"
    ".legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px;margin:2px 0 0 64px}\n"
    ".legend span{display:inline-flex;align-items:center;gap:5px}\n"
    ".note{color:#555;font-size:13px;margin:4px 0}.empty{color:#8a5a00;background:#fff8e6;border:1px solid "
    "#f0dca8;border-radius:5px;padding:6px 10px}\n"
    "table{border-collapse:collapse;font-size:14px}th,td{padding:4px 10px;border-bottom:1px solid #e6e8eb;"
    "text-align:left}th{background:#f1f3f5}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "table.t2 th{text-align:center}tr.group td{background:#eef2f7;font-weight:600;font-style:italic}\n"
    ".na{color:#aaa}ul.src{font-size:12.5px;color:#555;margin:2px 0;columns:2}\n"
    ".sw{display:inline-block;width:14px;height:14px;border-radius:3px;margin-right:6px;vertical-align:-1px}"
    "\n"
    ".evrow{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}\n"
    ".kv span{display:inline-block;margin-right:16px}.kv{font-size:14px}\n"
    ".sample{border:1px solid #e1e4e8;border-radius:6px;margin:6px 0;background:#fcfcfd}\n"
    ".shead{font-size:13px;padding:4px 8px;background:#f3f5f7;border-bottom:1px solid #e1e4e8}\n"
    ".shead span{margin-right:10px}.input{font-size:13px;padding:4px 8px;color:#333}\n"
    "pre{margin:0;padding:6px 8px;white-space:pre-wrap;word-break:break-word;font:12.5px/1.4 ui-monospace,"
    "'DejaVu Sans Mono',monospace}\n"
    ".tag{font-weight:700;padding:0 "
    "6px;border-radius:3px;background:#e8eaed}.tag.ok{background:#d8f0d8;color:#185c18}"
    ".tag.bad{background:#fadada;color:#8a1515}\n"
    "table.runs td{vertical-align:top}.warn{color:#8a5a00;font-size:13px}\n";

int gta_report_html(const gta_report_opts *o, char **html, size_t *len) {
    *html = NULL;
    if (len) *len = 0;
    int nr = o->nruns + o->nevals;
    if (nr < 1) return gta_err_set(GTA_EINPUT, "report: no run directories or eval files given");
    int nshow = o->samples_per_run < 0 ? 4 : o->samples_per_run;
    run_t *rs = gta_calloc((size_t)nr, sizeof(run_t));
    run_t **runs = gta_malloc(sizeof(run_t *) * (size_t)nr);
    int rc = GTA_OK, loaded = 0;
    for (int i = 0; i < nr && !rc; i++) {
        rc = i < o->nruns ? load_run(o->runs[i], &rs[i]) : load_standalone(o->evals[i - o->nruns], &rs[i]);
        runs[i] = &rs[i];
        loaded = i + 1;
    }
    if (rc) goto done;
    /* shades: the k-th run of a method gets shade k (mod 3) */
    {
        int count[NMETHODS + 1] = {0};
        for (int i = 0; i < nr; i++) {
            int m = method_index(rs[i].method);
            rs[i].color = SHADES[m][0];
            rs[i].shade = SHADES[m][count[m]++ % 3];
        }
    }
    chart_id = 0;
    sb h = {0};
    const char *title = o->title ? o->title : "gta report";
    sb_puts(&h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>");
    sb_esc(&h, title);
    sb_puts(&h, "</title>\n<style>\n");
    sb_puts(&h, CSS);
    sb_puts(&h, "</style></head><body><main>\n<h1>");
    sb_esc(&h, title);
    sb_printf(&h,
              "</h1><p class=\"sub\">%d run(s)%s. Guess&ndash;Think&ndash;Answer fine-tuning: rewards, "
              "evaluation, optimization, confusion matrices and completions.</p>\n",
              o->nruns, o->nevals ? " and standalone eval results" : "");
    sb_puts(
        &h,
        "<nav><a href=\"#runs\">Runs</a><a href=\"#table\">Table 2</a><a href=\"#rewards\">Rewards "
        "(Fig. 5)</a><a href=\"#evalcurve\">Eval over steps (Fig. 6)</a><a href=\"#optim\">Optimization</a>"
        "<a href=\"#evals\">Confusion matrices</a><a href=\"#samples\">Completions</a></nav>\n");
    /* the runs */
    sb_puts(
        &h,
        "<section id=\"runs\"><h2>Runs</h2><table class=\"runs\"><thead><tr><th>run</th><th>method</th>"
        "<th>model</th><th>data</th><th>steps</th><th>last accuracy reward</th><th>eval accuracy / F1</th>"
        "<th>files</th></tr></thead><tbody>\n");
    for (int i = 0; i < nr; i++) {
        const run_t *r = &rs[i];
        sb_printf(&h, "<tr><td><span class=\"sw\" style=\"background:%s\"></span>", r->shade);
        sb_esc(&h, r->name);
        sb_puts(&h, "<br><small>");
        sb_esc(&h, r->dir);
        sb_puts(&h, "</small></td><td>");
        sb_esc(&h, r->method);
        sb_puts(&h, "</td><td>");
        sb_esc(&h, r->model);
        sb_puts(&h, "</td><td>");
        sb_esc(&h, r->data);
        sb_puts(&h, "</td>");
        double last_step = r->nmet ? jnum(r->met[r->nmet - 1], "step") : NAN;
        if (isnan(last_step))
            sb_puts(&h, "<td class=\"num na\">&ndash;</td>");
        else
            sb_printf(&h, "<td class=\"num\">%.0f</td>", last_step);
        /* mean over the last tenth of the steps: one step's value is noisy */
        double s = 0;
        int k = 0, from = r->nmet - (r->nmet + 9) / 10;
        for (int j = from < 0 ? 0 : from; j < r->nmet; j++) {
            double v = jnum(r->met[j], "reward_accuracy");
            if (!isnan(v)) s += v, k++;
        }
        if (k && is_rl(r))
            sb_printf(&h, "<td class=\"num\">%.3f <small>(last %d)</small></td>", s / k, k);
        else
            sb_puts(&h, "<td class=\"num na\">&ndash;</td>");
        const evfile *e = main_eval(r);
        if (e)
            sb_printf(&h, "<td class=\"num\">%.2f%% / %.2f%%</td>", 100 * jnum(e->j, "accuracy"),
                      100 * jnum(e->j, "f1_weighted"));
        else
            sb_puts(&h, "<td class=\"num na\">no eval</td>");
        sb_puts(&h, "<td><small>");
        if (!r->standalone)
            sb_printf(&h, "metrics %d, eval.jsonl %d, final evals %d, samples %d", r->nmet, r->npev, r->nfev,
                      r->nsmp);
        else
            sb_puts(&h, "standalone eval file");
        if (r->notes.s) {
            sb_puts(&h, "<br><span class=\"warn\">");
            sb_puts(&h, r->notes.s); /* already escaped */
            sb_puts(&h, "</span>");
        }
        sb_puts(&h, "</small></td></tr>\n");
    }
    sb_puts(&h, "</tbody></table></section>\n");
    table2(&h, runs, nr);
    rewards_section(&h, runs, nr);
    optim_section(&h, runs, nr);
    evals_section(&h, runs, nr, nshow);
    samples_section(&h, runs, nr, nshow);
    sb_puts(&h, "<p class=\"note\">Made by <code>gta report</code>. Self-contained: no scripts, no external "
                "resources.</p>\n</main></body></html>\n");
    *html = h.s;
    if (len) *len = h.n;
done:
    for (int i = 0; i < loaded; i++) free_run(&rs[i]);
    free(rs);
    free(runs);
    return rc;
}
