/* gta report: SVG line charts and the confusion matrix. */
#include "report/report_int.h"

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

/* ---------------------------------------------------------------- charts */

void series_free(series *s, int n) {
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

int chart_id = 0;

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
static void polyline(gta_str *h, const double *x, const double *y, int n, double (*X)(double, const double *),
                     double (*Y)(double, const double *), const double *tr, const char *attrs) {
    int stride = n > 900 ? (n + 899) / 900 : 1;
    gta_str_printf(h, "<polyline %s points=\"", attrs);
    for (int i = 0; i < n; i += stride) gta_str_printf(h, "%.1f,%.1f ", X(x[i], tr), Y(y[i], tr));
    if ((n - 1) % stride) gta_str_printf(h, "%.1f,%.1f", X(x[n - 1], tr), Y(y[n - 1], tr));
    gta_str_puts(h, "\"/>\n");
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
void chart(gta_str *h, const char *title, const char *xlab, const char *ylab, const series *s, int ns,
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
    gta_str_puts(h, "<figure class=\"chart\"><figcaption>");
    sb_esc(h, title);
    gta_str_puts(h, "</figcaption>\n");
    if (!any) {
        gta_str_puts(h, "<p class=\"empty\">No data for this chart in the selected runs.</p>");
        if (note) {
            gta_str_puts(h, "<p class=\"note\">");
            sb_esc(h, note);
            gta_str_puts(h, "</p>");
        }
        gta_str_puts(h, "</figure>\n");
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
    gta_str_printf(
        h, "<svg class=\"plot\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
        CW, CH, CW, CH);
    sb_esc(h, title);
    gta_str_printf(h,
                   "\">\n<defs><clipPath id=\"c%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
                   "height=\"%d\"/></clipPath></defs>\n",
                   id, ML, MT - 2, CW - ML - MR, CH - MT - MB + 4);
    gta_str_printf(h, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"bg\"/>\n", ML, MT,
                   CW - ML - MR, CH - MT - MB);
    char buf[64];
    for (double v = ceil(tr[2] / ys - 1e-9) * ys; v <= tr[3] + ys * 1e-9; v += ys) {
        double yy = map_y(v, tr);
        fmt_tick(buf, sizeof buf, v, ys);
        gta_str_printf(h, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>", ML, CW - MR,
                       yy, yy);
        gta_str_printf(h, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" dy=\"4\">%s</text>\n",
                       ML - 6, yy, buf);
    }
    for (double v = ceil(tr[0] / xs - 1e-9) * xs; v <= tr[1] + xs * 1e-9; v += xs) {
        double xx = map_x(v, tr);
        fmt_tick(buf, sizeof buf, v, xs);
        gta_str_printf(h, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>", xx, xx, MT,
                       CH - MB);
        gta_str_printf(h, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", xx,
                       CH - MB + 17, buf);
    }
    gta_str_printf(h, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", ML, CW - MR, CH - MB,
                   CH - MB);
    gta_str_printf(h, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>\n", ML, ML, MT,
                   CH - MB);
    gta_str_printf(h, "<text class=\"atitle\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + CW - MR) / 2,
                   CH - 10);
    sb_esc(h, xlab);
    gta_str_printf(
        h, "</text><text class=\"atitle\" transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">",
        (MT + CH - MB) / 2);
    sb_esc(h, ylab);
    gta_str_puts(h, "</text>\n");
    int window = 1;
    gta_str_printf(h, "<g clip-path=\"url(#c%d)\">\n", id);
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
                    gta_str_printf(h, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
                                   map_x(q->x[k], tr), map_y(q->y[k], tr), q->color);
            gta_str_puts(h, "\n");
        }
    }
    gta_str_puts(h, "</g></svg>\n<div class=\"legend\">");
    for (int i = 0; i < ns; i++) {
        if (!s[i].n) continue;
        gta_str_printf(
            h,
            "<span><svg width=\"30\" height=\"10\"><line x1=\"1\" x2=\"29\" y1=\"5\" y2=\"5\" stroke=\"%s\" "
            "stroke-width=\"3\"%s%s%s/></svg>",
            s[i].color, s[i].dash ? " stroke-dasharray=\"" : "", s[i].dash ? s[i].dash : "",
            s[i].dash ? "\"" : "");
        sb_esc(h, s[i].label);
        gta_str_puts(h, "</span>");
    }
    gta_str_puts(h, "</div>");
    if (smooth || note) {
        gta_str_puts(h, "<p class=\"note\">");
        if (smooth && window > 1)
            gta_str_printf(h, "Faint: value at each step; bold: centred moving average over %d steps. ",
                           window);
        if (note) sb_esc(h, note);
        gta_str_puts(h, "</p>");
    }
    gta_str_puts(h, "</figure>\n");
}

/* one series per run (that has the field), run colour; label "run" or "run suffix" */
int run_series(run_t *const *runs, int nr, int which, const char *field, const char *suffix, const char *dash,
               series *s, int max) {
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

static void mix(char *buf, size_t n, int r, int g, int b, double t) {
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    snprintf(buf, n, "#%02x%02x%02x", (int)(255 + (r - 255) * t), (int)(255 + (g - 255) * t),
             (int)(255 + (b - 255) * t));
}

void confusion_svg(gta_str *h, const cJSON *ev) {
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(ev, "labels"),
                *conf = cJSON_GetObjectItemCaseSensitive(ev, "confusion"),
                *unp = cJSON_GetObjectItemCaseSensitive(ev, "unparsed");
    int K = cJSON_GetArraySize(labels);
    if (K < 1 || K > 200 || cJSON_GetArraySize(conf) != K) {
        gta_str_puts(h, "<p class=\"empty\">No confusion matrix in this eval result.</p>");
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
    gta_str_printf(h,
                   "<svg class=\"cm\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                   "aria-label=\"confusion matrix\">\n",
                   W, H, W, H);
    for (int c = 0; c < cols; c++) {
        double x = left + c * cs + cs / 2.0;
        gta_str_printf(h, "<text class=\"tick\" transform=\"translate(%.1f %d) rotate(-45)\">", x + 4,
                       top - 6);
        if (c < K) {
            const cJSON *l = cJSON_GetArrayItem(labels, c);
            const char *t = cJSON_IsString(l) ? l->valuestring : "?";
            char cut[96];
            snprintf(cut, sizeof cut, "%.*s%s", 20, t, strlen(t) > 22 ? "\xE2\x80\xA6" : "");
            sb_esc(h, strlen(t) > 22 ? cut : t);
        } else {
            gta_str_puts(h, "(unparsed)");
        }
        gta_str_puts(h, "</text>\n");
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
        gta_str_printf(h, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" dy=\"4\">", left - 6,
                       top + g * cs + cs / 2.0);
        char cut[96];
        snprintf(cut, sizeof cut, "%.*s%s", 20, t, strlen(t) > 22 ? "\xE2\x80\xA6" : "");
        sb_esc(h, strlen(t) > 22 ? cut : t);
        gta_str_puts(h, "</text>\n");
        for (int c = 0; c < cols; c++) {
            double f = tot > 0 ? v[c] / tot : 0;
            char col[16];
            if (c < K)
                mix(col, sizeof col, 0x08, 0x45, 0x94, f);
            else
                mix(col, sizeof col, 0xb2, 0x18, 0x2b, f);
            int x = left + c * cs, y = top + g * cs;
            gta_str_printf(h,
                           "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"%s\" "
                           "stroke-width=\"%s\"><title>gold ",
                           x, y, cs, cs, col, c == g ? "#222" : "#ddd", c == g ? "1.6" : "0.6");
            sb_esc(h, t);
            gta_str_printf(h, ", %s: %.0f (%.1f%% of the row)</title></rect>",
                           c < K ? "predicted as column" : "unparsed", v[c], 100 * f);
            if (showc && v[c] > 0)
                gta_str_printf(h,
                               "<text class=\"cell\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" dy=\"4\" "
                               "fill=\"%s\">%.0f</text>",
                               x + cs / 2.0, y + cs / 2.0, f > 0.55 ? "#fff" : "#111", v[c]);
            gta_str_puts(h, "\n");
        }
    }
    gta_str_printf(h, "<text class=\"atitle\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">predicted</text>",
                   left + cols * cs / 2, H - 12);
    gta_str_printf(h,
                   "<text class=\"atitle\" transform=\"translate(12 %d) rotate(-90)\" "
                   "text-anchor=\"middle\">gold</text>",
                   top + K * cs / 2);
    gta_str_puts(h, "</svg>\n");
}
