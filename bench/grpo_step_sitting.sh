#!/usr/bin/env bash
# One sitting of the whole-step benchmark: gta's GRPO and GTA steps (gta bench --what
# grpo-step|gta-step) beside the PyTorch GRPO step of ../shared/bench/torch_grpo_step.py
# (TRL's step in plain PyTorch, in run_grpo_step_baseline.sh's setting, run by
# bench/torch_baseline.sh with gta's OpenBLAS kernels: TORCH_CORE below), on the same shapes, alternating so that both see the same machine state. Writes one JSON line per
# measurement to $OUT (default bench/results-step.jsonl) and a summary table (medians and
# ratios PyTorch / gta) to stdout and to ${OUT%.jsonl}.md.
#
#   bench/grpo_step_sitting.sh [--configs small,q05-4L] [--compute f32,bf16] [--runs N] [--reps N]
#                              [--q05] [--torch-q05] [--no-torch] [--no-autocast]
#
#   small, q05-4L   --prompts 2 --group 16 --prompt-len 256 --new 64 --iterations 4 (both sides)
#   --q05           gta on the whole 0.5B shape, one prompt, 256 + 64, one update: G = 8 (the
#                   PyTorch step's largest that fits 24 GB) and G = 16 (gta alone)
#   --torch-q05     also the PyTorch q05 step at G = 8 (about 2 min and an 18 GiB peak)
#   --runs N        timed runs per measurement after the warm-up, medianed inside each
#                   program (default 3 for gta, 2 for PyTorch: TORCH_RUNS)
#   --reps N        the whole alternation N times (default 1); the table takes the median
#   --compute LIST  gta's --compute settings, each a row (default f32,bf16)
#   --no-torch      gta only (e.g. where ../shared is absent)
#   --no-autocast   without the PyTorch step under torch.autocast("cpu", bfloat16)
#                   (bench/torch_baseline.sh --autocast), run beside gta's bf16 rows by default
#   --shape "P G L N U"  another shape for the configs (e.g. a smoke sitting: "2 4 128 32 2")
#   --summary       only the table of an existing $OUT
# THREADS (default 2): OpenMP threads of gta and torch.set_num_threads of the baseline.
# TORCH_CORE (default auto): the baseline's OPENBLAS_CORETYPE, "auto" being the kernels gta runs
# (where OpenBLAS's own detection falls back to Prescott gta picks SkylakeX or Haswell itself:
# docs/training.md); TORCH_CORE= leaves the baseline OpenBLAS's own choice, as its script does.
# Needs build/gta (make); the baseline installs python3-torch through apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${GTA_SHARED:-../shared}
OUT=${OUT:-bench/results-step.jsonl}
GTA=${GTA:-build/gta}
configs=small,q05-4L runs=3 reps=1 q05=0 torch_q05=0 torch=1 autocast=1 shape="2 16 256 64 4" measure=1
computes=f32,bf16
THREADS=${THREADS:-2}
TORCH_RUNS=${TORCH_RUNS:-2}
# the baseline's OpenBLAS kernels: "auto" = the ones gta runs (its blas_core), "" = OpenBLAS's own
TORCH_CORE=${TORCH_CORE-auto}
while [ $# -gt 0 ]; do
  case $1 in
    --configs) configs=$2; shift ;;
    --runs) runs=$2; shift ;;
    --reps) reps=$2; shift ;;
    --q05) q05=1 ;;
    --torch-q05) q05=1 torch_q05=1 ;;
    --no-torch) torch=0 ;;
    --no-autocast) autocast=0 ;;
    --compute) computes=$2; shift ;;
    --shape) shape=$2; shift ;;
    --summary) measure=0 ;;
    *) echo "grpo_step_sitting.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ $torch = 1 ] && [ ! -f "$SHARED/bench/torch_grpo_step.py" ]; then
  echo "grpo_step_sitting.sh: $SHARED/bench/torch_grpo_step.py not found: gta only" >&2
  torch=0
