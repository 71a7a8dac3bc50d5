/* Tokenizer: ids and decodes against the shared reference.jsonl files (HF tokenizers 0.23.2),
 * extra cases whose expected ids were produced by HF tokenizers 0.23.2 (the npm binding of
 * the Rust library) on the same tokenizer.json files, properties that need no oracle
 * (round trips, digit groups, NFC), and broken files. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"
#include "base/util.h"
#include "io/json.h"
#include "text/tok_internal.h"

static gta_tokenizer *load(const char *rel) {
    char *path = tu_shared(rel);
    gta_tokenizer *tok = NULL;
    int rc = gta_tokenizer_load(path, &tok);
    if (rc) fprintf(stderr, "%s\n", gta_err_msg());
    assert_int_equal(rc, GTA_OK);
    free(path);
    return tok;
}

static void assert_ids(const gta_ids *got, const int32_t *want, size_t n, const char *what) {
    int same = got->n == n && (!n || !memcmp(got->ids, want, n * sizeof *want));
    if (!same) {
        fprintf(stderr, "ids differ for %s: got", what);
        for (size_t i = 0; i < got->n; i++) fprintf(stderr, " %d", (int)got->ids[i]);
        fprintf(stderr, "\n  want");
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", (int)want[i]);
        fprintf(stderr, "\n");
    }
    assert_true(same);
}

static void json_ids(const cJSON *arr, gta_ids *out) {
    const cJSON *x;
    out->n = 0;
    cJSON_ArrayForEach(x, arr) tok_ids_push(out, (int32_t)x->valueint);
}

/* ---------------- shared references ---------------- */

static void check_reference(const char *dir) {
    if (!tu_have_shared()) skip();
    char rel[256];
    snprintf(rel, sizeof rel, "%s/tokenizer.json", dir);
    gta_tokenizer *tok = load(rel);
    snprintf(rel, sizeof rel, "%s/reference.jsonl", dir);
    char *path = tu_shared(rel), *data;
    size_t len;
    assert_int_equal(gta_read_file(path, &data, &len), GTA_OK);
    gta_ids got = {0}, want = {0};
    tok_buf text = {0}, decoded = {0};
    size_t lines = 0, bad = 0;
    for (char *p = data, *nl; p < data + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(data + len - p));
        if (!nl) nl = data + len;
        if (nl == p) continue;
        size_t n = (size_t)(nl - p);
        assert_int_equal(tok_json_field_str(p, n, "text", &text), 1);
        assert_int_equal(tok_json_field_str(p, n, "decoded", &decoded), 1);
        cJSON *j = cJSON_ParseWithLength(p, n);
        assert_non_null(j);
        lines++;
        /* ids, then ids with the post-processor's special tokens, then the decode of ids */
        json_ids(cJSON_GetObjectItem(j, "ids"), &want);
        got.n = 0;
        assert_int_equal(gta_tokenizer_encode(tok, text.p, text.n, 0, &got), GTA_OK);
        int ok = got.n == want.n && !memcmp(got.ids, want.ids, got.n * sizeof *got.ids);
        char *dec = NULL;
        size_t dl;
        assert_int_equal(gta_tokenizer_decode(tok, want.ids, want.n, 0, &dec, &dl), GTA_OK);
        ok = ok && dl == decoded.n && !memcmp(dec, decoded.p, dl);
        free(dec);
        json_ids(cJSON_GetObjectItem(j, "ids_with_special"), &want);
        got.n = 0;
        assert_int_equal(gta_tokenizer_encode(tok, text.p, text.n, 1, &got), GTA_OK);
        ok = ok && got.n == want.n && !memcmp(got.ids, want.ids, got.n * sizeof *got.ids);
        if (!ok) {
            bad++;
            fprintf(stderr, "%s line %zu differs: %.80s\n", dir, lines, text.p);
        }
        cJSON_Delete(j);
    }
    assert_int_equal(lines, 259);
    assert_int_equal(bad, 0);
    gta_ids_free(&got);
    gta_ids_free(&want);
    tok_buf_free(&text);
    tok_buf_free(&decoded);
    free(data);
    free(path);
    gta_tokenizer_free(tok);
}

static void test_ref_qwen3(void **s) {
    (void)s;
    check_reference("tokenizers/qwen3");
}
static void test_ref_qwen25(void **s) {
    (void)s;
    check_reference("tokenizers/qwen2.5");
}
static void test_ref_llama3(void **s) {
    (void)s;
    check_reference("tokenizers/llama3");
}
static void test_ref_llama32(void **s) {
    (void)s;
    check_reference("tokenizers/llama3.2");
}
static void test_ref_gpt2(void **s) {
    (void)s;
    check_reference("tokenizers/gpt2");
}
static void test_ref_stories260k(void **s) {
    (void)s;
    check_reference("models/stories260K");
}

/* ---------------- more cases, expected ids from HF tokenizers 0.23.2 ---------------- */

