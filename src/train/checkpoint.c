/* The trainer's checkpoints: a model directory, a checkpoint with the trainer state. */
#include "base/hooks.h"
#include "train/trainer_int.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "io/dataset.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/sampler.h"
#include "task/model_task.h"
#include "task/prompt.h"
#include "task/reward.h"
#include "text/tokenizer.h"
#include "train/objective.h"
#include "train/optim.h"

/* ------------------------------------------------------------------ checkpoints */

/* a model directory: weights (f32 in a checkpoint, for an exact resume; final_dtype in
 * final/), config, the source model's tokenizer files and the task (gta_task.json). Under
 * LoRA a PEFT adapter directory over the run's base instead of weights and config. */
int save_model_dir(trainer *t, const char *dir, int final) {
    int rc;
    if (t->lora) {
        rc = gta_lora_save(t->policy, dir, t->cfg.model, final ? t->final_dtype : ST_F32);
    } else {
        t->policy->save_dtype = final ? t->final_dtype : ST_F32;
        rc = gta_model_save(t->policy, dir);
    }
    if (!rc) rc = gta_tokenizer_copy_files(t->cfg.model, dir);
    if (rc) return rc;
    gta_task task;
    memset(&task, 0, sizeof task);
    snprintf(task.method, sizeof task.method, "%s", t->cfg.method);
    task.format = t->fmt;
    task.labels = t->ds.labels;
    task.compact = t->popts.compact;
    task.max_prompt_tokens = t->popts.max_prompt_tokens;
    task.system = (char *)t->popts.system;
    task.max_new_tokens = (int)t->cfg.max_new_tokens;
    return gta_task_write(dir, &task);
}

/* the dtype final/ is written in: --save-dtype, or (auto) that of --model's checkpoint; an
 * adapter (it trains in fp32, as PEFT keeps it over a bf16 base) f32 */
int resolve_save_dtype(trainer *t) {
    st_dtype d = ST_F32;
    if (strcmp(t->cfg.save_dtype, "auto") != 0) {
        int rc = st_dtype_from_name(t->cfg.save_dtype, &d);
        if (rc) return gta_err_prefix(rc, "train: save_dtype");
    } else if (!t->lora) {
        st_set *st = NULL;
        int rc = st_open_dir(t->cfg.model, &st);
        if (rc) return rc;
        d = st_float_dtype(st);
        st_close(st);
    }
    t->final_dtype = (int)d;
    return GTA_OK;
}

/* the AdamW moments this process holds (all of them, or its ZeRO-1 shard) into file */
static int save_moments(trainer *t, const char *path) {
    gta_model *m = t->policy;
    size_t n = t->opt.hi - t->opt.lo, nb = sizeof(float) * n;
    const float *hm = m->be->read_begin(m->ctx, t->opt.m, nb), *hv = m->be->read_begin(m->ctx, t->opt.v, nb);
    st_entry e[2] = {{"exp_avg", ST_F32, 1, {(int64_t)n}, hm}, {"exp_avg_sq", ST_F32, 1, {(int64_t)n}, hv}};
    int rc = st_write(path, e, 2, NULL);
    m->be->read_end(m->ctx, hm);
    m->be->read_end(m->ctx, hv);
    return rc;
}

/* every rank has reached this point (a sum of one number over the ranks) */
static int barrier(trainer *t) {
    double one = 1;
    return t->comm->size > 1 ? t->comm->sum_doubles(t->comm, &one, 1) : GTA_OK;
}

/* Writes RUN/checkpoint.tmp completely, then swaps it in (gta_ckpt_commit): a kill at any
 * moment leaves the previous checkpoint or this one, and a failed write (full disk, file
 * size limit) leaves the previous one and an error naming the file. In a run of several
 * ranks rank 0 writes the model, the reference, the whole optimizer state (without ZeRO-1
 * every rank holds the same) and the trainer state; each rank then its own part (ZeRO-1's
 * moments shard, its part of a rollout in flight) into the same directory, and rank 0
 * swaps it in once every rank is done. A rank that fails ends them all (cli_fail). */
