#!/usr/bin/env bash
# gta forward on broken checkpoints: each case copies a good fixture from
# ../shared/fixtures/hf into a temporary directory, breaks one thing (python3, truncate,
# dd), and expects exit 2, stderr starting with "gta: error:" and naming the offending
# file, and no --out file afterwards (nor a temporary one beside it) — also when --out
# names an existing file, which must be left as it was.
#
#   GTA=build/gta GTA_SHARED=../shared tests/cli/checkpoint.sh  (from the repository root)
# Prints "checkpoint: N passed, N failed"; exits non-zero on any failure.
set -u
NAME=checkpoint
. "$(dirname "$0")/common.bash"
FX=$GTA_SHARED/fixtures/hf
if [ ! -d "$FX" ]; then
  echo "skip: no fixtures at $FX"
  finish
fi
IN=$FX/qwen2/reference.safetensors # holds input_ids [2, 24]
printf 'an existing output file\n' >"$tmp/keep"

# --- surgery on safetensors and json files (standard library only) ----------------------
cat >"$tmp/mk.py" <<'EOF'
import json, struct, sys

def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]

def write_raw(path, htext, data):
    htext += b" " * (-len(htext) % 8)
    open(path, "wb").write(struct.pack("<Q", len(htext)) + htext + data)

def write(path, h, data):
    write_raw(path, json.dumps(h, separators=(",", ":")).encode(), data)

def rebuild(path, h, data, drop=None, reshape=None):
    """a valid file again, without `drop`, with `reshape` = (name, shape) (same bytes)"""
    meta = h.pop("__metadata__", None)
    nh, nd = {}, b""
    if meta is not None:
        nh["__metadata__"] = meta
    for k in sorted(h):
        if k == drop:
            continue
        s, e = h[k]["data_offsets"]
        v = dict(h[k])
        if reshape and k == reshape[0]:
            v["shape"] = reshape[1]
        v["data_offsets"] = [len(nd), len(nd) + e - s]
        nh[k] = v
        nd += data[s:e]
    write(path, nh, nd)

op, path = sys.argv[1], sys.argv[2]
a = sys.argv[3:]
if op == "hlen":                      # hlen FILE N
    b = bytearray(open(path, "rb").read())
    b[:8] = struct.pack("<Q", int(a[0]) % 2**64)
    open(path, "wb").write(b)
elif op == "header":                  # header FILE TEXT  (data kept)
    h, d = read(path)
    write_raw(path, a[0].encode(), d)
elif op == "set":                     # set FILE TENSOR KEY JSON
    h, d = read(path)
    h[a[0]][a[1]] = json.loads(a[2])
    write(path, h, d)
elif op == "copy_offsets":            # copy_offsets FILE TO FROM
    h, d = read(path)
    h[a[0]]["data_offsets"] = list(h[a[1]]["data_offsets"])
    write(path, h, d)
elif op == "gap":                     # gap FILE TENSOR N: N bytes inserted before TENSOR
    h, d = read(path)
    at, n = h[a[0]]["data_offsets"][0], int(a[1])
    for k, v in h.items():
        if k != "__metadata__" and v["data_offsets"][0] >= at:
            v["data_offsets"] = [x + n for x in v["data_offsets"]]
    write(path, h, d[:at] + b"\0" * n + d[at:])
elif op == "drop":                    # drop FILE TENSOR
    h, d = read(path)
    rebuild(path, h, d, drop=a[0])
elif op == "reshape":                 # reshape FILE TENSOR JSON-SHAPE
    h, d = read(path)
    rebuild(path, h, d, reshape=(a[0], json.loads(a[1])))
elif op == "add":                     # add FILE FROMFILE TENSOR: a copy of FROMFILE's TENSOR
    h, d = read(path)
    h2, d2 = read(a[0])
    s, e = h2[a[1]]["data_offsets"]
    h[a[1]] = dict(h2[a[1]], data_offsets=[len(d), len(d) + e - s])
    write(path, h, d + d2[s:e])
elif op == "json":                    # json FILE KEY/KEY JSON|-  (- deletes)
    j = json.load(open(path))
    keys = a[0].split("/")
    o = j
    for k in keys[:-1]:
        o = o[k]
    if a[1] == "-":
        del o[keys[-1]]
    else:
        o[keys[-1]] = json.loads(a[1])
    open(path, "w").write(json.dumps(j, indent=2))
else:
    sys.exit("unknown op " + op)
EOF
mk() { python3 "$tmp/mk.py" "$@" || bad "test set-up: mk.py $*"; }