static const struct {
    const char *tok, *text;
    int32_t ids[32];
    size_t n;
} hf_cases[] = {
    /* runs of white space; CRLF; long digit strings; emoji ZWJ sequences; combining marks
     * and Hangul jamo (NFC for Qwen, untouched for Llama/GPT-2); special-token strings
     * inside text; U+0085 (white space for Oniguruma, not for PCRE2's \s); NFC singletons;
     * long s and Kelvin sign against the case-insensitive contractions. */
    {"qwen3",
     "a  b   c\x09\x09 d \x0a\x0a  e   ",
     {64, 220, 293, 256, 272, 298, 294, 4710, 220, 384, 262},
     11},
    {"qwen3",
     "line1\x0d\x0aline2\x0d\x0a\x0d\x0aline3\x0d",
     {1056, 16, 319, 1056, 17, 871, 1056, 18, 201},
     9},
    {"qwen3",
     "12345678901234567890 and 1234567",
     {16, 17, 18, 19, 20, 21,  22,  23, 24, 15, 16, 17, 18, 19, 20,
      21, 22, 23, 24, 15, 323, 220, 16, 17, 18, 19, 20, 21, 22},
     29},
    {"qwen3",
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7\xe2\x80\x8d\xf0\x9f\x91\xa6 "
     "family \xf0\x9f\x8f\xb3\xef\xb8\x8f\xe2\x80\x8d\xf0\x9f\x8c\x88",
     {145367, 378, 235, 145233, 378, 235, 145665, 378, 235, 145988, 2997, 11162, 237, 111, 30543, 378, 235,
      145354},
     18},
    {"qwen3",
     "cafe\xcc\x81 A\xcc\x8a \xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8 o\xcc\x88\xcc\x81",
     {924, 58858, 79252, 126804, 16942, 53839},
     6},
    {"qwen3",
     "x<|im_end|>y <|endoftext|> <|im_start|>user\x0a",
     {87, 151645, 88, 220, 151643, 220, 151644, 872, 198},
     9},
    {"qwen3",
     "a\xc2\x85 b \xc2\x85\xc2\x85"
     "c",
     {64, 126, 227, 293, 2139, 227, 126, 227, 66},
     9},
    {"qwen3",
     "\xe2\x80\x80\xe2\x80\x81 spaces \xef\xa4\x80 ideograph",
     {378, 224, 378, 225, 12621, 8908, 109, 230, 2614, 3178},
     10},
    {"qwen3", "\xc5\xbf's 'S 'K \xe2\x84\xaa", {144815, 594, 364, 50, 364, 42, 730}, 7},
    {"llama3",
     "a  b   c\x09\x09 d \x0a\x0a  e   ",
     {64, 220, 293, 256, 272, 298, 294, 4815, 220, 384, 262},
     11},
    {"llama3",
     "line1\x0d\x0aline2\x0d\x0a\x0d\x0aline3\x0d",
     {1074, 16, 319, 1074, 17, 881, 1074, 18, 201},
     9},
    {"llama3",
     "12345678901234567890 and 1234567",
     {4513, 10961, 16474, 11531, 12901, 17458, 1954, 323, 220, 4513, 10961, 22},
     12},
    {"llama3",
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7\xe2\x80\x8d\xf0\x9f\x91\xa6 "
     "family \xf0\x9f\x8f\xb3\xef\xb8\x8f\xe2\x80\x8d\xf0\x9f\x8c\x88",
     {9468, 239, 101, 102470, 9468,  239, 102, 102470, 9468,   239,  100, 102470,
      9468, 239, 99,  3070,   11410, 237, 111, 31643,  102470, 9468, 234, 230},
     24},
    {"llama3",
     "cafe\xcc\x81 A\xcc\x8a \xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8 o\xcc\x88\xcc\x81",
     {936, 1897, 54939, 362, 136, 232, 87189, 226, 222, 157, 227, 94, 157, 228, 101, 297, 127104, 54939},
     18},
    {"llama3",
     "x<|im_end|>y <|endoftext|> <|im_start|>user\x0a",
     {87, 27, 91, 318, 6345, 91, 29, 88, 83739, 8862, 728, 428, 91, 29, 83739, 318, 5011, 91, 29, 882, 198},
     21},
    {"llama3",
     "a\xc2\x85 b \xc2\x85\xc2\x85"
     "c",
     {64, 116360, 293, 2188, 227, 116360, 66},
     7},
    {"llama3",
     "\xe2\x80\x80\xe2\x80\x81 spaces \xef\xa4\x80 ideograph",
     {378, 222, 378, 223, 12908, 33595, 97, 222, 2679, 3257},
     10},
    {"llama3", "\xc5\xbf's 'S 'K \xe2\x84\xaa", {129, 123, 596, 364, 50, 364, 42, 29753, 103}, 9},
    {"gpt2",
     "a  b   c\x09\x09 d \x0a\x0a  e   ",
     {64, 220, 275, 220, 220, 269, 197, 197, 288, 220, 628, 220, 304, 220, 220, 220},
     16},
    {"gpt2",
     "line1\x0d\x0aline2\x0d\x0a\x0d\x0aline3\x0d",
     {1370, 16, 201, 198, 1370, 17, 201, 198, 201, 198, 1370, 18, 201},
     13},
    {"gpt2",
     "12345678901234567890 and 1234567",
     {10163, 2231, 3134, 4531, 486, 1954, 2231, 30924, 3829, 290, 17031, 2231, 3134},
     13},
    {"gpt2",
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7\xe2\x80\x8d\xf0\x9f\x91\xa6 "
     "family \xf0\x9f\x8f\xb3\xef\xb8\x8f\xe2\x80\x8d\xf0\x9f\x8c\x88",
     {41840, 101, 447,  235,   41840, 102, 447,   235, 41840, 100,  447, 235,
      41840, 99,  1641, 12520, 237,   111, 37929, 447, 235,   8582, 234, 230},
     24},
    {"gpt2",
     "cafe\xcc\x81 A\xcc\x8a \xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8 o\xcc\x88\xcc\x81",
     {66,  8635, 136, 223, 317, 136, 232, 28053, 226, 222, 157,
      227, 94,   157, 228, 101, 267, 136, 230,   136, 223},
     21},
    {"gpt2",
     "x<|im_end|>y <|endoftext|> <|im_start|>user\x0a",
     {87, 27, 91, 320, 62, 437, 91, 29, 88, 220, 50256, 1279, 91, 320, 62, 9688, 91, 29, 7220, 198},
     20},
    {"gpt2",
     "a\xc2\x85 b \xc2\x85\xc2\x85"
     "c",
     {64, 126, 227, 275, 1587, 227, 126, 227, 66},
     9},
    {"gpt2",
     "\xe2\x80\x80\xe2\x80\x81 spaces \xef\xa4\x80 ideograph",
     {447, 222, 447, 223, 9029, 27332, 97, 222, 1405, 2384},
     10},
    {"gpt2", "\xc5\xbf's 'S 'K \xe2\x84\xaa", {129, 123, 338, 705, 50, 705, 42, 2343, 226, 103}, 10},
    /* U+0085 after spaces: these differ from HF unless \s includes U+0085 */
    {"qwen3", "   \xc2\x85\xc2\x85", {262, 126, 227, 126, 227}, 5},
    {"qwen3",
     "\x0a  \xc2\x85\xc2\x85 \xc2\x85\xc2\x85",
     {198, 256, 126, 227, 126, 227, 2139, 227, 126, 227},
     10},
    {"llama3", "   \xc2\x85\xc2\x85", {262, 116360, 116360}, 3},
    {"llama3", "\x0a  \xc2\x85\xc2\x85 \xc2\x85\xc2\x85", {198, 256, 116360, 116360, 2188, 227, 116360}, 7},
};

