/* Chat templates: every case of the shared chat_template_reference.json files (text and ids),
 * plus extra conversations whose expected renderings were produced by Jinja2 3.1.6 with the
 * settings transformers' apply_chat_template uses (sandboxed, trim_blocks, lstrip_blocks,
 * loopcontrols), from the same tokenizer_config.json templates. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/util.h"
#include "io/json.h"
#include "text/tokenizer.h"

static const char *extra_cases =
    "{\"qwen3\":[{\"messages\":[{\"role\":\"user\",\"content\":\"Q1\"},{\"role\":\"assistant\",\"content\":"
    "\"<think>\\nr1\\n</"
    "think>\\n\\nA1\"},{\"role\":\"user\",\"content\":\"Q2\"},{\"role\":\"assistant\",\"content\":\"<think>"
    "\\n\\nr2 deep\\n\\n<"
    "/think>\\n\\n\\nA2\"}],\"add_generation_prompt\":false,\"rendered\":\"<|im_start|>user\\nQ1<|im_end|>"
    "\\n<|im_st"
    "art|>assistant\\nA1<|im_end|>\\n<|im_start|>user\\nQ2<|im_end|>\\n<|im_start|>assistant\\n<think>\\nr2 "
    "dee"
    "p\\n</"
    "think>\\n\\nA2<|im_end|>\\n\"},{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":"
    "\"user\",\"content"
    "\":\"Q\"},{\"role\":\"assistant\",\"content\":\"A\",\"reasoning_content\":\"\\nR\\n\"}],\"add_"
    "generation_prompt\":true,"
    "\"enable_thinking\":true,\"rendered\":\"<|im_start|>system\\nS<|im_end|>\\n<|im_start|>user\\nQ<|im_end|"
    ">\\n<"
    "|im_start|>assistant\\n<think>\\nR\\n</"
    "think>\\n\\nA<|im_end|>\\n<|im_start|>assistant\\n\"},{\"messages\":[{\""
    "role\":\"user\",\"content\":\"Q\"},{\"role\":\"assistant\",\"content\":\"call\"},{\"role\":\"tool\","
    "\"content\":\"out1\"},{"
    "\"role\":\"tool\",\"content\":\"out2\"},{\"role\":\"assistant\",\"content\":\"done\"}],\"add_generation_"
    "prompt\":false"
    ",\"rendered\":\"<|im_start|>user\\nQ<|im_end|>\\n<|im_start|>assistant\\ncall<|im_end|>\\n<|im_start|>"
    "user\\"
    "n<tool_response>\\nout1\\n</tool_response>\\n<tool_response>\\nout2\\n</"
    "tool_response><|im_end|>\\n<|im_st"
    "art|>assistant\\n<think>\\n\\n</"
    "think>\\n\\ndone<|im_end|>\\n\"},{\"messages\":[{\"role\":\"user\",\"content\":\"fir"
    "st\"},{\"role\":\"system\",\"content\":\"mid "
    "system\"},{\"role\":\"user\",\"content\":\"<tool_response>x</tool_respo"
    "nse>\"},{\"role\":\"assistant\",\"content\":\"pre<think>a</think>b</"
    "think>c\"}],\"add_generation_prompt\":true,"
    "\"enable_thinking\":false,\"rendered\":\"<|im_start|>user\\nfirst<|im_end|>\\n<|im_start|>system\\nmid "
    "syste"
    "m<|im_end|>\\n<|im_start|>user\\n<tool_response>x</tool_response><|im_end|>\\n<|im_start|>assistant\\n<t"
    "hink>\\na\\n</think>\\n\\nc<|im_end|>\\n<|im_start|>assistant\\n<think>\\n\\n</"
    "think>\\n\\n\"}],\"qwen2.5\":[{\"me"
    "ssages\":[{\"role\":\"user\",\"content\":\"Q1\"},{\"role\":\"assistant\",\"content\":\"A1\"},{\"role\":"
    "\"system\",\"conten"
    "t\":\"late "
    "system\"},{\"role\":\"user\",\"content\":\"Q2\"}],\"add_generation_prompt\":true,\"rendered\":\"<|im_"
    "star"
    "t|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n<|im_star"
    "t|>user\\nQ1<|im_end|>\\n<|im_start|>assistant\\nA1<|im_end|>\\n<|im_start|>system\\nlate "
    "system<|im_end|"
    ">\\n<|im_start|>user\\nQ2<|im_end|>\\n<|im_start|>assistant\\n\"},{\"messages\":[{\"role\":\"user\","
    "\"content\":\""
    "Q\"},{\"role\":\"tool\",\"content\":\"r1\"},{\"role\":\"tool\",\"content\":\"r2\"},{\"role\":\"other\","
    "\"content\":\"dropped"
    "\"}],\"add_generation_prompt\":false,\"rendered\":\"<|im_start|>system\\nYou are Qwen, created by "
    "Alibaba C"
    "loud. You are a helpful assistant.<|im_end|>\\n<|im_start|>user\\nQ<|im_end|>\\n<|im_start|>user\\n<tool"
    "_response>\\nr1\\n</tool_response>\\n<tool_response>\\nr2\\n</"
    "tool_response><|im_end|>\\n\"}],\"llama3\":[{\"m"
    "essages\":[{\"role\":\"system\",\"content\":\"  sys \\n\"},{\"role\":\"user\",\"content\":\"\\u3000hi "
    "there\\u00a0\\n\\t\""
    "},{\"role\":\"assistant\",\"content\":\"\\u2003ok\"}],\"add_generation_prompt\":true,\"rendered\":\"<|"
    "begin_of_tex"
    "t|><|start_header_id|>system<|end_header_id|>\\n\\nsys<|eot_id|><|start_header_id|>user<|end_header_id"
    "|>\\n\\nhi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\nok<|eot_id|><|start_header_"
    "id|>assistant<|end_header_id|>\\n\\n\"}],\"llama3.2\":[{\"messages\":[{\"role\":\"system\",\"content\":"
    "\"\\n sys  \""
    "},{\"role\":\"user\",\"content\":\" hi "
    "\"},{\"role\":\"assistant\",\"content\":\"yo\\n\"},{\"role\":\"user\",\"content\":\"a"
    "gain\"}],\"add_generation_prompt\":true,\"date_string\":\"01 Jan "
    "2025\",\"rendered\":\"<|begin_of_text|><|star"
    "t_header_id|>system<|end_header_id|>\\n\\nCutting Knowledge Date: December 2023\\nToday Date: 01 Jan 20"
    "25\\n\\nsys<|eot_id|><|start_header_id|>user<|end_header_id|>\\n\\nhi<|eot_id|><|start_header_id|>assist"
    "ant<|end_header_id|>\\n\\nyo<|eot_id|><|start_header_id|>user<|end_header_id|>\\n\\nagain<|eot_id|><|sta"
    "rt_header_id|>assistant<|end_header_id|>\\n\\n\"},{\"messages\":[{\"role\":\"user\",\"content\":\"no "
    "system\"}],\""
    "add_generation_prompt\":false,\"date_string\":\"9 Sep "
    "1999\",\"rendered\":\"<|begin_of_text|><|start_header_"
    "id|>system<|end_header_id|>\\n\\nCutting Knowledge Date: December 2023\\nToday Date: 9 Sep "
    "1999\\n\\n<|eo"
    "t_id|><|start_header_id|>user<|end_header_id|>\\n\\nno system<|eot_id|>\"}]}";

static gta_tokenizer *load(const char *name) {
    char *rel = gta_path_join("tokenizers", name);
    char *dir = tu_shared(rel);
    gta_tokenizer *tok = NULL;
    int rc = gta_tokenizer_load(dir, &tok);
    if (rc) fprintf(stderr, "%s\n", gta_err_msg());
    assert_int_equal(rc, GTA_OK);
    free(rel);
    free(dir);
    return tok;
}

/* Builds the request object of a reference case: messages, add_generation_prompt, extra vars. */
static cJSON *request_of(const cJSON *c) {
    cJSON *req = cJSON_CreateObject();
    cJSON_AddItemToObject(req, "messages", cJSON_Duplicate(cJSON_GetObjectItem(c, "messages"), 1));
    cJSON_AddItemToObject(req, "add_generation_prompt",
                          cJSON_Duplicate(cJSON_GetObjectItem(c, "add_generation_prompt"), 1));
    const cJSON *extra = cJSON_GetObjectItem(c, "extra"), *it;
    cJSON_ArrayForEach(it, extra) cJSON_AddItemToObject(req, it->string, cJSON_Duplicate(it, 1));
    return req;
}

