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
#include "task/prompt.h"
#include "task/reward.h"
#include "text/tokenizer.h"
#include "train/objective.h"
#include "train/optim.h"

/* ------------------------------------------------------------------ checkpoints */

/* a model directory: weights, config, and the source model's tokenizer files */
int save_model_dir(trainer *t, const char *dir) {
    /* under LoRA a PEFT adapter directory over the run's base */
    int rc = t->lora ? gta_lora_save(t->policy, dir, t->cfg.model) : gta_model_save(t->policy, dir);
    return rc ? rc : gta_tokenizer_copy_files(t->cfg.model, dir);
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

int save_checkpoint(trainer *t) {
    char *tmp = gta_path_join(t->run_dir, "checkpoint.tmp"), *fin = gta_path_join(t->run_dir, "checkpoint"),
         *old = gta_path_join(t->run_dir, "checkpoint.old");
    rm_rf(tmp);
    int rc = save_model_dir(t, tmp);
    gta_model *m = t->policy;
    size_t np = gta_model_trainable(m).n, nb = sizeof(float) * np;
    if (!rc) {
        const float *hm = m->be->read_begin(m->ctx, t->opt.m, nb), *hv = m->be->read_begin(m->ctx, t->opt.v, nb);
        st_entry e[2] = {{"exp_avg", ST_F32, 1, {(int64_t)np}, hm}, {"exp_avg_sq", ST_F32, 1, {(int64_t)np}, hv}};
        char *p = gta_path_join(tmp, "optimizer.safetensors");
        rc = st_write(p, e, 2, NULL);
        m->be->read_end(m->ctx, hm);
        m->be->read_end(m->ctx, hv);
        free(p);
    }
    if (!rc && t->ref && t->ref->w16 && !t->lora) {
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
    } else if (!rc && t->ref) {
        const float *hr = m->be->read_begin(t->ref->ctx, gta_model_trainable(t->ref).params, nb);
        st_entry e = {"params", ST_F32, 1, {(int64_t)np}, hr};
        char *p = gta_path_join(tmp, "reference.safetensors");
        rc = st_write(p, &e, 1, NULL);
        m->be->read_end(t->ref->ctx, hr);
        free(p);
    }
    rollout *r = &t->ro;
    int keep_ro = r->valid && t->method != M_SFT && t->step % t->cfg.num_iterations != 0;
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
        char *p = gta_path_join(tmp, "rollout.safetensors");
        rc = st_write(p, e, (int)(sizeof e / sizeof e[0]), NULL);
        free(p);
    }
    if (!rc) {
        fflush(t->metrics);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "step", (double)t->step);
        cJSON_AddNumberToObject(j, "cursor", (double)t->cursor);
        cJSON_AddNumberToObject(j, "adam_step", (double)t->opt.step);
        cJSON_AddNumberToObject(j, "metrics_bytes", (double)ftell(t->metrics));
        cJSON_AddNumberToObject(j, "samples_bytes", t->samples ? (double)ftell(t->samples) : 0);
        cJSON_AddNumberToObject(j, "eval_bytes", t->evals ? (double)ftell(t->evals) : 0);
        cJSON_AddBoolToObject(j, "rollout", keep_ro);
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
    if (!rc) {
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
    }
    st_close(s);
    return rc;
}