static void test_hf_extra_cases(void **s) {
    (void)s;
    if (!tu_have_shared()) skip();
    const char *names[] = {"qwen3", "llama3", "gpt2"};
    for (int t = 0; t < 3; t++) {
        char rel[64];
        snprintf(rel, sizeof rel, "tokenizers/%s", names[t]);
        gta_tokenizer *tok = load(rel);
        int n = 0;
        for (size_t i = 0; i < sizeof hf_cases / sizeof hf_cases[0]; i++) {
            if (strcmp(hf_cases[i].tok, names[t])) continue;
            gta_ids got = {0};
            assert_int_equal(gta_tokenizer_encode(tok, hf_cases[i].text, strlen(hf_cases[i].text), 0, &got),
                             GTA_OK);
            assert_ids(&got, hf_cases[i].ids, hf_cases[i].n, hf_cases[i].text);
            gta_ids_free(&got);
            n++;
        }
        assert_int_equal(n, t < 2 ? 11 : 9);
        gta_tokenizer_free(tok);
    }
}

/* A small byte-level tokenizer whose added tokens use lstrip, rstrip, single_word,
 * normalized and special, with a TemplateProcessing that wraps the text in <sp>. */
static const char *tiny_json =
    "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [{\"id\": 259, "
    "\"content\": \"[L]\", \"single"
    "_word\": false, \"lstrip\": true, \"rstrip\": false, \"normalized\": false, \"special\": false}, "
    "{\"id\": 260, \"content\":"
    " \"[R]\", \"single_word\": false, \"lstrip\": false, \"rstrip\": true, \"normalized\": false, "
    "\"special\": false}, {\"id\": "
    "261, \"content\": \"word\", \"single_word\": true, \"lstrip\": false, \"rstrip\": false, "
    "\"normalized\": false, \"special\":"
    " false}, {\"id\": 262, \"content\": \"cafe\\u0301\", \"single_word\": false, \"lstrip\": false, "
    "\"rstrip\": false, \"normali"
    "zed\": true, \"special\": false}, {\"id\": 263, \"content\": \"<sp>\", \"single_word\": false, "
    "\"lstrip\": false, \"rstrip\":"
    " false, \"normalized\": false, \"special\": true}], \"normalizer\": {\"type\": \"NFC\"}, "
    "\"pre_tokenizer\": {\"type\": \"Byte"
    "Level\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}, \"post_processor\": "
    "{\"type\": \"Templ"
    "ateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<sp>\", \"type_id\": 0}}, {\"Sequence\": "
    "{\"id\": \"A\", \"type_id\":"
    " 0}}, {\"SpecialToken\": {\"id\": \"<sp>\", \"type_id\": 0}}], \"pair\": [], \"special_tokens\": "
    "{\"<sp>\": {\"id\": \"<sp>\", \""
    "ids\": [263], \"tokens\": [\"<sp>\"]}}}, \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": "
    "true, \"trim_offsets\":"
    " true, \"use_regex\": true}, \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, "
    "\"continuing_subword_pr"
    "efix\": null, \"end_of_word_suffix\": null, \"fuse_unk\": false, \"byte_fallback\": false, "
    "\"ignore_merges\": false, \"v"
    "ocab\": {\"\\u0100\": 0, \"\\u0101\": 1, \"\\u0102\": 2, \"\\u0103\": 3, \"\\u0104\": 4, \"\\u0105\": "
    "5, \"\\u0106\": 6, \"\\u0107\": 7"
    ", \"\\u0108\": 8, \"\\u0109\": 9, \"\\u010a\": 10, \"\\u010b\": 11, \"\\u010c\": 12, \"\\u010d\": 13, "
    "\"\\u010e\": 14, \"\\u010f\": 15"
    ", \"\\u0110\": 16, \"\\u0111\": 17, \"\\u0112\": 18, \"\\u0113\": 19, \"\\u0114\": 20, \"\\u0115\": 21, "
    "\"\\u0116\": 22, \"\\u0117\": "
    "23, \"\\u0118\": 24, \"\\u0119\": 25, \"\\u011a\": 26, \"\\u011b\": 27, \"\\u011c\": 28, \"\\u011d\": "
    "29, \"\\u011e\": 30, \"\\u011f\""
    ": 31, \"\\u0120\": 32, \"!\": 33, \"\\\"\": 34, \"#\": 35, \"$\": 36, \"%\": 37, \"&\": 38, \"'\": 39, "
    "\"(\": 40, \")\": 41, \"*\": 42,"
    " \"+\": 43, \",\": 44, \"-\": 45, \".\": 46, \"/\": 47, \"0\": 48, \"1\": 49, \"2\": 50, \"3\": 51, "
    "\"4\": 52, \"5\": 53, \"6\": 54, \""
    "7\": 55, \"8\": 56, \"9\": 57, \":\": 58, \";\": 59, \"<\": 60, \"=\": 61, \">\": 62, \"?\": 63, \"@\": "
    "64, \"A\": 65, \"B\": 66, \"C\""
    ": 67, \"D\": 68, \"E\": 69, \"F\": 70, \"G\": 71, \"H\": 72, \"I\": 73, \"J\": 74, \"K\": 75, \"L\": "
    "76, \"M\": 77, \"N\": 78, \"O\": "
    "79, \"P\": 80, \"Q\": 81, \"R\": 82, \"S\": 83, \"T\": 84, \"U\": 85, \"V\": 86, \"W\": 87, \"X\": 88, "
    "\"Y\": 89, \"Z\": 90, \"[\": 91"
    ", \"\\\\\": 92, \"]\": 93, \"^\": 94, \"_\": 95, \"`\": 96, \"a\": 97, \"b\": 98, \"c\": 99, \"d\": "
    "100, \"e\": 101, \"f\": 102, \"g\": "
    "103, \"h\": 104, \"i\": 105, \"j\": 106, \"k\": 107, \"l\": 108, \"m\": 109, \"n\": 110, \"o\": 111, "
    "\"p\": 112, \"q\": 113, \"r\": "
    "114, \"s\": 115, \"t\": 116, \"u\": 117, \"v\": 118, \"w\": 119, \"x\": 120, \"y\": 121, \"z\": 122, "
    "\"{\": 123, \"|\": 124, \"}\": "
    "125, \"~\": 126, \"\\u0121\": 127, \"\\u0122\": 128, \"\\u0123\": 129, \"\\u0124\": 130, \"\\u0125\": "
    "131, \"\\u0126\": 132, \"\\u01"
    "27\": 133, \"\\u0128\": 134, \"\\u0129\": 135, \"\\u012a\": 136, \"\\u012b\": 137, \"\\u012c\": 138, "
    "\"\\u012d\": 139, \"\\u012e\": "
    "140, \"\\u012f\": 141, \"\\u0130\": 142, \"\\u0131\": 143, \"\\u0132\": 144, \"\\u0133\": 145, "
    "\"\\u0134\": 146, \"\\u0135\": 147, "
    "\"\\u0136\": 148, \"\\u0137\": 149, \"\\u0138\": 150, \"\\u0139\": 151, \"\\u013a\": 152, \"\\u013b\": "
    "153, \"\\u013c\": 154, \"\\u01"
    "3d\": 155, \"\\u013e\": 156, \"\\u013f\": 157, \"\\u0140\": 158, \"\\u0141\": 159, \"\\u0142\": 160, "
    "\"\\u00a1\": 161, \"\\u00a2\": "
    "162, \"\\u00a3\": 163, \"\\u00a4\": 164, \"\\u00a5\": 165, \"\\u00a6\": 166, \"\\u00a7\": 167, "
    "\"\\u00a8\": 168, \"\\u00a9\": 169, "
    "\"\\u00aa\": 170, \"\\u00ab\": 171, \"\\u00ac\": 172, \"\\u0143\": 173, \"\\u00ae\": 174, \"\\u00af\": "
    "175, \"\\u00b0\": 176, \"\\u00"
    "b1\": 177, \"\\u00b2\": 178, \"\\u00b3\": 179, \"\\u00b4\": 180, \"\\u00b5\": 181, \"\\u00b6\": 182, "
    "\"\\u00b7\": 183, \"\\u00b8\": "
    "184, \"\\u00b9\": 185, \"\\u00ba\": 186, \"\\u00bb\": 187, \"\\u00bc\": 188, \"\\u00bd\": 189, "
    "\"\\u00be\": 190, \"\\u00bf\": 191, "
    "\"\\u00c0\": 192, \"\\u00c1\": 193, \"\\u00c2\": 194, \"\\u00c3\": 195, \"\\u00c4\": 196, \"\\u00c5\": "
    "197, \"\\u00c6\": 198, \"\\u00"
    "c7\": 199, \"\\u00c8\": 200, \"\\u00c9\": 201, \"\\u00ca\": 202, \"\\u00cb\": 203, \"\\u00cc\": 204, "
    "\"\\u00cd\": 205, \"\\u00ce\": "
    "206, \"\\u00cf\": 207, \"\\u00d0\": 208, \"\\u00d1\": 209, \"\\u00d2\": 210, \"\\u00d3\": 211, "
    "\"\\u00d4\": 212, \"\\u00d5\": 213, "
    "\"\\u00d6\": 214, \"\\u00d7\": 215, \"\\u00d8\": 216, \"\\u00d9\": 217, \"\\u00da\": 218, \"\\u00db\": "
    "219, \"\\u00dc\": 220, \"\\u00"
    "dd\": 221, \"\\u00de\": 222, \"\\u00df\": 223, \"\\u00e0\": 224, \"\\u00e1\": 225, \"\\u00e2\": 226, "
    "\"\\u00e3\": 227, \"\\u00e4\": "
    "228, \"\\u00e5\": 229, \"\\u00e6\": 230, \"\\u00e7\": 231, \"\\u00e8\": 232, \"\\u00e9\": 233, "
    "\"\\u00ea\": 234, \"\\u00eb\": 235, "
    "\"\\u00ec\": 236, \"\\u00ed\": 237, \"\\u00ee\": 238, \"\\u00ef\": 239, \"\\u00f0\": 240, \"\\u00f1\": "
    "241, \"\\u00f2\": 242, \"\\u00"
    "f3\": 243, \"\\u00f4\": 244, \"\\u00f5\": 245, \"\\u00f6\": 246, \"\\u00f7\": 247, \"\\u00f8\": 248, "
    "\"\\u00f9\": 249, \"\\u00fa\": "
    "250, \"\\u00fb\": 251, \"\\u00fc\": 252, \"\\u00fd\": 253, \"\\u00fe\": 254, \"\\u00ff\": 255, "
    "\"\\u0120t\": 256, \"he\": 257, \"\\u"
    "0120the\": 258}, \"merges\": [[\"\\u0120\", \"t\"], [\"h\", \"e\"], [\"\\u0120t\", \"he\"]]}}";

