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

/* ---------------------------------------------------------------- HTML escaping */

/* escaped text; invalid UTF-8 and control bytes other than \n \t become U+FFFD */
static void sb_escn(gta_str *b, const char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        size_t ok = gta_utf8_check(s + i, len - i);
        for (size_t j = i; j < i + ok; j++) {
            unsigned char c = (unsigned char)s[j];
            switch (c) {
            case '&':
                gta_str_puts(b, "&amp;");
                break;
            case '<':
                gta_str_puts(b, "&lt;");
                break;
            case '>':
                gta_str_puts(b, "&gt;");
                break;
            case '"':
                gta_str_puts(b, "&quot;");
                break;
            case '\'':
                gta_str_puts(b, "&#39;");
                break;
            default:
                if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
                    gta_str_puts(b, "\xEF\xBF\xBD");
                else
                    gta_str_putn(b, (const char *)&s[j], 1);
            }
        }
        i += ok;
        if (i < len) {
            gta_str_puts(b, "\xEF\xBF\xBD");
            i++;
        }
    }
}
void sb_esc(gta_str *b, const char *s) { sb_escn(b, s ? s : "", s ? strlen(s) : 0); }

char *gta_html_escape(const char *s, size_t len) {
    gta_str b = {0};
    gta_str_putn(&b, "", 0);
    sb_escn(&b, s, len);
    return b.s;
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

/* ---------------------------------------------------------------- sections */

static void pct_cell(gta_str *h, double v, int bold) {
    if (isnan(v))
        gta_str_puts(h, "<td class=\"num na\">&ndash;</td>");
    else
        gta_str_printf(h, "<td class=\"num\">%s%.2f%s</td>", bold ? "<b>" : "", 100 * v, bold ? "</b>" : "");
}

/* The paper's Table 2: rows = dataset grouped under model, columns = method (Acc, F1). */
static void table2(gta_str *h, run_t *const *runs, int nr) {
    gta_str_puts(h, "<section id=\"table\"><h2>Comparison (layout of the paper's Table 2)</h2>\n");
    int used[NMETHODS + 1] = {0};
    int ncell = 0;
    for (int i = 0; i < nr; i++) {
        const run_t *r = runs[i];
        if (main_eval(r) || r->npev) used[method_index(r->method)] = 1, ncell++;
    }
    if (!ncell) {
        gta_str_puts(
            h,
            "<p class=\"empty\">No run has eval results (eval.json, *.eval.json or eval.jsonl), so there is "
            "nothing to compare. Run <code>gta eval --model RUN/final --data DIR --out "
            "RUN/eval.json</code>.</p>"
            "</section>\n");
        return;
    }
    int nm = 0;
    for (int m = 0; m <= NMETHODS; m++) nm += used[m];
    gta_str_puts(h, "<table class=\"t2\"><thead><tr><th rowspan=\"2\">Dataset</th>");
    for (int m = 0; m <= NMETHODS; m++)
        if (used[m]) {
            gta_str_printf(h, "<th colspan=\"2\" style=\"border-bottom:3px solid %s\">%s</th>", SHADES[m][0],
                           m < NMETHODS ? METHOD_TITLE[m] : "Other");
        }
    gta_str_puts(h, "</tr><tr>");
    for (int m = 0; m < nm; m++) gta_str_puts(h, "<th>Acc</th><th>F1</th>");
    gta_str_puts(h, "</tr></thead><tbody>\n");
    /* distinct models in order of appearance, then datasets within */
    int *done_model = gta_calloc((size_t)nr, sizeof(int));
    gta_str foot = {0};
    int nfoot = 0;
    for (int i = 0; i < nr; i++) {
        if (done_model[i] || !(main_eval(runs[i]) || runs[i]->npev)) continue;
        const char *model = runs[i]->model;
        gta_str_printf(h, "<tr class=\"group\"><td colspan=\"%d\">", 1 + 2 * nm);
        sb_esc(h, model);
        gta_str_puts(h, "</td></tr>\n");
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
                gta_str_printf(&foot, "<li>%s, ", m < NMETHODS ? METHOD_TITLE[m] : "Other");
                sb_esc(&foot, data);
                gta_str_puts(&foot, ": ");
                sb_esc(&foot, r->name);
                gta_str_puts(&foot, " &rarr; ");
                if (e) {
                    sb_esc(&foot, e->label);
                } else {
                    gta_str_printf(&foot, "last line of eval.jsonl (step %.0f)", jnum(src, "step"));
                }
                const char *sp = jstr(src, "split_name");
                if (!sp) sp = jstr(src, "split");
                if (sp) {
                    gta_str_puts(&foot, ", split ");
                    sb_esc(&foot, sp);
                }
                double n = jnum(src, "n");
                if (!isnan(n)) gta_str_printf(&foot, ", n = %.0f", n);
                gta_str_puts(&foot, "</li>");
                nfoot++;
            }
            double best_a = -1, best_f = -1;
            for (int m = 0; m <= NMETHODS; m++) {
                if (!isnan(acc[m]) && acc[m] > best_a) best_a = acc[m];
                if (!isnan(f1[m]) && f1[m] > best_f) best_f = f1[m];
            }
            gta_str_puts(h, "<tr><td>");
            sb_esc(h, data);
            gta_str_puts(h, "</td>");
            for (int m = 0; m <= NMETHODS; m++) {
                if (!used[m]) continue;
                pct_cell(h, acc[m], !isnan(acc[m]) && acc[m] == best_a);
                pct_cell(h, f1[m], !isnan(f1[m]) && f1[m] == best_f);
                if (marked[m] || cnt[m] > 1) {
                    /* mark the cell pair: periodic eval, or several runs */
                    h->n -= 5; /* reopen the last </td> */
                    h->s[h->n] = 0;
                    gta_str_printf(h, "%s%s</td>", marked[m] ? "<sup>*</sup>" : "",
                                   cnt[m] > 1 ? "<sup>+</sup>" : "");
                }
            }
            gta_str_puts(h, "</tr>\n");
        }
        free(done_data);
    }
    free(done_model);
    gta_str_puts(
        h, "</tbody></table>\n<p class=\"note\">Accuracy and weighted F1 (support-weighted mean of "
           "per-class F1, as "
           "in the paper), in %; best of each row in bold. <sup>*</sup> from the last periodic evaluation "
           "(eval.jsonl), not a final eval file. <sup>+</sup> several runs share the cell; the last one "
           "given is "
           "shown. Sources:</p><ul class=\"src\">");
    if (foot.s) gta_str_puts(h, foot.s);
    free(foot.s);
    (void)nfoot;
    gta_str_puts(h, "</ul></section>\n");
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

