/* gta pretrain --model-config F.json --tokenizer DIR --corpus F... --out DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "train/pretrain.h"

int cmd_pretrain(int argc, char **argv) {
    gta_pretrain_opts o;
    gta_pretrain_defaults(&o);
    arg_list corpus = {0};
    const char *revision = NULL, *compute = NULL;
    char *init_owned = NULL;
    arg_spec specs[] = {
        {"model-config", ARG_STR, &o.model_config,
         "config.json of the model to create (qwen2, qwen3 or llama)"},
        {"init", ARG_STR, &o.init,
         "continue from this model directory (a further stage) instead of --model-config"},
        {"tokenizer", ARG_STR, &o.tokenizer,
         "tokenizer directory or tokenizer.json (e.g. from tokenizer-train)"},
        {"corpus", ARG_STR_LIST, &corpus,
         "text files: .jsonl (a text field) or plain text, one document a line"},
        {"out", ARG_STR, &o.out, "model directory to write"},
        {"field", ARG_STR, &o.field, "jsonl field holding the text [text]"},
        {"steps", ARG_INT, &o.steps, "optimizer steps [2000]"},
        {"batch", ARG_INT, &o.batch, "windows per step [16]"},
        {"seq", ARG_INT, &o.seq, "tokens per window [256]"},
        {"learning-rate", ARG_DOUBLE, &o.learning_rate, "peak learning rate [1e-3]"},
        {"warmup-ratio", ARG_DOUBLE, &o.warmup_ratio, "fraction of steps warming up [0.02]"},
        {"weight-decay", ARG_DOUBLE, &o.weight_decay, "AdamW weight decay [0.1]"},
        {"holdout", ARG_DOUBLE, &o.holdout, "fraction of documents held out for a validation loss [0.01]"},
        {"save-steps", ARG_INT, &o.save_steps, "write the model every N steps [500]"},
        {"seed", ARG_INT, &o.seed, "random seed [0]"},
        {"stop-at-step", ARG_INT, &o.stop_at, "save and stop after step N of the --steps schedule [off]"},
        {"revision", ARG_STR, &revision, "branch, tag or commit of a Hub --init name [main]"},
        {"save-dtype", ARG_STR, &o.save_dtype, "f32 | bf16 | f16 [auto: f32, or --init's dtype]"},
        {"compute", ARG_STR, &compute, CLI_COMPUTE_HELP},
    };
    int ns = sizeof specs / sizeof specs[0];
    int rc = args_parse("pretrain", argc, argv, specs, ns);
    if (rc < 0) {
        args_usage("pretrain", "--model-config F.json --tokenizer DIR --corpus F... --out DIR [options]", specs, ns);
        arg_list_free(&corpus);
        return 0;
    }
    if (!rc) rc = cli_compute_arg("pretrain", compute, &o.compute);
    if (!rc) rc = cli_model_arg("pretrain", "init", &o.init, revision, &init_owned);
    if (!rc) {
        o.corpus = corpus.items;
        o.ncorpus = corpus.n;
        rc = gta_pretrain_run(&o);
    }
    arg_list_free(&corpus);
    free(init_owned);
    return rc ? cli_fail(rc) : 0;
}
