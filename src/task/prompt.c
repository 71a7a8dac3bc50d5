/* Prompt building and truncation: see prompt.h for the decisions. */
#include "task/prompt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/str.h"

static const char *format_text(gta_format f) {
    switch (f) {
    case GTA_FORMAT_SFT:
        return "Respond in exactly this format:\n"
               "<answer>label</answer>\n"
               "Write only the label inside <answer></answer>, with nothing before or after it.";
    case GTA_FORMAT_GRPO:
        return "Respond in exactly this format:\n"
               "<think>reasoning</think><answer>label</answer>\n"
               "First reason step by step about the text inside <think></think>. "
               "Then write the label inside <answer></answer>, and nothing after it.";
    case GTA_FORMAT_GTA:
        return "Respond in exactly this format:\n"
               "<guess>label</guess><think>reasoning</think><answer>label</answer>\n"
               "First write your quick, intuitive guess of the label inside <guess></guess>. "
               "Then reason step by step about the text and your guess inside <think></think>. "
               "Finally write your final label inside <answer></answer>; it may differ from the guess. "
               "Write nothing after </answer>.";
    }
    return "";
}

static const char *compact_format(gta_format f) {
    return f == GTA_FORMAT_SFT    ? "<answer>label</answer>"
           : f == GTA_FORMAT_GRPO ? "<think>reasoning</think><answer>label</answer>"
                                  : "<guess>label</guess><think>reasoning</think><answer>label</answer>";
}

char *gta_prompt_user_message(const gta_prompt_opts *o, const gta_labels *labels, const char *input,
                              size_t len) {
    gta_str b = {0};
    if (o->compact) {
        gta_str_puts(&b, "Labels:\n");
        for (size_t i = 0; i < labels->n; i++) {
            gta_str_puts(&b, labels->names[i]);
            gta_str_puts(&b, "\n");
        }
        gta_str_puts(&b, "Answer as ");
        gta_str_puts(&b, compact_format(o->format));
        gta_str_puts(&b, ".\nText: ");
        gta_str_putn(&b, input, len);
        return b.s;
    }
    gta_str_puts(&b, o->task ? o->task : "Classify the text below into exactly one of these labels:");
    gta_str_puts(&b, "\n");
    for (size_t i = 0; i < labels->n; i++) {
        gta_str_puts(&b, "- ");
        gta_str_puts(&b, labels->names[i]);
        gta_str_puts(&b, "\n");
    }
    gta_str_puts(&b, "\n");
    gta_str_puts(&b, format_text(o->format));
    gta_str_puts(&b, " Each label must be written exactly as listed above.\n\nText:\n");
    gta_str_putn(&b, input, len);
    return b.s;
}

int gta_prompt_render(const gta_tokenizer *tok, const gta_prompt_opts *o, const gta_labels *labels,
                      const char *input, size_t len, char **text) {
    *text = NULL;
    char *user = gta_prompt_user_message(o, labels, input, len);
    gta_chat_family fam = gta_tokenizer_chat_family(tok);
    int rc = GTA_OK;
    if (fam == GTA_CHAT_NONE) {
        gta_str b = {0};
        if (o->system) gta_str_puts(&b, "System: "), gta_str_puts(&b, o->system), gta_str_puts(&b, "\n");
        gta_str_puts(&b, "User: ");
        gta_str_puts(&b, user);
        gta_str_puts(&b, "\nAssistant:");
        *text = b.s;
    } else {
        gta_chat_message msgs[2];
        size_t n = 0;
        if (o->system) msgs[n++] = (gta_chat_message){"system", o->system, NULL};
        msgs[n++] = (gta_chat_message){"user", user, NULL};
        gta_chat_options co = {1, fam == GTA_CHAT_QWEN3 ? 0 : -1,
                               o->date_string ? o->date_string : "26 Jul 2024"};
        rc = gta_chat_render(tok, msgs, n, &co, text);
    }
    free(user);
    return rc;
}

void gta_prompt_free(gta_prompt *p) {
    if (!p) return;
    free(p->text);
    gta_ids_free(&p->ids);
    memset(p, 0, sizeof *p);
}

/* Renders input[0..len) and encodes it into a fresh prompt. */
static int render_encode(gta_tokenizer *tok, const gta_prompt_opts *o, const gta_labels *labels,
                         const char *input, size_t len, gta_prompt *out) {
    memset(out, 0, sizeof *out);
    int rc = gta_prompt_render(tok, o, labels, input, len, &out->text);
    if (rc == GTA_OK) {
        int add_special = gta_tokenizer_chat_family(tok) == GTA_CHAT_NONE;
        rc = gta_tokenizer_encode(tok, out->text, strlen(out->text), add_special, &out->ids);
    }
    out->input_bytes = len;
    if (rc) gta_prompt_free(out);
    return rc;
}

