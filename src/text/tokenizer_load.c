/* Loading tokenizer.json (+ tokenizer_config.json, chat_template.jinja) into gta_tokenizer.
 * Every component type is checked against what tokenizer.c implements; anything else is an
 * error naming it, so that no file is ever tokenized "approximately". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "io/json.h"
#include "text/tok_internal.h"

#define MAX_ID (1 << 24) /* far above any real vocabulary; bounds the id-indexed tables */

static int bad(const gta_tokenizer *tok, const char *where, const char *fmt, const char *arg) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    return gta_err_set(GTA_EINPUT, "%s: %s: %s", tok->file, where, msg);
}

static const char *type_of(const cJSON *o) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* Optional boolean field; dflt when absent or null. */
static int get_bool(const gta_tokenizer *tok, const cJSON *o, const char *key, int dflt, int *out,
                    const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return *out = dflt, GTA_OK;
    if (!cJSON_IsBool(v)) {
        char w[256];
        snprintf(w, sizeof w, "%s.%s", where, key);
        return bad(tok, w, "expected true or false", NULL);
    }
    *out = cJSON_IsTrue(v);
    return GTA_OK;
}

static int get_str(const gta_tokenizer *tok, const cJSON *o, const char *key, const char **out,
                   const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    char w[256];
    snprintf(w, sizeof w, "%s.%s", where, key);
    if (!cJSON_IsString(v)) return bad(tok, w, "expected a string", NULL);
    *out = v->valuestring;
    return GTA_OK;
}

/* An integral JSON number in [0, MAX_ID). */
static int get_id(const cJSON *v, int32_t *id) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d < MAX_ID) || d != (double)(int32_t)d) return 0;
    *id = (int32_t)d;
    return 1;
}

/* ---------------- normalizers ---------------- */

static int parse_normalizer(gta_tokenizer *tok, const cJSON *o, const char *where) {
    if (!o || cJSON_IsNull(o)) return GTA_OK;
    const char *t = type_of(o);
    if (!cJSON_IsObject(o) || !t) return bad(tok, where, "expected an object with a \"type\"", NULL);
    if (!strcmp(t, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "normalizers"), *it;
        if (!cJSON_IsArray(list)) return bad(tok, where, "Sequence: expected an array \"normalizers\"", NULL);
        int i = 0;
        cJSON_ArrayForEach(it, list) {
            char w[256];
            snprintf(w, sizeof w, "%s.normalizers[%d]", where, i++);
            int rc = parse_normalizer(tok, it, w);
            if (rc) return rc;
        }
        return GTA_OK;
    }
    tok_norm n = {0};
    if (!strcmp(t, "NFC"))
        n.kind = NORM_NFC;
    else if (!strcmp(t, "NFD"))
        n.kind = NORM_NFD;
    else if (!strcmp(t, "NFKC"))
        n.kind = NORM_NFKC;
    else if (!strcmp(t, "NFKD"))
        n.kind = NORM_NFKD;
    else if (!strcmp(t, "Prepend")) {
        const char *s = NULL;
        int rc = get_str(tok, o, "prepend", &s, where);
        if (rc) return rc;
        n.kind = NORM_PREPEND, n.a = gta_strdup(s), n.alen = strlen(s);
    } else if (!strcmp(t, "Replace")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pattern");
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(pat, "String");
        const char *content = NULL;
        if (cJSON_GetObjectItemCaseSensitive(pat, "Regex"))
            return bad(tok, where, "normalizer Replace with a Regex pattern is not supported", NULL);
        if (!cJSON_IsString(ps) || !ps->valuestring[0])
            return bad(tok, where, "Replace: expected \"pattern\": {\"String\": ...}", NULL);
        int rc = get_str(tok, o, "content", &content, where);
        if (rc) return rc;
        n.kind = NORM_REPLACE;
        n.a = gta_strdup(ps->valuestring), n.alen = strlen(ps->valuestring);
        n.b = gta_strdup(content), n.blen = strlen(content);
    } else {
        return bad(tok, where, "normalizer type '%s' is not supported", t);
    }
    tok->norm = gta_realloc(tok->norm, (tok->nnorm + 1) * sizeof *tok->norm);
    tok->norm[tok->nnorm++] = n;
    return GTA_OK;
}

