#!/usr/bin/env bash
# Runs each libFuzzer harness for SECONDS on its corpus and regression inputs:
# run.sh BINDIR SECONDS NAME...   New corpus entries go to a scratch folder (the committed
# corpus stays as it is); a crash leaves crash-* in $FUZZ_ARTIFACTS (default build-fuzz/artifacts).
set -u
bindir=$1
secs=$2
shift 2
art=${FUZZ_ARTIFACTS:-build-fuzz/artifacts}
mkdir -p "$art"
fail=0
for n in "$@"; do
  scratch=$(mktemp -d)
  dirs=("$scratch")
  for d in tests/fuzz/corpus/$n tests/fuzz/regress/$n; do [ -d "$d" ] && dirs+=("$d"); done
  dict=()
  [ -f "tests/fuzz/dict/$n.dict" ] && dict=("-dict=tests/fuzz/dict/$n.dict")
  log="$art/$n.log"
  if "$bindir/$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$art/$n-" -print_final_stats=1 "${dict[@]}" "${dirs[@]}" >"$log" 2>&1; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
    rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    printf '%-18s %ss: %s runs, %s exec/s, %s\n' "$n" "$secs" "$runs" "$rate" "$cov"
  else
    tail -40 "$log"
    echo "fuzz FAILED: $n (log $log)"
    fail=1
  fi
  rm -rf "$scratch"
done
exit $fail
