/* Fuzz harness: tokenizer.json loading (part 1) and, when it loads, encoding and decoding
 * a few fixed texts and the second part (if any) with it. Part 3 (optional) is written as
 * tokenizer_config.json next to it. */
#include "fuzz_common.h"
#include "text/tokenizer.h"

static const char *const texts[] = {
    "Hello, world! It's 3.14 o'clock.",
    "  leading and trailing spaces \t\n",
    "Caf\xc3\xa9 na\xc3\xafve e\xcc\x81 \xe2\x84\xab \xef\xac\x81",      /* composed, combining, compat */
    "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80", /* CJK, emoji */
    "<|im_start|>user\nhi<|im_end|><s></s><|begin_of_text|>",
    "\xe2\x96\x81word\xe2\x96\x81 a\xc2\x85"
    "b\xe2\x80\xa8"
    "c",
};

static void run(gta_tokenizer *tok, const char *s, size_t n) {
    for (int special = 0; special < 2; special++) {
        gta_ids ids = {0};
        int rc = gta_tokenizer_encode(tok, s, n, special, &ids);
        fz_check_rc(rc, "gta_tokenizer_encode");
        for (size_t i = 0; i < ids.n; i++)
            FZ_ASSERT(ids.ids[i] >= 0 && ids.ids[i] < gta_tokenizer_vocab_size(tok), "id %d outside [0, %d)",
                      ids.ids[i], gta_tokenizer_vocab_size(tok));
        char *out = NULL;
        size_t on = 0;
        if (!rc) fz_check_rc(gta_tokenizer_decode(tok, ids.ids, ids.n, special, &out, &on), "decode");
        free(out);
        gta_ids_free(&ids);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_part part[3];
    int np = fz_split(data, size, part, 3);
    fz_write("tokenizer.json", part[0].p, part[0].n);
    if (np == 3) fz_write("tokenizer_config.json", part[2].p, part[2].n);
    gta_tokenizer *tok = NULL;
    int rc = gta_tokenizer_load(fz_dir(), &tok);
    fz_check_rc(rc, "gta_tokenizer_load");
    if (!rc) {
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) run(tok, texts[i], strlen(texts[i]));
        if (np >= 2) run(tok, part[1].p, part[1].n);
        int32_t V = gta_tokenizer_vocab_size(tok);
        for (int32_t id = 0; id < V && id < 64; id++) {
            const char *t = gta_tokenizer_id_to_token(tok, id);
            if (t) FZ_ASSERT(gta_tokenizer_token_to_id(tok, t) >= 0, "token '%s' of id %d has no id", t, id);
        }
    }
    gta_tokenizer_free(tok);
    fz_remove("tokenizer.json");
    if (np == 3) fz_remove("tokenizer_config.json");
    gta_err_clear();
    return 0;
}
