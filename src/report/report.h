/* `gta report`: one self-contained HTML page (inline SVG and CSS, no JavaScript, nothing
 * fetched) for one or many run directories and standalone eval results.
 *
 * What is read from a run directory (each file optional; what is missing is said in the
 * page, never an error): config.json (method, model, data), metrics.jsonl (one object per
 * step), eval.jsonl (periodic evaluation: step + eval fields), eval.json and *.eval.json
 * (final eval results, `gta eval --out`), samples.jsonl (rollout completions).  A line that
 * does not parse is skipped and counted.  A directory with none of these files is bad
 * input (GTA_EINPUT): it is almost certainly the wrong path.
 *
 * Standalone eval files (opts.evals, e.g. a base model scored zero-shot) are shown in the
 * comparison table's "Base" column, under the model and dataset their "model" and "data"
 * fields name, and with their confusion matrix; a file that cannot be read or is not an
 * eval object is GTA_EINPUT (it was named explicitly).
 *
 * Every text taken from the files is HTML-escaped (and invalid UTF-8 or control bytes are
 * replaced) before it is written. */
#ifndef GTA_REPORT_REPORT_H
#define GTA_REPORT_REPORT_H

#include <stddef.h>

typedef struct {
    const char *const *runs; /* run directories */
    int nruns;
    const char *const *evals; /* standalone eval JSON files */
    int nevals;
    const char *title;   /* NULL: "gta report" */
    int samples_per_run; /* completions shown per source (eval examples, samples.jsonl); < 0: 4 */
} gta_report_opts;

/* Builds the page into *html (fresh, NUL-terminated; *len may be NULL). */
int gta_report_html(const gta_report_opts *o, char **html, size_t *len);

/* HTML-escapes s[0..len) (& < > " ' and invalid UTF-8 / control bytes) into a fresh string;
 * exposed for tests. */
char *gta_html_escape(const char *s, size_t len);

#endif
