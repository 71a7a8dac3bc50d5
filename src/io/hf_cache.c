/* Offline resolution of Hugging Face Hub model names in the local cache (see hf_cache.h). */
#include "io/hf_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"

char *gta_hf_cache_dir(const char **from) {
    const char *v = getenv("HF_HUB_CACHE");
    if (v && *v) {
        if (from) *from = "HF_HUB_CACHE";
        return gta_strdup(v);
    }
    v = getenv("HF_HOME");
    if (v && *v) {
        if (from) *from = "HF_HOME";
        return gta_path_join(v, "hub");
    }
    v = getenv("HOME");
    if (v && *v) {
        if (from) *from = "HOME";
        return gta_path_join(v, ".cache/huggingface/hub");
    }
    if (from) *from = NULL;
    gta_err_set(GTA_EINPUT,
                "none of HF_HUB_CACHE, HF_HOME and HOME is set: no Hugging Face cache to look in");
    return NULL;
}

static int bad_part(const char *s, size_t n) {
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\\' || (unsigned char)s[i] < 0x20) return 1;
    return 0;
}

int gta_hf_is_name(const char *s) {
    if (!s || !*s || s[0] == '/' || s[0] == '.') return 0;
    const char *slash = strchr(s, '/');
    if (!slash || strchr(slash + 1, '/')) return 0;
    return !bad_part(s, (size_t)(slash - s)) && !bad_part(slash + 1, strlen(slash + 1));
}

/* a revision names a file under refs/: parts separated by '/', none empty, "." or ".." */
static int good_revision(const char *r) {
    if (!r || !*r || r[0] == '/') return 0;
    for (const char *p = r;;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (bad_part(p, n)) return 0;
        if (!e) return 1;
        p = e + 1;
    }
}

static int is_hash(const char *s, size_t n) {
    if (n != 40) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static const char *where(const char *from) {
    if (!from) return "";
    if (!strcmp(from, "HF_HUB_CACHE")) return " (cache from $HF_HUB_CACHE)";
    if (!strcmp(from, "HF_HOME")) return " (cache from $HF_HOME/hub; set HF_HUB_CACHE to look elsewhere)";
    return " (cache from $HOME; set HF_HUB_CACHE or HF_HOME to look elsewhere)";
}

int gta_model_ref_resolve(const char *arg, const char *revision, char **dir) {
    *dir = NULL;
    if (!arg || !*arg) return gta_err_set(GTA_EINPUT, "an empty model name");
    if (gta_is_dir(arg)) {
        if (revision)
            return gta_err_set(GTA_EINPUT,
                               "model '%s' is a local directory: --revision applies to Hub names only", arg);
        *dir = gta_strdup(arg);
        return GTA_OK;
    }
    if (!gta_hf_is_name(arg))
        return gta_err_set(GTA_EINPUT, "model '%s': not a directory (nor a Hub name of the form Org/Name)",
                           arg);
    const char *rev = revision ? revision : "main";
    if (!good_revision(rev)) return gta_err_set(GTA_EINPUT, "model '%s': bad revision '%s'", arg, rev);
    const char *from = NULL;
    char *cache = gta_hf_cache_dir(&from);
    if (!cache) return gta_err_prefix(GTA_EINPUT, "model '%s': not a directory", arg);
    /* models--Org--Name */
    size_t n = strlen(arg);
    char *repo_name = gta_malloc(n + 16);
    const char *slash = strchr(arg, '/');
    snprintf(repo_name, n + 16, "models--%.*s--%s", (int)(slash - arg), arg, slash + 1);
    char *repo = gta_path_join(cache, repo_name);
    char *refs = gta_path_join(repo, "refs"), *ref = gta_path_join(refs, rev);
    char *commit = NULL, *snaps = gta_path_join(repo, "snapshots"), *snap = NULL, *cfg = NULL;
    int rc = GTA_OK;
    if (!gta_is_dir(repo)) {
        rc = gta_err_set(
            GTA_EINPUT, "model '%s': not a directory, and not in the Hugging Face cache: %s does not exist%s",
            arg, repo, where(from));
        goto done;
    }
    if (gta_file_exists(ref) && !gta_is_dir(ref)) {
        char *txt = NULL;
        size_t len = 0;
        if ((rc = gta_read_file(ref, &txt, &len))) goto done;
        while (len && (txt[len - 1] == '\n' || txt[len - 1] == '\r' || txt[len - 1] == ' ')) txt[--len] = 0;
        if (!is_hash(txt, len)) {
            free(txt);
            rc = gta_err_set(GTA_EINPUT, "%s: expected a 40-digit commit hash", ref);
            goto done;
        }
        commit = txt;
    } else if (is_hash(rev, strlen(rev))) {
        commit = gta_strdup(rev);
    } else {
        rc = gta_err_set(
            GTA_EINPUT,
            "model '%s': revision '%s' is not in the Hugging Face cache: %s does not exist (and '%s' is "
            "not a commit hash)%s",
            arg, rev, ref, rev, where(from));
        goto done;
    }
    snap = gta_path_join(snaps, commit);
    if (!gta_is_dir(snap)) {
        rc = gta_err_set(GTA_EINPUT, "model '%s' revision '%s': the snapshot %s does not exist%s", arg, rev,
                         snap, where(from));
        goto done;
    }
    cfg = gta_path_join(snap, "config.json");
    if (!gta_file_exists(cfg)) {
        rc = gta_err_set(
            GTA_EINPUT,
            "model '%s' revision '%s': %s is missing (or a link to a blob that is not there): the "
            "snapshot is incomplete",
            arg, rev, cfg);
        goto done;
    }
    *dir = snap;
    snap = NULL;
done:
    free(cache);
    free(repo_name);
    free(repo);
    free(refs);
    free(ref);
    free(commit);
    free(snaps);
    free(snap);
    free(cfg);
    return rc;
}
