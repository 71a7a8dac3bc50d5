/* Chat templates without a Jinja engine: the template text of tokenizer_config.json is
 * recognized exactly (by hash) and each known template is re-written here in C, following
 * its Jinja source line by line (trim_blocks/lstrip_blocks as transformers sets them). A
 * template we do not know is an error, never a guess. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "io/json.h"
#include "text/tok_internal.h"

/* The template that `gta tokenizer-train` writes (ChatML, no default system prompt). */
const char *const TOK_CHATML_TEMPLATE =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% "
    "endif %}";

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* FNV-1a 64 of the exact template texts as published with each model family. */
static const struct {
    uint64_t hash;
    gta_chat_family family;
} known[] = {
    {0x2bfdb7aa9754484eull, GTA_CHAT_QWEN3},   /* Qwen3 (hybrid thinking) */
    {0xc2b27ee60f1b8775ull, GTA_CHAT_QWEN25},  /* Qwen2.5 Instruct */
    {0x0e60067a5537498eull, GTA_CHAT_LLAMA3},  /* Meta-Llama-3 Instruct */
    {0x0ac29b9538e2befaull, GTA_CHAT_LLAMA32}, /* Llama 3.2 Instruct */
};

gta_chat_family tok_chat_detect(const char *tmpl) {
    uint64_t h = fnv1a(tmpl);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].hash == h) return known[i].family;
    if (!strcmp(tmpl, TOK_CHATML_TEMPLATE)) return GTA_CHAT_CHATML;
    return GTA_CHAT_UNKNOWN;
}

gta_chat_family gta_tokenizer_chat_family(const gta_tokenizer *tok) { return tok->family; }

const char *gta_chat_family_name(gta_chat_family f) {
    switch (f) {
    case GTA_CHAT_NONE:
        return "none";
    case GTA_CHAT_UNKNOWN:
        return "unknown";
    case GTA_CHAT_QWEN25:
        return "qwen2.5";
    case GTA_CHAT_QWEN3:
        return "qwen3";
    case GTA_CHAT_LLAMA3:
        return "llama3";
    case GTA_CHAT_LLAMA32:
        return "llama3.2";
    case GTA_CHAT_CHATML:
        return "chatml";
    }
    return "?";
}

/* ---- Python string methods the templates use ---- */

typedef struct {
    const char *p;
    size_t n;
} sv;

static sv sv_of(const char *s) { return (sv){s, strlen(s)}; }

/* str.strip() with no argument: Python whitespace (what Jinja's |trim does) */
static sv py_strip(sv s) {
    while (s.n) {
        int32_t cp;
        int k = tok_utf8_decode(s.p, &cp);
        if (!tok_py_isspace(cp)) break;
        s.p += k, s.n -= (size_t)k;
    }
    while (s.n) {
        size_t i = s.n - 1;
        while (i > 0 && ((unsigned char)s.p[i] & 0xC0) == 0x80) i--;
        int32_t cp;
        tok_utf8_decode(s.p + i, &cp);
        if (!tok_py_isspace(cp)) break;
        s.n = i;
    }
    return s;
}

static sv lstrip_nl(sv s) {
    while (s.n && s.p[0] == '\n') s.p++, s.n--;
    return s;
}
static sv rstrip_nl(sv s) {
    while (s.n && s.p[s.n - 1] == '\n') s.n--;
    return s;
}

static const char *sv_find(sv s, const char *pat) { return memmem(s.p, s.n, pat, strlen(pat)); }

static const char *sv_rfind(sv s, const char *pat) {
    size_t m = strlen(pat);
    for (size_t i = s.n >= m ? s.n - m + 1 : 0; i-- > 0;)
        if (!memcmp(s.p + i, pat, m)) return s.p + i;
    return NULL;
}

static int starts_with(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }
static int ends_with(const char *s, const char *p) {
    size_t n = strlen(s), m = strlen(p);
    return n >= m && !memcmp(s + n - m, p, m);
}

