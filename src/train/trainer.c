#include "train/trainer.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/hooks.h"
#include "base/rng.h"
#include "base/util.h"
#include "eval/eval.h"
#include "io/dataset.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/sampler.h"
#include "task/prompt.h"
#include "task/reward.h"
#include "text/tokenizer.h"
#include "train/objective.h"
#include "train/optim.h"
#include "train/state.h"
#include "train/trainer_int.h"

#include "model/plan.h"

/* ------------------------------------------------------------------ setup */

static int method_of(const char *name, int *m) {
    if (!strcmp(name, "sft"))
        *m = M_SFT;
    else if (!strcmp(name, "grpo"))
        *m = M_GRPO;
    else if (!strcmp(name, "gta"))
        *m = M_GTA;
    else if (!strcmp(name, "gta-rl"))
        *m = M_GTARL;
    else
        return gta_err_set(GTA_EINPUT, "train: --method '%s': expected sft, grpo, gta or gta-rl", name);
    return GTA_OK;
}

static int check_cfg(const gta_train_cfg *c) {
    int m = M_SFT;
    int rc = method_of(c->method, &m);
    if (rc) return rc;
    gta_loss_agg agg;
    if (gta_loss_agg_from_name(c->loss_aggregation, &agg))
        return gta_err_set(GTA_EINPUT, "train: loss_aggregation '%s': expected sequence or token",
                           c->loss_aggregation);
    if (!c->model[0] || !c->data[0] || !c->out[0])
        return gta_err_set(GTA_EINPUT, "train: --model, --data and --out are required");
    if (c->group_size < 1 || c->num_iterations < 1 || c->batch_prompts < 1 || c->max_new_tokens < 1 ||
        c->max_prompt_tokens < 1 || c->steps < 0 || !(c->epochs > 0 || c->steps > 0) ||
        !(c->learning_rate >= 0) || !(c->temperature > 0) || !(c->top_p > 0 && c->top_p <= 1) ||
        !(c->epsilon >= 0) || !(c->beta >= 0) || c->save_steps < 0 || c->ref_sync_steps < 0)
        return gta_err_set(
            GTA_EINPUT, "train: a setting is out of range (sizes >= 1, learning rate >= 0, temperature > 0, "
                        "0 < top_p <= 1, epsilon, beta >= 0)");
    if (c->zero != 0 && c->zero != 1)
        return gta_err_set(GTA_EINPUT, "train: --zero %lld: expected 0 or 1", c->zero);
    if (strcmp(c->prompt_style, "full") != 0 && strcmp(c->prompt_style, "compact") != 0)
        return gta_err_set(GTA_EINPUT, "train: prompt_style '%s': expected full or compact", c->prompt_style);
    int compute;
    if (gta_compute_parse(c->compute, &compute)) return gta_err_prefix(GTA_EINPUT, "train");
    if (strcmp(c->rollout_weights, "fp32") != 0 && strcmp(c->rollout_weights, "bf16") != 0 &&
        strcmp(c->rollout_weights, "model") != 0)
        return gta_err_set(GTA_EINPUT, "train: rollout_weights '%s': expected fp32, bf16 or model",
                           c->rollout_weights);
    st_dtype sd;
    if (strcmp(c->save_dtype, "auto") != 0 && st_dtype_from_name(c->save_dtype, &sd))
        return gta_err_set(GTA_EINPUT, "train: save_dtype '%s': expected auto, f32, bf16 or f16", c->save_dtype);
    if (strcmp(c->recompute, "auto") != 0 && strcmp(c->recompute, "on") != 0 &&
        strcmp(c->recompute, "off") != 0)
        return gta_err_set(GTA_EINPUT, "train: recompute '%s': expected auto, on or off", c->recompute);
    if (strcmp(c->base_dtype, "auto") != 0 && strcmp(c->base_dtype, "fp32") != 0 &&
        strcmp(c->base_dtype, "bf16") != 0)
        return gta_err_set(GTA_EINPUT, "train: base_dtype '%s': expected auto, fp32 or bf16", c->base_dtype);
    if (strcmp(c->ref_dtype, "fp32") != 0 && strcmp(c->ref_dtype, "bf16") != 0)
        return gta_err_set(GTA_EINPUT, "train: ref_dtype '%s': expected fp32 or bf16", c->ref_dtype);
    if (!strcmp(c->base_dtype, "bf16") && c->lora_r <= 0 && !c->adapter[0])
        return gta_err_set(
            GTA_EINPUT, "train: base_dtype bf16 keeps a frozen base: it needs LoRA (--lora-r or --adapter)");
    if (c->lora_r < 0 || c->lora_r > 65536)
        return gta_err_set(GTA_EINPUT, "train: lora_r %lld: expected 0 (off) .. 65536", c->lora_r);
    if (c->lora_r > 0) {
        gta_lora_cfg lc = {(int)c->lora_r, c->lora_alpha, c->lora_dropout, 0, (int)c->use_rslora};
        if ((rc = gta_lora_targets_parse(c->lora_targets, &lc.targets)))
            return gta_err_prefix(rc, "train: lora_targets");
        if (!(c->lora_alpha > 0) || !(c->lora_dropout >= 0 && c->lora_dropout < 1))
            return gta_err_set(GTA_EINPUT, "train: lora_alpha must be > 0 and 0 <= lora_dropout < 1");
    }
    if (m == M_GTA || m == M_GRPO || m == M_GTARL)
        if (c->group_size < 2)
            return gta_err_set(GTA_EINPUT, "train: group_size must be at least 2 for %s", c->method);
    return GTA_OK;
}

