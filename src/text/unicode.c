/* Buffers, hash maps, UTF-8 and Unicode helpers, and the PCRE2 wrapper of src/text. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"
#include "text/tok_internal.h"

/* ---- buffers ---- */

void tok_buf_reserve(tok_buf *b, size_t extra) {
    if (b->n + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra + 1) cap *= 2;
    b->p = gta_realloc(b->p, cap);
    b->cap = cap;
}

void tok_buf_put(tok_buf *b, const void *s, size_t n) {
    tok_buf_reserve(b, n);
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void tok_buf_putc(tok_buf *b, char c) { tok_buf_put(b, &c, 1); }
void tok_buf_puts(tok_buf *b, const char *s) { tok_buf_put(b, s, strlen(s)); }

void tok_buf_put_json_str(tok_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    tok_buf_reserve(b, n + 2);
    tok_buf_putc(b, '"');
    size_t run = 0; /* copy runs of plain bytes at once */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        tok_buf_put(b, s + run, i - run);
        run = i + 1;
        char e[7] = {'\\', 0, 0, 0, 0, 0, 0};
        switch (c) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        default:
            e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
            tok_buf_put(b, e, 6);
            continue;
        }
        tok_buf_put(b, e, 2);
    }
    tok_buf_put(b, s + run, n - run);
    tok_buf_putc(b, '"');
}

void tok_buf_free(tok_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

void tok_ids_push(gta_ids *v, int32_t id) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->ids = gta_realloc(v->ids, v->cap * sizeof *v->ids);
    }
    v->ids[v->n++] = id;
}

void tok_ids_append(gta_ids *v, const int32_t *ids, size_t n) {
    if (!n) return; /* ids may be NULL then */
    if (v->n + n > v->cap) {
        size_t cap = v->cap ? v->cap : 64;
        while (cap < v->n + n) cap *= 2;
        v->ids = gta_realloc(v->ids, cap * sizeof *v->ids);
        v->cap = cap;
    }
    if (n) memcpy(v->ids + v->n, ids, n * sizeof *ids);
    v->n += n;
}

void gta_ids_free(gta_ids *v) {
    free(v->ids);
    memset(v, 0, sizeof *v);
}

/* ---- hash map ---- */

uint64_t tok_hash(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull), v;
    while (n >= 8) {
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8, n -= 8;
    }
    v = 0;
    if (n) memcpy(&v, s, n);
    h = (h ^ v) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h | 1;
}

static void smap_grow(tok_smap *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    tok_smap_ent *slot = gta_calloc(cap, sizeof *slot);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slot[i].h) continue;
        size_t j = m->slot[i].h & (cap - 1);
        while (slot[j].h) j = (j + 1) & (cap - 1);
        slot[j] = m->slot[i];
    }
    free(m->slot);
    m->slot = slot;
    m->cap = cap;
}

int32_t tok_smap_get(const tok_smap *m, const void *key, size_t n) {
    if (!m->cap) return -1;
    uint64_t h = tok_hash(key, n);
    for (size_t j = h & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        const tok_smap_ent *e = &m->slot[j];
        if (!e->h) return -1;
        if (e->h == h && e->len == n && !memcmp(m->keys.p + e->off, key, n)) return e->val;
    }
}

uint32_t tok_smap_put(tok_smap *m, const void *key, size_t n, int32_t val) {
    if ((m->n + 1) * 4 > m->cap * 3) smap_grow(m);
    uint64_t h = tok_hash(key, n);
    size_t j = h & (m->cap - 1);
    for (;; j = (j + 1) & (m->cap - 1)) {
        tok_smap_ent *e = &m->slot[j];
        if (!e->h) break;
        if (e->h == h && e->len == n && !memcmp(m->keys.p + e->off, key, n)) {
            e->val = val;
            return e->off;
        }
    }
    tok_smap_ent *e = &m->slot[j];
    e->h = h;
    e->off = (uint32_t)m->keys.n;
    e->len = (uint32_t)n;
    e->val = val;
    tok_buf_put(&m->keys, key, n);
    tok_buf_putc(&m->keys, 0);
    m->n++;
    return e->off;
}

