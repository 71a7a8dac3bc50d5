/* Hub names resolved offline against a Hugging Face cache tree made here: refs, snapshots
 * whose files are symlinks into blobs, a tag, a bare commit, a missing ref, a missing
 * repository, a dangling link (a missing file), a ref that is not a hash, the order of
 * HF_HUB_CACHE / HF_HOME / HOME, and local directories winning over names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/util.h"
#include "io/hf_cache.h"
#include "testutil.h"

#define H1 "0123456789abcdef0123456789abcdef01234567"
#define H2 "fedcba9876543210fedcba9876543210fedcba98"
#define H3 "1111111111111111111111111111111111111111"

static char *root;

static void put(const char *rel, const char *text) {
    char *p = gta_path_join(root, rel);
    char *d = gta_strdup(p);
    *strrchr(d, '/') = 0;
    assert_int_equal(gta_mkdir_p(d), 0);
    assert_int_equal(gta_write_file_atomic(p, text, strlen(text)), 0);
    free(d);
    free(p);
}

static void link_to(const char *target, const char *rel) {
    char *p = gta_path_join(root, rel);
    char *d = gta_strdup(p);
    *strrchr(d, '/') = 0;
    assert_int_equal(gta_mkdir_p(d), 0);
    assert_int_equal(symlink(target, p), 0);
    free(d);
    free(p);
}

/* hub/models--Org--Name: main -> H1, tag v1 -> H2, snapshot H3 without a ref; H2's
 * config.json links to a blob that is not there */
static int setup(void **state) {
    (void)state;
    root = tu_tmpdir();
    const char *repo = "hub/models--Org--Name";
    char rel[512];
    snprintf(rel, sizeof rel, "%s/refs/main", repo);
    put(rel, H1); /* no newline, as huggingface_hub writes it */
    snprintf(rel, sizeof rel, "%s/refs/v1", repo);
    put(rel, H2 "\n");
    snprintf(rel, sizeof rel, "%s/refs/bad", repo);
    put(rel, "not-a-hash\n");
    snprintf(rel, sizeof rel, "%s/blobs/aaaa", repo);
    put(rel, "{\"model_type\": \"llama\"}");
    snprintf(rel, sizeof rel, "%s/snapshots/" H1 "/config.json", repo);
    link_to("../../blobs/aaaa", rel);
    snprintf(rel, sizeof rel, "%s/snapshots/" H2 "/config.json", repo);
    link_to("../../blobs/missing", rel);
    snprintf(rel, sizeof rel, "%s/snapshots/" H3 "/config.json", repo);
    link_to("../../blobs/aaaa", rel);
    /* the same repository under a HF_HOME layout and a HOME layout */
    put("home/hf/hub/models--Org--Name/refs/main", H1);
    put("home/hf/hub/models--Org--Name/snapshots/" H1 "/config.json", "{}");
    put("home/.cache/huggingface/hub/models--Org--Name/refs/main", H1);
    put("home/.cache/huggingface/hub/models--Org--Name/snapshots/" H1 "/config.json", "{}");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_rm_rf(root);
    free(root);
    return 0;
}

static void use_hub_cache(void) {
    char *hub = gta_path_join(root, "hub");
    setenv("HF_HUB_CACHE", hub, 1);
    free(hub);
}

static char *expect(const char *cache, const char *hash) {
    char tail[256];
    snprintf(tail, sizeof tail, "%s/models--Org--Name/snapshots/%s", cache, hash);
    return gta_path_join(root, tail);
}

static void test_names(void **state) {
    (void)state;
    assert_true(gta_hf_is_name("Qwen/Qwen2.5-0.5B-Instruct"));
    assert_true(gta_hf_is_name("meta-llama/Llama-3.2-1B"));
    assert_false(gta_hf_is_name("Qwen"));
    assert_false(gta_hf_is_name("a/b/c"));
    assert_false(gta_hf_is_name("/abs/path"));
    assert_false(gta_hf_is_name("./x/y"));
    assert_false(gta_hf_is_name("../x"));
    assert_false(gta_hf_is_name("x/.."));
    assert_false(gta_hf_is_name("/x"));
    assert_false(gta_hf_is_name("x/"));
}

static void test_refs_and_snapshots(void **state) {
    (void)state;
    use_hub_cache();
    char *dir = NULL, *want;
    /* main: refs/main -> snapshots/H1 */
    assert_int_equal(gta_model_ref_resolve("Org/Name", NULL, &dir), GTA_OK);
    want = expect("hub", H1);
    assert_string_equal(dir, want);
    free(want);
    char *cfg = gta_path_join(dir, "config.json"), *txt = NULL;
    size_t len = 0;
    assert_int_equal(gta_read_file(cfg, &txt, &len), GTA_OK); /* through the blob link */
    assert_string_equal(txt, "{\"model_type\": \"llama\"}");
    free(txt);
    free(cfg);
    free(dir);
    /* an explicit branch name is the same */
    assert_int_equal(gta_model_ref_resolve("Org/Name", "main", &dir), GTA_OK);
    want = expect("hub", H1);
    assert_string_equal(dir, want);
    free(want);
    free(dir);
    /* a commit hash without a ref */
    assert_int_equal(gta_model_ref_resolve("Org/Name", H3, &dir), GTA_OK);
    want = expect("hub", H3);
    assert_string_equal(dir, want);
    free(want);
    free(dir);
}