static void rewards_section(gta_str *h, run_t *const *runs, int nr) {
    gta_str_puts(h, "<section id=\"rewards\"><h2>Training rewards (paper Figure 5)</h2>\n");
    const char **ds = gta_malloc(sizeof(char *) * (size_t)(nr + 1));
    run_t **sub = gta_malloc(sizeof(run_t *) * (size_t)(nr + 1));
    int nd = datasets(runs, nr, keep_rl, ds);
    int nsft = 0;
    for (int i = 0; i < nr; i++) nsft += !runs[i]->standalone && !is_rl(runs[i]);
    if (!nd) gta_str_puts(h, "<p class=\"empty\">No RL run (grpo, gta, gta-rl) among the selected runs.</p>");
    series *s = gta_malloc(sizeof(series) * (size_t)(2 * nr + 2));
    for (int d = 0; d < nd; d++) {
        int ns = subset(runs, nr, ds[d], keep_rl, sub);
        gta_str_puts(h, "<h3>Dataset ");
        sb_esc(h, ds[d]);
        gta_str_puts(h, "</h3><div class=\"charts\">\n");
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
        gta_str_puts(h, "</div>\n");
    }
    if (nsft)
        gta_str_printf(
            h, "<p class=\"note\">%d SFT run(s) not shown: SFT does not sample, so it has no reward.</p>",
            nsft);
    gta_str_puts(h, "</section>\n");

    gta_str_puts(h, "<section id=\"evalcurve\"><h2>Evaluation accuracy over steps (paper Figure 6)</h2>\n");
    nd = datasets(runs, nr, keep_pev, ds);
    if (!nd)
        gta_str_puts(h, "<p class=\"empty\">No run has eval.jsonl (periodic evaluation during training, "
                        "<code>gta train --eval-steps N</code>).</p>");
    if (nd) gta_str_puts(h, "<div class=\"charts\">\n");
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
    if (nd) gta_str_puts(h, "</div>\n");
    gta_str_puts(h, "</section>\n");
    free(s);
    free(ds);
    free(sub);
}