/* ---------------- pre-tokenizers ---------------- */

static int add_pre(gta_tokenizer *tok, tok_pre *p, const char *where) {
    if (tok->npre == 8) {
        if (p->has_re) tok_regex_free(&p->re);
        free(p->literal);
        return bad(tok, where, "more than 8 pre-tokenizers", NULL);
    }
    tok->pre = gta_realloc(tok->pre, (tok->npre + 1) * sizeof *tok->pre);
    tok->pre[tok->npre++] = *p;
    return GTA_OK;
}

static int parse_pre(gta_tokenizer *tok, const cJSON *o, const char *where) {
    if (!o || cJSON_IsNull(o)) return GTA_OK;
    const char *t = type_of(o);
    if (!cJSON_IsObject(o) || !t) return bad(tok, where, "expected an object with a \"type\"", NULL);
    int rc;
    if (!strcmp(t, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "pretokenizers"), *it;
        if (!cJSON_IsArray(list))
            return bad(tok, where, "Sequence: expected an array \"pretokenizers\"", NULL);
        int i = 0;
        cJSON_ArrayForEach(it, list) {
            char w[256];
            snprintf(w, sizeof w, "%s.pretokenizers[%d]", where, i++);
            if ((rc = parse_pre(tok, it, w))) return rc;
        }
        return GTA_OK;
    }
    tok_pre p = {0};
    if (!strcmp(t, "ByteLevel")) {
        int use_regex = 1;
        p.kind = PRE_BYTELEVEL;
        if ((rc = get_bool(tok, o, "add_prefix_space", 1, &p.add_prefix_space, where))) return rc;
        if ((rc = get_bool(tok, o, "use_regex", 1, &use_regex, where))) return rc;
        if (use_regex) {
            if ((rc = tok_regex_compile(&p.re, TOK_RE_GPT2, strlen(TOK_RE_GPT2), tok->file))) return rc;
            p.has_re = 1;
        }
        p.behavior = SPLIT_ISOLATED;
        return add_pre(tok, &p, where);
    }
    if (!strcmp(t, "Split")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pattern");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        const cJSON *lit = cJSON_GetObjectItemCaseSensitive(pat, "String");
        const char *beh = NULL;
        if ((rc = get_str(tok, o, "behavior", &beh, where))) return rc;
        if (!strcmp(beh, "Isolated"))
            p.behavior = SPLIT_ISOLATED;
        else if (!strcmp(beh, "Removed"))
            p.behavior = SPLIT_REMOVED;
        else if (!strcmp(beh, "MergedWithPrevious"))
            p.behavior = SPLIT_MERGED_PREV;
        else if (!strcmp(beh, "MergedWithNext"))
            p.behavior = SPLIT_MERGED_NEXT;
        else if (!strcmp(beh, "Contiguous"))
            p.behavior = SPLIT_CONTIGUOUS;
        else
            return bad(tok, where, "Split behavior '%s' is not supported", beh);
        if ((rc = get_bool(tok, o, "invert", 0, &p.invert, where))) return rc;
        p.kind = PRE_SPLIT;
        if (cJSON_IsString(re)) {
            char w[300];
            snprintf(w, sizeof w, "%s: %s", tok->file, where);
            if ((rc = tok_regex_compile(&p.re, re->valuestring, strlen(re->valuestring), w))) return rc;
            p.has_re = 1;
        } else if (cJSON_IsString(lit) && lit->valuestring[0]) {
            p.literal = gta_strdup(lit->valuestring);
            p.literal_len = strlen(lit->valuestring);
        } else {
            return bad(tok, where, "Split: expected \"pattern\": {\"Regex\": ...} or {\"String\": ...}",
                       NULL);
        }
        return add_pre(tok, &p, where);
    }
    return bad(tok, where, "pre_tokenizer type '%s' is not supported", t);
}

/* ---------------- decoders ---------------- */

