/* Metrics: hand-computed cases (arithmetic in the comments), absent classes, all wrong,
 * unparseable predictions, one class only, empty input, and the JSON fields. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "eval/eval.h"
#include "eval/metrics.h"
#include "io/dataset.h"
#include "model/model.h"
#include "text/tokenizer.h"

#define EPS 1e-12
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void near(double got, double want) {
    if (fabs(got - want) > EPS) fail_msg("got %.15g, want %.15g", got, want);
}

/* Three classes, all present.
 * gold = 0 0 0 1 1 2, pred = 0 0 1 1 2 2
 *   class 0: tp 2, fp 0, fn 1 -> P 1,   R 2/3, F1 = 2*2/(4+0+1) = 4/5
 *   class 1: tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 = 2/(2+1+1)   = 1/2
 *   class 2: tp 1, fp 1, fn 0 -> P 1/2, R 1,   F1 = 2/(2+1+0)   = 2/3
 * accuracy = 4/6
 * macro    = (4/5 + 1/2 + 2/3) / 3 = (24/30 + 15/30 + 20/30) / 3 = 59/90
 * weighted = (3*4/5 + 2*1/2 + 1*2/3) / 6 = (12/5 + 1 + 2/3) / 6 = (61/15) / 6 = 61/90 */
static void test_basic(void **state) {
    (void)state;
    int32_t gold[] = {0, 0, 0, 1, 1, 2}, pred[] = {0, 0, 1, 1, 2, 2};
    gta_metrics m;
    assert_int_equal(gta_metrics_compute(gold, pred, N(gold), 3, &m), GTA_OK);
    assert_int_equal(m.n, 6);
    assert_int_equal(m.correct, 4);
    near(m.accuracy, 4.0 / 6);
    near(m.precision[0], 1), near(m.recall[0], 2.0 / 3), near(m.f1[0], 0.8);
    near(m.precision[1], 0.5), near(m.recall[1], 0.5), near(m.f1[1], 0.5);
    near(m.precision[2], 0.5), near(m.recall[2], 1), near(m.f1[2], 2.0 / 3);
    near(m.f1_macro, 59.0 / 90);
    near(m.f1_weighted, 61.0 / 90);
    /* precision macro = (1 + 1/2 + 1/2)/3 = 2/3; recall weighted = accuracy = 4/6 */
    near(m.precision_macro, 2.0 / 3);
    near(m.recall_weighted, 4.0 / 6);
    long want[] = {2, 1, 0, 0, 1, 1, 0, 0, 1};
    for (int i = 0; i < 9; i++) assert_int_equal(m.confusion[i], want[i]);
    assert_int_equal(m.support[0], 3), assert_int_equal(m.support[1], 2), assert_int_equal(m.support[2], 1);
    assert_int_equal(m.predicted[0], 2), assert_int_equal(m.predicted[1], 2),
        assert_int_equal(m.predicted[2], 2);
    assert_int_equal(m.n_unparsed, 0);
    gta_metrics_free(&m);
}

/* A class with no support and no predictions (class 2 of 3): P = R = F1 = 0, and it
 * counts in the macro mean (sklearn, labels=[0,1,2], zero_division=0).
 * gold = 0 0 1 1, pred = 0 1 1 1
 *   class 0: tp 1, fp 0, fn 1 -> F1 = 2/(2+0+1) = 2/3
 *   class 1: tp 2, fp 1, fn 0 -> F1 = 4/(4+1+0) = 4/5
 *   class 2: 0
 * macro    = (2/3 + 4/5 + 0)/3 = (22/15)/3 = 22/45
 * weighted = (2*2/3 + 2*4/5 + 0*0)/4 = (44/15)/4 = 11/15 */
static void test_absent_class(void **state) {
    (void)state;
    int32_t gold[] = {0, 0, 1, 1}, pred[] = {0, 1, 1, 1};
    gta_metrics m;
    assert_int_equal(gta_metrics_compute(gold, pred, N(gold), 3, &m), GTA_OK);
    near(m.accuracy, 0.75);
    near(m.precision[2], 0), near(m.recall[2], 0), near(m.f1[2], 0);
    assert_int_equal(m.support[2], 0);
    near(m.f1[0], 2.0 / 3), near(m.f1[1], 0.8);
    near(m.f1_macro, 22.0 / 45);
    near(m.f1_weighted, 11.0 / 15);
    gta_metrics_free(&m);
}

