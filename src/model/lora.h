/* LoRA adapters as PEFT makes them: for a target linear y = x W^T the adapter adds
 * s * dropout(x) A^T B^T with A [r, in] (Kaiming-uniform, a = sqrt 5: bound 1/sqrt(in)),
 * B [out, r] (zero), s = alpha / r (alpha / sqrt r with rsLoRA). Only the adapters train;
 * the base model is frozen.
 *
 * The base stacks q/k/v into one [(H+2KV)hd, d] matrix and gate/up into one [2F, d]: an
 * adapter is per Hugging Face module, so its product lands on a row range of the stacked
 * output (q at 0, k at H*hd, v at (H+KV)*hd; gate at 0, up at F). The adapters' parameters
 * are one flat fp32 buffer with a table of PEFT's tensor names
 * (base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight ...). */
#ifndef GTA_MODEL_LORA_H
#define GTA_MODEL_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

enum {
    GTA_LORA_Q,
    GTA_LORA_K,
    GTA_LORA_V,
    GTA_LORA_O,
    GTA_LORA_GATE,
    GTA_LORA_UP,
    GTA_LORA_DOWN,
    GTA_LORA_NT
};

/* PEFT's module names: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj */
extern const char *const gta_lora_module[GTA_LORA_NT];
#define GTA_LORA_ALL ((1u << GTA_LORA_NT) - 1)

typedef struct {
    int r;
    double alpha, dropout;
    unsigned targets; /* bit k: module k */
    int rslora;
} gta_lora_cfg;

typedef struct gta_lora {
    gta_lora_cfg cfg;
    float scale;
    size_t n; /* floats of every A and B */
    float *params, *grads;
    gta_param *tensors; /* PEFT names; offsets into params */
    int n_tensors;
    float **A, **B;     /* [layer * GTA_LORA_NT + k]: NULL where k is not a target */
    uint64_t drop_seed; /* the dropout masks of training forwards (and their backward) */
    float *ws;          /* scratch: u, du [n, r] and the dropped input [n, max in] */
    size_t ws_cap;
} gta_lora;

/* "q_proj,v_proj" (PEFT's names; q, k, v, o, gate, up, down also; "all": every linear) */
int gta_lora_targets_parse(const char *list, unsigned *targets);
/* Target k's input and output widths and its first row in the stacked matrix. */
void gta_lora_shape(const gta_config *c, int k, int *in, int *out, int *row0);
size_t gta_lora_n_params(const gta_config *c, const gta_lora_cfg *lc);
/* scratch bytes of a forward/backward of n tokens (the memory plan) */
size_t gta_lora_scratch_bytes(const gta_config *c, const gta_lora_cfg *lc, int n);
float gta_lora_scale(const gta_lora_cfg *lc);

/* A fresh adapter on m, initialised as PEFT does (A from the counter-based generator with
 * seed). GTA_EINPUT for a bad configuration. */
int gta_lora_attach(gta_model *m, const gta_lora_cfg *lc, uint64_t seed);
/* dst's adapter parameters = src's (the reference's refresh) */
void gta_lora_copy(gta_model *dst, const gta_model *src);
void gta_lora_detach(gta_model *m);
/* The adapter directory: adapter_config.json and adapter_model.safetensors (dtype: an
 * st_dtype, ST_F32, ST_BF16 or ST_F16; others write f32), written atomically; base names
 * the base model in base_model_name_or_path. */
int gta_lora_save(const gta_model *m, const char *dir, const char *base, int dtype);
/* Reads an adapter directory's config (GTA_EINPUT naming the file and key when bad). */
int gta_lora_read_config(const char *dir, gta_lora_cfg *lc);
/* Attaches the adapter of dir to m (its config and tensors; names and shapes checked). */
int gta_lora_load(gta_model *m, const char *dir);
/* Folds the adapter into the base weights, W += s B A, and detaches it (an fp32 base;
 * GTA_EFAIL for a bf16 one). */
int gta_lora_merge(gta_model *m);

/* The forward's and backward's adapter terms for target k of layer l (model_int.h's
 * callers): y[:, row0 ..) (+)= s drop(x) A^T B^T over rows of ldy; backward from dy
 * (rows of ldy) into dx (+=, rows of in) and the adapter's gradients. drop: the training
 * forward's masks. */
void gta_lora_forward(gta_model *m, int l, int k, float *y, int ldy, const float *x, int n, int drop);
void gta_lora_backward(gta_model *m, int l, int k, const float *dy, int ldy, const float *x, float *dx,
                       int n);

#endif
