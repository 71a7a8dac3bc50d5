/* gta predict's parts: input records (JSON Lines, CSV, errors naming name:line), the task
 * file a model directory carries, the f32 -> bf16/f16 rounding and the checkpoint dtype kept
 * on save (a bf16 model loaded and saved is bit-identical), and predictions on the
 * repository's base model: the fields, a batch equal to one text at a time, and scores that
 * are a distribution. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "eval/predict.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "task/model_task.h"
#include "testutil.h"

#define BASE "models/gta-base-5m"

/* ------------------------------------------------------------------ inputs */

static void test_jsonl(void **state) {
    (void)state;
    const char *t = "\xEF\xBB\xBF{\"text\": \"first\", \"id\": 1}\n\n   \n{\"id\": 2, \"text\": "
                    "\"caf\xC3\xA9 \\\"q\\\"\"}\r\n"
                    "{\"body\": \"x\", \"text\": \"third\"}";
    gta_predict_inputs in;
    assert_int_equal(gta_predict_parse("f.jsonl", t, strlen(t), "text", 0, &in), GTA_OK);
    assert_int_equal(in.n, 3);
    assert_string_equal(in.x[0].text, "first");
    assert_int_equal(in.x[0].line, 1);
    assert_string_equal(in.x[1].text, "caf\xC3\xA9 \"q\"");
    assert_int_equal(in.x[1].len, strlen("caf\xC3\xA9 \"q\""));
    assert_int_equal(in.x[1].line, 4);
    assert_string_equal(in.x[2].text, "third");
    assert_int_equal(in.x[2].line, 5);
    gta_predict_inputs_free(&in);
    /* another field */
    assert_int_equal(gta_predict_parse("f.jsonl", t + 3, strlen(t + 3), "body", 0, &in), GTA_EINPUT);
    assert_string_equal(gta_err_msg(), "f.jsonl:1: expected a JSON object with a string field 'body'");
}

static void expect_error(const char *text, int csv, const char *msg) {
    gta_predict_inputs in;
    assert_int_equal(gta_predict_parse("in", text, strlen(text), "text", csv, &in), GTA_EINPUT);
    if (!strstr(gta_err_msg(), msg)) fail_msg("for %s: got '%s', want '%s'", text, gta_err_msg(), msg);
    assert_null(in.x);
}

static void test_jsonl_errors(void **state) {
    (void)state;
    expect_error("{\"text\": \"a\"}\n{\"text\": \"b\"\n", 0, "in:2:");
    expect_error("{\"text\": \"a\"}\n{\"text\": 3}\n", 0,
                 "in:2: expected a JSON object with a string field 'text'");
    expect_error("{\"text\": \"a\"}\n\n[\"text\"]\n", 0, "in:3: expected a JSON object");
    expect_error("{\"text\": \"a\\u0000b\"}\n", 0, "in:1: the text contains a NUL character");
    expect_error("{\"text\": \"\xC3\x28\"}\n", 0, "in:1:1:11: invalid UTF-8");
    expect_error("\n  \n", 0, "in: no input records");
}

static void test_csv(void **state) {
    (void)state;
    const char *t =
        "id,text,other\r\n1,plain,x\r\n2,\"with, comma\",y\n\n3,\"two\nlines \"\"quoted\"\"\",z\n4,,w";
    gta_predict_inputs in;
    assert_int_equal(gta_predict_parse("f.csv", t, strlen(t), "text", 1, &in), GTA_OK);
    assert_int_equal(in.n, 4);
    assert_string_equal(in.x[0].text, "plain");
    assert_int_equal(in.x[0].line, 2);
    assert_string_equal(in.x[1].text, "with, comma");
    assert_int_equal(in.x[1].line, 3);
    assert_string_equal(in.x[2].text, "two\nlines \"quoted\"");
    assert_int_equal(in.x[2].line, 5);
    assert_string_equal(in.x[3].text, "");
    assert_int_equal(in.x[3].line, 7);
    gta_predict_inputs_free(&in);
    expect_error("id,body\n1,x\n", 1, "in:1: the header has no column 'text'");
    expect_error("id,text\n1,x\n2,y,z\n", 1, "in:3: 3 fields where the header has 2");
    expect_error("id,text\n1,x\n2,\"open\n", 1, "in:3: a quoted field is not closed");
    expect_error("id,text\n1,a\"b\n", 1, "in:2: a quote inside an unquoted field");
    expect_error("id,text\n1,\"a\"b\n", 1, "in:2: text after the closing quote");
    expect_error("id,text\n", 1, "in: no input records");
}

