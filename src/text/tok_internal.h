/* Internals shared by the files of src/text (not for use outside this folder). */
#ifndef GTA_TEXT_TOK_INTERNAL_H
#define GTA_TEXT_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

/* ---- growable byte buffer ---- */
typedef struct {
    char *p;
    size_t n, cap;
} tok_buf;
void tok_buf_reserve(tok_buf *b, size_t extra);
void tok_buf_put(tok_buf *b, const void *s, size_t n);
void tok_buf_putc(tok_buf *b, char c);
void tok_buf_puts(tok_buf *b, const char *s);
/* Appends s as a JSON string literal (quotes included), escaping as JSON requires. */
void tok_buf_put_json_str(tok_buf *b, const char *s, size_t n);
void tok_buf_free(tok_buf *b);

void tok_ids_push(gta_ids *v, int32_t id);
void tok_ids_append(gta_ids *v, const int32_t *ids, size_t n);

/* ---- byte string -> int32 map (open addressing; owns a copy of its keys) ---- */
typedef struct {
    uint64_t h; /* 0 = empty slot */
    uint32_t off, len;
    int32_t val;
} tok_smap_ent;
typedef struct {
    tok_buf keys;
    tok_smap_ent *slot;
    size_t cap, n;
} tok_smap;
uint64_t tok_hash(const void *p, size_t n);
int32_t tok_smap_get(const tok_smap *m, const void *key, size_t n); /* -1 when absent */
/* Inserts or overwrites; returns the offset of the stored key inside m->keys (stored keys
 * are NUL-terminated, so m->keys.p + off is a C string when the key has no NUL). */
uint32_t tok_smap_put(tok_smap *m, const void *key, size_t n, int32_t val);
void tok_smap_free(tok_smap *m);

/* The exact bytes of the string field key of the JSON object in s[0..n) (json_str.c; cJSON
 * would cut a text at an escaped NUL). 1: found, *out holds it; 0: no such field; -1: not a
 * string, or malformed JSON. */
int tok_json_field_str(const char *s, size_t n, const char *key, tok_buf *out);

/* ---- Unicode helpers (unicode.c) ---- */
/* Length of the valid UTF-8 prefix of s[0..n) (== n when all valid). */
size_t tok_utf8_valid_prefix(const char *s, size_t n);
/* Decodes one code point of valid UTF-8 at s; returns its byte length. */
int tok_utf8_decode(const char *s, int32_t *cp);
int tok_utf8_encode(int32_t cp, char *out);
/* Appends s with each maximal invalid subsequence replaced by U+FFFD (Rust's
 * String::from_utf8_lossy). */
void tok_utf8_lossy(tok_buf *out, const char *s, size_t n);
/* GPT-2 byte-level alphabet: byte -> code point, and code point -> byte (-1 when the code
 * point is not in the alphabet). */
int32_t tok_byte_to_cp(uint8_t b);
int tok_cp_to_byte(int32_t cp);
/* 1 when s (valid UTF-8) is certainly unchanged by NFC (only code points whose NFC quick
 * check is Yes and combining class 0); 0 means "maybe not", run the full normalization. */
int tok_nfc_quick_yes(const char *s, size_t n);
/* Python's str.isspace for one code point (Jinja's trim). */
int tok_py_isspace(int32_t cp);
/* Rust's char::is_whitespace / regex \s (Unicode White_Space), and regex \w. */
int tok_uni_whitespace(int32_t cp);
int tok_uni_word(int32_t cp);

/* ---- regex (PCRE2, UTF + UCP, JIT when available) ---- */
typedef struct {
    pcre2_code *code;
    pcre2_match_data *md;
    int jit;
} tok_regex;
/* Compiles an Oniguruma/HF-style pattern; \s is widened to Unicode White_Space (PCRE2's
 * \s lacks U+0085, Oniguruma's has it). GTA_EINPUT with the PCRE2 message on failure. */
int tok_regex_compile(tok_regex *re, const char *pattern, size_t len, const char *what);
/* Next match in s[0..n) at or after start: 1 found (*ms,*me), 0 none, -1 matcher failure
 * (resource limit). s must be valid UTF-8. */
int tok_regex_next(tok_regex *re, const char *s, size_t n, size_t start, size_t *ms, size_t *me);
void tok_regex_free(tok_regex *re);

/* The pre-tokenizer regexes of the supported families. */
extern const char *const TOK_RE_GPT2;
extern const char *const TOK_RE_QWEN2;

