/* trainer_state.json: reading with every field checked, and writing. */
#include "train/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/hooks.h"
#include "base/util.h"
#include "io/json.h"

static int count(const char *path, const cJSON *j, const char *key, int required, long long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) {
        if (!required) return GTA_OK;
        return gta_err_set(GTA_EINPUT, "%s: missing field '%s'", path, key);
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return gta_err_set(GTA_EINPUT, "%s: field '%s': expected an integer", path, key);
    if (v->valuedouble < 0 || v->valuedouble > (double)GTA_STATE_MAX)
        return gta_err_set(GTA_EINPUT, "%s: field '%s' = %.17g: expected an integer in [0, 2^50]", path, key,
                           v->valuedouble);
    *out = (long long)v->valuedouble;
    return GTA_OK;
}

static int stat_field(const char *path, const cJSON *o, const char *key, double lo, double hi, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return gta_err_set(GTA_EINPUT, "%s: missing field 'rollout_stats.%s'", path, key);
    if (!cJSON_IsNumber(v))
        return gta_err_set(GTA_EINPUT, "%s: field 'rollout_stats.%s': expected a number", path, key);
    if (!(v->valuedouble >= lo && v->valuedouble <= hi))
        return gta_err_set(GTA_EINPUT, "%s: field 'rollout_stats.%s' = %g: expected a number in [%g, %g]",
                           path, key, v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return GTA_OK;
}

int gta_train_state_parse(const char *path, const cJSON *j, gta_train_state *s) {
    memset(s, 0, sizeof *s);
    if (!cJSON_IsObject(j)) return gta_err_set(GTA_EINPUT, "%s: expected a JSON object", path);
    int rc;
    if ((rc = count(path, j, "step", 1, &s->step)) || (rc = count(path, j, "cursor", 1, &s->cursor)) ||
        (rc = count(path, j, "adam_step", 1, &s->adam_step)) ||
        (rc = count(path, j, "metrics_bytes", 1, &s->metrics_bytes)) ||
        (rc = count(path, j, "samples_bytes", 1, &s->samples_bytes)) ||
        (rc = count(path, j, "eval_bytes", 0, &s->eval_bytes)))
        return rc;
    /* one AdamW step a step at most: an update skipped as non-finite takes none */
    if (s->adam_step > s->step)
        return gta_err_set(GTA_EINPUT, "%s: field 'adam_step' = %lld exceeds 'step' = %lld", path,
                           s->adam_step, s->step);
    /* the ranks of a data-parallel run (absent in a one-process run's checkpoint) */
    s->ranks = 1;
    if ((rc = count(path, j, "ranks", 0, &s->ranks))) return rc;
    if (s->ranks < 1)
        return gta_err_set(GTA_EINPUT, "%s: field 'ranks' = %lld: expected at least 1", path, s->ranks);
    const cJSON *zo = cJSON_GetObjectItemCaseSensitive(j, "zero");
    if (zo && !cJSON_IsBool(zo))
        return gta_err_set(GTA_EINPUT, "%s: field 'zero': expected true or false", path);
    s->zero = zo && cJSON_IsTrue(zo);
    if (s->zero && s->ranks < 2)
        return gta_err_set(GTA_EINPUT,
                           "%s: field 'zero' is true but 'ranks' = %lld: a shard needs several ranks", path,
                           s->ranks);
    const cJSON *ro = cJSON_GetObjectItemCaseSensitive(j, "rollout");
    if (!ro) return gta_err_set(GTA_EINPUT, "%s: missing field 'rollout'", path);
    if (!cJSON_IsBool(ro))
        return gta_err_set(GTA_EINPUT, "%s: field 'rollout': expected true or false", path);
    s->rollout = cJSON_IsTrue(ro);
    if (!s->rollout) return GTA_OK;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "rollout_stats");
    if (!st) return gta_err_set(GTA_EINPUT, "%s: missing field 'rollout_stats' (rollout is true)", path);
    if (!cJSON_IsObject(st))
        return gta_err_set(GTA_EINPUT, "%s: field 'rollout_stats': expected an object", path);
    const double big = 1e300;
    if ((rc = stat_field(path, st, "reward", -big, big, &s->reward)) ||
        (rc = stat_field(path, st, "reward_format", -big, big, &s->reward_format)) ||
        (rc = stat_field(path, st, "reward_accuracy", -big, big, &s->reward_accuracy)) ||
        (rc = stat_field(path, st, "guess_accuracy", 0, 1, &s->guess_accuracy)) ||
        (rc = stat_field(path, st, "frac_zero_std", 0, 1, &s->frac_zero_std)) ||
        (rc = stat_field(path, st, "completion_tokens_mean", 0, big, &s->completion_tokens_mean)))
        return rc;
    return GTA_OK;
}

