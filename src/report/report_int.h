/* Internals shared by the report's files: report_data.c (reading run directories and eval
 * files), report_charts.c (SVG charts), report_page.c (the HTML page). Not a public
 * interface. */
#ifndef GTA_REPORT_REPORT_INT_H
#define GTA_REPORT_REPORT_INT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "base/str.h"
#include "report/report.h"

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
    gta_str notes; /* problems met while reading, escaped HTML */
    const char *color;
    const char *shade; /* this run's own shade of the method colour */
} run_t;

typedef struct {
    char label[320];
    const char *color;
    const char *dash; /* NULL: solid */
    double *x, *y;
    int n;
} series;

/* report_page.c */
void sb_esc(gta_str *b, const char *s);

/* report_data.c */
const char *jstr(const cJSON *o, const char *k);
double jnum(const cJSON *o, const char *k);
int load_run(const char *dir, run_t *r);
int load_standalone(const char *path, run_t *r);
void free_run(run_t *r);
const evfile *main_eval(const run_t *r);

/* report_charts.c */
extern int chart_id; /* numbers the charts of one page (ids of their clip paths); reset per page */
void series_free(series *s, int n);
void chart(gta_str *h, const char *title, const char *xlab, const char *ylab, const series *s, int ns,
           int smooth, double ylo, double yhi, const char *note);
int run_series(run_t *const *runs, int nr, int which, const char *field, const char *suffix, const char *dash,
               series *s, int max);
void confusion_svg(gta_str *h, const cJSON *ev);

#endif
