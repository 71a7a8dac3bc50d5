/* Datasets: the four shared datasets load with the README's counts (and fast); labels.txt,
 * JSONL and CSV errors are reported as path:line: what. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "io/dataset.h"

/* ---- helpers ---- */

static void put(const char *dir, const char *name, const char *content, size_t len) {
    char *p = gta_path_join(dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
    free(p);
}
#define PUT(dir, name, lit) put(dir, name, lit, sizeof(lit) - 1)

static gta_labels three(void) {
    const char *names[] = {"very negative", "neutral", "positive"};
    gta_labels l;
    assert_int_equal(gta_labels_from(names, 3, "t", &l), GTA_OK);
    return l;
}

/* Loads file content as <dir>/f.<ext>; returns rc, and expects the error message to contain
 * each of the given fragments. */
static int load_str(const char *ext, const char *content, size_t len, gta_split *s) {
    char *dir = tu_tmpdir();
    char name[32];
    snprintf(name, sizeof name, "f.%s", ext);
    put(dir, name, content, len);
    char *p = gta_path_join(dir, name);
    gta_labels l = three();
    int rc = gta_split_load_file(p, &l, s);
    gta_labels_free(&l);
    free(p);
    tu_rm_rf(dir);
    free(dir);
    return rc;
}

static void expect_err(const char *ext, const char *content, size_t len, const char *frag1,
                       const char *frag2) {
    gta_split s;
    int rc = load_str(ext, content, len, &s);
    if (rc != GTA_EINPUT)
        fail_msg("expected GTA_EINPUT for %s content <%.*s>, got %d", ext, (int)len, content, rc);
    const char *m = gta_err_msg();
    if (!strstr(m, frag1) || (frag2 && !strstr(m, frag2)))
        fail_msg("message '%s' lacks '%s' / '%s'", m, frag1, frag2 ? frag2 : "");
    assert_null(s.ex);
    assert_int_equal(s.n, 0);
}
#define ERR(ext, lit, f1, f2) expect_err(ext, lit, sizeof(lit) - 1, f1, f2)

static gta_split ok_str(const char *ext, const char *content, size_t len) {
    gta_split s;
    int rc = load_str(ext, content, len, &s);
    if (rc != GTA_OK) fail_msg("unexpected error: %s", gta_err_msg());
    return s;
}
#define OK(ext, lit) ok_str(ext, lit, sizeof(lit) - 1)

/* ---- the shared datasets ---- */

typedef struct {
    const char *name;
    size_t n_labels;
    size_t train, validation, test;
    const char *first_label; /* train[0] */
    const char *first_text_prefix;
    size_t label0_train; /* examples of label 0 in train (README table) */
} ds_expect;

static void test_real_datasets(void **state) {
    (void)state;
    if (!tu_have_shared()) skip();
    /* numbers from /work/shared/data/README.md */
    const ds_expect exp[] = {
        {"sst5", 5, 8544, 1101, 2210, "very positive", "a stirring , funny and finally transporting", 1092},
        {"emotion", 6, 16000, 2000, 2000, "sadness", "i didnt feel humiliated", 4666},
        {"massive_scenario", 18, 11514, 2033, 2974, NULL, NULL, 390},
        {"bbc_news", 5, 1225, 0, 1000, "sport", "wales want rugby league training", 212},
    };
    /* per-label counts of every split, README tables (label id order) */
    const size_t sst5[3][5] = {
        {1092, 2218, 1624, 2322, 1288}, {139, 289, 229, 279, 165}, {279, 633, 389, 510, 399}};
    const size_t emo[3][6] = {
        {4666, 5362, 1304, 2159, 1937, 572}, {550, 704, 178, 275, 212, 81}, {581, 695, 159, 275, 224, 66}};
    const size_t mas[3][18] = {
        {390, 290, 1688, 211, 402, 953, 652, 769, 539, 332, 503, 1377, 1183, 433, 391, 257, 571, 573},
        {64, 35, 280, 43, 73, 157, 122, 118, 112, 56, 82, 260, 214, 69, 68, 44, 110, 126},
        {96, 62, 402, 72, 103, 271, 189, 220, 142, 81, 124, 387, 288, 94, 106, 57, 124, 156}};
    const size_t bbc[3][5] = {{212, 286, 275, 210, 242}, {0, 0, 0, 0, 0}, {189, 224, 236, 176, 175}};
    const size_t *tables[4] = {&sst5[0][0], &emo[0][0], &mas[0][0], &bbc[0][0]};
    double t0 = gta_now();
    for (int d = 0; d < 4; d++) {
        char rel[64];
        snprintf(rel, sizeof rel, "data/%s", exp[d].name);
        char *dir = tu_shared(rel);
        gta_dataset ds;
        if (gta_dataset_load(dir, 1, &ds) != GTA_OK) fail_msg("%s: %s", exp[d].name, gta_err_msg());
        assert_int_equal(ds.labels.n, exp[d].n_labels);
        assert_int_equal(ds.train.n, exp[d].train);
        assert_int_equal(ds.validation.n, exp[d].validation);
        assert_int_equal(ds.test.n, exp[d].test);
        if (exp[d].validation == 0) assert_null(ds.validation.path);
        if (exp[d].first_label) {
            assert_string_equal(ds.labels.names[ds.train.ex[0].label], exp[d].first_label);
            assert_memory_equal(ds.train.ex[0].text, exp[d].first_text_prefix,
                                strlen(exp[d].first_text_prefix));
        }
        assert_int_equal(ds.train.ex[0].line, 1);
        assert_int_equal(ds.train.ex[ds.train.n - 1].line, (int)ds.train.n); /* no blank lines in the data */
        const gta_split *sp[3] = {&ds.train, &ds.validation, &ds.test};
        size_t L = exp[d].n_labels;
        for (int s = 0; s < 3; s++) {
            size_t cnt[18] = {0};
            for (size_t i = 0; i < sp[s]->n; i++) {
                assert_true(sp[s]->ex[i].label >= 0 && (size_t)sp[s]->ex[i].label < L);
                assert_int_equal(strlen(sp[s]->ex[i].text), sp[s]->ex[i].text_len);
                cnt[sp[s]->ex[i].label]++;
            }
            for (size_t c = 0; c < L; c++)
                if (cnt[c] != tables[d][s * L + c])
                    fail_msg("%s split %d label %zu: %zu, README says %zu", exp[d].name, s, c, cnt[c],
                             tables[d][s * L + c]);
        }
        gta_dataset_free(&ds);
        free(dir);
    }
    double dt = gta_now() - t0;
    /* ~10 MB of JSON: well under a second on one core; 10 s leaves room for sanitizers */
    if (dt > 10) fail_msg("loading the four datasets took %.2f s", dt);
}

/* ---- labels.txt ---- */

static int labels_str(const char *content, size_t len, gta_labels *l) {
    char *dir = tu_tmpdir();
    put(dir, "labels.txt", content, len);
    char *p = gta_path_join(dir, "labels.txt");
    int rc = gta_labels_load(p, l);
    free(p);
    tu_rm_rf(dir);
    free(dir);
    return rc;
}

static void labels_err(const char *content, size_t len, const char *frag) {
    gta_labels l;
    assert_int_equal(labels_str(content, len, &l), GTA_EINPUT);
    if (!strstr(gta_err_msg(), frag)) fail_msg("message '%s' lacks '%s'", gta_err_msg(), frag);
    assert_int_equal(l.n, 0);
    assert_null(l.names);
}
#define LERR(lit, frag) labels_err(lit, sizeof(lit) - 1, frag)

static void test_labels(void **state) {
    (void)state;
    gta_labels l;
    assert_int_equal(labels_str("a\nb c\nd\n", 8, &l), GTA_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.names[1], "b c");
    assert_int_equal(gta_labels_find(&l, "d", 1), 2);
    assert_int_equal(gta_labels_find(&l, "D", 1), -1);
    assert_int_equal(gta_labels_find_norm(&l, " B \t C\n", 7), 1);
    assert_int_equal(gta_labels_find_norm(&l, "bc", 2), -1);
    gta_labels_free(&l);
    /* CRLF, no final newline, BOM */
    assert_int_equal(labels_str("\xEF\xBB\xBFx\r\ny", 7, &l), GTA_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.names[0], "x");
    assert_string_equal(l.names[1], "y");
    gta_labels_free(&l);
    /* unicode label */
    assert_int_equal(labels_str("caf\xC3\xA9\n", 6, &l), GTA_OK);
    assert_string_equal(l.names[0], "caf\xC3\xA9");
    gta_labels_free(&l);

    LERR("", "empty file");
    LERR("a\n\nb\n", "labels.txt:2: empty label");
    LERR("a\n   \nb\n", ":2: empty label");
    LERR("a\n\n", ":2: empty label");
    LERR("a\nb\na\n", ":3: label 'a' duplicates line 1");
    LERR("Positive\npositive\n", ":2: label 'positive' duplicates line 1");
    LERR("very  negative\nvery negative\n", ":2:");
    LERR(" a\n", ":1: label ' a' has leading or trailing white space");
    LERR("a\nb \n", ":2:");
    LERR("a\nx</answer>\n", ":2: label 'x</answer>' contains the completion tag </answer>");
    LERR("a\n\xFF\n", ":2: invalid UTF-8");
    LERR("a\nb\0c\n", ":2: NUL byte");
    char *dir = tu_tmpdir();
    char *p = gta_path_join(dir, "missing.txt");
    assert_int_equal(gta_labels_load(p, &l), GTA_EINPUT);
    free(p);
    tu_rm_rf(dir);
    free(dir);
}

static void test_label_norm(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(gta_label_norm("  Very \t\r\n NEGATIVE \n", 21, out), 13);
    assert_string_equal(out, "very negative");
    assert_int_equal(gta_label_norm("", 0, out), 0);
    assert_string_equal(out, "");
    assert_int_equal(gta_label_norm(" \t\n", 3, out), 0);
    gta_label_norm("\xC3\x89T\xC3\xA9", 5, out); /* non-ASCII kept: "ÉTé" -> "Été" is NOT done */
    assert_string_equal(out, "\xC3\x89t\xC3\xA9");
    gta_label_norm("a\vb\fc", 5, out);
    assert_string_equal(out, "a b c");
}

static void test_utf8(void **state) {
    (void)state;
    assert_int_equal(gta_utf8_check("abc", 3), 3);
    assert_int_equal(gta_utf8_check("\xE2\x82\xAC\xF0\x9F\x98\x80", 7), 7); /* euro sign, emoji */
    assert_int_equal(gta_utf8_check("a\xC0\x80", 3), 1);                    /* overlong NUL */
    assert_int_equal(gta_utf8_check("ab\xED\xA0\x80", 5), 2);               /* surrogate D800 */
    assert_int_equal(gta_utf8_check("\xF4\x90\x80\x80", 4), 0);             /* above U+10FFFF */
    assert_int_equal(gta_utf8_check("\xE2\x82", 2), 0);                     /* truncated */
    assert_int_equal(gta_utf8_check("\x80", 1), 0);                         /* lone continuation */
    assert_int_equal(gta_utf8_check("\xE0\x80\xAF", 3), 0);                 /* overlong 3-byte */
}

/* ---- JSONL ---- */

static void test_jsonl_ok(void **state) {
    (void)state;
    gta_split s =
        OK("jsonl",
           "{\"text\": \"good film\", \"label\": \"positive\"}\r\n"
           "\n"
           "  \r\n"
           "{\"label\": \"very negative\", \"text\": \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\", \"x\": 1}\n"
           "{\"text\": \"\", \"label\": 1, \"label_text\": \"neutral\"}");
    assert_int_equal(s.n, 3);
    assert_string_equal(s.ex[0].text, "good film");
    assert_int_equal(s.ex[0].label, 2);
    assert_int_equal(s.ex[0].line, 1);
    assert_string_equal(s.ex[1].text, "caf\xC3\xA9 \xF0\x9F\x98\x80 \"q\"");
    assert_int_equal(s.ex[1].label, 0);
    assert_int_equal(s.ex[1].line, 4);
    assert_string_equal(s.ex[2].text, "");
    assert_int_equal(s.ex[2].label, 1);
    assert_int_equal(s.ex[2].line, 5);
    assert_non_null(strstr(s.path, "f.jsonl"));
    gta_split_free(&s);
    /* raw UTF-8 and a BOM */
    s = OK("jsonl", "\xEF\xBB\xBF{\"text\":\"\xE2\x82\xAC 5\",\"label\":\"neutral\"}\n");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ex[0].text, "\xE2\x82\xAC 5");
    gta_split_free(&s);
    /* an escaped backslash followed by u0000 is not a NUL escape */
    s = OK("jsonl", "{\"text\":\"a\\\\u0000\",\"label\":\"neutral\"}\n");
    assert_string_equal(s.ex[0].text, "a\\u0000");
    gta_split_free(&s);
}

