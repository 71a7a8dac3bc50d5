/* Fuzz harness: chat template rendering with arbitrary messages and templates.
 * Byte 0 picks the template: llama3, llama3.2, qwen2.5, qwen3 (their published texts, in
 * tests/fuzz/data/chat), chatml (tok-bytelevel's own), or the input's first part as a
 * tokenizer_config.json (any template, any bos_token). Byte 1 holds the options. The
 * parts after the first are messages "role\ncontent" (raw bytes: invalid UTF-8 included,
 * as a --system-prompt can be), and a part that parses as JSON is also rendered as a
 * --chat request. A rendering must be valid UTF-8 and encode with the tokenizer. */
#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "io/dataset.h"
#include "io/json.h"
#include "text/tokenizer.h"

static const char *const fams[] = {"llama3", "llama3.2", "qwen2.5", "qwen3"};
#define NFAM 4
static gta_tokenizer *toks[NFAM + 1];
static char *tok_json;
static size_t tok_json_n;

static void read_all(const char *path, char **out, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc(*n + 1);
    if (fread(*out, 1, *n, f) != *n) abort();
    (*out)[*n] = 0;
    fclose(f);
}

static gta_tokenizer *load_with_config(const char *cfg, size_t n) {
    fz_write("tokenizer.json", tok_json, tok_json_n);
    fz_write("tokenizer_config.json", cfg, n);
    gta_tokenizer *tok = NULL;
    int rc = gta_tokenizer_load(fz_dir(), &tok);
    fz_check_rc(rc, "gta_tokenizer_load");
    fz_remove("tokenizer.json");
    fz_remove("tokenizer_config.json");
    return tok;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    read_all(fz_data("tok-bytelevel/tokenizer.json"), &tok_json, &tok_json_n);
    for (int i = 0; i < NFAM; i++) {
        char rel[64], *cfg;
        size_t n;
        snprintf(rel, sizeof rel, "chat/%s.json", fams[i]);
        read_all(fz_data(rel), &cfg, &n);
        toks[i] = load_with_config(cfg, n);
        FZ_ASSERT(toks[i] && !strcmp(gta_chat_family_name(gta_tokenizer_chat_family(toks[i])), fams[i]),
                  "template %s not recognized", fams[i]);
        free(cfg);
    }
    if (gta_tokenizer_load(fz_data("tok-bytelevel"), &toks[NFAM])) abort();
    return 0;
}

static void check_text(gta_tokenizer *tok, char *text) {
    size_t n = strlen(text);
    FZ_ASSERT(gta_utf8_check(text, n) == n, "the rendering is not valid UTF-8");
    gta_ids ids = {0};
    int rc = gta_tokenizer_encode(tok, text, n, 0, &ids);
    FZ_ASSERT(rc == GTA_OK, "a rendering does not encode: %s", gta_err_msg());
    gta_ids_free(&ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int mode = data[0] % (NFAM + 2), opt = data[1];
    fz_part part[FZ_MAX_PARTS];
    int np = fz_split(data + 2, size - 2, part, FZ_MAX_PARTS), first = 0;
    gta_tokenizer *own = NULL, *tok;
    if (mode == NFAM + 1) {
        own = load_with_config(part[0].p, part[0].n);
        first = 1;
        if (!own) {
            gta_err_clear();
            return 0;
        }
        tok = own;
    } else {
        tok = toks[mode];
    }
    gta_chat_message msg[FZ_MAX_PARTS];
    char *mem[FZ_MAX_PARTS];
    int nm = 0;
    for (int i = first; i < np; i++) {
        char *s = fz_str(part[i]), *nl = strchr(s, '\n');
        mem[nm] = s;
        if (nl) {
            *nl = 0;
            msg[nm] = (gta_chat_message){s, nl + 1, NULL};
        } else {
            msg[nm] = (gta_chat_message){"user", s, NULL};
        }
        /* a reasoning_content after a "\x01" in the content (qwen3) */
        char *r = strchr(msg[nm].content, 1);
        if (r) *r = 0, msg[nm].reasoning_content = r + 1;
        nm++;
    }
    gta_chat_options o = {opt & 1, (opt >> 1) % 3 - 1, (opt & 8) ? "26 Jul 2024" : NULL};
    char *text = NULL;
    int rc = gta_chat_render(tok, msg, (size_t)nm, &o, &text);
    fz_check_rc(rc, "gta_chat_render");
    if (!rc) check_text(tok, text);
    free(text);
    for (int i = first; i < np; i++) {
        cJSON *j = NULL;
        if (gta_json_parse("chat.json", part[i].p, part[i].n, &j) == GTA_OK) {
            text = NULL;
            rc = gta_chat_render_json(tok, j, "chat.json", &text);
            fz_check_rc(rc, "gta_chat_render_json");
            if (!rc) check_text(tok, text);
            free(text);
            cJSON_Delete(j);
        }
    }
    for (int i = 0; i < nm; i++) free(mem[i]);
    gta_tokenizer_free(own);
    gta_err_clear();
    return 0;
}
