/* Broken checkpoints: each case copies a good fixture from ../shared/fixtures/hf into a
 * temporary directory, corrupts one thing, and expects gta_model_load (and, for damage
 * inside a .safetensors file, st_open_file too) to return GTA_EINPUT with a message that
 * names the offending file and the tensor or field.  Then the positive side: every
 * fixture loads with the expected configuration, and st_write round-trips bit-exactly
 * (with the bf16/f16 -> f32 conversions and f32 -> bf16 round-to-nearest-even checked
 * against values computed by hand and exhaustively). */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/util.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/model.h"
#include "train/state.h"

/* ------------------------------------------------------------------ files */

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot create %s", path);
    if (n) assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static size_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (size_t)st.st_size;
}

static void cut_to(const char *path, size_t n) { assert_int_equal(truncate(path, (off_t)n), 0); }

/* A fresh temporary copy of fixtures/hf/<name> (without reference.safetensors). */
static char *fixture_copy(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/hf/%s", name);
    char *src = tu_shared(rel);
    char *dst = tu_tmpdir();
    DIR *d = opendir(src);
    if (!d) fail_msg("cannot list %s", src);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "reference.safetensors")) continue;
        char *a = gta_path_join(src, e->d_name), *b = gta_path_join(dst, e->d_name);
        size_t n;
        unsigned char *buf = slurp(a, &n);
        spit(b, buf, n);
        free(buf);
        free(a);
        free(b);
    }
    closedir(d);
    free(src);
    return dst;
}

/* ------------------------------------------------------------------ expectations */

/* rc must be GTA_EINPUT and the message must contain each non-NULL string. */
static void expect_einput(int rc, const char *a, const char *b, const char *c, const char *d) {
    const char *msg = gta_err_msg();
    if (!msg) msg = "";
    if (rc != GTA_EINPUT) fail_msg("expected GTA_EINPUT (2), got %d; message: %s", rc, msg);
    const char *want[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++)
        if (want[i] && !strstr(msg, want[i])) fail_msg("message lacks '%s': %s", want[i], msg);
    printf("    %s\n", msg);
}

static int load_dir(const char *dir) {
    gta_err_clear();
    gta_model *m = NULL;
    int rc = gta_model_load(dir, &m);
    if (rc == GTA_OK) gta_model_free(m);
    return rc;
}

static int open_file(const char *path) {
    gta_err_clear();
    st_set *s = NULL;
    int rc = st_open_file(path, &s);
    if (rc == GTA_OK) st_close(s);
    return rc;
}

/* ------------------------------------------------------------------ header surgery */

typedef struct {
    cJSON *h;
    unsigned char *data;
    size_t dlen;
} stf;

static stf hdr_load(const char *path) {
    size_t n;
    unsigned char *b = slurp(path, &n);
    assert_true(n >= 8);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    assert_true(hl <= n - 8);
    stf s;
    s.h = cJSON_ParseWithLength((const char *)b + 8, (size_t)hl);
    assert_non_null(s.h);
    s.dlen = n - 8 - (size_t)hl;
    s.data = malloc(s.dlen + 16);
    memcpy(s.data, b + 8 + hl, s.dlen);
    free(b);
    return s;
}

/* Writes header text + data exactly as given (the header padded with spaces to 8). */
static void raw_save(const char *path, const char *htext, const unsigned char *data, size_t dlen) {
    size_t hl = strlen(htext), pad = (8 - hl % 8) % 8, total = 8 + hl + pad + dlen;
    unsigned char *b = malloc(total);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)(hl + pad) >> (8 * i));
    memcpy(b + 8, htext, hl);
    memset(b + 8 + hl, ' ', pad);
    if (dlen) memcpy(b + 8 + hl + pad, data, dlen);
    spit(path, b, total);
    free(b);
}

static void hdr_save(const char *path, stf *s) {
    char *t = cJSON_PrintUnformatted(s->h);
    raw_save(path, t, s->data, s->dlen);
    free(t);
    cJSON_Delete(s->h);
    free(s->data);
}

static cJSON *hdr_tensor(stf *s, const char *name) {
    cJSON *t = cJSON_GetObjectItemCaseSensitive(s->h, name);
    if (!t) fail_msg("fixture lacks tensor %s", name);
    return t;
}

static double hdr_off(stf *s, const char *name, int k) {
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(hdr_tensor(s, name), "data_offsets"), k)
        ->valuedouble;
}

static void hdr_set_offsets(stf *s, const char *name, double b, double e) {
    double v[2] = {b, e};
    cJSON_ReplaceItemInObjectCaseSensitive(hdr_tensor(s, name), "data_offsets",
                                           cJSON_CreateDoubleArray(v, 2));
}

static void hdr_set_shape(stf *s, const char *name, const double *dims, int n) {
    cJSON_ReplaceItemInObjectCaseSensitive(hdr_tensor(s, name), "shape", cJSON_CreateDoubleArray(dims, n));
}

static void hdr_set_str(stf *s, const char *name, const char *key, const char *v) {
    cJSON_ReplaceItemInObjectCaseSensitive(hdr_tensor(s, name), key, cJSON_CreateString(v));
}

/* Inserts n zero bytes at data offset at and moves every span at or after it. */
static void hdr_insert_gap(stf *s, size_t at, size_t n) {
    unsigned char *d = malloc(s->dlen + n + 16);
    memcpy(d, s->data, at);
    memset(d + at, 0, n);
    memcpy(d + at + n, s->data + at, s->dlen - at);
    free(s->data);
    s->data = d;
    s->dlen += n;
    cJSON *it;
    cJSON_ArrayForEach(it, s->h) {
        if (!strcmp(it->string, "__metadata__")) continue;
        cJSON *o = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        double b = cJSON_GetArrayItem(o, 0)->valuedouble, e = cJSON_GetArrayItem(o, 1)->valuedouble;
        if (b >= (double)at) {
            double v[2] = {b + (double)n, e + (double)n};
            cJSON_ReplaceItemInObjectCaseSensitive(it, "data_offsets", cJSON_CreateDoubleArray(v, 2));
        }
    }
}

/* ------------------------------------------------------------------ rewriting through st_write */

typedef struct {
    st_set *s;
    st_entry *e;
    int n;
} ents;

static ents ents_load(const char *path) {
    ents x = {0};
    if (st_open_file(path, &x.s)) fail_msg("%s", gta_err_msg());
    x.n = st_count(x.s);
    x.e = calloc((size_t)x.n + 4, sizeof *x.e);
    for (int i = 0; i < x.n; i++) {
        const st_tensor *t = st_at(x.s, i);
        x.e[i].name = t->name;
        x.e[i].dtype = t->dtype;
        x.e[i].ndim = t->ndim;
        memcpy(x.e[i].shape, t->shape, sizeof t->shape);
        x.e[i].data = t->data;
    }
    return x;
}

static st_entry *ents_get(ents *x, const char *name) {
    for (int i = 0; i < x->n; i++)
        if (!strcmp(x->e[i].name, name)) return &x->e[i];
    fail_msg("no tensor %s", name);
    return NULL;
}

static void ents_drop(ents *x, const char *name) {
    st_entry *p = ents_get(x, name);
    int i = (int)(p - x->e);
    memmove(x->e + i, x->e + i + 1, sizeof *x->e * (size_t)(x->n - i - 1));
    x->n--;
}

/* Writes the entries to path (atomically: the old mapping stays valid), then closes. */
static void ents_save(ents *x, const char *path) {
    assert_int_equal(st_write(path, x->e, x->n, "{\"format\":\"pt\"}"), GTA_OK);
}

static void ents_free(ents *x) {
    st_close(x->s);
    free(x->e);
}

/* ------------------------------------------------------------------ config surgery */

static cJSON *cfg_load(const char *dir) {
    char *p = gta_path_join(dir, "config.json");
    size_t n;
    unsigned char *b = slurp(p, &n);
    cJSON *j = cJSON_ParseWithLength((const char *)b, n);
    assert_non_null(j);
    free(b);
    free(p);
    return j;
}

static void cfg_save(const char *dir, cJSON *j) {
    char *p = gta_path_join(dir, "config.json");
    char *t = cJSON_Print(j);
    spit(p, t, strlen(t));
    free(t);
    free(p);
    cJSON_Delete(j);
}

