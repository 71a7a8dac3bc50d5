/* Prompts with the real tokenizers (Qwen2.5, Qwen3, Llama 3.2 chat templates; stories260K
 * without one): content, round trips, exact truncation on a long BBC article, targets; the
 * end-of-sequence id set. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "io/dataset.h"
#include "task/eos.h"
#include "task/prompt.h"

static const char *tok_dirs[] = {"tokenizers/qwen2.5", "tokenizers/qwen3", "tokenizers/llama3.2",
                                 "models/stories260K"};
enum { N_TOK = 4 };

static gta_tokenizer *load_tok(const char *rel) {
    char *p = tu_shared(rel);
    gta_tokenizer *t = NULL;
    if (gta_tokenizer_load(p, &t) != GTA_OK) fail_msg("%s: %s", p, gta_err_msg());
    free(p);
    return t;
}

static gta_labels load_labels(const char *ds) {
    char rel[128];
    snprintf(rel, sizeof rel, "data/%s/labels.txt", ds);
    char *p = tu_shared(rel);
    gta_labels l;
    if (gta_labels_load(p, &l) != GTA_OK) fail_msg("%s", gta_err_msg());
    free(p);
    return l;
}

/* The longest text of a split. */
static char *longest_text(const char *ds, const char *split, const gta_labels *l) {
    char rel[128];
    snprintf(rel, sizeof rel, "data/%s", ds);
    char *dir = tu_shared(rel);
    gta_split s;
    if (gta_split_load(dir, split, l, &s) != GTA_OK) fail_msg("%s", gta_err_msg());
    size_t best = 0;
    for (size_t i = 1; i < s.n; i++)
        if (s.ex[i].text_len > s.ex[best].text_len) best = i;
    char *t = gta_strdup(s.ex[best].text);
    gta_split_free(&s);
    free(dir);
    return t;
}

static char *decode(gta_tokenizer *t, const int32_t *ids, size_t n, int skip) {
    char *s;
    if (gta_tokenizer_decode(t, ids, n, skip, &s, NULL) != GTA_OK) fail_msg("%s", gta_err_msg());
    return s;
}

