#!/usr/bin/env bash
# Every GPU check of the CUDA backend in one run, everything into OUT (about 8 minutes on
# one H100/H200; docs/gpu.md says what each step shows):
#
#   bench/gpu_check.sh OUT          (from the repository root, on a machine with an NVIDIA GPU)
#   STEPS="selftest parity" bench/gpu_check.sh OUT      (a subset)
#
#   build     make -j (a build/gta brought along is used when the build cannot run here)
#   selftest  gta selftest --device cuda --verbose (every op against the CPU backend)
#   nccl      gta selftest --device cuda --nccl --verbose: NCCL through the communication
#             seam over one rank (the communicator, all-reduce and both all-gather ways on
#             device buffers, between kernels of the context's stream, exact against the
#             host's values). NOT YET RUN on any GPU; one GPU cannot check a sum over ranks
#   parity    gta forward --device cuda on ../shared/fixtures/hf: logits and loss within 1e-4
#             of transformers and gradients within 1e-4 + 1e-3 max|ref| with fp32 products;
#             logits within 2e-2 with bf16 products (GTA_CUDA_MATH=bf16)
#   greedy    gta generate --greedy --device cuda: the fixtures' greedy_output, and the same
#             tokens as --device cpu on stories260K
#   hf        a model directory written by gta (gta init) loaded by transformers unchanged:
#             its logits against gta forward --device cuda (1e-4)
#   bench     gta bench --device cuda with bf16 products: training tokens/s of the 0.5B
#             (B16 x T512) and 3B (B8 x T512) shapes, sampling 64 x (128 + 128) and 256
#             sequences on 0.5B, a GTA step (G 16, prompt 256, 128 new) of 3B; device memory
#             sampled by nvidia-smi
#   anchor    ../shared/bench/gpu_torch_anchor.py in the same run (PyTorch + transformers)
#
# OUT/summary.txt: one PASS / FAIL / SKIP line per check; OUT/<step>.log: each command's
# output; OUT/bench.jsonl and OUT/gpu_anchor.json: the numbers.
set -u
OUT=${1:?usage: bench/gpu_check.sh OUT}
cd "$(dirname "$0")/.." || exit 2
SHARED=${GTA_SHARED:-../shared}
STEPS=${STEPS:-build selftest nccl parity greedy hf bench anchor}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SUM=$OUT/summary.txt
: >"$SUM"
T0=$(date +%s)
GTA=build/gta
say() { echo "$*" | tee -a "$SUM"; }
want() { [[ " $STEPS " == *" $1 "* ]]; }
elapsed() { echo $(($(date +%s) - T0)); }

{
  echo "date: $(date -u)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  nvcc --version 2>/dev/null | tail -n 1
  git log -1 --format='commit %H %s' 2>/dev/null
} >"$OUT/machine.txt"
cat "$OUT/machine.txt"

# ------------------------------------------------------------------------------ build
if want build; then
  if timeout 240 make -j"$(nproc)" >"$OUT/build.log" 2>&1; then
    say "PASS build ($(elapsed) s): $(grep -c '^NVCC' "$OUT/build.log") .cu files compiled"
  elif [ -x "$GTA" ]; then
    say "FAIL build here (see build.log); using the build/gta brought along"
  else
    say "FAIL build (see build.log) and no build/gta: nothing else can run"
    exit 1
  fi
fi
if ! "$GTA" selftest --help >/dev/null 2>&1; then
  say "FAIL $GTA does not run here: $("$GTA" 2>&1 | head -n 2)"
  exit 1
fi

# ------------------------------------------------------------------------------ selftest
if want selftest; then
  timeout 120 "$GTA" selftest --device cuda --verbose >"$OUT/selftest.log" 2>&1
  rc=$?
  say "$([ $rc = 0 ] && echo PASS || echo FAIL) selftest (rc $rc): $(tail -n 1 "$OUT/selftest.log")"
  grep '^MISMATCH' "$OUT/selftest.log" | head -n 40 | sed 's/^/  /' | tee -a "$SUM"
