#!/usr/bin/env bash
# Runs every unit-test binary given on the command line (from the repository root, so
# that ../shared is found), then prints one closing line "N passed, N failed".
set -u
pass=0
fail=0
failed=()
for t in "$@"; do
  log=$(mktemp)
  if "$t" >"$log" 2>&1; then
    ok=1
  else
    ok=0
  fi
  n_pass=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$log" | grep -Eo '[0-9]+$' || true)
  n_fail=$(grep -Eo '^\[  FAILED  \] [0-9]+' "$log" | grep -Eo '[0-9]+$' || true)
  n_pass=${n_pass:-0}
  n_fail=${n_fail:-0}
  if [ "$ok" = 0 ] && [ "$n_fail" = 0 ]; then n_fail=1; fi  # crashed
  pass=$((pass + n_pass))
  fail=$((fail + n_fail))
  if [ "$n_fail" != 0 ]; then
    failed+=("$t")
    cat "$log"
  else
    printf '%-40s %s passed\n' "$(basename "$t")" "$n_pass"
  fi
  rm -f "$log"
done
[ ${#failed[@]} -gt 0 ] && echo "failing: ${failed[*]}"
echo "unit: $pass passed, $fail failed"
[ "$fail" = 0 ]
