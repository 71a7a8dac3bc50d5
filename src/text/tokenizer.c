/* Encoding and decoding with a loaded tokenizer.json, step for step as HF tokenizers does:
 * added tokens split off the raw text -> normalizer on each remaining segment -> added tokens
 * written in normalized form -> pre-tokenizers -> BPE per pre-token -> post-processor. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"
#include "text/tok_internal.h"

/* Pre-tokens up to this many bytes are remembered with their ids; longer ones are rare and
 * would only fill the cache. */
#define CACHE_MAX_WORD 128
#define CACHE_MAX_ENTRIES (1u << 18)

/* ---------------- merges ---------------- */

static inline uint64_t merge_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static inline size_t merge_slot(uint64_t key, size_t cap) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

void tok_merge_put(gta_tokenizer *tok, int32_t a, int32_t b, int32_t rank, int32_t id) {
    uint64_t key = merge_key(a, b);
    size_t j = merge_slot(key, tok->merges_cap);
    while (tok->merges[j].key != UINT64_MAX && tok->merges[j].key != key) j = (j + 1) & (tok->merges_cap - 1);
    /* a repeated pair keeps its last rank, as HF's map insertion does */
    tok->merges[j] = (tok_merge_ent){key, rank, id};
}

static inline const tok_merge_ent *merge_get(const gta_tokenizer *tok, int32_t a, int32_t b) {
    uint64_t key = merge_key(a, b);
    for (size_t j = merge_slot(key, tok->merges_cap);; j = (j + 1) & (tok->merges_cap - 1)) {
        const tok_merge_ent *e = &tok->merges[j];
        if (e->key == key) return e;
        if (e->key == UINT64_MAX) return NULL;
    }
}

/* ---------------- normalizers ---------------- */

static int is_ascii(const char *s, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        if (v & 0x8080808080808080ull) return 0;
    }
    for (; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}

static int unicode_form(tok_buf *dst, const char *s, size_t n, int flags) {
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &out, flags);
    if (m < 0) {
        free(out);
        return gta_err_set(GTA_EFAIL, "Unicode normalization failed: %s", utf8proc_errmsg(m));
    }
    dst->n = 0;
    tok_buf_put(dst, out, (size_t)m);
    free(out);
    return GTA_OK;
}

/* Applies the normalizer chain. *out is s itself when nothing changed, else points into one
 * of tok->nbuf (valid until the next call). */
int tok_normalize(gta_tokenizer *tok, const char *s, size_t n, const char **out, size_t *outlen) {
    int cur = 0;
    for (size_t k = 0; k < tok->nnorm; k++) {
        const tok_norm *nm = &tok->norm[k];
        tok_buf *dst = &tok->nbuf[cur];
        int rc, changed = 1;
        switch (nm->kind) {
        case NORM_NFC:
            if (tok_nfc_quick_yes(s, n))
                changed = 0;
            else if ((rc = unicode_form(dst, s, n, UTF8PROC_STABLE | UTF8PROC_COMPOSE)))
                return rc;
            break;
        case NORM_NFD:
        case NORM_NFKC:
        case NORM_NFKD: {
            int f = nm->kind == NORM_NFD    ? UTF8PROC_DECOMPOSE
                    : nm->kind == NORM_NFKC ? UTF8PROC_COMPOSE | UTF8PROC_COMPAT
                                            : UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
            if (is_ascii(s, n))
                changed = 0;
            else if ((rc = unicode_form(dst, s, n, UTF8PROC_STABLE | f)))
                return rc;
            break;
        }
        case NORM_PREPEND:
            if (!n) {
                changed = 0;
                break;
            }
            dst->n = 0;
            tok_buf_put(dst, nm->a, nm->alen);
            tok_buf_put(dst, s, n);
            break;
        case NORM_REPLACE: {
            const char *hit = n >= nm->alen ? memmem(s, n, nm->a, nm->alen) : NULL;
            if (!hit) {
                changed = 0;
                break;
            }
            dst->n = 0;
            size_t i = 0;
            while (hit) {
                tok_buf_put(dst, s + i, (size_t)(hit - s) - i);
                tok_buf_put(dst, nm->b, nm->blen);
                i = (size_t)(hit - s) + nm->alen;
                hit = n - i >= nm->alen ? memmem(s + i, n - i, nm->a, nm->alen) : NULL;
            }
            tok_buf_put(dst, s + i, n - i);
            break;
        }
        }
        if (changed) {
            s = dst->p, n = dst->n;
            cur ^= 1;
        }
    }
    *out = s;
    *outlen = n;
    return GTA_OK;
}

