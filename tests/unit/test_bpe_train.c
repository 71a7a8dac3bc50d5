/* gta tokenizer-train: exact round trips of the training texts, the merges of the incremental
 * trainer equal to those of a from-scratch recount, special tokens, and errors. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "io/json.h"
#include "text/bpe_train.h"
#include "text/tok_internal.h"

static const char *texts[] = {
    "The cat sat on the mat. The cat sat on the hat.",
    "Café au lait, crème brûlée; naïve résumé!",
    "  indented\n\n\tand tabbed\r\nlines  ",
    "Numbers: 1234567890 3.14159 -42 1,000,000",
    "emoji \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 and 中文 and русский "
    "текст",
    "<guess>positive</guess><think>the review praises it</think><answer>positive</answer>",
    "the the the the theater thereafter",
    "decomposed e\xcc\x81 stays decomposed",
};

static char *write_corpus(const char *dir) {
    tok_buf b = {0};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        tok_buf_puts(&b, "{\"text\": ");
        tok_buf_put_json_str(&b, texts[i], strlen(texts[i]));
        tok_buf_puts(&b, ", \"label\": \"x\"}\n");
    }
    char *p = gta_path_join(dir, "corpus.jsonl");
    assert_int_equal(gta_write_file_atomic(p, b.p, b.n), GTA_OK);
    tok_buf_free(&b);
    return p;
}

static void test_roundtrip_and_layout(void **s) {
    (void)s;
    char *dir = tu_tmpdir(), *corpus = write_corpus(dir), *txt = gta_path_join(dir, "plain.txt");
    const char *plain = "plain text file\nwith <|im_end|> inside\nand <|im_start|>user\n";
    assert_int_equal(gta_write_file_atomic(txt, plain, strlen(plain)), GTA_OK);
    char *out = gta_path_join(dir, "tok");
    const char *files[] = {corpus, txt};
    gta_bpe_train_opts o = {files, 2, 256 + 3 + 60, 2, out, 0};
    assert_int_equal(gta_bpe_train(&o), GTA_OK);
    gta_tokenizer *tok = NULL;
    assert_int_equal(gta_tokenizer_load(out, &tok), GTA_OK);
    assert_true(gta_tokenizer_vocab_size(tok) <= 256 + 3 + 60);
    int32_t V = gta_tokenizer_vocab_size(tok);
    assert_int_equal(gta_tokenizer_token_to_id(tok, "<|endoftext|>"), V - 3);
    assert_int_equal(gta_tokenizer_token_to_id(tok, "<|im_start|>"), V - 2);
    assert_int_equal(gta_tokenizer_token_to_id(tok, "<|im_end|>"), V - 1);
    assert_int_equal(gta_tokenizer_eos_id(tok), V - 1);
    assert_int_equal(gta_tokenizer_chat_family(tok), GTA_CHAT_CHATML);
    /* every text comes back byte for byte (no normalizer: even decomposed accents) */
    for (size_t i = 0; i < sizeof texts / sizeof texts[0] + 1; i++) {
        const char *t = i < sizeof texts / sizeof texts[0] ? texts[i] : plain;
        gta_ids ids = {0};
        assert_int_equal(gta_tokenizer_encode(tok, t, strlen(t), 0, &ids), GTA_OK);
        assert_true(ids.n < strlen(t)); /* some merges apply */
        char *dec;
        assert_int_equal(gta_tokenizer_decode(tok, ids.ids, ids.n, 0, &dec, NULL), GTA_OK);
        assert_string_equal(dec, t);
        free(dec);
        gta_ids_free(&ids);
    }
    /* the most frequent pair of the corpus ("t" "h" of the/The/thereafter...) merged first,
     * and special-token strings were kept out of the counts: they encode as one id */
    gta_ids ids = {0};
    assert_int_equal(gta_tokenizer_encode(tok, "<|im_end|>", 10, 0, &ids), GTA_OK);
    assert_int_equal(ids.n, 1);
    assert_int_equal(ids.ids[0], V - 1);
    gta_ids_free(&ids);
    /* a chat prompt renders with the ChatML template written into tokenizer_config.json */
    gta_chat_message m[] = {{"user", "hi", NULL}};
    gta_chat_options co = {1, -1, NULL};
    char *text;
    assert_int_equal(gta_chat_render(tok, m, 1, &co, &text), GTA_OK);
    assert_string_equal(text, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    free(text);
    gta_tokenizer_free(tok);
    free(corpus);
    free(txt);
    free(out);
    tu_rm_rf(dir);
    free(dir);
}

/* ---- a from-scratch trainer: recount every pair of every word at every step ---- */

typedef struct {
    int32_t *sym;
    size_t n;
    long count;
} nv_word;

