#!/usr/bin/env bash
# One sitting of training and sampling throughput, gta against the PyTorch baseline of
# ../shared/bench/torch_qwen_cpu.py, each in fp32 and in bf16: gta --compute bf16 beside
# PyTorch under torch.autocast("cpu", bfloat16) (bench/torch_baseline.sh --autocast), both
# on the OpenBLAS kernels gta runs (TORCH_CORE, as in bench/grpo_step_sitting.sh). The
# shapes are the baseline's defaults, which gta bench's defaults match (training B 8 x T 128;
# sampling 16 x 64-token prompts, 64 new tokens). One JSON line per measurement to $OUT
# (default bench/results-train-sample.jsonl); the table to stdout and ${OUT%.jsonl}.md.
#
#   bench/train_sample_sitting.sh [--configs small,q05-4L] [--runs N] [--summary]
#
# THREADS (default 2) for both sides. Needs build/gta; the baseline needs python3-torch.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${GTA_SHARED:-../shared}
OUT=${OUT:-bench/results-train-sample.jsonl}
GTA=${GTA:-build/gta}
THREADS=${THREADS:-2}
TORCH_CORE=${TORCH_CORE-auto}
configs=small,q05-4L runs=3 measure=1
while [ $# -gt 0 ]; do
  case $1 in
    --configs) configs=$2; shift ;;
    --runs) runs=$2; shift ;;
    --summary) measure=0 ;;
    *) echo "train_sample_sitting.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
note() { echo "== $* ($(date -u +%H:%M:%S))" >&2; }
GTA_ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$THREADS)
if [ $measure = 1 ]; then
  [ -f "$SHARED/bench/torch_qwen_cpu.py" ] || { echo "train_sample_sitting.sh: $SHARED/bench/torch_qwen_cpu.py not found" >&2; exit 2; }
  : >"$OUT"
  for cfg in ${configs//,/ }; do
    for c in f32 bf16; do
      for what in train generate; do
        note "gta $what $cfg --compute $c"
        echo "{\"who\":\"gta\",\"result\":$("${GTA_ENV[@]}" "$GTA" bench --what $what --config "$cfg" --runs "$runs" --compute $c 2>/dev/null)}" >>"$OUT"
      done
    done
    for kind in fp32 autocast; do
      note "torch train,sample $cfg $kind"
      j=$(mktemp)
      GTA_SHARED=$SHARED GTA=$GTA bench/torch_baseline.sh $([ $kind = autocast ] && echo --autocast) \
        --blas-core "$TORCH_CORE" torch_qwen_cpu.py --configs "$cfg" --what train,sample --runs "$runs" \
        --threads "$THREADS" --json "$j" >&2
      echo "{\"who\":\"torch\",\"config\":\"$cfg\",\"result\":$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$j")}" >>"$OUT"
      rm -f "$j"
    done
  done
fi

python3 - "$OUT" <<'PY' | tee "${OUT%.jsonl}.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def gta(cfg, what, c):
    for r in rows:
        x = r["result"]
        if r["who"] == "gta" and x.get("config") == cfg and x.get("what") == what and x.get("compute", "f32") == c:
            return x
def torch(cfg, autocast):
    for r in rows:
        if r["who"] == "torch" and r["config"] == cfg and bool(r["result"].get("autocast")) == autocast:
            return r["result"]["results"][cfg]
print("| config | what | PyTorch fp32 tok/s | PyTorch autocast tok/s | gta f32 tok/s | gta bf16 tok/s | gta f32 / PyTorch fp32 | gta bf16 / PyTorch fp32 | gta bf16 / PyTorch autocast |")
print("|---|---|---|---|---|---|---|---|---|")
for cfg in dict.fromkeys(r["config"] if r["who"] == "torch" else r["result"].get("config") for r in rows):
    tf, ta = torch(cfg, False), torch(cfg, True)
    for what, tkey, field in (("train", "train_B8_T128", "tok_s"), ("generate", "sample_B16_P64_N64", "gen_tok_s")):
        g32, g16 = gta(cfg, what, "f32"), gta(cfg, what, "bf16")
        if not (tf and ta and g32 and g16 and tkey in tf):
            continue
        a, b = tf[tkey][field]["median"], ta[tkey][field]["median"]
        x, y = g32["tokens_per_s"], g16["tokens_per_s"]
        print(f"| {cfg} | {what} | {a:.0f} | {b:.0f} | {x:.0f} | {y:.0f} | {x / a:.2f}x | {y / a:.2f}x | {y / b:.2f}x |")
PY
