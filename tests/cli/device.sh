#!/usr/bin/env bash
# --device for forward, generate, train, eval and bench: cpu computes as before; cuda on a
# machine without a usable GPU (or a build without the CUDA backend) and an unknown device
# end with `gta: error:` naming the device, exit 2, before anything is written.
set -u
NAME=device
. "$(dirname "$0")/common.bash"
M=$GTA_SHARED/models/stories260K
D=$GTA_SHARED/data/emotion
have_gpu=0
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && have_gpu=1
if [ ! -d "$M" ]; then
  echo "device: skipped: $M not found (needs ../shared)"
  echo "device: 0 passed, 0 failed"
  exit 0
fi
a=$("$GTA" generate --model "$M" --prompt-ids 1,2,3 --max-new-tokens 8 --greedy 2>/dev/null)
b=$("$GTA" generate --device cpu --model "$M" --prompt-ids 1,2,3 --max-new-tokens 8 --greedy 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && ok "--device cpu is the default" || bad "--device cpu is the default" "$a / $b"

check() { # name, expected message pattern, command...
  local what=$1 pat=$2
  shift 2
  "$@" >"$tmp/o" 2>"$tmp/e"
  local rc=$?
  if [ $rc = 2 ] && grep -q "^gta: error:.*$pat" "$tmp/e" && [ ! -s "$tmp/o" ] && [ ! -e "$tmp/run" ]; then ok "$what"
  else bad "$what" "rc=$rc $(cat "$tmp/e")"; fi
}
if [ $have_gpu = 0 ]; then
  for cmd in forward generate eval bench; do
    case $cmd in
      forward) args=(forward --model "$M" --input "$tmp/none.safetensors" --out "$tmp/run") ;;
      generate) args=(generate --model "$M" --prompt-ids 1,2 --max-new-tokens 2) ;;
      eval) args=(eval --model "$M" --data "$D" --out "$tmp/run") ;;
      bench) args=(bench --what train) ;;
    esac
    check "$cmd --device cuda without a GPU: exit 2 naming the device" "--device cuda" "$GTA" "${args[@]}" --device cuda
  done
  check "train --device cuda without a GPU: exit 2 naming the device" "cuda" \
    "$GTA" train --method sft --model "$M" --data "$D" --out "$tmp/run" --steps 1 --device cuda
fi
check "an unknown device: exit 2, expected cpu or cuda" "expected cpu or cuda" \
  "$GTA" generate --model "$M" --prompt-ids 1,2 --max-new-tokens 2 --device tpu
finish
