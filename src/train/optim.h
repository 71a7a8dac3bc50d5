/* AdamW (decoupled weight decay, as torch.optim.AdamW) over the model's flat parameter
 * buffer, and global-norm gradient clipping (as torch.nn.utils.clip_grad_norm_). */
#ifndef GTA_TRAIN_OPTIM_H
#define GTA_TRAIN_OPTIM_H

#include <stddef.h>

#include "model/model.h"

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    long long step;         /* optimizer steps taken */
    float *m, *v;           /* moments of parameters [lo, hi): hi - lo each */
    size_t n;               /* n_params */
    size_t lo, hi;          /* the shard this process updates (ZeRO-1); [0, n_params) otherwise */
    const gta_model *model; /* for the parameter table: which tensors are decayed */
} gta_adamw;

void gta_adamw_init(gta_adamw *o, const gta_model *model, double lr, double weight_decay);
/* The moments of parameters [lo, hi) of the flat buffer only (ZeRO-1: a rank's shard);
 * the step then updates just those parameters. */
void gta_adamw_init_shard(gta_adamw *o, const gta_model *model, double lr, double weight_decay, size_t lo,
                          size_t hi);
void gta_adamw_free(gta_adamw *o);
/* One step at learning rate lr on model->params[lo, hi) from model->grads. */
void gta_adamw_step(gta_adamw *o, gta_model *model, double lr);
/* Global L2 norm of the gradients; when max_norm > 0 and the norm exceeds it, scales
 * the gradients by max_norm / (norm + 1e-6). Returns the norm before clipping. */
double gta_clip_grad_norm(gta_model *model, double max_norm);

#endif
