#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/util.h"
#include "io/json.h"

typedef struct {
    char *path;
    void *map;
    size_t size;
} st_file;

typedef struct {
    const char *name;
    int i;
} st_name_ent;

struct st_set {
    st_file *files;
    int nfiles;
    st_tensor *t;
    int n;
    st_name_ent *by_name; /* [n] sorted by name: duplicate checks and st_find in O(log n) */
};

static const char *dtype_names[ST_NDTYPES] = {"F64", "F32", "F16", "BF16", "I64",
                                              "I32", "I16", "I8",  "U8",   "BOOL"};
static const size_t dtype_sizes[ST_NDTYPES] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};

size_t st_dtype_size(st_dtype d) { return dtype_sizes[d]; }
const char *st_dtype_name(st_dtype d) { return dtype_names[d]; }

void st_drop_pages(const st_tensor *t) {
    long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0 || !t->nbytes) return;
    uintptr_t a = (uintptr_t)t->data, lo = a & ~((uintptr_t)ps - 1), hi = a + t->nbytes;
    madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

int st_count(const st_set *s) { return s->n; }
const st_tensor *st_at(const st_set *s, int i) { return &s->t[i]; }
const char *st_file_of(const st_set *s, const st_tensor *t) { return s->files[t->file].path; }

static int cmp_name(const void *a, const void *b) {
    const st_name_ent *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Sorts the names of tensors [first, s->n) into ent; returns the index (into s->t) of a
 * name that appears twice, or -1. */
static int sort_names(const st_set *s, int first, st_name_ent *ent) {
    int cnt = s->n - first;
    for (int i = 0; i < cnt; i++) ent[i] = (st_name_ent){s->t[first + i].name, first + i};
    if (cnt > 1) qsort(ent, (size_t)cnt, sizeof *ent, cmp_name);
    for (int i = 1; i < cnt; i++)
        if (!strcmp(ent[i - 1].name, ent[i].name)) return ent[i].i;
    return -1;
}

/* Builds s->by_name; returns the index of a duplicated name, or -1. */
static int build_index(st_set *s) {
    free(s->by_name);
    s->by_name = gta_malloc(sizeof *s->by_name * (size_t)(s->n ? s->n : 1));
    return sort_names(s, 0, s->by_name);
}

const st_tensor *st_find(const st_set *s, const char *name) {
    int lo = 0, hi = s->by_name ? s->n : 0;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(s->by_name[mid].name, name);
        if (!c) return &s->t[s->by_name[mid].i];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void st_close(st_set *s) {
    if (!s) return;
    for (int i = 0; i < s->nfiles; i++) {
        if (s->files[i].map && s->files[i].size) munmap(s->files[i].map, s->files[i].size);
        free(s->files[i].path);
    }
    for (int i = 0; i < s->n; i++) free(s->t[i].name);
    free(s->files);
    free(s->t);
    free(s->by_name);
    free(s);
}

static int cmp_offset(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    const char *px = x->data, *py = y->data;
    if (px != py) return px < py ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Parses and validates one mapped file, appending its tensors to s. */
static int parse_file(st_set *s, int fi) {
    st_file *f = &s->files[fi];
    const unsigned char *p = f->map;
    if (f->size < 8) return gta_err_set(GTA_EINPUT, "%s: not a safetensors file (%zu bytes, truncated?)", f->path, f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    if (hlen > f->size - 8)
        return gta_err_set(GTA_EINPUT, "%s: header length %llu exceeds the file (%zu bytes; truncated?)", f->path,
                           (unsigned long long)hlen, f->size);
    if (hlen < 2 || p[8] != '{')
        return gta_err_set(GTA_EINPUT, "%s: header is not a JSON object", f->path);
    cJSON *h = NULL;
    int rc = gta_json_parse(f->path, (const char *)p + 8, hlen, &h);
    if (rc) return gta_err_prefix(rc, "safetensors header");
    if (!cJSON_IsObject(h)) {
        cJSON_Delete(h);
        return gta_err_set(GTA_EINPUT, "%s: header is not a JSON object", f->path);
    }
    const unsigned char *base = p + 8 + hlen;
    size_t data_size = f->size - 8 - hlen;
    int first = s->n;
    const cJSON *it;
    cJSON_ArrayForEach(it, h) {
        if (!strcmp(it->string, "__metadata__")) continue;
        const char *name = it->string;
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsObject(it) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) ||
            cJSON_GetArraySize(off) != 2) {
            rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s': expected {dtype, shape, data_offsets}", f->path, name);
            goto out;
        }
        int d = -1;
        for (int k = 0; k < ST_NDTYPES; k++)
            if (!strcmp(dt->valuestring, dtype_names[k])) d = k;
        if (d < 0) {
            rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s': unknown dtype '%s'", f->path, name, dt->valuestring);
            goto out;
        }
        int nd = cJSON_GetArraySize(sh);
        if (nd > ST_MAX_DIMS) {
            rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s': %d dimensions (at most %d)", f->path, name, nd, ST_MAX_DIMS);
            goto out;
        }
        st_tensor t = {0};
        t.dtype = (st_dtype)d;
        t.ndim = nd;
        t.numel = 1;
        t.file = fi;
        for (int k = 0; k < nd; k++) {
            const cJSON *v = cJSON_GetArrayItem(sh, k);
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e15 ||
                v->valuedouble != (double)(int64_t)v->valuedouble) {
                rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s': bad shape", f->path, name);
                goto out;
            }
            t.shape[k] = (int64_t)v->valuedouble;
            if (t.shape[k] && t.numel > INT64_MAX / 16 / t.shape[k]) {
                rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s': shape too large", f->path, name);
                goto out;
            }
            t.numel *= t.shape[k];
        }
        double b = cJSON_GetArrayItem(off, 0)->valuedouble, e = cJSON_GetArrayItem(off, 1)->valuedouble;
        if (!cJSON_IsNumber(cJSON_GetArrayItem(off, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(off, 1)) || b < 0 ||
            e < b || e > 1e18 || b != (double)(uint64_t)b || e != (double)(uint64_t)e) {
            rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s': bad data_offsets", f->path, name);
            goto out;
        }
        if ((uint64_t)e > data_size) {
            rc = gta_err_set(GTA_EINPUT,
                             "%s: tensor '%s': data_offsets [%.0f, %.0f] outside the data (%zu bytes; truncated?)",
                             f->path, name, b, e, data_size);
            goto out;
        }
        t.nbytes = (size_t)(e - b);
        if ((uint64_t)t.numel * dtype_sizes[d] != t.nbytes) {
            rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s': shape x %s needs %llu bytes but data_offsets span %zu",
                             f->path, name, dtype_names[d], (unsigned long long)t.numel * dtype_sizes[d], t.nbytes);
            goto out;
        }
        if (s->n - first >= ST_MAX_TENSORS) {
            rc = gta_err_set(GTA_EINPUT, "%s: more than %d tensors in the header (gta's limit)", f->path,
                             ST_MAX_TENSORS);
            goto out;
        }
        t.data = base + (size_t)b;
        t.name = gta_strdup(name);
        s->t = gta_realloc(s->t, sizeof(st_tensor) * (size_t)(s->n + 1));
        s->t[s->n++] = t;
    }
    /* names are unique within the file (cJSON keeps both copies of a repeated key) */
    int cnt = s->n - first;
    st_name_ent *ent = gta_malloc(sizeof *ent * (size_t)(cnt ? cnt : 1));
    int dup = sort_names(s, first, ent);
    free(ent);
    if (dup >= 0) {
        rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s' appears twice in the header", f->path, s->t[dup].name);
        goto out;
    }
    /* the spans must tile [0, data_size): sort a copy by offset and walk it */
    st_tensor *sorted = gta_malloc(sizeof(st_tensor) * (size_t)(cnt ? cnt : 1));
    if (cnt) memcpy(sorted, s->t + first, sizeof(st_tensor) * (size_t)cnt);
    if (cnt > 1) qsort(sorted, (size_t)cnt, sizeof(st_tensor), cmp_offset);
    size_t pos = 0;
    for (int i = 0; i < cnt && !rc; i++) {
        size_t b = (size_t)((const unsigned char *)sorted[i].data - base);
        if (b < pos)
            rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s' overlaps the previous tensor's bytes (offset %zu < %zu)",
                             f->path, sorted[i].name, b, pos);
        else if (b > pos)
            rc = gta_err_set(GTA_EINPUT, "%s: %zu unused bytes before tensor '%s' (offset %zu)", f->path, b - pos,
                             sorted[i].name, b);
        pos = b + sorted[i].nbytes;
    }
    if (!rc && pos != data_size)
        rc = gta_err_set(GTA_EINPUT, "%s: %zu bytes after the last tensor (data area %zu bytes)", f->path,
                         data_size - pos, data_size);
    free(sorted);
out:
    cJSON_Delete(h);
    return rc;
}