static void trainer_free(trainer *t) {
    if (t->prompt_ids)
        for (size_t i = 0; i < t->ds.train.n; i++)
            gta_ids_free(&t->prompt_ids[i]), gta_ids_free(&t->target_ids[i]);
    free(t->prompt_ids);
    free(t->target_ids);
    ro_free(&t->ro);
    gta_adamw_free(&t->opt);
    if (t->g_sft) t->policy->be->free(t->policy->ctx, t->g_sft);
    gta_model_free(t->ref); /* before the policy, whose base it may share */
    gta_model_free(t->policy);
    gta_tokenizer_free(t->tok);
    gta_dataset_free(&t->ds);
    if (t->metrics) fclose(t->metrics);
    if (t->evals) fclose(t->evals);
    gta_split_free(&t->eval_split);
    if (t->samples) fclose(t->samples);
    free(t->run_dir);
}

/* resident bytes of this process (/proc/self/statm), -1 where unknown */
static long gta_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = -1;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
        fclose(f);
    }
    return res < 0 ? -1 : res * sysconf(_SC_PAGESIZE);
}

/* The memory plan of the run, from the model's configuration and the data (the longest
 * prompt after truncation, the longest target), made before any model is loaded; the
 * buffers are allocated by the code whose sizes these are. GTA_EINPUT when it cannot fit. */
/* logits per head chunk of the reference model (the policy's: the backend's default) */
#define REF_HEAD_CHUNK ((size_t)40 << 20)

static int plan_memory(trainer *t, const gta_config *mc, int recompute, int quiet);

/* The plan with every layer's activations kept, or with recomputation (on, or auto when the
 * kept activations would not fit); sets the policy's choice in t->cfg.recompute. */
static int plan_memory_choose(trainer *t, const gta_config *mc) {
    gta_train_cfg *c = &t->cfg;
    if (!strcmp(c->recompute, "on")) return plan_memory(t, mc, 1, 0);
    if (!strcmp(c->recompute, "off")) return plan_memory(t, mc, 0, 0);
    if (plan_memory(t, mc, 0, 1) == GTA_OK) {
        snprintf(c->recompute, sizeof c->recompute, "off");
        return plan_memory(t, mc, 0, 0);
    }
    fprintf(stderr,
            "gta train: the activations of every layer would not fit; recomputing them in backward\n");
    snprintf(c->recompute, sizeof c->recompute, "on");
    return plan_memory(t, mc, 1, 0);
}

