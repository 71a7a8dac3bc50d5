#!/usr/bin/env bash
# gta forward on the transformers fixtures (../shared/fixtures/hf): the output file holds
# logits [B, T, V] matching the reference, loss within 1e-4 of transformers' loss, and with
# --grads a grad.<name> for every parameter (each grad.* of the reference present, same
# shape, within 1e-4 + 1e-3 * max|ref|). Also --help and bad usage.
#
#   GTA=build/gta GTA_SHARED=../shared tests/cli/forward.sh     (from the repository root)
# Prints "forward: N passed, N failed"; exits non-zero on any failure.
set -u
NAME=forward
. "$(dirname "$0")/common.bash"
FX=$GTA_SHARED/fixtures/hf


# --- usage ------------------------------------------------------------------------------
"$GTA" forward --help >"$tmp/help.out" 2>"$tmp/help.err"
rc=$?
if [ $rc = 0 ] && grep -q -- '--model' "$tmp/help.out" && grep -q -- '--grads' "$tmp/help.out"; then
  ok "forward --help exits 0 and lists the options"
else
  bad "forward --help exits 0 and lists the options (rc $rc)" "$(cat "$tmp/help.out" "$tmp/help.err")"
fi

# usage_error NAME ARGS...: exit 2, stderr starts with "gta: error:", nothing written
usage_error() {
  local name=$1
  shift
  rm -f "$tmp/u.safetensors"
  "$GTA" forward "$@" >"$tmp/u.out" 2>"$tmp/u.err"
  local rc=$?
  local first
  first=$(head -n 1 "$tmp/u.err")
  if [ $rc = 2 ] && [[ $first == "gta: error:"* ]] && [ ! -e "$tmp/u.safetensors" ]; then
    ok "$name: exit 2, $first"
  else
    bad "$name: want exit 2 and 'gta: error:' (rc $rc)" "$(cat "$tmp/u.err")"
  fi
}
ref=$FX/qwen2/reference.safetensors
usage_error "missing --model" --input "$ref" --out "$tmp/u.safetensors"
usage_error "missing --input" --model "$FX/qwen2" --out "$tmp/u.safetensors"
usage_error "missing --out" --model "$FX/qwen2" --input "$ref"
usage_error "no options at all"
usage_error "unknown option" --model "$FX/qwen2" --input "$ref" --out "$tmp/u.safetensors" --bogus
if grep -q -- '--bogus' "$tmp/u.err"; then ok "unknown option named in the message"; else
  bad "unknown option named in the message" "$(cat "$tmp/u.err")"; fi
usage_error "option without its value" --model "$FX/qwen2" --input "$ref" --out
usage_error "stray positional argument" stray --model "$FX/qwen2" --input "$ref" --out "$tmp/u.safetensors"

if [ ! -d "$FX" ]; then
  echo "skip: no fixtures at $FX"
  finish
fi

# --- the python checker (standard library only) -----------------------------------------
cat >"$tmp/check.py" <<'EOF'
import json, math, struct, sys

def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    out = {}
    for k, v in h.items():
        s, e = v["data_offsets"]
        out[k] = (v["dtype"], v["shape"], b[8 + n + s:8 + n + e])
    return out