/* A class predicted but never gold: its precision is 0 (tp 0, fp 1), recall 0 (0/0).
 * gold = 0 1, pred = 2 1: class 0 F1 0 (fn 1), class 1 F1 1, class 2 F1 0.
 * macro = 1/3, weighted = (1*0 + 1*1 + 0*0)/2 = 1/2, accuracy 1/2 */
static void test_predicted_absent_class(void **state) {
    (void)state;
    int32_t gold[] = {0, 1}, pred[] = {2, 1};
    gta_metrics m;
    assert_int_equal(gta_metrics_compute(gold, pred, N(gold), 3, &m), GTA_OK);
    near(m.precision[2], 0), near(m.recall[2], 0), near(m.f1[2], 0);
    assert_int_equal(m.predicted[2], 1);
    near(m.f1_macro, 1.0 / 3);
    near(m.f1_weighted, 0.5);
    near(m.accuracy, 0.5);
    gta_metrics_free(&m);
}

/* Everything wrong: every tp is 0, so every P, R, F1 and both means are 0. */
static void test_all_wrong(void **state) {
    (void)state;
    int32_t gold[] = {0, 1, 2, 2}, pred[] = {1, 2, 0, 1};
    gta_metrics m;
    assert_int_equal(gta_metrics_compute(gold, pred, N(gold), 3, &m), GTA_OK);
    assert_int_equal(m.correct, 0);
    near(m.accuracy, 0), near(m.f1_macro, 0), near(m.f1_weighted, 0);
    for (int c = 0; c < 3; c++) near(m.precision[c], 0), near(m.recall[c], 0), near(m.f1[c], 0);
    gta_metrics_free(&m);
}

/* Unparseable predictions (-1, and an id outside [0, K) is treated the same) are wrong:
 * a false negative for the gold class, no class's false positive.
 * gold = 0 0 1 1, pred = -1 0 1 7
 *   class 0: tp 1, fp 0, fn 1 -> P 1, R 1/2, F1 2/3; class 1 the same
 * accuracy 1/2, macro = weighted = 2/3, confusion [[1,0],[0,1]], unparsed [1,1] */
static void test_unparsed(void **state) {
    (void)state;
    int32_t gold[] = {0, 0, 1, 1}, pred[] = {-1, 0, 1, 7};
    gta_metrics m;
    assert_int_equal(gta_metrics_compute(gold, pred, N(gold), 2, &m), GTA_OK);
    near(m.accuracy, 0.5);
    near(m.precision[0], 1), near(m.recall[0], 0.5), near(m.f1[0], 2.0 / 3);
    near(m.precision[1], 1), near(m.recall[1], 0.5), near(m.f1[1], 2.0 / 3);
    near(m.f1_macro, 2.0 / 3), near(m.f1_weighted, 2.0 / 3);
    assert_int_equal(m.n_unparsed, 2);
    assert_int_equal(m.unparsed[0], 1), assert_int_equal(m.unparsed[1], 1);
    assert_int_equal(m.confusion[0], 1), assert_int_equal(m.confusion[1], 0);
    assert_int_equal(m.confusion[2], 0), assert_int_equal(m.confusion[3], 1);
    /* every row of the confusion plus its unparsed count is the class's support */
    for (int g = 0; g < 2; g++)
        assert_int_equal(m.confusion[g * 2] + m.confusion[g * 2 + 1] + m.unparsed[g], m.support[g]);
    /* all unparseable: nothing right, nothing predicted */
    int32_t none[] = {-1, -1, -1, -1};
    gta_metrics z;
    assert_int_equal(gta_metrics_compute(gold, none, 4, 2, &z), GTA_OK);
    near(z.accuracy, 0), near(z.f1_macro, 0), near(z.f1_weighted, 0);
    assert_int_equal(z.predicted[0] + z.predicted[1], 0);
    assert_int_equal(z.n_unparsed, 4);
    gta_metrics_free(&z);
    gta_metrics_free(&m);
}

/* One class only.
 * K = 1: gold = 0 0 0, pred = 0 -1 0: tp 2, fp 0, fn 1 -> P 1, R 2/3, F1 4/5 = macro = weighted.
 * K = 3, only class 1 in gold and every prediction 1: class 1 F1 = 1, the others 0, so
 * macro = 1/3 while weighted = 1 (support 0 weighs the absent classes out). */
