/* Report: HTML escaping (markup, quotes, invalid UTF-8, control bytes) and whole pages
 * built from made-up run directories -- complete, partial, hostile text, bad lines -- so
 * that the sanitizer build walks every section. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "report/report.h"

static void test_escape(void **state) {
    (void)state;
    const char *s0 = "<a href=\"x\">'&'</a>";
    char *e = gta_html_escape(s0, strlen(s0));
    assert_string_equal(e, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    free(e);
    /* invalid UTF-8 (a lone continuation byte, a truncated sequence) and control bytes
     * become U+FFFD; valid multi-byte characters, \n and \t stay */
    const char in[] = "a\x80"
                      "b\xC3"
                      "\x01\n\t\xC3\xA9";
    e = gta_html_escape(in, sizeof in - 1);
    assert_string_equal(e, "a\xEF\xBF\xBD"
                           "b\xEF\xBF\xBD\xEF\xBF\xBD\n\t\xC3\xA9");
    free(e);
    e = gta_html_escape("", 0);
    assert_string_equal(e, "");
    free(e);
}

static void put(const char *dir, const char *name, const char *text) {
    char *p = gta_path_join(dir, name);
    assert_int_equal(gta_write_file_atomic(p, text, strlen(text)), GTA_OK);
    free(p);
}

static const char *EVAL =
    "{\"n\": 4, \"accuracy\": 0.5, \"f1_weighted\": 0.4, \"f1_macro\": 0.3, \"format_ok_rate\": 0.75,"
    " \"guess_accuracy\": 0.25, \"labels\": [\"neg\", \"pos<i>\"],"
    " \"per_class\": [{\"label\": \"neg\", \"precision\": 1, \"recall\": 0.5, \"f1\": 0.66, \"support\": 2},"
    "                 {\"label\": \"pos<i>\", \"precision\": 0.5, \"recall\": 0.5, \"f1\": 0.5, \"support\": "
    "2}],"
    " \"confusion\": [[1, 0], [0, 1]], \"unparsed\": [1, 1], \"split_name\": \"test\", \"format\": \"gta\","
    " \"examples\": [{\"input\": \"x<y\", \"gold\": \"neg\", \"prediction\": null, \"guess\": \"neg\", "
    "\"correct\": false,"
    "                 \"completion\": \"<guess>neg</guess>\"}],"
    " \"guess_answer\": {\"both_parsed\": 2, \"same\": 1, \"differs\": 1, \"corrected\": 1, \"broken\": 0,"
    "   \"both_wrong_different\": 0, \"examples\": {\"corrected\": [{\"gold\": \"neg\", \"guess\": "
    "\"pos<i>\","
    "   \"answer\": \"neg\", \"completion\": \"c&d\"}], \"broken\": [], \"both_wrong_different\": []}}}\n";

static void test_pages(void **state) {
    (void)state;
    char *tmp = tu_tmpdir();
    char *full = gta_path_join(tmp, "full"), *bare = gta_path_join(tmp, "bare"),
         *sft = gta_path_join(tmp, "sft");
    char *empty = gta_path_join(tmp, "empty"), *base = gta_path_join(tmp, "base.eval.json");
    assert_int_equal(gta_mkdir_p(full), GTA_OK);
    assert_int_equal(gta_mkdir_p(bare), GTA_OK);
    assert_int_equal(gta_mkdir_p(sft), GTA_OK);
    assert_int_equal(gta_mkdir_p(empty), GTA_OK);
    put(full, "config.json", "{\"method\": \"gta\", \"model\": \"/m/tiny\", \"data\": \"/d/sst<5>\"}");
    static char met[65536];
    met[0] = 0;
    for (int s = 1; s <= 120; s++)
        snprintf(
            met + strlen(met), sizeof met - strlen(met),
            "{\"step\": %d, \"reward\": %g, \"reward_accuracy\": %g, \"guess_accuracy\": 0.5, \"kl\": 1e-3,"
            " \"cos_sft_rl\": -0.5, \"conflict\": %d, \"loss\": 2, \"lr\": 1e-5}\n",
            s, s / 60.0, s / 120.0, s % 2);
    strcat(met, "{broken\n\n{\"step\": \"x\", \"reward\": null}\n");
    put(full, "metrics.jsonl", met);
    put(full, "eval.jsonl",
        "{\"step\": 50, \"accuracy\": 0.3, \"f1_weighted\": 0.2}\n{\"step\": 100, \"accuracy\": 0.4}\n");
    put(full, "eval.json", EVAL);
    put(full, "other.eval.json", "[1, 2]");
    put(full, "samples.jsonl",
        "{\"step\": 3, \"gold\": \"neg\", \"completion\": \"\\u0001<b>\", \"reward\": 1}\n");
    put(bare, "metrics.jsonl", "{\"step\": 1}\n");
    put(sft, "config.json", "{\"method\": \"sft\", \"model\": \"/m/tiny\", \"data\": \"/d/sst<5>\"}");
    put(sft, "eval.jsonl", "{\"step\": 5, \"accuracy\": 0.9, \"f1_weighted\": 0.9}\n");
    put(tmp, "base.eval.json", EVAL);

    const char *runs[] = {full, bare, sft};
    const char *evals[] = {base};
    gta_report_opts o;
    memset(&o, 0, sizeof o);
    o.runs = runs;
    o.nruns = 3;
    o.evals = evals;
    o.nevals = 1;
    o.samples_per_run = -1;
    o.title = "t<1>";
    char *html = NULL;
    size_t len = 0;
    assert_int_equal(gta_report_html(&o, &html, &len), GTA_OK);
    assert_int_equal(strlen(html), len);
    assert_non_null(strstr(html, "<title>t&lt;1&gt;</title>"));
    assert_non_null(strstr(html, "sst&lt;5&gt;"));
    assert_non_null(strstr(html, "pos&lt;i&gt;"));
    assert_non_null(strstr(html, "\xEF\xBF\xBD&lt;b&gt;"));
    assert_non_null(strstr(html, "other.eval.json is not an eval result"));
    assert_non_null(strstr(html, "do not parse and were skipped"));
    assert_non_null(strstr(html, "<polyline"));
    assert_non_null(strstr(html, "confusion matrix"));
    assert_non_null(strstr(html, "corrected (guess wrong, answer right)"));
    assert_non_null(strstr(html, "No config.json"));
    assert_null(strstr(html, "<i>\"")); /* no raw label markup */
    assert_null(strstr(html, "http"));
    free(html);

    /* errors: nothing given, a folder with no run files, a bad --eval file */
    o.nruns = 0, o.nevals = 0;
    assert_int_equal(gta_report_html(&o, &html, NULL), GTA_EINPUT);
    const char *e1[] = {empty};
    o.runs = e1, o.nruns = 1;
    assert_int_equal(gta_report_html(&o, &html, NULL), GTA_EINPUT);
    assert_null(html);
    char *bad = gta_path_join(full, "other.eval.json");
    const char *e2[] = {bad};
    o.runs = runs, o.nruns = 1, o.evals = e2, o.nevals = 1;
    assert_int_equal(gta_report_html(&o, &html, NULL), GTA_EINPUT);
    free(bad);
    tu_rm_rf(tmp);
    free(full), free(bare), free(sft), free(empty), free(base), free(tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
