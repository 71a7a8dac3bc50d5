/* gta report: reading run directories (metrics.jsonl, eval.jsonl, eval JSON files,
 * samples.jsonl) and standalone eval files. */
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

/* ---------------------------------------------------------------- run data */

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

const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
/* a finite number, else NAN */
double jnum(const cJSON *o, const char *k) {
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

int load_run(const char *dir, run_t *r) {
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
            gta_str_puts(&r->notes, "config.json does not parse: ");
            sb_esc(&r->notes, gta_err_msg());
            gta_str_puts(&r->notes, ". ");
            gta_err_clear();
            cJSON_Delete(cfg);
            cfg = NULL;
        }
    } else {
        gta_str_puts(&r->notes, "No config.json. ");
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
        if (got < 0) gta_str_printf(&r->notes, "%s cannot be read. ", jl[k].file);
        if (*jl[k].bad)
            gta_str_printf(&r->notes, "%d line(s) of %s do not parse and were skipped. ", *jl[k].bad,
                           jl[k].file);
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
                gta_str_puts(&r->notes, " is not an eval result and was skipped. ");
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

int load_standalone(const char *path, run_t *r) {
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

void free_run(run_t *r) {
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
const evfile *main_eval(const run_t *r) {
    for (int i = 0; i < r->nfev; i++) {
        const char *s = jstr(r->fev[i].j, "split_name");
        if (s && !strcmp(s, "test")) return &r->fev[i];
    }
    return r->nfev ? &r->fev[0] : NULL;
}