static void test_one_class(void **state) {
    (void)state;
    int32_t gold[] = {0, 0, 0}, pred[] = {0, -1, 0};
    gta_metrics m;
    assert_int_equal(gta_metrics_compute(gold, pred, N(gold), 1, &m), GTA_OK);
    near(m.precision[0], 1), near(m.recall[0], 2.0 / 3), near(m.f1[0], 0.8);
    near(m.f1_macro, 0.8), near(m.f1_weighted, 0.8), near(m.accuracy, 2.0 / 3);
    gta_metrics_free(&m);
    int32_t g1[] = {1, 1, 1, 1}, p1[] = {1, 1, 1, 1};
    assert_int_equal(gta_metrics_compute(g1, p1, N(g1), 3, &m), GTA_OK);
    near(m.accuracy, 1), near(m.f1[1], 1), near(m.f1_macro, 1.0 / 3), near(m.f1_weighted, 1);
    gta_metrics_free(&m);
}

static void test_empty_and_errors(void **state) {
    (void)state;
    gta_metrics m;
    assert_int_equal(gta_metrics_compute(NULL, NULL, 0, 4, &m), GTA_OK);
    assert_int_equal(m.n, 0);
    near(m.accuracy, 0), near(m.f1_macro, 0), near(m.f1_weighted, 0);
    gta_metrics_free(&m);
    int32_t gold[] = {0, 3}, pred[] = {0, 0};
    assert_int_equal(gta_metrics_compute(gold, pred, 2, 3, &m), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "example 1"));
    gta_metrics_free(&m);
    int32_t neg[] = {-1};
    assert_int_equal(gta_metrics_compute(neg, pred, 1, 3, &m), GTA_EINPUT);
    gta_metrics_free(&m);
    assert_int_equal(gta_metrics_compute(NULL, NULL, 0, 0, &m), GTA_EINPUT);
    gta_metrics_free(&m);
}

/* The standard definitions, computed independently: F1 = 2PR/(P+R) per class from
 * sklearn-style counts (0 where undefined), macro = mean, weighted = sum(support*F1)/n,
 * accuracy = trace/n; on random data with every kind of prediction. */
static void test_random_vs_definitions(void **state) {
    (void)state;
    uint64_t s = 12345;
    for (int trial = 0; trial < 200; trial++) {
        int k = 1 + trial % 7;
        size_t n = (size_t)(trial % 40);
        int32_t *gold = malloc(sizeof(int32_t) * (n + 1)), *pred = malloc(sizeof(int32_t) * (n + 1));
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            gold[i] = (int32_t)((s >> 33) % (uint64_t)k);
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            int r = (int)((s >> 33) % (uint64_t)(k + 2));
            pred[i] = r == k + 1 ? gold[i] : (r == k ? -1 : r);
        }
        gta_metrics m;
        assert_int_equal(gta_metrics_compute(gold, pred, n, k, &m), GTA_OK);
        double macro = 0, weighted = 0, acc = 0;
        for (int c = 0; c < k; c++) {
            double tp = 0, pc = 0, sc = 0;
            for (size_t i = 0; i < n; i++) {
                tp += gold[i] == c && pred[i] == c;
                pc += pred[i] == c;
                sc += gold[i] == c;
            }
            double P = pc > 0 ? tp / pc : 0, R = sc > 0 ? tp / sc : 0,
                   F = P + R > 0 ? 2 * P * R / (P + R) : 0;
            near(m.precision[c], P), near(m.recall[c], R);
            if (fabs(m.f1[c] - F) > 1e-12) fail_msg("trial %d class %d: f1 %g vs %g", trial, c, m.f1[c], F);
            macro += F / k;
            weighted += sc * F;
        }
        for (size_t i = 0; i < n; i++) acc += gold[i] == pred[i];
        near(m.f1_macro, macro);
        near(m.f1_weighted, n ? weighted / (double)n : 0);
        near(m.accuracy, n ? acc / (double)n : 0);
        gta_metrics_free(&m);
        free(gold);
        free(pred);
    }
}

