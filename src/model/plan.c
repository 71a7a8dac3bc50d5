#include "model/plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "model/lora.h"
#include "model/model.h"

static double mib(size_t b) { return (double)b / 1048576.0; }

void gta_plan_add(gta_plan *p, const char *name, size_t bytes, const char *detail_fmt, ...) {
    if (!bytes) return;
    if (p->n == (int)(sizeof p->item / sizeof p->item[0])) {
        p->item[p->n - 1].bytes += bytes; /* never in practice: the table has room for every buffer */
        return;
    }
    gta_plan_item *it = &p->item[p->n++];
    snprintf(it->name, sizeof it->name, "%s", name);
    it->detail[0] = 0;
    if (detail_fmt) {
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(it->detail, sizeof it->detail, detail_fmt, ap);
        va_end(ap);
    }
    it->bytes = bytes;
}

size_t gta_plan_total(const gta_plan *p) {
    size_t t = 0;
    for (int i = 0; i < p->n; i++) t += p->item[i].bytes;
    return t;
}

int gta_plan_check(const gta_plan *p, const char *who, size_t avail, const char *advice) {
    size_t total = gta_plan_total(p);
    fprintf(stderr, "%s: memory plan\n", who);
    for (int i = 0; i < p->n; i++)
        fprintf(stderr, "  %-28s %9.0f MiB%s%s\n", p->item[i].name, mib(p->item[i].bytes), p->item[i].detail[0] ? "  " : "",
                p->item[i].detail);
    fprintf(stderr, "  %-28s %9.0f MiB of %.0f MiB available\n", "total", mib(total), mib(avail));
    if (total <= avail) return GTA_OK;
    int big = 0;
    for (int i = 1; i < p->n; i++)
        if (p->item[i].bytes > p->item[big].bytes) big = i;
    return gta_err_set(GTA_EINPUT, "%s: the run needs %.0f MiB but %.0f MiB are available (largest: %s, %.0f MiB)%s%s",
                       who, mib(total), mib(avail), p->item[big].name, mib(p->item[big].bytes), advice ? "; " : "",
                       advice ? advice : "");
}

void gta_plan_model_dtype(gta_plan *p, const gta_config *c, const char *role, int bf16) {
    if (!bf16) {
        gta_plan_model(p, c, role, 0);
        return;
    }
    char name[48];
    snprintf(name, sizeof name, "%s weights", role);
    gta_plan_add(p, name, gta_model_weight_bytes(c, 1), "%.1fM parameters, bf16 matrices",
                 gta_model_n_params(c) / 1e6);
}

void gta_plan_lora(gta_plan *p, const gta_config *c, const gta_lora_cfg *lc, int bf16) {
    size_t na = gta_lora_n_params(c, lc);
    gta_plan_add(p, "base weights", gta_model_weight_bytes(c, bf16), "%.1fM parameters, %s, frozen",
                 gta_model_n_params(c) / 1e6, bf16 ? "bf16 matrices" : "fp32");
    gta_plan_add(p, "LoRA adapter", 4 * sizeof(float) * na,
                 "r %d, %.2fM parameters: weights, gradients, AdamW", lc->r, na / 1e6);
}

void gta_plan_model(gta_plan *p, const gta_config *c, const char *role, int train) {
    size_t np = gta_model_n_params(c), w = sizeof(float) * np;
    char name[48];
    snprintf(name, sizeof name, "%s weights", role);
    gta_plan_add(p, name, w, "%.1fM parameters, fp32", np / 1e6);
    if (!train) return;
    snprintf(name, sizeof name, "%s gradients", role);
    gta_plan_add(p, name, w, NULL);
    gta_plan_add(p, "AdamW moments", 2 * w, "exp_avg + exp_avg_sq");
}

void gta_plan_forward(gta_plan *p, const gta_backend_ops *be, const gta_config *c, const char *role, int n, int nlp,
                      int train) {
    char name[48];
    snprintf(name, sizeof name, "%s activations", role);
    if (train == GTA_PLAN_RECOMPUTE)
        gta_plan_add(p, name, gta_model_act_bytes_recompute(c, n),
                     "%d tokens, each layer's input kept, the rest recomputed", n);
    else if (train)
        gta_plan_add(p, name, gta_model_act_bytes(c, n), "%d tokens, every layer kept", n);
    else
        gta_plan_add(p, name, gta_model_infer_bytes(c, n), "%d tokens, one layer at a time", n);
    snprintf(name, sizeof name, "%s backend scratch", role);
    gta_plan_add(p, name,
                 be->scratch_bytes(NULL, n, nlp, c->hidden_size, c->num_kv_heads * c->head_dim, c->vocab_size,
                                   train != 0),
                 "log-prob head chunks%s", train ? ", attention backward" : "");
}