static const struct {
    const char *text;
    int32_t ids[40];
    size_t n;
    int32_t ids_special[40];
    size_t ns;
    const char *decoded, *decoded_skip;
} tiny_cases[] = {
    {"a [L] b", {97, 259, 32, 98}, 4, {263, 97, 259, 32, 98, 263}, 6, "a[L] b", "a[L] b"},
    {"a  \x09[L]", {97, 259}, 2, {263, 97, 259, 263}, 4, "a[L]", "a[L]"},
    {"a [R]  \x0a b", {97, 32, 260, 98}, 4, {263, 97, 32, 260, 98, 263}, 6, "a [R]b", "a [R]b"},
    {"[L][L]  [R]  [R]x",
     {259, 259, 32, 32, 260, 260, 120},
     7,
     {263, 259, 259, 32, 32, 260, 260, 120, 263},
     9,
     "[L][L]  [R][R]x",
     "[L][L]  [R][R]x"},
    {"word words sword word_ word\xc3\xa9 1word word",
     {261, 32, 119, 111, 114, 100, 115, 32,  115, 119, 111, 114, 100, 32,  119, 111, 114,
      100, 95, 32,  119, 111, 114, 100, 195, 169, 32,  49,  119, 111, 114, 100, 32,  261},
     34,
     {263, 261, 32, 119, 111, 114, 100, 115, 32,  115, 119, 111, 114, 100, 32,  119, 111, 114,
      100, 95,  32, 119, 111, 114, 100, 195, 169, 32,  49,  119, 111, 114, 100, 32,  261, 263},
     36,
     "word words sword word_ word\xc3\xa9 1word word",
     "word words sword word_ word\xc3\xa9 1word word"},
    {"le cafe\xcc\x81 caf\xc3\xa9 cafe",
     {108, 101, 32, 262, 32, 262, 32, 99, 97, 102, 101},
     11,
     {263, 108, 101, 32, 262, 32, 262, 32, 99, 97, 102, 101, 263},
     13,
     "le caf\xef\xbf\xbd caf\xef\xbf\xbd cafe",
     "le caf\xef\xbf\xbd caf\xef\xbf\xbd cafe"},
    {"x<sp>y  <sp>",
     {120, 263, 121, 32, 32, 263},
     6,
     {263, 120, 263, 121, 32, 32, 263, 263},
     8,
     "x<sp>y  <sp>",
     "xy  "},
    {" the then", {258, 258, 110}, 3, {263, 258, 258, 110, 263}, 5, " the then", " the then"},
    {"", {0}, 0, {263, 263}, 2, "", ""},
    {"\xc3\xbf\xc4\x80",
     {195, 191, 196, 128},
     4,
     {263, 195, 191, 196, 128, 263},
     6,
     "\xc3\xbf\xc4\x80",
     "\xc3\xbf\xc4\x80"},
};