static void test_jsonl_errors(void **state) {
    (void)state;
    const char *good = "{\"text\":\"a\",\"label\":\"neutral\"}\n";
    (void)good;
    ERR("jsonl", "", "f.jsonl: empty file", NULL);
    ERR("jsonl", "\n\n", "f.jsonl: no examples", NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":\"neutral\"}\n{\"text\":\"a\",\"label\":\"neutral\"\n",
        "f.jsonl:2: invalid JSON", NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":\"neutral\"} x\n", "f.jsonl:1: invalid JSON", NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":\"neutral\"}{}\n", ":1: invalid JSON", NULL);
    ERR("jsonl", "[1,2]\n", ":1: expected a JSON object", NULL);
    ERR("jsonl", "\"text\"\n", ":1: expected a JSON object", NULL);
    ERR("jsonl", "{\"label\":\"neutral\"}\n", ":1: missing \"text\"", NULL);
    ERR("jsonl", "{\"Text\":\"a\",\"label\":\"neutral\"}\n", ":1: missing \"text\"", NULL);
    ERR("jsonl", "{\"text\":\"a\"}\n", ":1: missing \"label\"", NULL);
    ERR("jsonl", "{\"text\":5,\"label\":\"neutral\"}\n", ":1: \"text\" is not a string", NULL);
    ERR("jsonl", "{\"text\":null,\"label\":\"neutral\"}\n", ":1: \"text\" is not a string", NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":\"neutral\"}\r\n{\"text\":\"b\",\"label\":\"postive\"}\r\n",
        "f.jsonl:2: label 'postive' is not in labels.txt", NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":\"Neutral\"}\n", ":1: label 'Neutral' is not in labels.txt",
        NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":\"neutral \"}\n", ":1: label 'neutral ' is not", NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":3}\n", ":1: label id 3 is not an integer in [0, 3)", NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":-1}\n", ":1: label id -1", NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":1.5}\n", ":1: label id 1.5", NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":true}\n", ":1: \"label\" is neither a string nor an integer id",
        NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":[\"neutral\"]}\n", ":1: \"label\" is neither", NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":\"neutral\"}\n{\"text\":\"\xC3\x28\",\"label\":\"neutral\"}\n",
        "f.jsonl:2: invalid UTF-8 at column 10", NULL);
    ERR("jsonl", "{\"text\":\"a\\u0000b\",\"label\":\"neutral\"}\n", ":1: \\u0000", NULL);
    ERR("jsonl", "{\"text\":\"a\\ud800\",\"label\":\"neutral\"}\n", ":1: invalid JSON",
        NULL); /* lone surrogate */
    ERR("jsonl", "{\"text\":\"a\0\",\"label\":\"neutral\"}\n", ":1: NUL byte", NULL);
    ERR("jsonl", "{\"text\":\"a\",\"label\":\"neutral\"}\n\n\n{\"text\":\"a\",", "f.jsonl:4: invalid JSON",
        NULL);
}

