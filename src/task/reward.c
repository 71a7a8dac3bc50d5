/* Rule rewards: see reward.h for the exact grammar and the accuracy rule. */
#include "task/reward.h"

#include <string.h>

#include "base/error.h"

enum { T_GUESS, T_GUESS_END, T_THINK, T_THINK_END, T_ANSWER, T_ANSWER_END, N_TAGS };
static const char *const tags[N_TAGS] = {"<guess>",  "</guess>", "<think>",
                                         "</think>", "<answer>", "</answer>"};
static const size_t tag_len[N_TAGS] = {7, 8, 7, 8, 8, 9};

int gta_format_from_name(const char *name, gta_format *out) {
    static const char *const names[] = {"sft", "grpo", "gta"};
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (gta_format)i;
            return GTA_OK;
        }
    return gta_err_set(GTA_EINPUT, "unknown completion format '%s' (expected sft, grpo or gta)",
                       name ? name : "");
}

const char *gta_format_name(gta_format f) {
    switch (f) {
    case GTA_FORMAT_SFT:
        return "sft";
    case GTA_FORMAT_GRPO:
        return "grpo";
    case GTA_FORMAT_GTA:
        return "gta";
    }
    return "?";
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static size_t skip_ws(const char *s, size_t len, size_t p) {
    while (p < len && is_ws(s[p])) p++;
    return p;
}

static int blank(const char *s, size_t a, size_t b) { return skip_ws(s, b, a) == b; }

static int has_tag(const char *s, size_t a, size_t b) {
    for (int t = 0; t < N_TAGS; t++)
        if (b > a && memmem(s + a, b - a, tags[t], tag_len[t])) return 1;
    return 0;
}

/* Tag t exactly at p? */
static int at(const char *s, size_t len, size_t p, int t) {
    return len - p >= tag_len[t] && memcmp(s + p, tags[t], tag_len[t]) == 0;
}

/* One part "<tag>content</tag>" at *p: content free of tags and not blank.  Advances *p past
 * the close tag and the white space after it. */
static int part(const char *s, size_t len, size_t *p, int open) {
    if (!at(s, len, *p, open)) return 0;
    size_t a = *p + tag_len[open];
    const char *c = memmem(s + a, len - a, tags[open + 1], tag_len[open + 1]);
    if (!c) return 0;
    size_t b = (size_t)(c - s);
    if (has_tag(s, a, b) || blank(s, a, b)) return 0;
    *p = skip_ws(s, len, b + tag_len[open + 1]);
    return 1;
}

static int format_ok(gta_format fmt, const char *s, size_t len) {
    size_t p = skip_ws(s, len, 0);
    if (fmt == GTA_FORMAT_GTA && !part(s, len, &p, T_GUESS)) return 0;
    if (fmt != GTA_FORMAT_SFT && !part(s, len, &p, T_THINK)) return 0;
    if (!part(s, len, &p, T_ANSWER)) return 0;
    return p == len;
}

/* The unique, ordered pair of tag `open`: offsets of the open tag and of the close tag.
 * 0 when either tag is missing or repeated, or close comes first. */
static int unique_pair(const char *s, size_t len, int open, size_t *o, size_t *c) {
    const char *po = memmem(s, len, tags[open], tag_len[open]);
    const char *pc = memmem(s, len, tags[open + 1], tag_len[open + 1]);
    if (!po || !pc || pc < po) return 0;
    size_t oo = (size_t)(po - s), cc = (size_t)(pc - s);
    if (memmem(s + oo + 1, len - oo - 1, tags[open], tag_len[open])) return 0;
    if (memmem(s + cc + 1, len - cc - 1, tags[open + 1], tag_len[open + 1])) return 0;
    if (cc < oo + tag_len[open]) return 0; /* cannot overlap with these tags, kept for safety */
    *o = oo;
    *c = cc;
    return 1;
}

void gta_reward_score(gta_format fmt, const char *text, size_t len, const gta_labels *labels, int32_t gold,
                      gta_reward *out) {
    memset(out, 0, sizeof *out);
    out->answer_label = out->guess_label = -1;
    out->guess_start = out->guess_end = out->answer_start = out->answer_end = -1;
    if (!text) len = 0;
    const char *s = text ? text : "";

    out->format_ok = format_ok(fmt, s, len);

    size_t o, c;
    if (unique_pair(s, len, T_ANSWER, &o, &c)) {
        size_t a = o + tag_len[T_ANSWER], e = c + tag_len[T_ANSWER_END];
        out->answer_start = (long)o;
        out->answer_end = (long)e;
        if (!has_tag(s, a, c) && blank(s, e, len) && labels)
            out->answer_label = gta_labels_find_norm(labels, s + a, c - a);
    }
    if (unique_pair(s, len, T_GUESS, &o, &c)) {
        size_t a = o + tag_len[T_GUESS];
        out->guess_start = (long)o;
        out->guess_end = (long)(c + tag_len[T_GUESS_END]);
        if (!has_tag(s, a, c) && labels) out->guess_label = gta_labels_find_norm(labels, s + a, c - a);
    }
    out->answer_ok = gold >= 0 && out->answer_label == gold;
    out->guess_ok = gold >= 0 && out->guess_label == gold;
    out->reward = (float)(out->format_ok + out->answer_ok);
}
