/* gta tokenize: text <-> ids with a tokenizer.json, and chat rendering. Output is buffered
 * and written only when every input line succeeded, so an error never leaves half a result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "io/json.h"
#include "text/tok_internal.h"

static void put_ids(tok_buf *b, const gta_ids *ids) {
    char num[16];
    tok_buf_putc(b, '[');
    for (size_t i = 0; i < ids->n; i++) {
        int k = snprintf(num, sizeof num, i ? ", %d" : "%d", (int)ids->ids[i]);
        tok_buf_put(b, num, (size_t)k);
    }
    tok_buf_putc(b, ']');
}

static void put_text_line(tok_buf *b, const char *text, size_t n) {
    tok_buf_puts(b, "{\"text\": ");
    tok_buf_put_json_str(b, text, n);
    tok_buf_puts(b, "}\n");
}

static void put_ids_line(tok_buf *b, const gta_ids *ids) {
    tok_buf_puts(b, "{\"ids\": ");
    put_ids(b, ids);
    tok_buf_puts(b, "}\n");
}

/* Ids from a JSON array, or from "1,2,3" (for --decode --text). */
static int parse_ids(const cJSON *arr, const char *text, gta_ids *ids, const char *where) {
    ids->n = 0;
    if (arr) {
        const cJSON *it;
        if (!cJSON_IsArray(arr)) return gta_err_set(GTA_EINPUT, "%s: expected an array of token ids", where);
        cJSON_ArrayForEach(it, arr) {
            double d = it->valuedouble;
            if (!cJSON_IsNumber(it) || d != (double)(int32_t)d)
                return gta_err_set(GTA_EINPUT, "%s: expected an array of integer token ids", where);
            tok_ids_push(ids, (int32_t)d);
        }
        return GTA_OK;
    }
    const char *p = text;
    while (*p == ' ' || *p == '[') p++;
    while (*p && *p != ']') {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < INT32_MIN || v > INT32_MAX)
            return gta_err_set(GTA_EINPUT, "%s: expected token ids like 1,2,3, got '%s'", where, text);
        tok_ids_push(ids, (int32_t)v);
        p = end;
        while (*p == ' ' || *p == ',') p++;
    }
    return GTA_OK;
}

static int run_jsonl(gta_tokenizer *tok, const char *path, const char *field, int decode, int add_special,
                     int skip_special, tok_buf *out) {
    char *data;
    size_t len;
    int rc = gta_read_file(path, &data, &len);
    if (rc) return rc;
    gta_ids ids = {0};
    tok_buf tb = {0};
    size_t lineno = 0;
    char *p = data, *end = data + len;
    while (p < end && !rc) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end, *s = p;
        p = nl ? nl + 1 : end;
        lineno++;
        while (s < le && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
        if (s == le) continue; /* blank line: not a record */
        char where[1100];
        snprintf(where, sizeof where, "%s:%zu", path, lineno);
        cJSON *j = cJSON_ParseWithLength(s, (size_t)(le - s));
        if (!cJSON_IsObject(j)) {
            rc = gta_err_set(GTA_EINPUT, "%s: expected one JSON object per line", where);
        } else if (decode) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, field);
            char w2[1200];
            snprintf(w2, sizeof w2, "%s: field \"%s\"", where, field);
            if (!f)
                rc = gta_err_set(GTA_EINPUT, "%s: missing", w2);
            else if (!(rc = parse_ids(f, NULL, &ids, w2))) {
                char *text;
                size_t tl;
                if ((rc = gta_tokenizer_decode(tok, ids.ids, ids.n, skip_special, &text, &tl)))
                    gta_err_prefix(rc, "%s", where);
                else {
                    put_text_line(out, text, tl);
                    free(text);
                }
            }
        } else {
            int got = tok_json_field_str(s, (size_t)(le - s), field, &tb);
            if (got != 1) {
                rc = gta_err_set(GTA_EINPUT, "%s: field \"%s\" missing or not a string", where, field);
            } else {
                ids.n = 0;
                if ((rc = gta_tokenizer_encode(tok, tb.p, tb.n, add_special, &ids)))
                    gta_err_prefix(rc, "%s", where);
                else
                    put_ids_line(out, &ids);
            }
        }
        cJSON_Delete(j);
    }
    gta_ids_free(&ids);
    tok_buf_free(&tb);
    free(data);
    return rc;
}

