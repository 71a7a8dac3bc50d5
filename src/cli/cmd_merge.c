/* gta merge: fold a PEFT LoRA adapter into its base, W += s B A for every adapted module,
 * and write a full model directory (config.json, model.safetensors, the base's tokenizer
 * files) that transformers and vLLM load like the base. */
#include <stdio.h>

#include "base/error.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "model/lora.h"
#include "model/model.h"
#include "text/tokenizer.h"

int cmd_merge(int argc, char **argv) {
    const char *model_dir = NULL, *adapter = NULL, *out = NULL;
    const arg_spec specs[] = {
        {"model", ARG_STR, &model_dir, "the base model directory (required)"},
        {"adapter", ARG_STR, &adapter,
         "PEFT adapter directory: adapter_config.json, adapter_model.safetensors (required)"},
        {"out", ARG_STR, &out, "model directory to write (required)"},
    };
    const int ns = (int)(sizeof specs / sizeof specs[0]);
    int rc = args_parse("merge", argc, argv, specs, ns);
    if (rc < 0) {
        args_usage("merge", "--model DIR --adapter DIR --out DIR", specs, ns);
        return 0;
    }
    if (!rc && (!model_dir || !adapter || !out))
        rc = gta_err_set(GTA_EINPUT, "gta merge: --model, --adapter and --out are required");
    if (rc) return cli_fail(rc);
    gta_model *m = NULL;
    if ((rc = gta_model_load(model_dir, &m))) return cli_fail(rc);
    rc = gta_lora_load(m, adapter);
    if (!rc) {
        int r = m->lora->cfg.r;
        rc = gta_lora_merge(m);
        if (!rc) rc = gta_model_save(m, out);
        if (!rc) rc = gta_tokenizer_copy_files(model_dir, out);
        if (!rc) fprintf(stderr, "gta merge: %s + %s (r %d) written to %s\n", model_dir, adapter, r, out);
    }
    gta_model_free(m);
    return rc ? cli_fail(rc) : 0;
}