static void test_render_all(void **state) {
    (void)state;
    if (!tu_have_shared()) skip();
    gta_labels l = load_labels("sst5");
    const char *input = "a stirring , funny and finally transporting re-imagining of beauty and the beast";
    for (int ti = 0; ti < N_TOK; ti++) {
        gta_tokenizer *tok = load_tok(tok_dirs[ti]);
        gta_chat_family fam = gta_tokenizer_chat_family(tok);
        for (int f = 0; f < 3; f++) {
            gta_prompt_opts o = {(gta_format)f, 0, NULL, NULL, NULL, 0};
            if (f == 2) o.system = "You are a careful annotator.";
            gta_prompt p;
            if (gta_prompt_build(tok, &o, &l, input, strlen(input), &p) != GTA_OK)
                fail_msg("%s: %s", tok_dirs[ti], gta_err_msg());
            assert_int_equal(p.truncated, 0);
            assert_int_equal(p.input_bytes, strlen(input));
            assert_non_null(strstr(p.text, input));
            for (size_t i = 0; i < l.n; i++) {
                char line[64];
                snprintf(line, sizeof line, "\n- %s\n", l.names[i]);
                assert_non_null(strstr(p.text, line));
            }
            assert_non_null(strstr(p.text, "<answer>label</answer>"));
            assert_true((strstr(p.text, "<guess>") != NULL) == (f == GTA_FORMAT_GTA));
            assert_true((strstr(p.text, "<think>reasoning</think>") != NULL) == (f != GTA_FORMAT_SFT));
            if (o.system) assert_non_null(strstr(p.text, o.system));
            /* the instructions come before the text, the text ends the user message */
            assert_true(strstr(p.text, "<answer>label</answer>") < strstr(p.text, input));
            switch (fam) {
            case GTA_CHAT_QWEN25:
                assert_non_null(strstr(p.text, "<|im_start|>user\n"));
                assert_non_null(strstr(p.text, "<|im_end|>\n<|im_start|>assistant\n"));
                if (!o.system) assert_non_null(strstr(p.text, "You are Qwen")); /* the template's default */
                break;
            case GTA_CHAT_QWEN3: {
                /* enable_thinking = false: the template closes its own think block */
                const char *tail = "<|im_start|>assistant\n<think>\n\n</think>\n\n";
                assert_string_equal(p.text + strlen(p.text) - strlen(tail), tail);
                break;
            }
            case GTA_CHAT_LLAMA32: {
                assert_non_null(strstr(p.text, "Today Date: 26 Jul 2024"));
                const char *tail = "<|start_header_id|>assistant<|end_header_id|>\n\n";
                assert_string_equal(p.text + strlen(p.text) - strlen(tail), tail);
                assert_int_equal(p.ids.ids[0], gta_tokenizer_bos_id(tok)); /* from the template text, once */
                assert_true(p.ids.ids[1] != p.ids.ids[0]);
                break;
            }
            case GTA_CHAT_NONE: {
                assert_memory_equal(p.text, o.system ? "System: " : "User: ", o.system ? 8 : 6);
                const char *tail = "\nAssistant:";
                assert_string_equal(p.text + strlen(p.text) - strlen(tail), tail);
                assert_int_equal(p.ids.ids[0], gta_tokenizer_bos_id(tok)); /* post-processor BOS */
                break;
            }
            default:
                fail_msg("%s: unexpected family %d", tok_dirs[ti], fam);
            }
            /* the untruncated prompt round-trips */
            char *back = decode(tok, p.ids.ids, p.ids.n, 0);
            if (fam == GTA_CHAT_NONE) {
                char *b2 = decode(tok, p.ids.ids, p.ids.n, 1); /* without <s> */
                assert_string_equal(b2, p.text);
                free(b2);
            } else {
                assert_string_equal(back, p.text);
            }
            free(back);
            /* and the ids are exactly the encoding of the text */
            gta_ids again = {0};
            assert_int_equal(gta_tokenizer_encode(tok, p.text, strlen(p.text), fam == GTA_CHAT_NONE, &again),
                             GTA_OK);
            assert_int_equal(again.n, p.ids.n);
            assert_memory_equal(again.ids, p.ids.ids, again.n * sizeof *again.ids);
            gta_ids_free(&again);
            /* the same text from gta_prompt_render */
            char *r;
            assert_int_equal(gta_prompt_render(tok, &o, &l, input, strlen(input), &r), GTA_OK);
            assert_string_equal(r, p.text);
            free(r);
            gta_prompt_free(&p);
        }
        gta_tokenizer_free(tok);
    }
    gta_labels_free(&l);
}

static void test_truncation_bbc(void **state) {
    (void)state;
    if (!tu_have_shared()) skip();
    gta_labels l = load_labels("bbc_news");
    char *art = longest_text("bbc_news", "train", &l);
    size_t len = strlen(art);
    assert_true(len > 10000);
    const int limits[] = {420, 512, 1024}; /* stories260K needs ~390 for the instructions */
    for (int ti = 0; ti < N_TOK; ti++) {
        gta_tokenizer *tok = load_tok(tok_dirs[ti]);
        for (int li = 0; li < 3; li++) {
            gta_prompt_opts o = {GTA_FORMAT_GTA, limits[li], NULL, NULL, NULL, 0};
            gta_prompt p;
            if (gta_prompt_build(tok, &o, &l, art, len, &p) != GTA_OK)
                fail_msg("%s: %s", tok_dirs[ti], gta_err_msg());
            if (p.ids.n > (size_t)limits[li])
                fail_msg("%s: %zu tokens > %d", tok_dirs[ti], p.ids.n, limits[li]);
            /* tight: one more text token would not have fit, so we are within a few tokens */
            if (p.ids.n + 8 < (size_t)limits[li])
                fail_msg("%s: only %zu of %d tokens used", tok_dirs[ti], p.ids.n, limits[li]);
            assert_int_equal(p.truncated, 1);
            assert_true(p.input_bytes > 0 && p.input_bytes < len);
            /* the instructions are intact and the kept text is a prefix of the article */
            for (size_t i = 0; i < l.n; i++) assert_non_null(strstr(p.text, l.names[i]));
            const char *at = strstr(p.text, "Text:\n");
            assert_non_null(at);
            at += 6;
            assert_memory_equal(at, art, p.input_bytes);
            assert_int_equal(gta_utf8_check(p.text, strlen(p.text)), strlen(p.text));
            gta_prompt_free(&p);
        }
        /* a limit the instructions alone exceed */
        gta_prompt_opts o = {GTA_FORMAT_GTA, 20, NULL, NULL, NULL, 0};
        gta_prompt p;
        assert_int_equal(gta_prompt_build(tok, &o, &l, art, len, &p), GTA_EINPUT);
        assert_non_null(strstr(gta_err_msg(), "max_prompt_tokens = 20"));
        assert_null(p.text);
        /* a limit the whole article fits in: nothing cut */
        o.max_prompt_tokens = 100000;
        assert_int_equal(gta_prompt_build(tok, &o, &l, art, len, &p), GTA_OK);
        assert_int_equal(p.truncated, 0);
        assert_int_equal(p.input_bytes, len);
        /* the limit equal to the full length keeps everything too */
        size_t full = p.ids.n;
        gta_prompt_free(&p);
        o.max_prompt_tokens = (int)full;
        assert_int_equal(gta_prompt_build(tok, &o, &l, art, len, &p), GTA_OK);
        assert_int_equal(p.truncated, 0);
        gta_prompt_free(&p);
        o.max_prompt_tokens = (int)full - 1;
        assert_int_equal(gta_prompt_build(tok, &o, &l, art, len, &p), GTA_OK);
        assert_int_equal(p.truncated, 1);
        assert_true(p.ids.n <= full - 1);
        gta_prompt_free(&p);
        gta_tokenizer_free(tok);
    }
    free(art);
    gta_labels_free(&l);
}