/* ------------------------------------------------------------------ task file */

static void test_task_roundtrip(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    const char *names[] = {"very negative", "neutral", "caf\xC3\xA9"};
    gta_task t;
    memset(&t, 0, sizeof t);
    snprintf(t.method, sizeof t.method, "gta");
    t.format = GTA_FORMAT_GTA;
    assert_int_equal(gta_labels_from(names, 3, "test", &t.labels), GTA_OK);
    t.compact = 1;
    t.max_prompt_tokens = 256;
    t.system = "Be \"brief\".";
    t.max_new_tokens = 64;
    assert_int_equal(gta_task_write(dir, &t), GTA_OK);
    gta_task r;
    int found = 0;
    assert_int_equal(gta_task_read(dir, &r, &found), GTA_OK);
    assert_int_equal(found, 1);
    assert_string_equal(r.method, "gta");
    assert_int_equal(r.format, GTA_FORMAT_GTA);
    assert_true(gta_task_same_labels(&r.labels, &t.labels));
    assert_int_equal(r.compact, 1);
    assert_int_equal(r.max_prompt_tokens, 256);
    assert_string_equal(r.system, "Be \"brief\".");
    assert_int_equal(r.max_new_tokens, 64);
    gta_task_free(&r);
    gta_labels_free(&t.labels);
    /* no file: found 0, not an error */
    char *empty = tu_tmpdir();
    assert_int_equal(gta_task_read(empty, &r, &found), GTA_OK);
    assert_int_equal(found, 0);
    /* bad files name the file and the problem */
    char *p = gta_path_join(empty, GTA_TASK_FILE);
    const char *bad[][2] = {
        {"{\"gta_task\": 1, \"format\": \"gta\", \"labels\": [\"a\"], \"colour\": 1}",
         "unknown key 'colour'"},
        {"{\"gta_task\": 2, \"format\": \"gta\", \"labels\": [\"a\"]}", "version 2"},
        {"{\"gta_task\": 1, \"format\": \"xml\", \"labels\": [\"a\"]}", "xml"},
        {"{\"gta_task\": 1, \"format\": \"gta\", \"labels\": []}", "non-empty array"},
        {"{\"gta_task\": 1, \"format\": \"gta\", \"labels\": [\"a\", \"A\"]}", "gta_task.json"},
        {"{\"gta_task\": 1, \"format\": \"gta\", \"labels\": [\"a\"], \"prompt_style\": \"long\"}", "long"},
        {"{\"gta_task\": 1, \"format\": \"gta\", \"labels\": [\"a\"], \"system_prompt\": 3}",
         "system_prompt"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(gta_write_file_atomic(p, bad[i][0], strlen(bad[i][0])), GTA_OK);
        assert_int_equal(gta_task_read(empty, &r, &found), GTA_EINPUT);
        if (!strstr(gta_err_msg(), bad[i][1]) || !strstr(gta_err_msg(), GTA_TASK_FILE))
            fail_msg("case %zu: '%s'", i, gta_err_msg());
        assert_int_equal(found, 0);
    }
    free(p);
    tu_rm_rf(dir);
    tu_rm_rf(empty);
    free(dir);
    free(empty);
}

/* ------------------------------------------------------------------ dtypes */

static void test_half_rounding(void **state) {
    (void)state;
    /* every bf16 and f16 value survives widening and rounding back unchanged (NaN stays NaN) */
    for (uint32_t h = 0; h < 65536; h++) {
        float b = st_bf16_to_f32((uint16_t)h), f = st_f16_to_f32((uint16_t)h);
        if (isnan(b))
            assert_true(isnan(st_bf16_to_f32(st_f32_to_bf16(b))));
        else
            assert_int_equal(st_f32_to_bf16(b), h);
        if (isnan(f))
            assert_true(isnan(st_f16_to_f32(st_f32_to_f16(f))));
        else if (st_f32_to_f16(f) != h)
            fail_msg("f16 %04x -> %g -> %04x", h, (double)f, st_f32_to_f16(f));
    }
    /* round to nearest, ties to even, against double arithmetic on every f16 interval */
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double lo = st_f16_to_f32((uint16_t)h),
               hi = h + 1 == 0x7c00 ? 65536.0 : st_f16_to_f32((uint16_t)(h + 1));
        float mid = (float)((lo + hi) / 2); /* exact in f32 */
        uint16_t want = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        if (h + 1 == 0x7c00) want = 0x7c00; /* 65520 rounds to inf */
        assert_int_equal(st_f32_to_f16(mid), want);
        assert_int_equal(st_f32_to_f16(nextafterf(mid, 0)), h);
        if (h + 1 < 0x7c00) assert_int_equal(st_f32_to_f16(nextafterf(mid, INFINITY)), h + 1);
        assert_int_equal(st_f32_to_f16(-mid), want | 0x8000);
    }
    assert_int_equal(st_f32_to_f16(1e-9f), 0);
    assert_int_equal(st_f32_to_f16(1e6f), 0x7c00);
    assert_int_equal(st_f32_to_f16(-INFINITY), 0xfc00);
    st_dtype d;
    assert_int_equal(st_dtype_from_name("bf16", &d), GTA_OK);
    assert_int_equal(d, ST_BF16);
    assert_int_equal(st_dtype_from_name("f16", &d), GTA_OK);
    assert_int_equal(d, ST_F16);
    assert_int_equal(st_dtype_from_name("f32", &d), GTA_OK);
    assert_int_equal(d, ST_F32);
    assert_int_equal(st_dtype_from_name("int8", &d), GTA_EINPUT);
}