static int parse_decoder(gta_tokenizer *tok, const cJSON *o, const char *where) {
    if (!o || cJSON_IsNull(o)) return GTA_OK;
    const char *t = type_of(o);
    if (!cJSON_IsObject(o) || !t) return bad(tok, where, "expected an object with a \"type\"", NULL);
    tok->has_decoder = 1;
    int rc;
    if (!strcmp(t, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "decoders"), *it;
        if (!cJSON_IsArray(list)) return bad(tok, where, "Sequence: expected an array \"decoders\"", NULL);
        int i = 0;
        cJSON_ArrayForEach(it, list) {
            char w[256];
            snprintf(w, sizeof w, "%s.decoders[%d]", where, i++);
            if ((rc = parse_decoder(tok, it, w))) return rc;
        }
        return GTA_OK;
    }
    tok_dec d = {0};
    if (!strcmp(t, "ByteLevel"))
        d.kind = DEC_BYTELEVEL;
    else if (!strcmp(t, "ByteFallback"))
        d.kind = DEC_BYTEFALLBACK;
    else if (!strcmp(t, "Fuse"))
        d.kind = DEC_FUSE;
    else if (!strcmp(t, "Replace")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pattern");
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(pat, "String");
        const char *content = NULL;
        if (!cJSON_IsString(ps) || !ps->valuestring[0])
            return bad(tok, where, "decoder Replace: only {\"String\": ...} patterns are supported", NULL);
        if ((rc = get_str(tok, o, "content", &content, where))) return rc;
        d.kind = DEC_REPLACE;
        d.a = gta_strdup(ps->valuestring), d.alen = strlen(ps->valuestring);
        d.b = gta_strdup(content), d.blen = strlen(content);
    } else if (!strcmp(t, "Strip")) {
        const char *content = NULL;
        long long start = 0, stop = 0;
        if ((rc = get_str(tok, o, "content", &content, where))) return rc;
        if (tok_utf8_valid_prefix(content, strlen(content)) != strlen(content) || !content[0])
            return bad(tok, where, "Strip: \"content\" must be one character", NULL);
        int32_t cp;
        if ((size_t)tok_utf8_decode(content, &cp) != strlen(content))
            return bad(tok, where, "Strip: \"content\" must be one character", NULL);
        if (gta_json_int_opt(tok->file, o, "start", &start) ||
            gta_json_int_opt(tok->file, o, "stop", &stop) || start < 0 || stop < 0 || start > 1000000 ||
            stop > 1000000)
            return bad(tok, where, "Strip: \"start\" and \"stop\" must be small non-negative integers", NULL);
        d.kind = DEC_STRIP, d.strip_cp = cp, d.start = (int)start, d.stop = (int)stop;
    } else {
        return bad(tok, where, "decoder type '%s' is not supported", t);
    }
    tok->dec = gta_realloc(tok->dec, (tok->ndec + 1) * sizeof *tok->dec);
    tok->dec[tok->ndec++] = d;
    return GTA_OK;
}

/* ---------------- post-processors ---------------- */

static int parse_template(gta_tokenizer *tok, const cJSON *o, const char *where) {
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(o, "single"), *it;
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(o, "special_tokens");
    if (!cJSON_IsArray(single))
        return bad(tok, where, "TemplateProcessing: expected an array \"single\"", NULL);
    gta_ids pre = {0}, post = {0};
    int seen_a = 0, i = 0, rc = GTA_OK;
    cJSON_ArrayForEach(it, single) {
        char w[256];
        snprintf(w, sizeof w, "%s.single[%d]", where, i++);
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
        if (sq) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(sq, "id");
            if (!cJSON_IsString(id) || strcmp(id->valuestring, "A") || seen_a) {
                rc = bad(tok, w, "expected the sequence \"A\" once", NULL);
                break;
            }
            seen_a = 1;
            continue;
        }
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(sp, "id");
        if (!cJSON_IsString(name)) {
            rc = bad(tok, w, "expected {\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...}", NULL);
            break;
        }
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(specials, name->valuestring);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(def, "ids"), *x;
        if (!cJSON_IsArray(ids)) {
            rc = bad(tok, w, "special token '%s' has no \"ids\" in \"special_tokens\"", name->valuestring);
            break;
        }
        cJSON_ArrayForEach(x, ids) {
            int32_t id;
            if (!get_id(x, &id) || id >= tok->vocab_size) {
                rc = bad(tok, w, "special token '%s': ids must be ids of the vocabulary", name->valuestring);
                break;
            }
            tok_ids_push(seen_a ? &post : &pre, id);
        }
        if (rc) break;
    }
    if (!rc && !seen_a) rc = bad(tok, where, "TemplateProcessing: \"single\" lacks the sequence \"A\"", NULL);
    if (!rc) {
        /* a later processor wraps what the earlier ones produced */
        gta_ids np = {0};
        tok_ids_append(&np, pre.ids, pre.n);
        tok_ids_append(&np, tok->post_prefix.ids, tok->post_prefix.n);
        gta_ids_free(&tok->post_prefix);
        tok->post_prefix = np;
        tok_ids_append(&tok->post_suffix, post.ids, post.n);
    }
    gta_ids_free(&pre);
    gta_ids_free(&post);
    return rc;
}