static void put(tok_buf *b, const char *s) { tok_buf_puts(b, s); }
static void put_sv(tok_buf *b, sv s) { tok_buf_put(b, s.p, s.n); }

/* ---- the families ---- */

static int render_qwen25(const gta_chat_message *m, size_t n, const gta_chat_options *o, tok_buf *b) {
    if (n && !strcmp(m[0].role, "system")) {
        put(b, "<|im_start|>system\n"), put(b, m[0].content), put(b, "<|im_end|>\n");
    } else {
        put(b, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
               "assistant.<|im_end|>\n");
    }
    for (size_t i = 0; i < n; i++) {
        const char *r = m[i].role;
        if (!strcmp(r, "user") || (!strcmp(r, "system") && i > 0) || !strcmp(r, "assistant")) {
            put(b, "<|im_start|>"), put(b, r), put(b, "\n"), put(b, m[i].content), put(b, "<|im_end|>\n");
        } else if (!strcmp(r, "tool")) {
            if (i == 0 || strcmp(m[i - 1].role, "tool")) put(b, "<|im_start|>user");
            put(b, "\n<tool_response>\n"), put(b, m[i].content), put(b, "\n</tool_response>");
            if (i + 1 == n || strcmp(m[i + 1].role, "tool")) put(b, "<|im_end|>\n");
        }
        /* any other role renders nothing in this template */
    }
    if (o->add_generation_prompt) put(b, "<|im_start|>assistant\n");
    return GTA_OK;
}