static void check_reference(const char *name, gta_chat_family fam) {
    if (!tu_have_shared()) skip();
    gta_tokenizer *tok = load(name);
    assert_int_equal(gta_tokenizer_chat_family(tok), fam);
    char rel[128];
    snprintf(rel, sizeof rel, "tokenizers/%s/chat_template_reference.json", name);
    char *path = tu_shared(rel);
    cJSON *ref = NULL;
    assert_int_equal(gta_json_load(path, &ref), GTA_OK);
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(ref, "cases")) {
        cJSON *req = request_of(c);
        char *text = NULL;
        int rc = gta_chat_render_json(tok, req, c->string, &text);
        if (rc) fprintf(stderr, "%s\n", gta_err_msg());
        assert_int_equal(rc, GTA_OK);
        assert_string_equal(text, cJSON_GetObjectItem(c, "rendered")->valuestring);
        gta_ids ids = {0};
        assert_int_equal(gta_tokenizer_encode(tok, text, strlen(text), 0, &ids), GTA_OK);
        const cJSON *want = cJSON_GetObjectItem(c, "ids"), *x;
        assert_int_equal(ids.n, (size_t)cJSON_GetArraySize(want));
        size_t i = 0;
        cJSON_ArrayForEach(x, want) assert_int_equal(ids.ids[i++], x->valueint);
        gta_ids_free(&ids);
        free(text);
        cJSON_Delete(req);
        n++;
    }
    assert_true(n >= 3);
    cJSON_Delete(ref);
    free(path);
    gta_tokenizer_free(tok);
}