static int plan_memory(trainer *t, const gta_config *mc, int recompute, int quiet) {
    const gta_train_cfg *c = &t->cfg;
    const gta_backend_ops *be = t->be;
    /* a rank's part of the batch: the first shard is the largest */
    size_t plo, phi;
    gta_comm_shard((size_t)c->batch_prompts, t->comm->size, 0, &plo, &phi);
    long long P = (long long)(phi - plo), G = t->method == M_SFT ? 0 : c->group_size, maxp = 1, maxt = 0;
    for (size_t i = 0; i < t->ds.train.n; i++) {
        if ((long long)t->prompt_ids[i].n > maxp) maxp = (long long)t->prompt_ids[i].n;
        if ((long long)t->target_ids[i].n > maxt) maxt = (long long)t->target_ids[i].n;
    }
    /* one rollout's tree batch: P prompts, G completions each, the gold-guess branch (gta);
     * SFT: P sequences [prompt | target] */
    long long tokens = P * (maxp + G * c->max_new_tokens + maxt);
    if (tokens > (long long)1 << 30)
        return gta_err_set(GTA_EINPUT, "train: the batch shape implies %lld tokens a step", tokens);
    int n = (int)tokens, has_ref = t->method != M_SFT && c->beta > 0;
    gta_plan plan = {0};
    size_t ntrain = t->lora ? gta_lora_n_params(mc, &t->lora_cfg) : gta_model_n_params(mc);
    if (t->lora) {
        /* the frozen base, the adapter's state (under ZeRO-1 its whole moments: an upper bound) */
        gta_plan_lora(&plan, mc, &t->lora_cfg, t->base16);
    } else if (t->cfg.zero && t->comm->size > 1) {
        /* ZeRO-1: the moments of this rank's shard of the flat parameter buffer */
        size_t np = gta_model_n_params(mc), lo, hi;
        gta_comm_shard(np, t->comm->size, t->comm->rank, &lo, &hi);
        gta_plan_model(&plan, mc, "policy", 0);
        gta_plan_add(&plan, "policy gradients", sizeof(float) * np, NULL);
        gta_plan_add(&plan, "AdamW moments", 2 * sizeof(float) * (hi - lo), "ZeRO-1 shard of rank %d of %d",
                     t->comm->rank, t->comm->size);
    } else {
        gta_plan_model(&plan, mc, "policy", 1);
    }
    for (int i = 0; i < plan.n; i++)
        if (!strcmp(plan.item[i].name, "AdamW moments")) t->plan_moments = plan.item[i].bytes;
    if (t->lora) t->plan_moments = 2 * sizeof(float) * ntrain; /* within "LoRA adapter" */
    /* bf16 compute over fp32 weights: their bf16 copy (the reference under LoRA shares it) */
    int compute = GTA_COMPUTE_F32;
    gta_compute_parse(c->compute, &compute); /* checked by check_cfg */
    if (!t->base16)
        gta_plan_add(&plan, "policy bf16 weights", gta_model_compute_bytes(mc, compute),
                     "layer matrices and head, remade each update");
    if (t->method == M_GTA) gta_plan_add(&plan, "SFT gradient (the gate)", sizeof(float) * ntrain, NULL);
    if (has_ref && t->lora)
        gta_plan_add(&plan, "reference adapter", sizeof(float) * ntrain, "the base shared with the policy");
    else if (has_ref)
        gta_plan_model_dtype(&plan, mc, "reference", !strcmp(c->ref_dtype, "bf16"));
    if (has_ref && !t->lora && strcmp(c->ref_dtype, "bf16") != 0)
        gta_plan_add(&plan, "reference bf16 weights", gta_model_compute_bytes(mc, compute),
                     "remade at each reference refresh");
    gta_plan_forward(&plan, be, mc, "policy", n, n, recompute ? GTA_PLAN_RECOMPUTE : GTA_PLAN_TRAIN);
    if (t->lora)
        gta_plan_add(&plan, "LoRA scratch", gta_lora_scratch_bytes(mc, &t->lora_cfg, n), "%d tokens", n);
    gta_plan_add(&plan, "bf16 compute scratch", gta_model_compute_scratch_bytes(mc, n, compute),
                 "rounded activations, %d tokens", n);
    if (G) {
        /* old log-probs and the sampler's prefill share the policy's inference buffers */
        gta_plan_add(&plan, "policy inference activations", gta_model_infer_bytes(mc, n),
                     "%d tokens, one layer at a time", n);
        if (has_ref) {
            /* the reference computes no dW: short head chunks cost it nothing */
            gta_ctx *rc = be->ctx_new();
            be->set_head_chunk(rc, REF_HEAD_CHUNK);
            gta_plan_add(&plan, "reference activations", gta_model_infer_bytes(mc, n),
                         "%d tokens, one layer at a time", n);
            gta_plan_add(&plan, "reference backend scratch",
                         be->scratch_bytes(rc, n, n, mc->hidden_size, mc->num_kv_heads * mc->head_dim,
                                           mc->vocab_size, 0),
                         "log-prob head chunks of %zuM logits", REF_HEAD_CHUNK >> 20);
            be->ctx_free(rc);
        }
        int *pl = gta_malloc(sizeof(int) * (size_t)P);
        for (int i = 0; i < P; i++) pl[i] = (int)maxp;
        gta_sample_plan sp;
        int wmode =
            t->base16 || !strcmp(c->rollout_weights, "model") ? -1 : !strcmp(c->rollout_weights, "bf16");
        if (wmode == 0 && compute == GTA_COMPUTE_BF16) wmode = 1; /* bf16 panels (sampler.c) */
        gta_sample_plan_make(be, mc, pl, (int)P, (int)G, (int)c->max_new_tokens, 0, wmode, &sp);
        free(pl);
        gta_plan_add(&plan, "sampler KV cache", sp.kv_bytes, "%d tokens", sp.cache_tokens);
        gta_plan_add(&plan, "sampler decode workspace", sp.act_bytes - sp.prefill_bytes + sp.scratch_bytes,
                     "%lld rows", P * G);
        gta_plan_add(&plan, "sampler logits", sp.logit_bytes, NULL);
        gta_plan_add(&plan, "sampler weight panels", sp.pack_bytes, "%s",
                     wmode == 1 && !strcmp(c->rollout_weights, "fp32") ? "bf16 (compute bf16)"
                                                                       : c->rollout_weights);
    }
    if (quiet) return gta_plan_total(&plan) <= be->mem_free(NULL) ? GTA_OK : GTA_EINPUT;
    if (t->comm->rank > 0) {
        /* the same plan on every rank (rank 0 prints it); this rank's own memory checked */
        if (gta_plan_total(&plan) > be->mem_free(NULL))
            return gta_err_set(GTA_EINPUT,
                               "gta train: rank %d: the memory plan (%zu bytes) exceeds the free memory",
                               t->comm->rank, gta_plan_total(&plan));
        return GTA_OK;
    }
    if (t->comm->size > 1)
        fprintf(stderr, "gta train: %d ranks; each rank's step: up to %lld of the %lld prompts\n",
                t->comm->size, P, c->batch_prompts);
    fprintf(stderr,
            "gta train: a step: %lld prompts of up to %lld tokens, %lld samples of up to %lld new tokens\n",
            P, maxp, P * G, c->max_new_tokens);
    return gta_plan_check(&plan, "gta train", be->mem_free(NULL),
                          recompute || t->lora
                              ? "lower batch_prompts, group_size, max_prompt_tokens or max_new_tokens"
                              : "lower batch_prompts, group_size, max_prompt_tokens or max_new_tokens, "
                                "or train a LoRA adapter (--lora-r)");
}

