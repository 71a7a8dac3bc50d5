#!/usr/bin/env bash
# OpenBLAS's kernels: where its own detection picks kernels older than the CPU's AVX2/AVX-512
# (a VM's generic CPUID model gets Prescott's), gta re-executes itself with OPENBLAS_CORETYPE
# naming SkylakeX (AVX-512 F/BW/DQ/VL/CD) or Haswell (AVX2 + FMA) and says so in `gta bench`'s
# JSON (blas_core, blas_core_detected); OPENBLAS_CORETYPE set by the user and GTA_BLAS_CORE=keep
# are obeyed; what gta computes is the same either way within fp32 rounding, and with the
# fp32 products in oneDNN's sgemm (GTA_CPU_SGEMM=dnnl).
set -u
NAME=blas
. "$(dirname "$0")/common.bash"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
unset OPENBLAS_CORETYPE GTA_BLAS_CORE_DETECTED
field() { # json file, key
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "-"))' "$1" "$2"
}
bench() { # out, env...
  local out=$1
  shift
  env "$@" "$GTA" bench --what gemm --runs 1 --batch 2 --seq 16 >"$out" 2>"$tmp/err"
}
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }
want=-
if has avx512f avx512bw avx512dq avx512vl avx512cd; then want=SkylakeX; elif has avx2 fma; then want=Haswell; fi
modern="Haswell Zen SkylakeX Cooperlake SapphireRapids"

if bench "$tmp/keep.json" GTA_BLAS_CORE=keep; then
  own=$(field "$tmp/keep.json" blas_core)
  if [ "$own" != - ] && [ "$(field "$tmp/keep.json" blas_core_detected)" = - ]; then
    ok "GTA_BLAS_CORE=keep: OpenBLAS's own choice ($own), no blas_core_detected"
  else
    bad "GTA_BLAS_CORE=keep: OpenBLAS's own choice, no blas_core_detected" "$(cat "$tmp/keep.json")"
  fi
else
  bad "gta bench runs with GTA_BLAS_CORE=keep" "$(cat "$tmp/err")"
  finish
fi

bench "$tmp/auto.json"
core=$(field "$tmp/auto.json" blas_core) det=$(field "$tmp/auto.json" blas_core_detected)
if [[ " $modern " == *" $own "* ]] || [ $want = - ]; then
  if [ "$core" = "$own" ] && [ "$det" = - ]; then
    ok "OpenBLAS's own $own kept (this CPU: ${want/-/neither AVX2 nor AVX-512})"
  else
    bad "OpenBLAS's own $own kept" "got $core, detected $det"
  fi
else
  if [ "$core" = $want ] && [ "$det" = "$own" ]; then
    ok "OpenBLAS's $own replaced by $want on this CPU, and the JSON says so"
  else
    bad "OpenBLAS's $own replaced by $want" "got blas_core $core, blas_core_detected $det"
  fi
fi

# the user's OPENBLAS_CORETYPE is obeyed (Prescott runs on every x86-64 CPU)
if bench "$tmp/user.json" OPENBLAS_CORETYPE=Prescott && [ "$(field "$tmp/user.json" blas_core)" = Prescott ] &&
  [ "$(field "$tmp/user.json" blas_core_detected)" = - ]; then
  ok "OPENBLAS_CORETYPE=Prescott is obeyed"
else
  bad "OPENBLAS_CORETYPE=Prescott is obeyed" "$(cat "$tmp/user.json" "$tmp/err")"
fi

# the same numbers whichever kernels run: a forward's loss on the tiny random model
cat >"$tmp/config.json" <<'JSON'
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128,
 "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 512,
 "max_position_embeddings": 1024, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "tie_word_embeddings": true}
JSON
st() { # write F: input_ids [1, 36]; or read F's loss
  python3 - "$@" <<'PY'
import json, struct, sys
if sys.argv[1] == "write":
    ids = list(range(5, 41))
    h = json.dumps({"input_ids": {"dtype": "I64", "shape": [1, len(ids)], "data_offsets": [0, 8 * len(ids)]}}).encode()
    open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack(f"<{len(ids)}q", *ids))
else:
    b = open(sys.argv[2], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    t = h["loss"]; o = 8 + n + t["data_offsets"][0]
    print(repr(struct.unpack("<f" if t["dtype"] == "F32" else "<d", b[o:o + (4 if t["dtype"] == "F32" else 8)])[0]))
PY
}
if "$GTA" init --model-config "$tmp/config.json" --out "$tmp/m" --seed 3 >/dev/null 2>"$tmp/err" &&
  st write "$tmp/in.safetensors" &&
  OPENBLAS_CORETYPE=Prescott "$GTA" forward --model "$tmp/m" --input "$tmp/in.safetensors" --out "$tmp/o1.safetensors" 2>"$tmp/err" &&
  "$GTA" forward --model "$tmp/m" --input "$tmp/in.safetensors" --out "$tmp/o2.safetensors" 2>"$tmp/err"; then
  l1=$(st read "$tmp/o1.safetensors") l2=$(st read "$tmp/o2.safetensors")
  if python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(not (a > 0 and abs(a - b) <= 1e-5 * a))' "$l1" "$l2"; then
    ok "a forward's loss is the same with Prescott's kernels and gta's choice within 1e-5 relative ($l1, $l2)"
  else
    bad "a forward's loss agrees across kernels" "Prescott: $l1; chosen: $l2"
  fi
  # the layers' and the head's fp32 products in oneDNN's sgemm (GTA_CPU_SGEMM=dnnl; without
  # oneDNN in the build, OpenBLAS's: then identical)
  if GTA_CPU_SGEMM=dnnl "$GTA" forward --model "$tmp/m" --input "$tmp/in.safetensors" --out "$tmp/o3.safetensors" 2>"$tmp/err"; then
    l3=$(st read "$tmp/o3.safetensors")
    if python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(not (a > 0 and abs(a - b) <= 1e-5 * a))' "$l2" "$l3"; then
      ok "GTA_CPU_SGEMM=dnnl: the same loss within 1e-5 relative ($l2, $l3)"
    else
      bad "GTA_CPU_SGEMM=dnnl: the same loss" "OpenBLAS: $l2; oneDNN: $l3"
    fi
  else
    bad "gta forward with GTA_CPU_SGEMM=dnnl" "$(cat "$tmp/err")"
  fi
else
  bad "gta init and forward of a tiny model" "$(cat "$tmp/err")"
fi
finish
