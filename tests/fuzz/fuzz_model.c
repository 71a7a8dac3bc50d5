/* Fuzz harness: config.json, then the model load against a model.safetensors.
 * Part 1: config.json (parsed; a config gta accepts must survive its own write-back).
 * Part 2 (optional): model.safetensors, loaded with the config as a model directory. */
#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "io/json.h"
#include "model/config.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_part part[2];
    int np = fz_split(data, size, part, 2);
    cJSON *j = NULL;
    int rc = gta_json_parse("config.json", part[0].p, part[0].n, &j);
    fz_check_rc(rc, "gta_json_parse");
    gta_config c;
    if (!rc) {
        rc = gta_config_from_json("config.json", j, &c);
        fz_check_rc(rc, "gta_config_from_json");
        cJSON_Delete(j);
        if (!rc) {
            /* what gta writes next to a checkpoint, gta must read back identically */
            char *out = gta_config_to_json(&c, c.dtype);
            cJSON *j2 = NULL;
            gta_config c2;
            FZ_ASSERT(!gta_json_parse("written config.json", out, strlen(out), &j2), "%s", gta_err_msg());
            FZ_ASSERT(!gta_config_from_json("written config.json", j2, &c2), "write-back refused: %s",
                      gta_err_msg());
            FZ_ASSERT(c2.hidden_size == c.hidden_size && c2.head_dim == c.head_dim &&
                          c2.num_layers == c.num_layers && c2.vocab_size == c.vocab_size &&
                          c2.num_kv_heads == c.num_kv_heads && c2.intermediate_size == c.intermediate_size &&
                          gta_config_num_params(&c2) == gta_config_num_params(&c),
                      "write-back changed the sizes");
            cJSON_Delete(j2);
            free(out);
        }
    }
    if (!rc && np == 2) {
        fz_write("config.json", part[0].p, part[0].n);
        fz_write("model.safetensors", part[1].p, part[1].n);
        gta_model *m = NULL;
        rc = gta_model_load(fz_dir(), &m);
        fz_check_rc(rc, "gta_model_load");
        gta_model_free(m);
        fz_remove("model.safetensors");
        fz_remove("config.json");
    }
    gta_err_clear();
    return 0;
}
