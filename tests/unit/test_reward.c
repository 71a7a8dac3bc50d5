/* Rewards: a table of hand-written completions (well-formed, white space, case, multi-word
 * labels, unicode thinking, and the adversarial shapes: several answers, nested or repeated
 * tags, empty parts, lists of labels, text around the answer, substrings), plus offsets. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "task/reward.h"

enum { VNEG, NEG, NEU, POS, VPOS };

static gta_labels sst5(void) {
    const char *names[] = {"very negative", "negative", "neutral", "positive", "very positive"};
    gta_labels l;
    assert_int_equal(gta_labels_from(names, 5, "sst5", &l), GTA_OK);
    return l;
}

typedef struct {
    gta_format fmt;
    const char *text;
    int gold;
    int format_ok, answer_ok, guess_ok;
    int answer_label, guess_label; /* -2: not checked */
} rcase;

#define S GTA_FORMAT_SFT
#define R GTA_FORMAT_GRPO
#define G GTA_FORMAT_GTA

static const rcase cases[] = {
    /* ---- well-formed ---- */
    {S, "<answer>positive</answer>", POS, 1, 1, 0, POS, -1},
    {S, "<answer>negative</answer>", POS, 1, 0, 0, NEG, -1},
    {R, "<think>praises the acting</think><answer>positive</answer>", POS, 1, 1, 0, POS, -1},
    {G, "<guess>positive</guess><think>it says good</think><answer>positive</answer>", POS, 1, 1, 1, POS,
     POS},
    {G, "<guess>negative</guess><think>on reflection, upbeat</think><answer>positive</answer>", POS, 1, 1, 0,
     POS, NEG},
    {G, "<guess>positive</guess><think>hmm</think><answer>neutral</answer>", POS, 1, 0, 1, NEU, POS},
    /* white space between, before and after the parts; CRLF and tabs */
    {G, "  \n<guess> positive </guess>\n\n<think>\nx\n</think>\n<answer>\tpositive\n</answer>\n", POS, 1, 1,
     1, POS, POS},
    {G, "<guess>positive</guess>\r\n<think>a\r\nb</think>\r\n<answer>positive</answer>\r\n", POS, 1, 1, 1,
     POS, POS},
    {R, "\t<think>\tt\t</think>\t<answer>\tneutral\t</answer>\t", NEU, 1, 1, 0, NEU, -1},
    /* case and inner white space of the answer are normalized */
    {S, "<answer>Positive</answer>", POS, 1, 1, 0, POS, -1},
    {S, "<answer>POSITIVE</answer>", POS, 1, 1, 0, POS, -1},
    {S, "<answer>  Very   Negative </answer>", VNEG, 1, 1, 0, VNEG, -1},
    {S, "<answer>very\nnegative</answer>", VNEG, 1, 1, 0, VNEG, -1},
    {S, "<answer>very\t \r\nnegative</answer>", VNEG, 1, 1, 0, VNEG, -1},
    {G, "<guess>VERY positive</guess><think>t</think><answer>very Positive</answer>", VPOS, 1, 1, 1, VPOS,
     VPOS},
    /* multi-word labels are never matched by a part: "negative" is not "very negative" */
    {S, "<answer>negative</answer>", VNEG, 1, 0, 0, NEG, -1},
    {S, "<answer>very negative</answer>", NEG, 1, 0, 0, VNEG, -1},
    {S, "<answer>verynegative</answer>", VNEG, 1, 0, 0, -1, -1},
    /* unicode in think (and an answer-like word in it) is fine */
    {R, "<think>très bien 😀 — «positive» 好</think><answer>positive</answer>", POS, 1, 1, 0, POS, -1},
    {G, "<guess>neutral</guess><think>ответ: negative? \xE2\x80\x8B</think><answer>neutral</answer>", NEU, 1,
     1, 1, NEU, NEU},
    /* '<' and partial tags inside think are ordinary text */
    {R, "<think>a < b and <answer without close</think><answer>positive</answer>", POS, 1, 1, 0, POS, -1},
    /* an answer that is not a label: format fine, accuracy 0 */
    {S, "<answer>great</answer>", POS, 1, 0, 0, -1, -1},

    /* ---- format broken, accuracy still judged (eq. 3 rewards a correct classification) ---- */
    {G, "<think>t</think><answer>positive</answer>", POS, 0, 1, 0, POS, -1},         /* guess missing */
    {G, "<guess>positive</guess><answer>positive</answer>", POS, 0, 1, 1, POS, POS}, /* think missing */
    {R, "<answer>positive</answer>", POS, 0, 1, 0, POS, -1},                         /* think missing */
    {G, "<guess>positive</guess><think>   \n </think><answer>positive</answer>", POS, 0, 1, 1, POS,
     POS},                                                                  /* blank */
    {R, "<think></think><answer>positive</answer>", POS, 0, 1, 0, POS, -1}, /* empty think */
    {G, "<think>t</think><guess>positive</guess><answer>positive</answer>", POS, 0, 1, 1, POS,
     POS},                                                                                 /* order */
    {R, "The answer is <think>t</think><answer>positive</answer>", POS, 0, 1, 0, POS, -1}, /* text before */
    {R, "<think>t</think> so <answer>positive</answer>", POS, 0, 1, 0, POS, -1},           /* text between */
    {S, "<think>t</think><answer>positive</answer>", POS, 0, 1, 0, POS, -1}, /* extra part (sft) */
    {R, "<guess>positive</guess><think>t</think><answer>positive</answer>", POS, 0, 1, 1, POS,
     POS},                                                                                  /* extra guess */
    {G, "<guess></guess><think>t</think><answer>positive</answer>", POS, 0, 1, 0, POS, -1}, /* empty guess */
    {G, "<Guess>positive</Guess><think>t</think><answer>positive</answer>", POS, 0, 1, 0, POS,
     -1}, /* tag case */
    {G, "<guess>positive<think>t</think><answer>positive</answer>", POS, 0, 1, 0, POS,
     -1}, /* guess never closed */
    {R, "<think>t</think><think>u</think><answer>positive</answer>", POS, 0, 1, 0, POS, -1}, /* think twice */
    {R, "<think>t<think>u</think></think><answer>positive</answer>", POS, 0, 1, 0, POS,
     -1}, /* nested think */

    /* ---- accuracy 0: adversarial answers ---- */
    {S, "", POS, 0, 0, 0, -1, -1},
    {S, "positive", POS, 0, 0, 0, -1, -1},         /* no tags */
    {S, "<answer>positive", POS, 0, 0, 0, -1, -1}, /* not closed (cut) */
    {S, "positive</answer>", POS, 0, 0, 0, -1, -1},
    {S, "</answer>positive<answer>", POS, 0, 0, 0, -1, -1},                          /* reversed */
    {S, "<answer></answer>", POS, 0, 0, 0, -1, -1},                                  /* empty */
    {S, "<answer>  \n </answer>", POS, 0, 0, 0, -1, -1},                             /* blank */
    {S, "<answer>positive</answer><answer>positive</answer>", POS, 0, 0, 0, -1, -1}, /* two answers */
    {S, "<answer>negative</answer><answer>positive</answer>", POS, 0, 0, 0, -1, -1},
    {S, "<answer><answer>positive</answer></answer>", POS, 0, 0, 0, -1, -1}, /* nested */
    {S, "<answer>positive</answer></answer>", POS, 0, 0, 0, -1, -1},         /* repeated close */
    {S, "<answer><answer>positive</answer>", POS, 0, 0, 0, -1, -1},          /* repeated open */
    {S, "<answer>positive, negative</answer>", POS, 1, 0, 0, -1, -1},        /* a list of labels */
    {S, "<answer>positive negative neutral very negative very positive</answer>", POS, 1, 0, 0, -1, -1},
    {S, "<answer>positive or negative</answer>", NEG, 1, 0, 0, -1, -1},
    {S, "<answer>positive.</answer>", POS, 1, 0, 0, -1, -1},             /* punctuation */
    {S, "<answer>\"positive\"</answer>", POS, 1, 0, 0, -1, -1},          /* quoted */
    {S, "<answer>the label is positive</answer>", POS, 1, 0, 0, -1, -1}, /* substring */
    {S, "<answer>positively</answer>", POS, 1, 0, 0, -1, -1},
    {S, "<answer>positive</answer> because it is", POS, 0, 0, 0, -1, -1}, /* text after */
    {S, "<answer>positive</answer>.", POS, 0, 0, 0, -1, -1},
    {R, "<think>t</think><answer>positive</answer>\n<think>more</think>", POS, 0, 0, 0, -1,
     -1}, /* part after */
    {G, "<guess>positive</guess><think>t</think><answer>positive</answer><guess>x</guess>", POS, 0, 0, 0, -1,
     -1},
    {S, "<answer><think>positive</think></answer>", POS, 0, 0, 0, -1, -1}, /* tag inside the answer */
    {G, "<guess>p</guess><think>t</think><answer>positive</guess></answer>", POS, 0, 0, 0, -1, -1},
    {R, "<think>t<answer>negative</answer></think><answer>positive</answer>", POS, 0, 0, 0, -1,
     -1},                                                   /* hidden */
    {S, "<answer>positive</answer>", -1, 1, 0, 0, POS, -1}, /* gold unknown */
    {S, "<ANSWER>positive</ANSWER>", POS, 0, 0, 0, -1, -1}, /* tags are lower-case */
    {S, "< answer>positive</answer>", POS, 0, 0, 0, -1, -1},
    {S, "<answer>positive</ answer>", POS, 0, 0, 0, -1, -1},

    /* ---- guess (logging only) ---- */
    {G, "<guess>positive</guess><guess>positive</guess><think>t</think><answer>positive</answer>", POS, 0, 1,
     0, POS, -1},
    {G, "<guess>positive, neutral</guess><think>t</think><answer>neutral</answer>", NEU, 1, 1, 0, NEU, -1},
    {G, "<guess><think>positive</think></guess><answer>positive</answer>", POS, 0, 1, 0, POS, -1},
};