static int map_file(st_set *s, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return gta_err_set(GTA_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return gta_err_set(GTA_EINPUT, "%s: not a regular file", path);
    }
    void *m = NULL;
    if (st.st_size > 0) {
        m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return gta_err_set(GTA_EFAIL, "%s: mmap failed: %s", path, strerror(errno));
        }
    }
    close(fd);
    s->files = gta_realloc(s->files, sizeof(st_file) * (size_t)(s->nfiles + 1));
    s->files[s->nfiles] = (st_file){gta_strdup(path), m, (size_t)st.st_size};
    s->nfiles++;
    return parse_file(s, s->nfiles - 1);
}

int st_open_file(const char *path, st_set **out) {
    st_set *s = gta_calloc(1, sizeof *s);
    int rc = map_file(s, path);
    if (!rc) build_index(s); /* names are unique: parse_file checked */
    if (rc) {
        st_close(s);
        return rc;
    }
    *out = s;
    return GTA_OK;
}

typedef struct {
    const char *name;
    const cJSON *v;
    int pos;
} wm_ent;
static int cmp_wm(const void *a, const void *b) {
    const wm_ent *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

int st_open_dir(const char *dir, st_set **out) {
    char *single = gta_path_join(dir, "model.safetensors");
    char *index = gta_path_join(dir, "model.safetensors.index.json");
    int rc;
    if (gta_file_exists(single) || !gta_file_exists(index)) {
        rc = gta_file_exists(single)
                 ? st_open_file(single, out)
                 : gta_err_set(GTA_EINPUT, "%s: no model.safetensors or model.safetensors.index.json", dir);
        free(single);
        free(index);
        return rc;
    }
    cJSON *ij = NULL;
    st_set *s = gta_calloc(1, sizeof *s);
    rc = gta_json_load(index, &ij);
    if (rc) goto done;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(ij, "weight_map");
    if (!cJSON_IsObject(wm)) {
        rc = gta_err_set(GTA_EINPUT, "%s: missing object 'weight_map'", index);
        goto done;
    }
    const cJSON *it;
    /* open each shard once, in order of first mention */
    cJSON_ArrayForEach(it, wm) {
        if (!cJSON_IsString(it) || strchr(it->valuestring, '/')) {
            rc = gta_err_set(GTA_EINPUT, "%s: weight_map['%s']: expected a file name", index, it->string);
            goto done;
        }
        char *sp = gta_path_join(dir, it->valuestring);
        int seen = 0;
        for (int i = 0; i < s->nfiles; i++) seen |= !strcmp(s->files[i].path, sp);
        if (!seen) rc = map_file(s, sp);
        free(sp);
        if (rc) goto done;
    }
    /* every tensor once, and where the index says; in tensor order, a name already seen
     * is the error (the sorted names tell which ones those are) */
    build_index(s);
    char *again = gta_calloc((size_t)(s->n ? s->n : 1), 1);
    for (int i = 1; i < s->n; i++)
        if (!strcmp(s->by_name[i - 1].name, s->by_name[i].name)) again[s->by_name[i].i] = 1;
    /* weight_map sorted by tensor name (a lookup per tensor in cJSON's list would be
     * quadratic in the tensor count); the first of repeated keys counts, as in cJSON */
    int nw = cJSON_GetArraySize(wm), k = 0;
    wm_ent *wsort = gta_malloc(sizeof *wsort * (size_t)(nw ? nw : 1));
    cJSON_ArrayForEach(it, wm) wsort[k] = (wm_ent){it->string, it, k}, k++;
    if (nw > 1) qsort(wsort, (size_t)nw, sizeof *wsort, cmp_wm);
    for (int i = 0; i < s->n; i++) {
        if (again[i]) {
            rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s' appears in two shards", s->files[s->t[i].file].path,
                             s->t[i].name);
            break;
        }
        const wm_ent *hit = NULL;
        for (int lo = 0, hi = nw; lo < hi;) { /* the first entry with this name */
            int mid = lo + (hi - lo) / 2, c = strcmp(wsort[mid].name, s->t[i].name);
            if (c < 0) {
                lo = mid + 1;
            } else {
                if (!c) hit = &wsort[mid];
                hi = mid;
            }
        }
        const cJSON *w = hit ? hit->v : NULL;
        const char *fname = strrchr(s->files[s->t[i].file].path, '/');
        fname = fname ? fname + 1 : s->files[s->t[i].file].path;
        if (!w || strcmp(w->valuestring, fname) != 0) {
            rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s' is in %s, which the index does not say", index,
                             s->t[i].name, fname);
            break;
        }
    }
    free(wsort);
    free(again);
    if (rc) goto done;
    cJSON_ArrayForEach(it, wm) {
        if (!st_find(s, it->string)) {
            rc = gta_err_set(GTA_EINPUT, "%s: tensor '%s' is not in %s", index, it->string, it->valuestring);
            goto done;
        }
    }