fi

# ------------------------------------------------------------------------------ nccl
# (written, never run on a GPU yet: the first run of this step is its first check)
if want nccl; then
  timeout 120 "$GTA" selftest --device cuda --nccl --verbose >"$OUT/nccl.log" 2>&1
  rc=$?
  say "$([ $rc = 0 ] && echo PASS || echo FAIL) nccl, 1 rank (rc $rc): $(tail -n 1 "$OUT/nccl.log")"
  grep '^MISMATCH' "$OUT/nccl.log" | head -n 20 | sed 's/^/  /' | tee -a "$SUM"
fi

# ------------------------------------------------------------------------------ helpers
cat >"$OUT/st.py" <<'EOF'
"""safetensors with the standard library: load(path) -> {name: (dtype, shape, values)}"""
import json, struct

def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    out = {}
    for k, v in h.items():
        s, e = v["data_offsets"]
        raw = b[8 + n + s:8 + n + e]
        fmt = {"F32": "f", "I64": "q", "I32": "i"}.get(v["dtype"])
        vals = struct.unpack("<%d%s" % (len(raw) // struct.calcsize(fmt), fmt), raw) if fmt else raw
        out[k] = (v["dtype"], v["shape"], vals)
    return out

def maxdiff(a, b):
    return max(abs(x - y) for x, y in zip(a, b))
EOF
export PYTHONPATH=$OUT${PYTHONPATH:+:$PYTHONPATH}

# ------------------------------------------------------------------------------ parity
cat >"$OUT/parity.py" <<'EOF'
import sys
from st import load, maxdiff
out, ref, tol, grads = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
errs = []
d = maxdiff(out["logits"][2], ref["logits"][2])
if not d <= tol: errs.append("logits differ by %.3g (tol %g)" % (d, tol))
if "loss" in ref:
    dl = abs(out["loss"][2][0] - ref["loss"][2][0])
    if not dl <= tol: errs.append("loss differs by %.3g" % dl)
worst = 0.0
if grads:
    for k in (k for k in ref if k.startswith("grad.")):
        r = ref[k][2]; m = max(abs(x) for x in r); g = maxdiff(out[k][2], r)
        worst = max(worst, g / (1e-4 + 1e-3 * m))
        if not g <= 1e-4 + 1e-3 * m: errs.append("%s differs by %.3g (max |ref| %.3g)" % (k, g, m))
print("logits max |diff| %.3g%s" % (d, ", grads worst %.2f of tolerance" % worst if grads else ""))
if errs: print("\n".join(errs[:8])); sys.exit(1)
EOF
if want parity; then
  for fx in "$SHARED"/fixtures/hf/*/; do
    name=$(basename "$fx")
    ref=$fx/reference.safetensors
    [ -f "$ref" ] || continue
    case $name in qwen2-bf16 | qwen2-fp16) tol32=5e-2 ;; *) tol32=1e-4 ;; esac
    timeout 60 "$GTA" forward --device cuda --model "$fx" --input "$ref" --out "$OUT/fwd_$name.safetensors" --grads \
      >>"$OUT/parity.log" 2>&1
    r=$(timeout 60 python3 "$OUT/parity.py" "$OUT/fwd_$name.safetensors" "$ref" "$tol32" \
      "$([ "$tol32" = 1e-4 ] && echo 1 || echo 0)" 2>&1)
    rc=$?
    say "$([ $rc = 0 ] && echo PASS || echo FAIL) parity fp32 $name: $(echo "$r" | tr '\n' ';')"
    # bf16 products against the fp32 references (the bf16/fp16 ones were computed in those
    # types by transformers: only the loose fp32 check above applies to them)
    [ "$tol32" = 1e-4 ] || continue
    GTA_CUDA_MATH=bf16 timeout 60 "$GTA" forward --device cuda --model "$fx" --input "$ref" \
      --out "$OUT/fwd16_$name.safetensors" >>"$OUT/parity.log" 2>&1
    r=$(timeout 60 python3 "$OUT/parity.py" "$OUT/fwd16_$name.safetensors" "$ref" 5e-2 0 2>&1)
    # the bf16 target is 2e-2 on the logits; print the number, judge against it
    d=$(echo "$r" | grep -Eo 'max \|diff\| [0-9.e+-]+' | awk '{print $3}')
    ok=$(python3 -c "import sys; print(1 if float('${d:-inf}') <= 2e-2 else 0)" 2>/dev/null)
    say "$([ "$ok" = 1 ] && echo PASS || echo FAIL) parity bf16 products $name: logits max |diff| ${d:-?} (target 2e-2)"
  done
fi

# ------------------------------------------------------------------------------ greedy
if want greedy; then
  for fx in "$SHARED"/fixtures/hf/*/; do
    name=$(basename "$fx")
    ref=$fx/reference.safetensors
    [ -f "$ref" ] || continue
    read -r ids want_ids < <(python3 -c "
from st import load
r = load('$ref')
if 'greedy_prompt' in r: print(','.join(map(str, r['greedy_prompt'][2])), ','.join(map(str, r['greedy_output'][2])))")
    [ -n "${ids:-}" ] || continue
    n=$(echo "$want_ids" | tr ',' '\n' | wc -l)
    got=$(timeout 30 "$GTA" generate --device cuda --model "$fx" --prompt-ids "$ids" --max-new-tokens "$n" --greedy \
      2>>"$OUT/greedy.log" | python3 -c "import json,sys; print(','.join(map(str, json.loads(sys.stdin.readline())['ids'])))")
    # the reference may hold the prompt and the continuation, or the continuation only
    if [ "$got" = "$want_ids" ] || [ "$ids,$got" = "$want_ids" ]; then say "PASS greedy $name: $n tokens identical"; else
      say "FAIL greedy $name: got $got, want $want_ids"; fi
  done
  st=$SHARED/models/stories260K
  for mode in fp32 bf16; do
    env_math=$([ $mode = bf16 ] && echo bf16 || echo fp32)
    a=$(GTA_CUDA_MATH=$env_math timeout 30 "$GTA" generate --device cuda --model "$st" --prompt-ids 1,403,407 \
      --max-new-tokens 120 --greedy 2>>"$OUT/greedy.log" | head -n 1)
    b=$(timeout 60 "$GTA" generate --device cpu --model "$st" --prompt-ids 1,403,407 --max-new-tokens 120 --greedy \
      2>>"$OUT/greedy.log" | head -n 1)
    v=$([ -n "$a" ] && [ "$a" = "$b" ] && echo PASS || echo FAIL)
    [ $mode = bf16 ] && [ "$v" = FAIL ] && v="INFO (bf16 products may diverge)"
    say "$v greedy stories260K $mode products: cuda and cpu $([ "$a" = "$b" ] && echo identical || echo differ) (120 tokens)"
  done
fi

# ------------------------------------------------------------------------------ hf
if want hf; then
  cfg=$OUT/hf_config.json
  cat >"$cfg" <<'EOF'
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 128, "intermediate_size": 352,
 "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000,
 "max_position_embeddings": 512, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": true,
 "hidden_act": "silu", "torch_dtype": "float32"}
EOF
  {
    "$GTA" init --model-config "$cfg" --out "$OUT/hf_model" --seed 3 &&
      python3 - "$OUT/hf_model" "$OUT/hf_ids.safetensors" <<'EOF'
import json, struct, sys
ids = [[(7 * i + 3 * b) % 1000 for i in range(24)] for b in range(2)]
raw = struct.pack("<48q", *[x for r in ids for x in r])
h = json.dumps({"input_ids": {"dtype": "I64", "shape": [2, 24], "data_offsets": [0, len(raw)]}}).encode()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + raw)
EOF
  } >"$OUT/hf.log" 2>&1
  timeout 60 "$GTA" forward --device cuda --model "$OUT/hf_model" --input "$OUT/hf_ids.safetensors" \
    --out "$OUT/hf_gta.safetensors" >>"$OUT/hf.log" 2>&1
  r=$(timeout 120 python3 - "$OUT/hf_model" "$OUT/hf_gta.safetensors" <<'EOF' 2>>"$OUT/hf.log"
import sys, torch
from transformers import AutoModelForCausalLM
from st import load
m = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32, attn_implementation="eager").eval()
ids = torch.tensor([[(7 * i + 3 * b) % 1000 for i in range(24)] for b in range(2)])
with torch.no_grad():
    ref = m(input_ids=ids).logits.flatten().tolist()
d = max(abs(a - b) for a, b in zip(load(sys.argv[2])["logits"][2], ref))
print("transformers loads it; logits max |diff| %.3g" % d)
sys.exit(0 if d <= 1e-4 else 1)
EOF
  )
  rc=$?
  say "$([ $rc = 0 ] && echo PASS || echo FAIL) hf: ${r:-no result (see hf.log)} (PEFT adapter check: not written yet, SKIP)"