static void test_table(void **state) {
    (void)state;
    gta_labels l = sst5();
    size_t n = sizeof cases / sizeof *cases;
    for (size_t i = 0; i < n; i++) {
        const rcase *c = &cases[i];
        gta_reward r;
        gta_reward_score(c->fmt, c->text, strlen(c->text), &l, c->gold, &r);
        if (r.format_ok != c->format_ok || r.answer_ok != c->answer_ok || r.guess_ok != c->guess_ok ||
            r.answer_label != c->answer_label || r.guess_label != c->guess_label ||
            r.reward != (float)(c->format_ok + c->answer_ok))
            fail_msg("case %zu (%s) '%s': got format %d answer %d guess %d labels %d/%d reward %g, "
                     "expected %d %d %d %d/%d",
                     i, gta_format_name(c->fmt), c->text, r.format_ok, r.answer_ok, r.guess_ok,
                     r.answer_label, r.guess_label, r.reward, c->format_ok, c->answer_ok, c->guess_ok,
                     c->answer_label, c->guess_label);
    }
    gta_labels_free(&l);
}

/* Every format's well-formed completion is malformed in the other formats. */
static void test_formats_exclusive(void **state) {
    (void)state;
    gta_labels l = sst5();
    const char *t[3] = {"<answer>neutral</answer>", "<think>x</think><answer>neutral</answer>",
                        "<guess>neutral</guess><think>x</think><answer>neutral</answer>"};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            gta_reward r;
            gta_reward_score((gta_format)b, t[a], strlen(t[a]), &l, NEU, &r);
            assert_int_equal(r.format_ok, a == b);
            assert_int_equal(r.answer_ok, 1);
        }
    gta_labels_free(&l);
}