static int parse_post(gta_tokenizer *tok, const cJSON *o, const char *where) {
    if (!o || cJSON_IsNull(o)) return GTA_OK;
    const char *t = type_of(o);
    if (!cJSON_IsObject(o) || !t) return bad(tok, where, "expected an object with a \"type\"", NULL);
    if (!strcmp(t, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "processors"), *it;
        if (!cJSON_IsArray(list)) return bad(tok, where, "Sequence: expected an array \"processors\"", NULL);
        int i = 0;
        cJSON_ArrayForEach(it, list) {
            char w[256];
            snprintf(w, sizeof w, "%s.processors[%d]", where, i++);
            int rc = parse_post(tok, it, w);
            if (rc) return rc;
        }
        return GTA_OK;
    }
    if (!strcmp(t, "ByteLevel")) return GTA_OK; /* only adjusts offsets, which we do not report */
    if (!strcmp(t, "TemplateProcessing")) return parse_template(tok, o, where);
    return bad(tok, where, "post_processor type '%s' is not supported", t);
}

/* ---------------- model ---------------- */

static int parse_model(gta_tokenizer *tok, const cJSON *m, const cJSON *added_json) {
    if (!cJSON_IsObject(m)) return bad(tok, "model", "expected an object", NULL);
    const char *t = type_of(m);
    /* old files (GPT-2) have no "type"; HF then takes the BPE shape */
    if (t && strcmp(t, "BPE")) return bad(tok, "model", "model type '%s' is not supported (only BPE)", t);
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(m, "merges");
    if (!cJSON_IsObject(vocab)) return bad(tok, "model.vocab", "expected an object of token -> id", NULL);
    if (!cJSON_IsArray(merges)) return bad(tok, "model.merges", "expected an array", NULL);
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(m, "dropout");
    if (drop && !cJSON_IsNull(drop) && !(cJSON_IsNumber(drop) && drop->valuedouble == 0))
        return bad(tok, "model.dropout", "BPE dropout is not supported", NULL);
    const char *fixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, fixes[i]);
        if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && !v->valuestring[0]))
            return bad(tok, "model", "a non-empty '%s' is not supported", fixes[i]);
    }
    int rc;
    if ((rc = get_bool(tok, m, "fuse_unk", 0, &tok->fuse_unk, "model"))) return rc;
    if ((rc = get_bool(tok, m, "byte_fallback", 0, &tok->byte_fallback, "model"))) return rc;
    if ((rc = get_bool(tok, m, "ignore_merges", 0, &tok->ignore_merges, "model"))) return rc;

    /* vocabulary */
    int32_t max_id = -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        int32_t id;
        if (!get_id(it, &id))
            return bad(tok, "model.vocab", "token '%s': expected a non-negative integer id", it->string);
        tok_smap_put(&tok->vocab, it->string, strlen(it->string), id);
        if (id > max_id) max_id = id;
    }
    if (!cJSON_IsArray(added_json) && added_json && !cJSON_IsNull(added_json))
        return bad(tok, "added_tokens", "expected an array", NULL);
    cJSON_ArrayForEach(it, added_json) {
        int32_t id;
        if (!get_id(cJSON_GetObjectItemCaseSensitive(it, "id"), &id))
            return bad(tok, "added_tokens", "each token needs a non-negative integer \"id\"", NULL);
        if (id > max_id) max_id = id;
    }
    tok->vocab_size = max_id + 1;
    size_t V = (size_t)tok->vocab_size;
    tok->str_off = gta_malloc((V ? V : 1) * sizeof *tok->str_off);
    tok->str_len = gta_malloc((V ? V : 1) * sizeof *tok->str_len);
    tok->added_of = gta_malloc((V ? V : 1) * sizeof *tok->added_of);
    for (size_t i = 0; i < V; i++) tok->str_len[i] = UINT32_MAX, tok->added_of[i] = -1;
    for (size_t j = 0; j < tok->vocab.cap; j++) {
        const tok_smap_ent *e = &tok->vocab.slot[j];
        if (!e->h) continue;
        /* several strings for one id: keep the first in file order (smallest key offset) */
        if (tok->str_len[e->val] == UINT32_MAX || e->off < tok->str_off[e->val])
            tok->str_off[e->val] = e->off, tok->str_len[e->val] = e->len;
    }

    /* byte-level: the same vocabulary keyed by raw bytes */
    for (int b = 0; b < 256; b++) tok->byte_id[b] = -1;
    if (tok->byte_level) {
        char *tmp = gta_malloc(1024);
        for (size_t id = 0; id < V; id++) {
            if (tok->str_len[id] == UINT32_MAX) continue;
            const char *s = tok->vocab.keys.p + tok->str_off[id];
            size_t n = tok->str_len[id], k = 0, i = 0;
            int ok = n < 1024;
            while (ok && i < n) {
                int32_t cp;
                if (tok_utf8_valid_prefix(s + i, n - i) == 0) {
                    ok = 0;
                    break;
                }
                i += (size_t)tok_utf8_decode(s + i, &cp);
                int b = tok_cp_to_byte(cp);
                if (b < 0)
                    ok = 0;
                else
                    tmp[k++] = (char)b;
            }
            if (ok && k) tok_smap_put(&tok->raw, tmp, k, (int32_t)id);
        }
        free(tmp);
        for (int b = 0; b < 256; b++) {
            char c = (char)b;
            tok->byte_id[b] = tok_smap_get(&tok->raw, &c, 1);
        }
    } else if (tok->byte_fallback) {
        for (int b = 0; b < 256; b++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            tok->byte_id[b] = tok_smap_get(&tok->vocab, name, strlen(name));
        }
    }

    /* merges, in either layout: "a b" or ["a", "b"] */
    size_t nm = (size_t)cJSON_GetArraySize(merges), cap = 16;
    while (cap < nm * 2) cap *= 2;
    tok->merges_cap = cap;
    tok->merges = gta_malloc(cap * sizeof *tok->merges);
    for (size_t i = 0; i < cap; i++) tok->merges[i].key = UINT64_MAX;
    tok_buf cat = {0};
    int32_t rank = 0;
    rc = GTA_OK;
    cJSON_ArrayForEach(it, merges) {
        char w[64];
        snprintf(w, sizeof w, "model.merges[%d]", rank);
        const char *a, *b;
        size_t alen, blen;
        if (cJSON_IsString(it)) {
            const char *s = it->valuestring, *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                rc = bad(tok, w, "expected \"a b\" (two tokens separated by one space), got '%s'", s);
                break;
            }
            a = s, alen = (size_t)(sp - s), b = sp + 1, blen = strlen(b);
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) &&
                   cJSON_IsString(it->child->next)) {
            a = it->child->valuestring, alen = strlen(a);
            b = it->child->next->valuestring, blen = strlen(b);
        } else {
            rc = bad(tok, w, "expected \"a b\" or [\"a\", \"b\"]", NULL);
            break;
        }
        int32_t ia = tok_smap_get(&tok->vocab, a, alen), ib = tok_smap_get(&tok->vocab, b, blen);
        cat.n = 0;
        tok_buf_put(&cat, a, alen);
        tok_buf_put(&cat, b, blen);
        int32_t ic = tok_smap_get(&tok->vocab, cat.p, cat.n);
        if (ia < 0 || ib < 0 || ic < 0) {
            char tokname[300];
            snprintf(tokname, sizeof tokname, "%.*s",
                     (int)(ia < 0   ? alen
                           : ib < 0 ? blen
                                    : cat.n),
                     ia < 0   ? a
                     : ib < 0 ? b
                              : cat.p);
            rc = bad(tok, w, "token '%s' is not in the vocabulary", tokname);
            break;
        }
        tok_merge_put(tok, ia, ib, rank, ic);
        rank++;
    }
    tok_buf_free(&cat);
    if (rc) return rc;

    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(m, "unk_token");
    tok->unk_id = -1;
    if (unk && !cJSON_IsNull(unk)) {
        if (!cJSON_IsString(unk)) return bad(tok, "model.unk_token", "expected a string or null", NULL);
        tok->unk_id = tok_smap_get(&tok->vocab, unk->valuestring, strlen(unk->valuestring));
        if (tok->unk_id < 0)
            return bad(tok, "model.unk_token", "'%s' is not in the vocabulary", unk->valuestring);
    }
    return GTA_OK;
}