/* ---------------- added tokens ---------------- */

static void spans_push(tok_spans *sp, size_t start, size_t end, int32_t tag) {
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 64;
        sp->v = gta_realloc(sp->v, sp->cap * sizeof *sp->v);
    }
    sp->v[sp->n++] = (tok_span){start, end, tag};
}

static int prev_cp(const char *s, size_t end, int32_t *cp) {
    size_t i = end;
    do i--;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80);
    tok_utf8_decode(s + i, cp);
    return (int)(end - i);
}

/* Splits s[0..n) on the added tokens of trie t: leftmost-longest, then the single_word /
 * lstrip / rstrip rules of HF's AddedVocabulary::find_matches. Tags: added index or -1. */
static void split_added(const gta_tokenizer *tok, const tok_trie *t, const char *s, size_t n,
                        tok_spans *out) {
    out->n = 0;
    size_t start_offset = 0, p = 0;
    while (p < n) {
        if (!t->first[(uint8_t)s[p]]) {
            p++;
            continue;
        }
        int32_t cur = 0, best = -1;
        size_t best_len = 0;
        for (size_t i = p; i < n; i++) {
            int32_t ch = t->node[cur].child;
            while (ch >= 0 && t->node[ch].byte != (uint8_t)s[i]) ch = t->node[ch].sibling;
            if (ch < 0) break;
            cur = ch;
            if (t->node[cur].token >= 0) best = t->node[cur].token, best_len = i - p + 1;
        }
        if (best < 0) {
            p++;
            continue;
        }
        size_t start = p, stop = p + best_len;
        p = stop;
        const tok_added *a = &tok->added[best];
        if (a->single_word) {
            int32_t cp;
            int start_space = start == 0 || (prev_cp(s, start, &cp), !tok_uni_word(cp));
            int stop_space = stop == n || (tok_utf8_decode(s + stop, &cp), !tok_uni_word(cp));
            if (!start_space || !stop_space) continue;
        }
        if (a->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                int32_t cp;
                int k = prev_cp(s, ns, &cp);
                if (!tok_uni_whitespace(cp)) break;
                ns -= (size_t)k;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (a->rstrip) {
            while (stop < n) {
                int32_t cp;
                int k = tok_utf8_decode(s + stop, &cp);
                if (!tok_uni_whitespace(cp)) break;
                stop += (size_t)k;
            }
        }
        if (start_offset < start) spans_push(out, start_offset, start, -1);
        spans_push(out, start, stop, best);
        start_offset = stop;
    }
    if (start_offset != n) spans_push(out, start_offset, n, -1);
}

/* ---------------- BPE ---------------- */

static void heap_push(gta_tokenizer *tok, size_t *hn, tok_heap_ent e) {
    if (*hn == tok->heap_cap) {
        tok->heap_cap = tok->heap_cap ? tok->heap_cap * 2 : 256;
        tok->heap = gta_realloc(tok->heap, tok->heap_cap * sizeof *tok->heap);
    }
    tok_heap_ent *h = tok->heap;
    size_t i = (*hn)++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (h[up].rank < e.rank || (h[up].rank == e.rank && h[up].pos < e.pos)) break;
        h[i] = h[up];
        i = up;
    }
    h[i] = e;
}