static void test_offsets(void **state) {
    (void)state;
    gta_labels l = sst5();
    const char *t = " <guess>negative</guess>\n<think>so</think> <answer>positive</answer>\n";
    gta_reward r;
    gta_reward_score(GTA_FORMAT_GTA, t, strlen(t), &l, POS, &r);
    assert_int_equal(r.format_ok, 1);
    assert_int_equal(r.guess_start, 1);
    assert_int_equal(r.guess_end, 1 + 7 + 8 + 8); /* " " + "<guess>" + "negative" + "</guess>" */
    assert_memory_equal(t + r.guess_end - 8, "</guess>", 8);
    assert_int_equal(r.answer_start, (long)(strstr(t, "<answer>") - t));
    assert_int_equal(r.answer_end, (long)(strstr(t, "</answer>") - t) + 9);
    assert_int_equal(r.answer_end, (long)strlen(t) - 1);
    /* offsets of a unique pair are reported even when the answer does not count */
    const char *u = "<answer>positive</answer> trailing";
    gta_reward_score(GTA_FORMAT_SFT, u, strlen(u), &l, POS, &r);
    assert_int_equal(r.answer_ok, 0);
    assert_int_equal(r.answer_start, 0);
    assert_int_equal(r.answer_end, 25);
    assert_int_equal(r.guess_start, -1);
    assert_int_equal(r.guess_end, -1);
    /* none for repeated tags */
    const char *v = "<guess>a</guess><guess>b</guess><answer>x</answer><answer>y</answer>";
    gta_reward_score(GTA_FORMAT_GTA, v, strlen(v), &l, POS, &r);
    assert_int_equal(r.guess_start, -1);
    assert_int_equal(r.answer_start, -1);
    assert_int_equal(r.answer_end, -1);
    /* the text need not be NUL-terminated: only len bytes are read */
    char buf[64];
    memcpy(buf, "<answer>positive</answer>XXXX", 29);
    gta_reward_score(GTA_FORMAT_SFT, buf, 25, &l, POS, &r);
    assert_int_equal(r.format_ok, 1);
    assert_int_equal(r.answer_ok, 1);
    /* a completion cut inside a tag */
    gta_reward_score(GTA_FORMAT_SFT, buf, 20, &l, POS, &r);
    assert_int_equal(r.format_ok + r.answer_ok, 0);
    gta_reward_score(GTA_FORMAT_SFT, NULL, 0, &l, POS, &r);
    assert_int_equal(r.reward, 0);
    gta_labels_free(&l);
}