/* ---- CSV ---- */

static void test_csv_ok(void **state) {
    (void)state;
    gta_split s = OK("csv", "text,label\n"
                            "plain text,positive\n"
                            "\"with, comma\",neutral\r\n"
                            "\"say \"\"hi\"\"\",very negative\n"
                            "\n"
                            "\"two\nlines\r\nhere\",\"positive\"\n"
                            ",neutral\n"
                            "last,positive");
    assert_int_equal(s.n, 6);
    assert_string_equal(s.ex[0].text, "plain text");
    assert_int_equal(s.ex[0].label, 2);
    assert_int_equal(s.ex[0].line, 2);
    assert_string_equal(s.ex[1].text, "with, comma");
    assert_int_equal(s.ex[1].label, 1);
    assert_string_equal(s.ex[2].text, "say \"hi\"");
    assert_int_equal(s.ex[2].label, 0);
    assert_int_equal(s.ex[2].line, 4);
    assert_string_equal(s.ex[3].text, "two\nlines\r\nhere");
    assert_int_equal(s.ex[3].line, 6);
    assert_string_equal(s.ex[4].text, "");
    assert_int_equal(s.ex[4].line, 9);
    assert_string_equal(s.ex[5].text, "last");
    assert_int_equal(s.ex[5].line, 10);
    gta_split_free(&s);
    /* other column order, extra columns, CRLF everywhere */
    s = OK("csv", "id,label,text\r\n1,neutral,\"a,b\"\r\n2,positive,c\r\n");
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ex[0].text, "a,b");
    assert_int_equal(s.ex[0].label, 1);
    assert_string_equal(s.ex[1].text, "c");
    gta_split_free(&s);
    /* trailing empty field at the end of the file */
    s = OK("csv", "label,text\npositive,");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ex[0].text, "");
    gta_split_free(&s);
}