static tok_heap_ent heap_pop(gta_tokenizer *tok, size_t *hn) {
    tok_heap_ent *h = tok->heap, top = h[0], last = h[--*hn];
    size_t i = 0, n = *hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n &&
            (h[c + 1].rank < h[c].rank || (h[c + 1].rank == h[c].rank && h[c + 1].pos < h[c].pos)))
            c++;
        if (last.rank < h[c].rank || (last.rank == h[c].rank && last.pos < h[c].pos)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

static void sym_reserve(gta_tokenizer *tok, size_t n) {
    if (n <= tok->sym_cap) return;
    size_t cap = tok->sym_cap ? tok->sym_cap : 256;
    while (cap < n) cap *= 2;
    tok->sym_id = gta_realloc(tok->sym_id, cap * sizeof *tok->sym_id);
    tok->sym_prev = gta_realloc(tok->sym_prev, cap * sizeof *tok->sym_prev);
    tok->sym_next = gta_realloc(tok->sym_next, cap * sizeof *tok->sym_next);
    tok->sym_cap = cap;
}

/* Initial symbols of a word: bytes (byte-level) or characters, with byte fallback and
 * (fused) unknown tokens as HF's BPE::merge_word. Returns the symbol count. */
static size_t bpe_symbols(gta_tokenizer *tok, const char *s, size_t n) {
    sym_reserve(tok, n + 1);
    int32_t *id = tok->sym_id;
    size_t m = 0;
    if (tok->byte_level) {
        for (size_t i = 0; i < n; i++) {
            int32_t b = tok->byte_id[(uint8_t)s[i]];
            if (b >= 0)
                id[m++] = b;
            else if (tok->unk_id >= 0 && !(tok->fuse_unk && m && id[m - 1] == tok->unk_id))
                id[m++] = tok->unk_id;
        }
        return m;
    }
    int pending_unk = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = (size_t)tok_utf8_decode(s + i, &cp);
        int32_t v = tok_smap_get(&tok->vocab, s + i, k);
        if (v >= 0) {
            if (pending_unk) id[m++] = tok->unk_id, pending_unk = 0;
            id[m++] = v;
        } else {
            int done = 0;
            if (tok->byte_fallback) {
                done = 1;
                for (size_t j = 0; j < k; j++)
                    if (tok->byte_id[(uint8_t)s[i + j]] < 0) done = 0;
                if (done)
                    for (size_t j = 0; j < k; j++) id[m++] = tok->byte_id[(uint8_t)s[i + j]];
            }
            if (!done && tok->unk_id >= 0) {
                if (pending_unk && !tok->fuse_unk) id[m++] = tok->unk_id;
                pending_unk = 1;
            }
        }
        i += k;
    }
    if (pending_unk) id[m++] = tok->unk_id;
    return m;
}

/* Applies the merges lowest rank first (leftmost among equal ranks), as HF's
 * Word::merge_all, and appends the resulting ids. */
static void bpe_merge(gta_tokenizer *tok, size_t m, gta_ids *out) {
    int32_t *id = tok->sym_id, *prev = tok->sym_prev, *next = tok->sym_next;
    size_t hn = 0;
    for (size_t i = 0; i < m; i++) {
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < m ? (int32_t)i + 1 : -1;
        if (i + 1 < m) {
            const tok_merge_ent *e = merge_get(tok, id[i], id[i + 1]);
            if (e) heap_push(tok, &hn, (tok_heap_ent){e->rank, (int32_t)i, e->id});
        }
    }
    while (hn) {
        tok_heap_ent top = heap_pop(tok, &hn);
        int32_t p = top.pos, r = next[p];
        if (id[p] < 0 || r < 0) continue; /* consumed by an earlier merge */
        const tok_merge_ent *e = merge_get(tok, id[p], id[r]);
        if (!e || e->id != top.id) continue; /* the pair changed since it was queued */
        id[p] = top.id;
        id[r] = -1;
        next[p] = next[r];
        if (next[r] >= 0) prev[next[r]] = p;
        if (prev[p] >= 0) {
            const tok_merge_ent *pe = merge_get(tok, id[prev[p]], id[p]);
            if (pe) heap_push(tok, &hn, (tok_heap_ent){pe->rank, prev[p], pe->id});
        }
        if (next[p] >= 0) {
            const tok_merge_ent *ne = merge_get(tok, id[p], id[next[p]]);
            if (ne) heap_push(tok, &hn, (tok_heap_ent){ne->rank, p, ne->id});
        }
    }
    for (int32_t i = m ? 0 : -1; i >= 0; i = next[i]) tok_ids_push(out, id[i]);
}

