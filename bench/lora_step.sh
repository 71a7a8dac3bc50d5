#!/usr/bin/env bash
# Issue 12's benchmark: peak RSS and seconds of one `gta train --method gta` step (G = 16,
# one 256-token prompt, 128 new tokens) on random weights of a published shape, stored in
# bf16 as the published checkpoints are (gta init --save-dtype bf16).
#   bench/lora_step.sh SHAPE [FLAGS...]
#     SHAPE: a config of bench/configs/ without .json (qwen2.5-3b, llama-3.2-3b, qwen3-4b, ...),
#            or a config.json's path (then TOK=DIR names its tokenizer)
#     FLAGS: gta train flags [--lora-r 16 --base-dtype bf16 --recompute on]
#   WORK=DIR (where the model, data and run go [runs/lora-step]), GTA_SHARED=DIR [../shared]
#   (its tokenizers and bbc_news's labels and first training text), GTA=build/gta
# Prints the plan's total, /usr/bin/time -v's maximum resident set size, the step's seconds
# (metrics.jsonl) and the wall time of the whole run, and appends them as one JSON line to
# WORK/results.jsonl. The model directory is kept for the next run of the same shape.
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:?usage: bench/lora_step.sh SHAPE [FLAGS...]}
shift
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(--lora-r 16 --base-dtype bf16 --recompute on)
SHARED=${GTA_SHARED:-../shared}
GTA=${GTA:-build/gta}
WORK=${WORK:-runs/lora-step}
case "$shape" in
  llama*) tok=$SHARED/tokenizers/llama3.2 ;;
  qwen3*) tok=$SHARED/tokenizers/qwen3 ;;
  *) tok=$SHARED/tokenizers/qwen2.5 ;;
esac
tok=${TOK:-$tok}
cfg=bench/configs/$shape.json
if [ -f "$shape" ]; then
  cfg=$shape
  shape=$(basename "$(dirname "$shape")")
fi
[ -f "$cfg" ] || { echo "lora_step.sh: no $cfg" >&2; exit 2; }
mkdir -p "$WORK"
model=$WORK/$shape
if [ ! -f "$model/.done" ]; then
  rm -rf "$model"
  "$GTA" init --model-config "$cfg" --tokenizer "$tok" --out "$model" --save-dtype bf16
  touch "$model/.done"
fi
data=$WORK/one
mkdir -p "$data"
cp "$SHARED/data/bbc_news/labels.txt" "$data/labels.txt"
head -1 "$SHARED/data/bbc_news/train.jsonl" >"$data/train.jsonl"
run=$WORK/run-$shape
rm -rf "$run"
t0=$(date +%s)
/usr/bin/time -v "$GTA" train --method gta --model "$model" --data "$data" --out "$run" --group-size 16 \
  --max-prompt-tokens 256 --max-new-tokens 128 --batch-prompts 1 --steps 1 --save-steps 0 "${flags[@]}" \
  >"$WORK/$shape.log" 2>&1
t1=$(date +%s)
python3 - "$WORK/$shape.log" "$run/metrics.jsonl" "$shape" "$((t1 - t0))" "${flags[*]}" >>"$WORK/results.jsonl" <<'PY'
import json, re, sys
log = open(sys.argv[1]).read()
plan = re.search(r"^\s*total\s+(\d+) MiB", log, re.M)
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", log)
user = re.search(r"User time \(seconds\): ([\d.]+)", log)
m = [json.loads(l) for l in open(sys.argv[2])]
r = {"shape": sys.argv[3], "flags": sys.argv[5], "plan_mib": int(plan.group(1)) if plan else None,
     "peak_rss_kb": int(rss.group(1)), "peak_rss_mib": round(int(rss.group(1)) / 1024),
     "step_s": m[-1]["seconds"], "wall_s": int(sys.argv[4]),
     "user_s": float(user.group(1)) if user else None, "metrics": m[-1]}
print(json.dumps(r))
PY
tail -1 "$WORK/results.jsonl"
