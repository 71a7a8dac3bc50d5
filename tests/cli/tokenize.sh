#!/usr/bin/env bash
# CLI checks of `gta tokenize` and `gta tokenizer-train`:
#   GTA=build/gta tests/cli/tokenize.sh      (run from the repository root; ../shared holds the data)
# Prints "tokenize-cli: N passed, N failed" and exits non-zero when a check fails.
set -u
GTA=${GTA:-build/gta}
SHARED=${GTA_SHARED:-../shared}
TOK=$SHARED/tokenizers
if [ ! -d "$TOK" ]; then
  echo "skip: no tokenizers at $TOK (../shared is absent)"
  echo "tokenize-cli: 0 passed, 0 failed"
  exit 0
fi
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect_error NAME NEEDLE CMD...: exit code 2, "gta: error:" and NEEDLE on stderr, nothing on stdout
expect_error() {
  local name=$1 needle=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ $rc -ne 2 ]; then bad "$name: exit $rc, expected 2 ($(head -c 300 "$tmp/err"))"; return; fi
  if ! grep -q '^gta: error:' "$tmp/err"; then bad "$name: no 'gta: error:' line"; return; fi
  if ! grep -qF -- "$needle" "$tmp/err"; then bad "$name: message lacks '$needle': $(cat "$tmp/err")"; return; fi
  if [ -s "$tmp/out" ]; then bad "$name: partial output on stdout"; return; fi
  ok
}

ids_of_ref() { sed -E 's/.*"'"$1"'":\[([^]]*)\].*/\1/' "$2"; }
ids_of_out() { sed -E 's/^\{"ids": \[([^]]*)\]\}$/\1/; s/ //g' "$1"; }

# 1. reference ids (plain and with the post-processor's special tokens) through --jsonl
for t in qwen3 qwen2.5 llama3 llama3.2 gpt2; do
  ref=$TOK/$t/reference.jsonl
  if ! "$GTA" tokenize --tokenizer "$TOK/$t" --jsonl "$ref" >"$tmp/ids.jsonl" 2>"$tmp/err"; then
    bad "$t --jsonl: $(cat "$tmp/err")"
    continue
  fi
  if cmp -s <(ids_of_ref ids "$ref") <(ids_of_out "$tmp/ids.jsonl"); then ok; else bad "$t reference ids"; fi
  "$GTA" tokenize --tokenizer "$TOK/$t/tokenizer.json" --jsonl "$ref" --add-special >"$tmp/ids2.jsonl"
  if cmp -s <(ids_of_ref ids_with_special "$ref") <(ids_of_out "$tmp/ids2.jsonl"); then ok; else bad "$t ids_with_special"; fi
done

# 2. decode: ids -> text (compared as JSON values when python3 is around)
"$GTA" tokenize --tokenizer "$TOK/qwen3" --jsonl "$TOK/qwen3/reference.jsonl" --decode --field ids >"$tmp/dec.jsonl"
if command -v python3 >/dev/null; then
  if python3 - "$TOK/qwen3/reference.jsonl" "$tmp/dec.jsonl" <<'PY'; then ok; else bad "qwen3 decode"; fi
import json, sys
ref = [json.loads(l)["decoded"] for l in open(sys.argv[1], encoding="utf-8")]
out = [json.loads(l)["text"] for l in open(sys.argv[2], encoding="utf-8")]
sys.exit(0 if ref == out else 1)
PY
else
  [ "$(wc -l <"$tmp/dec.jsonl")" -eq 259 ] && ok || bad "qwen3 decode line count"
fi
out=$("$GTA" tokenize --tokenizer "$TOK/llama3" --text "128000,9906,1917" --decode)
[ "$out" = '{"text": "<|begin_of_text|>Hello world"}' ] && ok || bad "--text --decode: $out"
out=$("$GTA" tokenize --tokenizer "$TOK/gpt2" --text "Hello, world!")
[ "$out" = '{"ids": [15496, 11, 995, 0]}' ] && ok || bad "--text: $out"

# 3. a chat case (chat_template_reference.json of qwen3, user_only_gen)
cat >"$tmp/chat.json" <<'JSON'
{"messages": [{"role": "user", "content": "Is this spam? \"WIN a FREE iPhone now!!!\""}], "add_generation_prompt": true}
JSON
"$GTA" tokenize --tokenizer "$TOK/qwen3" --chat "$tmp/chat.json" >"$tmp/chat.out" 2>"$tmp/err"
want_text='{"text": "<|im_start|>user\nIs this spam? \"WIN a FREE iPhone now!!!\"<|im_end|>\n<|im_start|>assistant\n", '
want_ids='"ids": [151644, 872, 198, 3872, 419, 25328, 30, 330, 23304, 264, 16257, 12167, 1431, 2928, 8958, 151645, 198, 151644, 77091, 198]}'
[ "$(cat "$tmp/chat.out")" = "$want_text$want_ids" ] && ok || bad "chat qwen3: $(cat "$tmp/chat.out" "$tmp/err")"
cat >"$tmp/chat2.json" <<'JSON'
{"messages": [{"role": "user", "content": "Is this spam? \"WIN a FREE iPhone now!!!\""}], "add_generation_prompt": true, "enable_thinking": false}
JSON
"$GTA" tokenize --tokenizer "$TOK/qwen3" --chat "$tmp/chat2.json" | grep -qF '<|im_start|>assistant\n<think>\n\n</think>\n\n", "ids": [' && ok || bad "chat enable_thinking"