static char *write_tmp(const char *dir, const char *name, const char *text) {
    char *p = gta_path_join(dir, name);
    assert_int_equal(gta_write_file_atomic(p, text, strlen(text)), GTA_OK);
    return p;
}

static void test_added_token_flags(void **s) {
    (void)s;
    char *dir = tu_tmpdir(), *path = write_tmp(dir, "tokenizer.json", tiny_json);
    gta_tokenizer *tok = NULL;
    assert_int_equal(gta_tokenizer_load(path, &tok), GTA_OK);
    for (size_t i = 0; i < sizeof tiny_cases / sizeof tiny_cases[0]; i++) {
        gta_ids got = {0};
        const char *t = tiny_cases[i].text;
        assert_int_equal(gta_tokenizer_encode(tok, t, strlen(t), 0, &got), GTA_OK);
        assert_ids(&got, tiny_cases[i].ids, tiny_cases[i].n, t);
        char *dec;
        assert_int_equal(gta_tokenizer_decode(tok, got.ids, got.n, 0, &dec, NULL), GTA_OK);
        assert_string_equal(dec, tiny_cases[i].decoded);
        free(dec);
        got.n = 0;
        assert_int_equal(gta_tokenizer_encode(tok, t, strlen(t), 1, &got), GTA_OK);
        assert_ids(&got, tiny_cases[i].ids_special, tiny_cases[i].ns, t);
        assert_int_equal(gta_tokenizer_decode(tok, got.ids, got.n, 1, &dec, NULL), GTA_OK);
        assert_string_equal(dec, tiny_cases[i].decoded_skip);
        free(dec);
        gta_ids_free(&got);
    }
    /* token_to_id takes the content as written, id_to_token gives it normalized (as HF) */
    assert_int_equal(gta_tokenizer_token_to_id(tok, "cafe\xcc\x81"), 262);
    assert_string_equal(gta_tokenizer_id_to_token(tok, 262), "caf\xc3\xa9");
    assert_true(gta_tokenizer_is_special(tok, 263));
    assert_false(gta_tokenizer_is_special(tok, 259));
    gta_tokenizer_free(tok);
    free(path);
    tu_rm_rf(dir);
    free(dir);
}

/* ---------------- properties ---------------- */

static uint64_t rng = 0x1234567887654321ull;
static uint32_t rnd(uint32_t n) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33) % n;
}

/* Random valid UTF-8 from code points that stress the pre-tokenizer and NFC. */
static size_t random_text(char *buf, size_t maxcp) {
    static const int32_t pool[] = {' ',    ' ',    ' ',    '\n',   '\r',   '\t',   'a',     'b',
                                   'Z',    '0',    '7',    '\'',   's',    '.',    ',',     '<',
                                   '|',    '>',    0xA0,   0xE9,   0x301,  0x308,  0x1100,  0x1161,
                                   0x11A8, 0xAC00, 0x2000, 0x3000, 0x4E2D, 0xF900, 0x1F600, 0x1F468,
                                   0x200D, 0xFE0F, 0x85,   0x17F,  0x212A, 0x661,  0xFF11};
    size_t n = 0, k = 1 + rnd((uint32_t)maxcp);
    for (size_t i = 0; i < k; i++) {
        int32_t cp = rnd(4) ? pool[rnd(sizeof pool / sizeof pool[0])] : (int32_t)(0x20 + rnd(0x2FF0));
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
        n += (size_t)tok_utf8_encode(cp, buf + n);
    }
    buf[n] = 0;
    return n;
}