static void cfg_set(const char *dir, const char *key, cJSON *v) {
    cJSON *j = cfg_load(dir);
    if (cJSON_GetObjectItemCaseSensitive(j, key))
        cJSON_ReplaceItemInObjectCaseSensitive(j, key, v);
    else
        cJSON_AddItemToObject(j, key, v);
    cfg_save(dir, j);
}

static void cfg_del(const char *dir, const char *key) {
    cJSON *j = cfg_load(dir);
    cJSON_DeleteItemFromObjectCaseSensitive(j, key);
    cfg_save(dir, j);
}

/* rope_parameters[key] = v (v NULL deletes key) */
static void rope_set(const char *dir, const char *key, cJSON *v) {
    cJSON *j = cfg_load(dir);
    cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "rope_parameters");
    assert_non_null(r);
    cJSON_DeleteItemFromObjectCaseSensitive(r, key);
    if (v) cJSON_AddItemToObject(r, key, v);
    cfg_save(dir, j);
}

/* ------------------------------------------------------------------ the broken cases */

#define NORM "model.norm.weight"
#define SHARD(k) "model-0000" #k "-of-00004.safetensors"
#define INDEX "model.safetensors.index.json"

typedef void (*mutate_fn)(const char *dir, const char *file);

typedef struct {
    const char *name;
    const char *fixture;
    const char *file; /* the file the message must name (relative to the copy); NULL: the directory */
    mutate_fn fn;
    const char *want[3]; /* further substrings of the message */
    int st_level;        /* st_open_file(file) fails the same way */
} bad_case;

/* --- single file, damaged bytes */
static void m_cut_header(const char *dir, const char *f) { cut_to(f, 8 + 100); }
static void m_cut_data_end(const char *dir, const char *f) { cut_to(f, file_size(f) - 4); }
static void m_cut_data_mid(const char *dir, const char *f) { cut_to(f, file_size(f) / 2); }
static void m_cut_5(const char *dir, const char *f) { cut_to(f, 5); }
static void m_cut_0(const char *dir, const char *f) { cut_to(f, 0); }
static void m_cut_8(const char *dir, const char *f) { cut_to(f, 8); }

static void set_hlen(const char *f, uint64_t v) {
    size_t n;
    unsigned char *b = slurp(f, &n);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    spit(f, b, n);
    free(b);
}
static void m_hlen_huge(const char *dir, const char *f) { set_hlen(f, UINT64_MAX); }
static void m_hlen_plus1(const char *dir, const char *f) { set_hlen(f, file_size(f) - 8 + 1); }
static void m_hlen_zero(const char *dir, const char *f) { set_hlen(f, 0); }

static void with_header_text(const char *f, const char *text) {
    stf s = hdr_load(f);
    raw_save(f, text, s.data, s.dlen);
    cJSON_Delete(s.h);
    free(s.data);
}
static void m_hdr_not_json(const char *dir, const char *f) {
    with_header_text(f, "{\"model.norm.weight\": {\"dtype\": F32, \"shape\": [64]}}");
}
static void m_hdr_garbage(const char *dir, const char *f) { with_header_text(f, "PK\x03\x04 not a header"); }
static void m_hdr_array(const char *dir, const char *f) { with_header_text(f, "[1, 2, 3]"); }
static void m_hdr_string(const char *dir, const char *f) { with_header_text(f, "\"model\""); }
static void m_hdr_unclosed(const char *dir, const char *f) {
    stf s = hdr_load(f);
    char *t = cJSON_PrintUnformatted(s.h);
    t[strlen(t) - 1] = ' '; /* drop the closing brace */
    raw_save(f, t, s.data, s.dlen);
    free(t);
    cJSON_Delete(s.h);
    free(s.data);
}

static void m_entry_not_object(const char *dir, const char *f) {
    stf s = hdr_load(f);
    cJSON_ReplaceItemInObjectCaseSensitive(s.h, NORM, cJSON_CreateNumber(5));
    hdr_save(f, &s);
}
static void m_offsets_three(const char *dir, const char *f) {
    stf s = hdr_load(f);
    double v[3] = {hdr_off(&s, NORM, 0), hdr_off(&s, NORM, 1), 0};
    cJSON_ReplaceItemInObjectCaseSensitive(hdr_tensor(&s, NORM), "data_offsets",
                                           cJSON_CreateDoubleArray(v, 3));
    hdr_save(f, &s);
}
static void m_offsets_beyond(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_set_offsets(&s, NORM, hdr_off(&s, NORM, 0) + 4, hdr_off(&s, NORM, 1) + 4);
    hdr_save(f, &s);
}
static void m_offsets_far(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_set_offsets(&s, NORM, 1e12, 1e12 + 256);
    hdr_save(f, &s);
}
static void m_offsets_huge(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_set_offsets(&s, NORM, 0, 1e30);
    hdr_save(f, &s);
}
static void m_offsets_negative(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_set_offsets(&s, NORM, -256, 0);
    hdr_save(f, &s);
}
static void m_offsets_reversed(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_set_offsets(&s, NORM, hdr_off(&s, NORM, 1), hdr_off(&s, NORM, 0));
    hdr_save(f, &s);
}
static void m_offsets_fraction(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_set_offsets(&s, NORM, hdr_off(&s, NORM, 0) + 0.5, hdr_off(&s, NORM, 1) + 0.5);
    hdr_save(f, &s);
}
/* same span as another tensor of the same size */
static void m_overlap_same(const char *dir, const char *f) {
    stf s = hdr_load(f);
    const char *a = "model.layers.0.input_layernorm.weight",
               *b = "model.layers.0.post_attention_layernorm.weight";
    hdr_set_offsets(&s, b, hdr_off(&s, a, 0), hdr_off(&s, a, 1));
    hdr_save(f, &s);
}
/* a span that starts 4 bytes inside its predecessor */
static void m_overlap_partial(const char *dir, const char *f) {
    stf s = hdr_load(f);
    const char *b = "model.layers.0.mlp.down_proj.weight";
    hdr_set_offsets(&s, b, hdr_off(&s, b, 0) - 4, hdr_off(&s, b, 1) - 4);
    hdr_save(f, &s);
}
static void m_gap_before_last(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_insert_gap(&s, (size_t)hdr_off(&s, NORM, 0), 8);
    hdr_save(f, &s);
}
static void m_gap_at_start(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_insert_gap(&s, 0, 16);
    hdr_save(f, &s);
}
static void m_trailing_bytes(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_insert_gap(&s, s.dlen, 8);
    hdr_save(f, &s);
}
static void m_shape_span(const char *dir, const char *f) {
    stf s = hdr_load(f);
    double d[1] = {65};
    hdr_set_shape(&s, NORM, d, 1);
    hdr_save(f, &s);
}
static void m_dtype_span(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_set_str(&s, NORM, "dtype", "F16");
    hdr_save(f, &s);
}
static void m_dtype_unknown(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_set_str(&s, NORM, "dtype", "F8_E9");
    hdr_save(f, &s);
}
static void m_dtype_number(const char *dir, const char *f) {
    stf s = hdr_load(f);
    cJSON_ReplaceItemInObjectCaseSensitive(hdr_tensor(&s, NORM), "dtype", cJSON_CreateNumber(4));
    hdr_save(f, &s);
}
static void m_shape_negative(const char *dir, const char *f) {
    stf s = hdr_load(f);
    double d[2] = {-1, -64};
    hdr_set_shape(&s, NORM, d, 2);
    hdr_save(f, &s);
}
static void m_shape_fraction(const char *dir, const char *f) {
    stf s = hdr_load(f);
    double d[2] = {0.5, 128};
    hdr_set_shape(&s, NORM, d, 2);
    hdr_save(f, &s);
}
static void m_shape_9d(const char *dir, const char *f) {
    stf s = hdr_load(f);
    double d[9] = {64, 1, 1, 1, 1, 1, 1, 1, 1};
    hdr_set_shape(&s, NORM, d, 9);
    hdr_save(f, &s);
}
static void m_shape_overflow(const char *dir, const char *f) {
    stf s = hdr_load(f);
    double d[3] = {1e15, 1e15, 1e15};
    hdr_set_shape(&s, NORM, d, 3);
    hdr_save(f, &s);
}

