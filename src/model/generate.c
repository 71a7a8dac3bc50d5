#include "model/generate.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

const char *gta_finish_name(gta_finish f) {
    return f == GTA_FINISH_EOS ? "eos" : f == GTA_FINISH_STOP ? "stop" : "length";
}

int gta_generate_greedy(gta_model *m, const gta_tok *prompt, int np, int max_new, const gta_tok *eos, int neos,
                        gta_tok *out, int *n_out, gta_finish *finish) {
    if (np <= 0) return gta_err_set(GTA_EINPUT, "generate: empty prompt");
    int V = m->cfg.vocab_size, cap = np + max_new;
    int *ids = gta_malloc(sizeof(int) * (size_t)cap), *pos = gta_malloc(sizeof(int) * (size_t)cap);
    memcpy(ids, prompt, sizeof(int) * (size_t)np);
    for (int i = 0; i < cap; i++) pos[i] = i;
    int n = np, rc = GTA_OK;
    *finish = GTA_FINISH_LENGTH;
    *n_out = 0;
    /* recomputes the whole prefix each step: simple and exact; the sampler is the fast path */
    float *logits = NULL;
    while (*n_out < max_new) {
        int zero = 0, len = n, par = -1;
        gta_batch b = {n, ids, pos, 1, &zero, &len, &par, 0, NULL, NULL};
        logits = gta_realloc(logits, sizeof(float) * (size_t)n * V);
        if ((rc = gta_forward(m, &b, NULL, logits, 0))) break;
        const float *row = logits + (size_t)(n - 1) * V;
        int best = 0;
        for (int j = 1; j < V; j++)
            if (row[j] > row[best]) best = j;
        out[(*n_out)++] = best;
        ids[n++] = best;
        int stop = 0;
        for (int e = 0; e < neos; e++) stop |= best == eos[e];
        if (stop) {
            *finish = GTA_FINISH_EOS;
            break;
        }
    }
    free(logits);
    free(ids);
    free(pos);
    return rc;
}
