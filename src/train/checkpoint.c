/* The trainer's checkpoints: a model directory, a checkpoint with the trainer state. */
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
 * final/), config, the source model's tokenizer files and the task (gta_task.json) */
int save_model_dir(trainer *t, const char *dir, int final) {
    t->policy->save_dtype = final ? t->final_dtype : ST_F32;
    int rc = gta_model_save(t->policy, dir);
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

/* the dtype final/ is written in: --save-dtype, or (auto) that of --model's checkpoint */
int resolve_save_dtype(trainer *t) {
    st_dtype d = ST_F32;
    if (strcmp(t->cfg.save_dtype, "auto") != 0) {
        int rc = st_dtype_from_name(t->cfg.save_dtype, &d);
        if (rc) return gta_err_prefix(rc, "train: save_dtype");
    } else {
        st_set *st = NULL;
        int rc = st_open_dir(t->cfg.model, &st);
        if (rc) return rc;
        d = st_float_dtype(st);
        st_close(st);
    }
    t->final_dtype = (int)d;
    return GTA_OK;
}

static void rm_rf(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *p = gta_path_join(path, e->d_name);
            rm_rf(p);
            free(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
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

/* A checkpoint of a run of several ranks: rank 0 writes the model, the reference, the
 * whole optimizer state (ZeRO-0: every rank holds the same) and the trainer state; then
 * each rank its own part (ZeRO-1's moments shard, its part of a rollout in flight) into
 * the same directory; rank 0 swaps it in when every rank is done. */
int save_checkpoint(trainer *t) {
    char *tmp = gta_path_join(t->run_dir, "checkpoint.tmp"), *fin = gta_path_join(t->run_dir, "checkpoint"),
         *old = gta_path_join(t->run_dir, "checkpoint.old");
    const int lead = t->comm->rank == 0, many = t->comm->size > 1, sharded = many && t->cfg.zero;
    int rc = GTA_OK;
    if (lead) {
        rm_rf(tmp);
        rc = save_model_dir(t, tmp, 0);
    }
    gta_model *m = t->policy;
    size_t np = m->n_params, nb = sizeof(float) * np;
    if (!rc && lead && !sharded) {
        char *p = gta_path_join(tmp, "optimizer.safetensors");
        rc = save_moments(t, p);
        free(p);
    }
    if (!rc && lead && t->ref) {
        const float *hr = m->be->read_begin(t->ref->ctx, t->ref->params, nb);
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
        fflush(t->metrics);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "step", (double)t->step);
        cJSON_AddNumberToObject(j, "cursor", (double)t->cursor);
        cJSON_AddNumberToObject(j, "adam_step", (double)t->opt.step);
        cJSON_AddNumberToObject(j, "metrics_bytes", (double)ftell(t->metrics));
        cJSON_AddNumberToObject(j, "samples_bytes", t->samples ? (double)ftell(t->samples) : 0);
        cJSON_AddNumberToObject(j, "eval_bytes", t->evals ? (double)ftell(t->evals) : 0);
        cJSON_AddBoolToObject(j, "rollout", keep_ro);
        cJSON_AddNumberToObject(j, "ranks", t->comm->size);
        cJSON_AddBoolToObject(j, "zero", sharded);
        if (keep_ro) {
            cJSON *s = cJSON_AddObjectToObject(j, "rollout_stats");
            cJSON_AddNumberToObject(s, "reward", r->reward);
            cJSON_AddNumberToObject(s, "reward_format", r->reward_format);
            cJSON_AddNumberToObject(s, "reward_accuracy", r->reward_accuracy);
            cJSON_AddNumberToObject(s, "guess_accuracy", r->guess_accuracy);
            cJSON_AddNumberToObject(s, "frac_zero_std", r->frac_zero_std);
            cJSON_AddNumberToObject(s, "completion_tokens_mean", r->completion_tokens_mean);
        }
        char *text = cJSON_Print(j);
        cJSON_Delete(j);
        char *p = gta_path_join(tmp, "trainer_state.json");
        rc = gta_write_file_atomic(p, text, strlen(text));
        free(p);
        free(text);
    }
    /* swap in: the previous checkpoint stays whole until the new one is complete */
    if (!rc && lead) {
        rm_rf(old);
        if (gta_is_dir(fin) && rename(fin, old) != 0)
            rc = gta_err_set(GTA_EFAIL, "%s: cannot move aside: %s", fin, strerror(errno));
        else if (rename(tmp, fin) != 0)
            rc = gta_err_set(GTA_EFAIL, "%s: cannot rename to %s: %s", tmp, fin, strerror(errno));
        else
            rm_rf(old);
    }
    free(tmp), free(fin), free(old);
    return rc;
}

/* floats [at, at + n_dst) of tensor name of n floats into dst */
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
        free(all);
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
    }
    st_close(s);
    return rc;
}
