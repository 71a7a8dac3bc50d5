/* gta eval: score a model on a dataset split; writes the SPEC `eval` object to --out.
 *
 * A model directory written by gta train carries its task (gta_task.json, see
 * task/model_task.h): --format, --prompt-style, --max-prompt-tokens, --system and
 * --max-new-tokens then default to what the model was trained with, so the prompt is
 * rebuilt without flags; a flag given overrides it.  Without gta_task.json (a base model
 * scored zero-shot) the defaults are gta, full, 4096, none and 256.  We never guess them
 * from anything else (a run's config.json, the directory name): that would make the same
 * command mean different things in different places. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "eval/eval.h"
#include "io/dataset.h"
#include "io/json.h"
#include "model/lora.h"
#include "model/model.h"
#include "task/eos.h"
#include "task/model_task.h"
#include "task/reward.h"
#include "text/tokenizer.h"

/* the folder that will hold path must exist, so that a long run does not fail at the end */
static int check_out_dir(const char *path) {
    char *d = gta_strdup(path);
    char *slash = strrchr(d, '/');
    int ok = 1;
    if (slash) {
        if (slash == d)
            slash[1] = 0;
        else
            *slash = 0;
        ok = gta_is_dir(d);
    }
    int rc = ok ? GTA_OK : gta_err_set(GTA_EINPUT, "%s: the folder %s does not exist", path, d);
    free(d);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    const char *device = NULL, *compute_s = NULL;
    int compute = GTA_COMPUTE_F32;
    const char *model_dir = NULL, *data_dir = NULL, *split_name = "test", *format = NULL, *out_path = NULL;
    const char *system = NULL, *prompt_style = NULL, *revision = NULL, *adapter = NULL;
    long long limit = 0, max_new = -1, max_prompt = -1, batch = 16, n_examples = 8, memory_mb = 0;
    int quiet = 0;
    arg_spec specs[] = {
        {"model", ARG_STR, &model_dir, "model directory (config.json, model.safetensors, tokenizer.json)"},
        {"adapter", ARG_STR, &adapter, "PEFT LoRA adapter directory applied over --model"},
        {"device", ARG_STR, &device, "cpu | cuda: the backend that computes [cpu]"},
        {"compute", ARG_STR, &compute_s, CLI_COMPUTE_HELP},
        {"data", ARG_STR, &data_dir, "dataset directory (labels.txt and the split)"},
        {"split", ARG_STR, &split_name, "split to score [test]"},
        {"format", ARG_STR, &format,
         "completion format asked for and parsed: sft | grpo | gta [gta_task.json's, else gta]"},
        {"limit", ARG_INT, &limit, "score only the first N examples [all]"},
        {"out", ARG_STR, &out_path, "output JSON file (written atomically)"},
        {"max-new-tokens", ARG_INT, &max_new,
         "tokens generated per example at most [gta_task.json's, else 256]"},
        {"max-prompt-tokens", ARG_INT, &max_prompt,
         "prompt length limit; the input text is truncated to fit [gta_task.json's, else 4096]"},
        {"batch", ARG_INT, &batch, "prompts decoded together [16]"},
        {"system", ARG_STR, &system,
         "system message (as given to train's system_prompt) [gta_task.json's, else none]"},
        {"prompt-style", ARG_STR, &prompt_style,
         "full | compact: the prompt_style the model was trained with [gta_task.json's, else full]"},
        {"examples", ARG_INT, &n_examples, "example completions kept in the output [8]"},
        {"memory-mb", ARG_INT, &memory_mb, "memory the sampler may plan for [what is available]"},
        {"quiet", ARG_FLAG, &quiet, "no progress lines on stderr"},
        {"revision", ARG_STR, &revision, "branch, tag or commit of a Hub --model name [main]"},
    };
    int ns = sizeof specs / sizeof specs[0];
    int rc = args_parse("eval", argc, argv, specs, ns);
    if (rc < 0) {
        args_usage("eval",
                   "--model DIR --data DIR [--split test] [--format sft|grpo|gta] [--limit N] --out F.json",
                   specs, ns);
        return 0;
    }
    if (rc) return cli_fail(rc);
    if (!model_dir || !data_dir || !out_path)
        return cli_fail(gta_err_set(GTA_EINPUT, "gta eval: --model, --data and --out are required"));
    char *model_owned = NULL;
    if ((rc = cli_model_arg("eval", "model", &model_dir, revision, &model_owned))) return cli_fail(rc);
    /* the model's task gives the defaults */
    gta_task task;
    int has_task = 0;
    /* an adapter written by gta train carries the task; else the base's */
    const char *task_dir = model_dir;
    if (adapter && (rc = gta_task_read(adapter, &task, &has_task))) {
        free(model_owned);
        return cli_fail(rc);
    }
    if (adapter && has_task)
        task_dir = adapter;
    else if ((rc = gta_task_read(model_dir, &task, &has_task))) {
        free(model_owned);
        return cli_fail(rc);
    }
    gta_eval_opts o;
    gta_eval_opts_default(&o);
    if (has_task) {
        o.format = task.format;
        if (!prompt_style) prompt_style = task.compact ? "compact" : "full";
        if (max_prompt < 0) max_prompt = task.max_prompt_tokens;
        if (max_new < 0 && task.max_new_tokens > 0) max_new = task.max_new_tokens;
        if (!system) system = task.system;
    }
    if (!prompt_style) prompt_style = "full";
    if (max_prompt < 0) max_prompt = 4096;
    if (max_new < 0) max_new = 256;
    if (format && (rc = gta_format_from_name(format, &o.format))) {
        rc = gta_err_prefix(rc, "gta eval: --format");
        goto early;
    }
    if (limit < 0 || max_new < 1 || max_new > 1 << 20 || max_prompt < 0 || max_prompt > 1 << 24 ||
        batch < 1 || batch > 4096 || n_examples < 0 || n_examples > 100000 || memory_mb < 0) {
        rc = gta_err_set(GTA_EINPUT, "gta eval: need --limit >= 0, 1 <= --max-new-tokens <= 1048576, "
                                     "--max-prompt-tokens >= 0, 1 <= --batch <= 4096, --examples >= 0");
        goto early;
    }
    if (strcmp(prompt_style, "full") != 0 && strcmp(prompt_style, "compact") != 0) {
        rc = gta_err_set(GTA_EINPUT, "gta eval: --prompt-style '%s': expected full or compact", prompt_style);
        goto early;
    }
    o.compact_prompt = !strcmp(prompt_style, "compact");
    if ((rc = check_out_dir(out_path))) goto early;
    if (!gta_is_dir(data_dir)) {
        rc = gta_err_set(GTA_EINPUT, "%s: not a dataset directory", data_dir);
        goto early;
    }

    gta_labels labels;
    gta_split split;
    memset(&labels, 0, sizeof labels);
    memset(&split, 0, sizeof split);
    gta_model *m = NULL;
    gta_tokenizer *tok = NULL;
    cJSON *res = NULL;
    char *json = NULL;
    char *lp = gta_path_join(data_dir, "labels.txt");
    gta_tok eos[GTA_EOS_MAX];
    int neos = 0;
    if ((rc = gta_labels_load(lp, &labels))) goto done;
    if ((rc = gta_split_load(data_dir, split_name, &labels, &split))) goto done;
    if (has_task && !gta_task_same_labels(&labels, &task.labels) && !quiet)
        fprintf(stderr,
                "gta eval: warning: the labels of %s/labels.txt differ from those in %s/" GTA_TASK_FILE
                " (the prompt lists the dataset's labels, not the ones the model was trained on)\n",
                data_dir, task_dir);
    const gta_backend_ops *be = NULL;
    if ((rc = cli_device_arg("eval", device, &be)) || (rc = cli_compute_arg("eval", compute_s, &compute)) ||
        (rc = gta_model_load_on(model_dir, be, &m)) || (rc = gta_model_set_compute(m, compute)))
        goto done;
    if (adapter && (rc = gta_lora_load(m, adapter))) goto done;
    if ((rc = gta_tokenizer_load(model_dir, &tok))) goto done;
    neos = gta_eos_ids(model_dir, &m->cfg, tok, eos, GTA_EOS_MAX);
    o.eos = eos;
    o.neos = neos;
    o.limit = limit;
    o.max_new_tokens = (int)max_new;
    o.max_prompt_tokens = (int)max_prompt;
    o.batch = (int)batch;
    o.system = system;
    o.n_examples = (int)n_examples;
    o.progress = !quiet;
    o.memory_limit = (size_t)memory_mb << 20;
    if ((rc = gta_eval_run(m, tok, &labels, &split, &o, &res))) goto done;
    cJSON_AddStringToObject(res, "model", model_dir);
    if (adapter) cJSON_AddStringToObject(res, "adapter", adapter);
    cJSON_AddStringToObject(res, "data", data_dir);
    cJSON_AddStringToObject(res, "split_name", split_name);
    json = cJSON_Print(res);
    {
        size_t len = strlen(json);
        json = gta_realloc(json, len + 2);
        json[len] = '\n';
        json[len + 1] = 0;
        if ((rc = gta_write_file_atomic(out_path, json, len + 1))) goto done;
    }
    if (!quiet) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(res, "accuracy"),
                    *f = cJSON_GetObjectItemCaseSensitive(res, "f1_weighted"),
                    *n = cJSON_GetObjectItemCaseSensitive(res, "n");
        fprintf(stderr, "eval: n %d, accuracy %.4f, weighted F1 %.4f -> %s\n", n->valueint, a->valuedouble,
                f->valuedouble, out_path);
    }
done:
    free(lp);
    free(json);
    cJSON_Delete(res);
    gta_split_free(&split);
    gta_labels_free(&labels);
    gta_tokenizer_free(tok);
    gta_model_free(m);
early:
    gta_task_free(&task);
    free(model_owned);
    return rc ? cli_fail(rc) : 0;
}
