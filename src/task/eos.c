#include "task/eos.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/util.h"
#include "io/json.h"
#include "task/prompt.h"

static void add(gta_tok *eos, int *n, int max, gta_tok id) {
    for (int i = 0; i < *n; i++)
        if (eos[i] == id) return;
    if (*n < max) eos[(*n)++] = id;
}

int gta_eos_ids(const char *model_dir, const gta_config *cfg, const gta_tokenizer *tok, gta_tok *eos,
                int max) {
    int n = 0;
    if (tok) {
        gta_tok end = gta_prompt_end_id(tok);
        if (end >= 0) add(eos, &n, max, end);
    }
    if (model_dir) {
        char *p = gta_path_join(model_dir, "generation_config.json");
        cJSON *j = NULL;
        if (gta_file_exists(p) && gta_json_load(p, &j) == GTA_OK) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "eos_token_id"), *it;
            if (cJSON_IsNumber(e)) add(eos, &n, max, e->valueint);
            if (cJSON_IsArray(e))
                cJSON_ArrayForEach(it, e) if (cJSON_IsNumber(it)) add(eos, &n, max, it->valueint);
        }
        gta_err_clear();
        cJSON_Delete(j);
        free(p);
    }
    if (cfg)
        for (int i = 0; i < cfg->n_eos; i++) add(eos, &n, max, cfg->eos_token_ids[i]);
    return n;
}
