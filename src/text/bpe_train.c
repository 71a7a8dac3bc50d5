/* Byte-level BPE training.
 *
 * Texts are cut with the Qwen2 pre-tokenizer regex into words, counted, and merged the
 * classic way: the most frequent adjacent pair (ties: smaller ids first) becomes a new token.
 * Pair counts are updated incrementally: each pair remembers the words it occurs in, so a
 * merge only revisits those words, and a lazy max-heap finds the next best pair. The result
 * is a tokenizer.json in the Qwen2 layout (NFC omitted, so every text round-trips exactly). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/util.h"
#include "text/bpe_train.h"
#include "text/tok_internal.h"

const char *const GTA_BPE_SPECIALS[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
const int GTA_BPE_NSPECIALS = 3;
extern const char *const TOK_CHATML_TEMPLATE;

typedef struct {
    int64_t count;
    int32_t *where; /* words holding the pair (may hold stale entries and repeats) */
    uint32_t nwhere, capwhere;
    int32_t left, right;
} bt_pair;

typedef struct {
    int64_t count;
    int32_t pair;
} bt_heap_ent;

typedef struct {
    /* words */
    tok_smap words;
    int64_t *wcount;
    size_t nwords, capwords;
    int32_t *sym; /* all words' symbols, word w at sym[woff[w] .. woff[w]+wlen[w]) */
    size_t *woff;
    uint32_t *wlen;
    uint32_t *wstamp;
    /* pairs */
    uint64_t *pkey; /* open addressing: key -> pair index, UINT64_MAX empty */
    int32_t *pidx;
    size_t pcap;
    bt_pair *pair;
    size_t npairs, cappairs;
    uint32_t *pstamp;
    int32_t *touched;
    size_t ntouched, captouched;
    bt_heap_ent *heap;
    size_t nheap, capheap;
    /* tokens: raw bytes */
    tok_buf tbytes;
    size_t *toff, *tlen;
    size_t ntok;
} bt_state;

/* ---------------- counting ---------------- */

static void count_word(bt_state *s, const char *w, size_t n) {
    int32_t k = tok_smap_get(&s->words, w, n);
    if (k < 0) {
        if (s->nwords == s->capwords) {
            s->capwords = s->capwords ? s->capwords * 2 : 4096;
            s->wcount = gta_realloc(s->wcount, s->capwords * sizeof *s->wcount);
        }
        k = (int32_t)s->nwords++;
        s->wcount[k] = 0;
        tok_smap_put(&s->words, w, n, k);
    }
    s->wcount[k]++;
}

static int count_text(bt_state *s, tok_regex *re, const char *t, size_t n, const char *where) {
    size_t valid = tok_utf8_valid_prefix(t, n);
    if (valid != n)
        return gta_err_set(GTA_EINPUT, "%s: text is not valid UTF-8 (byte offset %zu)", where, valid);
    /* special-token strings are cut out first, as the tokenizer will do when encoding */
    size_t i = 0;
    while (i < n) {
        size_t next = n, slen = 0;
        for (int k = 0; k < GTA_BPE_NSPECIALS; k++) {
            const char *h = memmem(t + i, n - i, GTA_BPE_SPECIALS[k], strlen(GTA_BPE_SPECIALS[k]));
            if (h && (size_t)(h - t) < next) next = (size_t)(h - t), slen = strlen(GTA_BPE_SPECIALS[k]);
        }
        size_t pos = i, ms, me;
        for (;;) {
            int r = tok_regex_next(re, t, next, pos, &ms, &me);
            if (r < 0)
                return gta_err_set(GTA_EFAIL, "%s: pre-tokenizer regex failed (resource limit)", where);
            if (!r || me == ms) break;
            count_word(s, t + ms, me - ms);
            pos = me;
        }
        i = next + slen;
    }
    return GTA_OK;
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static int count_file(bt_state *s, tok_regex *re, const char *path, size_t *bytes) {
    char *data;
    size_t len;
    int rc = gta_read_file(path, &data, &len);
    if (rc) return rc;
    *bytes += len;
    if (!ends_with(path, ".jsonl")) {
        rc = count_text(s, re, data, len, path);
        free(data);
        return rc;
    }
    tok_buf tb = {0};
    size_t lineno = 0;
    char *p = data, *end = data + len;
    while (p < end && !rc) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end, *q = p;
        p = nl ? nl + 1 : end;
        lineno++;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q == le) continue;
        char where[1100];
        snprintf(where, sizeof where, "%s:%zu", path, lineno);
        if (tok_json_field_str(q, (size_t)(le - q), "text", &tb) != 1)
            rc = gta_err_set(GTA_EINPUT, "%s: expected a JSON object with a string \"text\"", where);
        else
            rc = count_text(s, re, tb.p, tb.n, where);
    }
    tok_buf_free(&tb);
    free(data);
    return rc;
}