/* --- single file, valid safetensors but not what config.json implies */
/* rewrites dir/model.safetensors without one tensor */
static void drop_tensor(const char *dir, const char *name) {
    char *p = gta_path_join(dir, "model.safetensors");
    ents x = ents_load(p);
    ents_drop(&x, name);
    ents_save(&x, p);
    ents_free(&x);
    free(p);
}
static void m_missing_tensor(const char *dir, const char *f) {
    drop_tensor(dir, "model.layers.1.mlp.up_proj.weight");
}
static void m_wrong_shape(const char *dir, const char *f) {
    ents x = ents_load(f);
    st_entry *e = ents_get(&x, "model.layers.0.self_attn.o_proj.weight");
    e->shape[0] = 32;
    e->shape[1] = 128;
    ents_save(&x, f);
    ents_free(&x);
}
static void m_wrong_ndim(const char *dir, const char *f) {
    ents x = ents_load(f);
    st_entry *e = ents_get(&x, NORM);
    e->ndim = 2;
    e->shape[0] = 1;
    e->shape[1] = 64;
    ents_save(&x, f);
    ents_free(&x);
}
static void m_int_dtype(const char *dir, const char *f) {
    ents x = ents_load(f);
    ents_get(&x, NORM)->dtype = ST_I32;
    ents_save(&x, f);
    ents_free(&x);
}
static void m_vocab_mismatch(const char *dir, const char *f) {
    cfg_set(dir, "vocab_size", cJSON_CreateNumber(385));
}
static void m_no_lm_head(const char *dir, const char *f) { drop_tensor(dir, "lm_head.weight"); }
static void m_qnorm_shape(const char *dir, const char *f) {
    ents x = ents_load(f);
    ents_get(&x, "model.layers.1.self_attn.q_norm.weight")->shape[0] = 16; /* head_dim is 32 */
    ents_save(&x, f);
    ents_free(&x);
}
static void m_no_weights(const char *dir, const char *f) {
    char *p = gta_path_join(dir, "model.safetensors");
    assert_int_equal(unlink(p), 0);
    free(p);
}

/* --- config.json */
static void m_cfg_truncated(const char *dir, const char *f) {
    size_t n;
    unsigned char *b = slurp(f, &n);
    spit(f, b, n / 2);
    free(b);
}
static void m_cfg_empty(const char *dir, const char *f) { spit(f, "", 0); }
static void m_cfg_array(const char *dir, const char *f) { spit(f, "[1, 2]\n", 7); }
static void m_cfg_missing(const char *dir, const char *f) { assert_int_equal(unlink(f), 0); }
static void m_model_type_unknown(const char *dir, const char *f) {
    cfg_set(dir, "model_type", cJSON_CreateString("mistral"));
}
static void m_model_type_missing(const char *dir, const char *f) { cfg_del(dir, "model_type"); }
static void m_model_type_number(const char *dir, const char *f) {
    cfg_set(dir, "model_type", cJSON_CreateNumber(2));
}
static void m_heads_zero(const char *dir, const char *f) {
    cfg_set(dir, "num_attention_heads", cJSON_CreateNumber(0));
}
static void m_heads_negative(const char *dir, const char *f) {
    cfg_set(dir, "num_attention_heads", cJSON_CreateNumber(-4));
}
static void m_heads_fraction(const char *dir, const char *f) {
    cfg_set(dir, "num_attention_heads", cJSON_CreateNumber(4.5));
}
static void m_heads_string(const char *dir, const char *f) {
    cfg_set(dir, "num_attention_heads", cJSON_CreateString("4"));
}
static void m_heads_missing(const char *dir, const char *f) { cfg_del(dir, "num_attention_heads"); }
static void m_kv_not_dividing(const char *dir, const char *f) {
    cfg_set(dir, "num_key_value_heads", cJSON_CreateNumber(3));
}
static void m_kv_more(const char *dir, const char *f) {
    cfg_set(dir, "num_key_value_heads", cJSON_CreateNumber(8));
}
static void m_kv_zero(const char *dir, const char *f) {
    cfg_set(dir, "num_key_value_heads", cJSON_CreateNumber(0));
}
static void m_head_dim_odd(const char *dir, const char *f) {
    cfg_set(dir, "head_dim", cJSON_CreateNumber(15));
}
static void m_head_dim_zero(const char *dir, const char *f) {
    cfg_set(dir, "head_dim", cJSON_CreateNumber(0));
}
static void m_head_dim_implied_odd(const char *dir, const char *f) {
    /* no head_dim: hidden_size / num_attention_heads = 72 / 8 = 9 */
    cfg_set(dir, "hidden_size", cJSON_CreateNumber(72));
    cfg_set(dir, "num_attention_heads", cJSON_CreateNumber(8));
}
static void m_hidden_zero(const char *dir, const char *f) {
    cfg_set(dir, "hidden_size", cJSON_CreateNumber(0));
}
static void m_vocab_missing(const char *dir, const char *f) { cfg_del(dir, "vocab_size"); }
static void m_rope_yarn(const char *dir, const char *f) {
    rope_set(dir, "rope_type", cJSON_CreateString("yarn"));
    rope_set(dir, "factor", cJSON_CreateNumber(4));
}
static void m_rope_dynamic(const char *dir, const char *f) {
    rope_set(dir, "rope_type", cJSON_CreateString("dynamic"));
    rope_set(dir, "factor", cJSON_CreateNumber(2));
}
static void m_rope_legacy_yarn(const char *dir, const char *f) {
    /* published-checkpoint layout: top-level rope_theta and rope_scaling {"type": ...} */
    cfg_del(dir, "rope_parameters");
    cfg_set(dir, "rope_theta", cJSON_CreateNumber(1e6));
    cJSON *rs = cJSON_CreateObject();
    cJSON_AddStringToObject(rs, "type", "yarn");
    cJSON_AddNumberToObject(rs, "factor", 4);
    cfg_set(dir, "rope_scaling", rs);
}
static void m_rope_not_object(const char *dir, const char *f) {
    cfg_set(dir, "rope_parameters", cJSON_CreateString("default"));
}
static void m_rope_theta_zero(const char *dir, const char *f) {
    rope_set(dir, "rope_theta", cJSON_CreateNumber(0));
}
static void m_rope_linear_no_factor(const char *dir, const char *f) {
    rope_set(dir, "rope_type", cJSON_CreateString("linear"));
}
static void m_llama3_no_factors(const char *dir, const char *f) {
    rope_set(dir, "low_freq_factor", NULL);
    rope_set(dir, "high_freq_factor", NULL);
    rope_set(dir, "original_max_position_embeddings", NULL);
}
static void m_llama3_no_factor(const char *dir, const char *f) { rope_set(dir, "factor", NULL); }
static void m_llama3_high_below_low(const char *dir, const char *f) {
    rope_set(dir, "high_freq_factor", cJSON_CreateNumber(0.5));
}
static void m_legacy_llama3_no_factors(const char *dir, const char *f) {
    cJSON *j = cfg_load(dir);
    cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "rope_scaling");
    assert_non_null(rs);
    cJSON_DeleteItemFromObjectCaseSensitive(rs, "low_freq_factor");
    cfg_save(dir, j);
}
static void m_sliding(const char *dir, const char *f) {
    cfg_set(dir, "use_sliding_window", cJSON_CreateTrue());
}
static void m_hidden_act(const char *dir, const char *f) {
    cfg_set(dir, "hidden_act", cJSON_CreateString("gelu"));
}
static void m_tie_string(const char *dir, const char *f) {
    cfg_set(dir, "tie_word_embeddings", cJSON_CreateString("yes"));
}
static void m_eps_negative(const char *dir, const char *f) {
    cfg_set(dir, "rms_norm_eps", cJSON_CreateNumber(-1));
}
static void m_eos_string(const char *dir, const char *f) {
    cfg_set(dir, "eos_token_id", cJSON_CreateString("2"));
}

