#include "train/pretrain.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/util.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "train/objective.h"
#include "train/optim.h"

void gta_pretrain_defaults(gta_pretrain_opts *o) {
    memset(o, 0, sizeof *o);
    o->field = "text";
    o->steps = 2000;
    o->batch = 16;
    o->seq = 256;
    o->learning_rate = 1e-3;
    o->warmup_ratio = 0.02;
    o->weight_decay = 0.1;
    o->save_steps = 500;
    o->holdout = 0.01;
}

typedef struct {
    int32_t *ids;
    size_t n, cap;
} stream;

static void push(stream *s, const int32_t *ids, size_t n) {
    if (s->n + n > s->cap) {
        s->cap = (s->n + n) * 2;
        s->ids = gta_realloc(s->ids, sizeof(int32_t) * s->cap);
    }
    memcpy(s->ids + s->n, ids, sizeof(int32_t) * n);
    s->n += n;
}

/* tokenizes every document of every corpus file; every holdout-th one goes to val */
static int load_corpus(const gta_pretrain_opts *o, gta_tokenizer *tok, int32_t eos, stream *train, stream *val,
                       long *ndocs) {
    int rc = GTA_OK;
    gta_ids ids = {0};
    long doc = 0, every = o->holdout > 0 ? (long)(1.0 / o->holdout) : 0;
    double t0 = gta_now();
    size_t bytes = 0;
    for (int f = 0; f < o->ncorpus && !rc; f++) {
        char *data;
        size_t len;
        if ((rc = gta_read_file(o->corpus[f], &data, &len))) break;
        int jsonl = strlen(o->corpus[f]) > 6 && !strcmp(o->corpus[f] + strlen(o->corpus[f]) - 6, ".jsonl");
        char *p = data, *end = data + len;
        int line = 0;
        while (p < end && !rc) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
            line++;
            const char *text = p;
            size_t tl = ll;
            cJSON *j = NULL;
            if (jsonl && ll) {
                const char *e = NULL;
                j = cJSON_ParseWithLengthOpts(p, ll, &e, 0);
                const cJSON *v = j ? cJSON_GetObjectItemCaseSensitive(j, o->field) : NULL;
                if (!cJSON_IsString(v)) {
                    rc = gta_err_set(GTA_EINPUT, "%s:%d: expected a JSON object with a string field '%s'", o->corpus[f],
                                     line, o->field);
                } else {
                    text = v->valuestring;
                    tl = strlen(text);
                }
            }
            if (!rc && tl) {
                ids.n = 0;
                rc = gta_tokenizer_encode(tok, text, tl, 0, &ids);
                if (rc) gta_err_prefix(rc, "%s:%d", o->corpus[f], line);
                if (!rc) {
                    stream *s = every && doc % every == every - 1 ? val : train;
                    push(s, ids.ids, ids.n);
                    push(s, &eos, 1);
                    doc++;
                    bytes += tl;
                }
            }
            cJSON_Delete(j);
            p = nl ? nl + 1 : end;
        }
        free(data);
        fprintf(stderr, "pretrain: tokenized %s (%ld documents so far, %.1f MB/s)\n", o->corpus[f], doc,
                bytes / 1e6 / (gta_now() - t0 + 1e-9));
    }
    gta_ids_free(&ids);
    *ndocs = doc;
    return rc;
}

static double lr_at(const gta_pretrain_opts *o, long long step) {
    long long warm = (long long)ceil(o->warmup_ratio * (double)o->steps);
    if (step < warm) return o->learning_rate * (double)(step + 1) / (double)warm;
    double prog = (double)(step - warm) / (double)(o->steps - warm > 1 ? o->steps - warm : 1);
    /* cosine down to a tenth of the peak, as is usual for pretraining */
    return o->learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + cos(M_PI * prog)));
}

/* B windows of T+1 tokens at positions drawn from (seed, step) */
static void make_batch(const stream *s, int B, int T, uint64_t seed, long long step, int *ids, int *row, int *tg) {
    for (int b = 0; b < B; b++) {
        size_t start = (size_t)(gta_rng_u64(seed, 77, (uint64_t)(step * B + b)) % (s->n - (size_t)T - 1));
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = s->ids[start + (size_t)t];
            row[b * T + t] = b * T + t;
            tg[b * T + t] = s->ids[start + (size_t)t + 1];
        }
    }
}

