#!/usr/bin/env bash
# The study of issue 7: Base (zero-shot), SFT, GRPO and GTA on SST-5, MASSIVE ("Amazon"),
# Emotion and BBC News with equal budgets and fixed seeds; the Table 3 ablation GTA (RL)
# on SST-5; a long GRPO-versus-GTA pair on SST-5 with test accuracy over the steps
# (Figure 6). Ends with the tables (results.md), one report page (report.html) and a
# screenshot of it (report.png, when chromium is available).
#
# usage: scripts/study.sh [OUT=runs/study]
#   STUDY_SMOKE=1   the same script at toy size (CI): minutes, numbers meaningless
#   BASE=DIR        use this base model instead of building OUT/base (scripts/make_base.sh)
#   JOBS=N          runs at once, each with OMP_NUM_THREADS = cores / N [cores]
#   STUDY_STOP_AT=N stop each unfinished training at step N (to split the study into
#                   sittings; the next invocation without it continues them)
# Resumable: run it again and it skips finished evals, resumes unfinished trainings.
#
# Budget: every method trains on the same NTRAIN examples per dataset (a seeded subset of
# the training split, scripts/study_data.py) for the same EPOCHS passes, with the same
# prompts per step; RL methods reuse each rollout NUM_ITER times as in the paper. Every
# model is scored greedily on the same seeded NTEST-example subset of the test split.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/study}
SHARED=${GTA_SHARED:-../shared}
GTA=${GTA:-build/gta}
CORES=$(nproc)
JOBS=${JOBS:-$CORES}
[ "$JOBS" -ge 1 ] || JOBS=1
THREADS=$((CORES / JOBS))
[ "$THREADS" -ge 1 ] || THREADS=1
DATASETS=(sst5 massive_scenario emotion bbc_news)

if [ "${STUDY_SMOKE:-0}" = 1 ]; then
  BASE_STEPS=30 INSTRUCT_STEPS=10 VOCAB=1024 SYNTH=500 NTRAIN=8 NTEST=12 EPOCHS=1 LONG_EPOCHS=2 GROUP=4
  MAX_NEW=24 EVAL_STEPS=2 EVAL_LIMIT=6
else
  BASE_STEPS=800 INSTRUCT_STEPS=600 VOCAB=8192 SYNTH=40000 NTRAIN=160 NTEST=1000 EPOCHS=2 LONG_EPOCHS=4 GROUP=16
  MAX_NEW=64 EVAL_STEPS=64 EVAL_LIMIT=400
fi
BATCH=4 NUM_ITER=4 BETA=0.01 LR_RL=5e-4 LR_SFT=5e-4 MAX_PROMPT=256 SEED=0

mkdir -p "$OUT"
log() { echo "study: $*" >&2; }

# 1. the base model
if [ -z "${BASE:-}" ]; then
  BASE=$OUT/base/model
  if [ ! -f "$BASE/model.safetensors" ]; then
    log "building the base model in $OUT/base ($BASE_STEPS pretraining + $INSTRUCT_STEPS instruction steps)"
    VOCAB=$VOCAB SYNTH_N=$SYNTH GTA=$GTA scripts/make_base.sh "$OUT/base" "$BASE_STEPS" "$INSTRUCT_STEPS" >"$OUT/base.log" 2>&1 ||
      { tail -20 "$OUT/base.log" >&2; exit 1; }
  fi
fi
[ -f "$BASE/config.json" ] || { echo "study: error: $BASE: not a model directory" >&2; exit 2; }

# 2. the data subsets
python3 scripts/study_data.py "$SHARED/data" "$OUT/data" "${DATASETS[@]}" \
  --train "$NTRAIN" --test "$NTEST" --seed "$SEED" >"$OUT/data.log"

# 3. the runs: one line per task, longest first so two cores stay busy to the end
common=(--model "$BASE" --prompt-style compact --max-prompt-tokens "$MAX_PROMPT" --seed "$SEED"
  --batch-prompts "$BATCH" --save-steps 32 --log-examples 2)
rl=(--group-size "$GROUP" --num-iterations "$NUM_ITER" --beta "$BETA" --max-new-tokens "$MAX_NEW"
  --learning-rate "$LR_RL")
evalargs=(--split test --prompt-style compact --max-prompt-tokens "$MAX_PROMPT" --max-new-tokens 96 --quiet)

