/* Fuzz harness: datasets. Part 1: labels.txt; part 2: a split, read as train.jsonl when
 * byte 0 is even and as train.csv when odd (byte 0 is not part of the labels). Loaded
 * examples must be valid UTF-8 with labels in range; label lookups are exercised. */
#include "fuzz_common.h"
#include "io/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    int csv = data[0] & 1;
    fz_part part[2];
    int np = fz_split(data + 1, size - 1, part, 2);
    gta_labels l;
    int rc = gta_labels_load(fz_write("labels.txt", part[0].p, part[0].n), &l);
    fz_check_rc(rc, "gta_labels_load");
    if (!rc) {
        for (size_t i = 0; i < l.n; i++) {
            FZ_ASSERT(gta_labels_find(&l, l.names[i], strlen(l.names[i])) == (int32_t)i,
                      "label %zu not found", i);
            FZ_ASSERT(gta_labels_find_norm(&l, l.names[i], strlen(l.names[i])) == (int32_t)i,
                      "label %zu not found normalized", i);
        }
        if (np == 2) {
            const char *name = csv ? "train.csv" : "train.jsonl";
            gta_split sp;
            rc = gta_split_load_file(fz_write(name, part[1].p, part[1].n), &l, &sp);
            fz_check_rc(rc, "gta_split_load_file");
            if (!rc) {
                for (size_t i = 0; i < sp.n; i++) {
                    const gta_example *e = &sp.ex[i];
                    FZ_ASSERT(e->label >= 0 && (size_t)e->label < l.n, "label %d", e->label);
                    FZ_ASSERT(gta_utf8_check(e->text, e->text_len) == e->text_len, "example text not UTF-8");
                    FZ_ASSERT(strlen(e->text) == e->text_len, "NUL inside an example text");
                    gta_labels_find_norm(&l, e->text, e->text_len);
                }
                gta_split_free(&sp);
            }
            fz_remove(name);
        }
        gta_labels_free(&l);
    }
    fz_remove("labels.txt");
    gta_err_clear();
    return 0;
}