static void optim_section(gta_str *h, run_t *const *runs, int nr) {
    gta_str_puts(h, "<section id=\"optim\"><h2>Optimization</h2>\n");
    run_t **rl = gta_malloc(sizeof(run_t *) * (size_t)(nr + 1)),
          **tr = gta_malloc(sizeof(run_t *) * (size_t)(nr + 1)),
          **gt = gta_malloc(sizeof(run_t *) * (size_t)(nr + 1));
    int nrl = subset(runs, nr, NULL, keep_rl, rl), ntr = subset(runs, nr, NULL, keep_train, tr), ngt = 0;
    for (int i = 0; i < nrl; i++)
        if (is_gta(rl[i])) gt[ngt++] = rl[i];
    if (!ntr) {
        gta_str_puts(h, "<p class=\"empty\">No run has metrics.jsonl.</p></section>\n");
        free(rl), free(tr), free(gt);
        return;
    }
    series *s = gta_malloc(sizeof(series) * (size_t)(3 * nr + 3));
    gta_str_puts(h, "<div class=\"charts\">\n");
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
    gta_str_puts(h, "</div></section>\n");
    free(s);
    free(rl), free(tr), free(gt);
}

/* white -> colour by t in [0,1] */

static void eval_summary(gta_str *h, const cJSON *ev) {
    gta_str_puts(h, "<p class=\"kv\">");
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
            gta_str_printf(h, "<span><b>%s</b> %.2f%%</span>", f[i].name, 100 * v);
        else
            gta_str_printf(h, "<span><b>%s</b> %.*f</span>", f[i].name, strcmp(f[i].k, "seconds") ? 0 : 1, v);
    }
    const char *fm = jstr(ev, "format"), *sp = jstr(ev, "split");
    if (fm) {
        gta_str_puts(h, "<span><b>format</b> ");
        sb_esc(h, fm);
        gta_str_puts(h, "</span>");
    }
    if (sp) {
        gta_str_puts(h, "<span><b>split</b> ");
        sb_esc(h, sp);
        gta_str_puts(h, "</span>");
    }
    gta_str_puts(h, "</p>\n");
}

static void per_class_table(gta_str *h, const cJSON *ev) {
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(ev, "per_class"), *it;
    if (!cJSON_IsArray(pc)) return;
    gta_str_puts(h,
                 "<table class=\"pc\"><thead><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th>"
                 "<th>support</th></tr></thead><tbody>");
    cJSON_ArrayForEach(it, pc) {
        gta_str_puts(h, "<tr><td>");
        sb_esc(h, jstr(it, "label"));
        gta_str_puts(h, "</td>");
        pct_cell(h, jnum(it, "precision"), 0);
        pct_cell(h, jnum(it, "recall"), 0);
        pct_cell(h, jnum(it, "f1"), 0);
        double s = jnum(it, "support");
        gta_str_printf(h, "<td class=\"num\">%.0f</td></tr>", isnan(s) ? 0 : s);
    }
    gta_str_puts(h, "</tbody></table>\n");
}

