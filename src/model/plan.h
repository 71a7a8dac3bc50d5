/* One memory plan: a table of every buffer that a run's models, training step and sampling
 * calls need (in the manner of llm.c's activation TensorSpec), made from the config and
 * the batch shape before anything large is allocated. The sizes come from the functions
 * the allocations use (gta_model_n_params, gta_model_act_bytes, gta_model_infer_bytes,
 * the backend's scratch_bytes, gta_sample_plan_make), so what is printed is what is
 * allocated, each buffer once. */
#ifndef GTA_MODEL_PLAN_H
#define GTA_MODEL_PLAN_H

#include <stddef.h>

#include "backend/backend.h"
#include "model/config.h"
#include "model/lora.h"

typedef struct {
    char name[48];
    char detail[80];
    size_t bytes;
} gta_plan_item;

typedef struct {
    gta_plan_item item[32];
    int n;
} gta_plan;

void gta_plan_add(gta_plan *p, const char *name, size_t bytes, const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));
size_t gta_plan_total(const gta_plan *p);
/* Prints the plan (one line per buffer, then the total against avail) to stderr, prefixed
 * by who; GTA_EINPUT with the total, the largest buffers and advice when it exceeds avail. */
int gta_plan_check(const gta_plan *p, const char *who, size_t avail, const char *advice);

/* Items of a model on be: its weights ("<role> weights"); with train also its gradients
 * and the AdamW moments. */
void gta_plan_model(gta_plan *p, const gta_config *c, const char *role, int train);
/* A model's weights only (a reference), fp32 or with its matrices in bf16 */
void gta_plan_model_dtype(gta_plan *p, const gta_config *c, const char *role, int bf16);
/* A LoRA run's frozen base (fp32, or bf16 matrices) and its adapter's weights, gradients
 * and AdamW moments (model/lora.h) */
void gta_plan_lora(gta_plan *p, const gta_config *c, const gta_lora_cfg *lc, int bf16);
/* Items of a forward of n tokens with nlp log-prob pairs on a model of its own context:
 * GTA_PLAN_TRAIN keeps every layer's activations and the backward's scratch,
 * GTA_PLAN_RECOMPUTE every layer's input and one layer's activations (recomputed in
 * backward) and the same scratch; 0 one layer's buffers (the reference model, old
 * log-probs, prefill). */
enum { GTA_PLAN_INFER = 0, GTA_PLAN_TRAIN = 1, GTA_PLAN_RECOMPUTE = 2 };
void gta_plan_forward(gta_plan *p, const gta_backend_ops *be, const gta_config *c, const char *role, int n, int nlp,
                      int train);

#endif
