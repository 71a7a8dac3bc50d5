/* Hugging Face tokenizer.json (byte-level BPE as Qwen2.5/Qwen3/Llama 3/GPT-2 use it, and the
 * sentencepiece-style BPE of small Llama models), chat templates, and the tokenizer benchmark.
 *
 * Encoding matches the Rust `tokenizers` library id for id; a component type that is not
 * implemented makes loading fail with a message naming it, never a silent approximation.
 *
 * A gta_tokenizer keeps a cache of pre-token -> ids and scratch buffers, so encoding is not
 * thread-safe on one object: give each thread its own tokenizer (loading is cheap enough)
 * or serialize calls.  Decoding, look-ups and chat rendering only read the object. */
#ifndef GTA_TEXT_TOKENIZER_H
#define GTA_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base/types.h"

typedef struct gta_tokenizer gta_tokenizer;

/* A growable id array; start zeroed, release with gta_ids_free. Encoding appends. */
typedef struct {
    gta_tok *ids;
    size_t n, cap;
} gta_ids;
void gta_ids_free(gta_ids *v);

/* path: a directory holding tokenizer.json (and optionally tokenizer_config.json,
 * chat_template.jinja), or a tokenizer.json file (its directory is searched for the
 * optional files).  GTA_EINPUT with "file: what was expected" on a bad or unsupported
 * file. */
int gta_tokenizer_load(const char *path, gta_tokenizer **out);
void gta_tokenizer_free(gta_tokenizer *tok);

/* Appends the ids of text[0..len) to out.  Special/added tokens written in the text are
 * always recognized (as HF does); add_special also applies the post-processor (e.g. the
 * BOS of Llama).  Text must be valid UTF-8: GTA_EINPUT naming the byte offset otherwise. */
int gta_tokenizer_encode(gta_tokenizer *tok, const char *text, size_t len, int add_special, gta_ids *out);
/* Decodes ids into a fresh NUL-terminated string (*len excludes the NUL; len may be NULL).
 * flags: GTA_DECODE_SKIP_SPECIAL drops special tokens, as HF's skip_special_tokens;
 * GTA_DECODE_SKIP_UNKNOWN drops ids the tokenizer lacks (a model's vocabulary may be padded
 * past the tokenizer's, e.g. Qwen's 151,936 rows for 151,665 tokens), as the tokenizers
 * library's decode does -- for a model's completions. Invalid UTF-8 produced by partial
 * byte tokens becomes U+FFFD as in HF.  Otherwise GTA_EINPUT for an id outside the
 * vocabulary. */
enum { GTA_DECODE_SKIP_SPECIAL = 1, GTA_DECODE_SKIP_UNKNOWN = 2 };
int gta_tokenizer_decode(const gta_tokenizer *tok, const gta_tok *ids, size_t n, int flags, char **text, size_t *len);

/* Token strings are as written in tokenizer.json (byte-level form, e.g. "Ġthe"). */
gta_tok gta_tokenizer_token_to_id(const gta_tokenizer *tok, const char *token); /* -1: none */
const char *gta_tokenizer_id_to_token(const gta_tokenizer *tok, gta_tok id);    /* NULL: none */
int gta_tokenizer_is_special(const gta_tokenizer *tok, gta_tok id);
/* Largest id + 1 over the model vocabulary and the added tokens. */
int32_t gta_tokenizer_vocab_size(const gta_tokenizer *tok);
/* From tokenizer_config.json (eos_token, bos_token); -1 when absent. */
gta_tok gta_tokenizer_eos_id(const gta_tokenizer *tok);
gta_tok gta_tokenizer_bos_id(const gta_tokenizer *tok);

/* Copies the tokenizer files a Hugging Face model directory carries (tokenizer.json,
 * tokenizer_config.json, special_tokens_map.json, vocab.json, merges.txt,
 * chat_template.jinja; those present) from `from` -- a directory, or a tokenizer.json whose
 * directory holds the rest -- into the directory dir. */
int gta_tokenizer_copy_files(const char *from, const char *dir);

/* ---- chat templates ----
 * The template in tokenizer_config.json (or chat_template.jinja) is recognized by its exact
 * text and rendered in C exactly as transformers' apply_chat_template does. */
typedef enum {
    GTA_CHAT_NONE = 0, /* no template */
    GTA_CHAT_UNKNOWN,  /* a template we cannot render: rendering is an error */
    GTA_CHAT_QWEN25,
    GTA_CHAT_QWEN3,
    GTA_CHAT_LLAMA3,
    GTA_CHAT_LLAMA32,
    GTA_CHAT_CHATML, /* the plain ChatML template written by gta tokenizer-train */
} gta_chat_family;

typedef struct {
    const char *role;
    const char *content;
    const char *reasoning_content; /* Qwen3 only; NULL when absent */
} gta_chat_message;

typedef struct {
    int add_generation_prompt;
    int enable_thinking;     /* -1: not given, 0: false, 1: true (Qwen3) */
    const char *date_string; /* NULL: today, as transformers' strftime_now("%d %b %Y") */
} gta_chat_options;

gta_chat_family gta_tokenizer_chat_family(const gta_tokenizer *tok);
const char *gta_chat_family_name(gta_chat_family f);
/* Renders into a fresh string. GTA_EINPUT when the template is missing or unknown, or the
 * conversation uses what we do not render (tools, tool calls, non-string content). */
int gta_chat_render(const gta_tokenizer *tok, const gta_chat_message *msgs, size_t n,
                    const gta_chat_options *opt, char **text);
/* Same from a JSON request {"messages": [...], "add_generation_prompt": bool,
 * "enable_thinking": bool, "date_string": str, ...} (cJSON *); name is used in messages. */
struct cJSON;
int gta_chat_render_json(const gta_tokenizer *tok, const struct cJSON *req, const char *name, char **text);

/* ---- benchmark (gta bench --what tokenize) ----
 * Encodes every "text" of a jsonl one text at a time on one thread, runs times; *json_out
 * receives {"what":"tokenize", configuration, "runs", "mb_per_s" (median), "mb_per_s_min",
 * "mb_per_s_max", ...} (free it). */
int gta_bench_tokenize(const char *tokenizer_path, const char *data_path, int runs, char **json_out);

#endif