static void test_roundtrip_random(void **s) {
    (void)s;
    if (!tu_have_shared()) skip();
    const char *names[] = {"tokenizers/llama3", "tokenizers/gpt2", "tokenizers/qwen3"};
    char buf[64 * 4 + 1];
    for (int t = 0; t < 3; t++) {
        gta_tokenizer *tok = load(names[t]);
        for (int r = 0; r < 400; r++) {
            size_t n = random_text(buf, 64);
            gta_ids ids = {0};
            assert_int_equal(gta_tokenizer_encode(tok, buf, n, 0, &ids), GTA_OK);
            char *dec;
            size_t dl;
            assert_int_equal(gta_tokenizer_decode(tok, ids.ids, ids.n, 0, &dec, &dl), GTA_OK);
            if (t < 2) { /* no normalizer: bytes come back as they went in */
                assert_int_equal(dl, n);
                assert_memory_equal(dec, buf, n);
            } else { /* Qwen normalizes to NFC first */
                utf8proc_uint8_t *nfc = utf8proc_NFC((const utf8proc_uint8_t *)buf);
                assert_string_equal(dec, (const char *)nfc);
                free(nfc);
            }
            free(dec);
            gta_ids_free(&ids);
        }
        gta_tokenizer_free(tok);
    }
}

/* Qwen's \p{N} takes digits one by one; Llama 3's \p{N}{1,3} in groups of three from the left. */
static void test_digit_groups(void **s) {
    (void)s;
    if (!tu_have_shared()) skip();
    const char *digits = "31415926535897932384626433";
    gta_tokenizer *q = load("tokenizers/qwen3"), *l = load("tokenizers/llama3");
    gta_ids ids = {0};
    assert_int_equal(gta_tokenizer_encode(q, digits, strlen(digits), 0, &ids), GTA_OK);
    assert_int_equal(ids.n, strlen(digits));
    for (size_t i = 0; i < ids.n; i++) {
        const char *t = gta_tokenizer_id_to_token(q, ids.ids[i]);
        assert_int_equal(strlen(t), 1);
        assert_int_equal(t[0], digits[i]);
    }
    ids.n = 0;
    assert_int_equal(gta_tokenizer_encode(l, digits, strlen(digits), 0, &ids), GTA_OK);
    assert_int_equal(ids.n, (strlen(digits) + 2) / 3);
    for (size_t i = 0; i < ids.n; i++) {
        const char *t = gta_tokenizer_id_to_token(l, ids.ids[i]);
        size_t want = i + 1 < ids.n ? 3 : strlen(digits) - 3 * i;
        assert_int_equal(strlen(t), want);
        assert_memory_equal(t, digits + 3 * i, want);
    }
    gta_ids_free(&ids);
    gta_tokenizer_free(q);
    gta_tokenizer_free(l);
}

/* The NFC shortcut may only say "unchanged" when utf8proc's full NFC agrees. */
static void test_nfc_quick_check(void **s) {
    (void)s;
    const char *unstable[] = {"e\xcc\x81", "\xe2\x80\x80", "\xef\xa4\x80", "\xe1\x84\x80\xe1\x85\xa1",
                              "A\xcc\x8a", "\xe0\xbd\xb3", "\xcd\x84"};
    for (size_t i = 0; i < sizeof unstable / sizeof unstable[0]; i++)
        assert_false(tok_nfc_quick_yes(unstable[i], strlen(unstable[i])));
    const char *stable[] = {"plain ascii",      "caf\xc3\xa9", "\xe4\xb8\xad\xe6\x96\x87",
                            "\xf0\x9f\x98\x80", "\xc3\x85",    "\xea\xb0\x81"};
    for (size_t i = 0; i < sizeof stable / sizeof stable[0]; i++)
        assert_true(tok_nfc_quick_yes(stable[i], strlen(stable[i])));
    char buf[32 * 4 + 1];
    int yes = 0;
    for (int r = 0; r < 20000; r++) {
        size_t n = random_text(buf, 6);
        if (!tok_nfc_quick_yes(buf, n)) continue;
        yes++;
        utf8proc_uint8_t *nfc = utf8proc_NFC((const utf8proc_uint8_t *)buf);
        assert_string_equal((const char *)nfc, buf);
        free(nfc);
    }
    assert_true(yes > 1000);
}