done:
    cJSON_Delete(ij);
    free(single);
    free(index);
    if (rc) {
        st_close(s);
        return rc;
    }
    *out = s;
    return GTA_OK;
}

float st_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t st_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* NaN stays NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ffu, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalize */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            u = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ffu) << 13;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | man << 13;
    } else {
        u = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t st_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN stays NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to or above 65520: inf */
    if (a < 0x38800000u) { /* below 2^-14: a subnormal half (or zero), rounded to nearest even */
        if (a < 0x33000000u) return sign; /* at most 2^-25: rounds to zero */
        uint32_t e = a >> 23, man = (a & 0x7fffffu) | 0x800000u;
        int shift = (int)(126 - e); /* value = man * 2^(e-150); half subnormal unit 2^-24 */
        uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    /* normal: rebias the exponent, round the mantissa to 10 bits (nearest even); a carry
     * into the exponent is the correct result */
    uint32_t r = a - ((uint32_t)(127 - 15) << 23);
    r += 0xfffu + ((r >> 13) & 1);
    return (uint16_t)(sign | (r >> 13));
}

void st_f32_to_dtype(const float *src, size_t n, st_dtype d, void *dst) {
    unsigned char *o = dst;
    for (size_t i = 0; i < n; i++) {
        if (d == ST_F32) {
            memcpy(o + 4 * i, &src[i], 4);
        } else {
            uint16_t h = d == ST_BF16 ? st_f32_to_bf16(src[i]) : st_f32_to_f16(src[i]);
            memcpy(o + 2 * i, &h, 2);
        }
    }
}

int st_dtype_from_name(const char *name, st_dtype *out) {
    static const struct {
        const char *name;
        st_dtype d;
    } names[] = {{"f32", ST_F32},       {"fp32", ST_F32}, {"float32", ST_F32}, {"bf16", ST_BF16},
                 {"bfloat16", ST_BF16}, {"f16", ST_F16},  {"fp16", ST_F16},    {"float16", ST_F16}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name)) {
            *out = names[i].d;
            return GTA_OK;
        }
    return gta_err_set(GTA_EINPUT, "dtype '%s': expected f32, bf16 or f16", name);
}

