/* gta predict: labels for unlabelled texts from a trained model (SPEC-facing description in
 * docs/predict.md).
 *
 * Inputs (gta_predict_read): JSON Lines (one object per line with a string field, "text"
 * by default; other keys ignored; blank lines skipped) or CSV (RFC 4180: a header naming
 * the field's column, quoted fields with commas, doubled quotes and line breaks, LF or
 * CRLF, every record with the header's number of fields; blank lines skipped).  The text
 * must be valid UTF-8 without NUL characters; a UTF-8 BOM at the start is skipped; a file
 * without any record is an error.  Every input error is GTA_EINPUT "name:line: what"
 * (name is the path, or "<stdin>").  Everything is read and checked before any prediction
 * is made, so a bad line stops the command before it writes anything.
 *
 * Prediction (gta_predict_batch): the prompt of each text is the training prompt of the
 * task (gta_prompt_build with the format, prompt style, limit and system message of the
 * model's gta_task.json), decoded greedily as gta eval does (end of turn, eos, the stop
 * string "</answer>" or max_new_tokens).  The completion (without its end token) is parsed
 * with gta_reward_score: label = the label the well-formed answer names (-1: none), guess
 * likewise (gta format), think = the text between the one "<think>" and the one "</think>"
 * when both are there once and in that order (NULL otherwise), format_ok = R_format.
 *
 * Scores (o->scores): for each label L, the probability of the continuation
 * "<answer>L</answer>" after the prompt and the model's own greedy completion up to its
 * first "<answer>" (the whole completion when there is none), normalised over the label
 * set:  s_L = exp(sum of the log-probs of the continuation's tokens) / sum over labels.
 * The prefix is the prompt's tokens and the generated tokens that end at or before the
 * "<answer>" (the model's own tokens, not a re-encoding); the continuation is encoded on
 * its own (add_special 0), starting with any generated text between the last such token
 * boundary and "<answer>" (none in the usual case), exactly as the trainer encodes its
 * targets.  One tree batch per call: per text the shared prefix and one child segment per
 * label, so the prefix is computed once.  The argmax of s is the greedy answer whenever
 * greedy decoding wrote "<answer>L</answer>" with the tokens of that encoding and no other
 * continuation is more probable as a whole than the greedy path (up to ties). */
#ifndef GTA_EVAL_PREDICT_H
#define GTA_EVAL_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "io/dataset.h"
#include "model/generate.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "task/reward.h"

typedef struct {
    char *text;
    size_t len;
    int line; /* 1-based line where the record starts */
} gta_predict_input;

typedef struct {
    gta_predict_input *x;
    size_t n;
    char *name; /* path or "<stdin>" */
} gta_predict_inputs;

/* Reads path ("-": standard input) as csv when csv is set, else JSON Lines. */
int gta_predict_read(const char *path, const char *field, int csv, gta_predict_inputs *out);
/* The same from a buffer (name for messages). */
int gta_predict_parse(const char *name, const char *buf, size_t len, const char *field, int csv,
                      gta_predict_inputs *out);
void gta_predict_inputs_free(gta_predict_inputs *in);

typedef struct {
    gta_format format;
    int compact;
    int max_prompt_tokens; /* 0: no limit */
    const char *system;    /* NULL: none */
    int max_new_tokens;    /* default 256 */
    int scores;            /* compute the label distribution */
    const gta_tok *eos;    /* the end ids (gta_eos_ids); NULL/0: gta_eos_ids without a model dir */
    int neos;
    size_t memory_limit; /* sampler plan; 0: what the machine has */
} gta_predict_opts;

void gta_predict_opts_default(gta_predict_opts *o);

typedef struct {
    int32_t label, guess; /* label ids; -1 when the completion names none */
    char *think;          /* NULL when there is no single think span */
    char *completion;
    gta_finish finish;
    int format_ok;
    int truncated;  /* the input was shortened to fit max_prompt_tokens */
    double *scores; /* [labels->n] summing to 1, or NULL */
} gta_prediction;

/* Predicts texts[0..n) (lens bytes each) in one sampler call and (with scores) one tree
 * batch; out[0..n) receives the results (release with gta_prediction_free). */
int gta_predict_batch(gta_model *m, gta_tokenizer *tok, const gta_labels *labels, const gta_predict_opts *o,
                      const char *const *texts, const size_t *lens, int n, gta_prediction *out);
void gta_prediction_free(gta_prediction *p);

/* The output object of one prediction (SPEC-facing fields, see docs/predict.md). */
struct cJSON;
struct cJSON *gta_prediction_json(const gta_prediction *p, const gta_labels *labels, gta_format format,
                                  int line);

#endif
