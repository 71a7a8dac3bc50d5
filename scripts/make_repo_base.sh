#!/usr/bin/env bash
# Rebuilds models/gta-base-5m, the base model the quick start and the tests use, with the
# project's own recipe (scripts/make_base.sh, the study's base: docs/results.md), and checks it against the
# committed checksums (models/gta-base-5m/SHA256SUMS):
#   tokenizer: gta tokenizer-train, 8,192 tokens, on the four datasets' training texts (texts
#              only) and WordNet's glosses
#   pretraining: 800 steps, 16 x 256 tokens, seed 0
#   instruction stage: 600 steps on 40,000 synthetic documents (seed 0), seed 1
#   written in bf16 (SAVE_DTYPE=bf16; training is fp32)
# Needs ../shared/data (the training texts) and Debian's wordnet-base; about 20 minutes on
# an idle machine with two cores. Results are bit-reproducible for the same OMP_NUM_THREADS (2 here: the
# reductions' order depends on the thread count) on the same kind of CPU (OpenBLAS picks its
# kernels by CPU, and their sums' order differs between AVX2 and AVX-512 machines).
# usage: scripts/make_repo_base.sh [WORK=runs/repo-base]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-runs/repo-base}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
SAVE_DTYPE=bf16 scripts/make_base.sh "$WORK" 800 600
dst=models/gta-base-5m
mkdir -p "$dst"
for f in config.json generation_config.json model.safetensors tokenizer.json tokenizer_config.json; do
  cp "$WORK/model/$f" "$dst/$f"
done
(cd "$dst" && sha256sum -c SHA256SUMS)
