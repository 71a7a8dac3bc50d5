/* What the model's own files share (model.c, batch.c, forward.c, decode.c); not for
 * other modules. */
#ifndef GTA_MODEL_MODEL_INT_H
#define GTA_MODEL_MODEL_INT_H

#include "model/model.h"

/* largest ancestors + own length over a batch's segments */
int model_seg_max_keys(const gta_batch *b);
/* frees the activation, decode and panel buffers (kept between calls) */
void gta_model_release_work(gta_model *m);

#endif
