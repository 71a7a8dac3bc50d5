/* Settings of gta train: defaults, JSON in and out, and the option table the CLI uses. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/json.h"
#include "train/trainer.h"

void gta_train_defaults(gta_train_cfg *c, const char *method) {
    memset(c, 0, sizeof *c);
    snprintf(c->method, sizeof c->method, "%s", method ? method : "gta");
    /* the paper, section 4.3 */
    c->group_size = 16;
    c->num_iterations = 4;
    c->beta = 0.01;
    c->epsilon = 0.2;
    c->lambda_sft = 1.0;
    c->lambda_rl = 1.0;
    c->max_prompt_tokens = 4096;
    c->epochs = 3;
    /* not given by the paper: TRL's GRPO defaults (lr 1e-6, 256 new tokens, T = 1,
     * clipping at 1.0, no weight decay), a reference refreshed every 64 steps, and TRL's
     * SFT learning rate 2e-5 for the SFT baseline */
    c->ref_sync_steps = 64;
    c->learning_rate = method && !strcmp(method, "sft") ? 2e-5 : 1e-6;
    c->warmup_ratio = 0.05;
    c->weight_decay = 0.0;
    c->max_grad_norm = 1.0;
    c->max_new_tokens = 256;
    c->temperature = 1.0;
    c->top_p = 1.0;
    snprintf(c->loss_aggregation, sizeof c->loss_aggregation, "sequence");
    c->save_steps = 50;
    c->batch_prompts = method && !strcmp(method, "sft") ? 16 : 4;
    c->adv_eps = 1e-4;
    c->eval_steps = 0;
    c->eval_limit = 200;
    snprintf(c->eval_split, sizeof c->eval_split, "validation");
    c->log_examples = 2;
    snprintf(c->prompt_style, sizeof c->prompt_style, "full");
    snprintf(c->rollout_weights, sizeof c->rollout_weights, "fp32");
    snprintf(c->compute, sizeof c->compute, "f32");
    snprintf(c->save_dtype, sizeof c->save_dtype, "auto");
    /* LoRA off; when on, PEFT's usual targets (every linear of a block) and alpha 16 */
    c->lora_r = 0;
    c->lora_alpha = 16;
    c->lora_dropout = 0;
    snprintf(c->lora_targets, sizeof c->lora_targets,
             "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj");
    snprintf(c->recompute, sizeof c->recompute, "auto");
    snprintf(c->base_dtype, sizeof c->base_dtype, "auto");
    snprintf(c->ref_dtype, sizeof c->ref_dtype, "fp32");
    snprintf(c->device, sizeof c->device, "cpu");
}

int gta_train_opts(gta_train_cfg *c, gta_train_opt *o, int max) {
    gta_train_opt all[] = {
        {"method", 's', c->method, sizeof c->method, "sft | grpo | gta | gta-rl"},
        {"model", 's', c->model, sizeof c->model, "Hugging Face model directory"},
        {"data", 's', c->data, sizeof c->data, "dataset directory (labels.txt, train.jsonl, ...)"},
        {"out", 's', c->out, sizeof c->out, "run directory"},
        {"seed", 'i', &c->seed, 0, "random seed (data order, sampling)"},
        {"steps", 'i', &c->steps, 0, "optimizer steps (0: from --epochs)"},
        {"epochs", 'd', &c->epochs, 0, "passes over the training split (when --steps is 0)"},
        {"group_size", 'i', &c->group_size, 0, "samples per prompt G"},
        {"num_iterations", 'i', &c->num_iterations, 0,
         "optimizer steps per rollout (importance-sampling reuse)"},
        {"beta", 'd', &c->beta, 0, "k3 KL weight"},
        {"epsilon", 'd', &c->epsilon, 0, "clip range of the importance ratio"},
        {"lambda_sft", 'd', &c->lambda_sft, 0, "weight of the guess cross-entropy (gta)"},
        {"lambda_rl", 'd', &c->lambda_rl, 0, "weight of the RL loss (gta)"},
        {"ref_sync_steps", 'i', &c->ref_sync_steps, 0, "reference <- policy every N optimizer steps"},
        {"learning_rate", 'd', &c->learning_rate, 0, "peak learning rate (warmup + cosine)"},
        {"warmup_ratio", 'd', &c->warmup_ratio, 0, "fraction of the steps spent warming up"},
        {"weight_decay", 'd', &c->weight_decay, 0, "AdamW decoupled weight decay"},
        {"max_grad_norm", 'd', &c->max_grad_norm, 0, "global gradient-norm clip (0: off)"},
        {"max_prompt_tokens", 'i', &c->max_prompt_tokens, 0, "input truncated so the prompt fits"},
        {"max_new_tokens", 'i', &c->max_new_tokens, 0, "completion length limit"},
        {"temperature", 'd', &c->temperature, 0, "sampling temperature of rollouts"},
        {"top_p", 'd', &c->top_p, 0, "nucleus sampling of rollouts"},
        {"loss_aggregation", 's', c->loss_aggregation, sizeof c->loss_aggregation,
         "sequence (eq. 5) | token"},
        {"save_steps", 'i', &c->save_steps, 0, "checkpoint every N optimizer steps (0: only at the end)"},
        {"batch_prompts", 'i', &c->batch_prompts, 0, "prompts per rollout (RL) / examples per step (sft)"},
        {"adv_eps", 'd', &c->adv_eps, 0, "epsilon added to the group reward std"},
        {"eval_steps", 'i', &c->eval_steps, 0, "evaluate every N steps (0: off)"},
        {"eval_limit", 'i', &c->eval_limit, 0, "examples of the eval split used"},
        {"eval_split", 's', c->eval_split, sizeof c->eval_split, "split for periodic evaluation"},
        {"system_prompt", 's', c->system_prompt, sizeof c->system_prompt, "system message (empty: none)"},
        {"prompt_style", 's', c->prompt_style, sizeof c->prompt_style,
         "full | compact (one line, for small models)"},
        {"log_examples", 'i', &c->log_examples, 0, "completions per step written to samples.jsonl"},
        {"device", 's', c->device, sizeof c->device, "cpu | cuda: the backend that computes"},
        {"rollout_weights", 's', c->rollout_weights, sizeof c->rollout_weights,
         "fp32 | bf16 | model: rollouts decode from fp32 panels, from panels rounded to bfloat16 (faster; "
         "losses stay fp32), or from the model's weights (no panel copy: less memory, slower)"},
        {"compute", 's', c->compute, sizeof c->compute,
         "f32 | bf16: the linear products in bfloat16 with fp32 sums (training, prefill, decoding; "
         "rollouts then decode from bf16 panels unless rollout_weights is model)"},
        {"save_dtype", 's', c->save_dtype, sizeof c->save_dtype,
         "auto | f32 | bf16 | f16: weights of final/ (auto: the dtype of --model's checkpoint)"},
        {"skip_nonfinite", 'i', &c->skip_nonfinite, 0,
         "1: skip and log an update with a non-finite loss or gradient (0: stop the run)"},
        {"zero", 'i', &c->zero, 0,
         "0 | 1: under mpirun/srun, 1 shards the AdamW moments over the ranks (ZeRO-1)"},
        {"lora_r", 'i', &c->lora_r, 0, "LoRA rank (0: full fine-tuning); only the adapter trains"},
        {"lora_alpha", 'd', &c->lora_alpha, 0, "LoRA alpha: the adapter is scaled by alpha / r"},
        {"lora_dropout", 'd', &c->lora_dropout, 0, "dropout on the adapters' input"},
        {"lora_targets", 's', c->lora_targets, sizeof c->lora_targets,
         "modules with an adapter (PEFT's names)"},
        {"use_rslora", 'b', &c->use_rslora, 0, "rank-stabilized scaling alpha / sqrt(r)"},
        {"adapter", 's', c->adapter, sizeof c->adapter, "PEFT adapter directory to continue training from"},
        {"recompute", 's', c->recompute, sizeof c->recompute,
         "auto | on | off: recompute activations in backward (auto: when the plan would not fit)"},
        {"ref_dtype", 's', c->ref_dtype, sizeof c->ref_dtype,
         "fp32 | bf16: full fine-tuning's reference kept in bf16 (half the memory; its log-probs from "
         "rounded weights)"},
        {"base_dtype", 's', c->base_dtype, sizeof c->base_dtype,
         "auto | fp32 | bf16: a LoRA run's frozen base in memory (auto: the checkpoint's torch_dtype)"},
    };
    int n = (int)(sizeof all / sizeof all[0]);
    if (n > max) n = max;
    memcpy(o, all, sizeof(gta_train_opt) * (size_t)n);
    return n;
}

