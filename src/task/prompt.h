/* Prompts for classification: the instruction (task, label list, completion format of the
 * method), rendered with the model's chat template, encoded, and truncated to fit.
 *
 * Decisions:
 *  - Messages: an optional system message (opts.system; NULL = none, so a template's own
 *    default applies, e.g. Qwen2.5's "You are Qwen, ...") and one user message:
 *    the task, the labels one per line ("- name"), the format to write with a sentence
 *    on each part (after the paper's Figure 1: guess first, then reasoning about the text
 *    and the guess, then the final answer, which may differ from the guess), and last the
 *    input text after "Text:".  See gta_prompt_user_message.
 *  - Rendering: gta_chat_render with add_generation_prompt = 1.  For Qwen3,
 *    enable_thinking = false: we ask for our own <think> tags in the answer, and Qwen3's
 *    native thinking block would be a second, competing one (the template then writes an
 *    empty "<think>\n\n</think>\n\n" into the generation prompt, as transformers does).
 *    Llama 3.2's template prints a date: we pass a fixed one (opts.date_string, default
 *    "26 Jul 2024", the template's own fallback) so prompts, and so training runs, do not
 *    depend on the day.
 *  - No chat template (e.g. stories260K): the plain template
 *        "System: <system>\n" (only with a system message) "User: <content>\nAssistant:"
 *  - Encoding: a chat-template rendering is encoded WITHOUT post-processor special tokens
 *    (add_special = 0), as apply_chat_template(tokenize=True) does -- the template text
 *    already holds e.g. <|begin_of_text|>; special tokens written in the text (the
 *    template's, and, as in HF, any in the input text) are recognized.  The plain template
 *    is encoded WITH them (add_special = 1) so that a Llama-2-style model gets its BOS.
 *  - Truncation: only the input text is shortened.  When the whole prompt exceeds
 *    max_prompt_tokens, the input is encoded alone and the largest token prefix whose
 *    decoded text makes the full rendered prompt fit is found by binary search (each probe
 *    renders and encodes the whole prompt, so the result is exact: ids.n <=
 *    max_prompt_tokens always holds); a U+FFFD left by a cut inside a character and
 *    white space at the cut are dropped.  GTA_EINPUT when even an empty input does not
 *    fit.  Cost: about log2(input tokens) encodes of the whole prompt, only for inputs
 *    that do not fit.
 *  - Targets: the end of a turn is the template's end-of-turn token -- <|im_end|> for
 *    Qwen / ChatML, <|eot_id|> for Llama 3 -- else the tokenizer's eos (gta_prompt_end_id).
 *    The SFT target is the ids of "<answer>GOLD</answer>" followed by that id; the GTA
 *    gold-guess branch is the ids of "<guess>GOLD</guess>" alone (the model continues
 *    from there).  Both are encoded on their own (add_special = 0) as continuations of
 *    the prompt; for the chat templates the prompt ends in "\n", a pre-token boundary,
 *    so this equals the tokens of prompt+target. */
#ifndef GTA_TRAIN_PROMPT_H
#define GTA_TRAIN_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include "io/dataset.h"
#include "task/reward.h"
#include "text/tokenizer.h"

typedef struct {
    gta_format format;       /* the completion format the prompt asks for */
    int max_prompt_tokens;   /* 0: no limit */
    const char *system;      /* NULL: no system message */
    const char *task;        /* NULL: "Classify the text below into exactly one of these labels:" */
    const char *date_string; /* NULL: "26 Jul 2024" (Llama 3.2 template) */
    int compact;             /* short instructions for small models with short contexts:
                                "Labels:\na\nb c\nAnswer as <answer>label</answer>.\nText: ..."
                                Each label starts a line, as in the answer after <answer>, so a
                                byte-level BPE gives it the same tokens in both places (after
                                ", " it would get its space-prefixed tokens instead): a small
                                model can copy it. */
} gta_prompt_opts;

typedef struct {
    char *text;         /* the rendered prompt (with the possibly truncated input) */
    gta_ids ids;        /* its ids; ids.n <= max_prompt_tokens when a limit is set */
    int truncated;      /* the input text was shortened */
    size_t input_bytes; /* bytes of input text in the prompt */
} gta_prompt;

/* The user message for input[0..len) (fresh string). */
char *gta_prompt_user_message(const gta_prompt_opts *o, const gta_labels *labels, const char *input,
                              size_t len);
/* The rendered prompt text, without truncation (fresh string in *text). */
int gta_prompt_render(const gta_tokenizer *tok, const gta_prompt_opts *o, const gta_labels *labels,
                      const char *input, size_t len, char **text);
/* Renders, encodes and (when needed) truncates.  Release with gta_prompt_free. */
int gta_prompt_build(gta_tokenizer *tok, const gta_prompt_opts *o, const gta_labels *labels,
                     const char *input, size_t len, gta_prompt *out);
void gta_prompt_free(gta_prompt *p);

/* End-of-turn id (see above); -1 when the tokenizer has none. */
gta_tok gta_prompt_end_id(const gta_tokenizer *tok);
/* Appends the ids of "<answer>GOLD</answer>" and the end-of-turn id (when there is one). */
int gta_prompt_sft_target(gta_tokenizer *tok, const char *gold, gta_ids *out);
/* Appends the ids of "<guess>GOLD</guess>". */
int gta_prompt_guess_branch(gta_tokenizer *tok, const char *gold, gta_ids *out);

#endif
