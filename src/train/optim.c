#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

void gta_adamw_init(gta_adamw *o, const gta_model *model, double lr, double weight_decay) {
    memset(o, 0, sizeof *o);
    o->lr = lr;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->weight_decay = weight_decay;
    o->n = model->n_params;
    o->m = gta_malloc_aligned(sizeof(float) * o->n);
    o->v = gta_malloc_aligned(sizeof(float) * o->n);
    memset(o->m, 0, sizeof(float) * o->n);
    memset(o->v, 0, sizeof(float) * o->n);
    o->model = model;
}

void gta_adamw_free(gta_adamw *o) {
    gta_free_aligned(o->m);
    gta_free_aligned(o->v);
    memset(o, 0, sizeof *o);
}

void gta_adamw_step(gta_adamw *o, gta_model *model, double lr) {
    o->step++;
    const double bc1 = 1.0 - pow(o->beta1, (double)o->step), bc2 = 1.0 - pow(o->beta2, (double)o->step);
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, step_size = (float)(lr / bc1),
                inv_bc2_sqrt = (float)(1.0 / sqrt(bc2)), eps = (float)o->eps, wd = (float)(lr * o->weight_decay);
    float *p = model->params, *g = model->grads, *m = o->m, *v = o->v;
#pragma omp parallel
    for (int k = 0; k < model->n_tensors; k++) {
        const gta_param *t = &model->tensors[k];
        size_t a = t->offset, e = a + (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
        /* decoupled weight decay (before the moment update, as torch.optim.AdamW) on
         * matrices only; norms and biases are not decayed */
        const float keep = t->decay ? 1.0f - wd : 1.0f;
#pragma omp for simd schedule(static) nowait
        for (size_t i = a; i < e; i++) {
            p[i] *= keep;
            m[i] = b1 * m[i] + (1.0f - b1) * g[i];
            v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
            p[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_bc2_sqrt + eps);
        }
    }
}

double gta_clip_grad_norm(gta_model *model, double max_norm) {
    double ss = 0;
    const float *g = model->grads;
#pragma omp parallel for reduction(+ : ss) schedule(static)
    for (size_t i = 0; i < model->n_params; i++) ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        float s = (float)(max_norm / (norm + 1e-6));
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < model->n_params; i++) model->grads[i] *= s;
    }
    return norm;
}
