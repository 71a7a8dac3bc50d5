/* gta train: SFT, GRPO, GTA and GTA(RL) on a classification dataset.
 *
 * One optimizer step of the RL methods (DESIGN.md "Data flow of one GTA step"):
 *   rollout   batch_prompts prompts x group_size samples, prefix-shared (sampler.h)
 *   rewards   format + accuracy (reward.h); guess accuracy logged for gta/gta-rl
 *   batch     one tree batch per rollout: [prompt | G completions | gold-guess branch]
 *   old/ref   per-token log-probs of the policy (once per rollout) and of the reference
 *   update    num_iterations optimizer steps on the same rollout (importance ratio vs
 *             old), each: loss -> dL/dlp -> backward -> (gta: gate) -> clip -> AdamW
 *   ref sync  reference <- policy every ref_sync_steps optimizer steps
 * SFT: cross-entropy on "<answer>GOLD</answer>" + end-of-turn, batch_prompts examples a
 * step.  Defaults are the paper's (section 4.3) where it gives one; see gta_train_defaults. */
#ifndef GTA_TRAIN_TRAINER_H
#define GTA_TRAIN_TRAINER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char method[16];   /* sft | grpo | gta | gta-rl */
    char model[1024];
    char data[1024];
    char out[1024];
    long long seed;
    long long steps;   /* optimizer steps; 0: from epochs */
    double epochs;
    long long group_size;
    long long num_iterations;
    double beta, epsilon, lambda_sft, lambda_rl;
    long long ref_sync_steps;
    double learning_rate, warmup_ratio, weight_decay, max_grad_norm;
    long long max_prompt_tokens, max_new_tokens;
    double temperature, top_p;
    char loss_aggregation[16]; /* sequence | token */
    long long save_steps;
    long long batch_prompts;   /* prompts per rollout (RL) or examples per step (SFT) */
    double adv_eps;
    long long eval_steps, eval_limit;
    char eval_split[32];
    char system_prompt[1024];
    char prompt_style[16];     /* full | compact */
    long long log_examples;    /* completions written to samples.jsonl per step */
    char rollout_weights[8];   /* fp32 | bf16: weights the rollout sampler decodes with */
    char compute[8];           /* f32 | bf16: precision of the linear products (model.h's gta_compute) */
    char save_dtype[8];        /* auto | f32 | bf16 | f16: dtype of final/ (auto: the --model
                                  checkpoint's); checkpoint/ is always f32 (exact resume) */
    /* LoRA (lora_r > 0 or an adapter): only the adapter trains; checkpoint/ and final/ are
     * PEFT adapter directories */
    long long lora_r;
    double lora_alpha, lora_dropout;
    char lora_targets[128]; /* PEFT module names, comma-separated */
    long long use_rslora;   /* scaling alpha / sqrt(r) */
    char adapter[1024];     /* continue from this PEFT adapter directory */
    char recompute[8];      /* auto | on | off: activation recomputation in backward */
    char ref_dtype[8];      /* fp32 | bf16: the full fine-tuning reference's weights */
    char base_dtype[8]; /* auto | fp32 | bf16: a LoRA run's frozen base in memory (auto: the checkpoint's) */
    char device[16];           /* cpu | cuda: the backend that computes */
    long long skip_nonfinite;  /* 1: skip (and log) an update whose loss or gradient is not finite; 0: stop */
    long long zero;            /* 0 | 1: ZeRO-1, AdamW moments sharded over the ranks */
} gta_train_cfg;

void gta_train_defaults(gta_train_cfg *c, const char *method);
/* Applies a JSON object of settings (names as above). */
struct cJSON;
int gta_train_cfg_apply_json(gta_train_cfg *c, const struct cJSON *j, const char *name);
/* Every setting as a JSON object (fresh string). */
char *gta_train_cfg_to_json(const gta_train_cfg *c);
/* The option table for the CLI: name, type ('s','i','d'), pointer into c. */
typedef struct {
    const char *name;
    char type;
    void *ptr;
    size_t size;
    const char *help;
} gta_train_opt;
int gta_train_opts(gta_train_cfg *c, gta_train_opt *out, int max);

/* Runs (or, with resume, continues) a training run; progress on stderr.  stop_at > 0
 * ends the process's work after that optimizer step with a checkpoint (the run can be
 * continued with resume), e.g. for time-limited jobs. */
int gta_train_run(const gta_train_cfg *c, int resume, long long stop_at);
/* After gta_train_run: the signal (SIGINT, SIGTERM) that stopped it at a step boundary
 * with a checkpoint, or 0. */
int gta_train_stopped_by(void);

#endif