int save_checkpoint(trainer *t) {
    char *tmp = gta_path_join(t->run_dir, "checkpoint.tmp");
    const int lead = t->comm->rank == 0, many = t->comm->size > 1, sharded = many && t->cfg.zero;
    int rc = GTA_OK;
    if (lead) {
        gta_rm_rf(tmp);
        /* never a checkpoint of non-finite weights (every rank holds the same) */
        rc = check_weights(t->policy, "at the checkpoint of step", t->step);
        if (!rc) rc = save_model_dir(t, tmp, 0);
        gta_test_kill_point_n("checkpoint:model", t->step);
    }
    gta_model *m = t->policy;
    size_t np = gta_model_trainable(m).n, nb = sizeof(float) * np;
    if (!rc && lead && !sharded) {
        char *p = gta_path_join(tmp, "optimizer.safetensors");
        rc = save_moments(t, p);
        free(p);
        gta_test_kill_point_n("checkpoint:optimizer", t->step);
    }
    if (!rc && lead && t->ref && t->ref->w16 && !t->lora) {
        gta_model *r = t->ref;
        size_t ns = gta_model_small_floats(r);
        const void *h16 = r->be->read_begin(r->ctx, r->w16, sizeof(uint16_t) * r->n_params);
        const void *hs = r->be->read_begin(r->ctx, r->small, sizeof(float) * ns);
        st_entry e[2] = {{"w16", ST_BF16, 1, {(int64_t)r->n_params}, h16},
                         {"small", ST_F32, 1, {(int64_t)ns}, hs}};
        char *p = gta_path_join(tmp, "reference.safetensors");
        rc = st_write(p, e, 2, NULL);
        r->be->read_end(r->ctx, h16);
        r->be->read_end(r->ctx, hs);
        free(p);
    } else if (!rc && lead && t->ref) {
        const float *hr = m->be->read_begin(t->ref->ctx, gta_model_trainable(t->ref).params, nb);
        st_entry e = {"params", ST_F32, 1, {(int64_t)np}, hr};
        char *p = gta_path_join(tmp, "reference.safetensors");
        rc = st_write(p, &e, 1, NULL);
        m->be->read_end(t->ref->ctx, hr);
        free(p);
    }
    rollout *r = &t->ro;
    int keep_ro = r->valid && t->method != M_SFT && t->step % t->cfg.num_iterations != 0;
    /* rank 0's files (and the directory) exist before the others write theirs */
    if (!rc) rc = barrier(t);
    if (!rc && sharded) {
        char name[64];
        snprintf(name, sizeof name, "optimizer-rank%d.safetensors", t->comm->rank);
        char *p = gta_path_join(tmp, name);
        rc = save_moments(t, p);
        free(p);
        if (lead) gta_test_kill_point_n("checkpoint:optimizer", t->step);
    }
    if (!rc && keep_ro) {
        st_entry e[] = {
            {"ids", ST_I32, 1, {r->n}, r->ids},
            {"pos", ST_I32, 1, {r->n}, r->pos},
            {"seg_start", ST_I32, 1, {r->nseg}, r->seg_start},
            {"seg_len", ST_I32, 1, {r->nseg}, r->seg_len},
            {"seg_parent", ST_I32, 1, {r->nseg}, r->seg_parent},
            {"lp_row", ST_I32, 1, {r->nlp}, r->lp_row},
            {"lp_target", ST_I32, 1, {r->nlp}, r->lp_target},
            {"seq", ST_I32, 1, {r->nlp}, r->seq},
            {"rl_mask", ST_U8, 1, {r->nlp}, r->rl_mask},
            {"sft_mask", ST_U8, 1, {r->nlp}, r->sft_mask},
            {"old_lp", ST_F32, 1, {r->nlp}, r->old_lp},
            {"ref_lp", ST_F32, 1, {r->nlp}, r->ref_lp},
            {"w_rl", ST_F32, 1, {r->nlp}, r->w_rl},
            {"adv", ST_F32, 1, {r->nlp}, r->adv},
            {"w_sft", ST_F32, 1, {r->nlp}, r->w_sft},
            {"seq_adv", ST_F32, 1, {r->nseq}, r->seq_adv},
        };
        char name[64];
        if (many)
            snprintf(name, sizeof name, "rollout-rank%d.safetensors", t->comm->rank);
        else
            snprintf(name, sizeof name, "rollout.safetensors");
        char *p = gta_path_join(tmp, name);
        rc = st_write(p, e, (int)(sizeof e / sizeof e[0]), NULL);
        free(p);
    }
    if (!rc) rc = barrier(t);
    if (!rc && lead) {
        /* the logs on disk at least as far as the state says (a SIGKILL loses stdio buffers) */
        FILE *logs[3] = {t->metrics, t->samples, t->evals};
        for (int i = 0; i < 3 && !rc; i++)
            if (logs[i] && (fflush(logs[i]) != 0 || fsync(fileno(logs[i])) != 0))
                rc = gta_err_set(GTA_EFAIL, "%s: cannot write the logs: %s", t->run_dir, strerror(errno));
    }
    if (!rc && lead) {
        gta_train_state ts;
        memset(&ts, 0, sizeof ts);
        ts.step = t->step, ts.cursor = t->cursor, ts.adam_step = t->opt.step;
        ts.metrics_bytes = ftell(t->metrics), ts.samples_bytes = t->samples ? ftell(t->samples) : 0;
        ts.eval_bytes = t->evals ? ftell(t->evals) : 0;
        ts.rollout = keep_ro;
        ts.ranks = t->comm->size, ts.zero = sharded;
        if (keep_ro) {
            ts.reward = r->reward, ts.reward_format = r->reward_format, ts.reward_accuracy = r->reward_accuracy;
            ts.guess_accuracy = r->guess_accuracy, ts.frac_zero_std = r->frac_zero_std;
            ts.completion_tokens_mean = r->completion_tokens_mean;
        }
        char *text = gta_train_state_to_json(&ts);
        char *p = gta_path_join(tmp, "trainer_state.json");
        rc = gta_write_file_atomic(p, text, strlen(text));
        free(p);
        free(text);
        gta_test_kill_point_n("checkpoint:state", t->step);
    }
    if (!rc && lead) rc = gta_ckpt_commit(t->run_dir, t->step);
    if (rc) {
        if (lead) gta_rm_rf(tmp);
        gta_err_prefix(rc, "train: checkpoint of step %lld not written (the previous one is intact)", t->step);
    }
    free(tmp);
    return rc;
}