fi
[ $measure = 1 ] && : >"$OUT"
# gta's setting: OpenBLAS (OpenMP build), the kernels gta picks (docs/training.md), 2 threads
GTA_ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$THREADS)
note() { echo "== $* ($(date -u +%H:%M:%S))" >&2; }
record() { # who, label, json
  echo "{\"who\":\"$1\",\"label\":\"$2\",\"rep\":$rep,\"result\":$3}" >>"$OUT"
}
gta_step() { # label, what, config, P, G, L, N, U: one row per --compute setting
  local label=$1 what=$2 cfg=$3 c
  for c in ${computes//,/ }; do
    note "gta $what --compute $c $cfg P=$4 G=$5 L=$6 N=$7 U=$8 (rep $rep)"
    record gta "$label" "$("${GTA_ENV[@]}" "$GTA" bench --what "$what" --config "$cfg" --prompts "$4" --group-size "$5" \
      --prompt-len "$6" --new-tokens "$7" --num-iterations "$8" --runs "$runs" --compute "$c" 2>/dev/null)"
  done
}
torch_step() { # label, config, P, G, L, N, U: fp32, then under autocast bf16 when gta has a bf16 row
  local label=$1 cfg=$2 j kind
  local args=(--config "$cfg" --prompts "$3" --group "$4" --prompt-len "$5" --new "$6" --iterations "$7"
    --runs "$TORCH_RUNS" --threads "$THREADS")
  local kinds=(fp32)
  if [ $autocast = 1 ] && [[ ,$computes, == *,bf16,* ]]; then kinds+=(autocast); fi
  j=$(mktemp)
  for kind in "${kinds[@]}"; do
    note "torch grpo $kind $cfg P=$3 G=$4 L=$5 N=$6 U=$7, OpenBLAS core $TORCH_CORE (rep $rep)"
    GTA_SHARED=$SHARED GTA=$GTA bench/torch_baseline.sh $([ $kind = autocast ] && echo --autocast) \
      --blas-core "$TORCH_CORE" torch_grpo_step.py "${args[@]}" --json "$j" >&2
    record torch "$label" "$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$j")"
  done
  rm -f "$j"
}

[ $measure = 1 ] || reps=0
for rep in $(seq "$reps"); do
  read -r P G L N U <<<"$shape"
  for cfg in ${configs//,/ }; do
    label="$cfg ${P}x$G $L+$N U=$U"
    gta_step "$label" grpo-step "$cfg" "$P" "$G" "$L" "$N" "$U"
    gta_step "$label" gta-step "$cfg" "$P" "$G" "$L" "$N" "$U"
    if [ $torch = 1 ]; then torch_step "$label" "$cfg" "$P" "$G" "$L" "$N" "$U"; fi
  done
  if [ $q05 = 1 ]; then
    gta_step "q05 1x8 256+64 U=1" grpo-step q05 1 8 256 64 1
    gta_step "q05 1x8 256+64 U=1" gta-step q05 1 8 256 64 1
    if [ $torch = 1 ] && [ $torch_q05 = 1 ]; then torch_step "q05 1x8 256+64 U=1" q05 1 8 256 64 1; fi
    gta_step "q05 1x16 256+64 U=1" grpo-step q05 1 16 256 64 1
    gta_step "q05 1x16 256+64 U=1" gta-step q05 1 16 256 64 1
  fi
done

python3 - "$OUT" <<'PY' | tee "${OUT%.jsonl}.md"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
phases = ["generate", "old_logps", "ref_logps", "updates", "total"]
def key(r):
    x = r["result"]
    if r["who"] == "torch":
        return (r["label"], "PyTorch GRPO" + (" autocast bf16" if x.get("autocast") else " fp32"))
    return (r["label"], f"gta {x['what']} {x.get('compute', 'f32')}")
groups = {}
for r in rows:
    groups.setdefault(key(r), []).append(r["result"])
def med(res, p):
    return statistics.median(x["seconds_median"][p] for x in res)
def rss(res):
    return max(x["peak_rss_mib"] for x in res)
labels = list(dict.fromkeys(r["label"] for r in rows))
print("| shape | step | " + " | ".join(phases) + " | peak RSS MiB | PyTorch fp32 / this | PyTorch autocast / this |")
print("|---|---|" + "---|" * len(phases) + "---|---|---|")
for lab in labels:
    t = groups.get((lab, "PyTorch GRPO fp32"))
    a = groups.get((lab, "PyTorch GRPO autocast bf16"))
    def ratio(base, g):
        return f"{med(base, 'total') / med(g, 'total'):.2f}x" if base else "-"
    for name in ("PyTorch GRPO fp32", "PyTorch GRPO autocast bf16", "gta grpo-step f32", "gta gta-step f32",
                 "gta grpo-step bf16", "gta gta-step bf16"):
        g = groups.get((lab, name))
        if g:
            print(f"| {lab} | {name} | " + " | ".join(f"{med(g, p):.2f}" for p in phases) +
                  f" | {rss(g):.0f} | {ratio(t, g)} | {ratio(a, g)} |")
    for base, name, bn in ((t, "gta grpo-step f32", "fp32"), (a, "gta grpo-step bf16", "autocast")):
        g = groups.get((lab, name))
        if base and g:
            print(f"| {lab} | PyTorch {bn} / {name}, per phase | " +
                  " | ".join(f"{med(base, p) / med(g, p):.2f}x" if med(g, p) > 0 else "(first update)"
                             for p in phases) + " | | | |")
PY