static int setup(trainer *t, const gta_train_cfg *c, int resume) {
    memset(t, 0, sizeof *t);
    t->cfg = *c;
    int rc = check_cfg(c);
    if (rc) return rc;
    method_of(c->method, &t->method);
    if (!(t->comm = gta_comm_world())) return GTA_EINPUT;
    if (t->comm->size > c->batch_prompts)
        return gta_err_set(GTA_EINPUT,
                           "train: %d ranks need at least as many prompts a step (--batch-prompts %lld)",
                           t->comm->size, c->batch_prompts);
    if (!(t->be = gta_backend(c->device))) return gta_err_prefix(GTA_EINPUT, "train: device");
    /* before any context: each rank's device and the device collectives, where the backend has them */
    if ((rc = t->comm->bind(t->comm, t->be))) return gta_err_prefix(rc, "train");
    t->fmt = t->method == M_SFT ? GTA_FORMAT_SFT : t->method == M_GRPO ? GTA_FORMAT_GRPO : GTA_FORMAT_GTA;
    if ((rc = gta_dataset_load(c->data, 1, &t->ds))) return rc;
    if (!t->ds.train.n) return gta_err_set(GTA_EINPUT, "%s: the training split is empty", c->data);
    if ((rc = gta_tokenizer_load(c->model, &t->tok))) return rc;
    if (c->eval_steps > 0) {
        /* the periodic evaluation split: validation, falling back to test when absent */
        const char *split = c->eval_split;
        if (!strcmp(split, "validation") && !gta_split_exists(c->data, split)) {
            split = "test";
            snprintf(t->cfg.eval_split, sizeof t->cfg.eval_split, "test");
        }
        if ((rc = gta_split_load(c->data, split, &t->ds.labels, &t->eval_split))) return rc;
    }
    char *ck = gta_path_join(c->out, "checkpoint");
    /* under LoRA the checkpoint is an adapter over the run's base model */
    t->lora = c->lora_r > 0 || c->adapter[0];
    const char *src = resume && !t->lora ? ck : c->model;
    const char *adapter = resume && t->lora ? ck : c->adapter[0] ? c->adapter : NULL;
    if (t->lora && adapter) {
        rc = gta_lora_read_config(adapter, &t->lora_cfg);
        if (rc) {
            free(ck);
            return rc;
        }
    } else if (t->lora) {
        t->lora_cfg = (gta_lora_cfg){(int)c->lora_r, c->lora_alpha, c->lora_dropout, 0, (int)c->use_rslora};
        gta_lora_targets_parse(c->lora_targets, &t->lora_cfg.targets);
    }
    /* the configuration first: the memory plan is checked before any weight is loaded */
    gta_config mc;
    char *cpath = gta_path_join(src, "config.json");
    rc = gta_config_load(cpath, &mc);
    free(cpath);
    /* a LoRA run's frozen base stays in the checkpoint's dtype when that is bf16 (and the
     * backend has the ops of bf16 matrices; auto falls back to fp32 where it has not) */
    int bf16_ok = gta_model_bf16_supported(t->be);
    t->base16 = t->lora && (!strcmp(c->base_dtype, "bf16") || (!strcmp(c->base_dtype, "auto") && !rc &&
                                                               bf16_ok && !strcmp(mc.dtype, "bfloat16")));
    if (!rc && !bf16_ok &&
        (t->base16 || (!strcmp(c->ref_dtype, "bf16") && t->method != M_SFT && c->beta > 0)))
        rc = gta_err_set(
            GTA_EINPUT,
            "train: %s bf16 is not supported on --device %s (its backend keeps no bf16 weights); use fp32",
            t->base16 ? "base_dtype" : "ref_dtype", t->be->name);
    if (!rc && t->lora && !t->be->dropout && t->lora_cfg.dropout > 0)
        rc =
            gta_err_set(GTA_EINPUT, "train: lora_dropout > 0 is not supported on --device %s (no dropout op)",
                        t->be->name);
    t->popts.format = t->fmt;
    t->popts.max_prompt_tokens = (int)c->max_prompt_tokens;
    t->popts.system = c->system_prompt[0] ? c->system_prompt : NULL;
    t->popts.compact = !strcmp(c->prompt_style, "compact");
    t->prompt_ids = gta_calloc(t->ds.train.n, sizeof(gta_ids));
    t->target_ids = gta_calloc(t->ds.train.n, sizeof(gta_ids));
    /* every prompt is built before the first step: a bad example stops the run here */
    for (size_t i = 0; i < t->ds.train.n && !rc; i++) rc = prompt_of(t, i);
    if (!rc) rc = plan_memory_choose(t, &mc);
    if (!rc)
        rc = t->base16 ? gta_model_load_bf16(src, t->be, &t->policy)
                       : gta_model_load_on(src, t->be, &t->policy);
    int compute = GTA_COMPUTE_F32;
    gta_compute_parse(c->compute, &compute);                 /* checked by check_cfg */
    if (!rc) rc = gta_model_set_compute(t->policy, compute); /* the reference takes it from the policy */
    if (!rc && t->lora)
        rc = adapter ? gta_lora_load(t->policy, adapter)
                     : gta_lora_attach(t->policy, &t->lora_cfg, (uint64_t)c->seed ^ 0x4c6f5241u);
    /* the reference starts as the policy; on resume its saved weights replace these. Under
     * LoRA it is the same base with a copy of the adapter. */
    if (!rc && t->method != M_SFT && c->beta > 0) {
        if (t->lora) {
            t->ref = gta_model_share(t->policy);
            rc = gta_lora_attach(t->ref, &t->policy->lora->cfg, 0);
            if (!rc) gta_lora_copy(t->ref, t->policy);
        } else {
            t->ref =
                strcmp(c->ref_dtype, "bf16") ? gta_model_clone(t->policy) : gta_model_clone_bf16(t->policy);
        }
    }
    free(ck);
    if (rc) return rc;
    if ((rc = resolve_save_dtype(t))) return rc;
    if (t->ref) t->ref->be->set_head_chunk(t->ref->ctx, REF_HEAD_CHUNK);
    gta_model *pm = t->policy;
    pm->recompute = !strcmp(t->cfg.recompute, "on");
    gta_model_alloc_grads(pm);
    size_t ntr = gta_model_trainable(pm).n;
    if (t->method == M_GTA) t->g_sft = pm->be->alloc(pm->ctx, sizeof(float) * ntr);
    /* ZeRO-1 shards the trainable vector (the adapter under LoRA, the whole model otherwise) */
    size_t lo = 0, hi = ntr;
    if (c->zero) gta_comm_shard(ntr, t->comm->size, t->comm->rank, &lo, &hi);
    long rss0 = gta_rss_bytes();
    gta_adamw_init_shard(&t->opt, pm, c->learning_rate, c->weight_decay, lo, hi);
    if (t->comm->size > 1 && c->zero) {
        /* measured: the resident memory the (zeroed, so touched) moments took */
        long rss1 = gta_rss_bytes();
        fprintf(stderr,
                "gta train: rank %d of %d: AdamW moments of parameters [%zu, %zu) of %zu: planned %zu bytes, "
                "allocated %zu, resident %ld\n",
                t->comm->rank, t->comm->size, lo, hi, ntr, t->plan_moments, 2 * sizeof(float) * (hi - lo),
                rss0 >= 0 && rss1 >= 0 ? rss1 - rss0 : -1L);
    }
    /* end of a completion: the same set as gta eval's (rollouts and the periodic eval) */
    t->neos = gta_eos_ids(c->model, &pm->cfg, t->tok, t->eos, GTA_EOS_MAX);
    long long per_step_examples = c->batch_prompts;
    long long rollouts = (long long)ceil(c->epochs * (double)t->ds.train.n / (double)per_step_examples);
    t->total_steps = c->steps > 0 ? c->steps : rollouts * (t->method == M_SFT ? 1 : c->num_iterations);
    return GTA_OK;
}