task() { # NAME DATASET METHOD FORMAT EPOCHS [extra train args]
  local name=$1 ds=$2 method=$3 fmt=$4 epochs=$5
  shift 5
  local run=$OUT/runs/$ds/$name data=$OUT/data/$ds
  if [ -f "$run/eval.json" ]; then return 0; fi
  mkdir -p "$OUT/runs/$ds"
  if [ "$method" = base ]; then
    mkdir -p "$run"
    "$GTA" eval --model "$BASE" --data "$data" --format "$fmt" "${evalargs[@]}" --out "$run/eval.json"
    return
  fi
  local args=(--method "$method" --data "$data" --out "$run" --epochs "$epochs" "${common[@]}" "$@")
  [ "$method" = sft ] && args+=(--learning-rate "$LR_SFT") || args+=("${rl[@]}")
  [ -n "${STUDY_STOP_AT:-}" ] && args+=(--stop-at-step "$STUDY_STOP_AT")
  if [ -f "$run/final/model.safetensors" ]; then
    :
  elif [ -d "$run" ]; then
    "$GTA" train "${args[@]}" --resume || return
  else
    "$GTA" train "${args[@]}" || return
  fi
  if [ ! -f "$run/final/model.safetensors" ]; then
    echo "study: $run stopped before its last step; run the study again to continue"
    return 0
  fi
  "$GTA" eval --model "$run/final" --data "$data" --format "$fmt" "${evalargs[@]}" --out "$run/eval.json"
}

tasks=()
long=(--eval-steps "$EVAL_STEPS" --eval-split test --eval-limit "$EVAL_LIMIT")
tasks+=("gta-long sst5 gta gta $LONG_EPOCHS ${long[*]}" "grpo-long sst5 grpo grpo $LONG_EPOCHS ${long[*]}")
for ds in "${DATASETS[@]}"; do tasks+=("gta $ds gta gta $EPOCHS" "grpo $ds grpo grpo $EPOCHS"); done
tasks+=("gta-rl sst5 gta-rl gta $EPOCHS")
for ds in "${DATASETS[@]}"; do
  # SFT at equal data (EPOCHS passes) and at equal optimizer steps (the RL methods take
  # NUM_ITER steps per batch of prompts, so NUM_ITER times the passes)
  tasks+=("sft $ds sft sft $EPOCHS" "sft-steps $ds sft sft $((EPOCHS * NUM_ITER))")
  tasks+=("base $ds base sft 0" "base-gta $ds base gta 0")
done

run_one() {
  local t=$1 name ds
  read -r name ds _ <<<"$t"
  local logf=$OUT/runs/$ds/$name.log
  mkdir -p "$OUT/runs/$ds"
  local t0=$SECONDS
  export OMP_NUM_THREADS=$THREADS
  # shellcheck disable=SC2086
  if task $t >"$logf" 2>&1; then
    log "done $ds/$name ($((SECONDS - t0)) s)"
  else
    log "FAILED $ds/$name, see $logf:"
    tail -5 "$logf" >&2
    return 1
  fi
}

log "${#tasks[@]} tasks, $JOBS at a time, $THREADS thread(s) each; logs in $OUT/runs/DATASET/NAME.log"
fail=0
running=0
for t in "${tasks[@]}"; do
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || fail=1
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || fail=1
  running=$((running - 1))
done
[ "$fail" = 0 ] || { echo "study: error: some runs failed (see above)" >&2; exit 1; }

# 4. tables, report, screenshot
python3 scripts/study_tables.py "$OUT" >"$OUT/results.md.tmp" && mv "$OUT/results.md.tmp" "$OUT/results.md"
runs=() evals=()
for ds in "${DATASETS[@]}"; do
  for m in sft grpo gta gta-rl; do [ -d "$OUT/runs/$ds/$m" ] && runs+=(--run "$OUT/runs/$ds/$m"); done
  evals+=(--eval "$OUT/runs/$ds/base/eval.json")
done
"$GTA" report "${runs[@]}" "${evals[@]}" --title "gta study: Table 2 and Table 3 runs" --out "$OUT/report.html"
"$GTA" report --run "$OUT/runs/sst5/grpo-long" --run "$OUT/runs/sst5/gta-long" \
  --title "gta study: long GRPO vs GTA on SST-5 (Figure 6)" --out "$OUT/report-long.html"
if command -v chromium >/dev/null 2>&1 && [ "${STUDY_SMOKE:-0}" != 1 ]; then
  scripts/screenshot-report.sh "$OUT/report.html" "$OUT/report.png" 1400 5200 || true
  scripts/screenshot-report.sh "$OUT/report-long.html" "$OUT/report-long.png" 1400 2600 || true
fi
cat "$OUT/results.md"