static int run_chat(gta_tokenizer *tok, const char *path, tok_buf *out) {
    cJSON *req = NULL;
    int rc = gta_json_load(path, &req);
    if (rc) return rc;
    char *text = NULL;
    gta_ids ids = {0};
    if (!(rc = gta_chat_render_json(tok, req, path, &text)) &&
        !(rc = gta_tokenizer_encode(tok, text, strlen(text), 0, &ids))) {
        tok_buf_puts(out, "{\"text\": ");
        tok_buf_put_json_str(out, text, strlen(text));
        tok_buf_puts(out, ", \"ids\": ");
        put_ids(out, &ids);
        tok_buf_puts(out, "}\n");
    }
    free(text);
    gta_ids_free(&ids);
    cJSON_Delete(req);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    const char *tokenizer = NULL, *text = NULL, *jsonl = NULL, *field = NULL, *chat = NULL;
    int decode = 0, add_special = 0, skip_special = 0;
    const arg_spec specs[] = {
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer directory or tokenizer.json (required)"},
        {"text", ARG_STR, &text, "one text (with --decode: ids like 1,2,3)"},
        {"jsonl", ARG_STR, &jsonl, "one JSON object per line"},
        {"field", ARG_STR, &field, "field of each jsonl line (default text; ids with --decode)"},
        {"decode", ARG_FLAG, &decode, "ids -> text"},
        {"chat", ARG_STR, &chat, "render {\"messages\": [...], ...} with the chat template and encode it"},
        {"add-special", ARG_FLAG, &add_special, "add what the post-processor adds (e.g. Llama's BOS)"},
        {"skip-special", ARG_FLAG, &skip_special, "with --decode: drop special tokens"},
    };
    const int nspecs = (int)(sizeof specs / sizeof specs[0]);
    const char *synopsis =
        "--tokenizer DIR|FILE (--text S | --jsonl F [--field text] | --chat F.json) [--decode] "
        "[--add-special]";
    int rc = args_parse("tokenize", argc, argv, specs, nspecs);
    if (rc < 0) {
        args_usage("tokenize", synopsis, specs, nspecs);
        return 0;
    }
    if (rc) return cli_fail(rc);
    if (!tokenizer) {
        gta_err_set(GTA_EINPUT, "gta tokenize: --tokenizer is required (see gta tokenize --help)");
        return cli_fail(GTA_EINPUT);
    }
    if ((!!text + !!jsonl + !!chat) != 1) {
        gta_err_set(GTA_EINPUT, "gta tokenize: give exactly one of --text, --jsonl, --chat");
        return cli_fail(GTA_EINPUT);
    }
    if (chat && decode) {
        gta_err_set(GTA_EINPUT, "gta tokenize: --chat cannot be combined with --decode");
        return cli_fail(GTA_EINPUT);
    }
    gta_tokenizer *tok = NULL;
    if ((rc = gta_tokenizer_load(tokenizer, &tok))) return cli_fail(rc);
    tok_buf out = {0};
    if (chat) {
        rc = run_chat(tok, chat, &out);
    } else if (jsonl) {
        rc = run_jsonl(tok, jsonl,
                       field    ? field
                       : decode ? "ids"
                                : "text",
                       decode, add_special, skip_special, &out);
    } else if (decode) {
        gta_ids ids = {0};
        char *s = NULL;
        size_t n;
        if (!(rc = parse_ids(NULL, text, &ids, "--text")) &&
            !(rc = gta_tokenizer_decode(tok, ids.ids, ids.n, skip_special, &s, &n)))
            put_text_line(&out, s, n);
        free(s);
        gta_ids_free(&ids);
    } else {
        gta_ids ids = {0};
        if ((rc = gta_tokenizer_encode(tok, text, strlen(text), add_special, &ids)))
            gta_err_prefix(rc, "--text");
        else
            put_ids_line(&out, &ids);
        gta_ids_free(&ids);
    }
    gta_tokenizer_free(tok);
    if (rc) {
        tok_buf_free(&out);
        return cli_fail(rc);
    }
    if (out.n && fwrite(out.p, 1, out.n, stdout) != out.n) rc = GTA_EFAIL;
    tok_buf_free(&out);
    if (fflush(stdout) || rc) {
        gta_err_set(GTA_EFAIL, "gta tokenize: cannot write the output");
        return cli_fail(GTA_EFAIL);
    }
    return 0;
}
