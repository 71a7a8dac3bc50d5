/* Accuracy, per-class precision/recall/F1, macro and weighted F1, confusion (see metrics.h). */
#include "eval/metrics.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

int gta_metrics_compute(const int32_t *gold, const int32_t *pred, size_t n, int k, gta_metrics *out) {
    memset(out, 0, sizeof *out);
    if (k < 1) return gta_err_set(GTA_EINPUT, "metrics: need at least one class (got %d)", k);
    for (size_t i = 0; i < n; i++)
        if (gold[i] < 0 || gold[i] >= k)
            return gta_err_set(GTA_EINPUT, "metrics: gold label %d of example %zu is outside [0, %d)",
                               (int)gold[i], i, k);
    size_t K = (size_t)k;
    out->k = k;
    out->n = (long)n;
    out->precision = gta_calloc(K, sizeof(double));
    out->recall = gta_calloc(K, sizeof(double));
    out->f1 = gta_calloc(K, sizeof(double));
    out->support = gta_calloc(K, sizeof(long));
    out->predicted = gta_calloc(K, sizeof(long));
    out->confusion = gta_calloc(K * K, sizeof(long));
    out->unparsed = gta_calloc(K, sizeof(long));
    for (size_t i = 0; i < n; i++) {
        int g = gold[i], p = pred[i];
        out->support[g]++;
        if (p < 0 || p >= k) {
            out->unparsed[g]++;
            out->n_unparsed++;
            continue;
        }
        out->predicted[p]++;
        out->confusion[(size_t)g * K + (size_t)p]++;
        if (p == g) out->correct++;
    }
    double sf = 0, sp = 0, sr = 0, wf = 0, wp = 0, wr = 0;
    for (int c = 0; c < k; c++) {
        double tp = (double)out->confusion[(size_t)c * K + (size_t)c];
        double fp = (double)out->predicted[c] - tp;
        double fn = (double)out->support[c] - tp; /* other classes and unparsed */
        out->precision[c] = ratio(tp, tp + fp);
        out->recall[c] = ratio(tp, tp + fn);
        out->f1[c] = ratio(2 * tp, 2 * tp + fp + fn);
        sf += out->f1[c], sp += out->precision[c], sr += out->recall[c];
        double w = (double)out->support[c];
        wf += w * out->f1[c], wp += w * out->precision[c], wr += w * out->recall[c];
    }
    out->accuracy = ratio((double)out->correct, (double)n);
    out->f1_macro = sf / k;
    out->precision_macro = sp / k;
    out->recall_macro = sr / k;
    out->f1_weighted = ratio(wf, (double)n);
    out->precision_weighted = ratio(wp, (double)n);
    out->recall_weighted = ratio(wr, (double)n);
    return GTA_OK;
}

void gta_metrics_free(gta_metrics *m) {
    if (!m) return;
    free(m->precision);
    free(m->recall);
    free(m->f1);
    free(m->support);
    free(m->predicted);
    free(m->confusion);
    free(m->unparsed);
    memset(m, 0, sizeof *m);
}

void gta_metrics_to_json(const gta_metrics *m, const char *const *names, cJSON *obj) {
    size_t K = (size_t)m->k;
    cJSON_AddNumberToObject(obj, "n", (double)m->n);
    cJSON_AddNumberToObject(obj, "accuracy", m->accuracy);
    cJSON_AddNumberToObject(obj, "f1_weighted", m->f1_weighted);
    cJSON_AddNumberToObject(obj, "f1_macro", m->f1_macro);
    cJSON_AddNumberToObject(obj, "precision_macro", m->precision_macro);
    cJSON_AddNumberToObject(obj, "recall_macro", m->recall_macro);
    cJSON_AddNumberToObject(obj, "precision_weighted", m->precision_weighted);
    cJSON_AddNumberToObject(obj, "recall_weighted", m->recall_weighted);
    cJSON_AddNumberToObject(obj, "n_unparsed", (double)m->n_unparsed);
    cJSON *pc = cJSON_AddArrayToObject(obj, "per_class");
    for (size_t c = 0; c < K; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "label", names[c]);
        cJSON_AddNumberToObject(o, "precision", m->precision[c]);
        cJSON_AddNumberToObject(o, "recall", m->recall[c]);
        cJSON_AddNumberToObject(o, "f1", m->f1[c]);
        cJSON_AddNumberToObject(o, "support", (double)m->support[c]);
        cJSON_AddNumberToObject(o, "predicted", (double)m->predicted[c]);
        cJSON_AddItemToArray(pc, o);
    }
    cJSON *conf = cJSON_AddArrayToObject(obj, "confusion");
    for (size_t g = 0; g < K; g++) {
        cJSON *row = cJSON_CreateArray();
        for (size_t p = 0; p < K; p++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)m->confusion[g * K + p]));
        cJSON_AddItemToArray(conf, row);
    }
    cJSON *un = cJSON_AddArrayToObject(obj, "unparsed");
    for (size_t g = 0; g < K; g++) cJSON_AddItemToArray(un, cJSON_CreateNumber((double)m->unparsed[g]));
    cJSON *lab = cJSON_AddArrayToObject(obj, "labels");
    for (size_t c = 0; c < K; c++) cJSON_AddItemToArray(lab, cJSON_CreateString(names[c]));
}