st_dtype st_float_dtype(const st_set *s) {
    int n = st_count(s), seen = -1;
    for (int i = 0; i < n; i++) {
        st_dtype d = st_at(s, i)->dtype;
        if (d != ST_F32 && d != ST_BF16 && d != ST_F16 && d != ST_F64) continue;
        if (seen < 0)
            seen = (int)d;
        else if (seen != (int)d)
            return ST_F32;
    }
    return seen == ST_BF16 || seen == ST_F16 ? (st_dtype)seen : ST_F32;
}

int st_to_f32(const st_set *s, const st_tensor *t, float *dst) {
    const unsigned char *p = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case ST_F32:
        memcpy(dst, p, n * 4);
        return GTA_OK;
    case ST_F64:
        for (size_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, p + 8 * i, 8);
            dst[i] = (float)v;
        }
        return GTA_OK;
    case ST_BF16:
    case ST_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = t->dtype == ST_BF16 ? st_bf16_to_f32(h) : st_f16_to_f32(h);
        }
        return GTA_OK;
    default:
        return gta_err_set(GTA_EINPUT, "%s: tensor '%s': dtype %s where a float tensor is expected",
                           st_file_of(s, t), t->name, dtype_names[t->dtype]);
    }
}

int st_to_i64(const st_set *s, const st_tensor *t, int64_t *dst) {
    const unsigned char *p = t->data;
    size_t n = (size_t)t->numel;
    if (t->dtype == ST_I64) {
        memcpy(dst, p, n * 8);
    } else if (t->dtype == ST_I32) {
        for (size_t i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, p + 4 * i, 4);
            dst[i] = v;
        }
    } else {
        return gta_err_set(GTA_EINPUT, "%s: tensor '%s': dtype %s where an integer tensor is expected",
                           st_file_of(s, t), t->name, dtype_names[t->dtype]);
    }
    return GTA_OK;
}

