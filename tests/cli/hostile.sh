#!/usr/bin/env bash
# The fuzzing findings of issue 17 through the CLI: each crafted input ends with
# "gta: error:" naming the file or flag, exit 2, nothing on stdout, and (for the sizes a
# file can claim) without the memory or time it used to take.
NAME=hostile
source "$(dirname "$0")/common.bash"
FZ=tests/fuzz/data
M="$GTA_SHARED/models/stories260K"

expect_error() {
  local name=$1 needle=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ $rc -ne 2 ]; then bad "$name: exit $rc, expected 2" "$(head -c 400 "$tmp/err")"; return; fi
  if ! grep -q '^gta: error:' "$tmp/err"; then bad "$name: no 'gta: error:' line"; return; fi
  if ! grep -qF -- "$needle" "$tmp/err"; then bad "$name: message lacks '$needle'" "$(cat "$tmp/err")"; return; fi
  if [ -s "$tmp/out" ]; then bad "$name: output on stdout"; return; fi
  ok "$name"
}

# invalid UTF-8 in chat messages and system prompts (heap corruption before)
mkdir -p "$tmp/l3"
cp "$FZ/tok-bytelevel/tokenizer.json" "$tmp/l3/"
cp "$FZ/chat/llama3.json" "$tmp/l3/tokenizer_config.json"
printf '{"messages": [{"role": "user", "content": "\xe2\x80"}]}' >"$tmp/chat.json"
expect_error "tokenize --chat, invalid UTF-8 content" "chat.json:1:" "$GTA" tokenize --tokenizer "$tmp/l3" --chat "$tmp/chat.json"
grep -qF "invalid UTF-8" "$tmp/err" && ok "  ... says invalid UTF-8" || bad "  ... says invalid UTF-8" "$(cat "$tmp/err")"
printf '{"messages": [{"role": "user", "content": "  ok \xe2\x80\x83"}]}' >"$tmp/chat2.json"
if out=$("$GTA" tokenize --tokenizer "$tmp/l3" --chat "$tmp/chat2.json" 2>&1) && [ -n "$out" ]; then
  ok "tokenize --chat, valid content with Unicode space"
else
  bad "tokenize --chat, valid content with Unicode space" "$out"
fi
if [ -d "$M" ] && [ -d "$GTA_SHARED/data/emotion" ]; then
  expect_error "train --system-prompt invalid UTF-8" "--system-prompt is not valid UTF-8" \
    "$GTA" train --model "$M" --data "$GTA_SHARED/data/emotion" --out "$tmp/run" --system-prompt $'\xe2\x80'
  [ ! -e "$tmp/run" ] && ok "  ... no run directory" || bad "  ... no run directory"
  expect_error "generate --prompt invalid UTF-8" "--prompt" "$GTA" generate --model "$M" --prompt $'a\xe2\x80' --max-new-tokens 1 --greedy
else
  echo "skip: the --system-prompt and --prompt checks need $M and $GTA_SHARED/data/emotion (../shared is absent)"
fi

# a tokenizer.json whose normalizer would emit invalid UTF-8 (segfault in the NFC check)
python3 - "$tmp/badtok" <<'PY'
import json, os, sys
d = sys.argv[1]; os.makedirs(d)
j = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "pre_tokenizer": None,
     "post_processor": None, "decoder": None,
     "normalizer": {"type": "Sequence", "normalizers": [{"type": "Replace", "pattern": {"String": "a"},
                    "content": "@@@@"}, {"type": "NFC"}]},
     "model": {"type": "BPE", "vocab": {"<unk>": 0, "a": 1}, "merges": [], "unk_token": "<unk>"}}
open(d + "/tokenizer.json", "wb").write(json.dumps(j).encode().replace(b"@@@@", b"\xff\xff\xff\xff"))
j["normalizer"] = None
j["model"]["unk_token"] = None
os.makedirs(d + "2")
open(d + "2/tokenizer.json", "w").write(json.dumps(j))
PY
expect_error "tokenizer.json with invalid UTF-8" "tokenizer.json:1:" "$GTA" tokenize --tokenizer "$tmp/badtok" --text aaa
# a character without a token (no unk_token): an error, not silently dropped text
expect_error "character without a token" "has no token" "$GTA" tokenize --tokenizer "$tmp/badtok2" --text "aba"
"$GTA" tokenize --tokenizer "$tmp/badtok2" --text "aa" >"$tmp/out" 2>&1 && grep -qF '[1, 1]' "$tmp/out" \
  && ok "  ... encodable text still encodes" || bad "  ... encodable text still encodes" "$(cat "$tmp/out")"

# config.json sizes with a checkpoint that has none of them: refused before any allocation
mkdir -p "$tmp/big"
printf '{"model_type": "llama", "vocab_size": 16777216, "hidden_size": 4096, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 32}' >"$tmp/big/config.json"
printf '\x02\x00\x00\x00\x00\x00\x00\x00{}' >"$tmp/big/model.safetensors"
expect_error "huge config, empty checkpoint" "tensor 'model.embed_tokens.weight' is missing" \
  bash -c 'ulimit -v 4000000; exec "$0" generate --model "$1" --prompt-ids 1 --max-new-tokens 1 --greedy' "$GTA" "$tmp/big"
mkdir -p "$tmp/hd0"
printf '{"model_type": "llama", "vocab_size": 8, "hidden_size": 2, "intermediate_size": 4, "num_hidden_layers": 1, "num_attention_heads": 4}' >"$tmp/hd0/config.json"
cp "$tmp/big/model.safetensors" "$tmp/hd0/"
expect_error "head_dim 0" "gives head_dim 0" "$GTA" generate --model "$tmp/hd0" --prompt-ids 1 --max-new-tokens 1 --greedy

# 100k tensors / 100k labels with a duplicate at the end: linearithmic checks (17 s and 15 s before)
python3 - "$tmp/many" <<'PY'
import json, os, struct, sys
d = sys.argv[1]; os.makedirs(d)
h = {"t%d" % i: {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(100000)}
t = json.dumps(h).encode()[:-1] + b', "t5": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}'
open(d + "/model.safetensors", "wb").write(struct.pack("<Q", len(t)) + t)
open(d + "/config.json", "w").write(json.dumps({"model_type": "llama", "vocab_size": 8, "hidden_size": 4,
    "intermediate_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2}))
os.makedirs(d + "/data")
open(d + "/data/labels.txt", "w").write("".join("label %d\n" % i for i in range(100000)) + "LABEL 7\n")
open(d + "/data/test.jsonl", "w").write('{"text": "x", "label": 0}\n')
PY
start=$(date +%s)
expect_error "100k tensors, one twice" "tensor 't5' appears twice" "$GTA" generate --model "$tmp/many" --prompt-ids 1 --max-new-tokens 1 --greedy
expect_error "100k labels, one twice" "labels.txt:100001: label 'LABEL 7' duplicates line 8" \
  "$GTA" eval --model "$tmp/many" --data "$tmp/many/data" --split test --out "$tmp/e.json"
secs=$(($(date +%s) - start))
[ "$secs" -le 8 ] && ok "  ... both in ${secs} s (limit 8)" || bad "  ... both took ${secs} s (limit 8)"
finish
