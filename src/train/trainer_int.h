/* Internals shared by the trainer's files: trainer.c (setup, the loop, metrics), rollout.c
 * (rollout building and its reload), step.c (one optimizer step), checkpoint.c (saving a
 * model directory and a checkpoint). Not a public interface: the whole-step benchmark
 * (src/bench/bench_step.c) is its one user outside src/train, so that it times the
 * trainer's own code. */
#ifndef GTA_TRAIN_TRAINER_INT_H
#define GTA_TRAIN_TRAINER_INT_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "train/trainer.h"

#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "comm/comm.h"
#include "io/dataset.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/sampler.h"
#include "task/eos.h"
#include "task/prompt.h"
#include "task/reward.h"
#include "text/tokenizer.h"
#include "train/objective.h"
#include "train/optim.h"
#include "train/state.h"

enum { M_SFT, M_GRPO, M_GTA, M_GTARL };

/* One rollout, as a tree batch plus the fixed per-pair data of the objective. Kept across
 * the num_iterations optimizer steps that reuse it (and saved with a checkpoint taken
 * between them). */
typedef struct {
    int n, nseg, nlp, nseq;
    gta_tok *ids, *lp_target;
    int *pos, *seg_start, *seg_len, *seg_parent, *lp_row;
    int32_t *seq;
    uint8_t *rl_mask, *sft_mask;
    float *old_lp, *ref_lp, *seq_adv, *w_rl, *adv, *w_sft;
    /* statistics of the rollout, logged with each of its steps */
    double reward, reward_format, reward_accuracy, guess_accuracy, frac_zero_std, completion_tokens_mean;
    double sample_seconds;
    int valid;
    /* old_lp (and ref_lp, where it is a copy of them) are still to come: they are the
     * log-probs of the first update's forward (ro_logps, optimizer_step) */
    int lp_pending;
} rollout;

typedef struct {
    gta_train_cfg cfg;
    int method;
    gta_format fmt;
    gta_model *policy, *ref; /* under LoRA the reference shares the policy's base, its own adapter copy */
    int lora;                /* an adapter trains, the base is frozen */
    gta_lora_cfg lora_cfg;   /* of a fresh adapter (lora_r > 0, no --adapter) */
    int base16;              /* the frozen base is kept in bf16 */
    gta_comm *comm; /* the ranks of a data-parallel run (gta_comm_single: one process) */
    const gta_backend_ops *be;
    gta_tokenizer *tok;
    gta_dataset ds;
    gta_adamw opt;
    float *g_sft;
    gta_ids *prompt_ids, *target_ids; /* per train example, built on first use */
    gta_prompt_opts popts;
    gta_tok eos[GTA_EOS_MAX];
    int neos;
    long long total_steps, step, cursor;
    rollout ro;
    FILE *metrics, *samples, *evals;
    gta_split eval_split;
    char *run_dir;
    double t0;
    int final_dtype;     /* st_dtype of final/ (cfg.save_dtype resolved) */
    size_t plan_moments; /* the memory plan's AdamW bytes on this rank */
} trainer;

typedef struct {
    double loss, loss_sft, loss_rl, kl, clip_frac, cos, conflict, grad_norm, lr, seconds;
    int tokens, skipped;
} step_stats;

/* rollout.c */
void ro_free(rollout *r);
gta_batch ro_batch(const rollout *r);
size_t example_at(const trainer *t, long long k);
int prompt_of(trainer *t, size_t i);
int build_rollout(trainer *t, long long rollout_index);
/* build_rollout's two halves after sampling and rewards (also driven by src/bench/bench_step.c) */
int ro_assemble(trainer *t, const gta_tok *const *prompts, const int *plen, int P, int G,
                const gta_sample_seq *smp, const gta_ids *const *guess, const int *nguess);
int ro_logps(trainer *t, double *old_s, double *ref_s);
int build_sft_batch(trainer *t);
int load_rollout(trainer *t, const char *dir, const gta_train_state *stats);

/* step.c */
double lr_at(const trainer *t, long long step);
int optimizer_step(trainer *t, step_stats *st);
/* GTA_EFAIL naming the first tensor with a non-finite weight (when: what the check follows), or GTA_OK */
int check_weights(const gta_model *m, const char *when, long long step);

/* checkpoint.c */
int save_model_dir(trainer *t, const char *dir, int final);
int resolve_save_dtype(trainer *t);
int save_checkpoint(trainer *t);
int load_f32(gta_model *m, const char *path, const char *name, float *dst, size_t n);
int load_f32_slice(gta_model *m, const char *path, const char *name, float *dst, size_t n, size_t at,
                   size_t n_dst);
/* a bf16 reference (--ref-dtype bf16) from reference.safetensors: w16 (bf16) and small */
int load_ref_bf16(gta_model *ref, const char *path);
/* the reference's refresh: its adapter (LoRA) or its weights <- the policy's */
void ref_sync(trainer *t);

#endif