/* ---------------- added tokens ---------------- */

static void trie_init(tok_trie *t) {
    memset(t, 0, sizeof *t);
    t->cap = 16;
    t->node = gta_malloc(t->cap * sizeof *t->node);
    t->node[0] = (tok_trie_node){-1, -1, -1, 0};
    t->n = 1;
}

static void trie_add(tok_trie *t, const char *s, size_t n, int32_t token) {
    int32_t cur = 0;
    t->first[(uint8_t)s[0]] = 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        int32_t ch = t->node[cur].child;
        while (ch >= 0 && t->node[ch].byte != c) ch = t->node[ch].sibling;
        if (ch < 0) {
            if (t->n == t->cap) t->cap *= 2, t->node = gta_realloc(t->node, t->cap * sizeof *t->node);
            ch = (int32_t)t->n++;
            t->node[ch] = (tok_trie_node){-1, t->node[cur].child, -1, c};
            t->node[cur].child = ch;
        }
        cur = ch;
    }
    if (t->node[cur].token < 0) t->node[cur].token = token; /* first definition wins */
}

int tok_normalize(gta_tokenizer *tok, const char *s, size_t n, const char **out, size_t *outlen);

static int parse_added(gta_tokenizer *tok, const cJSON *arr) {
    trie_init(&tok->trie_raw);
    trie_init(&tok->trie_norm);
    const cJSON *it;
    int i = 0, rc;
    /* HF re-numbers added tokens as it adds them (an id from the vocabulary or the added
     * tokens so far, else the next free one) and only warns when the file says otherwise;
     * a file whose ids disagree with that numbering is refused rather than guessed at. */
    int32_t max_added = -1, model_size = (int32_t)tok->vocab.n;
    cJSON_ArrayForEach(it, arr) {
        char w[64];
        snprintf(w, sizeof w, "added_tokens[%d]", i++);
        int32_t id = 0;
        get_id(cJSON_GetObjectItemCaseSensitive(it, "id"), &id); /* checked in parse_model */
        const char *content = NULL;
        if ((rc = get_str(tok, it, "content", &content, w))) return rc;
        size_t clen = strlen(content);
        if (!clen) return bad(tok, w, "empty \"content\"", NULL);
        if (tok_utf8_valid_prefix(content, clen) != clen)
            return bad(tok, w, "\"content\" is not valid UTF-8", NULL);
        int32_t expect = -1;
        for (size_t k = 0; k < tok->nadded && expect < 0; k++)
            if (tok->added[k].len == clen && !memcmp(tok->added_text.p + tok->added[k].off, content, clen))
                expect = tok->added[k].id;
        if (expect < 0) expect = tok_smap_get(&tok->vocab, content, clen);
        if (expect < 0) expect = max_added < 0 || max_added < model_size ? model_size : max_added + 1;
        if (expect != id) {
            char msg[300];
            snprintf(msg, sizeof msg, "token '%.200s' has id %d where HF tokenizers would give it id %d",
                     content, (int)id, (int)expect);
            return bad(tok, w, "%s", msg);
        }
        if (expect > max_added) max_added = expect;
        int sw = 0, ls = 0, rs = 0, norm = 0, special = 0;
        if ((rc = get_bool(tok, it, "special", 0, &special, w))) return rc;
        if ((rc = get_bool(tok, it, "single_word", 0, &sw, w)) ||
            (rc = get_bool(tok, it, "lstrip", 0, &ls, w)) || (rc = get_bool(tok, it, "rstrip", 0, &rs, w)) ||
            (rc = get_bool(tok, it, "normalized", !special, &norm, w)))
            return rc;
        tok->added = gta_realloc(tok->added, (tok->nadded + 1) * sizeof *tok->added);
        tok_added *a = &tok->added[tok->nadded];
        a->id = id;
        a->off = (uint32_t)tok->added_text.n, a->len = (uint32_t)clen;
        tok_buf_put(&tok->added_text, content, clen + 1);
        a->single_word = (uint8_t)sw, a->lstrip = (uint8_t)ls, a->rstrip = (uint8_t)rs;
        a->normalized = (uint8_t)norm, a->special = (uint8_t)special;
        a->noff = a->off, a->nlen = a->len;
        if (norm && tok->nnorm) {
            const char *ns;
            size_t nn;
            if ((rc = tok_normalize(tok, content, clen, &ns, &nn))) return rc;
            a->noff = (uint32_t)tok->added_text.n, a->nlen = (uint32_t)nn;
            tok_buf_put(&tok->added_text, ns, nn);
            tok_buf_putc(&tok->added_text, 0);
        }
        if (tok->added_of[id] < 0) tok->added_of[id] = (int32_t)tok->nadded;
        tok->nadded++;
    }
    for (size_t k = 0; k < tok->nadded; k++) {
        tok_added *a = &tok->added[k];
        if (a->normalized) {
            if (a->nlen) trie_add(&tok->trie_norm, tok->added_text.p + a->noff, a->nlen, (int32_t)k);
        } else {
            trie_add(&tok->trie_raw, tok->added_text.p + a->off, a->len, (int32_t)k);
        }
    }
    return GTA_OK;
}