void tok_smap_free(tok_smap *m) {
    tok_buf_free(&m->keys);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

/* ---- UTF-8 ---- */

/* Length of the well-formed sequence starting at s[i] (Unicode table 3-7), or 0 with *bad
 * set to the length of its maximal invalid prefix (at least 1). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t i, size_t *bad) {
    unsigned char c = s[i];
    if (c < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c == 0xE0)
        need = 2, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC)
        need = 2;
    else if (c == 0xED)
        need = 2, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF)
        need = 2;
    else if (c == 0xF0)
        need = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        need = 3;
    else if (c == 0xF4)
        need = 3, hi = 0x8F;
    else {
        *bad = 1;
        return 0;
    }
    for (size_t k = 1; k <= need; k++) {
        if (i + k >= n || s[i + k] < lo || s[i + k] > hi) {
            *bad = k;
            return 0;
        }
        lo = 0x80, hi = 0xBF;
    }
    return need + 1;
}

size_t tok_utf8_valid_prefix(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        /* ASCII runs dominate ordinary text: check 8 bytes at once */
        while (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            if (v & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t bad, k = utf8_seq(s, n, i, &bad);
        if (!k) return i;
        i += k;
    }
    return n;
}

int tok_utf8_decode(const char *str, int32_t *cp) {
    const unsigned char *s = (const unsigned char *)str;
    if (s[0] < 0x80) return *cp = s[0], 1;
    if (s[0] < 0xE0) return *cp = ((s[0] & 0x1F) << 6) | (s[1] & 0x3F), 2;
    if (s[0] < 0xF0) return *cp = ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F), 3;
    *cp = ((s[0] & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
}

int tok_utf8_encode(int32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) return o[0] = (unsigned char)cp, 1;
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6)), o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12)), o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18)), o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)), o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

void tok_utf8_lossy(tok_buf *out, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    tok_buf_reserve(out, n);
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t bad, k = utf8_seq(s, n, i, &bad);
        if (k) {
            i += k;
            continue;
        }
        tok_buf_put(out, s + run, i - run);
        tok_buf_put(out, "\xEF\xBF\xBD", 3);
        i += bad;
        run = i;
    }
    tok_buf_put(out, s + run, n - run);
}

/* ---- GPT-2 byte-level alphabet ---- */

int32_t tok_byte_to_cp(uint8_t b) {
    /* printable Latin-1 bytes stand for themselves; the others are moved to 256.. in order */
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174)) return b;
    int k = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174))) k++;
    return 256 + k;
}

static int16_t g_cp_byte[324];
static void init_cp_byte(void) {
    for (int i = 0; i < 324; i++) g_cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) g_cp_byte[tok_byte_to_cp((uint8_t)b)] = (int16_t)b;
}

int tok_cp_to_byte(int32_t cp) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_cp_byte);
    if (cp < 0 || cp >= 324) return -1;
    return g_cp_byte[cp];
}

/* ---- NFC quick check ----
 * A code point is "stable" when NFC leaves any text made of stable code points alone:
 * combining class 0, not changed by NFC on its own (singletons, composition exclusions),
 * and never the second half of a canonical composition (the NFC_QC=Maybe characters).
 * The table is derived once from utf8proc's own data, so it follows its Unicode version. */
static uint8_t g_nfc_unstable[0x110000 / 8];

static void nfc_mark(int32_t cp) { g_nfc_unstable[cp >> 3] |= (uint8_t)(1u << (cp & 7)); }

static void init_nfc_table(void) {
    for (int32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        const utf8proc_property_t *p = utf8proc_get_property(cp);
        if (p->combining_class != 0) nfc_mark(cp);
        if (cp >= 0xAC00 && cp <= 0xD7A3) continue; /* Hangul syllables: algorithmic, first halves */
        if (p->decomp_seqindex == UINT16_MAX || p->decomp_type != 0)
            continue; /* no canonical decomposition */
        utf8proc_int32_t dec[32];
        int last_bc = 0;
        utf8proc_ssize_t nd = utf8proc_decompose_char(cp, dec, 32, UTF8PROC_DECOMPOSE, &last_bc);
        char in[4];
        int inlen = tok_utf8_encode(cp, in);
        utf8proc_uint8_t *out = NULL;
        utf8proc_ssize_t on =
            utf8proc_map((const utf8proc_uint8_t *)in, inlen, &out, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        int same = on == inlen && !memcmp(out, in, (size_t)inlen);
        free(out);
        if (!same)
            nfc_mark(cp);
        else if (nd >= 2 && nd <= 32)
            nfc_mark(dec[nd - 1]); /* primary composite: its last part may compose */
    }
    for (int32_t cp = 0x1161; cp <= 0x1175; cp++) nfc_mark(cp); /* Hangul V jamo */
    for (int32_t cp = 0x11A8; cp <= 0x11C2; cp++) nfc_mark(cp); /* Hangul T jamo */
}

int tok_nfc_quick_yes(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    /* Everything below U+0300 is stable: only look closer at lead bytes >= 0xCC. */
    while (i < n && s[i] < 0xCC) i++;
    if (i == n) return 1;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_nfc_table);
    for (; i < n;) {
        if (s[i] < 0xCC) {
            i++;
            continue;
        }
        int32_t cp;
        i += (size_t)tok_utf8_decode((const char *)s + i, &cp);
        if (cp >= 0x110000 || (g_nfc_unstable[cp >> 3] & (1u << (cp & 7))))
            return 0; /* not valid: say maybe */
    }
    return 1;
}

