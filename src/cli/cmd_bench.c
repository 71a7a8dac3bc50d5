/* gta bench --what train|train-prefix|generate|gemm|tokenize|grpo-step|gta-step: one JSON object on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/error.h"
#include "bench/bench.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "model/model.h"
#include "text/tokenizer.h"

int cmd_bench(int argc, char **argv) {
    const char *device = NULL;
    const char *what = NULL, *config = "tiny", *tokenizer = NULL, *data = NULL, *weights = "fp32";
    const char *compute_s = NULL;
    long long batch = -1, seq = 128, runs = -1, prompt_len = -1, new_tokens = -1, prompts = 2, iterations = 4;
    int share = 0;
    long long group = 16;
    arg_spec specs[] = {
        {"what", ARG_STR, &what, "train | train-prefix | generate | gemm | tokenize | grpo-step | gta-step"},
        {"device", ARG_STR, &device, "cpu | cuda: the backend that computes [cpu]"},
        {"group-size", ARG_INT, &group, "completions per prompt (train-prefix, *-step: default 16)"},
        {"config", ARG_STR, &config, "tiny | small | q05-4L | q05 | config.json (default tiny)"},
        {"prompts", ARG_INT, &prompts, "*-step: prompts per rollout (default 2)"},
        {"num-iterations", ARG_INT, &iterations, "*-step: optimizer steps on the rollout (default 4)"},
        {"compute", ARG_STR, &compute_s, CLI_COMPUTE_HELP},
        {"batch", ARG_INT, &batch, "sequences per step (train, default 8; generate, default 16)"},
        {"prompt-len", ARG_INT, &prompt_len, "prompt tokens (generate: 64, train-prefix: 600, *-step: 256)"},
        {"new-tokens", ARG_INT, &new_tokens,
         "tokens per completion (generate: 64, train-prefix: 128, *-step: 64)"},
        {"share", ARG_FLAG, &share, "generate: B samples of one prompt vs B independent copies"},
        {"weights", ARG_STR, &weights, "generate: fp32 | bf16 (decode with weights rounded to bfloat16)"},
        {"seq", ARG_INT, &seq, "tokens per sequence (train, default 128)"},
        {"runs", ARG_INT, &runs, "timed runs after warm-up (default 5, *-step: 2); the median is reported"},
        {"repeat", ARG_INT, &runs, "the same as --runs"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer dir or file (tokenize)"},
        {"data", ARG_STR, &data, "jsonl with a text field (tokenize)"},
    };
    int ns = sizeof specs / sizeof specs[0];
    int rc = args_parse("bench", argc, argv, specs, ns);
    if (rc < 0) {
        args_usage("bench", "--what train|train-prefix|generate|gemm|tokenize|grpo-step|gta-step [options]",
                   specs, ns);
        return 0;
    }
    const gta_backend_ops *be = NULL;
    int compute = GTA_COMPUTE_F32;
    if (!rc) rc = cli_device_arg("bench", device, &be);
    if (!rc) rc = cli_compute_arg("bench", compute_s, &compute);
    if (rc) return cli_fail(rc);
    gta_bench_set_backend(be);
    gta_bench_set_compute(compute);
    if (!what)
        return cli_fail(gta_err_set(GTA_EINPUT,
                                    "gta bench: --what is required (train, train-prefix, generate, "
                                    "gemm, tokenize, grpo-step, gta-step)"));
    int is_step = !strcmp(what, "grpo-step") || !strcmp(what, "gta-step");
    if (!is_step && (prompts != 2 || iterations != 4))
        return cli_fail(gta_err_set(
            GTA_EINPUT, "gta bench: --prompts and --num-iterations are for grpo-step and gta-step"));
    if (runs < 0) runs = is_step ? 2 : 5;
    char *json = NULL;
    if (is_step) {
        gta_config c;
        if ((rc = gta_bench_config(config, &c))) return cli_fail(rc);
        if (prompts < 1 || group < 2 || prompt_len == 0 || prompt_len < -1 || new_tokens == 0 ||
            new_tokens < -1 || iterations < 1 || runs < 1 || prompts > 1 << 20 || group > 1 << 20 ||
            prompt_len > 1 << 24 || new_tokens > 1 << 24 || iterations > 1 << 20 || runs > 1 << 20)
            return cli_fail(
                gta_err_set(GTA_EINPUT,
                            "gta bench --what %s: --prompts, --prompt-len, --new-tokens, --num-iterations "
                            "and --runs must be at least 1 and --group-size at least 2",
                            what));
        gta_step_shape sh = {(int)prompts,
                             (int)group,
                             prompt_len < 0 ? 256 : (int)prompt_len,
                             new_tokens < 0 ? 64 : (int)new_tokens,
                             (int)iterations,
                             (int)runs};
        fprintf(stderr,
                "bench %s: %s, %d prompts x G=%d, prompt %d + %d new tokens, %d updates, %d runs after a "
                "warm-up...\n",
                what, config, sh.prompts, sh.group, sh.prompt_len, sh.new_tokens, sh.iterations, sh.runs);
        rc = gta_bench_step(&c, config, !strcmp(what, "gta-step"), &sh, &json);
    } else if (!strcmp(what, "train")) {
        gta_config c;
        if ((rc = gta_bench_config(config, &c))) return cli_fail(rc);
        if (batch < 0) batch = 8;
        fprintf(stderr, "bench train: %s, B=%lld T=%lld, %lld runs after 2 warm-up steps...\n", config, batch,
                seq, runs);
        rc = gta_bench_train(&c, config, (int)batch, (int)seq, (int)runs, &json);
    } else if (!strcmp(what, "train-prefix")) {
        gta_config c;
        if ((rc = gta_bench_config(config, &c))) return cli_fail(rc);
        /* defaults: a BBC-News-length prompt (about 600 tokens with the instructions) */
        long long P = prompt_len < 0 ? 600 : prompt_len, L = new_tokens < 0 ? 128 : new_tokens;
        fprintf(stderr, "bench train-prefix: %s, prompt %lld, G=%lld completions of %lld tokens...\n", config, P, group, L);
        rc = gta_bench_prefix(&c, config, (int)P, (int)group, (int)L, (int)runs, &json);
    } else if (!strcmp(what, "gemm")) {
        gta_config c;
        if ((rc = gta_bench_config(config, &c))) return cli_fail(rc);
        if (batch < 0) batch = 8;
        fprintf(stderr, "bench gemm: %s, %lld tokens (--batch x --seq), %s compute...\n", config, batch * seq,
                gta_compute_name(compute));
        rc = gta_bench_gemm(&c, config, (int)(batch * seq), (int)runs, &json);
    } else if (!strcmp(what, "tokenize")) {
        if (!tokenizer || !data)
            return cli_fail(gta_err_set(GTA_EINPUT, "gta bench --what tokenize: --tokenizer and --data are required"));
        rc = gta_bench_tokenize(tokenizer, data, (int)runs, &json);
    } else if (!strcmp(what, "generate")) {
        gta_config c;
        if ((rc = gta_bench_config(config, &c))) return cli_fail(rc);
        if (batch < 0) batch = 16;
        if (prompt_len < 0) prompt_len = 64;
        if (new_tokens < 0) new_tokens = 64;
        int bf16 = !strcmp(weights, "bf16");
        if (!bf16 && strcmp(weights, "fp32"))
            return cli_fail(gta_err_set(GTA_EINPUT, "gta bench: --weights '%s': expected fp32 or bf16", weights));
        fprintf(stderr, "bench generate: %s, %lld sequences, %lld-token prompts, %lld new tokens, %s weights%s...\n",
                config, batch, prompt_len, new_tokens, weights, share ? ", shared prompt vs copies" : "");
        rc = gta_bench_generate(&c, config, (int)batch, (int)prompt_len, (int)new_tokens, (int)runs, share, bf16,
                                &json);
    } else {
        rc = gta_err_set(GTA_EINPUT,
                         "gta bench: --what '%s': expected train, train-prefix, generate, gemm, "
                         "tokenize, grpo-step or gta-step",
                         what);
    }
    if (rc) return cli_fail(rc);
    printf("%s\n", json);
    free(json);
    return 0;
}
