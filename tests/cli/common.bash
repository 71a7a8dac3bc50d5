# Shared by the tests/cli/*.sh scripts (sourced, not run): counters, the closing line
# "<NAME>: N passed, N failed", a temporary directory removed on exit, and a private copy
# of the binary so that a concurrent rebuild of $GTA cannot disturb a run.
# Set NAME before sourcing.
GTA=${GTA:-build/gta}
GTA_SHARED=${GTA_SHARED:-../shared}
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/     /'; return 0; }
finish() {
  echo "$NAME: $pass passed, $fail failed"
  [ "$fail" = 0 ]
  exit
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gta-$NAME-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ ! -x "$GTA" ]; then
  bad "binary $GTA exists (run make first)"
  finish
fi
cp "$GTA" "$tmp/gta" && GTA=$tmp/gta
