#!/usr/bin/env bash
# Runs every tests/cli/*.sh (each prints "<name>: N passed, N failed" last) and sums them.
set -u
cd "$(dirname "$0")/../.."
export GTA=${GTA:-build/gta} GTA_SHARED=${GTA_SHARED:-../shared}
pass=0
fail=0
for t in tests/cli/*.sh; do
  [ "$(basename "$t")" = run.sh ] && continue
  out=$(bash "$t" 2>&1)
  rc=$?
  last=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  p=$(printf '%s' "$last" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+' || echo 0)
  f=$(printf '%s' "$last" | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+' || echo 0)
  if [ "$rc" != 0 ] && [ "${f:-0}" = 0 ]; then f=1; fi
  pass=$((pass + ${p:-0}))
  fail=$((fail + ${f:-0}))
  if [ "$rc" != 0 ]; then printf '%s\n' "$out"; else printf '%-40s %s\n' "$(basename "$t")" "$last"; fi
done
echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
