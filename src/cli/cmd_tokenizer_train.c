/* gta tokenizer-train: byte-level BPE trained on text files (see docs/tokenizer.md). */
#include <stdio.h>

#include "base/error.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "text/bpe_train.h"

int cmd_tokenizer_train(int argc, char **argv) {
    arg_list corpus = {0};
    long long vocab = 0, minf = 2;
    const char *out = NULL;
    int quiet = 0;
    const arg_spec specs[] = {
        {"corpus", ARG_STR_LIST, &corpus,
         "text files: *.jsonl (a \"text\" per line) or plain UTF-8 (required)"},
        {"vocab-size", ARG_INT, &vocab, "total vocabulary size, special tokens included (required)"},
        {"out", ARG_STR, &out, "output directory for tokenizer.json + tokenizer_config.json (required)"},
        {"min-frequency", ARG_INT, &minf, "stop when the most frequent pair is rarer than this (default 2)"},
        {"quiet", ARG_FLAG, &quiet, "no progress on stderr"},
    };
    const int nspecs = (int)(sizeof specs / sizeof specs[0]);
    int rc = args_parse("tokenizer-train", argc, argv, specs, nspecs);
    if (rc < 0) {
        args_usage("tokenizer-train", "--corpus F... --vocab-size N --out DIR [--min-frequency 2]", specs,
                   nspecs);
        arg_list_free(&corpus);
        return 0;
    }
    if (!rc && (!corpus.n || !vocab || !out))
        rc = gta_err_set(GTA_EINPUT, "gta tokenizer-train: --corpus, --vocab-size and --out are required");
    if (!rc) {
        gta_bpe_train_opts o = {corpus.items, corpus.n, (long)vocab, (long)minf, out, !quiet};
        rc = gta_bpe_train(&o);
    }
    arg_list_free(&corpus);
    if (rc) return cli_fail(rc);
    if (!quiet) fprintf(stderr, "tokenizer-train: wrote %s/tokenizer.json and tokenizer_config.json\n", out);
    return 0;
}
