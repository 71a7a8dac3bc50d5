/* Plain greedy decoding of one sequence, recomputing the whole prefix at every step: the
 * slow reference the tests hold the batched, KV-cached sampler (sampler.h) against. */
#ifndef GTA_MODEL_GENERATE_H
#define GTA_MODEL_GENERATE_H

#include "model/model.h"

typedef enum { GTA_FINISH_LENGTH, GTA_FINISH_EOS, GTA_FINISH_STOP } gta_finish;

/* Appends up to max_new argmax tokens to prompt[0..np); stops after emitting any of
 * eos[0..neos). out receives the new tokens (max_new ints). */
int gta_generate_greedy(gta_model *m, const gta_tok *prompt, int np, int max_new, const gta_tok *eos, int neos,
                        gta_tok *out, int *n_out, gta_finish *finish);
const char *gta_finish_name(gta_finish f);

#endif
