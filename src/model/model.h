/* The transformer: weights in one flat fp32 buffer, forward and backward over tree
 * batches, per-token log-probs as the interface to every training objective.
 *
 * Parameter layout (so that fused products need no copies): per layer the q, k and v
 * projections are stacked into one [(H+2KV)*hd, d] matrix and gate/up into one [2F, d]
 * matrix; each Hugging Face tensor is a contiguous row range of those. Gradients use the
 * same layout. */
#ifndef GTA_MODEL_MODEL_H
#define GTA_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "base/types.h"
#include "model/config.h"

typedef struct {
    char name[96];   /* Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight */
    int ndim;
    int64_t shape[2];
    size_t offset;   /* into params / grads (a bf16 base: the matrices' offset into w16) */
    size_t soff;     /* a bf16 base: a 1-D tensor's offset into small */
    int decay;       /* AdamW weight decay applies (matrices, not norms or biases) */
} gta_param;

typedef struct {
    float *attn_norm, *wqkv, *bqkv, *q_norm, *k_norm, *wo, *bo;
    float *mlp_norm, *wgu, *bgu, *wd, *bd;
} gta_layer_w;

/* a layer's matrices when the (frozen) base is kept in bfloat16 */
typedef struct {
    const uint16_t *wqkv, *wo, *wgu, *wd;
} gta_layer_w16;

/* The model's buffers (params, grads, activations, panels) are backend buffers: host code
 * reaches them through gta_model_read / gta_model_write (or the backend's to_host /
 * read_begin), never by dereferencing. */
typedef struct gta_model {
    gta_config cfg;
    const gta_backend_ops *be;
    gta_ctx *ctx; /* this model's context: its stream and scratch */
    size_t n_params;
    float *params;
    float *grads; /* NULL until gta_model_alloc_grads */
    gta_param *tensors;
    int n_tensors;
    float *embed, *final_norm, *lm_head; /* lm_head == embed when tied */
    gta_layer_w *layers;
    float *inv_freq; /* [head_dim/2] */
    struct gta_acts *acts;  /* activations saved by the last training forward */
    struct gta_acts *iacts; /* one layer's buffers, reused by inference forwards */
    float *dec_ws;         /* decode-step workspace */
    size_t dec_cap;
    void *pack;            /* weights re-laid out for decoding (gta_decode_pack), or NULL */
    size_t pack_cap;
    void **pk;             /* per layer: wqkv, wo, wgu, wd panels; then lm_head */
    int pack_bf16;         /* the panels hold bfloat16 weights (uint16), not float */
    int save_dtype;        /* st_dtype gta_model_save writes: the checkpoint's (ST_F32, ST_BF16 or
                              ST_F16, see st_float_dtype) after gta_model_load, ST_F32 otherwise */
    /* LoRA (model/lora.h): with an adapter attached the base is frozen (no gradients of
     * its own) and only the adapter trains */
    struct gta_lora *lora;
    int params_borrowed; /* params belong to another model (gta_model_share) */
    int recompute;       /* training forwards keep each layer's input only; backward recomputes */
    /* A frozen base in bfloat16 (gta_model_load_bf16): the matrices (embedding, q/k/v, o,
     * gate/up, down, head) in w16 at their layout offsets, widened per product tile; the
     * norms and biases in fp32 in small. params, grads and the float matrix pointers are
     * then NULL: such a model trains only through an adapter. */
    uint16_t *w16;
    float *small;
    gta_layer_w16 *layers16;
    const uint16_t *embed16, *lm_head16;
    /* Compute precision (gta_model_set_compute). bf16: the products take the activations
     * rounded to bf16 too, from the bf16 base above or, for fp32 weights, from wb: the
     * layers' matrices and the head rounded to bf16, remade lazily once the parameters
     * changed (wb_stale), so a training step rounds the weights once per update. */
    int compute;               /* GTA_COMPUTE_F32 or GTA_COMPUTE_BF16 */
    uint16_t *wb;              /* bf16 compute over fp32 weights: the copy (NULL until the first product) */
    uint16_t **wbk;            /* per layer: wqkv, wo, wgu, wd within wb; then lm_head */
    int wb_stale;              /* the parameters changed since wb was made */
    struct gta_model *wb_from; /* gta_model_share's: the owner's copy serves (NULL unless
                                  the owner computes in bf16 too) */
} gta_model;

