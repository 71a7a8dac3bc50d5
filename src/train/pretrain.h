/* gta pretrain: causal-LM pretraining of a small model from scratch.
 *
 * The model is initialized from a config.json (random weights, normal(0, 0.02)), the
 * corpora (jsonl with a text field, or plain text with one document per line) are
 * tokenized once into one stream with the end-of-sequence id after each document, and
 * each step trains on batch random windows of seq+1 tokens (positions from a counter-based
 * RNG, so a run is reproducible). Warmup + cosine learning rate, AdamW, clipping at 1.
 * Writes a Hugging Face model directory (with the tokenizer files) and metrics.jsonl. */
#ifndef GTA_TRAIN_PRETRAIN_H
#define GTA_TRAIN_PRETRAIN_H

typedef struct {
    const char *model_config, *tokenizer, *out;
    const char *init; /* continue from this model directory instead of a fresh --model-config model */
    const char **corpus;
    int ncorpus;
    const char *field; /* jsonl field, default "text" */
    const char *save_dtype; /* NULL or "auto": f32 for a fresh model, --init's dtype for a further
                               stage; else f32 | bf16 | f16 */
    long long steps, batch, seq, seed, save_steps;
    long long stop_at; /* > 0: save and stop after this step (the schedule stays that of steps) */
    double learning_rate, warmup_ratio, weight_decay, holdout; /* holdout: fraction of documents for validation */
    int compute; /* model.h's gta_compute: the linear products' precision (default f32) */
} gta_pretrain_opts;

void gta_pretrain_defaults(gta_pretrain_opts *o);
int gta_pretrain_run(const gta_pretrain_opts *o);

#endif