static void test_ref_qwen3(void **s) {
    (void)s;
    check_reference("qwen3", GTA_CHAT_QWEN3);
}
static void test_ref_qwen25(void **s) {
    (void)s;
    check_reference("qwen2.5", GTA_CHAT_QWEN25);
}
static void test_ref_llama3(void **s) {
    (void)s;
    check_reference("llama3", GTA_CHAT_LLAMA3);
}
static void test_ref_llama32(void **s) {
    (void)s;
    check_reference("llama3.2", GTA_CHAT_LLAMA32);
}

/* Multi-turn conversations: reasoning split from content, reasoning_content, tool turns,
 * a system turn in the middle, roles a template drops, Unicode white space under |trim. */
static void test_extra_conversations(void **s) {
    (void)s;
    if (!tu_have_shared()) skip();
    cJSON *all = cJSON_Parse(extra_cases);
    assert_non_null(all);
    const cJSON *fam;
    int n = 0;
    cJSON_ArrayForEach(fam, all) {
        gta_tokenizer *tok = load(fam->string);
        const cJSON *c;
        cJSON_ArrayForEach(c, fam) {
            char *text = NULL;
            int rc = gta_chat_render_json(tok, c, fam->string, &text);
            if (rc) fprintf(stderr, "%s\n", gta_err_msg());
            assert_int_equal(rc, GTA_OK);
            assert_string_equal(text, cJSON_GetObjectItem(c, "rendered")->valuestring);
            free(text);
            n++;
        }
        gta_tokenizer_free(tok);
    }
    assert_int_equal(n, 9);
    cJSON_Delete(all);
}

