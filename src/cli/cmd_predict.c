/* gta predict: one JSON line per input record (SPEC.md "`predict` output"; see
 * eval/predict.h and docs/predict.md).
 *
 * The prompt settings come from the model's gta_task.json (labels, format, prompt style,
 * prompt limit, system message, completion limit); flags override them, and without the
 * file --labels is required.  All input is read and checked first; then the texts are
 * predicted --batch at a time.  With --out the lines are written atomically at the end (a
 * failed run leaves no file); without it they go to standard output batch by batch. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "eval/predict.h"
#include "model/lora.h"
#include "model/model.h"
#include "task/eos.h"
#include "task/model_task.h"
#include "text/tokenizer.h"

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int cmd_predict(int argc, char **argv) {
    const char *model_dir = NULL, *input = NULL, *out_path = NULL, *field = "text", *input_format = NULL;
    const char *format = NULL, *prompt_style = NULL, *system = NULL, *labels_path = NULL, *revision = NULL;
    const char *adapter = NULL, *device = NULL;
    long long batch = 16, max_new = -1, max_prompt = -1, memory_mb = 0, limit = 0;
    int scores = 0, quiet = 0;
    arg_spec specs[] = {
        {"model", ARG_STR, &model_dir, "trained model directory (or a Hub name Org/Name)"},
        {"input", ARG_STR, &input, "F.jsonl, F.csv, or - for standard input (JSON Lines)"},
        {"field", ARG_STR, &field, "the JSON key / CSV column holding the text [text]"},
        {"input-format", ARG_STR, &input_format, "jsonl | csv [from the file name; jsonl for -]"},
        {"out", ARG_STR, &out_path, "output JSON Lines file, written atomically [standard output]"},
        {"scores", ARG_FLAG, &scores, "add each label's probability as the answer (sums to 1)"},
        {"batch", ARG_INT, &batch, "texts decoded together [16]"},
        {"limit", ARG_INT, &limit, "predict only the first N records [all]"},
        {"max-new-tokens", ARG_INT, &max_new, "completion length limit [gta_task.json's, else 256]"},
        {"format", ARG_STR, &format, "sft | grpo | gta [gta_task.json's]"},
        {"prompt-style", ARG_STR, &prompt_style, "full | compact [gta_task.json's]"},
        {"max-prompt-tokens", ARG_INT, &max_prompt, "input truncated so the prompt fits [gta_task.json's]"},
        {"system", ARG_STR, &system, "system message [gta_task.json's]"},
        {"labels", ARG_STR, &labels_path, "labels.txt, for a model without gta_task.json"},
        {"revision", ARG_STR, &revision, "branch, tag or commit of a Hub --model name [main]"},
        {"device", ARG_STR, &device, "cpu | cuda: the backend that computes [cpu]"},
        {"adapter", ARG_STR, &adapter,
         "PEFT LoRA adapter directory applied over --model (its gta_task.json first)"},
        {"memory-mb", ARG_INT, &memory_mb, "memory the sampler may plan for [what is available]"},
        {"quiet", ARG_FLAG, &quiet, "no progress lines on stderr"},
    };
    int ns = sizeof specs / sizeof specs[0];
    int rc = args_parse("predict", argc, argv, specs, ns);
    if (rc < 0) {
        args_usage("predict", "--model DIR --input F.jsonl|F.csv|- [--field text] [--scores] [--out F.jsonl]",
                   specs, ns);
        return 0;
    }
    if (rc) return cli_fail(rc);
    if (!model_dir || !input)
        return cli_fail(gta_err_set(GTA_EINPUT, "gta predict: --model and --input are required"));
    if (batch < 1 || batch > 4096 || limit < 0 || memory_mb < 0 || max_new == 0 || max_new > 1 << 20 ||
        max_prompt > 1 << 24)
        return cli_fail(gta_err_set(GTA_EINPUT,
                                    "gta predict: need 1 <= --batch <= 4096, --limit >= 0, "
                                    "1 <= --max-new-tokens <= 1048576, --max-prompt-tokens >= 0"));
    int csv = 0;
    if (input_format) {
        if (strcmp(input_format, "jsonl") && strcmp(input_format, "csv"))
            return cli_fail(gta_err_set(GTA_EINPUT, "gta predict: --input-format '%s': expected jsonl or csv",
                                        input_format));
        csv = !strcmp(input_format, "csv");
    } else {
        csv = ends_with(input, ".csv") || ends_with(input, ".CSV");
    }

    char *model_owned = NULL, *outbuf = NULL;
    size_t outlen = 0, outcap = 0;
    gta_task task;
    int has_task = 0;
    gta_labels file_labels;
    memset(&file_labels, 0, sizeof file_labels);
    gta_predict_inputs in;
    memset(&in, 0, sizeof in);
    gta_model *m = NULL;
    gta_tokenizer *tok = NULL;
    gta_prediction *res = NULL;
    const gta_labels *labels = NULL;
    gta_predict_opts o;
    gta_predict_opts_default(&o);
    memset(&task, 0, sizeof task);
    if ((rc = cli_model_arg("predict", "model", &model_dir, revision, &model_owned))) goto done;
    /* an adapter written by gta train carries the task; else the base's */
    if (adapter && (rc = gta_task_read(adapter, &task, &has_task))) goto done;
    if (!has_task && (rc = gta_task_read(model_dir, &task, &has_task))) goto done;
    if (has_task) {
        o.format = task.format;
        o.compact = task.compact;
        o.max_prompt_tokens = task.max_prompt_tokens;
        o.system = task.system;
        if (task.max_new_tokens > 0) o.max_new_tokens = task.max_new_tokens;
        labels = &task.labels;
    }
    if (labels_path) {
        if ((rc = gta_labels_load(labels_path, &file_labels))) goto done;
        labels = &file_labels;
    }
    if (!labels) {
        rc = gta_err_set(GTA_EINPUT,
                         "gta predict: %s has no " GTA_TASK_FILE
                         " (not a model written by gta train): give --labels",
                         model_dir);
        goto done;
    }
    if (format && (rc = gta_format_from_name(format, &o.format))) {
        gta_err_prefix(rc, "gta predict: --format");
        goto done;
    }
    if (prompt_style) {
        if (strcmp(prompt_style, "full") && strcmp(prompt_style, "compact")) {
            rc = gta_err_set(GTA_EINPUT, "gta predict: --prompt-style '%s': expected full or compact",
                             prompt_style);
            goto done;
        }
        o.compact = !strcmp(prompt_style, "compact");
    }
    if (!has_task && max_prompt < 0) max_prompt = 4096;
    if (max_prompt >= 0) o.max_prompt_tokens = (int)max_prompt;
    if (max_new > 0) o.max_new_tokens = (int)max_new;
    if (system) o.system = system;
    o.scores = scores;
    o.memory_limit = (size_t)memory_mb << 20;
    if (out_path) {
        /* the folder must exist before the work starts */
        char *d = gta_strdup(out_path), *slash = strrchr(d, '/');
        if (slash) *slash = 0;
        int ok = !slash || slash == d || gta_is_dir(d);
        if (!ok) rc = gta_err_set(GTA_EINPUT, "%s: the folder %s does not exist", out_path, d);
        free(d);
        if (rc) goto done;
    }
    /* every record is read and checked before anything is predicted or written */
    if ((rc = gta_predict_read(input, field, csv, &in))) goto done;
    size_t n = in.n;
    if (limit > 0 && (size_t)limit < n) n = (size_t)limit;
    const gta_backend_ops *be = NULL;
    if ((rc = cli_device_arg("predict", device, &be)) || (rc = gta_model_load_on(model_dir, be, &m))) goto done;
    if (adapter && (rc = gta_lora_load(m, adapter))) goto done;
    if ((rc = gta_tokenizer_load(model_dir, &tok))) goto done;
    gta_tok eos[GTA_EOS_MAX];
    o.neos = gta_eos_ids(model_dir, &m->cfg, tok, eos, GTA_EOS_MAX);
    o.eos = eos;

    int B = (int)batch;
    res = gta_calloc((size_t)B, sizeof *res);
    const char **texts = gta_calloc((size_t)B, sizeof *texts);
    size_t *lens = gta_calloc((size_t)B, sizeof *lens);
    double t0 = gta_now(), last = t0;
    long parsed = 0;
    for (size_t b0 = 0; b0 < n && !rc; b0 += (size_t)B) {
        int nb = (int)(n - b0 < (size_t)B ? n - b0 : (size_t)B);
        for (int i = 0; i < nb; i++) texts[i] = in.x[b0 + (size_t)i].text, lens[i] = in.x[b0 + (size_t)i].len;
        if ((rc = gta_predict_batch(m, tok, labels, &o, texts, lens, nb, res))) {
            gta_err_prefix(rc, "%s:%d..%d", in.name, in.x[b0].line, in.x[b0 + (size_t)nb - 1].line);
            break;
        }
        for (int i = 0; i < nb; i++) {
            cJSON *j = gta_prediction_json(&res[i], labels, o.format, in.x[b0 + (size_t)i].line);
            char *s = cJSON_PrintUnformatted(j);
            cJSON_Delete(j);
            size_t sl = strlen(s);
            if (out_path) {
                if (outlen + sl + 2 > outcap) outbuf = gta_realloc(outbuf, outcap = (outlen + sl + 2) * 2);
                memcpy(outbuf + outlen, s, sl);
                outlen += sl;
                outbuf[outlen++] = '\n';
            } else {
                fwrite(s, 1, sl, stdout);
                fputc('\n', stdout);
            }
            free(s);
            parsed += res[i].label >= 0;
            gta_prediction_free(&res[i]);
        }
        if (!out_path) fflush(stdout);
        double now = gta_now();
        size_t done_n = b0 + (size_t)nb;
        if (!quiet && (now - last >= 2.0 || done_n == n)) {
            double rate = (double)done_n / (now - t0 > 1e-9 ? now - t0 : 1e-9);
            fprintf(stderr, "predict: %zu/%zu (%.0f%%), %.2f texts/s, ETA %.0f s\n", done_n, n,
                    100.0 * (double)done_n / (double)n, rate,
                    (double)(n - done_n) / (rate > 0 ? rate : 1e-9));
            last = now;
        }
    }
    free(texts);
    free(lens);
    if (!rc && out_path) rc = gta_write_file_atomic(out_path, outbuf ? outbuf : "", outlen);
    if (!rc && !quiet)
        fprintf(stderr, "predict: %zu texts, %ld with a label (%.1f%%)%s%s\n", n, parsed,
                n ? 100.0 * (double)parsed / (double)n : 0.0, out_path ? " -> " : "",
                out_path ? out_path : "");
done:
    free(res);
    free(outbuf);
    gta_tokenizer_free(tok);
    gta_model_free(m);
    gta_predict_inputs_free(&in);
    gta_labels_free(&file_labels);
    gta_task_free(&task);
    free(model_owned);
    return rc ? cli_fail(rc) : 0;
}
