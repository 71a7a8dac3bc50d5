/* gta report: one self-contained HTML page for run directories (see report/report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "report/report.h"

int cmd_report(int argc, char **argv) {
    arg_list runs = {0}, evals = {0};
    const char *out = NULL, *title = NULL;
    long long samples = 4;
    arg_spec specs[] = {
        {"run", ARG_STR_LIST, &runs, "run directory written by gta train (repeat for several)"},
        {"eval", ARG_STR_LIST, &evals,
         "standalone eval result (gta eval --out), e.g. a base model: the Base column"},
        {"out", ARG_STR, &out, "output HTML file (written atomically)"},
        {"title", ARG_STR, &title, "page title [gta report]"},
        {"samples", ARG_INT, &samples, "completions shown per source [4]"},
    };
    int ns = sizeof specs / sizeof specs[0];
    int rc = args_parse("report", argc, argv, specs, ns);
    if (rc < 0) {
        args_usage("report", "--run DIR [--run DIR ...] [--eval F.json ...] --out F.html", specs, ns);
        arg_list_free(&runs);
        arg_list_free(&evals);
        return 0;
    }
    char *html = NULL;
    size_t len = 0;
    if (rc) goto done;
    if (!out || (!runs.n && !evals.n)) {
        rc = gta_err_set(GTA_EINPUT, "gta report: --out and at least one --run (or --eval) are required");
        goto done;
    }
    if (samples < 0 || samples > 1000) {
        rc = gta_err_set(GTA_EINPUT, "gta report: --samples must be between 0 and 1000");
        goto done;
    }
    gta_report_opts o;
    memset(&o, 0, sizeof o);
    o.runs = runs.items;
    o.nruns = runs.n;
    o.evals = evals.items;
    o.nevals = evals.n;
    o.title = title;
    o.samples_per_run = (int)samples;
    if ((rc = gta_report_html(&o, &html, &len))) goto done;
    rc = gta_write_file_atomic(out, html, len);
done:
    free(html);
    arg_list_free(&runs);
    arg_list_free(&evals);
    return rc ? cli_fail(rc) : 0;
}