static void file_bytes(const char *dir, char **data, size_t *len) {
    char *p = gta_path_join(dir, "model.safetensors");
    assert_int_equal(gta_read_file(p, data, len), GTA_OK);
    free(p);
}

static void test_dtype_kept_on_save(void **state) {
    (void)state;
    gta_config c;
    memset(&c, 0, sizeof c);
    const char *cfg =
        "{\"model_type\": \"qwen3\", \"vocab_size\": 64, \"hidden_size\": 32, \"intermediate_size\": 48,"
        " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
        " \"head_dim\": 8, \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-6,"
        " \"rope_theta\": 10000.0, \"tie_word_embeddings\": false, \"eos_token_id\": 1}";
    char *root = tu_tmpdir(), *cp = gta_path_join(root, "config.json");
    assert_int_equal(gta_write_file_atomic(cp, cfg, strlen(cfg)), GTA_OK);
    assert_int_equal(gta_config_load(cp, &c), GTA_OK);
    st_dtype kinds[] = {ST_BF16, ST_F16, ST_F32};
    for (int k = 0; k < 3; k++) {
        gta_model *m = gta_model_init_random(&c, 7);
        assert_int_equal(m->save_dtype, ST_F32);
        m->save_dtype = (int)kinds[k];
        char *a = gta_path_join(root, "a"), *b = gta_path_join(root, "b");
        assert_int_equal(gta_model_save(m, a), GTA_OK);
        gta_model_free(m);
        /* loaded: the checkpoint's dtype is recorded; saved again (no training step): the
         * same bytes, tensor for tensor */
        assert_int_equal(gta_model_load(a, &m), GTA_OK);
        assert_int_equal(m->save_dtype, kinds[k]);
        assert_int_equal(gta_model_save(m, b), GTA_OK);
        gta_model_free(m);
        char *da, *db;
        size_t la, lb;
        file_bytes(a, &da, &la);
        file_bytes(b, &db, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(da, db, la);
        st_set *st = NULL;
        assert_int_equal(st_open_dir(b, &st), GTA_OK);
        for (int i = 0; i < st_count(st); i++) assert_int_equal(st_at(st, i)->dtype, kinds[k]);
        assert_int_equal(st_float_dtype(st), kinds[k]);
        st_close(st);
        free(da);
        free(db);
        tu_rm_rf(a);
        tu_rm_rf(b);
        free(a);
        free(b);
    }
    tu_rm_rf(root);
    free(root);
    free(cp);
}

/* ------------------------------------------------------------------ predictions */

static int have_base(void) {
    char *p = gta_path_join(BASE, "model.safetensors");
    int ok = gta_file_exists(p);
    free(p);
    return ok;
}

static const char *texts[] = {
    "i feel so happy and grateful today",
    "i am terrified of what comes next",
    "i was furious at the way they treated me",
    "i feel lonely and sad tonight",
    "what a surprise that was",
    "i love you so much",
    "i feel a little anxious about the exam",
};
#define NT (int)(sizeof texts / sizeof texts[0])

static void run_predict(gta_model *m, gta_tokenizer *tok, const gta_labels *l, const gta_predict_opts *o,
                        int batch, gta_prediction *out) {
    size_t lens[NT];
    for (int i = 0; i < NT; i++) lens[i] = strlen(texts[i]);
    for (int b0 = 0; b0 < NT; b0 += batch) {
        int nb = NT - b0 < batch ? NT - b0 : batch;
        assert_int_equal(gta_predict_batch(m, tok, l, o, texts + b0, lens + b0, nb, out + b0), GTA_OK);
    }
}

static void test_predict_on_base(void **state) {
    (void)state;
    assert_true(have_base()); /* the repository's base model (models/README.md) */
    gta_model *m = NULL;
    gta_tokenizer *tok = NULL;
    assert_int_equal(gta_model_load(BASE, &m), GTA_OK);
    assert_int_equal(gta_tokenizer_load(BASE, &tok), GTA_OK);
    const char *names[] = {"sadness", "joy", "love", "anger", "fear", "surprise"};
    gta_labels l;
    assert_int_equal(gta_labels_from(names, 6, "labels", &l), GTA_OK);
    for (int f = 0; f < 2; f++) {
        gta_predict_opts o;
        gta_predict_opts_default(&o);
        o.format = f ? GTA_FORMAT_SFT : GTA_FORMAT_GTA;
        o.compact = 1;
        o.max_prompt_tokens = 256;
        o.max_new_tokens = 48;
        o.scores = 1;
        gta_prediction one[NT], many[NT];
        run_predict(m, tok, &l, &o, 1, one);
        run_predict(m, tok, &l, &o, 4, many);
        int with_label = 0, agree = 0;
        for (int i = 0; i < NT; i++) {
            /* a batch gives what one text at a time gives */
            assert_string_equal(one[i].completion, many[i].completion);
            assert_int_equal(one[i].label, many[i].label);
            assert_int_equal(one[i].guess, many[i].guess);
            assert_int_equal(one[i].finish, many[i].finish);
            assert_int_equal(one[i].format_ok, many[i].format_ok);
            double sum = 0;
            int best = 0;
            for (size_t k = 0; k < l.n; k++) {
                assert_true(one[i].scores[k] >= 0 && one[i].scores[k] <= 1);
                assert_true(fabs(one[i].scores[k] - many[i].scores[k]) < 1e-4);
                sum += one[i].scores[k];
                if (one[i].scores[k] > one[i].scores[best]) best = (int)k;
            }
            assert_true(fabs(sum - 1) < 1e-9);
            /* the fields follow the completion */
            gta_reward rw;
            gta_reward_score(o.format, one[i].completion, strlen(one[i].completion), &l, -1, &rw);
            assert_int_equal(one[i].label, rw.answer_label);
            assert_int_equal(one[i].format_ok, rw.format_ok);
            if (o.format == GTA_FORMAT_GTA) {
                assert_int_equal(one[i].guess, rw.guess_label);
                const char *a = strstr(one[i].completion, "<think>"),
                           *b = strstr(one[i].completion, "</think>");
                if (one[i].think) {
                    assert_non_null(a);
                    assert_int_equal(strlen(one[i].think), (size_t)(b - a - 7));
                }
            } else {
                assert_int_equal(one[i].guess, -1);
                assert_null(one[i].think);
            }
            if (one[i].label >= 0) with_label++, agree += best == one[i].label;
        }
        print_message("format %s: %d of %d answers name a label, the scores' argmax agrees on %d\n",
                      f ? "sft" : "gta", with_label, NT, agree);
        for (int i = 0; i < NT; i++) gta_prediction_free(&one[i]), gta_prediction_free(&many[i]);
    }
    gta_labels_free(&l);
    gta_tokenizer_free(tok);
    gta_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_jsonl_errors),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_task_roundtrip),
        cmocka_unit_test(test_half_rounding),
        cmocka_unit_test(test_dtype_kept_on_save),
        cmocka_unit_test(test_predict_on_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