static void bpe_word(gta_tokenizer *tok, const char *s, size_t n, gta_ids *out) {
    int cacheable = n <= CACHE_MAX_WORD;
    if (cacheable) {
        int32_t at = tok_smap_get(&tok->cache, s, n);
        if (at >= 0) {
            tok_ids_append(out, tok->cache_ids.ids + at + 1, (size_t)tok->cache_ids.ids[at]);
            return;
        }
    }
    size_t before = out->n;
    int32_t whole = tok->ignore_merges ? tok_smap_get(tok->byte_level ? &tok->raw : &tok->vocab, s, n) : -1;
    if (whole >= 0)
        tok_ids_push(out, whole);
    else
        bpe_merge(tok, bpe_symbols(tok, s, n), out);
    if (!cacheable) return;
    if (tok->cache.n >= CACHE_MAX_ENTRIES || tok->cache_ids.n > (size_t)INT32_MAX / 2) {
        tok_smap_free(&tok->cache);
        tok->cache_ids.n = 0;
    }
    size_t k = out->n - before;
    tok_smap_put(&tok->cache, s, n, (int32_t)tok->cache_ids.n);
    tok_ids_push(&tok->cache_ids, (int32_t)k);
    tok_ids_append(&tok->cache_ids, out->ids + before, k);
}

/* ---------------- pre-tokenizers ---------------- */

static int pretok(gta_tokenizer *tok, size_t depth, const char *s, size_t n, gta_ids *out) {
    if (!n) return GTA_OK;
    if (depth == tok->npre) {
        bpe_word(tok, s, n, out);
        return GTA_OK;
    }
    tok_pre *p = &tok->pre[depth];
    if (p->kind == PRE_BYTELEVEL) {
        if (p->add_prefix_space && s[0] != ' ') {
            tok_buf *b = &tok->pbuf[depth];
            b->n = 0;
            tok_buf_putc(b, ' ');
            tok_buf_put(b, s, n);
            s = b->p, n = b->n;
        }
        if (!p->has_re) return pretok(tok, depth + 1, s, n, out);
    }
    tok_spans *sp = &tok->pspans[depth];
    sp->n = 0;
    size_t prev = 0, pos = 0, ms, me;
    if (p->has_re) {
        for (;;) {
            int r = tok_regex_next(&p->re, s, n, pos, &ms, &me);
            if (r < 0)
                return gta_err_set(GTA_EFAIL,
                                   "%s: pre-tokenizer regex failed (resource limit) on a %zu-byte text",
                                   tok->file, n);
            if (!r) break;
            if (ms > prev) spans_push(sp, prev, ms, p->invert);
            spans_push(sp, ms, me, !p->invert);
            prev = me;
            if (me > ms)
                pos = me;
            else if (ms < n) {
                int32_t cp;
                pos = ms + (size_t)tok_utf8_decode(s + ms, &cp);
            } else
                break;
        }
    } else {
        const char *hit;
        while (pos < n && n - pos >= p->literal_len &&
               (hit = memmem(s + pos, n - pos, p->literal, p->literal_len))) {
            ms = (size_t)(hit - s), me = ms + p->literal_len;
            if (ms > prev) spans_push(sp, prev, ms, p->invert);
            spans_push(sp, ms, me, !p->invert);
            prev = pos = me;
        }
    }
    if (prev < n) spans_push(sp, prev, n, p->invert);

    /* behaviours, as HF's NormalizedString::split; tag = is_match */
    size_t w = 0, cnt = sp->n;
    tok_span *v = sp->v;
    switch (p->behavior) {
    case SPLIT_ISOLATED:
        w = cnt;
        break;
    case SPLIT_REMOVED:
        for (size_t i = 0; i < cnt; i++)
            if (!v[i].tag) v[w++] = v[i];
        break;
    case SPLIT_MERGED_PREV: {
        int prev_match = 0;
        for (size_t i = 0; i < cnt; i++) {
            int m = v[i].tag;
            if (m && !prev_match && w)
                v[w - 1].end = v[i].end;
            else
                v[w++] = v[i];
            prev_match = m;
        }
        break;
    }
    case SPLIT_MERGED_NEXT: {
        int prev_match = 0;
        size_t top = cnt; /* pieces are built from the end into v[top..cnt) */
        for (size_t i = cnt; i-- > 0;) {
            int m = v[i].tag;
            if (m && !prev_match && top < cnt)
                v[top].start = v[i].start;
            else
                v[--top] = v[i];
            prev_match = m;
        }
        memmove(v, v + top, (cnt - top) * sizeof *v);
        w = cnt - top;
        break;
    }
    case SPLIT_CONTIGUOUS: {
        int prev_match = -1;
        for (size_t i = 0; i < cnt; i++) {
            int m = v[i].tag;
            if (m == prev_match)
                v[w - 1].end = v[i].end;
            else
                v[w++] = v[i];
            prev_match = m;
        }
        break;
    }
    }
    sp->n = w;
    for (size_t i = 0; i < sp->n; i++) {
        /* sp->v may move if a deeper level reallocates its own list, never this one */
        size_t a = sp->v[i].start, b = sp->v[i].end;
        int rc = pretok(tok, depth + 1, s + a, b - a, out);
        if (rc) return rc;
    }
    return GTA_OK;
}

