/* trainer_state.json of a run's checkpoint (SPEC "Run directory"): where the run stands.
 * The reader checks every field (present, of its type, in range) and names the file and
 * the field when one is not; the writer is its inverse (parse(write(s)) == s). */
#ifndef GTA_TRAIN_STATE_H
#define GTA_TRAIN_STATE_H

#include <cjson/cJSON.h>

typedef struct {
    long long step;          /* optimizer steps done */
    long long cursor;        /* training examples consumed (all epochs) */
    long long adam_step;     /* AdamW's step count (== step) */
    long long metrics_bytes; /* metrics.jsonl's size at the checkpoint */
    long long samples_bytes; /* samples.jsonl's */
    long long eval_bytes;    /* eval.jsonl's (0 when absent) */
    int rollout;             /* rollout.safetensors holds the rollout being reused */
    /* the rollout's statistics (when rollout is set) */
    double reward, reward_format, reward_accuracy, guess_accuracy, frac_zero_std, completion_tokens_mean;
} gta_train_state;

/* Largest count a field may hold (2^50: far above any run, exact in a double). */
#define GTA_STATE_MAX (1LL << 50)

/* GTA_EINPUT "path: field 'x': ..." for a missing field, a wrong type, a value out of
 * range (negative counts, adam_step != step, a non-finite or out-of-range statistic). */
int gta_train_state_parse(const char *path, const cJSON *j, gta_train_state *s);
int gta_train_state_load(const char *path, gta_train_state *s);
/* The JSON text (caller frees). */
char *gta_train_state_to_json(const gta_train_state *s);

#endif