/* Cutting inside multi-byte characters leaves valid UTF-8 and no stray U+FFFD. */
static void test_truncation_unicode(void **state) {
    (void)state;
    if (!tu_have_shared()) skip();
    gta_labels l = load_labels("emotion");
    char *text = gta_malloc(20000);
    size_t n = 0;
    const char *pieces[] = {"\xE5\xA5\xBD", "\xF0\x9F\x98\x80", "\xC3\xA9t\xC3\xA9 ", "\xD0\xB4\xD0\xB0 ",
                            "\xE2\x9D\xA4\xEF\xB8\x8F"};
    for (int i = 0; n < 19000; i++) {
        const char *s = pieces[(i * 7) % 5];
        memcpy(text + n, s, strlen(s));
        n += strlen(s);
    }
    text[n] = 0;
    for (int ti = 0; ti < N_TOK; ti++) {
        gta_tokenizer *tok = load_tok(tok_dirs[ti]);
        for (int lim = 450; lim <= 460; lim++) {
            gta_prompt_opts o = {GTA_FORMAT_GRPO, lim, NULL, NULL, NULL, 0};
            gta_prompt p;
            if (gta_prompt_build(tok, &o, &l, text, n, &p) != GTA_OK)
                fail_msg("%s: %s", tok_dirs[ti], gta_err_msg());
            assert_true(p.ids.n <= (size_t)lim);
            assert_int_equal(p.truncated, 1);
            size_t tl = strlen(p.text);
            assert_int_equal(gta_utf8_check(p.text, tl), tl);
            assert_null(strstr(p.text, "\xEF\xBF\xBD"));
            gta_prompt_free(&p);
        }
        gta_tokenizer_free(tok);
    }
    free(text);
    gta_labels_free(&l);
}