int gta_pretrain_run(const gta_pretrain_opts *o) {
    if (!(o->model_config || o->init) || !o->tokenizer || !o->out || o->ncorpus <= 0)
        return gta_err_set(GTA_EINPUT, "pretrain: --model-config (or --init), --tokenizer, --corpus and --out are required");
    if (o->model_config && o->init)
        return gta_err_set(GTA_EINPUT, "pretrain: give --model-config (a new model) or --init (an existing one), not both");
    if (o->steps <= 0 || o->batch <= 0 || o->seq <= 1 || !(o->learning_rate > 0) || o->holdout < 0 || o->holdout >= 1)
        return gta_err_set(GTA_EINPUT, "pretrain: need --steps, --batch, --seq > 1, --learning-rate > 0 and 0 <= holdout < 1");
    gta_tokenizer *tok = NULL;
    gta_model *m = NULL;
    stream train = {0}, val = {0};
    FILE *mf = NULL;
    cJSON *cj = NULL;
    int rc = gta_tokenizer_load(o->tokenizer, &tok);
    if (rc) goto done;
    int32_t V = gta_tokenizer_vocab_size(tok), eos = gta_tokenizer_eos_id(tok), bos = gta_tokenizer_bos_id(tok);
    gta_config c;
    if (o->init) {
        /* a further stage (e.g. instructions) on an existing model */
        if ((rc = gta_model_load(o->init, &m))) goto done;
        c = m->cfg;
    } else {
        /* the config: vocabulary and special ids from the tokenizer when not given */
        if ((rc = gta_json_load(o->model_config, &cj))) goto done;
        if (!cJSON_GetObjectItem(cj, "vocab_size")) cJSON_AddNumberToObject(cj, "vocab_size", V);
        if (!cJSON_GetObjectItem(cj, "eos_token_id") && eos >= 0) cJSON_AddNumberToObject(cj, "eos_token_id", eos);
        if (!cJSON_GetObjectItem(cj, "bos_token_id") && bos >= 0) cJSON_AddNumberToObject(cj, "bos_token_id", bos);
        if ((rc = gta_config_from_json(o->model_config, cj, &c))) goto done;
    }
    if (c.vocab_size < V) {
        rc = gta_err_set(GTA_EINPUT, "%s: vocab_size %d is smaller than the tokenizer's %d",
                         o->init ? o->init : o->model_config, c.vocab_size, V);
        goto done;
    }
    if (eos < 0) {
        rc = gta_err_set(GTA_EINPUT, "%s: the tokenizer has no end-of-sequence token", o->tokenizer);
        goto done;
    }
    long ndocs;
    if ((rc = load_corpus(o, tok, eos, &train, &val, &ndocs))) goto done;
    if (train.n < (size_t)o->seq + 2) {
        rc = gta_err_set(GTA_EINPUT, "pretrain: the corpus has %zu tokens, fewer than one window of %lld", train.n, o->seq + 1);
        goto done;
    }
    if (!m) m = gta_model_init_random(&c, (uint64_t)o->seed);
    if ((rc = gta_model_set_compute(m, o->compute))) goto done;
    if (o->save_dtype && strcmp(o->save_dtype, "auto") != 0) {
        st_dtype sd;
        if ((rc = st_dtype_from_name(o->save_dtype, &sd))) {
            gta_err_prefix(rc, "pretrain: --save-dtype");
            goto done;
        }
        m->save_dtype = (int)sd;
    }
    gta_model_alloc_grads(m);
    gta_adamw opt;
    gta_adamw_init(&opt, m, o->learning_rate, o->weight_decay);
    fprintf(stderr, "pretrain: %.2fM parameters, %zu training tokens (%ld documents), %zu held out; %lld steps of %lld x %lld tokens\n",
            m->n_params / 1e6, train.n, ndocs, val.n, o->steps, o->batch, o->seq);
    if ((rc = gta_mkdir_p(o->out))) goto free_opt;
    char *mp = gta_path_join(o->out, "metrics.jsonl");
    mf = fopen(mp, "w");
    free(mp);
    if (!mf) {
        rc = gta_err_set(GTA_EFAIL, "%s: cannot write metrics.jsonl", o->out);
        goto free_opt;
    }
    int B = (int)o->batch, T = (int)o->seq, n = B * T;
    int *ids = gta_malloc(sizeof(int) * (size_t)n), *pos = gta_malloc(sizeof(int) * (size_t)n),
        *row = gta_malloc(sizeof(int) * (size_t)n), *tg = gta_malloc(sizeof(int) * (size_t)n),
        *ss = gta_malloc(sizeof(int) * (size_t)B), *sl = gta_malloc(sizeof(int) * (size_t)B),
        *sp = gta_malloc(sizeof(int) * (size_t)B);
    float *lp = gta_malloc(sizeof(float) * (size_t)n), *dlp = gta_malloc(sizeof(float) * (size_t)n);
    for (int b = 0; b < B; b++) {
        ss[b] = b * T, sl[b] = T, sp[b] = -1;
        for (int t = 0; t < T; t++) pos[b * T + t] = t;
    }
    gta_batch batch = {n, ids, pos, B, ss, sl, sp, n, row, tg};
    double t0 = gta_now();
    long long end = o->stop_at > 0 && o->stop_at < o->steps ? o->stop_at : o->steps;
    for (long long step = 0; step < end && !rc; step++) {
        double ts = gta_now();
        make_batch(&train, B, T, (uint64_t)o->seed, step, ids, row, tg);
        gta_model_zero_grads(m);
        if ((rc = gta_forward_backward(m, &batch, lp, dlp, gta_mean_ce_dlp, &n))) break;
        double loss = 0;
        for (int k = 0; k < n; k++) loss -= lp[k];
        loss /= n;
        double gn = gta_clip_grad_norm(m, 1.0), lr = lr_at(o, step);
        gta_adamw_step(&opt, m, lr);
        double val_loss = -1;
        int last = step + 1 == end;
        if (val.n > (size_t)T + 1 && ((step + 1) % 100 == 0 || last)) {
            /* held-out loss on fixed windows */
            make_batch(&val, B, T, (uint64_t)o->seed + 1, 0, ids, row, tg);
            if ((rc = gta_forward(m, &batch, lp, NULL, 0))) break;
            val_loss = 0;
            for (int k = 0; k < n; k++) val_loss -= lp[k];
            val_loss /= n;
        }
        double secs = gta_now() - ts, el = gta_now() - t0,
               eta = el / (double)(step + 1) * (double)(end - step - 1);
        fprintf(mf, "{\"step\":%lld,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.4f,\"tokens_per_s\":%.0f,\"seconds\":%.4f%s",
                step + 1, loss, lr, gn, n / secs, secs, val_loss >= 0 ? "" : "}\n");
        if (val_loss >= 0) fprintf(mf, ",\"val_loss\":%.6f}\n", val_loss);
        fflush(mf);
        fprintf(stderr, "%spretrain step %lld/%lld  loss %.4f%s  %.0f tok/s  ETA %dm%02ds%s", isatty(2) ? "\r" : "",
                step + 1, o->steps, loss, "", n / secs, (int)(eta / 60), (int)fmod(eta, 60), isatty(2) ? "  " : "\n");
        if (val_loss >= 0) fprintf(stderr, "%s  held-out loss %.4f\n", isatty(2) ? "\n" : "", val_loss);
        if (!rc && ((o->save_steps > 0 && (step + 1) % o->save_steps == 0) || last)) {
            if (!(rc = gta_model_save(m, o->out))) rc = gta_tokenizer_copy_files(o->tokenizer, o->out);
        }
    }
    if (isatty(2)) fprintf(stderr, "\n");
    if (!rc) fprintf(stderr, "pretrain: model in %s\n", o->out);
    free(ids), free(pos), free(row), free(tg), free(ss), free(sl), free(sp), free(lp), free(dlp);
free_opt:
    gta_adamw_free(&opt);
done:
    if (mf) fclose(mf);
    cJSON_Delete(cj);
    free(train.ids);
    free(val.ids);
    gta_model_free(m);
    gta_tokenizer_free(tok);
    return rc;
}
