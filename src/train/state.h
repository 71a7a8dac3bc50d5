/* trainer_state.json of a run's checkpoint (SPEC "Run directory"): where the run stands.
 * The reader checks every field (present, of its type, in range) and names the file and
 * the field when one is not; the writer is its inverse (parse(write(s)) == s). */
#ifndef GTA_TRAIN_STATE_H
#define GTA_TRAIN_STATE_H

#include <cjson/cJSON.h>

typedef struct {
    long long step;          /* optimizer steps done */
    long long cursor;        /* training examples consumed (all epochs) */
    long long adam_step;     /* AdamW's step count (<= step: skipped updates take none) */
    long long metrics_bytes; /* metrics.jsonl's size at the checkpoint */
    long long samples_bytes; /* samples.jsonl's */
    long long eval_bytes;    /* eval.jsonl's (0 when absent) */
    int rollout;             /* rollout.safetensors holds the rollout being reused */
    long long ranks;         /* processes that wrote the checkpoint (absent: 1) */
    int zero;                /* ZeRO-1: optimizer-rankR.safetensors, one shard a rank (absent: 0) */
    /* the rollout's statistics (when rollout is set) */
    double reward, reward_format, reward_accuracy, guess_accuracy, frac_zero_std, completion_tokens_mean;
} gta_train_state;

/* Largest count a field may hold (2^50: far above any run, exact in a double). */
#define GTA_STATE_MAX (1LL << 50)

/* GTA_EINPUT "path: field 'x': ..." for a missing field, a wrong type, a value out of
 * range (negative counts, adam_step > step, a non-finite or out-of-range statistic, ranks
 * < 1, zero without several ranks). */
int gta_train_state_parse(const char *path, const cJSON *j, gta_train_state *s);
int gta_train_state_load(const char *path, gta_train_state *s);
/* The JSON text (caller frees). */
char *gta_train_state_to_json(const gta_train_state *s);

/* Checkpoint directories of a run: RUN/checkpoint.tmp is written completely (every file
 * fsync'd), then gta_ckpt_commit swaps it into RUN/checkpoint in one atomic step
 * (renameat2 RENAME_EXCHANGE; a plain rename for the first one) and syncs RUN, so that a
 * SIGKILL at any moment leaves either the previous checkpoint or the new one, whole.
 * Names the directories in its errors (GTA_EFAIL). */
int gta_ckpt_commit(const char *run_dir, long long step); /* step: for the test hooks */
/* Before reading or writing checkpoints: removes a leftover RUN/checkpoint.tmp (a write
 * that did not finish) and restores RUN/checkpoint.old when RUN/checkpoint is missing
 * (the swap of earlier gta versions: move aside, then rename). */
int gta_ckpt_recover(const char *run_dir);
/* rm -r */
void gta_rm_rf(const char *path);

#endif
