/* Rule rewards for classification completions (SPEC.md "Completion formats and rewards",
 * paper eqs. 2-4).
 *
 * The three formats (tags are lower-case and matched byte for byte):
 *   sft   <answer>L</answer>
 *   grpo  <think>T</think><answer>L</answer>
 *   gta   <guess>L</guess><think>T</think><answer>L</answer>
 * The completion is the generated text decoded WITHOUT its end-of-sequence token (the
 * caller stops at, and drops, eos / end-of-turn).  "White space" is ASCII: space, \t, \n,
 * \v, \f, \r (so CRLF and tabs are fine).
 *
 * R_format = 1 iff the whole completion is: optional white space, then the parts of the
 * format in order, separated by optional white space, then optional white space and the
 * end; each of the format's tags appears exactly once and no other completion tag appears
 * anywhere (a <guess> in a grpo completion breaks the format); the think span is non-empty
 * after trimming white space, and so are the guess and answer spans (L is a label; an empty
 * one is not the shape).  Whether L is one of the labels does NOT matter for the format:
 * that is what the accuracy reward judges.
 *
 * R_accuracy does not require R_format (eq. 3 rewards a correct classification, and a
 * completion that answers right but, say, forgot the <think> still classified right).  It
 * requires exactly one well-formed answer: "<answer>" and "</answer>" each exactly once
 * in the whole completion, in that order, no other completion tag between them, and only
 * white space after "</answer>".  Then the answer span, normalized by gta_label_norm
 * (trimmed, inner white space folded to one space, ASCII lower-cased), must equal the gold
 * label normalized the same way -- equality, never a substring.  So several answers,
 * nested or repeated tags, an empty answer, a list of labels, or text after the answer all
 * score 0 accuracy (and the last also breaks the format).
 *
 * The guess is judged the same way (exactly one "<guess>" and one "</guess>", in order, no
 * other tag inside, normalized equality; its position is not checked) for logging only:
 * it is never part of the reward.  R = R_format + R_accuracy. */
#ifndef GTA_TRAIN_REWARD_H
#define GTA_TRAIN_REWARD_H

#include <stddef.h>
#include <stdint.h>

#include "io/dataset.h"

typedef enum { GTA_FORMAT_SFT = 0, GTA_FORMAT_GRPO = 1, GTA_FORMAT_GTA = 2 } gta_format;

/* "sft", "grpo", "gta" (GTA_EINPUT otherwise). */
int gta_format_from_name(const char *name, gta_format *out);
const char *gta_format_name(gta_format f);

typedef struct {
    int format_ok;        /* R_format */
    int answer_ok;        /* R_accuracy */
    int guess_ok;         /* guess == gold (logging only) */
    float reward;         /* format_ok + answer_ok */
    int32_t answer_label; /* id of the label the well-formed answer names; -1 when none */
    int32_t guess_label;  /* the same for the guess */
    /* Byte offsets into the completion, -1 when the tag pair is not there exactly once and
     * in order: guess_start at "<guess>", guess_end just after "</guess>" (the guess span
     * of the loss masks is [guess_start, guess_end)); answer_start at "<answer>",
     * answer_end just after "</answer>". */
    long guess_start, guess_end;
    long answer_start, answer_end;
} gta_reward;

/* Scores text[0..len) (need not be NUL-terminated) against gold (a label id; -1 when
 * unknown: accuracy is then 0). */
void gta_reward_score(gta_format fmt, const char *text, size_t len, const gta_labels *labels, int32_t gold,
                      gta_reward *out);

#endif