/* --- sharded */
static void m_shard_missing(const char *dir, const char *f) { assert_int_equal(unlink(f), 0); }
static void index_edit(const char *dir, const char *tensor, cJSON *v) {
    char *p = gta_path_join(dir, INDEX);
    size_t n;
    unsigned char *b = slurp(p, &n);
    cJSON *j = cJSON_ParseWithLength((const char *)b, n);
    free(b);
    assert_non_null(j);
    cJSON *wm = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
    if (!tensor) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "weight_map");
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(wm, tensor);
        if (v) cJSON_AddItemToObject(wm, tensor, v);
    }
    char *t = cJSON_Print(j);
    spit(p, t, strlen(t));
    free(t);
    cJSON_Delete(j);
    free(p);
}
static void m_index_unnamed(const char *dir, const char *f) { index_edit(dir, NORM, NULL); }
static void m_index_wrong_shard(const char *dir, const char *f) {
    index_edit(dir, NORM, cJSON_CreateString(SHARD(1)));
}
static void m_index_extra(const char *dir, const char *f) {
    index_edit(dir, "model.extra.weight", cJSON_CreateString(SHARD(1)));
}
static void m_index_no_weight_map(const char *dir, const char *f) { index_edit(dir, NULL, NULL); }
static void m_index_traversal(const char *dir, const char *f) {
    index_edit(dir, NORM, cJSON_CreateString("../" SHARD(4)));
}
static void m_index_number(const char *dir, const char *f) { index_edit(dir, NORM, cJSON_CreateNumber(4)); }
static void m_index_truncated(const char *dir, const char *f) { cut_to(f, file_size(f) - 10); }
static void m_two_shards(const char *dir, const char *f) {
    /* shard 1 gets a copy of model.norm.weight, which shard 4 holds */
    char *p1 = gta_path_join(dir, SHARD(1)), *p4 = gta_path_join(dir, SHARD(4));
    ents a = ents_load(p1), b = ents_load(p4);
    a.e[a.n++] = *ents_get(&b, NORM);
    ents_save(&a, p1);
    ents_free(&a);
    ents_free(&b);
    free(p1);
    free(p4);
}
/* the same, with the index naming shard 1 for it: shard 4's copy is the stray one */
static void m_two_shards_indexed(const char *dir, const char *f) {
    m_two_shards(dir, f);
    index_edit(dir, NORM, cJSON_CreateString(SHARD(1)));
}
static void m_shard_cut(const char *dir, const char *f) { cut_to(f, file_size(f) - 64); }
static void m_shard_dtype(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_set_str(&s, "model.layers.0.self_attn.q_proj.weight", "dtype", "F8_E9");
    hdr_save(f, &s);
}
static void m_shard_gap(const char *dir, const char *f) {
    stf s = hdr_load(f);
    hdr_insert_gap(&s, s.dlen, 8);
    hdr_save(f, &s);
}