static void test_failures(void **state) {
    (void)state;
    use_hub_cache();
    char *dir = NULL;
    /* a missing ref names the ref file it looked for */
    assert_int_equal(gta_model_ref_resolve("Org/Name", "nope", &dir), GTA_EINPUT);
    assert_null(dir);
    assert_non_null(strstr(gta_err_msg(), "models--Org--Name/refs/nope does not exist"));
    assert_non_null(strstr(gta_err_msg(), "HF_HUB_CACHE"));
    /* a tag whose snapshot lost its config.json blob */
    assert_int_equal(gta_model_ref_resolve("Org/Name", "v1", &dir), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "snapshots/" H2 "/config.json is missing"));
    /* a ref that does not hold a hash */
    assert_int_equal(gta_model_ref_resolve("Org/Name", "bad", &dir), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "refs/bad: expected a 40-digit commit hash"));
    /* a hash with no snapshot */
    assert_int_equal(gta_model_ref_resolve("Org/Name", "2222222222222222222222222222222222222222", &dir),
                     GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "does not exist"));
    /* a repository that is not there: the message lists where it looked */
    assert_int_equal(gta_model_ref_resolve("Org/Other", NULL, &dir), GTA_EINPUT);
    char *where = gta_path_join(root, "hub/models--Org--Other");
    assert_non_null(strstr(gta_err_msg(), where));
    assert_non_null(strstr(gta_err_msg(), "not a directory"));
    free(where);
    /* neither a directory nor a name */
    assert_int_equal(gta_model_ref_resolve("no-such-dir", NULL, &dir), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "no-such-dir"));
    /* a revision that climbs out of refs/ */
    assert_int_equal(gta_model_ref_resolve("Org/Name", "../../x", &dir), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "bad revision"));
    assert_null(dir);
}

static void test_cache_location(void **state) {
    (void)state;
    char *dir = NULL, *want, *home = gta_path_join(root, "home"), *hfhome = gta_path_join(root, "home/hf");
    const char *from = NULL;
    unsetenv("HF_HUB_CACHE");
    setenv("HF_HOME", hfhome, 1);
    char *c = gta_hf_cache_dir(&from);
    assert_string_equal(from, "HF_HOME");
    free(c);
    assert_int_equal(gta_model_ref_resolve("Org/Name", NULL, &dir), GTA_OK);
    want = expect("home/hf/hub", H1);
    assert_string_equal(dir, want);
    free(want);
    free(dir);
    unsetenv("HF_HOME");
    char *old_home = getenv("HOME") ? gta_strdup(getenv("HOME")) : NULL;
    setenv("HOME", home, 1);
    assert_int_equal(gta_model_ref_resolve("Org/Name", NULL, &dir), GTA_OK);
    want = expect("home/.cache/huggingface/hub", H1);
    assert_string_equal(dir, want);
    free(want);
    free(dir);
    /* HF_HUB_CACHE wins over both */
    use_hub_cache();
    setenv("HF_HOME", hfhome, 1);
    assert_int_equal(gta_model_ref_resolve("Org/Name", NULL, &dir), GTA_OK);
    want = expect("hub", H1);
    assert_string_equal(dir, want);
    free(want);
    free(dir);
    unsetenv("HF_HOME");
    if (old_home) setenv("HOME", old_home, 1);
    free(old_home);
    free(home);
    free(hfhome);
}

static void test_local_directory_wins(void **state) {
    (void)state;
    use_hub_cache();
    char *dir = NULL;
    char *local = gta_path_join(root, "hub");
    assert_int_equal(gta_model_ref_resolve(local, NULL, &dir), GTA_OK);
    assert_string_equal(dir, local);
    free(dir);
    dir = NULL;
    assert_int_equal(gta_model_ref_resolve(local, "main", &dir), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "--revision applies to Hub names only"));
    /* a relative directory named like a Hub name is the directory */
    char *cwd = getcwd(NULL, 0);
    assert_int_equal(chdir(root), 0);
    put("Org/Name/config.json", "{}");
    assert_int_equal(gta_model_ref_resolve("Org/Name", NULL, &dir), GTA_OK);
    assert_string_equal(dir, "Org/Name");
    free(dir);
    assert_int_equal(chdir(cwd), 0);
    free(cwd);
    free(local);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_refs_and_snapshots),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_cache_location),
        cmocka_unit_test(test_local_directory_wins),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