fi

# ------------------------------------------------------------------------------ bench
if want bench; then
  : >"$OUT/bench.jsonl"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 >"$OUT/gpu_mem.txt" 2>/dev/null &
  smi=$!
  b() { # label timeout args...: one bench run, its JSON line tagged, the device memory peak during it
    local label=$1 lim=$2
    shift 2
    local n0
    n0=$(wc -l <"$OUT/gpu_mem.txt")
    local line
    line=$(GTA_CUDA_MATH=bf16 timeout "$lim" "$GTA" bench --device cuda "$@" 2>>"$OUT/bench.log" | tail -n 1)
    local peak
    peak=$(tail -n +"$((n0 + 1))" "$OUT/gpu_mem.txt" | sort -n | tail -n 1)
    echo "{\"label\":\"$label\",\"device_mem_peak_mib\":${peak:-null},\"result\":${line:-null}}" >>"$OUT/bench.jsonl"
    say "$([ -n "$line" ] && echo INFO || echo FAIL) bench $label: ${line:-no result (see bench.log)} [device peak ${peak:-?} MiB]"
  }
  c05=bench/configs/qwen2.5-0.5b.json
  c3=bench/configs/qwen2.5-3b.json
  b "train 0.5B B16xT512" 90 --what train --config "$c05" --batch 16 --seq 512 --runs 3
  b "train 3B B8xT512" 120 --what train --config "$c3" --batch 8 --seq 512 --runs 3
  b "generate 0.5B 64 seqs P128 N128" 60 --what generate --config "$c05" --batch 64 --prompt-len 128 --new-tokens 128 --runs 2
  b "generate 0.5B 256 seqs P128 N128" 60 --what generate --config "$c05" --batch 256 --prompt-len 128 --new-tokens 128 --runs 2
  b "GTA step 3B G16 P256 N128" 120 --what train-prefix --config "$c3" --group-size 16 --prompt-len 256 --new-tokens 128 --runs 2
  kill "$smi" 2>/dev/null
fi

# ------------------------------------------------------------------------------ anchor
if want anchor; then
  if OUT=$OUT timeout 240 python3 "$SHARED/bench/gpu_torch_anchor.py" >"$OUT/anchor.log" 2>&1; then
    say "INFO anchor: $(tr -d '\n ' <"$OUT/gpu_anchor.json" | head -c 600)"
  else
    say "FAIL anchor (see anchor.log)"
  fi
fi

say "done in $(elapsed) s; $(grep -c '^PASS' "$SUM") PASS, $(grep -c '^FAIL' "$SUM") FAIL"