/* ------------------------------------------------------------------ periodic evaluation */

/* greedy decoding of the first eval_limit examples of eval_split, one line of eval.jsonl */
static int periodic_eval(trainer *t) {
    gta_eval_opts o;
    gta_eval_opts_default(&o);
    o.format = t->fmt;
    o.limit = t->cfg.eval_limit;
    o.max_new_tokens = (int)t->cfg.max_new_tokens;
    o.max_prompt_tokens = (int)t->cfg.max_prompt_tokens;
    o.system = t->cfg.system_prompt[0] ? t->cfg.system_prompt : NULL;
    o.compact_prompt = t->popts.compact;
    o.eos = t->eos;
    o.neos = t->neos;
    o.n_examples = 2;
    o.n_diff_examples = 1;
    cJSON *res = NULL;
    int rc = gta_eval_run(t->policy, t->tok, &t->ds.labels, &t->eval_split, &o, &res);
    if (rc) return gta_err_prefix(rc, "evaluation at step %lld", t->step);
    cJSON *line = cJSON_CreateObject();
    cJSON_AddNumberToObject(line, "step", (double)t->step);
    cJSON_AddStringToObject(line, "split", t->cfg.eval_split);
    const char *keep[] = {
        "n",       "accuracy",  "f1_weighted", "f1_macro", "format_ok_rate", "guess_accuracy",
        "seconds", "per_class", "confusion",   "labels"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        cJSON *v = cJSON_GetObjectItem(res, keep[i]);
        if (v) cJSON_AddItemToObject(line, keep[i], cJSON_Duplicate(v, 1));
    }
    char *text = cJSON_PrintUnformatted(line);
    fprintf(t->evals, "%s\n", text);
    fflush(t->evals);
    fprintf(stderr, "%seval step %lld: %s accuracy %.4f, weighted F1 %.4f\n", isatty(2) ? "\n" : "", t->step,
            t->cfg.eval_split, cJSON_GetObjectItem(res, "accuracy")->valuedouble,
            cJSON_GetObjectItem(res, "f1_weighted")->valuedouble);
    free(text);
    cJSON_Delete(line);
    cJSON_Delete(res);
    return GTA_OK;
}

