#!/usr/bin/env bash
# Screenshot of a gta report page with Debian's headless chromium.
#
#   scripts/screenshot-report.sh REPORT.html OUT.png [WIDTH HEIGHT]     (default 1400 3000)
#
# Installs chromium with apt-get when it is missing (needs root).  The page is
# self-contained, and the flags below keep chromium from reaching the network at all.
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 REPORT.html OUT.png [WIDTH HEIGHT]" >&2
  exit 2
fi
report=$1
out=$2
width=${3:-1400}
height=${4:-3000}
if [ ! -f "$report" ]; then
  echo "$0: error: $report: no such file" >&2
  exit 2
fi
chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null
  chrome=$(command -v chromium)
fi
abs_report=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
case $out in /*) abs_out=$out ;; *) abs_out=$(pwd)/$out ;; esac
profile=$(mktemp -d "${TMPDIR:-/tmp}/gta-chromium-XXXXXX")
trap 'rm -rf "$profile"' EXIT
sandbox=()
[ "$(id -u)" = 0 ] && sandbox=(--no-sandbox) # chromium refuses to run as root with its sandbox
"$chrome" --headless "${sandbox[@]}" --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$profile" --screenshot="$abs_out" --window-size="$width,$height" \
  "file://$abs_report" 2>"$profile/chromium.log" || {
  cat "$profile/chromium.log" >&2
  exit 1
}
[ -s "$abs_out" ] || {
  echo "$0: error: chromium wrote no screenshot" >&2
  cat "$profile/chromium.log" >&2
  exit 1
}
echo "$abs_out"
