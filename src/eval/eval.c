/* gta_eval_run: prompts -> batched greedy decoding -> parse -> metrics (see eval.h). */
#include "eval/eval.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "eval/metrics.h"
#include "model/generate.h"
#include "model/sampler.h"
#include "task/eos.h"
#include "task/prompt.h"

void gta_greedy_params(const gta_model *m, const gta_tokenizer *tok, const gta_tok *eos, int neos,
                       int max_new_tokens, size_t memory_limit, gta_greedy_ends *ends,
                       gta_sample_params *sp) {
    int n = 0;
    if (neos > 0)
        for (int i = 0; i < neos && n < GTA_EOS_MAX; i++) ends->eos[n++] = eos[i];
    else
        n = gta_eos_ids(NULL, &m->cfg, tok, ends->eos, GTA_EOS_MAX);
    ends->stop[0] = "</answer>";
    memset(sp, 0, sizeof *sp);
    sp->temperature = 0; /* greedy */
    sp->top_p = 1;
    sp->max_new_tokens = max_new_tokens;
    sp->eos = ends->eos;
    sp->neos = n;
    sp->stop = ends->stop;
    sp->nstop = 1;
    sp->tok = tok;
    sp->memory_limit = memory_limit;
}

void gta_eval_opts_default(gta_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->format = GTA_FORMAT_GTA;
    o->max_new_tokens = 256;
    o->batch = 16;
    o->n_examples = 8;
    o->n_diff_examples = 3;
    o->max_input_chars = 600;
}

/* what is kept per example */
typedef struct {
    int32_t pred, guess;
    int format_ok, guess_ok;
    gta_finish finish;
    int ntok;
    char *completion; /* kept only while an example may still be saved */
} ex_result;

/* A copy of s cut to at most max bytes at a UTF-8 character boundary, "…" appended when cut,
 * so saved examples stay small and valid UTF-8. */
static char *cut_text(const char *s, size_t len, int max) {
    if (max <= 0 || len <= (size_t)max) return gta_strdup(s);
    size_t n = (size_t)max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    char *r = gta_malloc(n + 4);
    memcpy(r, s, n);
    memcpy(r + n, "\xE2\x80\xA6", 4);
    return r;
}

static void add_label_or_null(cJSON *o, const char *key, const gta_labels *labels, int32_t id) {
    if (id >= 0 && (size_t)id < labels->n)
        cJSON_AddStringToObject(o, key, labels->names[id]);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *example_json(const gta_eval_opts *o, const gta_labels *labels, const gta_example *e,
                           size_t index, const ex_result *r) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "index", (double)index);
    cJSON_AddNumberToObject(j, "line", e->line);
    char *in = cut_text(e->text, e->text_len, o->max_input_chars);
    cJSON_AddStringToObject(j, "input", in);
    free(in);
    cJSON_AddStringToObject(j, "gold", labels->names[e->label]);
    add_label_or_null(j, "prediction", labels, r->pred);
    if (o->format == GTA_FORMAT_GTA) add_label_or_null(j, "guess", labels, r->guess);
    cJSON_AddBoolToObject(j, "correct", r->pred == e->label);
    cJSON_AddBoolToObject(j, "format_ok", r->format_ok);
    cJSON_AddStringToObject(j, "finish", gta_finish_name(r->finish));
    cJSON_AddStringToObject(j, "completion", r->completion ? r->completion : "");
    return j;
}

static cJSON *diff_json(const gta_eval_opts *o, const gta_labels *labels, const gta_example *e, size_t index,
                        const ex_result *r) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "index", (double)index);
    char *in = cut_text(e->text, e->text_len, o->max_input_chars);
    cJSON_AddStringToObject(j, "input", in);
    free(in);
    cJSON_AddStringToObject(j, "gold", labels->names[e->label]);
    add_label_or_null(j, "guess", labels, r->guess);
    add_label_or_null(j, "answer", labels, r->pred);
    cJSON_AddStringToObject(j, "completion", r->completion ? r->completion : "");
    return j;
}

