/* gta init: a model directory with random weights for a config.json (normal(0, 0.02),
 * norms 1, biases 0), e.g. a published shape from bench/configs/ for benchmarks and
 * memory-plan checks at real size; with --tokenizer, that tokenizer's files beside it.
 * --save-dtype bf16 writes the weights (drawn in fp32) rounded to bf16, as published
 * checkpoints are stored. */
#include <stdio.h>

#include "base/error.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "model/config.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "text/tokenizer.h"

int cmd_init(int argc, char **argv) {
    const char *cfg_path = NULL, *out = NULL, *tok = NULL, *save_dtype = "f32";
    long long seed = 0;
    const arg_spec specs[] = {
        {"model-config", ARG_STR, &cfg_path, "config.json of the model (qwen2, qwen3 or llama) (required)"},
        {"out", ARG_STR, &out, "model directory to write (required)"},
        {"tokenizer", ARG_STR, &tok, "copy this tokenizer directory's files into the model directory"},
        {"seed", ARG_INT, &seed, "random seed [0]"},
        {"save-dtype", ARG_STR, &save_dtype, "f32 | bf16 | f16: the dtype of model.safetensors [f32]"},
    };
    const int ns = (int)(sizeof specs / sizeof specs[0]);
    int rc = args_parse("init", argc, argv, specs, ns);
    if (rc < 0) {
        args_usage("init", "--model-config F.json --out DIR [--tokenizer DIR] [--seed S] [--save-dtype f32|bf16|f16]", specs, ns);
        return 0;
    }
    if (!rc && (!cfg_path || !out)) rc = gta_err_set(GTA_EINPUT, "gta init: --model-config and --out are required");
    st_dtype dt = ST_F32;
    if (!rc && (rc = st_dtype_from_name(save_dtype, &dt))) rc = gta_err_prefix(rc, "gta init: --save-dtype");
    gta_config c;
    if (!rc) rc = gta_config_load(cfg_path, &c);
    if (rc) return cli_fail(rc);
    gta_model *m = gta_model_init_random(&c, (uint64_t)seed);
    m->save_dtype = (int)dt;
    rc = gta_model_save(m, out);
    if (!rc && tok) rc = gta_tokenizer_copy_files(tok, out);
    if (!rc) fprintf(stderr, "gta init: %.1fM parameters written to %s\n", m->n_params / 1e6, out);
    gta_model_free(m);
    return rc ? cli_fail(rc) : 0;
}