/* ---- tokenizer components ---- */
typedef enum { NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_PREPEND, NORM_REPLACE } tok_norm_kind;
typedef struct {
    tok_norm_kind kind;
    char *a, *b; /* Prepend: a; Replace: a -> b */
    size_t alen, blen;
} tok_norm;

typedef enum { PRE_SPLIT, PRE_BYTELEVEL } tok_pre_kind;
typedef enum {
    SPLIT_ISOLATED,
    SPLIT_REMOVED,
    SPLIT_MERGED_PREV,
    SPLIT_MERGED_NEXT,
    SPLIT_CONTIGUOUS
} tok_split_behavior;
typedef struct {
    tok_pre_kind kind;
    int has_re; /* Split with Regex, or ByteLevel with use_regex */
    tok_regex re;
    char *literal; /* Split with String */
    size_t literal_len;
    tok_split_behavior behavior;
    int invert;
    int add_prefix_space;
} tok_pre;

typedef enum { DEC_BYTELEVEL, DEC_REPLACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP } tok_dec_kind;
typedef struct {
    tok_dec_kind kind;
    char *a, *b;
    size_t alen, blen;
    int32_t strip_cp;
    int start, stop;
} tok_dec;

typedef struct {
    int32_t id;
    uint32_t off, len;   /* content in tok->added_text */
    uint32_t noff, nlen; /* normalized content (for normalized tokens) in tok->added_text */
    uint8_t single_word, lstrip, rstrip, normalized, special;
} tok_added;

/* Byte trie over added-token contents for leftmost-longest matching. */
typedef struct {
    int32_t child, sibling, token; /* token: index into tok->added or -1 */
    uint8_t byte;
} tok_trie_node;
typedef struct {
    tok_trie_node *node;
    size_t n, cap;
    uint8_t first[256]; /* 1 when some token starts with this byte */
} tok_trie;

typedef struct {
    uint64_t key; /* (left << 32) | right; UINT64_MAX = empty */
    int32_t rank, id;
} tok_merge_ent;

typedef struct {
    int32_t rank, pos, id;
} tok_heap_ent;

/* Spans (start, end, tag) of a string being split. */
typedef struct {
    size_t start, end;
    int32_t tag;
} tok_span;
typedef struct {
    tok_span *v;
    size_t n, cap;
} tok_spans;

struct gta_tokenizer {
    char *file;        /* tokenizer.json path, for messages */
    char *config_file; /* tokenizer_config.json path or NULL */

    /* model */
    int byte_level;       /* pre-tokenizer ends with ByteLevel: BPE works on raw bytes */
    tok_smap vocab;       /* token string as in tokenizer.json -> id */
    tok_smap raw;         /* byte-level: raw bytes of each token -> id */
    int32_t vocab_size;   /* largest id + 1 (model and added) */
    uint32_t *str_off;    /* [vocab_size] token string of id in vocab.keys (model ids) */
    uint32_t *str_len;    /* UINT32_MAX: no model token with this id */
    int32_t *added_of;    /* [vocab_size] index into added, or -1 */
    int32_t byte_id[256]; /* byte-level: id of each byte; byte_fallback: id of <0xXX> */
    tok_merge_ent *merges;
    size_t merges_cap;
    int ignore_merges, byte_fallback, fuse_unk;
    int32_t unk_id;

    tok_added *added;
    size_t nadded;
    tok_buf added_text;
    tok_trie trie_raw, trie_norm;

    tok_norm *norm;
    size_t nnorm;
    tok_pre *pre;
    size_t npre;
    tok_dec *dec;
    size_t ndec;
    int has_decoder;
    gta_ids post_prefix, post_suffix; /* what add_special puts around the ids */

    int32_t eos_id, bos_id;
    char *bos_token, *eos_token;
    char *chat_template;
    gta_chat_family family;

    /* encoder state: word cache and scratch */
    tok_smap cache; /* word bytes -> offset of [n, ids...] in cache_ids */
    gta_ids cache_ids;
    tok_buf nbuf[2];     /* normalizer ping-pong */
    tok_buf pbuf[8];     /* pre-tokenizer per-depth copies */
    tok_spans pspans[8]; /* pre-tokenizer per-depth span lists */
    tok_spans aspans[2]; /* added-token splits: raw text, normalized segment */
    int32_t *sym_id, *sym_prev, *sym_next;
    size_t sym_cap;
    tok_heap_ent *heap;
    size_t heap_cap;
};

/* chat.c */
gta_chat_family tok_chat_detect(const char *tmpl);
/* tokenizer.c */
void tok_merge_put(gta_tokenizer *tok, int32_t a, int32_t b, int32_t rank, int32_t id);

#endif