static int render_qwen3(const gta_chat_message *m, size_t n, const gta_chat_options *o, tok_buf *b) {
    if (n && !strcmp(m[0].role, "system"))
        put(b, "<|im_start|>system\n"), put(b, m[0].content), put(b, "<|im_end|>\n");
    /* index of the last real user query (tool responses wrapped as user turns do not count) */
    int multi_step_tool = 1;
    size_t last_query = n ? n - 1 : 0;
    for (size_t k = n; k-- > 0;) {
        const char *c = m[k].content;
        if (multi_step_tool && !strcmp(m[k].role, "user") &&
            !(starts_with(c, "<tool_response>") && ends_with(c, "</tool_response>"))) {
            multi_step_tool = 0;
            last_query = k;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *r = m[i].role;
        if (!strcmp(r, "user") || (!strcmp(r, "system") && i > 0)) {
            put(b, "<|im_start|>"), put(b, r), put(b, "\n"), put(b, m[i].content), put(b, "<|im_end|>\n");
        } else if (!strcmp(r, "assistant")) {
            sv content = sv_of(m[i].content), reasoning = {"", 0};
            if (m[i].reasoning_content) {
                reasoning = sv_of(m[i].reasoning_content);
            } else if (sv_find(content, "</think>")) {
                sv all = content;
                const char *last = sv_rfind(all, "</think>");
                content = lstrip_nl((sv){last + 8, (size_t)(all.p + all.n - (last + 8))});
                const char *first = sv_find(all, "</think>");
                sv before = rstrip_nl((sv){all.p, (size_t)(first - all.p)});
                const char *open = sv_rfind(before, "<think>");
                if (open) before = (sv){open + 7, (size_t)(before.p + before.n - (open + 7))};
                reasoning = lstrip_nl(before);
            }
            put(b, "<|im_start|>"), put(b, r);
            if (i > last_query && (i + 1 == n || reasoning.n)) {
                put(b, "\n<think>\n"), put_sv(b, rstrip_nl(lstrip_nl(reasoning))), put(b, "\n</think>\n\n");
                put_sv(b, lstrip_nl(content));
            } else {
                put(b, "\n"), put_sv(b, content);
            }
            put(b, "<|im_end|>\n");
        } else if (!strcmp(r, "tool")) {
            if (i == 0 || strcmp(m[i - 1].role, "tool")) put(b, "<|im_start|>user");
            put(b, "\n<tool_response>\n"), put(b, m[i].content), put(b, "\n</tool_response>");
            if (i + 1 == n || strcmp(m[i + 1].role, "tool")) put(b, "<|im_end|>\n");
        }
    }
    if (o->add_generation_prompt) {
        put(b, "<|im_start|>assistant\n");
        if (o->enable_thinking == 0) put(b, "<think>\n\n</think>\n\n");
    }
    return GTA_OK;
}

static int render_llama3(const gta_tokenizer *tok, const gta_chat_message *m, size_t n,
                         const gta_chat_options *o, tok_buf *b) {
    for (size_t i = 0; i < n; i++) {
        if (i == 0 && tok->bos_token) put(b, tok->bos_token);
        put(b, "<|start_header_id|>"), put(b, m[i].role), put(b, "<|end_header_id|>\n\n");
        put_sv(b, py_strip(sv_of(m[i].content))), put(b, "<|eot_id|>");
    }
    if (o->add_generation_prompt) put(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return GTA_OK;
}

static void today(char out[32]) {
    static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    snprintf(out, 32, "%02d %s %04d", tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900);
}

static int render_llama32(const gta_tokenizer *tok, const gta_chat_message *m, size_t n,
                          const gta_chat_options *o, tok_buf *b) {
    char date[32];
    if (o->date_string)
        snprintf(date, sizeof date, "%s", o->date_string);
    else
        today(date);
    if (tok->bos_token) put(b, tok->bos_token);
    sv system = {"", 0};
    if (n && !strcmp(m[0].role, "system")) {
        system = py_strip(sv_of(m[0].content));
        m++, n--;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m[i].role, "tool") || !strcmp(m[i].role, "ipython"))
            return gta_err_set(GTA_EINPUT, "chat: role '%s' is not supported with the llama3.2 template",
                               m[i].role);
    put(b, "<|start_header_id|>system<|end_header_id|>\n\n");
    put(b, "Cutting Knowledge Date: December 2023\n");
    put(b, "Today Date: "), put(b, o->date_string ? o->date_string : date), put(b, "\n\n");
    put_sv(b, system), put(b, "<|eot_id|>");
    for (size_t i = 0; i < n; i++) {
        put(b, "<|start_header_id|>"), put(b, m[i].role), put(b, "<|end_header_id|>\n\n");
        put_sv(b, py_strip(sv_of(m[i].content))), put(b, "<|eot_id|>");
    }
    if (o->add_generation_prompt) put(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return GTA_OK;
}

static int render_chatml(const gta_chat_message *m, size_t n, const gta_chat_options *o, tok_buf *b) {
    for (size_t i = 0; i < n; i++)
        put(b, "<|im_start|>"), put(b, m[i].role), put(b, "\n"), put(b, m[i].content), put(b, "<|im_end|>\n");
    if (o->add_generation_prompt) put(b, "<|im_start|>assistant\n");
    return GTA_OK;
}

int gta_chat_render(const gta_tokenizer *tok, const gta_chat_message *msgs, size_t n,
                    const gta_chat_options *opt, char **text) {
    *text = NULL;
    const char *where = tok->config_file ? tok->config_file : tok->file;
    if (tok->family == GTA_CHAT_NONE)
        return gta_err_set(GTA_EINPUT, "%s: the tokenizer has no chat_template", where);
    if (tok->family == GTA_CHAT_UNKNOWN)
        return gta_err_set(
            GTA_EINPUT,
            "%s: chat_template not recognized (hash %016llx); known: qwen2.5, qwen3, llama3, llama3.2, "
            "chatml",
            where, (unsigned long long)fnv1a(tok->chat_template));
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content)
            return gta_err_set(GTA_EINPUT, "chat: message %zu needs a string role and content", i);
        /* the renderers (py_strip, the tokenizer after them) work on code points */
        const char *field[3] = {msgs[i].role, msgs[i].content, msgs[i].reasoning_content};
        static const char *fname[3] = {"role", "content", "reasoning_content"};
        for (int k = 0; k < 3; k++) {
            if (!field[k]) continue;
            size_t len = strlen(field[k]), ok = tok_utf8_valid_prefix(field[k], len);
            if (ok != len)
                return gta_err_set(GTA_EINPUT, "chat: message %zu: %s is not valid UTF-8 (byte offset %zu)",
                                   i, fname[k], ok);
        }
    }
    tok_buf b = {0};
    int rc = GTA_OK;
    switch (tok->family) {
    case GTA_CHAT_QWEN25:
        rc = render_qwen25(msgs, n, opt, &b);
        break;
    case GTA_CHAT_QWEN3:
        rc = render_qwen3(msgs, n, opt, &b);
        break;
    case GTA_CHAT_LLAMA3:
        rc = render_llama3(tok, msgs, n, opt, &b);
        break;
    case GTA_CHAT_LLAMA32:
        rc = render_llama32(tok, msgs, n, opt, &b);
        break;
    case GTA_CHAT_CHATML:
        rc = render_chatml(msgs, n, opt, &b);
        break;
    default:
        break;
    }
    if (rc) {
        tok_buf_free(&b);
        return rc;
    }
    if (!b.p) tok_buf_put(&b, "", 0);
    *text = b.p;
    return GTA_OK;
}

