#!/usr/bin/env bash
# Replays tests/fuzz/corpus/<harness> and tests/fuzz/regress/<harness> through each
# harness's replay driver: replay.sh BINDIR NAME...
set -u
bindir=$1
shift
fail=0
for n in "$@"; do
  dirs=()
  for d in tests/fuzz/corpus/$n tests/fuzz/regress/$n; do [ -d "$d" ] && dirs+=("$d"); done
  [ ${#dirs[@]} -eq 0 ] && continue
  if ! out=$("$bindir/$n" "${dirs[@]}" 2>&1); then
    echo "$out" | tail -20
    echo "fuzz replay FAILED: $n"
    fail=1
  else
    printf '%-40s %s\n' "$n (replay)" "$(echo "$out" | tail -1 | sed 's/.*: //')"
  fi
done
exit $fail