int gta_train_state_load(const char *path, gta_train_state *s) {
    cJSON *j = NULL;
    int rc = gta_json_load(path, &j);
    if (rc) return rc;
    rc = gta_train_state_parse(path, j, s);
    cJSON_Delete(j);
    return rc;
}

char *gta_train_state_to_json(const gta_train_state *s) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "step", gta_json_number((double)s->step));
    cJSON_AddItemToObject(j, "cursor", gta_json_number((double)s->cursor));
    cJSON_AddItemToObject(j, "adam_step", gta_json_number((double)s->adam_step));
    cJSON_AddItemToObject(j, "metrics_bytes", gta_json_number((double)s->metrics_bytes));
    cJSON_AddItemToObject(j, "samples_bytes", gta_json_number((double)s->samples_bytes));
    cJSON_AddItemToObject(j, "eval_bytes", gta_json_number((double)s->eval_bytes));
    cJSON_AddBoolToObject(j, "rollout", s->rollout);
    if (s->ranks > 1) {
        cJSON_AddItemToObject(j, "ranks", gta_json_number((double)s->ranks));
        cJSON_AddBoolToObject(j, "zero", s->zero);
    }
    if (s->rollout) {
        cJSON *o = cJSON_AddObjectToObject(j, "rollout_stats");
        cJSON_AddItemToObject(o, "reward", gta_json_number(s->reward));
        cJSON_AddItemToObject(o, "reward_format", gta_json_number(s->reward_format));
        cJSON_AddItemToObject(o, "reward_accuracy", gta_json_number(s->reward_accuracy));
        cJSON_AddItemToObject(o, "guess_accuracy", gta_json_number(s->guess_accuracy));
        cJSON_AddItemToObject(o, "frac_zero_std", gta_json_number(s->frac_zero_std));
        cJSON_AddItemToObject(o, "completion_tokens_mean", gta_json_number(s->completion_tokens_mean));
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}

/* ---- checkpoint directories ---- */

void gta_rm_rf(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *p = gta_path_join(path, e->d_name);
            gta_rm_rf(p);
            free(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

int gta_ckpt_commit(const char *run_dir, long long step) {
    char *tmp = gta_path_join(run_dir, "checkpoint.tmp"), *fin = gta_path_join(run_dir, "checkpoint");
    int rc = gta_fsync_dir(tmp);
    gta_test_kill_point_n("checkpoint:swap", step);
    if (!rc) {
        if (gta_is_dir(fin)) {
            if (renameat2(AT_FDCWD, tmp, AT_FDCWD, fin, RENAME_EXCHANGE) != 0)
                rc = gta_err_set(GTA_EFAIL, "%s: cannot swap in %s: %s", fin, tmp, strerror(errno));
        } else if (rename(tmp, fin) != 0) {
            rc = gta_err_set(GTA_EFAIL, "%s: cannot rename to %s: %s", tmp, fin, strerror(errno));
        }
    }
    if (!rc) rc = gta_fsync_dir(run_dir);
    gta_test_kill_point_n("checkpoint:swapped", step);
    if (!rc) gta_rm_rf(tmp); /* the previous checkpoint, now */
    free(tmp);
    free(fin);
    return rc;
}

int gta_ckpt_recover(const char *run_dir) {
    char *tmp = gta_path_join(run_dir, "checkpoint.tmp"), *fin = gta_path_join(run_dir, "checkpoint"),
         *old = gta_path_join(run_dir, "checkpoint.old");
    int rc = GTA_OK;
    gta_rm_rf(tmp);
    if (!gta_is_dir(fin) && gta_is_dir(old) && rename(old, fin) != 0)
        rc = gta_err_set(GTA_EFAIL, "%s: cannot restore %s: %s", old, fin, strerror(errno));
    else
        gta_rm_rf(old);
    free(tmp);
    free(fin);
    free(old);
    return rc;
}
