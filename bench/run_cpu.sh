#!/usr/bin/env bash
# One sitting of every CPU benchmark in docs/benchmarks.md: gta and the PyTorch baselines
# (../shared/bench) alternating, so both see the same machine state. Writes one JSON line
# per measurement to $OUT (default bench/results-cpu.jsonl) and prints a summary.
#   bench/run_cpu.sh [--quick]      (--quick: 3 runs instead of 5, no q05-4L sampling repeat)
# Needs: build/gta (make), python3-torch for the baselines (run_cpu_baseline.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null
SHARED=${GTA_SHARED:-../shared}
OUT=${OUT:-bench/results-cpu.jsonl}
RUNS=5
[ "${1:-}" = "--quick" ] && RUNS=3
: >"$OUT"
# gta's setting: OpenBLAS (OpenMP build) with its own kernel detection, 2 threads
GTA_ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2)
note() { echo "== $*" >&2; }
gta() { "${GTA_ENV[@]}" build/gta "$@" 2>/dev/null; }
# the baseline script takes --runs itself; peak RSS by GNU time (package "time")
torch() {
  /usr/bin/time -f '%M' -o /tmp/torch.rss "$SHARED/bench/run_cpu_baseline.sh" --runs "$RUNS" --json /tmp/torch.json "$@" >&2
  python3 -c 'import json; d=json.load(open("/tmp/torch.json")); d["peak_rss_mib"]=round(int(open("/tmp/torch.rss").read().split()[-1])/1024); print(json.dumps(d))'
}

for rep in 1 2; do
  for cfg in tiny small q05-4L; do
    note "train $cfg (rep $rep)"
    echo "{\"who\":\"gta\",\"rep\":$rep,\"result\":$(gta bench --what train --config $cfg --runs $RUNS)}" >>"$OUT"
    echo "{\"who\":\"torch\",\"rep\":$rep,\"result\":$(torch --configs $cfg --what train)}" >>"$OUT"
    note "sample $cfg (rep $rep)"
    echo "{\"who\":\"gta\",\"rep\":$rep,\"result\":$(gta bench --what generate --config $cfg --runs $RUNS)}" >>"$OUT"
    echo "{\"who\":\"gta\",\"rep\":$rep,\"result\":$(gta bench --what generate --config $cfg --runs $RUNS --weights bf16)}" >>"$OUT"
    echo "{\"who\":\"torch\",\"rep\":$rep,\"result\":$(torch --configs $cfg --what sample)}" >>"$OUT"
  done
done
note "prefix sharing"
echo "{\"who\":\"gta\",\"rep\":1,\"result\":$(gta bench --what generate --config small --share --prompt-len 512 --runs $RUNS)}" >>"$OUT"
echo "{\"who\":\"gta\",\"rep\":1,\"result\":$(gta bench --what train-prefix --config small --runs $RUNS)}" >>"$OUT"
note "tokenize"
echo "{\"who\":\"gta\",\"rep\":1,\"result\":$(gta bench --what tokenize --tokenizer "$SHARED/tokenizers/qwen3" --data "$SHARED/data/bbc_news/train.jsonl" --runs $RUNS)}" >>"$OUT"
note "tokenize: Hugging Face tokenizers (npm tokenizers@0.23.2), one text at a time"
HF=${HF_BENCH_DIR:-/tmp/hfbench}
if [ ! -d "$HF/node_modules/tokenizers" ]; then mkdir -p "$HF" && npm install --prefix "$HF" tokenizers@0.23.2 >/dev/null 2>&1 || true; fi
if [ -d "$HF/node_modules/tokenizers" ]; then
  cp "$SHARED/bench/hf_tokenizers_bench.js" "$HF/"
  node "$HF/hf_tokenizers_bench.js" "$SHARED/tokenizers/qwen3/tokenizer.json" "$SHARED/data/bbc_news/train.jsonl" |
    python3 -c 'import json,sys; rs=[json.loads(l) for l in sys.stdin]; print(json.dumps({"who":"hf","rep":1,"result":{"what":"tokenize-hf","runs":rs}}))' >>"$OUT"
fi
python3 bench/summarize.py "$OUT"