/* Without date_string the Llama 3.2 template takes strftime_now("%d %b %Y"), which
 * transformers defines as the local date. */
static void test_llama32_default_date(void **s) {
    (void)s;
    if (!tu_have_shared()) skip();
    gta_tokenizer *tok = load("llama3.2");
    gta_chat_message m = {"user", "x", NULL};
    gta_chat_options o = {1, -1, NULL};
    char *text = NULL, want[256], date[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(date, sizeof date, "%d %b %Y", &tm); /* C locale: English month names */
    snprintf(want, sizeof want,
             "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
             "December 2023\n"
             "Today Date: %s\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>"
             "<|start_header_id|>assistant<|end_header_id|>\n\n",
             date);
    assert_int_equal(gta_chat_render(tok, &m, 1, &o, &text), GTA_OK);
    assert_string_equal(text, want);
    free(text);
    gta_tokenizer_free(tok);
}

static void test_errors(void **s) {
    (void)s;
    if (!tu_have_shared()) skip();
    gta_chat_message m = {"user", "x", NULL};
    gta_chat_options o = {1, -1, NULL};
    char *text = NULL;
    /* GPT-2 has no template */
    gta_tokenizer *tok = load("gpt2");
    assert_int_equal(gta_tokenizer_chat_family(tok), GTA_CHAT_NONE);
    assert_int_equal(gta_chat_render(tok, &m, 1, &o, &text), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "no chat_template"));
    assert_null(text);
    gta_tokenizer_free(tok);

    /* a template we do not know, even one character away from a known one */
    char *dir = tu_tmpdir(), *src = tu_shared("tokenizers/qwen3/tokenizer.json");
    char *data, *dst = gta_path_join(dir, "tokenizer.json"),
                *cfgp = gta_path_join(dir, "tokenizer_config.json");
    size_t len;
    assert_int_equal(gta_read_file(src, &data, &len), GTA_OK);
    assert_int_equal(gta_write_file_atomic(dst, data, len), GTA_OK);
    free(data);
    const char *cfg = "{\"eos_token\": \"<|im_end|>\", \"chat_template\": \"{% for m in messages %}{{ "
                      "m.content }}{% endfor %}\"}";
    assert_int_equal(gta_write_file_atomic(cfgp, cfg, strlen(cfg)), GTA_OK);
    assert_int_equal(gta_tokenizer_load(dir, &tok), GTA_OK);
    assert_int_equal(gta_tokenizer_chat_family(tok), GTA_CHAT_UNKNOWN);
    assert_int_equal(gta_tokenizer_eos_id(tok), 151645);
    assert_int_equal(gta_chat_render(tok, &m, 1, &o, &text), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "not recognized"));
    assert_non_null(strstr(gta_err_msg(), "tokenizer_config.json"));
    gta_tokenizer_free(tok);
    free(src);
    free(dst);
    free(cfgp);
    tu_rm_rf(dir);
    free(dir);

    /* what the C renderers do not cover is refused */
    tok = load("qwen3");
    const char *reqs[] = {
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tools\": [{\"type\": \"function\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"x\"}]}]}",
        "{\"messages\": [{\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"function\": "
        "{}}]}]}",
        "{\"messages\": {}}",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        cJSON *r = cJSON_Parse(reqs[i]);
        assert_int_equal(gta_chat_render_json(tok, r, "req.json", &text), GTA_EINPUT);
        assert_non_null(strstr(gta_err_msg(), "req.json"));
        cJSON_Delete(r);
    }
    gta_tokenizer_free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_qwen3),
        cmocka_unit_test(test_ref_qwen25),
        cmocka_unit_test(test_ref_llama3),
        cmocka_unit_test(test_ref_llama32),
        cmocka_unit_test(test_extra_conversations),
        cmocka_unit_test(test_llama32_default_date),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("chat", tests, NULL, NULL);
}
