/* gta forward: logits, loss and (with --grads) every parameter gradient for given ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "io/safetensors.h"
#include "model/model.h"

int cmd_forward(int argc, char **argv) {
    const char *model_dir = NULL, *input = NULL, *out = NULL, *revision = NULL;
    char *model_owned = NULL;
    int grads = 0;
    const char *device = NULL;
    arg_spec specs[] = {
        {"model", ARG_STR, &model_dir, "Hugging Face model directory"},
        {"input", ARG_STR, &input, "safetensors file with input_ids (int64 [B, T])"},
        {"out", ARG_STR, &out, "output safetensors: logits, loss, grad.<name>"},
        {"grads", ARG_FLAG, &grads, "also write d loss / d parameter for every parameter"},
        {"revision", ARG_STR, &revision, "branch, tag or commit of a Hub --model name [main]"},
        {"device", ARG_STR, &device, "cpu | cuda: the backend that computes [cpu]"},
    };
    int ns = sizeof specs / sizeof specs[0];
    int rc = args_parse("forward", argc, argv, specs, ns);
    if (rc < 0) {
        args_usage("forward", "--model DIR --input F.safetensors --out F.safetensors [--grads]", specs, ns);
        return 0;
    }
    const gta_backend_ops *be = NULL;
    if (!rc) rc = cli_device_arg("forward", device, &be);
    if (rc) return cli_fail(rc);
    if (!model_dir || !input || !out)
        return cli_fail(gta_err_set(GTA_EINPUT, "gta forward: --model, --input and --out are required"));
    if ((rc = cli_model_arg("forward", "model", &model_dir, revision, &model_owned))) return cli_fail(rc);

    st_set *in = NULL;
    gta_model *m = NULL;
    int *ids = NULL;
    float *logits = NULL, *lp = NULL, *dlp = NULL;
    gta_batch b = {0};
    if ((rc = st_open_file(input, &in))) goto done;
    const st_tensor *t = st_find(in, "input_ids");
    if (!t || t->ndim < 1 || t->ndim > 2 || t->numel == 0) {
        rc = gta_err_set(GTA_EINPUT, "%s: expected a tensor 'input_ids' of shape [B, T] (or [T])", input);
        goto done;
    }
    int B = t->ndim == 2 ? (int)t->shape[0] : 1, T = (int)t->shape[t->ndim - 1];
    int64_t *ids64 = gta_malloc(sizeof(int64_t) * (size_t)t->numel);
    if ((rc = st_to_i64(in, t, ids64))) {
        free(ids64);
        goto done;
    }
    if ((rc = gta_model_load_on(model_dir, be, &m))) {
        free(ids64);
        goto done;
    }
    ids = gta_malloc(sizeof(int) * (size_t)t->numel);
    for (int64_t i = 0; i < t->numel; i++) {
        if (ids64[i] < 0 || ids64[i] >= m->cfg.vocab_size) {
            rc = gta_err_set(GTA_EINPUT, "%s: input_ids[%lld] = %lld is outside the vocabulary [0, %d)", input,
                             (long long)i, (long long)ids64[i], m->cfg.vocab_size);
            free(ids64);
            goto done;
        }
        ids[i] = (int)ids64[i];
    }
    free(ids64);
    gta_batch_simple(&b, ids, B, T);
    int V = m->cfg.vocab_size, n = B * T;
    logits = gta_malloc(sizeof(float) * (size_t)n * V);
    lp = gta_malloc(sizeof(float) * (size_t)(b.nlp + 1));
    if (grads) gta_model_alloc_grads(m);
    if ((rc = gta_forward(m, &b, lp, logits, grads))) goto done;
    int cnt = b.nlp;
    double loss = 0;
    for (int i = 0; i < cnt; i++) loss -= lp[i];
    float lossf = cnt ? (float)(loss / cnt) : 0.0f;
    if (grads && cnt) {
        dlp = gta_malloc(sizeof(float) * (size_t)cnt);
        for (int i = 0; i < cnt; i++) dlp[i] = -1.0f / (float)cnt;
        if ((rc = gta_backward(m, &b, dlp))) goto done;
    }
    int ne = 2 + (grads ? m->n_tensors : 0);
    st_entry *e = gta_calloc((size_t)ne, sizeof *e);
    char **names = gta_calloc((size_t)ne, sizeof *names);
    e[0] = (st_entry){"logits", ST_F32, 3, {B, T, V}, logits};
    e[1] = (st_entry){"loss", ST_F32, 1, {1}, &lossf};
    const float *hg = grads ? m->be->read_begin(m->ctx, m->grads, sizeof(float) * m->n_params) : NULL;
    for (int i = 0; grads && i < m->n_tensors; i++) {
        const gta_param *p = &m->tensors[i];
        size_t len = strlen(p->name) + 6;
        names[i] = gta_malloc(len);
        snprintf(names[i], len, "grad.%s", p->name);
        e[2 + i] = (st_entry){names[i], ST_F32, p->ndim, {p->shape[0], p->shape[1]}, hg + p->offset};
    }
    rc = st_write(out, e, ne, "{\"format\":\"pt\"}");
    if (hg) m->be->read_end(m->ctx, hg);
    for (int i = 0; i < ne; i++) free(names[i]);
    free(names);
    free(e);
done:
    if (b.pos) gta_batch_free_simple(&b);
    st_close(in);
    gta_model_free(m);
    free(ids);
    free(logits);
    free(lp);
    free(dlp);
    free(model_owned);
    return rc ? cli_fail(rc) : 0;
}