static void test_targets(void **state) {
    (void)state;
    if (!tu_have_shared()) skip();
    gta_labels l = load_labels("sst5");
    const char *ends[N_TOK] = {"<|im_end|>", "<|im_end|>", "<|eot_id|>", "</s>"};
    for (int ti = 0; ti < N_TOK; ti++) {
        gta_tokenizer *tok = load_tok(tok_dirs[ti]);
        int32_t end = gta_prompt_end_id(tok);
        assert_int_equal(end, gta_tokenizer_token_to_id(tok, ends[ti]));
        gta_ids a = {0}, g = {0};
        assert_int_equal(gta_prompt_sft_target(tok, "very negative", &a), GTA_OK);
        assert_int_equal(a.ids[a.n - 1], end);
        char *s = decode(tok, a.ids, a.n, 0);
        char expect[64];
        snprintf(expect, sizeof expect, "<answer>very negative</answer>%s", ends[ti]);
        assert_string_equal(s, expect);
        free(s);
        assert_int_equal(gta_prompt_guess_branch(tok, "very negative", &g), GTA_OK);
        s = decode(tok, g.ids, g.n, 0);
        assert_string_equal(s, "<guess>very negative</guess>");
        free(s);
        /* with a chat template the prompt ends on a pre-token boundary: the branch ids are
         * exactly what encoding prompt + branch gives after the prompt's ids */
        if (gta_tokenizer_chat_family(tok) != GTA_CHAT_NONE) {
            for (int f = 0; f < 3; f++) {
                gta_prompt_opts o = {(gta_format)f, 0, NULL, NULL, NULL, 0};
                gta_prompt p;
                assert_int_equal(gta_prompt_build(tok, &o, &l, "so bad", 6, &p), GTA_OK);
                const gta_ids *br = f == GTA_FORMAT_GTA ? &g : &a;
                size_t brn = f == GTA_FORMAT_GTA ? g.n : a.n - 1; /* the end id is added, not encoded */
                char *cat = decode(tok, br->ids, brn, 0);
                size_t pl = strlen(p.text), cl = strlen(cat);
                char *joined = gta_malloc(pl + cl + 1);
                memcpy(joined, p.text, pl);
                memcpy(joined + pl, cat, cl + 1);
                gta_ids j = {0};
                assert_int_equal(gta_tokenizer_encode(tok, joined, pl + cl, 0, &j), GTA_OK);
                assert_int_equal(j.n, p.ids.n + brn);
                assert_memory_equal(j.ids, p.ids.ids, p.ids.n * sizeof(int32_t));
                assert_memory_equal(j.ids + p.ids.n, br->ids, brn * sizeof(int32_t));
                gta_ids_free(&j);
                free(joined);
                free(cat);
                gta_prompt_free(&p);
            }
        }
        gta_ids_free(&a);
        gta_ids_free(&g);
        gta_tokenizer_free(tok);
    }
    gta_labels_free(&l);
}

static void test_user_message(void **state) {
    (void)state;
    const char *names[] = {"tech", "business"};
    gta_labels l;
    assert_int_equal(gta_labels_from(names, 2, "t", &l), GTA_OK);
    gta_prompt_opts o = {GTA_FORMAT_SFT, 0, NULL, "Which topic is this news article about?", NULL, 0};
    char *m = gta_prompt_user_message(&o, &l, "chips xyz", 5);
    assert_memory_equal(m, "Which topic is this news article about?\n- tech\n- business\n\n", 59);
    const char *tail = "\n\nText:\nchips";
    assert_string_equal(m + strlen(m) - strlen(tail), tail);
    assert_non_null(strstr(m, "<answer>label</answer>"));
    assert_null(strstr(m, "<think>"));
    free(m);
    gta_labels_free(&l);
}

/* the compact style: short instructions, exactly as documented in prompt.h */
static void test_compact(void **state) {
    (void)state;
    const char *names[] = {"tech", "very negative"};
    gta_labels l;
    assert_int_equal(gta_labels_from(names, 2, "t", &l), GTA_OK);
    gta_prompt_opts o = {GTA_FORMAT_GTA, 0, NULL, NULL, NULL, 1};
    char *m = gta_prompt_user_message(&o, &l, "chips xyz", 5);
    assert_string_equal(m,
                        "Labels:\ntech\nvery negative\nAnswer as "
                        "<guess>label</guess><think>reasoning</think><answer>label</answer>.\nText: chips");
    free(m);
    gta_labels_free(&l); /* tu_shared skips the rest where ../shared is absent */
    /* with the stories260K tokenizer (no chat template) it is far shorter than the full one */
    char *dir = tu_shared("models/stories260K");
    assert_int_equal(gta_labels_from(names, 2, "t", &l), GTA_OK);
    gta_tokenizer *tok;
    assert_int_equal(gta_tokenizer_load(dir, &tok), GTA_OK);
    gta_prompt pc, pf;
    assert_int_equal(gta_prompt_build(tok, &o, &l, "the cat sat", 11, &pc), GTA_OK);
    o.compact = 0;
    assert_int_equal(gta_prompt_build(tok, &o, &l, "the cat sat", 11, &pf), GTA_OK);
    assert_true(pc.ids.n * 3 < pf.ids.n);
    assert_non_null(strstr(pc.text, "User: Labels:\ntech\n"));
    gta_prompt_free(&pc);
    gta_prompt_free(&pf);
    gta_tokenizer_free(tok);
    free(dir);
    gta_labels_free(&l);
}