static void test_invalid_utf8(void **s) {
    (void)s;
    if (!tu_have_shared()) skip();
    gta_tokenizer *tok = load("tokenizers/qwen3");
    gta_ids ids = {0};
    tok_ids_push(&ids, 7);
    /* encoding refuses it, naming the offset, and leaves the output as it was */
    assert_int_equal(gta_tokenizer_encode(tok, "\xff abc", 5, 0, &ids), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "UTF-8"));
    assert_non_null(strstr(gta_err_msg(), "byte offset 0"));
    assert_int_equal(gta_tokenizer_encode(tok, "abc\xe2\x82", 5, 0, &ids), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "byte offset 3"));
    assert_int_equal(gta_tokenizer_encode(tok, "\xed\xa0\x80", 3, 0, &ids), GTA_EINPUT); /* surrogate */
    assert_int_equal(gta_tokenizer_encode(tok, "\xc0\xaf", 2, 0, &ids), GTA_EINPUT);     /* overlong */
    assert_int_equal(ids.n, 1);
    /* embedded NUL is text like any other */
    ids.n = 0;
    assert_int_equal(gta_tokenizer_encode(tok, "a\0b", 3, 0, &ids), GTA_OK);
    assert_int_equal(ids.n, 3);
    /* decoding a partial byte sequence gives U+FFFD per maximal invalid part (HF decodes
     * [226], [226, 64], [226, 226], [9707, 226] as below) */
    const struct {
        int32_t ids[2];
        size_t n;
        const char *want;
    } dec[] = {
        {{226}, 1, "\xef\xbf\xbd"},
        {{226, 64},
         2,
         "\xef\xbf\xbd"
         "a"},
        {{226, 226}, 2, "\xef\xbf\xbd\xef\xbf\xbd"},
        {{9707, 226}, 2, "Hello\xef\xbf\xbd"},
    };
    for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
        char *t;
        assert_int_equal(gta_tokenizer_decode(tok, dec[i].ids, dec[i].n, 0, &t, NULL), GTA_OK);
        assert_string_equal(t, dec[i].want);
        free(t);
    }
    char *t = NULL;
    int32_t badid[] = {9707, 999999};
    assert_int_equal(gta_tokenizer_decode(tok, badid, 2, 0, &t, NULL), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "999999"));
    assert_null(t);
    gta_ids_free(&ids);
    gta_tokenizer_free(tok);
}

static void test_lossy_utf8_rules(void **s) {
    (void)s;
    /* Unicode's "maximal subpart" replacement, as Rust's from_utf8_lossy */
    const struct {
        const char *in;
        size_t n;
        const char *want;
    } c[] = {
        {"\xe2\x82", 2, "\xef\xbf\xbd"},
        {"\xf0\x80\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"a\xed\xa0\x80z", 5, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz"},
        {"\xf0\x9f\x98", 3, "\xef\xbf\xbd"},
        {"ok\xc3\xa9", 4, "ok\xc3\xa9"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        tok_buf b = {0};
        tok_utf8_lossy(&b, c[i].in, c[i].n);
        assert_string_equal(b.p, c[i].want);
        tok_buf_free(&b);
    }
}

/* ---------------- broken files ---------------- */

static void expect_load_error(const char *dir, const char *json, const char *needle) {
    char *path = write_tmp(dir, "tokenizer.json", json);
    gta_tokenizer *tok = (gta_tokenizer *)1;
    assert_int_equal(gta_tokenizer_load(path, &tok), GTA_EINPUT);
    assert_null(tok);
    const char *msg = gta_err_msg();
    if (!strstr(msg, needle) || !strstr(msg, path))
        fprintf(stderr, "message '%s' lacks '%s' or the path\n", msg, needle);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, needle));
    free(path);
}

/* tiny_json with one part replaced */
static char *tiny_with(const char *what, const char *replacement) {
    cJSON *j = cJSON_Parse(tiny_json);
    cJSON *r = cJSON_Parse(replacement);
    assert_non_null(r);
    if (!strncmp(what, "model.", 6))
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "model"), what + 6, r);
    else
        cJSON_ReplaceItemInObject(j, what, r);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static void test_broken_files(void **s) {
    (void)s;
    char *dir = tu_tmpdir();
    /* truncated */
    size_t half = strlen(tiny_json) / 2;
    char *trunc = gta_malloc(half + 1);
    memcpy(trunc, tiny_json, half);
    trunc[half] = 0;
    expect_load_error(dir, trunc, "tokenizer.json:1:");
    free(trunc);
    expect_load_error(dir, "", "tokenizer.json");
    expect_load_error(dir, "[1, 2]", "expected an object");
    /* wrong types, merges naming unknown tokens, unknown components */
    static const char *cases[][3] = {
        {"model.vocab", "[\"a\", \"b\"]", "model.vocab"},
        {"model.vocab", "{\"a\": \"zero\"}", "model.vocab"},
        {"model.merges", "{\"a\": 1}", "model.merges"},
        {"model.merges", "[\"x y\"]", "'xy' is not in the vocabulary"},
        {"model.merges", "[[\"x\", \"\\u4e2d\"]]", "is not in the vocabulary"},
        {"model.merges", "[\"a b c\"]", "model.merges[0]"},
        {"model.merges", "[42]", "model.merges[0]"},
        {"model.type", "\"Unigram\"", "model type 'Unigram' is not supported"},
        {"model.dropout", "0.1", "dropout"},
        {"normalizer", "{\"type\": \"Lowercase\"}", "normalizer type 'Lowercase' is not supported"},
        {"normalizer",
         "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, {\"type\": \"BertNormalizer\"}]}",
         "normalizer.normalizers[1]"},
        {"pre_tokenizer", "{\"type\": \"Whitespace\"}", "pre_tokenizer type 'Whitespace' is not supported"},
        {"pre_tokenizer",
         "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}",
         "does not compile"},
        {"pre_tokenizer",
         "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Sideways\"}",
         "Split behavior 'Sideways'"},
        {"decoder", "{\"type\": \"WordPiece\"}", "decoder type 'WordPiece' is not supported"},
        {"post_processor", "{\"type\": \"RobertaProcessing\"}", "post_processor type 'RobertaProcessing'"},
        {"added_tokens", "[{\"id\": 400, \"content\": \"[X]\"}]", "HF tokenizers would give it id 259"},
        {"added_tokens", "[{\"content\": \"[X]\"}]", "added_tokens"},
        {"added_tokens", "[{\"id\": 259, \"content\": 5}]", "added_tokens[0].content"},
        {"truncation", "{\"max_length\": 5}", "truncation"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *js = tiny_with(cases[i][0], cases[i][1]);
        expect_load_error(dir, js, cases[i][2]);
        free(js);
    }
    /* a missing file */
    char *missing = gta_path_join(dir, "nope/tokenizer.json");
    gta_tokenizer *tok = NULL;
    assert_int_equal(gta_tokenizer_load(missing, &tok), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "nope"));
    free(missing);
    tu_rm_rf(dir);
    free(dir);
}