int load_f32_slice(gta_model *m, const char *path, const char *name, float *dst, size_t n, size_t at,
                   size_t n_dst) {
    if (at == 0 && n_dst == n) return load_f32(m, path, name, dst, n);
    st_set *s;
    int rc = st_open_file(path, &s);
    if (rc) return rc;
    const st_tensor *t = st_find(s, name);
    if (!t || t->dtype != ST_F32 || (size_t)t->numel != n || at + n_dst > n) {
        rc = gta_err_set(GTA_EINPUT, "%s: expected tensor '%s' of %zu floats", path, name, n);
    } else {
        float *all = gta_malloc(sizeof(float) * n);
        rc = st_to_f32(s, t, all);
        if (!rc) m->be->from_host(m->ctx, dst, all + at, sizeof(float) * n_dst);
        if (!rc) gta_model_params_changed(m);
        free(all);
    }
    st_close(s);
    return rc;
}

int load_ref_bf16(gta_model *r, const char *path) {
    st_set *s;
    int rc = st_open_file(path, &s);
    if (rc) return rc;
    size_t ns = gta_model_small_floats(r);
    const st_tensor *a = st_find(s, "w16"), *b = st_find(s, "small");
    if (!a || a->dtype != ST_BF16 || (size_t)a->numel != r->n_params || !b || b->dtype != ST_F32 ||
        (size_t)b->numel != ns) {
        rc = gta_err_set(GTA_EINPUT, "%s: expected tensors 'w16' (bf16, %zu) and 'small' (f32, %zu)", path,
                         r->n_params, ns);
    } else {
        r->be->from_host(r->ctx, r->w16, a->data, sizeof(uint16_t) * r->n_params);
        r->be->from_host(r->ctx, r->small, b->data, sizeof(float) * ns);
    }
    st_close(s);
    return rc;
}

int load_f32(gta_model *m, const char *path, const char *name, float *dst, size_t n) {
    st_set *s;
    int rc = st_open_file(path, &s);
    if (rc) return rc;
    const st_tensor *t = st_find(s, name);
    if (!t || t->dtype != ST_F32 || (size_t)t->numel != n) {
        rc = gta_err_set(GTA_EINPUT, "%s: expected tensor '%s' of %zu floats", path, name, n);
    } else {
        float *h = m->be->write_begin(m->ctx, dst, sizeof(float) * n);
        rc = st_to_f32(s, t, h);
        m->be->write_end(m->ctx, dst, h, sizeof(float) * n);
        gta_model_params_changed(m);
    }
    st_close(s);
    return rc;
}