static void test_csv_errors(void **state) {
    (void)state;
    ERR("csv", "", "f.csv: empty file", NULL);
    ERR("csv", "text,label\n", "f.csv: no examples", NULL);
    ERR("csv", "txt,label\na,neutral\n", "f.csv:1: the header must name the columns text and label", NULL);
    ERR("csv", "text,label\na,neutral\nb,neutral,x\n", "f.csv:3: 3 fields, the header has 2", NULL);
    ERR("csv", "text,label\na\n", "f.csv:2: 1 fields", NULL);
    ERR("csv", "text,label\n\"a\nb\",neutral\n\"open,neutral\n", "f.csv:4: quoted field not closed", NULL);
    ERR("csv", "text,label\nsa\"y,neutral\n", "f.csv:2: quote inside an unquoted field", NULL);
    ERR("csv", "text,label\n\"a\"b,neutral\n", "f.csv:2: unexpected character after a closing quote", NULL);
    ERR("csv", "text,label\n\"multi\nline\",bogus\n", "f.csv:2: label 'bogus' is not in labels.txt", NULL);
    ERR("csv", "text,label\na,neutral\n\xFF,neutral\n", "f.csv:3: invalid UTF-8", NULL);
}

/* ---- directories ---- */

static void test_dataset_dir(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    gta_dataset ds;
    assert_int_equal(gta_dataset_load(dir, 1, &ds), GTA_EINPUT); /* no labels.txt */
    assert_non_null(strstr(gta_err_msg(), "labels.txt"));
    PUT(dir, "labels.txt", "very negative\nneutral\npositive\n");
    assert_int_equal(gta_dataset_load(dir, 1, &ds), GTA_EINPUT); /* no train */
    assert_non_null(strstr(gta_err_msg(), "no train.jsonl or train.csv"));
    assert_int_equal(gta_dataset_load(dir, 0, &ds), GTA_OK); /* eval: nothing required */
    assert_int_equal(ds.train.n + ds.test.n, 0);
    gta_dataset_free(&ds);
    /* both formats: .jsonl wins */
    PUT(dir, "train.jsonl", "{\"text\":\"j\",\"label\":\"neutral\"}\n");
    PUT(dir, "train.csv", "text,label\nc,neutral\nd,neutral\n");
    PUT(dir, "test.csv", "text,label\nt,positive\n");
    assert_true(gta_split_exists(dir, "train"));
    assert_false(gta_split_exists(dir, "validation"));
    assert_int_equal(gta_dataset_load(dir, 1, &ds), GTA_OK);
    assert_int_equal(ds.train.n, 1);
    assert_string_equal(ds.train.ex[0].text, "j");
    assert_int_equal(ds.validation.n, 0);
    assert_int_equal(ds.test.n, 1);
    assert_int_equal(ds.test.ex[0].label, 2);
    gta_dataset_free(&ds);
    /* a broken validation split stops the whole load */
    PUT(dir, "validation.jsonl", "{\"text\":\"v\",\"label\":\"nope\"}\n");
    assert_int_equal(gta_dataset_load(dir, 1, &ds), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "validation.jsonl:1: label 'nope' is not in labels.txt"));
    gta_split sp;
    assert_int_equal(gta_split_load(dir, "dev", NULL, &sp), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "no dev.jsonl or dev.csv"));
    char *f = gta_path_join(dir, "labels.txt");
    assert_int_equal(gta_dataset_load(f, 1, &ds), GTA_EINPUT); /* not a directory */
    free(f);
    tu_rm_rf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_datasets), cmocka_unit_test(test_labels),
        cmocka_unit_test(test_label_norm),    cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_jsonl_ok),      cmocka_unit_test(test_jsonl_errors),
        cmocka_unit_test(test_csv_ok),        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_dataset_dir),
    };
    return cmocka_run_group_tests_name("dataset", tests, NULL, NULL);
}