#define MS "model.safetensors"
#define CFG "config.json"
static const bad_case cases[] = {
    /* safetensors framing and header */
    {"cut in the header", "qwen2", MS, m_cut_header, {"exceeds the file"}, 1},
    {"cut in the data (last 4 bytes)", "qwen2", MS, m_cut_data_end, {NORM, "outside the data"}, 1},
    {"cut in the data (half)", "qwen2", MS, m_cut_data_mid, {"outside the data"}, 1},
    {"shorter than 8 bytes", "qwen2", MS, m_cut_5, {"5 bytes"}, 1},
    {"empty file", "qwen2", MS, m_cut_0, {"0 bytes"}, 1},
    {"only the length prefix", "qwen2", MS, m_cut_8, {NULL}, 1},
    {"header length 2^64-1", "qwen2", MS, m_hlen_huge, {"exceeds the file"}, 1},
    {"header length file+1", "qwen2", MS, m_hlen_plus1, {"exceeds the file"}, 1},
    {"header length 0", "qwen2", MS, m_hlen_zero, {"JSON object"}, 1},
    {"header not JSON", "qwen2", MS, m_hdr_not_json, {"invalid JSON"}, 1},
    {"header unclosed", "qwen2", MS, m_hdr_unclosed, {"invalid JSON"}, 1},
    {"header binary garbage", "qwen2", MS, m_hdr_garbage, {"not a JSON object"}, 1},
    {"header a JSON array", "qwen2", MS, m_hdr_array, {"not a JSON object"}, 1},
    {"header a JSON string", "qwen2", MS, m_hdr_string, {"not a JSON object"}, 1},
    {"entry not an object", "qwen2", MS, m_entry_not_object, {NORM}, 1},
    {"data_offsets of 3", "qwen2", MS, m_offsets_three, {NORM}, 1},
    {"data_offsets beyond the data", "qwen2", MS, m_offsets_beyond, {NORM, "outside the data"}, 1},
    {"data_offsets far beyond", "qwen2", MS, m_offsets_far, {NORM, "outside the data"}, 1},
    {"data_offsets 1e30", "qwen2", MS, m_offsets_huge, {NORM}, 1},
    {"data_offsets negative", "qwen2", MS, m_offsets_negative, {NORM, "data_offsets"}, 1},
    {"data_offsets reversed", "qwen2", MS, m_offsets_reversed, {NORM, "data_offsets"}, 1},
    {"data_offsets fractional", "qwen2", MS, m_offsets_fraction, {NORM, "data_offsets"}, 1},
    {"overlap, same span", "qwen2", MS, m_overlap_same, {"overlaps", "layernorm.weight"}, 1},
    {"overlap, partial",
     "qwen2",
     MS,
     m_overlap_partial,
     {"overlaps", "model.layers.0.mlp.down_proj.weight"},
     1},
    {"gap between tensors", "qwen2", MS, m_gap_before_last, {"8 unused bytes before tensor '" NORM "'"}, 1},
    {"gap before the first tensor",
     "qwen2",
     MS,
     m_gap_at_start,
     {"16 unused bytes before tensor 'model.embed_tokens.weight'"},
     1},
    {"bytes after the last tensor", "qwen2", MS, m_trailing_bytes, {"8 bytes after the last tensor"}, 1},
    {"shape x dtype != span (shape)", "qwen2", MS, m_shape_span, {NORM, "needs 260 bytes", "span 256"}, 1},
    {"shape x dtype != span (dtype)", "qwen2", MS, m_dtype_span, {NORM, "needs 128 bytes", "span 256"}, 1},
    {"unknown dtype F8_E9", "qwen2", MS, m_dtype_unknown, {NORM, "unknown dtype 'F8_E9'"}, 1},
    {"dtype not a string", "qwen2", MS, m_dtype_number, {NORM}, 1},
    {"shape negative", "qwen2", MS, m_shape_negative, {NORM, "shape"}, 1},
    {"shape fractional", "qwen2", MS, m_shape_fraction, {NORM, "shape"}, 1},
    {"shape of 9 dims", "qwen2", MS, m_shape_9d, {NORM, "dimensions"}, 1},
    {"shape overflowing", "qwen2", MS, m_shape_overflow, {NORM, "too large"}, 1},
    /* valid files that do not match config.json */
    {"missing tensor", "qwen2", NULL, m_missing_tensor, {"model.layers.1.mlp.up_proj.weight", "missing"}, 0},
    {"wrong shape",
     "qwen2",
     MS,
     m_wrong_shape,
     {"model.layers.0.self_attn.o_proj.weight", "[32, 128]", "[64, 64]"},
     0},
    {"wrong rank", "qwen2", MS, m_wrong_ndim, {NORM, "[1, 64]", "[64]"}, 0},
    {"integer dtype for a weight", "qwen2", MS, m_int_dtype, {NORM, "I32"}, 0},
    {"vocab_size disagrees with embeddings",
     "qwen2",
     MS,
     m_vocab_mismatch,
     {"model.embed_tokens.weight", "[384, 64]", "[385, 64]"},
     0},
    {"untied lm_head missing", "qwen3", NULL, m_no_lm_head, {"lm_head.weight", "missing"}, 0},
    {"qwen3 q_norm of hidden/heads, not head_dim",
     "qwen3",
     MS,
     m_qnorm_shape,
     {"model.layers.1.self_attn.q_norm.weight", "[16]", "[32]"},
     0},
    {"no weights file", "qwen2", NULL, m_no_weights, {"model.safetensors"}, 0},
    /* config.json */
    {"config truncated", "qwen2", CFG, m_cfg_truncated, {"invalid JSON"}, 0},
    {"config empty", "qwen2", CFG, m_cfg_empty, {"invalid JSON"}, 0},
    {"config an array", "qwen2", CFG, m_cfg_array, {"JSON object"}, 0},
    {"config missing", "qwen2", CFG, m_cfg_missing, {"cannot open"}, 0},
    {"model_type unknown", "qwen2", CFG, m_model_type_unknown, {"model_type", "mistral"}, 0},
    {"model_type missing", "qwen2", CFG, m_model_type_missing, {"model_type"}, 0},
    {"model_type a number", "qwen2", CFG, m_model_type_number, {"model_type"}, 0},
    {"num_attention_heads 0", "qwen2", CFG, m_heads_zero, {"num_attention_heads"}, 0},
    {"num_attention_heads -4", "qwen2", CFG, m_heads_negative, {"num_attention_heads"}, 0},
    {"num_attention_heads 4.5", "qwen2", CFG, m_heads_fraction, {"num_attention_heads"}, 0},
    {"num_attention_heads \"4\"", "qwen2", CFG, m_heads_string, {"num_attention_heads"}, 0},
    {"num_attention_heads missing", "qwen2", CFG, m_heads_missing, {"num_attention_heads"}, 0},
    {"num_key_value_heads 3 of 4", "qwen2", CFG, m_kv_not_dividing, {"num_key_value_heads", "3"}, 0},
    {"num_key_value_heads 8 of 4", "qwen2", CFG, m_kv_more, {"num_key_value_heads", "8"}, 0},
    {"num_key_value_heads 0", "qwen2", CFG, m_kv_zero, {"num_key_value_heads"}, 0},
    {"head_dim odd", "qwen3", CFG, m_head_dim_odd, {"head_dim", "15"}, 0},
    {"head_dim 0", "qwen3", CFG, m_head_dim_zero, {"head_dim"}, 0},
    {"implied head_dim odd", "qwen2", CFG, m_head_dim_implied_odd, {"head_dim", "9"}, 0},
    {"hidden_size 0", "qwen2", CFG, m_hidden_zero, {"hidden_size"}, 0},
    {"vocab_size missing", "qwen2", CFG, m_vocab_missing, {"vocab_size"}, 0},
    {"rope_type yarn", "qwen2", CFG, m_rope_yarn, {"rope_parameters", "yarn"}, 0},
    {"rope_type dynamic", "qwen3", CFG, m_rope_dynamic, {"dynamic"}, 0},
    {"legacy rope_scaling type yarn", "qwen2", CFG, m_rope_legacy_yarn, {"rope_scaling", "yarn"}, 0},
    {"rope_parameters a string", "qwen2", CFG, m_rope_not_object, {"rope_parameters"}, 0},
    {"rope_theta 0", "qwen2", CFG, m_rope_theta_zero, {"rope_theta"}, 0},
    {"linear rope without factor", "qwen2", CFG, m_rope_linear_no_factor, {"factor"}, 0},
    {"llama3 rope without its factors", "llama", CFG, m_llama3_no_factors, {"llama3", "low_freq_factor"}, 0},
    {"llama3 rope without factor", "llama", CFG, m_llama3_no_factor, {"factor"}, 0},
    {"llama3 high_freq_factor < low", "llama", CFG, m_llama3_high_below_low, {"high_freq_factor"}, 0},
    {"legacy llama3 rope_scaling without low_freq_factor",
     "llama-legacy-config",
     CFG,
     m_legacy_llama3_no_factors,
     {"low_freq_factor"},
     0},
    {"use_sliding_window true", "qwen2", CFG, m_sliding, {"use_sliding_window"}, 0},
    {"hidden_act gelu", "qwen2", CFG, m_hidden_act, {"hidden_act", "gelu"}, 0},
    {"tie_word_embeddings a string", "qwen2", CFG, m_tie_string, {"tie_word_embeddings"}, 0},
    {"rms_norm_eps negative", "qwen2", CFG, m_eps_negative, {"rms_norm_eps"}, 0},
    {"eos_token_id a string", "qwen2", CFG, m_eos_string, {"eos_token_id"}, 0},
    /* sharded */
    {"index names a missing shard", "qwen2-sharded", SHARD(3), m_shard_missing, {"cannot open"}, 0},
    {"tensor in a shard the index does not name",
     "qwen2-sharded",
     INDEX,
     m_index_unnamed,
     {NORM, SHARD(4)},
     0},
    {"index names the wrong shard", "qwen2-sharded", INDEX, m_index_wrong_shard, {NORM, SHARD(4)}, 0},
    {"index names a tensor no shard has",
     "qwen2-sharded",
     INDEX,
     m_index_extra,
     {"model.extra.weight", SHARD(1)},
     0},
    {"index without weight_map", "qwen2-sharded", INDEX, m_index_no_weight_map, {"weight_map"}, 0},
    {"index shard name with a slash", "qwen2-sharded", INDEX, m_index_traversal, {NORM}, 0},
    {"index shard name a number", "qwen2-sharded", INDEX, m_index_number, {NORM}, 0},
    {"index truncated", "qwen2-sharded", INDEX, m_index_truncated, {"invalid JSON"}, 0},
    {"tensor in two shards (index names the later)",
     "qwen2-sharded",
     INDEX,
     m_two_shards,
     {NORM, SHARD(1)},
     0},
    {"tensor in two shards (index names the first)",
     "qwen2-sharded",
     SHARD(4),
     m_two_shards_indexed,
     {NORM, "two shards"},
     0},
    {"shard cut in the data", "qwen2-sharded", SHARD(2), m_shard_cut, {"outside the data"}, 1},
    {"shard with an unknown dtype",
     "qwen2-sharded",
     SHARD(2),
     m_shard_dtype,
     {"model.layers.0.self_attn.q_proj.weight", "F8_E9"},
     1},
    {"shard with trailing bytes", "qwen2-sharded", SHARD(3), m_shard_gap, {"after the last tensor"}, 1},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static void run_bad(void **state) {
    const bad_case *c = *state;
    if (!tu_have_shared()) skip();
    char *dir = fixture_copy(c->fixture);
    char *f = c->file ? gta_path_join(dir, c->file) : gta_strdup(dir);
    c->fn(dir, f);
    printf("  %s\n", c->name);
    expect_einput(load_dir(dir), f, c->want[0], c->want[1], c->want[2]);
    if (c->st_level) {
        /* the library keeps no state across a failure: the same again, then directly */
        expect_einput(load_dir(dir), f, c->want[0], c->want[1], c->want[2]);
        expect_einput(open_file(f), f, c->want[0], c->want[1], c->want[2]);
    }
    free(f);
    tu_rm_rf(dir);
    free(dir);
}

/* ------------------------------------------------------------------ message details */

/* A syntax error in config.json is reported at its line and column. */
static void test_config_line_col(void **state) {
    (void)state;
    if (!tu_have_shared()) skip();
    char *dir = fixture_copy("qwen2");
    char *p = gta_path_join(dir, "config.json");
    size_t n;
    unsigned char *b = slurp(p, &n);
    const char *key = "\"hidden_size\": 64,";
    char *at = strstr((char *)b, key);
    assert_non_null(at);
    int line = 1, col = 1;
    for (char *q = (char *)b; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    /* "hidden_size": 6x4, -> the parser stops at the x */
    size_t k = (size_t)(at - (char *)b) + strlen("\"hidden_size\": 6");
    unsigned char *bad = malloc(n + 2);
    memcpy(bad, b, k);
    bad[k] = 'x';
    memcpy(bad + k + 1, b + k, n - k);
    spit(p, bad, n + 1);
    char want[64];
    snprintf(want, sizeof want, "config.json:%d:", line);
    expect_einput(load_dir(dir), p, want, "invalid JSON", NULL);
    /* the column lies on the error's line, at or after the key */
    const char *m = strstr(gta_err_msg(), want);
    int got_col = atoi(m + strlen(want));
    printf("    line %d, key at column %d, reported column %d\n", line, col, got_col);
    assert_true(got_col >= col && got_col <= col + (int)strlen(key) + 1);

    /* cut in the middle: the position reported lies on the last line written */
    cut_to(p, (size_t)(at - (char *)b) + 5);
    expect_einput(load_dir(dir), p, "invalid JSON", NULL, NULL);
    snprintf(want, sizeof want, "config.json:%d:", line);
    assert_non_null(strstr(gta_err_msg(), want));
    free(bad);
    free(b);
    free(p);
    tu_rm_rf(dir);
    free(dir);
}

/* The safetensors header is JSON too: a syntax error names the file and a position. */
static void test_header_json_position(void **state) {
    (void)state;
    if (!tu_have_shared()) skip();
    char *dir = fixture_copy("qwen2");
    char *f = gta_path_join(dir, MS);
    m_hdr_not_json(dir, f);
    expect_einput(open_file(f), f, "invalid JSON", NULL, NULL);
    char want[512];
    snprintf(want, sizeof want, "%s:1:", f);
    assert_non_null(strstr(gta_err_msg(), want));
    free(f);
    tu_rm_rf(dir);
    free(dir);
}

/* ------------------------------------------------------------------ positive cases */

static gta_model *load_ok(const char *fixture) {
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/hf/%s", fixture);
    char *dir = tu_shared(rel);
    gta_model *m = NULL;
    int rc = gta_model_load(dir, &m);
    if (rc) fail_msg("%s: %s", fixture, gta_err_msg());
    free(dir);
    return m;
}

static void assert_same_params(const gta_model *a, const gta_model *b) {
    assert_int_equal(a->n_params, b->n_params);
    assert_int_equal(a->n_tensors, b->n_tensors);
    assert_memory_equal(a->params, b->params, sizeof(float) * a->n_params);
}

static void test_fixtures_load(void **state) {
    (void)state;
    if (!tu_have_shared()) skip();
    gta_model *q2 = load_ok("qwen2");
    const gta_config *c = &q2->cfg;
    assert_int_equal(c->arch, GTA_ARCH_QWEN2);
    assert_int_equal(c->vocab_size, 384);
    assert_int_equal(c->hidden_size, 64);
    assert_int_equal(c->num_heads, 4);
    assert_int_equal(c->num_kv_heads, 2);
    assert_int_equal(c->head_dim, 16);
    assert_true(c->rope_theta == 1e6);
    assert_int_equal(c->rope_type, GTA_ROPE_DEFAULT);
    assert_int_equal(c->tie_word_embeddings, 1);
    assert_int_equal(c->qkv_bias, 1);
    assert_true(q2->lm_head == q2->embed);
    assert_null(gta_model_find(q2, "lm_head.weight"));
    assert_non_null(gta_model_find(q2, "model.layers.1.self_attn.v_proj.bias"));

    /* shards, legacy config layout: the same weights bit for bit */
    gta_model *sh = load_ok("qwen2-sharded");
    assert_same_params(q2, sh);
    gta_model *lg = load_ok("qwen2-legacy-config");
    assert_same_params(q2, lg);
    assert_true(lg->cfg.rope_theta == 1e6);

    gta_model *q3 = load_ok("qwen3");
    assert_int_equal(q3->cfg.arch, GTA_ARCH_QWEN3);
    assert_int_equal(q3->cfg.head_dim, 32);
    assert_int_equal(q3->cfg.qk_norm, 1);
    assert_int_equal(q3->cfg.qkv_bias, 0);
    assert_int_equal(q3->cfg.tie_word_embeddings, 0);
    assert_true(q3->lm_head != q3->embed);
    assert_non_null(gta_model_find(q3, "lm_head.weight"));
    assert_non_null(gta_model_find(q3, "model.layers.0.self_attn.k_norm.weight"));

    gta_model *ll = load_ok("llama"), *ll2 = load_ok("llama-legacy-config");
    const gta_config *lc = &ll->cfg, *lc2 = &ll2->cfg;
    assert_int_equal(lc->arch, GTA_ARCH_LLAMA);
    assert_int_equal(lc->rope_type, GTA_ROPE_LLAMA3);
    assert_true(lc->rope_theta == 500000.0 && lc->rope_factor == 8.0);
    assert_true(lc->rope_low_freq_factor == 1.0 && lc->rope_high_freq_factor == 4.0);
    assert_int_equal(lc->rope_original_max_position, 64);
    assert_int_equal(lc2->rope_type, GTA_ROPE_LLAMA3);
    assert_true(lc2->rope_theta == lc->rope_theta && lc2->rope_factor == lc->rope_factor);
    assert_true(lc2->rope_low_freq_factor == 1.0 && lc2->rope_high_freq_factor == 4.0);
    assert_int_equal(lc2->rope_original_max_position, 64);
    assert_same_params(ll, ll2);

    /* bf16 and f16 weights: loaded exactly as their f32 values (bf16 -> f32 is exact) */
    gta_model *b16 = load_ok("qwen2-bf16"), *h16 = load_ok("qwen2-fp16");
    assert_int_equal(b16->n_params, q2->n_params);
    assert_int_equal(h16->n_params, q2->n_params);
    for (size_t i = 0; i < b16->n_params; i++) {
        uint32_t u;
        memcpy(&u, &b16->params[i], 4);
        if (u & 0xffffu) fail_msg("bf16 weight %zu has low bits set (%08x)", i, u);
        if (fabsf(b16->params[i] - q2->params[i]) > 1e-2f * (1 + fabsf(q2->params[i])))
            fail_msg("bf16 weight %zu: %g vs %g", i, b16->params[i], q2->params[i]);
        if (fabsf(h16->params[i] - q2->params[i]) > 1e-3f * (1 + fabsf(q2->params[i])))
            fail_msg("f16 weight %zu: %g vs %g", i, h16->params[i], q2->params[i]);
    }
    gta_model *all[] = {q2, sh, lg, q3, ll, ll2, b16, h16};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) gta_model_free(all[i]);
}

/* qwen2 with an extra lm_head.weight (tied: ignored) and qwen3 with tie set (lm_head
 * file entry unused) both load. */
static void test_tied_untied_variants(void **state) {
    (void)state;
    if (!tu_have_shared()) skip();
    char *dir = fixture_copy("qwen3");
    cfg_set(dir, "tie_word_embeddings", cJSON_CreateTrue());
    gta_model *m = NULL;
    if (gta_model_load(dir, &m)) fail_msg("%s", gta_err_msg());
    assert_true(m->lm_head == m->embed);
    assert_null(gta_model_find(m, "lm_head.weight"));
    gta_model_free(m);
    tu_rm_rf(dir);
    free(dir);

    /* qwen2, untied in config, but the checkpoint has no lm_head.weight: an error */
    dir = fixture_copy("qwen2");
    cfg_set(dir, "tie_word_embeddings", cJSON_CreateFalse());
    expect_einput(load_dir(dir), dir, "lm_head.weight", NULL, NULL);
    tu_rm_rf(dir);
    free(dir);
}

/* A model saved by gta_model_save loads back bit for bit. */
static void test_save_reload(void **state) {
    (void)state;
    if (!tu_have_shared()) skip();
    gta_model *a = load_ok("qwen3");
    char *dir = tu_tmpdir();
    char *sub = gta_path_join(dir, "out/model");
    assert_int_equal(gta_model_save(a, sub), GTA_OK);
    gta_model *b = NULL;
    if (gta_model_load(sub, &b)) fail_msg("%s", gta_err_msg());
    assert_same_params(a, b);
    assert_int_equal(b->cfg.head_dim, 32);
    gta_model_free(a);
    gta_model_free(b);
    free(sub);
    tu_rm_rf(dir);
    free(dir);
}

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* st_write -> st_open_file: names, dtypes, shapes and bytes exactly; conversions to f32. */
static void test_write_roundtrip(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *p = gta_path_join(dir, "t.safetensors");

    uint32_t f32[8] = {0x3f800000, 0x80000000, 0x7f800000, 0xff800000,
                       0x7fc00001, 0x00000001, 0x7f7fffff, 0xc0490fdb};
    /* bf16 raw -> f32 bits: h << 16 */
    uint16_t bf[6] = {0x3F80, 0xC000, 0x7F80, 0x0001, 0x8000, 0x4049};
    /* f16 raw -> f32 bits, by hand */
    uint16_t hf[11] = {0x3C00, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0xFC00,
                       0x8000, 0xC000, 0x3555, 0x7E00, 0x8001};
    uint32_t hf_want[11] = {
        0x3F800000, /* 1.0 */
        0x33800000, /* 2^-24, smallest subnormal */
        0x387FC000, /* 1023 * 2^-24, largest subnormal */
        0x38800000, /* 2^-14, smallest normal */
        0x477FE000, /* 65504 */
        0xFF800000, /* -inf */
        0x80000000, /* -0 */
        0xC0000000, /* -2 */
        0x3EAAA000, /* 0.333251953125 */
        0x7FC00000, /* NaN */
        0xB3800000, /* -2^-24 */
    };
    int64_t i64[4] = {0, -1, INT64_MAX, INT64_MIN};
    int32_t i32[3] = {-5, 7, INT32_MIN};
    double f64[2] = {1.5, -0.25};
    uint8_t u8[3] = {0, 255, 7};
    float scalar = 3.25f;
    st_entry e[] = {
        {"a.f32", ST_F32, 2, {2, 4}, f32},     {"b.bf16", ST_BF16, 1, {6}, bf},
        {"c.f16", ST_F16, 3, {1, 11, 1}, hf},  {"d.i64", ST_I64, 2, {2, 2}, i64},
        {"e.i32", ST_I32, 1, {3}, i32},        {"f.f64", ST_F64, 1, {2}, f64},
        {"g.u8", ST_U8, 1, {3}, u8},           {"h.empty", ST_F32, 2, {0, 3}, NULL},
        {"i.scalar", ST_F32, 0, {0}, &scalar},
    };
    int n = (int)(sizeof e / sizeof e[0]);
    assert_int_equal(st_write(p, e, n, "{\"format\":\"pt\"}"), GTA_OK);
    /* written atomically: nothing but the file in the directory */
    DIR *d = opendir(dir);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') files++;
    closedir(d);
    assert_int_equal(files, 1);
    /* the data area starts 8-byte aligned */
    size_t len;
    unsigned char *raw = slurp(p, &len);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
    assert_int_equal((8 + hl) % 8, 0);
    free(raw);

    st_set *s = NULL;
    if (st_open_file(p, &s)) fail_msg("%s", gta_err_msg());
    assert_int_equal(st_count(s), n);
    for (int i = 0; i < n; i++) {
        const st_tensor *t = st_find(s, e[i].name);
        assert_non_null(t);
        assert_int_equal(t->dtype, e[i].dtype);
        assert_int_equal(t->ndim, e[i].ndim);
        int64_t numel = 1;
        for (int k = 0; k < t->ndim; k++) {
            assert_int_equal(t->shape[k], e[i].shape[k]);
            numel *= e[i].shape[k];
        }
        assert_int_equal(t->numel, numel);
        assert_int_equal(t->nbytes, (size_t)numel * st_dtype_size(e[i].dtype));
        if (t->nbytes) assert_memory_equal(t->data, e[i].data, t->nbytes);
        assert_string_equal(st_file_of(s, t), p);
    }
    float out[16];
    assert_int_equal(st_to_f32(s, st_find(s, "a.f32"), out), GTA_OK);
    for (int i = 0; i < 8; i++) assert_int_equal(bits(out[i]), f32[i]);
    assert_int_equal(st_to_f32(s, st_find(s, "b.bf16"), out), GTA_OK);
    for (int i = 0; i < 6; i++) assert_int_equal(bits(out[i]), (uint32_t)bf[i] << 16);
    assert_true(out[0] == 1.0f && out[1] == -2.0f && isinf(out[2]) && out[3] == ldexpf(1, -133));
    assert_int_equal(st_to_f32(s, st_find(s, "c.f16"), out), GTA_OK);
    for (int i = 0; i < 11; i++)
        if (bits(out[i]) != hf_want[i])
            fail_msg("f16 %04x -> %08x, want %08x", hf[i], bits(out[i]), hf_want[i]);
    assert_true(out[0] == 1.0f && out[1] == ldexpf(1, -24) && out[4] == 65504.0f);
    assert_int_equal(st_to_f32(s, st_find(s, "f.f64"), out), GTA_OK);
    assert_true(out[0] == 1.5f && out[1] == -0.25f);
    assert_int_equal(st_to_f32(s, st_find(s, "i.scalar"), out), GTA_OK);
    assert_true(out[0] == 3.25f);
    int64_t iv[4];
    assert_int_equal(st_to_i64(s, st_find(s, "d.i64"), iv), GTA_OK);
    assert_memory_equal(iv, i64, sizeof i64);
    assert_int_equal(st_to_i64(s, st_find(s, "e.i32"), iv), GTA_OK);
    assert_true(iv[0] == -5 && iv[1] == 7 && iv[2] == INT32_MIN);
    /* wrong-kind conversions are input errors naming file and tensor */
    expect_einput(st_to_f32(s, st_find(s, "d.i64"), out), p, "d.i64", "I64", NULL);
    expect_einput(st_to_i64(s, st_find(s, "a.f32"), iv), p, "a.f32", "F32", NULL);
    expect_einput(st_to_i64(s, st_find(s, "g.u8"), iv), p, "g.u8", NULL, NULL);
    st_close(s);

    /* overwriting replaces the file; a missing directory fails and leaves nothing */
    assert_int_equal(st_write(p, e, 1, NULL), GTA_OK);
    assert_int_equal(st_open_file(p, &s), GTA_OK);
    assert_int_equal(st_count(s), 1);
    st_close(s);
    char *bad = gta_path_join(dir, "no/such/t.safetensors");
    assert_int_not_equal(st_write(bad, e, n, NULL), GTA_OK);
    assert_false(gta_file_exists(bad));
    free(bad);
    free(p);
    tu_rm_rf(dir);
    free(dir);
}

/* Every f16 value against ldexp; every bf16 value through f32 and back. */
static void test_half_conversions_exhaustive(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
        float got = st_f16_to_f32((uint16_t)h);
        if (e == 31) {
            if (m == 0)
                assert_true(isinf(got) && (signbit(got) != 0) == sign);
            else
                assert_true(isnan(got));
            continue;
        }
        double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
        float want = (float)(sign ? -v : v);
        if (bits(got) != bits(want)) fail_msg("f16 %04x -> %08x, want %08x", h, bits(got), bits(want));
    }
    for (uint32_t h = 0; h < 65536; h++) {
        float f = st_bf16_to_f32((uint16_t)h);
        assert_int_equal(bits(f), h << 16);
        if (!isnan(f))
            assert_int_equal(st_f32_to_bf16(f), h);
        else
            assert_true(isnan(st_bf16_to_f32(st_f32_to_bf16(f))));
    }
}

