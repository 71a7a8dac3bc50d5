/* Hard stops: SIGINT/SIGTERM requests honoured at a safe point, and the test hooks that
 * kill the process at named points (to prove that a SIGKILL anywhere leaves a loadable
 * checkpoint).
 *
 * Test hooks (never set in normal use):
 *   GTA_TEST_KILL_AT=POINT        raise(SIGKILL) when the program reaches POINT, e.g.
 *                                 "rollout:3" (sampling the rollout of step 3), "update:3"
 *                                 (between step 3's backward and its AdamW update),
 *                                 "checkpoint:model:N", "checkpoint:optimizer:N",
 *                                 "checkpoint:state:N", "checkpoint:swap:N",
 *                                 "checkpoint:swapped:N" (inside the checkpoint write of
 *                                 step N, before its swap into place, just after it)
 *                                 ("checkpoint:model:4": the checkpoint of step 4)
 *   GTA_TEST_KILL_IN_WRITE=NAME[@K]  raise(SIGKILL) half way through the K-th (default
 *                                 first) write of a file whose name ends in NAME
 *                                 (gta_write_file_atomic)
 *   GTA_TEST_NAN_AT=STEP          the trainer puts a NaN into a weight after step STEP's
 *                                 update (the non-finite check must stop the run)
 *   GTA_TEST_NAN_LOSS_AT=STEP     the trainer sees a NaN loss at step STEP */
#ifndef GTA_BASE_HOOKS_H
#define GTA_BASE_HOOKS_H

/* Kills the process (SIGKILL) when GTA_TEST_KILL_AT equals point. */
void gta_test_kill_point(const char *point);
/* Same with "prefix:n". */
void gta_test_kill_point_n(const char *prefix, long long n);
/* GTA_TEST_KILL_IN_WRITE matches the end of path. */
int gta_test_kill_in_write(const char *path);

/* Installs SIGINT/SIGTERM handlers that only record the signal (the first one; a second
 * one of the same kind ends the process at once, as usual), and ignores SIGXFSZ, so that
 * a file-size limit is a write error (EFBIG) that names the file instead of a kill. */
void gta_stop_install(void);
/* The signal that asked for a stop, or 0. */
int gta_stop_requested(void);
/* Back to the default dispositions. */
void gta_stop_uninstall(void);

#endif