int gta_chat_render_json(const gta_tokenizer *tok, const struct cJSON *req, const char *name, char **text) {
    *text = NULL;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages"), *it;
    if (!cJSON_IsObject(req) || !cJSON_IsArray(msgs))
        return gta_err_set(GTA_EINPUT, "%s: expected an object with an array \"messages\"", name);
    static const char *unsupported[] = {"tools", "custom_tools", "documents"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, unsupported[i]);
        if (v && !cJSON_IsNull(v) && !(cJSON_IsArray(v) && !cJSON_GetArraySize(v)))
            return gta_err_set(GTA_EINPUT, "%s: \"%s\" is not supported by gta's chat templates", name,
                               unsupported[i]);
    }
    gta_chat_options o = {0, -1, NULL};
    int rc;
    if ((rc = gta_json_bool_opt(name, req, "add_generation_prompt", &o.add_generation_prompt))) return rc;
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(req, "enable_thinking");
    /* Jinja's `enable_thinking is false` holds only for the boolean false */
    if (et) o.enable_thinking = cJSON_IsFalse(et) ? 0 : 1;
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(req, "date_string");
    if (ds) {
        if (!cJSON_IsString(ds)) return gta_err_set(GTA_EINPUT, "%s: \"date_string\" must be a string", name);
        o.date_string = ds->valuestring;
    }
    size_t n = (size_t)cJSON_GetArraySize(msgs), i = 0;
    gta_chat_message *m = gta_calloc(n ? n : 1, sizeof *m);
    cJSON_ArrayForEach(it, msgs) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        const cJSON *rc_ = cJSON_GetObjectItemCaseSensitive(it, "reasoning_content");
        const cJSON *calls = cJSON_GetObjectItemCaseSensitive(it, "tool_calls");
        if (!cJSON_IsString(role) || !cJSON_IsString(content)) {
            free(m);
            return gta_err_set(GTA_EINPUT, "%s: messages[%zu]: expected string \"role\" and \"content\"",
                               name, i);
        }
        if (calls && !cJSON_IsNull(calls) && !(cJSON_IsArray(calls) && !cJSON_GetArraySize(calls))) {
            free(m);
            return gta_err_set(GTA_EINPUT, "%s: messages[%zu]: \"tool_calls\" are not supported", name, i);
        }
        if (rc_ && !cJSON_IsNull(rc_) && !cJSON_IsString(rc_)) {
            free(m);
            return gta_err_set(GTA_EINPUT, "%s: messages[%zu]: \"reasoning_content\" must be a string", name,
                               i);
        }
        m[i].role = role->valuestring;
        m[i].content = content->valuestring;
        m[i].reasoning_content = cJSON_IsString(rc_) ? rc_->valuestring : NULL;
        i++;
    }
    rc = gta_chat_render(tok, m, n, &o, text);
    free(m);
    return rc;
}