/* ---------------- encode ---------------- */

static int encode_segment(gta_tokenizer *tok, const char *s, size_t n, gta_ids *out) {
    const char *ns = s;
    size_t nn = n;
    int rc;
    if (tok->nnorm && (rc = tok_normalize(tok, s, n, &ns, &nn))) return rc;
    if (tok->trie_norm.n <= 1) return pretok(tok, 0, ns, nn, out);
    tok_spans *sp = &tok->aspans[1];
    split_added(tok, &tok->trie_norm, ns, nn, sp);
    for (size_t i = 0; i < sp->n; i++) {
        tok_span x = sp->v[i];
        if (x.tag >= 0)
            tok_ids_push(out, tok->added[x.tag].id);
        else if ((rc = pretok(tok, 0, ns + x.start, x.end - x.start, out)))
            return rc;
    }
    return GTA_OK;
}

int gta_tokenizer_encode(gta_tokenizer *tok, const char *text, size_t len, int add_special, gta_ids *out) {
    size_t valid = tok_utf8_valid_prefix(text, len);
    if (valid != len) return gta_err_set(GTA_EINPUT, "text is not valid UTF-8 (byte offset %zu)", valid);
    size_t before = out->n;
    int rc = GTA_OK;
    if (add_special) tok_ids_append(out, tok->post_prefix.ids, tok->post_prefix.n);
    if (tok->trie_raw.n <= 1) {
        rc = encode_segment(tok, text, len, out);
    } else {
        tok_spans *sp = &tok->aspans[0];
        split_added(tok, &tok->trie_raw, text, len, sp);
        for (size_t i = 0; i < sp->n && !rc; i++) {
            tok_span x = sp->v[i];
            if (x.tag >= 0)
                tok_ids_push(out, tok->added[x.tag].id);
            else
                rc = encode_segment(tok, text + x.start, x.end - x.start, out);
        }
    }
    if (rc) {
        out->n = before;
        return rc;
    }
    if (add_special) tok_ids_append(out, tok->post_suffix.ids, tok->post_suffix.n);
    return GTA_OK;
}

