/* The end-of-sequence id set: the ids at which a completion ends, the same for training
 * rollouts, periodic and standalone evaluation, and `gta generate`. */
#ifndef GTA_TASK_EOS_H
#define GTA_TASK_EOS_H

#include "model/config.h"
#include "text/tokenizer.h"

enum { GTA_EOS_MAX = 16 };

/* Fills eos[0..max) and returns how many: the union, in this order and without repeats, of
 *   1. the tokenizer's end-of-turn id (gta_prompt_end_id), when tok is not NULL and has one;
 *   2. model_dir/generation_config.json's eos_token_id (an integer or a list), when
 *      model_dir is not NULL and the file exists; a file that does not parse, or entries
 *      that are not integers, are ignored (as transformers' own generation does not need
 *      the file);
 *   3. config.json's eos ids (cfg->eos_token_ids), when cfg is not NULL.
 * Ids past max are dropped. */
int gta_eos_ids(const char *model_dir, const gta_config *cfg, const gta_tokenizer *tok, gta_tok *eos,
                int max);

#endif