/* value of bf16 bits for rounding distances; the all-ones exponent stands for 2^128 */
static double bf16_value(uint32_t h) {
    if ((h & 0x7F80u) == 0x7F80u) return (h & 0x8000u) ? -ldexp(1, 128) : ldexp(1, 128);
    return (double)st_bf16_to_f32((uint16_t)h);
}

static uint16_t bf16_rne_ref(uint32_t u) {
    double x = (double)from_bits(u);
    uint32_t lo = u >> 16, hi = lo + 1; /* toward larger magnitude */
    double dl = fabs(x - bf16_value(lo)), dh = fabs(bf16_value(hi) - x);
    if (dl < dh) return (uint16_t)lo;
    if (dh < dl) return (uint16_t)hi;
    return (uint16_t)((lo & 1) ? hi : lo);
}

/* f32 -> bf16 rounds to nearest, ties to even, as torch does. */
static void test_bf16_round_nearest_even(void **state) {
    (void)state;
    struct {
        uint32_t in;
        uint16_t want;
    } t[] = {
        {0x3F800000, 0x3F80}, /* 1.0 exactly */
        {0x3F808000, 0x3F80}, /* halfway, 0x3F80 even: down */
        {0x3F818000, 0x3F82}, /* halfway, 0x3F81 odd: up */
        {0x3F808001, 0x3F81}, /* just above halfway: up */
        {0x3F807FFF, 0x3F80}, /* just below halfway: down */
        {0xBF818000, 0xBF82}, /* negative tie, odd: away from zero */
        {0xBF808000, 0xBF80}, /* negative tie, even */
        {0x3FFFFFFF, 0x4000}, /* carry into the exponent */
        {0x7F7FFFFF, 0x7F80}, /* largest float rounds to +inf */
        {0xFF7FFFFF, 0xFF80}, /* and its negative to -inf */
        {0x7F7F7FFF, 0x7F7F}, /* below the overflow point: stays finite */
        {0x7F800000, 0x7F80}, /* inf */
        {0xFF800000, 0xFF80}, /* -inf */
        {0x80000000, 0x8000}, /* -0 */
        {0x00000000, 0x0000}, /* 0 */
        {0x00008000, 0x0000}, /* subnormal tie, even: down to 0 */
        {0x00018000, 0x0002}, /* subnormal tie, odd: up */
        {0x3EAAAAAB, 0x3EAB}, /* 1/3 */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint16_t got = st_f32_to_bf16(from_bits(t[i].in));
        if (got != t[i].want) fail_msg("bf16(%08x) = %04x, want %04x", t[i].in, got, t[i].want);
        assert_int_equal(bf16_rne_ref(t[i].in), t[i].want); /* the reference agrees */
    }
    /* NaNs stay NaN (quiet), whatever their payload */
    uint32_t nans[] = {0x7FC00000, 0x7F800001, 0xFFFFFFFF, 0x7F80FFFF, 0x7FFF0000};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        uint16_t h = st_f32_to_bf16(from_bits(nans[i]));
        assert_true(isnan(st_bf16_to_f32(h)));
        assert_int_equal(h & 0x8000, (nans[i] >> 16) & 0x8000);
    }
    /* a million pseudo-random finite floats against the reference */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 1000000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t u = (uint32_t)(x >> 16);
        if ((u & 0x7F800000u) == 0x7F800000u) continue;
        uint16_t got = st_f32_to_bf16(from_bits(u)), want = bf16_rne_ref(u);
        if (got != want) fail_msg("bf16(%08x) = %04x, want %04x", u, got, want);
    }
}

