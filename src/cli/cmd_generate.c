/* gta generate: greedy decoding or sampling through the batched, prefix-shared sampler.
 * Prints one JSON line per sample. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "io/json.h"
#include "model/generate.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/sampler.h"
#include "task/eos.h"
#include "text/tokenizer.h"

/* "1,2,3" -> ids */
static int parse_ids(const char *s, gta_tok **out, int *n) {
    int cap = 16, k = 0;
    gta_tok *v = gta_malloc(sizeof(gta_tok) * (size_t)cap);
    const char *p = s;
    while (*p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x > 1 << 30) {
            free(v);
            return gta_err_set(GTA_EINPUT,
                               "gta generate: --prompt-ids: expected comma-separated ids, got '%s'", s);
        }
        if (k == cap) v = gta_realloc(v, sizeof(gta_tok) * (size_t)(cap *= 2));
        v[k++] = (gta_tok)x;
        p = end;
        while (*p == ',' || *p == ' ') p++;
    }
    if (!k) {
        free(v);
        return gta_err_set(GTA_EINPUT, "gta generate: --prompt-ids is empty");
    }
    *out = v;
    *n = k;
    return GTA_OK;
}

int cmd_generate(int argc, char **argv) {
    const char *model_dir = NULL, *prompt = NULL, *prompt_ids = NULL, *revision = NULL, *adapter = NULL,
               *device = NULL, *compute_s = NULL;
    int compute = GTA_COMPUTE_F32;
    char *model_owned = NULL;
    long long max_new = -1, num_samples = 1, seed = 0, top_k = 0;
    double temperature = 1.0, top_p = 1.0, min_p = 0.0;
    int greedy = 0, chat = 0;
    arg_list stops = {0};
    arg_spec specs[] = {
        {"model", ARG_STR, &model_dir, "Hugging Face model directory"},
        {"adapter", ARG_STR, &adapter, "PEFT LoRA adapter directory applied over --model"},
        {"device", ARG_STR, &device, "cpu | cuda: the backend that computes [cpu]"},
        {"compute", ARG_STR, &compute_s, CLI_COMPUTE_HELP},
        {"prompt", ARG_STR, &prompt, "prompt text (needs the model's tokenizer.json)"},
        {"prompt-ids", ARG_STR, &prompt_ids, "prompt as comma-separated token ids"},
        {"max-new-tokens", ARG_INT, &max_new, "tokens to generate at most"},
        {"greedy", ARG_FLAG, &greedy, "argmax decoding"},
        {"temperature", ARG_DOUBLE, &temperature, "sampling temperature"},
        {"top-p", ARG_DOUBLE, &top_p, "nucleus sampling mass"},
        {"top-k", ARG_INT, &top_k, "keep the k most likely tokens"},
        {"min-p", ARG_DOUBLE, &min_p, "drop tokens below min-p x the most likely one's probability"},
        {"num-samples", ARG_INT, &num_samples, "samples per prompt (the prompt is computed once)"},
        {"seed", ARG_INT, &seed, "random seed"},
        {"stop", ARG_STR_LIST, &stops, "stop strings (e.g. </answer>)"},
        {"chat", ARG_FLAG, &chat, "wrap --prompt as a user message in the model's chat template"},
        {"revision", ARG_STR, &revision, "branch, tag or commit of a Hub --model name [main]"},
    };
    int ns = sizeof specs / sizeof specs[0];
    int rc = args_parse("generate", argc, argv, specs, ns);
    if (rc < 0) {
        args_usage(
            "generate",
            "--model DIR (--prompt S | --prompt-ids 1,2,3) --max-new-tokens N [--greedy | --temperature T "
            "--top-p P --top-k K] [--num-samples G] [--seed S]",
            specs, ns);
        return 0;
    }
    if (rc) return cli_fail(rc);
    if (!model_dir || max_new < 0 || (!prompt == !prompt_ids))
        return cli_fail(gta_err_set(
            GTA_EINPUT,
            "gta generate: --model, --max-new-tokens and one of --prompt / --prompt-ids are required"));
    if (num_samples < 1 || num_samples > 1 << 16)
        return cli_fail(gta_err_set(GTA_EINPUT, "gta generate: --num-samples must be between 1 and 65536"));
    if (!(top_p > 0 && top_p <= 1) || min_p < 0 || min_p > 1 || top_k < 0 || (!greedy && !(temperature > 0)))
        return cli_fail(gta_err_set(GTA_EINPUT, "gta generate: need --temperature > 0, 0 < --top-p <= 1, "
                                                "0 <= --min-p <= 1, --top-k >= 0 (or --greedy)"));
    if ((rc = cli_model_arg("generate", "model", &model_dir, revision, &model_owned))) {
        arg_list_free(&stops);
        return cli_fail(rc);
    }
    gta_model *m = NULL;
    gta_tokenizer *tok = NULL;
    gta_tok *ids = NULL, eos[GTA_EOS_MAX];
    int np = 0, neos = 0;
    gta_sample_seq *out = NULL;
    char *rendered = NULL;
    gta_ids enc = {0};
    char *tpath = gta_path_join(model_dir, "tokenizer.json");
    const gta_backend_ops *be = NULL;
    if ((rc = cli_device_arg("generate", device, &be)) ||
        (rc = cli_compute_arg("generate", compute_s, &compute)) ||
        (rc = gta_model_load_on(model_dir, be, &m)) || (rc = gta_model_set_compute(m, compute)))
        goto done;
    if (adapter && (rc = gta_lora_load(m, adapter))) goto done;
    if (gta_file_exists(tpath) && (rc = gta_tokenizer_load(model_dir, &tok))) goto done;
    if (prompt) {
        if (!tok) {
            rc = gta_err_set(GTA_EINPUT,
                             "%s: no tokenizer.json, so --prompt cannot be encoded; use --prompt-ids",
                             model_dir);
            goto done;
        }
        if (chat) {
            gta_chat_message msg = {"user", prompt, NULL};
            gta_chat_options co;
            memset(&co, 0, sizeof co);
            co.add_generation_prompt = 1;
            co.enable_thinking = -1;
            /* the rendered template already holds its special tokens */
            if ((rc = gta_chat_render(tok, &msg, 1, &co, &rendered)) ||
                (rc = gta_tokenizer_encode(tok, rendered, strlen(rendered), 0, &enc))) {
                gta_err_prefix(rc, "gta generate: --prompt");
                goto done;
            }
        } else if ((rc = gta_tokenizer_encode(tok, prompt, strlen(prompt), 1, &enc))) {
            /* as transformers' tokenizer(prompt): with the post-processor's specials (Llama's BOS) */
            gta_err_prefix(rc, "gta generate: --prompt");
            goto done;
        }
        np = (int)enc.n;
        ids = enc.ids;
        enc = (gta_ids){0};
        if (!np) {
            rc = gta_err_set(GTA_EINPUT, "gta generate: the prompt encodes to no tokens");
            goto done;
        }
    } else if ((rc = parse_ids(prompt_ids, &ids, &np))) {
        goto done;
    }
    for (int i = 0; i < np; i++)
        if (ids[i] >= m->cfg.vocab_size) {
            rc = gta_err_set(GTA_EINPUT, "gta generate: prompt id %d is outside the vocabulary [0, %d)",
                             ids[i], m->cfg.vocab_size);
            goto done;
        }
    if (stops.n && !tok) {
        rc = gta_err_set(GTA_EINPUT, "%s: no tokenizer.json, so --stop strings cannot be matched", model_dir);
        goto done;
    }
    neos = gta_eos_ids(model_dir, &m->cfg, tok, eos, GTA_EOS_MAX);
    gta_sample_params sp;
    memset(&sp, 0, sizeof sp);
    sp.temperature = greedy ? 0.0 : temperature;
    sp.top_k = (int)top_k;
    sp.top_p = top_p;
    sp.min_p = min_p;
    sp.max_new_tokens = (int)max_new;
    sp.eos = eos;
    sp.neos = neos;
    sp.stop = stops.items;
    sp.nstop = stops.n;
    sp.tok = tok;
    sp.seed = (uint64_t)seed;
    int G = (int)num_samples;
    out = gta_calloc((size_t)G, sizeof *out);
    const gta_tok *pp = ids;
    if ((rc = gta_sample(m, &pp, &np, 1, G, NULL, &sp, out))) goto done;
    for (int g = 0; g < G && !rc; g++) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "sample", g);
        cJSON *arr = cJSON_AddArrayToObject(j, "ids");
        for (int i = 0; i < out[g].n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(out[g].ids[i]));
        if (tok) {
            char *text = NULL;
            rc = gta_tokenizer_decode(tok, out[g].ids, (size_t)out[g].n,
                                      GTA_DECODE_SKIP_SPECIAL | GTA_DECODE_SKIP_UNKNOWN, &text, NULL);
            if (!rc) cJSON_AddStringToObject(j, "text", text);
            free(text);
        } else {
            cJSON_AddNullToObject(j, "text");
        }
        cJSON_AddStringToObject(j, "finish", gta_finish_name(out[g].finish));
        char *line = cJSON_PrintUnformatted(j);
        printf("%s\n", line);
        free(line);
        cJSON_Delete(j);
    }
done:
    free(tpath);
    free(ids);
    if (out) gta_sample_seq_free(out, (int)num_samples);
    free(out);
    free(rendered);
    arg_list_free(&stops);
    gta_ids_free(&enc);
    gta_tokenizer_free(tok);
    gta_model_free(m);
    free(model_owned);
    return rc ? cli_fail(rc) : 0;
}
