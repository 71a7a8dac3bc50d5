/* Fuzz harness: safetensors files (header and data) and sharded directories.
 * One part: a .safetensors file, opened and every tensor converted. Several parts: the
 * first is model.safetensors.index.json, the others the shards s1.safetensors, ... */
#include "fuzz_common.h"
#include "io/safetensors.h"

static void convert_all(const st_set *s) {
    for (int i = 0; i < st_count(s); i++) {
        const st_tensor *t = st_at(s, i);
        FZ_ASSERT(st_find(s, t->name) == t, "st_find('%s') does not find the tensor", t->name);
        FZ_ASSERT(t->nbytes == (size_t)t->numel * st_dtype_size(t->dtype), "size of '%s'", t->name);
        void *buf = malloc(t->numel ? (size_t)t->numel * 8 : 1);
        int rc = t->dtype == ST_I64 || t->dtype == ST_I32 ? st_to_i64(s, t, buf) : st_to_f32(s, t, buf);
        fz_check_rc(rc, "st_to_f32/st_to_i64");
        free(buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_part part[FZ_MAX_PARTS];
    int np = fz_split(data, size, part, FZ_MAX_PARTS);
    st_set *s = NULL;
    int rc;
    if (np == 1) {
        rc = st_open_file(fz_write("x.safetensors", data, size), &s);
        fz_check_rc(rc, "st_open_file");
    } else {
        fz_write("model.safetensors.index.json", part[0].p, part[0].n);
        char name[32];
        for (int i = 1; i < np; i++) {
            snprintf(name, sizeof name, "s%d.safetensors", i);
            fz_write(name, part[i].p, part[i].n);
        }
        rc = st_open_dir(fz_dir(), &s);
        fz_check_rc(rc, "st_open_dir");
        for (int i = 1; i < np; i++) {
            snprintf(name, sizeof name, "s%d.safetensors", i);
            fz_remove(name);
        }
        fz_remove("model.safetensors.index.json");
    }
    if (!rc) convert_all(s);
    st_close(s);
    gta_err_clear();
    return 0;
}