/* ------------------------------------------------------------------ trainer_state.json */

static const char *const GOOD_STATE =
    "{\"step\": 3, \"cursor\": 2, \"adam_step\": 3, \"metrics_bytes\": 100, \"samples_bytes\": 50, "
    "\"eval_bytes\": 7, \"rollout\": true, \"rollout_stats\": {\"reward\": 0.5, \"reward_format\": 0.25, "
    "\"reward_accuracy\": 0.25, \"guess_accuracy\": 0.5, \"frac_zero_std\": 1, \"completion_tokens_mean\": 12.5}}";

/* GOOD_STATE with one field changed (value NULL: removed); the parse must fail naming
 * the field (and the file) with GTA_EINPUT. */
static void state_case(const char *obj, const char *key, const char *value, const char *needle) {
    cJSON *j = cJSON_Parse(GOOD_STATE);
    assert_non_null(j);
    cJSON *o = obj ? cJSON_GetObjectItemCaseSensitive(j, obj) : j;
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    if (value) {
        cJSON *v = cJSON_Parse(value);
        assert_non_null(v);
        cJSON_AddItemToObject(o, key, v);
    }
    gta_train_state s;
    gta_err_clear();
    int rc = gta_train_state_parse("run/checkpoint/trainer_state.json", j, &s);
    cJSON_Delete(j);
    if (rc != GTA_EINPUT || !strstr(gta_err_msg(), "run/checkpoint/trainer_state.json") ||
        !strstr(gta_err_msg(), needle))
        fail_msg("%s.%s = %s: rc %d, message '%s' (wanted '%s')", obj ? obj : "", key, value ? value : "(removed)",
                 rc, gta_err_msg(), needle);
}

