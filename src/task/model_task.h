/* The task a trained model directory carries: gta_task.json beside config.json, written
 * by gta train into every model directory it saves (checkpoint/ and final/), read by gta
 * eval and gta predict so that neither needs flags to rebuild the training prompt.
 *
 * gta_task.json (one JSON object):
 *   {"gta_task": 1,                      the version of this layout
 *    "method": "gta",                    sft | grpo | gta | gta-rl: how it was trained
 *    "format": "gta",                    the completion format: sft | grpo | gta
 *    "labels": ["sadness", "joy", ...],  the label set, in labels.txt order (id = index)
 *    "prompt_style": "compact",          full | compact (gta_prompt_opts.compact)
 *    "max_prompt_tokens": 256,           0: no limit
 *    "system_prompt": null,              or the system message (string)
 *    "max_new_tokens": 64}               the completion length limit of training
 * Unknown keys are errors (a newer layout should not be half-understood); so are a wrong
 * type, an unknown method, format or style, a bad label set (gta_labels_from's checks),
 * and a version other than 1.  Every error is GTA_EINPUT naming the file. */
#ifndef GTA_TASK_MODEL_TASK_H
#define GTA_TASK_MODEL_TASK_H

#include "io/dataset.h"
#include "task/reward.h"

#define GTA_TASK_FILE "gta_task.json"

typedef struct {
    char method[16];
    gta_format format;
    gta_labels labels;
    int compact;           /* prompt_style compact */
    int max_prompt_tokens; /* 0: none */
    char *system;          /* NULL: no system message */
    int max_new_tokens;
} gta_task;

/* Writes dir/gta_task.json atomically. */
int gta_task_write(const char *dir, const gta_task *t);
/* Reads dir/gta_task.json into *t; *found = 0 (and *t zeroed, GTA_OK) when there is none. */
int gta_task_read(const char *dir, gta_task *t, int *found);
void gta_task_free(gta_task *t);
/* 1 when a and b hold the same labels in the same order. */
int gta_task_same_labels(const gta_labels *a, const gta_labels *b);

#endif