static size_t naive_train(const char *const *tx, size_t ntx, size_t nmerges, int32_t (*out)[2]) {
    tok_regex re;
    assert_int_equal(tok_regex_compile(&re, TOK_RE_QWEN2, strlen(TOK_RE_QWEN2), "test"), GTA_OK);
    nv_word *w = NULL;
    size_t nw = 0;
    for (size_t t = 0; t < ntx; t++) {
        size_t pos = 0, ms, me, n = strlen(tx[t]);
        while (tok_regex_next(&re, tx[t], n, pos, &ms, &me) == 1 && me > ms) {
            size_t k;
            for (k = 0; k < nw; k++)
                if (w[k].n == me - ms) {
                    size_t j = 0;
                    while (j < w[k].n && w[k].sym[j] == (uint8_t)tx[t][ms + j]) j++;
                    if (j == w[k].n) break;
                }
            if (k == nw) {
                w = gta_realloc(w, (nw + 1) * sizeof *w);
                w[nw].n = me - ms;
                w[nw].count = 0;
                w[nw].sym = gta_malloc(w[nw].n * sizeof(int32_t));
                for (size_t j = 0; j < w[nw].n; j++) w[nw].sym[j] = (uint8_t)tx[t][ms + j];
                nw++;
            }
            w[k].count++;
            pos = me;
        }
    }
    tok_regex_free(&re);
    size_t done = 0;
    for (; done < nmerges; done++) {
        long best = 0;
        int32_t ba = -1, bb = -1;
        for (size_t k = 0; k < nw; k++)
            for (size_t j = 0; j + 1 < w[k].n; j++) {
                int32_t a = w[k].sym[j], b = w[k].sym[j + 1];
                long c = 0;
                for (size_t k2 = 0; k2 < nw; k2++) /* every adjacent occurrence counts, as in HF */
                    for (size_t j2 = 0; j2 + 1 < w[k2].n; j2++)
                        if (w[k2].sym[j2] == a && w[k2].sym[j2 + 1] == b) c += w[k2].count;
                if (c > best || (c == best && (a < ba || (a == ba && b < bb)))) best = c, ba = a, bb = b;
            }
        if (best < 2) break;
        int32_t nid = 256 + (int32_t)done;
        out[done][0] = ba, out[done][1] = bb;
        for (size_t k = 0; k < nw; k++) {
            size_t o = 0;
            for (size_t j = 0; j < w[k].n; j++) {
                if (j + 1 < w[k].n && w[k].sym[j] == ba && w[k].sym[j + 1] == bb)
                    w[k].sym[o++] = nid, j++;
                else
                    w[k].sym[o++] = w[k].sym[j];
            }
            w[k].n = o;
        }
    }
    for (size_t k = 0; k < nw; k++) free(w[k].sym);
    free(w);
    return done;
}

static void test_merges_match_recount(void **s) {
    (void)s;
    /* repetitive text with overlapping pairs (aaaa, abab) where incremental updates can go wrong */
    const char *tx[] = {"aaaa aaa aa abab ababab banana bandana",
                        "the theme then there these",
                        "aaaaaaa bbbb abba",
                        texts[0],
                        texts[1],
                        texts[6]};
    char *dir = tu_tmpdir(), *path = gta_path_join(dir, "c.txt"), *out = gta_path_join(dir, "o");
    tok_buf all = {0};
    for (size_t i = 0; i < 6; i++) tok_buf_puts(&all, tx[i]), tok_buf_putc(&all, '\n');
    assert_int_equal(gta_write_file_atomic(path, all.p, all.n), GTA_OK);
    const char *one[] = {all.p};
    int32_t want[40][2];
    size_t nwant = naive_train(one, 1, 40, want);
    assert_true(nwant >= 20);
    const char *files[] = {path};
    gta_bpe_train_opts o = {files, 1, 256 + 3 + 40, 2, out, 0};
    assert_int_equal(gta_bpe_train(&o), GTA_OK);
    char *tj = gta_path_join(out, "tokenizer.json");
    cJSON *j = NULL;
    assert_int_equal(gta_json_load(tj, &j), GTA_OK);
    const cJSON *merges = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "merges"), *m;
    assert_int_equal((size_t)cJSON_GetArraySize(merges), nwant);
    gta_tokenizer *tok = NULL;
    assert_int_equal(gta_tokenizer_load(out, &tok), GTA_OK);
    size_t i = 0;
    cJSON_ArrayForEach(m, merges) {
        char *sp = strchr(m->valuestring, ' ');
        assert_non_null(sp);
        *sp = 0;
        assert_int_equal(gta_tokenizer_token_to_id(tok, m->valuestring), want[i][0]);
        assert_int_equal(gta_tokenizer_token_to_id(tok, sp + 1), want[i][1]);
        i++;
    }
    gta_tokenizer_free(tok);
    cJSON_Delete(j);
    tok_buf_free(&all);
    free(tj);
    free(path);
    free(out);
    tu_rm_rf(dir);
    free(dir);
}

static void test_errors(void **s) {
    (void)s;
    char *dir = tu_tmpdir(), *out = gta_path_join(dir, "o"), *bad = gta_path_join(dir, "bad.jsonl");
    char *missing = gta_path_join(dir, "missing.txt");
    const char *lines = "{\"text\": \"fine\"}\n{\"text\": \"\\udc00\"}\n";
    assert_int_equal(gta_write_file_atomic(bad, lines, strlen(lines)), GTA_OK);
    const char *f1[] = {bad};
    gta_bpe_train_opts o = {f1, 1, 300, 2, out, 0};
    assert_int_equal(gta_bpe_train(&o), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "bad.jsonl:2"));
    lines = "{\"text\": \"fine\"}\n{\"text\": 3}\n";
    assert_int_equal(gta_write_file_atomic(bad, lines, strlen(lines)), GTA_OK);
    assert_int_equal(gta_bpe_train(&o), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "bad.jsonl:2"));
    lines = "{\"text\": \"fine\"}\n{\"text\": \"\xff\"}\n";
    assert_int_equal(gta_write_file_atomic(bad, lines, strlen(lines)), GTA_OK);
    assert_int_equal(gta_bpe_train(&o), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "UTF-8"));
    const char *f2[] = {missing};
    o.corpus = f2;
    assert_int_equal(gta_bpe_train(&o), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "missing.txt"));
    o.corpus = f1;
    o.vocab_size = 100;
    assert_int_equal(gta_bpe_train(&o), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "vocab-size"));
    assert_false(gta_file_exists(out)); /* nothing written on any error */
    free(out);
    free(bad);
    free(missing);
    tu_rm_rf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_layout),
        cmocka_unit_test(test_merges_match_recount),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("bpe_train", tests, NULL, NULL);
}
