#!/usr/bin/env bash
# A/B sitting: two gta binaries on the same benchmarks, alternating, in one sitting (so that
# both see the same machine state), e.g. the build before and after a refactor.
#   bench/ab.sh OLD_BINARY NEW_BINARY [OUT.jsonl]    (RUNS=3 REPS=2 by default)
# Writes one JSON line per measurement ({"who": "old"|"new", "rep", "result"}) and prints
# the medians of each side and the ratio new/old.
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2 out=${3:-bench/results-ab.jsonl}
RUNS=${RUNS:-3} REPS=${REPS:-2}
ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2)
: >"$out"
for rep in $(seq "$REPS"); do
  for cfg in tiny small q05-4L; do
    for what in train generate; do
      for who in old new; do
        bin=$old; [ $who = new ] && bin=$new
        echo "== $what $cfg $who (rep $rep)" >&2
        r=$("${ENV[@]}" "$bin" bench --what $what --config $cfg --runs "$RUNS" 2>/dev/null)
        echo "{\"who\":\"$who\",\"rep\":$rep,\"result\":$r}" >>"$out"
      done
    done
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = sorted({(r["result"]["what"], r["result"]["config"]) for r in rows}, key=lambda k: (k[0], ["tiny","small","q05-4L"].index(k[1])))
print(f"{'what':9} {'config':7} {'old tok/s':>10} {'new tok/s':>10} {'new/old':>8} {'old RSS':>8} {'new RSS':>8}")
for k in keys:
    med = {}
    rss = {}
    for who in ("old", "new"):
        v = [r["result"]["tokens_per_s"] for r in rows if r["who"] == who and (r["result"]["what"], r["result"]["config"]) == k]
        m = [r["result"].get("peak_rss_mib", 0) for r in rows if r["who"] == who and (r["result"]["what"], r["result"]["config"]) == k]
        med[who] = statistics.median(v); rss[who] = max(m)
    print(f"{k[0]:9} {k[1]:7} {med['old']:10.0f} {med['new']:10.0f} {med['new']/med['old']:8.3f} {rss['old']:8.0f} {rss['new']:8.0f}")
PY