/* ---------------- tokenizer_config.json ---------------- */

static char *token_name(const cJSON *v) {
    if (cJSON_IsString(v)) return gta_strdup(v->valuestring);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (cJSON_IsObject(v) && cJSON_IsString(c)) return gta_strdup(c->valuestring);
    return NULL;
}

static int load_config(gta_tokenizer *tok, const char *dir) {
    char *cfg = gta_path_join(dir, "tokenizer_config.json");
    char *jinja = gta_path_join(dir, "chat_template.jinja");
    int rc = GTA_OK;
    tok->eos_id = tok->bos_id = -1;
    if (gta_file_exists(cfg)) {
        cJSON *j = NULL;
        if ((rc = gta_json_load(cfg, &j))) goto out;
        tok->config_file = gta_strdup(cfg);
        tok->bos_token = token_name(cJSON_GetObjectItemCaseSensitive(j, "bos_token"));
        tok->eos_token = token_name(cJSON_GetObjectItemCaseSensitive(j, "eos_token"));
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(j, "chat_template"), *it;
        if (cJSON_IsString(ct))
            tok->chat_template = gta_strdup(ct->valuestring);
        else if (cJSON_IsArray(ct)) {
            cJSON_ArrayForEach(it, ct) {
                const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
                const cJSON *tp = cJSON_GetObjectItemCaseSensitive(it, "template");
                if (cJSON_IsString(nm) && !strcmp(nm->valuestring, "default") && cJSON_IsString(tp))
                    tok->chat_template = gta_strdup(tp->valuestring);
            }
        }
        cJSON_Delete(j);
    }
    if (gta_file_exists(jinja)) {
        char *data;
        size_t len;
        if ((rc = gta_read_file(jinja, &data, &len))) goto out;
        free(tok->chat_template);
        tok->chat_template = data;
    }
    if (tok->bos_token) tok->bos_id = gta_tokenizer_token_to_id(tok, tok->bos_token);
    if (tok->eos_token) tok->eos_id = gta_tokenizer_token_to_id(tok, tok->eos_token);
    tok->family = tok->chat_template ? tok_chat_detect(tok->chat_template) : GTA_CHAT_NONE;
out:
    free(cfg);
    free(jinja);
    return rc;
}