# 4. errors: exit 2, "gta: error:", the file (and line) named, nothing on stdout
mkdir -p "$tmp/broken"
head -c 5000 "$TOK/gpt2/tokenizer.json" >"$tmp/broken/truncated.json"
expect_error "truncated tokenizer.json" "truncated.json:" "$GTA" tokenize --tokenizer "$tmp/broken/truncated.json" --text hi
printf '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]}}' >"$tmp/broken/merges.json"
expect_error "merge with unknown token" "'c' is not in the vocabulary" "$GTA" tokenize --tokenizer "$tmp/broken/merges.json" --text ab
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "normalizer": {"type": "Lowercase"}}' >"$tmp/broken/comp.json"
expect_error "unknown component" "normalizer type 'Lowercase' is not supported" "$GTA" tokenize --tokenizer "$tmp/broken/comp.json" --text a
printf '{"model": {"type": "BPE", "vocab": ["a"], "merges": []}}' >"$tmp/broken/types.json"
expect_error "wrong types" "model.vocab" "$GTA" tokenize --tokenizer "$tmp/broken/types.json" --text a
expect_error "missing tokenizer" "$tmp/none" "$GTA" tokenize --tokenizer "$tmp/none" --text a
printf '{"text": "fine"}\n{"text": 12}\n' >"$tmp/broken/lines.jsonl"
expect_error "bad jsonl line" "lines.jsonl:2" "$GTA" tokenize --tokenizer "$TOK/gpt2" --jsonl "$tmp/broken/lines.jsonl"
printf '{"text": "fine"}\nnot json\n' >"$tmp/broken/lines2.jsonl"
expect_error "invalid json line" "lines2.jsonl:2" "$GTA" tokenize --tokenizer "$TOK/gpt2" --jsonl "$tmp/broken/lines2.jsonl"
expect_error "invalid UTF-8" "UTF-8" "$GTA" tokenize --tokenizer "$TOK/gpt2" --text $'ab\xff'
expect_error "id out of range" "999999" "$GTA" tokenize --tokenizer "$TOK/gpt2" --text 1,999999 --decode
expect_error "no template" "no chat_template" "$GTA" tokenize --tokenizer "$TOK/gpt2" --chat "$tmp/chat.json"
expect_error "no input" "exactly one of" "$GTA" tokenize --tokenizer "$TOK/gpt2"
expect_error "unknown option" "--bogus" "$GTA" tokenize --tokenizer "$TOK/gpt2" --text a --bogus

# 5. tokenizer-train: train, then every training text round-trips through the CLI
for i in $(seq 1 40); do printf '{"text": "line %d: the cat sat on the mat, caf\\u00e9 \\u4e2d\\u6587 %d\\n"}\n' "$i" $((i * 37)); done >"$tmp/corpus.jsonl"
if "$GTA" tokenizer-train --corpus "$tmp/corpus.jsonl" --vocab-size 320 --out "$tmp/tok" 2>"$tmp/err" &&
  grep -q "merges" "$tmp/err" && [ -f "$tmp/tok/tokenizer.json" ] && [ -f "$tmp/tok/tokenizer_config.json" ]; then
  ok
  "$GTA" tokenize --tokenizer "$tmp/tok" --jsonl "$tmp/corpus.jsonl" >"$tmp/tids.jsonl"
  "$GTA" tokenize --tokenizer "$tmp/tok" --jsonl "$tmp/tids.jsonl" --decode >"$tmp/tdec.jsonl"
  if command -v python3 >/dev/null; then
    python3 -c "
import json, sys
a = [json.loads(l)['text'] for l in open('$tmp/corpus.jsonl')]
b = [json.loads(l)['text'] for l in open('$tmp/tdec.jsonl')]
sys.exit(0 if a == b else 1)" && ok || bad "tokenizer-train round trip"
  else
    [ "$(wc -l <"$tmp/tdec.jsonl")" -eq 40 ] && ok || bad "tokenizer-train round trip line count"
  fi
else
  bad "tokenizer-train: $(cat "$tmp/err")"
fi
expect_error "train: vocab too small" "vocab-size" "$GTA" tokenizer-train --corpus "$tmp/corpus.jsonl" --vocab-size 10 --out "$tmp/tok2"
expect_error "train: bad corpus line" "lines.jsonl:2" "$GTA" tokenizer-train --corpus "$tmp/broken/lines.jsonl" --vocab-size 300 --out "$tmp/tok3"
[ ! -e "$tmp/tok3" ] && ok || bad "train: output written despite the error"

echo "tokenize-cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
