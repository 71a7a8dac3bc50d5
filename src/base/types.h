/* Types shared by every module. */
#ifndef GTA_BASE_TYPES_H
#define GTA_BASE_TYPES_H

#include <stdint.h>

/* A token id: the tokenizer's, the model batch's, the sampler's, the trainer's. */
typedef int32_t gta_tok;

#endif
