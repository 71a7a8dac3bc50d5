#!/usr/bin/env bash
# Benchmark (not a test): GTA steps of 2 MPI ranks x 1 thread against 1 process x 1 thread
# on this machine, on ../shared/models/stories260K: seconds a step (the mean of the
# metrics' "seconds", and the CPU seconds of the whole job), bytes communicated a step
# (rank 0's payload), and the load average while it ran. docs/distributed.md has results.
#
#   bench/distributed.sh [STEPS] [BATCH_PROMPTS]     (from the repository root, after make)
set -eu
GTA=${GTA:-build/gta}
SHARED=${GTA_SHARED:-../shared}
STEPS=${1:-6}
P=${2:-8}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cores=$(grep -c ^processor /proc/cpuinfo)
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
# a rank waiting in a reduction yields its core (matters when the machine is shared)
export OMPI_MCA_mpi_yield_when_idle=1
args=(train --method gta --model "$SHARED/models/stories260K" --data "$SHARED/data/emotion" --max-prompt-tokens 440
      --batch-prompts "$P" --group-size 8 --max-new-tokens 32 --learning-rate 1e-4 --num-iterations 2 --seed 5
      --steps "$STEPS" --save-steps 0)
mean() { python3 -c 'import json,sys
s=[json.loads(l)["seconds"] for l in open(sys.argv[1])]
print("%.3f" % (sum(s)/len(s)))' "$1"; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $cores cores"
for n in 1 2; do
  for zero in 0 1; do
    [ $n = 1 ] && [ $zero = 1 ] && continue
    out=$tmp/r$n-$zero
    if [ $n = 1 ]; then
      /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$GTA" "${args[@]}" --zero $zero --out "$out" 2>"$tmp/err"
    else
      /usr/bin/time -f "%e %U %S" -o "$tmp/time" mpirun --allow-run-as-root --oversubscribe -np $n \
        "$GTA" "${args[@]}" --zero $zero --out "$out" 2>"$tmp/err"
    fi
    read -r wall user sys <"$tmp/time"
    bytes=$(grep -o 'communicated [0-9]* bytes a step' "$tmp/err" | grep -o '[0-9]*' || echo 0)
    printf '%d rank(s) x 1 thread, zero %d: %s s/step (metrics), job %s s wall, %s s CPU; %s bytes a step from rank 0\n' \
      $n $zero "$(mean "$out/metrics.jsonl")" "$wall" "$(python3 -c "print('%.1f' % ($user + $sys))")" "$bytes"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
