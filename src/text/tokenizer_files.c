#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "text/tokenizer.h"

int gta_tokenizer_copy_files(const char *from, const char *dir) {
    static const char *files[] = {"tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
                                  "special_tokens_map.json", "chat_template.jinja"};
    char *src_dir;
    if (gta_is_dir(from)) {
        src_dir = gta_strdup(from);
    } else {
        const char *slash = strrchr(from, '/');
        src_dir = slash ? strndup(from, (size_t)(slash - from)) : gta_strdup(".");
        if (!src_dir) return gta_err_set(GTA_EFAIL, "out of memory");
    }
    int rc = GTA_OK;
    for (size_t i = 0; i < sizeof files / sizeof files[0] && !rc; i++) {
        /* a tokenizer.json given by path may have another name */
        char *src = i == 0 && !gta_is_dir(from) ? gta_strdup(from) : gta_path_join(src_dir, files[i]);
        char *dst = gta_path_join(dir, files[i]);
        if (gta_file_exists(src)) rc = gta_copy_file(src, dst);
        free(src);
        free(dst);
    }
    free(src_dir);
    return rc;
}