static void test_state_fields(void **st) {
    (void)st;
    gta_train_state s, s2;
    cJSON *j = cJSON_Parse(GOOD_STATE);
    assert_int_equal(gta_train_state_parse("x", j, &s), GTA_OK);
    cJSON_Delete(j);
    assert_int_equal(s.step, 3);
    assert_int_equal(s.cursor, 2);
    assert_int_equal(s.eval_bytes, 7);
    assert_int_equal(s.rollout, 1);
    assert_true(s.completion_tokens_mean == 12.5 && s.frac_zero_std == 1.0 && s.reward == 0.5);
    char *text = gta_train_state_to_json(&s);
    j = cJSON_Parse(text);
    assert_int_equal(gta_train_state_parse("x", j, &s2), GTA_OK);
    assert_memory_equal(&s, &s2, sizeof s);
    cJSON_Delete(j);
    free(text);
    /* each count: missing, a string, fractional, negative, beyond 2^50 */
    const char *counts[] = {"step", "cursor", "adam_step", "metrics_bytes", "samples_bytes"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "missing field '%s'", counts[i]);
        state_case(NULL, counts[i], NULL, want);
        snprintf(want, sizeof want, "field '%s': expected an integer", counts[i]);
        state_case(NULL, counts[i], "\"3\"", want);
        state_case(NULL, counts[i], "2.5", want);
        snprintf(want, sizeof want, "field '%s' = -1", counts[i]);
        state_case(NULL, counts[i], "-1", want);
        snprintf(want, sizeof want, "field '%s' = 1125899906842625: expected an integer in [0, 2^50]", counts[i]);
        state_case(NULL, counts[i], "1125899906842625", want);
    }
    state_case(NULL, "eval_bytes", "-3", "field 'eval_bytes' = -3");
    state_case(NULL, "eval_bytes", "null", "field 'eval_bytes': expected an integer");
    state_case(NULL, "adam_step", "4", "field 'adam_step' = 4 exceeds 'step' = 3");
    state_case(NULL, "rollout", NULL, "missing field 'rollout'");
    state_case(NULL, "rollout", "1", "field 'rollout': expected true or false");
    state_case(NULL, "rollout_stats", NULL, "missing field 'rollout_stats' (rollout is true)");
    state_case(NULL, "rollout_stats", "[]", "field 'rollout_stats': expected an object");
    const char *stats[] = {"reward", "reward_format", "reward_accuracy", "guess_accuracy", "frac_zero_std",
                           "completion_tokens_mean"};
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++) {
        char want[96];
        snprintf(want, sizeof want, "missing field 'rollout_stats.%s'", stats[i]);
        state_case("rollout_stats", stats[i], NULL, want);
        snprintf(want, sizeof want, "field 'rollout_stats.%s': expected a number", stats[i]);
        state_case("rollout_stats", stats[i], "\"0.5\"", want);
        snprintf(want, sizeof want, "field 'rollout_stats.%s' = 1e+301", stats[i]);
        state_case("rollout_stats", stats[i], "1e301", want);
    }
    state_case("rollout_stats", "guess_accuracy", "1.5", "field 'rollout_stats.guess_accuracy' = 1.5");
    state_case("rollout_stats", "frac_zero_std", "-0.5", "field 'rollout_stats.frac_zero_std' = -0.5");
    state_case("rollout_stats", "completion_tokens_mean", "-1", "field 'rollout_stats.completion_tokens_mean' = -1");
    /* without a rollout, its statistics are not needed */
    j = cJSON_Parse(GOOD_STATE);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "rollout", cJSON_CreateFalse());
    cJSON_DeleteItemFromObjectCaseSensitive(j, "rollout_stats");
    assert_int_equal(gta_train_state_parse("x", j, &s), GTA_OK);
    assert_int_equal(s.rollout, 0);
    cJSON_Delete(j);
    /* an update skipped as non-finite (--skip-nonfinite) took no AdamW step */
    j = cJSON_Parse(GOOD_STATE);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "adam_step", cJSON_CreateNumber(2));
    assert_int_equal(gta_train_state_parse("x", j, &s), GTA_OK);
    assert_int_equal(s.adam_step, 2);
    cJSON_Delete(j);
    gta_err_clear();
    assert_int_equal(gta_train_state_load("/nonexistent/trainer_state.json", &s), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "/nonexistent/trainer_state.json"));
}

int main(void) {
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_config_line_col),
        cmocka_unit_test(test_header_json_position),
        cmocka_unit_test(test_fixtures_load),
        cmocka_unit_test(test_tied_untied_variants),
        cmocka_unit_test(test_save_reload),
        cmocka_unit_test(test_write_roundtrip),
        cmocka_unit_test(test_half_conversions_exhaustive),
        cmocka_unit_test(test_bf16_round_nearest_even),
        cmocka_unit_test(test_state_fields),
    };
    size_t nf = sizeof fixed / sizeof fixed[0];
    struct CMUnitTest *tests = calloc(nf + (size_t)N_CASES, sizeof *tests);
    for (int i = 0; i < N_CASES; i++) {
        tests[i].name = cases[i].name;
        tests[i].test_func = run_bad;
        tests[i].initial_state = (void *)&cases[i];
    }
    memcpy(tests + N_CASES, fixed, sizeof fixed);
    int rc = _cmocka_run_group_tests("checkpoint_errors", tests, nf + (size_t)N_CASES, NULL, NULL);
    free(tests);
    return rc;
}