/* ------------------------------------------------------------------ the loop */

static void write_metrics(trainer *t, const step_stats *st, double step_seconds) {
    const rollout *r = &t->ro;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "step", (double)t->step);
    cJSON_AddNumberToObject(j, "epoch", (double)t->cursor / (double)t->ds.train.n);
    cJSON_AddNumberToObject(j, "lr", st->lr);
    cJSON_AddNumberToObject(j, "loss", st->loss);
    cJSON_AddNumberToObject(j, "loss_sft", st->loss_sft);
    cJSON_AddNumberToObject(j, "loss_rl", st->loss_rl);
    cJSON_AddNumberToObject(j, "kl", st->kl);
    int rl = t->method != M_SFT;
    cJSON_AddNumberToObject(j, "reward", rl ? r->reward : 0);
    cJSON_AddNumberToObject(j, "reward_format", rl ? r->reward_format : 0);
    cJSON_AddNumberToObject(j, "reward_accuracy", rl ? r->reward_accuracy : 0);
    if (t->method == M_GTA || t->method == M_GTARL)
        cJSON_AddNumberToObject(j, "guess_accuracy", r->guess_accuracy);
    if (t->method == M_GTA) {
        cJSON_AddNumberToObject(j, "cos_sft_rl", st->cos);
        cJSON_AddNumberToObject(j, "conflict", st->conflict);
    }
    cJSON_AddNumberToObject(j, "clip_frac", st->clip_frac);
    cJSON_AddNumberToObject(j, "frac_zero_std_groups", rl ? r->frac_zero_std : 0);
    cJSON_AddNumberToObject(j, "completion_tokens_mean", rl ? r->completion_tokens_mean : 0);
    cJSON_AddNumberToObject(j, "grad_norm", st->grad_norm);
    cJSON_AddNumberToObject(j, "tokens_per_s", st->tokens / (step_seconds > 0 ? step_seconds : 1e-9));
    cJSON_AddNumberToObject(j, "seconds", step_seconds);
    if (st->skipped) cJSON_AddBoolToObject(j, "skipped_nonfinite", 1);
    char *line = cJSON_PrintUnformatted(j);
    fprintf(t->metrics, "%s\n", line);
    fflush(t->metrics);
    free(line);
    cJSON_Delete(j);
}

static void progress(const trainer *t, const step_stats *st, double elapsed, long long done_here) {
    double per = done_here ? elapsed / (double)done_here : 0, eta = per * (double)(t->total_steps - t->step);
    int tty = isatty(2);
    char what[96];
    if (t->method == M_SFT)
        snprintf(what, sizeof what, "loss %.4f", st->loss);
    else
        snprintf(what, sizeof what, "reward %.3f acc %.3f", t->ro.reward, t->ro.reward_accuracy);
    fprintf(stderr, "%sstep %lld/%lld  %s  lr %.2e  %.2f s/step  ETA %dm%02ds%s", tty ? "\r" : "", t->step,
            t->total_steps, what, st->lr, per, (int)(eta / 60), (int)fmod(eta, 60), tty ? "   " : "\n");
}

static int open_logs(trainer *t, int resume, long long mbytes, long long sbytes, long long ebytes) {
    char *mp = gta_path_join(t->run_dir, "metrics.jsonl"), *sp = gta_path_join(t->run_dir, "samples.jsonl");
    int rc = GTA_OK;
    if (resume) {
        /* what was logged after the checkpoint is redone */
        if (truncate(mp, mbytes) != 0 || (gta_file_exists(sp) && truncate(sp, sbytes) != 0))
            rc = gta_err_set(GTA_EFAIL, "%s: cannot truncate to the checkpoint: %s", mp, strerror(errno));
    }
    if (!rc) {
        t->metrics = fopen(mp, resume ? "a" : "w");
        if (t->cfg.eval_steps > 0) {
            char *ep = gta_path_join(t->run_dir, "eval.jsonl");
            if (resume && gta_file_exists(ep) && truncate(ep, ebytes) != 0)
                rc = gta_err_set(GTA_EFAIL, "%s: cannot truncate to the checkpoint: %s", ep, strerror(errno));
            t->evals = fopen(ep, resume ? "a" : "w");
            if (!t->evals) rc = gta_err_set(GTA_EFAIL, "%s: cannot open for writing", ep);
            free(ep);
        }
        t->samples = fopen(sp, resume ? "a" : "w");
        if (!t->metrics || !t->samples) rc = gta_err_set(GTA_EFAIL, "%s: cannot open for writing", mp);
    }
    free(mp);
    free(sp);
    return rc;
}

/* trainer_state.json against the run it belongs to: the counts within the run's plan and
 * the log files at least as long as the checkpoint says. */