/* What the optimizer, the clipping and the gate run over: the adapter when one is attached,
 * else the model's parameters (the same flat layout for params and grads). */
typedef struct {
    float *params, *grads;
    size_t n;
    const gta_param *tensors;
    int n_tensors;
} gta_trainable;
gta_trainable gta_model_trainable(const gta_model *m);

/* A tree batch: n tokens in segments; a token attends to every token of its segment's
 * ancestors and causally within its segment.  The log-probs asked for are nlp pairs
 * (row, target): log p(target | everything row sees).  Pairs, not one target per row,
 * because a shared prompt's last row predicts the first token of every branch. */
typedef struct {
    int n;
    const gta_tok *ids;
    const int *pos;
    int nseg;
    const int *seg_start, *seg_len, *seg_parent;
    int nlp;
    const int *lp_row;
    const gta_tok *lp_target;
} gta_batch;

/* Loads a Hugging Face model directory (config.json + safetensors), on the CPU backend
 * or on be. */
int gta_model_load(const char *dir, gta_model **out);
int gta_model_load_on(const char *dir, const gta_backend_ops *be, gta_model **out);
/* The same with the matrices kept in bfloat16 (a frozen base for LoRA; a bf16 checkpoint's
 * values as they are, others rounded to nearest even). */
int gta_model_load_bf16(const char *dir, const gta_backend_ops *be, gta_model **out);
/* 1 when be has the ops of a model with bf16 matrices (linear_bf16, linear_dx_bf16,
 * embed_bf16, logprob_head_bf16, logprob_head_fused_bf16); a backend may leave them out */
int gta_model_bf16_supported(const gta_backend_ops *be);
/* bytes of a model's weights: fp32, or with the matrices in bf16 (the memory plan) */
size_t gta_model_weight_bytes(const gta_config *c, int bf16);
/* A model with random weights (normal(0, 0.02), norms 1, biases 0), for tests/benchmarks. */
gta_model *gta_model_init_random(const gta_config *cfg, uint64_t seed);
gta_model *gta_model_init_random_on(const gta_config *cfg, uint64_t seed, const gta_backend_ops *be);
/* Writes config.json, generation_config.json and model.safetensors into dir (created if
 * needed); every file is written atomically.  The weights are stored as m->save_dtype
 * (rounded to nearest even), so a bf16 checkpoint loaded and saved is bit-identical. */
int gta_model_save(const gta_model *m, const char *dir);
void gta_model_free(gta_model *m);
/* Phases of a training run hand back what they no longer need (the next call allocates
 * it again): release_infer frees one layer's inference activations and the decode
 * workspace (not the decode panels), release_train the training forward's saved
 * activations (a backward then needs a new forward). */
void gta_model_release_infer(gta_model *m);
void gta_model_release_train(gta_model *m);
/* parameters a model of this configuration has (the memory plan's weights) */
size_t gta_model_n_params(const gta_config *c);
/* a second model with the same configuration, backend and parameters (the reference) */
gta_model *gta_model_clone(const gta_model *m);
/* a second model over the same parameter buffer (not copied, not freed by it): the
 * reference under LoRA is the shared base plus its own adapter copy; it takes m's compute
 * precision, and in bf16 compute m's bf16 copy of the weights (no second one) */
gta_model *gta_model_share(const gta_model *m);
/* a bf16 copy of an fp32 model (the full fine-tuning reference with --ref-dtype bf16), and
 * its refresh: matrices rounded to bf16 (nearest even), norms and biases fp32 */
