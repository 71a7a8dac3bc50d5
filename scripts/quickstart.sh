#!/usr/bin/env bash
# Sets everything up and runs the main job on a built-in default: installs the Debian
# packages, builds build/gta, then fine-tunes the pretrained stories260K model that ships
# in ../shared on Emotion with GTA for a few steps, evaluates it and writes the report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)"
shared=${GTA_SHARED:-../shared}
out=runs/quickstart
rm -rf "$out"
build/gta train --method gta --model "$shared/models/stories260K" --data "$shared/data/emotion" --out "$out/gta" \
  --steps 8 --batch-prompts 2 --group-size 4 --max-new-tokens 32 --prompt-style compact --max-prompt-tokens 256 \
  --learning-rate 1e-4 --eval-steps 4 --eval-limit 16
build/gta eval --model "$out/gta/final" --data "$shared/data/emotion" --split test --limit 32 --format gta \
  --prompt-style compact --max-prompt-tokens 256 --max-new-tokens 32 --out "$out/gta/eval.json"
build/gta report --run "$out/gta" --out "$out/report.html"
echo "quickstart: run in $out/gta, report in $out/report.html"