int st_write(const char *path, const st_entry *e, int n, const char *metadata_json) {
    cJSON *h = cJSON_CreateObject();
    if (metadata_json) {
        cJSON *m = cJSON_Parse(metadata_json);
        if (m) cJSON_AddItemToObject(h, "__metadata__", m);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "dtype", dtype_names[e[i].dtype]);
        cJSON *sh = cJSON_AddArrayToObject(t, "shape");
        size_t numel = 1;
        for (int k = 0; k < e[i].ndim; k++) {
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)e[i].shape[k]));
            numel *= (size_t)e[i].shape[k];
        }
        size_t nb = numel * dtype_sizes[e[i].dtype];
        cJSON *o = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + nb)));
        off += nb;
        cJSON_AddItemToObject(h, e[i].name, t);
    }
    char *htext = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    size_t hlen = strlen(htext), pad = (8 - hlen % 8) % 8; /* align the data to 8 bytes */
    /* the header, then each tensor's bytes straight from its buffer: no copy of the file in
     * memory (an optimizer state is twice the model) */
    unsigned char *head = gta_malloc(8 + hlen + pad);
    uint64_t hl = hlen + pad;
    for (int i = 0; i < 8; i++) head[i] = (unsigned char)(hl >> (8 * i));
    memcpy(head + 8, htext, hlen);
    memset(head + 8 + hlen, ' ', pad);
    free(htext);
    const void **parts = gta_malloc(sizeof(void *) * (size_t)(n + 1));
    size_t *lens = gta_malloc(sizeof(size_t) * (size_t)(n + 1));
    parts[0] = head;
    lens[0] = 8 + hlen + pad;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int k = 0; k < e[i].ndim; k++) numel *= (size_t)e[i].shape[k];
        parts[i + 1] = e[i].data;
        lens[i + 1] = numel * dtype_sizes[e[i].dtype];
    }
    int rc = gta_write_parts_atomic(path, n + 1, (const void *const *)parts, lens);
    free(parts);
    free(lens);
    free(head);
    return rc;
}