static void test_json(void **state) {
    (void)state;
    int32_t gold[] = {0, 0, 1}, pred[] = {0, -1, 0};
    const char *names[] = {"neg", "pos"};
    gta_metrics m;
    assert_int_equal(gta_metrics_compute(gold, pred, 3, 2, &m), GTA_OK);
    cJSON *o = cJSON_CreateObject();
    gta_metrics_to_json(&m, names, o);
    const char *keys[] = {"n",         "accuracy",  "f1_weighted", "f1_macro",
                          "per_class", "confusion", "labels",      "unparsed"};
    for (size_t i = 0; i < N(keys); i++) assert_non_null(cJSON_GetObjectItemCaseSensitive(o, keys[i]));
    cJSON *pc = cJSON_GetObjectItemCaseSensitive(o, "per_class");
    assert_int_equal(cJSON_GetArraySize(pc), 2);
    cJSON *c0 = cJSON_GetArrayItem(pc, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(c0, "label")->valuestring, "neg");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(c0, "support")->valueint, 2);
    cJSON *conf = cJSON_GetObjectItemCaseSensitive(o, "confusion");
    assert_int_equal(cJSON_GetArraySize(conf), 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(conf, 0)), 2);
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(conf, 1), 0)->valueint, 1);
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "unparsed"), 0)->valueint, 1);
    cJSON_Delete(o);
    gta_metrics_free(&m);
}

/* gta_eval_run end to end on stories260K (shared folder): the SPEC fields, counts that
 * agree with each other, and the same completions for batch 1 and batch 4. */
static void test_eval_run(void **state) {
    (void)state;
    if (!tu_have_shared()) skip();
    char *mdir = tu_shared("models/stories260K"), *ddir = tu_shared("data/emotion");
    char *lp = gta_path_join(ddir, "labels.txt");
    gta_model *m = NULL;
    gta_tokenizer *tok = NULL;
    gta_labels labels;
    gta_split split;
    assert_int_equal(gta_model_load(mdir, &m), GTA_OK);
    assert_int_equal(gta_tokenizer_load(mdir, &tok), GTA_OK);
    assert_int_equal(gta_labels_load(lp, &labels), GTA_OK);
    assert_int_equal(gta_split_load(ddir, "test", &labels, &split), GTA_OK);
    gta_eval_opts o;
    gta_eval_opts_default(&o);
    o.limit = 5;
    o.max_new_tokens = 8;
    o.max_prompt_tokens = 440;
    o.batch = 4;
    o.n_examples = 5;
    cJSON *a = NULL, *b = NULL;
    assert_int_equal(gta_eval_run(m, tok, &labels, &split, &o, &a), GTA_OK);
    o.batch = 1;
    assert_int_equal(gta_eval_run(m, tok, &labels, &split, &o, &b), GTA_OK);
    const char *keys[] = {
        "n",         "accuracy",  "f1_weighted", "f1_macro", "format_ok_rate", "guess_accuracy",
        "per_class", "confusion", "labels",      "seconds",  "examples",       "guess_answer"};
    for (size_t i = 0; i < N(keys); i++) assert_non_null(cJSON_GetObjectItemCaseSensitive(a, keys[i]));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(a, "n")->valueint, 5);
    cJSON *ea = cJSON_GetObjectItemCaseSensitive(a, "examples"),
          *eb = cJSON_GetObjectItemCaseSensitive(b, "examples");
    assert_int_equal(cJSON_GetArraySize(ea), 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ea, i), "completion")->valuestring,
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(eb, i), "completion")->valuestring);
    cJSON *fin = cJSON_GetObjectItemCaseSensitive(a, "finish");
    int total = 0;
    const char *fk[] = {"eos", "stop", "length"};
    for (int i = 0; i < 3; i++) total += cJSON_GetObjectItemCaseSensitive(fin, fk[i])->valueint;
    assert_int_equal(total, 5);
    /* the sft format has no guess fields */
    cJSON *c = NULL;
    o.format = GTA_FORMAT_SFT;
    o.limit = 2;
    assert_int_equal(gta_eval_run(m, tok, &labels, &split, &o, &c), GTA_OK);
    assert_null(cJSON_GetObjectItemCaseSensitive(c, "guess_accuracy"));
    assert_null(cJSON_GetObjectItemCaseSensitive(c, "guess_answer"));
    /* bad options */
    cJSON *d = NULL;
    o.batch = 0;
    assert_int_equal(gta_eval_run(m, tok, &labels, &split, &o, &d), GTA_EINPUT);
    assert_null(d);
    cJSON_Delete(a), cJSON_Delete(b), cJSON_Delete(c);
    gta_split_free(&split);
    gta_labels_free(&labels);
    gta_tokenizer_free(tok);
    gta_model_free(m);
    free(mdir), free(ddir), free(lp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_absent_class),
        cmocka_unit_test(test_predicted_absent_class),
        cmocka_unit_test(test_all_wrong),
        cmocka_unit_test(test_unparsed),
        cmocka_unit_test(test_one_class),
        cmocka_unit_test(test_empty_and_errors),
        cmocka_unit_test(test_random_vs_definitions),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_eval_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