/* ---------------- entry points ---------------- */

int gta_tokenizer_load(const char *path, gta_tokenizer **out) {
    *out = NULL;
    char *file, *dir;
    if (gta_is_dir(path)) {
        file = gta_path_join(path, "tokenizer.json");
        dir = gta_strdup(path);
    } else {
        file = gta_strdup(path);
        const char *sl = strrchr(path, '/');
        dir = sl ? gta_strdup(path) : gta_strdup(".");
        if (sl) dir[sl - path] = 0;
        if (sl == path) strcpy(dir, "/");
    }
    gta_tokenizer *tok = gta_calloc(1, sizeof *tok);
    tok->file = file;
    tok->unk_id = tok->eos_id = tok->bos_id = -1;
    cJSON *root = NULL;
    int rc = gta_json_load(file, &root);
    if (rc) goto fail;
    if (!cJSON_IsObject(root)) {
        rc = bad(tok, "top level", "expected an object", NULL);
        goto fail;
    }
    if ((rc = parse_normalizer(tok, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "normalizer")))
        goto fail;
    if ((rc = parse_pre(tok, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "pre_tokenizer")))
        goto fail;
    for (size_t i = 0; i < tok->npre; i++) {
        if (tok->pre[i].kind == PRE_BYTELEVEL && i + 1 != tok->npre) {
            rc = bad(tok, "pre_tokenizer", "ByteLevel must be the last pre-tokenizer", NULL);
            goto fail;
        }
    }
    tok->byte_level = tok->npre && tok->pre[tok->npre - 1].kind == PRE_BYTELEVEL;
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_HasObjectItem(root, "model")) {
        rc = bad(tok, "model", "missing", NULL);
        goto fail;
    }
    if ((rc = parse_model(tok, cJSON_GetObjectItemCaseSensitive(root, "model"), added))) goto fail;
    if ((rc = parse_added(tok, added))) goto fail;
    if ((rc = parse_post(tok, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), "post_processor")))
        goto fail;
    if ((rc = parse_decoder(tok, cJSON_GetObjectItemCaseSensitive(root, "decoder"), "decoder"))) goto fail;
    const cJSON *trunc = cJSON_GetObjectItemCaseSensitive(root, "truncation");
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(root, "padding");
    if ((trunc && !cJSON_IsNull(trunc)) || (pad && !cJSON_IsNull(pad))) {
        rc = bad(tok, trunc && !cJSON_IsNull(trunc) ? "truncation" : "padding",
                 "is not supported (expected null)", NULL);
        goto fail;
    }
    cJSON_Delete(root);
    root = NULL;
    if ((rc = load_config(tok, dir))) goto fail;
    free(dir);
    *out = tok;
    return GTA_OK;
