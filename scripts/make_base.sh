#!/usr/bin/env bash
# Builds a small base model from what is available offline, reproducibly:
#   1. a byte-level BPE tokenizer (gta tokenizer-train) on the training texts of the four
#      datasets (texts only: labels never enter pretraining) and WordNet's glosses (Debian's
#      wordnet-base, scripts/wordnet_text.py);
#   2. synthetic instruction documents on tasks unrelated to the datasets
#      (scripts/synth_instruct.py) that teach the chat layout, the tag formats and answering
#      with one of the labels offered;
#   3. causal-LM pretraining (gta pretrain) of a Qwen3-architecture model on the texts of 1
#      (OUT/pretrained);
#   4. a short instruction stage (gta pretrain --init) on the synthetic documents alone,
#      the way an instruct checkpoint is made from its base (OUT/model, the base to use).
# usage: scripts/make_base.sh [OUT=runs/base] [STEPS=800] [INSTRUCT_STEPS=600]
#   PRETRAIN_STOP=N (stop pretraining after step N of the STEPS schedule; default: all),
#   VOCAB=8192 (tokenizer size), SYNTH_N=40000 (synthetic instruction documents),
#   SAVE_DTYPE=f32 (dtype of OUT/model: f32, bf16 or f16; training itself is fp32)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/base}
STEPS=${2:-800}
INSTRUCT_STEPS=${3:-600}
VOCAB=${VOCAB:-8192}
SYNTH_N=${SYNTH_N:-40000}
SAVE_DTYPE=${SAVE_DTYPE:-f32}
PRETRAIN_STOP=${PRETRAIN_STOP:-0}
SHARED=${GTA_SHARED:-../shared}
GTA=${GTA:-build/gta}
D="$SHARED/data"
mkdir -p "$OUT"
# each stage is skipped when a previous invocation finished it (its .done marker)
if [ ! -f "$OUT/tok/.done" ]; then
  python3 scripts/wordnet_text.py >"$OUT/wordnet.jsonl"
  "$GTA" tokenizer-train --corpus "$D"/{sst5,emotion,massive_scenario,bbc_news}/train.jsonl "$OUT/wordnet.jsonl" \
    --vocab-size "$VOCAB" --out "$OUT/tok"
  touch "$OUT/tok/.done"
fi
cat >"$OUT/config.json" <<'JSON'
{"model_type": "qwen3", "hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 4,
 "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64, "max_position_embeddings": 2048,
 "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": true}
JSON
if [ ! -f "$OUT/pretrained/.done" ]; then
  "$GTA" pretrain --model-config "$OUT/config.json" --tokenizer "$OUT/tok" \
    --corpus "$D"/{sst5,emotion,massive_scenario,bbc_news}/train.jsonl "$OUT/wordnet.jsonl" \
    --out "$OUT/pretrained" --steps "$STEPS" --batch 16 --seq 256 --learning-rate 2e-3 --save-steps 100 --seed 0 \
    --stop-at-step "$PRETRAIN_STOP"
  touch "$OUT/pretrained/.done"
fi
python3 scripts/synth_instruct.py --n "$SYNTH_N" --seed 0 >"$OUT/synth.jsonl"
"$GTA" pretrain --init "$OUT/pretrained" --tokenizer "$OUT/tok" --corpus "$OUT/synth.jsonl" \
  --out "$OUT/model" --steps "$INSTRUCT_STEPS" --batch 16 --seq 256 --learning-rate 1e-3 --save-steps 100 --seed 1 \
  --save-dtype "$SAVE_DTYPE"