static int check_state(const trainer *t, const gta_train_state *s) {
    char *sp = gta_path_join(t->run_dir, "checkpoint/trainer_state.json");
    int rc = GTA_OK;
    struct {
        const char *file;
        long long bytes;
        const char *field;
    } logs[3] = {{"metrics.jsonl", s->metrics_bytes, "metrics_bytes"},
                 {"samples.jsonl", s->samples_bytes, "samples_bytes"},
                 {"eval.jsonl", s->eval_bytes, "eval_bytes"}};
    if (s->step > t->total_steps)
        rc = gta_err_set(GTA_EINPUT, "%s: field 'step' = %lld: the run has %lld steps", sp, s->step,
                         t->total_steps);
    else if (t->method == M_SFT ? s->cursor != s->step * t->cfg.batch_prompts
                                : s->cursor != (s->step + t->cfg.num_iterations - 1) / t->cfg.num_iterations *
                                                   t->cfg.batch_prompts)
        rc = gta_err_set(GTA_EINPUT, "%s: field 'cursor' = %lld does not match step %lld of this run", sp,
                         s->cursor, s->step);
    else if (s->rollout && (t->method == M_SFT || s->step % t->cfg.num_iterations == 0))
        rc = gta_err_set(GTA_EINPUT, "%s: field 'rollout': no rollout is reused at step %lld of this run", sp,
                         s->step);
    for (int i = 0; i < 3 && !rc; i++) {
        char *lp = gta_path_join(t->run_dir, logs[i].file);
        struct stat st;
        long long have = stat(lp, &st) == 0 ? (long long)st.st_size : 0;
        if (have < logs[i].bytes)
            rc = gta_err_set(GTA_EINPUT, "%s: field '%s' = %lld but %s has %lld bytes", sp, logs[i].field,
                             logs[i].bytes, lp, have);
        free(lp);
    }
    free(sp);
    return rc;
}

static int g_stopped_by;
int gta_train_stopped_by(void) { return g_stopped_by; }

/* The stop signal of the run (g_stopped_by): this process's, or under several ranks that
 * of any rank (SIGINT before SIGTERM), the same on every rank at the same step. */
static int agree_stop(trainer *t) {
    int sig = gta_stop_requested();
    if (t->comm->size > 1) {
        double f[2] = {sig == SIGINT, sig != 0 && sig != SIGINT};
        int rc = t->comm->sum_doubles(t->comm, f, 2);
        if (rc) return rc;
        sig = f[0] > 0 ? SIGINT : f[1] > 0 ? SIGTERM : 0;
    }
    g_stopped_by = sig;
    return GTA_OK;
}

