/* Fuzz harness: the run directory's state files. Part 1: checkpoint/trainer_state.json;
 * part 2 (optional): the run's config.json (train settings). Whatever gta accepts it must
 * write back to a text it reads as the same values. */
#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "io/json.h"
#include "train/state.h"
#include "train/trainer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_part part[2];
    int np = fz_split(data, size, part, 2);
    cJSON *j = NULL;
    int rc = gta_json_parse("trainer_state.json", part[0].p, part[0].n, &j);
    fz_check_rc(rc, "gta_json_parse");
    if (!rc) {
        gta_train_state s, s2;
        rc = gta_train_state_parse("trainer_state.json", j, &s);
        fz_check_rc(rc, "gta_train_state_parse");
        cJSON_Delete(j);
        if (!rc) {
            char *text = gta_train_state_to_json(&s);
            cJSON *j2 = NULL;
            FZ_ASSERT(!gta_json_parse("written", text, strlen(text), &j2), "%s", gta_err_msg());
            FZ_ASSERT(!gta_train_state_parse("written", j2, &s2), "write-back refused: %s", gta_err_msg());
            FZ_ASSERT(!memcmp(&s, &s2, sizeof s), "write-back changed the state");
            cJSON_Delete(j2);
            free(text);
        }
    }
    if (np == 2 && !gta_json_parse("config.json", part[1].p, part[1].n, &j)) {
        gta_train_cfg c;
        gta_train_defaults(&c, "gta");
        rc = gta_train_cfg_apply_json(&c, j, "config.json");
        fz_check_rc(rc, "gta_train_cfg_apply_json");
        cJSON_Delete(j);
        if (!rc) {
            char *a = gta_train_cfg_to_json(&c), *b;
            cJSON *j2 = NULL;
            gta_train_cfg c2;
            gta_train_defaults(&c2, "sft");
            FZ_ASSERT(!gta_json_parse("written", a, strlen(a), &j2), "%s", gta_err_msg());
            FZ_ASSERT(!gta_train_cfg_apply_json(&c2, j2, "written"), "write-back refused: %s", gta_err_msg());
            b = gta_train_cfg_to_json(&c2);
            FZ_ASSERT(!strcmp(a, b), "write-back changed the settings");
            cJSON_Delete(j2);
            free(a);
            free(b);
        }
    }
    gta_err_clear();
    return 0;
}