/* ---------------- decode ---------------- */

typedef struct {
    tok_buf text;
    size_t *off, *len;
    size_t n, cap;
} strlist;

static void sl_add(strlist *l, const char *s, size_t n) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->off = gta_realloc(l->off, l->cap * sizeof *l->off);
        l->len = gta_realloc(l->len, l->cap * sizeof *l->len);
    }
    l->off[l->n] = l->text.n;
    l->len[l->n] = n;
    tok_buf_put(&l->text, s, n);
    l->n++;
}

/* Starts a new entry that the caller fills with tok_buf_put on l->text, then sl_end. */
static void sl_begin(strlist *l) { sl_add(l, "", 0); }
static void sl_end(strlist *l) { l->len[l->n - 1] = l->text.n - l->off[l->n - 1]; }

static void sl_free(strlist *l) {
    tok_buf_free(&l->text);
    free(l->off);
    free(l->len);
    memset(l, 0, sizeof *l);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void flush_bytes(strlist *dst, tok_buf *bytes) {
    if (!bytes->n) return;
    if (tok_utf8_valid_prefix(bytes->p, bytes->n) == bytes->n)
        sl_add(dst, bytes->p, bytes->n);
    else
        for (size_t k = 0; k < bytes->n; k++) sl_add(dst, "\xEF\xBF\xBD", 3);
    bytes->n = 0;
}

static void apply_decoder(const tok_dec *d, const strlist *src, strlist *dst) {
    const char *base = src->text.p;
    switch (d->kind) {
    case DEC_BYTELEVEL: {
        tok_buf raw = {0};
        for (size_t i = 0; i < src->n; i++) {
            const char *s = base + src->off[i];
            size_t n = src->len[i], start = raw.n, k = 0;
            int ok = 1;
            while (k < n) {
                int32_t cp;
                k += (size_t)tok_utf8_decode(s + k, &cp);
                int b = tok_cp_to_byte(cp);
                if (b < 0) {
                    ok = 0;
                    break;
                }
                tok_buf_putc(&raw, (char)b);
            }
            if (!ok) { /* a token outside the byte alphabet stands for its own UTF-8 */
                raw.n = start;
                tok_buf_put(&raw, s, n);
            }
        }
        sl_begin(dst);
        tok_utf8_lossy(&dst->text, raw.p ? raw.p : "", raw.n);
        sl_end(dst);
        tok_buf_free(&raw);
        break;
    }
    case DEC_REPLACE:
        for (size_t i = 0; i < src->n; i++) {
            const char *s = base + src->off[i];
            size_t n = src->len[i], k = 0;
            sl_begin(dst);
            while (k < n) {
                if (n - k >= d->alen && !memcmp(s + k, d->a, d->alen)) {
                    tok_buf_put(&dst->text, d->b, d->blen);
                    k += d->alen;
                } else {
                    tok_buf_putc(&dst->text, s[k++]);
                }
            }
            sl_end(dst);
        }
        break;
    case DEC_BYTEFALLBACK: {
        tok_buf bytes = {0};
        for (size_t i = 0; i < src->n; i++) {
            const char *s = base + src->off[i];
            size_t n = src->len[i];
            int hi, lo;
            if (n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && (hi = hexval(s[3])) >= 0 &&
                (lo = hexval(s[4])) >= 0) {
                tok_buf_putc(&bytes, (char)(hi * 16 + lo));
                continue;
            }
            flush_bytes(dst, &bytes);
            sl_add(dst, s, n);
        }
        flush_bytes(dst, &bytes);
        tok_buf_free(&bytes);
        break;
    }
    case DEC_FUSE:
        sl_begin(dst);
        for (size_t i = 0; i < src->n; i++) tok_buf_put(&dst->text, base + src->off[i], src->len[i]);
        sl_end(dst);
        break;
    case DEC_STRIP: {
        char c[4];
        size_t cl = (size_t)tok_utf8_encode(d->strip_cp, c);
        for (size_t i = 0; i < src->n; i++) {
            const char *s = base + src->off[i];
            size_t a = 0, b = src->len[i];
            for (int k = 0; k < d->start && b - a >= cl && !memcmp(s + a, c, cl); k++) a += cl;
            for (int k = 0; k < d->stop && b - a >= cl && !memcmp(s + b - cl, c, cl); k++) b -= cl;
            sl_add(dst, s + a, b - a);
        }
        break;
    }
    }
}

int gta_tokenizer_decode(const gta_tokenizer *tok, const gta_tok *ids, size_t n, int skip_special,
                         char **text, size_t *len) {
    *text = NULL;
    strlist cur = {0}, nxt = {0};
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        const char *s = id >= 0 && id < tok->vocab_size ? gta_tokenizer_id_to_token(tok, id) : NULL;
        if (!s && (skip_special & GTA_DECODE_SKIP_UNKNOWN) && id >= 0) continue;
        if (!s) {
            sl_free(&cur);
            return gta_err_set(GTA_EINPUT, "id %d is not in the vocabulary of %s", (int)id, tok->file);
        }
        if ((skip_special & GTA_DECODE_SKIP_SPECIAL) && gta_tokenizer_is_special(tok, id)) continue;
        int32_t a = tok->added_of[id];
        size_t sn = a >= 0 ? tok->added[a].nlen : tok->str_len[id];
        sl_add(&cur, s, sn);
    }
    tok_buf out = {0};
    if (!tok->has_decoder) {
        for (size_t i = 0; i < cur.n; i++) {
            if (i) tok_buf_putc(&out, ' ');
            tok_buf_put(&out, cur.text.p + cur.off[i], cur.len[i]);
        }
    } else {
        for (size_t k = 0; k < tok->ndec; k++) {
            nxt.n = 0;
            nxt.text.n = 0;
            apply_decoder(&tok->dec[k], &cur, &nxt);
            strlist t = cur;
            cur = nxt;
            nxt = t;
        }
        for (size_t i = 0; i < cur.n; i++) tok_buf_put(&out, cur.text.p + cur.off[i], cur.len[i]);
    }
    sl_free(&cur);
    sl_free(&nxt);
    if (!out.p) tok_buf_put(&out, "", 0);
    *text = out.p;
    if (len) *len = out.n;
    return GTA_OK;
}

