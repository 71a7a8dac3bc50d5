/* Model names: a directory, or a Hugging Face Hub name found offline in the local Hub cache.
 *
 * gta_model_ref_resolve(arg, revision): when arg is an existing directory it is used as it
 * is (a local folder named like a Hub model wins, as in transformers) and revision must be
 * NULL.  Otherwise arg must look like a Hub name, "Org/Name" (one slash, neither side
 * empty, no ".." part, not starting with "/" or "."), and is looked up in the cache:
 *
 *   cache = $HF_HUB_CACHE, else $HF_HOME/hub, else $HOME/.cache/huggingface/hub
 *   repo  = cache/models--Org--Name
 *   revision (default "main"): repo/refs/<revision> holds a commit hash (a branch or a
 *     tag; refs/pr/1 style names included); a revision of 40 hex digits without such a
 *     ref is taken as the commit itself
 *   dir   = repo/snapshots/<commit>, which must hold config.json (a snapshot's files are
 *     symlinks into repo/blobs; a dangling one counts as missing)
 *
 * Nothing is downloaded.  Every failure is GTA_EINPUT with a message that names what was
 * asked for and each place looked at, e.g.
 *   "model 'Qwen/Qwen2.5-0.5B-Instruct': not a directory, and not in the Hugging Face cache:
 *    /root/.cache/huggingface/hub/models--Qwen--Qwen2.5-0.5B-Instruct does not exist
 *    (cache from $HOME; set HF_HUB_CACHE or HF_HOME to look elsewhere)". */
#ifndef GTA_IO_HF_CACHE_H
#define GTA_IO_HF_CACHE_H

/* The cache folder (fresh string) and, in *from, which rule chose it ("HF_HUB_CACHE",
 * "HF_HOME" or "HOME"); NULL (with an error) when none of the variables is set. */
char *gta_hf_cache_dir(const char **from);

/* 1 when s has the shape of a Hub model name (see above). */
int gta_hf_is_name(const char *s);

/* Resolves arg (and revision, may be NULL) to a model directory: *dir receives a fresh
 * string. */
int gta_model_ref_resolve(const char *arg, const char *revision, char **dir);

#endif
