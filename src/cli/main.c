#include <stdio.h>
#include <string.h>

#include "backend/blas_core.h"
#include "base/error.h"
#include "cli/cli.h"
#include "comm/comm.h"

int cli_fail(int code) {
    fprintf(stderr, "gta: error: %s\n", gta_err_msg());
    /* one of several ranks: end them all now rather than leave them waiting for this one */
    fflush(stderr);
    gta_comm_world_abort(code);
    return code;
}

static int not_yet(const char *name) {
    fprintf(stderr, "gta: error: '%s' is not available in this build yet\n", name);
    return GTA_EFAIL;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"forward", cmd_forward, "run the model on token ids (logits, loss, gradients)"},
    {"generate", cmd_generate, "greedy-decode or sample continuations"},
    {"tokenize", cmd_tokenize, "text <-> ids with a tokenizer.json, chat templates"},
    {"tokenizer-train", cmd_tokenizer_train, "train a byte-level BPE tokenizer"},
    {"bench", cmd_bench, "built-in throughput benchmarks"},
    {"train", cmd_train, "fine-tune with sft | grpo | gta | gta-rl"},
    {"eval", cmd_eval, "score a model on a dataset split"},
    {"report", cmd_report, "HTML report of runs"},
    {"predict", cmd_predict, "label new texts with a trained model"},
    {"pretrain", cmd_pretrain, "causal-LM pretraining of a small model"},
    {"merge", cmd_merge, "fold a LoRA adapter (PEFT's format) into its base model"},
    {"init", cmd_init,
     "a model directory with random weights for a config.json (real shapes for benchmarks)"},
    {"selftest", cmd_selftest, "check every op of a backend (--device cuda|cpu) against a reference"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: gta <command> [options]   (gta <command> --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-16s %s%s\n", commands[i].name, commands[i].help, commands[i].fn ? "" : " (not yet)");
}

int main(int argc, char **argv) {
    gta_blas_core_fix(argv); /* OpenBLAS's kernels for this CPU, when its detection fell short */
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? GTA_EINPUT : GTA_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        if (!commands[i].fn) return not_yet(commands[i].name);
        return commands[i].fn(argc - 2, argv + 2);
    }
    fprintf(stderr, "gta: error: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return GTA_EINPUT;
}
