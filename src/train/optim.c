#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

void gta_adamw_init(gta_adamw *o, const gta_model *model, double lr, double weight_decay) {
    gta_adamw_init_shard(o, model, lr, weight_decay, 0, gta_model_trainable(model).n);
}

void gta_adamw_init_shard(gta_adamw *o, const gta_model *model, double lr, double weight_decay, size_t lo,
                          size_t hi) {
    memset(o, 0, sizeof *o);
    o->lr = lr;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->weight_decay = weight_decay;
    o->n = gta_model_trainable(model).n;
    o->lo = lo, o->hi = hi;
    size_t nb = sizeof(float) * (hi > lo ? hi - lo : 1);
    o->m = model->be->alloc(model->ctx, nb);
    o->v = model->be->alloc(model->ctx, nb);
    model->be->zero(model->ctx, o->m, nb);
    model->be->zero(model->ctx, o->v, nb);
    o->model = model;
}

void gta_adamw_free(gta_adamw *o) {
    if (o->model) {
        o->model->be->free(o->model->ctx, o->m);
        o->model->be->free(o->model->ctx, o->v);
    }
    memset(o, 0, sizeof *o);
}

void gta_adamw_step(gta_adamw *o, gta_model *model, double lr) {
    o->step++;
    const double bc1 = 1.0 - pow(o->beta1, (double)o->step), bc2 = 1.0 - pow(o->beta2, (double)o->step);
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, step_size = (float)(lr / bc1),
                inv_bc2_sqrt = (float)(1.0 / sqrt(bc2)), eps = (float)o->eps,
                wd = (float)(lr * o->weight_decay);
    gta_trainable tr = gta_model_trainable(model);
    float *p = tr.params, *g = tr.grads, *m = o->m, *v = o->v; /* m[a - lo]: parameter a's */
    for (int k = 0; k < tr.n_tensors; k++) {
        const gta_param *t = &tr.tensors[k];
        size_t a = t->offset, n = (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
        /* the part of the tensor in the shard */
        size_t e = a + n < o->hi ? a + n : o->hi;
        if (a < o->lo) a = o->lo;
        if (e <= a) continue;
        n = e - a;
        /* decoupled weight decay (before the moment update, as torch.optim.AdamW) on
         * matrices only; norms and biases are not decayed */
        const float keep = t->decay ? 1.0f - wd : 1.0f;
        model->be->adamw(model->ctx, n, p + a, g + a, m + (a - o->lo), v + (a - o->lo), b1, b2, step_size,
                         inv_bc2_sqrt, eps, keep);
    }
    if (!model->lora) gta_model_params_changed(model); /* bf16 compute: rounded again, once */
}

double gta_clip_grad_norm(gta_model *model, double max_norm) {
    gta_trainable tr = gta_model_trainable(model);
    double norm = sqrt(model->be->sumsq(model->ctx, tr.n, tr.grads));
    if (max_norm > 0 && norm > max_norm)
        model->be->scale(model->ctx, tr.n, (float)(max_norm / (norm + 1e-6)), tr.grads);
    return norm;
}
