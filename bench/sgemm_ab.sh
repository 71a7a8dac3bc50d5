#!/usr/bin/env bash
# A/B of the fp32 products' library: OpenBLAS's sgemm (the default) against oneDNN's
# (GTA_CPU_SGEMM=dnnl), the whole GRPO step in fp32, alternating, REPS times each.
# One JSON line per step to $OUT (default bench/results-sgemm-ab.jsonl), the medians to stdout.
#   bench/sgemm_ab.sh [--configs small,q05-4L] [--reps N] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results-sgemm-ab.jsonl}
GTA=${GTA:-build/gta}
configs=small,q05-4L reps=2 runs=1
while [ $# -gt 0 ]; do
  case $1 in
    --configs) configs=$2; shift ;;
    --reps) reps=$2; shift ;;
    --runs) runs=$2; shift ;;
    *) echo "sgemm_ab.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
: >"$OUT"
for rep in $(seq "$reps"); do
  for cfg in ${configs//,/ }; do
    for lib in openblas dnnl; do
      echo "== $cfg $lib (rep $rep, $(date -u +%H:%M:%S))" >&2
      j=$(env -u OPENBLAS_CORETYPE OMP_NUM_THREADS=2 GTA_CPU_SGEMM=$lib "$GTA" bench --what grpo-step --config "$cfg" \
        --runs "$runs" 2>/dev/null)
      echo "{\"sgemm\":\"$lib\",\"rep\":$rep,\"result\":$j}" >>"$OUT"
    done
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| config | sgemm | steps | median s | updates s | loss |")
print("|---|---|---|---|---|---|")
for cfg in dict.fromkeys(r["result"]["config"] for r in rows):
    med = {}
    for lib in ("openblas", "dnnl"):
        rs = [r["result"] for r in rows if r["sgemm"] == lib and r["result"]["config"] == cfg]
        t = [a["total"] for x in rs for a in x["seconds_all"]]
        u = [a["updates"] for x in rs for a in x["seconds_all"]]
        med[lib] = statistics.median(t)
        print(f"| {cfg} | {lib} | {len(t)} | {med[lib]:.2f} | {statistics.median(u):.2f} | {rs[0]['loss']:.9f} |")
    print(f"| {cfg} | openblas / dnnl | | {med['openblas'] / med['dnnl']:.3f}x | | |")
PY