static void completion_block(gta_str *h, const char *head, const cJSON *o, const char *text) {
    gta_str_puts(h, "<div class=\"sample\"><div class=\"shead\">");
    gta_str_puts(h, head ? head : "");
    gta_str_puts(h, "</div>");
    const char *in = jstr(o, "input");
    if (in) {
        gta_str_puts(h, "<div class=\"input\"><b>input</b> ");
        sb_esc(h, in);
        gta_str_puts(h, "</div>");
    }
    gta_str_puts(h, "<pre>");
    sb_esc(h, text ? text : "");
    if (!text || !*text) gta_str_puts(h, "<i>(empty completion)</i>");
    gta_str_puts(h, "</pre></div>\n");
}

static void label_span(gta_str *h, const char *what, const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return;
    gta_str_printf(h, "<span><b>%s</b> ", what);
    if (cJSON_IsString(v))
        sb_esc(h, v->valuestring);
    else if (cJSON_IsNumber(v))
        gta_str_printf(h, "%g", v->valuedouble);
    else
        gta_str_puts(h, "<i>none</i>");
    gta_str_puts(h, "</span> ");
}

static void guess_answer(gta_str *h, const run_t *r, const cJSON *ev, int nshow) {
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
    gta_str_puts(h, "<h4>Guess vs answer (paper section 5.5)</h4>\n");
    int W = 620, BH = 26;
    gta_str_printf(
        h,
        "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"guess vs answer\">",
        W, BH + 4, W, BH + 4);
    double x = 0;
    for (int i = 0; i < 5; i++) {
        double w = part[i].v / n * W;
        if (w <= 0) continue;
        gta_str_printf(h,
                       "<rect x=\"%.1f\" y=\"2\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%s: "
                       "%.0f</title></rect>",
                       x, w, BH, part[i].color, part[i].name, part[i].v);
        if (w > 34)
            gta_str_printf(h, "<text class=\"cell\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f%%</text>",
                           x + w / 2, BH / 2 + 7, 100 * part[i].v / n);
        x += w;
    }
    gta_str_puts(h, "</svg><div class=\"legend\">");
    for (int i = 0; i < 5; i++)
        gta_str_printf(
            h,
            "<span><svg width=\"14\" height=\"14\"><rect width=\"14\" height=\"14\" fill=\"%s\"/></svg>%s: "
            "%.0f (%.1f%%)</span>",
            part[i].color, part[i].name, part[i].v, 100 * part[i].v / n);
    gta_str_puts(h, "</div>\n");
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(g, "examples");
    const char *kinds[] = {"corrected", "broken", "both_wrong_different"};
    for (int k = 0; k < 3; k++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(ex, kinds[k]), *it;
        int shown = 0;
        cJSON_ArrayForEach(it, arr) {
            if (shown++ >= nshow) break;
            gta_str hd = {0};
            gta_str_printf(&hd, "<span class=\"tag\">%s</span> ", kinds[k]);
            label_span(&hd, "gold", it, "gold");
            label_span(&hd, "guess", it, "guess");
            label_span(&hd, "answer", it, "answer");
            completion_block(h, hd.s, it, jstr(it, "completion"));
            free(hd.s);
        }
    }
    (void)r;
}