/* ---- character classes ---- */

int tok_py_isspace(int32_t cp) {
    if (cp < 0x80) return (cp >= 9 && cp <= 13) || (cp >= 0x1C && cp <= 0x20);
    const utf8proc_property_t *p = utf8proc_get_property(cp);
    return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

int tok_uni_whitespace(int32_t cp) {
    return (cp >= 9 && cp <= 13) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

int tok_uni_word(int32_t cp) {
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    if (cp == 0x200C || cp == 0x200D) return 1; /* Join_Control */
    if (cp >= 0x24B6 && cp <= 0x24E9) return 1; /* circled letters are Alphabetic */
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
        return 1;
    default:
        return 0;
    }
}

/* ---- regex ---- */

const char *const TOK_RE_GPT2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char *const TOK_RE_QWEN2 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* Oniguruma's \s (what HF tokenizers uses) is Unicode White_Space, which includes U+0085;
 * PCRE2's \s with UCP does not, so widen it. */
static char *widen_space_class(const char *p, size_t n, size_t *outlen) {
    tok_buf b = {0};
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[i + 1];
            if (d == 's')
                tok_buf_puts(&b, in_class ? "\\s\\x{85}" : "[\\s\\x{85}]");
            else if (d == 'S' && !in_class)
                tok_buf_puts(&b, "[^\\s\\x{85}]");
            else
                tok_buf_put(&b, p + i, 2);
            i++;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            tok_buf_putc(&b, c);
            if (i + 1 < n && p[i + 1] == '^') tok_buf_putc(&b, p[++i]);
            if (i + 1 < n && p[i + 1] == ']') tok_buf_putc(&b, p[++i]); /* literal ] first */
            continue;
        }
        if (in_class && c == '[' && i + 1 < n && p[i + 1] == ':') { /* [:alpha:] */
            const char *e = strstr(p + i, ":]");
            size_t k = e && (size_t)(e - p) < n ? (size_t)(e - p) + 2 : i + 1;
            tok_buf_put(&b, p + i, k - i);
            i = k - 1;
            continue;
        }
        if (in_class && c == ']') in_class = 0;
        tok_buf_putc(&b, c);
    }
    if (!b.p) tok_buf_put(&b, "", 0);
    *outlen = b.n;
    return b.p;
}

int tok_regex_compile(tok_regex *re, const char *pattern, size_t len, const char *what) {
    memset(re, 0, sizeof *re);
    size_t wlen;
    char *w = widen_space_class(pattern, len, &wlen);
    int err;
    PCRE2_SIZE off;
    re->code = pcre2_compile((PCRE2_SPTR)w, wlen, PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    free(w);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return gta_err_set(GTA_EINPUT, "%s: regex '%.*s' does not compile: %s", what, (int)len, pattern,
                           (const char *)msg);
    }
    re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
    return GTA_OK;
}

int tok_regex_next(tok_regex *re, const char *s, size_t n, size_t start, size_t *ms, size_t *me) {
    if (start > n) return 0;
    int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, start, 0, re->md, NULL)
                     : pcre2_match(re->code, (PCRE2_SPTR)s, n, start, PCRE2_NO_UTF_CHECK, re->md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) return -1; /* resource limit: never treat as "no match" */
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    *ms = ov[0];
    *me = ov[1];
    return 1;
}

void tok_regex_free(tok_regex *re) {
    if (re->md) pcre2_match_data_free(re->md);
    if (re->code) pcre2_code_free(re->code);
    memset(re, 0, sizeof *re);
}