static void test_format_names(void **state) {
    (void)state;
    gta_format f;
    assert_int_equal(gta_format_from_name("gta", &f), GTA_OK);
    assert_int_equal(f, GTA_FORMAT_GTA);
    assert_int_equal(gta_format_from_name("grpo", &f), GTA_OK);
    assert_int_equal(f, GTA_FORMAT_GRPO);
    assert_int_equal(gta_format_from_name("sft", &f), GTA_OK);
    assert_int_equal(f, GTA_FORMAT_SFT);
    assert_string_equal(gta_format_name(GTA_FORMAT_GRPO), "grpo");
    assert_int_equal(gta_format_from_name("GTA", &f), GTA_EINPUT);
    assert_int_equal(gta_format_from_name(NULL, &f), GTA_EINPUT);
}

/* Unicode labels: compared byte for byte after ASCII folding. */
static void test_unicode_labels(void **state) {
    (void)state;
    const char *names[] = {"caf\xC3\xA9", "Stra\xC3\x9F"
                                          "e"};
    gta_labels l;
    assert_int_equal(gta_labels_from(names, 2, "t", &l), GTA_OK);
    gta_reward r;
    const char *a = "<answer>CAF\xC3\xA9</answer>";
    gta_reward_score(GTA_FORMAT_SFT, a, strlen(a), &l, 0, &r);
    assert_int_equal(r.answer_ok, 1);
    const char *b = "<answer>CAF\xC3\x89</answer>"; /* É is not lower-cased (ASCII only) */
    gta_reward_score(GTA_FORMAT_SFT, b, strlen(b), &l, 0, &r);
    assert_int_equal(r.answer_ok, 0);
    assert_int_equal(r.format_ok, 1);
    gta_labels_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),          cmocka_unit_test(test_formats_exclusive),
        cmocka_unit_test(test_offsets),        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_unicode_labels),
    };
    return cmocka_run_group_tests_name("reward", tests, NULL, NULL);
}