static void evals_section(gta_str *h, run_t *const *runs, int nr, int nshow) {
    gta_str_puts(h, "<section id=\"evals\"><h2>Eval results: confusion matrices and per-class scores</h2>\n");
    for (int i = 0; i < nr; i++) {
        const run_t *r = runs[i];
        gta_str_printf(h, "<div class=\"run\"><h3><span class=\"sw\" style=\"background:%s\"></span>",
                       r->shade);
        sb_esc(h, r->name);
        gta_str_puts(h, " <small>(");
        sb_esc(h, r->method);
        gta_str_puts(h, ", ");
        sb_esc(h, r->model);
        gta_str_puts(h, ", ");
        sb_esc(h, r->data);
        gta_str_puts(h, ")</small></h3>\n");
        if (!r->nfev) {
            gta_str_puts(h, "<p class=\"empty\">No final eval result in this run (looked for eval.json and "
                            "*.eval.json).");
            if (r->npev) gta_str_puts(h, " Its periodic evaluations are in the chart above.");
            gta_str_puts(h, "</p></div>\n");
            continue;
        }
        for (int e = 0; e < r->nfev; e++) {
            const cJSON *ev = r->fev[e].j;
            gta_str_puts(h, "<h4>");
            sb_esc(h, r->fev[e].label);
            gta_str_puts(h, "</h4>\n");
            eval_summary(h, ev);
            gta_str_puts(h, "<div class=\"evrow\"><div>");
            confusion_svg(h, ev);
            gta_str_puts(h,
                         "<p class=\"note\">Rows: gold label; columns: predicted label, and the completions "
                         "whose answer "
                         "names no label. Colour: share of the row.</p></div><div>");
            per_class_table(h, ev);
            gta_str_puts(h, "</div></div>\n");
            guess_answer(h, r, ev, nshow > 2 ? 2 : nshow);
        }
        gta_str_puts(h, "</div>\n");
    }
    gta_str_puts(h, "</section>\n");
}