/* The text of the first k ids of the input, without a trailing U+FFFD that only a cut
 * inside a character produced, and without trailing white space. */
static int prefix_text(gta_tokenizer *tok, const gta_ids *t, size_t k, const char *input, size_t len,
                       char **s, size_t *n) {
    int rc = gta_tokenizer_decode(tok, t->ids, k, 0, s, n);
    if (rc) return rc;
    while (*n >= 3 && memcmp(*s + *n - 3, "\xEF\xBF\xBD", 3) == 0 &&
           !(*n <= len && memcmp(*s, input, *n) == 0)) {
        *n -= 3;
        (*s)[*n] = 0;
    }
    /* white space at a cut is worth nothing, and Llama 3's template would trim it anyway
     * (input_bytes must count what the prompt really holds) */
    while (*n > 0 && strchr(" \t\n\r\v\f", (*s)[*n - 1])) (*s)[--*n] = 0;
    return GTA_OK;
}

int gta_prompt_build(gta_tokenizer *tok, const gta_prompt_opts *o, const gta_labels *labels,
                     const char *input, size_t len, gta_prompt *out) {
    int rc = render_encode(tok, o, labels, input, len, out);
    if (rc) return rc;
    size_t max = o->max_prompt_tokens > 0 ? (size_t)o->max_prompt_tokens : 0;
    if (!max || out->ids.n <= max) return GTA_OK;
    gta_prompt_free(out);

    gta_prompt best;
    if ((rc = render_encode(tok, o, labels, "", 0, &best))) return rc;
    if (best.ids.n > max) {
        size_t need = best.ids.n;
        gta_prompt_free(&best);
        return gta_err_set(
            GTA_EINPUT, "the prompt's instructions alone take %zu tokens, more than max_prompt_tokens = %zu",
            need, max);
    }
    gta_ids t = {0};
    if ((rc = gta_tokenizer_encode(tok, input, len, 0, &t))) {
        gta_prompt_free(&best);
        return rc;
    }
    /* lo: verified to fit (best holds it); hi: known not to fit (the whole input does not) */
    size_t lo = 0, hi = t.n;
    while (hi - lo > 1 && rc == GTA_OK) {
        size_t mid = lo + (hi - lo) / 2;
        char *s;
        size_t n;
        if ((rc = prefix_text(tok, &t, mid, input, len, &s, &n))) break;
        gta_prompt cand;
        rc = render_encode(tok, o, labels, s, n, &cand);
        free(s);
        if (rc) break;
        if (cand.ids.n <= max) {
            gta_prompt_free(&best);
            best = cand;
            lo = mid;
        } else {
            gta_prompt_free(&cand);
            hi = mid;
        }
    }
    gta_ids_free(&t);
    if (rc) {
        gta_prompt_free(&best);
        return rc;
    }
    best.truncated = 1;
    *out = best;
    return GTA_OK;
}

gta_tok gta_prompt_end_id(const gta_tokenizer *tok) {
    int32_t id = -1;
    switch (gta_tokenizer_chat_family(tok)) {
    case GTA_CHAT_QWEN25:
    case GTA_CHAT_QWEN3:
    case GTA_CHAT_CHATML:
        id = gta_tokenizer_token_to_id(tok, "<|im_end|>");
        break;
    case GTA_CHAT_LLAMA3:
    case GTA_CHAT_LLAMA32:
        id = gta_tokenizer_token_to_id(tok, "<|eot_id|>");
        break;
    default:
        break;
    }
    return id >= 0 ? id : gta_tokenizer_eos_id(tok);
}

static int encode_tagged(gta_tokenizer *tok, const char *tag, const char *gold, gta_ids *out) {
    gta_str b = {0};
    gta_str_puts(&b, "<"), gta_str_puts(&b, tag), gta_str_puts(&b, ">"), gta_str_puts(&b, gold);
    gta_str_puts(&b, "</"), gta_str_puts(&b, tag), gta_str_puts(&b, ">");
    int rc = gta_tokenizer_encode(tok, b.s, b.n, 0, out);
    free(b.s);
    return rc;
}

int gta_prompt_sft_target(gta_tokenizer *tok, const char *gold, gta_ids *out) {
    int rc = encode_tagged(tok, "answer", gold, out);
    if (rc) return rc;
    int32_t end = gta_prompt_end_id(tok);
    if (end >= 0) {
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 16;
            out->ids = gta_realloc(out->ids, out->cap * sizeof *out->ids);
        }
        out->ids[out->n++] = end;
    }
    return GTA_OK;
}

int gta_prompt_guess_branch(gta_tokenizer *tok, const char *gold, gta_ids *out) {
    return encode_tagged(tok, "guess", gold, out);
}
