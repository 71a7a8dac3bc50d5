/* Classification metrics from gold and predicted label ids (SPEC.md "`eval` output").
 *
 * Decisions (the reference is scikit-learn with labels=range(K), zero_division=0):
 *  - The classes are the K labels of labels.txt, all of them, whether or not they occur
 *    in the gold labels or the predictions.
 *  - A prediction of -1 (or any id outside [0, K)) is an unparseable completion: it is
 *    always wrong.  It counts against the recall of its gold class (a false negative) and
 *    against accuracy, but it is not a prediction of any class, so no class's precision
 *    changes (sklearn does the same for a predicted value outside `labels`).
 *  - Per class c: tp = gold c and predicted c; fp = predicted c, gold other; fn = gold c,
 *    predicted anything else (another class or unparseable).
 *    precision = tp/(tp+fp), recall = tp/(tp+fn), f1 = 2tp/(2tp+fp+fn) (equal to
 *    2PR/(P+R) whenever that is defined); each is 0 when its denominator is 0.  So a class
 *    with no support and no predictions has P = R = F1 = 0.
 *  - f1_macro = unweighted mean of the K per-class F1 values, absent classes included
 *    (they pull the mean down: sklearn's behaviour for labels listed explicitly).
 *  - f1_weighted = sum_c support_c * f1_c / n (the paper's weighted F1); absent classes
 *    have weight 0.  precision/recall macro and weighted are computed the same way.
 *  - Confusion: K x K counts, row = gold, column = predicted class, plus a separate
 *    K-vector `unparsed` (row = gold) for the unparseable predictions, so that row c of
 *    the confusion plus unparsed[c] sums to support_c.  Reports draw it as K x (K+1).
 *  - n == 0: every rate is 0. */
#ifndef GTA_EVAL_METRICS_H
#define GTA_EVAL_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int k;        /* number of classes */
    long n;       /* examples */
    long correct; /* predicted == gold */
    long n_unparsed;
    double accuracy;
    double f1_macro, f1_weighted;
    double precision_macro, recall_macro, precision_weighted, recall_weighted;
    double *precision, *recall, *f1; /* [k] */
    long *support;                   /* [k] gold count */
    long *predicted;                 /* [k] predicted count */
    long *confusion;                 /* [k*k], row gold, column predicted */
    long *unparsed;                  /* [k] unparseable predictions per gold class */
} gta_metrics;

/* gold[i] must be in [0, k) (GTA_EINPUT naming i otherwise); pred[i] outside [0, k) is
 * unparseable.  k >= 1.  Release with gta_metrics_free. */
int gta_metrics_compute(const int32_t *gold, const int32_t *pred, size_t n, int k, gta_metrics *out);
void gta_metrics_free(gta_metrics *m);

/* Adds the SPEC fields to obj: n, accuracy, f1_weighted, f1_macro, per_class [{label,
 * precision, recall, f1, support, predicted}], confusion [[k]], labels, and the extras
 * precision_macro, recall_macro, precision_weighted, recall_weighted, n_unparsed,
 * unparsed [k].  names: k label names. */
struct cJSON;
void gta_metrics_to_json(const gta_metrics *m, const char *const *names, struct cJSON *obj);

#endif
