/* Fuzz harness: encoding arbitrary bytes with fixed tokenizers (tests/fuzz/data/tok-*):
 * byte 0 picks the tokenizer, the rest is the text. Valid UTF-8 must always encode
 * (these tokenizers can represent every character), invalid UTF-8 must be an input error;
 * the byte-level tokenizer must give the text back exactly when decoding. */
#include "fuzz_common.h"
#include "io/dataset.h"
#include "text/tokenizer.h"

static const char *const names[] = {"tok-bytelevel", "tok-stories260K"};
#define NTOK (sizeof names / sizeof *names)
static gta_tokenizer *toks[NTOK];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    for (size_t i = 0; i < NTOK; i++)
        if (gta_tokenizer_load(fz_data(names[i]), &toks[i])) {
            fprintf(stderr, "fuzz_encode: %s\n", gta_err_msg());
            abort();
        }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    size_t which = data[0] % NTOK;
    gta_tokenizer *tok = toks[which];
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    int valid = gta_utf8_check(s, n) == n;
    for (int special = 0; special < 2; special++) {
        gta_ids ids = {0};
        int rc = gta_tokenizer_encode(tok, s, n, special, &ids);
        fz_check_rc(rc, "gta_tokenizer_encode");
        FZ_ASSERT((rc == GTA_OK) == valid, "encode returned %d for %s UTF-8: %s", rc,
                  valid ? "valid" : "invalid", gta_err_msg());
        FZ_ASSERT(!n || !valid || ids.n > 0, "a %zu-byte text encodes to no ids", n);
        char *out = NULL;
        size_t on = 0;
        if (!rc) {
            fz_check_rc(gta_tokenizer_decode(tok, ids.ids, ids.n, 0, &out, &on), "decode");
            if (which == 0 && !special)
                FZ_ASSERT(on == n && !memcmp(out, s, n),
                          "byte-level decode(encode(x)) != x (%zu vs %zu bytes)", on, n);
        }
        free(out);
        gta_ids_free(&ids);
    }
    gta_err_clear();
    return 0;
}