fail:
    cJSON_Delete(root);
    free(dir);
    gta_tokenizer_free(tok);
    return rc;
}

void gta_tokenizer_free(gta_tokenizer *tok) {
    if (!tok) return;
    free(tok->file);
    free(tok->config_file);
    tok_smap_free(&tok->vocab);
    tok_smap_free(&tok->raw);
    free(tok->str_off);
    free(tok->str_len);
    free(tok->added_of);
    free(tok->merges);
    free(tok->added);
    tok_buf_free(&tok->added_text);
    free(tok->trie_raw.node);
    free(tok->trie_norm.node);
    for (size_t i = 0; i < tok->nnorm; i++) free(tok->norm[i].a), free(tok->norm[i].b);
    free(tok->norm);
    for (size_t i = 0; i < tok->npre; i++) {
        if (tok->pre[i].has_re) tok_regex_free(&tok->pre[i].re);
        free(tok->pre[i].literal);
    }
    free(tok->pre);
    for (size_t i = 0; i < tok->ndec; i++) free(tok->dec[i].a), free(tok->dec[i].b);
    free(tok->dec);
    gta_ids_free(&tok->post_prefix);
    gta_ids_free(&tok->post_suffix);
    free(tok->bos_token);
    free(tok->eos_token);
    free(tok->chat_template);
    tok_smap_free(&tok->cache);
    gta_ids_free(&tok->cache_ids);
    for (int i = 0; i < 2; i++) tok_buf_free(&tok->nbuf[i]);
    for (int i = 0; i < 8; i++) tok_buf_free(&tok->pbuf[i]), free(tok->pspans[i].v);
    free(tok->aspans[0].v);
    free(tok->aspans[1].v);
    free(tok->sym_id);
    free(tok->sym_prev);
    free(tok->sym_next);
    free(tok->heap);
    free(tok);
}