int gta_train_run(const gta_train_cfg *c0, int resume, long long stop_at) {
    gta_train_cfg c = *c0;
    trainer t;
    int rc;
    gta_train_state state;
    memset(&state, 0, sizeof state);
    if (resume) {
        /* the run's own settings; only steps may be extended */
        char *cp = gta_path_join(c0->out, "config.json"),
             *sp = gta_path_join(c0->out, "checkpoint/trainer_state.json");
        cJSON *j = NULL;
        rc = gta_json_load(cp, &j);
        if (!rc) {
            gta_train_defaults(&c, c0->method);
            rc = gta_train_cfg_apply_json(&c, j, cp);
        }
        cJSON_Delete(j);
        /* a kill inside an earlier checkpoint write left at most a partial .tmp */
        if (!rc) rc = gta_ckpt_recover(c0->out);
        if (!rc) rc = gta_train_state_load(sp, &state);
        free(cp);
        free(sp);
        if (rc) return rc;
        if (c0->steps > c.steps) c.steps = c0->steps;
        /* the run is where --out says, even when its directory was moved or copied */
        snprintf(c.out, sizeof c.out, "%s", c0->out);
    }
    if ((rc = setup(&t, &c, resume))) goto done;
    t.run_dir = gta_strdup(c.out);
    const int lead = t.comm->rank == 0; /* rank 0 writes the run's files */
    if ((rc = gta_mkdir_p(t.run_dir))) goto done;
    if (!resume && lead) {
        char *cj = gta_train_cfg_to_json(&t.cfg), *cp = gta_path_join(t.run_dir, "config.json");
        rc = gta_write_file_atomic(cp, cj, strlen(cj));
        free(cj);
        free(cp);
        if (rc) goto done;
    }
    long long mbytes = 0, sbytes = 0, ebytes = 0;
    if (resume) {
        if ((rc = check_state(&t, &state))) goto done;
        t.step = state.step;
        t.cursor = state.cursor;
        t.opt.step = state.adam_step;
        mbytes = state.metrics_bytes;
        sbytes = state.samples_bytes;
        ebytes = state.eval_bytes;
        char *ck = gta_path_join(t.run_dir, "checkpoint"), *rp = gta_path_join(ck, "reference.safetensors");
        size_t np = gta_model_trainable(t.policy).n;
        /* the ranks that wrote the checkpoint: the optimizer state is whole unless ZeRO-1
         * sharded it over several; a rollout in flight is split over them */
        long long saved_ranks = state.ranks;
        int saved_zero = state.zero, in_flight = state.rollout, size = t.comm->size;
        if (saved_ranks != size && saved_zero && saved_ranks > 1)
            rc = gta_err_set(
                GTA_EINPUT,
                "%s: the checkpoint's optimizer state is sharded over %lld ranks (--zero 1); resume it "
                "with %lld ranks (mpirun -np %lld), not %d",
                ck, saved_ranks, saved_ranks, saved_ranks, size);
        else if (saved_ranks != size && in_flight)
            rc = gta_err_set(
                GTA_EINPUT,
                "%s: the checkpoint holds a rollout in flight split over %lld rank%s; resume it with %lld "
                "(a checkpoint at a rollout boundary, step %% num_iterations == 0, resumes with any "
                "number of ranks)",
                ck, saved_ranks, saved_ranks > 1 ? "s" : "", saved_ranks);
        else if (saved_ranks != size && lead)
            fprintf(stderr,
                    "gta train: the checkpoint was written by %lld rank%s, resuming with %d: supported (the "
                    "optimizer state is whole and no rollout is in flight)\n",
                    saved_ranks, saved_ranks > 1 ? "s" : "", size);
        char *op = NULL;
        if (saved_zero && saved_ranks > 1) {
            char name[64];
            snprintf(name, sizeof name, "optimizer-rank%d.safetensors", t.comm->rank);
            op = gta_path_join(ck, name);
        } else {
            op = gta_path_join(ck, "optimizer.safetensors");
        }
        size_t n_here = saved_zero && saved_ranks > 1 ? t.opt.hi - t.opt.lo : np,
               at = n_here == np ? t.opt.lo : 0;
        if (!rc) rc = load_f32_slice(t.policy, op, "exp_avg", t.opt.m, n_here, at, t.opt.hi - t.opt.lo);
        if (!rc) rc = load_f32_slice(t.policy, op, "exp_avg_sq", t.opt.v, n_here, at, t.opt.hi - t.opt.lo);
        if (!rc && t.ref && t.ref->w16)
            rc = load_ref_bf16(t.ref, rp);
        else if (!rc && t.ref)
            rc = load_f32(t.ref, rp, "params", gta_model_trainable(t.ref).params, np);
        if (!rc && in_flight) rc = load_rollout(&t, ck, &state);
        free(ck), free(op), free(rp);
        if (rc) goto done;
        if (lead)
            fprintf(stderr, "gta train: resuming %s at step %lld of %lld\n", t.run_dir, t.step,
                    t.total_steps);
    }
    if (lead && (rc = open_logs(&t, resume, mbytes, sbytes, ebytes))) goto done;
    if (lead)
        fprintf(stderr, "gta train: %s on %s (%zu examples), %lld steps\n", t.cfg.method, t.cfg.data,
                t.ds.train.n, t.total_steps);
    double bytes0 = t.comm->bytes;
    /* SIGINT/SIGTERM: finish the step, checkpoint, and say how to go on */
    g_stopped_by = 0;
    gta_stop_install();
    double t_start = gta_now();
    long long first = t.step;
    long long last = stop_at > 0 && stop_at < t.total_steps ? stop_at : t.total_steps;
    while (t.step < last) {
        double ts = gta_now();
        if (t.method == M_SFT)
            rc = build_sft_batch(&t);
        else if (t.step % t.cfg.num_iterations == 0 || !t.ro.valid)
            rc = build_rollout(&t, t.step / t.cfg.num_iterations);
        if (rc) break;
        step_stats st;
        if ((rc = optimizer_step(&t, &st))) break;
        double secs = gta_now() - ts;
        if (lead) {
            write_metrics(&t, &st, secs);
            progress(&t, &st, gta_now() - t_start, t.step - first);
        }
        /* rank 0 evaluates; the others wait for it at the next step's first sum */
        if (lead && t.cfg.eval_steps > 0 && (t.step % t.cfg.eval_steps == 0 || t.step == t.total_steps))
            if ((rc = periodic_eval(&t))) break;
        /* a stop asked of any rank stops every rank after this same step */
        if ((rc = agree_stop(&t))) break;
        if (g_stopped_by) break;
        if (t.cfg.save_steps > 0 && t.step % t.cfg.save_steps == 0 && t.step < last)
            if ((rc = save_checkpoint(&t))) break;
    }
    if (lead && isatty(2)) fprintf(stderr, "\n");
    if (t.comm->size > 1 && lead && t.step > first)
        fprintf(stderr, "gta train: rank 0 of %d communicated %.0f bytes a step (%lld steps, %.3f s/step)\n",
                t.comm->size, (t.comm->bytes - bytes0) / (double)(t.step - first), t.step - first,
                (gta_now() - t_start) / (double)(t.step - first));
    if (!rc) rc = save_checkpoint(&t);
    if (!rc && g_stopped_by) {
        if (lead)
            fprintf(
                stderr,
                "gta train: %s received: stopped at step %lld of %lld with a checkpoint in %s/checkpoint; "
                "continue with: gta train --out %s --resume\n",
                g_stopped_by == SIGINT ? "SIGINT" : "SIGTERM", t.step, t.total_steps, t.run_dir, t.run_dir);
    } else if (!rc && !lead) {
        /* the final model is rank 0's */
    } else if (!rc && t.step < t.total_steps) {
        fprintf(stderr, "gta train: stopped at step %lld of %lld; continue with --resume\n", t.step,
                t.total_steps);
    } else if (!rc) {
        char *fin = gta_path_join(t.run_dir, "final");
        rc = save_model_dir(&t, fin, 1);
        if (!rc) fprintf(stderr, "gta train: done; model in %s\n", fin);
        free(fin);
    }
done:
    gta_stop_uninstall();
    trainer_free(&t);
    return rc;
}