def f32(t):
    dtype, shape, raw = t
    assert dtype == "F32", dtype
    return struct.unpack("<%df" % (len(raw) // 4), raw)

out_path, ref_path, mode, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
out, ref = load(out_path), load(ref_path)
errors = []
B, T = ref["input_ids"][1]
V = ref["logits"][1][2]
if "logits" not in out:
    errors.append("no logits")
else:
    dt, shape, _ = out["logits"]
    if dt != "F32" or shape != [B, T, V]:
        errors.append("logits %s %s, want F32 %s" % (dt, shape, [B, T, V]))
    else:
        d = max(abs(a - b) for a, b in zip(f32(out["logits"]), f32(ref["logits"])))
        if not d <= tol:
            errors.append("logits differ by %g (tol %g)" % (d, tol))
def xent(logits):
    """mean cross-entropy of ids[:, t+1] given position t (labels=input_ids)"""
    ids = struct.unpack("<%dq" % (B * T), ref["input_ids"][2])
    tot, n = 0.0, 0
    for b in range(B):
        for t in range(T - 1):
            row = logits[(b * T + t) * V:(b * T + t + 1) * V]
            m = max(row)
            tot += m + math.log(sum(math.exp(x - m) for x in row)) - row[ids[b * T + t + 1]]
            n += 1
    return tot / n
if "loss" not in out or out["loss"][0] != "F32" or out["loss"][1] != [1]:
    errors.append("no loss F32 [1]: %s" % (out.get("loss", (None, None))[:2],))
else:
    l = f32(out["loss"])[0]
    # the bf16/f16 references carry logits only: their loss is computed from them
    r = f32(ref["loss"])[0] if "loss" in ref else xent(f32(ref["logits"]))
    if not abs(l - r) <= tol:
        errors.append("loss %.7f, reference %.7f (tol %g)" % (l, r, tol))
    if "logits" in out and out["logits"][1] == [B, T, V]:
        own = xent(f32(out["logits"]))
        if not abs(l - own) <= 1e-4:
            errors.append("loss %.7f, but the written logits give %.7f" % (l, own))
grads = sorted(k for k in out if k.startswith("grad."))
ref_grads = sorted(k for k in ref if k.startswith("grad."))
if mode == "grads":
    missing = [k for k in ref_grads if k not in out]
    if missing:
        errors.append("missing %d grads, e.g. %s" % (len(missing), missing[:3]))
    for k in ref_grads:
        if k not in out:
            continue
        if out[k][1] != ref[k][1]:
            errors.append("%s shape %s, want %s" % (k, out[k][1], ref[k][1]))
            continue
        g, r = f32(out[k]), f32(ref[k])
        m = max(abs(x) for x in r)
        d = max(abs(a - b) for a, b in zip(g, r))
        if not d <= 1e-4 + 1e-3 * m:
            errors.append("%s differs by %g (max |ref| %g)" % (k, d, m))
    extra = [k for k in grads if k not in ref]
    if extra:
        errors.append("grads the reference lacks: %s" % extra[:3])
    if not grads:
        errors.append("no grads")
elif grads:
    errors.append("grads written without --grads: %s" % grads[:3])
if errors:
    print("\n".join(errors))
    sys.exit(1)
print("%d tensors, %d grads" % (len(out), len(grads)))
EOF

# run_fixture NAME MODE TOL: forward on the fixture's reference input, then check
run_fixture() {
  local name=$1 mode=$2 tol=$3 flag=()
  [ "$mode" = grads ] && flag=(--grads)
  local dir=$FX/$name out=$tmp/$name.$mode.safetensors
  if [ ! -f "$dir/reference.safetensors" ]; then
    bad "$name: fixture missing"
    return
  fi
  local start=$SECONDS
  "$GTA" forward --model "$dir" --input "$dir/reference.safetensors" --out "$out" "${flag[@]}" \
    >"$tmp/f.out" 2>"$tmp/f.err"
  local rc=$?
  if [ $rc != 0 ]; then
    bad "$name ($mode): gta forward exited $rc" "$(cat "$tmp/f.err")"
    return
  fi
  local msg
  if msg=$(python3 "$tmp/check.py" "$out" "$dir/reference.safetensors" "$mode" "$tol" 2>&1); then
    ok "$name ($mode): $msg, $((SECONDS - start)) s"
  else
    bad "$name ($mode)" "$msg"
  fi
  if compgen -G "$tmp/*.tmp*" >/dev/null; then bad "$name ($mode): temporary file left behind" "$(ls "$tmp")"; fi
}

run_fixture qwen2 grads 1e-4
run_fixture qwen3 grads 1e-4
run_fixture llama grads 1e-4
run_fixture qwen2-sharded grads 1e-4
run_fixture llama-legacy-config logits 1e-4
run_fixture qwen2-bf16 logits 5e-2
run_fixture qwen2-fp16 logits 2e-2

# --- inputs it must refuse (exit 2, names the input file, no output) ---------------------
cat >"$tmp/mkin.py" <<'EOF'
import json, math, struct, sys
def write(path, tensors):
    h, data = {}, b""
    for name, dtype, shape, raw in tensors:
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    t = json.dumps(h).encode()
    t += b" " * (-len(t) % 8)
    open(path, "wb").write(struct.pack("<Q", len(t)) + t + data)
kind, path = sys.argv[1], sys.argv[2]
if kind == "oov":
    write(path, [("input_ids", "I64", [1, 3], struct.pack("<3q", 1, 384, 2))])
elif kind == "negative":
    write(path, [("input_ids", "I64", [1, 3], struct.pack("<3q", 1, -1, 2))])
elif kind == "noids":
    write(path, [("tokens", "I64", [1, 3], struct.pack("<3q", 1, 2, 3))])
elif kind == "float":
    write(path, [("input_ids", "F32", [1, 2], struct.pack("<2f", 1, 2))])
elif kind == "rank3":
    write(path, [("input_ids", "I64", [1, 1, 2], struct.pack("<2q", 1, 2))])
elif kind == "empty":
    write(path, [("input_ids", "I64", [1, 0], b"")])
EOF
bad_input() {
  local kind=$1 in=$tmp/in-$1.safetensors out=$tmp/out-$1.safetensors
  if [ "$kind" = truncated ]; then
    head -c 200 "$ref" >"$in"
  else
    python3 "$tmp/mkin.py" "$kind" "$in"
  fi
  "$GTA" forward --model "$FX/qwen2" --input "$in" --out "$out" >/dev/null 2>"$tmp/b.err"
  local rc=$?
  local first
  first=$(head -n 1 "$tmp/b.err")
  if [ $rc = 2 ] && [[ $first == "gta: error:"* ]] && grep -qF "$in" "$tmp/b.err" && [ ! -e "$out" ]; then
    ok "input $kind: exit 2, names the input, no output"
  else
    bad "input $kind: want exit 2 naming $in and no output (rc $rc, output $([ -e "$out" ] && echo exists || echo absent))" \
      "$(cat "$tmp/b.err")"
  fi
}
for k in oov negative noids float rank3 empty truncated; do bad_input "$k"; done

# output into a directory that does not exist: an error, nothing created
"$GTA" forward --model "$FX/qwen2" --input "$ref" --out "$tmp/no/such/dir/o.safetensors" >/dev/null 2>"$tmp/d.err"
rc=$?
if [ $rc != 0 ] && [[ $(head -n 1 "$tmp/d.err") == "gta: error:"* ]] && [ ! -e "$tmp/no" ]; then
  ok "--out in a missing directory: exit $rc, nothing created"
else
  bad "--out in a missing directory (rc $rc)" "$(cat "$tmp/d.err")"
fi

finish