static void write_gen(const char *dir, const char *json) {
    char *p = gta_path_join(dir, "generation_config.json");
    if (json)
        assert_int_equal(gta_write_file_atomic(p, json, strlen(json)), GTA_OK);
    else
        remove(p);
    free(p);
}

/* gta_eos_ids: end of turn, then generation_config.json (int, list, absent, broken), then
 * config.json's ids; no repeats; at most max */
static void test_eos_ids(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    gta_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.eos_token_ids[0] = 2, cfg.eos_token_ids[1] = 7, cfg.n_eos = 2;
    int eos[GTA_EOS_MAX];

    write_gen(dir, "{\"eos_token_id\": 7}");
    assert_int_equal(gta_eos_ids(dir, &cfg, NULL, eos, GTA_EOS_MAX), 2);
    assert_int_equal(eos[0], 7);
    assert_int_equal(eos[1], 2);

    write_gen(dir, "{\"eos_token_id\": [5, 2, 5, \"x\", 9]}");
    assert_int_equal(gta_eos_ids(dir, &cfg, NULL, eos, GTA_EOS_MAX), 4);
    assert_int_equal(eos[0], 5);
    assert_int_equal(eos[1], 2);
    assert_int_equal(eos[2], 9);
    assert_int_equal(eos[3], 7);
    assert_int_equal(gta_eos_ids(dir, &cfg, NULL, eos, 2), 2); /* cut at max */
    assert_int_equal(eos[0], 5);
    assert_int_equal(eos[1], 2);

    write_gen(dir, NULL); /* absent: config.json's alone */
    assert_int_equal(gta_eos_ids(dir, &cfg, NULL, eos, GTA_EOS_MAX), 2);
    assert_int_equal(eos[0], 2);
    assert_int_equal(eos[1], 7);
    assert_int_equal(gta_eos_ids(NULL, &cfg, NULL, eos, GTA_EOS_MAX), 2);
    assert_int_equal(eos[0], 2);
    assert_int_equal(eos[1], 7);

    write_gen(dir, "{\"eos_token_id\": [5,"); /* does not parse: ignored, no error left */
    assert_int_equal(gta_eos_ids(dir, &cfg, NULL, eos, GTA_EOS_MAX), 2);
    assert_int_equal(eos[0], 2);
    assert_int_equal(eos[1], 7);
    assert_string_equal(gta_err_msg(), "unknown error"); /* what an empty message reads as */

    write_gen(dir, "{\"eos_token_id\": 4}");
    assert_int_equal(gta_eos_ids(dir, NULL, NULL, eos, GTA_EOS_MAX), 1);
    assert_int_equal(eos[0], 4);

    if (tu_have_shared()) {
        /* Qwen2.5: <|im_end|> first; generation_config's [im_end, endoftext] adds endoftext */
        gta_tokenizer *tok = load_tok("tokenizers/qwen2.5");
        int32_t im_end = gta_tokenizer_token_to_id(tok, "<|im_end|>");
        int32_t eot = gta_tokenizer_token_to_id(tok, "<|endoftext|>");
        assert_true(im_end >= 0 && eot >= 0 && im_end != eot);
        char js[128];
        snprintf(js, sizeof js, "{\"eos_token_id\": [%d, %d]}", (int)im_end, (int)eot);
        write_gen(dir, js);
        cfg.eos_token_ids[0] = eot, cfg.n_eos = 1;
        assert_int_equal(gta_eos_ids(dir, &cfg, tok, eos, GTA_EOS_MAX), 2);
        assert_int_equal(eos[0], im_end);
        assert_int_equal(eos[1], eot);
        write_gen(dir, NULL);
        assert_int_equal(gta_eos_ids(dir, &cfg, tok, eos, GTA_EOS_MAX), 2);
        assert_int_equal(eos[0], im_end);
        assert_int_equal(eos[1], eot);
        gta_tokenizer_free(tok);
    }
    tu_rm_rf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_all),
        cmocka_unit_test(test_truncation_bbc),
        cmocka_unit_test(test_truncation_unicode),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_user_message),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_eos_ids),
    };
    return cmocka_run_group_tests_name("prompt", tests, NULL, NULL);
}