gta_model *gta_model_clone_bf16(const gta_model *src);
void gta_model_copy_params_bf16(gta_model *dst, const gta_model *src);
/* floats of a bf16 model's fp32 part (small) */
size_t gta_model_small_floats(const gta_model *m);
void gta_model_alloc_grads(gta_model *m);
void gta_model_zero_grads(gta_model *m);
const gta_param *gta_model_find(const gta_model *m, const char *name);
/* dst's parameters = src's (the same configuration and backend) */
void gta_model_copy_params(gta_model *dst, const gta_model *src);
/* n floats of a model buffer (params, grads or a pointer into them) to / from the host */
void gta_model_read(const gta_model *m, const float *dev, float *host, size_t n);
void gta_model_write(gta_model *m, float *dev, const float *host, size_t n);

/* Checks a batch's structure; GTA_EINPUT with a message when malformed. */
int gta_batch_check(const gta_model *m, const gta_batch *b);

/* Forward pass. lp[nlp] receives the requested log-probs; logits, when
 * non-NULL, receives all [n, V] logits (inference only). With train=1 the activations
 * are kept for gta_backward. */
int gta_forward(gta_model *m, const gta_batch *b, float *lp, float *logits, int train);
/* Backward from dL/dlp (nlp floats) of the last training forward on the same batch;
 * gradients are accumulated into m->grads. */
int gta_backward(gta_model *m, const gta_batch *b, const float *dlp);
/* Forward and backward in one pass for objectives whose dL/dlp_k depends on lp_k (and
 * fixed data) only -- cross-entropy, the clipped GRPO surrogate, k3 KL: fn receives each
 * chunk of log-probs and writes its dL/dlp; the head's logits are then computed once.
 * lp and dlp (nlp floats each) receive the values; gradients accumulate into m->grads. */
int gta_forward_backward(gta_model *m, const gta_batch *b, float *lp, float *dlp, gta_dlp_fn fn, void *ctx);
/* Bytes of activation memory a training forward of n tokens needs (every layer's saved
 * activations and the backward's scratch), and an inference forward (one layer's buffers
 * reused by every layer), for the memory plan; the backend's scratch comes on top. */
size_t gta_model_act_bytes(const gta_config *c, int n);
size_t gta_model_infer_bytes(const gta_config *c, int n);
/* the same with recomputation: every layer's input kept, one layer's activations */
size_t gta_model_act_bytes_recompute(const gta_config *c, int n);

/* ---- KV cache and incremental decoding (the sampler's engine) ---- */

/* Keys and values of cached tokens, per layer [cap][num_kv_heads * head_dim], post-RoPE. */
typedef struct {
    int cap, layers, kvdim;
    float *k, *v;
    const gta_backend_ops *be;
    gta_ctx *ctx;
} gta_kv;

typedef struct {
    int start, len;
} gta_range;

size_t gta_kv_bytes(const gta_config *c, int cap);
void gta_kv_init(gta_kv *kv, const gta_model *m, int cap); /* on m's backend */
void gta_kv_free(gta_kv *kv);

/* Forward over a tree batch that also stores every token's keys and values in kv at
 * slot[t]; writes the logits of rows[0..nrows) into logits[nrows, V] (a backend buffer,
 * as for gta_decode). */
int gta_prefill(gta_model *m, const gta_batch *b, gta_kv *kv, const int *slot, const int *rows, int nrows,
                float *logits);
/* One decoding step for B new tokens: token i (id tok[i], position pos[i]) is stored at
 * slot[i] and attends to the nr cache ranges ranges[i*nr .. i*nr+nr) (which must include
 * its own slot). Writes logits[B, V]. */
int gta_decode(gta_model *m, gta_kv *kv, int B, const gta_tok *tok, const int *pos, const int *slot,
               const gta_range *ranges, int nr, float *logits);
