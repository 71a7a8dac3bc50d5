/* Scoring a model on a dataset split (SPEC.md "`eval` output"); used by `gta eval` and by
 * the trainer's periodic evaluation.
 *
 * Each example's prompt is the training prompt for the format (gta_prompt_build), so a
 * model is scored on exactly what it was trained to answer; a base model is scored
 * zero-shot the same way.  Decoding is greedy (temperature 0) through the batched sampler,
 * o->batch prompts per gta_sample call, until an end id (o->eos, else gta_eos_ids of the
 * model and tokenizer: end of turn, config.json's eos), the stop string "</answer>", or
 * max_new_tokens.  The completion (decoded without its end token and special tokens, as
 * the trainer scores rollouts) is parsed with gta_reward_score: the prediction is the label
 * the well-formed answer names, -1 (always wrong) when there is none.
 *
 * Determinism: greedy decoding and a fixed example order make the result a function of the
 * weights, the split, the options and the batch size (batched products may round
 * differently for another batch size, which can flip a near tie).
 *
 * The result object holds the SPEC fields -- n, accuracy, f1_weighted, f1_macro,
 * format_ok_rate, guess_accuracy (gta only), per_class, confusion, labels, seconds -- and
 * the extras of gta_metrics_to_json (unparsed, macro/weighted precision and recall) plus:
 *   format, split (the split file), limit, max_new_tokens, max_prompt_tokens,
 *   truncated_prompts, finish {eos, stop, length}, completion_tokens_mean, tokens_per_s,
 *   examples [{index, line, input, gold, prediction, guess (gta), correct, format_ok,
 *              finish, completion}] -- the first n_examples of the split,
 *   guess_answer (gta only): how the answer relates to the guess (paper section 5.5):
 *     both_parsed  guess and answer each name a label
 *     same         ... the same one
 *     differs      ... different ones; differs_rate = differs / n
 *       corrected            guess wrong, answer right
 *       broken               guess right, answer wrong
 *       both_wrong_different neither right, and different
 *     guess_unparsed, answer_unparsed (a side that names no label; both may hold)
 *     examples {corrected: [...], broken: [...], both_wrong_different: [...]}: the first
 *       n_diff_examples of each kind, {index, input, gold, guess, answer, completion}. */
#ifndef GTA_EVAL_EVAL_H
#define GTA_EVAL_EVAL_H

#include <stddef.h>

#include "io/dataset.h"
#include "model/model.h"
#include "model/sampler.h"
#include "task/eos.h"
#include "task/reward.h"
#include "text/tokenizer.h"

typedef struct {
    gta_format format;     /* the completion format asked for and parsed */
    long limit;            /* the first limit examples; 0: all */
    int max_new_tokens;    /* default 256 */
    int max_prompt_tokens; /* input truncated to fit; 0: no limit */
    const char *system;    /* system message; NULL: none (as the trainer's default) */
    int compact_prompt;    /* the compact instructions of gta_prompt_opts (as the run trained with) */
    int batch;             /* prompts per gta_sample call; default 16 */
    int progress;          /* progress lines (done, rate, ETA) on stderr */
    const char *name;      /* prefix of progress lines; NULL: "eval" */
    int n_examples;        /* completions kept in "examples"; default 8 */
    int n_diff_examples;   /* per guess/answer kind; default 3 */
    int max_input_chars;   /* input text kept in an example (bytes, cut at a character); default 600 */
    const gta_tok *eos;    /* the end ids (gta_eos_ids); NULL/0: gta_eos_ids without a model dir */
    int neos;
    size_t memory_limit; /* for the sampler's plan; 0: what the machine has */
} gta_eval_opts;

void gta_eval_opts_default(gta_eval_opts *o);

/* Scores split (labels: its label set); *out receives the result object (cJSON_Delete it).
 * GTA_EINPUT for a prompt that cannot fit max_prompt_tokens or bad options; GTA_EFAIL
 * when sampling fails. */
struct cJSON;
int gta_eval_run(gta_model *m, gta_tokenizer *tok, const gta_labels *labels, const gta_split *split,
                 const gta_eval_opts *o, struct cJSON **out);

/* The greedy decoding that eval and predict share: temperature 0, the stop string
 * "</answer>", and the end ids eos[0..neos) (neos 0: gta_eos_ids without a model
 * directory). *sp points into *ends, which must outlive it. */
typedef struct {
    gta_tok eos[GTA_EOS_MAX];
    const char *stop[1];
} gta_greedy_ends;
void gta_greedy_params(const gta_model *m, const gta_tokenizer *tok, const gta_tok *eos, int neos,
                       int max_new_tokens, size_t memory_limit, gta_greedy_ends *ends, gta_sample_params *sp);

#endif
