#!/usr/bin/env bash
# A PyTorch baseline of ../shared/bench (torch_grpo_step.py, torch_qwen_cpu.py) in the setting
# of its run_*_baseline.sh (Debian's torch, OpenBLAS's OpenMP build, ATen AVX-512), with two
# knobs those scripts lack:
#   --autocast      run the script under torch.autocast("cpu", dtype=torch.bfloat16), the fair
#                   partner of gta's --compute bf16 (bf16 products, fp32 master weights and
#                   AdamW); autocast is entered around the whole script (the forwards run under
#                   it; backward follows the forwards' dtypes)
#   --blas-core C   OPENBLAS_CORETYPE=C (the shared scripts unset it). OpenBLAS's own detection
#                   gives a VM with a generic CPUID model its Prescott kernels; gta then picks
#                   SkylakeX or Haswell itself (docs/training.md), and the fair baseline runs the
#                   same kernels. "auto": what `gta bench` reports as its blas_core.
# When the script's options name --json F, F also gets "autocast" and "blas_core".
#   bench/torch_baseline.sh [--autocast] [--blas-core C|auto] torch_grpo_step.py --config small --json F
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${GTA_SHARED:-../shared}
autocast=0 core=
while [ $# -gt 0 ]; do
  case $1 in
    --autocast) autocast=1 ;;
    --blas-core) core=$2; shift ;;
    *) break ;;
  esac
  shift
done
script=$SHARED/bench/${1:?usage: bench/torch_baseline.sh [--autocast] [--blas-core C|auto] SCRIPT [ARGS]}
shift
[ -f "$script" ] || { echo "torch_baseline.sh: $script not found" >&2; exit 2; }
if [ "$core" = auto ]; then
  core=$(${GTA:-build/gta} bench --what gemm --runs 1 --batch 2 --seq 16 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["blas_core"])')
fi
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null || [ ! -d /usr/lib/x86_64-linux-gnu/openblas-openmp ]; then
  apt-get install -y -q python3-torch python3-numpy libopenblas0-openmp >/dev/null
fi
envs=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
[ -n "$core" ] && envs+=(OPENBLAS_CORETYPE="$core")
env "${envs[@]}" LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp ATEN_CPU_CAPABILITY=avx512 \
  GTA_AUTOCAST=$autocast GTA_TORCH_CORE="${core:-own}" /usr/bin/python3 - "$script" "$@" <<'PY'
import contextlib, json, os, runpy, sys
import torch
script = sys.argv[1]
sys.argv = sys.argv[1:]
ac = os.environ["GTA_AUTOCAST"] == "1"
with torch.autocast("cpu", dtype=torch.bfloat16) if ac else contextlib.nullcontext():
    runpy.run_path(script, run_name="__main__")
if "--json" in sys.argv:
    path = sys.argv[sys.argv.index("--json") + 1]
    with open(path) as f:
        res = json.load(f)
    res["autocast"] = "bf16" if ac else None
    res["blas_core"] = os.environ["GTA_TORCH_CORE"]
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
PY
