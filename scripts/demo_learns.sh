#!/usr/bin/env bash
# "It learns": from the base of scripts/make_base.sh, SFT and GTA on Emotion, each followed
# by a greedy evaluation on the test split. Minutes on two cores; the numbers in the issue
# notes and docs/training.md come from this script.
# usage: scripts/demo_learns.sh [BASE=runs/base/model] [OUT=runs/demo]
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-runs/base/model}
OUT=${2:-runs/demo}
D=${GTA_SHARED:-../shared}/data/emotion
common=(--model "$BASE" --data "$D" --prompt-style compact --max-prompt-tokens 256 --seed 0)
evalargs=(--data "$D" --split test --limit 500 --max-prompt-tokens 256 --max-new-tokens 96)
build/gta train --method sft "${common[@]}" --out "$OUT/sft" --steps 300 --batch-prompts 16 \
  --learning-rate 1e-3 --save-steps 0
build/gta eval --model "$OUT/sft/final" --format sft --prompt-style compact "${evalargs[@]}" --out "$OUT/sft/eval.json"
build/gta train --method gta "${common[@]}" --out "$OUT/gta" --steps 120 --batch-prompts 4 --group-size 8 \
  --max-new-tokens 64 --learning-rate 5e-4 --num-iterations 2 --save-steps 0 --eval-steps 40 --eval-limit 100
build/gta eval --model "$OUT/gta/final" --format gta --prompt-style compact "${evalargs[@]}" --out "$OUT/gta/eval.json"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
for m in ("sft", "gta"):
    e = json.load(open(f"{out}/{m}/eval.json"))
    print(f"{m}: test accuracy {e['accuracy']:.4f}, weighted F1 {e['f1_weighted']:.4f}, format ok {e['format_ok_rate']:.3f}"
          + (f", guess accuracy {e['guess_accuracy']:.4f}" if 'guess_accuracy' in e else ""))
rows = [json.loads(l) for l in open(f"{out}/gta/metrics.jsonl")]
def avg(k, part):
    xs = [r[k] for r in part]
    return sum(xs) / len(xs)
q = max(1, len(rows) // 4)
for k in ("reward", "reward_format", "reward_accuracy", "guess_accuracy"):
    print(f"gta {k}: first quarter {avg(k, rows[:q]):.3f} -> last quarter {avg(k, rows[-q:]):.3f}")
PY