static void samples_section(gta_str *h, run_t *const *runs, int nr, int nshow) {
    gta_str_puts(h, "<section id=\"samples\"><h2>Sample completions</h2>\n");
    for (int i = 0; i < nr; i++) {
        const run_t *r = runs[i];
        gta_str_printf(h, "<div class=\"run\"><h3><span class=\"sw\" style=\"background:%s\"></span>",
                       r->shade);
        sb_esc(h, r->name);
        gta_str_puts(h, "</h3>\n");
        int any = 0;
        const evfile *e = main_eval(r);
        if (e) {
            const cJSON *ex = cJSON_GetObjectItemCaseSensitive(e->j, "examples"), *it;
            int k = 0;
            if (cJSON_GetArraySize(ex) > 0) {
                gta_str_puts(h, "<h4>From ");
                sb_esc(h, e->label);
                gta_str_puts(h, " (greedy)</h4>\n");
            }
            cJSON_ArrayForEach(it, ex) {
                if (k++ >= nshow) break;
                gta_str hd = {0};
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "correct");
                gta_str_printf(&hd, "<span class=\"tag %s\">%s</span> ", cJSON_IsTrue(c) ? "ok" : "bad",
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
            gta_str_puts(h, "<h4>Last rollouts from samples.jsonl (sampled)</h4>\n");
            int from = r->nsmp > nshow ? r->nsmp - nshow : 0;
            for (int k = from; k < r->nsmp; k++) {
                const cJSON *it = r->smp[k];
                gta_str hd = {0};
                label_span(&hd, "step", it, "step");
                label_span(&hd, "gold", it, "gold");
                label_span(&hd, "reward", it, "reward");
                completion_block(h, hd.s, it, jstr(it, "completion"));
                free(hd.s);
                any = 1;
            }
        }
        if (!any)
            gta_str_puts(h, "<p class=\"empty\">No completions (no eval examples, no samples.jsonl).</p>");
        gta_str_puts(h, "</div>\n");
    }
    gta_str_puts(h, "</section>\n");
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
    gta_str h = {0};
    const char *title = o->title ? o->title : "gta report";
    gta_str_puts(&h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>");
    sb_esc(&h, title);
    gta_str_puts(&h, "</title>\n<style>\n");
    gta_str_puts(&h, CSS);
    gta_str_puts(&h, "</style></head><body><main>\n<h1>");
    sb_esc(&h, title);
    gta_str_printf(&h,
                   "</h1><p class=\"sub\">%d run(s)%s. Guess&ndash;Think&ndash;Answer fine-tuning: rewards, "
                   "evaluation, optimization, confusion matrices and completions.</p>\n",
                   o->nruns, o->nevals ? " and standalone eval results" : "");
    gta_str_puts(
        &h,
        "<nav><a href=\"#runs\">Runs</a><a href=\"#table\">Table 2</a><a href=\"#rewards\">Rewards "
        "(Fig. 5)</a><a href=\"#evalcurve\">Eval over steps (Fig. 6)</a><a href=\"#optim\">Optimization</a>"
        "<a href=\"#evals\">Confusion matrices</a><a href=\"#samples\">Completions</a></nav>\n");
    /* the runs */
    gta_str_puts(
        &h,
        "<section id=\"runs\"><h2>Runs</h2><table class=\"runs\"><thead><tr><th>run</th><th>method</th>"
        "<th>model</th><th>data</th><th>steps</th><th>last accuracy reward</th><th>eval accuracy / F1</th>"
        "<th>files</th></tr></thead><tbody>\n");
    for (int i = 0; i < nr; i++) {
        const run_t *r = &rs[i];
        gta_str_printf(&h, "<tr><td><span class=\"sw\" style=\"background:%s\"></span>", r->shade);
        sb_esc(&h, r->name);
        gta_str_puts(&h, "<br><small>");
        sb_esc(&h, r->dir);
        gta_str_puts(&h, "</small></td><td>");
        sb_esc(&h, r->method);
        gta_str_puts(&h, "</td><td>");
        sb_esc(&h, r->model);
        gta_str_puts(&h, "</td><td>");
        sb_esc(&h, r->data);
        gta_str_puts(&h, "</td>");
        double last_step = r->nmet ? jnum(r->met[r->nmet - 1], "step") : NAN;
        if (isnan(last_step))
            gta_str_puts(&h, "<td class=\"num na\">&ndash;</td>");
        else
            gta_str_printf(&h, "<td class=\"num\">%.0f</td>", last_step);
        /* mean over the last tenth of the steps: one step's value is noisy */
        double s = 0;
        int k = 0, from = r->nmet - (r->nmet + 9) / 10;
        for (int j = from < 0 ? 0 : from; j < r->nmet; j++) {
            double v = jnum(r->met[j], "reward_accuracy");
            if (!isnan(v)) s += v, k++;
        }
        if (k && is_rl(r))
            gta_str_printf(&h, "<td class=\"num\">%.3f <small>(last %d)</small></td>", s / k, k);
        else
            gta_str_puts(&h, "<td class=\"num na\">&ndash;</td>");
        const evfile *e = main_eval(r);
        if (e)
            gta_str_printf(&h, "<td class=\"num\">%.2f%% / %.2f%%</td>", 100 * jnum(e->j, "accuracy"),
                           100 * jnum(e->j, "f1_weighted"));
        else
            gta_str_puts(&h, "<td class=\"num na\">no eval</td>");
        gta_str_puts(&h, "<td><small>");
        if (!r->standalone)
            gta_str_printf(&h, "metrics %d, eval.jsonl %d, final evals %d, samples %d", r->nmet, r->npev,
                           r->nfev, r->nsmp);
        else
            gta_str_puts(&h, "standalone eval file");
        if (r->notes.s) {
            gta_str_puts(&h, "<br><span class=\"warn\">");
            gta_str_puts(&h, r->notes.s); /* already escaped */
            gta_str_puts(&h, "</span>");
        }
        gta_str_puts(&h, "</small></td></tr>\n");
    }
    gta_str_puts(&h, "</tbody></table></section>\n");
    table2(&h, runs, nr);
    rewards_section(&h, runs, nr);
    optim_section(&h, runs, nr);
    evals_section(&h, runs, nr, nshow);
    samples_section(&h, runs, nr, nshow);
    gta_str_puts(&h,
                 "<p class=\"note\">Made by <code>gta report</code>. Self-contained: no scripts, no external "
                 "resources.</p>\n</main></body></html>\n");
    *html = h.s;
    if (len) *len = h.n;
done:
    for (int i = 0; i < loaded; i++) free_run(&rs[i]);
    free(rs);
    free(runs);
    return rc;
}