# fresh FIXTURE: copies the fixture (without its reference) to a new dir, prints the dir
fresh() {
  local d
  d=$(mktemp -d "$tmp/$1-XXXXXX")
  for f in "$FX/$1"/*; do
    [ "$(basename "$f")" = reference.safetensors ] || cp "$f" "$d/"
  done
  echo "$d"
}

# expect NAME DIR FILE [WANT]: gta forward on DIR fails as it must; FILE must appear in
# the message (and WANT, when given). The output goes to a fresh subdirectory of DIR.
expect() {
  local name=$1 dir=$2 file=$3 want=${4:-}
  local outdir=$dir/out
  mkdir -p "$outdir"
  local out=$outdir/logits.safetensors
  "$GTA" forward --model "$dir" --input "$IN" --out "$out" >"$tmp/o" 2>"$tmp/e"
  local rc=$?
  local first problems=""
  first=$(head -n 1 "$tmp/e")
  [ $rc = 2 ] || problems+="exit $rc, want 2; "
  [[ $first == "gta: error:"* ]] || problems+="stderr does not start with 'gta: error:'; "
  grep -qF -- "$file" "$tmp/e" || problems+="message does not name $file; "
  [ -z "$want" ] || grep -qF -- "$want" "$tmp/e" || problems+="message lacks '$want'; "
  [ ! -e "$out" ] || problems+="output file exists; "
  [ -z "$(ls -A "$outdir")" ] || problems+="left in the output directory: $(ls -A "$outdir"); "
  # the same with --grads into an existing output file: left untouched
  cp "$tmp/keep" "$out"
  "$GTA" forward --model "$dir" --input "$IN" --out "$out" --grads >/dev/null 2>"$tmp/e2"
  local rc2=$?
  [ $rc2 = 2 ] || problems+="with --grads: exit $rc2; "
  cmp -s "$out" "$tmp/keep" || problems+="existing output file changed; "
  [ "$(ls -A "$outdir")" = "$(basename "$out")" ] || problems+="left beside an existing output: $(ls -A "$outdir"); "
  rm -rf "$outdir"
  if [ -z "$problems" ]; then
    ok "$name: ${first#gta: error: }"
  else
    bad "$name: $problems" "$(cat "$tmp/e")"
  fi
}

MS=model.safetensors
NORM=model.norm.weight

# --- model.safetensors ------------------------------------------------------------------
d=$(fresh qwen2); truncate -s 100 "$d/$MS"
expect "cut in the header" "$d" "$d/$MS"
d=$(fresh qwen2); truncate -s -4 "$d/$MS"
expect "cut in the data" "$d" "$d/$MS" "$NORM"
d=$(fresh qwen2); dd if="$FX/qwen2/$MS" of="$d/$MS" bs=1 count=5 status=none
expect "shorter than 8 bytes" "$d" "$d/$MS"
d=$(fresh qwen2); : >"$d/$MS"
expect "empty file" "$d" "$d/$MS"
d=$(fresh qwen2); mk hlen "$d/$MS" $(( $(stat -c %s "$d/$MS") ))
expect "header length beyond the file" "$d" "$d/$MS"
d=$(fresh qwen2); mk hlen "$d/$MS" -1
expect "header length 2^64-1" "$d" "$d/$MS"
d=$(fresh qwen2); mk header "$d/$MS" '{"model.norm.weight": {"dtype": F32}'
expect "header not JSON" "$d" "$d/$MS"
d=$(fresh qwen2); mk header "$d/$MS" '[{"dtype": "F32"}]'
expect "header a JSON array" "$d" "$d/$MS"
d=$(fresh qwen2); mk set "$d/$MS" "$NORM" data_offsets '[444420, 444676]'
expect "data_offsets beyond the data" "$d" "$d/$MS" "$NORM"
d=$(fresh qwen2); mk set "$d/$MS" "$NORM" data_offsets '[0, 1e30]'
expect "data_offsets 1e30" "$d" "$d/$MS" "$NORM"
d=$(fresh qwen2); mk copy_offsets "$d/$MS" model.layers.0.post_attention_layernorm.weight model.layers.0.input_layernorm.weight
expect "overlapping tensors" "$d" "$d/$MS" "overlaps"
d=$(fresh qwen2); mk gap "$d/$MS" "$NORM" 8
expect "gap between tensors" "$d" "$d/$MS" "$NORM"
d=$(fresh qwen2); printf '12345678' >>"$d/$MS"
expect "bytes after the last tensor" "$d" "$d/$MS"
d=$(fresh qwen2); mk set "$d/$MS" "$NORM" shape '[65]'
expect "shape x dtype != span" "$d" "$d/$MS" "$NORM"
d=$(fresh qwen2); mk set "$d/$MS" "$NORM" dtype '"F8_E9"'
expect "unknown dtype" "$d" "$d/$MS" "F8_E9"
d=$(fresh qwen2); mk drop "$d/$MS" model.layers.1.mlp.up_proj.weight
expect "missing tensor" "$d" "$d" "model.layers.1.mlp.up_proj.weight"
d=$(fresh qwen2); mk reshape "$d/$MS" model.layers.0.self_attn.o_proj.weight '[32, 128]'
expect "tensor of the wrong shape" "$d" "$d/$MS" "model.layers.0.self_attn.o_proj.weight"
d=$(fresh qwen3); mk drop "$d/$MS" lm_head.weight
expect "untied lm_head missing" "$d" "$d" "lm_head.weight"
d=$(fresh qwen2); rm "$d/$MS"
expect "no weights" "$d" "$d"

# --- config.json ------------------------------------------------------------------------
C=config.json
d=$(fresh qwen2); truncate -s 300 "$d/$C"
expect "config truncated (file:line:col)" "$d" "$d/$C:"
if grep -qE -- "$d/$C:[0-9]+:[0-9]+:" "$tmp/e"; then ok "truncated config reported as file:line:col"; else
  bad "truncated config reported as file:line:col" "$(cat "$tmp/e")"; fi
d=$(fresh qwen2); rm "$d/$C"
expect "config missing" "$d" "$d/$C"
d=$(fresh qwen2); mk json "$d/$C" model_type '"mistral"'
expect "unknown model_type" "$d" "$d/$C" "mistral"
d=$(fresh qwen2); mk json "$d/$C" num_attention_heads 0
expect "num_attention_heads 0" "$d" "$d/$C" "num_attention_heads"
d=$(fresh qwen2); mk json "$d/$C" num_key_value_heads 3
expect "num_key_value_heads not dividing" "$d" "$d/$C" "num_key_value_heads"
d=$(fresh qwen3); mk json "$d/$C" head_dim 15
expect "odd head_dim" "$d" "$d/$C" "head_dim"
d=$(fresh qwen2); mk json "$d/$C" rope_parameters/rope_type '"yarn"'
expect "rope_type yarn" "$d" "$d/$C" "yarn"
d=$(fresh llama); mk json "$d/$C" rope_parameters/low_freq_factor -
expect "llama3 rope without low_freq_factor" "$d" "$d/$C" "llama3"
d=$(fresh qwen2); mk json "$d/$C" use_sliding_window true
expect "use_sliding_window" "$d" "$d/$C" "use_sliding_window"
d=$(fresh qwen2); mk json "$d/$C" hidden_act '"gelu_pytorch_tanh"'
expect "hidden_act not silu" "$d" "$d/$C" "hidden_act"
d=$(fresh qwen2); mk json "$d/$C" vocab_size 385
expect "vocab_size disagrees with the embeddings" "$d" "$d/$MS" "model.embed_tokens.weight"

# --- shards -----------------------------------------------------------------------------
IX=model.safetensors.index.json
S3=model-00003-of-00004.safetensors
d=$(fresh qwen2-sharded); rm "$d/$S3"
expect "index names a missing shard" "$d" "$d/$S3"
d=$(fresh qwen2-sharded); mk json "$d/$IX" "weight_map/$NORM" -
expect "tensor in a shard the index does not name" "$d" "$d/$IX" "$NORM"
d=$(fresh qwen2-sharded); mk json "$d/$IX" weight_map/model.extra.weight '"model-00001-of-00004.safetensors"'
expect "index names a tensor no shard has" "$d" "$d/$IX" "model.extra.weight"
S1=model-00001-of-00004.safetensors
S4=model-00004-of-00004.safetensors
d=$(fresh qwen2-sharded); mk add "$d/$S1" "$d/$S4" "$NORM"
expect "tensor in two shards" "$d" "$d/" "$NORM"
d=$(fresh qwen2-sharded); mk add "$d/$S1" "$d/$S4" "$NORM"; mk json "$d/$IX" "weight_map/$NORM" "\"$S1\""
expect "tensor in two shards (index names the first)" "$d" "$d/$S4" "two shards"
d=$(fresh qwen2-sharded); truncate -s -64 "$d/model-00002-of-00004.safetensors"
expect "a shard cut short" "$d" "$d/model-00002-of-00004.safetensors"
d=$(fresh qwen2-sharded); truncate -s 40 "$d/$IX"
expect "index truncated" "$d" "$d/$IX"

# --- --out beside the model, and a model directory that is not there ---------------------
d=$(fresh qwen2); truncate -s -4 "$d/$MS"
"$GTA" forward --model "$d" --input "$IN" --out "$d/out.safetensors" >/dev/null 2>"$tmp/e"
rc=$?
if [ $rc = 2 ] && grep -qF "$d/$MS" "$tmp/e" && [ ! -e "$d/out.safetensors" ] && [ "$(ls "$d")" = "$(printf '%s\n' config.json generation_config.json "$MS")" ]; then
  ok "--out in the model's own directory: nothing written"
else
  bad "--out in the model's own directory (rc $rc): $(ls "$d")" "$(cat "$tmp/e")"
fi
"$GTA" forward --model "$tmp/nowhere" --input "$IN" --out "$tmp/o.safetensors" >/dev/null 2>"$tmp/e"
rc=$?
if [ $rc = 2 ] && grep -qF "$tmp/nowhere" "$tmp/e" && [ ! -e "$tmp/o.safetensors" ]; then
  ok "missing model directory: $(head -n 1 "$tmp/e")"
else
  bad "missing model directory (rc $rc)" "$(cat "$tmp/e")"
fi

finish