/* ---------------- API ---------------- */

static void test_lookups(void **s) {
    (void)s;
    if (!tu_have_shared()) skip();
    gta_tokenizer *q = load("tokenizers/qwen3");
    assert_int_equal(gta_tokenizer_token_to_id(q, "Hello"), 9707);
    assert_string_equal(gta_tokenizer_id_to_token(q, 9707), "Hello");
    assert_string_equal(gta_tokenizer_id_to_token(q, 21927), "\xc4\xa0Hello"); /* "ĠHello" */
    assert_int_equal(gta_tokenizer_token_to_id(q, "<|im_end|>"), 151645);
    assert_int_equal(gta_tokenizer_token_to_id(q, "no such token"), -1);
    assert_null(gta_tokenizer_id_to_token(q, 151669));
    assert_null(gta_tokenizer_id_to_token(q, -1));
    assert_int_equal(gta_tokenizer_vocab_size(q), 151669);
    assert_int_equal(gta_tokenizer_eos_id(q), 151645);
    assert_int_equal(gta_tokenizer_bos_id(q), -1);
    assert_true(gta_tokenizer_is_special(q, 151645));
    assert_false(gta_tokenizer_is_special(q, 151667)); /* <think> is added but not special */
    int32_t ids[] = {151644, 872, 198, 13048, 151645};
    char *t;
    assert_int_equal(gta_tokenizer_decode(q, ids, 5, 1, &t, NULL), GTA_OK);
    assert_string_equal(t, "user\nHi");
    free(t);
    /* Qwen3's embedding has 151,936 rows for 151,669 tokens: a model's completion may hold
     * a padding id, which decodes as nothing with GTA_DECODE_SKIP_UNKNOWN (as the tokenizers
     * library's decode) and is an error otherwise (gta tokenize --decode) */
    int32_t pad[] = {9707, 151900, 21927};
    assert_int_equal(gta_tokenizer_decode(q, pad, 3, GTA_DECODE_SKIP_UNKNOWN, &t, NULL), GTA_OK);
    assert_string_equal(t, "Hello Hello");
    free(t);
    assert_int_equal(gta_tokenizer_decode(q, pad, 3, GTA_DECODE_SKIP_SPECIAL, &t, NULL), GTA_EINPUT);
    assert_null(t);
    int32_t neg[] = {-1};
    assert_int_equal(gta_tokenizer_decode(q, neg, 1, GTA_DECODE_SKIP_UNKNOWN, &t, NULL), GTA_EINPUT);
    gta_tokenizer_free(q);

    gta_tokenizer *l = load("tokenizers/llama3.2/tokenizer.json"); /* a file: config found beside it */
    assert_int_equal(gta_tokenizer_bos_id(l), 128000);
    assert_int_equal(gta_tokenizer_eos_id(l), 128009);
    assert_int_equal(gta_tokenizer_vocab_size(l), 128256);
    assert_int_equal(gta_tokenizer_chat_family(l), GTA_CHAT_LLAMA32);
    gta_tokenizer_free(l);

    gta_tokenizer *g = load("tokenizers/gpt2");
    assert_int_equal(gta_tokenizer_vocab_size(g), 50257);
    assert_int_equal(gta_tokenizer_eos_id(g), -1); /* its tokenizer_config.json names none */
    assert_string_equal(gta_tokenizer_id_to_token(g, 50256), "<|endoftext|>");
    gta_tokenizer_free(g);
}

/* Encoding appends, the word cache changes nothing, long inputs stay fast (heap BPE). */
static void test_encode_behaviour(void **s) {
    (void)s;
    if (!tu_have_shared()) skip();
    gta_tokenizer *tok = load("tokenizers/qwen3");
    const char *text = "The quick brown fox. The quick brown fox!";
    gta_ids a = {0}, b = {0};
    assert_int_equal(gta_tokenizer_encode(tok, text, strlen(text), 0, &a), GTA_OK);
    size_t n1 = a.n;
    assert_int_equal(gta_tokenizer_encode(tok, text, strlen(text), 0, &a), GTA_OK);
    assert_int_equal(a.n, 2 * n1);
    assert_memory_equal(a.ids, a.ids + n1, n1 * sizeof *a.ids);
    /* 200 kB without a pre-token boundary: one BPE word */
    size_t n = 200000;
    char *big = gta_malloc(n + 1);
    for (size_t i = 0; i < n; i++) big[i] = "abcab"[i % 5];
    big[n] = 0;
    double t0 = gta_now();
    assert_int_equal(gta_tokenizer_encode(tok, big, n, 0, &b), GTA_OK);
    assert_true(gta_now() - t0 < 20.0);
    char *dec;
    size_t dl;
    assert_int_equal(gta_tokenizer_decode(tok, b.ids, b.n, 0, &dec, &dl), GTA_OK);
    assert_int_equal(dl, n);
    assert_memory_equal(dec, big, n);
    free(dec);
    free(big);
    gta_ids_free(&a);
    gta_ids_free(&b);
    gta_tokenizer_free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_qwen3),        cmocka_unit_test(test_ref_qwen25),
        cmocka_unit_test(test_ref_llama3),       cmocka_unit_test(test_ref_llama32),
        cmocka_unit_test(test_ref_gpt2),         cmocka_unit_test(test_ref_stories260k),
        cmocka_unit_test(test_hf_extra_cases),   cmocka_unit_test(test_added_token_flags),
        cmocka_unit_test(test_roundtrip_random), cmocka_unit_test(test_digit_groups),
        cmocka_unit_test(test_nfc_quick_check),  cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_lossy_utf8_rules), cmocka_unit_test(test_broken_files),
        cmocka_unit_test(test_lookups),          cmocka_unit_test(test_encode_behaviour),
    };
    return cmocka_run_group_tests_name("tokenizer", tests, NULL, NULL);
}
