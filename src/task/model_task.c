/* gta_task.json: reading and writing (see model_task.h). */
#include "task/model_task.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "io/json.h"

int gta_task_write(const char *dir, const gta_task *t) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "gta_task", 1);
    cJSON_AddStringToObject(j, "method", t->method);
    cJSON_AddStringToObject(j, "format", gta_format_name(t->format));
    cJSON *l = cJSON_AddArrayToObject(j, "labels");
    for (size_t i = 0; i < t->labels.n; i++) cJSON_AddItemToArray(l, cJSON_CreateString(t->labels.names[i]));
    cJSON_AddStringToObject(j, "prompt_style", t->compact ? "compact" : "full");
    cJSON_AddNumberToObject(j, "max_prompt_tokens", t->max_prompt_tokens);
    if (t->system)
        cJSON_AddStringToObject(j, "system_prompt", t->system);
    else
        cJSON_AddNullToObject(j, "system_prompt");
    cJSON_AddNumberToObject(j, "max_new_tokens", t->max_new_tokens);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    size_t n = strlen(s);
    s = gta_realloc(s, n + 2);
    s[n] = '\n';
    s[n + 1] = 0;
    char *p = gta_path_join(dir, GTA_TASK_FILE);
    int rc = gta_write_file_atomic(p, s, n + 1);
    free(p);
    free(s);
    return rc;
}

void gta_task_free(gta_task *t) {
    gta_labels_free(&t->labels);
    free(t->system);
    memset(t, 0, sizeof *t);
}

int gta_task_same_labels(const gta_labels *a, const gta_labels *b) {
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->names[i], b->names[i]) != 0) return 0;
    return 1;
}

static int known_key(const char *k) {
    static const char *const keys[] = {"gta_task",      "method",        "format",
                                       "labels",        "prompt_style",  "max_prompt_tokens",
                                       "system_prompt", "max_new_tokens"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(k, keys[i])) return 1;
    return 0;
}

int gta_task_read(const char *dir, gta_task *t, int *found) {
    memset(t, 0, sizeof *t);
    *found = 0;
    char *p = gta_path_join(dir, GTA_TASK_FILE);
    if (!gta_file_exists(p)) {
        free(p);
        return GTA_OK;
    }
    cJSON *j = NULL;
    int rc = gta_json_load(p, &j);
    const char **names = NULL;
    if (rc) goto done;
    if (!cJSON_IsObject(j)) {
        rc = gta_err_set(GTA_EINPUT, "%s: expected a JSON object", p);
        goto done;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, j) if (!known_key(it->string)) {
        rc = gta_err_set(GTA_EINPUT, "%s: unknown key '%s'", p, it->string);
        goto done;
    }
    long long ver = 0, mpt = 0, mnt = 0;
    const char *method = NULL, *format = NULL, *style = "full", *system = NULL;
    if ((rc = gta_json_int_req(p, j, "gta_task", &ver))) goto done;
    if (ver != 1) {
        rc = gta_err_set(GTA_EINPUT, "%s: gta_task version %lld (this gta reads version 1)", p, ver);
        goto done;
    }
    if ((rc = gta_json_str_opt(p, j, "method", &method)) ||
        (rc = gta_json_str_opt(p, j, "format", &format)) ||
        (rc = gta_json_str_opt(p, j, "prompt_style", &style)) ||
        (rc = gta_json_int_opt(p, j, "max_prompt_tokens", &mpt)) ||
        (rc = gta_json_int_opt(p, j, "max_new_tokens", &mnt)))
        goto done;
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(j, "system_prompt");
    if (sys && !cJSON_IsNull(sys)) {
        if (!cJSON_IsString(sys)) {
            rc = gta_err_set(GTA_EINPUT, "%s: field 'system_prompt': expected a string or null", p);
            goto done;
        }
        system = sys->valuestring;
    }
    if (!format) {
        rc = gta_err_set(GTA_EINPUT, "%s: field 'format' is missing", p);
        goto done;
    }
    if ((rc = gta_format_from_name(format, &t->format))) {
        gta_err_prefix(rc, "%s", p);
        goto done;
    }
    if (method && strcmp(method, "sft") && strcmp(method, "grpo") && strcmp(method, "gta") &&
        strcmp(method, "gta-rl")) {
        rc = gta_err_set(GTA_EINPUT, "%s: method '%s': expected sft, grpo, gta or gta-rl", p, method);
        goto done;
    }
    snprintf(t->method, sizeof t->method, "%s", method ? method : gta_format_name(t->format));
    if (strcmp(style, "full") && strcmp(style, "compact")) {
        rc = gta_err_set(GTA_EINPUT, "%s: prompt_style '%s': expected full or compact", p, style);
        goto done;
    }
    t->compact = !strcmp(style, "compact");
    if (mpt < 0 || mpt > 1 << 24 || mnt < 0 || mnt > 1 << 20) {
        rc = gta_err_set(GTA_EINPUT, "%s: max_prompt_tokens or max_new_tokens out of range", p);
        goto done;
    }
    t->max_prompt_tokens = (int)mpt;
    t->max_new_tokens = (int)mnt;
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(j, "labels");
    if (!cJSON_IsArray(labels) || cJSON_GetArraySize(labels) < 1) {
        rc = gta_err_set(GTA_EINPUT, "%s: field 'labels': expected a non-empty array of strings", p);
        goto done;
    }
    int n = cJSON_GetArraySize(labels), k = 0;
    names = gta_calloc((size_t)n, sizeof *names);
    cJSON_ArrayForEach(it, labels) {
        if (!cJSON_IsString(it)) {
            rc = gta_err_set(GTA_EINPUT, "%s: labels[%d]: expected a string", p, k);
            goto done;
        }
        names[k++] = it->valuestring;
    }
    if ((rc = gta_labels_from(names, (size_t)n, p, &t->labels))) goto done;
    t->system = system ? gta_strdup(system) : NULL;
    *found = 1;
done:
    if (rc) gta_task_free(t);
    free(names);
    cJSON_Delete(j);
    free(p);
    return rc;
}
