/* Batched, prefix-shared generation with a KV cache.
 *
 * Each prompt is prefilled once and its keys/values are stored once; its G samples
 * attend to that shared prompt range plus their own continuation range, so nothing is
 * recomputed or copied G times. Sequences finish independently (end of sequence, a stop
 * string, or max_new_tokens). Randomness is counter-based: the draw for token j of a
 * sample is a pure function of (seed, the sample's id, j), so a sample's tokens do not
 * depend on what else is in the batch. */
#ifndef GTA_MODEL_SAMPLER_H
#define GTA_MODEL_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "model/generate.h"
#include "model/model.h"
#include "text/tokenizer.h"

typedef struct {
    double temperature; /* <= 0: greedy (argmax) */
    int top_k;          /* 0: off */
    double top_p;       /* 1: off */
    double min_p;       /* 0: off */
    int max_new_tokens;
    const gta_tok *eos;
    int neos;
    const char *const *stop; /* stop strings, matched in the decoded completion (needs tok) */
    int nstop;
    const gta_tokenizer *tok;
    uint64_t seed;
    size_t memory_limit; /* bytes the plan may use; 0: what the machine has available */
    int prefill_tokens;  /* prompt tokens per prefill call (0: 8192) */
    int bf16_weights;    /* 1: decode with the weights rounded to bfloat16 (half the bytes per step); the
                            tokens and their log-probs then come from that rounded model. 0: fp32
                            panels. -1: no panels, the model's own weights as they are (no copy) */
} gta_sample_params;

typedef struct {
    gta_tok *ids; /* generated ids (an end-of-sequence token is included) */
    float *lp;  /* log-prob of each id under the distribution it was drawn from (greedy: the model's) */
    int n;
    gta_finish finish;
} gta_sample_seq;

/* Samples G continuations of each of nprompts prompts; out[p*G + g] (caller's array of
 * nprompts*G) receives sample g of prompt p. sample_ids gives each sample's RNG stream
 * (NULL: its index p*G + g). */
int gta_sample(gta_model *m, const gta_tok *const *prompts, const int *plen, int nprompts, int G,
               const uint64_t *sample_ids, const gta_sample_params *p, gta_sample_seq *out);
void gta_sample_seq_free(gta_sample_seq *s, int n);

/* The memory plan of a request, in bytes: the KV cache, the activations (act_bytes: the
 * prefill's, prefill_bytes of them, which reuse the model's inference buffers, and the
 * decode workspace), the logits, the decode panels and the draws' scratch. */
typedef struct {
    size_t kv_bytes, act_bytes, prefill_bytes, logit_bytes, pack_bytes, scratch_bytes, total;
    int cache_tokens, prefill_tokens;
} gta_sample_plan;
void gta_sample_plan_make(const gta_backend_ops *be, const gta_config *c, const int *plen, int nprompts, int G, int max_new, int prefill_tokens,
                          int bf16_weights, gta_sample_plan *plan);

/* One draw from logits[V] (host memory) with u in [0,1), on the default backend:
 * temperature, then top-k, top-p, min-p (the order transformers applies them). Returns
 * the token; *lp receives its log-prob under the filtered, renormalized distribution.
 * work is unused (the backend keeps its own). */
int gta_sample_token(const float *logits, int V, const gta_sample_params *p, double u, float *work, float *lp);

#endif