int gta_eval_run(gta_model *m, gta_tokenizer *tok, const gta_labels *labels, const gta_split *split,
                 const gta_eval_opts *o, cJSON **out) {
    *out = NULL;
    if (!m || !tok || !labels || !split || !o)
        return gta_err_set(GTA_EINPUT, "eval: missing model, tokenizer or split");
    if (o->max_new_tokens < 1 || o->batch < 1 || o->limit < 0 || o->max_prompt_tokens < 0)
        return gta_err_set(GTA_EINPUT,
                           "eval: need max_new_tokens >= 1, batch >= 1, limit >= 0, max_prompt_tokens >= 0");
    const char *name = o->name ? o->name : "eval";
    size_t n = split->n;
    if (o->limit > 0 && (size_t)o->limit < n) n = (size_t)o->limit;
    if (n == 0)
        return gta_err_set(GTA_EINPUT, "%s: the split has no examples", split->path ? split->path : "eval");
    double t0 = gta_now();

    /* end of a completion: the caller's set (gta_eos_ids with the model directory), else
     * the one the model and tokenizer give without it */
    gta_greedy_ends ends;
    gta_sample_params sp;
    gta_greedy_params(m, tok, o->eos, o->neos, o->max_new_tokens, o->memory_limit, &ends, &sp);

    gta_prompt_opts po;
    memset(&po, 0, sizeof po);
    po.format = o->format;
    po.max_prompt_tokens = o->max_prompt_tokens;
    po.system = o->system;
    po.compact = o->compact_prompt;

    ex_result *res = gta_calloc(n, sizeof *res);
    int32_t *gold = gta_malloc(sizeof(int32_t) * n), *pred = gta_malloc(sizeof(int32_t) * n);
    int B = o->batch;
    gta_tok **pint = gta_calloc((size_t)B, sizeof(gta_tok *));
    const gta_tok **pp = gta_calloc((size_t)B, sizeof(gta_tok *));
    int *plen = gta_calloc((size_t)B, sizeof(int));
    gta_sample_seq *smp = gta_calloc((size_t)B, sizeof *smp);
    long truncated = 0, fin[3] = {0, 0, 0};
    double ctok = 0, last_report = t0;
    int rc = GTA_OK;
    /* guess/answer kinds and their saved examples */
    long both = 0, same = 0, corrected = 0, broken = 0, wrongdiff = 0, gunp = 0, aunp = 0;
    cJSON *dex[3] = {cJSON_CreateArray(), cJSON_CreateArray(), cJSON_CreateArray()};
    cJSON *examples = cJSON_CreateArray();

    for (size_t b0 = 0; b0 < n && !rc; b0 += (size_t)B) {
        int nb = (int)(n - b0 < (size_t)B ? n - b0 : (size_t)B);
        for (int p = 0; p < nb && !rc; p++) {
            const gta_example *e = &split->ex[b0 + (size_t)p];
            gta_prompt pr;
            if ((rc = gta_prompt_build(tok, &po, labels, e->text, e->text_len, &pr))) {
                gta_err_prefix(rc, "%s:%d", split->path ? split->path : "split", e->line);
                break;
            }
            truncated += pr.truncated;
            pint[p] = pr.ids.ids; /* kept until the batch is sampled */
            pp[p] = pint[p];
            plen[p] = (int)pr.ids.n;
            pr.ids = (gta_ids){0};
            gta_prompt_free(&pr);
        }
        if (!rc) rc = gta_sample(m, pp, plen, nb, 1, NULL, &sp, smp);
        for (int p = 0; p < nb; p++) {
            free(pint[p]);
            pint[p] = NULL;
        }
        if (rc) break;
        for (int p = 0; p < nb && !rc; p++) {
            size_t i = b0 + (size_t)p;
            const gta_example *e = &split->ex[i];
            gta_sample_seq *s = &smp[p];
            int len = s->n;
            /* the end token is not part of the completion (reward.h) */
            if (s->finish == GTA_FINISH_EOS && len > 0) len--;
            char *text = NULL;
            size_t tl = 0;
            rc = gta_tokenizer_decode(tok, s->ids, (size_t)len,
                                      GTA_DECODE_SKIP_SPECIAL | GTA_DECODE_SKIP_UNKNOWN, &text, &tl);
            if (rc) break;
            gta_reward rw;
            gta_reward_score(o->format, text, tl, labels, e->label, &rw);
            ex_result *r = &res[i];
            r->pred = rw.answer_label;
            r->guess = rw.guess_label;
            r->format_ok = rw.format_ok;
            r->guess_ok = rw.guess_ok;
            r->finish = s->finish;
            r->ntok = s->n;
            r->completion = text;
            gold[i] = e->label;
            pred[i] = r->pred;
            fin[s->finish == GTA_FINISH_EOS ? 0 : s->finish == GTA_FINISH_STOP ? 1 : 2]++;
            ctok += s->n;
            if ((size_t)cJSON_GetArraySize(examples) < (size_t)(o->n_examples > 0 ? o->n_examples : 0))
                cJSON_AddItemToArray(examples, example_json(o, labels, e, i, r));
            if (o->format == GTA_FORMAT_GTA) {
                if (r->guess < 0) gunp++;
                if (r->pred < 0) aunp++;
                if (r->guess >= 0 && r->pred >= 0) {
                    both++;
                    if (r->guess == r->pred) {
                        same++;
                    } else {
                        int kind = r->pred == e->label ? 0 : r->guess == e->label ? 1 : 2;
                        if (kind == 0)
                            corrected++;
                        else if (kind == 1)
                            broken++;
                        else
                            wrongdiff++;
                        if (cJSON_GetArraySize(dex[kind]) < o->n_diff_examples)
                            cJSON_AddItemToArray(dex[kind], diff_json(o, labels, e, i, r));
                    }
                }
            }
            free(r->completion);
            r->completion = NULL;
        }
        gta_sample_seq_free(smp, nb);
        memset(smp, 0, sizeof *smp * (size_t)B);
        double now = gta_now();
        size_t done = b0 + (size_t)nb;
        if (o->progress && !rc && (now - last_report >= 2.0 || done == n)) {
            double rate = (double)done / (now - t0 > 1e-9 ? now - t0 : 1e-9);
            fprintf(stderr, "%s: %zu/%zu (%.0f%%), %.2f examples/s, %.0f tokens/s, ETA %.0f s\n", name, done,
                    n, 100.0 * (double)done / (double)n, rate, ctok / (now - t0 > 1e-9 ? now - t0 : 1e-9),
                    (double)(n - done) / (rate > 0 ? rate : 1e-9));
            last_report = now;
        }
    }

    if (!rc) {
        gta_metrics mt;
        rc = gta_metrics_compute(gold, pred, n, (int)labels->n, &mt);
        if (!rc) {
            double secs = gta_now() - t0;
            cJSON *j = cJSON_CreateObject();
            gta_metrics_to_json(&mt, (const char *const *)labels->names, j);
            long fok = 0, gok = 0;
            for (size_t i = 0; i < n; i++) fok += res[i].format_ok, gok += res[i].guess_ok;
            cJSON_AddNumberToObject(j, "format_ok_rate", (double)fok / (double)n);
            if (o->format == GTA_FORMAT_GTA)
                cJSON_AddNumberToObject(j, "guess_accuracy", (double)gok / (double)n);
            cJSON_AddNumberToObject(j, "seconds", secs);
            cJSON_AddStringToObject(j, "format", gta_format_name(o->format));
            if (split->path)
                cJSON_AddStringToObject(j, "split", split->path);
            else
                cJSON_AddNullToObject(j, "split");
            cJSON_AddNumberToObject(j, "limit", (double)o->limit);
            cJSON_AddNumberToObject(j, "max_new_tokens", o->max_new_tokens);
            cJSON_AddNumberToObject(j, "max_prompt_tokens", o->max_prompt_tokens);
            cJSON_AddNumberToObject(j, "truncated_prompts", (double)truncated);
            cJSON *f = cJSON_AddObjectToObject(j, "finish");
            cJSON_AddNumberToObject(f, "eos", (double)fin[0]);
            cJSON_AddNumberToObject(f, "stop", (double)fin[1]);
            cJSON_AddNumberToObject(f, "length", (double)fin[2]);
            cJSON_AddNumberToObject(j, "completion_tokens_mean", ctok / (double)n);
            cJSON_AddNumberToObject(j, "tokens_per_s", ctok / (secs > 1e-9 ? secs : 1e-9));
            cJSON_AddItemToObject(j, "examples", examples);
            examples = NULL;
            if (o->format == GTA_FORMAT_GTA) {
                cJSON *g = cJSON_AddObjectToObject(j, "guess_answer");
                long differs = corrected + broken + wrongdiff;
                cJSON_AddNumberToObject(g, "both_parsed", (double)both);
                cJSON_AddNumberToObject(g, "same", (double)same);
                cJSON_AddNumberToObject(g, "differs", (double)differs);
                cJSON_AddNumberToObject(g, "differs_rate", (double)differs / (double)n);
                cJSON_AddNumberToObject(g, "corrected", (double)corrected);
                cJSON_AddNumberToObject(g, "broken", (double)broken);
                cJSON_AddNumberToObject(g, "both_wrong_different", (double)wrongdiff);
                cJSON_AddNumberToObject(g, "guess_unparsed", (double)gunp);
                cJSON_AddNumberToObject(g, "answer_unparsed", (double)aunp);
                cJSON *ge = cJSON_AddObjectToObject(g, "examples");
                cJSON_AddItemToObject(ge, "corrected", dex[0]);
                cJSON_AddItemToObject(ge, "broken", dex[1]);
                cJSON_AddItemToObject(ge, "both_wrong_different", dex[2]);
                dex[0] = dex[1] = dex[2] = NULL;
            }
            *out = j;
        }
        gta_metrics_free(&mt);
    }
    for (int k = 0; k < 3; k++) cJSON_Delete(dex[k]);
    cJSON_Delete(examples);
    for (int p = 0; p < B; p++) free(pint[p]);
    gta_sample_seq_free(smp, B);
    free(smp);
    free(pint);
    free(pp);
    free(plen);
    for (size_t i = 0; i < n; i++) free(res[i].completion);
    free(res);
    free(gold);
    free(pred);
    return rc;
}