/* Re-lays the weights out for gta_decode (fp32 panels on AVX-512 machines, bf16 panels on
 * any; fp32 without AVX-512 decodes from the weights as they are). Call it
 * after the weights last changed and before decoding: gta_sample does. The buffer is kept
 * for the next call. */
void gta_decode_pack(gta_model *m, int bf16); /* bf16 < 0: no panels (frees them) */
size_t gta_decode_pack_bytes(const gta_backend_ops *be, const gta_config *c, int bf16);
/* Bytes a prefill of n tokens and a decode of B rows need besides weights and cache. */
size_t gta_decode_bytes(const gta_config *c, int prefill_tokens, int B);

/* ---- compute precision (compute.c) ---- */

/* f32 (the default: exact fp32 products) or bf16: the linear products of the layers and
 * of the head (forward, dx and dW, in training, prefill and decoding) take bfloat16 inputs
 * and sum in fp32; the parameters, gradients, optimizer, norms, attention, softmax and
 * log-probs stay fp32. fp32 weights are rounded once per update into a bf16 copy
 * (gta_model_compute_bytes); a bf16 base (gta_model_load_bf16) is used as it is. The
 * activations are rounded at each product's input. */
typedef enum { GTA_COMPUTE_F32, GTA_COMPUTE_BF16 } gta_compute;
/* "f32" (or "fp32") | "bf16"; GTA_EINPUT otherwise (the message names the value) */
int gta_compute_parse(const char *s, int *out);
const char *gta_compute_name(int compute);
/* GTA_EINPUT when the model's backend has no bf16 compute ops */
int gta_model_set_compute(gta_model *m, int compute);
/* The parameters changed outside gta_model_write / gta_model_copy_params / the optimizer
 * (which say so themselves): the bf16 copy is remade before the next product. */
void gta_model_params_changed(gta_model *m);
/* bytes of the bf16 weight copy of a model of this configuration with fp32 weights (0 for
 * f32) */
size_t gta_model_compute_bytes(const gta_config *c, int compute);
/* bytes of the rounded activations a bf16-compute product of n rows keeps beside its inputs
 * (the widest layer matrix's x and dy, as fp32 values: the fallback's; a bf16 GEMM keeps
 * half); 0 for f32 */
size_t gta_model_compute_scratch_bytes(const gta_config *c, int n, int compute);
/* the bf16 copy of matrix k (4 per layer: wqkv, wo, wgu, wd; then k = 4 layers: lm_head),
 * remade first when stale; NULL in f32 compute or for a bf16 base (forward.c) */
const uint16_t *gta_model_wb(gta_model *m, int k);
/* the bf16 kernel the backend runs (for benchmarks' JSON), or "none" */
const char *gta_model_compute_kernel(const gta_model *m);
/* why the backend's default bf16 kernel is the default (a sentence), or NULL */
const char *gta_model_compute_choice(const gta_model *m);

/* Convenience: B packed sequences of length T (ids[B*T]); fills a caller-owned batch
 * with positions 0..T-1 and the pairs (t, ids[t+1]) within each sequence, in order
 * (B*(T-1) of them). Free with gta_batch_free_simple. */
void gta_batch_simple(gta_batch *b, const gta_tok *ids, int B, int T);
void gta_batch_free_simple(gta_batch *b);
/* The part of a tree batch that the pairs with mask[k] != 0 depend on: the segments that
 * hold their rows and those segments' ancestors, in their order, with only those pairs
 * (in their order). A row sees only its segment and that segment's ancestors, so these
 * pairs' log-probs and gradients are those of the whole batch (e.g. the GTA step's
 * gold-guess branches with their prompts, without the G completions). Free with
 * gta_batch_free_select. */
void gta_batch_select(const gta_batch *b, const uint8_t *mask, gta_batch *out);
void gta_batch_free_select(gta_batch *b);

#endif