int gta_train_cfg_apply_json(gta_train_cfg *c, const cJSON *j, const char *name) {
    if (!cJSON_IsObject(j)) return gta_err_set(GTA_EINPUT, "%s: expected a JSON object of settings", name);
    gta_train_opt o[64];
    int n = gta_train_opts(c, o, 64);
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        int k = 0;
        while (k < n && strcmp(o[k].name, it->string) != 0) k++;
        if (k == n) return gta_err_set(GTA_EINPUT, "%s: unknown setting '%s'", name, it->string);
        if (o[k].type == 's') {
            if (!cJSON_IsString(it)) return gta_err_set(GTA_EINPUT, "%s: '%s' must be a string", name, it->string);
            if (strlen(it->valuestring) >= o[k].size)
                return gta_err_set(GTA_EINPUT, "%s: '%s' is too long", name, it->string);
            snprintf(o[k].ptr, o[k].size, "%s", it->valuestring);
        } else if (o[k].type == 'b') {
            if (!cJSON_IsBool(it) && !cJSON_IsNumber(it))
                return gta_err_set(GTA_EINPUT, "%s: '%s' must be true or false", name, it->string);
            *(long long *)o[k].ptr = cJSON_IsBool(it) ? cJSON_IsTrue(it) : it->valuedouble != 0;
        } else if (o[k].type == 'i') {
            if (!cJSON_IsNumber(it) || fabs(it->valuedouble) > 9e15 ||
                it->valuedouble != floor(it->valuedouble))
                return gta_err_set(GTA_EINPUT, "%s: '%s' must be an integer", name, it->string);
            *(long long *)o[k].ptr = (long long)it->valuedouble;
        } else {
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
                return gta_err_set(GTA_EINPUT, "%s: '%s' must be a finite number", name, it->string);
            *(double *)o[k].ptr = it->valuedouble;
        }
    }
    return GTA_OK;
}

char *gta_train_cfg_to_json(const gta_train_cfg *c0) {
    gta_train_cfg c = *c0;
    gta_train_opt o[64];
    int n = gta_train_opts(&c, o, 64);
    cJSON *j = cJSON_CreateObject();
    for (int k = 0; k < n; k++) {
        if (o[k].type == 's')
            cJSON_AddStringToObject(j, o[k].name, (const char *)o[k].ptr);
        else if (o[k].type == 'i')
            cJSON_AddNumberToObject(j, o[k].name, (double)*(long long *)o[k].ptr);
        else if (o[k].type == 'b')
            cJSON_AddBoolToObject(j, o[k].name, *(long long *)o[k].ptr != 0);
        else
            cJSON_AddItemToObject(j, o[k].name, gta_json_number(*(double *)o[k].ptr)); /* exact */
    }
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}
