/* gta merge: fold a PEFT LoRA adapter into its base, W += s B A for every adapted module,
 * and write a full model directory (config.json, model.safetensors, the base's tokenizer
 * files) that transformers and vLLM load like the base: in the base's dtype unless
 * --save-dtype says otherwise, with the adapter's gta_task.json (a gta train output), else
 * the base's, so that gta eval / predict rebuild the training prompt from it. */
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "io/safetensors.h"
#include "model/lora.h"
#include "model/model.h"
#include "task/model_task.h"
#include "text/tokenizer.h"

/* out/gta_task.json from the adapter's, else the base's (none: nothing written) */
static int copy_task(const char *adapter, const char *base, const char *out) {
    gta_task task;
    int found = 0;
    int rc = gta_task_read(adapter, &task, &found);
    if (!rc && !found) rc = gta_task_read(base, &task, &found);
    if (!rc && found) rc = gta_task_write(out, &task);
    if (found) gta_task_free(&task);
    return rc;
}

int cmd_merge(int argc, char **argv) {
    const char *model_dir = NULL, *adapter = NULL, *out = NULL, *save_dtype = "auto";
    const arg_spec specs[] = {
        {"model", ARG_STR, &model_dir, "the base model directory (required)"},
        {"adapter", ARG_STR, &adapter,
         "PEFT adapter directory: adapter_config.json, adapter_model.safetensors (required)"},
        {"out", ARG_STR, &out, "model directory to write (required)"},
        {"save-dtype", ARG_STR, &save_dtype,
         "auto | f32 | bf16 | f16: weights written (auto: the base's) [auto]"},
    };
    const int ns = (int)(sizeof specs / sizeof specs[0]);
    int rc = args_parse("merge", argc, argv, specs, ns);
    if (rc < 0) {
        args_usage("merge", "--model DIR --adapter DIR --out DIR [--save-dtype auto|f32|bf16|f16]", specs,
                   ns);
        return 0;
    }
    if (!rc && (!model_dir || !adapter || !out))
        rc = gta_err_set(GTA_EINPUT, "gta merge: --model, --adapter and --out are required");
    st_dtype dt = ST_F32;
    if (!rc && strcmp(save_dtype, "auto") != 0 && (rc = st_dtype_from_name(save_dtype, &dt)))
        rc = gta_err_prefix(rc, "gta merge: --save-dtype");
    if (rc) return cli_fail(rc);
    gta_model *m = NULL;
    if ((rc = gta_model_load(model_dir, &m))) return cli_fail(rc);
    if (strcmp(save_dtype, "auto") != 0) m->save_dtype = (int)dt; /* else the base's, as loaded */
    rc = gta_lora_load(m, adapter);
    if (!rc) {
        int r = m->lora->cfg.r;
        rc = gta_lora_merge(m);
        if (!rc) rc = gta_model_save(m, out);
        if (!rc) rc = gta_tokenizer_copy_files(model_dir, out);
        if (!rc) rc = copy_task(adapter, model_dir, out);
        if (!rc)
            fprintf(
                stderr, "gta merge: %s + %s (r %d) written to %s (%s)\n", model_dir, adapter, r, out,
                st_dtype_name((st_dtype)(m->save_dtype == ST_BF16 || m->save_dtype == ST_F16 ? m->save_dtype
                                                                                             : ST_F32)));
    }
    gta_model_free(m);
    return rc ? cli_fail(rc) : 0;
}