/* ---------------- look-ups ---------------- */

gta_tok gta_tokenizer_token_to_id(const gta_tokenizer *tok, const char *token) {
    size_t n = strlen(token);
    for (size_t i = 0; i < tok->nadded; i++)
        if (tok->added[i].len == n && !memcmp(tok->added_text.p + tok->added[i].off, token, n))
            return tok->added[i].id;
    return tok_smap_get(&tok->vocab, token, n);
}

const char *gta_tokenizer_id_to_token(const gta_tokenizer *tok, gta_tok id) {
    if (id < 0 || id >= tok->vocab_size) return NULL;
    /* HF reports a normalized added token in its normalized form (and decodes it so) */
    if (tok->added_of[id] >= 0) return tok->added_text.p + tok->added[tok->added_of[id]].noff;
    if (tok->str_len[id] == UINT32_MAX) return NULL;
    return tok->vocab.keys.p + tok->str_off[id];
}

int gta_tokenizer_is_special(const gta_tokenizer *tok, gta_tok id) {
    if (id < 0 || id >= tok->vocab_size || tok->added_of[id] < 0) return 0;
    return tok->added[tok->added_of[id]].special;
}

int32_t gta_tokenizer_vocab_size(const gta_tokenizer *tok) { return tok->vocab_size; }
gta_tok gta_tokenizer_eos_id(const gta_tokenizer *tok) { return tok->eos_id; }
gta_tok gta_tokenizer_bos_id(const gta_tokenizer *tok) { return tok->bos_id; }