/* ---------------- pairs ---------------- */

static int32_t pair_index(bt_state *s, int32_t a, int32_t b, int create) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    if (create && (s->npairs + 1) * 2 > s->pcap) {
        size_t cap = s->pcap ? s->pcap * 2 : 1 << 16;
        uint64_t *k2 = gta_malloc(cap * sizeof *k2);
        int32_t *i2 = gta_malloc(cap * sizeof *i2);
        for (size_t i = 0; i < cap; i++) k2[i] = UINT64_MAX;
        for (size_t i = 0; i < s->pcap; i++) {
            if (s->pkey[i] == UINT64_MAX) continue;
            size_t j = (size_t)((s->pkey[i] * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
            while (k2[j] != UINT64_MAX) j = (j + 1) & (cap - 1);
            k2[j] = s->pkey[i], i2[j] = s->pidx[i];
        }
        free(s->pkey);
        free(s->pidx);
        s->pkey = k2, s->pidx = i2, s->pcap = cap;
    }
    if (!s->pcap) return -1;
    size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (s->pcap - 1);
    for (; s->pkey[j] != UINT64_MAX; j = (j + 1) & (s->pcap - 1))
        if (s->pkey[j] == key) return s->pidx[j];
    if (!create) return -1;
    if (s->npairs == s->cappairs) {
        s->cappairs = s->cappairs ? s->cappairs * 2 : 1 << 14;
        s->pair = gta_realloc(s->pair, s->cappairs * sizeof *s->pair);
        s->pstamp = gta_realloc(s->pstamp, s->cappairs * sizeof *s->pstamp);
    }
    int32_t p = (int32_t)s->npairs++;
    memset(&s->pair[p], 0, sizeof s->pair[p]);
    s->pair[p].left = a, s->pair[p].right = b;
    s->pstamp[p] = 0;
    s->pkey[j] = key, s->pidx[j] = p;
    return p;
}

static void pair_add_word(bt_pair *p, int32_t w) {
    if (p->nwhere && p->where[p->nwhere - 1] == w) return;
    if (p->nwhere == p->capwhere) {
        p->capwhere = p->capwhere ? p->capwhere * 2 : 4;
        p->where = gta_realloc(p->where, p->capwhere * sizeof *p->where);
    }
    p->where[p->nwhere++] = w;
}

/* Max-heap on (count, then smaller left id, then smaller right id). */
static int heap_before(const bt_state *s, bt_heap_ent x, bt_heap_ent y) {
    if (x.count != y.count) return x.count > y.count;
    const bt_pair *a = &s->pair[x.pair], *b = &s->pair[y.pair];
    if (a->left != b->left) return a->left < b->left;
    return a->right < b->right;
}

static void heap_push(bt_state *s, int32_t p) {
    if (s->nheap == s->capheap) {
        s->capheap = s->capheap ? s->capheap * 2 : 1 << 14;
        s->heap = gta_realloc(s->heap, s->capheap * sizeof *s->heap);
    }
    bt_heap_ent e = {s->pair[p].count, p};
    size_t i = s->nheap++;
    while (i > 0 && heap_before(s, e, s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
}

static bt_heap_ent heap_pop(bt_state *s) {
    bt_heap_ent top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0, n = s->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(s, s->heap[c + 1], s->heap[c])) c++;
        if (!heap_before(s, s->heap[c], last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

static void change(bt_state *s, int32_t a, int32_t b, int64_t delta, int32_t w, uint32_t step) {
    int32_t p = pair_index(s, a, b, delta > 0);
    if (p < 0) return;
    s->pair[p].count += delta;
    if (delta > 0) {
        pair_add_word(&s->pair[p], w);
        if (s->pstamp[p] != step) {
            s->pstamp[p] = step;
            if (s->ntouched == s->captouched) {
                s->captouched = s->captouched ? s->captouched * 2 : 1024;
                s->touched = gta_realloc(s->touched, s->captouched * sizeof *s->touched);
            }
            s->touched[s->ntouched++] = p;
        }
    }
}

/* ---------------- output ---------------- */

static void put_token(tok_buf *b, const bt_state *s, size_t id) {
    tok_buf tmp = {0};
    const unsigned char *raw = (const unsigned char *)s->tbytes.p + s->toff[id];
    for (size_t i = 0; i < s->tlen[id]; i++) {
        char u[4];
        int k = tok_utf8_encode(tok_byte_to_cp(raw[i]), u);
        tok_buf_put(&tmp, u, (size_t)k);
    }
    tok_buf_put_json_str(b, tmp.p, tmp.n);
    tok_buf_free(&tmp);
}

static void put_raw_token_str(tok_buf *b, const bt_state *s, size_t id) {
    const unsigned char *raw = (const unsigned char *)s->tbytes.p + s->toff[id];
    for (size_t i = 0; i < s->tlen[id]; i++) {
        char u[4];
        int k = tok_utf8_encode(tok_byte_to_cp(raw[i]), u);
        tok_buf_put(b, u, (size_t)k);
    }
}

static int write_outputs(const bt_state *s, const int32_t (*merges)[2], size_t nmerges, const char *dir) {
    int rc = gta_mkdir_p(dir);
    if (rc) return rc;
    static const char *bl = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": false, "
                            "\"use_regex\": false}";
    tok_buf b = {0};
    tok_buf_puts(
        &b,
        "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [");
    for (int k = 0; k < GTA_BPE_NSPECIALS; k++) {
        char head[64];
        snprintf(head, sizeof head, "%s\n    {\"id\": %zu, \"content\": ", k ? "," : "", s->ntok + (size_t)k);
        tok_buf_puts(&b, head);
        tok_buf_put_json_str(&b, GTA_BPE_SPECIALS[k], strlen(GTA_BPE_SPECIALS[k]));
        tok_buf_puts(&b,
                     ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, "
                     "\"special\": true}");
    }
    tok_buf_puts(
        &b,
        "\n  ],\n  \"normalizer\": null,\n  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": "
        "[{\"type\": \"Split\", \"pattern\": {\"Regex\": ");
    tok_buf_put_json_str(&b, TOK_RE_QWEN2, strlen(TOK_RE_QWEN2));
    tok_buf_puts(&b, "}, \"behavior\": \"Isolated\", \"invert\": false}, ");
    tok_buf_puts(&b, bl);
    tok_buf_puts(&b, "]},\n  \"post_processor\": ");
    tok_buf_puts(&b, bl);
    tok_buf_puts(&b, ",\n  \"decoder\": ");
    tok_buf_puts(&b, bl);
    tok_buf_puts(&b,
                 ",\n  \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, "
                 "\"continuing_subword_prefix\": \"\", \"end_of_word_suffix\": \"\", \"fuse_unk\": false, "
                 "\"byte_fallback\": false, \"ignore_merges\": false,\n    \"vocab\": {");
    for (size_t id = 0; id < s->ntok; id++) {
        char num[32];
        tok_buf_puts(&b, id ? ",\n      " : "\n      ");
        put_token(&b, s, id);
        snprintf(num, sizeof num, ": %zu", id);
        tok_buf_puts(&b, num);
    }
    tok_buf_puts(&b, "\n    },\n    \"merges\": [");
    tok_buf m = {0};
    for (size_t i = 0; i < nmerges; i++) {
        tok_buf_puts(&b, i ? ",\n      " : "\n      ");
        m.n = 0;
        put_raw_token_str(&m, s, (size_t)merges[i][0]);
        tok_buf_putc(&m, ' ');
        put_raw_token_str(&m, s, (size_t)merges[i][1]);
        tok_buf_put_json_str(&b, m.p, m.n);
    }
    tok_buf_free(&m);
    tok_buf_puts(&b, "\n    ]\n  }\n}\n");
    char *path = gta_path_join(dir, "tokenizer.json");
    rc = gta_write_file_atomic(path, b.p, b.n);
    free(path);
    tok_buf_free(&b);
    if (rc) return rc;

    tok_buf c = {0};
    tok_buf_puts(
        &c, "{\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n  \"bos_token\": null,\n"
            "  \"eos_token\": \"<|im_end|>\",\n  \"pad_token\": \"<|endoftext|>\",\n  \"unk_token\": null,\n"
            "  \"add_bos_token\": false,\n  \"add_prefix_space\": false,\n"
            "  \"clean_up_tokenization_spaces\": false,\n  \"model_max_length\": 131072,\n"
            "  \"chat_template\": ");
    tok_buf_put_json_str(&c, TOK_CHATML_TEMPLATE, strlen(TOK_CHATML_TEMPLATE));
    tok_buf_puts(&c, "\n}\n");
    path = gta_path_join(dir, "tokenizer_config.json");
    rc = gta_write_file_atomic(path, c.p, c.n);
    free(path);
    tok_buf_free(&c);
    return rc;
}

/* ---------------- training ---------------- */

static void state_free(bt_state *s) {
    tok_smap_free(&s->words);
    free(s->wcount);
    free(s->sym);
    free(s->woff);
    free(s->wlen);
    free(s->wstamp);
    free(s->pkey);
    free(s->pidx);
    for (size_t i = 0; i < s->npairs; i++) free(s->pair[i].where);
    free(s->pair);
    free(s->pstamp);
    free(s->touched);
    free(s->heap);
    tok_buf_free(&s->tbytes);
    free(s->toff);
    free(s->tlen);
}

int gta_bpe_train(const gta_bpe_train_opts *o) {
    long specials = GTA_BPE_NSPECIALS;
    if (o->ncorpus < 1) return gta_err_set(GTA_EINPUT, "tokenizer-train: no --corpus file given");
    if (o->vocab_size < 256 + specials || o->vocab_size > (1L << 24))
        return gta_err_set(
            GTA_EINPUT,
            "tokenizer-train: --vocab-size must be between %ld (256 bytes + %ld special tokens) and %ld",
            256 + specials, specials, 1L << 24);
    long minf = o->min_frequency > 0 ? o->min_frequency : 1;
    bt_state s = {0};
    tok_regex re;
    int rc = tok_regex_compile(&re, TOK_RE_QWEN2, strlen(TOK_RE_QWEN2), "tokenizer-train");
    if (rc) return rc;
    double t0 = gta_now();
    size_t bytes = 0;
    for (int i = 0; i < o->ncorpus && !rc; i++) {
        rc = count_file(&s, &re, o->corpus[i], &bytes);
        if (!rc && o->progress) {
            double dt = gta_now() - t0;
            fprintf(stderr, "tokenizer-train: read %s (%.1f MB so far, %zu distinct words, %.1f MB/s)\n",
                    o->corpus[i], (double)bytes / 1e6, s.nwords, dt > 0 ? (double)bytes / 1e6 / dt : 0.0);
        }
    }
    tok_regex_free(&re);
    if (rc) {
        state_free(&s);
        return rc;
    }

    /* words as byte symbols */
    size_t total = 0;
    for (size_t j = 0; j < s.words.cap; j++)
        if (s.words.slot[j].h) total += s.words.slot[j].len;
    s.sym = gta_malloc((total ? total : 1) * sizeof *s.sym);
    s.woff = gta_malloc((s.nwords ? s.nwords : 1) * sizeof *s.woff);
    s.wlen = gta_malloc((s.nwords ? s.nwords : 1) * sizeof *s.wlen);
    s.wstamp = gta_calloc(s.nwords ? s.nwords : 1, sizeof *s.wstamp);
    size_t at = 0;
    for (size_t j = 0; j < s.words.cap; j++) {
        const tok_smap_ent *e = &s.words.slot[j];
        if (!e->h) continue;
        s.woff[e->val] = at;
        s.wlen[e->val] = e->len;
        for (uint32_t k = 0; k < e->len; k++) s.sym[at++] = (uint8_t)s.words.keys.p[e->off + k];
    }
    /* the 256 bytes are the first tokens */
    size_t target = (size_t)(o->vocab_size - specials);
    s.toff = gta_malloc(target * sizeof *s.toff);
    s.tlen = gta_malloc(target * sizeof *s.tlen);
    for (int b = 0; b < 256; b++) {
        s.toff[b] = s.tbytes.n, s.tlen[b] = 1;
        tok_buf_putc(&s.tbytes, (char)b);
    }
    s.ntok = 256;
    for (size_t w = 0; w < s.nwords; w++) {
        const int32_t *x = s.sym + s.woff[w];
        for (uint32_t k = 0; k + 1 < s.wlen[w]; k++) {
            int32_t p = pair_index(&s, x[k], x[k + 1], 1);
            s.pair[p].count += s.wcount[w];
            pair_add_word(&s.pair[p], (int32_t)w);
        }
    }
    for (size_t p = 0; p < s.npairs; p++) heap_push(&s, (int32_t)p);

    size_t want = target - 256, nmerges = 0;
    int32_t(*merges)[2] = gta_malloc((want ? want : 1) * sizeof *merges);
    double t1 = gta_now(), last = t1;
    uint32_t step = 0;
    while (nmerges < want && s.nheap) {
        bt_heap_ent top = heap_pop(&s);
        bt_pair *bp = &s.pair[top.pair];
        if (top.count != bp->count) { /* stale: requeue with the current count */
            if (bp->count > 0) heap_push(&s, top.pair);
            continue;
        }
        if (bp->count < minf) break;
        int32_t a = bp->left, b = bp->right, c = (int32_t)s.ntok;
        s.toff[c] = s.tbytes.n, s.tlen[c] = s.tlen[a] + s.tlen[b];
        tok_buf_reserve(&s.tbytes, s.tlen[c]);
        tok_buf_put(&s.tbytes, s.tbytes.p + s.toff[a], s.tlen[a]);
        tok_buf_put(&s.tbytes, s.tbytes.p + s.toff[b], s.tlen[b]);
        s.ntok++;
        merges[nmerges][0] = a, merges[nmerges][1] = b;
        nmerges++;
        step++;
        s.ntouched = 0;
        int32_t pidx = top.pair;
        /* s.pair may move while new pairs are created: re-read through the index */
        for (uint32_t k = 0; k < s.pair[pidx].nwhere; k++) {
            int32_t w = s.pair[pidx].where[k];
            if (s.wstamp[w] == step) continue;
            s.wstamp[w] = step;
            int32_t *x = s.sym + s.woff[w];
            uint32_t len = s.wlen[w], i = 0;
            int64_t wc = s.wcount[w];
            while (i + 1 < len) {
                if (x[i] != a || x[i + 1] != b) {
                    i++;
                    continue;
                }
                if (i > 0) {
                    change(&s, x[i - 1], a, -wc, w, step);
                    change(&s, x[i - 1], c, wc, w, step);
                }
                if (i + 2 < len) {
                    change(&s, b, x[i + 2], -wc, w, step);
                    change(&s, c, x[i + 2], wc, w, step);
                }
                x[i] = c;
                memmove(x + i + 1, x + i + 2, (len - i - 2) * sizeof *x);
                len--;
                i++;
            }
            s.wlen[w] = len;
        }
        s.pair[pidx].count = 0;
        free(s.pair[pidx].where);
        s.pair[pidx].where = NULL;
        s.pair[pidx].nwhere = s.pair[pidx].capwhere = 0;
        for (size_t k = 0; k < s.ntouched; k++) heap_push(&s, s.touched[k]);
        double now = gta_now();
        if (o->progress && (now - last > 1.0 || nmerges == want)) {
            double rate = (double)nmerges / (now - t1 > 0 ? now - t1 : 1e-9);
            fprintf(stderr, "tokenizer-train: merges %zu/%zu (%.0f merges/s, ETA %.0fs)\n", nmerges, want,
                    rate, rate > 0 ? (double)(want - nmerges) / rate : 0.0);
            last = now;
        }
    }
    if (o->progress)
        fprintf(stderr, "tokenizer-train: %zu merges, vocabulary %zu + %ld special tokens, %.1fs%s\n",
                nmerges, s.ntok, specials, gta_now() - t0,
                nmerges < want ? " (stopped early: no pair left at --min-frequency)" : "");
    rc = write_outputs(&s, (const int32_t(*)[2])merges, nmerges, o->out_dir);
    free(merges);
    state_free(&s);
    return rc;
}
